/**
 * The WASM kernels against the plain TypeScript references in test/reference: every Vocalink test
 * case, every registry example IBAN, and 100k+ random and mutated inputs each, checked a column
 * at a time (1,000 inputs per kernel call, as the hot path calls it).
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { REASON_CODES } from '../../engine/codes.ts';
import { ibanCheckDigits, utf8Column } from '../../engine/generator.ts';
import { Kernels } from '../../engine/kernels.ts';
import { DEFAULT_REFERENCE_PATHS, loadReferenceData } from '../../engine/reference-data.ts';
import { loadIbanReference } from '../reference/iban.ts';
import { loadModulusReference } from '../reference/modulus.ts';

const text = (p: string) => readFileSync(p, 'utf8');
const kernels = new Kernels(loadReferenceData());
const ibanRef = loadIbanReference(text(DEFAULT_REFERENCE_PATHS.ibanRegistry));
const modRef = loadModulusReference(
  text(DEFAULT_REFERENCE_PATHS.modulusWeights),
  text(DEFAULT_REFERENCE_PATHS.modulusSubstitutions),
);

const RUNS = Number(process.env.SLUICE_PROPERTY_RUNS ?? 110);
const PER_RUN = 1000;

function wasmIban(xs: string[]): string[] {
  return [...kernels.ibanColumn(utf8Column(xs), xs.length)].map((c) => REASON_CODES[c] as string);
}

function wasmModulus(pairs: [string, string][]): string[] {
  const codes = kernels.modulusColumn(
    utf8Column(pairs.map((p) => p[0])),
    utf8Column(pairs.map((p) => p[1])),
    pairs.length,
  );
  return [...codes].map((c) => REASON_CODES[c] as string);
}

// ---------- registry-driven IBAN arbitraries ----------
const registry = text(DEFAULT_REFERENCE_PATHS.ibanRegistry)
  .trim()
  .split('\n')
  .slice(1)
  .map((line) => {
    const cc = line.slice(0, 2);
    const m = /,(\d+),((?:\d+![nac])+),([A-Z0-9]+),/.exec(line);
    if (!m) throw new Error(`registry line: ${line}`);
    return { cc, format: m[2] as string, example: m[3] as string };
  });

const charOf = (cls: string) =>
  cls === 'n'
    ? fc.constantFrom(...'0123456789')
    : cls === 'a'
      ? fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZ')
      : fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789');

const validIban = fc.constantFrom(...registry).chain(({ cc, format }) => {
  const parts = [...format.matchAll(/(\d+)!([nac])/g)].map((m) =>
    fc
      .array(charOf(m[2] as string), { minLength: Number(m[1]), maxLength: Number(m[1]) })
      .map((a) => a.join('')),
  );
  return fc.tuple(...parts).map((ps) => {
    const bban = ps.join('');
    return `${cc}${ibanCheckDigits(cc, bban)}${bban}`;
  });
});

const junk = fc.constantFrom(...' -_/.#!éß€\t0A', '\u0000', '\uFFFD');

/** One mutation of a valid IBAN: the kinds of mistake people and systems make. */
const mutatedIban = fc
  .tuple(validIban, fc.nat(), fc.nat(9), fc.integer({ min: 0, max: 9 }), junk)
  .map(([s, at, k, d, j]) => {
    const i = at % s.length;
    switch (k) {
      case 0: // single digit or letter change
        return (
          s.slice(0, i) +
          (/\d/.test(s[i] as string) ? String((Number(s[i]) + 1 + (d % 9)) % 10) : 'Z') +
          s.slice(i + 1)
        );
      case 1: // adjacent transposition
        return i + 1 < s.length ? s.slice(0, i) + s[i + 1] + s[i] + s.slice(i + 2) : s;
      case 2: // one character dropped
        return s.slice(0, i) + s.slice(i + 1);
      case 3: // one digit added
        return s.slice(0, i) + String(d) + s.slice(i);
      case 4: // unknown or made-up country
        return `${String.fromCharCode(65 + (d % 26))}Q${s.slice(2)}`;
      case 5: // junk character
        return s.slice(0, i) + j + s.slice(i);
      case 6: // lower case and print-format spaces (both allowed)
        return s.toLowerCase().replace(/(.{4})/g, '$1 ');
      case 7: // truncated hard
        return s.slice(0, 1 + (i % 5));
      case 8: // very long
        return s + s;
      default:
        return s;
    }
  });

const ibanInput = fc.oneof(
  { weight: 3, arbitrary: validIban },
  { weight: 6, arbitrary: mutatedIban },
  { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 40 }) },
);

// ---------- modulus arbitraries ----------
const ranges = text(DEFAULT_REFERENCE_PATHS.modulusWeights)
  .split(/\r?\n/)
  .map((l) => /^(\d{6})\s+(\d{6})/.exec(l))
  .filter((m): m is RegExpExecArray => m !== null)
  .map((m) => [Number(m[1]), Number(m[2])] as const);

const cases = text(new URL('../../reference/modulus/vocalink-test-cases.csv', import.meta.url).pathname)
  .trim()
  .split('\n')
  .slice(1)
  .map((l) => l.split(','))
  .map(([s, a, e]) => ({ sort: s as string, account: a as string, valid: e === 'true' }));

const digitsOf = (n: number) =>
  fc.array(fc.constantFrom(...'0123456789'), { minLength: n, maxLength: n }).map((a) => a.join(''));

const tableSort = fc
  .tuple(fc.constantFrom(...ranges), fc.double({ min: 0, max: 0.999999, noNaN: true }))
  .map(([[a, b], f]) => String(a + Math.floor(f * (b - a + 1))).padStart(6, '0'));
const anySort = fc.oneof({ weight: 4, arbitrary: tableSort }, { weight: 1, arbitrary: digitsOf(6) });
const prettySort = fc
  .tuple(anySort, fc.constantFrom('', '-', ' '))
  .map(([s, sep]) => `${s.slice(0, 2)}${sep}${s.slice(2, 4)}${sep}${s.slice(4)}`);
const account = fc.integer({ min: 6, max: 10 }).chain(digitsOf);

const mutatedCase = fc.tuple(fc.constantFrom(...cases), fc.nat(), fc.nat(5), junk).map(([c, at, k, j]) => {
  const a = c.account;
  const i = at % a.length;
  switch (k) {
    case 0:
      return [c.sort, a.slice(0, i) + String((Number(a[i]) + 1) % 10) + a.slice(i + 1)] as [string, string];
    case 1:
      return [c.sort, i + 1 < a.length ? a.slice(0, i) + a[i + 1] + a[i] + a.slice(i + 2) : a] as [
        string,
        string,
      ];
    case 2:
      return [c.sort, a.slice(0, i) + a.slice(i + 1)] as [string, string];
    case 3:
      return [c.sort.slice(0, 5) + String((Number(c.sort[5]) + 1) % 10), a] as [string, string];
    case 4:
      return [c.sort, a.slice(0, i) + j + a.slice(i)] as [string, string];
    default:
      return [c.sort, a] as [string, string];
  }
});

const pairInput = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(prettySort, account) },
  { weight: 3, arbitrary: mutatedCase },
  {
    weight: 1,
    arbitrary: fc.tuple(
      fc.string({ minLength: 1, maxLength: 10 }),
      fc.string({ minLength: 1, maxLength: 12 }),
    ),
  },
);

describe('IBAN kernel agrees with the reference', () => {
  it('accepts every registry example IBAN, in both implementations', () => {
    const examples = registry.map((r) => r.example);
    expect(examples.length).toBe(89);
    expect(wasmIban(examples)).toEqual(examples.map(() => 'OK'));
    expect(examples.map((e) => ibanRef.check(e))).toEqual(examples.map(() => 'OK'));
  });

  it(`gives the same code on ${RUNS * PER_RUN} random and mutated inputs`, () => {
    const seen = new Map<string, number>();
    fc.assert(
      fc.property(fc.array(ibanInput, { minLength: PER_RUN, maxLength: PER_RUN }), (xs) => {
        const got = wasmIban(xs);
        for (let i = 0; i < xs.length; i++) {
          const want = ibanRef.check(xs[i] as string);
          seen.set(want, (seen.get(want) ?? 0) + 1);
          if (got[i] !== want) return false;
        }
        return true;
      }),
      { numRuns: RUNS },
    );
    // the inputs reached every outcome, so agreement means something
    for (const c of [
      'OK',
      'IBAN_FORMAT',
      'IBAN_COUNTRY',
      'IBAN_LENGTH',
      'IBAN_BBAN_FORMAT',
      'IBAN_CHECKSUM',
    ]) {
      expect(seen.get(c) ?? 0, c).toBeGreaterThan(100);
    }
  });
});

describe('modulus kernel agrees with the reference', () => {
  it('passes all 34 Vocalink test cases, in both implementations', () => {
    expect(cases.length).toBe(34);
    const want = cases.map((c) => (c.valid ? 'OK' : 'ACCOUNT_MODULUS'));
    expect(wasmModulus(cases.map((c) => [c.sort, c.account]))).toEqual(want);
    expect(cases.map((c) => modRef.check(c.sort, c.account))).toEqual(want);
  });

  it(`gives the same code on ${RUNS * PER_RUN} random and mutated pairs`, () => {
    const seen = new Map<string, number>();
    fc.assert(
      fc.property(fc.array(pairInput, { minLength: PER_RUN, maxLength: PER_RUN }), (pairs) => {
        const got = wasmModulus(pairs);
        for (let i = 0; i < pairs.length; i++) {
          const [s, a] = pairs[i] as [string, string];
          const want = modRef.check(s, a);
          seen.set(want, (seen.get(want) ?? 0) + 1);
          if (got[i] !== want) return false;
        }
        return true;
      }),
      { numRuns: RUNS },
    );
    for (const c of ['OK', 'SORT_CODE_FORMAT', 'ACCOUNT_NUMBER_FORMAT', 'ACCOUNT_MODULUS']) {
      expect(seen.get(c) ?? 0, c).toBeGreaterThan(100);
    }
  });
});
