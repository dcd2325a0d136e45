/**
 * Alerts: a row whose score reaches the threshold, stored with the rules that fired and the
 * values that made each fire, in words an analyst can check ("11th transaction in 5 min").
 * Keyed by event time, then batch and row, so a time range is one ordered scan.
 */
import type { Data, RecordBatch } from 'apache-arrow';
import type { NameScreen, ScoredRows } from './engine.ts';
import { RULE_NAMES, type RuleName } from './rule-names.ts';
import type { AmlRules } from './rules.ts';

/** A batch part's AML columns, by row within the part (0 for rows of other shards). */
export interface PartScores {
  date: string;
  rows: number;
  score: Uint8Array;
  rules: Uint16Array;
  flags: Uint8Array;
}

export interface FiredRule {
  rule: RuleName;
  weight: number;
  /** Why, in words. */
  detail: string;
  /** The numbers behind the words (pence, counts, ratios). */
  values: Record<string, number | string>;
}

export interface Alert {
  tx_id: string;
  batch_id: string;
  row: number;
  account_id: string;
  ts: string;
  amount_gbp_minor: number | null;
  score: number;
  rules: FiredRule[];
  late: boolean;
  raised_at: string;
}

export interface AlertRecord {
  key: string;
  record: Alert;
}

/** Thousands separators for whole pounds; made once, since `toLocaleString` builds one per call (~13 µs). */
const POUNDS = new Intl.NumberFormat('en-GB', { maximumFractionDigits: 0 });

/**
 * "£1,234.50" (and "£-0.01") from pence, by integer arithmetic after one rounding (a rules-file
 * figure times 100, such as 8999.99 × 100, can land a hair off the whole pence).
 */
function gbp(pence: number): string {
  const abs = Math.round(Math.abs(pence));
  const p = abs % 100;
  return `£${pence < 0 ? '-' : ''}${POUNDS.format((abs - p) / 100)}.${p < 10 ? '0' : ''}${p}`;
}

function ordinal(n: number): string {
  const t = n % 100;
  if (t >= 11 && t <= 13) return `${n}th`;
  return `${n}${['th', 'st', 'nd', 'rd'][n % 10] ?? 'th'}`;
}

function column(batch: RecordBatch, name: string): Data | undefined {
  return batch.getChild(name)?.data[0] as Data | undefined;
}

function text(batch: RecordBatch, name: string, i: number): string {
  const v = batch.getChild(name)?.get(i);
  return v === null || v === undefined ? '' : String(v);
}

/** Explains each rule that fired on a row, from its kernel detail words (at word `at`). */
export function explain(
  mask: number,
  detail: BigInt64Array,
  at: number,
  amount: number | null,
  rules: AmlRules,
  sanction: { similarity: number; entry: { id: string; name: string; source: string } | undefined },
): FiredRule[] {
  const d = (k: number) => Number(detail[at + k]);
  const f64 = (k: number) => new Float64Array(new BigInt64Array([detail[at + k] as bigint]).buffer)[0] ?? 0;
  const doc = rules.doc.rules;
  const out: FiredRule[] = [];
  RULE_NAMES.forEach((rule, b) => {
    if ((mask & (1 << b)) === 0) return;
    const weight = rules.weights[b] as number;
    let detailText = '';
    let values: Record<string, number | string> = {};
    switch (rule) {
      case 'SANCTIONS_MATCH':
        detailText = `${sanction.similarity.toFixed(2)} similar to "${sanction.entry?.name ?? '?'}" (${sanction.entry?.id ?? '?'})`;
        values = {
          similarity: sanction.similarity,
          list_id: sanction.entry?.id ?? '',
          list: sanction.entry?.source ?? '',
        };
        break;
      case 'STRUCTURING':
        detailText = `${ordinal(d(2))} amount in ${gbp(Number(doc.STRUCTURING.band_from_gbp) * 100)}–${gbp(Number(doc.STRUCTURING.band_to_gbp) * 100)} within ${Number(doc.STRUCTURING.window_seconds) / 3600} h`;
        values = { band_count: d(2) };
        break;
      case 'RAPID_PASS_THROUGH': {
        const pct = d(3) > 0 ? Math.floor((d(4) * 100) / d(3)) : 0;
        detailText = `debits ${gbp(d(4))} = ${pct}% of credit ${gbp(d(3))} at ${new Date(d(5)).toISOString()}`;
        values = { credit_gbp_minor: d(3), debits_gbp_minor: d(4), credit_ts: new Date(d(5)).toISOString() };
        break;
      }
      case 'HIGH_RISK_COUNTRY':
        detailText = `counterparty country on the high-risk list of ${rules.doc.high_risk_countries.as_of}`;
        break;
      case 'VELOCITY_AMOUNT':
        detailText = `${Number(doc.VELOCITY_AMOUNT.window_seconds) / 60}-min sum ${gbp(d(1))}`;
        values = { window_sum_gbp_minor: d(1) };
        break;
      case 'VELOCITY_COUNT':
        detailText = `${ordinal(d(0))} transaction in ${Number(doc.VELOCITY_COUNT.window_seconds) / 60} min`;
        values = { window_count: d(0) };
        break;
      case 'AMOUNT_ANOMALY': {
        const mean = f64(6);
        const sd = Math.sqrt(f64(7));
        detailText = `${amount === null ? '?' : gbp(amount)} vs mean ${gbp(Math.round(mean))}, σ ${gbp(Math.round(sd))}`;
        values = { mean_gbp_minor: Math.round(mean), sigma_gbp_minor: Math.round(sd) };
        break;
      }
      case 'HIGH_VALUE':
        detailText = `${amount === null ? '?' : gbp(amount)} ≥ ${gbp(Number(doc.HIGH_VALUE.min_gbp) * 100)}`;
        break;
      case 'ROUND_AMOUNT':
        detailText = `a whole multiple of ${doc.ROUND_AMOUNT.multiple_of_major_units} in its currency`;
        break;
    }
    out.push({ rule, weight, detail: detailText, values });
  });
  return out;
}

/** The alerts among `rows` of a staged silver batch. */
export function alertsOf(
  batch: RecordBatch,
  rows: Uint32Array,
  out: ScoredRows,
  rules: AmlRules,
  names: Pick<NameScreen, 'entryAt'> | null,
): AlertRecord[] {
  const alerts: AlertRecord[] = [];
  const tsCol = batch.getChild('ts');
  const amt = column(batch, 'amount_gbp_minor');
  const raisedAt = new Date().toISOString();
  for (const i of rows) {
    if ((out.score[i] as number) < rules.alertThreshold) continue;
    const tsMs = Number(tsCol?.get(i) ?? 0);
    const ts = new Date(tsMs).toISOString();
    const gbpAmount = amt && batch.getChild('amount_gbp_minor')?.get(i);
    const amount = gbpAmount === null || gbpAmount === undefined ? null : Number(gbpAmount);
    const batchId = text(batch, 'batch_id', i);
    const row = Number(batch.getChild('batch_row')?.get(i) ?? i);
    const record: Alert = {
      tx_id: text(batch, 'tx_id', i),
      batch_id: batchId,
      row,
      account_id: text(batch, 'account_id', i),
      ts,
      amount_gbp_minor: amount,
      score: out.score[i] as number,
      rules: explain(
        out.rules[i] as number,
        out.detail,
        (out.detailAt[i] as number) * out.detailWords,
        amount,
        rules,
        {
          similarity: (out.similarity[i] as number) / 10000,
          entry: (out.entry[i] as number) >= 0 ? names?.entryAt(out.entry[i] as number) : undefined,
        },
      ),
      late: ((out.flags[i] as number) & 1) === 1,
      raised_at: raisedAt,
    };
    alerts.push({ key: `${ts}|${batchId}:${row}`, record });
  }
  return alerts;
}
