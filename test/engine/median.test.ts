/** The batch median behind `timeliness_ms`: the same element a sort would put at the middle. */
import { describe, expect, it } from 'vitest';
import { upperMedian } from '../../engine/median.ts';

const bySort = (v: number[]) => (v.length ? ([...v].sort((a, b) => a - b)[v.length >> 1] as number) : null);

describe('upper median', () => {
  it('is null for no values and the value for one', () => {
    expect(upperMedian(new Float64Array(0))).toBeNull();
    expect(upperMedian(Float64Array.of(42))).toBe(42);
  });

  it('takes the upper of the two middle values for an even count', () => {
    expect(upperMedian(Float64Array.of(4, 1, 3, 2))).toBe(3);
  });

  it('agrees with a sort on random, duplicate-heavy, sorted, reversed and organ-pipe input', () => {
    let seed = 7;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    const shapes: ((n: number) => number[])[] = [
      (n) => Array.from({ length: n }, () => rand() % 3_600_000),
      (n) => Array.from({ length: n }, () => rand() % 3),
      (n) => Array.from({ length: n }, (_, i) => i),
      (n) => Array.from({ length: n }, (_, i) => n - i),
      (n) => Array.from({ length: n }, (_, i) => Math.min(i, n - i)),
      (n) => Array.from({ length: n }, () => -(rand() % 1000)),
    ];
    for (const shape of shapes) {
      for (const n of [2, 3, 5, 16, 17, 100, 1001, 8192]) {
        const v = shape(n);
        expect(upperMedian(Float64Array.from(v)), `${shape} n=${n}`).toBe(bySort(v));
      }
    }
  });
});
