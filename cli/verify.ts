/**
 * `sluice verify [--data-dir ./data] [--no-bronze] [--no-silver]`: checks stored data against the
 * checksums recorded when it was written (silver Parquet files against the manifest, bronze bodies
 * against the sha-256 of the body as received). Prints the report as JSON; exits 0 when all is
 * intact, 1 when anything is corrupt (stderr names each file or batch and why). Safe beside a
 * running service: it only reads.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SluiceError } from '../engine/errors.ts';
import { verifyStorage } from '../engine/storage-verify.ts';
import { Store } from '../engine/store.ts';
import { parse } from './args.ts';

export const VERIFY_USAGE = 'usage: sluice verify [--data-dir ./data] [--no-bronze] [--no-silver]';

export async function verifyCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    'data-dir': { type: 'string' },
    'no-bronze': { type: 'boolean' },
    'no-silver': { type: 'boolean' },
  });
  if (positionals.length > 0) throw new SluiceError('USAGE', VERIFY_USAGE);
  const dataDir = resolve((values['data-dir'] as string | undefined) ?? './data');
  // Opening a store creates one: an empty new store would "verify", so a wrong path must fail.
  if (!existsSync(join(dataDir, 'lmdb')))
    throw new SluiceError('FILE_UNREADABLE', `no Sluice store in ${dataDir}`);
  const store = new Store({ dataDir });
  try {
    const r = await verifyStorage(store, { bronze: !values['no-bronze'], silver: !values['no-silver'] });
    process.stdout.write(`${JSON.stringify(r)}\n`);
    for (const p of r.problems) process.stderr.write(`sluice verify: ${p.layer} ${p.target}: ${p.problem}\n`);
    return r.ok ? 0 : 1;
  } finally {
    await store.close();
  }
}
