/**
 * Builds Arrow record batches of Utf8 columns straight from bytes, for the text formats (CSV,
 * JSON, NDJSON, MessagePack). Scanners append each field's bytes to that field's growing buffer;
 * nothing per row is allocated. Fields outside CONTRACT §1 are skipped here (bronze keeps them).
 */
import { Field, makeData, RecordBatch, Schema, Struct, Utf8 } from 'apache-arrow';
import { type ColumnSet, TEXT_FIELDS, type TextField } from '../columns.ts';
import { SluiceError } from '../errors.ts';

/** Rows per emitted batch: big enough to amortise a kernel call, small enough to stream. */
export const DEFAULT_BATCH_ROWS = 8192;

// Text formats carry the amount as decimal text (`amount`); `amount_minor` is the Arrow form.
export const BUILDER_FIELDS: readonly string[] = TEXT_FIELDS;
const FIELD_INDEX = new Map<string, number>(TEXT_FIELDS.map((f, i) => [f, i]));

/** Index of a record field name in the builder, or -1 for a field Sluice ignores. */
export function fieldIndex(name: string): number {
  return FIELD_INDEX.get(name) ?? -1;
}

const NO_BYTES = new Uint8Array(0);
const NO_OFFSETS = new Int32Array(0);

const SLAB_BYTES = 16 * 1024;

/** Values up to this many bytes are appended byte by byte (see `append`). */
const SHORT_VALUE = 48;

/**
 * The small buffers of a builder's columns, carved from shared 16 KiB allocations. A typed array
 * of its own is an ArrayBuffer with an off-heap backing store: a one-row JSON request made about
 * 40, which cost it more than the parsing (about 12 of its 23 µs) and, at 2,000 validate requests
 * a second, set off a scavenge of the HTTP thread for "external memory pressure" every ~100 ms.
 * A view into a slab costs one small object. Buffers past a quarter of a slab get their own
 * allocation, as all did before. Handed-out regions are never reused: an emitted batch owns them.
 */
class Slab {
  private buf: ArrayBuffer | null = null;
  private at = 0;

  bytes(n: number): Uint8Array {
    const at = this.claim(n);
    return at < 0 ? new Uint8Array(n) : new Uint8Array(this.buf as ArrayBuffer, at, n);
  }

  ints(n: number): Int32Array {
    const at = this.claim(4 * n);
    return at < 0 ? new Int32Array(n) : new Int32Array(this.buf as ArrayBuffer, at, n);
  }

  /** The offset of `bytes` free bytes (8-aligned, zeroed), or -1 when the caller should allocate. */
  private claim(bytes: number): number {
    if (bytes > SLAB_BYTES / 4) return -1;
    let at = (this.at + 7) & ~7;
    if (!this.buf || at + bytes > SLAB_BYTES) {
      this.buf = new ArrayBuffer(SLAB_BYTES);
      at = 0;
    }
    this.at = at + bytes;
    return at;
  }
}

/**
 * One growing Utf8 column. Buffers are made on first use and double: a one-row request must not
 * pay for an 8,192-row batch, nor for the columns it does not send (allocation, not work,
 * dominated single-row requests when every column started with buffers).
 */
class Utf8Buffer {
  data: Uint8Array = NO_BYTES;
  size = 0;
  offsets: Int32Array = NO_OFFSETS;
  validity: Uint8Array = NO_BYTES;
  rows = 0;
  nulls = 0;
  used = false; // seen in any row of this batch: absent columns stay absent

  constructor(private readonly slab: Slab) {}

  reserve(bytes: number): void {
    if (this.size + bytes <= this.data.length) return;
    let cap = Math.max(256, this.data.length * 2);
    while (cap < this.size + bytes) cap *= 2;
    const next = this.slab.bytes(cap);
    next.set(this.data.subarray(0, this.size));
    this.data = next;
  }

  /** Room for row `r` (its end offset at `r + 1`, its validity bit). */
  reserveRow(r: number): void {
    if (r + 2 <= this.offsets.length && r >> 3 < this.validity.length) return;
    let cap = Math.max(17, this.offsets.length * 2);
    while (cap < r + 2 || (cap - 1) >> 3 <= r >> 3) cap *= 2;
    const offsets = this.slab.ints(cap);
    offsets.set(this.offsets);
    this.offsets = offsets;
    const validity = this.slab.bytes(Math.max(2, cap >> 3));
    validity.set(this.validity);
    this.validity = validity;
  }

  /** Starts a new batch. The emitted batch owns the old buffers, so fresh ones come on first use. */
  reset(): void {
    this.size = 0;
    this.rows = 0;
    this.nulls = 0;
    this.used = false;
    this.offsets = NO_OFFSETS;
    this.validity = NO_BYTES;
    this.data = NO_BYTES;
  }
}

export class TextBatchBuilder {
  private readonly cols: Utf8Buffer[];
  private readonly batchRows: number;
  private readonly maxFieldBytes: number;
  private rowOpen = false;
  private readonly setInRow: Uint8Array;
  private rows = 0;

  constructor(opts: { batchRows?: number; maxFieldBytes?: number } = {}) {
    this.batchRows = opts.batchRows ?? DEFAULT_BATCH_ROWS;
    this.maxFieldBytes = opts.maxFieldBytes ?? 1 << 20;
    const slab = new Slab();
    this.cols = BUILDER_FIELDS.map(() => new Utf8Buffer(slab));
    this.setInRow = new Uint8Array(BUILDER_FIELDS.length);
  }

  get rowCount(): number {
    return this.rows;
  }

  get full(): boolean {
    return this.rows >= this.batchRows;
  }

  /** Opens a row; `append` and `present` open one by themselves when none is open. */
  beginRow(): void {
    this.rowOpen = true;
    this.setInRow.fill(0);
  }

  /** Appends bytes to field `f` of the open row; may be called repeatedly for one value. */
  append(f: number, src: Uint8Array, start: number, end: number): void {
    if (!this.rowOpen) this.beginRow();
    if (f < 0 || this.setInRow[f] === 2) return; // ignored field, or a repeated key (the first wins)
    const c = this.cols[f] as Utf8Buffer;
    const len = end - start;
    this.checkLength(f, c, len);
    c.reserve(len);
    // Most values are a few bytes: copied in a loop, they cost no view object each (a one-row
    // JSON request made a dozen, an 8k-row body a hundred thousand).
    if (len <= SHORT_VALUE) {
      const d = c.data;
      let at = c.size;
      for (let i = start; i < end; i++) d[at++] = src[i] as number;
    } else {
      c.data.set(src.subarray(start, end), c.size);
    }
    c.size += len;
    this.setInRow[f] = 1;
  }

  appendByte(f: number, byte: number): void {
    if (!this.rowOpen) this.beginRow();
    if (f < 0 || this.setInRow[f] === 2) return;
    const c = this.cols[f] as Utf8Buffer;
    // The same cap as `append`: a CSV field of 10 MB of escaped quotes () came in here a
    // byte at a time, past the cap (found by the fuzz tests, test/fuzz).
    this.checkLength(f, c, 1);
    c.reserve(1);
    c.data[c.size++] = byte;
    this.setInRow[f] = 1;
  }

  /** Refuses a value of field `f` that `more` bytes would take past the cap. */
  private checkLength(f: number, c: Utf8Buffer, more: number): void {
    // The open value starts at the row's offset; a column not used yet has no offsets (so 0).
    if (c.size - (c.offsets[c.rows] ?? 0) + more > this.maxFieldBytes) {
      throw new SluiceError(
        'BODY_UNPARSEABLE',
        `a value of ${BUILDER_FIELDS[f]} is longer than ${this.maxFieldBytes} bytes`,
      );
    }
  }

  /** Marks field `f` of the open row as present (possibly empty); later values for it are ignored. */
  present(f: number): void {
    if (!this.rowOpen) this.beginRow();
    if (f < 0) return;
    this.setInRow[f] = 2;
  }

  /** Closes the row: fields never set are null. Returns true when a batch is full. */
  endRow(): boolean {
    if (!this.rowOpen) return false;
    const r = this.rows;
    for (let f = 0; f < this.cols.length; f++) {
      const c = this.cols[f] as Utf8Buffer;
      if (!this.setInRow[f] && !c.used) {
        // A column no row has used yet needs no buffers: its offsets so far are all 0, its
        // validity bits all clear, which is what fresh buffers hold if a later row uses it.
        c.nulls++;
        c.rows = r + 1;
        continue;
      }
      c.reserveRow(r);
      if (this.setInRow[f]) {
        c.validity[r >> 3] = (c.validity[r >> 3] as number) | (1 << (r & 7));
        c.used = true;
      } else {
        c.nulls++;
      }
      c.rows = r + 1;
      c.offsets[r + 1] = c.size;
    }
    this.rows = r + 1;
    this.rowOpen = false;
    return this.rows >= this.batchRows;
  }

  /**
   * Emits the rows so far as one batch of columns (null when there are none) and starts afresh.
   * The columns are the kernels' form; `recordBatchOf` makes an Arrow batch of them where one is
   * wanted. A one-row request used to spend more building Arrow objects than parsing.
   */
  flush(): ColumnSet | null {
    if (this.rows === 0) return null;
    const n = this.rows;
    const text: ColumnSet['text'] = {};
    for (let f = 0; f < this.cols.length; f++) {
      const c = this.cols[f] as Utf8Buffer;
      if (!c.used) continue;
      text[BUILDER_FIELDS[f] as TextField] = {
        kind: 'utf8',
        offsets: c.offsets.subarray(0, n + 1),
        data: c.data.subarray(0, c.size),
        validity: c.nulls > 0 ? c.validity.subarray(0, (n + 7) >> 3) : null,
      };
    }
    for (const c of this.cols) c.reset();
    this.rows = 0;
    return { numRows: n, text, tsMs: null, amountMinor: null };
  }
}

/** An Arrow record batch of a builder's columns (Utf8, in field order). */
export function recordBatchOf(cols: ColumnSet): RecordBatch {
  const n = cols.numRows;
  const fields: Field[] = [];
  const children = [];
  for (const name of BUILDER_FIELDS) {
    const c = cols.text[name as TextField];
    if (!c) continue;
    fields.push(new Field(name, new Utf8(), true));
    children.push(
      makeData({
        type: new Utf8(),
        length: n,
        // No nullCount: with a bitmap Arrow counts the nulls itself when asked.
        nullBitmap: c.validity,
        valueOffsets: c.offsets,
        data: c.data,
      }),
    );
  }
  const struct = makeData({ type: new Struct(fields), length: n, nullCount: 0, children });
  return new RecordBatch(new Schema(fields), struct);
}
