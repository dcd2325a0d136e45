/**
 * One shard's AML state in its own WASM instance (wasm/src/aml.rs): the arena is reserved once,
 * rows are copied in as columns, sorted by event time, made resident (restored from the store
 * when they were evicted), scored, and the verdict columns copied out. No row is ever an object.
 */

import type { Utf8Column } from '../columns.ts';
import { SluiceError } from '../errors.ts';
import { words } from '../int64-sums.ts';
import { WasmMemory } from '../wasm-memory.ts';
import { storedSlotWords } from './slot-codec.ts';

/** Row flags (wasm/src/aml.rs). */
export const F_CREDIT = 1;
export const F_APPLY = 2;
export const F_ROUND = 4;
export const F_HIGH_RISK = 8;
export const F_SANCTIONED = 16;
/** Output flag: the row was later than the allowed lateness (not applied; flagged in silver). */
export const OUT_LATE = 1;

export const NO_TS = -(2n ** 63n);

/** A batch's scoring inputs, as columns. */
export interface AmlInput {
  n: number;
  /** Account key per row (`aml_key_column`), 0 when there is no account. */
  key: BigUint64Array;
  /** Event time, epoch ms; `NO_TS` when unusable. */
  ts: BigInt64Array;
  /** GBP-equivalent in pence, -1 when unknown. */
  gbp: BigInt64Array;
  flags: Uint8Array;
  /** counterparty_name, for sanctions screening. */
  names: Utf8Column | null;
}

export interface AmlOutput {
  score: Uint8Array;
  rules: Uint16Array;
  flags: Uint8Array;
  /**
   * Why the rules fired: `detailWords` i64 (wasm/src/aml.rs DETAIL_WORDS) for each row where a
   * rule fired, in row order; row `i`'s start at `detailAt[i] × detailWords`. A few rows in a
   * thousand fire, so this replaced 64 zeroed bytes allocated for every row.
   */
  detail: BigInt64Array;
  /** Per row, its place in `detail`, or -1 where no rule fired. */
  detailAt: Int32Array;
  detailWords: number;
}

/** Fired rows' detail as scoring appends it (slices score rows out of row order). */
class DetailLog {
  words: BigInt64Array;
  count = 0;
  /** The last row appended, while rows have come in row order (one pass does; slices need not). */
  private last = -1;
  private ordered = true;
  constructor(readonly width: number) {
    this.words = new BigInt64Array(64 * width);
  }
  append(from: BigInt64Array, k: number, row: number): number {
    const w = this.width;
    if (row < this.last) this.ordered = false;
    this.last = row;
    if ((this.count + 1) * w > this.words.length) {
      const grown = new BigInt64Array(this.words.length * 2);
      grown.set(this.words);
      this.words = grown;
    }
    this.words.set(from.subarray(k * w, (k + 1) * w), this.count * w);
    return this.count++;
  }
  /** The log in row order, renumbering `at` to match: the same output however the rows were sliced. */
  inRowOrder(at: Int32Array): BigInt64Array {
    const w = this.width;
    if (this.ordered) return this.words.slice(0, this.count * w);
    const out = new BigInt64Array(this.count * w);
    let c = 0;
    for (let r = 0; r < at.length; r++) {
      const from = at[r] as number;
      if (from < 0) continue;
      out.set(this.words.subarray(from * w, (from + 1) * w), c * w);
      at[r] = c++;
    }
    return out;
  }
}

/** Where evicted slots live between checkpoints and after: the shard's store. */
export interface SlotStore {
  /**
   * The saved slot of an account key (packed, or at the full size of a value stored before
   * packing existed: engine/aml/slot-codec.ts), or undefined if the account has no history.
   */
  get(key: bigint): Uint8Array | undefined;
  /**
   * `count` slots evicted dirty, packed back to back (`eachPacked` hands each over as a copy;
   * the buffer is the store's): the store must keep them (they are newer than its copy).
   */
  evicted(slots: Uint8Array, count: number): void;
}

interface AmlExports {
  aml_arena_bytes(cap: number): number;
  aml_slot_words(): number;
  aml_detail_words(): number;
  aml_param_words(): number;
  aml_init(arena: number, cap: number): void;
  aml_set_params(ptr: number, len: number): number;
  aml_key_column(desc: number, n: number, out: number): void;
  aml_sort(ts: number, n: number, order: number, scratch: number): void;
  aml_prepare(keys: number, ts: number, n: number, fresh: number, freshCap: number): number;
  aml_restore(words: number, lens: number, count: number): number;
  aml_score(desc: number): number;
  aml_take_dirty(out: number, capWords: number, from: number, res: number): void;
  aml_evict(cutoff: number, out: number, capWords: number, from: number, res: number): void;
  aml_free_slots(): number;
  aml_min_touch(): number;
  aml_clock(): number;
}

/** Slots per transfer buffer (room for this many whole slots; packed ones are mostly far smaller). */
const TRANSFER_SLOTS = 2048;

/** Copies a Utf8 column into instance memory; returns the descriptor address (4 words). */
export function putUtf8(m: WasmMemory, col: Utf8Column | null | undefined, n: number): number {
  const desc = new Uint32Array(4);
  if (col) {
    desc[0] = m.copyIn(col.offsets.subarray(0, n + 1));
    desc[1] = m.copyIn(col.data);
    desc[2] = col.data.length;
    desc[3] = col.validity ? m.copyIn(col.validity.subarray(0, (n + 7) >> 3)) : 0;
  }
  return m.copyIn(desc);
}

/** Account keys of an id column, computed in WASM (resets the instance's bump region). */
export function accountKeys(m: WasmMemory, col: Utf8Column | null | undefined, n: number): BigUint64Array {
  const x = m.exports as unknown as AmlExports;
  m.reset();
  const desc = putUtf8(m, col, n);
  const out = m.alloc(8 * n);
  x.aml_key_column(desc, n, out);
  return m.copyOut(BigUint64Array, out, 8 * n);
}

export class AmlKernel {
  readonly memory: WasmMemory;
  readonly slotBytes: number;
  readonly detailWords: number;
  private readonly x: AmlExports;
  private readonly arena: number;

  constructor(
    readonly capacity = 32768,
    memory = new WasmMemory(),
  ) {
    this.memory = memory;
    this.x = memory.exports as unknown as AmlExports;
    this.slotBytes = this.x.aml_slot_words() * 8;
    this.detailWords = this.x.aml_detail_words();
    // On a page, and ending on one: where the arena and the bump region after it fall in the
    // caches otherwise moved with the size of the module's static data, by a few per cent of
    // scoring time from one build to the next (session 18, `scratch`-style, one module at
    // offsets 0, 64 and 96 bytes apart).
    this.arena = memory.reserve(this.x.aml_arena_bytes(capacity), 4096);
    this.x.aml_init(this.arena, capacity);
  }

  /** Forgets every account (benchmarks start each run from an empty state). */
  reset(): void {
    this.x.aml_init(this.arena, this.capacity);
  }

  setParams(params: BigInt64Array): void {
    const m = this.memory;
    m.reset();
    if (params.length !== this.x.aml_param_words()) {
      throw new SluiceError('RULES_INVALID', `the kernel wants ${this.x.aml_param_words()} parameters`);
    }
    const p = m.copyIn(params);
    if (this.x.aml_set_params(p, params.length) !== 0)
      throw new SluiceError('WASM_FAILURE', 'aml_set_params');
  }

  get freeSlots(): number {
    return this.x.aml_free_slots();
  }

  keys(col: Utf8Column | null | undefined, n: number): BigUint64Array {
    return accountKeys(this.memory, col, n);
  }

  /**
   * Scores `rows` (row indices, any order: they are sorted by event time here), or
   * every row when null. With `dry`, the rows see each other but the state is left as it was.
   * Rows not listed score 0.
   */
  score(input: AmlInput, rows: Uint32Array | null, store: SlotStore, dry: boolean): AmlOutput {
    return drain(this.scoreSteps(input, rows, store, dry));
  }

  /**
   * `score`, in slices of at most `sliceRows` rows taken in event-time order, pausing (a `yield`)
   * between slices, so the caller can answer other requests before the rest. Slices give the same
   * scores and leave the same state as one pass: rows are applied in the same order either way,
   * and each slice copies its own rows in, so calls made during a pause (which reuse the instance's
   * scratch memory) change nothing for it. A dry run is never sliced: its rows must see each other
   * before the state is put back.
   */
  *scoreSteps(
    input: AmlInput,
    rows: Uint32Array | null,
    store: SlotStore,
    dry: boolean,
    sliceRows = Number.POSITIVE_INFINITY,
  ): Generator<void, AmlOutput> {
    const n = input.n;
    const out: AmlOutput = {
      score: new Uint8Array(n),
      rules: new Uint16Array(n),
      flags: new Uint8Array(n),
      detail: new BigInt64Array(0),
      detailAt: new Int32Array(n).fill(-1),
      detailWords: this.detailWords,
    };
    if (n === 0) return out;
    const log = new DetailLog(this.detailWords);
    // Only the listed rows carry a key into the kernel; the others stay out of its state.
    const keep = rows ? new Uint8Array(n) : null;
    if (rows && keep) for (const r of rows) keep[r] = 1;
    const key = keep ? keysOf(input.key, keep) : input.key;
    const m = this.memory;
    m.reset();
    const p = {
      key: m.copyIn(key),
      ts: m.copyIn(input.ts),
      gbp: m.copyIn(input.gbp),
      flags: m.copyIn(input.flags),
      order: m.alloc(4 * n),
    };
    const scratch = m.alloc(4 * n);
    this.x.aml_sort(p.ts, n, p.order, scratch);
    // A copy, not a view: memory may grow below (and a view of the old buffer reads as empty).
    let order = new Uint32Array(m.buffer, p.order, n).slice();
    if (keep) {
      order = order.filter((r) => keep[r] === 1);
      new Uint32Array(m.buffer, p.order, order.length).set(order);
    }
    // More accounts than fit at once need slices too: each is made resident whole.
    const fit = Math.max(1, Math.floor(this.capacity / 2));
    const slice = dry ? fit : Math.max(1, Math.min(fit, sliceRows));
    if (order.length <= slice && this.prepareInPlace(p.key, p.ts, n, store)) {
      // The common case: one pass over memory that already holds the batch.
      this.run(p, n, order.length, dry, out, log, null);
      out.detail = log.inRowOrder(out.detailAt);
      return out;
    }
    for (let at = 0; at < order.length; at += slice) {
      if (at > 0) yield;
      const part = order.subarray(at, at + slice);
      const c = gather(input, part); // `part` holds listed rows only, whose keys `key` keeps
      this.makeResident(c.key, c.ts, store);
      m.reset();
      const q = {
        key: m.copyIn(c.key),
        ts: m.copyIn(c.ts),
        gbp: m.copyIn(c.gbp),
        flags: m.copyIn(c.flags),
        order: m.copyIn(identity(part.length)),
      };
      this.run(q, part.length, part.length, dry, out, log, part);
    }
    out.detail = log.inRowOrder(out.detailAt);
    return out;
  }

  /** Makes the batch's accounts resident without leaving memory; false when eviction is needed. */
  private prepareInPlace(pKey: number, pTs: number, n: number, store: SlotStore): boolean {
    const m = this.memory;
    const pFresh = m.alloc(8 * n);
    const rc = this.x.aml_prepare(pKey, pTs, n, pFresh, n);
    const fresh = rc >= 0 ? rc : -1 - rc;
    this.restore(m.copyOut(BigUint64Array, pFresh, 8 * fresh), store, false);
    return rc >= 0;
  }

  /**
   * Scores `count` rows of the order at `p.order`, of the `n` rows copied in; kernel row `k`'s
   * results go to row `map[k]` of `out` (row `k` when null).
   */
  private run(
    p: { key: number; ts: number; gbp: number; flags: number; order: number },
    n: number,
    count: number,
    dry: boolean,
    out: AmlOutput,
    log: DetailLog,
    map: Uint32Array | null,
  ): void {
    const m = this.memory;
    const w = this.detailWords;
    // Scores, rules and flags start zeroed: rows outside the order score 0, so they copy out in
    // bulk. The kernel writes every detail word of a row it scores, so that area is not cleared.
    const outBytes = 8 * w * n + 2 * n + n + n;
    const pDetail = m.alloc(outBytes);
    new Uint8Array(m.buffer, pDetail + 8 * w * n, 4 * n).fill(0);
    const pRules = pDetail + 8 * w * n;
    const pScore = pRules + 2 * n;
    const pFlagsOut = pScore + n;
    const undoSlots = dry ? Math.min(count, this.capacity) : 0;
    const pUndo = dry ? m.alloc(undoSlots * this.slotBytes) : 0;
    const pFired = m.alloc(4 * count);
    const desc = new Uint32Array([
      p.key,
      p.ts,
      p.gbp,
      p.flags,
      n,
      p.order,
      count,
      pScore,
      pRules,
      pFlagsOut,
      pDetail,
      dry ? 1 : 0,
      pUndo,
      (undoSlots * this.slotBytes) / 8,
      pFired,
    ]);
    const pDesc = m.copyIn(desc);
    const firedCount = this.x.aml_score(pDesc);
    if (firedCount < 0) throw new SluiceError('AML_STATE', 'aml_score: a row had no resident slot');
    const score = new Uint8Array(m.buffer, pScore, n);
    const rules = new Uint16Array(m.buffer, pRules, n);
    const flags = new Uint8Array(m.buffer, pFlagsOut, n);
    const detail = new BigInt64Array(m.buffer, pDetail, w * n);
    if (!map) {
      out.score.set(score);
      out.rules.set(rules);
      out.flags.set(flags);
    } else {
      for (let k = 0; k < n; k++) {
        const r = map[k] as number;
        out.score[r] = score[k] as number;
        out.rules[r] = rules[k] as number;
        out.flags[r] = flags[k] as number;
      }
    }
    // Detail explains fired rules only (engine/aml/alerts.ts), so only the rows the kernel lists
    // as fired keep it, appended in kernel row order (row order in one pass: the log stays ordered).
    const fired = new Uint32Array(m.buffer, pFired, firedCount).slice().sort();
    for (const k of fired) {
      const r = map ? (map[k] as number) : k;
      out.detailAt[r] = log.append(detail, k, r);
    }
  }

  /** Gives every keyed row a resident slot: restores evicted accounts, evicting idle ones for room. */
  private makeResident(key: BigUint64Array, ts: BigInt64Array, store: SlotStore): void {
    const m = this.memory;
    const x = this.x;
    const n = key.length;
    for (let attempt = 0; ; attempt++) {
      m.reset();
      const pKey = m.copyIn(key);
      const pTs = m.copyIn(ts);
      const pFresh = m.alloc(8 * n);
      const rc = x.aml_prepare(pKey, pTs, n, pFresh, n);
      const fresh = rc >= 0 ? rc : -1 - rc;
      this.restore(m.copyOut(BigUint64Array, pFresh, 8 * fresh), store);
      if (rc >= 0) return;
      if (attempt > 64) throw new SluiceError('AML_STATE', 'no AML state slot could be freed');
      this.evictIdle(store);
    }
  }

  private restore(keys: BigUint64Array, store: SlotStore, reset = true): void {
    const m = this.memory;
    const saved: Uint8Array[] = [];
    for (const k of keys) {
      const s = store.get(k);
      if (s) saved.push(s);
    }
    for (let at = 0; at < saved.length; at += TRANSFER_SLOTS) {
      const part = saved.slice(at, at + TRANSFER_SLOTS);
      if (reset) m.reset();
      const lens = new Uint32Array(part.length);
      let bytes = 0;
      part.forEach((s, i) => {
        lens[i] = storedSlotWords(s);
        bytes += s.byteLength;
      });
      const pLens = m.copyIn(lens); // first: `alloc` may grow memory, which detaches older views
      const p = m.alloc(bytes);
      const view = new Uint8Array(m.buffer, p, bytes);
      let o = 0;
      for (const s of part) {
        view.set(s, o);
        o += s.byteLength;
      }
      if (this.x.aml_restore(p, pLens, part.length) !== part.length) {
        throw new SluiceError('AML_STATE', 'a saved AML state slot could not be restored');
      }
    }
  }

  /** One scan of the slots in transfer-buffer steps (`aml_evict`, `aml_take_dirty`). */
  private *transfers(
    call: (out: number, capWords: number, from: number, res: number) => void,
  ): Generator<{ slots: Uint8Array; count: number }> {
    const m = this.memory;
    const capWords = TRANSFER_SLOTS * (this.slotBytes / 8);
    for (let from = 0; from < this.capacity; ) {
      m.reset();
      const out = m.alloc(8 * capWords);
      const res = m.alloc(12);
      call(out, capWords, from, res);
      const [count = 0, words = 0, next = this.capacity] = new Uint32Array(m.buffer, res, 3);
      if (count > 0) yield { slots: m.copyOut(Uint8Array, out, 8 * words), count };
      from = next;
    }
  }

  /** Evicts the older half of the resident accounts (by last use); dirty ones go to the store. */
  private evictIdle(store: SlotStore): void {
    const x = this.x;
    const min = x.aml_min_touch();
    const clock = x.aml_clock();
    const cutoff = min + Math.max(1, Math.floor((clock - min) / 2));
    const before = x.aml_free_slots();
    for (const { slots, count } of this.transfers((out, capWords, from, res) =>
      x.aml_evict(cutoff, out, capWords, from, res),
    )) {
      store.evicted(slots, count);
    }
    if (x.aml_free_slots() === before) {
      throw new SluiceError('AML_STATE', 'every resident AML account is in use by this batch');
    }
  }

  /**
   * Every slot changed since the last call, marked clean and packed back to back (`eachPacked`
   * walks them): what a checkpoint writes.
   */
  takeDirty(): { slots: Uint8Array; count: number }[] {
    return [...this.transfers((out, capWords, from, res) => this.x.aml_take_dirty(out, capWords, from, res))];
  }
}

/** The keys of the rows marked in `keep`, 0 elsewhere (copied as word pairs: no BigInt per row). */
function keysOf(key: BigUint64Array, keep: Uint8Array): BigUint64Array {
  const out = new BigUint64Array(key.length);
  const from = words(key);
  const to = words(out);
  for (let r = 0; r < keep.length; r++) {
    if (keep[r] === 1) {
      to[2 * r] = from[2 * r] as number;
      to[2 * r + 1] = from[2 * r + 1] as number;
    }
  }
  return out;
}

/** Runs a generator to its end; its return value. */
export function drain<T>(steps: Generator<void, T>): T {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

function identity(n: number): Uint32Array {
  const out = new Uint32Array(n);
  for (let k = 0; k < n; k++) out[k] = k;
  return out;
}

/** Rows `idx` of an input's scoring columns, compact and in that order (64-bit values as word pairs). */
function gather(input: AmlInput, idx: Uint32Array) {
  const n = idx.length;
  const c = {
    key: new BigUint64Array(n),
    ts: new BigInt64Array(n),
    gbp: new BigInt64Array(n),
    flags: new Uint8Array(n),
  };
  const from = [words(input.key), words(input.ts), words(input.gbp)] as const;
  const to = [words(c.key), words(c.ts), words(c.gbp)] as const;
  for (let col = 0; col < 3; col++) {
    const f = from[col] as Int32Array;
    const t = to[col] as Int32Array;
    for (let k = 0; k < n; k++) {
      const i = idx[k] as number;
      t[2 * k] = f[2 * i] as number;
      t[2 * k + 1] = f[2 * i + 1] as number;
    }
  }
  for (let k = 0; k < n; k++) c.flags[k] = input.flags[idx[k] as number] as number;
  return c;
}
