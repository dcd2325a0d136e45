import { afterAll, describe, expect, it } from 'vitest';
import {
  type AccountAggregate,
  encodePartials,
  foldAccountPartials,
  foldAll,
  partialKey,
} from '../../engine/gold.ts';
import { Store } from '../../engine/store.ts';
import { tempDir } from '../support/service.ts';

const dir = tempDir();
const store = new Store({ dataDir: dir.path });
afterAll(async () => {
  await store.close();
  dir.remove();
});

function partial(keys: string[], count: number[], debit: bigint[], credit: bigint[]) {
  return encodePartials({
    keys,
    count: Int32Array.from(count),
    debit: BigInt64Array.from(debit),
    credit: BigInt64Array.from(credit),
  });
}

describe('account gold folding', () => {
  it('merges batch partials into per-account per-day aggregates exactly once', async () => {
    await store.gold.put(
      partialKey(1),
      partial(['2026-11-27|A1', '2026-11-27|A2'], [2, 1], [500n, 0n], [0n, 700n]),
    );
    await store.gold.put(partialKey(2), partial(['2026-11-27|A1'], [1], [9_007_199_254_740_993n], [0n]));
    expect(await foldAccountPartials(store, 1)).toBe(1); // bounded per fold
    await foldAll(store);
    expect(await foldAccountPartials(store)).toBe(0); // nothing left to apply twice
    expect(store.gold.get('a|2026-11-27|A1') as AccountAggregate).toEqual({
      count: 3,
      debit: (9_007_199_254_740_993n + 500n).toString(), // beyond 2^53: kept exact
      credit: '0',
    });
    expect(store.gold.get('a|2026-11-27|A2') as AccountAggregate).toEqual({
      count: 1,
      debit: '0',
      credit: '700',
    });
    expect([...store.gold.getKeys({ start: 'p|', end: 'p|~' })]).toEqual([]);
  });

  it('sums exactly across partials, past 2^32 and 2^53, with words that carry and go negative', async () => {
    const values = [4_294_967_295n, 4_294_967_297n, 9_007_199_254_740_993n, -5n, 2n ** 62n];
    for (const [i, v] of values.entries()) {
      await store.gold.put(partialKey(10 + i), partial(['2026-11-29|A7'], [1], [v], [-v]));
    }
    await foldAll(store);
    const sum = values.reduce((a, b) => a + b, 0n);
    expect(store.gold.get('a|2026-11-29|A7') as AccountAggregate).toEqual({
      count: values.length,
      debit: sum.toString(),
      credit: (-sum).toString(),
    });
  });

  it('applies a partial once when two folds read it before either writes', async () => {
    await store.gold.put(partialKey(3), partial(['2026-11-28|A9'], [1], [100n], [0n]));
    await store.gold.put(partialKey(4), partial(['2026-11-28|A9'], [2], [0n], [50n]));
    // Both read and merge before either transaction runs; the second finds the partials gone.
    const [a, b] = await Promise.all([foldAccountPartials(store), foldAccountPartials(store)]);
    expect([a, b].sort()).toEqual([0, 2]);
    expect(store.gold.get('a|2026-11-28|A9') as AccountAggregate).toEqual({
      count: 3,
      debit: '100',
      credit: '50',
    });
  });
});
