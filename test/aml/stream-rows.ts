/**
 * A deterministic day of AML rows for kernel tests: a busy account whose ring wraps, a
 * structuring account, and background traffic over 300 accounts.
 */
import { type AmlInput, F_APPLY, F_CREDIT } from '../../engine/aml/kernel.ts';

export const T0 = Date.parse('2026-11-20T09:00:00Z');

/** Deterministic rows: a busy account whose ring wraps, a structuring account, and background. */
export function rows(): { key: bigint; ts: number; gbp: bigint; credit: boolean }[] {
  let seed = 7;
  const rnd = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const out: { key: bigint; ts: number; gbp: bigint; credit: boolean }[] = [];
  // Every 30 s from 11:00 for 75 minutes, across midday: its ring wraps before then.
  for (let i = 0; i < 150; i++) {
    out.push({ key: 11n, ts: T0 + 39_600_000 + i * 30_000, gbp: 2_000_00n, credit: i % 5 === 0 });
  }
  for (let i = 0; i < 6; i++) out.push({ key: 22n, ts: T0 + i * 3_600_000, gbp: 9_500_00n, credit: false });
  for (let i = 0; i < 2_000; i++) {
    out.push({
      key: BigInt(100 + Math.floor(rnd() * 300)),
      ts: T0 + Math.floor(rnd() * 86_400_000),
      gbp: BigInt(Math.floor(rnd() * 2_000_000)),
      credit: rnd() < 0.3,
    });
  }
  return out.sort((a, b) => a.ts - b.ts);
}

export function inputOf(part: ReturnType<typeof rows>): AmlInput {
  const n = part.length;
  return {
    n,
    key: BigUint64Array.from(part, (r) => r.key),
    ts: BigInt64Array.from(part, (r) => BigInt(r.ts)),
    gbp: BigInt64Array.from(part, (r) => r.gbp),
    flags: Uint8Array.from(part, (r) => F_APPLY | (r.credit ? F_CREDIT : 0)),
    names: null,
  };
}
