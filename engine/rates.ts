/**
 * GBP-equivalents, exactly: a rate is decimal text, held as a fraction of integers, and applied
 * to integer minor units with BigInt arithmetic, rounding half up. Never a binary float.
 */
import { readFileSync } from 'node:fs';
import { DEFAULT_RULES_PATH, loadRules, type RulesDoc } from './aml/rules.ts';
import { SluiceError } from './errors.ts';

export const DEFAULT_RATES_PATH = DEFAULT_RULES_PATH;

interface Rate {
  /** GBP minor units per 1 minor unit of the currency = num / den. */
  num: bigint;
  den: bigint;
  minorUnits: number;
}

export interface RateEntry {
  currency: string;
  minorUnits: number;
  /** GBP per major unit, decimal text. */
  rate: string;
}

export class RateTable {
  private readonly rates = new Map<string, Rate>();

  constructor(
    entries: RateEntry[],
    readonly asOf: string,
    source = 'rates',
  ) {
    for (const { currency: cur, minorUnits: mu, rate } of entries) {
      const m = /^(\d+)(?:\.(\d+))?$/.exec(rate.trim());
      if (!/^[A-Z]{3}$/.test(cur) || !Number.isInteger(mu) || mu < 0 || mu > 4 || !m) {
        throw new SluiceError('REFERENCE_DATA_INVALID', `${source}: bad rate for ${cur}`);
      }
      const frac = m[2] ?? '';
      // gbp_minor = minor * rate * 10^2 / 10^mu, rate = digits / 10^frac.length
      this.rates.set(cur, {
        num: BigInt(`${m[1]}${frac}`) * 100n,
        den: 10n ** BigInt(frac.length + mu),
        minorUnits: mu,
      });
    }
  }

  /** The `rates` section of the AML rules file. */
  static fromRules(rates: RulesDoc['rates']): RateTable {
    return new RateTable(
      Object.entries(rates.gbp_per_unit).map(([currency, r]) => ({
        currency,
        minorUnits: r.minor_units,
        rate: r.rate,
      })),
      rates.as_of,
    );
  }

  /** A `currency,minor_units,gbp_per_unit,as_of` CSV. */
  static fromCsv(csv: string, source = 'rates'): RateTable {
    const lines = csv.trim().split(/\r?\n/);
    const header = lines[0]?.split(',') ?? [];
    const [ci, mi, ri, ai] = ['currency', 'minor_units', 'gbp_per_unit', 'as_of'].map((h) =>
      header.indexOf(h),
    );
    if ([ci, mi, ri].some((i) => i === undefined || i < 0)) {
      throw new SluiceError(
        'REFERENCE_DATA_INVALID',
        `${source}: header needs currency,minor_units,gbp_per_unit`,
      );
    }
    let asOf = '';
    const entries = lines.slice(1).map((line) => {
      const cells = line.split(',');
      asOf = cells[ai as number]?.trim() || asOf;
      return {
        currency: cells[ci as number]?.trim() ?? '',
        minorUnits: Number(cells[mi as number]),
        rate: cells[ri as number]?.trim() ?? '',
      };
    });
    return new RateTable(entries, asOf, source);
  }

  /** The minor units of a currency with a rate, else undefined. */
  minorUnits(currency: string): number | undefined {
    return this.rates.get(currency)?.minorUnits;
  }

  /** From the AML rules file (the default), or from a rates CSV. */
  static load(path = DEFAULT_RATES_PATH): RateTable {
    if (path.endsWith('.json')) return RateTable.fromRules(loadRules(path).doc.rates);
    try {
      return RateTable.fromCsv(readFileSync(path, 'utf8'), path);
    } catch (e) {
      if (e instanceof SluiceError) throw e;
      throw new SluiceError('REFERENCE_DATA_INVALID', `cannot read rates ${path}: ${(e as Error).message}`);
    }
  }

  /** GBP minor units for an amount in the currency's minor units, or null without a rate. */
  toGbpMinor(amountMinor: bigint, currency: string): bigint | null {
    const r = this.rates.get(currency);
    if (!r) return null;
    if (r.num === r.den) return amountMinor;
    return (amountMinor * r.num * 2n + r.den) / (2n * r.den);
  }
}
