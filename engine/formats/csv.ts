/**
 * RFC 4180 CSV straight into Utf8 columns, streaming: feed chunks, collect record batches.
 * The header row names the fields. A UTF-8 BOM is skipped; CRLF and LF both end a record.
 * A row with fewer cells than the header has the rest absent (quarantined if required); extra
 * cells are ignored. A quote that breaks RFC 4180 refuses the whole body: it cannot be parsed.
 */
import type { RecordBatch } from 'apache-arrow';
import type { ColumnSet } from '../columns.ts';
import { SluiceError } from '../errors.ts';
import { fieldIndex, recordBatchOf, TextBatchBuilder } from './text-batch-builder.ts';

const QUOTE = 0x22;
const COMMA = 0x2c;
const CR = 0x0d;
const LF = 0x0a;

enum State {
  FieldStart,
  Unquoted,
  Quoted,
  QuoteInQuoted, // saw a quote inside a quoted field: an escaped quote or the field's end
  AfterCR,
}

export interface CsvOptions {
  batchRows?: number;
  maxFieldBytes?: number;
  /** Upper bound on header cells, so a hostile header cannot blow memory. */
  maxColumns?: number;
}

export class CsvScanner {
  private readonly builder: TextBatchBuilder;
  private readonly maxColumns: number;
  private readonly maxFieldBytes: number;
  private state = State.FieldStart;
  private header: string[] | null = [];
  private headerCell: number[] = [];
  private map: Int32Array = new Int32Array(0);
  private col = 0;
  private line = 1;
  private first = true;
  private readonly out: ColumnSet[] = [];

  constructor(opts: CsvOptions = {}) {
    this.builder = new TextBatchBuilder(opts);
    this.maxColumns = opts.maxColumns ?? 1024;
    this.maxFieldBytes = opts.maxFieldBytes ?? 1 << 20;
  }

  /** Scans a chunk; returns the batches completed by it. */
  push(chunk: Uint8Array): ColumnSet[] {
    let i = 0;
    if (this.first && chunk.length > 0) {
      this.first = false;
      if (chunk.length >= 3 && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) i = 3;
    }
    const n = chunk.length;
    // start of an unbroken run of field bytes in this chunk: a field left open by the last chunk
    // goes on from this chunk's first byte
    let spanStart = this.state === State.Unquoted || this.state === State.Quoted ? i : -1;
    for (; i < n; i++) {
      const c = chunk[i] as number;
      if (this.state === State.AfterCR) {
        // CRLF is one break; after a lone CR this byte starts the next record
        this.state = State.FieldStart;
        if (c === LF) continue;
      }
      switch (this.state) {
        case State.FieldStart:
          if (c === QUOTE) {
            this.state = State.Quoted;
            spanStart = i + 1;
          } else if (c === COMMA) {
            this.endField();
          } else if (c === LF || c === CR) {
            this.endLine(c, true);
          } else {
            this.state = State.Unquoted;
            spanStart = i;
          }
          break;
        case State.Unquoted:
          if (c === COMMA || c === LF || c === CR) {
            this.emit(chunk, spanStart, i);
            spanStart = -1;
            this.endField();
            this.state = State.FieldStart;
            if (c !== COMMA) this.endLine(c, false);
          } else if (c === QUOTE) {
            this.fail('a quote inside an unquoted field');
          }
          break;
        case State.Quoted:
          if (c === QUOTE) {
            this.emit(chunk, spanStart, i);
            spanStart = -1;
            this.state = State.QuoteInQuoted;
          } else if (c === LF) {
            this.line++;
          }
          break;
        case State.QuoteInQuoted:
          if (c === QUOTE) {
            // "" is one literal quote; the field goes on
            this.emitByte(QUOTE);
            this.state = State.Quoted;
            spanStart = i + 1;
          } else if (c === COMMA || c === LF || c === CR) {
            this.endField();
            this.state = State.FieldStart;
            if (c !== COMMA) this.endLine(c, false);
          } else {
            this.fail('text after a closing quote');
          }
          break;
      }
    }
    if (spanStart >= 0 && spanStart < n) this.emit(chunk, spanStart, n);
    return this.out.splice(0);
  }

  /** Ends the input; returns the last batches. An open quote at the end is an error. */
  end(): ColumnSet[] {
    if (this.state === State.Quoted) this.fail('a quoted field is not closed');
    if (
      this.state === State.Unquoted ||
      this.state === State.QuoteInQuoted ||
      (this.state === State.FieldStart && this.col > 0)
    ) {
      this.endField();
      this.finishRecord();
    }
    const last = this.builder.flush();
    if (last) this.out.push(last);
    return this.out.splice(0);
  }

  private fail(what: string): never {
    throw new SluiceError('BODY_UNPARSEABLE', `CSV line ${this.line}: ${what}`);
  }

  private emit(chunk: Uint8Array, s: number, e: number): void {
    if (e <= s) return;
    if (this.header !== null) {
      // Header cells are capped like fields: a 10 MB header cell was kept whole, one JS number
      // per byte (found by the fuzz tests, test/fuzz).
      if (this.headerCell.length + (e - s) > this.maxFieldBytes) this.fail('a header cell is too long');
      for (let k = s; k < e; k++) this.headerCell.push(chunk[k] as number);
      return;
    }
    const f = this.col < this.map.length ? (this.map[this.col] as number) : -1;
    this.builder.append(f, chunk, s, e);
  }

  private emitByte(b: number): void {
    if (this.header !== null) {
      if (this.headerCell.length + 1 > this.maxFieldBytes) this.fail('a header cell is too long');
      this.headerCell.push(b);
      return;
    }
    const f = this.col < this.map.length ? (this.map[this.col] as number) : -1;
    this.builder.appendByte(f, b);
  }

  private endField(): void {
    if (this.header !== null) {
      if (this.header.length >= this.maxColumns) this.fail(`more than ${this.maxColumns} columns`);
      this.header.push(Buffer.from(this.headerCell).toString('utf8').trim());
      this.headerCell = [];
    } else {
      const f = this.col < this.map.length ? (this.map[this.col] as number) : -1;
      this.builder.present(f);
    }
    this.col++;
  }

  /**
   * A line break. `atFieldStart`: it came where a field would start, so after a comma an empty
   * last field is pending, and with no cell at all the line is blank (skipped).
   */
  private endLine(c: number, atFieldStart: boolean): void {
    if (!atFieldStart) {
      this.finishRecord();
    } else if (this.col > 0) {
      this.endField();
      this.finishRecord();
    }
    if (c === CR) this.state = State.AfterCR;
    this.line++;
  }

  private finishRecord(): void {
    if (this.header !== null) {
      this.finishHeader();
    } else if (this.builder.endRow()) {
      const b = this.builder.flush();
      if (b) this.out.push(b);
    }
    this.col = 0;
  }

  private finishHeader(): void {
    const names = this.header ?? [];
    this.map = Int32Array.from(names, (name) => fieldIndex(name));
    this.header = null;
  }
}

/** Parses a whole CSV body into Arrow batches. */
export function parseCsv(body: Uint8Array, opts: CsvOptions = {}): RecordBatch[] {
  return csvColumns(body, opts).map(recordBatchOf);
}

/** The same, as the kernels' columns. */
export function csvColumns(body: Uint8Array, opts: CsvOptions = {}): ColumnSet[] {
  const s = new CsvScanner(opts);
  return [...s.push(body), ...s.end()];
}
