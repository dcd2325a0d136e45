/**
 * Reference IBAN validator, written for clarity rather than speed. Property tests compare it with the
 * Rust/WASM kernel (`wasm/src/iban.rs`), so it gives the same code for the same input, but it shares
 * none of the kernel's structure: the text is normalised into a new string, the BBAN is checked with
 * the registry CSV's own `bban_regex` column (the kernel compiles `bban_format` instead), and MOD-97 is
 * one BigInt remainder of the rearranged, expanded number.
 *
 * Semantics (the same as `check_iban` in the kernel), first failing check wins:
 * 1. any character other than `[A-Za-z0-9 ]`, or, once spaces are removed and letters upper-cased, a
 *    length outside 5–34, a non-letter among the first two characters or a non-digit among the next
 *    two → IBAN_FORMAT;
 * 2. country not in the registry → IBAN_COUNTRY;
 * 3. length other than the registry's → IBAN_LENGTH;
 * 4. BBAN not matching the registry structure → IBAN_BBAN_FORMAT;
 * 5. check digits 00, 01 or 99 (never issued: they alias 97, 98 and 02), or MOD-97-10 remainder other
 *    than 1 → IBAN_CHECKSUM;
 * otherwise OK.
 */
import { parseCsv, registrySpecFromCsv } from '../../engine/registry-spec.ts';

export type IbanCode =
  | 'OK'
  | 'IBAN_FORMAT'
  | 'IBAN_COUNTRY'
  | 'IBAN_LENGTH'
  | 'IBAN_BBAN_FORMAT'
  | 'IBAN_CHECKSUM';

export interface IbanReference {
  /** Number of countries in the registry. */
  readonly countryCount: number;
  /** The kernel's spec text for the same CSV (what `Registry::load` gets). */
  readonly spec: string;
  check(raw: string): IbanCode;
}

interface Country {
  length: number;
  bban: RegExp;
}

/** The remainder of the IBAN's number modulo 97, ISO 13616: first four characters moved to the end,
 * then every letter replaced by two digits (A = 10 … Z = 35). `iban` is normalised already. */
export function ibanMod97(iban: string): number {
  const rearranged = iban.slice(4) + iban.slice(0, 4);
  let digits = '';
  for (const ch of rearranged) digits += /[A-Z]/.test(ch) ? String(ch.charCodeAt(0) - 55) : ch;
  return Number(BigInt(digits) % 97n);
}

export function loadIbanReference(registryCsvText: string): IbanReference {
  const [header, ...rows] = parseCsv(registryCsvText);
  if (!header) throw new Error('empty registry CSV');
  const col = (name: string) => {
    const i = header.indexOf(name);
    if (i < 0) throw new Error(`registry CSV has no ${name} column`);
    return i;
  };
  const [cc, len, regex] = [col('country_code'), col('iban_length'), col('bban_regex')];
  const countries = new Map<string, Country>();
  for (const row of rows) {
    countries.set(row[cc] as string, { length: Number(row[len]), bban: new RegExp(row[regex] as string) });
  }

  return {
    countryCount: countries.size,
    spec: registrySpecFromCsv(registryCsvText),
    check(raw: string): IbanCode {
      if (!/^[A-Za-z0-9 ]*$/.test(raw)) return 'IBAN_FORMAT';
      const iban = raw.replaceAll(' ', '').toUpperCase();
      if (iban.length < 5 || iban.length > 34 || !/^[A-Z]{2}[0-9]{2}/.test(iban)) return 'IBAN_FORMAT';
      const country = countries.get(iban.slice(0, 2));
      if (!country) return 'IBAN_COUNTRY';
      if (iban.length !== country.length) return 'IBAN_LENGTH';
      // The CSV regexes use [A-Z] for `a` and [A-Za-z0-9] for `c`; the text is upper-case by now.
      if (!country.bban.test(iban.slice(4))) return 'IBAN_BBAN_FORMAT';
      const checkDigits = Number(iban.slice(2, 4));
      if (checkDigits < 2 || checkDigits > 98) return 'IBAN_CHECKSUM';
      if (ibanMod97(iban) !== 1) return 'IBAN_CHECKSUM';
      return 'OK';
    },
  };
}
