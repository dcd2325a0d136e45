/**
 * Packed AML slots (engine/aml/slot-codec.ts) hold the same state as the kernel's resident ones:
 * scoring continues through a pack, a forget and a restore exactly as it would have without them.
 */
import { describe, expect, it } from 'vitest';
import { AmlEngine, MemorySlotStore } from '../../engine/aml/engine.ts';
import { type SlotStore, slotKey } from '../../engine/aml/kernel.ts';
import { loadRules } from '../../engine/aml/rules.ts';
import { packSlot, SLOT_WORDS, unpackSlot } from '../../engine/aml/slot-codec.ts';
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
    const mem = new MemorySlotStore(straight.kernel.slotBytes);
    scoreAll(straight, mem, all.slice(0, half));
    scoreAll(resumed, mem, all.slice(0, half));

    const packed = new Map<bigint, Uint8Array>();
    for (const { slots, count } of resumed.kernel.takeDirty()) {
      for (let k = 0; k < count; k++) {
        const slot = slots.subarray(k * 8 * SLOT_WORDS, (k + 1) * 8 * SLOT_WORDS);
        packed.set(slotKey(slot), packSlot(slot));
      }
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
      get: (key) => {
        const v = packed.get(key);
        return v ? unpackSlot(v) : undefined;
      },
      evicted: () => {
        throw new Error('nothing is evicted at this size');
      },
    };
    const want = scoreAll(straight, mem, all.slice(half));
    const got = scoreAll(resumed, fromPacked, all.slice(half));
    expect(got).toEqual(want);
    expect(want.some((b) => b.rules.some((r) => r !== 0))).toBe(true); // rules did fire: the check can fail
  });

  it('reads a full-size value (stored before packing) as it is', () => {
    const full = new Uint8Array(8 * SLOT_WORDS).map((_, i) => i % 251);
    expect(unpackSlot(full)).toEqual(full);
  });

  it('refuses a value whose length does not match its header', () => {
    const engine = new AmlEngine(rules, null, 64);
    engine.score(inputOf(rows().slice(0, 50)), null, new MemorySlotStore(engine.kernel.slotBytes), false);
    const first = engine.kernel.takeDirty()[0];
    expect(first?.count).toBeGreaterThan(0);
    const packed = packSlot((first?.slots ?? new Uint8Array(0)).subarray(0, 8 * SLOT_WORDS));
    expect(() => unpackSlot(packed.subarray(0, packed.byteLength - 8))).toThrow(/does not match/);
    expect(() => unpackSlot(new Uint8Array(16))).toThrow(/truncated/);
  });
});
