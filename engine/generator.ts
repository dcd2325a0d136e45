/**
 * Synthetic UK transactions for tests, demos and benchmarks, in event-time order: realistic
 * background traffic per account (monthly salary, direct-debit bills, card spend, transfers
 * between the customer's own accounts, a little EU traffic), valid sort code/account pairs drawn
 * so that they pass the modulus check, valid IBANs, a labelled share of bad rows (one reason code
 * each), and labelled AML typologies planted on fresh accounts. Deterministic for a seed.
 *
 * Each bad row is built from a valid one by breaking exactly one thing, so its label is exactly the
 * reason set the validator must report. Each planted row's label is exactly the set of AML rules
 * docs/aml.md says fire on it (see typologies.ts). Background is built so that no rule fires on it
 * except AMOUNT_ANOMALY (weight 30, no alert), which is tracked per account and labelled too.
 */
import type { RuleName } from './aml/rule-names.ts';
import { REASON_CODES, type ReasonCode } from './codes.ts';
import { utf8Column } from './columns.ts';
import type { Kernels } from './kernels.ts';
import { RateTable } from './rates.ts';
import type { ReferenceData } from './reference-data.ts';
import { AccountSim, type PlantedRow, TYPOLOGIES, type TypologyContext, Welford } from './typologies.ts';

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
  /** Row number in the file (0-based, output order). */
  row: number;
  tx_id: string | null;
  status: 'valid' | 'invalid';
  reasons: ReasonCode[];
  /**
   * What the row was built to exercise in validation: 'background' for a row built valid (planted
   * AML rows included: see `typology`), else the reason code planted.
   */
  kind: string;
  /**
   * The AML rules docs/aml.md says fire on this row, in contract order. Exact for valid rows;
   * invalid rows are scored read-only and left [] (the evaluation ignores them).
   */
  aml: RuleName[];
  /** The planted typology instance the row belongs to (its account id, `AML-STR-000012`), or null. */
  typology: string | null;
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

// One builder for the generator and the sanctions list loader (engine/columns.ts).
export { utf8Column };

interface Account {
  id: string;
  customer: string;
  sort: string;
  number: string;
  iban: string;
  name: string;
}

/** A background customer: the account, its habits, and what keeps its rows clear of the rules. */
interface Customer extends Account {
  /** The customer's own savings account, for INTERNAL transfers. */
  own: Account;
  employer: string;
  employerAccount: Account;
  salary: bigint;
  payday: number;
  nextSalary: number;
  bills: { name: string; minor: bigint; payee: Account }[];
  nextBill: number;
  billAt: number;
  /** Last event time, and the time before which the account takes no new row (a late row's hold). */
  lastTs: number;
  busyUntil: number;
  /** The latest salary, and debits since it: kept below half of it within the hour (no pass-through). */
  salaryTs: number;
  salaryGbp: bigint;
  debitsSinceSalary: bigint;
  stats: Welford;
}

const FIRST = [
  'Olivia',
  'Grace',
  'Isla',
  'Ava',
  'Mia',
  'Lucy',
  'Oliver',
  'George',
  'Arthur',
  'Henry',
  'Harry',
  'Oscar',
  'Priya',
  'Chloe',
  'Gareth',
  'Megan',
  'Callum',
  'Ewan',
  'Fatima',
  'Jack',
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
  'Shah',
  'Robinson',
  'Wright',
  'Thompson',
  'Evans',
  'Walker',
  'Clarke',
  'Hughes',
  'Murphy',
  'Campbell',
  'Fraser',
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
  'ACME WIDGETS',
  'NHS TRUST',
  'HMRC PAYROLL',
  'BARCLAYS PLC',
  'UNIVERSITY OF LEEDS',
  'TESCO PLC',
];
const BANK_CODES = ['NWBK', 'BARC', 'LOYD', 'HBUK', 'MIDL', 'NAIA', 'CPBK', 'ABBY'];
/** Low-risk EU countries for the little background traffic abroad (none on the high-risk list). */
const EU_LOW_RISK = ['DE', 'FR', 'ES', 'IT', 'NL', 'IE', 'BE', 'PT', 'AT', 'FI', 'DK', 'SE', 'LU'];
const COMPANIES = [
  'HARGREAVES SUPPLIES',
  'PENNINE HAULAGE',
  'BRIGHTWATER HOLDINGS',
  'ORCHARD PROPERTY',
  'KESTREL IMPORTS',
  'ASHDOWN CONSULTING',
  'WESSEX TEXTILES',
  'CALDER ENGINEERING',
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
  /** Background customers; by default about 120 rows per customer per month. */
  accounts?: number;
  /**
   * Share of rows that belong to planted AML typology instances, the typologies taken in turn
   * (default 0.015: a 1M-row file holds about 280 instances of each of the nine rules).
   */
  typologyShare?: number;
  /** Share of background rows written late: up to 30 min after rows with later times (default 0.003). */
  lateShare?: number;
  /** Leave out kinds a format cannot carry. */
  format?: 'csv' | 'ndjson' | 'arrow' | 'json' | 'msgpack';
}

const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
/** At most one background row per account per 61 s: 11 rows in 5 min (VELOCITY_COUNT) cannot happen. */
const MIN_GAP = 61_000;

interface Pending {
  ts: number;
  seq: number;
  row: GeneratedRow;
  aml: RuleName[];
  typology: string | null;
}

/** A binary min-heap on (ts, seq): planted rows wait here until event time reaches them. */
class RowHeap {
  private readonly a: Pending[] = [];

  get size(): number {
    return this.a.length;
  }

  peekTs(): number {
    return this.a[0]?.ts ?? Number.POSITIVE_INFINITY;
  }

  private less(i: number, j: number): boolean {
    const x = this.a[i] as Pending;
    const y = this.a[j] as Pending;
    return x.ts < y.ts || (x.ts === y.ts && x.seq < y.seq);
  }

  private swap(i: number, j: number): void {
    const t = this.a[i] as Pending;
    this.a[i] = this.a[j] as Pending;
    this.a[j] = t;
  }

  push(p: Pending): void {
    this.a.push(p);
    let i = this.a.length - 1;
    while (i > 0) {
      const up = (i - 1) >> 1;
      if (!this.less(i, up)) break;
      this.swap(i, up);
      i = up;
    }
  }

  pop(): Pending | undefined {
    const top = this.a[0];
    const last = this.a.pop();
    if (this.a.length > 0 && last) {
      this.a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < this.a.length && this.less(l, m)) m = l;
        if (r < this.a.length && this.less(r, m)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top;
  }
}

interface Planned {
  id: string;
  start: number;
  typology: number;
  variant: number;
  seed: number;
  pair: number;
}

/** A per-instance seed, so an instance is the same whether built to count it or to emit it. */
function mix(seed: number, k: number): number {
  let h = (seed ^ Math.imul(k + 1, 0x9e3779b9)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  return (h ^ (h >>> 13)) >>> 0;
}

/** Pence that are not whole pounds: background amounts are never round. */
function notRound(minor: number): bigint {
  return BigInt(minor % 100 === 0 ? minor + 13 : minor);
}

export class TransactionGenerator {
  private readonly r: () => number;
  private readonly pool: { sort: string; number: string }[];
  private readonly customers: Customer[];
  private readonly payees: Account[];
  private readonly countries: Map<string, CountryFormat>;
  private readonly foreignIbans: { iban: string; country: string; name: string }[];
  private readonly badModulus: { sort: string; number: string }[];
  private readonly kinds: ReasonCode[];
  private readonly opts: Required<Omit<GenerateOptions, 'format'>>;
  /** The `rates` section of the AML rules file (reference/aml-rules.json). */
  private readonly rates = RateTable.load();
  private readonly issued: string[] = [];
  private readonly start: number;
  private readonly plan: Planned[] = [];
  private planAt = 0;
  private readonly heap = new RowHeap();
  private readonly held: (Pending & { release: number })[] = [];
  private seq = 0;
  private emitted = 0;
  private pendingBad = 0;
  private badCount = 0;
  /** Background slots: `bgRows` evenly spread over the period, the current one at `slotTs`. */
  private readonly bgRows: number;
  private readonly step: number;
  private slot = 0;
  private slotTs = 0;
  /** Planted instances and rows in the whole output. */
  readonly planted: { instances: number; rows: number };

  constructor(kernels: Kernels, reference: ReferenceData, opts: GenerateOptions) {
    const seed = opts.seed ?? 1;
    const days = opts.days ?? 30;
    const months = Math.max(days / 30.44, 1 / 30);
    this.opts = {
      rows: opts.rows,
      seed,
      badShare: opts.badShare ?? 0.02,
      now: opts.now ?? Date.now(),
      days,
      accounts: opts.accounts ?? Math.min(100_000, Math.max(50, Math.round(opts.rows / (120 * months)))),
      typologyShare: Math.min(0.5, Math.max(0, opts.typologyShare ?? 0.015)),
      lateShare: Math.min(0.005, Math.max(0, opts.lateShare ?? 0.003)),
    };
    this.r = rng(seed);
    this.countries = parseRegistrySpec(reference.ibanRegistrySpec);
    const kinds = opts.format === 'arrow' ? BAD_KINDS.filter((k) => !TEXT_ONLY_KINDS.includes(k)) : BAD_KINDS;
    this.kinds = kinds;
    const n = this.opts.accounts;
    // Pairs are reused beyond 20,000: AML state is per account_id, so a shared number is harmless.
    const pool = this.validPairs(kernels, reference, Math.min(2 * n, 20_000) + 400);
    this.pool = pool.good;
    this.badModulus = pool.bad;
    const pair = (i: number) => this.pool[i % this.pool.length] as { sort: string; number: string };
    const mk = (i: number, id: string, customer: string, name?: string): Account => {
      const p = pair(i);
      const bank = pick(this.r, BANK_CODES);
      const b = `${bank}${p.sort}${p.number}`;
      return {
        id,
        customer,
        sort: p.sort,
        number: p.number,
        iban: `GB${ibanCheckDigits('GB', b)}${b}`,
        name: name ?? `${pick(this.r, FIRST)} ${pick(this.r, LAST)}`,
      };
    };
    this.payees = Array.from({ length: 200 }, (_, i) =>
      mk(i, `P${String(i).padStart(7, '0')}`, `P${String(i).padStart(7, '0')}`),
    );
    // Whole milliseconds: every event time derives from it, and a fractional `--days` (0.3 days
    // is not a whole number of milliseconds in binary) made fractional times that Arrow's Int64
    // timestamps refused.
    this.start = this.opts.now - Math.round(days * DAY);
    const end = this.opts.now - MIN;
    this.customers = Array.from({ length: n }, (_, i) => {
      const id = `A${String(i).padStart(7, '0')}`;
      const cust = `C${String(i).padStart(7, '0')}`;
      const a = mk(200 + 2 * i, id, cust);
      const own = mk(201 + 2 * i, `${id}-S`, cust, a.name);
      const payday = 1 + Math.floor(this.r() * 28);
      return {
        ...a,
        own,
        employer: pick(this.r, EMPLOYERS),
        employerAccount: pick(this.r, this.payees),
        // £1,873.42–£4,987.65, never whole pounds (so never round)
        salary: notRound(187_342 + Math.floor(this.r() * 311_423)),
        payday,
        nextSalary: this.payday(this.start, payday),
        bills: Array.from({ length: 2 + Math.floor(this.r() * 4) }, () => ({
          name: pick(this.r, BILLERS),
          minor: notRound(2_000 + Math.floor(this.r() * 23_000)),
          payee: pick(this.r, this.payees),
        })),
        nextBill: this.start + Math.floor(this.r() * 7 * DAY),
        billAt: 0,
        lastTs: Number.NEGATIVE_INFINITY,
        busyUntil: Number.NEGATIVE_INFINITY,
        salaryTs: Number.NEGATIVE_INFINITY,
        salaryGbp: 0n,
        debitsSinceSalary: 0n,
        stats: new Welford(),
      };
    });
    this.foreignIbans = EU_LOW_RISK.filter((c) => this.countries.has(c)).flatMap((c) =>
      Array.from({ length: 8 }, () => ({
        iban: this.ibanOf(c, this.r),
        country: c,
        // people, not companies: corporate suffixes (GMBH, SA, LTD) are tokens list names share
        name: `${pick(this.r, FIRST)} ${pick(this.r, LAST)}`,
      })),
    );
    this.planted = this.planTypologies(end);
    this.bgRows = Math.max(0, this.opts.rows - this.planted.rows);
    this.step = (end - this.start) / Math.max(1, this.bgRows);
    this.slotTs = this.slotTime(0);
  }

  /** A valid IBAN of a registry country. */
  private ibanOf(country: string, r: () => number): string {
    const f = this.countries.get(country);
    if (!f) throw new Error(`no IBAN format for ${country}`);
    const b = bban(r, f);
    return `${country}${ibanCheckDigits(country, b)}${b}`;
  }

  /** The first payday (01:00–05:59 UTC on day `day`) at or after `ts`. */
  private payday(ts: number, day: number): number {
    const d = new Date(ts);
    for (let m = 0; ; m++) {
      const t = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + m, day, 1 + Math.floor(this.r() * 5));
      if (t >= ts) return t;
    }
  }

  private slotTime(j: number): number {
    // jitter inside the slot keeps times ascending: slot j lies in [j, j + 1) steps
    return this.start + Math.floor((j + this.r()) * this.step);
  }

  /**
   * Instances take the typologies in turn (and each typology its edge variants in turn) until
   * `typologyShare` of the rows is used; each starts at a random time with room to finish.
   */
  private planTypologies(end: number): { instances: number; rows: number } {
    const target = Math.floor(this.opts.rows * this.opts.typologyShare);
    const perCode = new Map<string, number>();
    let rows = 0;
    const span = end - this.start;
    for (let k = 0; k < 10_000_000; k++) {
      const t = k % TYPOLOGIES.length;
      const typ = TYPOLOGIES[t];
      if (!typ) break;
      const variant = Math.floor(k / TYPOLOGIES.length) % typ.variants;
      const seed = mix(this.opts.seed, k);
      const built = typ.build(variant, this.context(seed));
      const duration = built[built.length - 1]?.at ?? 0;
      if (rows + built.length > target) break;
      if (duration > span - 2 * MIN) {
        if (k >= TYPOLOGIES.length * 200) break; // the period is too short for this typology
        continue;
      }
      rows += built.length;
      const nth = (perCode.get(typ.code) ?? 0) + 1;
      perCode.set(typ.code, nth);
      this.plan.push({
        id: `AML-${typ.code}-${String(nth).padStart(6, '0')}`,
        start: this.start + MIN + Math.floor(this.r() * (span - duration - 2 * MIN)),
        typology: t,
        variant,
        seed,
        pair: 97 * k + 31,
      });
    }
    this.plan.sort((a, b) => a.start - b.start || (a.id < b.id ? -1 : 1));
    return { instances: this.plan.length, rows };
  }

  private context(seed: number): TypologyContext {
    const r = rng(seed);
    return {
      r,
      payee: () => pick(r, this.payees),
      company: () => pick(r, COMPANIES),
      merchant: () => pick(r, MERCHANTS),
      iban: (c) => this.ibanOf(c, r),
    };
  }

  /** Builds an instance's rows on its own account, labels them by the rules, and queues them. */
  private materialise(p: Planned): void {
    const typ = TYPOLOGIES[p.typology];
    if (!typ) return;
    const built = typ.build(p.variant, this.context(p.seed));
    const acct = this.pool[p.pair % this.pool.length] as { sort: string; number: string };
    const sim = new AccountSim();
    for (const b of built) {
      const row = this.plantedRow(p, acct, b);
      const country = b.counterparty_country ?? b.counterparty_iban?.slice(0, 2) ?? null;
      const rules = sim.score({
        ts: row.ts,
        gbp: b.minor,
        credit: b.direction === 'credit',
        ownMinor: b.minor,
        units: 2,
        country,
      });
      const aml: RuleName[] = b.sanctions ? ['SANCTIONS_MATCH', ...rules] : rules;
      this.heap.push({ ts: row.ts, seq: this.seq++, row, aml, typology: p.id });
    }
  }

  private plantedRow(p: Planned, acct: { sort: string; number: string }, b: PlantedRow): GeneratedRow {
    const row: GeneratedRow = {
      tx_id: '',
      ts: p.start + b.at,
      amount_minor: b.minor,
      amount: formatMinor(b.minor, 2),
      currency: 'GBP',
      direction: b.direction,
      channel: b.channel,
      account_id: p.id,
      customer_id: `C-${p.id}`,
      sort_code: acct.sort,
      account_number: acct.number,
    };
    for (const f of [
      'counterparty_name',
      'counterparty_sort_code',
      'counterparty_account_number',
      'counterparty_iban',
      'counterparty_country',
      'reference',
    ] as const) {
      const v = b[f];
      if (v !== undefined) row[f] = v;
    }
    return row;
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

  private isBadSlot(i: number): boolean {
    const every = this.opts.badShare > 0 ? Math.max(1, Math.round(1 / this.opts.badShare)) : 0;
    return every > 0 && i % every === every - 1;
  }

  private txId(i: number): string {
    return `TX-${this.opts.seed}-${String(i).padStart(9, '0')}`;
  }

  /**
   * The next row and its label, or null when `rows` have been made. Rows come in event-time order:
   * background slots, planted rows and released late rows are merged by time.
   */
  next(): { row: GeneratedRow; label: Label } | null {
    while (this.emitted < this.opts.rows) {
      const tb = this.slot < this.bgRows ? this.slotTs : Number.POSITIVE_INFINITY;
      const th = this.heldTs();
      this.startDue(Math.min(tb, th, this.heap.peekTs()));
      const tp = this.heap.peekTs();
      if (th !== Number.POSITIVE_INFINITY && th <= tp && th <= tb) {
        const k = this.held.findIndex((h) => h.release === th);
        const [h] = this.held.splice(k, 1);
        if (h) return this.emit(h, 'background', []);
      }
      if (tp !== Number.POSITIVE_INFINITY && tp <= tb) {
        const p = this.heap.pop();
        if (p) return this.emit(p, 'background', []);
      }
      if (tb === Number.POSITIVE_INFINITY) return null;
      this.slot++;
      if (this.slot < this.bgRows) this.slotTs = this.slotTime(this.slot);
      const i = this.emitted;
      const badHere = this.isBadSlot(i);
      const { row, aml, customer, gbp } = this.background(tb, i);
      if (badHere || this.pendingBad > 0) {
        this.pendingBad += (badHere ? 1 : 0) - 1;
        let kind = this.kinds[this.badCount++ % this.kinds.length] as ReasonCode;
        if (kind === 'DUPLICATE_TX' && this.issued.length === 0) {
          kind = this.kinds[this.badCount++ % this.kinds.length] as ReasonCode;
        }
        this.breakRow(row, kind);
        // An invalid row changes no AML state, so the account's statistics skip it.
        return this.emit({ ts: row.ts, seq: 0, row, aml: [], typology: null }, kind, [kind], true);
      }
      customer.stats.add(Number(gbp));
      if (this.r() < this.opts.lateShare) {
        // Late, but within the hour's lateness; the account takes no row until it is out, so its own
        // rows stay in order and its labels do not depend on how the file is cut into batches.
        const release = tb + MIN + Math.floor(this.r() * 29 * MIN);
        customer.busyUntil = release + MIN_GAP;
        this.held.push({ ts: tb, seq: 0, row, aml, typology: null, release });
        continue;
      }
      return this.emit({ ts: tb, seq: 0, row, aml, typology: null }, 'background', [], true);
    }
    return null;
  }

  private heldTs(): number {
    let t = Number.POSITIVE_INFINITY;
    for (const h of this.held) if (h.release < t) t = h.release;
    return t;
  }

  /** Queues the rows of every instance that starts by `t` (all of them once nothing else is left). */
  private startDue(t: number): void {
    while (this.planAt < this.plan.length) {
      const p = this.plan[this.planAt] as Planned;
      if (p.start > t && t !== Number.POSITIVE_INFINITY) break;
      this.planAt++;
      this.materialise(p);
      if (t === Number.POSITIVE_INFINITY) break;
    }
  }

  private emit(
    p: Pending,
    kind: string,
    reasons: ReasonCode[],
    fresh = false,
  ): { row: GeneratedRow; label: Label } {
    const i = this.emitted++;
    // a bad slot taken by a planted or late row passes its bad row on to the next fresh one
    if (!fresh && this.isBadSlot(i)) this.pendingBad++;
    const row = p.row;
    if (!fresh) row.tx_id = this.txId(i);
    // Remember some well-formed tx ids of background rows for DUPLICATE_TX rows to repeat later.
    if (
      kind === 'background' &&
      p.typology === null &&
      this.issued.length < 4096 &&
      (this.issued.length === 0 || this.r() < 0.01)
    ) {
      this.issued.push(row.tx_id);
    }
    return {
      row,
      label: {
        row: i,
        tx_id: row.omit?.includes('tx_id') ? null : row.tx_id,
        status: reasons.length ? 'invalid' : 'valid',
        reasons,
        kind,
        aml: p.aml,
        typology: p.typology,
      },
    };
  }

  /** A background account free to take a row at `ts` (none in the last 61 s, none held late). */
  private pickCustomer(ts: number): Customer {
    const free = (c: Customer) => c.lastTs + MIN_GAP <= ts && c.busyUntil <= ts;
    for (let k = 0; k < 40; k++) {
      const c = pick(this.r, this.customers);
      if (free(c)) return c;
    }
    const s = Math.floor(this.r() * this.customers.length);
    for (let k = 0; k < this.customers.length; k++) {
      const c = this.customers[(s + k) % this.customers.length] as Customer;
      if (free(c)) return c;
    }
    // Every account is busy: only when `accounts` is far too small for `rows`.
    return this.customers[s] as Customer;
  }

  /**
   * One background row at `ts`: salary when payday has come, a bill when one is due, else card
   * spend, payments to people, transfers between own accounts, cash, or a little EU traffic. No
   * amount reaches £1,000 except salaries (never whole pounds), nothing goes to a high-risk country,
   * and debits in the hour after a salary stay below half of it: only AMOUNT_ANOMALY can fire, and
   * it is labelled from the account's running statistics.
   */
  private background(
    ts: number,
    i: number,
  ): { row: GeneratedRow; aml: RuleName[]; customer: Customer; gbp: bigint } {
    const r = this.r;
    const c = this.pickCustomer(ts);
    const row: GeneratedRow = {
      tx_id: this.txId(i),
      ts,
      amount_minor: 0n,
      amount: '',
      currency: 'GBP',
      direction: 'debit',
      channel: 'CARD',
      account_id: c.id,
      customer_id: c.customer,
      sort_code: r() < 0.5 ? `${c.sort.slice(0, 2)}-${c.sort.slice(2, 4)}-${c.sort.slice(4)}` : c.sort,
      account_number: c.number,
    };
    const toAccount = (a: Account, name: string) => {
      row.counterparty_name = name;
      if (r() < 0.3) row.counterparty_iban = a.iban;
      else {
        row.counterparty_sort_code = a.sort;
        row.counterparty_account_number = a.number;
      }
    };
    let minor: bigint;
    let salary = false;
    if (ts >= c.nextSalary) {
      salary = true;
      row.channel = 'BACS';
      row.direction = 'credit';
      toAccount(c.employerAccount, c.employer);
      minor = c.salary;
      row.reference = 'SALARY';
      c.nextSalary = this.payday(ts + DAY, c.payday);
    } else if (ts >= c.nextBill) {
      const bill = c.bills[c.billAt++ % c.bills.length] as Customer['bills'][number];
      row.channel = 'BACS';
      row.counterparty_name = bill.name;
      row.counterparty_sort_code = bill.payee.sort;
      row.counterparty_account_number = bill.payee.number;
      minor = bill.minor;
      row.reference = `DD ${digits(r, 8)}`;
      c.nextBill = ts + Math.floor((2 + r() * 6) * DAY);
    } else {
      const roll = r();
      if (roll < 0.62) {
        // card spend, £2–£150, now and then a refund
        row.channel = 'CARD';
        row.direction = r() < 0.03 ? 'credit' : 'debit';
        row.counterparty_name = pick(r, MERCHANTS);
        row.counterparty_country = 'GB';
        minor = notRound(200 + Math.floor(r() * r() * 14_800));
        row.reference = `${row.counterparty_name} ${digits(r, 4)}`;
      } else if (roll < 0.76) {
        // faster payments to and from people, £5–£400
        row.channel = 'FPS';
        row.direction = r() < 0.5 ? 'debit' : 'credit';
        const p = pick(r, this.payees);
        toAccount(p, p.name);
        minor = notRound(500 + Math.floor(r() * 39_500));
        row.reference = pick(r, ['RENT SHARE', 'DINNER', 'THANKS', 'GIFT', 'TICKETS', 'LOAN REPAY']);
      } else if (roll < 0.86) {
        // between the customer's own accounts, £50–£900
        row.channel = r() < 0.6 ? 'INTERNAL' : 'FPS';
        row.direction = r() < 0.5 ? 'debit' : 'credit';
        toAccount(c.own, c.name);
        minor = notRound(5_000 + Math.floor(r() * 85_000));
        row.reference = row.direction === 'debit' ? 'TO SAVINGS' : 'FROM SAVINGS';
      } else if (roll < 0.92) {
        // cash machine, £10–£300 in tens (round, but far below £1,000)
        row.channel = 'CASH';
        minor = BigInt((1 + Math.floor(r() * 30)) * 1_000);
        row.reference = 'ATM';
      } else {
        // a little EU traffic, €60–€900 or the same in GBP
        row.channel = 'SWIFT';
        row.direction = r() < 0.5 ? 'debit' : 'credit';
        const f = pick(r, this.foreignIbans);
        row.counterparty_iban = r() < 0.5 ? f.iban : f.iban.replace(/(.{4})/g, '$1 ').trim();
        row.counterparty_name = f.name;
        row.currency = r() < 0.75 ? 'EUR' : 'GBP';
        minor = notRound(6_000 + Math.floor(r() * 84_000));
        row.reference = `INV ${digits(r, 6)}`;
        if (r() < 0.5) row.counterparty_country = f.country;
      }
    }
    const gbp = this.rates.toGbpMinor(minor, row.currency) ?? minor;
    if (row.direction === 'debit') {
      // No rapid pass-through of a salary: debits in its hour stay below half of it.
      if (ts - c.salaryTs <= HOUR + MIN && (c.debitsSinceSalary + gbp) * 2n >= c.salaryGbp) {
        row.direction = 'credit';
      } else c.debitsSinceSalary += gbp;
    }
    if (salary) {
      c.salaryTs = ts;
      c.salaryGbp = gbp;
      c.debitsSinceSalary = 0n;
    }
    if (r() < 0.1) row.iban = c.iban.toLowerCase();
    row.amount_minor = minor;
    row.amount = formatMinor(minor, 2);
    c.lastTs = ts;
    const aml: RuleName[] = c.stats.anomalous(Number(gbp)) ? ['AMOUNT_ANOMALY'] : [];
    return { row, aml, customer: c, gbp };
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
