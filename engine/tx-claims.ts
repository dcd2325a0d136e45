/**
 * The tx-id index: every id ever claimed, and the row that claimed it (`seq * ROW_BITS + row`),
 * for dedup across all time and for lineage.
 *
 * It has two forms, and each claimed id is in exactly one of them:
 *
 * - `txids`: one key per id (the id's bytes);
 * - `txranges`: one key per run of consecutive ids claimed by consecutive rows of one batch.
 *   A core system numbers its payments from a journal sequence (`TX-20261127-000123457` follows
 *   `TX-20261127-000123456`), so a batch is mostly such runs. Claiming a run takes two lookups
 *   and one put whatever its length, where one key per id cost a put per row (0.5–0.9 µs each
 *   through lmdb-js, about a tenth of a pool worker's CPU on 8k-row batches), and the index
 *   writes about 20 bytes per run instead of 30–40 per row.
 *
 * An id is split into a prefix and its trailing digits (at most 15, so the number is exact in a
 * double): `TX-7-000123` is (`TX-7-`, width 6, 123). The split is a function of the id, so an id
 * belongs to a range exactly when its prefix and width are the range's and its number is inside.
 * A range's key is prefix, 0x00, width, then the first number big-endian: ranges of one prefix
 * and width sort by their first number, and the greatest key at or below (prefix, width, n) is
 * the only range that can hold n (ranges of one prefix and width never overlap: a run that would
 * overlap a range, or any single key among its ids, is claimed row by row instead).
 *
 * A single id with trailing digits is checked against the ranges before its put, once any range
 * exists. A feed with no runs (random ids) never writes one, and pays one probe per commit.
 */
import { ROW_BITS, type Store } from './store.ts';
import type { TxIdBytes } from './validator.ts';

/** Shortest run claimed as a range: below it the range's two lookups cost more than the puts. */
export const MIN_RUN = 8;

/** Trailing digits taken as an id's number: 10^15 < 2^53, so every number is an exact double. */
const MAX_DIGITS = 15;

const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;

const APPEND = { append: true };
const NO_OVERWRITE = { noOverwrite: true };

/** A range's value: the first id's row locator and how many ids it holds. */
type RangeValue = [first: number, count: number];

/** Trailing-digit count of `b[start, end)`, at most MAX_DIGITS (0: the id ends in no digit). */
function widthOf(b: Uint8Array, start: number, end: number): number {
  let w = 0;
  while (w < MAX_DIGITS && end - w > start) {
    const c = b[end - w - 1] as number;
    if (c < DIGIT_0 || c > DIGIT_9) break;
    w++;
  }
  return w;
}

function numberOf(b: Uint8Array, start: number, end: number): number {
  let n = 0;
  for (let i = start; i < end; i++) n = n * 10 + ((b[i] as number) - DIGIT_0);
  return n;
}

/**
 * The place of the id `b[start, end)` (`width` trailing digits) in the range form: prefix, 0x00
 * (below every id byte), width, the number as 8 bytes big-endian. A range's key is its first id's.
 */
function placeKey(b: Uint8Array, start: number, end: number, width: number): Buffer {
  const p = end - width - start;
  const key = Buffer.allocUnsafe(p + 10);
  key.set(b.subarray(start, end - width), 0);
  key[p] = 0;
  key[p + 1] = width;
  setKeyNumber(key, numberOf(b, end - width, end));
  return key;
}

/** The number a key (of a range, or an id's place) ends in. */
function keyNumber(key: Buffer): number {
  return key.readUInt32BE(key.length - 8) * 2 ** 32 + key.readUInt32BE(key.length - 4);
}

function setKeyNumber(key: Buffer, n: number): void {
  key.writeUInt32BE(Math.floor(n / 2 ** 32), key.length - 8);
  key.writeUInt32BE(n >>> 0, key.length - 4);
}

/** Whether two keys share their prefix and width (all but the number). */
function sameHead(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && a.compare(b, 0, a.length - 8, 0, a.length - 8) === 0;
}

/** A stored range: its key, first number, end (one past its last number) and first row's locator. */
interface Range {
  key: Buffer;
  first: number;
  end: number;
  base: number;
}

/**
 * The range of `key`'s prefix and width with the greatest first number at or below `key`'s. Ranges
 * of one prefix and width never overlap, so it is the only one that can hold that number or any
 * above it.
 */
function rangeBelow(s: Store, key: Buffer): Range | undefined {
  for (const e of s.txranges.getRange({ start: key, reverse: true, limit: 1 })) {
    const k = e.key as Buffer;
    if (!sameHead(k, key)) return undefined;
    const [base, count] = e.value as RangeValue;
    const first = keyNumber(k);
    // A copy: lmdb-js may hand the key over in a buffer its next read reuses.
    return { key: Buffer.from(k), first, end: first + count, base };
  }
  return undefined;
}

/** The range that holds `key`'s number, if any. */
function rangeAt(s: Store, key: Buffer): Range | undefined {
  const r = rangeBelow(s, key);
  return r && keyNumber(key) < r.end ? r : undefined;
}

/** Whether any range is stored. Once seen, a store keeps checking (ranges are rarely all gone). */
const rangesSeen = new WeakSet<Store>();
function anyRange(s: Store): boolean {
  if (rangesSeen.has(s)) return true;
  for (const _ of s.txranges.getKeys({ limit: 1 })) {
    rangesSeen.add(s);
    return true;
  }
  return false;
}

/** The greatest id with a key of its own, in LMDB's byte order; undefined while there is none. */
function lastTxId(s: Store): Uint8Array | undefined {
  // Keys read back as strings (store.ts, `txIdKeys`); a claimed id is ASCII.
  for (const key of s.txids.getKeys({ reverse: true, limit: 1 }))
    return typeof key === 'string' ? Buffer.from(key, 'latin1') : key;
  return undefined;
}

/**
 * Claims the ids of the rows with `claims[i]` set, in row order, inside the commit's write
 * transaction; sets `dup[i]` for each one already claimed (by an earlier batch, a concurrent one
 * committed first, or an earlier row of this one). The first sighting of an id claims it.
 */
export function claimIds(s: Store, seq: number, ids: TxIdBytes, claims: Uint8Array, dup: Uint8Array): void {
  const { data, offsets } = ids;
  const n = claims.length;
  let ranges = anyRange(s);
  // Ids above every stored key (sequence numbers, time-ordered ids) are appended: LMDB's
  // MDB_APPEND writes at the end of the tree without searching it, about half the cost of a put.
  // Only speed rests on Buffer.compare's order agreeing with LMDB's: an append that is not past the
  // last key fails and the row takes the searching put, which alone decides claim or duplicate.
  let last = lastTxId(s);

  const claimOne = (i: number, start: number, end: number, width: number): void => {
    if (ranges && width > 0 && rangeAt(s, placeKey(data, start, end, width))) {
      dup[i] = 1;
      return;
    }
    const id = data.subarray(start, end);
    const value = seq * ROW_BITS + i;
    let claimed = false;
    if (last === undefined || Buffer.compare(id, last) > 0) {
      claimed = s.txids.putSync(id, value, APPEND) as unknown as boolean;
      if (claimed) last = id;
    }
    // One B-tree descent: the put fails, synchronously, when the id is already there.
    if (!claimed) claimed = s.txids.putSync(id, value, NO_OVERWRITE) as unknown as boolean;
    if (!claimed) dup[i] = 1;
  };

  /** Claims rows i..j (ids first..first + j - i of one prefix and width) as one range, if free. */
  const claimRun = (i: number, j: number, width: number, first: number): boolean => {
    const si = offsets[i] as number;
    const ei = offsets[i + 1] as number;
    const sj = offsets[j] as number;
    const ej = offsets[j + 1] as number;
    if (ranges) {
      // The only range that could overlap: the greatest starting at or below the run's last id.
      const r = rangeBelow(s, placeKey(data, sj, ej, width));
      if (r && r.end > first) return false;
    }
    // An id of the run with a key of its own, or any key between its first and last id.
    for (const _ of s.txids.getKeys({
      start: data.subarray(si, ei),
      end: data.subarray(sj, ej),
      inclusiveEnd: true,
      limit: 1,
    }))
      return false;
    s.txranges.putSync(placeKey(data, si, ei, width), [seq * ROW_BITS + i, j - i + 1] satisfies RangeValue);
    ranges = true;
    rangesSeen.add(s);
    return true;
  };

  let i = 0;
  while (i < n) {
    if (!claims[i] || dup[i]) {
      i++;
      continue;
    }
    const si = offsets[i] as number;
    const ei = offsets[i + 1] as number;
    const width = widthOf(data, si, ei);
    // The run starting at row i: each next row's id is this one's successor.
    let j = i;
    if (width > 0) {
      const first = numberOf(data, ei - width, ei);
      const len = ei - si;
      const p = len - width;
      let num = first;
      while (j + 1 < n && claims[j + 1] && !dup[j + 1]) {
        const sk = offsets[j + 1] as number;
        if ((offsets[j + 2] as number) - sk !== len) break;
        if (numberOf(data, sk + p, sk + len) !== num + 1 || widthOf(data, sk, sk + len) !== width) break;
        let same = true;
        for (let k = 0; k < p && same; k++) same = data[sk + k] === data[si + k];
        if (!same) break;
        num++;
        j++;
      }
      if (j - i + 1 >= MIN_RUN && claimRun(i, j, width, first)) {
        i = j + 1;
        continue;
      }
    }
    // Row by row: a lone id, a short run, or a run that meets an earlier claim (a run's ids
    // share the width).
    for (let k = i; k <= j; k++) claimOne(k, offsets[k] as number, offsets[k + 1] as number, width);
    i = j + 1;
  }
}

/** An id's place in the range form, as a range lookup needs it (undefined: no trailing digits). */
function placeOf(id: string): Buffer | undefined {
  const b = Buffer.from(id);
  const w = widthOf(b, 0, b.length);
  return w === 0 ? undefined : placeKey(b, 0, b.length, w);
}

/** The row that claimed `id` (`seq * ROW_BITS + row`), or undefined if no row has. */
export function claimOf(s: Store, id: string): number | undefined {
  const own = s.txids.get(id);
  if (own !== undefined) return own;
  const key = placeOf(id);
  if (!key) return undefined;
  const r = rangeAt(s, key);
  return r && r.base + (keyNumber(key) - r.first);
}

/**
 * The claims of many ids, in order (a validate request's rows; null for a row that claims
 * nothing). Consecutive ids of one prefix and width share their range lookups: each lookup learns
 * a span of numbers (a range's, or the gap between two ranges) that answers the ids after it.
 * One lookup per id cost about 2 µs against 0.5 for a key's own get.
 */
export function claimsOf(s: Store, ids: readonly (string | null)[]): (number | undefined)[] {
  const out: (number | undefined)[] = new Array(ids.length).fill(undefined);
  const ranges = anyRange(s);
  // What the last lookup learnt: numbers in [lo, hi) of the prefix and width of `place` are held
  // by the range at `first` (row locators from `base`), or, with `base` undefined, by no range.
  let known: { place: Buffer; lo: number; hi: number; first: number; base: number | undefined } | undefined;
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (id === null || id === undefined) continue;
    const own = s.txids.get(id);
    if (own !== undefined || !ranges) {
      out[i] = own;
      continue;
    }
    const key = placeOf(id);
    if (!key) continue;
    const n = keyNumber(key);
    if (!known || n < known.lo || n >= known.hi || !sameHead(key, known.place)) {
      const below = rangeBelow(s, key);
      if (below && n < below.end) {
        known = { place: key, lo: below.first, hi: below.end, first: below.first, base: below.base };
      } else {
        // No range holds n: nor any number up to the next range's first (none starts at n).
        let hi = Number.POSITIVE_INFINITY;
        for (const k of s.txranges.getKeys({ start: key, limit: 1 }))
          if (sameHead(k as Buffer, key)) hi = keyNumber(k as Buffer);
        known = { place: key, lo: below ? below.end : 0, hi, first: 0, base: undefined };
      }
    }
    if (known.base !== undefined) out[i] = known.base + (n - known.first);
  }
  return out;
}

/**
 * Gives up `id`'s claim if `holder` holds it (a quarantined row's claim, taken over when a
 * reviewer releases or corrects the row); inside a write transaction. An id inside a range leaves
 * the range split around it.
 */
export function releaseClaim(s: Store, id: string, holder: number): boolean {
  if (s.txids.get(id) === holder) {
    s.txids.remove(id);
    return true;
  }
  const key = placeOf(id);
  const r = key && rangeAt(s, key);
  if (!key || !r) return false;
  const n = keyNumber(key);
  if (r.base + (n - r.first) !== holder) return false;
  s.txranges.remove(r.key);
  if (n > r.first) s.txranges.put(r.key, [r.base, n - r.first] satisfies RangeValue);
  if (n + 1 < r.end) {
    const next = Buffer.from(key);
    setKeyNumber(next, n + 1);
    s.txranges.put(next, [r.base + (n + 1 - r.first), r.end - n - 1] satisfies RangeValue);
  }
  return true;
}

/** Every claimed id and its row, ids with a key of their own first, then each range's (audits). */
export function* claimedIds(s: Store): Generator<[string, number]> {
  for (const { key, value } of s.txids.getRange({})) yield [key as string, value as number];
  for (const { key, value } of s.txranges.getRange({})) {
    const k = key as Buffer;
    const head = k.length - 8;
    const prefix = k.toString('latin1', 0, head - 2);
    const width = k[head - 1] as number;
    const first = keyNumber(k);
    const [base, count] = value as RangeValue;
    for (let d = 0; d < count; d++) yield [prefix + String(first + d).padStart(width, '0'), base + d];
  }
}
