/**
 * JSON and NDJSON straight into Utf8 columns, without building a JS object per record.
 *
 * Values of known fields are kept as their source text: a string's decoded UTF-8 bytes, a number's
 * digits exactly as sent (so `1234.50` never passes through a binary float), `true`/`false` as
 * written. A nested object or array for a known field is kept as its raw JSON text, which the
 * field rules then reject (the row is quarantined, not dropped). `null` is absent.
 */
import type { RecordBatch } from 'apache-arrow';
import type { ColumnSet } from '../columns.ts';
import { SluiceError } from '../errors.ts';
import { fieldIndex, recordBatchOf, TextBatchBuilder } from './text-batch-builder.ts';

export interface JsonOptions {
  batchRows?: number;
  maxFieldBytes?: number;
  /** Deepest nesting accepted inside a record (skipped values included). */
  maxDepth?: number;
}

const WS = new Uint8Array(256);
for (const c of [0x20, 0x09, 0x0a, 0x0d]) WS[c] = 1;

const decoder = new TextDecoder('utf-8', { fatal: true });
const KEY_CACHE = new Map<string, number>();

class JsonCursor {
  pos = 0;
  constructor(
    readonly buf: Uint8Array,
    readonly maxDepth: number,
    readonly lineBase = 0,
  ) {}

  fail(what: string): never {
    throw new SluiceError('BODY_UNPARSEABLE', `JSON at byte ${this.lineBase + this.pos}: ${what}`);
  }

  shape(what: string): never {
    throw new SluiceError('BODY_SHAPE', what);
  }

  ws(): void {
    const b = this.buf;
    while (this.pos < b.length && WS[b[this.pos] as number]) this.pos++;
  }

  peek(): number {
    this.ws();
    if (this.pos >= this.buf.length) this.fail('unexpected end of input');
    return this.buf[this.pos] as number;
  }

  expect(c: number): void {
    if (this.peek() !== c) this.fail(`expected '${String.fromCharCode(c)}'`);
    this.pos++;
  }

  /** Scans a string at `pos` (on its opening quote). Appends decoded bytes to field `f` if f >= 0. */
  string(builder: TextBatchBuilder | null, f: number): void {
    const b = this.buf;
    let i = this.pos + 1;
    let run = i;
    for (;;) {
      if (i >= b.length) this.fail('unterminated string');
      const c = b[i] as number;
      if (c === 0x22) break;
      if (c < 0x20) this.fail('control character in a string');
      if (c === 0x5c) {
        if (builder && i > run) builder.append(f, b, run, i);
        i = this.escape(i, builder, f);
        run = i;
        continue;
      }
      i++;
    }
    if (builder && i > run) builder.append(f, b, run, i);
    this.pos = i + 1;
  }

  /** Decodes the escape at `i` (on the backslash); returns the index after it. */
  private escape(i: number, builder: TextBatchBuilder | null, f: number): number {
    const b = this.buf;
    const e = b[i + 1];
    const simple: Record<number, number> = {
      34: 0x22,
      92: 0x5c,
      47: 0x2f,
      98: 8,
      102: 12,
      110: 10,
      114: 13,
      116: 9,
    };
    if (e === undefined) this.fail('unterminated escape');
    if (e !== 0x75) {
      const v = simple[e];
      if (v === undefined) this.fail('bad escape');
      builder?.appendByte(f, v);
      return i + 2;
    }
    let cp = this.hex4(i + 2);
    let next = i + 6;
    if (cp >= 0xd800 && cp < 0xdc00 && b[next] === 0x5c && b[next + 1] === 0x75) {
      const lo = this.hex4(next + 2);
      if (lo >= 0xdc00 && lo < 0xe000) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        next += 6;
      }
    }
    if (builder) {
      // A lone surrogate becomes U+FFFD: Utf8 columns must hold valid UTF-8.
      const bytes = Buffer.from(String.fromCodePoint(cp >= 0xd800 && cp < 0xe000 ? 0xfffd : cp), 'utf8');
      builder.append(f, bytes, 0, bytes.length);
    }
    return next;
  }

  private hex4(at: number): number {
    let v = 0;
    for (let k = 0; k < 4; k++) {
      const c = this.buf[at + k];
      let d: number;
      if (c === undefined) this.fail('unterminated escape');
      if (c >= 0x30 && c <= 0x39) d = c - 0x30;
      else if (c >= 0x41 && c <= 0x46) d = c - 0x37;
      else if (c >= 0x61 && c <= 0x66) d = c - 0x57;
      else this.fail('bad \\u escape');
      v = v * 16 + d;
    }
    return v;
  }

  /** A key, resolved to a builder field index (-1: ignored). */
  key(): number {
    if (this.peek() !== 0x22) this.fail('expected a key');
    const b = this.buf;
    const start = this.pos + 1;
    let i = start;
    let escaped = false;
    while (i < b.length && b[i] !== 0x22) {
      if (b[i] === 0x5c) {
        escaped = true;
        i++;
      }
      i++;
    }
    if (i >= b.length) this.fail('unterminated key');
    let name: string;
    if (escaped) {
      // JSON.parse checks the escapes; a bad one (`"tx\x"`) threw a SyntaxError past every
      // SluiceError handler before the fuzz tests (test/fuzz) caught it.
      try {
        name = JSON.parse(Buffer.from(b.subarray(start - 1, i + 1)).toString('utf8')) as string;
      } catch {
        this.fail('bad escape in a key');
      }
    } else {
      name = latin1Key(b, start, i);
    }
    this.pos = i + 1;
    let f = KEY_CACHE.get(name);
    if (f === undefined) {
      f = fieldIndex(name);
      if (KEY_CACHE.size < 256) KEY_CACHE.set(name, f);
    }
    return f;
  }

  /** Scans a literal (number, true, false, null) at `pos`; returns its end. */
  literal(): number {
    const b = this.buf;
    let i = this.pos;
    while (i < b.length) {
      const c = b[i] as number;
      if (c === 0x2c || c === 0x7d || c === 0x5d || WS[c]) break;
      i++;
    }
    if (i === this.pos) this.fail('expected a value');
    return i;
  }

  /** Skips any value, iteratively: a small stack of container kinds, no recursion. */
  skip(): void {
    const stack = new Uint8Array(this.maxDepth + 1); // 1 = object, 2 = array
    let depth = 0;
    do {
      const c = this.peek();
      if (c === 0x7b || c === 0x5b) {
        if (depth >= this.maxDepth) this.fail(`nesting deeper than ${this.maxDepth}`);
        this.pos++;
        stack[depth++] = c === 0x7b ? 1 : 2;
        const close = c === 0x7b ? 0x7d : 0x5d;
        if (this.peek() === close) {
          this.pos++;
          depth--;
        } else {
          if (c === 0x7b) {
            this.key();
            this.expect(0x3a);
          }
          continue;
        }
      } else if (c === 0x22) {
        this.string(null, -1);
      } else if (c === 0x7d || c === 0x5d) {
        this.fail('unexpected close');
      } else {
        const e = this.literal();
        this.checkLiteral(this.pos, e);
        this.pos = e;
      }
      // after a value inside a container: a comma (then, in an object, a key) or closes
      while (depth > 0) {
        const d = this.peek();
        const kind = stack[depth - 1];
        if (d === 0x2c) {
          this.pos++;
          if (kind === 1) {
            this.key();
            this.expect(0x3a);
          }
          break;
        }
        if ((d === 0x7d && kind === 1) || (d === 0x5d && kind === 2)) {
          this.pos++;
          depth--;
          continue;
        }
        this.fail("expected ',' or a close");
      }
    } while (depth > 0);
  }

  checkLiteral(s: number, e: number): void {
    const b = this.buf;
    const c = b[s] as number;
    if (c === 0x74 || c === 0x66 || c === 0x6e) {
      const word = latin1Key(b, s, e);
      if (word !== 'true' && word !== 'false' && word !== 'null')
        this.fail(`bad literal '${word.slice(0, 20)}'`);
      return;
    }
    if (!isJsonNumber(b, s, e)) this.fail('bad number');
  }

  /** One record `{…}` into the builder. */
  record(builder: TextBatchBuilder): void {
    if (this.peek() !== 0x7b) this.shape('every transaction must be a JSON object');
    this.pos++;
    builder.beginRow();
    if (this.peek() === 0x7d) {
      this.pos++;
      builder.endRow();
      return;
    }
    for (;;) {
      const f = this.key();
      this.expect(0x3a);
      const c = this.peek();
      if (c === 0x22) {
        this.string(builder, f);
        builder.present(f);
      } else if (c === 0x7b || c === 0x5b) {
        const s = this.pos;
        this.skip();
        builder.append(f, this.buf, s, this.pos);
        builder.present(f);
      } else {
        const s = this.pos;
        const e = this.literal();
        this.checkLiteral(s, e);
        if (!(e - s === 4 && this.buf[s] === 0x6e)) {
          builder.append(f, this.buf, s, e);
          builder.present(f);
        }
        this.pos = e;
      }
      const d = this.peek();
      this.pos++;
      if (d === 0x7d) break;
      if (d !== 0x2c) this.fail("expected ',' or '}'");
    }
    builder.endRow();
  }
}

function latin1Key(b: Uint8Array, s: number, e: number): string {
  return Buffer.from(b.buffer, b.byteOffset + s, e - s).toString('latin1');
}

function isJsonNumber(b: Uint8Array, s: number, e: number): boolean {
  let i = s;
  if (b[i] === 0x2d) i++;
  const intStart = i;
  while (i < e && (b[i] as number) >= 0x30 && (b[i] as number) <= 0x39) i++;
  if (i === intStart || (b[intStart] === 0x30 && i - intStart > 1)) return false;
  if (i < e && b[i] === 0x2e) {
    const f = ++i;
    while (i < e && (b[i] as number) >= 0x30 && (b[i] as number) <= 0x39) i++;
    if (i === f) return false;
  }
  if (i < e && (b[i] === 0x65 || b[i] === 0x45)) {
    i++;
    if (b[i] === 0x2b || b[i] === 0x2d) i++;
    const x = i;
    while (i < e && (b[i] as number) >= 0x30 && (b[i] as number) <= 0x39) i++;
    if (i === x) return false;
  }
  return i === e;
}

function collect(builder: TextBatchBuilder, out: ColumnSet[]): void {
  if (builder.full) {
    const b = builder.flush();
    if (b) out.push(b);
  }
}

/** `{"transactions": [ … ]}` or a bare array of records, as Arrow batches. */
export function parseJson(body: Uint8Array, opts: JsonOptions = {}): RecordBatch[] {
  return jsonColumns(body, opts).map(recordBatchOf);
}

/** The same, as the kernels' columns. */
export function jsonColumns(body: Uint8Array, opts: JsonOptions = {}): ColumnSet[] {
  const cur = new JsonCursor(body, opts.maxDepth ?? 32);
  const builder = new TextBatchBuilder(opts);
  const out: ColumnSet[] = [];
  const c = cur.peek();
  if (c === 0x7b) {
    // find the "transactions" member; skip the others
    cur.pos++;
    let found = false;
    if (cur.peek() !== 0x7d) {
      for (;;) {
        const keyStart = cur.pos;
        cur.key();
        const isTx = latin1Key(body, keyStart, cur.pos) === '"transactions"';
        cur.expect(0x3a);
        if (isTx && !found) {
          if (cur.peek() !== 0x5b) cur.shape('"transactions" must be an array');
          found = true;
          array(cur, builder, out);
        } else {
          cur.skip();
        }
        const d = cur.peek();
        cur.pos++;
        if (d === 0x7d) break;
        if (d !== 0x2c) cur.fail("expected ',' or '}'");
      }
    } else {
      cur.pos++;
    }
    if (!found) cur.shape('expected {"transactions": [...]} or an array of transactions');
  } else if (c === 0x5b) {
    array(cur, builder, out);
  } else {
    cur.shape('expected {"transactions": [...]} or an array of transactions');
  }
  cur.ws();
  if (cur.pos !== body.length) cur.fail('trailing data after the JSON value');
  const last = builder.flush();
  if (last) out.push(last);
  return out;
}

function array(cur: JsonCursor, builder: TextBatchBuilder, out: ColumnSet[]): void {
  cur.expect(0x5b);
  if (cur.peek() === 0x5d) {
    cur.pos++;
    return;
  }
  for (;;) {
    cur.record(builder);
    collect(builder, out);
    const d = cur.peek();
    cur.pos++;
    if (d === 0x5d) return;
    if (d !== 0x2c) cur.fail("expected ',' or ']'");
  }
}

/**
 * NDJSON, streaming: one record per line; blank lines are skipped. Feed chunks with `push`, then
 * `end`. A line that is not a JSON object refuses the body (it cannot be parsed as NDJSON).
 */
export class NdjsonScanner {
  private readonly builder: TextBatchBuilder;
  private readonly maxDepth: number;
  private readonly maxLineBytes: number;
  private pending: Uint8Array | null = null;
  private consumed = 0;
  private readonly out: ColumnSet[] = [];

  constructor(opts: JsonOptions & { maxLineBytes?: number } = {}) {
    this.builder = new TextBatchBuilder(opts);
    this.maxDepth = opts.maxDepth ?? 32;
    this.maxLineBytes = opts.maxLineBytes ?? 1 << 22;
  }

  push(chunk: Uint8Array): ColumnSet[] {
    let buf = chunk;
    if (this.pending) {
      const joined = new Uint8Array(this.pending.length + chunk.length);
      joined.set(this.pending);
      joined.set(chunk, this.pending.length);
      buf = joined;
      this.pending = null;
    }
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(0x0a, start);
      if (nl < 0) break;
      this.line(buf.subarray(start, nl));
      start = nl + 1;
    }
    if (start < buf.length) {
      if (buf.length - start > this.maxLineBytes) {
        throw new SluiceError('BODY_UNPARSEABLE', `an NDJSON line is longer than ${this.maxLineBytes} bytes`);
      }
      this.pending = buf.slice(start);
    }
    this.consumed += start;
    return this.out.splice(0);
  }

  end(): ColumnSet[] {
    if (this.pending) {
      this.line(this.pending);
      this.pending = null;
    }
    const last = this.builder.flush();
    if (last) this.out.push(last);
    return this.out.splice(0);
  }

  private line(bytes: Uint8Array): void {
    const cur = new JsonCursor(bytes, this.maxDepth, this.consumed);
    cur.ws();
    if (cur.pos === bytes.length) return;
    cur.record(this.builder);
    cur.ws();
    if (cur.pos !== bytes.length) cur.fail('trailing data after the record');
    collect(this.builder, this.out);
  }
}

export function parseNdjson(body: Uint8Array, opts: JsonOptions = {}): RecordBatch[] {
  return ndjsonColumns(body, opts).map(recordBatchOf);
}

export function ndjsonColumns(body: Uint8Array, opts: JsonOptions = {}): ColumnSet[] {
  const s = new NdjsonScanner(opts);
  return [...s.push(body), ...s.end()];
}

/** Strict UTF-8 check, used where a body must be text. */
export function isUtf8(bytes: Uint8Array): boolean {
  try {
    decoder.decode(bytes);
    return true;
  } catch {
    return false;
  }
}
