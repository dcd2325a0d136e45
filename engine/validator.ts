/**
 * The validate step over a record batch: columns out of Arrow, the fused kernel, then the one rule
 * that needs memory beyond the row, duplicate tx ids. Returns verdicts as columns, in input order.
 */
import type { RecordBatch } from 'apache-arrow';
import { REASON } from './codes.ts';
import { type ColumnSet, columnsOf } from './columns.ts';
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
    const v = this.kernels.validate(cols, { nowMs: this.now(), maxFutureMs: this.maxFutureMs });
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
  for (let i = 0; i < n; i++) {
    const code = v.fieldCodes[TX_ID_FIELD * n + i];
    if (code === REASON.MISSING_FIELD) continue;
    const enc = code === 0 ? 'latin1' : 'utf8';
    out[i] = buf.toString(enc, col.offsets[i] as number, col.offsets[i + 1] as number);
  }
  return out;
}
