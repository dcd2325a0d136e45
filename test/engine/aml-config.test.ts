/** How the AML shard count and resident capacity default, and what setting them does. */
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { AML_RESIDENT_TOTAL, resolveConfig } from '../../engine/config.ts';

describe('AML shard settings', () => {
  it('default to one shard per two cores, splitting the resident accounts between them', () => {
    const c = resolveConfig({}, {});
    expect(c.amlShards).toBe(Math.max(1, Math.floor(os.availableParallelism() / 2)));
    expect(c.amlCapacity).toBe(Math.floor(AML_RESIDENT_TOTAL / c.amlShards));
  });

  it('split the total across the shards asked for when no capacity is given', () => {
    expect(resolveConfig({ 'aml-shards': '4' }, {}).amlCapacity).toBe(AML_RESIDENT_TOTAL / 4);
    expect(resolveConfig({}, {}, { amlShards: 2 }).amlCapacity).toBe(AML_RESIDENT_TOTAL / 2);
  });

  it('keep a capacity that is given, per shard, from a flag, a variable or an override', () => {
    expect(resolveConfig({ 'aml-shards': '4', 'aml-capacity': '2048' }, {}).amlCapacity).toBe(2048);
    expect(resolveConfig({}, { SLUICE_AML_CAPACITY: '4096' }).amlCapacity).toBe(4096);
    expect(resolveConfig({}, {}, { amlCapacity: 8192 }).amlCapacity).toBe(8192);
    expect(() => resolveConfig({ 'aml-capacity': '10' }, {})).toThrow(/aml-capacity/);
  });
});
