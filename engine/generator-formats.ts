/**
 * Generated rows in each CONTRACT §2 format: CSV and NDJSON lines, JSON and MessagePack bodies,
 * and Arrow record batches (amount as amount_minor Int64, ts as Timestamp(ms), the rest Utf8).
 * Used by `sluice generate`, the tests and the benchmarks, so every path sends the same bytes.
 */

import {
  Field,
  Int64,
  makeData,
  RecordBatch,
  Schema,
  Struct,
  Table,
  TimestampMillisecond,
  tableToIPC,
  Utf8,
} from 'apache-arrow';
import { pack } from 'msgpackr';
import { FIELDS } from './codes.ts';
import { type GeneratedRow, utf8Column } from './generator.ts';

/** Columns written as text in every format; `ts` and `amount` are typed in Arrow. */
const TEXT_COLUMNS = FIELDS.filter((f) => f !== 'ts' && f !== 'amount');

export const CSV_COLUMNS = FIELDS;

export function textOf(row: GeneratedRow, f: string): string | undefined {
  if (row.omit?.includes(f as keyof GeneratedRow)) return undefined;
  if (f === 'ts') return row.ts_text ?? new Date(row.ts).toISOString();
  const v = (row as unknown as Record<string, unknown>)[f];
  return v === undefined ? undefined : String(v);
}

function csvCell(v: string | undefined): string {
  if (v === undefined) return '';
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

export function csvHeader(): string {
  return `${CSV_COLUMNS.join(',')}\n`;
}

export function csvLine(row: GeneratedRow): string {
  return `${CSV_COLUMNS.map((c) => csvCell(textOf(row, c))).join(',')}\n`;
}

/** The record as a JSON object of strings (absent fields left out). */
export function recordOf(row: GeneratedRow): Record<string, string> {
  const o: Record<string, string> = {};
  for (const c of CSV_COLUMNS) {
    const v = textOf(row, c);
    if (v !== undefined) o[c] = v;
  }
  return o;
}

export function ndjsonLine(row: GeneratedRow): string {
  return `${JSON.stringify(recordOf(row))}\n`;
}

/** One Arrow record batch of the rows; every column present (nulls where absent), so one schema. */
export function arrowBatch(rows: GeneratedRow[]): RecordBatch {
  const n = rows.length;
  const fields: Field[] = [];
  const children = [];
  const validityOf = (present: boolean[]) => {
    const bits = new Uint8Array((n + 7) >> 3);
    let nulls = 0;
    present.forEach((p, i) => {
      if (p) bits[i >> 3] = (bits[i >> 3] as number) | (1 << (i & 7));
      else nulls++;
    });
    return { bits, nulls };
  };
  for (const f of ['ts', 'amount_minor'] as const) {
    const values = new BigInt64Array(n);
    const present = rows.map((r, i) => {
      if (r.omit?.includes(f === 'ts' ? 'ts' : 'amount')) return false;
      values[i] = f === 'ts' ? BigInt(r.ts) : r.amount_minor;
      return true;
    });
    const { bits, nulls } = validityOf(present);
    const nullBitmap = nulls ? bits : null;
    if (f === 'ts') {
      const type = new TimestampMillisecond();
      fields.push(new Field(f, type, true));
      children.push(makeData({ type, length: n, nullCount: nulls, nullBitmap, data: values }));
    } else {
      const type = new Int64();
      fields.push(new Field(f, type, true));
      children.push(makeData({ type, length: n, nullCount: nulls, nullBitmap, data: values }));
    }
  }
  for (const f of TEXT_COLUMNS) {
    // Every column in every batch, nulls where absent: one stream has one schema.
    const vals = rows.map((r) => textOf(r, f));
    const { offsets, data } = utf8Column(vals.map((v) => v ?? ''));
    const { bits, nulls } = validityOf(vals.map((v) => v !== undefined));
    fields.push(new Field(f, new Utf8(), true));
    children.push(
      makeData({
        type: new Utf8(),
        length: n,
        nullCount: nulls,
        nullBitmap: nulls ? bits : null,
        valueOffsets: offsets,
        data,
      }),
    );
  }
  const struct = makeData({ type: new Struct(fields), length: n, nullCount: 0, children });
  return new RecordBatch(new Schema(fields), struct);
}

export type BodyFormat = 'csv' | 'ndjson' | 'json' | 'msgpack' | 'arrow';

/** A whole request body of the rows in a format. */
export function encodeRows(rows: GeneratedRow[], format: BodyFormat): Uint8Array {
  switch (format) {
    case 'csv':
      return Buffer.from(csvHeader() + rows.map(csvLine).join(''));
    case 'ndjson':
      return Buffer.from(rows.map(ndjsonLine).join(''));
    case 'json':
      return Buffer.from(JSON.stringify({ transactions: rows.map(recordOf) }));
    case 'msgpack':
      return pack(rows.map(recordOf));
    case 'arrow':
      return tableToIPC(new Table([arrowBatch(rows)]), 'stream');
  }
}
