/**
 * Reading the audit log back (`GET /v1/audit`): entries in seq order, filtered by time, action,
 * actor and target, paged by seq. `at` never decreases with seq (see `appendAudit`), so a time
 * bound becomes a seq bound by bisection instead of a scan from the start.
 */
import type { Store } from '../store.ts';
import { type AuditAction, type AuditEntry, auditHead } from './log.ts';

export interface AuditQuery {
  /** ISO 8601 bounds on `at`: inclusive from, exclusive to. */
  from?: string;
  to?: string;
  action?: AuditAction;
  actor?: string;
  target?: string;
  limit?: number;
  /** The `next` of the previous page: the last seq it examined. */
  cursor?: string;
}

export interface AuditPage {
  entries: AuditEntry[];
  /** Pass as `cursor` for more; null when the log holds no more matches. */
  next: string | null;
}

export const MAX_AUDIT_PAGE = 1000;
/** Entries examined per request at most, so a rare filter over a long log answers in bounded time. */
const SCAN_BUDGET = 100_000;

/** The first seq in [lo, hi] whose entry is at or after `iso` (hi + 1 if none). */
function firstAtOrAfter(store: Store, iso: string, lo: number, hi: number): number {
  let a = lo;
  let b = hi + 1;
  while (a < b) {
    const mid = Math.floor((a + b) / 2);
    const e = store.audit.get(mid) as AuditEntry | undefined;
    // A missing entry (a broken log) sorts low: the page then starts early rather than skip any.
    if (e && e.at >= iso) b = mid;
    else a = mid + 1;
  }
  return a;
}

export function queryAudit(store: Store, q: AuditQuery, scanBudget = SCAN_BUDGET): AuditPage {
  const limit = Math.min(MAX_AUDIT_PAGE, Math.max(1, q.limit ?? 100));
  const head = auditHead(store).seq;
  const from = q.from ? new Date(q.from).toISOString() : undefined;
  const to = q.to ? new Date(q.to).toISOString() : undefined;
  let start = q.cursor ? Number(q.cursor) + 1 : 1;
  if (from) start = firstAtOrAfter(store, from, start, head);
  const end = to ? firstAtOrAfter(store, to, start, head) : head + 1;
  const entries: AuditEntry[] = [];
  let last = start - 1;
  let scanned = 0;
  let stopped = false;
  for (const { key, value } of store.audit.getRange({ start, end })) {
    last = key as number;
    const e = value as AuditEntry;
    if (
      (!q.action || e.action === q.action) &&
      (!q.actor || e.actor === q.actor) &&
      (!q.target || e.target === q.target)
    )
      entries.push(e);
    if (entries.length === limit || ++scanned === scanBudget) {
      stopped = true;
      break;
    }
  }
  return { entries, next: stopped && last < end - 1 ? String(last) : null };
}
