/**
 * The ingest pipeline on the main thread: admission (bounded in-flight work), the worker pool, and
 * the one LMDB transaction that makes a batch durable in every layer at once. Runs without HTTP
 * (the CLI and tests drive it directly); api/ only adapts it.
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { Piscina } from 'piscina';
import { REASON } from './codes.ts';
import { SluiceError } from './errors.ts';
import type { Format } from './formats/index.ts';
import { type AccountPartials, encodePartials, partialKey } from './gold.ts';
import { ROW_BITS, type StagedSilver, type Store } from './store.ts';
import {
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
  /** Requests admitted at once (parsing, validating or committing); beyond it, 429. */
  maxInflight?: number;
  now?: () => number;
}

export interface Quality {
  completeness: number;
  validity: number;
  uniqueness: number;
  timeliness_ms: number | null;
}

export interface BatchReply {
  batch_id: string;
  status: 'completed';
  received: number;
  accepted: number;
  quarantined: number;
  duplicates: number;
  reasons: Record<string, number>;
  alerts: number;
  quality: Quality;
}

export interface IngestRequest {
  body: Buffer;
  format: Format;
  contentType: string;
  idempotencyKey?: string;
  keyId?: string;
  client?: string;
}

export interface IngestOutcome {
  status: 201 | 200;
  reply: BatchReply;
}

export interface RowVerdict {
  tx_id: string | null;
  status: 'valid' | 'invalid';
  reasons: string[];
  aml: { score: number; rules: string[] };
}

const REQUIRED_FIELDS = 7;
const DUP = 1 << REASON.DUPLICATE_TX;

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

const ratio = (num: number, den: number) => (den === 0 ? 1 : Math.round((num / den) * 1e6) / 1e6);

export class Pipeline {
  readonly pool: Piscina;
  readonly maxInflight: number;
  private inflight = 0;
  private draining = false;
  private readonly now: () => number;
  private readonly inlineBytes: number;
  private readonly inline: (task: WorkTask) => WorkResult | WorkFailure;

  constructor(
    readonly store: Store,
    opts: PipelineOptions = {},
  ) {
    const threads = opts.workers ?? Math.max(1, os.availableParallelism());
    this.maxInflight = opts.maxInflight ?? 64;
    this.now = opts.now ?? Date.now;
    const settings: WorkerSettings = {
      reference: opts.reference,
      ratesPath: opts.ratesPath,
      maxFutureMs: opts.maxFutureMs,
      maxRows: opts.maxRows ?? ROW_BITS - 1,
    };
    this.inlineBytes = opts.inlineBytes ?? 16 * 1024;
    this.inline = createWork(settings);
    this.pool = new Piscina({
      filename: new URL('./worker.ts', import.meta.url).href,
      execArgv: ['--import', 'tsx'],
      minThreads: threads,
      maxThreads: threads,
      // The queue is bounded by admission (maxInflight) before it, so piscina's own is unlimited.
      workerData: settings,
    });
    this.pool.on('error', (e: unknown) => {
      process.emitWarning(`sluice worker error: ${(e as Error).message}`);
    });
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

  private admit(): void {
    if (this.draining) throw new SluiceError('SHUTTING_DOWN');
    if (this.inflight >= this.maxInflight) throw new SluiceError('OVERLOADED');
    this.inflight++;
  }

  private async work(task: WorkTask): Promise<WorkResult> {
    const res =
      task.body.byteLength <= this.inlineBytes
        ? this.inline(task)
        : ((await this.pool.run(task, { transferList: [task.body] })) as WorkResult | WorkFailure);
    if (!res.ok) throw new SluiceError(res.code, res.message);
    return res;
  }

  /** POST /v1/batches: persist, validate, stage, aggregate; resolves once durable. */
  async ingest(req: IngestRequest): Promise<IngestOutcome> {
    if (req.idempotencyKey) {
      const prior = this.store.idempotency.get(req.idempotencyKey) as { reply: BatchReply } | undefined;
      if (prior) return { status: 200, reply: prior.reply };
    }
    this.admit();
    try {
      const receivedAt = this.now();
      const batchId = randomUUID();
      const res = await this.work({
        kind: 'ingest',
        body: ownBuffer(req.body),
        format: req.format,
        batchId,
        receivedAt,
      });
      let outcome: IngestOutcome | undefined;
      await this.store.env.transaction(() => {
        outcome = this.commit(req, res, batchId, receivedAt);
      });
      return outcome as IngestOutcome;
    } finally {
      this.inflight--;
    }
  }

  /**
   * Runs inside the write transaction, synchronously: reads see every earlier batch's writes, so
   * the tx-id check and claim cannot race another batch.
   */
  private commit(req: IngestRequest, res: WorkResult, batchId: string, receivedAt: number): IngestOutcome {
    const s = this.store;
    if (req.idempotencyKey) {
      const prior = s.idempotency.get(req.idempotencyKey) as { reply: BatchReply } | undefined;
      if (prior) return { status: 200, reply: prior.reply }; // a concurrent repeat won the race
    }
    const seq = s.nextSeq();
    const n = res.received;
    const dup = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      if ((res.mask[i] as number) & DUP) {
        dup[i] = 1;
        continue;
      }
      if (!res.claims[i]) continue;
      // One B-tree descent: the put fails, synchronously, when the id is already there.
      const claimed = s.txids.putSync(res.txIds[i] as string, seq * ROW_BITS + i, { noOverwrite: true });
      if (!(claimed as unknown as boolean)) dup[i] = 1;
    }
    let accepted = 0;
    let duplicates = 0;
    const drop: Record<string, number[]> = {};
    const goldGroups = new Map<number, { count: number; sum: bigint; min: bigint; max: bigint }>();
    const goldAccounts = new Map<number, { count: number; debit: bigint; credit: bigint }>();
    for (let i = 0; i < n; i++) {
      if (dup[i]) {
        duplicates++;
        const part = res.silverPart[i] as number;
        if (part >= 0) {
          const date = res.silver[part]?.date as string;
          let list = drop[date];
          if (!list) {
            list = [];
            drop[date] = list;
          }
          list.push(res.silverPos[i] as number);
        }
        continue;
      }
      if (res.mask[i] !== 0) continue;
      accepted++;
      const amt = res.amount[i] as bigint;
      const g = res.rowGroup[i] as number;
      const agg = goldGroups.get(g);
      if (!agg) goldGroups.set(g, { count: 1, sum: amt, min: amt, max: amt });
      else {
        agg.count++;
        agg.sum += amt;
        if (amt < agg.min) agg.min = amt;
        if (amt > agg.max) agg.max = amt;
      }
      const a = res.rowAccount[i] as number;
      const acc = goldAccounts.get(a) ?? { count: 0, debit: 0n, credit: 0n };
      acc.count++;
      if (res.credit[i]) acc.credit += amt;
      else acc.debit += amt;
      goldAccounts.set(a, acc);
    }
    const reasons: Record<string, number> = {};
    let quarantined = 0;
    const quarantineIds: string[] = [];
    for (const q of res.quarantine) {
      if (dup[q.row]) continue;
      quarantined++;
      for (const r of q.reasons) reasons[r] = (reasons[r] ?? 0) + 1;
      const id = `${batchId}:${q.row}`;
      quarantineIds.push(id);
      s.quarantine.put(id, {
        ...q,
        id,
        batch_id: batchId,
        status: 'open',
        received_at: new Date(receivedAt).toISOString(),
      });
    }

    for (const [g, agg] of goldGroups) {
      const key = `d|${res.groups[g]}`;
      const prev = s.gold.get(key) as { count: number; sum: string; min: string; max: string } | undefined;
      const next = prev
        ? {
            count: prev.count + agg.count,
            sum: (BigInt(prev.sum) + agg.sum).toString(),
            min: (BigInt(prev.min) < agg.min ? BigInt(prev.min) : agg.min).toString(),
            max: (BigInt(prev.max) > agg.max ? BigInt(prev.max) : agg.max).toString(),
          }
        : { count: agg.count, sum: agg.sum.toString(), min: agg.min.toString(), max: agg.max.toString() };
      s.gold.put(key, next);
    }
    if (goldAccounts.size > 0) {
      const m = goldAccounts.size;
      const partials: AccountPartials = {
        keys: new Array(m),
        count: new Int32Array(m),
        debit: new BigInt64Array(m),
        credit: new BigInt64Array(m),
      };
      let k = 0;
      for (const [a, acc] of goldAccounts) {
        partials.keys[k] = res.accounts[a] as string;
        partials.count[k] = acc.count;
        partials.debit[k] = acc.debit;
        partials.credit[k] = acc.credit;
        k++;
      }
      s.gold.put(partialKey(seq), encodePartials(partials));
    }
    const quality: Quality = {
      completeness: ratio(n * REQUIRED_FIELDS - res.missingRequired, n * REQUIRED_FIELDS),
      validity: ratio(accepted, n - duplicates),
      uniqueness: ratio(n - duplicates, n),
      timeliness_ms: res.timelinessP50Ms,
    };
    const day = new Date(receivedAt).toISOString().slice(0, 10);
    const qk = `q|${day}`;
    const dq = (s.gold.get(qk) as Record<string, number> | undefined) ?? {};
    s.gold.put(qk, {
      batches: (dq.batches ?? 0) + 1,
      received: (dq.received ?? 0) + n,
      accepted: (dq.accepted ?? 0) + accepted,
      quarantined: (dq.quarantined ?? 0) + quarantined,
      duplicates: (dq.duplicates ?? 0) + duplicates,
      required_cells: (dq.required_cells ?? 0) + n * REQUIRED_FIELDS,
      missing_cells: (dq.missing_cells ?? 0) + res.missingRequired,
      lateness_sum_ms: (dq.lateness_sum_ms ?? 0) + res.latenessSumMs,
      lateness_count: (dq.lateness_count ?? 0) + res.latenessCount,
    });

    if (res.silver.length > 0) {
      const staged: StagedSilver = { batchId, seq, parts: res.silver };
      if (Object.keys(drop).length > 0) staged.drop = drop;
      s.staging.put(seq, staged);
    }
    s.bronze.put(batchId, new Uint8Array(res.body));
    const reply: BatchReply = {
      batch_id: batchId,
      status: 'completed',
      received: n,
      accepted,
      quarantined,
      duplicates,
      reasons,
      alerts: 0,
      quality,
    };
    s.batches.put(batchId, {
      ...reply,
      seq,
      received_at: new Date(receivedAt).toISOString(),
      source: {
        content_type: req.contentType,
        format: req.format,
        bytes: res.body.byteLength,
        sha256: res.sha256,
        key_id: req.keyId ?? null,
        client: req.client ?? null,
        idempotency_key: req.idempotencyKey ?? null,
      },
      bronze: { key: batchId, bytes: res.body.byteLength },
      silver_staged: res.silver.map((p) => ({ date: p.date, rows: p.rows - (drop[p.date]?.length ?? 0) })),
      silver_files: [],
      quarantine_ids: quarantineIds,
    });
    if (req.idempotencyKey)
      s.idempotency.put(req.idempotencyKey, { batch_id: batchId, sha256: res.sha256, reply });
    return { status: 201, reply };
  }

  /** POST /v1/validate: verdicts against stored history, persisting nothing. */
  async validate(body: Buffer, format: Format): Promise<RowVerdict[]> {
    this.admit();
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
      for (let i = 0; i < res.received; i++) {
        let reasons = qByRow.get(i)?.reasons ?? [];
        const seenBefore = res.claims[i] === 1 && this.store.txids.get(res.txIds[i] as string) !== undefined;
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
