/**
 * Scoring inputs as columns, from the two places rows come from: a validated request (the
 * validate path and the CLI) and a staged silver record batch (the ingest path, where the GBP
 * amount and the counterparty country are already derived). GBP conversion and the round-amount
 * and high-risk flags, account keys and the credit flag come from one WASM call (`aml_inputs`;
 * `aml_derive` for silver's GBP column alone): per-row BigInt arithmetic in JS cost more than
 * all the rules together.
 */
import type { Data, RecordBatch } from 'apache-arrow';
import { FIELDS } from '../codes.ts';
import type { ColumnSet, Utf8Column } from '../columns.ts';
import type { VerdictColumns } from '../kernels.ts';
import type { WasmMemory } from '../wasm-memory.ts';
import { type AmlInput, F_APPLY, NO_TS, putUtf8 } from './kernel.ts';
import type { AmlRules } from './rules.ts';

const TS_FIELD = FIELDS.indexOf('ts');
const AMOUNT_FIELD = FIELDS.indexOf('amount');
const ACCOUNT_FIELD = FIELDS.indexOf('account_id');

interface DeriveExports {
  aml_set_derive(rates: number, count: number, highRisk: number, roundMultiple: number): number;
  aml_derive(desc: number, n: number): void;
  aml_inputs(desc: number, n: number): void;
}

/** Which rules each instance's derive tables hold. */
const loaded = new WeakMap<WasmMemory, string>();

/** Loads the rules' rate table and lists into an instance (once per rules version). */
export function loadDerive(mem: WasmMemory, rules: AmlRules): void {
  if (loaded.get(mem) === rules.hash) return;
  const entries = Object.entries(rules.doc.rates.gbp_per_unit);
  const words = new BigInt64Array(entries.length * 3);
  entries.forEach(([code, r], k) => {
    const [whole, frac = ''] = r.rate.split('.');
    // GBP minor = minor × rate × 100 / 10^minor_units, with rate = digits / 10^frac.
    words[3 * k] = BigInt((code.charCodeAt(0) << 16) | (code.charCodeAt(1) << 8) | code.charCodeAt(2));
    words[3 * k + 1] = BigInt(`${whole}${frac}`) * 100n;
    words[3 * k + 2] = 10n ** BigInt(frac.length + r.minor_units);
  });
  mem.reset();
  const pr = mem.copyIn(words);
  const ph = mem.copyIn(rules.highRisk);
  const x = mem.exports as unknown as DeriveExports;
  const rc = x.aml_set_derive(pr, entries.length, ph, rules.roundMultiple);
  if (rc < 0) throw new Error(`rates: ${entries[-1 - rc]?.[0]} is not an ISO 4217 code`);
  loaded.set(mem, rules.hash);
}

/** What one derive call reads, per row. */
interface DeriveColumns {
  amount: BigInt64Array;
  /** The currency codes, or (`index`) their ISO 4217 table indexes as the validator found them. */
  currency: Utf8Column | null | undefined | { index: Uint16Array };
  /** Two ASCII bytes per row (0, 0 for none). */
  country: Uint8Array;
}

/** With `keys`, the columns `aml_inputs` reads besides those, and the flags every row starts from. */
interface KeyColumns {
  account: Utf8Column | null | undefined;
  direction: Utf8Column | null | undefined;
  base: number;
}

/**
 * One WASM call over a batch: GBP amounts (when `computeGbp`), flags and, with `keys`, account
 * keys and the credit flag (`aml_inputs`). Building scoring inputs took three calls and two JS
 * loops over the rows before, about a quarter of AML's time outside scoring itself.
 */
function deriveColumns(
  mem: WasmMemory,
  c: DeriveColumns,
  n: number,
  computeGbp: boolean,
  keys: KeyColumns | null,
): { gbp: BigInt64Array | null; flags: Uint8Array; key: BigUint64Array | null } {
  const x = mem.exports as unknown as DeriveExports;
  mem.reset();
  const utf8 = (col: Utf8Column | null | undefined) => {
    const p = putUtf8(mem, col, n); // first: it may grow memory, which detaches older buffers
    return [...new Uint32Array(mem.buffer, p, 4)];
  };
  const pAmount = mem.copyIn(c.amount.subarray(0, n));
  const given = c.currency && 'index' in c.currency ? c.currency.index : null;
  const cur = given ? [0, 0, 0, 0] : utf8(c.currency as Utf8Column | null | undefined);
  const pIndex = given ? mem.copyIn(given.subarray(0, n)) : 0;
  const pCountry = mem.copyIn(c.country.subarray(0, 2 * n));
  const pGbp = mem.alloc(8 * n);
  // `aml_derive` adds to the flags it is given; `aml_inputs` sets them first.
  const pFlags = keys ? mem.alloc(n) : mem.copyIn(new Uint8Array(n));
  const words = [pAmount, ...cur, pCountry, computeGbp ? 1 : 0, pGbp, pFlags, pIndex];
  let pKey = 0;
  if (keys) {
    const account = utf8(keys.account);
    const direction = utf8(keys.direction);
    pKey = mem.alloc(8 * n);
    words.push(...account, ...direction, pKey, keys.base);
  }
  const desc = mem.copyIn(new Uint32Array(words));
  if (keys) x.aml_inputs(desc, n);
  else x.aml_derive(desc, n);
  return {
    gbp: computeGbp ? mem.copyOut(BigInt64Array, pGbp, 8 * n) : null,
    flags: mem.copyOut(Uint8Array, pFlags, n),
    key: keys ? mem.copyOut(BigUint64Array, pKey, 8 * n) : null,
  };
}

/**
 * GBP-equivalents of a batch's amounts (pence, -1 where the currency has no rate), exactly, in
 * one WASM call: what silver's `amount_gbp_minor` holds, and what AML scoring reads back.
 */
export function gbpColumn(
  mem: WasmMemory,
  rules: AmlRules,
  amountMinor: BigInt64Array,
  currency: DeriveColumns['currency'],
  n: number,
): BigInt64Array {
  loadDerive(mem, rules);
  const c = { amount: amountMinor, currency, country: new Uint8Array(2 * n) };
  return deriveColumns(mem, c, n, true, null).gbp as BigInt64Array;
}

/**
 * Inputs for a validated request: every row that parsed is scored; with `apply`, valid rows are
 * applied (the CLI's stream, or a validate request's dry run, which puts the state back).
 */
export function inputFromVerdicts(
  mem: WasmMemory,
  cols: ColumnSet,
  v: VerdictColumns,
  rules: AmlRules,
  apply: boolean,
): AmlInput {
  const n = cols.numRows;
  loadDerive(mem, rules);
  const t = cols.text;
  const d = deriveColumns(
    mem,
    // The currency as validation parsed it: no second parse of the codes, nor a copy of their text.
    { amount: v.amountMinor, currency: { index: v.currency }, country: v.counterpartyCountry },
    n,
    true,
    // Every row starts applied when `apply`; the loop below takes it off the (few) invalid ones.
    { account: t.account_id, direction: t.direction, base: apply ? F_APPLY : 0 },
  );
  const key = d.key as BigUint64Array;
  const gbp = d.gbp as BigInt64Array;
  const flags = d.flags;
  // The verdicts' own event times (a fresh array per batch, which nothing writes), copied only
  // if a row's time is unusable and must read as NO_TS here.
  let ts = v.tsMs.subarray(0, n);
  let tsCopied = false;
  const codes = v.fieldCodes;
  const mask = v.mask;
  for (let i = 0; i < n; i++) {
    // A valid row: the mask is the OR of its field codes (wasm/src/validate.rs), so all are usable.
    // (Setting F_APPLY here row by row instead cost 9 ns a row against 3.5 for this scan.)
    if (mask[i] === 0) continue;
    flags[i] = (flags[i] as number) & ~F_APPLY;
    // Unusable fields: a BigInt write only for the (rare) bad rows.
    if (codes[ACCOUNT_FIELD * n + i] !== 0) key[i] = 0n;
    if (codes[TS_FIELD * n + i] !== 0) {
      if (!tsCopied) {
        ts = ts.slice();
        tsCopied = true;
      }
      ts[i] = NO_TS;
    }
    if (codes[AMOUNT_FIELD * n + i] !== 0) gbp[i] = -1n;
  }
  return { n, key, ts, gbp, flags, names: cols.text.counterparty_name ?? null };
}

function utf8Of(batch: RecordBatch, name: string): Utf8Column | null {
  const data = batch.getChild(name)?.data[0] as Data | undefined;
  if (!data) return null;
  return {
    kind: 'utf8',
    offsets: data.valueOffsets as Int32Array,
    data: (data.values as Uint8Array) ?? new Uint8Array(0),
    validity: data.nullCount > 0 ? (data.nullBitmap as Uint8Array) : null,
  };
}

function int64Of(batch: RecordBatch, name: string): { values: BigInt64Array; validity: Uint8Array | null } {
  const data = batch.getChild(name)?.data[0] as Data;
  const raw = data.values as BigInt64Array | Int32Array;
  const values =
    raw instanceof BigInt64Array ? raw : new BigInt64Array(raw.buffer, raw.byteOffset, raw.length / 2);
  return {
    values: values.subarray(0, batch.numRows),
    validity: data.nullCount > 0 ? (data.nullBitmap as Uint8Array) : null,
  };
}

/**
 * Inputs for a staged silver part: its rows are accepted, so each is applied, except positions
 * dropped at commit (duplicates found then).
 */
export function inputFromSilver(
  mem: WasmMemory,
  batch: RecordBatch,
  rules: AmlRules,
  dropped: readonly number[] | undefined,
): AmlInput {
  const n = batch.numRows;
  loadDerive(mem, rules);
  const ts = int64Of(batch, 'ts').values.slice();
  const g = int64Of(batch, 'amount_gbp_minor');
  const gbp = g.values.slice();
  if (g.validity) {
    for (let i = 0; i < n; i++) if ((((g.validity[i >> 3] as number) >> (i & 7)) & 1) === 0) gbp[i] = -1n;
  }
  const country = new Uint8Array(2 * n);
  const cc = utf8Of(batch, 'counterparty_country');
  if (cc) {
    for (let i = 0; i < n; i++) {
      const s = cc.offsets[i] as number;
      if ((cc.offsets[i + 1] as number) - s === 2) {
        country[2 * i] = cc.data[s] as number;
        country[2 * i + 1] = cc.data[s + 1] as number;
      }
    }
  }
  const d = deriveColumns(
    mem,
    { amount: int64Of(batch, 'amount_minor').values, currency: utf8Of(batch, 'currency'), country },
    n,
    false,
    { account: utf8Of(batch, 'account_id'), direction: utf8Of(batch, 'direction'), base: F_APPLY },
  );
  const key = d.key as BigUint64Array;
  const flags = d.flags;
  // Positions dropped at commit (duplicates found then) change nothing and are scored by no shard.
  for (const r of dropped ?? []) {
    flags[r] = (flags[r] as number) & ~F_APPLY;
    key[r] = 0n;
  }
  // No names: silver holds them sealed, and they were screened before sealing (the staged hits).
  return { n, key, ts, gbp, flags, names: null };
}

/**
 * The rows a shard owns: those whose account key's low word falls in `shard` of `shards`. With
 * `keyless`, rows without a usable account go to shard 0, which scores their stateless rules (a
 * validate request's invalid rows); staged rows always have one.
 */
export function rowsOfShard(
  key: BigUint64Array,
  shard: number,
  shards: number,
  keyless = false,
): Uint32Array {
  const low = new Uint32Array(key.buffer, key.byteOffset, key.length * 2);
  const out = new Uint32Array(key.length);
  let m = 0;
  for (let i = 0; i < key.length; i++) {
    const lo = low[2 * i] as number;
    const none = (lo | (low[2 * i + 1] as number)) === 0;
    if (none ? keyless && shard === 0 : lo % shards === shard) out[m++] = i;
  }
  return out.slice(0, m);
}

/** One input from several record batches' inputs, rows in order. */
export function concatInputs(parts: AmlInput[]): AmlInput {
  if (parts.length === 1) return parts[0] as AmlInput;
  const n = parts.reduce((a, p) => a + p.n, 0);
  const key = new BigUint64Array(n);
  const ts = new BigInt64Array(n);
  const gbp = new BigInt64Array(n);
  const flags = new Uint8Array(n);
  const offsets = new Int32Array(n + 1);
  const validity = new Uint8Array((n + 7) >> 3);
  const chunks: Uint8Array[] = [];
  let at = 0;
  let bytes = 0;
  for (const p of parts) {
    key.set(p.key, at);
    ts.set(p.ts, at);
    gbp.set(p.gbp, at);
    flags.set(p.flags, at);
    const c = p.names;
    for (let i = 0; i < p.n; i++) {
      const present = !!c && (!c.validity || ((c.validity[i >> 3] as number) & (1 << (i & 7))) !== 0);
      if (c && present) {
        const s = c.offsets[i] as number;
        const e = c.offsets[i + 1] as number;
        chunks.push(c.data.subarray(s, e));
        bytes += e - s;
        validity[(at + i) >> 3] = (validity[(at + i) >> 3] as number) | (1 << ((at + i) & 7));
      }
      offsets[at + i + 1] = bytes;
    }
    at += p.n;
  }
  const data = new Uint8Array(bytes);
  let w = 0;
  for (const c of chunks) {
    data.set(c, w);
    w += c.length;
  }
  return { n, key, ts, gbp, flags, names: { kind: 'utf8', offsets, data, validity } };
}

/** Byte offsets of `packInput`'s sections; each starts on 8 bytes, after a 16-byte header. */
function wireLayout(n: number, dataBytes: number, hasNames: boolean, hasValidity: boolean) {
  const pad = (x: number) => (x + 7) & ~7;
  const key = 16;
  const ts = key + 8 * n;
  const gbp = ts + 8 * n;
  const flags = gbp + 8 * n;
  const offsets = pad(flags + n);
  const data = pad(offsets + (hasNames ? 4 * (n + 1) : 0));
  const validity = pad(data + dataBytes);
  const end = validity + (hasValidity ? (n + 7) >> 3 : 0);
  return { key, ts, gbp, flags, offsets, data, validity, end };
}

/**
 * An input as one buffer, for the hop to a shard thread: one transferable buffer instead of a
 * structured clone of six typed arrays, which cost a single-row validate request more than its
 * scoring. A header (n, name bytes, whether names and their validity are present), then key, ts,
 * gbp, flags, name offsets, name bytes, name validity (`wireLayout`).
 */
export function packInput(input: AmlInput): ArrayBuffer {
  const n = input.n;
  const names = input.names;
  const dataBytes = names ? (names.offsets[n] as number) - (names.offsets[0] as number) : 0;
  const at = wireLayout(n, dataBytes, !!names, !!names?.validity);
  const buf = new ArrayBuffer(at.end);
  new Uint32Array(buf, 0, 4).set([n, dataBytes, names ? 1 : 0, names?.validity ? 1 : 0]);
  new BigUint64Array(buf, at.key, n).set(input.key.subarray(0, n));
  new BigInt64Array(buf, at.ts, n).set(input.ts.subarray(0, n));
  new BigInt64Array(buf, at.gbp, n).set(input.gbp.subarray(0, n));
  new Uint8Array(buf, at.flags, n).set(input.flags.subarray(0, n));
  if (names) {
    const base = names.offsets[0] as number;
    const offsets = new Int32Array(buf, at.offsets, n + 1);
    for (let i = 0; i <= n; i++) offsets[i] = (names.offsets[i] as number) - base;
    new Uint8Array(buf, at.data, dataBytes).set(names.data.subarray(base, base + dataBytes));
    if (names.validity)
      new Uint8Array(buf, at.validity, at.end - at.validity).set(
        names.validity.subarray(0, at.end - at.validity),
      );
  }
  return buf;
}

/** The input `packInput` packed, as views of the buffer (no copy). */
export function unpackInput(buf: ArrayBuffer): AmlInput {
  const [n = 0, dataBytes = 0, hasNames = 0, hasValidity = 0] = new Uint32Array(buf, 0, 4);
  const at = wireLayout(n, dataBytes, hasNames === 1, hasValidity === 1);
  return {
    n,
    key: new BigUint64Array(buf, at.key, n),
    ts: new BigInt64Array(buf, at.ts, n),
    gbp: new BigInt64Array(buf, at.gbp, n),
    flags: new Uint8Array(buf, at.flags, n),
    names: hasNames
      ? {
          kind: 'utf8',
          offsets: new Int32Array(buf, at.offsets, n + 1),
          data: new Uint8Array(buf, at.data, dataBytes),
          validity: hasValidity ? new Uint8Array(buf, at.validity, at.end - at.validity) : null,
        }
      : null,
  };
}
