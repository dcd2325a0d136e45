/**
 * The main thread's side of the AML shards: starts one worker thread per shard, tells them when
 * batches commit, waits for their scores of a batch (the reply's alert count), fans a validate
 * request out to them and merges the answers, and passes on rules reloads. (Sanctions lists are
 * the pool workers': names are screened before they are sealed.)
 */
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { SluiceError } from '../errors.ts';
import { packInput, rowsOfShard } from './input.ts';
import type { AmlInput } from './kernel.ts';
import { parseRules } from './rules.ts';
import type { FromShard, ShardSettings, ToShard } from './shard-worker.ts';
import { amlKeys, MAX_SHARDS } from './store-keys.ts';

export interface AmlShardOptions {
  dataDir: string;
  shards?: number;
  rulesPath: string;
  /** Resident accounts per shard (default 65,536: about 75 MiB of state). */
  capacity?: number;
  checkpointMs?: number;
  onFailure?: (shard: number, error: string) => void;
  /** Each batch a shard scored (for metrics). */
  onScored?: (m: Extract<FromShard, { type: 'scored' }>) => void;
}

interface Waiting {
  shards: number;
  alerts: number;
  resolve: (alerts: number) => void;
}

export class AmlShards {
  readonly count: number;
  private readonly workers: Worker[] = [];
  private readonly scoredTo: number[];
  /** Scores that arrived before anyone waited for them, by seq: shards done and alerts. */
  private readonly early = new Map<number, { shards: number; alerts: number }>();
  private readonly waiting = new Map<number, Waiting>();
  private readonly calls = new Map<number, (m: FromShard) => void>();
  private nextId = 1;
  private rulesHashInForce: string;

  private constructor(
    private readonly opts: AmlShardOptions,
    rulesText: string,
    rulesHash: string,
  ) {
    this.count = Math.min(MAX_SHARDS, Math.max(1, opts.shards ?? 2));
    this.scoredTo = new Array(this.count).fill(0);
    this.rulesHashInForce = rulesHash;
    const ts = import.meta.url.endsWith('.ts');
    for (let shard = 0; shard < this.count; shard++) {
      const settings: ShardSettings = {
        dataDir: opts.dataDir,
        shard,
        shards: this.count,
        rulesText,
        capacity: opts.capacity ?? 65536,
        checkpointMs: opts.checkpointMs ?? 10_000,
        maxPendingSlots: 65536,
      };
      const w = new Worker(new URL(ts ? './shard-boot.mjs' : './shard-worker.js', import.meta.url), {
        workerData: settings,
        execArgv: ts ? ['--import', 'tsx'] : [],
      });
      w.on('message', (m: FromShard) => this.onMessage(m));
      w.on('error', (e) => opts.onFailure?.(shard, String(e.stack ?? e)));
      this.workers.push(w);
    }
  }

  /** Starts the shards; resolves once each has replayed what its checkpoint missed. */
  static async start(opts: AmlShardOptions): Promise<AmlShards> {
    const bytes = readFileSync(opts.rulesPath);
    const rules = parseRules(bytes, opts.rulesPath);
    const shards = new AmlShards(opts, bytes.toString('utf8'), rules.hash);
    await Promise.all(
      shards.workers.map(
        (w, shard) =>
          new Promise<void>((resolve, reject) => {
            const onMsg = (m: FromShard) => {
              if (m.type === 'ready' && m.shard === shard) {
                w.off('message', onMsg);
                resolve();
              } else if (m.type === 'failed' && m.shard === shard) {
                reject(new SluiceError('AML_STATE', `AML shard ${shard} failed to start: ${m.error}`));
              }
            };
            w.on('message', onMsg);
            w.once('error', reject);
          }),
      ),
    );
    return shards;
  }

  get rulesHash(): string {
    return this.rulesHashInForce;
  }

  private onMessage(m: FromShard): void {
    switch (m.type) {
      case 'scored': {
        this.opts.onScored?.(m);
        if (m.seq > (this.scoredTo[m.shard] as number)) this.scoredTo[m.shard] = m.seq;
        const w = this.waiting.get(m.seq);
        if (w) {
          w.alerts += m.alerts;
          if (--w.shards === 0) {
            this.waiting.delete(m.seq);
            w.resolve(w.alerts);
          }
        } else {
          const e = this.early.get(m.seq) ?? { shards: 0, alerts: 0 };
          e.shards++;
          e.alerts += m.alerts;
          this.early.set(m.seq, e);
          // Nobody waits for replayed or foreign batches: keep the map small.
          if (this.early.size > 4096) this.early.delete(this.early.keys().next().value as number);
        }
        break;
      }
      case 'validated':
      case 'done': {
        const cb = this.calls.get(m.id);
        if (cb) {
          this.calls.delete(m.id);
          cb(m);
        }
        break;
      }
      case 'failed':
        this.opts.onFailure?.(m.shard, m.error);
        break;
    }
  }

  /** A batch committed: every shard catches up to it. */
  notify(seq: number): void {
    for (const w of this.workers) w.postMessage({ type: 'tick', seq } satisfies ToShard);
  }

  /** Resolves with the batch's alert count once every shard has scored it. */
  scored(seq: number): Promise<number> {
    const e = this.early.get(seq);
    if (e && e.shards >= this.count) {
      this.early.delete(seq);
      return Promise.resolve(e.alerts);
    }
    return new Promise((resolve) => {
      if (e) this.early.delete(seq);
      this.waiting.set(seq, { shards: this.count - (e?.shards ?? 0), alerts: e?.alerts ?? 0, resolve });
    });
  }

  private call(
    shard: number,
    msg: ToShard & { id: number },
    transfer: ArrayBuffer[] = [],
  ): Promise<FromShard> {
    return new Promise((resolve) => {
      this.calls.set(msg.id, resolve);
      (this.workers[shard] as Worker).postMessage(msg, transfer);
    });
  }

  /** Scores a validate request's rows against the state, changing nothing; merges the shards. */
  async validate(input: AmlInput): Promise<{ score: Uint8Array; rules: Uint16Array }> {
    // Only the shards that own some of the rows are asked (one, for a single row).
    const asked = this.workers
      .map((_, shard) => shard)
      .filter((shard) => rowsOfShard(input.key, shard, this.count, true).length > 0);
    const wire = packInput(input);
    const answers = await Promise.all(
      asked.map((shard) =>
        // One shard (a single row): the buffer moves; several: each gets a copy of one buffer.
        this.call(shard, { type: 'validate', id: this.nextId++, wire }, asked.length === 1 ? [wire] : []),
      ),
    );
    const score = new Uint8Array(input.n);
    const rules = new Uint16Array(input.n);
    for (const a of answers) {
      if (a.type !== 'validated') continue;
      // Each row belongs to one shard; the others answer 0 for it.
      for (let i = 0; i < input.n; i++) {
        score[i] = Math.max(score[i] as number, a.score[i] as number);
        rules[i] = (rules[i] as number) | (a.rules[i] as number);
      }
    }
    return { score, rules };
  }

  /**
   * Validates the rules file and, if good, hands it to every shard (each checkpoints before the
   * change). A bad file throws RULES_INVALID and the rules in force stay.
   */
  reloadRules(): { hash: string; version: string; changed: boolean } {
    const bytes = readFileSync(this.opts.rulesPath);
    const rules = parseRules(bytes, this.opts.rulesPath);
    const changed = rules.hash !== this.rulesHashInForce;
    if (changed) {
      for (const w of this.workers)
        w.postMessage({ type: 'rules', rulesText: bytes.toString('utf8') } satisfies ToShard);
      this.rulesHashInForce = rules.hash;
    }
    return { hash: rules.hash, version: rules.doc.version, changed };
  }

  async checkpoint(): Promise<void> {
    await Promise.all(
      this.workers.map((_, shard) => this.call(shard, { type: 'checkpoint', id: this.nextId++ })),
    );
  }

  /** Catches up with every committed batch, checkpoints, and ends the threads. */
  async stop(): Promise<void> {
    await Promise.all(this.workers.map((_, shard) => this.call(shard, { type: 'stop', id: this.nextId++ })));
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** The sequence number every shard's checkpoint has passed: staging up to it may be deleted. */
export function checkpointedThrough(meta: { get(k: string): unknown }, shards: number): number {
  return everyShardThrough(meta, shards, 'ckpt');
}

/** The sequence number every shard has scored and written outputs for: silver may roll up to it. */
export function scoredThrough(meta: { get(k: string): unknown }, shards: number): number {
  return everyShardThrough(meta, shards, 'done');
}

function everyShardThrough(
  meta: { get(k: string): unknown },
  shards: number,
  marker: 'ckpt' | 'done',
): number {
  let min = Number.POSITIVE_INFINITY;
  for (let k = 0; k < shards; k++)
    min = Math.min(min, (meta.get(amlKeys(k)[marker]) as number | undefined) ?? 0);
  return shards > 0 ? min : Number.POSITIVE_INFINITY;
}
