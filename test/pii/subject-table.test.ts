/**
 * The subject table behind sealing's column path: found by hash and confirmed by bytes, so ids
 * that share a hash never share a value; it grows with its entries and empties at capacity.
 */
import { describe, expect, it } from 'vitest';
import { SubjectTable } from '../../engine/pii/subject-table.ts';

const bytes = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));

describe('subject table', () => {
  it('finds a value by hash and bytes, also inside a longer buffer', () => {
    const t = new SubjectTable<string>(100);
    const a = bytes('xxC0000001yy');
    t.add(11, 22, a, 2, 10, 'one');
    expect(t.get(11, 22, bytes('C0000001'), 0, 8)).toBe('one');
    expect(t.get(11, 23, bytes('C0000001'), 0, 8)).toBeUndefined();
    expect(t.get(11, 22, bytes('C0000002'), 0, 8)).toBeUndefined();
  });

  it('keeps ids that share a hash apart, by their bytes and their length', () => {
    const t = new SubjectTable<string>(100);
    t.add(5, 5, bytes('AB'), 0, 2, 'ab');
    t.add(5, 5, bytes('ABC'), 0, 3, 'abc');
    t.add(5, 5, bytes('BA'), 0, 2, 'ba');
    expect(t.get(5, 5, bytes('AB'), 0, 2)).toBe('ab');
    expect(t.get(5, 5, bytes('ABC'), 0, 3)).toBe('abc');
    expect(t.get(5, 5, bytes('BA'), 0, 2)).toBe('ba');
    expect(t.get(5, 5, bytes('A'), 0, 1)).toBeUndefined();
  });

  it('keeps every entry through growth, hashes with the sign bit set included', () => {
    const t = new SubjectTable<number>(50_000);
    const id = (k: number) => bytes(`C${String(k).padStart(7, '0')}`);
    // Low words that collide in the small first table, and high words past 2^31.
    const lo = (k: number) => (k * 1024) >>> 0;
    const hi = (k: number) => (0x80000000 + k) >>> 0;
    for (let k = 0; k < 20_000; k++) t.add(lo(k), hi(k), id(k), 0, 8, k);
    expect(t.size).toBe(20_000);
    const wrong: number[] = [];
    for (let k = 0; k < 20_000; k++) if (t.get(lo(k), hi(k), id(k), 0, 8) !== k) wrong.push(k);
    expect(wrong).toEqual([]);
  });

  it('empties itself when full, and stays usable', () => {
    const t = new SubjectTable<string>(3);
    for (const [k, s] of ['A', 'B', 'C'].entries()) t.add(k, 0, bytes(s), 0, 1, s);
    t.add(9, 0, bytes('D'), 0, 1, 'D');
    expect(t.size).toBe(1);
    expect(t.get(0, 0, bytes('A'), 0, 1)).toBeUndefined();
    expect(t.get(9, 0, bytes('D'), 0, 1)).toBe('D');
  });
});
