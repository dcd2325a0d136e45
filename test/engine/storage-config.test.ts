/** The storage settings the reliability work added: LMDB's starting map size and the silver roll. */
import { describe, expect, it } from 'vitest';
import { DEFAULTS, resolveConfig } from '../../engine/config.ts';

describe('storage settings', () => {
  it('default to a 1 GiB starting map and a roll every 30 s or 262,144 rows', () => {
    expect([DEFAULTS.lmdbMapSize, DEFAULTS.silverRollMs, DEFAULTS.silverRollRows]).toEqual([
      2 ** 30,
      30_000,
      262_144,
    ]);
  });

  it('are read from flags and SLUICE_* variables', () => {
    const c = resolveConfig(
      { 'lmdb-map-size': String(2 ** 20), 'silver-roll-ms': '700' },
      { SLUICE_SILVER_ROLL_ROWS: '8192' },
    );
    expect([c.lmdbMapSize, c.silverRollMs, c.silverRollRows]).toEqual([2 ** 20, 700, 8192]);
  });

  it('refuse a map under 1 MiB, a roll more often than every 100 ms, and rolls under 1,024 rows', () => {
    expect(() => resolveConfig({ 'lmdb-map-size': '65536' }, {})).toThrow(/lmdb-map-size/);
    expect(() => resolveConfig({ 'silver-roll-ms': '10' }, {})).toThrow(/silver-roll-ms/);
    expect(() => resolveConfig({ 'silver-roll-rows': '100' }, {})).toThrow(/silver-roll-rows/);
  });
});
