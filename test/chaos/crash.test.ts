/**
 * The chaos run (Sluice issue 7, part 1): a sustained ingest of generated batches, with
 * idempotency keys and client retries, while the service is `kill -9`ed at random moments (during
 * recovery as well as while serving) and restarted, at least 20 times. Then a clean stop and the
 * audit of every layer (test/chaos/layers.ts), and the AML outcome compared with a run of the same
 * batches, in the same commit order, without a single crash.
 *
 * CI mode fits in about two minutes. `SLUICE_CHAOS_LONG=1` runs 100 kills over up to 5,000 batches with
 * a random seed; `SLUICE_CHAOS_SEED=n` replays one (the kill moments are wall-clock, so a replay
 * has the same batches and the same planned moments, not the same interleaving);
 * `SLUICE_CHAOS_KEEP=1` keeps both data dirs for a look afterwards.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { rng } from '../../engine/generator.ts';
import { addKey, freePort, tempDir } from '../support/service.ts';
import { type Batch, generateBatches, IngestDriver } from './driver.ts';
import { type Acknowledged, amlOutcome, expectConsistentLayers, readSilver, snapshot } from './layers.ts';
import { kill9, killAll, launch, terminate } from './process.ts';

const LONG = process.env.SLUICE_CHAOS_LONG === '1';
const SEED = Number(process.env.SLUICE_CHAOS_SEED ?? (LONG ? Date.now() % 1_000_000 : 7));
const KILLS = LONG ? 100 : 20;
const BATCHES = LONG ? 5000 : 1000;
const TIMEOUT_MS = LONG ? 3_600_000 : 600_000;
/** Short timers, so that kills land in the middle of rolls and checkpoints too. */
// Two AML shards (the default on two cores is one): the crash must replay each shard's own state.
const SERVE_ARGS = [
  '--aml-checkpoint-ms',
  '300',
  '--silver-roll-ms',
  '700',
  '--silver-roll-rows',
  '8192',
  '--aml-shards',
  '2',
];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('chaos: kill -9 under a sustained ingest', () => {
  const chaos = tempDir('sluice-chaos-');
  const clean = tempDir('sluice-chaos-ref-');
  afterAll(() => {
    killAll();
    if (process.env.SLUICE_CHAOS_KEEP) console.log(`kept ${chaos.path} ${clean.path}`);
    else {
      chaos.remove();
      clean.remove();
    }
  });

  it(
    `loses nothing and doubles nothing over ${KILLS} kills (seed ${SEED})`,
    async () => {
      const started = Date.now();
      const batches = generateBatches({
        seed: SEED,
        batches: BATCHES,
        minRows: 20,
        maxRows: 500,
        days: 3,
        accounts: 2000,
        now: Date.now(),
      });
      const key = await addKey(chaos.path);
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const driver = new IngestDriver(batches, { url, key, concurrency: 3 });
      const sending = driver.run();

      // The kills: one in five at a moment within its start (often during recovery), the rest while it serves.
      const moment = rng(SEED);
      const kills: { phase: 'recovering' | 'serving'; ms: number; signal: string | null }[] = [];
      for (let k = 0; k < KILLS; k++) {
        const p = launch({ dataDir: chaos.path, port, args: SERVE_ARGS });
        const t0 = Date.now();
        let serving = false;
        p.ready.then(
          () => {
            serving = true;
          },
          () => undefined, // killed before it served: what the phase records
        );
        if (moment() < 0.2) await sleep(100 + moment() * 1200);
        else {
          await p.ready;
          // Mostly soon after the start; sometimes late enough for rolls and checkpoints to commit.
          await sleep(moment() < 0.6 ? 200 + moment() * 1300 : 1500 + moment() * 2500);
        }
        const phase = serving ? 'serving' : 'recovering';
        await kill9(p);
        kills.push({ phase, ms: Date.now() - t0, signal: (await p.exited).signal });
      }
      const last = launch({ dataDir: chaos.path, port, args: SERVE_ARGS });
      await last.ready;
      driver.stop(); // the batches in flight still finish, against this service
      await sending;
      expect(await terminate(last), last.stderr()).toBe(0);
      const chaosMs = Date.now() - started;

      // Every kill was ours: no start failed or crashed on its own.
      expect(kills.length).toBeGreaterThanOrEqual(20);
      expect(
        kills.every((k) => k.signal === 'SIGKILL'),
        JSON.stringify(kills),
      ).toBe(true);
      expect(kills.filter((k) => k.phase === 'serving').length).toBeGreaterThan(KILLS / 2);
      // The client saw refusals and broken connections, never an error; every batch it sent landed.
      expect(driver.unexpected).toEqual([]);
      expect(driver.acked.size).toBe(driver.started);
      expect(driver.started).toBeGreaterThan(50);
      // A repeat (a retry of a batch whose first reply the kill swallowed) answers with the first reply.
      for (const r of driver.repeats) {
        expect((r.reply as { batch_id: string }).batch_id).toBe(driver.acked.get(r.index)?.reply.batch_id);
      }
      const sent = [...driver.acked.keys()].map((i) => batches[i] as Batch);
      const acked: Acknowledged[] = sent.map((b) => ({
        batch_id: driver.acked.get(b.index)?.reply.batch_id,
        rows: b.rows,
        sha256: b.sha256,
      }));

      const after = await snapshot(chaos.path);
      const silver = await readSilver(chaos.path);
      expectConsistentLayers(after, silver, acked);

      // The same batches, in the order the crashed run committed them, into a service never killed.
      const indexOfKey = new Map(sent.map((b) => [b.idempotencyKey, b.index]));
      const order = [...after.batches.values()]
        .sort((a, b) => a.seq - b.seq)
        .map((r) => batches[indexOfKey.get(r.source.idempotency_key as string) as number] as Batch);
      const refKey = await addKey(clean.path);
      const refPort = await freePort();
      const ref = launch({ dataDir: clean.path, port: refPort, args: SERVE_ARGS });
      await ref.ready;
      const replay = new IngestDriver(order, {
        url: `http://127.0.0.1:${refPort}`,
        key: refKey,
        concurrency: 1,
      });
      await replay.run();
      expect(await terminate(ref)).toBe(0);
      expect(replay.unexpected).toEqual([]);
      const refAfter = await snapshot(clean.path);
      const refSilver = await readSilver(clean.path);

      // Per batch, the same verdicts; the same rows in silver and quarantine; the same gold; the
      // same alerts (tx id, score, rules) and per-row scores.
      const counts = (s: typeof after) =>
        new Map(
          [...s.batches.values()].map((b) => [
            b.source.idempotency_key,
            [b.received, b.accepted, b.quarantined, b.duplicates],
          ]),
        );
      expect(counts(after)).toEqual(counts(refAfter));
      expect(new Set(silver.rows.map((r) => r.tx_id))).toEqual(new Set(refSilver.rows.map((r) => r.tx_id)));
      expect(after.goldDaily).toEqual(refAfter.goldDaily);
      expect(after.alerts.length).toBeGreaterThan(0);
      expect(amlOutcome(after, silver)).toEqual(amlOutcome(refAfter, refSilver));

      const retried = Object.entries(driver.retried)
        .map(([k, v]) => `${k}:${v}`)
        .join(' ');
      console.log(
        `chaos seed ${SEED}: ${kills.length} kills (${kills.filter((k) => k.phase === 'recovering').length} during recovery), ` +
          `${driver.acked.size} batches / ${acked.reduce((n, a) => n + a.rows, 0)} rows acknowledged, ` +
          `${[...driver.acked.values()].filter((a) => a.status === 200).length} answered by idempotent repeat, ` +
          `retries ${retried}, ${after.alerts.length} alerts, ` +
          `${after.manifest.length} Parquet files; chaos ${Math.round(chaosMs / 1000)} s, total ${Math.round((Date.now() - started) / 1000)} s`,
      );
    },
    TIMEOUT_MS,
  );
});
