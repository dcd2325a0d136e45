/**
 * `sluice generate --rows N [--seed S] [--format csv|ndjson|arrow] --out FILE`: synthetic
 * transactions, and beside them FILE.labels.ndjson saying what each row should get.
 */

import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { RecordBatchStreamWriter } from 'apache-arrow';
import { SluiceError } from '../engine/errors.ts';
import { type GeneratedRow, type Label, TransactionGenerator } from '../engine/generator.ts';
import { arrowBatch, csvHeader, csvLine, ndjsonLine } from '../engine/generator-formats.ts';
import { Kernels } from '../engine/kernels.ts';
import { loadReferenceData } from '../engine/reference-data.ts';
import { intFlag, parse } from './args.ts';
import { REFERENCE_OPTIONS, referencePaths } from './reference-flags.ts';

export const GENERATE_USAGE =
  'usage: sluice generate --rows N [--seed S] [--format csv|ndjson|arrow] [--bad-share 0.02] [--days 30] --out FILE';

interface Sink {
  add(row: GeneratedRow): Promise<void>;
  end(): Promise<void>;
}

async function write(stream: WriteStream, s: string | Uint8Array): Promise<void> {
  if (!stream.write(s)) await once(stream, 'drain');
}

function textSink(stream: WriteStream, format: 'csv' | 'ndjson'): Sink {
  let buf = format === 'csv' ? csvHeader() : '';
  return {
    async add(row) {
      buf += format === 'csv' ? csvLine(row) : ndjsonLine(row);
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

/** Arrow IPC stream, one record batch per `batchRows` rows. */
function arrowSink(stream: WriteStream, batchRows = 8192): Sink {
  const writer = new RecordBatchStreamWriter();
  const piped = pipeline(writer.toNodeStream(), stream);
  let rows: GeneratedRow[] = [];
  const flush = async () => {
    if (rows.length === 0) return;
    writer.write(arrowBatch(rows));
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
      days: { type: 'string' },
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
  const days = values.days === undefined ? 30 : Number(values.days);
  if (!(days > 0 && days <= 3650))
    throw new SluiceError('USAGE', '--days is a number of days, above 0 and at most 3650');
  const gen = new TransactionGenerator(new Kernels(reference), reference, {
    rows,
    seed,
    badShare,
    format,
    days,
  });
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
