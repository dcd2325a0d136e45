/**
 * Storage faults (Sluice issue 7, part 2): a data volume that fills up, an LMDB map that starts
 * too small, and stored data that rots on disk (a flipped byte in a Parquet file, a truncated
 * one, a flipped byte in a bronze body inside LMDB's data file).
 */
import { readFileSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { createKey } from '../../engine/auth/keys.ts';
import { ROLES } from '../../engine/auth/roles.ts';
import { Store } from '../../engine/store.ts';
import { addKey, freePort, tempDir } from '../support/service.ts';
import { type Batch, generateBatches } from './driver.ts';
import { type Acknowledged, expectConsistentLayers, readSilver, snapshot } from './layers.ts';
import { killAll, type Launched, launch, runSluice, terminate } from './process.ts';
import { smallVolume } from './volume.ts';

const MiB = 2 ** 20;

async function send(url: string, key: string, b: Batch) {
  const res = await request(`${url}/v1/batches`, {
    method: 'POST',
    body: b.body,
    headers: {
      'content-type': b.contentType,
      'idempotency-key': b.idempotencyKey,
      authorization: `Bearer ${key}`,
    },
    headersTimeout: 60_000,
  });
  const text = await res.body.text();
  return { status: res.statusCode, retryAfter: res.headers['retry-after'], json: JSON.parse(text) };
}

async function getJson(url: string, key: string | null) {
  const res = await request(url, { headers: key ? { authorization: `Bearer ${key}` } : {} });
  const text = await res.body.text();
  return { status: res.statusCode, text, json: text.startsWith('{') ? JSON.parse(text) : null };
}

async function started(dataDir: string, args: string[] = []): Promise<Launched> {
  const p = launch({ dataDir, port: await freePort(), args });
  await p.ready;
  return p;
}

const acknowledgement = (b: Batch, reply: { batch_id: string }): Acknowledged => ({
  batch_id: reply.batch_id,
  rows: b.rows,
  sha256: b.sha256,
});

afterAll(() => killAll());

describe('a full data volume', () => {
  it('refuses writes with 507 and Retry-After, never acknowledges what it did not store, and recovers when space returns', async (ctx) => {
    const volume = smallVolume(6);
    // Only where no small filesystem can be made at all (no root, no tmpfs, no loop device).
    if ('why' in volume) return ctx.skip(volume.why);
    try {
      await fillAndRecover(volume.volume.path);
    } finally {
      killAll(); // nothing may hold the volume open
      volume.volume.release();
    }
  }, 120_000);
});

async function fillAndRecover(root: string): Promise<void> {
  const dataDir = join(root, 'data');
  const key = await addKey(dataDir);
  const batches = generateBatches({
    seed: 21,
    // Enough to fill the volume with bronze compressed (about a fifth of the body's size).
    batches: 400,
    minRows: 200,
    maxRows: 400,
    days: 1,
    accounts: 500,
    now: Date.now(),
  });
  // A shard that cannot write its outputs does not hold replies long (engine/pipeline.ts `scored`).
  const p = await started(dataDir, [
    '--silver-roll-ms',
    '300',
    '--silver-roll-rows',
    '1024',
    '--aml-reply-wait-ms',
    '300',
  ]);
  // Room to give back later.
  const filler = join(root, 'filler');
  writeFileSync(filler, Buffer.alloc(2 * MiB, 1));

  const acked: Acknowledged[] = [];
  const refused: Batch[] = [];
  for (const b of batches) {
    const r = await send(p.url, key, b);
    if (r.status === 201) {
      acked.push(acknowledgement(b, r.json));
      continue;
    }
    expect(r.status, JSON.stringify(r.json)).toBe(507);
    expect(r.json.error.code).toBe('INSUFFICIENT_STORAGE');
    expect(r.retryAfter).toBe('1');
    refused.push(b);
    if (refused.length === 3) break;
  }
  expect(refused.length, 'the volume never filled').toBe(3);
  expect(acked.length).toBeGreaterThan(0);
  // Full, and still up: it answers, and what it acknowledged reads back.
  expect(p.child.exitCode).toBeNull();
  expect((await getJson(`${p.url}/healthz`, null)).status).toBe(200);
  const first = await getJson(`${p.url}/v1/batches/${acked[0]?.batch_id}`, key);
  expect(first.status).toBe(200);
  expect(first.json.received).toBe(acked[0]?.rows);

  // Space comes back: the refused batches go in, each for the first time (201, not a repeat of
  // something a 507 had in fact stored).
  unlinkSync(filler);
  for (const b of refused) {
    const until = Date.now() + 30_000;
    let r = await send(p.url, key, b);
    while (r.status === 507 && Date.now() < until) {
      await new Promise((res) => setTimeout(res, 250));
      r = await send(p.url, key, b);
    }
    expect(r.status, JSON.stringify(r.json)).toBe(201);
    acked.push(acknowledgement(b, r.json));
  }
  expect(await terminate(p), p.stderr()).toBe(0);

  // Every acknowledged batch is there after a restart, whole, in every layer.
  const again = await started(dataDir);
  for (const a of acked) {
    const r = await getJson(`${again.url}/v1/batches/${a.batch_id}`, key);
    expect(r.status, a.batch_id).toBe(200);
  }
  expect(await terminate(again)).toBe(0);
  expectConsistentLayers(await snapshot(dataDir), await readSilver(dataDir), acked);
}

describe('the LMDB map size', () => {
  const dir = tempDir('sluice-mapsize-');
  afterAll(() => dir.remove());

  it('grows on demand from a 1 MiB map, and the data reads back after a restart', async () => {
    // The key is made through a store with the same tiny map: LMDB keeps the largest map size it
    // has seen, so a default-sized store here would hide the growth.
    const store = new Store({ dataDir: dir.path, mapSize: MiB });
    const { key } = await createKey(store, { roles: ROLES, label: 'test', actor: 'cli' });
    await store.close();
    const args = ['--lmdb-map-size', String(MiB)];
    const mapSize = async (url: string) => {
      const m = await getJson(`${url}/metrics`, null);
      const size = Number(/^sluice_lmdb_map_size_bytes (\d+)/m.exec(m.text)?.[1]);
      const used = Number(/^sluice_lmdb_map_used_bytes (\d+)/m.exec(m.text)?.[1]);
      return { size, used };
    };
    const batches = generateBatches({
      seed: 31,
      batches: 40,
      minRows: 200,
      maxRows: 400,
      days: 1,
      accounts: 500,
      now: Date.now(),
    });
    const p = await started(dir.path, args);
    const before = await mapSize(p.url);
    expect(before.size).toBe(MiB);
    const acked: Acknowledged[] = [];
    for (const b of batches) {
      const r = await send(p.url, key, b);
      expect(r.status, JSON.stringify(r.json)).toBe(201);
      acked.push(acknowledgement(b, r.json));
    }
    const after = await mapSize(p.url);
    expect(after.used).toBeGreaterThan(4 * MiB);
    expect(after.size).toBeGreaterThanOrEqual(after.used);
    expect(await terminate(p)).toBe(0);

    const again = await started(dir.path, args);
    for (const a of acked)
      expect((await getJson(`${again.url}/v1/batches/${a.batch_id}`, key)).status).toBe(200);
    expect(await terminate(again)).toBe(0);
    expectConsistentLayers(await snapshot(dir.path), await readSilver(dir.path), acked);
  }, 120_000);
});

describe('corrupted stored data', () => {
  const dir = tempDir('sluice-corrupt-');
  afterAll(() => dir.remove());

  it('is found by its checksum, reported by file or batch, and never merged or served', async () => {
    const key = await addKey(dir.path);
    // Six hours of yesterday evening: one date partition, so its small files are compaction's.
    const today = Date.parse(`${new Date().toISOString().slice(0, 10)}T00:00:00Z`);
    const batches = generateBatches({
      seed: 41,
      batches: 48,
      minRows: 100,
      maxRows: 200,
      days: 0.25,
      accounts: 300,
      now: today - 3_600_000,
    });
    const small = ['--aml-checkpoint-ms', '100', '--silver-roll-ms', '200', '--silver-roll-rows', '1024'];
    let p = await started(dir.path, small);
    const acked: Acknowledged[] = [];
    for (const b of batches) {
      const r = await send(p.url, key, b);
      expect(r.status).toBe(201);
      acked.push(acknowledgement(b, r.json));
      await new Promise((res) => setTimeout(res, 120)); // many small rolls, so many small files
    }
    const kpis = (await getJson(`${p.url}/v1/reports/daily-kpis`, key)).json;
    expect(await terminate(p)).toBe(0);
    expect((await runSluice(['verify', '--data-dir', dir.path])).code).toBe(0);

    // Rot: one byte of one file flipped, another file cut short, one byte of one bronze body.
    const before = await snapshot(dir.path);
    // Two files of the partition with the most, so that compaction has good files to merge too.
    const byDate = new Map<string, typeof before.manifest>();
    for (const f of before.manifest) byDate.set(f.date, [...(byDate.get(f.date) ?? []), f]);
    const files = [...byDate.values()]
      .sort((a, b) => b.length - a.length)[0]
      ?.sort((a, b) => a.path.localeCompare(b.path)) as typeof before.manifest;
    expect(files.length).toBeGreaterThanOrEqual(4);
    const flipped = files[1]?.path as string;
    const cut = files[2]?.path as string;
    const bytes = readFileSync(join(dir.path, flipped));
    bytes[bytes.length >> 1] = (bytes[bytes.length >> 1] as number) ^ 0xff;
    writeFileSync(join(dir.path, flipped), bytes);
    truncateSync(join(dir.path, cut), (files[2]?.bytes as number) - 100);
    const victim = acked[5]?.batch_id as string;
    expect(await flipInLmdb(dir.path, victim)).toBeGreaterThan(0);

    const expected = [
      { layer: 'silver', target: flipped, problem: 'sha256' },
      { layer: 'silver', target: cut, problem: 'size' },
      { layer: 'bronze', target: victim, problem: 'sha256' },
    ];
    const verify = await runSluice(['verify', '--data-dir', dir.path]);
    expect(verify.code).toBe(1);
    expect(JSON.parse(verify.stdout).problems).toEqual(expect.arrayContaining(expected));
    expect(JSON.parse(verify.stdout).problems).toHaveLength(3);
    expect(verify.stderr).toContain(`silver ${flipped}: sha256`);
    // The scheduled check fails on it (and so is logged and counted as a failed job run).
    const job = await runSluice(['job', 'run', 'storage-verify', '--data-dir', dir.path]);
    expect(job.code).toBe(1);
    expect(job.stderr).toContain('STORAGE_CORRUPT');

    // Compaction merges the good files and leaves the bad ones out, untouched and still reported.
    const compaction = await runSluice(['job', 'run', 'silver-compaction', '--data-dir', dir.path]);
    expect(compaction.code, compaction.stderr).toBe(0);
    const done = JSON.parse(compaction.stdout);
    expect(done.merged).toBeGreaterThan(0);
    expect(done.corrupt).toEqual(
      expect.arrayContaining([
        { path: flipped, problem: 'sha256' },
        { path: cut, problem: 'size' },
      ]),
    );
    const compacted = await snapshot(dir.path);
    expect(compacted.manifest.find((f) => f.path === flipped)).toEqual(files[1]);
    expect(compacted.manifest.find((f) => f.path === cut)).toEqual(files[2]);
    expect(compacted.storage.problems).toEqual(expect.arrayContaining(expected));
    expect(compacted.storage.problems).toHaveLength(3);

    // The service's reports come from gold, never from the rotten files: unchanged.
    p = await started(dir.path);
    expect((await getJson(`${p.url}/v1/reports/daily-kpis`, key)).json).toEqual(kpis);
    expect(await terminate(p)).toBe(0);
  }, 120_000);
});

/** Flips one byte of a batch's stored (sealed) body where it sits in LMDB's data file; how many copies. */
async function flipInLmdb(dataDir: string, batchId: string): Promise<number> {
  const store = new Store({ dataDir });
  const sealed = Buffer.from(store.bronze.get(batchId) as Uint8Array);
  await store.close();
  const needle = sealed.subarray(sealed.length >> 1, (sealed.length >> 1) + 64);
  const path = join(dataDir, 'lmdb', 'data.mdb');
  const file = readFileSync(path);
  let found = 0;
  for (let at = file.indexOf(needle); at >= 0; at = file.indexOf(needle, at + 1)) {
    file[at + 10] = (file[at + 10] as number) ^ 0x01;
    found++;
  }
  writeFileSync(path, file);
  return found;
}
