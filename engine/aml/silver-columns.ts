/**
 * Puts a batch's AML results into its staged silver rows: `aml_score`, `aml_rules` (rule names,
 * comma separated) and `flags` (bit 0: later than the allowed lateness; bits staged at commit, such
 * as a reviewer's release, are kept). Staging is written at
 * commit, before the shards score; the roller joins the two when it writes Parquet.
 */
import {
  type Data,
  type DataType,
  type Int,
  makeData,
  RecordBatch,
  Struct,
  Table,
  Type,
  tableFromIPC,
  tableToIPC,
  Utf8,
} from 'apache-arrow';
import { type ColumnLayout, columnLayouts, replaceBuffers } from '../silver/ipc-buffers.ts';
import { rulesOf } from './rule-names.ts';

/** One staged part's AML columns, by row within the part. */
export interface AmlColumnsOfPart {
  score: Uint8Array;
  rules: Uint16Array;
  flags: Uint8Array;
}

/** Silver `flags` bits. */
export const SILVER_FLAG_LATE = 1;
/** Accepted by a reviewer's `release` although the rules flagged it (engine/review/). */
export const SILVER_FLAG_RELEASED = 2;
/** Accepted after a reviewer's `correct` (its values differ from what was sent). */
export const SILVER_FLAG_CORRECTED = 4;

const enc = new TextEncoder();

function rulesColumn(rules: Uint16Array, from: number, n: number): Data<Utf8> {
  const memo = new Map<number, Uint8Array>();
  const parts: Uint8Array[] = new Array(n);
  const offsets = new Int32Array(n + 1);
  let size = 0;
  for (let k = 0; k < n; k++) {
    const m = rules[from + k] as number;
    let b = memo.get(m);
    if (!b) {
      b = enc.encode(rulesOf(m).join(','));
      memo.set(m, b);
    }
    parts[k] = b;
    size += b.length;
    offsets[k + 1] = size;
  }
  const data = new Uint8Array(size);
  for (let k = 0; k < n; k++) {
    const b = parts[k] as Uint8Array;
    if (b.length > 0) data.set(b, offsets[k]); // most rows fire no rule
  }
  return makeData({ type: new Utf8(), length: n, nullCount: 0, valueOffsets: offsets, data });
}

/**
 * The part's IPC stream with its AML columns filled in: their buffers swapped in the stream's
 * bytes (engine/silver/ipc-buffers.ts), or, for a stream laid out otherwise, by decoding it and
 * encoding it again. The result is valid until the next call: the roller hands it straight to
 * parquet-wasm, which copies it in.
 */
export function withAmlColumns(ipc: Uint8Array, aml: AmlColumnsOfPart): Uint8Array {
  return swappedAmlColumns(ipc, aml) ?? decodedAmlColumns(ipc, aml);
}

const bytesOf = (a: Int32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/**
 * The swapped stream is written here, reused from part to part: a fresh 2 MB buffer per 8k-row
 * part cost more in page faults and collection than the copy itself (35–160 against 11–14 ns per
 * row). It grows to the largest part seen, which the body limit bounds.
 */
let scratch = new Uint8Array(0);
const inScratch = (size: number): Uint8Array => {
  if (scratch.length < size) scratch = new Uint8Array(Math.ceil(size * 1.25));
  return scratch.subarray(0, size);
};

/** The AML columns' buffers swapped in place of the staged ones; null when the layout is not the expected one. */
export function swappedAmlColumns(ipc: Uint8Array, aml: AmlColumnsOfPart): Uint8Array | null {
  const cols = columnLayouts(ipc);
  const flags = cols?.get('flags');
  const score = cols?.get('aml_score');
  const rules = cols?.get('aml_rules');
  // The buffers written below are 32-bit integers and UTF-8 text, the types these columns have
  // had since silver's first schema: anything else is not swapped.
  const int32 = (c: ColumnLayout | undefined) =>
    c?.type.typeId === Type.Int && (c.type as Int).bitWidth === 32;
  if (!flags || !score || !rules || !int32(flags) || !int32(score) || rules.type.typeId !== Type.Utf8)
    return null;
  const [flagsAt, scoreAt, rulesAt] = [flags.buffer, score.buffer, rules.buffer];
  const nodes = [flags.field, score.field, rules.field];
  let base = 0;
  let fits = true;
  const out = replaceBuffers(
    ipc,
    (batch) => {
      const swaps = new Map<number, Uint8Array>();
      const n = batch.length;
      const staged = batch.buffer(flagsAt + 1);
      // Staged without nulls, so the new values need no validity: anything else takes the general path.
      if (
        nodes.some((f) => batch.nullCount(f) !== 0) ||
        staged.length < 4 * n ||
        base + n > aml.score.length
      ) {
        fits = false;
        return swaps;
      }
      // Staged rows may carry bits already (a reviewer's release or correction): add, never replace.
      const bits = new DataView(staged.buffer, staged.byteOffset, staged.byteLength);
      const flags = new Int32Array(n);
      for (let k = 0; k < n; k++) flags[k] = (aml.flags[base + k] as number) | bits.getInt32(4 * k, true);
      swaps.set(flagsAt + 1, bytesOf(flags));
      swaps.set(scoreAt + 1, bytesOf(new Int32Array(aml.score.subarray(base, base + n))));
      const rules = rulesColumn(aml.rules, base, n);
      swaps.set(rulesAt + 1, bytesOf(rules.valueOffsets));
      swaps.set(rulesAt + 2, rules.values);
      base += n;
      return swaps;
    },
    inScratch,
  );
  return fits ? out : null;
}

/** The general path: the part decoded with apache-arrow, its AML columns replaced, encoded again. */
export function decodedAmlColumns(ipc: Uint8Array, aml: AmlColumnsOfPart): Uint8Array {
  const table = tableFromIPC(ipc);
  const schema = table.schema;
  const names = schema.fields.map((f) => f.name);
  const at = {
    flags: names.indexOf('flags'),
    aml_score: names.indexOf('aml_score'),
    aml_rules: names.indexOf('aml_rules'),
  };
  let base = 0;
  const out = table.batches.map((batch) => {
    const n = batch.numRows;
    const children = batch.data.children.slice() as Data<DataType>[];
    const score = new Int32Array(aml.score.subarray(base, base + n));
    // Staged rows may carry bits already (a reviewer's release or correction): add, never replace.
    // A plain loop: `Int32Array.from` with a map function costs a call per row.
    const staged = batch.getChildAt(at.flags)?.toArray() as Int32Array | undefined;
    const flags = new Int32Array(n);
    for (let k = 0; k < n; k++)
      flags[k] = (aml.flags[base + k] as number) | (staged ? (staged[k] as number) : 0);
    children[at.aml_score] = makeData({
      type: schema.fields[at.aml_score]?.type,
      length: n,
      nullCount: 0,
      data: score,
    });
    children[at.flags] = makeData({
      type: schema.fields[at.flags]?.type,
      length: n,
      nullCount: 0,
      data: flags,
    });
    children[at.aml_rules] = rulesColumn(aml.rules, base, n);
    base += n;
    const struct = makeData({ type: new Struct(schema.fields), length: n, nullCount: 0, children });
    return new RecordBatch(schema, struct);
  });
  return tableToIPC(new Table(schema, out), 'stream');
}

/** Merges the shards' answers for one part: each row was scored by exactly one shard. */
export function mergeShardParts(parts: AmlColumnsOfPart[], rows: number): AmlColumnsOfPart {
  // One shard (the default on two cores): its answer is the whole answer.
  const only = parts.length === 1 ? parts[0] : undefined;
  if (only && only.score.length === rows && only.rules.length === rows && only.flags.length === rows)
    return only;
  const score = new Uint8Array(rows);
  const rules = new Uint16Array(rows);
  const flags = new Uint8Array(rows);
  for (const p of parts) {
    for (let i = 0; i < rows; i++) {
      score[i] = Math.max(score[i] as number, (p.score[i] as number) ?? 0);
      rules[i] = (rules[i] as number) | ((p.rules[i] as number) ?? 0);
      flags[i] = (flags[i] as number) | ((p.flags[i] as number) ?? 0);
    }
  }
  return { score, rules, flags };
}

/** A part's scores as LMDB stores them: plain byte arrays (msgpack keeps those exactly). */
export interface StoredPartScores {
  date: string;
  rows: number;
  score: Uint8Array;
  rules: Uint8Array;
  flags: Uint8Array;
}

export function storePart(p: { date: string; rows: number } & AmlColumnsOfPart): StoredPartScores {
  return {
    date: p.date,
    rows: p.rows,
    score: p.score,
    rules: new Uint8Array(p.rules.buffer, p.rules.byteOffset, p.rules.byteLength),
    flags: p.flags,
  };
}

export function loadPart(p: StoredPartScores): { date: string; rows: number } & AmlColumnsOfPart {
  const rules = new Uint16Array(p.rows);
  new Uint8Array(rules.buffer).set(p.rules.subarray(0, 2 * p.rows));
  return {
    date: p.date,
    rows: p.rows,
    // Copies (a decoded array may be a Buffer viewing a reused one, whose `slice` would not copy),
    // made by the typed-array constructor: a memcpy, where `Uint8Array.from` iterates.
    score: new Uint8Array(p.score.subarray(0, p.rows)),
    rules,
    flags: new Uint8Array(p.flags.subarray(0, p.rows)),
  };
}
