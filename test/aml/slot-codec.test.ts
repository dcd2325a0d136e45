/**
 * Packed AML slots (the kernel's `State::pack`, walked by engine/aml/slot-codec.ts) hold the same
 * state as the kernel's resident ones: scoring continues through a checkpoint, a forget and a
 * restore exactly as it would have without them.
 */
import { describe, expect, it } from 'vitest';
import { AmlEngine, MemorySlotStore } from '../../engine/aml/engine.ts';
import type { SlotStore } from '../../engine/aml/kernel.ts';
import { loadRules } from '../../engine/aml/rules.ts';
import { eachPacked, SLOT_WORDS, storedSlotWords } from '../../engine/aml/slot-codec.ts';
import { inputOf, rows, T0 } from './stream-rows.ts';

const rules = loadRules();

function scoreAll(engine: AmlEngine, store: SlotStore, part: ReturnType<typeof rows>) {
  const out = [];
  for (let at = 0; at < part.length; at += 256) {
    const s = engine.score(inputOf(part.slice(at, at + 256)), null, store, false);
    out.push({
      score: [...s.score],
      rules: [...s.rules],
      flags: [...s.flags],
      detail: [...s.detail],
      detailAt: [...s.detailAt],
    });
  }
  return out;
}

describe('packed AML slots', () => {
  it('restore to a state that scores the rest of the stream exactly as the uninterrupted one', () => {
    const all = rows();
    const half = all.findIndex((r) => r.ts >= T0 + 43_200_000); // midday
    expect(all.slice(half).filter((r) => r.key === 11n).length).toBeGreaterThan(20);
    const straight = new AmlEngine(rules, null, 4096);
    const resumed = new AmlEngine(rules, null, 4096);
    const mem = new MemorySlotStore();
    scoreAll(straight, mem, all.slice(0, half));
    scoreAll(resumed, mem, all.slice(0, half));

    const packed = new Map<bigint, Uint8Array>();
    for (const { slots, count } of resumed.kernel.takeDirty()) {
      eachPacked(slots, count, (key, slot) => packed.set(key, slot));
    }
    expect(packed.size).toBeGreaterThan(250);
    // The busy account's ring has wrapped: 64 rows kept, the oldest dropped.
    expect(packed.get(11n)?.byteLength).toBe(8 * (8 + 2 * 64));
    // The structuring account keeps its band rows beside its ring.
    expect(packed.get(22n)?.byteLength).toBe(8 * (8 + 2 * 6 + 6));
    const bytes = [...packed.values()].reduce((s, v) => s + v.byteLength, 0);
    expect(bytes / packed.size).toBeLessThan((8 * SLOT_WORDS) / 3);

    resumed.kernel.reset(); // everything forgotten: the rest comes back from the packed values
    const fromPacked: SlotStore = {
      get: (key) => packed.get(key),
      evicted: () => {
        throw new Error('nothing is evicted at this size');
      },
    };
    const want = scoreAll(straight, mem, all.slice(half));
    const got = scoreAll(resumed, fromPacked, all.slice(half));
    expect(got).toEqual(want);
    expect(want.some((b) => b.rules.some((r) => r !== 0))).toBe(true); // rules did fire: the check can fail
  });

  it('restores a full-size value (stored before packing) as the resident slot it is', () => {
    // The busy account's slot at full size, its ring wrapped (head not 0), as values stored
    // before packing were: unpacked here by placing the packed ring rows back at the head.
    const all = rows();
    const half = all.findIndex((r) => r.ts >= T0 + 43_200_000);
    const first = new AmlEngine(rules, null, 4096);
    scoreAll(first, new MemorySlotStore(), all.slice(0, half));
    let packed11: Uint8Array | undefined;
    for (const { slots, count } of first.kernel.takeDirty()) {
      eachPacked(slots, count, (key, slot) => {
        if (key === 11n) packed11 = slot;
      });
    }
    const packed = packed11 as Uint8Array;
    expect(packed.byteLength).toBe(8 * (8 + 2 * 64));
    const head = 5;
    const full = new BigUint64Array(SLOT_WORDS);
    const from = new BigUint64Array(packed.buffer, packed.byteOffset, packed.byteLength / 8);
    full.set(from.subarray(0, 8));
    full[6] = ((full[6] as bigint) & ~0xffn) | BigInt(head);
    for (let j = 0; j < 64; j++) {
      const p = 8 + 2 * ((head + j) % 64);
      full[p] = from[8 + 2 * j] as bigint;
      full[p + 1] = from[8 + 2 * j + 1] as bigint;
    }
    const fullBytes = new Uint8Array(full.buffer);
    expect(storedSlotWords(fullBytes)).toBe(SLOT_WORDS);
    const rest = all.slice(half, half + 2000);
    const viaPacked = new AmlEngine(rules, null, 4096);
    const viaFull = new AmlEngine(rules, null, 4096);
    const only = (v: Uint8Array): SlotStore => ({
      get: (key) => (key === 11n ? v : undefined),
      evicted: () => {},
    });
    const a = scoreAll(
      viaPacked,
      only(packed),
      rest.filter((r) => r.key === 11n),
    );
    const b = scoreAll(
      viaFull,
      only(fullBytes),
      rest.filter((r) => r.key === 11n),
    );
    expect(b).toEqual(a);
    expect(a[0]?.detail.length).toBeGreaterThan(0); // the busy account fires: its history was read
  });

  it('refuses a value whose length does not match its header', () => {
    const engine = new AmlEngine(rules, null, 64);
    engine.score(inputOf(rows().slice(0, 50)), null, new MemorySlotStore(), false);
    const first = engine.kernel.takeDirty()[0];
    expect(first?.count).toBeGreaterThan(0);
    let one: Uint8Array = new Uint8Array(0);
    eachPacked(first?.slots ?? new Uint8Array(0), 1, (_, slot) => {
      one = slot;
    });
    expect(storedSlotWords(one)).toBe(one.byteLength / 8);
    expect(() => storedSlotWords(one.subarray(0, one.byteLength - 8))).toThrow(/does not match/);
    expect(() => storedSlotWords(new Uint8Array(16))).toThrow(/truncated/);
    // The kernel is never handed such a value: restoring it fails with the reason.
    const broken = new AmlEngine(rules, null, 64);
    const store: SlotStore = { get: () => one.subarray(0, one.byteLength - 8), evicted: () => {} };
    expect(() => broken.score(inputOf(rows().slice(0, 5)), null, store, false)).toThrow(/does not match/);
  });
});
