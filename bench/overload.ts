/**
 * Overload benchmark (not in CI): Sluice under about ten times the load it can sustain.
 *
 *   node --import tsx bench/overload.ts
 *
 * `sluice serve` runs in a child process (default settings, a fresh data dir); this process drives
 * it over loopback with undici, in four phases:
 *   1. warm-up, then capacity: a closed loop of OVERLOAD_CONCURRENCY senders posting Arrow batches
 *      of OVERLOAD_ROWS rows, as bench/e2e.ts does; gives the sustained rate X and the normal p99;
 *   2. overload: an open loop at OVERLOAD_FACTOR × X requests a second for OVERLOAD_SECONDS,
 *      whatever the replies (a flood does not back off). Every shed reply (429 or 503) is checked
 *      for a Retry-After; the child's memory is sampled every 250 ms against its bound;
 *   3. recovery: the closed loop again, at once; throughput in 1-s windows until it is back to
 *      ≥ 90 % of X, which gives the time to recover.
 * Latencies of admitted requests are from the moment each was due to its reply (open loop: a
 * stall is not hidden). The load generator shares the machine's cores with the service.
 *
 * Environment: OVERLOAD_SECONDS (60), OVERLOAD_FACTOR (10), OVERLOAD_CAPACITY_SECONDS (20),
 * OVERLOAD_WARMUP_SECONDS (3), OVERLOAD_RECOVERY_SECONDS (20), OVERLOAD_ROWS (8192),
 * OVERLOAD_CONCURRENCY (8), OVERLOAD_MAX_OPEN (1024: requests the open loop keeps in flight; past
 * it, due requests are counted as not sent), OVERLOAD_ARGS (extra `sluice serve` flags, e.g.
 * "--max-rss-mb 1024"). Prints a Markdown table and, last, one JSON line with every figure.
 */
import { defaultMaxRssMb } from '../engine/config.ts';
import {
  arrowTemplates,
  closedLoop,
  fmt,
  Latencies,
  MiB,
  memorySampler,
  num,
  type Outcome,
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

const SECONDS = num('OVERLOAD_SECONDS', 60);
const FACTOR = num('OVERLOAD_FACTOR', 10);
const CAPACITY_SECONDS = num('OVERLOAD_CAPACITY_SECONDS', 20);
const WARMUP_SECONDS = num('OVERLOAD_WARMUP_SECONDS', 3);
const RECOVERY_SECONDS = num('OVERLOAD_RECOVERY_SECONDS', 20);
const ROWS = num('OVERLOAD_ROWS', 8192);
const CONCURRENCY = num('OVERLOAD_CONCURRENCY', 8);
const MAX_OPEN = num('OVERLOAD_MAX_OPEN', 1024);
const ARGS = (process.env.OVERLOAD_ARGS ?? '').split(/\s+/).filter(Boolean);

const log = (s: string) => process.stderr.write(`overload: ${s}\n`);

function boundMiB(): number {
  const i = ARGS.indexOf('--max-rss-mb');
  return i >= 0 ? Number(ARGS[i + 1]) : defaultMaxRssMb();
}

/** A valid Retry-After: delay-seconds (RFC 9110 §10.2.3). */
const validRetryAfter = (v: string | undefined) => v !== undefined && /^\d+$/.test(v);

interface Capacity {
  requests: number;
  tx: number;
  seconds: number;
  lat: Latencies;
  shed: number;
  errors: number;
}

async function measureCapacity(s: Sluice, templates: Template[], clock: VirtualClock): Promise<Capacity> {
  log(`warm-up ${WARMUP_SECONDS} s, then capacity ${CAPACITY_SECONDS} s at ${CONCURRENCY} in flight…`);
  const c: Capacity = {
    requests: 0,
    tx: 0,
    seconds: CAPACITY_SECONDS,
    lat: new Latencies(),
    shed: 0,
    errors: 0,
  };
  const t0 = performance.now();
  const warmEnd = t0 + WARMUP_SECONDS * 1000;
  const end = warmEnd + CAPACITY_SECONDS * 1000;
  await closedLoop(
    s,
    templates,
    clock,
    CONCURRENCY,
    () => performance.now() >= end,
    (o, rows) => {
      const done = performance.now();
      if (done < warmEnd || done > end) return;
      c.requests++;
      if (o.status === 201) {
        c.tx += rows;
        c.lat.add(o.ms);
      } else if (o.status === 429 || o.status === 503) c.shed++;
      else c.errors++;
    },
  );
  return c;
}

interface Flood {
  offeredPerS: number;
  due: number;
  notSent: number;
  admitted: number;
  admittedTx: number;
  shed: Record<string, number>;
  shedWithoutRetryAfter: number;
  errors: Record<string, number>;
  lat: Latencies;
  peakRss: number;
  peakAnon: number;
  /** Per second: admitted, shed, anonymous MiB. */
  timeline: { s: number; admitted: number; shed: number; anonMiB: number }[];
  /** Requests still in flight when the flood stopped (they finish during recovery). */
  tail: Promise<unknown>;
}

async function flood(s: Sluice, templates: Template[], clock: VirtualClock, rate: number): Promise<Flood> {
  log(`overload: ${fmt(rate, 1)} requests/s for ${SECONDS} s (open loop)…`);
  const p = pool(s.url, Math.min(MAX_OPEN, 512));
  const f: Flood = {
    offeredPerS: rate,
    due: 0,
    notSent: 0,
    admitted: 0,
    admittedTx: 0,
    shed: {},
    shedWithoutRetryAfter: 0,
    errors: {},
    lat: new Latencies(),
    peakRss: 0,
    peakAnon: 0,
    timeline: [],
    tail: Promise.resolve(),
  };
  const mem = memorySampler(s);
  const t0 = performance.now();
  const end = t0 + SECONDS * 1000;
  const interval = 1000 / rate;
  const pending = new Set<Promise<void>>();
  let second = { admitted: 0, shed: 0 };
  const tick = setInterval(() => {
    f.timeline.push({ s: f.timeline.length + 1, ...second, anonMiB: Math.round(s.anon() / MiB) });
    second = { admitted: 0, shed: 0 };
  }, 1000);
  let k = 0;
  while (performance.now() < end) {
    const due = Math.floor((performance.now() - t0) / interval) + 1;
    while (f.due < due) {
      const scheduled = t0 + f.due * interval;
      f.due++;
      if (pending.size >= MAX_OPEN) {
        f.notSent++;
        continue;
      }
      const t = templates[k++ % templates.length] as Template;
      const req = postBatch(p, s.key, stampedBody(t, clock)).then((o: Outcome) => {
        pending.delete(req);
        if (o.status === 201) {
          f.admitted++;
          f.admittedTx += t.rows;
          second.admitted++;
          f.lat.add(performance.now() - scheduled);
        } else if (o.status === 429 || o.status === 503) {
          f.shed[o.status] = (f.shed[o.status] ?? 0) + 1;
          second.shed++;
          if (!validRetryAfter(o.retryAfter)) f.shedWithoutRetryAfter++;
        } else {
          f.errors[o.status] = (f.errors[o.status] ?? 0) + 1;
        }
      });
      pending.add(req);
    }
    await sleep(1);
  }
  clearInterval(tick);
  const peak = mem.stop();
  f.peakRss = peak.rss;
  f.peakAnon = peak.anon;
  f.tail = Promise.all(pending).then(() => p.close());
  return f;
}

interface Recovery {
  /** Seconds from the end of the flood to the end of the first 1-s window at ≥ 90 % of capacity. */
  seconds: number | null;
  windows: number[];
  txPerS: number;
}

async function recover(
  s: Sluice,
  templates: Template[],
  clock: VirtualClock,
  normalTxPerS: number,
): Promise<Recovery> {
  log(`recovery: closed loop again for ${RECOVERY_SECONDS} s…`);
  const windows = new Array<number>(Math.ceil(RECOVERY_SECONDS)).fill(0);
  const t0 = performance.now();
  const end = t0 + RECOVERY_SECONDS * 1000;
  await closedLoop(
    s,
    templates,
    clock,
    CONCURRENCY,
    () => performance.now() >= end,
    (o, rows) => {
      const i = Math.floor((performance.now() - t0) / 1000);
      if (o.status === 201 && i < windows.length) windows[i] = (windows[i] as number) + rows;
    },
  );
  const first = windows.findIndex((tx) => tx >= 0.9 * normalTxPerS);
  const after = first < 0 ? [] : windows.slice(first);
  return {
    seconds: first < 0 ? null : first + 1,
    windows,
    txPerS: after.length ? after.reduce((a, b) => a + b, 0) / after.length : 0,
  };
}

async function main(): Promise<void> {
  const dir = workDir('sluice-overload-');
  try {
    const count = Math.max(CONCURRENCY, 16);
    log(`generating ${count} bodies of ${ROWS} rows…`);
    const templates = await arrowTemplates(dir.path, ROWS, count);
    const totalMs = (WARMUP_SECONDS + CAPACITY_SECONDS + SECONDS + RECOVERY_SECONDS) * 1000;
    const clock = new VirtualClock(totalMs);
    const s = await startSluice(dir.path, ARGS);
    log(
      `service at ${s.url} (pid ${s.pid}), args: ${ARGS.join(' ') || '(defaults)'}; bound ${boundMiB()} MiB`,
    );
    let cap: Capacity;
    let f: Flood;
    let r: Recovery;
    let exit: number | null;
    const load0 = (await import('node:os')).loadavg()[0] as number;
    try {
      const capMem = memorySampler(s);
      cap = await measureCapacity(s, templates, clock);
      const capPeak = capMem.stop();
      const reqPerS = cap.requests / cap.seconds;
      const normalTx = cap.tx / cap.seconds;
      log(`capacity: ${fmt(reqPerS, 1)} req/s, ${fmt(normalTx)} tx/s, p99 ${fmt(cap.lat.pct(99), 1)} ms`);
      f = await flood(s, templates, clock, FACTOR * reqPerS);
      r = await recover(s, templates, clock, normalTx);
      await f.tail;
      exit = await s.close();
      const bound = boundMiB();
      const shedTotal = Object.values(f.shed).reduce((a, b) => a + b, 0);
      const sent = f.due - f.notSent;
      const p99 = f.lat.pct(99);
      const normalP99 = cap.lat.pct(99);
      const rows: [string, string][] = [
        ['load average (1 min) at start', fmt(load0, 2)],
        [
          'capacity (closed loop)',
          `${fmt(reqPerS, 1)} req/s, ${fmt(normalTx)} tx/s (${ROWS}-row Arrow bodies, ${CONCURRENCY} in flight)`,
        ],
        ['normal latency p50 / p99', `${fmt(cap.lat.pct(50), 1)} / ${fmt(normalP99, 1)} ms`],
        [
          'offered during overload',
          `${fmt(f.offeredPerS, 1)} req/s (${FACTOR}×) for ${SECONDS} s: ${fmt(f.due)} due, ${fmt(f.notSent)} not sent (client bound)`,
        ],
        [
          'admitted',
          `${fmt(f.admitted)} (${fmt((f.admitted / Math.max(1, sent)) * 100, 1)} %), ${fmt(f.admittedTx / SECONDS)} tx/s`,
        ],
        [
          'shed',
          `${fmt(shedTotal)} (${fmt((shedTotal / Math.max(1, sent)) * 100, 1)} %): ${
            Object.entries(f.shed)
              .map(([k, v]) => `${k}: ${fmt(v)}`)
              .join(', ') || '–'
          }`,
        ],
        ['shed replies without a valid Retry-After', fmt(f.shedWithoutRetryAfter)],
        [
          'other replies (errors)',
          Object.entries(f.errors)
            .map(([k, v]) => `${k}: ${fmt(v)}`)
            .join(', ') || '0',
        ],
        [
          'admitted latency p50 / p99',
          `${fmt(f.lat.pct(50), 1)} / ${fmt(p99, 1)} ms (p99 ${fmt(p99 / normalP99, 2)}× normal)`,
        ],
        [
          'peak anonymous RSS vs bound',
          `${fmt(f.peakAnon / MiB)} MiB of ${fmt(bound)} MiB (capacity phase: ${fmt(capPeak.anon / MiB)} MiB)`,
        ],
        ['peak total RSS (incl. LMDB map)', `${fmt(f.peakRss / MiB)} MiB`],
        [
          'recovery to ≥ 90 % of capacity',
          r.seconds === null
            ? 'not within the recovery phase'
            : `${r.seconds} s (then ${fmt(r.txPerS)} tx/s)`,
        ],
        ['service exit after SIGTERM', String(exit)],
      ];
      process.stdout.write(
        `## Overload (${FACTOR}× capacity for ${SECONDS} s)\n\n| | |\n|---|---|\n${rows.map(([a, b]) => `| ${a} | ${b} |`).join('\n')}\n\n` +
          `Recovery windows (tx per 1-s window): ${r.windows.map((w) => fmt(w)).join(', ')}\n` +
          `Overload timeline (admitted/shed per s, anon MiB): ${f.timeline.map((t) => `${t.admitted}/${t.shed}/${t.anonMiB}`).join(' ')}\n`,
      );
      const verdict = {
        sheds_with_retry_after: shedTotal > 0 && f.shedWithoutRetryAfter === 0,
        no_errors: Object.keys(f.errors).length === 0,
        rss_under_bound: f.peakAnon / MiB < bound,
        p99_within_5x: p99 <= 5 * normalP99,
        recovered: r.seconds !== null,
      };
      process.stdout.write(
        `${JSON.stringify({
          capacity: {
            reqPerS,
            txPerS: normalTx,
            p50: cap.lat.pct(50),
            p99: normalP99,
            errors: cap.errors,
            shed: cap.shed,
          },
          overload: {
            factor: FACTOR,
            seconds: SECONDS,
            offeredPerS: f.offeredPerS,
            due: f.due,
            notSent: f.notSent,
            admitted: f.admitted,
            shed: f.shed,
            shedWithoutRetryAfter: f.shedWithoutRetryAfter,
            errors: f.errors,
            p50: f.lat.pct(50),
            p99,
            peakAnonMiB: f.peakAnon / MiB,
            peakRssMiB: f.peakRss / MiB,
            boundMiB: bound,
          },
          recovery: r,
          load1AtStart: load0,
          verdict,
        })}\n`,
      );
      if (!Object.values(verdict).every(Boolean)) process.exitCode = 1;
    } finally {
      await s.close();
    }
  } finally {
    dir.remove();
  }
}

await main();
