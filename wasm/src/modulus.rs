//! UK modulus checking of sort code / account number pairs, after Vocalink's "Validating account
//! numbers – UK modulus checking" specification, v9.00, with its weight table (`valacdos.txt`) and
//! sort code substitution table (`scsubtab.txt`).
//!
//! The 14 digits checked are the 6 of the sort code (positions u v w x y z) followed by the 8 of the
//! standardised account number (a b c d e f g h). A table row gives, for a range of sort codes, the
//! method (MOD10, MOD11 or DBLAL), one weight per position and an optional exception number. A sort
//! code may match two rows (two checks); one that matches none cannot be checked and is valid.
//!
//! Everything lives in fixed-capacity arrays (the table sits in a `static`), the checks are integer
//! arithmetic on a 14-byte array, and the lookup is a bucket index (built at load) narrowing a
//! binary search to the few rows that start near the sort code: nothing allocates or panics.

use crate::codes;
use crate::column::StrCol;

/// Room for the weight table: v9.00 has 1,166 rows, so this leaves years of growth.
pub const MAX_ROWS: usize = 4096;
/// Room for the substitution table (21 rows since 2005).
pub const MAX_SUBSTITUTIONS: usize = 256;
/// Sort codes per bucket of `ModulusTable::bucket_first`, and the number of buckets that cover
/// every six-digit sort code.
const BUCKET: u32 = 10;
const BUCKETS: usize = 100_000;

/// Digit positions in the 14-digit string, as the specification names them.
const A: usize = 6;
const B: usize = 7;

/// Exception 2 (a ≠ 0, g ≠ 9) and (a ≠ 0, g = 9): the weights that replace the table's.
const EX2_WEIGHTS: [i16; 14] = [0, 0, 1, 2, 5, 3, 6, 4, 8, 7, 10, 9, 3, 1];
const EX2_WEIGHTS_G9: [i16; 14] = [0, 0, 0, 0, 0, 0, 0, 0, 8, 7, 10, 9, 3, 1];
/// Exception 8: the sort code used for the check instead of the account's own.
const EX8_SORT_CODE: u32 = 90126;
/// Exception 9: all Lloyds euro accounts are held at this sort code.
const EX9_SORT_CODE: u32 = 309634;
/// Exception 1: the constant added to the double alternate total.
const EX1_ADD: i32 = 27;
/// The highest exception number v9.00 defines. A table using a higher one needs new code here.
const MAX_EXCEPTION: u8 = 14;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Method {
    Mod10,
    Mod11,
    DblAl,
}

/// One row of `valacdos.txt`, without its range start (kept in `ModulusTable::starts` so the binary
/// search walks a dense array of `u32`).
#[derive(Clone, Copy)]
struct Row {
    end: u32,
    weights: [i16; 14],
    method: Method,
    /// 0 when the row has no exception.
    exception: u8,
}

impl Row {
    const EMPTY: Row = Row { end: 0, weights: [0; 14], method: Method::Mod11, exception: 0 };
}

pub struct ModulusTable {
    /// Rows sorted by range start (stably, so rows with the same range keep their file order, which
    /// is the order of the checks).
    starts: [u32; MAX_ROWS],
    rows: [Row; MAX_ROWS],
    /// `max_end[i]` = the largest range end among rows `0..=i`. It lets a lookup stop walking back
    /// as soon as no earlier row can reach the sort code, even if a table ever had nested ranges.
    max_end: [u32; MAX_ROWS],
    len: usize,
    /// `bucket_first[b]` = the number of rows whose range starts below `b * BUCKET` (the last entry
    /// counts every row). The rows starting at or before a sort code `s` are then all those below
    /// `bucket_first[s / BUCKET]` plus the few (usually none) that start in its bucket before it,
    /// so a lookup is one load and a short scan instead of a binary search over the whole table,
    /// whose dozen unpredictable branches cost more than the modulus arithmetic. 200 KB: a direct
    /// per-sort-code table would be 2 MB, too big for cache (and for a test thread's stack).
    bucket_first: [u16; BUCKETS + 1],
    /// Substitution table for exception 5, sorted by original sort code.
    sub_from: [u32; MAX_SUBSTITUTIONS],
    sub_to: [u32; MAX_SUBSTITUTIONS],
    sub_len: usize,
}

impl Default for ModulusTable {
    fn default() -> Self {
        Self::new()
    }
}

impl ModulusTable {
    /// An empty table: every well-formed pair is valid until `load` succeeds.
    pub const fn new() -> Self {
        ModulusTable {
            starts: [0; MAX_ROWS],
            rows: [Row::EMPTY; MAX_ROWS],
            max_end: [0; MAX_ROWS],
            len: 0,
            bucket_first: [0; BUCKETS + 1],
            sub_from: [0; MAX_SUBSTITUTIONS],
            sub_to: [0; MAX_SUBSTITUTIONS],
            sub_len: 0,
        }
    }

    /// Number of weight rows loaded.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Parses the raw bytes of `valacdos.txt` and `scsubtab.txt` (CRLF or LF; any run of spaces or
    /// tabs between fields; blank lines ignored). Returns the number of weight rows, or the 1-based
    /// line number of the first bad line: the weight table is parsed first, so a line number refers
    /// to `scsubtab.txt` only when the whole weight table was good. On error the table is left empty
    /// (the previous contents are gone too): a half-loaded table would pass accounts it should not.
    ///
    /// A weight line is `start end method` + 14 weights (optionally negative) + an optional exception
    /// 1–14. An unknown method or exception is an error rather than ignored: checking with rules we
    /// do not implement would silently give wrong answers.
    pub fn load(&mut self, valacdos: &[u8], scsubtab: &[u8]) -> Result<usize, usize> {
        self.len = 0;
        self.sub_len = 0;
        let result = self.load_weights(valacdos).and_then(|n| self.load_substitutions(scsubtab).map(|_| n));
        if result.is_err() {
            self.len = 0;
            self.sub_len = 0;
        }
        self.build_index();
        result
    }

    /// Fills `bucket_first` from the sorted `starts` (all zeros for an empty table).
    fn build_index(&mut self) {
        let mut r = 0;
        for (b, first) in self.bucket_first.iter_mut().enumerate() {
            let limit = b as u32 * BUCKET;
            while r < self.len && self.starts[r] < limit {
                r += 1;
            }
            *first = r as u16;
        }
    }

    fn load_weights(&mut self, text: &[u8]) -> Result<usize, usize> {
        for (i, line) in text.split(|&b| b == b'\n').enumerate() {
            let line_no = i + 1;
            let mut fields = fields(strip_bom(line, i));
            let start = match fields.next() {
                None => continue, // blank line
                Some(f) => parse_sort_field(f).ok_or(line_no)?,
            };
            let end = fields.next().and_then(parse_sort_field).ok_or(line_no)?;
            let method = match fields.next() {
                Some(b"MOD10") => Method::Mod10,
                Some(b"MOD11") => Method::Mod11,
                Some(b"DBLAL") => Method::DblAl,
                _ => return Err(line_no),
            };
            let mut weights = [0i16; 14];
            for w in weights.iter_mut() {
                *w = fields.next().and_then(parse_weight).ok_or(line_no)?;
            }
            let exception = match fields.next() {
                None => 0,
                Some(f) => match parse_digits(f, 2) {
                    Some(e) if (1..=u16::from(MAX_EXCEPTION)).contains(&e) => e as u8,
                    _ => return Err(line_no),
                },
            };
            if fields.next().is_some() || start > end || self.len == MAX_ROWS {
                return Err(line_no);
            }
            self.insert_row(start, Row { end, weights, method, exception });
        }
        // Prefix maximum of the range ends, for `rows_for`.
        let mut running = 0;
        for i in 0..self.len {
            running = running.max(self.rows[i].end);
            self.max_end[i] = running;
        }
        Ok(self.len)
    }

    /// Insertion into the sorted arrays: O(1) per row for a file that is already in order (as
    /// Vocalink's is), and still correct, just slower, for one that is not.
    fn insert_row(&mut self, start: u32, row: Row) {
        let mut i = self.len;
        // Strictly greater: a row with the same start goes after the earlier ones (file order).
        while i > 0 && self.starts[i - 1] > start {
            self.starts[i] = self.starts[i - 1];
            self.rows[i] = self.rows[i - 1];
            i -= 1;
        }
        self.starts[i] = start;
        self.rows[i] = row;
        self.len += 1;
    }

    fn load_substitutions(&mut self, text: &[u8]) -> Result<usize, usize> {
        for (i, line) in text.split(|&b| b == b'\n').enumerate() {
            let line_no = i + 1;
            let mut fields = fields(strip_bom(line, i));
            let from = match fields.next() {
                None => continue,
                Some(f) => parse_sort_field(f).ok_or(line_no)?,
            };
            let to = fields.next().and_then(parse_sort_field).ok_or(line_no)?;
            if fields.next().is_some() || self.sub_len == MAX_SUBSTITUTIONS {
                return Err(line_no);
            }
            let mut j = self.sub_len;
            while j > 0 && self.sub_from[j - 1] > from {
                self.sub_from[j] = self.sub_from[j - 1];
                self.sub_to[j] = self.sub_to[j - 1];
                j -= 1;
            }
            self.sub_from[j] = from;
            self.sub_to[j] = to;
            self.sub_len += 1;
        }
        Ok(self.sub_len)
    }

    /// Indices of the (at most two) rows whose range holds `sort`, in check order, and how many.
    fn rows_for(&self, sort: u32) -> ([usize; 2], usize) {
        // The number of rows starting at or before `sort`: those before its bucket, then a scan
        // over the rows that start in the bucket (every row after them starts above it). A sort
        // code past the last bucket (not six digits) scans past every row.
        let b = ((sort / BUCKET) as usize).min(BUCKETS);
        let hi = match self.bucket_first.get(b + 1) {
            Some(&h) => (h as usize).min(self.len),
            None => self.len,
        };
        let mut lo = (self.bucket_first[b] as usize).min(hi);
        while lo < hi && self.starts[lo] <= sort {
            lo += 1;
        }
        // Walk back over the candidates. In Vocalink's table the ranges do not overlap except for
        // identical pairs, so this visits one or two rows; `max_end` ends the walk as soon as no
        // earlier row can reach `sort`. Walking backwards meets later rows first, so each match is
        // put in front, which keeps the first two in table order.
        let mut found = [0usize; 2];
        let mut n = 0;
        let mut i = lo;
        while i > 0 {
            i -= 1;
            if self.max_end[i] < sort {
                break;
            }
            if self.rows[i].end >= sort {
                found[1] = found[0];
                found[0] = i;
                n += 1;
            }
        }
        (found, if n > 2 { 2 } else { n })
    }

    /// Exception 5: the substitute for `sort`, or `sort` itself when it is not in the table.
    fn substitute(&self, sort: u32) -> u32 {
        let (mut lo, mut hi) = (0, self.sub_len);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.sub_from[mid] < sort {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        if lo < self.sub_len && self.sub_from[lo] == sort {
            self.sub_to[lo]
        } else {
            sort
        }
    }
}

/// The whitespace-separated fields of a line (a trailing CR is whitespace too).
fn fields(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|b| b.is_ascii_whitespace()).filter(|f| !f.is_empty())
}

/// Drops a UTF-8 byte order mark from the first line, which some editors add when saving.
fn strip_bom(line: &[u8], index: usize) -> &[u8] {
    if index == 0 && line.starts_with(&[0xEF, 0xBB, 0xBF]) {
        &line[3..]
    } else {
        line
    }
}

/// Exactly six ASCII digits, as the tables write sort codes.
fn parse_sort_field(f: &[u8]) -> Option<u32> {
    if f.len() != 6 {
        return None;
    }
    let mut v = 0u32;
    for &b in f {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(b - b'0');
    }
    Some(v)
}

/// One to `max_len` (at most 4) ASCII digits.
fn parse_digits(f: &[u8], max_len: usize) -> Option<u16> {
    if f.is_empty() || f.len() > max_len {
        return None;
    }
    let mut v = 0u16;
    for &b in f {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u16::from(b - b'0');
    }
    Some(v)
}

/// A weight: one to three digits (the table goes up to 128), optionally negative (it has -1 in a
/// few rows).
fn parse_weight(f: &[u8]) -> Option<i16> {
    match f.split_first() {
        Some((b'-', rest)) => parse_digits(rest, 3).map(|v| -(v as i16)),
        _ => parse_digits(f, 3).map(|v| v as i16),
    }
}

/// Sort code as the client sent it: `123456`, `12-34-56` or `12 34 56` (one separator after the
/// second and the fourth digit, the same both times). Anything else, including surrounding spaces,
/// is `None`.
pub fn parse_sort_code(raw: &[u8]) -> Option<u32> {
    let digits: [u8; 6] = match raw.len() {
        6 => [raw[0], raw[1], raw[2], raw[3], raw[4], raw[5]],
        8 if raw[2] == raw[5] && (raw[2] == b'-' || raw[2] == b' ') => {
            [raw[0], raw[1], raw[3], raw[4], raw[6], raw[7]]
        }
        _ => return None,
    };
    let mut v = 0u32;
    for b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(b - b'0');
    }
    Some(v)
}

/// Co-operative Bank sort codes, for 10-digit account numbers. The specification names the bank
/// ("Co-Operative Bank plc: use the first eight digits only") but gives no sort code range, so this
/// is the bank's allocation in the sort code directory: 08-00-00 to 08-99-99, less 08-30-xx to
/// 08-39-xx, which belongs to Citibank. The modulus table agrees: its Co-operative rows
/// (089000–089999, 080211, 080228, 0860xx) all fall in it.
fn is_cooperative_bank(sort_code: u32) -> bool {
    (80000..=89999).contains(&sort_code) && !(83000..=83999).contains(&sort_code)
}

/// Standardises a sort code and a raw account number of 6 to 10 ASCII digits to the sort code to
/// check and 8 account digits (values 0–9), following the specification's section on non-standard
/// account numbers:
/// - 6 digits: prefix `00`; 7 digits: prefix `0`.
/// - 9 digits (Santander, the only bank the specification lists with 9): replace the last digit of
///   the sort code with the first digit of the account number, then use the last 8 digits.
/// - 10 digits: Co-operative Bank uses the first 8 digits; National Westminster (and, as the
///   specification has no other rule, every other bank) the last 8.
///
/// `None` when the account is not 6–10 ASCII digits (no spaces or dashes).
pub fn standardise(sort_code: u32, account: &[u8]) -> Option<(u32, [u8; 8])> {
    // A sort code has six digits; reducing anything larger keeps the arithmetic below in range.
    let sort_code = sort_code % 1_000_000;
    let n = account.len();
    if !(6..=10).contains(&n) {
        return None;
    }
    for &b in account {
        if !b.is_ascii_digit() {
            return None;
        }
    }
    // The 8 digits are the account's digits from `first`, right-aligned behind `pad` zeros.
    let (sort, first, pad) = match n {
        6 => (sort_code, 0, 2),
        7 => (sort_code, 0, 1),
        8 => (sort_code, 0, 0),
        9 => (sort_code - sort_code % 10 + u32::from(account[0] - b'0'), 1, 0),
        _ if is_cooperative_bank(sort_code) => (sort_code, 0, 0),
        _ => (sort_code, 2, 0),
    };
    let mut out = [0u8; 8];
    // `zip` stops at 8 digits, which is what drops the last two for the Co-operative Bank.
    for (o, &d) in out[pad..].iter_mut().zip(&account[first..]) {
        *o = d - b'0';
    }
    Some((sort, out))
}

/// Full check of one pair from raw bytes: the sort code's format first, then the account number's,
/// then the modulus rules. With an empty table every well-formed pair is `OK`.
pub fn check_account(table: &ModulusTable, sort_code: &[u8], account: &[u8]) -> u8 {
    let sort = match parse_sort_code(sort_code) {
        Some(s) => s,
        None => return codes::SORT_CODE_FORMAT,
    };
    let (sort, digits) = match standardise(sort, account) {
        Some(x) => x,
        None => return codes::ACCOUNT_NUMBER_FORMAT,
    };
    if check_standard(table, sort, &digits) {
        codes::OK
    } else {
        codes::ACCOUNT_MODULUS
    }
}

/// The modulus check of a standardised pair (6-digit sort code as a number, 8 account digits 0–9).
pub fn check_standard(table: &ModulusTable, sort_code: u32, account: &[u8; 8]) -> bool {
    let (found, n) = table.rows_for(sort_code);
    if n == 0 {
        // A sort code in no row cannot be checked, and the specification counts it as valid.
        return true;
    }
    let first = &table.rows[found[0]];
    let second = if n == 2 { Some(&table.rows[found[1]]) } else { None };

    // Exception 6: where a = 4–8 and g = h the account is in a foreign currency and cannot be checked.
    let foreign = (4..=8).contains(&account[0]) && account[6] == account[7];
    if foreign && (first.exception == 6 || second.map_or(false, |r| r.exception == 6)) {
        return true;
    }

    let second = match second {
        None => return run_check(table, first, sort_code, account),
        Some(r) => r,
    };
    // Exceptions 2 & 9, 10 & 11 and 12 & 13 pass when either check passes; the second check is only
    // needed when the first fails. Every other pair of rows (including exception 5) needs both.
    let either = matches!(first.exception, 2 | 10 | 12) || matches!(second.exception, 9 | 11 | 13);
    let first_ok = run_check(table, first, sort_code, account);
    if either {
        first_ok || run_check(table, second, sort_code, account)
    } else {
        first_ok && run_check(table, second, sort_code, account)
    }
}

/// One row's check, with that row's exception applied.
fn run_check(table: &ModulusTable, row: &Row, sort_code: u32, account: &[u8; 8]) -> bool {
    let mut sort = sort_code;
    let mut weights = row.weights;
    let (a, b, c, g) = (account[0], account[1], account[2], account[6]);
    match row.exception {
        // Exception 3: when c is 6 or 9 the (double alternate) check is not carried out.
        3 if c == 6 || c == 9 => return true,
        // Exception 2 (Lloyds): when a ≠ 0 the table's weights are replaced.
        2 if a != 0 => weights = if g == 9 { EX2_WEIGHTS_G9 } else { EX2_WEIGHTS },
        // Exception 5: the sort code is replaced by its substitute, if it has one.
        5 => sort = table.substitute(sort_code),
        // Exception 7: when g = 9, weights u to b are zeroised.
        7 if g == 9 => zero_u_to_b(&mut weights),
        // Exception 8: the check uses sort code 090126.
        8 => sort = EX8_SORT_CODE,
        // Exception 9: the second (euro account) check uses sort code 309634.
        9 => sort = EX9_SORT_CODE,
        // Exception 10: when ab is 09 or 99 and g = 9, weights u to b are zeroised.
        10 if (a == 0 || a == 9) && b == 9 && g == 9 => zero_u_to_b(&mut weights),
        _ => {}
    }
    let digits = join(sort, account);
    let mut total = weighted_total(row.method, &digits, &weights);
    if row.exception == 1 {
        total += EX1_ADD;
    }
    let (g, h) = (i32::from(account[6]), i32::from(account[7]));
    match (row.method, row.exception) {
        // Exception 4: the remainder must equal the two-digit check digit gh.
        (Method::Mod11, 4) => total.rem_euclid(11) == g * 10 + h,
        // Exception 5, first check: the check digit is g; remainder 0 needs g = 0, remainder 1 fails,
        // any other must satisfy 11 - remainder = g.
        (Method::Mod11, 5) => match total.rem_euclid(11) {
            0 => g == 0,
            1 => false,
            r => 11 - r == g,
        },
        // Exception 5, second check: the check digit is h; remainder 0 needs h = 0, any other must
        // satisfy 10 - remainder = h.
        (Method::DblAl, 5) => match total.rem_euclid(10) {
            0 => h == 0,
            r => 10 - r == h,
        },
        // Exception 14 (Coutts): if the standard check fails and h is 0, 1 or 9, drop h, shift the
        // account right with a leading 0 and check again with the same weights.
        (Method::Mod11, 14) => {
            if total.rem_euclid(11) == 0 {
                return true;
            }
            if h != 0 && h != 1 && h != 9 {
                return false;
            }
            let mut shifted = [0u8; 8];
            shifted[1..].copy_from_slice(&account[..7]);
            weighted_total(Method::Mod11, &join(sort, &shifted), &weights).rem_euclid(11) == 0
        }
        (Method::Mod11, _) => total.rem_euclid(11) == 0,
        (Method::Mod10, _) | (Method::DblAl, _) => total.rem_euclid(10) == 0,
    }
}

fn zero_u_to_b(weights: &mut [i16; 14]) {
    for w in weights[..=B].iter_mut() {
        *w = 0;
    }
}

/// The 14 digits u..z a..h: the sort code's six (from its low six decimal digits) then the account's.
fn join(sort: u32, account: &[u8; 8]) -> [u8; 14] {
    let mut d = [0u8; 14];
    let mut s = sort;
    for i in (0..6).rev() {
        d[i] = (s % 10) as u8;
        s /= 10;
    }
    d[A..].copy_from_slice(account);
    d
}

/// Sum of digit × weight. For the double alternate method the digits of each product are added
/// instead of the product (e.g. 2 × 9 = 18 counts 1 + 8). One loop per method, so the loops have
/// no branch inside.
fn weighted_total(method: Method, digits: &[u8; 14], weights: &[i16; 14]) -> i32 {
    let mut total = 0i32;
    if method == Method::DblAl {
        for (&d, &w) in digits.iter().zip(weights.iter()) {
            total += digit_sum(i32::from(d) * i32::from(w));
        }
    } else {
        for (&d, &w) in digits.iter().zip(weights.iter()) {
            total += i32::from(d) * i32::from(w);
        }
    }
    total
}

/// Sum of the decimal digits of `p`, negative for a negative product (no DBLAL row has a negative
/// weight, but a table could). Real DBLAL weights are 0-2, so products are two digits at most:
/// those take one step instead of the general loop.
#[inline]
fn digit_sum(p: i32) -> i32 {
    if (0..100).contains(&p) {
        return p / 10 + p % 10;
    }
    digit_sum_slow(p)
}

fn digit_sum_slow(p: i32) -> i32 {
    let mut v = p.abs();
    let mut s = 0;
    while v > 0 {
        s += v % 10;
        v /= 10;
    }
    if p < 0 {
        -s
    } else {
        s
    }
}

/// Column kernel: one code per row of `out`. Both absent (null or empty) is `OK` (the pair is
/// optional); otherwise an absent side counts as a malformed one, so a sort code without an account
/// gives `ACCOUNT_NUMBER_FORMAT` (or `SORT_CODE_FORMAT` if the sort code is itself malformed, since
/// the sort code is checked first) and an account without a sort code gives `SORT_CODE_FORMAT`.
pub fn check_column(table: &ModulusTable, sort_codes: StrCol, accounts: StrCol, out: &mut [u8]) {
    for (i, code) in out.iter_mut().enumerate() {
        *code = match (sort_codes.get_present(i), accounts.get_present(i)) {
            (None, None) => codes::OK,
            (s, a) => check_account(table, s.unwrap_or(b""), a.unwrap_or(b"")),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::boxed::Box;
    use std::vec::Vec;

    const VALACDOS: &[u8] = include_bytes!("../../reference/modulus/valacdos.txt");
    const SCSUBTAB: &[u8] = include_bytes!("../../reference/modulus/scsubtab.txt");
    const CASES: &str = include_str!("../../reference/modulus/vocalink-test-cases.csv");

    fn real_table() -> Box<ModulusTable> {
        let mut t = Box::new(ModulusTable::new());
        assert_eq!(t.load(VALACDOS, SCSUBTAB), Ok(1166));
        t
    }

    #[test]
    fn passes_the_34_vocalink_cases() {
        let t = real_table();
        let mut n = 0;
        for line in CASES.lines().skip(1).filter(|l| !l.trim().is_empty()) {
            let cols: Vec<&str> = line.splitn(4, ',').collect();
            let want = if cols[2] == "true" { codes::OK } else { codes::ACCOUNT_MODULUS };
            let got = check_account(&t, cols[0].as_bytes(), cols[1].as_bytes());
            assert_eq!(got, want, "{line}");
            n += 1;
        }
        assert_eq!(n, 34);
    }

    #[test]
    fn loads_the_whole_table_in_order() {
        let t = real_table();
        assert_eq!(t.len(), 1166);
        assert!(!t.is_empty());
        assert_eq!(t.sub_len, 21);
        assert_eq!(t.substitute(938600), 938611);
        assert_eq!(t.substitute(938601), 938601);
        // 309070 matches the exception 2 row then the exception 9 row, in that order.
        let (found, n) = t.rows_for(309070);
        assert_eq!(n, 2);
        assert_eq!(t.rows[found[0]].exception, 2);
        assert_eq!(t.rows[found[1]].exception, 9);
        // first and last rows of the file are found at their range ends
        assert_eq!(t.rows_for(10004).1, 1);
        assert_eq!(t.rows_for(16715).1, 1);
        assert_eq!(t.rows_for(0).1, 0);
    }

    #[test]
    fn unknown_sort_code_is_valid() {
        let t = real_table();
        // 000000 and 999998 are in no range; any account passes.
        assert_eq!(t.rows_for(0).1, 0);
        assert_eq!(check_account(&t, b"000000", b"12345678"), codes::OK);
        assert_eq!(check_account(&t, b"00-00-00", b"00000001"), codes::OK);
    }

    #[test]
    fn empty_table_passes_every_well_formed_pair() {
        let t = Box::new(ModulusTable::new());
        assert!(t.is_empty());
        assert_eq!(check_account(&t, b"089999", b"66374959"), codes::OK);
        assert_eq!(check_account(&t, b"08999", b"66374959"), codes::SORT_CODE_FORMAT);
        assert_eq!(check_account(&t, b"089999", b"66374"), codes::ACCOUNT_NUMBER_FORMAT);
    }

    #[test]
    fn sort_code_formats() {
        assert_eq!(parse_sort_code(b"123456"), Some(123456));
        assert_eq!(parse_sort_code(b"12-34-56"), Some(123456));
        assert_eq!(parse_sort_code(b"12 34 56"), Some(123456));
        assert_eq!(parse_sort_code(b"08-99-99"), Some(89999));
        for bad in [
            &b""[..],
            b"12345",
            b"1234567",
            b"12-34 56",
            b"12-3456",
            b"1-234-56",
            b" 123456",
            b"123456 ",
            b"12/34/56",
            b"AB-CD-EF",
            b"12--3456",
            b"\xff\xfe\xfd\xfc\xfb\xfa",
        ] {
            assert_eq!(parse_sort_code(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn standardises_non_standard_lengths() {
        // 6 and 7 digits: left-padded with zeros
        assert_eq!(standardise(180002, b"000190"), Some((180002, [0, 0, 0, 0, 0, 1, 9, 0])));
        assert_eq!(standardise(86090, b"6774744"), Some((86090, [0, 6, 7, 7, 4, 7, 4, 4])));
        // 8 digits: unchanged
        assert_eq!(standardise(107999, b"88837491"), Some((107999, [8, 8, 8, 3, 7, 4, 9, 1])));
        // 9 digits: the first digit replaces the last of the sort code, the last 8 are kept
        assert_eq!(standardise(89990, b"966374958"), Some((89999, [6, 6, 3, 7, 4, 9, 5, 8])));
        // 10 digits: Co-operative Bank keeps the first 8, others the last 8
        assert_eq!(standardise(89999, b"6637495842"), Some((89999, [6, 6, 3, 7, 4, 9, 5, 8])));
        assert_eq!(standardise(107999, b"4288837491"), Some((107999, [8, 8, 8, 3, 7, 4, 9, 1])));
        // Citibank's 08-3x-xx is not Co-operative
        assert_eq!(standardise(83000, b"1234567890"), Some((83000, [3, 4, 5, 6, 7, 8, 9, 0])));
        for bad in [&b""[..], b"12345", b"12345678901", b"1234-5678", b"1234 5678", b"1234567a"] {
            assert_eq!(standardise(123456, bad), None, "{bad:?}");
        }

        // and the checks see the standardised numbers
        let t = real_table();
        assert_eq!(check_account(&t, b"180002", b"000190"), codes::OK);
        assert_eq!(check_account(&t, b"086090", b"6774744"), codes::OK);
        assert_eq!(check_account(&t, b"089990", b"966374958"), codes::OK);
        assert_eq!(check_account(&t, b"08-99-99", b"6637495842"), codes::OK);
        assert_eq!(check_account(&t, b"107999", b"4288837491"), codes::OK);
        assert_eq!(check_account(&t, b"107999", b"4288837493"), codes::ACCOUNT_MODULUS);
        assert_eq!(check_account(&t, b"107999", b"88837-491"), codes::ACCOUNT_NUMBER_FORMAT);
        // the sort code's format is checked before the account's
        assert_eq!(check_account(&t, b"1079", b"8"), codes::SORT_CODE_FORMAT);
    }

    #[test]
    fn check_standard_matches_check_account_on_8_digits() {
        let t = real_table();
        assert!(check_standard(&t, 89999, &[6, 6, 3, 7, 4, 9, 5, 8]));
        assert!(!check_standard(&t, 89999, &[6, 6, 3, 7, 4, 9, 5, 9]));
    }

    #[test]
    fn reports_the_first_bad_line() {
        let good =
            "010004 016715 MOD11    0    0    0    0    0    0    8    7    6    5    4    3    2    1\r\n";
        let mut t = Box::new(ModulusTable::new());
        assert_eq!(t.load(good.as_bytes(), b""), Ok(1));
        let cases: [(&str, usize); 9] = [
            ("\r\n010004 016715 MOD12 0 0 0 0 0 0 8 7 6 5 4 3 2 1\r\n", 2),
            ("010004 016715 MOD11 0 0 0 0 0 0 8 7 6 5 4 3 2\r\n", 1),
            ("010004 016715 MOD11 0 0 0 0 0 0 8 7 6 5 4 3 2 1 15\r\n", 1),
            ("010004 016715 MOD11 0 0 0 0 0 0 8 7 6 5 4 3 2 1 2 9\r\n", 1),
            ("016715 010004 MOD11 0 0 0 0 0 0 8 7 6 5 4 3 2 1\r\n", 1),
            ("01000 016715 MOD11 0 0 0 0 0 0 8 7 6 5 4 3 2 1\r\n", 1),
            ("010004 016715 MOD11 0 0 0 0 0 0 8 7 6 5 4 3 2 x\r\n", 1),
            ("010004 016715 MOD11 0 0 0 0 0 0 8 7 6 5 4 3 2 1234\r\n", 1),
            ("010004 016715 MOD11 0 0 0 0 0 0 8 7 6 5 4 3 2 -\r\n", 1),
        ];
        for (text, line) in cases {
            let mut both = std::string::String::from(good);
            both.push_str(text);
            assert_eq!(t.load(both.as_bytes(), b""), Err(line + 1), "{text}");
            assert!(t.is_empty(), "left empty after an error");
        }
        // a bad substitution line is reported with its own line number, and empties the table
        assert_eq!(t.load(VALACDOS, b"938173 938017\n\n938289 93806\n"), Err(3));
        assert!(t.is_empty());
        assert_eq!(check_account(&t, b"089999", b"66374959"), codes::OK);
        // LF endings, tabs, extra spaces and a BOM are all fine
        let lf = "\u{feff}010004\t016715  MOD11 0 0 0 0 0 0 8 7 6 5 4 3 2 1  \n\n  \n\
                  040003 040003 DBLAL 2 1 2 1 2 1 8 7 6 5 4 3 2 1 1\n";
        assert_eq!(t.load(lf.as_bytes(), b" 938173   938017 \n"), Ok(2));
        assert_eq!(t.substitute(938173), 938017);
    }

    #[test]
    fn overflowing_the_capacity_is_an_error() {
        let mut text = std::string::String::new();
        for i in 0..=MAX_ROWS {
            text.push_str(&std::format!("{:06} {:06} MOD10 0 0 0 0 0 0 0 0 0 0 0 0 0 1\n", i, i));
        }
        let mut t = Box::new(ModulusTable::new());
        assert_eq!(t.load(text.as_bytes(), b""), Err(MAX_ROWS + 1));
    }

    #[test]
    fn unsorted_and_nested_tables_still_look_up() {
        // Out of order, and a wide range holding a narrow one.
        let text = "500000 500009 MOD10 0 0 0 0 0 0 0 0 0 0 0 0 0 1\n\
                    100000 900000 MOD11 0 0 0 0 0 0 0 0 0 0 0 0 0 1\n\
                    200000 200000 DBLAL 0 0 0 0 0 0 0 0 0 0 0 0 0 1\n";
        let mut t = Box::new(ModulusTable::new());
        assert_eq!(t.load(text.as_bytes(), b""), Ok(3));
        let (f, n) = t.rows_for(500005);
        assert_eq!(n, 2);
        assert!(t.rows[f[0]].method == Method::Mod11 && t.rows[f[1]].method == Method::Mod10);
        let (f, n) = t.rows_for(200000);
        assert_eq!(n, 2);
        assert!(t.rows[f[0]].method == Method::Mod11 && t.rows[f[1]].method == Method::DblAl);
        assert_eq!(t.rows_for(300000).1, 1);
        assert_eq!(t.rows_for(99999).1, 0);
        assert_eq!(t.rows_for(900001).1, 0);
    }

    #[test]
    fn exception_details() {
        let t = real_table();
        // Exception 14: h not in {0,1,9} fails the second check outright.
        assert_eq!(check_account(&t, b"180002", b"00000192"), codes::ACCOUNT_MODULUS);
        // Exception 6: a foreign currency account at an exception 6 sort code is not checked.
        assert_eq!(check_account(&t, b"200915", b"41011166"), codes::OK);
        assert_eq!(check_account(&t, b"200915", b"41011167"), codes::ACCOUNT_MODULUS);
        // Exception 8 (086090) checks as sort code 090126.
        assert_eq!(check_account(&t, b"086090", b"06774744"), codes::OK);
        assert_eq!(check_account(&t, b"086090", b"06774745"), codes::ACCOUNT_MODULUS);
    }

    #[test]
    fn column_kernel() {
        let t = real_table();
        let sorts = b"089999089999107999";
        // rows: both present and OK; both present, bad check digit; sort code only; account only;
        // both absent; malformed sort code and no account
        let s_off = [0, 6, 12, 18, 18, 18, 21];
        let mut s_data = std::vec::Vec::from(&sorts[..]);
        s_data.extend_from_slice(b"12x");
        let a_off = [0, 8, 16, 16, 26, 26, 26];
        let a_data = b"66374958663749598883749112";
        let s = StrCol::new(&s_off, &s_data, None);
        let a = StrCol::new(&a_off, a_data, None);
        let mut out = [0xAAu8; 6];
        check_column(&t, s, a, &mut out);
        assert_eq!(
            out,
            [
                codes::OK,
                codes::ACCOUNT_MODULUS,
                codes::ACCOUNT_NUMBER_FORMAT,
                codes::SORT_CODE_FORMAT,
                codes::OK,
                codes::SORT_CODE_FORMAT
            ]
        );
        // absent columns and more output rows than input rows: every row is "both absent"
        let mut out = [0xAAu8; 3];
        check_column(&t, StrCol::EMPTY, StrCol::EMPTY, &mut out);
        assert_eq!(out, [codes::OK; 3]);
    }

    /// A tiny deterministic generator, so the fuzz-style tests need no dependency.
    fn xorshift(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    #[test]
    fn hostile_bytes_never_panic() {
        let t = real_table();
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut buf = [0u8; 26];
        for _ in 0..200_000 {
            let r = xorshift(&mut seed);
            let (ls, la) = ((r % 12) as usize, ((r >> 8) % 14) as usize);
            for b in buf.iter_mut() {
                let x = xorshift(&mut seed);
                // mostly digits and separators, so deep paths are reached too
                *b = if x % 4 == 0 { x as u8 } else { b"0123456789- "[(x % 12) as usize] };
            }
            let code = check_account(&t, &buf[..ls], &buf[12..12 + la]);
            assert!(
                code == codes::OK
                    || code == codes::SORT_CODE_FORMAT
                    || code == codes::ACCOUNT_NUMBER_FORMAT
                    || code == codes::ACCOUNT_MODULUS
            );
        }
        // every sort code, a few accounts each, including the extremes
        for sort in (0..1_000_000u32).step_by(7) {
            let _ = check_standard(&t, sort, &[9; 8]);
            let _ = check_standard(&t, sort, &[0; 8]);
        }
        let _ = check_standard(&t, u32::MAX, &[9; 8]);
        let _ = standardise(u32::MAX, b"999999999");
        // hostile table bytes
        let mut t2 = Box::new(ModulusTable::new());
        for _ in 0..2000 {
            let mut junk = [0u8; 64];
            for b in junk.iter_mut() {
                let x = xorshift(&mut seed);
                *b = if x % 3 == 0 { x as u8 } else { b"0123456789 -\r\nMODL1ABD"[(x % 22) as usize] };
            }
            let _ = t2.load(&junk, &junk[32..]);
        }
    }
}
