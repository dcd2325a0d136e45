/**
 * The TypeScript face of the WASM kernels: loads the reference tables into an instance, copies a
 * batch's columns into its memory, runs the fused validation, and copies the verdict columns out.
 * One `Kernels` per thread (each worker has its own).
 */

import type { ColumnSet, Int64Column, TextField, Utf8Column } from './columns.ts';
import { TEXT_FIELDS } from './columns.ts';
import { SluiceError } from './errors.ts';
import type { ReferenceData } from './reference-data.ts';
import { WasmMemory } from './wasm-memory.ts';

/** Per-row results, as columns, in input order. */
export interface VerdictColumns {
  numRows: number;
  /** Bit `1 << code` per reason code (see codes.ts); 0 = valid. */
  mask: Uint32Array;
  /** Per-field codes, field-major: `fieldCodes[f * numRows + i]` (FIELDS order). */
  fieldCodes: Uint8Array;
  amountMinor: BigInt64Array;
  tsMs: BigInt64Array;
  /** Index into the kernel's ISO 4217 table, 65535 when unknown. */
  currency: Uint16Array;
  /** Counterparty country: two ASCII bytes per row, 0,0 when none. */
  counterpartyCountry: Uint8Array;
}

export interface ValidateParams {
  /** Event time "now", epoch ms (injectable for tests and replay). */
  nowMs: number;
  /** How far in the future an event time may be (CONTRACT §1: 5 min). */
  maxFutureMs: number;
}

export const DEFAULT_MAX_FUTURE_MS = 5 * 60 * 1000;

export interface TableCounts {
  modulusRows: number;
  ibanCountries: number;
}

export class Kernels {
  readonly memory: WasmMemory;
  readonly tables: TableCounts;
  private readonly descWords: number;
  private readonly fieldCount: number;

  constructor(reference: ReferenceData, memory = new WasmMemory()) {
    this.memory = memory;
    this.descWords = memory.exports.batch_desc_words();
    this.fieldCount = memory.exports.field_count();
    this.tables = this.load(reference);
  }

  /** (Re)loads the tables; a bad table throws and names its first bad line. */
  load(reference: ReferenceData): TableCounts {
    const m = this.memory;
    const x = m.exports;
    m.reset();
    const v = m.copyIn(reference.modulusWeights);
    const s = m.copyIn(reference.modulusSubstitutions);
    const rows = x.modulus_load(v, reference.modulusWeights.length, s, reference.modulusSubstitutions.length);
    const r = m.copyIn(reference.ibanRegistrySpec);
    const countries = x.registry_load(r, reference.ibanRegistrySpec.length);
    m.reset();
    if (rows <= 0) {
      throw new SluiceError(
        'REFERENCE_DATA_INVALID',
        `modulus table ${reference.paths.modulusWeights} or ${reference.paths.modulusSubstitutions}: bad line ${-rows}`,
      );
    }
    if (countries <= 0) {
      throw new SluiceError(
        'REFERENCE_DATA_INVALID',
        `IBAN registry ${reference.paths.ibanRegistry}: bad line ${-countries}`,
      );
    }
    return { modulusRows: rows, ibanCountries: countries };
  }

  private putUtf8(desc: Uint32Array, at: number, col: Utf8Column | undefined, n: number): void {
    if (!col) return; // descriptor words stay 0: absent
    const m = this.memory;
    if (col.offsets.length < n + 1) throw new SluiceError('BODY_SHAPE', 'a column is shorter than its batch');
    desc[at] = m.copyIn(col.offsets.length === n + 1 ? col.offsets : col.offsets.subarray(0, n + 1));
    desc[at + 1] = m.copyIn(col.data);
    desc[at + 2] = col.data.length;
    desc[at + 3] = col.validity ? m.copyIn(col.validity.subarray(0, (n + 7) >> 3)) : 0;
  }

  private putInt64(desc: Uint32Array, at: number, col: Int64Column | null, n: number): void {
    if (!col) return;
    const m = this.memory;
    desc[at] = m.copyIn(col.values.subarray(0, n));
    desc[at + 1] = col.validity ? m.copyIn(col.validity.subarray(0, (n + 7) >> 3)) : 0;
  }

  /** Runs every field rule over a batch. */
  validate(cols: ColumnSet, params: ValidateParams): VerdictColumns {
    const n = cols.numRows;
    const m = this.memory;
    const fc = this.fieldCount;
    m.reset();
    const descPtr = m.alloc(this.descWords * 4);
    // Work on a local copy of the descriptor: allocations below may grow (and detach) memory.
    const desc = new Uint32Array(this.descWords);
    TEXT_FIELDS.forEach((f: TextField, k: number) => {
      this.putUtf8(desc, k * 4, cols.text[f], n);
    });
    const base = TEXT_FIELDS.length * 4;
    if (!cols.text.ts) this.putInt64(desc, base, cols.tsMs, n);
    if (!cols.text.amount) this.putInt64(desc, base + 2, cols.amountMinor, n);
    const outMask = m.alloc(4 * n);
    const outCodes = m.alloc(fc * n);
    const outAmount = m.alloc(8 * n);
    const outTs = m.alloc(8 * n);
    const outCur = m.alloc(2 * n);
    const outCountry = m.alloc(2 * n);
    desc.set([outMask, outCodes, outAmount, outTs, outCur, outCountry], base + 4);
    m.u32(descPtr, this.descWords).set(desc);
    const rc = m.exports.validate_batch(descPtr, n, params.nowMs, params.maxFutureMs);
    if (rc !== 0) throw new SluiceError('WASM_FAILURE', `validate_batch returned ${rc}`);
    return {
      numRows: n,
      mask: m.copyOut(Uint32Array, outMask, 4 * n),
      fieldCodes: m.copyOut(Uint8Array, outCodes, fc * n),
      amountMinor: m.copyOut(BigInt64Array, outAmount, 8 * n),
      tsMs: m.copyOut(BigInt64Array, outTs, 8 * n),
      currency: m.copyOut(Uint16Array, outCur, 2 * n),
      counterpartyCountry: m.copyOut(Uint8Array, outCountry, 2 * n),
    };
  }

  /** The IBAN kernel alone over one column: a code per row. */
  ibanColumn(col: Utf8Column, n: number): Uint8Array {
    const m = this.memory;
    m.reset();
    const descPtr = m.alloc(16);
    const desc = new Uint32Array(4);
    this.putUtf8(desc, 0, col, n);
    const out = m.alloc(n);
    const country = m.alloc(2 * n);
    m.u32(descPtr, 4).set(desc);
    m.exports.iban_check_column(descPtr, n, out, country);
    return m.copyOut(Uint8Array, out, n);
  }

  /** The modulus kernel alone over a sort code and an account number column. */
  modulusColumn(sortCodes: Utf8Column, accounts: Utf8Column, n: number): Uint8Array {
    const m = this.memory;
    m.reset();
    const descPtr = m.alloc(32);
    const desc = new Uint32Array(8);
    this.putUtf8(desc, 0, sortCodes, n);
    this.putUtf8(desc, 4, accounts, n);
    const out = m.alloc(n);
    m.u32(descPtr, 8).set(desc);
    m.exports.modulus_check_column(descPtr, n, out);
    return m.copyOut(Uint8Array, out, n);
  }
}
