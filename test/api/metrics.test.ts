/**
 * `/metrics`: the exposition parses, counts match what was ingested, every stage has samples, and
 * no label carries a tx id or an account: 100,000 rows on 100,000 new accounts add no series.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../../api/service.ts';
import { get, post, service, tempDir } from '../support/service.ts';

const NOW = Date.now() - 3_600_000;

function rows(prefix: string, n: number) {
  return Array.from({ length: n }, (_, i) => ({
    tx_id: `${prefix}-${i}`,
    ts: NOW + i,
    amount: `${(i % 900) + 10}.25`,
    currency: 'GBP',
    direction: i % 2 ? 'debit' : 'credit',
    channel: 'FPS',
    account_id: `${prefix}-ACCT-${i}`,
  }));
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The Prometheus text format, line by line; throws on a line it cannot read. */
function parse(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`unreadable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1] as string] = l[2] as string;
    }
    out.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return out;
}

const value = (s: Sample[], name: string, labels: Record<string, string> = {}) =>
  s
    .filter((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v))
    .reduce((a, x) => a + x.value, 0);

describe('GET /metrics', () => {
  const dir = tempDir('sluice-metrics-');
  let svc: RunningService;
  beforeAll(async () => {
    svc = await service(dir.path, { workers: 1 });
  });
  afterAll(async () => {
    await svc.close();
    dir.remove();
  });

  it('counts what was ingested, times every stage, and adds no series for new ids', async () => {
    // Warm up: a large body (pool worker) and a small one (main thread), so every thread is seen.
    for (const [p, n] of [
      ['W1', 2000],
      ['W2', 3],
    ] as const) {
      const r = await post(`${svc.url}/v1/batches`, JSON.stringify(rows(p, n)), 'application/json');
      expect(r.status).toBe(201);
    }
    await get(`${svc.url}/metrics`); // the scrape's own latency series exist from the second on
    const before = parse((await get(`${svc.url}/metrics`)).text);
    expect(value(before, 'sluice_rows_total', { format: 'json', outcome: 'accepted' })).toBe(2003);
    for (const stage of ['parse', 'validate', 'build', 'persist', 'score']) {
      expect(value(before, 'sluice_stage_duration_seconds_count', { stage }), stage).toBeGreaterThan(0);
    }
    expect(value(before, 'sluice_lmdb_map_used_bytes')).toBeGreaterThan(0);
    expect(value(before, 'sluice_quality_ratio', { kpi: 'validity' })).toBe(1);

    const big = rows('BIG', 100_000);
    const r = await post(`${svc.url}/v1/batches`, JSON.stringify(big), 'application/json');
    expect(r.status).toBe(201);
    expect(r.json.accepted).toBe(100_000);
    const text = (await get(`${svc.url}/metrics`)).text;
    const after = parse(text);
    expect(value(after, 'sluice_rows_total', { format: 'json', outcome: 'accepted' })).toBe(102_003);
    // Sluice's own families. prom-client's runtime families (GC kinds, handle types) gain a label
    // value the first time the runtime does a new kind of work, which a big ingest may trigger.
    const own = (x: Sample) => !/^sluice_(nodejs|process)_/.test(x.name);
    const series = (s: Sample[]) => new Set(s.filter(own).map((x) => `${x.name}${JSON.stringify(x.labels)}`));
    expect([...series(after)].filter((k) => !series(before).has(k))).toEqual([]);
    expect(text).not.toMatch(/BIG-|W1-|ACCT/);
  }, 60_000);
});
