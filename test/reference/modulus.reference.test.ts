import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadModulusReference } from './modulus.ts';

const read = (name: string) =>
  readFileSync(new URL(`../../reference/modulus/${name}`, import.meta.url), 'utf8');

const ref = loadModulusReference(read('valacdos.txt'), read('scsubtab.txt'));

const cases = read('vocalink-test-cases.csv')
  .trim()
  .split(/\r?\n/)
  .slice(1)
  .map((line) => {
    const [sort, account, valid] = line.split(',');
    return { sort: sort as string, account: account as string, valid: valid === 'true', line };
  });

describe('modulus reference implementation', () => {
  it('loads the whole v9.00 table', () => {
    expect(ref.rowCount).toBe(1166);
  });

  it('passes the 34 Vocalink test cases', () => {
    expect(cases).toHaveLength(34);
    for (const c of cases) {
      expect(ref.check(c.sort, c.account), c.line).toBe(c.valid ? 'OK' : 'ACCOUNT_MODULUS');
    }
  });

  it('checks the sort code format first, then the account number format', () => {
    expect(ref.check('08-99-99', '66374958')).toBe('OK');
    expect(ref.check('08 99 99', '66374958')).toBe('OK');
    for (const bad of [
      '',
      '08999',
      '0899999',
      '08-99 99',
      '0899-99',
      ' 089999',
      '089999 ',
      '08/99/99',
      'AB-CD-EF',
    ]) {
      expect(ref.check(bad, '66374958'), JSON.stringify(bad)).toBe('SORT_CODE_FORMAT');
    }
    expect(ref.check('0899', 'x')).toBe('SORT_CODE_FORMAT');
    for (const bad of ['', '12345', '12345678901', '6637-4958', '6637 4958', '6637495a']) {
      expect(ref.check('089999', bad), JSON.stringify(bad)).toBe('ACCOUNT_NUMBER_FORMAT');
    }
  });

  it('standardises 6, 7, 9 and 10 digit account numbers', () => {
    expect(ref.check('180002', '000190')).toBe('OK'); // 6 digits: 00000190
    expect(ref.check('086090', '6774744')).toBe('OK'); // 7 digits: 06774744
    expect(ref.check('089990', '966374958')).toBe('OK'); // 9 digits: 089999 / 66374958
    expect(ref.check('089999', '6637495842')).toBe('OK'); // Co-operative Bank: first 8
    expect(ref.check('107999', '4288837491')).toBe('OK'); // others: last 8
    expect(ref.check('107999', '4288837493')).toBe('ACCOUNT_MODULUS');
  });

  it('treats a sort code absent from the table as valid', () => {
    expect(ref.check('000000', '12345678')).toBe('OK');
  });
});
