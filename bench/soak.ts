/**
 * Soak benchmark (not in CI): Sluice at 70 % of the load it can sustain, for 30 minutes, watched for
 * growth.
 *
 *   node --import tsx bench/soak.ts                   # 30 min; SOAK_MINUTES=2 for a short run
 *
 * `sluice serve` runs in a child process (defaults, a fresh data dir). First its capacity is
 * measured as bench/overload.ts does (a closed loop of SOAK_CONCURRENCY senders, Arrow batches of
 * SOAK_ROWS rows); then an open loop posts at SOAK_SHARE × that rate for SOAK_MINUTES. Every
 * SOAK_SAMPLE_SECONDS a row goes to the CSV (SOAK_CSV, default $TMPDIR/sluice-soak-<time>.csv): the child's
 * total and anonymous RSS (/proc), the main thread's V8 heap and LMDB's used pages (/metrics),
 * silver bytes written, and the window's requests, shed, errors and latency p50/p99.
 *
 * At the end, each series' least-squares slope over the last two thirds of the samples (the first
 * third is warm-up: heaps, caches and LMDB's map fill) is turned into the growth it implies over
 * that span. "No growth trend" means: anonymous RSS grows by less than 10 % of its mean (or 64 MiB),
 * the main thread's heap by less than 10 % (or 32 MiB: it is a GC sawtooth), p99 latency by less
 * than 25 % (or 100 ms). Total RSS and LMDB and silver sizes grow with the data by design (total
 * RSS counts the LMDB pages the process has mapped): for LMDB and silver the bench reports bytes
 * per stored row in the first and the last third, which must stay level (within 25 %). A run of
 * fewer than 30 samples is reported but not judged: too short to tell a trend from GC and rolls.
 *
 * Environment: SOAK_MINUTES (30), SOAK_SHARE (0.7), SOAK_SAMPLE_SECONDS (10), SOAK_CAPACITY_SECONDS
 * (20), SOAK_ROWS (8192), SOAK_CONCURRENCY (8), SOAK_CSV, SOAK_ARGS (extra `sluice serve` flags).
 */
import { writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  arrowTemplates,
  closedLoop,
  fmt,
  Latencies,
  MiB,
  num,
  pool,
  postBatch,
  type Sluice,
  sleep,
  stampedBody,
  startSluice,
  type Template,
  VirtualClock,
  workDir,
} from './load.ts';

const MINUTES = num('SOAK_MINUTES', 30);
const SHARE = num('SOAK_SHARE', 0.7);
const SAMPLE_SECONDS = num('SOAK_SAMPLE_SECONDS', 10);
const CAPACITY_SECONDS = num('SOAK_CAPACITY_SECONDS', 20);
const ROWS = num('SOAK_ROWS', 8192);
const CONCURRENCY = num('SOAK_CONCURRENCY', 8);
const CSV =
  process.env.SOAK_CSV ?? join(tmpdir(), `sluice-soak-${new Date().toISOString().replace(/[:.]/g, '-')}.csv`);
const ARGS = (process.env.SOAK_ARGS ?? '').split(/\s+/).filter(Boolean);

const log = (s: string) => process.stderr.write(`soak: ${s}\n`);

interface Sample {
  t: number;
  rssMiB: number;
  anonMiB: number;
  heapMiB: number;
  lmdbMiB: number;
  silverMiB: number;
  requests: number;
  admitted: number;
  shed: number;
  errors: number;
  rowsStored: number;
  p50: number;
  p99: number;
}

const COLUMNS: (keyof Sample)[] = [
  't',
  'rssMiB',
  'anonMiB',
  'heapMiB',
  'lmdbMiB',
  'silverMiB',
  'requests',
  'admitted',
  'shed',
  'errors',
  'rowsStored',
  'p50',
  'p99',
];

/** Least-squares slope of y over x. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += ((xs[i] as number) - mx) * ((ys[i] as number) - my);
    sxx += ((xs[i] as number) - mx) ** 2;
  }
  return sxx === 0 ? 0 : sxy / sxx;
}

async function capacity(s: Sluice, templates: Template[], clock: VirtualClock): Promise<number> {
  log(`capacity: closed loop of ${CONCURRENCY} for ${CAPACITY_SECONDS} s (after 3 s of warm-up)…`);
  let requests = 0;
  const warm = performance.now() + 3_000;
  const end = warm + CAPACITY_SECONDS * 1000;
  await closedLoop(
    s,
    templates,
    clock,
    CONCURRENCY,
    () => performance.now() >= end,
    (o) => {
      const t = performance.now();
      if (o.status === 201 && t >= warm && t <= end) requests++;
    },
  );
  return requests / CAPACITY_SECONDS;
}

async function main(): Promise<void> {
  const dir = workDir('sluice-soak-');
  try {
    log(`generating 16 bodies of ${ROWS} rows…`);
    const templates = await arrowTemplates(dir.path, ROWS, 16);
    const clock = new VirtualClock((CAPACITY_SECONDS + 3 + MINUTES * 60) * 1000);
    const s = await startSluice(dir.path, ARGS);
    try {
      const load0 = loadavg()[0] as number;
      const cap = await capacity(s, templates, clock);
      const rate = SHARE * cap;
      log(`capacity ${fmt(cap, 1)} req/s; soaking at ${fmt(rate, 1)} req/s for ${MINUTES} min, CSV → ${CSV}`);
      writeFileSync(CSV, `${COLUMNS.join(',')}\n`);
      const samples: Sample[] = [];
      const p = pool(s.url, 64);
      let win = { requests: 0, admitted: 0, shed: 0, errors: 0, lat: new Latencies() };
      let rowsStored = 0;
      const pending = new Set<Promise<void>>();
      const t0 = performance.now();
      const end = t0 + MINUTES * 60_000;
      const interval = 1000 / rate;
      let sent = 0;
      let nextSample = t0 + SAMPLE_SECONDS * 1000;
      while (performance.now() < end) {
        const due = Math.floor((performance.now() - t0) / interval) + 1;
        for (; sent < due; sent++) {
          const scheduled = t0 + sent * interval;
          const t = templates[sent % templates.length] as Template;
          const req = postBatch(p, s.key, stampedBody(t, clock)).then((o) => {
            pending.delete(req);
            win.requests++;
            if (o.status === 201) {
              win.admitted++;
              rowsStored += t.rows;
              win.lat.add(performance.now() - scheduled);
            } else if (o.status === 429 || o.status === 503) win.shed++;
            else win.errors++;
          });
          pending.add(req);
        }
        if (performance.now() >= nextSample) {
          nextSample += SAMPLE_SECONDS * 1000;
          const m = await s.metrics();
          const sample: Sample = {
            t: Math.round((performance.now() - t0) / 1000),
            rssMiB: s.rss() / MiB,
            anonMiB: s.anon() / MiB,
            heapMiB: (m.sluice_nodejs_heap_size_used_bytes ?? Number.NaN) / MiB,
            lmdbMiB: (m.sluice_lmdb_map_used_bytes ?? Number.NaN) / MiB,
            silverMiB: (m.sluice_silver_bytes_total ?? 0) / MiB,
            requests: win.requests,
            admitted: win.admitted,
            shed: win.shed,
            errors: win.errors,
            rowsStored,
            p50: win.lat.pct(50),
            p99: win.lat.pct(99),
          };
          samples.push(sample);
          writeFileSync(
            CSV,
            `${COLUMNS.map((c) => (Number.isFinite(sample[c]) ? Number(sample[c].toFixed(2)) : '')).join(',')}\n`,
            { flag: 'a' },
          );
          log(
            `${sample.t} s: anon ${fmt(sample.anonMiB)} MiB, heap ${fmt(sample.heapMiB)} MiB, LMDB ${fmt(sample.lmdbMiB)} MiB, ` +
              `p99 ${fmt(sample.p99, 1)} ms, ${win.admitted}/${win.requests} admitted`,
          );
          win = { requests: 0, admitted: 0, shed: 0, errors: 0, lat: new Latencies() };
        }
        await sleep(1);
      }
      await Promise.all(pending);
      await p.close();
      report(samples, cap, rate, load0);
    } finally {
      await s.close();
    }
  } finally {
    dir.remove();
  }
}

function report(samples: Sample[], cap: number, rate: number, load0: number): void {
  const judged = samples.slice(Math.floor(samples.length / 3));
  const xs = judged.map((x) => x.t);
  const span = xs.length > 1 ? (xs[xs.length - 1] as number) - (xs[0] as number) : 0;
  const mean = (ys: number[]) => ys.reduce((a, b) => a + b, 0) / Math.max(1, ys.length);
  const trend = (key: keyof Sample, limit: number, floor: number) => {
    const ys = judged.map((x) => x[key]).filter(Number.isFinite);
    const growth = slope(xs.slice(0, ys.length), ys) * span;
    const m = mean(ys);
    return { key, mean: m, growth, share: m ? growth / m : 0, ok: growth < Math.max(limit * m, floor) };
  };
  const perRow = (rows: Sample[], key: 'lmdbMiB' | 'silverMiB') => {
    const a = rows[0];
    const b = rows[rows.length - 1];
    if (!a || !b || b.rowsStored === a.rowsStored) return Number.NaN;
    return ((b[key] - a[key]) * MiB) / (b.rowsStored - a.rowsStored);
  };
  const third = Math.max(2, Math.floor(samples.length / 3));
  const first = samples.slice(0, third);
  const last = samples.slice(-third);
  const trends = [trend('anonMiB', 0.1, 64), trend('heapMiB', 0.1, 32), trend('p99', 0.25, 100)];
  const rss = trend('rssMiB', 0, 0);
  const storage = (['lmdbMiB', 'silverMiB'] as const).map((k) => {
    const a = perRow(first, k);
    const b = perRow(last, k);
    return { key: k, firstThird: a, lastThird: b, ok: !(Math.abs(b - a) > 0.25 * Math.abs(a)) };
  });
  const totals = samples.reduce(
    (t, x) => ({ requests: t.requests + x.requests, shed: t.shed + x.shed, errors: t.errors + x.errors }),
    { requests: 0, shed: 0, errors: 0 },
  );
  const lines = [
    `## Soak (${MINUTES} min at ${Math.round(SHARE * 100)} % of capacity, ${ROWS}-row Arrow bodies)`,
    '',
    `load average at start ${fmt(load0, 2)}; capacity ${fmt(cap, 1)} req/s, soak ${fmt(rate, 1)} req/s; ` +
      `${fmt(totals.requests)} requests, ${fmt(totals.shed)} shed, ${fmt(totals.errors)} errors; ${samples.length} samples → ${CSV}`,
    '',
    '| series (last two thirds) | mean | growth over the span | share of mean | no growth trend |',
    '|---|---:|---:|---:|---|',
    ...trends.map(
      (t) =>
        `| ${t.key} | ${fmt(t.mean, 1)} | ${fmt(t.growth, 1)} | ${fmt(t.share * 100, 1)} % | ${t.ok ? 'yes' : '**no**'} |`,
    ),
    '',
    '| storage | bytes per stored row, first third | last third | level |',
    '|---|---:|---:|---|',
    ...storage.map(
      (x) => `| ${x.key} | ${fmt(x.firstThird, 1)} | ${fmt(x.lastThird, 1)} | ${x.ok ? 'yes' : '**no**'} |`,
    ),
    '',
    `Total RSS (with LMDB's mapped pages) averaged ${fmt(rss.mean)} MiB and grew ${fmt(rss.growth)} MiB over the span: ` +
      'page cache of the data written, not judged.',
  ];
  const judgedEnough = samples.length >= 30;
  if (!judgedEnough)
    lines.push('', `Only ${samples.length} samples: too short to judge a trend (30 needed).`);
  process.stdout.write(`${lines.join('\n')}\n`);
  const ok = judgedEnough && trends.every((t) => t.ok) && storage.every((x) => x.ok) && totals.errors === 0;
  process.stdout.write(
    `${JSON.stringify({ capacity: cap, rate, totals, trends, storage, load1AtStart: load0, judged: judgedEnough, ok })}\n`,
  );
  if (judgedEnough && !ok) process.exitCode = 1;
}

await main();
