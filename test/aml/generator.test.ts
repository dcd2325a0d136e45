/**
 * The generator's AML side: typologies planted for every rule with their parameter edges, labels
 * that a replay of docs/aml.md over the whole output reproduces, event-time order, and background
 * traffic that stays clear of the rules.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { nameSimilarity } from '../../engine/aml/name-match.ts';
import { RULE_NAMES, type RuleName } from '../../engine/aml/rule-names.ts';
import { type GeneratedRow, type Label, TransactionGenerator } from '../../engine/generator.ts';
import { arrowBatch } from '../../engine/generator-formats.ts';
import { Kernels } from '../../engine/kernels.ts';
import { loadReferenceData } from '../../engine/reference-data.ts';
import {
  AccountSim,
  bestSanctionsScore,
  HIGH_RISK_COUNTRIES,
  HIGH_RISK_IBAN_COUNTRIES,
  SANCTIONS_LIST,
  SANCTIONS_NEAR_MISSES,
  SANCTIONS_VARIANTS,
  TYPOLOGIES,
} from '../../engine/typologies.ts';
import { Validator } from '../../engine/validator.ts';

const reference = loadReferenceData();
const RULES = JSON.parse(
  readFileSync(new URL('../../reference/aml-rules.json', import.meta.url), 'utf8'),
) as {
  high_risk_countries: { countries: string[] };
  rates: { gbp_per_unit: Record<string, { minor_units: number; rate: string }> };
};
const kernels = new Kernels(reference);
const NOW = Date.UTC(2026, 10, 20, 12, 0, 0);
const MIN = 60_000;

interface Out {
  rows: GeneratedRow[];
  labels: Label[];
}

function generate(rows: number, seed: number, typologyShare?: number): Out {
  const gen = new TransactionGenerator(kernels, reference, {
    rows,
    seed,
    now: NOW,
    format: 'arrow',
    ...(typologyShare === undefined ? {} : { typologyShare }),
  });
  const out: Out = { rows: [], labels: [] };
  for (let g = gen.next(); g; g = gen.next()) {
    out.rows.push(g.row);
    out.labels.push(g.label);
  }
  return out;
}

// One dense sample with every variant of every typology several times over.
const dense = generate(60_000, 21, 0.2);

interface Planted {
  row: GeneratedRow;
  label: Label;
}

function instances(prefix: string): Planted[][] {
  const by = new Map<string, Planted[]>();
  dense.labels.forEach((label, i) => {
    if (!label.typology?.startsWith(`AML-${prefix}-`)) return;
    const list = by.get(label.typology) ?? [];
    list.push({ row: dense.rows[i] as GeneratedRow, label });
    by.set(label.typology, list);
  });
  return [...by.values()];
}

const has = (p: Planted, rule: RuleName) => p.label.aml.includes(rule);
const pounds = (p: Planted) => p.row.amount;

describe('sluice generate: AML typologies', () => {
  it('plants instances of every typology on their own accounts, each with a labelled firing', () => {
    for (const t of TYPOLOGIES) {
      const list = instances(t.code);
      expect(list.length, t.code).toBeGreaterThanOrEqual(2 * t.variants);
      for (const inst of list) {
        const id = inst[0]?.label.typology;
        expect(inst.every((p) => p.row.account_id === id)).toBe(true);
        expect(inst.some((p) => has(p, t.rule))).toBe(true);
      }
    }
    // and every rule is labelled on some planted row
    const labelled = new Set(dense.labels.filter((l) => l.typology).flatMap((l) => l.aml));
    expect([...labelled].sort()).toEqual([...RULE_NAMES].sort());
  });

  it('labels every valid row exactly as a replay of docs/aml.md over the whole output', () => {
    const sims = new Map<string, AccountSim>();
    const eur = rateOf('EUR');
    let checked = 0;
    dense.labels.forEach((label, i) => {
      if (label.status !== 'valid') return;
      const row = dense.rows[i] as GeneratedRow;
      let sim = sims.get(row.account_id);
      if (!sim) {
        sim = new AccountSim();
        sims.set(row.account_id, sim);
      }
      const gbp =
        row.currency === 'GBP'
          ? row.amount_minor
          : (row.amount_minor * eur.num * 2n + eur.den) / (2n * eur.den);
      const iban = row.counterparty_iban?.replace(/ /g, '');
      const rules = sim.score({
        ts: row.ts,
        gbp,
        credit: row.direction === 'credit',
        ownMinor: row.amount_minor,
        units: 2,
        country: row.counterparty_country ?? iban?.slice(0, 2) ?? null,
      });
      const name = row.counterparty_name;
      const sanctioned = name !== undefined && bestSanctionsScore(name) >= 0.9;
      expect(label.aml, `row ${i}`).toEqual(sanctioned ? ['SANCTIONS_MATCH', ...rules] : rules);
      checked++;
    });
    expect(checked).toBeGreaterThan(55_000);
  });

  it('writes rows in event-time order: late rows under 0.5 %, at most 30 min late, accounts in order', () => {
    let max = Number.NEGATIVE_INFINITY;
    let late = 0;
    let valid = 0;
    const last = new Map<string, number>();
    dense.labels.forEach((label, i) => {
      if (label.status !== 'valid') return;
      const { ts, account_id } = dense.rows[i] as GeneratedRow;
      valid++;
      if (ts < max) {
        late++;
        expect(max - ts).toBeLessThanOrEqual(30 * MIN);
      }
      max = Math.max(max, ts);
      expect(ts).toBeGreaterThanOrEqual(last.get(account_id) ?? 0);
      last.set(account_id, ts);
    });
    expect(late).toBeGreaterThan(0);
    expect(late / valid).toBeLessThan(0.005);
  });

  it('gives the same rows and labels for a seed, and others for another seed', () => {
    const a = generate(4000, 9, 0.1);
    const b = generate(4000, 9, 0.1);
    const c = generate(4000, 10, 0.1);
    const text = (o: Out) => JSON.stringify(o, (_, v) => (typeof v === 'bigint' ? v.toString() : v));
    expect(text(a)).toBe(text(b));
    expect(text(a)).not.toBe(text(c));
    expect(a.labels.some((l) => l.typology !== null)).toBe(true);
  });

  it('plants a few hundred instances of each rule per million rows by default', () => {
    const gen = new TransactionGenerator(kernels, reference, { rows: 1_000_000, seed: 1, now: NOW });
    expect(gen.planted.instances / TYPOLOGIES.length).toBeGreaterThan(200);
    expect(gen.planted.instances / TYPOLOGIES.length).toBeLessThan(500);
  });

  it('builds planted rows that pass validation', () => {
    const planted = dense.labels.map((l, i) => [l, i] as const).filter(([l]) => l.typology !== null);
    const rows = planted.map(([, i]) => dense.rows[i] as GeneratedRow);
    const v = new Validator(kernels).validate(arrowBatch(rows), null);
    const bad = [...v.mask].map((m, k) => [m, rows[k]?.tx_id] as const).filter(([m]) => m !== 0);
    expect(bad).toEqual([]);
  });

  it('keeps event times whole milliseconds for a span that is not (an hour and a bit)', () => {
    const gen = new TransactionGenerator(kernels, reference, {
      rows: 2_000,
      seed: 3,
      now: NOW,
      days: 0.0416667,
    });
    const rows: GeneratedRow[] = [];
    for (let g = gen.next(); g; g = gen.next()) rows.push(g.row);
    expect(rows.filter((r) => !Number.isInteger(r.ts))).toEqual([]);
    expect(arrowBatch(rows).numRows).toBe(2_000);
  });
});

describe('sluice generate: parameter edges', () => {
  it('STRUCTURING: £8,999.99 is outside the band, £9,000.00 inside it (and round)', () => {
    const edge = instances('STR').find((i) => i.some((p) => pounds(p) === '8999.99'));
    const below = edge?.find((p) => pounds(p) === '8999.99');
    const at = edge?.find((p) => pounds(p) === '9000.00');
    expect(below?.label.aml).toEqual([]);
    expect(at?.label.aml).toEqual(['STRUCTURING', 'ROUND_AMOUNT']);
  });

  it('STRUCTURING: the third deposit fires at exactly 24 h after the first, not at 24 h + 1 ms', () => {
    const band = (i: Planted[]) => i.filter((p) => p.row.channel === 'CASH');
    const gapOf = (i: Planted[]) => (band(i)[2]?.row.ts ?? 0) - (band(i)[0]?.row.ts ?? 0);
    const exact = instances('STR').find((i) => gapOf(i) === 86_400_000);
    const over = instances('STR').find((i) => gapOf(i) === 86_400_001);
    expect(band(exact ?? [])[2]?.label.aml).toEqual(['STRUCTURING']);
    expect(band(over ?? [])[2]?.label.aml).toEqual([]);
    expect(band(over ?? [])[3]?.label.aml).toEqual(['STRUCTURING']);
  });

  it('RAPID_PASS_THROUGH: a debit 59 or 60 min after the credit fires, 61 min does not', () => {
    const debitAfter = (mins: number) =>
      instances('RPT')
        .flatMap((i) =>
          i.flatMap((c, k) => {
            const d = i[k + 1];
            if (c.row.direction !== 'credit' || !d) return [];
            return d.row.ts - c.row.ts === mins * MIN ? [d] : [];
          }),
        )
        .at(0);
    expect(debitAfter(59)?.label.aml).toContain('RAPID_PASS_THROUGH');
    expect(debitAfter(60)?.label.aml).toContain('RAPID_PASS_THROUGH');
    expect(debitAfter(61)?.label.aml).not.toContain('RAPID_PASS_THROUGH');
  });

  it('RAPID_PASS_THROUGH: debits reaching exactly 90 % fire, 89.99 % do not', () => {
    const exact = instances('RPT').find((i) => i.some((p) => pounds(p) === '1611.03'));
    expect(exact?.find((p) => pounds(p) === '1500.00')?.label.aml).toEqual([]);
    expect(exact?.find((p) => pounds(p) === '1611.03')?.label.aml).toEqual(['RAPID_PASS_THROUGH']);
    const under = instances('RPT').find((i) => i.some((p) => pounds(p) === '3789.54'));
    expect(under?.find((p) => pounds(p) === '3789.54')?.label.aml).toEqual([]);
    expect(under?.find((p) => pounds(p) === '25.00')?.label.aml).toEqual(['RAPID_PASS_THROUGH']);
  });

  it('RAPID_PASS_THROUGH: a £10,000.00 credit is high value and round too', () => {
    const inst = instances('RPT').find((i) => i.some((p) => pounds(p) === '10000.00'));
    expect(inst?.find((p) => pounds(p) === '10000.00')?.label.aml).toEqual(['HIGH_VALUE', 'ROUND_AMOUNT']);
    expect(inst?.find((p) => pounds(p) === '9500.00')?.label.aml).toEqual(['RAPID_PASS_THROUGH']);
  });

  it('VELOCITY_COUNT: the 10th in 5 min does not fire, the 11th and 12th do; 5 min + 1 ms is outside', () => {
    const cards = (i: Planted[]) => i.slice(i.length - (i.length >= 15 ? 15 : i.length >= 12 ? 12 : 11));
    const twelve = instances('VCN').find((i) => {
      const c = cards(i);
      return c.length === 12 && (c[11]?.row.ts ?? 0) - (c[0]?.row.ts ?? 0) === 11 * 20_000;
    });
    const fired = cards(twelve ?? []).map((p) => has(p, 'VELOCITY_COUNT'));
    expect(fired).toEqual([...new Array(10).fill(false), true, true]);
    const plusOne = instances('VCN').find((i) => {
      const c = cards(i);
      return c.length === 12 && (c[10]?.row.ts ?? 0) - (c[0]?.row.ts ?? 0) === 5 * MIN + 1;
    });
    expect(cards(plusOne ?? []).map((p) => has(p, 'VELOCITY_COUNT'))).toEqual([
      ...new Array(11).fill(false),
      true,
    ]);
    const exact = instances('VCN').find((i) => {
      const c = i.slice(-11);
      return (c[10]?.row.ts ?? 0) - (c[0]?.row.ts ?? 0) === 5 * MIN;
    });
    expect(exact?.at(-1)?.label.aml).toEqual(['VELOCITY_COUNT']);
  });

  it('VELOCITY_AMOUNT: a 5-min sum of exactly £50,000.00 does not fire, a penny more does', () => {
    const inst = instances('VAM').find((i) => i.some((p) => pounds(p) === '16666.66'));
    expect(inst?.find((p) => pounds(p) === '16666.66')?.label.aml).toEqual(['HIGH_VALUE']);
    expect(inst?.find((p) => pounds(p) === '4.99')?.label.aml).toEqual(['VELOCITY_AMOUNT']);
    const fiveMin = instances('VAM').find((i) =>
      i.some((p, k) => pounds(p) === '20000.00' && p.row.ts - (i[k - 1]?.row.ts ?? 0) === 5 * MIN),
    );
    expect(fiveMin?.find((p) => pounds(p) === '20000.00')?.label.aml).toEqual([
      'VELOCITY_AMOUNT',
      'HIGH_VALUE',
      'ROUND_AMOUNT',
    ]);
    const plusOne = instances('VAM').find((i) =>
      i.some((p, k) => pounds(p) === '20000.00' && p.row.ts - (i[k - 1]?.row.ts ?? 0) === 5 * MIN + 1),
    );
    expect(plusOne?.find((p) => pounds(p) === '20000.00')?.label.aml).toEqual(['HIGH_VALUE', 'ROUND_AMOUNT']);
    expect(plusOne?.at(-1)?.label.aml).toEqual(['VELOCITY_AMOUNT', 'HIGH_VALUE']);
  });

  it('AMOUNT_ANOMALY: a spike after 19 earlier rows does not fire, after 20 or 21 it does', () => {
    // the first payment from £1,500 is the spike; what counts is how many rows came before it
    const spikeAfter = (n: number) =>
      instances('ANO').find((i) => i.findIndex((p) => p.row.amount_minor >= 150_000n) === n)?.[n];
    expect(spikeAfter(19)?.label.aml).toEqual([]);
    expect(spikeAfter(20)?.label.aml).toEqual(['AMOUNT_ANOMALY']);
    expect(spikeAfter(21)?.label.aml).toEqual(['AMOUNT_ANOMALY']);
    // and after a spike too early to count, the next larger one has its 20 rows
    const early = instances('ANO').find((i) => i.findIndex((p) => p.row.amount_minor >= 150_000n) === 19);
    expect(early?.[20]?.label.aml).toEqual(['AMOUNT_ANOMALY']);
    const modest = instances('ANO').find((i) => i.some((p) => pounds(p) === '61.50'));
    expect(modest?.find((p) => pounds(p) === '61.50')?.label.aml).toEqual([]);
  });

  it('HIGH_RISK_COUNTRY: by country, by an IBAN alone, and a given country wins over the IBAN', () => {
    const rows = instances('HRC').flat();
    for (const c of ['KP', 'IR', 'MM']) {
      expect(
        rows.find((p) => p.row.counterparty_country === c && !p.row.counterparty_iban)?.label.aml,
      ).toEqual(['HIGH_RISK_COUNTRY']);
    }
    for (const c of HIGH_RISK_IBAN_COUNTRIES) {
      const p = rows.find((x) => x.row.counterparty_iban?.startsWith(c) && !x.row.counterparty_country);
      expect(p?.label.aml, c).toEqual(['HIGH_RISK_COUNTRY']);
    }
    const gb = rows.find(
      (p) => p.row.counterparty_country === 'GB' && p.row.counterparty_iban?.startsWith('BG'),
    );
    expect(gb?.label.aml).toEqual([]);
    const ir = rows.find(
      (p) => p.row.counterparty_country === 'IR' && p.row.counterparty_iban?.startsWith('DE'),
    );
    expect(ir?.label.aml).toEqual(['HIGH_RISK_COUNTRY']);
  });

  it('SANCTIONS_MATCH: every list name is planted in variants that score ≥ 0.90; one token never matches', () => {
    const rows = instances('SAN').flat();
    SANCTIONS_VARIANTS.forEach((variants, k) => {
      for (const v of variants) {
        expect(bestSanctionsScore(v), v).toBeGreaterThanOrEqual(0.92);
        expect(rows.find((p) => p.row.counterparty_name === v)?.label.aml, v).toEqual(['SANCTIONS_MATCH']);
      }
      const miss = SANCTIONS_NEAR_MISSES[k] as string;
      expect(bestSanctionsScore(miss)).toBe(0);
      expect(rows.find((p) => p.row.counterparty_name === miss)?.label.aml, miss).toEqual([]);
    });
    expect(SANCTIONS_VARIANTS.length).toBe(SANCTIONS_LIST.length);
  });

  it('HIGH_VALUE and ROUND_AMOUNT: £9,999.99 and £999.99 fire nothing, £10,000.01 is high value only', () => {
    const all = [...instances('HVL'), ...instances('RND')].flat();
    expect(all.find((p) => pounds(p) === '9999.99')?.label.aml).toEqual([]);
    expect(all.find((p) => pounds(p) === '10000.01')?.label.aml).toEqual(['HIGH_VALUE']);
    expect(all.find((p) => pounds(p) === '10000.00')?.label.aml).toEqual(['HIGH_VALUE', 'ROUND_AMOUNT']);
    expect(all.find((p) => pounds(p) === '999.99')?.label.aml).toEqual([]);
    expect(all.find((p) => pounds(p) === '1500.00')?.label.aml).toEqual([]);
    expect(all.find((p) => pounds(p) === '1000.00')?.label.aml).toEqual(['ROUND_AMOUNT']);
  });
});

describe('sluice generate: background traffic', () => {
  const bg = generate(40_000, 33);
  const rows = bg.labels.map((l, i) => [l, bg.rows[i] as GeneratedRow] as const).filter(([l]) => !l.typology);

  it('has no round thousands, nothing from £9,000, no high-risk country, and no name near any list name', () => {
    const risky = new Set<string>(HIGH_RISK_COUNTRIES);
    const names = new Set<string>();
    for (const [l, r] of rows) {
      if (l.status !== 'valid') continue;
      expect(r.amount_minor < 900_000n, r.tx_id).toBe(true);
      if (r.amount_minor >= 100_000n) expect(r.amount_minor % 100_000n, r.tx_id).not.toBe(0n);
      const country = r.counterparty_country ?? r.counterparty_iban?.slice(0, 2);
      expect(country === undefined || !risky.has(country), r.tx_id).toBe(true);
      if (r.counterparty_name) names.add(r.counterparty_name);
    }
    // planted rows' other names (companies, payees) too: only the variants may match
    dense.labels.forEach((l, i) => {
      const n = dense.rows[i]?.counterparty_name;
      if (l.typology && n && !l.aml.includes('SANCTIONS_MATCH')) names.add(n);
    });
    for (const m of SANCTIONS_NEAR_MISSES) names.delete(m);
    // against every name of the shipped lists, not only the ones the typologies imitate
    const list = shippedListNames();
    expect(list.length).toBeGreaterThan(SANCTIONS_LIST.length);
    for (const n of names) {
      const worst = Math.max(...list.map((l) => nameSimilarity(l, n)));
      expect(worst, n).toBeLessThan(0.85);
    }
  });

  it('fires only AMOUNT_ANOMALY (no alert), on a small share of rows', () => {
    const fired = rows.filter(([l]) => l.aml.length > 0);
    expect(fired.every(([l]) => l.aml.length === 1 && l.aml[0] === 'AMOUNT_ANOMALY')).toBe(true);
    expect(fired.length / rows.length).toBeLessThan(0.03);
  });

  it('has monthly salaries, bills, card spend and transfers between own accounts', () => {
    const refs = new Set(rows.map(([, r]) => r.reference?.split(' ')[0]));
    for (const ref of ['SALARY', 'DD', 'TO', 'FROM', 'ATM', 'INV']) expect(refs.has(ref), ref).toBe(true);
    const channels = new Set(rows.map(([, r]) => r.channel));
    for (const c of ['CARD', 'BACS', 'INTERNAL', 'FPS', 'SWIFT', 'CASH'])
      expect(channels.has(c), c).toBe(true);
    const salaries = new Map<string, number>();
    for (const [l, r] of rows) {
      if (l.status === 'valid' && r.reference === 'SALARY') {
        salaries.set(r.account_id, (salaries.get(r.account_id) ?? 0) + 1);
      }
    }
    // one payday in a 30-day period, two at most when it falls at both ends
    expect(Math.max(...salaries.values())).toBeLessThanOrEqual(2);
  });
});

describe('sluice generate: reference cross-checks', () => {
  it('plants exactly the high-risk list of reference/aml-rules.json', () => {
    expect([...HIGH_RISK_COUNTRIES].sort()).toEqual([...RULES.high_risk_countries.countries].sort());
  });
});

/** A rate of the `rates` section of reference/aml-rules.json, as GBP minor units per minor unit. */
function rateOf(cur: string): { num: bigint; den: bigint } {
  const r = RULES.rates.gbp_per_unit[cur];
  if (!r) throw new Error(`no rate for ${cur} in reference/aml-rules.json`);
  const { minor_units: units, rate } = r;
  const [a, b = ''] = rate.split('.');
  return { num: BigInt(`${a}${b}`) * 100n, den: 10n ** BigInt(b.length + units) };
}

/** RFC 4180 fields of one line (the list files quote names with commas). */
function csvFields(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i] as string;
    if (quoted) {
      if (ch !== '"') cur += ch;
      else if (line[i + 1] === '"') {
        cur += '"';
        i++;
      } else quoted = false;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

/** Primary names and aliases of reference/sanctions (OFSI: Name 1–5 then Name 6; SDN: name and a.k.a.s). */
function shippedListNames(): string[] {
  const dir = new URL('../../reference/sanctions/', import.meta.url);
  const names: string[] = [];
  for (const f of readdirSync(dir)) {
    const lines = readFileSync(new URL(f, dir), 'utf8').trim().split(/\r?\n/);
    if (f.startsWith('ofsi')) {
      for (const l of lines.slice(2)) {
        const c = csvFields(l);
        names.push([c[1], c[2], c[3], c[4], c[5], c[0]].filter(Boolean).join(' '));
      }
    } else {
      for (const l of lines) {
        const c = csvFields(l);
        if (c[1]) names.push(c[1]);
        for (const m of (c[11] ?? '').matchAll(/a\.k\.a\. '([^']+)'/g)) names.push(m[1] as string);
      }
    }
  }
  return names;
}
