/**
 * One AML shard: a worker thread that owns the state of the accounts whose key falls in its
 * shard, alone, so nothing is locked (DESIGN decision 4). It consumes committed batches in
 * sequence order from silver staging, scores its rows, and writes the outputs (per-row scores for
 * silver, alerts, alert counts) once per batch. Its state is checkpointed to LMDB every few
 * seconds with the sequence number it reflects; after a crash the batches after the checkpoint
 * are replayed from staging (which the roller keeps until every shard has checkpointed past
 * them), so the state and every alert come out exactly as without the crash.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { tableFromIPC } from 'apache-arrow';
import { crashPoint } from '../faults.ts';
import { storageFault } from '../storage-faults.ts';
import { type StagedHit, Store } from '../store.ts';
import { type AlertRecord, alertsOf, type PartScores } from './alerts.ts';
import { AmlEngine } from './engine.ts';
import { inputFromSilver, rowsOfShard, unpackInput } from './input.ts';
import { drain, F_SANCTIONED, type SlotStore } from './kernel.ts';
import { RULE, RULE_NAMES } from './rule-names.ts';
import { type AmlRules, parseRules } from './rules.ts';
import { storePart } from './silver-columns.ts';
import { eachPacked, SLOT_WORDS } from './slot-codec.ts';
import { amlKeys } from './store-keys.ts';

export interface ShardSettings {
  dataDir: string;
  shard: number;
  shards: number;
  rulesText: string;
  capacity: number;
  checkpointMs: number;
  /** Dirty evicted slots held before a checkpoint is forced. */
  maxPendingSlots: number;
}

export type ToShard =
  | { type: 'tick'; seq: number }
  | { type: 'rules'; rulesText: string }
  | { type: 'validate'; id: number; wire: ArrayBuffer } // an AmlInput, `packInput`-ed
  | { type: 'checkpoint'; id: number }
  | { type: 'stop'; id: number };

export type FromShard =
  | { type: 'ready'; shard: number; seq: number }
  | {
      type: 'scored';
      shard: number;
      seq: number;
      alerts: number;
      /** Scoring time, alerts per rule (contract order) and per score band (50–69, 70–89, 90–100). */
      ms: number;
      byRule: number[];
      bands: number[];
      wasmBytes: number;
    }
  | { type: 'validated'; id: number; score: Uint8Array; rules: Uint16Array }
  | { type: 'done'; id: number }
  | { type: 'failed'; shard: number; error: string };

const s = workerData as ShardSettings;
const port = parentPort as NonNullable<typeof parentPort>;
const store = new Store({ dataDir: s.dataDir });

/**
 * Sanctions matches of the part's rows `from`..`from + n` (its record batch), as the pool worker
 * found them when it screened the names in clear: flags for the kernel, and the similarity and
 * entry index per row, with the entries, for the alerts' explanations. The shard never opens a
 * sealed name.
 */
function stagedMatches(hits: StagedHit[] | undefined, from: number, n: number, flags: Uint8Array) {
  const similarity = new Uint16Array(n);
  const entry = new Int32Array(n).fill(-1);
  const entries: StagedHit['entry'][] = [];
  for (const h of hits ?? []) {
    const i = h.pos - from;
    if (i < 0 || i >= n) continue;
    flags[i] = (flags[i] as number) | F_SANCTIONED;
    similarity[i] = h.similarity;
    entry[i] = entries.push(h.entry) - 1;
  }
  return { similarity, entry, entryAt: (k: number) => entries[k] };
}
const K = amlKeys(s.shard);

let rules: AmlRules = parseRules(new TextEncoder().encode(s.rulesText), 'rules');
// No sanctions list here: names are screened by the pool workers (see `stagedMatches`), and a
// validate request's rows arrive already flagged.
const engine = new AmlEngine(rules, null, s.capacity);
const slotBytes = engine.kernel.slotBytes;
if (slotBytes !== 8 * SLOT_WORDS)
  throw new Error('the AML kernel and slot-codec.ts disagree on the slot layout');

/** Evicted slots newer than the store's copy, until the next checkpoint writes them. */
const pending = new Map<bigint, Uint8Array>();
const keyBuf = (k: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(k);
  return b;
};

const slots: SlotStore = {
  get(key) {
    const p = pending.get(key) ?? inflight.get(key);
    if (p) return p;
    // Packed (or full-size, if stored before packing existed): the kernel restores either.
    return store.amlState.get(keyBuf(key)) as Uint8Array | undefined;
  },
  evicted(buf, count) {
    eachPacked(buf, count, (key, slot) => pending.set(key, slot));
  },
};

let processed = (store.meta.get(K.ckpt) as number | undefined) ?? 0;
const done = (store.meta.get(K.done) as number | undefined) ?? 0;
let outputsFrom = done + 1;
let lastCheckpoint = Date.now();
let chain: Promise<unknown> = Promise.resolve();

function serial(fn: () => Promise<void> | void): Promise<void> {
  const run = chain.then(fn);
  chain = run.catch((e) =>
    port.postMessage({ type: 'failed', shard: s.shard, error: String(e?.stack ?? e) }),
  );
  return run;
}

// ---- the writer ------------------------------------------------------------------------------
// Scoring never waits for LMDB: outputs and checkpoints queue here and go out in one transaction
// per round, in the order they were queued (so a checkpoint at seq X always lands with or after
// the outputs of every batch up to X). A batch counts as scored once its outputs are committed,
// so an alert is readable by the time the reply that counts it is sent.

const writes: (() => void)[] = [];
const afterWrite: (() => void)[] = [];
let writing: Promise<void> | null = null;

function enqueue(op: () => void, after?: () => void): void {
  writes.push(op);
  if (after) afterWrite.push(after);
  kick();
}

let retryMs = 0;

function kick(): void {
  if (writing || writes.length === 0) return;
  const ops = writes.splice(0);
  const afters = afterWrite.splice(0);
  writing = store.env
    .transaction(() => {
      for (const op of ops) op();
    })
    .then(
      () => {
        retryMs = 0;
        for (const f of afters) f();
      },
      async (e: Error) => {
        if (!(await storageFault(e))) {
          port.postMessage({ type: 'failed', shard: s.shard, error: String(e.stack ?? e) });
          return;
        }
        // A full volume: nothing of the round was committed. Keep it, in order, and retry after a
        // pause. Dropping it would let a later checkpoint pass outputs never written.
        writes.unshift(...ops);
        afterWrite.unshift(...afters);
        retryMs = Math.min(5000, Math.max(100, retryMs * 2));
        await new Promise((r) => setTimeout(r, retryMs));
      },
    )
    .finally(() => {
      writing = null;
      kick();
    });
}

async function flushed(): Promise<void> {
  while (writing || writes.length > 0) {
    kick();
    await writing;
  }
}

/** Slots being written by a checkpoint in flight: newer than the store until it commits. */
const inflight = new Map<bigint, Uint8Array>();

/**
 * Rows the shard scores between two turns of its event loop while it catches up: a validate
 * request waits for at most one slice, not a whole batch (an 8k-row batch takes about 5 ms, a
 * 64k-row one tens of ms).
 */
const SLICE_ROWS = 2048;

/**
 * Scores one committed batch, pausing (a `yield`) between record batches and slices; queues its
 * outputs unless a run before a crash already wrote them.
 */
function* scoreSeq(seq: number): Generator<void, void> {
  const started = performance.now();
  const staged = store.staging.get(seq);
  const parts: PartScores[] = [];
  const alerts: AlertRecord[] = [];
  if (staged) {
    for (const part of staged.parts) {
      const scores: PartScores = {
        date: part.date,
        rows: part.rows,
        score: new Uint8Array(part.rows),
        rules: new Uint16Array(part.rows),
        flags: new Uint8Array(part.rows),
      };
      const drop = staged.drop?.[part.date] ?? [];
      let base = 0; // drop positions count from the part's first row
      for (const batch of tableFromIPC(part.ipc).batches) {
        const m = batch.numRows;
        const local = drop.filter((d) => d >= base && d < base + m).map((d) => d - base);
        const input = inputFromSilver(engine.kernel.memory, batch, rules, local);
        const matches = stagedMatches(part.hits, base, m, input.flags);
        const mine = rowsOfShard(input.key, s.shard, s.shards);
        const out = yield* engine.scoreSteps(input, mine, slots, false, SLICE_ROWS);
        scores.score.set(out.score, base);
        scores.rules.set(out.rules, base);
        scores.flags.set(out.flags, base);
        const explained = { ...out, similarity: matches.similarity, entry: matches.entry };
        alerts.push(...alertsOf(batch, mine, explained, rules, matches));
        base += m;
        yield;
      }
      parts.push(scores);
    }
  }
  processed = seq;
  const byRule = new Array(RULE_NAMES.length).fill(0);
  const bands = [0, 0, 0];
  for (const a of alerts) {
    for (const r of a.record.rules) byRule[RULE[r.rule]]++;
    const band = a.record.score >= 90 ? 2 : a.record.score >= 70 ? 1 : 0;
    bands[band] = (bands[band] as number) + 1;
  }
  const msg: FromShard = {
    type: 'scored',
    shard: s.shard,
    seq,
    alerts: alerts.length,
    ms: performance.now() - started,
    byRule,
    bands,
    wasmBytes: engine.kernel.memory.byteLength,
  };
  const scored = () => port.postMessage(msg);
  if (seq < outputsFrom) {
    scored(); // a replay: the outputs were written before the crash
    return;
  }
  outputsFrom = seq + 1;
  const batchId = staged?.batchId;
  enqueue(() => {
    if (parts.length > 0) store.amlOut.put(K.out(seq), { parts: parts.map(storePart) });
    for (const a of alerts) store.alerts.put(a.key, a.record);
    if (batchId && alerts.length > 0) {
      const b = store.batches.get(batchId) as Record<string, unknown> | undefined;
      if (b) {
        const by = {
          ...((b.aml_alerts as Record<string, number> | undefined) ?? {}),
          [s.shard]: alerts.length,
        };
        store.batches.put(batchId, { ...b, aml_alerts: by });
      }
    }
    for (const a of alerts) {
      for (const r of a.record.rules) {
        const gk = `al|${a.record.ts.slice(0, 10)}|${r.rule}`;
        store.gold.put(gk, ((store.gold.get(gk) as number | undefined) ?? 0) + 1);
      }
    }
    store.meta.put(K.done, seq);
  }, scored);
}

/**
 * Snapshots every slot changed since the last checkpoint (and the evicted ones), with the
 * sequence number they reflect, and queues the write. Scoring goes on while it is written.
 */
function checkpoint(): void {
  if (halted) return;
  const snapshot = new Map<bigint, Uint8Array>(pending);
  for (const { slots: buf, count } of engine.kernel.takeDirty()) {
    eachPacked(buf, count, (key, slot) => snapshot.set(key, slot));
  }
  for (const [k, v] of snapshot) inflight.set(k, v);
  const evicted = new Map(pending);
  const at = processed;
  const hash = rules.hash;
  const text = rulesText;
  enqueue(
    () => {
      for (const [k, v] of snapshot) store.amlState.put(keyBuf(k), v); // packed by the kernel
      crashPoint('aml-checkpoint');
      store.meta.put(K.ckpt, at);
      store.meta.put(K.ckptRules, hash);
      store.meta.put(`rules|${hash}`, text);
    },
    () => {
      // Written: the store is current for these, unless they changed again meanwhile.
      for (const [k, v] of snapshot) if (inflight.get(k) === v) inflight.delete(k);
      for (const [k, v] of evicted) if (pending.get(k) === v) pending.delete(k);
    },
  );
  lastCheckpoint = Date.now();
}

let rulesText = s.rulesText;

/** The batch being scored a slice at a time by `catchUpStep`; null between batches. */
let current: Generator<void, void> | null = null;

/**
 * Set when scoring a batch threw partway: some of its rows may be applied, so the state matches no
 * batch boundary. The shard then scores and checkpoints nothing more (it has reported the failure);
 * a restart replays from the last checkpoint, where trying the batch again would apply rows twice.
 */
let halted = false;

/** What follows every whole batch: a checkpoint when one is due. */
function batchDone(): void {
  current = null;
  if (pending.size > s.maxPendingSlots || Date.now() - lastCheckpoint >= s.checkpointMs) checkpoint();
}

/**
 * Finishes the batch in progress. A checkpoint, a rules change and a stop run only between whole
 * batches: a checkpoint taken halfway through one would hold some of its rows, and the replay
 * after a crash would apply them again.
 */
function finishBatch(): void {
  if (!current) return;
  step(() => drain(current as Generator<void, void>));
  batchDone();
}

/** Runs part of a batch's scoring; a throw halts the shard (see `halted`). */
function step<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    halted = true;
    throw e;
  }
}

/** Catches up with every batch committed after the last one processed. */
function catchUp(until: number): void {
  finishBatch();
  while (processed < until && !halted) {
    current = scoreSeq(processed + 1);
    finishBatch();
  }
}

/** The latest batch a tick announced, and whether a catch-up is under way. */
let tickTo = 0;
let catching = false;

/**
 * Catches up with ticked batches one slice per turn of the event loop: a validate request that
 * arrives meanwhile waits for one slice's scoring, not for a batch or a whole backlog (after a
 * burst of ingest the shard may be dozens of batches behind). Its dry run sees the state as of
 * the rows scored so far, as it always could: scoring trails commits.
 */
function catchUpStep(): void {
  void serial(() => {
    let more = false;
    try {
      if (halted) return;
      if (!current && processed < tickTo) {
        // The batch was committed by another thread. lmdb-js keeps a read snapshot until a timer
        // fires, so a tick arriving sooner would find no staging for it and score nothing.
        store.env.resetReadTxn();
        current = scoreSeq(processed + 1);
      }
      if (current && step(() => current?.next().done)) batchDone();
      more = current !== null || processed < tickTo;
    } finally {
      // A failed batch is reported by `serial`, and halts the shard.
      if (more) setImmediate(catchUpStep);
      else catching = false;
    }
  });
}

async function recover(): Promise<void> {
  // Replay with the rules the checkpoint was taken under: a rules change always checkpoints first,
  // so no replay crosses one.
  const ckptRules = store.meta.get(K.ckptRules) as string | undefined;
  const current = rules;
  if (ckptRules && ckptRules !== rules.hash) {
    const text = store.meta.get(`rules|${ckptRules}`) as string | undefined;
    if (text) {
      rules = parseRules(new TextEncoder().encode(text), 'checkpointed rules');
      rulesText = text;
      engine.setRules(rules);
    }
  }
  const latest = (store.meta.get('seq') as number | undefined) ?? 0;
  catchUp(latest);
  if (rules !== current) {
    checkpoint();
    rules = current;
    rulesText = s.rulesText;
    engine.setRules(rules);
  }
  checkpoint();
  await flushed();
  port.postMessage({ type: 'ready', shard: s.shard, seq: processed } satisfies FromShard);
}

port.on('message', (msg: ToShard) => {
  switch (msg.type) {
    case 'tick':
      tickTo = Math.max(tickTo, msg.seq);
      if (!catching) {
        catching = true;
        catchUpStep();
      }
      break;
    case 'rules':
      void serial(() => {
        finishBatch();
        checkpoint();
        rules = parseRules(new TextEncoder().encode(msg.rulesText), 'rules');
        rulesText = msg.rulesText;
        engine.setRules(rules);
        checkpoint();
      });
      break;
    case 'validate':
      void serial(() => {
        const input = unpackInput(msg.wire);
        const mine = rowsOfShard(input.key, s.shard, s.shards, true);
        const out = engine.score(input, mine, slots, true);
        port.postMessage(
          { type: 'validated', id: msg.id, score: out.score, rules: out.rules } satisfies FromShard,
          [out.score.buffer as ArrayBuffer, out.rules.buffer as ArrayBuffer],
        );
      });
      break;
    case 'checkpoint':
      void serial(async () => {
        finishBatch();
        checkpoint();
        await flushed();
        port.postMessage({ type: 'done', id: msg.id } satisfies FromShard);
      });
      break;
    case 'stop':
      void serial(async () => {
        catchUp((store.meta.get('seq') as number | undefined) ?? 0);
        checkpoint();
        await flushed();
        await store.close();
        port.postMessage({ type: 'done', id: msg.id } satisfies FromShard);
      });
      break;
  }
});

void serial(recover);
