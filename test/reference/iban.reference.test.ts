import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseCsv, registrySpecFromCsv } from '../../engine/registry-spec.ts';
import { ibanMod97, loadIbanReference } from './iban.ts';

const csv = readFileSync(new URL('../../reference/iban/registry.csv', import.meta.url), 'utf8');
const ref = loadIbanReference(csv);
const [header, ...rows] = parseCsv(csv);
const column = (name: string) => rows.map((r) => r[(header as string[]).indexOf(name)] as string);

/** Sets the check digits of a normalised IBAN so that MOD-97 gives 1. */
function withCheckDigits(iban: string): string {
  const zeroed = `${iban.slice(0, 2)}00${iban.slice(4)}`;
  return `${iban.slice(0, 2)}${String(98 - ibanMod97(zeroed)).padStart(2, '0')}${iban.slice(4)}`;
}

describe('registrySpecFromCsv', () => {
  const spec = registrySpecFromCsv(csv);
  const lines = spec.trimEnd().split('\n');

  it('gives one CC,length,format line per country', () => {
    expect(lines).toHaveLength(89);
    expect(spec.endsWith('\n')).toBe(true);
    expect(lines).toContain('GB,22,4!a6!n8!n');
    expect(lines[0]).toBe('AD,24,4!n4!n12!c');
    for (const l of lines) expect(l).toMatch(/^[A-Z]{2},\d{2},(\d{1,2}![nac])+$/);
  });

  it('reads quoted names with commas', () => {
    expect(lines).toContain('MD,24,2!c18!c');
    expect(lines).toContain('PS,29,4!a21!c');
  });

  it('handles CRLF, a BOM, quotes, reordered and extra columns', () => {
    const text = '\uFEFFbban_format,x,country_code,iban_length\r\n"4!a6!n8!n","a ""b"", c\nd",GB,22\r\n\r\n';
    expect(registrySpecFromCsv(text)).toBe('GB,22,4!a6!n8!n\n');
  });

  it('refuses a CSV without the needed columns or rows', () => {
    expect(() => registrySpecFromCsv('country_code,iban_length\nGB,22\n')).toThrow(/bban_format/);
    expect(() => registrySpecFromCsv('')).toThrow(/empty/);
    expect(() => registrySpecFromCsv('country_code,iban_length,bban_format\n')).toThrow(/no country/);
    expect(() => registrySpecFromCsv('country_code,iban_length,bban_format\nGB,22\n')).toThrow(/too few/);
    expect(() => registrySpecFromCsv('country_code,iban_length,bban_format\n"GB,22,4!a\n')).toThrow(/quoted/);
  });

  it('agrees with the CSV: bban_format, bban_regex, bban_length and iban_length describe the same thing', () => {
    const toRegex = (f: string) =>
      `^${[...f.matchAll(/(\d+)!([nac])/g)]
        .map(([, n, c]) => `${c === 'n' ? '[0-9]' : c === 'a' ? '[A-Z]' : '[A-Za-z0-9]'}{${n}}`)
        .join('')}$`;
    const formats = column('bban_format');
    const lengths = column('bban_length').map(Number);
    column('bban_regex').forEach((re, i) => {
      expect(toRegex(formats[i] as string)).toBe(re);
    });
    column('iban_length').forEach((l, i) => {
      const sum = [...(formats[i] as string).matchAll(/(\d+)!/g)].reduce((s, m) => s + Number(m[1]), 0);
      expect(sum).toBe(lengths[i]);
      expect(Number(l)).toBe(sum + 4);
    });
  });
});

describe('reference IBAN validator', () => {
  it('loads 89 countries', () => {
    expect(ref.countryCount).toBe(89);
  });

  it('accepts all 89 registry examples', () => {
    const examples = column('example_iban');
    expect(examples).toHaveLength(89);
    for (const ex of examples) expect(ref.check(ex), ex).toBe('OK');
  });

  it('accepts spaces anywhere and any case', () => {
    expect(ref.check('GB29 NWBK 6016 1331 9268 19')).toBe('OK');
    expect(ref.check('gb29nwbk60161331926819')).toBe('OK');
    expect(ref.check('  g b29NwBk6016133192681 9 ')).toBe('OK');
    expect(ref.check('fr14 2004 1010 0505 0001 3m02 606')).toBe('OK');
  });

  it('reports IBAN_FORMAT first', () => {
    for (const s of [
      '',
      '   ',
      'GB29',
      'GB2',
      '1B29NWBK60161331926819',
      'GBX9NWBK60161331926819',
      'GB2XNWBK60161331926819',
      'GB29-NWBK-6016-1331-9268-19',
      'GB29\tNWBK60161331926819',
      'GB29NWBK6016133192681é',
      'ZZ12 345_6',
      `ZZ12${'1'.repeat(31)}`,
      'GB29NWBK60161331926819'.repeat(2),
    ]) {
      expect(ref.check(s), JSON.stringify(s)).toBe('IBAN_FORMAT');
    }
  });

  it('then IBAN_COUNTRY, IBAN_LENGTH, IBAN_BBAN_FORMAT, IBAN_CHECKSUM', () => {
    expect(ref.check('US64SVBKUS6S3300958879')).toBe('IBAN_COUNTRY');
    expect(ref.check(`ZZ12${'1'.repeat(30)}`)).toBe('IBAN_COUNTRY');
    expect(ref.check('GB29NWBK6016133192681')).toBe('IBAN_LENGTH');
    expect(ref.check('GB29NWBK601613319268190')).toBe('IBAN_LENGTH');
    expect(ref.check('GB001')).toBe('IBAN_LENGTH');
    expect(ref.check(withCheckDigits('GB00NWB160161331926819'))).toBe('IBAN_BBAN_FORMAT');
    expect(ref.check(withCheckDigits('GB00NWBK6016133192681A'))).toBe('IBAN_BBAN_FORMAT');
    expect(ref.check('GB28NWBK60161331926819')).toBe('IBAN_CHECKSUM');
    expect(ref.check('GB29NWBK60161331962819')).toBe('IBAN_CHECKSUM');
    expect(ref.check('DE89370400440532013001')).toBe('IBAN_CHECKSUM');
  });

  it('rejects check digits 00, 01 and 99 even where MOD-97 passes', () => {
    const found = new Set<string>();
    for (let k = 0; k < 100_000 && found.size < 3; k++) {
      const good = withCheckDigits(`GB00NWBK6016133${String(k).padStart(7, '0')}`);
      const alias = { '97': '00', '98': '01', '02': '99' }[good.slice(2, 4)];
      if (!alias) continue;
      const bad = `GB${alias}${good.slice(4)}`;
      expect(ref.check(good)).toBe('OK');
      expect(ibanMod97(bad)).toBe(1);
      expect(ref.check(bad)).toBe('IBAN_CHECKSUM');
      found.add(alias);
    }
    expect(found.size).toBe(3);
  });
});
