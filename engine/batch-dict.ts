/**
 * Dictionary ids for one batch's text column, from WASM (wasm/src/dict.rs): each row gets the
 * index of its value among the batch's distinct values, compared by bytes. Per-value work (a
 * string, a map lookup, a subject key) then runs once per distinct value, not once per row: a
 * batch of 8,192 rows carries a few hundred to a few thousand accounts, and a string plus a
 * lookup in a large, cache-cold map cost about 0.2 µs a row.
 */
import { putUtf8 } from './aml/kernel.ts';
import type { Utf8Column } from './columns.ts';
import type { WasmMemory } from './wasm-memory.ts';

export interface BatchDict {
  /** Per row: its value's id, or -1 for a null or empty value. */
  ids: Int32Array;
  /** Per id: the first row holding the value. */
  firsts: Int32Array;
  count: number;
  /**
   * Per id: the value's 64-bit account key (wasm `account_key` of its bytes, the hash the
   * dictionary probed with) as (low, high) words, for a lookup in a table that outlives the batch
   * (engine/pii/subject-table.ts).
   */
  keys: Uint32Array;
}

interface DictExports {
  dict_table_slots(n: number): number;
  dict_column(desc: number, n: number, table: number, ids: number, firsts: number, keys: number): number;
}

/** The column's dictionary ids (resets the instance's bump region; the result is copied out). */
export function batchDict(mem: WasmMemory, col: Utf8Column | null | undefined, n: number): BatchDict {
  if (!col || n === 0)
    return { ids: new Int32Array(n).fill(-1), firsts: new Int32Array(0), count: 0, keys: new Uint32Array(0) };
  const x = mem.exports as unknown as DictExports;
  mem.reset();
  const desc = putUtf8(mem, col, n);
  const table = mem.alloc(4 * x.dict_table_slots(n));
  const ids = mem.alloc(4 * n);
  const firsts = mem.alloc(4 * n);
  const keys = mem.alloc(8 * n);
  const count = x.dict_column(desc, n, table, ids, firsts, keys);
  return {
    ids: mem.copyOut(Int32Array, ids, 4 * n),
    firsts: mem.copyOut(Int32Array, firsts, 4 * count),
    count,
    keys: mem.copyOut(Uint32Array, keys, 8 * count),
  };
}
