/**
 * Retention: how long each layer keeps what it holds, and the job that deletes what has expired.
 *
 * Defaults follow what a UK building society keeps: transaction records (silver) and AML alerts
 * for 7 years (FCA SYSC 9 / the Money Laundering Regulations 2017, reg. 40: five years after the
 * relationship ends, rounded up to the FCA's usual seven); the quarantine review queue for 13
 * months (a year of reviews plus a month to close); raw bodies (bronze) for 7 days: bronze is the
 * write-ahead log and the "as received" copy for disputes about a recent batch, and it is the one
 * layer where a subject's fields cannot be shredded alone (a body holds many subjects), so the
 * last raw copy of an erased subject goes when bronze retention ends (README, "Erasure").
 *
 * The audit log is not purged: its hash chain must verify from the first entry.
 */
import { existsSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { appendAudit } from './audit/log.ts';
import { SluiceError } from './errors.ts';
import { destroyBodyKeysBefore } from './pii/keyring.ts';
import type { SilverFile, Store } from './store.ts';

export interface RetentionPolicy {
  bronzeDays: number;
  quarantineDays: number;
  silverDays: number;
  alertsDays: number;
}

export const DEFAULT_RETENTION: RetentionPolicy = {
  bronzeDays: 7,
  quarantineDays: 396,
  silverDays: 2557,
  alertsDays: 2557,
};

export function checkRetention(p: RetentionPolicy): RetentionPolicy {
  for (const [k, v] of Object.entries(p)) {
    if (!Number.isInteger(v) || v < 1 || v > 36_500)
      throw new SluiceError('CONFIG_INVALID', `retention ${k} must be 1–36,500 days, not ${v}`);
  }
  return p;
}

export interface PurgeReport {
  bronze_bodies: number;
  bronze_keys_destroyed: number;
  quarantine_records: number;
  silver_files: number;
  silver_rows: number;
  alerts: number;
}

const DAY = 86_400_000;
/** Meta key: the last batch seq whose bronze body the purge has dealt with. */
export const BRONZE_MARK = 'retention|bronze-seq';

/**
 * Deletes everything past its retention at `now`, and records what it did in the audit log.
 * Bronze bodies go in batch order and only once their batch has been rolled to silver (a body
 * still needed for recovery is never purged).
 */
export async function purgeExpired(store: Store, policy: RetentionPolicy, now: number): Promise<PurgeReport> {
  const report: PurgeReport = {
    bronze_bodies: 0,
    bronze_keys_destroyed: 0,
    quarantine_records: 0,
    silver_files: 0,
    silver_rows: 0,
    alerts: 0,
  };
  const bronzeCut = now - policy.bronzeDays * DAY;
  const quarantineCut = new Date(now - policy.quarantineDays * DAY).toISOString();
  const silverCut = new Date(now - policy.silverDays * DAY).toISOString().slice(0, 10);
  const alertsCut = new Date(now - policy.alertsDays * DAY).toISOString();

  const expiredFiles: string[] = [];
  await store.env.transaction(() => {
    // Bronze, oldest batch first; stop at the first one still inside retention or not yet rolled.
    let mark = (store.meta.get(BRONZE_MARK) as number | undefined) ?? 0;
    for (const { key, value } of store.seqs.getRange({ start: mark + 1 })) {
      const batchId = (value as { batch_id: string }).batch_id;
      const rec = store.batches.get(batchId) as { received_at?: string } | undefined;
      if (rec?.received_at && Date.parse(rec.received_at) >= bronzeCut) break;
      if (store.staging.get(key as number) !== undefined) break;
      if (store.bronze.get(batchId) !== undefined) {
        store.bronze.remove(batchId);
        report.bronze_bodies++;
      }
      mark = key as number;
    }
    store.meta.put(BRONZE_MARK, mark);

    for (const { key, value } of store.quarantine.getRange()) {
      const q = value as { received_at?: string; tx_id?: string | null };
      if (!q.received_at || q.received_at >= quarantineCut) continue;
      store.quarantine.remove(key);
      if (q.tx_id) store.quarantineByTx.remove(q.tx_id, key as string);
      report.quarantine_records++;
    }

    for (const key of store.alerts.getKeys({ end: alertsCut })) {
      store.alerts.remove(key);
      report.alerts++;
    }

    for (const { key, value } of store.silverFiles.getRange()) {
      const f = value as SilverFile;
      if (f.date >= silverCut) continue;
      store.silverFiles.remove(key);
      expiredFiles.push(f.path);
      report.silver_files++;
      report.silver_rows += f.rows;
    }
  });
  // Files go after the manifest no longer lists them: a crash in between leaves an orphan file,
  // never a manifest entry without its file.
  removeFiles(store.dataDir, expiredFiles);
  // Keys last: a body key is destroyed only when every body sealed under it has expired.
  report.bronze_keys_destroyed = destroyBodyKeysBefore(store.dataDir, bronzeCut);
  await store.env.transaction(() => {
    appendAudit(store, {
      actor: 'system',
      action: 'retention.purge',
      target: 'all-layers',
      outcome: 'ok',
      details: { ...report, policy: { ...policy } },
    });
  });
  return report;
}

/** Removes Parquet files the manifest no longer lists (past silver retention). */
function removeFiles(dataDir: string, paths: string[]): number {
  let removed = 0;
  for (const p of paths) {
    const abs = join(dataDir, p);
    if (existsSync(abs)) {
      unlinkSync(abs);
      removed++;
    }
  }
  return removed;
}
