/**
 * The embedded store: one LMDB environment under `<data-dir>/lmdb`, one named database per layer.
 * Every write that a 201 stands for (bronze, tx-id index, silver staging, quarantine, gold, batch
 * record, idempotency key) goes into ONE LMDB transaction, so a batch is either wholly durable or
 * absent, and nothing is ever counted twice. Parquet files are rolled from silver staging later,
 * off the acknowledgement path (see silver/roller.ts).
 *
 * Layout (key → value):
 *   bronze       batch_id → raw body bytes (LZ4-compressed by LMDB), immutable
 *   batches      batch_id → BatchRecord (metadata, counts, status, lineage)
 *   txids        tx_id → seq * 2^20 + row (the batch sequence number and row of its first sighting)
 *   idempotency  Idempotency-Key → { batch_id, reply }
 *   staging      seq → StagedSilver (valid rows of a batch as Arrow IPC, waiting to be rolled)
 *   quarantine   "batch_id:row" → QuarantineRecord
 *   gold         "d|day|cur|channel|dir", "a|day|account", "q|day" → aggregates
 *   silverFiles  relative path → SilverFile (the manifest of rolled Parquet files)
 *   meta         "seq" → last batch sequence number
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Database, open, type RootDatabase } from 'lmdb';

/** Rows per batch are below 2^20, so (seq, row) packs exactly into one safe integer. */
export const ROW_BITS = 2 ** 20;

export interface StagedSilver {
  batchId: string;
  seq: number;
  /** Arrow IPC stream of the batch's accepted rows (SILVER schema), or several, one per event date. */
  parts: { date: string; rows: number; ipc: Uint8Array }[];
  /** Rows (indices into each part, by date) found to be duplicates of stored history at commit. */
  drop?: Record<string, number[]>;
}

export interface SilverFile {
  path: string; // relative to the data dir, e.g. silver/date=2026-11-27/part-000001-000040.parquet
  date: string;
  rows: number;
  bytes: number;
  sha256: string;
  /** Lineage: which batches' rows, in which row range of the file. */
  batches: { batchId: string; firstRow: number; rows: number }[];
  writtenAt: string;
}

export interface StoreOptions {
  dataDir: string;
  /** LMDB map size in bytes; it grows on demand, this is the starting reservation. */
  mapSize?: number;
}

export class Store {
  readonly dataDir: string;
  readonly env: RootDatabase;
  readonly bronze: Database<Uint8Array, string>;
  readonly batches: Database<unknown, string>;
  readonly txids: Database<number, string>;
  readonly idempotency: Database<unknown, string>;
  readonly staging: Database<StagedSilver, number>;
  readonly quarantine: Database<unknown, string>;
  readonly gold: Database<unknown, string>;
  readonly silverFiles: Database<SilverFile, string>;
  readonly meta: Database<unknown, string>;

  constructor(opts: StoreOptions) {
    this.dataDir = opts.dataDir;
    const path = join(opts.dataDir, 'lmdb');
    mkdirSync(path, { recursive: true });
    this.env = open({ path, compression: false, mapSize: opts.mapSize ?? 2 ** 30, maxDbs: 16 });
    this.bronze = this.env.openDB({ name: 'bronze', encoding: 'binary', compression: true });
    this.batches = this.env.openDB({ name: 'batches' });
    this.txids = this.env.openDB({ name: 'txids' });
    this.idempotency = this.env.openDB({ name: 'idempotency' });
    this.staging = this.env.openDB({ name: 'staging', keyEncoding: 'uint32' });
    this.quarantine = this.env.openDB({ name: 'quarantine' });
    this.gold = this.env.openDB({ name: 'gold' });
    this.silverFiles = this.env.openDB({ name: 'silverFiles' });
    this.meta = this.env.openDB({ name: 'meta' });
  }

  /** The next batch sequence number; call inside the commit transaction. */
  nextSeq(): number {
    const seq = ((this.meta.get('seq') as number | undefined) ?? 0) + 1;
    this.meta.put('seq', seq);
    return seq;
  }

  async close(): Promise<void> {
    await this.env.close();
  }
}
