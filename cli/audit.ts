/**
 * `sluice audit verify [--data-dir ./data] [--checkpoint FILE]`: recomputes the audit hash chain.
 * Prints the result as JSON; exits 0 when it verifies, 1 when it does not (stderr names the first
 * bad entry and why), 2 for bad usage. Safe beside a running service: it only reads.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { verifyAudit } from '../engine/audit/verify.ts';
import { SluiceError } from '../engine/errors.ts';
import { Store } from '../engine/store.ts';
import { parse } from './args.ts';

export const AUDIT_USAGE = 'usage: sluice audit verify [--data-dir ./data] [--checkpoint FILE]';

export async function auditCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    'data-dir': { type: 'string' },
    checkpoint: { type: 'string' },
  });
  if (positionals.length !== 1 || positionals[0] !== 'verify') throw new SluiceError('USAGE', AUDIT_USAGE);
  const dataDir = resolve((values['data-dir'] as string | undefined) ?? './data');
  // Opening a store creates one: an empty new store would "verify", so a wrong path must fail.
  if (!existsSync(join(dataDir, 'lmdb')))
    throw new SluiceError('FILE_UNREADABLE', `no Sluice store in ${dataDir}`);
  const checkpoint = values.checkpoint as string | undefined;
  // A mistyped path is an error of its own, not a broken chain.
  if (checkpoint && !existsSync(checkpoint))
    throw new SluiceError('FILE_UNREADABLE', `no file ${checkpoint}`);
  const store = new Store({ dataDir });
  try {
    const r = await verifyAudit(store, checkpoint ? { checkpointPath: resolve(checkpoint) } : {});
    process.stdout.write(`${JSON.stringify(r)}\n`);
    if (r.firstBad) {
      process.stderr.write(`sluice audit: chain broken at entry ${r.firstBad.seq}: ${r.firstBad.reason}\n`);
      return 1;
    }
    return 0;
  } finally {
    await store.close();
  }
}
