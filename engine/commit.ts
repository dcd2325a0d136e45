/**
 * The one LMDB transaction that makes a batch durable in every layer at once: the tx-id claims,
 * quarantine, gold, silver staging, bronze, the batch record and the idempotency key. It runs in
 * whichever thread did the batch's work (a pool worker, or the main thread for small bodies):
 * LMDB serialises writers across threads, and a transaction sees every earlier one's writes.
 */
import { threadId } from 'node:worker_threads';
import { appendAudit } from './audit/log.ts';
import { REASON, REQUIRED_FIELDS } from './codes.ts';
import type { Format } from './formats/index.ts';
import { type AccountPartials, encodePartials, partialKey } from './gold.ts';
import { Int64Sums } from './int64-sums.ts';
import { seqEntry } from './lineage.ts';
import { keyringFor } from './pii/keyring.ts';
import { sealBody } from './pii/seal.ts';
import { indexQuarantined } from './review/tx-index.ts';
import { rethrowStorageFault } from './storage-faults.ts';
import type { StagedSilver, Store } from './store.ts';
import { claimIds } from './tx-claims.ts';
import type { WorkResult } from './worker.ts';

const REQUIRED = REQUIRED_FIELDS.length;
const DUP = 1 << REASON.DUPLICATE_TX;

const ratio = (num: number, den: number) => (den === 0 ? 1 : Math.round((num / den) * 1e6) / 1e6);

export interface Quality {
  completeness: number;
  validity: number;
  uniqueness: number;
  timeliness_ms: number | null;
}

export interface BatchReply {
  batch_id: string;
  status: 'completed';
  received: number;
  accepted: number;
  quarantined: number;
  duplicates: number;
  reasons: Record<string, number>;
  alerts: number;
  /** Set when the reply did not wait for AML scoring to finish (`alerts` then counts none). */
  aml_pending?: true;
  quality: Quality;
}

export interface IngestOutcome {
  status: 201 | 200;
  reply: BatchReply;
  /** The batch's sequence number (the order AML state applies batches in). */
  seq?: number;
  /** Stage timings, for metrics (not part of the reply). */
  stages?: import('./worker.ts').StageTimings;
}

/** What the commit needs to know about the request, besides the work's result. */
export interface CommitMeta {
  batchId: string;
  receivedAt: number;
  format: Format;
  contentType: string;
  idempotencyKey?: string;
  keyId?: string;
  client?: string;
  /**
   * A reviewer's resolve (engine/review/resolve.ts): `begin` runs first in the transaction and
   * `finish` last; either may throw, and a throw rolls the whole commit back.
   */
  review?: { begin(s: Store): void; finish(s: Store, outcome: IngestOutcome): void };
}

/** Commits a batch and resolves once it is durable. */
export async function commitDurably(store: Store, meta: CommitMeta, res: WorkResult): Promise<IngestOutcome> {
  let outcome: IngestOutcome | undefined;
  // Bronze never holds a raw body in clear: it is sealed under this hour's body key, made durable
  // before the commit that stores the ciphertext (engine/pii/seal.ts).
  const ring = keyringFor(store.dataDir, threadId);
  const bronze = sealBody(ring, new Uint8Array(res.body), meta.receivedAt);
  ring.sync();
  // A throw inside `transaction` keeps the writes made before it (lmdb-js); a review hook can
  // refuse after the batch is written, so its commit runs as a child transaction, which a throw
  // rolls back whole.
  const txn = meta.review
    ? store.env.childTransaction.bind(store.env)
    : store.env.transaction.bind(store.env);
  await txn(() => {
    outcome = commitBatch(store, meta, res, bronze);
  }).catch(rethrowStorageFault); // a full volume is a 507, not a 500
  return outcome as IngestOutcome;
}

/**
 * Runs inside the write transaction, synchronously: reads see every earlier batch's writes, so
 * the tx-id check and claim cannot race another batch.
 */
export function commitBatch(s: Store, req: CommitMeta, res: WorkResult, bronze: Uint8Array): IngestOutcome {
  const { batchId, receivedAt } = req;
  if (req.idempotencyKey) {
    const prior = s.idempotency.get(req.idempotencyKey) as { reply: BatchReply } | undefined;
    if (prior) return { status: 200, reply: prior.reply }; // a concurrent repeat won the race
  }
  req.review?.begin(s);
  const seq = s.nextSeq();
  const n = res.received;
  const dup = new Uint8Array(n);
  // A repeat within the request is refused here like a repeat of a stored id: ids are claimed
  // from the request's bytes in row order, and the first sighting claims.
  for (let i = 0; i < n; i++) if ((res.mask[i] as number) & DUP) dup[i] = 1;
  claimIds(s, seq, res.txIdBytes, res.claims, dup);
  let accepted = 0;
  let duplicates = 0;
  const drop: Record<string, number[]> = {};
  const goldGroups = new Int64Sums(res.amount, res.groups.length);
  // Key 2a holds account a's debits, 2a + 1 its credits.
  const goldAccounts = new Int64Sums(res.amount, 2 * res.accounts.length, false);
  for (let i = 0; i < n; i++) {
    if (dup[i]) {
      duplicates++;
      const part = res.silverPart[i] as number;
      if (part >= 0) {
        const date = res.silver[part]?.date as string;
        let list = drop[date];
        if (!list) {
          list = [];
          drop[date] = list;
        }
        list.push(res.silverPos[i] as number);
      }
      continue;
    }
    if (res.mask[i] !== 0) continue;
    accepted++;
    goldGroups.add(res.rowGroup[i] as number, i);
    goldAccounts.add(2 * (res.rowAccount[i] as number) + (res.credit[i] as number), i);
  }
  const reasons: Record<string, number> = {};
  let quarantined = 0;
  const quarantineIds: string[] = [];
  for (const q of res.quarantine) {
    if (dup[q.row]) continue;
    quarantined++;
    for (const r of q.reasons) reasons[r] = (reasons[r] ?? 0) + 1;
    const id = `${batchId}:${q.row}`;
    quarantineIds.push(id);
    s.quarantine.put(id, {
      ...q,
      id,
      batch_id: batchId,
      status: 'open',
      received_at: new Date(receivedAt).toISOString(),
    });
    indexQuarantined(s, q.tx_id, id);
  }

  const groupsTouched = goldGroups.order.subarray(0, goldGroups.size);
  for (const g of groupsTouched) {
    const key = `d|${res.groups[g]}`;
    const count = goldGroups.count[g] as number;
    const sum = goldGroups.sum(g);
    const min = goldGroups.min(g);
    const max = goldGroups.max(g);
    const prev = s.gold.get(key) as { count: number; sum: string; min: string; max: string } | undefined;
    const next = prev
      ? {
          count: prev.count + count,
          sum: (BigInt(prev.sum) + sum).toString(),
          min: (BigInt(prev.min) < min ? BigInt(prev.min) : min).toString(),
          max: (BigInt(prev.max) > max ? BigInt(prev.max) : max).toString(),
        }
      : { count, sum: sum.toString(), min: min.toString(), max: max.toString() };
    s.gold.put(key, next);
  }
  if (goldAccounts.size > 0) {
    // Accounts with an accepted row, in `accounts` order (the fold merges them by key anyway).
    const touched: number[] = [];
    for (let a = 0; a < res.accounts.length; a++) {
      if ((goldAccounts.count[2 * a] as number) + (goldAccounts.count[2 * a + 1] as number) > 0)
        touched.push(a);
    }
    const m = touched.length;
    const partials: AccountPartials = {
      keys: new Array(m),
      count: new Int32Array(m),
      debit: new BigInt64Array(m),
      credit: new BigInt64Array(m),
    };
    for (let k = 0; k < m; k++) {
      const a = touched[k] as number;
      partials.keys[k] = res.accounts[a] as string;
      partials.count[k] = (goldAccounts.count[2 * a] as number) + (goldAccounts.count[2 * a + 1] as number);
      partials.debit[k] = goldAccounts.sum(2 * a); // 0n for an account with no debit
      partials.credit[k] = goldAccounts.sum(2 * a + 1);
    }
    s.gold.put(partialKey(seq), encodePartials(partials));
  }
  const quality: Quality = {
    completeness: ratio(n * REQUIRED - res.missingRequired, n * REQUIRED),
    validity: ratio(accepted, n - duplicates),
    uniqueness: ratio(n - duplicates, n),
    timeliness_ms: res.timelinessP50Ms,
  };
  const day = new Date(receivedAt).toISOString().slice(0, 10);
  const qk = `q|${day}`;
  const dq = (s.gold.get(qk) as Record<string, number> | undefined) ?? {};
  // A reviewer's one-row batch is no new input: the day counts it as a resolution instead.
  if (!req.review)
    s.gold.put(qk, {
      ...dq, // counters kept elsewhere (reviewers' resolutions, engine/review/) stay
      batches: (dq.batches ?? 0) + 1,
      received: (dq.received ?? 0) + n,
      accepted: (dq.accepted ?? 0) + accepted,
      quarantined: (dq.quarantined ?? 0) + quarantined,
      duplicates: (dq.duplicates ?? 0) + duplicates,
      required_cells: (dq.required_cells ?? 0) + n * REQUIRED,
      missing_cells: (dq.missing_cells ?? 0) + res.missingRequired,
      lateness_sum_ms: (dq.lateness_sum_ms ?? 0) + res.latenessSumMs,
      lateness_count: (dq.lateness_count ?? 0) + res.latenessCount,
    });

  if (res.silver.length > 0) {
    const staged: StagedSilver = { batchId, seq, parts: res.silver };
    if (Object.keys(drop).length > 0) staged.drop = drop;
    s.staging.put(seq, staged);
  }
  s.bronze.put(batchId, bronze);
  const reply: BatchReply = {
    batch_id: batchId,
    status: 'completed',
    received: n,
    accepted,
    quarantined,
    duplicates,
    reasons,
    alerts: 0,
    quality,
  };
  // Lineage (seq → batch and each row's silver part) and the audit entry commit with the batch.
  s.seqs.put(seq, seqEntry(batchId, res, dup));
  appendAudit(s, {
    actor: req.keyId ?? 'system',
    action: 'batch.ingest',
    target: batchId,
    outcome: 'ok',
    details: { received: n, accepted, quarantined, duplicates, sha256: res.sha256, format: req.format },
  });
  s.batches.put(batchId, {
    ...reply,
    seq,
    received_at: new Date(receivedAt).toISOString(),
    source: {
      content_type: req.contentType,
      format: req.format,
      bytes: res.body.byteLength,
      sha256: res.sha256,
      key_id: req.keyId ?? null,
      client: req.client ?? null,
      idempotency_key: req.idempotencyKey ?? null,
    },
    bronze: { key: batchId, bytes: res.body.byteLength },
    silver_staged: res.silver.map((p) => ({ date: p.date, rows: p.rows - (drop[p.date]?.length ?? 0) })),
    silver_files: [],
    quarantine_ids: quarantineIds,
    gold_keys: [...[...groupsTouched].map((g) => `d|${res.groups[g]}`), qk],
  });
  if (req.idempotencyKey)
    s.idempotency.put(req.idempotencyKey, { batch_id: batchId, sha256: res.sha256, reply });
  req.review?.finish(s, { status: 201, reply, seq });
  return { status: 201, reply, seq };
}
