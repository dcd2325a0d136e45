/**
 * The review queue: `GET /v1/quarantine`. Records come in id order ("batch_id:row"), filtered by
 * batch (a key range), tx_id (the index), status, reason and received time, paged by cursor (the
 * last id looked at). A page looks at no more than SCAN_BUDGET records, so a selective filter
 * over a large quarantine answers in bounded time: the page may then be short, even empty, with
 * `next` set; follow `next` until it is null.
 */
import type { ReasonCode } from '../codes.ts';
import type { Store } from '../store.ts';
import type { QuarantineRecord, QuarantineStatus } from './record.ts';
import { idsOfTx } from './tx-index.ts';

export interface QuarantineQuery {
  batch_id?: string;
  tx_id?: string;
  status?: QuarantineStatus;
  reason?: ReasonCode;
  /** Received-time bounds, ISO 8601 (inclusive from, exclusive to). */
  from?: string;
  to?: string;
  limit?: number;
  /** The `next` of a previous page. */
  cursor?: string;
}

export interface QuarantinePage {
  records: QuarantineRecord[];
  next: string | null;
}

export const MAX_QUARANTINE_PAGE = 1000;
export const DEFAULT_QUARANTINE_PAGE = 100;
/** Records looked at per page, at most. */
export const SCAN_BUDGET = 50_000;

function matcher(q: QuarantineQuery): (r: QuarantineRecord) => boolean {
  const from = q.from ? new Date(q.from).toISOString() : null;
  const to = q.to ? new Date(q.to).toISOString() : null;
  return (r) =>
    (!q.batch_id || r.batch_id === q.batch_id) &&
    (!q.tx_id || r.tx_id === q.tx_id) &&
    (!q.status || r.status === q.status) &&
    (!q.reason || r.reasons.includes(q.reason)) &&
    (!from || r.received_at >= from) &&
    (!to || r.received_at < to);
}

/** The candidate ids after the cursor, in id order, lazily. */
function* candidates(store: Store, q: QuarantineQuery): Iterable<{ id: string; record: QuarantineRecord }> {
  const after = q.cursor ?? '';
  if (q.tx_id !== undefined) {
    for (const id of idsOfTx(store, q.tx_id)) {
      if (id <= after) continue;
      const record = store.quarantine.get(id) as QuarantineRecord | undefined;
      if (record) yield { id, record };
    }
    return;
  }
  // "batch:" up to "batch;" (';' follows ':') holds exactly that batch's rows.
  let start = q.batch_id !== undefined ? `${q.batch_id}:` : undefined;
  const end = q.batch_id !== undefined ? `${q.batch_id};` : undefined;
  if (q.cursor !== undefined && (start === undefined || `${q.cursor}\u0000` > start))
    start = `${q.cursor}\u0000`;
  for (const { key, value } of store.quarantine.getRange({ start, end })) {
    yield { id: key as string, record: value as QuarantineRecord };
  }
}

export function queryQuarantine(store: Store, q: QuarantineQuery, budget = SCAN_BUDGET): QuarantinePage {
  const limit = Math.min(MAX_QUARANTINE_PAGE, Math.max(1, q.limit ?? DEFAULT_QUARANTINE_PAGE));
  const keep = matcher(q);
  const records: QuarantineRecord[] = [];
  let looked = 0;
  let last: string | null = null;
  for (const { id, record } of candidates(store, q)) {
    last = id;
    looked++;
    if (keep(record)) records.push(record);
    if (records.length === limit || looked === budget) return { records, next: last };
  }
  return { records, next: null };
}
