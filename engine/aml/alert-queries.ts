/**
 * Reading alerts back: `GET /v1/alerts` (filters, newest event time last, cursor paging) and the
 * `alerts` gold report (per day × rule counts, folded as the shards raise them).
 */
import type { Store } from '../store.ts';
import type { Alert } from './alerts.ts';
import type { RuleName } from './rule-names.ts';

export interface AlertQuery {
  /** Event-time bounds, ISO 8601 (inclusive from, exclusive to). */
  from?: string;
  to?: string;
  min_score?: number;
  rule?: RuleName;
  account_id?: string;
  batch_id?: string;
  limit?: number;
  /** The `next` of a previous page. */
  cursor?: string;
}

export interface AlertPage {
  alerts: (Alert & { id: string })[];
  next: string | null;
}

export const MAX_ALERT_PAGE = 1000;

export function queryAlerts(store: Store, q: AlertQuery): AlertPage {
  const limit = Math.min(MAX_ALERT_PAGE, Math.max(1, q.limit ?? 100));
  const start = q.cursor ? `${q.cursor}\u0000` : q.from ? new Date(q.from).toISOString() : undefined;
  const end = q.to ? new Date(q.to).toISOString() : undefined;
  const out: (Alert & { id: string })[] = [];
  let last: string | null = null;
  for (const { key, value } of store.alerts.getRange({ start, end })) {
    const a = value as Alert;
    last = key as string;
    if (q.min_score !== undefined && a.score < q.min_score) continue;
    if (q.rule && !a.rules.some((r) => r.rule === q.rule)) continue;
    if (q.account_id && a.account_id !== q.account_id) continue;
    if (q.batch_id && a.batch_id !== q.batch_id) continue;
    out.push({ id: `${a.batch_id}:${a.row}`, ...a });
    if (out.length === limit) break;
  }
  return { alerts: out, next: out.length === limit ? last : null };
}

/** Per day × rule: alerts that rule contributed to. */
export function alertsReport(
  store: Store,
  q: { from?: string; to?: string },
): Record<string, string | number>[] {
  const rows: Record<string, string | number>[] = [];
  for (const { key, value } of store.gold.getRange({ start: 'al|', end: 'al|~' })) {
    const [, day, rule] = (key as string).split('|');
    if (!day || !rule) continue;
    if ((q.from && day < q.from) || (q.to && day > q.to)) continue;
    rows.push({ day, rule, alerts: value as number });
  }
  return rows;
}
