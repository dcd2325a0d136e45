/**
 * What the overload and soak benchmarks share (not a benchmark itself): `sluice serve` in a child
 * process with a key of its own, Arrow bodies whose tx ids and event times are restamped for every
 * request, closed-loop and open-loop drivers, latency percentiles, and the child's memory from /proc.
 *
 * Bodies follow bench/e2e.ts: generated once (`--days 1/24`: each body covers an hour of event
 * time), then each request writes its own number over every row's tx id digits. Event times move
 * on a virtual clock tied to wall time (`VirtualClock`), not to the request count, so offering ten
 * times the load does not also push the data ten times faster through time; the clock is set so
 * that the last request of the run is about now.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Data, RecordBatchReader, type Utf8 } from 'apache-arrow';
import { Pool } from 'undici';
import { generateCommand } from '../cli/generate.ts';
import { fileBodies } from '../cli/ingest.ts';
import { createKeyIn } from '../engine/auth/keys.ts';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export const num = (name: string, dflt: number): number => {
  const v = Number(process.env[name]);
  return process.env[name] !== undefined && Number.isFinite(v) && v > 0 ? v : dflt;
};

// ---------------------------------------------------------------------------------------------
// The service

export interface Sluice {
  url: string;
  key: string;
  pid: number;
  dataDir: string;
  /** Total resident memory, bytes (includes the pages of LMDB's map the process has touched). */
  rss(): number;
  /** Anonymous resident memory, bytes: heaps, buffers, WASM; what `--max-rss-mb` bounds. */
  anon(): number;
  /** One scrape of /metrics: every unlabelled sample, by name. */
  metrics(): Promise<Record<string, number>>;
  close(): Promise<number | null>;
}

/** A `/proc/<pid>/status` size field (VmRSS, RssAnon…) in bytes; 0 once the process is gone. */
export function statusBytes(pid: number, field: string): number {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * CPU seconds (user + system, every thread) a process has used so far, from /proc/<pid>/stat
 * (fields 14 and 15, in clock ticks of 1/100 s on Linux); 0 when unreadable.
 */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** `sluice serve` on a fresh data dir under `root`, with `args`; resolves once it serves. */
export async function startSluice(root: string, args: string[] = []): Promise<Sluice> {
  const dataDir = mkdtempSync(join(root, 'data-'));
  const key = await createKeyIn(dataDir, { roles: ['ingest', 'analyst'], label: 'bench', actor: 'cli' });
  const port = await freePort();
  const bin = new URL('../bin/sluice.js', import.meta.url).pathname;
  const child: ChildProcess = spawn(
    process.execPath,
    [bin, 'serve', '--port', String(port), '--data-dir', dataDir, '--log-level', 'warn', ...args],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  await new Promise<void>((resolve, reject) => {
    let err = '';
    const onData = (d: Buffer) => {
      err += d.toString();
      if (err.includes('serving on')) {
        child.stderr?.off('data', onData);
        // keep draining (warnings), so the child never blocks on a full pipe
        child.stderr?.on('data', (x: Buffer) => process.stderr.write(x));
        resolve();
      }
    };
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`sluice serve exited ${code}: ${err}`)));
  });
  const url = `http://127.0.0.1:${port}`;
  const pid = child.pid as number;
  return {
    url,
    key,
    pid,
    dataDir,
    rss: () => statusBytes(pid, 'VmRSS'),
    anon: () => statusBytes(pid, 'RssAnon'),
    async metrics() {
      const res = await fetch(`${url}/metrics`);
      const out: Record<string, number> = {};
      for (const line of (await res.text()).split('\n')) {
        const m = /^([a-z_:]+) ([-0-9.e+]+|NaN)$/.exec(line);
        if (m) out[m[1] as string] = Number(m[2]);
      }
      return out;
    },
    async close() {
      if (child.exitCode !== null) return child.exitCode;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const [code] = await exited;
      return code as number | null;
    },
  };
}

/** A temp dir for a benchmark's data and bodies, removed by `remove`. */
export function workDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

// ---------------------------------------------------------------------------------------------
// Bodies

/** tx ids are `TX-<seed>-<row>`; each request overwrites the 7 seed digits with its number. */
const SEED = 1_000_000;
const PREFIX = `TX-${SEED}-`;
const STAMP_AT = 3;
const STAMP_WIDTH = 7;

export interface Template {
  bytes: Uint8Array;
  rows: number;
  /** Offsets (into `bytes`) of each row's 7 seed digits. */
  stamps: Int32Array;
  /** Offsets of each record batch's `ts` values, their generated values, and the latest of all. */
  times: { at: number[]; ms: Float64Array[]; max: number };
}

function templateOf(bytes: Uint8Array, rows: number): Template {
  const stamps: number[] = [];
  const prefix = Buffer.from(PREFIX);
  const at: number[] = [];
  const ms: Float64Array[] = [];
  let max = Number.NEGATIVE_INFINITY;
  for (const batch of RecordBatchReader.from(bytes)) {
    const ids = batch.getChild('tx_id')?.data[0] as Data<Utf8> | undefined;
    if (ids) {
      const values = ids.values;
      // the columns are views into the body, so their offsets are offsets into `bytes`
      if (values.buffer !== bytes.buffer) throw new Error('Arrow reader copied the body; cannot stamp ids');
      const base = values.byteOffset - bytes.byteOffset;
      const offsets = ids.valueOffsets;
      for (let i = 0; i < ids.length; i++) {
        const start = Number(offsets[ids.offset + i]);
        let same = Number(offsets[ids.offset + i + 1]) - start >= prefix.length;
        for (let j = 0; j < prefix.length && same; j++) same = values[start + j] === prefix[j];
        if (same) stamps.push(base + start + STAMP_AT);
      }
    }
    const ts = batch.getChild('ts')?.data[0] as Data | undefined;
    const v = ts?.values as BigInt64Array | undefined;
    if (ts && v && v.buffer === bytes.buffer) {
      at.push(v.byteOffset - bytes.byteOffset + ts.offset * 8);
      const vals = Float64Array.from(v.subarray(ts.offset, ts.offset + ts.length), Number);
      for (const x of vals) if (x > max) max = x;
      ms.push(vals);
    }
  }
  return { bytes, rows, stamps: Int32Array.from(stamps), times: { at, ms, max } };
}

/** `count` Arrow bodies of `rows` rows each (generated, a live feed: event times within an hour). */
export async function arrowTemplates(dir: string, rows: number, count: number): Promise<Template[]> {
  const file = join(dir, `gen-${rows}x${count}.arrow`);
  const code = await generateCommand([
    '--days',
    String(1 / 24),
    '--rows',
    String(rows * count),
    '--seed',
    String(SEED),
    '--format',
    'arrow',
    '--out',
    file,
  ]);
  if (code !== 0) throw new Error(`generate failed (${code})`);
  const out: Template[] = [];
  for await (const b of fileBodies(file, 'arrow', rows)) out.push(templateOf(b.bytes, b.rows));
  return out;
}

/**
 * Event time as a function of wall time: `speed` ms of event time per ms of wall time, ending at
 * about now after `runMs`. At the e2e bench's pace (8 bodies of an hour each per round, ~2.5
 * rounds a second) accounts see a stream that moves forward, as AML state expects.
 */
export class VirtualClock {
  private readonly t0 = performance.now();
  private readonly start: number;
  constructor(
    runMs: number,
    private readonly speed = 9_000,
  ) {
    this.start = Date.now() - runMs * speed - 3_600_000;
  }
  now(): number {
    return Math.min(Date.now() - 60_000, this.start + (performance.now() - this.t0) * this.speed);
  }
}

let requestNo = 0;

/** A copy of the template's body with fresh tx ids and event times moved to `clock.now()`. */
export function stampedBody(t: Template, clock: VirtualClock): Uint8Array {
  const b = t.bytes.slice();
  let n = ++requestNo % 10 ** STAMP_WIDTH;
  const digits = new Uint8Array(STAMP_WIDTH);
  for (let i = STAMP_WIDTH - 1; i >= 0; i--) {
    digits[i] = 0x30 + (n % 10);
    n = Math.floor(n / 10);
  }
  for (const at of t.stamps) b.set(digits, at);
  const shift = clock.now() - t.times.max;
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  t.times.at.forEach((at, k) => {
    const orig = t.times.ms[k] as Float64Array;
    for (let i = 0; i < orig.length; i++) {
      // little-endian int64 as two words (epoch ms are positive and below 2^53)
      const v = Math.round((orig[i] as number) + shift);
      view.setUint32(at + i * 8, v % 4294967296, true);
      view.setUint32(at + i * 8 + 4, Math.floor(v / 4294967296), true);
    }
  });
  return b;
}

// ---------------------------------------------------------------------------------------------
// Measuring

export class Latencies {
  private v = new Float64Array(1 << 12);
  n = 0;
  add(ms: number): void {
    if (this.n === this.v.length) {
      const next = new Float64Array(this.v.length * 2);
      next.set(this.v);
      this.v = next;
    }
    this.v[this.n++] = ms;
  }
  pct(p: number): number {
    if (this.n === 0) return Number.NaN;
    const s = this.v.slice(0, this.n).sort();
    return s[Math.min(this.n - 1, Math.floor((p / 100) * this.n))] as number;
  }
}

export interface Outcome {
  status: number;
  retryAfter?: string;
  ms: number;
  /** Rows accepted (a 201's reply). */
  accepted?: number;
}

/** POST one body to /v1/batches; status -1 on a network error. */
export async function postBatch(pool: Pool, key: string, body: Uint8Array): Promise<Outcome> {
  const t0 = performance.now();
  try {
    const res = await pool.request({
      path: '/v1/batches',
      method: 'POST',
      headers: { 'content-type': 'application/vnd.apache.arrow.stream', authorization: `Bearer ${key}` },
      body,
    });
    let accepted: number | undefined;
    if (res.statusCode === 201) accepted = ((await res.body.json()) as { accepted: number }).accepted;
    else await res.body.dump();
    const ra = res.headers['retry-after'];
    return {
      status: res.statusCode,
      retryAfter: Array.isArray(ra) ? ra[0] : ra,
      ms: performance.now() - t0,
      accepted,
    };
  } catch {
    return { status: -1, ms: performance.now() - t0 };
  }
}

export function pool(url: string, connections: number): Pool {
  return new Pool(url, { connections, headersTimeout: 300_000, bodyTimeout: 300_000 });
}

/**
 * Closed loop: `concurrency` senders, each posting a fresh body as soon as its last reply came,
 * until `until()` says stop. `onReply` sees every outcome with the rows it carried.
 */
export async function closedLoop(
  s: Sluice,
  templates: Template[],
  clock: VirtualClock,
  concurrency: number,
  until: () => boolean,
  onReply: (o: Outcome, rows: number) => void,
): Promise<void> {
  const p = pool(s.url, concurrency);
  await Promise.all(
    Array.from({ length: concurrency }, async (_, k) => {
      const t = templates[k % templates.length] as Template;
      while (!until()) {
        const o = await postBatch(p, s.key, stampedBody(t, clock));
        onReply(o, t.rows);
        // honour a shed's Retry-After, as a well-behaved client (sluice ingest) does
        if (o.status === 429 || o.status === 503)
          await sleep(Math.min(1000, Number(o.retryAfter ?? 1) * 1000));
        else if (o.status === -1) await sleep(100);
      }
    }),
  );
  await p.close();
}

/** Samples the child's memory every `everyMs`; keeps the peaks. */
export function memorySampler(s: Sluice, everyMs = 250) {
  const peak = { rss: s.rss(), anon: s.anon() };
  const sample = () => {
    peak.rss = Math.max(peak.rss, s.rss());
    peak.anon = Math.max(peak.anon, s.anon());
  };
  const t = setInterval(sample, everyMs);
  return {
    peak,
    stop() {
      clearInterval(t);
      sample();
      return peak;
    },
  };
}

/** The median of some numbers (the mean of the middle two for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

export const MiB = 2 ** 20;
export const fmt = (n: number, digits = 0) =>
  Number.isFinite(n)
    ? n.toLocaleString('en-GB', { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : '–';
