/**
 * Reference implementation of UK modulus checking (Vocalink, "Validating account numbers – UK modulus
 * checking", v9.00), written straight from the specification for clarity rather than speed. Property
 * tests compare it with the Rust/WASM kernel (`wasm/src/modulus.rs`), so it must give the same code for
 * the same input, but it deliberately shares none of the kernel's structure: rows are found by a linear
 * scan, digits are plain arrays, and each exception is spelled out where the specification puts it.
 *
 * Semantics (the same as `check_account` in the kernel):
 * - sort code: `123456`, `12-34-56` or `12 34 56` (the same separator twice); anything else is
 *   SORT_CODE_FORMAT. It is checked first.
 * - account number: 6 to 10 ASCII digits, nothing else; otherwise ACCOUNT_NUMBER_FORMAT.
 * - the account is standardised to 8 digits (see `standardise`), then checked against every table row
 *   whose range holds the sort code (at most two, in table order). A sort code in no row is valid.
 */

export type ModulusCode = 'OK' | 'SORT_CODE_FORMAT' | 'ACCOUNT_NUMBER_FORMAT' | 'ACCOUNT_MODULUS';

type Method = 'MOD10' | 'MOD11' | 'DBLAL';

interface WeightRow {
  start: number;
  end: number;
  method: Method;
  /** 14 weights, for positions u v w x y z a b c d e f g h. */
  weights: number[];
  /** The exception number, or 0 when the row has none. */
  exception: number;
}

export interface ModulusReference {
  /** Number of weight rows loaded. */
  readonly rowCount: number;
  check(sortCode: string, account: string): ModulusCode;
}

// Positions in the 14-digit string (sort code digits u..z, then account digits a..h).
const U = 0;
const A = 6;
const B = 7;
const C = 8;
const G = 12;
const H = 13;

function lines(text: string): string[][] {
  return text
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map((line) => line.split(/\s+/));
}

function parseWeightTable(text: string): WeightRow[] {
  return lines(text).map((f, i) => {
    const [start, end, method, ...rest] = f;
    const weights = rest.slice(0, 14).map(Number);
    const exception = rest.length === 15 ? Number(rest[14]) : 0;
    const ok =
      /^\d{6}$/.test(start ?? '') &&
      /^\d{6}$/.test(end ?? '') &&
      (method === 'MOD10' || method === 'MOD11' || method === 'DBLAL') &&
      (rest.length === 14 || rest.length === 15) &&
      rest.slice(0, 14).every((w) => /^-?\d{1,3}$/.test(w)) &&
      exception >= 0 &&
      exception <= 14;
    if (!ok) throw new Error(`valacdos: bad row ${i + 1}: ${f.join(' ')}`);
    return { start: Number(start), end: Number(end), method: method as Method, weights, exception };
  });
}

function parseSubstitutions(text: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const [from, to, ...extra] of lines(text)) {
    if (!/^\d{6}$/.test(from ?? '') || !/^\d{6}$/.test(to ?? '') || extra.length > 0) {
      throw new Error(`scsubtab: bad row ${from} ${to}`);
    }
    // The first substitution for a sort code wins, as in the kernel.
    if (!map.has(from as string)) map.set(from as string, to as string);
  }
  return map;
}

/**
 * The specification's "standardising account numbers" section:
 * - 6 digits: prefix `00`; 7 digits: prefix `0`; 8 digits: as they are.
 * - 9 digits (Santander): the first account digit replaces the last sort code digit, and the last 8
 *   account digits are used.
 * - 10 digits: Co-operative Bank uses the first 8 digits; National Westminster, and every other bank
 *   (the specification gives no other rule), the last 8. The specification names the bank but gives no
 *   sort code range; the Co-operative Bank's allocation is 08-00-00 to 08-99-99 except 08-30-xx to
 *   08-39-xx (Citibank).
 */
function standardise(sortCode: string, account: string): { sortCode: string; account: string } {
  switch (account.length) {
    case 6:
      return { sortCode, account: `00${account}` };
    case 7:
      return { sortCode, account: `0${account}` };
    case 9:
      return { sortCode: sortCode.slice(0, 5) + account.slice(0, 1), account: account.slice(1) };
    case 10: {
      const coOperative = sortCode.startsWith('08') && !sortCode.startsWith('083');
      return { sortCode, account: coOperative ? account.slice(0, 8) : account.slice(2) };
    }
    default:
      return { sortCode, account };
  }
}

/** A remainder that is never negative (weights can be -1, so totals can be). */
function mod(n: number, m: number): number {
  return ((n % m) + m) % m;
}

/** For DBLAL: the sum of the decimal digits of a product (18 counts as 1 + 8). */
function sumOfDigits(product: number): number {
  const s = String(Math.abs(product))
    .split('')
    .reduce((acc, d) => acc + Number(d), 0);
  return product < 0 ? -s : s;
}

function weightedTotal(method: Method, digits: number[], weights: number[]): number {
  let total = 0;
  for (let i = 0; i < 14; i++) {
    const product = (digits[i] as number) * (weights[i] as number);
    total += method === 'DBLAL' ? sumOfDigits(product) : product;
  }
  return total;
}

export function loadModulusReference(valacdosText: string, scsubtabText: string): ModulusReference {
  const rows = parseWeightTable(valacdosText);
  const substitutions = parseSubstitutions(scsubtabText);

  /** One row's check on a standardised pair, with the row's exception applied. */
  function runRow(row: WeightRow, sortCode: string, account: string): boolean {
    let sc = sortCode;
    let weights = [...row.weights];
    const given = (sortCode + account).split('').map(Number);
    const [a, b, c, g, h] = [given[A], given[B], given[C], given[G], given[H]] as [
      number,
      number,
      number,
      number,
      number,
    ];

    switch (row.exception) {
      case 2:
        // Lloyds: if a ≠ 0, replace the weights (two sets, depending on whether g = 9).
        if (a !== 0) {
          weights =
            g === 9
              ? [0, 0, 0, 0, 0, 0, 0, 0, 8, 7, 10, 9, 3, 1]
              : [0, 0, 1, 2, 5, 3, 6, 4, 8, 7, 10, 9, 3, 1];
        }
        break;
      case 3:
        // If c = 6 or 9 the double alternate check is not carried out.
        if (c === 6 || c === 9) return true;
        break;
      case 5:
        // Use the substitute sort code, if the substitution table has one.
        sc = substitutions.get(sortCode) ?? sortCode;
        break;
      case 7:
        // If g = 9, zeroise weights u to b.
        if (g === 9) weights.fill(0, U, B + 1);
        break;
      case 8:
        // Check as sort code 090126.
        sc = '090126';
        break;
      case 9:
        // Lloyds euro accounts: check again as sort code 309634.
        sc = '309634';
        break;
      case 10:
        // If ab is 09 or 99 and g = 9, zeroise weights u to b.
        if ((a === 0 || a === 9) && b === 9 && g === 9) weights.fill(0, U, B + 1);
        break;
    }

    const digits = (sc + account).split('').map(Number);
    let total = weightedTotal(row.method, digits, weights);
    if (row.exception === 1) total += 27; // exception 1: add 27 to the double alternate total

    if (row.method === 'MOD11' && row.exception === 4) {
      // The remainder must equal the two-digit check digit gh.
      return mod(total, 11) === g * 10 + h;
    }
    if (row.method === 'MOD11' && row.exception === 5) {
      // Check digit g: remainder 0 needs g = 0; remainder 1 is invalid; otherwise 11 - remainder = g.
      const r = mod(total, 11);
      if (r === 0) return g === 0;
      if (r === 1) return false;
      return 11 - r === g;
    }
    if (row.method === 'DBLAL' && row.exception === 5) {
      // Check digit h: remainder 0 needs h = 0; otherwise 10 - remainder = h.
      const r = mod(total, 10);
      if (r === 0) return h === 0;
      return 10 - r === h;
    }
    if (row.method === 'MOD11' && row.exception === 14) {
      // Coutts: if the check fails and h is 0, 1 or 9, drop h, put a 0 in front and check again.
      if (mod(total, 11) === 0) return true;
      if (h !== 0 && h !== 1 && h !== 9) return false;
      const shifted = `0${account.slice(0, 7)}`;
      const again = weightedTotal('MOD11', (sc + shifted).split('').map(Number), weights);
      return mod(again, 11) === 0;
    }
    return row.method === 'MOD11' ? mod(total, 11) === 0 : mod(total, 10) === 0;
  }

  function checkStandard(sortCode: string, account: string): boolean {
    const n = Number(sortCode);
    const matching = rows.filter((r) => r.start <= n && n <= r.end).slice(0, 2);
    const [first, second] = matching;
    if (first === undefined) return true; // not in the table: cannot be checked, so valid

    // Exception 6: a = 4..8 and g = h is a foreign currency account, which cannot be checked.
    const a = Number(account[0]);
    if (matching.some((r) => r.exception === 6) && a >= 4 && a <= 8 && account[6] === account[7]) {
      return true;
    }

    if (second === undefined) return runRow(first, sortCode, account);

    // Exceptions 2 & 9, 10 & 11 and 12 & 13: valid if either check passes (the second is only
    // needed when the first fails). Any other pair (including 5 & 5, 3 on the second): both must pass.
    const either = [2, 10, 12].includes(first.exception) || [9, 11, 13].includes(second.exception);
    if (either) return runRow(first, sortCode, account) || runRow(second, sortCode, account);
    return runRow(first, sortCode, account) && runRow(second, sortCode, account);
  }

  return {
    rowCount: rows.length,
    check(sortCode: string, account: string): ModulusCode {
      const m = /^(\d\d)([- ]?)(\d\d)\2(\d\d)$/.exec(sortCode);
      if (m === null) return 'SORT_CODE_FORMAT';
      if (!/^\d{6,10}$/.test(account)) return 'ACCOUNT_NUMBER_FORMAT';
      const std = standardise(`${m[1]}${m[3]}${m[4]}`, account);
      return checkStandard(std.sortCode, std.account) ? 'OK' : 'ACCOUNT_MODULUS';
    },
  };
}
