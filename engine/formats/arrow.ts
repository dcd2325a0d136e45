/**
 * Arrow IPC stream bodies. apache-arrow decodes lazily over the body's own bytes, so a batch's
 * columns are views into the request buffer: nothing is copied until the kernels take them.
 */
import { type Data, DataType, type RecordBatch, RecordBatchReader } from 'apache-arrow';
import { SluiceError } from '../errors.ts';

export function parseArrow(body: Uint8Array): RecordBatch[] {
  if (body.length === 0) throw new SluiceError('BODY_EMPTY');
  checkFraming(body);
  let batches: RecordBatch[];
  try {
    const reader = RecordBatchReader.from(body);
    batches = [...reader];
  } catch (e) {
    throw new SluiceError('BODY_UNPARSEABLE', `not a readable Arrow IPC stream: ${(e as Error).message}`);
  }
  let rows = 0;
  for (const b of batches) {
    checkBatch(b);
    rows += b.numRows;
  }
  // Every row of a real column costs at least a bit; only Null-typed columns (or none) cost
  // nothing, so a few hundred bytes could claim 50 million rows and have the kernels allocate for
  // them (found by the fuzz tests, test/fuzz). Rows the bytes cannot hold are not a real body.
  if (rows > body.length * 8) {
    throw new SluiceError('BODY_UNPARSEABLE', `the Arrow stream claims ${rows} rows in ${body.length} bytes`);
  }
  // An empty batch holds no rows to account for, and may carry no offsets at all (a schema-only
  // table is written so), which the kernels would refuse as a short column.
  return batches.filter((b) => b.numRows > 0);
}

function unreadable(what: string): never {
  throw new SluiceError('BODY_UNPARSEABLE', `not a readable Arrow IPC stream: ${what}`);
}

/**
 * Walks the stream's message framing and the flatbuffer metadata of each message before
 * apache-arrow sees it. Found by the fuzz tests (test/fuzz): apache-arrow's flatbuffer reads do not
 * check bounds, so one mutated vector length in a 2 KB body (say 0x7fffffff field nodes) made it
 * loop building objects until the process ran out of heap. Here every vector the decoder loops
 * over must fit inside its message's metadata, so the work it does is bounded by the body's size.
 */
function checkFraming(body: Uint8Array): void {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  let at = 0;
  let messages = 0;
  // A stream starts with its schema: bytes that hold none (one stray byte, say) are not a stream
  // of zero batches.
  const noSchema = () => unreadable('the stream does not start with a schema message');
  while (at < body.length) {
    if (at + 4 > body.length) break; // let apache-arrow report the short read
    let len = view.getInt32(at, true);
    at += 4;
    if (len === -1) {
      if (at + 4 > body.length) break;
      len = view.getInt32(at, true);
      at += 4;
    }
    if (len === 0) {
      // End of stream. Bytes after it made apache-arrow read on (as a further stream) until it ran
      // out of heap (found by the fuzz tests, test/fuzz): a body is one stream, so refuse them.
      if (at < body.length) unreadable('data after the end-of-stream marker');
      break;
    }
    if (len < 0 || at + len > body.length) unreadable('a message is longer than the body');
    const { kind, bodyLength } = new FlatTables(body.subarray(at, at + len)).message();
    if (messages++ === 0 && kind !== 1) noSchema();
    at += len;
    if (bodyLength < 0 || bodyLength > body.length - at) unreadable('a message body is longer than the body');
    at += bodyLength;
  }
  if (messages === 0) noSchema();
}

/** Bounds-checked reads of the flatbuffer tables of Message.fbs / Schema.fbs. */
class FlatTables {
  private readonly view: DataView;
  /** Field tables visited: children vectors may share tables, so depth alone does not bound it. */
  private fields = 0;
  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  private u32(p: number): number {
    if (p < 0 || p + 4 > this.buf.length) unreadable('metadata out of bounds');
    return this.view.getUint32(p, true);
  }

  /** Position of field `i`'s value in the table at `t`, or 0 when absent. */
  private field(t: number, i: number): number {
    const vt = t - this.view.getInt32(t, true);
    if (vt < 0 || vt + 4 > this.buf.length) unreadable('metadata out of bounds');
    const vtSize = this.view.getUint16(vt, true);
    if (4 + 2 * i + 2 > vtSize) return 0;
    if (vt + 4 + 2 * i + 2 > this.buf.length) unreadable('metadata out of bounds');
    const off = this.view.getUint16(vt + 4 + 2 * i, true);
    if (off === 0) return 0;
    if (t + off >= this.buf.length) unreadable('metadata out of bounds');
    return t + off;
  }

  /** The table or vector an offset field points at, or 0 when absent. */
  private target(t: number, i: number): number {
    const p = this.field(t, i);
    if (p === 0) return 0;
    const to = p + this.u32(p);
    if (to + 4 > this.buf.length) unreadable('metadata out of bounds');
    return to;
  }

  private table(t: number, i: number): number {
    const to = this.target(t, i);
    if (to !== 0) this.u32(to); // its vtable offset must be readable
    return to;
  }

  /** A vector field's length, checked to fit: `size` bytes per element. */
  private vector(t: number, i: number, size: number): { at: number; n: number } {
    const to = this.target(t, i);
    if (to === 0) return { at: 0, n: 0 };
    const n = this.u32(to);
    if (n * size > this.buf.length - to - 4) unreadable('a metadata vector is longer than its message');
    return { at: to + 4, n };
  }

  /** The Message; returns its header type (1: Schema) and body length. */
  message(): { kind: number; bodyLength: number } {
    const root = this.u32(0);
    this.u32(root);
    const kv = this.vector(root, 4, 4);
    for (let k = 0; k < kv.n; k++) this.keyValue(kv.at + 4 * k);
    const p = this.field(root, 1);
    const kind = p === 0 ? 0 : (this.buf[p] as number);
    const header = this.table(root, 2);
    if (header !== 0) {
      if (kind === 1) this.schema(header);
      else if (kind === 3) this.recordBatch(header);
      else if (kind === 2) {
        const data = this.table(header, 1);
        if (data !== 0) this.recordBatch(data);
      }
    }
    const bl = this.field(root, 3);
    if (bl === 0) return { kind, bodyLength: 0 };
    if (bl + 8 > this.buf.length) unreadable('metadata out of bounds');
    return { kind, bodyLength: Number(this.view.getBigInt64(bl, true)) };
  }

  private keyValue(p: number): void {
    const t = p + this.u32(p);
    this.u32(t);
    for (const i of [0, 1]) this.vector(t, i, 1);
  }

  private schema(t: number): void {
    const fields = this.vector(t, 1, 4);
    for (let k = 0; k < fields.n; k++) this.fieldTable(fields.at + 4 * k, 0);
    const kv = this.vector(t, 2, 4);
    for (let k = 0; k < kv.n; k++) this.keyValue(kv.at + 4 * k);
    this.vector(t, 3, 8);
  }

  private fieldTable(p: number, depth: number): void {
    if (depth > 64) unreadable('fields nested too deep');
    if (++this.fields > this.buf.length / 4) unreadable('more fields than the metadata can hold');
    const t = p + this.u32(p);
    this.u32(t);
    this.vector(t, 0, 1); // name
    this.table(t, 3); // type
    this.table(t, 4); // dictionary encoding
    const children = this.vector(t, 5, 4);
    for (let k = 0; k < children.n; k++) this.fieldTable(children.at + 4 * k, depth + 1);
    const kv = this.vector(t, 6, 4);
    for (let k = 0; k < kv.n; k++) this.keyValue(kv.at + 4 * k);
  }

  private recordBatch(t: number): void {
    this.vector(t, 1, 16); // FieldNode structs
    this.vector(t, 2, 16); // Buffer structs
    this.table(t, 3); // compression
    this.vector(t, 4, 8); // variadic buffer counts
  }
}

/**
 * A truncated stream can still decode into a batch whose buffers are short: reject it here, so a
 * kernel never sees a column that claims more rows than it holds. The fuzz tests (test/fuzz) found
 * fixed-width columns short in the same way (a Timestamp column of 3 values for 8 rows made the
 * ms conversion throw a TypeError), and dictionaries whose own offsets are broken.
 */
export function checkBatch(b: RecordBatch): void {
  // more fields than columns made apache-arrow's getChild throw a TypeError
  if (b.data.children.length !== b.schema.fields.length) {
    throw new SluiceError(
      'BODY_UNPARSEABLE',
      'an Arrow batch has a different number of columns than its schema',
    );
  }
  for (const child of b.data.children) {
    if (child.length !== b.numRows) {
      throw new SluiceError('BODY_UNPARSEABLE', 'an Arrow column has a different length than its batch');
    }
    checkData(child);
  }
}

function checkData(child: Data): void {
  if (child.length === 0) return; // nothing to read (an empty batch may carry no offsets at all)
  const end = child.offset + child.length;
  const bitmap = child.nullBitmap as Uint8Array | undefined;
  if (child.nullCount !== 0 && bitmap && bitmap.length > 0 && bitmap.length * 8 < end) {
    throw new SluiceError('BODY_UNPARSEABLE', 'an Arrow validity bitmap is truncated');
  }
  const offsets = child.valueOffsets as Int32Array | BigInt64Array | undefined;
  if (offsets && child.values && offsets.length >= end + 1) {
    // Offsets must run forwards inside the bytes: ones that ran backwards or negative had the
    // kernels size a column from them and fail to grow WASM memory (found by the fuzz tests).
    let prev = Number(offsets[child.offset]);
    if (prev < 0) throw new SluiceError('BODY_UNPARSEABLE', 'an Arrow column has negative offsets');
    for (let i = child.offset + 1; i <= end; i++) {
      const next = Number(offsets[i]);
      if (next < prev) throw new SluiceError('BODY_UNPARSEABLE', 'an Arrow column has offsets out of order');
      prev = next;
    }
    if (prev > (child.values as Uint8Array).length) {
      throw new SluiceError('BODY_UNPARSEABLE', 'an Arrow column is truncated');
    }
  } else if (offsets && offsets.length < end + 1) {
    throw new SluiceError('BODY_UNPARSEABLE', 'an Arrow column is truncated');
  } else if (FIXED_WIDTH.some((is) => is(child.type))) {
    const values = child.values as ArrayLike<unknown> | undefined;
    const need = DataType.isBool(child.type) ? Math.ceil(end / 8) : end * child.stride;
    if (!values || values.length < need) {
      throw new SluiceError('BODY_UNPARSEABLE', 'an Arrow column is truncated');
    }
  }
  for (const d of child.dictionary?.data ?? []) checkData(d);
}

const FIXED_WIDTH = [
  DataType.isInt,
  DataType.isFloat,
  DataType.isBool,
  DataType.isTimestamp,
  DataType.isDate,
  DataType.isTime,
  DataType.isDecimal,
  DataType.isInterval,
  DataType.isDuration,
  DataType.isFixedSizeBinary,
  DataType.isDictionary,
];
