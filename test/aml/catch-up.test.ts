/**
 * A shard catching up with a committed batch answers a validate request between slices of it
 * (engine/aml/shard-worker.ts), so the request waits for one slice, not the whole batch. Its dry
 * run sees the state as of the rows scored so far; once the batch is scored, all of it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type AmlInput, accountKeys, F_APPLY } from '../../engine/aml/kernel.ts';
import { RULE } from '../../engine/aml/rule-names.ts';
import { DEFAULT_RULES_PATH } from '../../engine/aml/rules.ts';
import { AmlShards } from '../../engine/aml/shards.ts';
import { utf8Column } from '../../engine/columns.ts';
import { Store } from '../../engine/store.ts';
import { WasmMemory } from '../../engine/wasm-memory.ts';
import { silverIpc } from '../silver/fixtures.ts';

const DAY = Date.parse('2026-01-01T00:00:00Z');
const ROWS = 8192;
/** The busy account's rows: the last 20 of the batch in event time, a second apart. */
const BUSY_FROM = ROWS - 20;
const SECOND = 1000;

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** One row for account `id` at `ts`, as a validate request brings it to the shards. */
function validateRow(id: string, ts: number): AmlInput {
  const key = accountKeys(new WasmMemory(), utf8Column([id]), 1);
  return {
    n: 1,
    key,
    ts: BigInt64Array.from([BigInt(ts)]),
    gbp: BigInt64Array.from([100n]),
    flags: Uint8Array.from([F_APPLY]),
    names: null,
  };
}

describe('an AML shard catching up', () => {
  it('answers a validate request between slices of a batch, as of the rows scored so far', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sluice-catchup-'));
    dirs.push(dataDir);
    const store = new Store({ dataDir });
    const aml = await AmlShards.start({ dataDir, shards: 1, rulesPath: DEFAULT_RULES_PATH });
    try {
      // Event time follows the row number; the busy account's 20 rows come last, so the first
      // slices (in event-time order) hold none of them.
      const ipc = silverIpc({
        batchId: 'big',
        date: '2026-01-01',
        rows: ROWS,
        tsOf: (i) => DAY + i * SECOND,
        accountOf: (i) => (i >= BUSY_FROM ? 'ACC-BUSY' : `ACC-${i % 4000}`),
      });
      let seq = 0;
      await store.env.transaction(() => {
        seq = store.nextSeq();
        store.staging.put(seq, { batchId: 'big', seq, parts: [{ date: '2026-01-01', rows: ROWS, ipc }] });
      });
      const probe = () => validateRow('ACC-BUSY', DAY + ROWS * SECOND);
      const velocity = (r: { rules: Uint16Array }) =>
        ((r.rules[0] as number) & (1 << RULE.VELOCITY_COUNT)) !== 0;

      // Both messages are queued before the shard takes either: the validate is answered after
      // the batch's first slice, before the busy account's rows are applied.
      aml.notify(seq);
      const during = await aml.validate(probe());
      await aml.scored(seq);
      const after = await aml.validate(probe());

      expect(velocity(during)).toBe(false);
      // The same request once the batch is scored: 20 rows in the last 20 s, and the rule fires.
      expect(velocity(after)).toBe(true);
    } finally {
      await aml.stop();
      await store.close();
    }
  });
});
