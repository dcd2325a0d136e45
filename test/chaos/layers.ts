/**
 * The end-of-run audit of every layer, on a stopped service's data dir: what the store says
 * (batch records, bronze, the tx-id index, quarantine, gold, alerts, the manifest, the audit
 * chain) against what DuckDB reads from the silver Parquet files, and against what the client was
 * acknowledged. Each guarantee is an `expect`, so a broken one fails the test that calls it.
 */
import { DuckDBInstance } from '@duckdb/node-api';
import { expect } from 'vitest';
import { verifyAudit } from '../../engine/audit/verify.ts';
import { verifyStorage } from '../../engine/storage-verify.ts';
import { ROW_BITS, type SilverFile, Store } from '../../engine/store.ts';
import { claimedIds } from '../../engine/tx-claims.ts';

export interface BatchRecord {
  batch_id: string;
  seq: number;
  received: number;
  accepted: number;
  quarantined: number;
  duplicates: number;
  source: { sha256: string; idempotency_key: string | null };
  silver_files: { path: string; firstRow: number; rows: number }[];
}

export interface AlertKey {
  tx_id: string;
  score: number;
  rules: string[];
  late: boolean;
}

/** Everything the store holds that the audit compares, read in one go after a clean stop. */
export interface StoreSnapshot {
  batches: Map<string, BatchRecord>;
  txids: Map<string, number>;
  quarantine: { id: string; batch_id: string; row: number; tx_id: string | null; txIdBad: boolean }[];
  goldDaily: Map<string, { count: number; sum: string; min: string; max: string }>;
  goldAccounts: Map<string, { count: number; debit: string; credit: string }>;
  goldQuality: {
    batches: number;
    received: number;
    accepted: number;
    quarantined: number;
    duplicates: number;
  };
  goldAlerts: Map<string, number>;
  alerts: AlertKey[];
  manifest: SilverFile[];
  staged: number;
  partials: number;
  storage: Awaited<ReturnType<typeof verifyStorage>>;
  audit: Awaited<ReturnType<typeof verifyAudit>>;
  /** batch.ingest audit entries per batch id. */
  ingestEntries: Map<string, number>;
}

export async function snapshot(dataDir: string): Promise<StoreSnapshot> {
  const store = new Store({ dataDir });
  try {
    const batches = new Map<string, BatchRecord>();
    for (const { key, value } of store.batches.getRange({})) batches.set(key as string, value as BatchRecord);
    const txids = new Map<string, number>();
    for (const [id, at] of claimedIds(store)) {
      // Each id lives in one form of the index: a key of its own or a range, never both.
      if (txids.has(id)) throw new Error(`tx id ${id} is claimed twice in the index`);
      txids.set(id, at);
    }
    const quarantine: StoreSnapshot['quarantine'] = [];
    for (const { key, value } of store.quarantine.getRange({})) {
      const q = value as {
        batch_id: string;
        row: number;
        tx_id: string | null;
        fields?: { field: string }[];
      };
      quarantine.push({
        id: key as string,
        batch_id: q.batch_id,
        row: q.row,
        tx_id: q.tx_id,
        txIdBad: (q.fields ?? []).some((f) => f.field === 'tx_id'),
      });
    }
    const goldDaily: StoreSnapshot['goldDaily'] = new Map();
    const goldAccounts: StoreSnapshot['goldAccounts'] = new Map();
    const goldAlerts = new Map<string, number>();
    const goldQuality = { batches: 0, received: 0, accepted: 0, quarantined: 0, duplicates: 0 };
    let partials = 0;
    for (const { key, value } of store.gold.getRange({})) {
      const k = key as string;
      if (k.startsWith('d|')) goldDaily.set(k.slice(2), value as never);
      else if (k.startsWith('a|')) goldAccounts.set(k.slice(2), value as never);
      else if (k.startsWith('al|')) goldAlerts.set(k.slice(3), value as number);
      else if (k.startsWith('p|')) partials++;
      else if (k.startsWith('q|')) {
        const q = value as Record<string, number>;
        for (const f of Object.keys(goldQuality) as (keyof typeof goldQuality)[]) goldQuality[f] += q[f] ?? 0;
      }
    }
    const alerts: AlertKey[] = [];
    for (const { value } of store.alerts.getRange({})) {
      const a = value as { tx_id: string; score: number; rules: { rule: string }[]; late: boolean };
      alerts.push({ tx_id: a.tx_id, score: a.score, rules: a.rules.map((r) => r.rule), late: a.late });
    }
    alerts.sort((a, b) => (a.tx_id < b.tx_id ? -1 : a.tx_id > b.tx_id ? 1 : 0));
    const manifest: SilverFile[] = [];
    for (const { value } of store.silverFiles.getRange({})) manifest.push(value as SilverFile);
    let staged = 0;
    for (const _ of store.staging.getKeys({})) staged++;
    const ingestEntries = new Map<string, number>();
    for (const { value } of store.audit.getRange({})) {
      const e = value as { action: string; target: string };
      if (e.action === 'batch.ingest') ingestEntries.set(e.target, (ingestEntries.get(e.target) ?? 0) + 1);
    }
    return {
      batches,
      txids,
      quarantine,
      goldDaily,
      goldAccounts,
      goldQuality,
      goldAlerts,
      alerts,
      manifest,
      staged,
      partials,
      storage: await verifyStorage(store),
      audit: await verifyAudit(store),
      ingestEntries,
    };
  } finally {
    await store.close();
  }
}

export interface SilverRow {
  tx_id: string;
  batch_id: string;
  batch_row: number;
  aml_score: number;
  aml_rules: string | null;
}

/** Silver as DuckDB reads it: every Parquet file under silver/, or only the ones named. */
export async function readSilver(
  dataDir: string,
  only?: string[],
): Promise<{
  rows: SilverRow[];
  daily: Map<string, { count: number; sum: string; min: string; max: string }>;
  accounts: Map<string, { count: number; debit: string; credit: string }>;
  ranges: Set<string>;
}> {
  const instance = await DuckDBInstance.create();
  const db = await instance.connect();
  try {
    const files = only
      ? `[${only.map((f) => `'${dataDir}/${f}'`).join(', ')}]`
      : `'${dataDir}/silver/**/*.parquet'`;
    const src = `read_parquet(${files}, hive_partitioning = true, filename = true, file_row_number = true)`;
    const empty = only ? only.length === 0 : false;
    if (empty) return { rows: [], daily: new Map(), accounts: new Map(), ranges: new Set() };
    const rows = (
      await db.runAndReadAll(`SELECT tx_id, batch_id, batch_row, aml_score, aml_rules FROM ${src}`)
    )
      .getRows()
      .map(([tx_id, batch_id, batch_row, aml_score, aml_rules]) => ({
        tx_id: tx_id as string,
        batch_id: batch_id as string,
        batch_row: Number(batch_row),
        aml_score: Number(aml_score),
        aml_rules: (aml_rules as string | null) ?? null,
      }));
    const daily = new Map<string, { count: number; sum: string; min: string; max: string }>();
    for (const [day, cur, ch, dir, count, sum, min, max] of (
      await db.runAndReadAll(
        `SELECT CAST(date AS VARCHAR), currency, channel, direction, count(*), sum(amount_minor),
                min(amount_minor), max(amount_minor) FROM ${src} GROUP BY ALL`,
      )
    ).getRows()) {
      daily.set(`${day}|${cur}|${ch}|${dir}`, {
        count: Number(count),
        sum: String(sum),
        min: String(min),
        max: String(max),
      });
    }
    const accounts = new Map<string, { count: number; debit: string; credit: string }>();
    for (const [day, account, count, debit, credit] of (
      await db.runAndReadAll(
        `SELECT CAST(date AS VARCHAR), account_id, count(*),
                coalesce(sum(amount_minor) FILTER (WHERE direction = 'debit'), 0),
                coalesce(sum(amount_minor) FILTER (WHERE direction = 'credit'), 0)
         FROM ${src} GROUP BY ALL`,
      )
    ).getRows()) {
      accounts.set(`${day}|${account}`, {
        count: Number(count),
        debit: String(debit),
        credit: String(credit),
      });
    }
    // Where each batch's rows sit in each file: one contiguous range per (file, batch).
    const ranges = new Set<string>();
    for (const [file, batch, first, last, count] of (
      await db.runAndReadAll(
        `SELECT filename, batch_id, min(file_row_number), max(file_row_number), count(*) FROM ${src} GROUP BY ALL`,
      )
    ).getRows()) {
      const rel = String(file).slice(dataDir.length + 1);
      if (Number(last) - Number(first) + 1 !== Number(count)) ranges.add(`${rel}|${batch}|not contiguous`);
      else ranges.add(`${rel}|${batch}|${Number(first)}|${Number(count)}`);
    }
    return { rows, daily, accounts, ranges };
  } finally {
    db.closeSync();
    instance.closeSync(); // no file of the data dir stays open (a test volume must unmount)
  }
}

export interface Acknowledged {
  batch_id: string;
  rows: number;
  sha256: string;
}

/**
 * The layer invariants of a stopped service: every acknowledged batch exactly once in bronze,
 * its rows in silver or quarantine exactly once, an index with neither duplicates nor holes, gold
 * equal to sums over silver, lineage that points at the rows, nothing staged or orphaned, the
 * stored checksums and the audit chain intact.
 */
export function expectConsistentLayers(
  s: StoreSnapshot,
  silver: Awaited<ReturnType<typeof readSilver>>,
  acked: Acknowledged[],
  opts: { orphansLeft?: boolean } = {},
): void {
  // Everything rolled and folded by the clean stop; nothing corrupt or left over by a crash
  // (unless the caller reads straight after one: then only the manifest's files count).
  expect(s.staged, 'silver rows still staged').toBe(0);
  expect(s.partials, 'gold partials not folded').toBe(0);
  expect(s.storage.problems, 'checksum failures').toEqual([]);
  if (!opts.orphansLeft) expect(s.storage.orphans, 'Parquet files outside the manifest').toEqual([]);
  expect(s.audit.firstBad, 'audit chain').toBeUndefined();
  expect(s.audit.ok).toBe(true);

  // Bronze: each acknowledged batch once, as sent; no batch the client was not acknowledged for.
  expect(s.batches.size, 'batch records vs acknowledged batches').toBe(acked.length);
  expect(s.storage.bronze.bodies).toBe(acked.length);
  for (const a of acked) {
    const rec = s.batches.get(a.batch_id);
    expect(rec, `batch ${a.batch_id}`).toBeDefined();
    if (!rec) continue;
    expect(rec.source.sha256, `bronze body of ${a.batch_id}`).toBe(a.sha256);
    expect(rec.received).toBe(a.rows);
    expect(rec.accepted + rec.quarantined + rec.duplicates).toBe(rec.received);
  }
  if (s.ingestEntries.size > 0) {
    // One audit entry per batch: a replayed or retried batch is not audited twice.
    expect([...s.ingestEntries.values()].every((n) => n === 1)).toBe(true);
    expect(new Set(s.ingestEntries.keys())).toEqual(new Set(acked.map((a) => a.batch_id)));
  }

  // Silver: each accepted row once, in its batch.
  const perBatch = new Map<string, number>();
  for (const r of silver.rows) perBatch.set(r.batch_id, (perBatch.get(r.batch_id) ?? 0) + 1);
  for (const rec of s.batches.values()) {
    expect(perBatch.get(rec.batch_id) ?? 0, `silver rows of ${rec.batch_id}`).toBe(rec.accepted);
  }
  const accepted = [...s.batches.values()].reduce((n, b) => n + b.accepted, 0);
  expect(silver.rows.length).toBe(accepted);
  expect(new Set(silver.rows.map((r) => r.tx_id)).size, 'a tx id twice in silver').toBe(silver.rows.length);
  expect(
    s.manifest.reduce((n, f) => n + f.rows, 0),
    'manifest row counts',
  ).toBe(accepted);

  // Quarantine: each quarantined row once, in its batch.
  const qPerBatch = new Map<string, number>();
  for (const q of s.quarantine) {
    expect(q.id).toBe(`${q.batch_id}:${q.row}`);
    qPerBatch.set(q.batch_id, (qPerBatch.get(q.batch_id) ?? 0) + 1);
  }
  for (const rec of s.batches.values()) {
    expect(qPerBatch.get(rec.batch_id) ?? 0, `quarantined rows of ${rec.batch_id}`).toBe(rec.quarantined);
  }

  // The tx-id index: exactly the claims of the stored rows (no duplicates, no holes), each
  // pointing at its batch and row.
  const seqOf = new Map([...s.batches.values()].map((b) => [b.batch_id, b.seq]));
  const expectedIndex = new Map<string, number>();
  for (const r of silver.rows)
    expectedIndex.set(r.tx_id, (seqOf.get(r.batch_id) as number) * ROW_BITS + r.batch_row);
  for (const q of s.quarantine) {
    if (q.tx_id === null || q.txIdBad) continue;
    expect(expectedIndex.has(q.tx_id), `tx id ${q.tx_id} both in silver and quarantine`).toBe(false);
    expectedIndex.set(q.tx_id, (seqOf.get(q.batch_id) as number) * ROW_BITS + q.row);
  }
  expect(s.txids.size, 'tx-id index size').toBe(expectedIndex.size);
  const wrong = [...expectedIndex].filter(([tx, v]) => s.txids.get(tx) !== v).slice(0, 5);
  expect(wrong, 'tx-id index entries that do not point at their row').toEqual([]);

  // Gold: what DuckDB sums over silver.
  expect(s.goldDaily, 'daily gold vs silver').toEqual(silver.daily);
  expect(s.goldAccounts, 'per-account gold vs silver').toEqual(silver.accounts);
  expect(s.goldQuality.batches).toBe(acked.length);
  expect(s.goldQuality.accepted).toBe(accepted);
  expect(s.goldQuality.quarantined).toBe(s.quarantine.length);
  expect(s.goldQuality.received).toBe(acked.reduce((n, a) => n + a.rows, 0));
  // Alerts: each with the score its row carries in silver; gold counts each alert's rules once.
  const scoreOf = new Map(silver.rows.map((r) => [r.tx_id, r.aml_score]));
  const badScores = s.alerts.filter((a) => scoreOf.get(a.tx_id) !== a.score).slice(0, 5);
  expect(badScores, 'alerts whose silver row has another score').toEqual([]);
  expect([...s.goldAlerts.values()].reduce((a, b) => a + b, 0)).toBe(
    s.alerts.reduce((n, a) => n + a.rules.length, 0),
  );

  // Lineage: each batch's silver_files are exactly where DuckDB finds its rows.
  const lineage = new Set<string>();
  for (const rec of s.batches.values())
    for (const f of rec.silver_files) lineage.add(`${f.path}|${rec.batch_id}|${f.firstRow}|${f.rows}`);
  expect(lineage, 'batch lineage vs Parquet row positions').toEqual(silver.ranges);
}

/** The AML outcome of a run, for comparing a crashed run with a clean one. */
export function amlOutcome(s: StoreSnapshot, silver: Awaited<ReturnType<typeof readSilver>>) {
  return {
    alerts: s.alerts,
    scored: silver.rows
      .filter((r) => r.aml_score > 0)
      .map((r) => `${r.tx_id}|${r.aml_score}|${r.aml_rules}`)
      .sort(),
    goldAlerts: new Map([...s.goldAlerts].filter(([, n]) => n > 0)),
  };
}
