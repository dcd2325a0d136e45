/**
 * MessagePack (an array of records) straight into Utf8 columns. A hand-rolled scanner rather than
 * msgpackr's `unpack`, for two reasons: no JS object per record on the hot path, and no trust in
 * length headers (a "4 billion elements" header costs nothing here: the scan fails when the bytes
 * run out, before anything is allocated for it).
 *
 * Values become text as the field rules expect it: strings and binaries as their bytes, integers
 * in decimal, floats by their shortest round-trip decimal (MessagePack has no decimal type; the
 * decimal a client meant is the one that round-trips), booleans as `true`/`false`, the timestamp
 * extension as epoch ms. Nested arrays and maps for a known field become a marker that no rule
 * accepts, so the row is quarantined.
 */
import type { RecordBatch } from 'apache-arrow';
import type { ColumnSet } from '../columns.ts';
import { SluiceError } from '../errors.ts';
import { fieldIndex, recordBatchOf, TextBatchBuilder } from './text-batch-builder.ts';

export interface MsgpackOptions {
  batchRows?: number;
  maxFieldBytes?: number;
  maxDepth?: number;
}

const enc = new TextEncoder();
const NESTED = enc.encode('<nested>');
const EXT = enc.encode('<ext>');

class Reader {
  pos = 0;
  readonly view: DataView;
  constructor(
    readonly buf: Uint8Array,
    readonly maxDepth: number,
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  fail(what: string): never {
    throw new SluiceError('BODY_UNPARSEABLE', `MessagePack at byte ${this.pos}: ${what}`);
  }

  need(n: number): void {
    if (this.pos + n > this.buf.length) this.fail('unexpected end of input');
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++] as number;
  }
  u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.pos);
    this.pos += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }

  /** Length of a container at `pos` if it is one of `kind`, else -1 (pos unchanged). */
  header(kind: 'array' | 'map'): number {
    const t = this.buf[this.pos];
    if (t === undefined) this.fail('unexpected end of input');
    const [fixLo, fix16, fix32] = kind === 'array' ? [0x90, 0xdc, 0xdd] : [0x80, 0xde, 0xdf];
    if (t < fixLo || (t > fixLo + 15 && t !== fix16 && t !== fix32)) return -1;
    this.pos++;
    if (t === fix16) return this.u16();
    if (t === fix32) return this.u32();
    return t & 0x0f;
  }

  /** A string key; returns its builder field index (-1: ignored). */
  key(): number {
    const t = this.u8();
    let len: number;
    if (t >= 0xa0 && t <= 0xbf) len = t & 0x1f;
    else if (t === 0xd9) len = this.u8();
    else if (t === 0xda) len = this.u16();
    else if (t === 0xdb) len = this.u32();
    else this.fail('a record key must be a string');
    this.need(len);
    const name = Buffer.from(this.buf.buffer, this.buf.byteOffset + this.pos, len).toString('utf8');
    this.pos += len;
    return fieldIndex(name);
  }

  /** One value into field `f` of the open row (or skipped when f < 0). */
  value(b: TextBatchBuilder, f: number, depth = 0): void {
    const t = this.u8();
    const text = (s: string) => {
      const bytes = enc.encode(s);
      b.append(f, bytes, 0, bytes.length);
      b.present(f);
    };
    const raw = (len: number) => {
      this.need(len);
      b.append(f, this.buf, this.pos, this.pos + len);
      b.present(f);
      this.pos += len;
    };
    if (t <= 0x7f || t >= 0xe0) {
      text(String(t <= 0x7f ? t : t - 0x100)); // positive and negative fixint
      return;
    }
    if (t >= 0xa0 && t <= 0xbf) {
      raw(t & 0x1f); // fixstr
      return;
    }
    if ((t >= 0x80 && t <= 0x9f) || t === 0xdc || t === 0xdd || t === 0xde || t === 0xdf) {
      this.pos--;
      this.skipContainer(depth);
      b.append(f, NESTED, 0, NESTED.length);
      b.present(f);
      return;
    }
    const v = this.view;
    switch (t) {
      case 0xc0:
        return; // nil: absent
      case 0xc2:
        text('false');
        return;
      case 0xc3:
        text('true');
        return;
      case 0xc4:
      case 0xd9:
        raw(this.u8());
        return;
      case 0xc5:
      case 0xda:
        raw(this.u16());
        return;
      case 0xc6:
      case 0xdb:
        raw(this.u32());
        return;
      case 0xca:
        this.need(4);
        this.pos += 4;
        text(String(v.getFloat32(this.pos - 4)));
        return;
      case 0xcb:
        this.need(8);
        this.pos += 8;
        text(String(v.getFloat64(this.pos - 8)));
        return;
      case 0xcc:
        text(String(this.u8()));
        return;
      case 0xcd:
        text(String(this.u16()));
        return;
      case 0xce:
        text(String(this.u32()));
        return;
      case 0xcf:
        this.need(8);
        this.pos += 8;
        text(String(v.getBigUint64(this.pos - 8)));
        return;
      case 0xd0:
        this.need(1);
        text(String(v.getInt8(this.pos++)));
        return;
      case 0xd1:
        this.need(2);
        this.pos += 2;
        text(String(v.getInt16(this.pos - 2)));
        return;
      case 0xd2:
        this.need(4);
        this.pos += 4;
        text(String(v.getInt32(this.pos - 4)));
        return;
      case 0xd3:
        this.need(8);
        this.pos += 8;
        text(String(v.getBigInt64(this.pos - 8)));
        return;
      default:
        this.ext(t, b, f);
        return;
    }
  }

  private ext(t: number, b: TextBatchBuilder, f: number): void {
    let len: number;
    if (t >= 0xd4 && t <= 0xd8) len = 1 << (t - 0xd4);
    else if (t === 0xc7) len = this.u8();
    else if (t === 0xc8) len = this.u16();
    else if (t === 0xc9) len = this.u32();
    else this.fail(`unknown type byte 0x${t.toString(16)}`);
    this.need(1 + len);
    const type = this.view.getInt8(this.pos);
    const at = this.pos + 1;
    this.pos = at + len;
    let ms: bigint | null = null;
    if (type === -1 && len === 4) ms = BigInt(this.view.getUint32(at)) * 1000n;
    else if (type === -1 && len === 8) {
      const hi = this.view.getUint32(at);
      const lo = this.view.getUint32(at + 4);
      const nanos = hi >>> 2;
      const secs = (BigInt(hi & 3) << 32n) | BigInt(lo);
      ms = secs * 1000n + BigInt(Math.floor(nanos / 1e6));
    } else if (type === -1 && len === 12) {
      ms = this.view.getBigInt64(at + 4) * 1000n + BigInt(Math.floor(this.view.getUint32(at) / 1e6));
    }
    const bytes = ms === null ? EXT : enc.encode(String(ms));
    b.append(f, bytes, 0, bytes.length);
    b.present(f);
  }

  /** Skips any value (used for nested containers and unknown fields), bounded in depth. */
  skipValue(depth: number): void {
    const t = this.buf[this.pos];
    if (t === undefined) this.fail('unexpected end of input');
    if ((t >= 0x80 && t <= 0x9f) || t === 0xdc || t === 0xdd || t === 0xde || t === 0xdf) {
      this.skipContainer(depth);
      return;
    }
    this.value(SKIP, -1, depth);
  }

  private skipContainer(depth: number): void {
    if (depth >= this.maxDepth) this.fail(`nesting deeper than ${this.maxDepth}`);
    let n = this.header('array');
    let perItem = 1;
    if (n < 0) {
      n = this.header('map');
      perItem = 2;
    }
    for (let i = 0; i < n * perItem; i++) this.skipValue(depth + 1);
  }
}

// A builder that is never flushed: `value` with field -1 appends nothing, so one shared instance
// serves every skip.
const SKIP = new TextBatchBuilder({ batchRows: 1 });

export function parseMsgpack(body: Uint8Array, opts: MsgpackOptions = {}): RecordBatch[] {
  return msgpackColumns(body, opts).map(recordBatchOf);
}

/** The same, as the kernels' columns. */
export function msgpackColumns(body: Uint8Array, opts: MsgpackOptions = {}): ColumnSet[] {
  const r = new Reader(body, opts.maxDepth ?? 32);
  const builder = new TextBatchBuilder(opts);
  const out: ColumnSet[] = [];
  if (body.length === 0) r.fail('empty body');
  const n = r.header('array');
  if (n < 0) throw new SluiceError('BODY_SHAPE', 'expected a MessagePack array of records');
  for (let i = 0; i < n; i++) {
    const fields = r.header('map');
    if (fields < 0) throw new SluiceError('BODY_SHAPE', 'every transaction must be a MessagePack map');
    builder.beginRow();
    for (let k = 0; k < fields; k++) {
      const f = r.key();
      if (f < 0) r.skipValue(0);
      else r.value(builder, f);
    }
    if (builder.endRow()) {
      const b = builder.flush();
      if (b) out.push(b);
    }
  }
  if (r.pos !== body.length) r.fail('trailing data after the array');
  const last = builder.flush();
  if (last) out.push(last);
  return out;
}
