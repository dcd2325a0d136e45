/**
 * The chaos client: generated batches (the project's generator, deterministic by seed) in every
 * body format, sent with an Idempotency-Key each and retried as a real client would (429, 503,
 * 507 and connection errors, with backoff), by a few concurrent senders, against a service that
 * keeps dying under it. It records every acknowledgement and anything it did not expect.
 */
import { createHash } from 'node:crypto';
import { Agent, request } from 'undici';
import { FORMATS } from '../../engine/formats/index.ts';
import { rng, TransactionGenerator } from '../../engine/generator.ts';
import { type BodyFormat, encodeRows } from '../../engine/generator-formats.ts';
import { Kernels } from '../../engine/kernels.ts';
import { loadReferenceData } from '../../engine/reference-data.ts';

export interface Batch {
  index: number;
  idempotencyKey: string;
  format: BodyFormat;
  contentType: string;
  body: Uint8Array;
  rows: number;
  sha256: string;
  txIds: string[];
}

export interface BatchPlan {
  seed: number;
  batches: number;
  minRows: number;
  maxRows: number;
  /** Event times fall in the `days` days before `now`. */
  days: number;
  accounts: number;
  now: number;
}

const BODY_FORMATS: BodyFormat[] = ['arrow', 'ndjson', 'csv', 'json', 'msgpack'];

/** The same batches, byte for byte, for the same plan. */
export function generateBatches(plan: BatchPlan): Batch[] {
  const r = rng(plan.seed ^ 0x5eed);
  const sizes = Array.from(
    { length: plan.batches },
    () => plan.minRows + Math.floor(r() * (plan.maxRows - plan.minRows + 1)),
  );
  const reference = loadReferenceData();
  // Arrow cannot carry the text-only bad kinds: generating for it keeps every format able to.
  const gen = new TransactionGenerator(new Kernels(reference), reference, {
    rows: sizes.reduce((a, b) => a + b, 0),
    seed: plan.seed,
    days: plan.days,
    accounts: plan.accounts,
    now: plan.now,
    format: 'arrow',
  });
  return sizes.map((n, index) => {
    const rows = [];
    for (let k = 0; k < n; k++) {
      const g = gen.next();
      if (!g) break;
      rows.push(g.row);
    }
    const format = BODY_FORMATS[Math.floor(r() * BODY_FORMATS.length)] as BodyFormat;
    const body = encodeRows(rows, format);
    return {
      index,
      idempotencyKey: `chaos-${plan.seed}-${index}`,
      format,
      contentType: FORMATS[format],
      body,
      rows: rows.length,
      sha256: createHash('sha256').update(body).digest('hex'),
      txIds: rows.map((row) => row.tx_id),
    };
  });
}

export interface Ack {
  status: 201 | 200;
  // biome-ignore lint/suspicious/noExplicitAny: the CONTRACT reply, checked field by field
  reply: any;
  attempts: number;
}

export interface DriverOptions {
  url: string;
  /** Sent as `Authorization: Bearer <key>`. */
  key: string;
  concurrency: number;
  /** Longest pause between retries of one batch. */
  maxBackoffMs?: number;
}

/** Answers a real client retries: overload, draining, a full volume, or no service at all. */
const RETRY_STATUS = new Set([429, 503, 507]);

export class IngestDriver {
  /** First acknowledgement per batch index, and every repeat's reply for comparison. */
  readonly acked = new Map<number, Ack>();
  readonly repeats: { index: number; reply: unknown }[] = [];
  /** What made a batch be retried, by status or error code. */
  readonly retried: Record<string, number> = {};
  /** Anything else (a 500, a 400): the test expects none. */
  readonly unexpected: { index: number; status: number; body: string }[] = [];
  private next = 0;
  private stopping = false;
  private readonly agent = new Agent({ keepAliveTimeout: 1000, connect: { timeout: 2000 } });

  constructor(
    private readonly batches: Batch[],
    private readonly opts: DriverOptions,
  ) {}

  /** Batches sent so far, in the order they were started. */
  get started(): number {
    return this.next;
  }

  /** Sends batches until all are acknowledged, or `stop()` is called (batches in flight still finish). */
  async run(): Promise<void> {
    await Promise.all(Array.from({ length: this.opts.concurrency }, () => this.sender()));
    await this.agent.close();
  }

  stop(): void {
    this.stopping = true;
  }

  private async sender(): Promise<void> {
    while (!this.stopping && this.next < this.batches.length) {
      const batch = this.batches[this.next++] as Batch;
      await this.deliver(batch);
    }
  }

  private async deliver(batch: Batch): Promise<void> {
    const max = this.opts.maxBackoffMs ?? 400;
    for (let attempt = 1; ; attempt++) {
      let why: string;
      try {
        const res = await request(`${this.opts.url}/v1/batches`, {
          method: 'POST',
          body: batch.body,
          headers: {
            'content-type': batch.contentType,
            'idempotency-key': batch.idempotencyKey,
            authorization: `Bearer ${this.opts.key}`,
          },
          dispatcher: this.agent,
          headersTimeout: 60_000,
          bodyTimeout: 60_000,
        });
        const text = await res.body.text();
        if (res.statusCode === 201 || res.statusCode === 200) {
          const reply = JSON.parse(text);
          if (this.acked.has(batch.index)) this.repeats.push({ index: batch.index, reply });
          else this.acked.set(batch.index, { status: res.statusCode, reply, attempts: attempt });
          return;
        }
        if (!RETRY_STATUS.has(res.statusCode)) {
          this.unexpected.push({ index: batch.index, status: res.statusCode, body: text.slice(0, 500) });
          return;
        }
        why = String(res.statusCode);
      } catch (e) {
        const err = e as { code?: string; cause?: { code?: string } };
        why = err.code ?? err.cause?.code ?? (e as Error).message;
      }
      this.retried[why] = (this.retried[why] ?? 0) + 1;
      const backoff = Math.min(max, 25 * 2 ** Math.min(attempt, 5));
      await new Promise((r) => setTimeout(r, backoff / 2 + Math.random() * (backoff / 2)));
    }
  }
}
