import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Int64Sums } from '../../engine/int64-sums.ts';

const MIN = -(2n ** 63n);
const MAX = 2n ** 63n - 1n;

/** The plain BigInt reference: what gold computed before, one BigInt per row. */
function reference(amounts: bigint[], keys: number[]) {
  const m = new Map<number, { count: number; sum: bigint; min: bigint; max: bigint }>();
  amounts.forEach((a, i) => {
    const k = keys[i] as number;
    const r = m.get(k);
    if (!r) m.set(k, { count: 1, sum: a, min: a, max: a });
    else {
      r.count++;
      r.sum += a;
      if (a < r.min) r.min = a;
      if (a > r.max) r.max = a;
    }
  });
  return m;
}

function sums(amounts: bigint[], keys: number[], width: number) {
  const s = new Int64Sums(BigInt64Array.from(amounts), width);
  keys.forEach((k, i) => {
    s.add(k, i);
  });
  const out = new Map<number, { count: number; sum: bigint; min: bigint; max: bigint }>();
  for (const k of s.order.subarray(0, s.size)) {
    out.set(k, { count: s.count[k] as number, sum: s.sum(k), min: s.min(k), max: s.max(k) });
  }
  return out;
}

describe('Int64Sums', () => {
  it('equals BigInt sums, minima and maxima over the whole int64 range, keys in first-row order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.bigInt({ min: MIN, max: MAX }), fc.nat({ max: 7 })), { maxLength: 300 }),
        (rows) => {
          const amounts = rows.map((r) => r[0]);
          const keys = rows.map((r) => r[1]);
          const got = sums(amounts, keys, 8);
          const want = reference(amounts, keys);
          expect([...got.entries()]).toEqual([...want.entries()]);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('stays exact for a full batch of the largest and smallest amounts, where a float sum would round', () => {
    const n = 8192;
    const amounts = Array.from({ length: n }, (_, i) => (i % 2 ? MAX : MIN + 1n));
    const keys = Array.from({ length: n }, (_, i) => i % 2);
    const got = sums(amounts, keys, 2);
    expect(got.get(1)?.sum).toBe(MAX * BigInt(n / 2));
    expect(got.get(0)?.sum).toBe((MIN + 1n) * BigInt(n / 2));
    // Amounts that differ only in their low word, past 2^53.
    const near = [2n ** 60n + 1n, 2n ** 60n + 3n, 2n ** 60n + 2n, -(2n ** 60n) - 1n];
    const s = sums(near, [0, 0, 0, 0], 1).get(0);
    expect(s).toEqual({ count: 4, sum: 2n ** 61n + 5n, min: -(2n ** 60n) - 1n, max: 2n ** 60n + 3n });
  });
});
