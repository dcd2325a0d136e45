/**
 * Every CONTRACT §2 format, by content type (HTTP) or file extension (CLI), into the kernels'
 * columns (the pipeline) or Arrow record batches (the CLI). Whole bodies for HTTP; streams for
 * files where the format allows (CSV, NDJSON, Arrow).
 */
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { type RecordBatch, RecordBatchReader } from 'apache-arrow';
import { type ColumnSet, columnsOf } from '../columns.ts';
import { SluiceError } from '../errors.ts';
import { checkBatch, parseArrow } from './arrow.ts';
import { CsvScanner, csvColumns } from './csv.ts';
import { jsonColumns, NdjsonScanner, ndjsonColumns } from './json.ts';
import { msgpackColumns } from './msgpack.ts';
import { recordBatchOf } from './text-batch-builder.ts';

export const FORMATS = {
  arrow: 'application/vnd.apache.arrow.stream',
  json: 'application/json',
  ndjson: 'application/x-ndjson',
  csv: 'text/csv',
  msgpack: 'application/msgpack',
} as const;

export type Format = keyof typeof FORMATS;

const BY_TYPE = new Map<string, Format>(Object.entries(FORMATS).map(([f, t]) => [t, f as Format]));

/** The format of a Content-Type header (parameters such as charset ignored), or null. */
export function formatOfContentType(contentType: string | undefined): Format | null {
  if (!contentType) return null;
  const base = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  return BY_TYPE.get(base) ?? null;
}

const BY_EXT: Record<string, Format> = {
  '.arrow': 'arrow',
  '.arrows': 'arrow',
  '.ipc': 'arrow',
  '.json': 'json',
  '.ndjson': 'ndjson',
  '.jsonl': 'ndjson',
  '.csv': 'csv',
  '.msgpack': 'msgpack',
  '.mpk': 'msgpack',
};

export function formatOfPath(path: string): Format | null {
  return BY_EXT[extname(path).toLowerCase()] ?? null;
}

export interface ParseOptions {
  batchRows?: number;
  maxFieldBytes?: number;
}

/** Parses a whole body into Arrow batches. An empty body is refused: it holds no batch to account for. */
export function parseBody(format: Format, body: Uint8Array, opts: ParseOptions = {}): RecordBatch[] {
  if (format === 'arrow') {
    if (body.length === 0) throw new SluiceError('BODY_EMPTY');
    return parseArrow(body);
  }
  return parseColumns(format, body, opts).map(recordBatchOf);
}

/**
 * Parses a whole body into the kernels' columns: what the pipeline works on. The text formats
 * build them directly, with no Arrow objects on the way; Arrow's own are read in place.
 */
export function parseColumns(format: Format, body: Uint8Array, opts: ParseOptions = {}): ColumnSet[] {
  if (body.length === 0) throw new SluiceError('BODY_EMPTY');
  switch (format) {
    case 'arrow':
      return parseArrow(body).map(columnsOf);
    case 'json':
      return jsonColumns(body, opts);
    case 'ndjson':
      return ndjsonColumns(body, opts);
    case 'csv':
      return csvColumns(body, opts);
    case 'msgpack':
      return msgpackColumns(body, opts);
  }
}

/** Streams a file's record batches, with memory bounded by one chunk and one batch. */
export async function* readFileBatches(
  path: string,
  format: Format,
  opts: ParseOptions = {},
): AsyncGenerator<RecordBatch> {
  if (format === 'json' || format === 'msgpack') {
    // Neither has record boundaries a stream can find cheaply; files this big should be NDJSON/CSV/Arrow.
    const body = await readBody(path);
    yield* parseBody(format, body, opts);
    return;
  }
  const stream = createReadStream(path, { highWaterMark: 1 << 20 });
  try {
    if (format === 'arrow') {
      const reader = await RecordBatchReader.from(stream);
      for await (const b of reader) {
        checkBatch(b);
        yield b;
      }
      return;
    }
    const scanner = format === 'csv' ? new CsvScanner(opts) : new NdjsonScanner(opts);
    for await (const chunk of stream) {
      yield* scanner.push(chunk as Buffer).map(recordBatchOf);
    }
    yield* scanner.end().map(recordBatchOf);
  } catch (e) {
    if (e instanceof SluiceError) throw e;
    const err = e as NodeJS.ErrnoException;
    if (err.code) throw new SluiceError('FILE_UNREADABLE', `${path}: ${err.message}`);
    throw new SluiceError('BODY_UNPARSEABLE', `${path}: ${err.message}`);
  } finally {
    stream.destroy();
  }
}

async function readBody(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (e) {
    throw new SluiceError('FILE_UNREADABLE', `${path}: ${(e as Error).message}`);
  }
}
