/**
 * `sluice generate --rows N [--seed S] [--format csv|ndjson|arrow] --out FILE`: synthetic
 * transactions, and beside them FILE.labels.ndjson saying what each row should get.
 */

import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import {
  Field,
  Int64,
  makeData,
  RecordBatch,
  RecordBatchStreamWriter,
  Schema,
  Struct,
  TimestampMillisecond,
  Utf8,
} from 'apache-arrow';
import { FIELDS } from '../engine/codes.ts';
import { SluiceError } from '../engine/errors.ts';
import { type GeneratedRow, type Label, TransactionGenerator } from '../engine/generator.ts';
import { Kernels } from '../engine/kernels.ts';
import { loadReferenceData } from '../engine/reference-data.ts';
import { intFlag, parse } from './args.ts';
import { REFERENCE_OPTIONS, referencePaths } from './reference-flags.ts';

export const GENERATE_USAGE =
  'usage: sluice generate --rows N [--seed S] [--format csv|ndjson|arrow] [--bad-share 0.02] --out FILE';

/** Columns written as text in every format; `ts` and `amount` are typed in Arrow. */
const TEXT_COLUMNS = FIELDS.filter((f) => f !== 'ts' && f !== 'amount');

const CSV_COLUMNS = FIELDS;

function textOf(row: GeneratedRow, f: string): string | undefined {
  if (row.omit?.includes(f as keyof GeneratedRow)) return undefined;
  if (f === 'ts') return row.ts_text ?? new Date(row.ts).toISOString();
  const v = (row as unknown as Record<string, unknown>)[f];
  return v === undefined ? undefined : String(v);
}

function csvCell(v: string | undefined): string {
  if (v === undefined) return '';
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

interface Sink {
  add(row: GeneratedRow): Promise<void>;
  end(): Promise<void>;
}

async function write(stream: WriteStream, s: string | Uint8Array): Promise<void> {
  if (!stream.write(s)) await once(stream, 'drain');
}

function textSink(stream: WriteStream, format: 'csv' | 'ndjson'): Sink {
  let buf = format === 'csv' ? `${CSV_COLUMNS.join(',')}\n` : '';
  return {
    async add(row) {
      if (format === 'csv') {
        buf += `${CSV_COLUMNS.map((c) => csvCell(textOf(row, c))).join(',')}\n`;
      } else {
        const o: Record<string, string> = {};
        for (const c of CSV_COLUMNS) {
          const v = textOf(row, c);
          if (v !== undefined) o[c] = v;
        }
        buf += `${JSON.stringify(o)}\n`;
      }
      if (buf.length > 1 << 20) {
        await write(stream, buf);
        buf = '';
      }
    },
    async end() {
      await write(stream, buf);
      stream.end();
      await once(stream, 'close');
    },
  };
}

/** Arrow IPC stream: amount as amount_minor Int64, ts as Timestamp(ms), the rest Utf8. */
function arrowSink(stream: WriteStream, batchRows = 8192): Sink {
  const writer = new RecordBatchStreamWriter();
  const piped = pipeline(writer.toNodeStream(), stream);
  let rows: GeneratedRow[] = [];
  const enc = new TextEncoder();
  const flush = async () => {
    if (rows.length === 0) return;
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
      const parts = vals.map((v) => enc.encode(v ?? ''));
      const offsets = new Int32Array(n + 1);
      let at = 0;
      parts.forEach((p, i) => {
        at += p.length;
        offsets[i + 1] = at;
      });
      const data = new Uint8Array(at);
      let o = 0;
      for (const p of parts) {
        data.set(p, o);
        o += p.length;
      }
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
    writer.write(new RecordBatch(new Schema(fields), struct));
    rows = [];
    // let the pipe drain before building the next batch, so memory stays at about one batch
    if (stream.writableLength > 1 << 22) await once(stream, 'drain');
  };
  return {
    async add(row) {
      rows.push(row);
      if (rows.length >= batchRows) await flush();
    },
    async end() {
      await flush();
      writer.finish();
      await piped;
    },
  };
}

export async function generateCommand(argv: string[]): Promise<number> {
  const { values } = parse(
    argv,
    {
      ...REFERENCE_OPTIONS,
      rows: { type: 'string' },
      seed: { type: 'string' },
      format: { type: 'string' },
      out: { type: 'string' },
      'bad-share': { type: 'string' },
    },
    false,
  );
  const out = values.out as string | undefined;
  if (!out || values.rows === undefined) throw new SluiceError('USAGE', GENERATE_USAGE);
  const rows = intFlag(values.rows as string, 'rows', 0, 1, 100_000_000);
  const seed = intFlag(values.seed as string | undefined, 'seed', 1, 0, 2 ** 31);
  const format = (values.format as string | undefined) ?? 'csv';
  if (format !== 'csv' && format !== 'ndjson' && format !== 'arrow') {
    throw new SluiceError('USAGE', '--format is csv, ndjson or arrow');
  }
  const badShare = values['bad-share'] === undefined ? 0.02 : Number(values['bad-share']);
  if (!(badShare >= 0 && badShare <= 1))
    throw new SluiceError('USAGE', '--bad-share is a number from 0 to 1');
  const reference = loadReferenceData(referencePaths(values));
  const gen = new TransactionGenerator(new Kernels(reference), reference, { rows, seed, badShare, format });
  const data = createWriteStream(out);
  const labels = createWriteStream(`${out}.labels.ndjson`);
  const sink = format === 'arrow' ? arrowSink(data) : textSink(data, format);
  let labelBuf = '';
  let bad = 0;
  for (let g = gen.next(); g; g = gen.next()) {
    await sink.add(g.row);
    const l: Label = g.label;
    if (l.status === 'invalid') bad++;
    labelBuf += `${JSON.stringify(l)}\n`;
    if (labelBuf.length > 1 << 20) {
      await write(labels, labelBuf);
      labelBuf = '';
    }
  }
  await sink.end();
  await write(labels, labelBuf);
  labels.end();
  await once(labels, 'close');
  process.stderr.write(
    `sluice generate: ${rows} rows (${bad} labelled bad) to ${out}, labels in ${out}.labels.ndjson\n`,
  );
  return 0;
}
