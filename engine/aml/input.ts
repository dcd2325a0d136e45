/**
 * Scoring inputs as columns, from the two places rows come from: a validated request (the
 * validate path and the CLI) and a staged silver record batch (the ingest path, where the GBP
 * amount and the counterparty country are already derived). Loops over typed arrays only: a
 * currency or a country is read as packed bytes, never as a string per row.
 */
import type { Data, RecordBatch } from 'apache-arrow';
import { FIELDS } from '../codes.ts';
import type { ColumnSet, Utf8Column } from '../columns.ts';
import type { RateTable } from '../rates.ts';
import type { BatchVerdicts } from '../validator.ts';
import type { WasmMemory } from '../wasm-memory.ts';
import { type AmlInput, accountKeys, F_APPLY, F_CREDIT, F_HIGH_RISK, F_ROUND, NO_TS } from './kernel.ts';
import type { AmlRules } from './rules.ts';

const TS_FIELD = FIELDS.indexOf('ts');
const AMOUNT_FIELD = FIELDS.indexOf('amount');
const ACCOUNT_FIELD = FIELDS.indexOf('account_id');

/** The 1,000-major-unit step in minor units per currency, memoised by the code's three bytes. */
class RoundUnits {
  private readonly memo = new Map<number, number>();
  constructor(
    private readonly rates: RateTable,
    private readonly multiple: number,
  ) {}
  of(packed: number): number {
    let u = this.memo.get(packed);
    if (u === undefined) {
      const code = String.fromCharCode((packed >> 16) & 255, (packed >> 8) & 255, packed & 255);
      const mu = this.rates.minorUnits(code);
      u = mu === undefined ? 0 : this.multiple * 10 ** mu;
      this.memo.set(packed, u);
    }
    return u;
  }
}

function packed3(col: Utf8Column | undefined | null, i: number): number {
  if (!col) return 0;
  const s = col.offsets[i] as number;
  if ((col.offsets[i + 1] as number) - s !== 3) return 0;
  return ((col.data[s] as number) << 16) | ((col.data[s + 1] as number) << 8) | (col.data[s + 2] as number);
}

function firstByte(col: Utf8Column | undefined | null, i: number): number {
  if (!col) return 0;
  const s = col.offsets[i] as number;
  return s < (col.offsets[i + 1] as number) ? (col.data[s] as number) : 0;
}

function countryIndex(a: number, b: number): number {
  return a >= 65 && a <= 90 && b >= 65 && b <= 90 ? (a - 65) * 26 + (b - 65) : -1;
}

interface FlagSources {
  n: number;
  amountMinor: BigInt64Array;
  currency: Utf8Column | undefined | null;
  direction: Utf8Column | undefined | null;
  /** The counterparty country of row i as two ASCII bytes. */
  country(i: number): [number, number];
  gbp: BigInt64Array;
}

function deriveFlags(src: FlagSources, rules: AmlRules, units: RoundUnits, flags: Uint8Array): void {
  for (let i = 0; i < src.n; i++) {
    let f = flags[i] as number;
    if (firstByte(src.direction, i) === 99 /* c */) f |= F_CREDIT;
    const [a, b] = src.country(i);
    const c = countryIndex(a, b);
    if (c >= 0 && rules.highRisk[c] === 1) f |= F_HIGH_RISK;
    const unit = units.of(packed3(src.currency, i));
    // Amounts are at most 10^11 minor units: exact as doubles.
    if (unit > 0 && (src.gbp[i] as bigint) >= 0n && Number(src.amountMinor[i]) % unit === 0) f |= F_ROUND;
    flags[i] = f;
  }
}

/**
 * Inputs for a validated request: every row that parsed is scored; none is applied (the validate
 * path and the CLI pass `apply` for rows the caller wants to carry into the state).
 */
export function inputFromVerdicts(
  mem: WasmMemory,
  cols: ColumnSet,
  v: BatchVerdicts,
  rules: AmlRules,
  rates: RateTable,
  apply: boolean,
): AmlInput {
  const n = cols.numRows;
  const key = accountKeys(mem, cols.text.account_id, n);
  const ts = new BigInt64Array(n);
  const gbp = new BigInt64Array(n).fill(-1n);
  const flags = new Uint8Array(n);
  const currency = cols.text.currency;
  const units = new RoundUnits(rates, rules.roundMultiple);
  const codeMemo = new Map<number, string>();
  for (let i = 0; i < n; i++) {
    if (v.fieldCodes[ACCOUNT_FIELD * n + i] !== 0) key[i] = 0n;
    ts[i] = v.fieldCodes[TS_FIELD * n + i] === 0 ? (v.tsMs[i] as bigint) : NO_TS;
    if (v.fieldCodes[AMOUNT_FIELD * n + i] === 0) {
      const p = packed3(currency, i);
      let code = codeMemo.get(p);
      if (code === undefined) {
        code = String.fromCharCode((p >> 16) & 255, (p >> 8) & 255, p & 255);
        codeMemo.set(p, code);
      }
      const g = rates.toGbpMinor(v.amountMinor[i] as bigint, code);
      if (g !== null) gbp[i] = g;
    }
    if (apply && v.mask[i] === 0) flags[i] = F_APPLY;
  }
  deriveFlags(
    {
      n,
      amountMinor: v.amountMinor,
      currency,
      direction: cols.text.direction,
      country: (i) => [v.counterpartyCountry[2 * i] as number, v.counterpartyCountry[2 * i + 1] as number],
      gbp,
    },
    rules,
    units,
    flags,
  );
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

function valid(bitmap: Uint8Array | null, i: number): boolean {
  return !bitmap || ((bitmap[i >> 3] as number) & (1 << (i & 7))) !== 0;
}

/**
 * Inputs for a staged silver part: its rows are accepted, so each is applied, except positions
 * dropped at commit (duplicates found then).
 */
export function inputFromSilver(
  mem: WasmMemory,
  batch: RecordBatch,
  rules: AmlRules,
  rates: RateTable,
  dropped: readonly number[] | undefined,
): AmlInput {
  const n = batch.numRows;
  const account = utf8Of(batch, 'account_id');
  const key = accountKeys(mem, account, n);
  const ts = int64Of(batch, 'ts').values.slice();
  const g = int64Of(batch, 'amount_gbp_minor');
  const gbp = new BigInt64Array(n);
  for (let i = 0; i < n; i++) gbp[i] = valid(g.validity, i) ? (g.values[i] as bigint) : -1n;
  const flags = new Uint8Array(n).fill(F_APPLY);
  for (const d of dropped ?? []) {
    flags[d] = 0;
    key[d] = 0n;
  }
  const country = utf8Of(batch, 'counterparty_country');
  deriveFlags(
    {
      n,
      amountMinor: int64Of(batch, 'amount_minor').values,
      currency: utf8Of(batch, 'currency'),
      direction: utf8Of(batch, 'direction'),
      country: (i) => {
        if (!country || !valid(country.validity, i)) return [0, 0];
        const s = country.offsets[i] as number;
        return (country.offsets[i + 1] as number) - s === 2
          ? [country.data[s] as number, country.data[s + 1] as number]
          : [0, 0];
      },
      gbp,
    },
    rules,
    new RoundUnits(rates, rules.roundMultiple),
    flags,
  );
  return { n, key, ts, gbp, flags, names: utf8Of(batch, 'counterparty_name') };
}

/** Account keys whose low word falls in `shard` of `shards`: the rows this shard owns. */
export function rowsOfShard(key: BigUint64Array, shard: number, shards: number): Uint32Array {
  const low = new Uint32Array(key.buffer, key.byteOffset, key.length * 2);
  const out: number[] = [];
  for (let i = 0; i < key.length; i++) {
    const lo = low[2 * i] as number;
    if ((lo | (low[2 * i + 1] as number)) !== 0 && lo % shards === shard) out.push(i);
  }
  return Uint32Array.from(out);
}

/** One input from several record batches' inputs, rows in order. */
export function concatInputs(parts: AmlInput[]): AmlInput {
  if (parts.length === 1) return parts[0] as AmlInput;
  const n = parts.reduce((a, p) => a + p.n, 0);
  const key = new BigUint64Array(n);
  const ts = new BigInt64Array(n);
  const gbp = new BigInt64Array(n);
  const flags = new Uint8Array(n);
  const size = parts.reduce(
    (a, p) => a + (p.names ? (p.names.offsets[p.n] as number) - (p.names.offsets[0] as number) : 0),
    0,
  );
  const offsets = new Int32Array(n + 1);
  const data = new Uint8Array(size);
  const validity = new Uint8Array((n + 7) >> 3);
  let at = 0;
  let bytes = 0;
  for (const p of parts) {
    key.set(p.key, at);
    ts.set(p.ts, at);
    gbp.set(p.gbp, at);
    flags.set(p.flags, at);
    for (let i = 0; i < p.n; i++) {
      const c = p.names;
      const present = !!c && (!c.validity || ((c.validity[i >> 3] as number) & (1 << (i & 7))) !== 0);
      if (c && present) {
        const s = c.offsets[i] as number;
        const e = c.offsets[i + 1] as number;
        data.set(c.data.subarray(s, e), bytes);
        bytes += e - s;
        validity[(at + i) >> 3] = (validity[(at + i) >> 3] as number) | (1 << ((at + i) & 7));
      }
      offsets[at + i + 1] = bytes;
    }
    at += p.n;
  }
  return {
    n,
    key,
    ts,
    gbp,
    flags,
    names: { kind: 'utf8', offsets, data: data.subarray(0, bytes), validity },
  };
}
