/** `sluice job run NAME [--data-dir ./data]` and `sluice job list`: the scheduled jobs, by hand. */
import { resolve } from 'node:path';
import { SluiceError } from '../engine/errors.ts';
import { JOBS, JobRunner, jobNamed } from '../engine/jobs.ts';
import { SilverRoller } from '../engine/silver/roller.ts';
import { Store } from '../engine/store.ts';
import { parse } from './args.ts';

export const JOB_USAGE = `usage: sluice job list
       sluice job run NAME [--data-dir ./data]    (silver-compaction: with the service stopped)
  jobs: ${JOBS.map((j) => j.name).join(', ')}`;

export async function jobCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { 'data-dir': { type: 'string' } });
  const [verb, name] = positionals;
  if (verb === 'list' && positionals.length === 1) {
    for (const j of JOBS) process.stdout.write(`${j.name}\tevery ${j.everyMs / 60_000} min\t${j.summary}\n`);
    return 0;
  }
  if (verb !== 'run' || !name || positionals.length !== 2) throw new SluiceError('USAGE', JOB_USAGE);
  jobNamed(name);
  const store = new Store({ dataDir: resolve((values['data-dir'] as string | undefined) ?? './data') });
  // By hand, with the service stopped: this roller only compacts, it never rolls staged rows.
  const roller = new SilverRoller(store);
  try {
    const detail = await new JobRunner({ store, now: Date.now, roller }).runNow(name);
    process.stdout.write(`${JSON.stringify({ job: name, ok: true, ...detail })}\n`);
    return 0;
  } finally {
    await roller.release();
    await store.close();
  }
}
