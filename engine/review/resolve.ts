/**
 * `POST /v1/quarantine/{tx_id}/resolve`: a reviewer releases, rejects or corrects a quarantined
 * row. Each is one LMDB write transaction holding the record's new state, the audit entry and the
 * day's resolution counter, and, for release and correct, the accepted row itself: a one-row
 * internal batch through the normal pipeline (bronze, tx-id claim, silver staging, gold, AML,
 * lineage), whose commit runs this module's hook. The hook re-reads the record inside that
 * transaction, so of two concurrent resolves exactly one wins and the other gets 409.
 */

import { SILVER_FLAG_CORRECTED, SILVER_FLAG_RELEASED } from '../aml/silver-columns.ts';
import { appendAudit } from '../audit/log.ts';
import type { Principal } from '../auth/verifier.ts';
import { REASON } from '../codes.ts';
import type { IngestOutcome } from '../commit.ts';
import { SluiceError } from '../errors.ts';
import type { Pipeline } from '../pipeline.ts';
import { ROW_BITS, type Store } from '../store.ts';
import { releaseClaim } from '../tx-claims.ts';
import type { WorkResult } from '../worker.ts';
import {
  getRecord,
  type QuarantineRecord,
  type Resolution,
  type ResolveAction,
  STATUS_AFTER,
} from './record.ts';
import { releaseBlockers } from './release.ts';
import { assertNotErased, encodeRow, mergeCorrection, originalValues } from './row.ts';
import { idsOfTx } from './tx-index.ts';

export interface ResolveRequest {
  txId: string;
  action: ResolveAction;
  note: string;
  /** Required when several open records share the tx_id. */
  batchId?: string;
  /** For `correct`: CONTRACT §1 fields to set (null removes one). */
  fields?: Record<string, string | null>;
  /** The client address, recorded as the internal batch's source. */
  client?: string;
}

/**
 * The record a resolve names: the one with this tx_id in `batchId` if given, else the only open
 * one. 404 when none has the tx_id; 409 when several are open, or when none is open any more.
 */
export function findRecord(store: Store, txId: string, batchId?: string): QuarantineRecord {
  const records = idsOfTx(store, txId)
    .map((id) => getRecord(store, id))
    .filter((r): r is QuarantineRecord => r !== undefined && r.tx_id === txId);
  if (batchId !== undefined) {
    const r = records.find((x) => x.batch_id === batchId);
    if (!r) throw new SluiceError('NOT_FOUND', `no quarantined row with this tx_id in batch ${batchId}`);
    return r;
  }
  if (records.length === 0) throw new SluiceError('NOT_FOUND', 'no quarantined row with this tx_id');
  const open = records.filter((r) => r.status === 'open');
  if (open.length > 1) {
    throw new SluiceError('QUARANTINE_AMBIGUOUS', undefined, { batch_ids: open.map((r) => r.batch_id) });
  }
  return open[0] ?? (records[0] as QuarantineRecord);
}

/** Re-reads the record inside the write transaction: only an open one may change. */
function openRecord(s: Store, id: string): QuarantineRecord {
  const cur = getRecord(s, id);
  if (cur?.status !== 'open') throw new SluiceError('QUARANTINE_RESOLVED');
  return cur;
}

/** Adds one to the day's `released`, `rejected` or `corrected` count in gold (`q|day`). */
function countResolution(s: Store, action: ResolveAction, at: string): void {
  const key = `q|${at.slice(0, 10)}`;
  const dq = (s.gold.get(key) as Record<string, number> | undefined) ?? {};
  const field = STATUS_AFTER[action];
  s.gold.put(key, { ...dq, [field]: (dq[field] ?? 0) + 1 });
}

/** The record's new state, its audit entry and the day's counter: call inside the write transaction. */
function settle(s: Store, rec: QuarantineRecord, resolution: Resolution): QuarantineRecord {
  const next: QuarantineRecord = { ...rec, status: STATUS_AFTER[resolution.action], resolution };
  s.quarantine.put(rec.id, next);
  countResolution(s, resolution.action, resolution.at);
  appendAudit(s, {
    actor: resolution.by,
    action: `quarantine.${resolution.action}`,
    target: rec.tx_id ?? rec.id,
    outcome: 'ok',
    // Names only: field values are personal data and never enter the audit chain.
    details: {
      quarantine_id: rec.id,
      batch_id: rec.batch_id,
      ...(resolution.new_batch_id ? { new_batch_id: resolution.new_batch_id } : {}),
      changed_fields: resolution.changed_fields ?? [],
    },
  });
  return next;
}

/** Where the quarantined sighting's claim on its tx_id points (engine/commit.ts: seq × 2^20 + row). */
function claimOf(s: Store, rec: QuarantineRecord): number | undefined {
  const batch = s.batches.get(rec.batch_id) as { seq?: number } | undefined;
  return batch?.seq === undefined ? undefined : batch.seq * ROW_BITS + rec.row;
}

const DUP = 1 << REASON.DUPLICATE_TX;

export async function resolveQuarantined(
  store: Store,
  pipeline: Pipeline,
  principal: Principal,
  req: ResolveRequest,
): Promise<QuarantineRecord> {
  if (req.fields !== undefined && req.action !== 'correct') {
    throw new SluiceError('BAD_REQUEST', '`fields` go with action correct only');
  }
  const found = findRecord(store, req.txId, req.batchId);
  if (found.status !== 'open') throw new SluiceError('QUARANTINE_RESOLVED');
  const id = found.id;
  const by = principal.keyId;

  if (req.action === 'reject') {
    let settled: QuarantineRecord | undefined;
    await store.env.transaction(() => {
      const rec = openRecord(store, id); // throws before anything is written
      settled = settle(store, rec, { action: 'reject', by, note: req.note, at: new Date().toISOString() });
    });
    return settled as QuarantineRecord;
  }

  const release = req.action === 'release';
  if (release) {
    const blockers = releaseBlockers(found.fields);
    if (blockers.length > 0) {
      throw new SluiceError('QUARANTINE_NOT_RELEASABLE', undefined, {
        reasons: [...new Set(blockers.map((b) => b.code))],
        fields: blockers,
      });
    }
  }
  const original = originalValues(store, found);
  const { values, changed } = release
    ? { values: original, changed: [] as string[] }
    : mergeCorrection(original, req.fields ?? {});
  assertNotErased(values);
  const rowTxId = values.tx_id ?? null;
  const row = encodeRow(values);
  let settled: QuarantineRecord | undefined;
  await pipeline.ingestReview({
    ...row,
    keyId: by,
    client: req.client,
    work: { release, silverFlags: release ? SILVER_FLAG_RELEASED : SILVER_FLAG_CORRECTED },
    // Before anything is written: a row the kernels still refuse changes nothing.
    check: (res: WorkResult) => {
      const mask = res.mask[0] ?? 0;
      if (res.received === 1 && (mask === 0 || mask & DUP)) return;
      const q = res.quarantine[0];
      throw new SluiceError(release ? 'QUARANTINE_NOT_RELEASABLE' : 'CORRECTION_INVALID', undefined, {
        reasons: q?.reasons ?? [],
        fields: q?.fields ?? [],
      });
    },
    hook: {
      begin(s: Store) {
        const rec = openRecord(s, id);
        // The quarantined sighting claimed the tx_id at ingest; the accepted row takes the claim
        // over. A claim held by any other row stays, and the commit finds the row a duplicate.
        if (rowTxId !== null && rowTxId === rec.tx_id) {
          const mine = claimOf(s, rec);
          if (mine !== undefined) releaseClaim(s, rowTxId, mine);
        }
      },
      finish(s: Store, outcome: IngestOutcome) {
        const reply = outcome.reply;
        if (reply.accepted !== 1) {
          throw reply.duplicates > 0
            ? new SluiceError('DUPLICATE_TX')
            : new SluiceError('INTERNAL', 'the reviewed row was not accepted');
        }
        const rec = openRecord(s, id);
        const batch = s.batches.get(reply.batch_id) as Record<string, unknown>;
        s.batches.put(reply.batch_id, { ...batch, review: { quarantine_id: id, action: req.action } });
        settled = settle(s, rec, {
          action: req.action,
          by,
          note: req.note,
          at: new Date().toISOString(),
          new_batch_id: reply.batch_id,
          changed_fields: release ? undefined : changed,
        });
      },
    },
  });
  return settled as QuarantineRecord;
}
