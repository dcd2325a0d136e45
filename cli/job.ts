/** `sluice job run NAME [--data-dir ./data]` and `sluice job list`: the scheduled jobs, by hand. */
import { resolve } from 'node:path';
import { resolveConfig, retentionOf } from '../engine/config.ts';
import { SluiceError } from '../engine/errors.ts';
import { JOBS, JobRunner, jobNamed } from '../engine/jobs.ts';
import { SilverRoller } from '../engine/silver/roller.ts';
import { Store } from '../engine/store.ts';
import { parse } from './args.ts';

const RETENTION_FLAGS = [
  'retention-bronze-days',
  'retention-quarantine-days',
  'retention-silver-days',
  'retention-alerts-days',
];

export const JOB_USAGE = `usage: sluice job list
       sluice job run NAME [--data-dir ./data] [--config F] [--retention-*-days N]
         (silver-compaction: with the service stopped; retention-purge: the service's retention flags)
  jobs: ${JOBS.map((j) => j.name).join(', ')}`;

export async function jobCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    'data-dir': { type: 'string' },
    config: { type: 'string' },
    ...Object.fromEntries(RETENTION_FLAGS.map((f) => [f, { type: 'string' as const }])),
  });
  const [verb, name] = positionals;
  if (verb === 'list' && positionals.length === 1) {
    for (const j of JOBS) process.stdout.write(`${j.name}\tevery ${j.everyMs / 60_000} min\t${j.summary}\n`);
    return 0;
  }
  if (verb !== 'run' || !name || positionals.length !== 2) throw new SluiceError('USAGE', JOB_USAGE);
  jobNamed(name);
  // The same settings, and precedence, as `sluice serve`: flags, SLUICE_* variables, config file.
  const config = resolveConfig(values as Record<string, string | undefined>);
  const store = new Store({ dataDir: resolve(config.dataDir) });
  // By hand, with the service stopped: this roller only compacts, it never rolls staged rows.
  const roller = new SilverRoller(store);
  try {
    // Files a crash left behind (a merge not committed, files merged away) go first, so that a
    // glob over silver/ counts every row once after this run, as after a service start.
    if (name === 'silver-compaction') await roller.recover();
    const retention = retentionOf(config);
    const detail = await new JobRunner({ store, now: Date.now, roller, retention }).runNow(name);
    process.stdout.write(`${JSON.stringify({ job: name, ok: true, ...detail })}\n`);
    return 0;
  } finally {
    await roller.release();
    await store.close();
  }
}
