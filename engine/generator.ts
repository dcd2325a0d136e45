/**
 * Synthetic UK transactions for tests, demos and benchmarks: realistic background traffic
 * (salaries, bills, card spend, transfers) with valid sort code/account pairs drawn so that they
 * pass the modulus check, valid IBANs from many registry countries, and a labelled share of bad
 * rows, one kind per reason code. Deterministic for a seed.
 *
 * Each row is built from a valid one by breaking exactly one thing, so its label is exactly the
 * reason set the validator must report.
 */
import { REASON_CODES, type ReasonCode } from './codes.ts';
import type { Utf8Column } from './columns.ts';
import type { Kernels } from './kernels.ts';
import type { ReferenceData } from './reference-data.ts';

export interface GeneratedRow {
  tx_id: string;
  ts: number; // epoch ms
  amount_minor: bigint;
  /** Decimal text; for bad-amount rows, the bad text. */
  amount: string;
  currency: string;
  direction: 'debit' | 'credit' | string;
  channel: string;
  account_id: string;
  customer_id: string;
  sort_code?: string;
  account_number?: string;
  iban?: string;
  counterparty_name?: string;
  counterparty_sort_code?: string;
  counterparty_account_number?: string;
  counterparty_iban?: string;
  counterparty_country?: string;
  reference?: string;
  /** Overrides `ts` as text (for a malformed timestamp). */
  ts_text?: string;
  /** Fields to leave out entirely. */
  omit?: (keyof GeneratedRow)[];
}

export interface Label {
  row: number;
  tx_id: string | null;
  status: 'valid' | 'invalid';
  reasons: ReasonCode[];
  /** What the row was built to exercise ('background', or the reason code planted). */
  kind: string;
}

/** Bad-row kinds, by the reason code they plant. A text format can express all of them. */
export const BAD_KINDS: ReasonCode[] = REASON_CODES.filter((c) => c !== 'OK') as ReasonCode[];
/** Kinds an Arrow file cannot carry: amount_minor is Int64 and ts a Timestamp there. */
export const TEXT_ONLY_KINDS: ReasonCode[] = ['AMOUNT_INVALID', 'AMOUNT_PRECISION', 'TIMESTAMP_INVALID'];

/** mulberry32: small, fast, and good enough for test data (not for anything secret). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const enc = new TextEncoder();

/** A Utf8 column from strings (generator-side only; the hot path never builds columns this way). */
export function utf8Column(values: string[]): Utf8Column {
  const parts = values.map((v) => enc.encode(v));
  const offsets = new Int32Array(values.length + 1);
  let at = 0;
  parts.forEach((p, i) => {
    at += p.length;
    offsets[i + 1] = at;
  });
  const data = new Uint8Array(at);
  let o = 0;
  for (const p of parts) {
    data.set(p, o);
    o += p.length;
  }
  return { kind: 'utf8', offsets, data, validity: null };
}

interface Account {
  id: string;
  customer: string;
  sort: string;
  number: string;
  iban: string;
  name: string;
}

const FIRST = [
  'Olivia',
  'Amelia',
  'Isla',
  'Ava',
  'Mia',
  'Noah',
  'Oliver',
  'George',
  'Arthur',
  'Leo',
  'Harry',
  'Oscar',
  'Priya',
  'Mohammed',
  'Chloe',
  'Aled',
  'Siobhan',
  'Callum',
  'Ewan',
  'Fatima',
];
const LAST = [
  'Smith',
  'Jones',
  'Taylor',
  'Brown',
  'Williams',
  'Wilson',
  'Johnson',
  'Davies',
  'Patel',
  'Robinson',
  'Wright',
  'Thompson',
  'Evans',
  'Walker',
  'Khan',
  'Hughes',
  'Murphy',
  'Campbell',
  'MacLeod',
  'Price',
];
const MERCHANTS = [
  'TESCO STORES',
  'SAINSBURYS',
  'ASDA',
  'BOOTS',
  'GREGGS',
  'TFL TRAVEL',
  'AMAZON UK',
  'SHELL UK',
  'PRET A MANGER',
  'JOHN LEWIS',
  'ARGOS',
  'WAITROSE',
];
const BILLERS = [
  'BRITISH GAS',
  'THAMES WATER',
  'COUNCIL TAX',
  'BT GROUP',
  'OCTOPUS ENERGY',
  'VODAFONE',
  'SKY UK',
  'TV LICENCE',
];
const EMPLOYERS = [
  'ACME LTD',
  'NHS TRUST',
  'HMRC PAYROLL',
  'BARCLAYS PLC',
  'UNIVERSITY OF LEEDS',
  'TESCO PLC',
];
const BANK_CODES = ['NWBK', 'BARC', 'LOYD', 'HBUK', 'MIDL', 'NAIA', 'CPBK', 'ABBY'];
const FOREIGN = [
  'DE',
  'FR',
  'ES',
  'IT',
  'NL',
  'IE',
  'BE',
  'PL',
  'PT',
  'SE',
  'CH',
  'NO',
  'DK',
  'AT',
  'FI',
  'GR',
  'CZ',
  'HU',
  'RO',
  'AE',
  'SA',
  'TR',
  'IL',
  'BR',
  'MU',
];

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)] as T;
}

function digits(r: () => number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += String(Math.floor(r() * 10));
  return s;
}

const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const ALNUM = `${UPPER}0123456789`;

/** ISO 7064 MOD 97-10 check digits for a country and BBAN. */
export function ibanCheckDigits(country: string, bban: string): string {
  const rearranged = `${bban}${country}00`;
  let rem = 0;
  for (const ch of rearranged) {
    const code = ch.charCodeAt(0);
    const v = code >= 65 ? String(code - 55) : ch;
    for (const d of v) rem = (rem * 10 + (d.charCodeAt(0) - 48)) % 97;
  }
  return String(98 - rem).padStart(2, '0');
}

interface CountryFormat {
  length: number;
  segments: { n: number; cls: string }[];
}

function parseRegistrySpec(spec: Uint8Array): Map<string, CountryFormat> {
  const out = new Map<string, CountryFormat>();
  for (const line of new TextDecoder().decode(spec).split('\n')) {
    const [cc, len, fmt] = line.trim().split(',');
    if (!cc || !len || !fmt) continue;
    const segments = [...fmt.matchAll(/(\d+)!?([nac])/g)].map((m) => ({
      n: Number(m[1]),
      cls: m[2] as string,
    }));
    out.set(cc, { length: Number(len), segments });
  }
  return out;
}

function bban(r: () => number, f: CountryFormat): string {
  let s = '';
  for (const seg of f.segments) {
    for (let i = 0; i < seg.n; i++) {
      s +=
        seg.cls === 'n'
          ? String(Math.floor(r() * 10))
          : seg.cls === 'a'
            ? pick(r, [...UPPER])
            : pick(r, [...ALNUM]);
    }
  }
  return s;
}

function formatMinor(minor: bigint, units: number): string {
  if (units === 0) return minor.toString();
  const s = minor.toString().padStart(units + 1, '0');
  return `${s.slice(0, -units)}.${s.slice(-units)}`;
}

export interface GenerateOptions {
  rows: number;
  seed?: number;
  /** Share of rows that are bad, spread evenly over the bad kinds. */
  badShare?: number;
  /** Event times fall in the `days` days before `now`. */
  now?: number;
  days?: number;
  accounts?: number;
  /** Leave out kinds a format cannot carry. */
  format?: 'csv' | 'ndjson' | 'arrow' | 'json' | 'msgpack';
}

export class TransactionGenerator {
  private readonly r: () => number;
  private readonly accounts: Account[];
  private readonly payees: Account[];
  private readonly countries: Map<string, CountryFormat>;
  private readonly foreignIbans: { iban: string; country: string; name: string }[];
  private readonly badModulus: { sort: string; number: string }[];
  private readonly kinds: ReasonCode[];
  private readonly opts: Required<Omit<GenerateOptions, 'format'>>;
  private readonly issued: string[] = [];
  private row = 0;

  constructor(kernels: Kernels, reference: ReferenceData, opts: GenerateOptions) {
    const seed = opts.seed ?? 1;
    this.opts = {
      rows: opts.rows,
      seed,
      badShare: opts.badShare ?? 0.02,
      now: opts.now ?? Date.now(),
      days: opts.days ?? 30,
      accounts: opts.accounts ?? 2000,
    };
    this.r = rng(seed);
    this.countries = parseRegistrySpec(reference.ibanRegistrySpec);
    const kinds = opts.format === 'arrow' ? BAD_KINDS.filter((k) => !TEXT_ONLY_KINDS.includes(k)) : BAD_KINDS;
    this.kinds = kinds;
    const pool = this.validPairs(kernels, reference, this.opts.accounts * 2 + 200);
    this.badModulus = pool.bad;
    const mk = (i: number, kind: 'A' | 'P'): Account => {
      const p = pool.good[i % pool.good.length] as { sort: string; number: string };
      const bank = pick(this.r, BANK_CODES);
      const b = `${bank}${p.sort}${p.number}`;
      return {
        id: `${kind}${String(i).padStart(7, '0')}`,
        customer: `C${String(i).padStart(7, '0')}`,
        sort: p.sort,
        number: p.number,
        iban: `GB${ibanCheckDigits('GB', b)}${b}`,
        name: `${pick(this.r, FIRST)} ${pick(this.r, LAST)}`,
      };
    };
    this.accounts = Array.from({ length: this.opts.accounts }, (_, i) => mk(i, 'A'));
    this.payees = Array.from({ length: 200 }, (_, i) => mk(this.opts.accounts + i, 'P'));
    this.foreignIbans = FOREIGN.filter((c) => this.countries.has(c)).flatMap((c) => {
      const f = this.countries.get(c) as CountryFormat;
      return Array.from({ length: 8 }, () => {
        const b = bban(this.r, f);
        return {
          iban: `${c}${ibanCheckDigits(c, b)}${b}`,
          country: c,
          name: `${pick(this.r, LAST).toUpperCase()} ${pick(this.r, ['GMBH', 'SA', 'SRL', 'BV', 'AB', 'LLC', 'AG'])}`,
        };
      });
    });
  }

  /** Sort code/account pairs drawn from the modulus table's ranges, kept when the kernel passes them. */
  private validPairs(kernels: Kernels, reference: ReferenceData, want: number) {
    const ranges: [number, number][] = [];
    for (const line of new TextDecoder().decode(reference.modulusWeights).split(/\r?\n/)) {
      const m = /^(\d{6})\s+(\d{6})/.exec(line);
      if (m) ranges.push([Number(m[1]), Number(m[2])]);
    }
    const good: { sort: string; number: string }[] = [];
    const bad: { sort: string; number: string }[] = [];
    for (let round = 0; round < 20 && good.length < want; round++) {
      const sorts: string[] = [];
      const nums: string[] = [];
      for (let i = 0; i < want * 4; i++) {
        const [a, b] = pick(this.r, ranges);
        sorts.push(String(a + Math.floor(this.r() * (b - a + 1))).padStart(6, '0'));
        nums.push(digits(this.r, 8));
      }
      const codes = kernels.modulusColumn(utf8Column(sorts), utf8Column(nums), sorts.length);
      codes.forEach((c, i) => {
        const pair = { sort: sorts[i] as string, number: nums[i] as string };
        if (c === 0 && good.length < want) good.push(pair);
        else if (c === 16 && bad.length < 500) bad.push(pair);
      });
    }
    return { good, bad };
  }

  get badKinds(): readonly ReasonCode[] {
    return this.kinds;
  }

  /** The next row and its label, or null when `rows` have been made. */
  next(): { row: GeneratedRow; label: Label } | null {
    if (this.row >= this.opts.rows) return null;
    const i = this.row++;
    const r = this.r;
    const row = this.background(i);
    let kind = 'background';
    const every = this.opts.badShare > 0 ? Math.max(1, Math.round(1 / this.opts.badShare)) : 0;
    if (every > 0 && i % every === every - 1) {
      kind = this.kinds[Math.floor(i / every) % this.kinds.length] as ReasonCode;
      this.breakRow(row, kind as ReasonCode);
    }
    // Remember some well-formed tx ids for DUPLICATE_TX rows to repeat later.
    if (
      kind !== 'DUPLICATE_TX' &&
      kind !== 'TX_ID_FORMAT' &&
      this.issued.length < 4096 &&
      (i === 0 || r() < 0.01)
    ) {
      this.issued.push(row.tx_id);
    }
    const reasons = kind === 'background' ? [] : [kind as ReasonCode];
    return {
      row,
      label: {
        row: i,
        tx_id: row.omit?.includes('tx_id') ? null : row.tx_id,
        status: reasons.length ? 'invalid' : 'valid',
        reasons,
        kind,
      },
    };
  }

  private background(i: number): GeneratedRow {
    const r = this.r;
    const acct = pick(r, this.accounts);
    const ts = this.opts.now - 60_000 - Math.floor(r() * this.opts.days * 86_400_000);
    const roll = r();
    const row: GeneratedRow = {
      tx_id: `TX-${this.opts.seed}-${String(i).padStart(9, '0')}`,
      ts,
      amount_minor: 0n,
      amount: '',
      currency: 'GBP',
      direction: 'debit',
      channel: 'CARD',
      account_id: acct.id,
      customer_id: acct.customer,
      sort_code:
        r() < 0.5 ? `${acct.sort.slice(0, 2)}-${acct.sort.slice(2, 4)}-${acct.sort.slice(4)}` : acct.sort,
      account_number: acct.number,
    };
    let minor: bigint;
    if (roll < 0.45) {
      // card spend
      row.channel = 'CARD';
      row.counterparty_name = pick(r, MERCHANTS);
      row.counterparty_country = 'GB';
      minor = BigInt(100 + Math.floor(r() * r() * 15000));
      row.reference = `${row.counterparty_name} ${digits(r, 4)}`;
    } else if (roll < 0.6) {
      // bills by direct debit
      row.channel = 'BACS';
      const p = pick(r, this.payees);
      row.counterparty_name = pick(r, BILLERS);
      row.counterparty_sort_code = p.sort;
      row.counterparty_account_number = p.number;
      minor = BigInt(2000 + Math.floor(r() * 25000));
      row.reference = `DD ${digits(r, 8)}`;
    } else if (roll < 0.7) {
      // salary in
      row.channel = 'BACS';
      row.direction = 'credit';
      const p = pick(r, this.payees);
      row.counterparty_name = pick(r, EMPLOYERS);
      row.counterparty_sort_code = p.sort;
      row.counterparty_account_number = p.number;
      minor = BigInt(150000 + Math.floor(r() * 450000));
      row.reference = 'SALARY';
    } else if (roll < 0.9) {
      // faster payments to people and own accounts
      row.channel = r() < 0.1 ? 'INTERNAL' : 'FPS';
      row.direction = r() < 0.5 ? 'debit' : 'credit';
      const p = pick(r, this.payees);
      row.counterparty_name = p.name;
      if (r() < 0.3) row.counterparty_iban = p.iban;
      else {
        row.counterparty_sort_code = p.sort;
        row.counterparty_account_number = p.number;
      }
      minor = BigInt(500 + Math.floor(r() * r() * 300000));
      row.reference = pick(r, ['RENT', 'DINNER', 'THANKS', 'SAVINGS', 'LOAN REPAY', 'GIFT']);
    } else if (roll < 0.97) {
      // international
      row.channel = 'SWIFT';
      row.direction = r() < 0.5 ? 'debit' : 'credit';
      const f = pick(r, this.foreignIbans);
      row.counterparty_iban = r() < 0.5 ? f.iban : f.iban.replace(/(.{4})/g, '$1 ').trim();
      row.counterparty_name = f.name;
      row.currency = pick(r, ['GBP', 'EUR', 'EUR', 'USD']);
      minor = BigInt(10000 + Math.floor(r() * r() * 2_000_000));
      row.reference = `INV ${digits(r, 6)}`;
      if (r() < 0.5) row.counterparty_country = f.country;
    } else {
      row.channel = r() < 0.5 ? 'CASH' : 'CHAPS';
      row.direction = r() < 0.5 ? 'debit' : 'credit';
      minor = BigInt(2000 + Math.floor(r() * 50000)) * 100n;
      if (row.channel === 'CHAPS') {
        const p = pick(r, this.payees);
        row.counterparty_name = p.name;
        row.counterparty_iban = p.iban;
      }
    }
    if (r() < 0.1) row.iban = acct.iban.toLowerCase();
    row.amount_minor = minor;
    row.amount = formatMinor(minor, 2);
    return row;
  }

  private breakRow(row: GeneratedRow, kind: ReasonCode): void {
    const r = this.r;
    switch (kind) {
      case 'MISSING_FIELD':
        row.omit = [pick(r, ['currency', 'account_id', 'direction', 'channel'] as const)];
        break;
      case 'TX_ID_FORMAT':
        row.tx_id = `${row.tx_id} #${digits(r, 2)}`;
        break;
      case 'DUPLICATE_TX':
        // row 0 is always remembered, and bad rows never come first
        row.tx_id = pick(r, this.issued);
        break;
      case 'TIMESTAMP_INVALID':
        row.ts_text = pick(r, [
          '2026-13-01T00:00:00Z',
          '2026-02-30T10:00:00Z',
          'yesterday',
          '2026-06-01 25:00:00+01:00',
        ]);
        break;
      case 'TIMESTAMP_FUTURE':
        row.ts = this.opts.now + 365 * 86_400_000;
        break;
      case 'AMOUNT_INVALID':
        row.amount = pick(r, ['12.3.4', 'abc', '1,000.00', '£10.00', '.50', '1e3']);
        break;
      case 'AMOUNT_NON_POSITIVE':
        row.amount = pick(r, ['0.00', '-25.00', '0']);
        row.amount_minor = BigInt(row.amount === '-25.00' ? -2500 : 0);
        break;
      case 'AMOUNT_PRECISION':
        row.amount = `${row.amount}5`;
        break;
      case 'AMOUNT_RANGE':
        row.amount = '1000000000.01';
        row.amount_minor = 100000000001n;
        break;
      case 'CURRENCY_UNKNOWN':
        row.currency = pick(r, ['XYZ', 'GBX', 'BTC', 'gbp']);
        break;
      case 'DIRECTION_INVALID':
        row.direction = pick(r, ['sideways', 'DEBIT', 'refund']);
        break;
      case 'CHANNEL_UNKNOWN':
        row.channel = pick(r, ['FAX', 'fps', 'CHEQUE']);
        break;
      case 'COUNTRY_UNKNOWN':
        row.counterparty_country = pick(r, ['ZZ', 'UK', 'EU', 'XX']);
        break;
      case 'SORT_CODE_FORMAT':
        row.sort_code = pick(r, ['12-34-5', '1234567', 'AB-CD-EF', '12/34/56']);
        break;
      case 'ACCOUNT_NUMBER_FORMAT':
        row.account_number = pick(r, ['12345', '12345678901', '1234567X']);
        break;
      case 'ACCOUNT_MODULUS': {
        const p = pick(r, this.badModulus);
        row.sort_code = p.sort;
        row.account_number = p.number;
        break;
      }
      case 'IBAN_FORMAT':
        row.counterparty_iban = pick(r, ['GB!!NWBK', 'G', '12GB33NWBK', 'GB82-WEST-1234-5698-7654-32']);
        break;
      case 'IBAN_COUNTRY':
        row.counterparty_iban = `QQ${digits(r, 2)}NWBK60161331926819`;
        break;
      case 'IBAN_LENGTH': {
        const p = pick(r, this.payees);
        row.counterparty_iban = `${p.iban}0`;
        break;
      }
      case 'IBAN_BBAN_FORMAT': {
        // digits where GB wants the bank's letters, with check digits that are right for it
        const b = `1234${digits(r, 14)}`;
        row.counterparty_iban = `GB${ibanCheckDigits('GB', b)}${b}`;
        break;
      }
      case 'IBAN_CHECKSUM': {
        const p = pick(r, this.payees);
        // any other check digits change the number by less than 97, so MOD-97 must fail
        const cd = Number(p.iban.slice(2, 4));
        const wrong = ((cd - 2 + 1 + Math.floor(r() * 94)) % 95) + 2;
        row.counterparty_iban = `GB${String(wrong).padStart(2, '0')}${p.iban.slice(4)}`;
        break;
      }
      case 'FIELD_TOO_LONG':
        row.reference = 'X'.repeat(141 + Math.floor(r() * 50));
        break;
      default:
        break;
    }
  }
}
