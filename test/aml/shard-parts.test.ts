/** Merging the AML shards' answers for one staged part (engine/aml/silver-columns.ts). */
import { describe, expect, it } from 'vitest';
import { loadPart, mergeShardParts } from '../../engine/aml/silver-columns.ts';

const part = (score: number[], rules: number[], flags: number[]) => ({
  score: Uint8Array.from(score),
  rules: Uint16Array.from(rules),
  flags: Uint8Array.from(flags),
});

describe('shard parts', () => {
  it('take each row from the shard that scored it (the others leave it zero)', () => {
    const a = part([0, 60, 0], [0, 0b10, 0], [0, 1, 0]);
    const b = part([30, 0, 0], [0b100000, 0, 0], [0, 0, 0]);
    const m = mergeShardParts([a, b], 3);
    expect([...m.score]).toEqual([30, 60, 0]);
    expect([...m.rules]).toEqual([0b100000, 0b10, 0]);
    expect([...m.flags]).toEqual([0, 1, 0]);
  });

  it("are one shard's answer as it is, when there is one shard", () => {
    const a = part([10, 0], [0b100000000, 0], [0, 1]);
    expect(mergeShardParts([a], 2)).toBe(a);
  });

  it('load as copies of the stored bytes, so a reused decode buffer cannot change them', () => {
    const stored = {
      date: '2026-11-27',
      rows: 2,
      score: Buffer.from([5, 70]),
      rules: Buffer.from(new Uint8Array(Uint16Array.from([0, 0b11]).buffer)),
      flags: Buffer.from([0, 1]),
    };
    const p = loadPart(stored);
    stored.score.fill(0);
    stored.flags.fill(0);
    expect([...p.score]).toEqual([5, 70]);
    expect([...p.rules]).toEqual([0, 0b11]);
    expect([...p.flags]).toEqual([0, 1]);
  });
});
