/**
 * Per-account, per-day gold aggregates, log-structured: the commit of a batch writes ONE record of
 * its account partials (`p|<seq>`), and `foldAccountPartials` later merges a run of them into the
 * `a|day|account` aggregates and deletes them, in one transaction (off the HTTP thread, in
 * `gold-worker.ts`). Each partial is applied exactly
 * once (applied and deleted atomically), and the acknowledgement path pays one put per batch
 * instead of a read and a write per account.
 */
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

export function decodePartials(s: StoredPartials): AccountPartials {
  return {
    keys: s.keys,
    count: aligned(s.count, (b) => new Int32Array(b)),
    debit: aligned(s.debit, (b) => new BigInt64Array(b)),
    credit: aligned(s.credit, (b) => new BigInt64Array(b)),
  };
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
  const merged = new Map<string, { count: number; debit: bigint; credit: bigint }>();
  const done: string[] = [];
  for (const { key, value } of store.gold.getRange({
    start: PARTIAL_PREFIX,
    end: 'p|~',
    limit: maxPartials,
  })) {
    const p = decodePartials(value as StoredPartials);
    for (let i = 0; i < p.keys.length; i++) {
      const k = p.keys[i] as string;
      let m = merged.get(k);
      if (!m) {
        m = { count: 0, debit: 0n, credit: 0n };
        merged.set(k, m);
      }
      m.count += p.count[i] as number;
      m.debit += p.debit[i] as bigint;
      m.credit += p.credit[i] as bigint;
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
        debit: (BigInt(prev?.debit ?? '0') + m.debit).toString(),
        credit: (BigInt(prev?.credit ?? '0') + m.credit).toString(),
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
