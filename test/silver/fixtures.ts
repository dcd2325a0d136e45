/**
 * Synthetic silver rows for the roller's tests and benchmark: Arrow IPC streams with the silver
 * schema, built column by column from explicit types (no per-row objects, no dictionary guessing).
 */
import {
  type Data,
  Field,
  Int32,
  Int64,
  makeData,
  RecordBatch,
  Schema,
  Struct,
  Table,
  TimestampMillisecond,
  tableToIPC,
  Utf8,
} from 'apache-arrow';

const utc = () => new TimestampMillisecond('UTC');
const utf8 = (name: string, nullable = true) => new Field(name, new Utf8(), nullable);

export const SILVER_SCHEMA = new Schema([
  utf8('tx_id', false),
  new Field('ts', utc(), true),
  new Field('amount_minor', new Int64(), true),
  utf8('currency'),
  new Field('amount_gbp_minor', new Int64(), true),
  utf8('direction'),
  utf8('channel'),
  utf8('account_id'),
  utf8('customer_id'),
  utf8('sort_code'),
  utf8('account_number'),
  utf8('iban'),
  utf8('counterparty_name'),
  utf8('counterparty_sort_code'),
  utf8('counterparty_account_number'),
  utf8('counterparty_iban'),
  utf8('counterparty_country'),
  utf8('reference'),
  utf8('batch_id'),
  new Field('batch_row', new Int32(), true),
  new Field('received_at', utc(), true),
  new Field('flags', new Int32(), true),
  new Field('aml_score', new Int32(), true),
  utf8('aml_rules'),
]);

/** A Utf8 column from ASCII strings (null → null), encoded in one pass. */
function utf8Data(values: (string | null)[]): Data<Utf8> {
  const n = values.length;
  const offsets = new Int32Array(n + 1);
  const bitmap = new Uint8Array((n + 7) >> 3);
  let nulls = 0;
  let joined = '';
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v == null) nulls++;
    else {
      bitmap[i >> 3] = (bitmap[i >> 3] as number) | (1 << (i & 7));
      joined += v;
    }
    offsets[i + 1] = joined.length;
  }
  const data = new TextEncoder().encode(joined);
  return makeData({
    type: new Utf8(),
    length: n,
    nullCount: nulls,
    nullBitmap: nulls ? bitmap : null,
    valueOffsets: offsets,
    data,
  });
}

function int64Data(values: BigInt64Array): Data<Int64> {
  return makeData({ type: new Int64(), length: values.length, nullCount: 0, data: values });
}
function int32Data(values: Int32Array): Data<Int32> {
  return makeData({ type: new Int32(), length: values.length, nullCount: 0, data: values });
}
function tsData(values: BigInt64Array): Data<TimestampMillisecond> {
  return makeData({ type: utc(), length: values.length, nullCount: 0, data: values });
}

export interface SyntheticRows {
  batchId: string;
  date: string; // YYYY-MM-DD
  rows: number;
  /** Row i has amount_minor = amountBase + i. */
  amountBase?: number;
  /** tx ids are `${txPrefix}-${i}`; defaults to the batch id. */
  txPrefix?: string;
  /** Row i's account_id and event time (ms), where a test needs them placed. */
  accountOf?: (i: number) => string;
  tsOf?: (i: number) => number;
  /** AML columns as the pool worker stages them (score 0, rules '', no nulls), for the shards to fill. */
  stagedAml?: boolean;
}

const CURRENCIES = ['GBP', 'EUR', 'USD', 'CHF'];
const CHANNELS = ['FPS', 'BACS', 'CHAPS', 'CARD', 'SEPA'];
const COUNTRIES = ['GB', 'DE', 'FR', 'IE', 'NL', 'US'];

/** One silver part (rows of one event date) as an Arrow IPC stream. */
export function silverIpc(spec: SyntheticRows): Uint8Array {
  const n = spec.rows;
  const base = spec.amountBase ?? 1000;
  const prefix = spec.txPrefix ?? spec.batchId;
  const day = Date.parse(`${spec.date}T00:00:00Z`);
  const ts = new BigInt64Array(n);
  const amount = new BigInt64Array(n);
  const gbp = new BigInt64Array(n);
  const batchRow = new Int32Array(n);
  const flags = new Int32Array(n);
  const score = new Int32Array(n);
  const received = new BigInt64Array(n).fill(BigInt(day + 86_400_000));
  const s: Record<string, (string | null)[]> = {};
  const col = (name: string, f: (i: number) => string | null) => {
    const out = new Array<string | null>(n);
    for (let i = 0; i < n; i++) out[i] = f(i);
    s[name] = out;
  };
  for (let i = 0; i < n; i++) {
    ts[i] = BigInt(spec.tsOf ? spec.tsOf(i) : day + ((i * 7919) % 86_400_000));
    amount[i] = BigInt(base + i);
    gbp[i] = BigInt(Math.round((base + i) * 0.85));
    batchRow[i] = i;
    flags[i] = i % 17 === 0 ? 4 : 0;
    score[i] = spec.stagedAml ? 0 : (i * 37) % 100;
  }
  const acct = (i: number) => String(10_000_000 + ((i * 104_729) % 89_999_999));
  col('tx_id', (i) => `${prefix}-${i}`);
  col('currency', (i) => CURRENCIES[i % 4] as string);
  col('direction', (i) => (i % 3 === 0 ? 'IN' : 'OUT'));
  col('channel', (i) => CHANNELS[i % 5] as string);
  col('account_id', spec.accountOf ?? ((i) => `ACC${acct(i)}`));
  col('customer_id', (i) => `CUST${(i * 31) % 50_000}`);
  col('sort_code', (i) => String(200_000 + (i % 400)));
  col('account_number', acct);
  col('iban', (i) => `GB29NWBK${String(200_000 + (i % 400))}${acct(i)}`);
  col('counterparty_name', (i) => `Counterparty Ltd ${(i * 13) % 10_000}`);
  col('counterparty_sort_code', (i) => String(400_000 + ((i * 7) % 900)));
  col('counterparty_account_number', (i) => acct(i + 7));
  col('counterparty_iban', (i) =>
    i % 4 === 0 ? `DE89370400440532${String(i % 1_000_000).padStart(6, '0')}` : null,
  );
  col('counterparty_country', (i) => COUNTRIES[i % 6] as string);
  col('reference', (i) => (i % 5 === 0 ? null : `INV-${i}-${prefix.slice(-6)}`));
  col('batch_id', () => spec.batchId);
  col('aml_rules', (i) => (spec.stagedAml ? '' : i % 11 === 0 ? 'R1,R7' : null));

  const children: Data[] = SILVER_SCHEMA.fields.map((f) => {
    switch (f.name) {
      case 'ts':
        return tsData(ts);
      case 'received_at':
        return tsData(received);
      case 'amount_minor':
        return int64Data(amount);
      case 'amount_gbp_minor':
        return int64Data(gbp);
      case 'batch_row':
        return int32Data(batchRow);
      case 'flags':
        return int32Data(flags);
      case 'aml_score':
        return int32Data(score);
      default:
        return utf8Data(s[f.name] as (string | null)[]);
    }
  });
  const data = makeData({ type: new Struct(SILVER_SCHEMA.fields), length: n, nullCount: 0, children });
  return tableToIPC(new Table(SILVER_SCHEMA, [new RecordBatch(SILVER_SCHEMA, data)]), 'stream');
}
