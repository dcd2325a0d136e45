/**
 * A large Arrow body split across two workers must come out exactly as if one worker had done it:
 * same counts, same reasons, same gold, same staged silver, duplicates across the halves caught.
 */

import { DuckDBInstance } from '@duckdb/node-api';
import { type RecordBatch, Table, tableFromIPC, tableToIPC } from 'apache-arrow';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_SANCTIONS_PATHS } from '../../engine/aml/sanctions.ts';
import { type GeneratedRow, TransactionGenerator } from '../../engine/generator.ts';
import { arrowBatch } from '../../engine/generator-formats.ts';
import { Kernels } from '../../engine/kernels.ts';
import { Pipeline } from '../../engine/pipeline.ts';
import { loadReferenceData } from '../../engine/reference-data.ts';
import { SilverRoller } from '../../engine/silver/roller.ts';
import { Store } from '../../engine/store.ts';
import { tempDir } from '../support/service.ts';

const NOW = Date.now();
const dirs = [tempDir(), tempDir()];
afterAll(() => {
  for (const d of dirs) d.remove();
});

function body(): Uint8Array {
  const reference = loadReferenceData();
  const gen = new TransactionGenerator(new Kernels(reference), reference, {
    rows: 6000,
    seed: 77,
    format: 'arrow',
    badShare: 0.05,
  });
  const rows: GeneratedRow[] = [];
  for (let g = gen.next(); g; g = gen.next()) rows.push(g.row);
  // A repeat of an early row in the last batch: a duplicate that crosses the split.
  rows.push({ ...(rows[3] as GeneratedRow) });
  // A sanctioned counterparty in each half; the second on the date of a row of the first half, so
  // its part merges with that half's (positions shift): the staged matches must name the same rows.
  const sanctioned = 'Ruslan Bekov Timurovich';
  rows[1500] = { ...(rows[1500] as GeneratedRow), counterparty_name: sanctioned };
  rows[4500] = {
    ...(rows[4500] as GeneratedRow),
    ts: (rows[10] as GeneratedRow).ts,
    counterparty_name: sanctioned,
  };
  const batches: RecordBatch[] = [];
  for (let i = 0; i < rows.length; i += 1000) batches.push(arrowBatch(rows.slice(i, i + 1000)));
  return tableToIPC(new Table(batches), 'stream');
}

async function run(dataDir: string, splitBytes: number, ipc: Uint8Array) {
  const store = new Store({ dataDir });
  const p = new Pipeline(store, {
    workers: 2,
    splitBytes,
    inlineBytes: 0,
    now: () => NOW,
    sanctionsPaths: DEFAULT_SANCTIONS_PATHS,
  });
  try {
    const out = await p.ingest({ body: Buffer.from(ipc), format: 'arrow', contentType: 'x' });
    const gold = [...store.gold.getRange({ start: 'd|', end: 'd|~' })].map(({ key, value }) => [key, value]);
    const staged = [...store.staging.getRange({})].map(({ value }) =>
      // rows that will reach Parquet: a duplicate across the halves is staged, then dropped
      value.parts.map((part) => `${part.date}:${part.rows - (value.drop?.[part.date]?.length ?? 0)}`),
    );
    const quarantined = [...store.quarantine.getKeys({})].length;
    // The tx ids the staged sanctions matches point at (by position within their part).
    const sanctioned = [...store.staging.getRange({})].flatMap(({ value }) =>
      value.parts.flatMap((part) => {
        const ids = tableFromIPC(part.ipc).getChild('tx_id');
        return (part.hits ?? []).map((h) => `${ids?.get(h.pos)}:${h.entry.id}`);
      }),
    );
    // Roll to Parquet and read back which tx ids reached silver: checks the drop positions.
    const roller = new SilverRoller(store);
    await roller.rollOnce(true);
    await roller.stop();
    const db = await (await DuckDBInstance.create()).connect();
    const read = await db.runAndReadAll(
      `SELECT tx_id FROM read_parquet('${dataDir}/silver/**/*.parquet') ORDER BY tx_id`,
    );
    const silverIds = read.getRows().map((r) => r[0]);
    return { reply: { ...out.reply, batch_id: '' }, gold, staged, quarantined, silverIds, sanctioned };
  } finally {
    await p.drain();
    await store.close();
  }
}

describe('a large Arrow body split across two workers', () => {
  it('gives the same reply, gold, quarantine and staged silver as one worker', async () => {
    const ipc = body();
    const whole = await run((dirs[0] as { path: string }).path, Number.POSITIVE_INFINITY, ipc);
    const split = await run((dirs[1] as { path: string }).path, 0, ipc);
    expect(whole.reply.received).toBe(6001);
    expect(whole.reply.duplicates).toBeGreaterThan(0);
    expect(split.reply).toEqual(whole.reply);
    expect(split.gold).toEqual(whole.gold);
    expect(split.quarantined).toBe(whole.quarantined);
    expect(split.staged.flat().sort()).toEqual(whole.staged.flat().sort());
    expect(split.silverIds.length).toBe(whole.reply.accepted);
    expect(split.silverIds).toEqual(whole.silverIds);
    expect(whole.sanctioned.length).toBeGreaterThanOrEqual(2);
    expect(split.sanctioned.sort()).toEqual(whole.sanctioned.sort());
  });
});
