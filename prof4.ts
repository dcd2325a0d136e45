import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Pipeline } from './engine/pipeline.ts';
import { Store } from './engine/store.ts';
import { SilverRoller } from './engine/silver/roller.ts';
const bodies = Array.from({ length: 20 }, (_, s) => readFileSync(`/tmp/bodies/b${s}.arrow`));
const store = new Store({ dataDir: '/tmp/prof4-' + Date.now() });
const roller = new SilverRoller(store); await roller.recover(); roller.start();
const p = new Pipeline(store, { workers: 2 });
await new Promise((r) => setTimeout(r, 1500));
const elu0 = performance.eventLoopUtilization();
const t = performance.now();
let commitMs = 0;
const origCommit = (p as any).commit.bind(p);
(p as any).commit = (...a: any[]) => { const s = performance.now(); const r = origCommit(...a); commitMs += performance.now() - s; return r; };
let n = 0;
async function lane(k: number) {
  for (let i = k; i < 160; i += 8) {
    const body = Buffer.from(bodies[i % 20]);
    const stamp = Buffer.from(String(200 + i));
    const pat = Buffer.from(`TX-${100 + (i % 20)}-`);
    for (let at = body.indexOf(pat); at >= 0; at = body.indexOf(pat, at + 7)) stamp.copy(body, at + 3);
    await p.ingest({ body, format: 'arrow', contentType: 'x' }); n++;
  }
}
await Promise.all([0,1,2,3,4,5,6,7].map(lane));
const ms = performance.now() - t;
const elu = performance.eventLoopUtilization(elu0);
console.log('batches', n, 'rows/s', Math.round(n * 8192 / (ms / 1000)), 'main ELU', elu.utilization.toFixed(2), 'commit ms/batch', (commitMs / n).toFixed(1));
await p.drain(); await roller.stop(); await store.close();
