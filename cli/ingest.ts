/**
 * `sluice ingest FILE… [--url] [--key]`: streams files (any CONTRACT §2 format, by extension) to
 * `POST /v1/batches` as Arrow IPC stream bodies, a bounded number in flight, with retries, a
 * progress bar and a JSON summary on stdout.
 *
 * Every body carries an `Idempotency-Key` derived from the file's real path, the batch's ordinal in
 * the file and the SHA-256 of the body, so a retried request, or a re-run of the same ingest,
 * is answered with the first reply and nothing is counted twice.
 *
 * Memory holds at most `concurrency + 1` bodies: the reader waits for a free slot before it reads on.
 */
import { createHash } from 'node:crypto';
import { createReadStream, realpathSync, statSync } from 'node:fs';
import { type RecordBatch, RecordBatchReader, RecordBatchStreamWriter, type Schema } from 'apache-arrow';
import { type Options as BarOptions, type Params as BarParams, SingleBar } from 'cli-progress';
import { Pool } from 'undici';
import type { BatchReply as ContractReply } from '../engine/commit.ts';
import { SluiceError } from '../engine/errors.ts';
import { FORMATS, type Format, formatOfPath, readFileBatches } from '../engine/formats/index.ts';
import { intFlag, parse } from './args.ts';

export const INGEST_USAGE = `usage: sluice ingest FILE… [--url http://127.0.0.1:8080] [--key K] [--batch-rows 8192]
                     [--concurrency 4] [--retries 6] [--backoff-ms 200] [--timeout-ms 120000]
                     [--format csv|ndjson|json|arrow|msgpack] [--quiet]
  Sends each file in batches to POST /v1/batches, then prints a JSON summary on stdout.
  Environment: SLUICE_URL, SLUICE_API_KEY, SLUICE_INGEST_RETRIES, SLUICE_INGEST_BACKOFF_MS.
  Exit 0 when every batch was accepted (201, or 200 for a repeat), 1 otherwise.`;

export interface IngestOptions {
  url: string;
  key?: string | undefined;
  /** Rows per request body. */
  batchRows?: number;
  /** Requests in flight at once. */
  concurrency?: number;
  /** Attempts per batch, the first included. */
  attempts?: number;
  /** First retry delay; doubles per attempt, with jitter, up to `maxBackoffMs`. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Longest wait for a reply's headers (the service replies once the batch is durable). */
  timeoutMs?: number;
  /** Overrides the format told by each file's extension. */
  format?: Format | undefined;
  /** 'bar' on a TTY, 'lines' prints a line every ~10 s, 'none' prints nothing. */
  progress?: 'auto' | 'bar' | 'lines' | 'none';
  progressStream?: NodeJS.WriteStream;
}

export interface FailedBatch {
  file: string;
  batch: number;
  rows: number;
  /** HTTP status of the last answer, or null when no answer came (network error). */
  status: number | null;
  /** The `error.code` of the service's reply, or the network error code. */
  code: string;
  message: string;
  attempts: number;
}

/** The per-batch counts of CONTRACT §3's reply, summed over every batch sent. */
export interface IngestSummary
  extends Pick<ContractReply, 'received' | 'accepted' | 'quarantined' | 'duplicates' | 'reasons' | 'alerts'> {
  files: number;
  batches: number;
  /** Rows read from the files and sent (acknowledged or not). */
  rows: number;
  /** Batches answered 201 (new) and 200 (an idempotent repeat of an earlier request). */
  created: number;
  repeated: number;
  retries: number;
  failed_batches: number;
  /** The first 100 failures. */
  failed: FailedBatch[];
  /** Why the ingest stopped before the end of its files, if it did. */
  aborted: string | null;
  elapsed_s: number;
  /** Rows the service acknowledged (`received`) per second of wall time. */
  rows_per_s: number;
}

/** The `POST /v1/batches` reply (CONTRACT §3). */
/** A reply as read off the wire: the contract's shape, but any field may be missing. */
type BatchReply = Partial<ContractReply>;

const ARROW_TYPE = FORMATS.arrow;
const MAX_FAILED_LISTED = 100;
/** Answers that say the request itself is wrong for this batch; anything else 4xx is wrong for all. */
const PER_BATCH_STATUSES = new Set([400, 413, 422]);
const RETRY_STATUSES = new Set([408, 425, 429, 500, 502, 503, 504]);

function envInt(name: string): string | undefined {
  const v = process.env[name];
  return v === undefined || v === '' ? undefined : v;
}

export async function ingestCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    url: { type: 'string' },
    key: { type: 'string' },
    'batch-rows': { type: 'string' },
    concurrency: { type: 'string' },
    retries: { type: 'string' },
    'backoff-ms': { type: 'string' },
    'timeout-ms': { type: 'string' },
    format: { type: 'string' },
    quiet: { type: 'boolean' },
  });
  if (positionals.length === 0) throw new SluiceError('USAGE', INGEST_USAGE);
  const url = (values.url as string | undefined) ?? process.env.SLUICE_URL ?? 'http://127.0.0.1:8080';
  try {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http');
  } catch {
    throw new SluiceError('USAGE', `--url must be an http(s) URL, not '${url}'`);
  }
  const format = values.format as string | undefined;
  if (format !== undefined && !(format in FORMATS)) {
    throw new SluiceError('USAGE', `--format is one of ${Object.keys(FORMATS).join(', ')}`);
  }
  for (const f of positionals) {
    if (!format && !formatOfPath(f))
      throw new SluiceError('USAGE', `cannot tell the format of ${f}; pass --format`);
  }
  const opts: IngestOptions = {
    url,
    key: (values.key as string | undefined) ?? (process.env.SLUICE_API_KEY || undefined),
    batchRows: intFlag(values['batch-rows'] as string | undefined, 'batch-rows', 8192, 1, 1_000_000),
    concurrency: intFlag(values.concurrency as string | undefined, 'concurrency', 4, 1, 256),
    attempts: intFlag(
      (values.retries as string | undefined) ?? envInt('SLUICE_INGEST_RETRIES'),
      'retries',
      6,
      1,
      100,
    ),
    backoffMs: intFlag(
      (values['backoff-ms'] as string | undefined) ?? envInt('SLUICE_INGEST_BACKOFF_MS'),
      'backoff-ms',
      200,
      0,
      600_000,
    ),
    timeoutMs: intFlag(values['timeout-ms'] as string | undefined, 'timeout-ms', 120_000, 100, 3_600_000),
    format: format as Format | undefined,
    progress: values.quiet ? 'none' : 'auto',
  };
  const summary = await ingestFiles(positionals, opts);
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  return summary.failed_batches === 0 && summary.aborted === null ? 0 : 1;
}

/** One request body: consecutive rows of one file. */
export interface Body {
  file: string;
  ordinal: number;
  rows: number;
  bytes: Uint8Array;
  key: string;
}

function sameSchema(a: Schema, b: Schema): boolean {
  if (a.fields.length !== b.fields.length) return false;
  return a.fields.every((f, i) => {
    const g = b.fields[i];
    return g !== undefined && f.name === g.name && String(f.type) === String(g.type);
  });
}

function encode(batches: RecordBatch[]): Uint8Array {
  return RecordBatchStreamWriter.writeAll(batches).toUint8Array(true);
}

/**
 * A file's bodies of `batchRows` rows (fewer at the end, or where the schema changes): larger
 * record batches are sliced, smaller ones grouped into one multi-batch stream.
 */
export async function* fileBodies(path: string, format: Format, batchRows: number): AsyncGenerator<Body> {
  const real = realpathSync(path);
  const fileId = createHash('sha256').update(real).digest('hex').slice(0, 32);
  let pending: RecordBatch[] = [];
  let pendingRows = 0;
  let ordinal = 0;
  const flush = (): Body | null => {
    if (pendingRows === 0) return null;
    const bytes = encode(pending);
    const digest = createHash('sha256').update(bytes).digest('hex');
    const key = `sluice-ingest-${createHash('sha256').update(`${fileId}\0${ordinal}\0${digest}`).digest('hex')}`;
    const body: Body = { file: path, ordinal: ordinal++, rows: pendingRows, bytes, key };
    pending = [];
    pendingRows = 0;
    return body;
  };
  for await (const batch of readFileBatches(path, format, { batchRows })) {
    const first = pending[0];
    if (first && !sameSchema(first.schema, batch.schema)) {
      const b = flush();
      if (b) yield b;
    }
    let at = 0;
    while (at < batch.numRows) {
      const take = Math.min(batchRows - pendingRows, batch.numRows - at);
      pending.push(at === 0 && take === batch.numRows ? batch : batch.slice(at, at + take));
      pendingRows += take;
      at += take;
      if (pendingRows >= batchRows) {
        const b = flush();
        if (b) yield b;
      }
    }
  }
  const b = flush();
  if (b) yield b;
}

/** Rows in a file, counted cheaply (lines for text, lazy batch headers for Arrow), or null. */
async function countRows(path: string, format: Format): Promise<number | null> {
  if (format === 'csv' || format === 'ndjson') {
    let lines = 0;
    let last = 0x0a;
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
      const buf = chunk as Buffer;
      for (let i = buf.indexOf(0x0a); i !== -1; i = buf.indexOf(0x0a, i + 1)) lines++;
      if (buf.length) last = buf[buf.length - 1] as number;
    }
    if (last !== 0x0a) lines++;
    return format === 'csv' ? Math.max(0, lines - 1) : lines;
  }
  if (format === 'arrow') {
    let rows = 0;
    const reader = await RecordBatchReader.from(createReadStream(path, { highWaterMark: 1 << 20 }));
    for await (const b of reader) rows += b.numRows;
    return rows;
  }
  return null;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Retry-After as milliseconds: delta seconds or an HTTP date; null when absent or unreadable. */
function retryAfterMs(h: string | string[] | undefined): number | null {
  const v = Array.isArray(h) ? h[0] : h;
  if (!v) return null;
  if (/^\s*\d+(\.\d+)?\s*$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  return Number.isNaN(t) ? null : Math.max(0, t - Date.now());
}

function networkCode(e: unknown): string {
  const err = e as { code?: string; cause?: { code?: string }; name?: string };
  return err.code ?? err.cause?.code ?? err.name ?? 'NETWORK_ERROR';
}

type Outcome =
  | { ok: true; status: number; reply: BatchReply; attempts: number }
  | {
      ok: false;
      status: number | null;
      code: string;
      message: string;
      attempts: number;
      /** True when the failure says the service or the setup is wrong, not this batch. */
      fatal: boolean;
    };

class Progress {
  private bar: SingleBar | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly started = Date.now();
  rows = 0;
  total: number | null = null;
  failed = 0;

  constructor(
    mode: 'bar' | 'lines' | 'none',
    private readonly stream: NodeJS.WriteStream,
  ) {
    if (mode === 'bar') {
      const format = (options: BarOptions, params: BarParams) => this.line(options, params);
      this.bar = new SingleBar({ stream, format, hideCursor: true, fps: 5, barsize: 30, noTTYOutput: false });
      this.bar.start(1, 0);
    } else if (mode === 'lines') {
      this.timer = setInterval(() => this.stream.write(`sluice ingest: ${this.line(null, null)}\n`), 10_000);
      this.timer.unref();
    }
  }

  private line(options: BarOptions | null, params: BarParams | null): string {
    const secs = (Date.now() - this.started) / 1000;
    const rate = secs > 0 ? this.rows / secs : 0;
    const parts: string[] = [];
    if (options && params) {
      const size = options.barsize ?? 30;
      const frac = this.total ? Math.min(1, this.rows / this.total) : 0;
      const full = Math.round(frac * size);
      parts.push(
        this.total ? `${'█'.repeat(full)}${'░'.repeat(size - full)} ${(frac * 100).toFixed(0)}%` : '',
      );
    }
    parts.push(`${fmt(this.rows)}${this.total ? `/${fmt(this.total)}` : ''} rows`);
    parts.push(`${fmt(rate)} rows/s`);
    if (this.total && rate > 0) parts.push(`ETA ${Math.max(0, (this.total - this.rows) / rate).toFixed(0)}s`);
    if (this.failed) parts.push(`${this.failed} failed`);
    return parts.filter(Boolean).join(' | ');
  }

  update(): void {
    this.bar?.update(this.rows);
  }

  stop(): void {
    if (this.bar) {
      this.bar.update(this.rows);
      this.bar.stop();
    }
    if (this.timer) clearInterval(this.timer);
  }
}

function fmt(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return n.toFixed(0);
}

/** Sends the files' batches; the same code path for `sluice ingest`, `sluice demo` and the tests. */
export async function ingestFiles(files: string[], opts: IngestOptions): Promise<IngestSummary> {
  const batchRows = opts.batchRows ?? 8192;
  const concurrency = opts.concurrency ?? 4;
  const attempts = opts.attempts ?? 6;
  const backoff = opts.backoffMs ?? 200;
  const maxBackoff = opts.maxBackoffMs ?? 30_000;
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const base = new URL(opts.url);
  const path = `${base.pathname.replace(/\/+$/, '')}/v1/batches`;
  const stream = opts.progressStream ?? process.stderr;
  const mode =
    opts.progress === undefined || opts.progress === 'auto'
      ? stream.isTTY
        ? 'bar'
        : 'lines'
      : opts.progress;
  const pool = new Pool(base.origin, {
    connections: concurrency,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    connectTimeout: Math.min(timeoutMs, 10_000),
  });

  const s: IngestSummary = {
    files: files.length,
    batches: 0,
    rows: 0,
    received: 0,
    accepted: 0,
    quarantined: 0,
    duplicates: 0,
    reasons: {},
    alerts: 0,
    created: 0,
    repeated: 0,
    retries: 0,
    failed_batches: 0,
    failed: [],
    aborted: null,
    elapsed_s: 0,
    rows_per_s: 0,
  };
  const started = process.hrtime.bigint();
  const progress = new Progress(mode, stream);
  const formats = files.map((f) => {
    const fmtOf = opts.format ?? formatOfPath(f);
    if (!fmtOf) throw new SluiceError('USAGE', `cannot tell the format of ${f}; pass --format`);
    try {
      statSync(f);
    } catch (e) {
      throw new SluiceError('FILE_UNREADABLE', `${f}: ${(e as Error).message}`);
    }
    return fmtOf;
  });
  if (mode === 'bar') {
    // the total is only for the ETA: count in the background, while sending
    void Promise.all(files.map((f, i) => countRows(f, formats[i] as Format)))
      .then((counts) => {
        if (counts.every((c) => c !== null)) progress.total = counts.reduce((a, c) => a + (c ?? 0), 0);
      })
      .catch(() => {});
  }

  const headers: Record<string, string> = { 'content-type': ARROW_TYPE, accept: 'application/json' };
  if (opts.key) headers.authorization = `Bearer ${opts.key}`;

  const send = async (body: Body): Promise<Outcome> => {
    let last: Outcome | null = null;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      let wait: number | null = null;
      try {
        const res = await pool.request({
          path,
          method: 'POST',
          headers: { ...headers, 'idempotency-key': body.key },
          body: body.bytes,
        });
        const text = await res.body.text();
        if (res.statusCode === 200 || res.statusCode === 201) {
          let reply: BatchReply;
          try {
            reply = JSON.parse(text) as BatchReply;
          } catch {
            return {
              ok: false,
              status: res.statusCode,
              code: 'REPLY_UNPARSEABLE',
              message: text.slice(0, 200),
              attempts: attempt,
              fatal: true,
            };
          }
          return { ok: true, status: res.statusCode, reply, attempts: attempt };
        }
        let code = `HTTP_${res.statusCode}`;
        let message = text.slice(0, 500);
        try {
          const err = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
          if (err?.code) code = err.code;
          if (err?.message) message = err.message;
        } catch {
          // not JSON: keep the status and the text
        }
        const retryable = RETRY_STATUSES.has(res.statusCode) || res.statusCode >= 500;
        last = {
          ok: false,
          status: res.statusCode,
          code,
          message,
          attempts: attempt,
          fatal: !PER_BATCH_STATUSES.has(res.statusCode),
        };
        if (!retryable) return last;
        wait = retryAfterMs(res.headers['retry-after']);
      } catch (e) {
        last = {
          ok: false,
          status: null,
          code: networkCode(e),
          message: (e as Error).message,
          attempts: attempt,
          fatal: true,
        };
      }
      if (attempt === attempts) break;
      s.retries++;
      // exponential backoff with equal jitter; a Retry-After is a floor
      const exp = Math.min(maxBackoff, backoff * 2 ** (attempt - 1));
      const delay = exp / 2 + Math.random() * (exp / 2);
      await sleep(Math.min(Math.max(delay, wait ?? 0), Math.max(maxBackoff, 60_000)));
    }
    return last as Outcome;
  };

  const record = (body: Body, o: Outcome) => {
    if (o.ok) {
      if (o.status === 201) s.created++;
      else s.repeated++;
      const r = o.reply;
      s.received += r.received ?? 0;
      s.accepted += r.accepted ?? 0;
      s.quarantined += r.quarantined ?? 0;
      s.duplicates += r.duplicates ?? 0;
      s.alerts += r.alerts ?? 0;
      for (const [k, v] of Object.entries(r.reasons ?? {})) s.reasons[k] = (s.reasons[k] ?? 0) + v;
      return;
    }
    s.failed_batches++;
    progress.failed++;
    if (s.failed.length < MAX_FAILED_LISTED) {
      s.failed.push({
        file: body.file,
        batch: body.ordinal,
        rows: body.rows,
        status: o.status,
        code: o.code,
        message: o.message,
        attempts: o.attempts,
      });
    }
    if (o.fatal && s.aborted === null) {
      s.aborted = `batch ${body.ordinal} of ${body.file} failed with ${o.code} after ${o.attempts} attempt(s); stopped sending`;
    }
  };

  // a slot per request in flight; the reader waits for one before it reads the next body
  const inflight = new Set<Promise<void>>();
  try {
    outer: for (let i = 0; i < files.length; i++) {
      const file = files[i] as string;
      let ordinal = 0;
      try {
        for await (const body of fileBodies(file, formats[i] as Format, batchRows)) {
          if (s.aborted !== null) break outer;
          s.batches++;
          ordinal = body.ordinal + 1;
          const p: Promise<void> = send(body).then((o) => {
            record(body, o);
            s.rows += body.rows;
            progress.rows += body.rows;
            progress.update();
            inflight.delete(p);
          });
          inflight.add(p);
          while (inflight.size >= concurrency) await Promise.race(inflight);
        }
      } catch (e) {
        // a file that cannot be read on: what was sent stands; report it, and go on with the next file
        if (!(e instanceof SluiceError)) throw e;
        const body: Body = { file, ordinal, rows: 0, bytes: new Uint8Array(0), key: '' };
        record(body, {
          ok: false,
          status: null,
          code: e.code,
          message: e.message,
          attempts: 0,
          fatal: false,
        });
      }
    }
    await Promise.all(inflight);
  } finally {
    await Promise.allSettled(inflight);
    progress.stop();
    await pool.close().catch(() => {});
  }
  s.elapsed_s = Number(process.hrtime.bigint() - started) / 1e9;
  s.rows_per_s = s.elapsed_s > 0 ? Math.round(s.received / s.elapsed_s) : 0;
  s.elapsed_s = Math.round(s.elapsed_s * 1000) / 1000;
  return s;
}
