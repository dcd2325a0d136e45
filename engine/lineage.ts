/**
 * Lineage: where a transaction and a batch went, layer by layer, from what the commit and the
 * roller recorded. Nothing here holds row content: tx ids, batch ids, paths, row numbers, codes.
 *
 * A tx id maps to (batch seq, request row) in `txids`. The commit also writes `seqs`: seq → batch
 * id plus one byte per request row saying which silver date part it went to (0: none). A row's
 * place in its part is the number of earlier rows in the same part, so its row in the Parquet file
 * is the batch's first row there plus that count, without reading the file.
 */
import type { Alert } from './aml/alerts.ts';
import { SluiceError } from './errors.ts';
import type { BatchSilverFile } from './silver/roller.ts';
import { ROW_BITS, type Store } from './store.ts';
import { claimOf } from './tx-claims.ts';
import type { WorkResult } from './worker.ts';

/** The `seqs` value. `parts` is a byte per row, or two (little-endian, `wide`) past 255 date parts. */
export interface SeqEntry {
  batch_id: string;
  parts?: Uint8Array;
  wide?: true;
}

/**
 * Built inside the commit: `dup` marks the rows found to be repeats (dropped from silver). Cheap:
 * one pass over the rows, one byte each.
 */
export function seqEntry(batchId: string, res: WorkResult, dup: Uint8Array): SeqEntry {
  if (res.silver.length === 0) return { batch_id: batchId };
  const n = res.received;
  const wide = res.silver.length >= 255;
  const parts = wide ? new Uint16Array(n) : new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const p = res.silverPart[i] as number;
    if (p >= 0 && !dup[i]) parts[i] = p + 1;
  }
  if (!wide) return { batch_id: batchId, parts: parts as Uint8Array };
  return { batch_id: batchId, parts: new Uint8Array(parts.buffer), wide: true };
}

/** The batch record fields lineage reads (written by commit.ts, the roller and the AML shards). */
interface BatchRecord {
  seq: number;
  silver_staged?: { date: string; rows: number }[];
  silver_files?: BatchSilverFile[];
  [k: string]: unknown;
}

const fileDate = (path: string) => /\/date=(\d{4}-\d{2}-\d{2})\//.exec(path)?.[1];

/** Ids (`batch:row`) of the batch's alerts: a key-only scan of the batch's event dates. */
function alertIds(store: Store, batchId: string, dates: string[]): string[] {
  const ids: string[] = [];
  const needle = `|${batchId}:`;
  for (const date of dates) {
    for (const key of store.alerts.getKeys({ start: date, end: `${date}~` })) {
      const k = key as string;
      const at = k.lastIndexOf(needle);
      if (at >= 0) ids.push(k.slice(at + 1));
    }
  }
  return ids;
}

function alertKeyOf(store: Store, batchId: string, date: string, row: number): string | undefined {
  const suffix = `|${batchId}:${row}`;
  for (const key of store.alerts.getKeys({ start: date, end: `${date}~` }))
    if ((key as string).endsWith(suffix)) return key as string;
  return undefined;
}

/** Where each date part of a batch is now: a Parquet file and the batch's rows in it, or staged. */
function silverPlaces(rec: BatchRecord) {
  const files = rec.silver_files ?? [];
  return (rec.silver_staged ?? []).map((p) => {
    const f = files.find((e) => fileDate(e.path) === p.date);
    return f
      ? { date: p.date, rows: f.rows, state: 'rolled' as const, path: f.path, first_row: f.firstRow }
      : { date: p.date, rows: p.rows, state: 'staged' as const };
  });
}

/**
 * The batch record for `GET /v1/batches/{id}`, with its lineage completed: `silver` (each date
 * part's file and first row, or staged), `alert_ids` with `alerts` their count, and `gold_keys`.
 */
export function batchLineage(store: Store, batchId: string): Record<string, unknown> {
  const rec = store.batches.get(batchId) as BatchRecord | undefined;
  if (!rec) throw new SluiceError('NOT_FOUND', `no batch ${batchId}`);
  const silver = silverPlaces(rec);
  const ids = alertIds(
    store,
    batchId,
    silver.filter((p) => p.rows > 0).map((p) => p.date),
  );
  return { ...rec, gold_keys: rec.gold_keys ?? [], silver, alerts: ids.length, alert_ids: ids };
}

/** The batch id of a seq: the index, or (for batches committed before it existed) a scan. */
function seqIndex(store: Store, seq: number): SeqEntry | undefined {
  const e = store.seqs.get(seq) as SeqEntry | undefined;
  if (e) return e;
  for (const { key, value } of store.batches.getRange({}))
    if ((value as BatchRecord).seq === seq) return { batch_id: key as string };
  return undefined;
}

function partOf(e: SeqEntry, row: number): { part: number; pos: number } | undefined {
  if (!e.parts) return undefined;
  // Copy to an aligned buffer of our own: LMDB hands back views it may reuse.
  const bytes = Uint8Array.prototype.slice.call(e.parts) as Uint8Array;
  const parts = e.wide ? new Uint16Array(bytes.buffer, 0, bytes.byteLength >> 1) : bytes;
  const p = parts[row];
  if (!p) return undefined;
  let pos = 0;
  for (let j = 0; j < row; j++) if (parts[j] === p) pos++;
  return { part: p - 1, pos };
}

export interface TxLineage {
  tx_id: string;
  batch_id: string;
  /** The row of the request body (0-based). */
  row: number;
  layer: 'silver' | 'quarantine' | 'unknown';
  silver?:
    | {
        state: 'rolled';
        date: string;
        path: string;
        row: number;
        batch_rows: { first: number; count: number };
      }
    /** Staged: `part_row` counts the batch's rows of that date (the file row is known once rolled). */
    | { state: 'staged'; date: string; part_row: number }
    | { state: 'unindexed'; files: BatchSilverFile[] };
  quarantine?: { id: string; status: string; reasons: string[] };
  alert: { id: string; score: number; rules: string[]; raised_at: string } | null;
}

/** `GET /v1/lineage/tx/{tx_id}`. */
export function txLineage(store: Store, txId: string): TxLineage {
  const at = claimOf(store, txId);
  if (at === undefined) throw new SluiceError('NOT_FOUND', 'no such transaction');
  const seq = Math.floor(at / ROW_BITS);
  const row = at % ROW_BITS;
  const idx = seqIndex(store, seq);
  const rec = idx && (store.batches.get(idx.batch_id) as BatchRecord | undefined);
  if (!idx || !rec) throw new SluiceError('NOT_FOUND', 'the transaction’s batch record is missing');
  const batchId = idx.batch_id;
  const out: TxLineage = { tx_id: txId, batch_id: batchId, row, layer: 'unknown', alert: null };
  const q = store.quarantine.get(`${batchId}:${row}`) as
    | { id: string; status: string; reasons: string[] }
    | undefined;
  if (q) {
    out.layer = 'quarantine';
    out.quarantine = { id: q.id, status: q.status, reasons: q.reasons };
    return out;
  }
  const place = partOf(idx, row);
  if (!place) {
    if (!idx.parts && (rec.silver_staged?.length ?? 0) > 0) {
      out.layer = 'silver';
      out.silver = { state: 'unindexed', files: rec.silver_files ?? [] };
    }
    return out;
  }
  const date = rec.silver_staged?.[place.part]?.date;
  if (!date) return out;
  out.layer = 'silver';
  const file = (rec.silver_files ?? []).find((f) => fileDate(f.path) === date);
  out.silver = file
    ? {
        state: 'rolled',
        date,
        path: file.path,
        row: file.firstRow + place.pos,
        batch_rows: { first: file.firstRow, count: file.rows },
      }
    : { state: 'staged', date, part_row: place.pos };
  const key = alertKeyOf(store, batchId, date, row);
  const a = key ? (store.alerts.get(key) as Alert | undefined) : undefined;
  if (a)
    out.alert = {
      id: `${batchId}:${row}`,
      score: a.score,
      rules: a.rules.map((r) => r.rule),
      raised_at: a.raised_at,
    };
  return out;
}
