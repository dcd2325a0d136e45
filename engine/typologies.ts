/**
 * AML typologies the generator plants, and the reference semantics that label them.
 *
 * Each typology instance lives on its own fresh account, so no background row shares its state,
 * and its rows are scored here by `AccountSim`, a direct reading of docs/aml.md (windows, Welford,
 * pass-through), so a label is exactly what the rules say about that row. SANCTIONS_MATCH is by
 * construction: the row carries a variant of a list name (`SANCTIONS_VARIANTS`), and
 * `bestSanctionsScore` (the plain-JS statement of the screen's rule, `engine/aml/name-match.ts`)
 * lets the tests check that every variant clears 0.90 and every background name stays far below it.
 *
 * Planted amounts are GBP, so their GBP-equivalents are exact and need no rate table.
 */
import { nameSimilarity } from './aml/name-match.ts';
import type { RuleName } from './aml/rule-names.ts';

/** The high-risk list of reference/aml-rules.json (FATF black and grey lists as of 2026). */
export const HIGH_RISK_COUNTRIES = [
  'KP',
  'IR',
  'MM',
  'DZ',
  'AO',
  'BO',
  'BG',
  'CM',
  'CI',
  'CD',
  'HT',
  'KE',
  'LA',
  'LB',
  'MC',
  'MZ',
  'NA',
  'NP',
  'NG',
  'ZA',
  'SS',
  'SY',
  'VE',
  'VN',
  'YE',
] as const;

const HIGH_RISK = new Set<string>(HIGH_RISK_COUNTRIES);

/** High-risk countries with IBANs in the SWIFT registry: planted by IBAN alone, no country field. */
export const HIGH_RISK_IBAN_COUNTRIES = ['BG', 'LB', 'MC', 'YE'] as const;

/** The sanctions list names the planted rows imitate (the lead's test list). */
export const SANCTIONS_LIST = [
  'Viktor Aleksandrovich Draganov',
  'Zoltán Keményi',
  'Amira Hassan El-Farouk',
  'Jean-Baptiste Moreau-Lefèvre',
  'Golden Crescent Exchange',
  'Ruslan Timurovich Bekov',
  'Marisol Quintero Vargas',
  'Hamid Reza Tavakoli',
  'Oksana Petrenko',
  'Northwind Maritime Trading LLC',
] as const;

/**
 * For each list name (same order): case, token order, honorific (a suffix for companies), one
 * typo, accents stripped or added.
 */
export const SANCTIONS_VARIANTS: readonly (readonly string[])[] = [
  [
    'VIKTOR ALEKSANDROVICH DRAGANOV',
    'Draganov, Viktor Aleksandrovich',
    'Mr Viktor Aleksandrovich Draganov',
    'Viktor Aleksandrovich Draganow',
    'Víktor Aleksandrovič Draganov',
  ],
  ['ZOLTÁN KEMÉNYI', 'Keményi Zoltán', 'Dr Zoltán Keményi', 'Zoltán Keményj', 'Zoltan Kemenyi'],
  [
    'amira hassan el-farouk',
    'El-Farouk, Amira Hassan',
    'Mrs Amira Hassan El-Farouk',
    'Amira Hasan El-Farouk',
    'Amíra Hassan El-Fārouk',
  ],
  [
    'JEAN-BAPTISTE MOREAU-LEFÈVRE',
    'Moreau-Lefèvre, Jean-Baptiste',
    'Dr Jean-Baptiste Moreau-Lefèvre',
    'Jean-Baptiste Moreau-Lefebvre',
    'Jean-Baptiste Moreau-Lefevre',
  ],
  [
    'GOLDEN CRESCENT EXCHANGE',
    'Crescent Exchange, Golden',
    'Golden Crescent Exchange Ltd',
    'Golden Cresent Exchange',
    'Gölden Crescent Exchange',
  ],
  [
    'ruslan timurovich bekov',
    'Bekov Ruslan Timurovich',
    'Mr Ruslan Timurovich Bekov',
    'Ruslan Timurovich Bekof',
    'Ruslán Timúrovich Bekov',
  ],
  [
    'MARISOL QUINTERO VARGAS',
    'Vargas, Marisol Quintero',
    'Ms Marisol Quintero Vargas',
    'Marisol Quinteros Vargas',
    'Marisól Quíntero Vargas',
  ],
  [
    'HAMID REZA TAVAKOLI',
    'Tavakoli Hamid Reza',
    'Dr Hamid Reza Tavakoli',
    'Hamid Reza Tavakkoli',
    'Hamíd Rezā Tavakolí',
  ],
  ['oksana petrenko', 'PETRENKO Oksana', 'Mrs Oksana Petrenko', 'Oksana Petrenco', 'Oksána Petrénko'],
  [
    'NORTHWIND MARITIME TRADING LLC',
    'Maritime Trading Northwind LLC',
    'Northwind Maritime Trading, LLC',
    'Northwind Maritme Trading LLC',
    'Northwínd Marítime Trading LLC',
  ],
];

/** One token of each list name: never a hit on its own (docs/aml.md: fewer than 2 tokens). */
export const SANCTIONS_NEAR_MISSES = [
  'Draganov',
  'Mr Keményi',
  'Hassan',
  'Moreau',
  'Crescent',
  'Bekov',
  'Vargas',
  'Dr Tavakoli',
  'Petrenko',
  'Northwind',
] as const;

/** The best similarity (`engine/aml/name-match.ts`) of a row name to any list name. */
export function bestSanctionsScore(name: string): number {
  let best = 0;
  for (const l of SANCTIONS_LIST) best = Math.max(best, nameSimilarity(l, name));
  return best;
}

// --- Reference scoring of one account (docs/aml.md), for labels ---------------------------------

const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

export interface SimRow {
  ts: number;
  /** GBP minor units, or null when the currency has no rate. */
  gbp: bigint | null;
  credit: boolean;
  /** Amount in its own currency's minor units, and that currency's minor units. */
  ownMinor: bigint;
  units: number;
  /** `counterparty_country`, else the counterparty IBAN's country, else null. */
  country: string | null;
}

interface Applied {
  ts: number;
  gbp: bigint | null;
  credit: boolean;
}

/** Welford's running mean and sample variance of GBP pence (the one float, as in the engine). */
export class Welford {
  n = 0;
  mean = 0;
  m2 = 0;

  /** AMOUNT_ANOMALY: at least 20 rows before, and x > mean + 4 σ (sample σ). */
  anomalous(x: number): boolean {
    if (this.n < 20) return false;
    return x > this.mean + 4 * Math.sqrt(this.m2 / (this.n - 1));
  }

  add(x: number): void {
    this.n++;
    const d = x - this.mean;
    this.mean += d / this.n;
    this.m2 += d * (x - this.mean);
  }
}

const BAND_LO = 900_000n;
const BAND_HI = 1_000_000n;

/** One account's AML state and rules, exactly as docs/aml.md states them (defaults). */
export class AccountSim {
  private readonly recent: Applied[] = [];
  private readonly band: number[] = [];
  private readonly stats = new Welford();

  /** The rules that fire on `r` (SANCTIONS_MATCH aside), then applies `r` to the state. */
  score(r: SimRow): RuleName[] {
    const out: RuleName[] = [];
    const g = r.gbp;
    const inWin = (e: Applied, w: number) => r.ts - w <= e.ts && e.ts <= r.ts;
    if (g !== null && g >= BAND_LO && g < BAND_HI) {
      const earlier = this.band.filter((ts) => r.ts - DAY <= ts && ts <= r.ts).length;
      if (earlier >= 2) out.push('STRUCTURING');
    }
    if (g !== null && !r.credit && this.passThrough(r, g)) out.push('RAPID_PASS_THROUGH');
    if (r.country !== null && HIGH_RISK.has(r.country)) out.push('HIGH_RISK_COUNTRY');
    const win5 = this.recent.filter((e) => inWin(e, 5 * MIN));
    if (g !== null) {
      const sum = win5.reduce((a, e) => a + (e.gbp ?? 0n), g);
      if (sum > 5_000_000n) out.push('VELOCITY_AMOUNT');
    }
    if (1 + win5.length >= 11) out.push('VELOCITY_COUNT');
    if (g !== null && this.stats.anomalous(Number(g))) out.push('AMOUNT_ANOMALY');
    if (g !== null && g >= 1_000_000n) out.push('HIGH_VALUE');
    if (g !== null && g >= 100_000n && r.ownMinor % (1000n * 10n ** BigInt(r.units)) === 0n) {
      out.push('ROUND_AMOUNT');
    }
    this.apply(r);
    return out;
  }

  private passThrough(r: SimRow, g: bigint): boolean {
    for (let k = 0; k < this.recent.length; k++) {
      const c = this.recent[k] as Applied;
      if (!c.credit || c.gbp === null || c.gbp < 100_000n) continue;
      if (!(r.ts - HOUR <= c.ts && c.ts <= r.ts)) continue;
      let debits = 0n;
      for (let d = k + 1; d < this.recent.length; d++) {
        const e = this.recent[d] as Applied;
        if (!e.credit && e.gbp !== null && c.ts <= e.ts && e.ts <= r.ts) debits += e.gbp;
      }
      if (debits * 10n < c.gbp * 9n && (debits + g) * 10n >= c.gbp * 9n) return true;
    }
    return false;
  }

  private apply(r: SimRow): void {
    this.recent.push({ ts: r.ts, gbp: r.gbp, credit: r.credit });
    if (this.recent.length > 64) this.recent.shift();
    if (r.gbp !== null && r.gbp >= BAND_LO && r.gbp < BAND_HI) {
      this.band.push(r.ts);
      if (this.band.length > 8) this.band.shift();
    }
    if (r.gbp !== null) this.stats.add(Number(r.gbp));
  }
}

// --- Typologies -------------------------------------------------------------------------------

/** A planted row, `at` ms after its instance starts; amounts in GBP pence. */
export interface PlantedRow {
  at: number;
  minor: bigint;
  direction: 'debit' | 'credit';
  channel: string;
  counterparty_name?: string;
  counterparty_sort_code?: string;
  counterparty_account_number?: string;
  counterparty_iban?: string;
  counterparty_country?: string;
  reference?: string;
  /** The name is a sanctions-list variant: SANCTIONS_MATCH fires by construction. */
  sanctions?: boolean;
}

/** What a builder may draw on: the instance's own random stream, payees, and valid IBANs. */
export interface TypologyContext {
  r: () => number;
  payee(): { name: string; sort: string; number: string };
  company(): string;
  merchant(): string;
  /** A valid IBAN of a registry country. */
  iban(country: string): string;
}

export interface Typology {
  /** Instance ids are `AML-<code>-<n>`. */
  code: string;
  /** The rule the typology is planted for. */
  rule: RuleName;
  variants: number;
  build(variant: number, ctx: TypologyContext): PlantedRow[];
}

/** "9,312.45" → 931245n pence. */
export function pence(s: string): bigint {
  const [a, b = ''] = s.replace(/,/g, '').split('.');
  return BigInt(`${a}${b.padEnd(2, '0')}`);
}

function between(r: () => number, lo: number, hi: number): number {
  return lo + Math.floor(r() * (hi - lo + 1));
}

/** Pence in [lo, hi] that are not whole pounds, so never round. */
function oddPence(r: () => number, lo: number, hi: number): bigint {
  const v = between(r, lo, hi);
  return BigInt(v % 100 === 0 ? v + 37 : v);
}

function toPayee(ctx: TypologyContext, row: PlantedRow): PlantedRow {
  const p = ctx.payee();
  return {
    counterparty_name: p.name,
    counterparty_sort_code: p.sort,
    counterparty_account_number: p.number,
    counterparty_country: 'GB',
    ...row,
  };
}

/** 0–2 ordinary small payments before the typology, hours apart; returns them and the next offset. */
function lead(ctx: TypologyContext, max = 2): { rows: PlantedRow[]; at: number } {
  const r = ctx.r;
  const rows: PlantedRow[] = [];
  let at = 0;
  const n = between(r, 0, max);
  for (let i = 0; i < n; i++) {
    rows.push({
      at,
      minor: oddPence(r, 300, 12_000),
      direction: 'debit',
      channel: 'CARD',
      counterparty_name: ctx.merchant(),
      counterparty_country: 'GB',
    });
    at += between(r, 1, 3) * HOUR + between(r, 0, 59) * MIN;
  }
  return { rows, at };
}

const sanctions: Typology = {
  code: 'SAN',
  rule: 'SANCTIONS_MATCH',
  variants: SANCTIONS_LIST.length * 5,
  build(v, ctx) {
    const r = ctx.r;
    const who = v % SANCTIONS_LIST.length;
    const style = Math.floor(v / SANCTIONS_LIST.length) % 5;
    const { rows, at } = lead(ctx);
    let t = at;
    if (style % 2 === 0) {
      // a single token of the name first: the rules must not fire on it
      rows.push(
        toPayee(ctx, {
          at: t,
          minor: oddPence(r, 2_000, 60_000),
          direction: 'debit',
          channel: 'FPS',
          counterparty_name: SANCTIONS_NEAR_MISSES[who] as string,
          reference: 'INVOICE',
        }),
      );
      t += between(r, 20, 300) * MIN;
    }
    rows.push(
      toPayee(ctx, {
        at: t,
        minor: oddPence(r, 15_000, 480_000),
        direction: r() < 0.7 ? 'debit' : 'credit',
        channel: r() < 0.5 ? 'FPS' : 'SWIFT',
        counterparty_name: (SANCTIONS_VARIANTS[who] as readonly string[])[style] as string,
        reference: pickOf(r, ['CONSULTANCY', 'GOODS', 'LOAN', 'SERVICES']),
        sanctions: true,
      }),
    );
    return rows;
  },
};

function pickOf<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)] as T;
}

function deposit(at: number, amount: string): PlantedRow {
  return { at, minor: pence(amount), direction: 'credit', channel: 'CASH', reference: 'CASH DEPOSIT' };
}

const structuring: Typology = {
  code: 'STR',
  rule: 'STRUCTURING',
  variants: 5,
  build(v, ctx) {
    const r = ctx.r;
    const { rows, at: t } = lead(ctx);
    const band = () => `9${String(between(r, 100, 899))}.${String(between(r, 1, 99)).padStart(2, '0')}`;
    switch (v) {
      case 0: // three deposits just under £10,000 in a day: the third is structuring
        rows.push(deposit(t, band()), deposit(t + 5 * HOUR, band()), deposit(t + 20 * HOUR, band()));
        break;
      case 1: // £8,999.99 is below the band, £9,000.00 in it (and round)
        rows.push(
          deposit(t, band()),
          deposit(t + 2 * HOUR, band()),
          deposit(t + 5 * HOUR, '8999.99'),
          deposit(t + 9 * HOUR, '9000.00'),
        );
        break;
      case 2: // the third exactly 24 h after the first: the window is inclusive
        rows.push(deposit(t, band()), deposit(t + 6 * HOUR, band()), deposit(t + DAY, band()));
        break;
      case 3: // 24 h + 1 ms: the first has left the window; the fourth is the third in 24 h
        rows.push(
          deposit(t, band()),
          deposit(t + 6 * HOUR, band()),
          deposit(t + DAY + 1, band()),
          deposit(t + DAY + HOUR, band()),
        );
        break;
      default: // £9,999.99 in the band, £10,000.00 out of it (high value and round)
        rows.push(
          deposit(t, '9250.00'),
          deposit(t + 3 * HOUR, '9999.99'),
          deposit(t + 6 * HOUR, '10000.00'),
          deposit(t + 10 * HOUR, band()),
          deposit(t + 17 * HOUR, band()),
        );
    }
    return rows;
  },
};

const passThrough: Typology = {
  code: 'RPT',
  rule: 'RAPID_PASS_THROUGH',
  variants: 6,
  build(v, ctx) {
    const r = ctx.r;
    const { rows, at: t } = lead(ctx);
    const credit = (at: number, amount: string): PlantedRow =>
      toPayee(ctx, {
        at,
        minor: pence(amount),
        direction: 'credit',
        channel: pence(amount) >= 1_000_000n ? 'CHAPS' : 'FPS',
        counterparty_name: ctx.company(),
        reference: 'PAYMENT',
      });
    const debit = (at: number, amount: string): PlantedRow => {
      if (r() < 0.3) {
        const c = pickOf(r, ['DE', 'NL', 'IE', 'FR']);
        return {
          at,
          minor: pence(amount),
          direction: 'debit',
          channel: 'SWIFT',
          counterparty_name: ctx.company(),
          counterparty_iban: ctx.iban(c),
          reference: 'TRANSFER',
        };
      }
      return toPayee(ctx, {
        at,
        minor: pence(amount),
        direction: 'debit',
        channel: 'FPS',
        reference: 'TRANSFER',
      });
    };
    switch (v) {
      case 0: // out again 59 min later
        rows.push(credit(t, '12345.67'), debit(t + 59 * MIN, '11234.56'));
        break;
      case 1: // 61 min later is outside the hour; a later credit passes through
        rows.push(
          credit(t, '12345.67'),
          debit(t + 61 * MIN, '11734.20'),
          credit(t + 3 * HOUR, '2345.67'),
          debit(t + 3 * HOUR + 40 * MIN, '2211.10'),
        );
        break;
      case 2: // exactly 60 min: the window is inclusive
        rows.push(credit(t, '5432.10'), debit(t + 60 * MIN, '5000.01'));
        break;
      case 3: // two debits reaching exactly 90 %
        rows.push(credit(t, '3456.70'), debit(t + 10 * MIN, '1500.00'), debit(t + 25 * MIN, '1611.03'));
        break;
      case 4: // 89.99… % after two debits; a third small one crosses
        rows.push(
          credit(t, '7777.77'),
          debit(t + 6 * MIN, '3210.45'),
          debit(t + 20 * MIN, '3789.54'),
          debit(t + 30 * MIN, '25.00'),
        );
        break;
      default: // a round £10,000 credit: high value and round as well
        rows.push(credit(t, '10000.00'), debit(t + 12 * MIN, '9500.00'));
    }
    return rows;
  },
};

const highRisk: Typology = {
  code: 'HRC',
  rule: 'HIGH_RISK_COUNTRY',
  variants: 9,
  build(v, ctx) {
    const r = ctx.r;
    const { rows, at: t } = lead(ctx);
    const pay = (at: number, extra: Partial<PlantedRow>): PlantedRow => ({
      at,
      minor: oddPence(r, 5_000, 480_000),
      direction: r() < 0.6 ? 'debit' : 'credit',
      channel: 'SWIFT',
      counterparty_name: ctx.company(),
      reference: 'TRADE',
      ...extra,
    });
    if (v < 4) {
      // by counterparty_country alone (KP, IR and MM have no IBAN)
      const c =
        v < 3 ? (['KP', 'IR', 'MM'][v] as string) : pickOf(r, ['NG', 'VE', 'SY', 'ZA', 'KE', 'VN', 'HT']);
      rows.push(pay(t, { counterparty_country: c }));
    } else if (v < 8) {
      // by the counterparty IBAN's country alone
      rows.push(pay(t, { counterparty_iban: ctx.iban(HIGH_RISK_IBAN_COUNTRIES[v - 4] as string) }));
    } else {
      // a given country wins over the IBAN's: GB with a BG IBAN does not fire, IR with a DE IBAN does
      rows.push(
        pay(t, { counterparty_country: 'GB', counterparty_iban: ctx.iban('BG') }),
        pay(t + 2 * HOUR, { counterparty_country: 'IR', counterparty_iban: ctx.iban('DE') }),
      );
    }
    return rows;
  },
};

const velocityAmount: Typology = {
  code: 'VAM',
  rule: 'VELOCITY_AMOUNT',
  variants: 4,
  build(v, ctx) {
    const { rows, at: t } = lead(ctx);
    const out = (at: number, amount: string): PlantedRow =>
      toPayee(ctx, {
        at,
        minor: pence(amount),
        direction: 'debit',
        channel: pence(amount) >= 1_000_000n ? 'CHAPS' : 'FPS',
        reference: 'SUPPLIER',
      });
    switch (v) {
      case 0: // four of £12,345.67 a minute apart (£49,382.68), then a fifth crosses £50,000
        rows.push(
          out(t, '12345.67'),
          out(t + MIN, '12345.67'),
          out(t + 2 * MIN, '12345.67'),
          out(t + 3 * MIN, '12345.67'),
          out(t + 4 * MIN, '1234.56'),
        );
        break;
      case 1: // exactly £50,000.00 is not above; £4.99 more is
        rows.push(
          out(t, '16666.67'),
          out(t + MIN, '16666.67'),
          out(t + 2 * MIN, '16666.66'),
          out(t + 3 * MIN, '4.99'),
        );
        break;
      case 2: // the second exactly 5 min after the first: inclusive window
        rows.push(out(t, '30000.01'), out(t + 5 * MIN, '20000.00'));
        break;
      default: // 5 min + 1 ms: the first has left; a later burst crosses
        rows.push(
          out(t, '30000.01'),
          out(t + 5 * MIN + 1, '20000.00'),
          out(t + 6 * MIN, '20000.01'),
          out(t + 7 * MIN, '12345.67'),
        );
    }
    return rows;
  },
};

const velocityCount: Typology = {
  code: 'VCN',
  rule: 'VELOCITY_COUNT',
  variants: 4,
  build(v, ctx) {
    const r = ctx.r;
    const { rows, at: t } = lead(ctx);
    const merchant = ctx.merchant();
    const card = (at: number): PlantedRow => ({
      at,
      minor: oddPence(r, 200, 15_000),
      direction: 'debit',
      channel: 'CARD',
      counterparty_name: merchant,
      counterparty_country: 'GB',
    });
    const offsets: number[] = [];
    if (v === 0)
      for (let i = 0; i < 12; i++) offsets.push(i * 20_000); // 12 in 3 min 40 s
    else if (v === 1) {
      // 10 in 4 min 30 s; the 11th 1 ms after 5 min (10 in window), the 12th 1 ms later (11)
      for (let i = 0; i < 10; i++) offsets.push(i * 30_000);
      offsets.push(5 * MIN + 1, 5 * MIN + 2);
    } else if (v === 2) {
      // the 11th exactly 5 min after the first: inclusive window, so it fires
      for (let i = 0; i < 10; i++) offsets.push(i * 30_000);
      offsets.push(5 * MIN);
    } else for (let i = 0; i < 15; i++) offsets.push(i * 12_000);
    for (const o of offsets) rows.push(card(t + o));
    return rows;
  },
};

const anomaly: Typology = {
  code: 'ANO',
  rule: 'AMOUNT_ANOMALY',
  variants: 4,
  build(v, ctx) {
    const r = ctx.r;
    const rows: PlantedRow[] = [];
    // history of small card spend, then one large payment: 19 earlier rows are too few, 20 enough
    const earlier = v === 0 ? 19 : v === 2 ? 21 : 20;
    let t = 0;
    for (let i = 0; i < earlier; i++) {
      rows.push({
        at: t,
        minor: oddPence(r, 2_000, 6_000),
        direction: 'debit',
        channel: 'CARD',
        counterparty_name: ctx.merchant(),
        counterparty_country: 'GB',
      });
      t += between(r, 30, 90) * MIN;
    }
    if (v === 3) {
      // above every earlier row, but well inside mean + 4 σ: no anomaly
      rows.push({
        at: t,
        minor: pence('61.50'),
        direction: 'debit',
        channel: 'CARD',
        counterparty_name: ctx.merchant(),
      });
      t += between(r, 30, 90) * MIN;
    }
    rows.push(
      toPayee(ctx, {
        at: t,
        minor: oddPence(r, 150_000, 480_000),
        direction: 'debit',
        channel: 'FPS',
        reference: 'PURCHASE',
      }),
    );
    if (v === 0) {
      // that spike was the 20th row, too early to fire; a larger one next has 20 rows before it
      t += between(r, 30, 90) * MIN;
      rows.push(
        toPayee(ctx, {
          at: t,
          minor: oddPence(r, 600_000, 880_000),
          direction: 'debit',
          channel: 'FPS',
          reference: 'PURCHASE',
        }),
      );
    }
    return rows;
  },
};

const highValue: Typology = {
  code: 'HVL',
  rule: 'HIGH_VALUE',
  variants: 4,
  build(v, ctx) {
    const { rows, at: t } = lead(ctx);
    const chaps = (at: number, amount: string, direction: 'debit' | 'credit' = 'debit'): PlantedRow =>
      toPayee(ctx, { at, minor: pence(amount), direction, channel: 'CHAPS', reference: 'COMPLETION' });
    if (v === 0) rows.push(chaps(t, '23456.78'));
    else if (v === 1) rows.push(chaps(t, '9999.99'), chaps(t + 2 * HOUR, '10000.00'));
    else if (v === 2) rows.push(chaps(t, '10000.01'));
    else rows.push(chaps(t, '15432.10', 'credit'));
    return rows;
  },
};

const round: Typology = {
  code: 'RND',
  rule: 'ROUND_AMOUNT',
  variants: 3,
  build(v, ctx) {
    const { rows, at: t } = lead(ctx);
    const fps = (at: number, amount: string, direction: 'debit' | 'credit' = 'debit'): PlantedRow =>
      toPayee(ctx, { at, minor: pence(amount), direction, channel: 'FPS', reference: 'CASH GIFT' });
    if (v === 0) rows.push(fps(t, '999.99'), fps(t + 3 * HOUR, '1500.00'), fps(t + 7 * HOUR, '2000.00'));
    else if (v === 1) rows.push(fps(t, '1000.00'));
    else rows.push(fps(t, '5000.00', 'credit'));
    return rows;
  },
};

/** Every typology, one per rule, in contract rule order. */
export const TYPOLOGIES: readonly Typology[] = [
  sanctions,
  structuring,
  passThrough,
  highRisk,
  velocityAmount,
  velocityCount,
  anomaly,
  highValue,
  round,
];
