/**
 * Scheduled jobs, in process: each runs on its interval, retries with exponential backoff when it
 * fails (1 s, 2 s, 4 s … capped at its interval), reports runs, durations and its last success
 * through hooks (metrics), and can be run by hand (`sluice job run NAME`).
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { auditCheckpointJob } from './audit/checkpoint.ts';
import { SluiceError } from './errors.ts';
import { REPORT_COLUMNS, report, toCsv } from './reports.ts';
import { DEFAULT_RETENTION, purgeExpired, type RetentionPolicy } from './retention.ts';
import type { SilverRoller } from './silver/roller.ts';
import { storageVerifyJob } from './storage-verify.ts';
import type { Store } from './store.ts';

export interface JobContext {
  store: Store;
  now: () => number;
  /** The service's silver roller (compaction goes through it, so it never races a roll). */
  roller?: SilverRoller;
  /** How long each layer keeps its data (the purge job); the defaults without it. */
  retention?: RetentionPolicy;
}

export interface Job {
  name: string;
  /** What it does, for `sluice job list` and the logs. */
  summary: string;
  everyMs: number;
  run(ctx: JobContext): Promise<Record<string, unknown>>;
}

export interface JobHooks {
  onRun?: (
    job: string,
    outcome: 'ok' | 'failed',
    ms: number,
    detail: Record<string, unknown> | Error,
  ) => void;
}

/** Writes a file whole or not at all: a temp name, then a rename. */
function writeAtomically(path: string, text: string): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

const QUALITY_COUNTS = ['day', 'batches', 'received', 'accepted', 'quarantined', 'duplicates'];

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/**
 * The daily gold reports as files an analyst or a downstream system can pick up: for yesterday and
 * today so far, `gold/reports/date=YYYY-MM-DD/{daily-kpis,data-quality,alerts}.csv`. Rewritten
 * whole each run, so a run that fails half-way leaves the previous files.
 */
export const goldReportsJob: Job = {
  name: 'gold-reports',
  summary: 'writes daily-kpis, data-quality and alerts CSVs for yesterday and today under gold/reports/',
  everyMs: 15 * 60_000,
  async run({ store, now }) {
    const written: string[] = [];
    for (const d of [day(now() - 86_400_000), day(now())]) {
      const dir = join(store.dataDir, 'gold', 'reports', `date=${d}`);
      mkdirSync(dir, { recursive: true });
      // The same rows as GET /v1/reports/{name}?from=d&to=d; data-quality keeps the counts only.
      const q = { from: d, to: d };
      const files: [string, string][] = [
        ['daily-kpis.csv', toCsv(report(store, 'daily-kpis', q), REPORT_COLUMNS['daily-kpis'])],
        ['data-quality.csv', toCsv(report(store, 'data-quality', q), QUALITY_COUNTS)],
        ['alerts.csv', toCsv(report(store, 'alerts', q), REPORT_COLUMNS.alerts)],
      ];
      for (const [name, text] of files) {
        writeAtomically(join(dir, name), text);
        written.push(`gold/reports/date=${d}/${name}`);
      }
    }
    return { written };
  },
};

/** Merges each date partition's small Parquet files (see `SilverRoller.compact`). */
export const silverCompactionJob: Job = {
  name: 'silver-compaction',
  summary: 'merges the small Parquet files of each date partition into files of the roll size',
  everyMs: 60 * 60_000,
  async run({ roller }) {
    if (!roller) throw new SluiceError('USAGE', 'silver-compaction needs the silver roller');
    return roller.compact();
  },
};

/** Deletes what has outlived its layer's retention, and audits what it deleted (engine/retention.ts). */
export const retentionPurgeJob: Job = {
  name: 'retention-purge',
  summary: 'deletes bronze bodies, quarantine records, alerts and silver files past their retention',
  everyMs: 6 * 60 * 60_000,
  async run({ store, now, retention }) {
    return { ...(await purgeExpired(store, retention ?? DEFAULT_RETENTION, now())) };
  },
};

export const JOBS: readonly Job[] = [
  goldReportsJob,
  silverCompactionJob,
  auditCheckpointJob,
  retentionPurgeJob,
  storageVerifyJob,
];

export function jobNamed(name: string): Job {
  const job = JOBS.find((j) => j.name === name);
  if (!job) throw new SluiceError('USAGE', `no job '${name}'; jobs: ${JOBS.map((j) => j.name).join(', ')}`);
  return job;
}

/** Runs the jobs on their intervals, one run of a job at a time, retrying failures with backoff. */
export class JobRunner {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly running = new Map<string, Promise<unknown>>();
  private stopped = false;

  constructor(
    private readonly ctx: JobContext,
    private readonly jobs: readonly Job[] = JOBS,
    private readonly hooks: JobHooks = {},
  ) {}

  /** Starts the schedule; with `now`, each job's first run is due at once rather than after its interval. */
  start(now = false): void {
    for (const job of this.jobs) this.schedule(job, now ? 0 : job.everyMs, 0);
  }

  private schedule(job: Job, delay: number, failures: number): void {
    if (this.stopped) return;
    const t = setTimeout(() => {
      this.runNow(job.name).then(
        () => this.schedule(job, job.everyMs, 0),
        () => this.schedule(job, Math.min(job.everyMs, 1000 * 2 ** failures), failures + 1),
      );
    }, delay);
    t.unref();
    this.timers.set(job.name, t);
  }

  /** Runs a job now (joining a run in progress); resolves with what it did, rejects on failure. */
  runNow(name: string): Promise<Record<string, unknown>> {
    const inFlight = this.running.get(name);
    if (inFlight) return inFlight as Promise<Record<string, unknown>>;
    const job = this.jobs.find((j) => j.name === name);
    if (!job) return Promise.reject(new SluiceError('USAGE', `no job '${name}'`));
    const started = performance.now();
    const run = job
      .run(this.ctx)
      .then(
        (detail) => {
          this.hooks.onRun?.(name, 'ok', performance.now() - started, detail);
          return detail;
        },
        (err: Error) => {
          this.hooks.onRun?.(name, 'failed', performance.now() - started, err);
          throw err;
        },
      )
      .finally(() => this.running.delete(name));
    this.running.set(name, run);
    return run;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    await Promise.allSettled([...this.running.values()]);
  }
}
