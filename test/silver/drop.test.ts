import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { keptCount, keptRanges } from '../../engine/silver/drop.ts';

describe('keptRanges', () => {
  it('cuts the dropped rows out as half-open ranges', () => {
    expect(keptRanges(10, [0, 3, 4, 9])).toEqual([
      [1, 3],
      [5, 9],
    ]);
    expect(keptRanges(5, undefined)).toEqual([[0, 5]]);
    expect(keptRanges(0, [])).toEqual([]);
  });

  it('ignores duplicate, out-of-range and non-integer indices', () => {
    expect(keptRanges(4, [2, 2, -1, 4, 1.5])).toEqual([
      [0, 2],
      [3, 4],
    ]);
  });

  it('keeps exactly the rows not dropped (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 200 }),
        fc.array(fc.integer({ min: -5, max: 205 })),
        (rows, drop) => {
          const kept: number[] = [];
          for (const [s, e] of keptRanges(rows, drop)) for (let i = s; i < e; i++) kept.push(i);
          const want = [...Array(rows).keys()].filter((i) => !drop.includes(i));
          expect(kept).toEqual(want);
          expect(keptCount(rows, drop)).toBe(want.length);
        },
      ),
    );
  });
});
