/**
 * The validate step over a record batch: columns out of Arrow, the fused kernel, then the one rule
 * that needs memory beyond the row, duplicate tx ids. Returns verdicts as columns, in input order.
 */
import type { RecordBatch } from 'apache-arrow';
import { REASON } from './codes.ts';
import { type ColumnSet, columnsOf, type Utf8Column } from './columns.ts';
import { DEFAULT_MAX_FUTURE_MS, type Kernels, type VerdictColumns } from './kernels.ts';

/** Where tx ids seen before live: a Set in the CLI, the LMDB index in the service. */
export interface TxIdSeen {
  has(txId: string): boolean;
  add(txId: string): void;
}

export interface ValidatorOptions {
  maxFutureMs?: number;
  /** Clock, injectable for tests and replay. */
  now?: () => number;
}

export interface BatchVerdicts extends VerdictColumns {
  /** tx ids as sent (so a malformed one can still be found), or null where missing. */
  txIds: (string | null)[];
}

const TX_ID_FIELD = 0; // FIELDS[0]
const DUPLICATE_BIT = 1 << REASON.DUPLICATE_TX;

export class Validator {
  private readonly maxFutureMs: number;
  private readonly now: () => number;

  constructor(
    readonly kernels: Kernels,
    opts: ValidatorOptions = {},
  ) {
    this.maxFutureMs = opts.maxFutureMs ?? DEFAULT_MAX_FUTURE_MS;
    this.now = opts.now ?? Date.now;
  }

  validateColumns(cols: ColumnSet, seen: TxIdSeen | null): BatchVerdicts {
    const v = this.validateRows(cols);
    const txIds = txIdsOf(cols, v);
    if (seen) {
      for (let i = 0; i < txIds.length; i++) {
        const id = txIds[i];
        if (id === null || id === undefined || v.fieldCodes[TX_ID_FIELD * cols.numRows + i] !== 0) continue;
        if (seen.has(id)) v.mask[i] = (v.mask[i] as number) | DUPLICATE_BIT;
        else seen.add(id);
      }
    }
    return { ...v, txIds };
  }

  /**
   * The rules of each row on its own, without tx-id strings or the in-request duplicate check:
   * the ingest path, whose commit claims each id from its bytes in row order and so finds a
   * repeat within the request as it finds one from another batch (engine/commit.ts).
   */
  validateRows(cols: ColumnSet): VerdictColumns {
    return this.kernels.validate(cols, { nowMs: this.now(), maxFutureMs: this.maxFutureMs });
  }

  validate(batch: RecordBatch, seen: TxIdSeen | null): BatchVerdicts {
    return this.validateColumns(columnsOf(batch), seen);
  }
}

/** Well-formed tx ids are ASCII by rule, so latin1 decoding is exact and fast; others are UTF-8. */
function txIdsOf(cols: ColumnSet, v: VerdictColumns): (string | null)[] {
  const n = cols.numRows;
  const out: (string | null)[] = new Array(n).fill(null);
  const col = cols.text.tx_id;
  if (!col) return out;
  const buf = Buffer.from(col.data.buffer, col.data.byteOffset, col.data.byteLength);
  for (let i = 0; i < n; i++) out[i] = txIdText(buf, col, i, v.fieldCodes[TX_ID_FIELD * n + i] as number);
  return out;
}

/** Row i's tx id as sent (`buf` holds the column's bytes), null where missing; `code` its field code. */
export function txIdText(buf: Buffer, col: Utf8Column, i: number, code: number): string | null {
  if (code === REASON.MISSING_FIELD) return null;
  return buf.toString(code === 0 ? 'latin1' : 'utf8', col.offsets[i] as number, col.offsets[i + 1] as number);
}

/** A request's tx ids as bytes: row i's are `data[offsets[i]..offsets[i + 1]]`. */
export interface TxIdBytes {
  data: Uint8Array;
  offsets: Int32Array;
}

/** Tx-id columns (a request's record batches, or two shares' bytes) as one column of bytes, in row order. */
export function txIdBytes(
  cols: readonly (Pick<Utf8Column, 'offsets' | 'data'> | undefined)[],
  rows: readonly number[],
): TxIdBytes {
  const total = rows.reduce((a, b) => a + b, 0);
  const offsets = new Int32Array(total + 1);
  let size = 0;
  cols.forEach((c, k) => {
    if (c) size += (c.offsets[rows[k] as number] as number) - (c.offsets[0] as number);
  });
  const data = new Uint8Array(size);
  let r = 0;
  let at = 0;
  cols.forEach((c, k) => {
    const n = rows[k] as number;
    if (!c) {
      offsets.fill(at, r + 1, r + 1 + n); // no column: every id absent (empty)
      r += n;
      return;
    }
    const first = c.offsets[0] as number;
    const end = c.offsets[n] as number;
    data.set(c.data.subarray(first, end), at);
    const shift = at - first;
    for (let i = 1; i <= n; i++) offsets[r + i] = (c.offsets[i] as number) + shift;
    at += end - first;
    r += n;
  });
  return { data, offsets };
}
