/**
 * Chain-head checkpoints: `<data-dir>/audit/head.json` holds the seq and hash of the latest
 * `audit.checkpoint` entry, for an operator to ship off the node (object storage with retention,
 * another team's bucket). Anyone able to rewrite the LMDB file can cut the log's tail and rewrite
 * the head to match, and the chain alone would still verify; a shipped checkpoint cannot be
 * reached that way, and `verify` fails unless the chain still holds the checkpointed entry.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Job } from '../jobs.ts';
import type { Store } from '../store.ts';
import { appendAudit, HEAD_KEY } from './log.ts';

export interface CheckpointFile {
  seq: number;
  hash: string;
  /** The checkpoint entry's time, ISO 8601. */
  at: string;
}

/** Relative to the data dir. */
export const CHECKPOINT_FILE = 'audit/head.json';

/** The checkpoint at `path` (default: the data dir's): absent, read, or there but unreadable. */
export function readCheckpoint(
  dataDir: string,
  path?: string,
): { file?: CheckpointFile; unreadable?: string } {
  let text: string;
  try {
    text = readFileSync(path ?? join(dataDir, CHECKPOINT_FILE), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' && path === undefined) return {};
    return { unreadable: (e as Error).message };
  }
  try {
    const v = JSON.parse(text) as Partial<CheckpointFile>;
    if (
      Number.isSafeInteger(v.seq) &&
      (v.seq as number) > 0 &&
      typeof v.hash === 'string' &&
      /^[0-9a-f]{64}$/.test(v.hash) &&
      typeof v.at === 'string'
    )
      return { file: { seq: v.seq as number, hash: v.hash, at: v.at } };
  } catch {
    // fall through: not JSON
  }
  return { unreadable: 'not a checkpoint: expected {"seq", "hash", "at"}' };
}

/** Whole or not at all, and on disk before the rename makes it visible (temp, fsync, rename, fsync dir). */
function writeDurably(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  const dir = openSync(dirname(path), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

/**
 * Appends an `audit.checkpoint` entry and writes its seq and hash to the checkpoint file. Skipped
 * when the file already names the head (nothing was appended since), so an idle log stays idle.
 */
export async function writeCheckpoint(
  store: Store,
  now: () => number = Date.now,
): Promise<CheckpointFile & { written: boolean }> {
  const prior = readCheckpoint(store.dataDir).file;
  let entry: CheckpointFile | undefined;
  await store.env.transaction(() => {
    const head = store.meta.get(HEAD_KEY) as { seq: number; hash: string } | undefined;
    if (prior && head && head.seq === prior.seq && head.hash === prior.hash) return;
    const e = appendAudit(
      store,
      { actor: 'system', action: 'audit.checkpoint', target: CHECKPOINT_FILE, outcome: 'ok' },
      now(),
    );
    entry = { seq: e.seq, hash: e.hash, at: e.at };
  });
  if (!entry) return { ...(prior as CheckpointFile), written: false };
  // After the commit: the file must never name an entry that a failed transaction left out.
  writeDurably(join(store.dataDir, CHECKPOINT_FILE), `${JSON.stringify(entry)}\n`);
  return { ...entry, written: true };
}

export const auditCheckpointJob: Job = {
  name: 'audit-checkpoint',
  summary: `appends an audit.checkpoint entry and writes the chain head to ${CHECKPOINT_FILE}, to ship off the node`,
  everyMs: 15 * 60_000,
  async run({ store, now }) {
    const c = await writeCheckpoint(store, now);
    return { seq: c.seq, hash: c.hash, written: c.written };
  },
};
