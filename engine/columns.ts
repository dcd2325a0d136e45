/**
 * Arrow columns as the raw buffers the kernels read. A Utf8 column is offsets + bytes + validity,
 * exactly as Arrow holds it; other Arrow types that clients plausibly send for a field are
 * converted once here (dictionary strings expanded, integers printed, timestamps scaled to ms).
 * No row ever becomes a JS object.
 */
import { type Data, DataType, type RecordBatch, TimeUnit, type Utf8 } from 'apache-arrow';
import { FIELDS } from './codes.ts';
import { SluiceError } from './errors.ts';

export interface Utf8Column {
  kind: 'utf8';
  offsets: Int32Array; // length n + 1
  data: Uint8Array;
  validity: Uint8Array | null; // bit offset 0
}

export interface Int64Column {
  kind: 'int64';
  values: BigInt64Array;
  validity: Uint8Array | null;
}

/**
 * The record's string fields, in the order the kernel descriptor wants them: the same slots as the
 * per-field code matrix (`ts` and `amount` may instead arrive as Int64 columns).
 */
export const TEXT_FIELDS = FIELDS;

export type TextField = (typeof TEXT_FIELDS)[number];

/** A batch's columns by field; absent fields are absent. `ts` may be text or Int64 ms. */
export interface ColumnSet {
  numRows: number;
  text: Partial<Record<TextField, Utf8Column>>;
  tsMs: Int64Column | null;
  amountMinor: Int64Column | null;
}

const encoder = new TextEncoder();

export function columnsOf(batch: RecordBatch): ColumnSet {
  const n = batch.numRows;
  const set: ColumnSet = { numRows: n, text: {}, tsMs: null, amountMinor: null };
  for (const field of batch.schema.fields) {
    const name = field.name;
    const vector = batch.getChild(name);
    if (vector?.data.length !== 1) continue;
    const data = vector.data[0] as Data;
    if (name === 'amount_minor') {
      set.amountMinor = int64Of(data, name);
    } else if (name === 'ts' && (DataType.isTimestamp(data.type) || DataType.isInt(data.type))) {
      set.tsMs = int64Of(data, name);
    } else if ((TEXT_FIELDS as readonly string[]).includes(name)) {
      set.text[name as TextField] = utf8Of(data, name);
    }
    // Unknown fields are kept in bronze (the raw body) and ignored here, as CONTRACT §1 says.
  }
  return set;
}

function validityOf(data: Data): Uint8Array | null {
  if (data.nullCount === 0 || !data.nullBitmap || data.nullBitmap.length === 0) return null;
  const bits = data.nullBitmap;
  if (data.offset % 8 === 0) return bits.subarray(data.offset >> 3);
  // A slice that starts mid-byte: repack so the kernels can assume bit offset 0.
  const out = new Uint8Array((data.length + 7) >> 3);
  for (let i = 0; i < data.length; i++) {
    const j = i + data.offset;
    if ((bits[j >> 3] as number) & (1 << (j & 7))) out[i >> 3] = (out[i >> 3] as number) | (1 << (i & 7));
  }
  return out;
}

function utf8Of(data: Data, name: string): Utf8Column {
  const type = data.type as DataType;
  const validity = validityOf(data);
  if (DataType.isUtf8(type) || DataType.isBinary(type)) {
    const offsets = (data.valueOffsets as Int32Array).subarray(data.offset, data.offset + data.length + 1);
    return { kind: 'utf8', offsets, data: data.values as Uint8Array, validity };
  }
  if (DataType.isLargeUtf8(type)) {
    const big = (data.valueOffsets as unknown as BigInt64Array).subarray(
      data.offset,
      data.offset + data.length + 1,
    );
    const offsets = new Int32Array(big.length);
    for (let i = 0; i < big.length; i++) offsets[i] = Number(big[i]);
    return { kind: 'utf8', offsets, data: data.values as Uint8Array, validity };
  }
  if (DataType.isDictionary(type) && data.dictionary && DataType.isUtf8(data.dictionary.type)) {
    return expandDictionary(data, validity, name);
  }
  if (DataType.isInt(type)) {
    return printIntegers(data, validity);
  }
  throw new SluiceError('BODY_SHAPE', `field ${name} has Arrow type ${String(type)}; expected Utf8`);
}

/** Dictionary<Utf8> → plain Utf8: one pass over the indices, copying bytes, no strings made. */
function expandDictionary(data: Data, validity: Uint8Array | null, name: string): Utf8Column {
  const dict = data.dictionary?.data[0] as Data<Utf8> | undefined;
  if (!dict) throw new SluiceError('BODY_SHAPE', `field ${name} has an empty dictionary`);
  const dOff = dict.valueOffsets.subarray(dict.offset);
  const dVal = dict.values;
  const idx = data.values as ArrayLike<number | bigint>;
  const n = data.length;
  const offsets = new Int32Array(n + 1);
  let size = 0;
  for (let i = 0; i < n; i++) {
    const k = Number(idx[data.offset + i]);
    if (!(k >= 0 && k + 1 < dOff.length)) continue;
    const s = dOff[k] as number;
    const e = dOff[k + 1] as number;
    // Offsets that run backwards or past the bytes (a corrupt stream; found by the fuzz tests,
    // test/fuzz) made the copy below throw a RangeError: refuse the body instead.
    if (s < 0 || e < s || e > dVal.length) {
      throw new SluiceError('BODY_UNPARSEABLE', `field ${name} has a dictionary with broken offsets`);
    }
    size += e - s;
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (let i = 0; i < n; i++) {
    const k = Number(idx[data.offset + i]);
    if (k >= 0 && k + 1 < dOff.length) {
      const s = dOff[k] as number;
      const e = dOff[k + 1] as number;
      out.set(dVal.subarray(s, e), at);
      at += e - s;
    }
    offsets[i + 1] = at;
  }
  return { kind: 'utf8', offsets, data: out, validity };
}

/** Integer column for a text field (an account number sent as Int64, say): print each value. */
function printIntegers(data: Data, validity: Uint8Array | null): Utf8Column {
  const n = data.length;
  const values = data.values as ArrayLike<number | bigint>;
  const parts: Uint8Array[] = [];
  const offsets = new Int32Array(n + 1);
  let at = 0;
  for (let i = 0; i < n; i++) {
    const b = encoder.encode(String(values[data.offset + i]));
    parts.push(b);
    at += b.length;
    offsets[i + 1] = at;
  }
  const out = new Uint8Array(at);
  let p = 0;
  for (const b of parts) {
    out.set(b, p);
    p += b.length;
  }
  return { kind: 'utf8', offsets, data: out, validity };
}

const MS_PER_UNIT: Record<number, bigint | number> = {
  [TimeUnit.SECOND]: 1000n,
  [TimeUnit.MILLISECOND]: 1n,
  [TimeUnit.MICROSECOND]: -1000n,
  [TimeUnit.NANOSECOND]: -1000000n,
};

function int64Of(data: Data, name: string): Int64Column {
  const type = data.type as DataType;
  const validity = validityOf(data);
  const n = data.length;
  if (DataType.isInt(type) && type.bitWidth === 64 && type.isSigned) {
    return {
      kind: 'int64',
      values: (data.values as BigInt64Array).subarray(data.offset, data.offset + n),
      validity,
    };
  }
  if (DataType.isTimestamp(type)) {
    const raw = (data.values as BigInt64Array).subarray(data.offset, data.offset + n);
    const k = MS_PER_UNIT[type.unit] as bigint | undefined;
    // A unit outside the four (a corrupt schema; found by the fuzz tests) has no ms scale.
    if (k === undefined) throw new SluiceError('BODY_SHAPE', `field ${name} has an unknown time unit`);
    if (k === 1n) return { kind: 'int64', values: raw, validity };
    const values = new BigInt64Array(n);
    for (let i = 0; i < n; i++) values[i] = k > 0n ? (raw[i] as bigint) * k : (raw[i] as bigint) / -k;
    return { kind: 'int64', values, validity };
  }
  if (DataType.isInt(type)) {
    const raw = data.values as ArrayLike<number | bigint>;
    const values = new BigInt64Array(n);
    for (let i = 0; i < n; i++) values[i] = BigInt(raw[data.offset + i] as number | bigint);
    return { kind: 'int64', values, validity };
  }
  throw new SluiceError('BODY_SHAPE', `field ${name} has Arrow type ${String(type)}; expected Int64`);
}

/**
 * A Utf8 column from strings: reference data, generated rows, and quarantined rows' personal
 * fields for sealing. ASCII values (ids, codes, most names) are counted and copied char by char:
 * for short strings a native encoder call per value cost more than the copy.
 */
export function utf8Column(values: readonly string[]): Utf8Column {
  const n = values.length;
  const offsets = new Int32Array(n + 1);
  const ascii = new Uint8Array(n);
  let at = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i] as string;
    let k = 0;
    while (k < v.length && v.charCodeAt(k) < 0x80) k++;
    ascii[i] = k === v.length ? 1 : 0;
    at += k === v.length ? v.length : Buffer.byteLength(v, 'utf8');
    offsets[i + 1] = at;
  }
  const data = new Uint8Array(at);
  for (let i = 0; i < n; i++) {
    const v = values[i] as string;
    const o = offsets[i] as number;
    if (ascii[i] === 1) for (let k = 0; k < v.length; k++) data[o + k] = v.charCodeAt(k);
    else encoder.encodeInto(v, data.subarray(o, offsets[i + 1]));
  }
  return { kind: 'utf8', offsets, data, validity: null };
}
