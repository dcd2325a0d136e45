/**
 * The ingest pipeline: admission (bounded in-flight work) on the main thread, then the worker pool,
 * where each batch is parsed, validated and committed (engine/commit.ts). Runs without HTTP
 * (the CLI and tests drive it directly); api/ only adapts it.
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { Piscina } from 'piscina';
import { rulesOf } from './aml/rule-names.ts';
import type { AmlShards } from './aml/shards.ts';
import { REASON } from './codes.ts';
import { workerFile } from './worker-file.ts';

export type { BatchReply, IngestOutcome, Quality } from './commit.ts';

import { type BatchReply, type CommitMeta, commitDurably, type IngestOutcome } from './commit.ts';
import { DEFAULT_AML_REPLY_WAIT_MS } from './config.ts';
import { SluiceError } from './errors.ts';
import type { Format } from './formats/index.ts';
import type { MemoryGuard } from './memory-guard.ts';
import { mergeResults } from './merge.ts';
import { ROW_BITS, type Store } from './store.ts';
import { claimsOf } from './tx-claims.ts';
import {
  type Committed,
  createWork,
  type WorkerSettings,
  type WorkFailure,
  type WorkResult,
  type WorkTask,
} from './worker.ts';

export interface PipelineOptions extends WorkerSettings {
  workers?: number;
  /** Bodies up to this size are processed on the main thread: a pool round trip costs more. */
  inlineBytes?: number;
  /**
   * Arrow bodies from this size on are split across two workers. Off by default: measured on
   * 64k-row bodies one at a time, the merge (re-encoding silver, cloning results) cost more than
   * the second core gained (157k vs 192k tx/s), since the roller already keeps that core busy.
   */
  splitBytes?: number;
  /** Requests admitted at once (parsing, validating or committing); beyond it, 429. */
  maxInflight?: number;
  /**
   * Requests waiting for a pool worker. Beyond it a body for the pool is shed (429): admitting it
   * would only lengthen the wait of everything behind it (latency is queue length / throughput).
   * Bodies small enough to run on this thread are not queued, so not refused by it.
   */
  maxQueued?: number;
  now?: () => number;
  /** AML scoring; without it rows score 0 (tests of the layers alone). */
  aml?: AmlShards;
  /**
   * How long a batch's reply waits for the AML shards to score it (they count its alerts). The
   * batch is durable by then; past the wait it is acknowledged with `aml_pending` instead of
   * holding the client, e.g. while a full volume keeps a shard from writing its outputs.
   */
  amlReplyWaitMs?: number;
  /**
   * The sanctions lists in force (the service's `SanctionsList`, reloaded when the files change):
   * each task carries its version, and a worker holding another rereads `sanctionsPaths`.
   */
  sanctions?: { readonly version: string };
  /** The memory bound: above it, new work is shed with 503 MEMORY_PRESSURE. */
  memory?: MemoryGuard;
}

export interface IngestRequest {
  body: Buffer;
  format: Format;
  contentType: string;
  idempotencyKey?: string;
  keyId?: string;
  client?: string;
}

/** A reviewer's one-row batch (Pipeline.ingestReview). */
export interface ReviewIngest extends IngestRequest {
  work: NonNullable<WorkTask['review']>;
  hook: NonNullable<CommitMeta['review']>;
  check: (res: WorkResult) => void;
}

export interface RowVerdict {
  tx_id: string | null;
  status: 'valid' | 'invalid';
  reasons: string[];
  aml: { score: number; rules: string[] };
}

const DUP = 1 << REASON.DUPLICATE_TX;

function unwrap(res: WorkResult | WorkFailure): WorkResult {
  if (!res.ok) throw new SluiceError(res.code, res.message);
  return res;
}

/** An owned ArrayBuffer holding exactly the body, so it can be transferred to a worker. */
function ownBuffer(body: Buffer): ArrayBuffer {
  if (
    body.byteOffset === 0 &&
    body.byteLength === body.buffer.byteLength &&
    body.buffer instanceof ArrayBuffer
  ) {
    return body.buffer;
  }
  return body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer;
}

export class Pipeline {
  readonly pool: Piscina;
  readonly maxInflight: number;
  readonly maxQueued: number;
  private inflight = 0;
  private draining = false;
  private readonly now: () => number;
  private readonly inlineBytes: number;
  private readonly splitBytes: number;
  private readonly threads: number;
  private readonly inline: (task: WorkTask) => WorkResult | WorkFailure;
  private readonly aml: AmlShards | undefined;
  private readonly amlReplyWaitMs: number;
  private readonly sanctions: { readonly version: string } | undefined;
  private readonly memory: MemoryGuard | undefined;

  constructor(
    readonly store: Store,
    opts: PipelineOptions = {},
  ) {
    const threads = opts.workers ?? Math.max(1, os.availableParallelism());
    this.maxInflight = opts.maxInflight ?? 64;
    this.maxQueued = opts.maxQueued ?? 16;
    this.amlReplyWaitMs = opts.amlReplyWaitMs ?? DEFAULT_AML_REPLY_WAIT_MS;
    this.now = opts.now ?? Date.now;
    const settings: WorkerSettings = {
      reference: opts.reference,
      ratesPath: opts.ratesPath,
      maxFutureMs: opts.maxFutureMs,
      maxRows: opts.maxRows ?? ROW_BITS - 1,
      dataDir: store.dataDir,
      rulesPath: opts.rulesPath,
      sanctionsPaths: opts.sanctionsPaths,
    };
    this.inlineBytes = opts.inlineBytes ?? 16 * 1024;
    this.splitBytes = opts.splitBytes ?? Number.POSITIVE_INFINITY;
    this.threads = threads;
    this.aml = opts.aml;
    this.sanctions = opts.sanctions;
    this.memory = opts.memory;
    this.inline = createWork(settings);
    this.pool = new Piscina({
      ...workerFile('./worker', import.meta.url),
      minThreads: threads,
      maxThreads: threads,
      // Two tasks per worker: while one batch's commit waits for LMDB's writer and fsync, the
      // worker parses and validates the next. Work itself never interleaves (a task's work is
      // synchronous and builds its result in fresh buffers), only the awaits of commits do. With
      // one, the machine sat 8 % idle in scenario (b); with two, 246-256k tx/s against 236-237k.
      concurrentTasksPerWorker: 2,
      // The queue is bounded by admission (maxInflight) before it, so piscina's own is unlimited.
      workerData: settings,
    });
    this.pool.on('error', (e: unknown) => {
      process.emitWarning(`sluice worker error: ${(e as Error).message}`);
    });
  }

  /** Batches and validations admitted and not yet answered (cheap: `load` also summarises piscina's histograms). */
  get inflightCount(): number {
    return this.inflight;
  }

  get load(): { inflight: number; max: number; queued: number; utilization: number } {
    return {
      inflight: this.inflight,
      max: this.maxInflight,
      queued: this.pool.queueSize,
      utilization: this.pool.utilization,
    };
  }

  get overloaded(): boolean {
    return this.inflight >= this.maxInflight;
  }

  /** True while memory is above its configured bound. */
  get memoryOver(): boolean {
    return this.memory?.over ?? false;
  }

  /**
   * Why new work of `bytes` would be refused now, or null. The HTTP layer asks before reading a
   * body (with its Content-Length, if any), so a request that will be shed costs no buffering;
   * `admit` asks again with the body in hand, and counts it in.
   */
  shedCode(bytes = Number.POSITIVE_INFINITY): 'SHUTTING_DOWN' | 'OVERLOADED' | 'MEMORY_PRESSURE' | null {
    if (this.draining) return 'SHUTTING_DOWN';
    if (this.inflight >= this.maxInflight) return 'OVERLOADED';
    if (bytes > this.inlineBytes && this.pool.queueSize >= this.maxQueued) return 'OVERLOADED';
    if (this.memoryOver) return 'MEMORY_PRESSURE';
    return null;
  }

  private admit(bytes: number): void {
    const shed = this.shedCode(bytes);
    if (shed) throw new SluiceError(shed);
    this.inflight++;
  }

  private async work(task: WorkTask): Promise<WorkResult> {
    task.rulesHash = this.aml?.rulesHash;
    task.sanctionsVersion = this.sanctions?.version;
    if (task.body.byteLength <= this.inlineBytes) return unwrap(this.inline(task));
    return unwrap((await this.pool.run(task, { transferList: [task.body] })) as WorkResult | WorkFailure);
  }

  /**
   * POST /v1/batches: persist, validate, stage, aggregate; resolves once durable and scored (the
   * reply counts the batch's alerts).
   */
  async ingest(req: IngestRequest): Promise<IngestOutcome> {
    if (req.idempotencyKey) {
      const prior = this.store.idempotency.get(req.idempotencyKey) as { reply: BatchReply } | undefined;
      if (prior) return this.repeat(prior.reply);
    }
    this.admit(req.body.byteLength);
    try {
      const outcome = await this.commitPath(req);
      if (outcome.status === 200) return this.repeat(outcome.reply);
      return await this.scored(outcome);
    } finally {
      this.inflight--;
    }
  }

  /** An idempotent repeat: the first reply, with the alerts the shards found for that batch. */
  private repeat(reply: BatchReply): IngestOutcome {
    const rec = this.store.batches.get(reply.batch_id) as { aml_alerts?: Record<string, number> } | undefined;
    const alerts = Object.values(rec?.aml_alerts ?? {}).reduce((a, b) => a + b, 0);
    return { status: 200, reply: { ...reply, alerts } };
  }

  /**
   * Hands a committed batch to the AML shards and waits for them, up to `amlReplyWaitMs`: the
   * reply counts its alerts. Past the wait the reply says `aml_pending` (its alerts are in
   * `GET /v1/alerts` once the shards have scored it).
   */
  private async scored(outcome: IngestOutcome): Promise<IngestOutcome> {
    if (this.aml && outcome.seq !== undefined) {
      this.aml.notify(outcome.seq);
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<null>((resolve) => {
        timer = setTimeout(() => resolve(null), this.amlReplyWaitMs);
      });
      const alerts = await Promise.race([this.aml.scored(outcome.seq), late]);
      clearTimeout(timer);
      if (alerts === null) outcome.reply.aml_pending = true;
      else outcome.reply.alerts = alerts;
    }
    return outcome;
  }

  private async commitPath(req: IngestRequest): Promise<IngestOutcome> {
    const meta: CommitMeta = {
      batchId: randomUUID(),
      receivedAt: this.now(),
      format: req.format,
      contentType: req.contentType,
      idempotencyKey: req.idempotencyKey,
      keyId: req.keyId,
      client: req.client,
    };
    const body = ownBuffer(req.body);
    const task: WorkTask = {
      kind: 'ingest',
      body,
      format: req.format,
      batchId: meta.batchId,
      receivedAt: meta.receivedAt,
      rulesHash: this.aml?.rulesHash,
      sanctionsVersion: this.sanctions?.version,
    };
    if (body.byteLength <= this.inlineBytes) {
      const res = unwrap(this.inline(task));
      const tc = performance.now();
      const outcome = await commitDurably(this.store, meta, res);
      if (res.stages) outcome.stages = { ...res.stages, persistMs: performance.now() - tc };
      return outcome;
    }
    if (req.format === 'arrow' && body.byteLength >= this.splitBytes && this.threads >= 2) {
      return await this.ingestSplit(task, meta);
    }
    // Large bodies are parsed, validated AND committed in a pool worker: the main thread only
    // speaks HTTP, and nothing large crosses back to it.
    const out = (await this.pool.run({ ...task, commit: meta }, { transferList: [body] })) as
      | Committed
      | WorkFailure;
    if (!out.ok) throw new SluiceError(out.code, out.message);
    // lmdb-js keeps this thread's read snapshot until a timer fires: renew it, so a read right
    // after this 201 (GET /v1/batches/{id}) sees the batch another thread just committed.
    this.store.env.resetReadTxn();
    return out.outcome;
  }

  /**
   * One large Arrow body on both cores: each worker takes half of its record batches, the halves
   * are merged here (cheap: lists and typed arrays), and one worker commits the whole batch in one
   * transaction, as for any other body.
   */
  private async ingestSplit(task: WorkTask, meta: CommitMeta): Promise<IngestOutcome> {
    const copy = task.body.slice(0);
    const [a, b] = (await Promise.all([
      this.pool.run({ ...task, part: { index: 0, of: 2 } }, { transferList: [task.body] }),
      this.pool.run({ ...task, body: copy, part: { index: 1, of: 2 } }, { transferList: [copy] }),
    ])) as (WorkResult | WorkFailure)[];
    const merged = mergeResults(unwrap(a as WorkResult | WorkFailure), unwrap(b as WorkResult | WorkFailure));
    const out = (await this.pool.run(
      { ...task, kind: 'commit', body: merged.body, commit: meta, result: merged },
      { transferList: [merged.body] },
    )) as Committed | WorkFailure;
    if (!out.ok) throw new SluiceError(out.code, out.message);
    this.store.env.resetReadTxn(); // as above
    return out.outcome;
  }

  /**
   * A quarantined row a reviewer accepts (engine/review/resolve.ts): a one-row internal batch
   * through the same work, commit and AML scoring as any batch. Always on this thread, since the
   * commit carries the review hook, a closure no pool thread could receive. `check` sees the
   * work's verdict before anything is written, and refuses a row still invalid by throwing.
   */
  async ingestReview(req: ReviewIngest): Promise<IngestOutcome> {
    this.admit(0); // always on this thread
    try {
      const meta: CommitMeta = {
        batchId: randomUUID(),
        receivedAt: this.now(),
        format: req.format,
        contentType: req.contentType,
        keyId: req.keyId,
        client: req.client,
        review: req.hook,
      };
      const res = unwrap(
        this.inline({
          kind: 'ingest',
          body: ownBuffer(req.body),
          format: req.format,
          batchId: meta.batchId,
          receivedAt: meta.receivedAt,
          rulesHash: this.aml?.rulesHash,
          sanctionsVersion: this.sanctions?.version,
          review: req.work,
        }),
      );
      req.check(res);
      return await this.scored(await commitDurably(this.store, meta, res));
    } finally {
      this.inflight--;
    }
  }

  /** POST /v1/validate: verdicts against stored history, persisting nothing. */
  async validate(body: Buffer, format: Format): Promise<RowVerdict[]> {
    this.admit(body.byteLength);
    try {
      const res = await this.work({
        kind: 'validate',
        body: ownBuffer(body),
        format,
        batchId: '',
        receivedAt: this.now(),
      });
      const out: RowVerdict[] = new Array(res.received);
      const qByRow = new Map(res.quarantine.map((q) => [q.row, q]));
      const held = claimsOf(
        this.store,
        res.txIds.map((id, i) => (res.claims[i] === 1 ? (id as string) : null)),
      );
      for (let i = 0; i < res.received; i++) {
        let reasons = qByRow.get(i)?.reasons ?? [];
        const seenBefore = held[i] !== undefined;
        if (((res.mask[i] as number) & DUP) !== 0 || seenBefore) {
          reasons = [...reasons, 'DUPLICATE_TX'].sort(
            (a, b) => REASON[a as keyof typeof REASON] - REASON[b as keyof typeof REASON],
          );
        }
        out[i] = {
          tx_id: res.txIds[i] ?? null,
          status: reasons.length ? 'invalid' : 'valid',
          reasons,
          aml: { score: 0, rules: [] },
        };
      }
      if (this.aml && res.aml) {
        const scored = await this.aml.validate(res.aml);
        for (let i = 0; i < res.received; i++) {
          const r = scored.rules[i] as number;
          (out[i] as RowVerdict).aml = { score: scored.score[i] as number, rules: r ? rulesOf(r) : [] };
        }
      }
      return out;
    } finally {
      this.inflight--;
    }
  }

  /** Stops admitting, waits for in-flight work, then stops the workers. */
  async drain(deadlineMs = 10_000): Promise<void> {
    this.draining = true;
    const until = Date.now() + deadlineMs;
    while (this.inflight > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    await this.pool.destroy();
  }

  get isDraining(): boolean {
    return this.draining;
  }
}
