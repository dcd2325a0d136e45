/**
 * Verifies stored data against the checksums recorded when it was written: every silver Parquet
 * file against its manifest entry (size and sha-256), and every bronze body, unsealed, against the
 * sha-256 of the body as received (in its batch record). `sluice verify` and the `storage-verify`
 * job run it; what it finds is reported by path or batch id, never served as data.
 *
 * Reads only: safe against a running service (LMDB readers never block its writer).
 */
import { createHash } from 'node:crypto';
import { join, relative, sep } from 'node:path';
import { threadId } from 'node:worker_threads';
import { SluiceError } from './errors.ts';
import type { Job } from './jobs.ts';
import { keyringFor } from './pii/keyring.ts';
import { bodyRef, openBody } from './pii/seal.ts';
import { BRONZE_MARK } from './retention.ts';
import { checkSilverFile, type SilverProblem } from './silver/checksum.ts';
import { listFiles } from './silver/list-files.ts';
import type { SilverFile, Store } from './store.ts';

/** Why a bronze body fails. `sha256`: its bytes are not the body received; `unsealable`: not a sealed body. */
export type BronzeProblem = 'missing' | 'unsealable' | 'sha256';

export interface StorageProblem {
  layer: 'silver' | 'bronze';
  /** The silver file's path (relative to the data dir), or the batch id. */
  target: string;
  problem: SilverProblem | BronzeProblem;
}

export interface StorageReport {
  ok: boolean;
  silver: { files: number; bytes: number; corrupt: number };
  bronze: { bodies: number; bytes: number; corrupt: number; shredded: number; purged: number };
  /** Parquet files not in the manifest: a crash left them; the next start deletes them. Not data. */
  orphans: string[];
  problems: StorageProblem[];
}

export interface VerifyStorageOptions {
  silver?: boolean;
  bronze?: boolean;
}

const YIELD_BYTES = 8 * 2 ** 20;

export async function verifyStorage(store: Store, opts: VerifyStorageOptions = {}): Promise<StorageReport> {
  const report: StorageReport = {
    ok: true,
    silver: { files: 0, bytes: 0, corrupt: 0 },
    bronze: { bodies: 0, bytes: 0, corrupt: 0, shredded: 0, purged: 0 },
    orphans: [],
    problems: [],
  };
  if (opts.silver !== false) await verifySilver(store, report);
  if (opts.bronze !== false) await verifyBronze(store, report);
  report.ok = report.problems.length === 0;
  return report;
}

async function verifySilver(store: Store, report: StorageReport): Promise<void> {
  const files: SilverFile[] = [];
  for (const { value } of store.silverFiles.getRange({})) files.push(value as SilverFile);
  const listed = new Set(files.map((f) => f.path));
  for (const f of files) {
    report.silver.files++;
    report.silver.bytes += f.bytes;
    const problem = await checkSilverFile(store.dataDir, f);
    if (problem) {
      report.silver.corrupt++;
      report.problems.push({ layer: 'silver', target: f.path, problem });
    }
  }
  for (const full of await listFiles(join(store.dataDir, 'silver'), '.parquet')) {
    const rel = relative(store.dataDir, full).split(sep).join('/');
    if (!listed.has(rel)) report.orphans.push(rel);
  }
  report.orphans.sort();
}

async function verifyBronze(store: Store, report: StorageReport): Promise<void> {
  const ring = keyringFor(store.dataDir, threadId);
  const purgedThrough = (store.meta.get(BRONZE_MARK) as number | undefined) ?? 0;
  // The list first (small), then one body at a time: no read transaction held across the whole
  // walk, and the event loop gets a turn every few MiB (the job runs inside the service).
  const todo: { batchId: string; seq: number; sha256: string }[] = [];
  for (const { key, value } of store.batches.getRange({})) {
    const rec = value as { seq?: number; source?: { sha256?: string } };
    const sha256 = rec.source?.sha256;
    // A record without a body of its own (a reviewer's correction) has nothing in bronze.
    if (sha256) todo.push({ batchId: key as string, seq: rec.seq ?? Number.POSITIVE_INFINITY, sha256 });
  }
  let sinceYield = 0;
  for (const { batchId, seq, sha256 } of todo) {
    const sealed = store.bronze.get(batchId) as Uint8Array | undefined;
    if (sealed === undefined) {
      if (seq <= purgedThrough) report.bronze.purged++;
      else {
        report.bronze.corrupt++;
        report.problems.push({ layer: 'bronze', target: batchId, problem: 'missing' });
      }
      continue;
    }
    report.bronze.bodies++;
    report.bronze.bytes += sealed.byteLength;
    let body: Uint8Array | null;
    try {
      body = openBody(ring, sealed);
    } catch {
      // A damaged compressed body can fail to decompress: its bytes are not the body received.
      report.bronze.corrupt++;
      report.problems.push({ layer: 'bronze', target: batchId, problem: 'sha256' });
      continue;
    }
    if (body === null) {
      // No key any more (an erasure or retention shredded it) is by design; no seal header is not.
      if (bodyRef(sealed) !== null) report.bronze.shredded++;
      else {
        report.bronze.corrupt++;
        report.problems.push({ layer: 'bronze', target: batchId, problem: 'unsealable' });
      }
      continue;
    }
    if (createHash('sha256').update(body).digest('hex') !== sha256) {
      report.bronze.corrupt++;
      report.problems.push({ layer: 'bronze', target: batchId, problem: 'sha256' });
    }
    sinceYield += sealed.byteLength;
    if (sinceYield >= YIELD_BYTES) {
      sinceYield = 0;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
}

/**
 * The scheduled check: daily, in the service. A mismatch fails the run, so it is logged with every
 * file and batch named and counted in `sluice_job_runs_total{name="storage-verify",outcome="failed"}`.
 */
export const storageVerifyJob: Job = {
  name: 'storage-verify',
  summary: 'checks every silver file and bronze body against its recorded sha-256; fails on a mismatch',
  everyMs: 24 * 60 * 60_000,
  async run({ store }) {
    const r = await verifyStorage(store);
    if (!r.ok) {
      const named = r.problems.slice(0, 50).map((p) => `${p.layer} ${p.target}: ${p.problem}`);
      throw new SluiceError('STORAGE_CORRUPT', `${r.problems.length} corrupt: ${named.join('; ')}`);
    }
    return { silver_files: r.silver.files, bronze_bodies: r.bronze.bodies, orphans: r.orphans.length };
  },
};
