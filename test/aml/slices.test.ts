/**
 * A shard scores a batch a slice at a time while it catches up, so a validate request waits for
 * one slice rather than the whole batch (engine/aml/kernel.ts `scoreSteps`). Slicing must not
 * change a single output or the state left behind, even with dry runs in the pauses.
 */
import { describe, expect, it } from 'vitest';
import { AmlEngine, MemorySlotStore } from '../../engine/aml/engine.ts';
import { rowsOfShard } from '../../engine/aml/input.ts';
import type { AmlInput, AmlOutput } from '../../engine/aml/kernel.ts';
import { loadRules } from '../../engine/aml/rules.ts';
import { inputOf, rows, T0 } from './stream-rows.ts';

const rules = loadRules();

/** The stream's rows in a scrambled arrival order: the kernel sorts each batch by event time. */
function scrambled() {
  const all = rows();
  let seed = 11;
  for (let i = all.length - 1; i > 0; i--) {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    const j = seed % (i + 1);
    [all[i], all[j]] = [all[j] as (typeof all)[number], all[i] as (typeof all)[number]];
  }
  return all;
}

const plain = (o: AmlOutput) => ({
  score: [...o.score],
  rules: [...o.rules],
  flags: [...o.flags],
  detail: [...o.detail],
  detailAt: [...o.detailAt],
});

describe('scoring a batch in slices', () => {
  it('gives the outputs and leaves the state of one pass, with dry runs in its pauses', () => {
    const all = scrambled();
    const first = inputOf(all.slice(0, 1_500));
    const next = inputOf(all.slice(1_500));
    const mine = rowsOfShard(first.key, 0, 2);
    const whole = new AmlEngine(rules, null, 4096);
    const sliced = new AmlEngine(rules, null, 4096);
    const wholeStore = new MemorySlotStore();
    const slicedStore = new MemorySlotStore();

    const want = whole.score(first, mine, wholeStore, false);
    const probe: AmlInput = inputOf([{ key: 11n, ts: T0 + 43_000_000, gbp: 9_000_00n, credit: false }]);
    const steps = sliced.scoreSteps(first, mine, slicedStore, false, 100);
    let pauses = 0;
    let r = steps.next();
    for (; !r.done; r = steps.next()) {
      pauses++;
      sliced.score(probe, null, slicedStore, true); // a validate request's dry run, mid-batch
    }
    expect(pauses).toBe(Math.ceil(mine.length / 100) - 1);
    expect(plain(r.value)).toEqual(plain(want));
    expect(want.rules.some((x) => x !== 0)).toBe(true); // rules fired: the comparison can fail
    expect([...mine].every((i) => want.score[i] !== undefined)).toBe(true);
    // Rows of the other shard were left out in both.
    const other = rowsOfShard(first.key, 1, 2);
    expect([...other].some((i) => first.key[i] !== 0n)).toBe(true);
    expect(other.every((i) => r.value.score[i] === 0 && r.value.rules[i] === 0)).toBe(true);

    // The state each left behind scores the rest of the stream the same way.
    expect(plain(sliced.score(next, null, slicedStore, false))).toEqual(
      plain(whole.score(next, null, wholeStore, false)),
    );
  });

  it("gives one pass's outputs when the batch has more accounts than fit at once", () => {
    const all = scrambled();
    const input = inputOf(all);
    const small = new AmlEngine(rules, null, 128); // fewer slots than the stream's accounts
    const big = new AmlEngine(rules, null, 4096);
    const smallStore = new MemorySlotStore();
    const got = small.score(input, null, smallStore, false);
    expect(smallStore.slots.size).toBeGreaterThan(0); // accounts were evicted, then restored
    expect(plain(got)).toEqual(plain(big.score(input, null, new MemorySlotStore(), false)));
  });

  it('never slices a dry run: its rows see each other before the state is put back', () => {
    const busy = rows()
      .filter((x) => x.key === 11n)
      .slice(0, 20);
    const engine = new AmlEngine(rules, null, 4096);
    const store = new MemorySlotStore();
    const steps = engine.scoreSteps(inputOf(busy), null, store, true, 4);
    const r = steps.next();
    expect(r.done).toBe(true);
    // The same outputs as applying the rows in one pass: the 20th row counts the rows before it.
    const fresh = new AmlEngine(rules, null, 4096);
    const want = fresh.score(inputOf(busy), null, new MemorySlotStore(), false);
    expect(plain((r as IteratorReturnResult<AmlOutput>).value)).toEqual(plain(want));
    expect(want.detail[(want.detailAt[19] as number) * want.detailWords]).toBeGreaterThan(4n);
  });
});
