/**
 * Crashes at the worst moments, on purpose (engine/faults.ts, `SLUICE_CRASH_AT`): after a silver
 * roll has written and renamed its Parquet files but before the manifest commit; inside an AML
 * checkpoint, between the state slots and the checkpoint marker; and in compaction, both before
 * and after the manifest swap. After each: the manifest never names a file that is not whole,
 * what a crash left is cleaned up by the next start, and once the ingest is done every layer is
 * consistent and the AML outcome is that of a run that never crashed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addKey, freePort, tempDir } from '../support/service.ts';
import { type Batch, generateBatches, IngestDriver } from './driver.ts';
import {
  type Acknowledged,
  amlOutcome,
  expectConsistentLayers,
  readSilver,
  type StoreSnapshot,
  snapshot,
} from './layers.ts';
import { killAll, type Launched, launch, runSluice, terminate } from './process.ts';

/** Small rolls, frequent checkpoints: many small files (compaction has work), crashes come early. */
const SERVE_ARGS = ['--aml-checkpoint-ms', '200', '--silver-roll-ms', '300', '--silver-roll-rows', '1024'];

const batches = generateBatches({
  seed: 11,
  batches: 90,
  minRows: 20,
  maxRows: 300,
  days: 2,
  accounts: 600,
  now: Date.now(),
});

/** What each armed crash left on disk, before the restart. */
const crashes: { point: string; after: StoreSnapshot }[] = [];

/** Runs every batch, one at a time (so the commit order is the batch order), into a fresh dir. */
async function ingestAll(dataDir: string, env: Record<string, string>[]): Promise<IngestDriver> {
  const key = await addKey(dataDir);
  const port = await freePort();
  const driver = new IngestDriver(batches, { url: `http://127.0.0.1:${port}`, key, concurrency: 1 });
  const sending = driver.run();
  // Each crash point armed in turn: the service must die there by itself, mid-ingest.
  for (const e of env) {
    const p = launch({ dataDir, port, args: SERVE_ARGS, env: e });
    const outcome = await Promise.race([p.exited, sending.then(() => 'done' as const)]);
    expect(outcome, `${JSON.stringify(e)} never fired: ${p.stderr()}`).toEqual({
      code: null,
      signal: 'SIGKILL',
    });
    crashes.push({ point: e.SLUICE_CRASH_AT as string, after: await snapshot(dataDir) });
  }
  const p: Launched = launch({ dataDir, port, args: SERVE_ARGS });
  await p.ready;
  await sending;
  expect(await terminate(p), p.stderr()).toBe(0);
  expect(driver.unexpected).toEqual([]);
  expect(driver.acked.size).toBe(batches.length);
  return driver;
}

function acknowledged(driver: IngestDriver): Acknowledged[] {
  return [...driver.acked].map(([i, a]) => {
    const b = batches[i] as Batch;
    return { batch_id: a.reply.batch_id, rows: b.rows, sha256: b.sha256 };
  });
}

describe('crash points', () => {
  const dir = tempDir('sluice-crashpoints-');
  const ref = tempDir('sluice-crashpoints-ref-');
  let reference: ReturnType<typeof amlOutcome>;
  let acked: Acknowledged[];
  afterAll(() => {
    killAll();
    dir.remove();
    ref.remove();
  });

  beforeAll(async () => {
    await ingestAll(ref.path, []);
    reference = amlOutcome(await snapshot(ref.path), await readSilver(ref.path));
    expect(reference.alerts.length).toBeGreaterThan(0);
  }, 120_000);

  it('a crash between the Parquet rename and the manifest commit, and one inside an AML checkpoint, lose nothing', async () => {
    const driver = await ingestAll(dir.path, [
      { SLUICE_CRASH_AT: 'silver-roll' },
      { SLUICE_CRASH_AT: 'aml-checkpoint:1' },
    ]);
    // The roll crash left a renamed file the manifest does not name (its rows were still staged).
    const roll = crashes.find((c) => c.point === 'silver-roll')?.after;
    expect(roll?.storage.orphans.length).toBeGreaterThan(0);
    expect(roll?.storage.problems).toEqual([]);
    expect(roll?.staged).toBeGreaterThan(0);

    acked = acknowledged(driver);
    const after = await snapshot(dir.path);
    const silver = await readSilver(dir.path);
    expectConsistentLayers(after, silver, acked);
    expect(amlOutcome(after, silver)).toEqual(reference);
  }, 120_000);

  it('a crash in compaction before the manifest swap leaves the manifest whole and the merged file outside it', async () => {
    const before = await snapshot(dir.path);
    expect(before.manifest.length).toBeGreaterThan(4);
    const r = await runSluice(['job', 'run', 'silver-compaction', '--data-dir', dir.path], {
      SLUICE_CRASH_AT: 'compaction',
    });
    expect(r.signal, r.stderr).toBe('SIGKILL');
    const after = await snapshot(dir.path);
    // The merged file is on disk, not in the manifest; the manifest and its files are unchanged.
    expect(after.storage.orphans.length).toBe(1);
    expect(after.manifest).toEqual(before.manifest);
    const listed = await readSilver(
      dir.path,
      after.manifest.map((f) => f.path),
    );
    expectConsistentLayers(after, listed, acked, { orphansLeft: true });
  }, 60_000);

  it('a crash in compaction after the manifest swap leaves the manifest whole, and the next start cleans up', async () => {
    const before = await snapshot(dir.path);
    const r = await runSluice(['job', 'run', 'silver-compaction', '--data-dir', dir.path], {
      SLUICE_CRASH_AT: 'compaction-swapped',
    });
    expect(r.signal, r.stderr).toBe('SIGKILL');
    const after = await snapshot(dir.path);
    // The manifest names the merged file; the files merged away are still on disk, named by nothing.
    expect(after.manifest.length).toBeLessThan(before.manifest.length);
    expect(after.storage.orphans.length).toBeGreaterThanOrEqual(2);
    const listed = await readSilver(
      dir.path,
      after.manifest.map((f) => f.path),
    );
    expectConsistentLayers(after, listed, acked, { orphansLeft: true });

    // A start deletes what is not in the manifest; then a glob over silver/ counts every row once.
    const port = await freePort();
    const p = launch({ dataDir: dir.path, port, args: SERVE_ARGS });
    await p.ready;
    expect(await terminate(p)).toBe(0);
    const clean = await snapshot(dir.path);
    const silver = await readSilver(dir.path);
    expectConsistentLayers(clean, silver, acked);
    expect(amlOutcome(clean, silver)).toEqual(reference);
  }, 60_000);

  it('compaction run to the end keeps every row, its lineage and its AML scores', async () => {
    const before = await snapshot(dir.path);
    const r = await runSluice(['job', 'run', 'silver-compaction', '--data-dir', dir.path]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).merged).toBeGreaterThan(0);
    const after = await snapshot(dir.path);
    expect(after.manifest.length).toBeLessThan(before.manifest.length);
    const silver = await readSilver(dir.path);
    expectConsistentLayers(after, silver, acked);
    expect(amlOutcome(after, silver)).toEqual(reference);
  }, 60_000);
});
