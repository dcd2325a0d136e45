/**
 * GBP-equivalents, exactly: a rate is decimal text, held as a fraction of integers, and applied
 * to integer minor units with BigInt arithmetic, rounding half up. Never a binary float.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SluiceError } from './errors.ts';

export const DEFAULT_RATES_PATH = fileURLToPath(new URL('../reference/rates.csv', import.meta.url));

interface Rate {
  /** GBP minor units per 1 minor unit of the currency = num / den. */
  num: bigint;
  den: bigint;
}

export class RateTable {
  private readonly rates = new Map<string, Rate>();
  readonly asOf: string;

  constructor(csv: string, source = 'rates') {
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
    lines.slice(1).forEach((line, k) => {
      const cells = line.split(',');
      const cur = cells[ci as number]?.trim() ?? '';
      const mu = Number(cells[mi as number]);
      const m = /^(\d+)(?:\.(\d+))?$/.exec(cells[ri as number]?.trim() ?? '');
      if (!/^[A-Z]{3}$/.test(cur) || !Number.isInteger(mu) || mu < 0 || mu > 4 || !m) {
        throw new SluiceError('REFERENCE_DATA_INVALID', `${source}: bad line ${k + 2}`);
      }
      const frac = m[2] ?? '';
      // gbp_minor = minor * rate * 10^2 / 10^mu, rate = digits / 10^frac.length
      this.rates.set(cur, {
        num: BigInt(`${m[1]}${frac}`) * 100n,
        den: 10n ** BigInt(frac.length + mu),
      });
      asOf = cells[ai as number]?.trim() || asOf;
    });
    this.asOf = asOf;
  }

  static load(path = DEFAULT_RATES_PATH): RateTable {
    try {
      return new RateTable(readFileSync(path, 'utf8'), path);
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
