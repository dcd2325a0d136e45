/**
 * Silver files against the manifest. Each file's size and sha-256 are recorded when it is written
 * (silver/parquet-worker.ts); a file that no longer matches (a flipped bit, a truncation, a file
 * gone) is corrupt. Corrupt files are reported and never read as data again: compaction in
 * particular would otherwise launder one into a new file with a fresh, valid checksum.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { SilverFile } from '../store.ts';

/** Why a silver file fails its check. Stable strings: scripts and alerts match on them. */
export type SilverProblem = 'missing' | 'size' | 'sha256';

/** Streams a file through sha-256 (memory holds one read chunk, whatever the file's size). */
export async function sha256OfFile(path: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

/** Null when the file under `dataDir` matches its manifest entry, else what is wrong with it. */
export async function checkSilverFile(dataDir: string, f: SilverFile): Promise<SilverProblem | null> {
  const path = join(dataDir, f.path);
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw e;
  }
  // The size first: a truncated file is caught without reading it.
  if (size !== f.bytes) return 'size';
  return (await sha256OfFile(path)).sha256 === f.sha256 ? null : 'sha256';
}
