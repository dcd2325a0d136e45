/**
 * The embedded store: one LMDB environment under `<data-dir>/lmdb`, one named database per layer.
 * Every write that a 201 stands for (bronze, tx-id index, silver staging, quarantine, gold, batch
 * record, idempotency key) goes into ONE LMDB transaction, so a batch is either wholly durable or
 * absent, and nothing is ever counted twice. Parquet files are rolled from silver staging later,
 * off the acknowledgement path (see silver/roller.ts).
 *
 * Layout (key → value):
 *   bronze       batch_id → raw body bytes, sealed under an hourly body key (engine/pii/seal.ts), immutable
 *   batches      batch_id → BatchRecord (metadata, counts, status, lineage)
 *   txids        tx_id → seq * 2^20 + row (the batch sequence number and row of its first sighting)
 *   txranges     runs of consecutive tx ids claimed by consecutive rows, one key each (engine/tx-claims.ts)
 *   idempotency  Idempotency-Key → { batch_id, reply }
 *   staging      seq → StagedSilver (valid rows of a batch as Arrow IPC, waiting to be rolled)
 *   quarantine   "batch_id:row" → QuarantineRecord
 *   quarantineByTx  tx_id → quarantine ids (dupSort; the resolve route's lookup, engine/review/tx-index.ts)
 *   gold         "d|day|cur|channel|dir", "a|day|account", "q|day" → aggregates
 *   silverFiles  relative path → SilverFile (the manifest of rolled Parquet files)
 *   meta         "seq" → last batch sequence number; "aml|…|shard" → AML shard markers
 *   amlState     account key (8 bytes) → a shard's saved state slot (checkpoints and evictions)
 *   amlOut       seq × 16 + shard → that shard's per-row scores of the batch, until rolled to silver
 *   alerts       "event time|batch_id:row" → Alert
 *   audit        entry seq → AuditEntry (append-only, hash-chained; engine/audit/log.ts)
 *   seqs         batch seq → SeqEntry (batch id, and where each row went; engine/lineage.ts)
 *   apiKeys      key id → ApiKeyRecord (roles, label, scrypt hash; engine/auth/keys.ts)
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Database, type DatabaseOptions, open, type RootDatabase } from 'lmdb';
import { guardLmdbCommitOrphans } from './storage-faults.ts';

/** Rows per batch are below 2^20, so (seq, row) packs exactly into one safe integer. */
export const ROW_BITS = 2 ** 20;

/** A sanctions match of a staged row: its position in the part, similarity ×10,000, and the list entry. */
export interface StagedHit {
  pos: number;
  similarity: number;
  entry: { id: string; name: string; source: string };
}

export interface StagedSilver {
  batchId: string;
  seq: number;
  /**
   * Arrow IPC stream of the batch's accepted rows (SILVER schema), or several, one per event date;
   * `hits` are the rows whose counterparty name matched a sanctions list when it was screened, in
   * clear, before sealing (the AML shards read these, never the sealed names).
   */
  parts: { date: string; rows: number; ipc: Uint8Array; hits?: StagedHit[] }[];
  /** Rows (indices into each part, by date) found to be duplicates of stored history at commit. */
  drop?: Record<string, number[]>;
}

/** What a staged entry says about itself, without its rows: `at` is where the first part's IPC starts. */
export interface StagedHeader {
  batchId: string;
  seq: number;
  parts: { date: string; rows: number; bytes: number; hits?: StagedHit[] }[];
  drop?: Record<string, number[]>;
  at: number;
}

/**
 * What a reader of a staged entry says when the entry is no longer there (rolled by someone else):
 * the Parquet worker's error carries it across the thread, and the roller recognises it.
 */
export const STAGED_GONE = 'is gone from staging';

/** A staged entry's header, and its bytes where LMDB holds them (see `Store.stagingViews`). */
export interface StagedView {
  header: StagedHeader;
  bytes: Uint8Array;
}

/** Reads the header of a staged entry's bytes (see `stagingEncoder`); the rows are not touched. */
export function stagedHeader(b: Uint8Array): StagedHeader {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  const len = buf.readUInt32LE(0);
  const h = JSON.parse(buf.toString('utf8', 4, 4 + len)) as Omit<StagedHeader, 'at'>;
  return { ...h, at: 4 + len };
}

/**
 * Staged silver as one flat buffer: a little-endian u32 header length, the header (JSON: batch id,
 * seq, part dates and sizes, drops), then each part's IPC bytes. Two copies of the IPC at most and
 * none on read (parts are views), where msgpack re-buffered megabytes per batch.
 */
export const stagingEncoder = {
  encode(v: StagedSilver): Buffer {
    const header = Buffer.from(
      JSON.stringify({
        batchId: v.batchId,
        seq: v.seq,
        parts: v.parts.map((p) => ({
          date: p.date,
          rows: p.rows,
          bytes: p.ipc.byteLength,
          ...(p.hits?.length ? { hits: p.hits } : {}),
        })),
        drop: v.drop,
      }),
    );
    const size = 4 + header.length + v.parts.reduce((a, p) => a + p.ipc.byteLength, 0);
    const out = Buffer.allocUnsafe(size);
    out.writeUInt32LE(header.length, 0);
    header.copy(out, 4);
    let at = 4 + header.length;
    for (const p of v.parts) {
      out.set(p.ipc, at);
      at += p.ipc.byteLength;
    }
    return out;
  },
  decode(b: Uint8Array): StagedSilver {
    const h = stagedHeader(b);
    let at = h.at;
    // Copy out: LMDB may reuse the buffer it handed us once the read returns.
    const parts = h.parts.map((p) => {
      const ipc = Uint8Array.prototype.slice.call(b, at, at + p.bytes); // a copy, even for a Buffer
      at += p.bytes;
      return { date: p.date, rows: p.rows, ipc, ...(p.hits ? { hits: p.hits } : {}) };
    });
    const v: StagedSilver = { batchId: h.batchId, seq: h.seq, parts };
    if (h.drop) v.drop = h.drop;
    return v;
  },
};

/**
 * AML slots are stored as they are packed (engine/aml/slot-codec.ts), not LZ4-compressed by
 * lmdb-js. Its compression loads a 5 KB text dictionary for every value it compresses, which cost
 * 18 µs per full slot put against 4 µs stored plain (`compression: true` against this, 20,000
 * puts of 1,152 bytes in one transaction), and at checkpoints of busy accounts it was a quarter
 * of an AML shard's CPU. A packed slot is already small for all but accounts with dozens of rows
 * in their windows. Compression stays configured, with the same dictionary, only so values
 * written compressed before still read: lmdb-js still compresses the rare value whose first byte
 * is its compression marker (≥ 250), which is how it tells the two apart.
 */
export const AML_STATE_COMPRESSION = { threshold: 2 ** 31 - 1 };

/**
 * Tx-id keys as their UTF-8 bytes, compared by LMDB's own byte order. A tx id is 1–64 bytes of
 * `[A-Za-z0-9._:-]` (nothing below 28 to escape), so these are the bytes lmdb-js's default
 * ordered-binary keys wrote for the same ids, in the same order: an index written before reads as
 * it was. With the default key handling lmdb-js installs its own comparison for the database,
 * and a claim (a searching put) cost 1,469 against 1,124 ns this way; every accepted row makes
 * one. `commitBatch` of an 8k-row batch, half of them committed out of order (as concurrent
 * requests are, so their claims search): 10.2 against 8.9 ms (session 16, `scratch`-style, two
 * stores alternating in one process). Range bounds arrive as bytes.
 */
export const txIdKeys = {
  writeKey(key: string | Uint8Array, target: Buffer, start: number): number {
    if (typeof key !== 'string') {
      target.set(key, start);
      return start + key.length;
    }
    // Byte by byte while ASCII (every tx id): cheaper than Buffer#write's argument checks.
    const n = key.length;
    for (let i = 0; i < n; i++) {
      const c = key.charCodeAt(i);
      if (c >= 0x80) return start + target.write(key, start); // a lookup of an id no row could claim
      target[start + i] = c;
    }
    return start + n;
  },
  readKey(source: Buffer, start: number, end: number): string {
    return source.toString('utf8', start, end);
  },
};

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
  readonly txids: Database<number, string | Uint8Array>;
  readonly txranges: Database<[number, number], Buffer>;
  readonly idempotency: Database<unknown, string>;
  readonly staging: Database<StagedSilver, number>;
  /**
   * The same entries, header decoded and rows left in place: `bytes` is LMDB's own buffer (a view
   * of its map for large values), valid only until this thread's next read.
   */
  readonly stagingViews: Database<StagedView, number>;
  readonly quarantine: Database<unknown, string>;
  readonly quarantineByTx: Database<string, string>;
  readonly gold: Database<unknown, string>;
  readonly silverFiles: Database<SilverFile, string>;
  readonly meta: Database<unknown, string>;
  readonly amlState: Database<Uint8Array, Buffer>;
  readonly amlOut: Database<unknown, number>;
  readonly alerts: Database<unknown, string>;
  readonly audit: Database<unknown, number>;
  readonly seqs: Database<unknown, number>;
  readonly apiKeys: Database<unknown, string>;

  constructor(opts: StoreOptions) {
    guardLmdbCommitOrphans(); // else a full disk's first failed commit kills this thread
    this.dataDir = opts.dataDir;
    const path = join(opts.dataDir, 'lmdb');
    mkdirSync(path, { recursive: true });
    this.env = open({ path, compression: false, mapSize: opts.mapSize ?? 2 ** 30, maxDbs: 32 });
    // Not compressed: the bodies are sealed, and ciphertext does not compress.
    this.bronze = this.env.openDB({ name: 'bronze', encoding: 'binary' });
    this.batches = this.env.openDB({ name: 'batches' });
    // `keyEncoder` is a documented lmdb-js option its type declarations list only for the root.
    this.txids = this.env.openDB({ name: 'txids', keyEncoder: txIdKeys } as DatabaseOptions & {
      name: string;
    });
    this.txranges = this.env.openDB({ name: 'txranges', keyEncoding: 'binary' });
    this.idempotency = this.env.openDB({ name: 'idempotency' });
    // `encoder` is a documented lmdb-js option its type declarations do not list.
    this.staging = this.env.openDB({
      name: 'staging',
      keyEncoding: 'uint32',
      encoder: stagingEncoder,
    } as DatabaseOptions & {
      name: string;
    });
    // A custom decoder is handed LMDB's bytes as they are (`encoding: 'binary'` would copy them).
    // Small values come in lmdb-js's shared buffer, whose own `length` is the value's size.
    this.stagingViews = this.env.openDB({
      name: 'staging',
      keyEncoding: 'uint32',
      encoder: {
        decode: (b: Uint8Array): StagedView => {
          const bytes = b.subarray(0, b.length);
          return { header: stagedHeader(bytes), bytes };
        },
      },
    } as DatabaseOptions & { name: string });
    this.quarantine = this.env.openDB({ name: 'quarantine' });
    this.quarantineByTx = this.env.openDB({ name: 'quarantineByTx', dupSort: true });
    this.gold = this.env.openDB({ name: 'gold' });
    this.silverFiles = this.env.openDB({ name: 'silverFiles' });
    this.meta = this.env.openDB({ name: 'meta' });
    this.amlState = this.env.openDB({
      name: 'amlState',
      keyEncoding: 'binary',
      encoding: 'binary',
      compression: AML_STATE_COMPRESSION,
    });
    this.amlOut = this.env.openDB({ name: 'amlOut', keyEncoding: 'uint32' });
    this.alerts = this.env.openDB({ name: 'alerts' });
    this.audit = this.env.openDB({ name: 'audit', keyEncoding: 'uint32' });
    this.seqs = this.env.openDB({ name: 'seqs', keyEncoding: 'uint32' });
    this.apiKeys = this.env.openDB({ name: 'apiKeys' });
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
