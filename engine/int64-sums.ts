/**
 * Per-key count, sum, min and max of int64 minor units, exact, without a BigInt per row.
 *
 * Reading a BigInt64Array element allocates a BigInt, and so does every BigInt addition: a
 * batch's gold aggregation made three per accepted row. Here an amount is read as its two 32-bit
 * words. The low words (unsigned, below 2^32) and the high words (signed, at most 2^31 in size)
 * are summed apart; over at most 2^20 rows per key (ROW_BITS, the most a batch holds) both sums
 * stay integers below 2^53, so every addition is exact integer arithmetic, never a rounded one. A key's
 * sum becomes one BigInt when it is read: high × 2^32 + low. Min and max are kept as the row that
 * holds them, compared word by word, and read as BigInts once per key.
 */
import { ROW_BITS } from './store.ts';

const TWO_32 = 4294967296n;

/** The exact value of a sum of low (unsigned) words and a sum of high (signed) words. */
export function fromWords(lo: number, hi: number): bigint {
  return BigInt(hi) * TWO_32 + BigInt(lo);
}

/** A 64-bit column's first `n` values as (low, high) 32-bit words, sharing its memory. */
export function words(values: BigInt64Array | BigUint64Array, n: number = values.length): Int32Array {
  return new Int32Array(values.buffer, values.byteOffset, 2 * n);
}

/** Value `i` of a word view, as a number: exact inside ±2^53 (event times, in ms, are). */
export function wordsValue(w: Int32Array, i: number): number {
  return (w[2 * i + 1] as number) * 4294967296 + ((w[2 * i] as number) >>> 0);
}

export class Int64Sums {
  /** Rows added per key. */
  readonly count: Int32Array;
  /** Keys in the order of their first row, `size` of them. */
  readonly order: Int32Array;
  size = 0;
  private readonly lo: Float64Array;
  private readonly hi: Float64Array;
  private readonly minRow: Int32Array;
  private readonly maxRow: Int32Array;
  private readonly words: Int32Array;

  /** `amounts` is read, never written; `keys` is how many distinct keys rows may be added under. */
  constructor(
    private readonly amounts: BigInt64Array,
    keys: number,
    private readonly extremes = true,
  ) {
    this.words = words(amounts);
    this.count = new Int32Array(keys);
    this.order = new Int32Array(keys);
    this.lo = new Float64Array(keys);
    this.hi = new Float64Array(keys);
    this.minRow = new Int32Array(extremes ? keys : 0);
    this.maxRow = new Int32Array(extremes ? keys : 0);
  }

  /** Adds row `i`'s amount under key `k`. */
  add(k: number, i: number): void {
    if ((this.count[k] as number) >= ROW_BITS)
      throw new RangeError(`more than ${ROW_BITS} rows under one key`);
    const lo = (this.words[2 * i] as number) >>> 0;
    const hi = this.words[2 * i + 1] as number;
    if (this.count[k] === 0) {
      this.order[this.size++] = k;
      if (this.extremes) {
        this.minRow[k] = i;
        this.maxRow[k] = i;
      }
    } else if (this.extremes) {
      if (this.below(i, this.minRow[k] as number)) this.minRow[k] = i;
      if (this.below(this.maxRow[k] as number, i)) this.maxRow[k] = i;
    }
    this.count[k] = (this.count[k] as number) + 1;
    this.lo[k] = (this.lo[k] as number) + lo;
    this.hi[k] = (this.hi[k] as number) + hi;
  }

  sum(k: number): bigint {
    return fromWords(this.lo[k] as number, this.hi[k] as number);
  }

  min(k: number): bigint {
    return this.amounts[this.minRow[k] as number] as bigint;
  }

  max(k: number): bigint {
    return this.amounts[this.maxRow[k] as number] as bigint;
  }

  /** Row a's amount < row b's: the signed high words decide, then the unsigned low ones. */
  private below(a: number, b: number): boolean {
    const ha = this.words[2 * a + 1] as number;
    const hb = this.words[2 * b + 1] as number;
    if (ha !== hb) return ha < hb;
    return (this.words[2 * a] as number) >>> 0 < (this.words[2 * b] as number) >>> 0;
  }
}
