/**
 * Verifies the audit chain end to end: every entry from seq 1 in order, its link to the one before,
 * its own hash, the head recorded in `meta`, and the last checkpoint file (which an operator ships
 * elsewhere, so cutting the log back to an earlier consistent state is still caught).
 *
 * One read transaction covers the whole walk, so entries appended meanwhile are neither seen half
 * nor mistaken for tampering; the walk reads in chunks and yields between them, so a service
 * verifying a million entries keeps answering.
 */
import type { Store } from '../store.ts';
import { type CheckpointFile, readCheckpoint } from './checkpoint.ts';
import { type AuditEntry, entryHash, GENESIS, HEAD_KEY } from './log.ts';

/** Why an entry fails. Stable strings: scripts and alerts match on them. */
export type AuditFault =
  | 'hash_mismatch'
  | 'prev_mismatch'
  | 'seq_gap'
  | 'head_mismatch'
  | 'checkpoint_mismatch';

export interface VerifyResult {
  ok: boolean;
  /** Entries that verified, in order from seq 1 (all of them when `ok`). */
  entries: number;
  /** The head recorded in the store. */
  head: { seq: number; hash: string };
  /** The checkpoint checked against, if a checkpoint file exists. */
  checkpoint?: CheckpointFile;
  /** The first entry that fails, and why; `seq` 0 when the checkpoint file itself is unreadable. */
  firstBad?: { seq: number; reason: AuditFault };
}

export interface VerifyOptions {
  /** A checkpoint file to check against; default `<data-dir>/audit/head.json` (skipped if absent). */
  checkpointPath?: string;
  /** Entries read per chunk before yielding to the event loop. */
  chunk?: number;
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

export async function verifyAudit(store: Store, opts: VerifyOptions = {}): Promise<VerifyResult> {
  const chunk = Math.max(1, opts.chunk ?? 16_384);
  const cp = readCheckpoint(store.dataDir, opts.checkpointPath);
  const txn = store.env.useReadTransaction();
  try {
    const stored = store.meta.get(HEAD_KEY, { transaction: txn }) as
      | { seq: number; hash: string }
      | undefined;
    const head = stored ? { seq: stored.seq, hash: stored.hash } : { seq: 0, hash: GENESIS };
    let last = 0; // the last seq that verified
    let prev = GENESIS;
    const result = (firstBad?: VerifyResult['firstBad']): VerifyResult => ({
      ok: firstBad === undefined,
      entries: last,
      head,
      ...(cp.file ? { checkpoint: cp.file } : {}),
      ...(firstBad ? { firstBad } : {}),
    });
    if (cp.unreadable) return result({ seq: 0, reason: 'checkpoint_mismatch' });
    for (;;) {
      let read = 0;
      for (const { key, value } of store.audit.getRange({
        start: last + 1,
        limit: chunk,
        transaction: txn,
      })) {
        read++;
        const e = value as AuditEntry;
        const seq = last + 1;
        // A missing entry, or one stored under another's number (a swap), breaks the sequence.
        if (key !== seq || e?.seq !== seq) return result({ seq, reason: 'seq_gap' });
        if (e.prev !== prev) return result({ seq, reason: 'prev_mismatch' });
        if (entryHash(e) !== e.hash) return result({ seq, reason: 'hash_mismatch' });
        if (cp.file && seq === cp.file.seq && e.hash !== cp.file.hash)
          return result({ seq, reason: 'checkpoint_mismatch' });
        prev = e.hash;
        last = seq;
      }
      if (read < chunk) break;
      await tick();
    }
    // The head names the last entry: fewer entries means the tail was cut, more means entries
    // were added behind the chain's back.
    if (head.seq !== last) return result({ seq: Math.min(head.seq, last) + 1, reason: 'head_mismatch' });
    if (head.hash !== prev) return result({ seq: last, reason: 'head_mismatch' });
    // A tail cut back with the head rewritten to match: only the shipped checkpoint still knows.
    if (cp.file && cp.file.seq > last) return result({ seq: cp.file.seq, reason: 'checkpoint_mismatch' });
    return result();
  } finally {
    txn.done();
  }
}
