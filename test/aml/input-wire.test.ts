/**
 * A validate request's AML input crosses to its shard as one buffer (engine/aml/input.ts
 * `packInput`); the shard must read back exactly the rows, flags and names that were sent.
 */
import { describe, expect, it } from 'vitest';
import { packInput, unpackInput } from '../../engine/aml/input.ts';
import type { AmlInput } from '../../engine/aml/kernel.ts';

const enc = new TextEncoder();

function input(names: AmlInput['names'], n = 3): AmlInput {
  return {
    n,
    key: BigUint64Array.from({ length: n }, (_, i) => 0xfedc_ba98_7654_3210n + BigInt(i)),
    ts: BigInt64Array.from({ length: n }, (_, i) => 1_764_000_000_000n - BigInt(i)),
    gbp: BigInt64Array.from({ length: n }, (_, i) => (i === 1 ? -1n : 9_000_00n + BigInt(i))),
    flags: Uint8Array.from({ length: n }, (_, i) => i * 3),
    names,
  };
}

/** Plain values of an input, to compare what was sent with what arrived. */
function plain(x: AmlInput) {
  const name = (i: number) => {
    const c = x.names;
    if (!c || (c.validity && ((c.validity[i >> 3] as number) & (1 << (i & 7))) === 0)) return null;
    return new TextDecoder().decode(c.data.subarray(c.offsets[i], c.offsets[i + 1]));
  };
  return {
    n: x.n,
    key: [...x.key.subarray(0, x.n)],
    ts: [...x.ts.subarray(0, x.n)],
    gbp: [...x.gbp.subarray(0, x.n)],
    flags: [...x.flags.subarray(0, x.n)],
    names: Array.from({ length: x.n }, (_, i) => name(i)),
  };
}

describe('an AML input packed for a shard', () => {
  it('arrives with the same rows, flags and names, nulls included', () => {
    // Offsets that do not start at 0 (a column sliced out of a larger one) and a null name.
    const data = enc.encode('xxJane SmithÉmile Zola');
    const names = {
      kind: 'utf8' as const,
      offsets: Int32Array.from([2, 12, 12, 23]),
      data,
      validity: Uint8Array.of(0b101),
    };
    const sent = input(names);
    const got = unpackInput(packInput(sent));
    expect(plain(got)).toEqual(plain(sent));
    expect(plain(got).names).toEqual(['Jane Smith', null, 'Émile Zola']);
  });

  it('arrives without names when none were sent, and empty when there are no rows', () => {
    expect(plain(unpackInput(packInput(input(null))))).toEqual(plain(input(null)));
    expect(unpackInput(packInput(input(null, 0))).n).toBe(0);
  });
});
