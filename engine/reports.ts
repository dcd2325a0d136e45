/**
 * Gold reports, read from the gold aggregates in LMDB: `daily-kpis` (per day × currency ×
 * channel × direction) and `data-quality` (per day). JSON by default; CSV with `?format=csv` or
 * `Accept: text/csv`. Amounts are integer minor units, as strings (never floats).
 */
import { alertsReport } from './aml/alert-queries.ts';
import type { Store } from './store.ts';

export const REPORT_NAMES = ['daily-kpis', 'data-quality', 'alerts'] as const;
export type ReportName = (typeof REPORT_NAMES)[number];

export interface ReportQuery {
  from?: string;
  to?: string;
}

type Row = Record<string, string | number | null>;

function inRange(day: string, q: ReportQuery): boolean {
  return (!q.from || day >= q.from) && (!q.to || day <= q.to);
}

export function dailyKpis(store: Store, q: ReportQuery): Row[] {
  const rows: Row[] = [];
  for (const { key, value } of store.gold.getRange({ start: 'd|', end: 'd|~' })) {
    const [, day, currency, channel, direction] = (key as string).split('|');
    if (!day || !inRange(day, q)) continue;
    const v = value as { count: number; sum: string; min: string; max: string };
    rows.push({
      day,
      currency: currency ?? null,
      channel: channel ?? null,
      direction: direction ?? null,
      count: v.count,
      sum_minor: v.sum,
      min_minor: v.min,
      max_minor: v.max,
    });
  }
  return rows;
}

const ratio = (num: number, den: number) => (den === 0 ? 1 : Math.round((num / den) * 1e6) / 1e6);

export function dataQuality(store: Store, q: ReportQuery): Row[] {
  const rows: Row[] = [];
  for (const { key, value } of store.gold.getRange({ start: 'q|', end: 'q|~' })) {
    const day = (key as string).slice(2);
    if (!inRange(day, q)) continue;
    const v = value as Record<string, number>;
    const received = v.received ?? 0;
    const duplicates = v.duplicates ?? 0;
    rows.push({
      day,
      batches: v.batches ?? 0,
      received,
      accepted: v.accepted ?? 0,
      quarantined: v.quarantined ?? 0,
      duplicates,
      completeness: ratio((v.required_cells ?? 0) - (v.missing_cells ?? 0), v.required_cells ?? 0),
      validity: ratio(v.accepted ?? 0, received - duplicates),
      uniqueness: ratio(received - duplicates, received),
      timeliness_ms_mean: v.lateness_count ? Math.round((v.lateness_sum_ms ?? 0) / v.lateness_count) : null,
      // Reviewers' resolutions on the day (engine/review/), whatever day the rows came in.
      released: v.released ?? 0,
      rejected: v.rejected ?? 0,
      corrected: v.corrected ?? 0,
    });
  }
  return rows;
}

export function report(store: Store, name: ReportName, q: ReportQuery): Row[] {
  if (name === 'alerts') return alertsReport(store, q);
  return name === 'daily-kpis' ? dailyKpis(store, q) : dataQuality(store, q);
}

function csvCell(v: string | number | null): string {
  if (v === null) return '';
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(rows: Row[], columns: string[]): string {
  let out = `${columns.join(',')}\r\n`;
  for (const r of rows) out += `${columns.map((c) => csvCell(r[c] ?? null)).join(',')}\r\n`;
  return out;
}

export const REPORT_COLUMNS: Record<ReportName, string[]> = {
  alerts: ['day', 'rule', 'alerts'],
  'daily-kpis': ['day', 'currency', 'channel', 'direction', 'count', 'sum_minor', 'min_minor', 'max_minor'],
  'data-quality': [
    'day',
    'batches',
    'received',
    'accepted',
    'quarantined',
    'duplicates',
    'completeness',
    'validity',
    'uniqueness',
    'timeliness_ms_mean',
    'released',
    'rejected',
    'corrected',
  ],
};
