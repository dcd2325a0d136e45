/**
 * Silver rows: a batch's accepted rows with their derived fields, as Arrow record batches grouped
 * by event date (the Parquet partition). Built in the worker, column by column: each Utf8 column
 * is gathered by row index into fresh offsets and bytes; no row becomes an object.
 */
import {
  Binary,
  type Data,
  type DataType,
  Field,
  Int32,
  Int64,
  makeData,
  RecordBatch,
  Schema,
  Struct,
  TimestampMillisecond,
  Utf8,
} from 'apache-arrow';
import type { BatchDict } from './batch-dict.ts';
import { type ColumnSet, TEXT_FIELDS, type TextField, type Utf8Column } from './columns.ts';
import { words, wordsValue } from './int64-sums.ts';
import type { VerdictColumns } from './kernels.ts';
import type { RowCipher } from './pii/cipher.ts';
import { isPiiField, PII_FIELDS } from './pii/fields.ts';
import type { KeyHandle, Keyring } from './pii/keyring.ts';
import { asBinary, fixedBinary, sealColumns } from './pii/seal.ts';
import type { RateTable } from './rates.ts';

/**
 * Text fields copied to silver as sent, in record order. tx_id, ts and amount are typed columns
 * there, and counterparty_country is derived (given, else from the IBAN), so they are built apart.
 */
const COPIED: TextField[] = TEXT_FIELDS.filter(
  (f) => f !== 'tx_id' && f !== 'ts' && f !== 'amount' && f !== 'counterparty_country',
);

const utc = () => new TimestampMillisecond('UTC');

export const SILVER_SCHEMA = new Schema([
  new Field('tx_id', new Utf8(), false),
  new Field('ts', utc(), true),
  new Field('amount_minor', new Int64(), true),
  ...COPIED.slice(0, 1).map((f) => new Field(f, new Utf8(), true)),
  new Field('amount_gbp_minor', new Int64(), true),
  // Personal fields are sealed per data subject (engine/pii/seal.ts): bytes, not text.
  ...COPIED.slice(1).map((f) => new Field(f, isPiiField(f) ? new Binary() : new Utf8(), true)),
  new Field('counterparty_country', new Utf8(), true),
  new Field('batch_id', new Utf8(), true),
  new Field('batch_row', new Int32(), true),
  new Field('received_at', utc(), true),
  new Field('flags', new Int32(), true),
  new Field('aml_score', new Int32(), true),
  new Field('aml_rules', new Utf8(), true),
  new Field('pii_key', new Int64(), false),
  new Field('pii_nonce', new Binary(), false),
]);

const enc = new TextEncoder();

// Two plain loops rather than one taking a predicate: a callback per row, of three kinds at one
// call site, cost a pool worker 2.19–2.32 against 2.09–2.15 µs per row of its work on (b)'s
// bodies (session 16, in process, alternating).

/** A validity bitmap with bit k set where `present[k]` is 1; null when no row is absent. */
function validityOf(present: Uint8Array): { bitmap: Uint8Array | null; nulls: number } {
  const n = present.length;
  const bitmap = new Uint8Array((n + 7) >> 3);
  let nulls = 0;
  for (let k = 0; k < n; k++) {
    if (present[k] === 1) bitmap[k >> 3] = (bitmap[k >> 3] as number) | (1 << (k & 7));
    else nulls++;
  }
  return { bitmap: nulls ? bitmap : null, nulls };
}

/** Rows `idx` of a validity bitmap, gathered into a fresh one; null when no row is absent. */
function gatherValidity(validity: Uint8Array, idx: Int32Array): { bitmap: Uint8Array | null; nulls: number } {
  const n = idx.length;
  const bitmap = new Uint8Array((n + 7) >> 3);
  let nulls = 0;
  for (let k = 0; k < n; k++) {
    const i = idx[k] as number;
    if (((validity[i >> 3] as number) >> (i & 7)) & 1)
      bitmap[k >> 3] = (bitmap[k >> 3] as number) | (1 << (k & 7));
    else nulls++;
  }
  return { bitmap: nulls ? bitmap : null, nulls };
}

/** Gathers rows `idx` of a Utf8 column (absent column → all null). */
export function takeUtf8(col: Utf8Column | undefined, idx: Int32Array): Data<Utf8> {
  const n = idx.length;
  const offsets = new Int32Array(n + 1);
  if (!col) {
    return makeData({
      type: new Utf8(),
      length: n,
      nullCount: n,
      nullBitmap: new Uint8Array((n + 7) >> 3),
      valueOffsets: offsets,
      data: new Uint8Array(0),
    });
  }
  const { offsets: so, data: sd, validity } = col;
  let size = 0;
  for (let k = 0; k < n; k++) {
    const i = idx[k] as number;
    size += (so[i + 1] as number) - (so[i] as number);
  }
  const data = new Uint8Array(size);
  // Accepted rows come in long runs (bad rows are rare): copy each run's bytes with one `set`
  // and shift its offsets, instead of one copy per value.
  let at = 0;
  for (let k = 0; k < n; ) {
    const first = idx[k] as number;
    let end = k + 1;
    while (end < n && idx[end] === (idx[end - 1] as number) + 1) end++;
    const last = idx[end - 1] as number;
    const s = so[first] as number;
    const e = so[last + 1] as number;
    data.set(sd.subarray(s, e), at);
    const shift = at - s;
    for (let j = k; j < end; j++) offsets[j + 1] = (so[(idx[j] as number) + 1] as number) + shift;
    at += e - s;
    k = end;
  }
  const v = validity ? gatherValidity(validity, idx) : { bitmap: null, nulls: 0 };
  return makeData({
    type: new Utf8(),
    length: n,
    nullCount: v.nulls,
    nullBitmap: v.bitmap,
    valueOffsets: offsets,
    data,
  });
}

function constUtf8(value: string, n: number): Data<Utf8> {
  const b = enc.encode(value);
  const data = new Uint8Array(b.length * n);
  const offsets = new Int32Array(n + 1);
  // The value once, then what is filled copied after itself: log2(n) copies, not one per row.
  if (data.length > 0) data.set(b, 0);
  for (let filled = b.length; filled < data.length; filled *= 2) {
    data.copyWithin(filled, 0, Math.min(filled, data.length - filled));
  }
  for (let k = 0; k < n; k++) offsets[k + 1] = (k + 1) * b.length;
  return makeData({ type: new Utf8(), length: n, nullCount: 0, valueOffsets: offsets, data });
}

function int64(values: BigInt64Array, present: Uint8Array | null): Data<Int64> {
  const n = values.length;
  const v = present ? validityOf(present) : { bitmap: null, nulls: 0 };
  return makeData({ type: new Int64(), length: n, nullCount: v.nulls, nullBitmap: v.bitmap, data: values });
}

function ts(values: BigInt64Array): Data<TimestampMillisecond> {
  return makeData({ type: utc(), length: values.length, nullCount: 0, data: values });
}

function int32(values: Int32Array): Data<Int32> {
  return makeData({ type: new Int32(), length: values.length, nullCount: 0, data: values });
}

/** UTC calendar date of a day number (days since 1970-01-01). */
export function dayString(day: number): string {
  let s = DAY_CACHE.get(day);
  if (s === undefined) {
    s = new Date(day * 86_400_000).toISOString().slice(0, 10);
    if (DAY_CACHE.size > 100_000) DAY_CACHE.clear(); // bounded: hostile timestamps span millennia
    DAY_CACHE.set(day, s);
  }
  return s;
}

const DAY_CACHE = new Map<number, string>();

export interface SilverContext {
  batchId: string;
  receivedAt: number;
  /** Row number of this record batch's first row within the request. */
  rowOffset: number;
  rates: RateTable;
  /** GBP-equivalents per row of the record batch, precomputed in WASM (-1: no rate); else `rates`. */
  gbp?: BigInt64Array;
  /** Silver `flags` bits every row of this batch starts with (a reviewer's release or correction). */
  flags?: number;
  /** Seals the personal columns per data subject. */
  seal: { ring: Keyring; cipher: RowCipher };
  /** The batch's customer ids as a dictionary (engine/batch-dict.ts): one key lookup per customer. */
  customers: BatchDict;
}

/**
 * Row i's subject key: by customer_id, else account_id (as `subjectOfValues`), from the bytes.
 * The ring is asked once per distinct customer of the batch (its ids as a dictionary, with each
 * id's hash), by bytes: no string per customer (engine/pii/subject-table.ts).
 */
function subjectKeys(cols: ColumnSet, ring: Keyring, customers: BatchDict): (i: number) => KeyHandle {
  const cust = cols.text.customer_id;
  const acct = cols.text.account_id;
  const ab = acct ? Buffer.from(acct.data.buffer, acct.data.byteOffset, acct.data.byteLength) : null;
  const keys = customers.keys;
  const byId: (KeyHandle | undefined)[] = new Array(customers.count);
  return (i) => {
    const id = customers.ids[i] as number;
    if (id < 0) {
      // No customer id (rare): a latin1 string is the bytes 1:1, and V8 hashes one fast.
      return ring.subjectKey(
        acct && ab ? ab.toString('latin1', acct.offsets[i] as number, acct.offsets[i + 1] as number) : '',
      );
    }
    let h = byId[id];
    if (h === undefined) {
      // A present id: the column and its bytes are there.
      const c = cust as Utf8Column;
      const start = c.offsets[i] as number;
      const end = c.offsets[i + 1] as number;
      h = ring.subjectKeyOf(keys[2 * id] as number, keys[2 * id + 1] as number, c.data, start, end);
      byId[id] = h;
    }
    return h;
  };
}

/**
 * The accepted rows of one record batch (mask 0) as silver record batches by event date (UTC).
 * Also returns, per input row, the row's position within its date's part (-1 if not accepted),
 * so duplicates found at commit can be dropped by position.
 */
export function silverParts(
  cols: ColumnSet,
  v: VerdictColumns,
  ctx: SilverContext,
): { byDate: Map<string, { batch: RecordBatch; rows: Int32Array }> } {
  const n = cols.numRows;
  // 64-bit columns are read and moved as (low, high) 32-bit words: reading a BigInt64Array
  // element makes a heap BigInt, four per row here, which cost more than the rest of the loop.
  const tsWords = words(v.tsMs, n);
  const amountWords = words(v.amountMinor, n);
  const gbpWords = ctx.gbp ? words(ctx.gbp, n) : null;
  // Group by UTC day number first; the date string is made once per day, not per row.
  const byDay = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    if (v.mask[i] !== 0) continue;
    const d = Math.floor(wordsValue(tsWords, i) / 86_400_000);
    let g = byDay.get(d);
    if (!g) {
      g = [];
      byDay.set(d, g);
    }
    g.push(i);
  }
  const groups = new Map<string, number[]>();
  for (const [d, rows] of byDay) groups.set(dayString(d), rows);
  const byDate = new Map<string, { batch: RecordBatch; rows: Int32Array }>();
  const country = new TextDecoder();
  const keyOf = subjectKeys(cols, ctx.seal.ring, ctx.customers);
  for (const [day, rows] of groups) {
    const idx = Int32Array.from(rows);
    const m = idx.length;
    const amount = new BigInt64Array(m);
    const gbp = new BigInt64Array(m);
    const gbpPresent = new Uint8Array(m);
    const tsv = new BigInt64Array(m);
    const amountOut = words(amount, m);
    const gbpOut = words(gbp, m);
    const tsOut = words(tsv, m);
    const batchRow = new Int32Array(m);
    const currencyCol = cols.text.currency;
    const ccBytes = new Uint8Array(2 * m);
    const ccOffsets = new Int32Array(m + 1);
    const ccPresent = new Uint8Array(m);
    let ccAt = 0;
    for (let k = 0; k < m; k++) {
      const i = idx[k] as number;
      amountOut[2 * k] = amountWords[2 * i] as number;
      amountOut[2 * k + 1] = amountWords[2 * i + 1] as number;
      tsOut[2 * k] = tsWords[2 * i] as number;
      tsOut[2 * k + 1] = tsWords[2 * i + 1] as number;
      batchRow[k] = ctx.rowOffset + i;
      if (gbpWords) {
        // Negative (the high word's sign): the currency has no rate.
        if ((gbpWords[2 * i + 1] as number) >= 0) {
          gbpOut[2 * k] = gbpWords[2 * i] as number;
          gbpOut[2 * k + 1] = gbpWords[2 * i + 1] as number;
          gbpPresent[k] = 1;
        }
      } else {
        const cur = currencyCol
          ? country.decode(
              currencyCol.data.subarray(
                currencyCol.offsets[i] as number,
                currencyCol.offsets[i + 1] as number,
              ),
            )
          : '';
        const g = ctx.rates.toGbpMinor(amount[k] as bigint, cur);
        if (g !== null) {
          gbp[k] = g;
          gbpPresent[k] = 1;
        }
      }
      // The derived country: two ASCII bytes, straight into the column (no string per row).
      const c0 = v.counterpartyCountry[2 * i] as number;
      if (c0) {
        ccBytes[ccAt++] = c0;
        ccBytes[ccAt++] = v.counterpartyCountry[2 * i + 1] as number;
        ccPresent[k] = 1;
      }
      ccOffsets[k + 1] = ccAt;
    }
    const ccValid = validityOf(ccPresent);
    const ccData = makeData({
      type: new Utf8(),
      length: m,
      nullCount: ccValid.nulls,
      nullBitmap: ccValid.bitmap,
      valueOffsets: ccOffsets,
      data: ccBytes.subarray(0, ccAt),
    });
    const copied = new Map<string, Data<DataType>>();
    for (const f of COPIED.slice(1)) copied.set(f, takeUtf8(cols.text[f], idx));
    const sealed = sealColumns(
      ctx.seal.cipher,
      m,
      (k) => keyOf(idx[k] as number),
      PII_FIELDS.map((f) => {
        const c = copied.get(f) as Data<Utf8>;
        return { offsets: c.valueOffsets, data: c.values };
      }),
    );
    for (const f of PII_FIELDS) copied.set(f, asBinary(copied.get(f) as Data<Utf8>));
    const children: Data<DataType>[] = [
      takeUtf8(cols.text.tx_id, idx),
      ts(tsv),
      int64(amount, null),
      takeUtf8(cols.text.currency, idx),
      int64(gbp, gbpPresent),
      ...COPIED.slice(1).map((f) => copied.get(f) as Data<DataType>),
      ccData,
      constUtf8(ctx.batchId, m),
      int32(batchRow),
      ts(new BigInt64Array(m).fill(BigInt(ctx.receivedAt))),
      int32(new Int32Array(m).fill(ctx.flags ?? 0)),
      int32(new Int32Array(m)),
      constUtf8('', m),
      int64(sealed.refs, null),
      fixedBinary(sealed.nonces, 12, m),
    ];
    const struct = makeData({ type: new Struct(SILVER_SCHEMA.fields), length: m, nullCount: 0, children });
    byDate.set(day, { batch: new RecordBatch(SILVER_SCHEMA, struct), rows: idx });
  }
  return { byDate };
}
