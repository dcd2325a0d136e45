/**
 * Per-account, per-day gold aggregates, log-structured: the commit of a batch writes ONE record of
 * its account partials (`p|<seq>`), and `foldAccountPartials` later merges a run of them into the
 * `a|day|account` aggregates and deletes them, in one transaction (off the HTTP thread, in
 * `gold-worker.ts`). Each partial is applied exactly
 * once (applied and deleted atomically), and the acknowledgement path pays one put per batch
 * instead of a read and a write per account.
 */
import { fromWords } from './int64-sums.ts';
import type { Store } from './store.ts';

export interface AccountPartials {
  /** "day|account" keys. */
  keys: string[];
  count: Int32Array;
  debit: BigInt64Array;
  credit: BigInt64Array;
}

/** As stored: the typed arrays as raw little-endian bytes (msgpack keeps bytes exactly). */
interface StoredPartials {
  keys: string[];
  count: Uint8Array;
  debit: Uint8Array;
  credit: Uint8Array;
}

const bytes = (a: Int32Array | BigInt64Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** A copy into a fresh, aligned buffer: stored bytes may sit at any offset. */
function aligned<T>(b: Uint8Array, make: (buf: ArrayBuffer) => T): T {
  const copy = new Uint8Array(b.length);
  copy.set(b);
  return make(copy.buffer);
}

export function encodePartials(p: AccountPartials): StoredPartials {
  return { keys: p.keys, count: bytes(p.count), debit: bytes(p.debit), credit: bytes(p.credit) };
}

export interface AccountAggregate {
  count: number;
  debit: string; // minor units, decimal (sums can outgrow 2^53 over years)
  credit: string;
}

export const PARTIAL_PREFIX = 'p|';

/** How often the service folds partials into the aggregates. */
export const GOLD_FOLD_MS = 10_000;

/** Partials folded per transaction: bounds a fold's memory and its hold on the writer. */
const FOLD_PARTIALS = 256;

export function partialKey(seq: number): string {
  // Zero-padded so partials sort in commit order.
  return `${PARTIAL_PREFIX}${String(seq).padStart(12, '0')}`;
}

/** One key's sums within a fold, as sums of 32-bit words (as `Int64Sums` keeps them). */
interface Merged {
  count: number;
  debitLo: number;
  debitHi: number;
  creditLo: number;
  creditHi: number;
}

/**
 * Folds up to `maxPartials` partial records into the aggregates; returns how many it folded.
 *
 * The partials are read and merged before the write transaction: merging is most of a fold's
 * time (after a burst of ingest, a quarter of a second per transaction), and a write transaction
 * holds LMDB's writer lock, which every batch's commit waits for. Inside it, each partial read is
 * checked to be still there before anything is applied, so a partial is applied exactly once even
 * if another folder (a second process on the same data) got there first: then this fold applies
 * nothing and returns 0.
 */
export async function foldAccountPartials(store: Store, maxPartials = FOLD_PARTIALS): Promise<number> {
  // Sums as 32-bit words (low unsigned, high signed), added as doubles: exact for up to 2^21
  // rows per key, and a fold reads at most `maxPartials` rows per key. A BigInt read and a
  // BigInt add per row allocated three BigInts and cost more than the map lookup.
  const merged = new Map<string, Merged>();
  const done: string[] = [];
  for (const { key, value } of store.gold.getRange({
    start: PARTIAL_PREFIX,
    end: 'p|~',
    limit: maxPartials,
  })) {
    const p = value as StoredPartials;
    const count = aligned(p.count, (b) => new Int32Array(b));
    const debit = aligned(p.debit, (b) => new Int32Array(b));
    const credit = aligned(p.credit, (b) => new Int32Array(b));
    for (let i = 0; i < p.keys.length; i++) {
      const k = p.keys[i] as string;
      let m = merged.get(k);
      if (!m) {
        m = { count: 0, debitLo: 0, debitHi: 0, creditLo: 0, creditHi: 0 };
        merged.set(k, m);
      }
      m.count += count[i] as number;
      m.debitLo += (debit[2 * i] as number) >>> 0;
      m.debitHi += debit[2 * i + 1] as number;
      m.creditLo += (credit[2 * i] as number) >>> 0;
      m.creditHi += credit[2 * i + 1] as number;
    }
    done.push(key as string);
  }
  if (done.length === 0) return 0;
  let folded = 0;
  await store.env.transaction(() => {
    if (!done.every((k) => store.gold.doesExist(k))) return; // folded elsewhere meanwhile
    for (const [k, m] of merged) {
      const key = `a|${k}`;
      const prev = store.gold.get(key) as AccountAggregate | undefined;
      store.gold.put(key, {
        count: (prev?.count ?? 0) + m.count,
        debit: (BigInt(prev?.debit ?? '0') + fromWords(m.debitLo, m.debitHi)).toString(),
        credit: (BigInt(prev?.credit ?? '0') + fromWords(m.creditLo, m.creditHi)).toString(),
      });
    }
    for (const k of done) store.gold.remove(k);
    folded = done.length;
  });
  return folded;
}

/**
 * Folds until no partial is left, FOLD_PARTIALS per transaction: a fold that takes fewer found the
 * end, so no empty transaction is spent finding it.
 */
export async function foldAll(store: Store): Promise<void> {
  while ((await foldAccountPartials(store)) >= FOLD_PARTIALS) {
    // more than one transaction's worth waited
  }
}
