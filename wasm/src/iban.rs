//! The IBAN kernel: registry length, BBAN structure and MOD-97-10 in one pass over the raw bytes.
//!
//! The registry is compiled once at load into a direct 26×26 table indexed by the two country
//! letters; each entry holds the IBAN length and, per BBAN position, the character classes that
//! position forbids. The common case (no spaces, the registry's exact length) then reads the BBAN two
//! bytes at a time through one static 64K-entry table that gives, for any byte pair, its MOD-97
//! value, its class pattern (digit/letter × 2, or invalid) and so how many decimal digits it adds; a
//! bit test against the compiled structure checks both classes at once. Everything else (spaces,
//! wrong lengths, bad bytes, unknown countries) goes through a plain byte-by-byte path, which is
//! also the reference the fast path is tested against. Letters of either case read as the same
//! value, so the input is never copied, upper-cased or rearranged in memory.
//!
//! MOD-97 never divides per digit: the running value is folded with `x ≡ (x >> 32) * 35 + (x mod
//! 2^32)` (2^32 ≡ 35 mod 97), three cheap operations that keep it below 36·2^32 and congruent,
//! and a single remainder on a small value happens at the very end, itself a multiply (see
//! `mod97`). (A `%`, even by a constant, compiles to a hardware divide in WASM, which alone cost
//! more than the rest of the kernel.)

use crate::codes::{IBAN_BBAN_FORMAT, IBAN_CHECKSUM, IBAN_COUNTRY, IBAN_FORMAT, IBAN_LENGTH, OK};
use crate::column::StrCol;

/// ISO 13616: an IBAN is at most 34 characters: country (2), check digits (2), BBAN (up to 30).
const MAX_IBAN: usize = 34;
const MIN_IBAN: usize = 5;
const MAX_BBAN: usize = MAX_IBAN - 4;
const COUNTRIES: usize = 26 * 26;

/// Character classes, as bits, so a BBAN position can forbid one with a single AND.
const DIGIT: u8 = 1;
const LETTER: u8 = 2;

/// Markers in `VALUE` for bytes that are not IBAN characters.
const SPACE: u8 = 0xFE;
const BAD: u8 = 0xFF;

/// Per byte: its MOD-97 value (`0`-`9` → 0-9, `A`-`Z` and `a`-`z` → 10-35), `SPACE` or `BAD`.
/// One lookup thus validates the byte, upper-cases it and expands it for the checksum.
static VALUE: [u8; 256] = build_value_table();

const fn build_value_table() -> [u8; 256] {
    let mut t = [BAD; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = if b.is_ascii_digit() {
            b - b'0'
        } else if b.is_ascii_uppercase() {
            b - b'A' + 10
        } else if b.is_ascii_lowercase() {
            b - b'a' + 10
        } else if b == b' ' {
            SPACE
        } else {
            BAD
        };
        i += 1;
    }
    t
}

/// Folds a value into a smaller congruent one modulo 97: 2^32 ≡ 35 (mod 97), so
/// `hi·2^32 + lo ≡ hi·35 + lo`. For any u64 the result is below 36·2^32 ≈ 1.55·10^11, which is
/// small enough that `x · 10^8 + 10^8` (the largest step below) still fits in a u64.
#[inline(always)]
fn fold(x: u64) -> u64 {
    (x >> 32) * 35 + (x & 0xFFFF_FFFF)
}

/// The exact remainder modulo 97 of a value below 2^58 (the final value). After three folds it
/// fits in a u32; one more by 2^16 ≡ 61 (mod 97) brings it below 2^22, where the quotient is a
/// multiply by ⌈2^32/97⌉ and a shift (exact for values below 2^32/62; a test checks every one
/// below 2^22). LLVM's WASM backend would compile `% 97` to a divide instruction even though 97
/// is a constant.
#[inline(always)]
fn mod97(x: u64) -> u32 {
    small_mod97(fold_u32(fold(fold(fold(x))) as u32))
}

/// `x mod 2^16 + 61·⌊x / 2^16⌋`: congruent to `x` modulo 97, and below 2^22.
#[inline(always)]
fn fold_u32(x: u32) -> u32 {
    (x >> 16) * 61 + (x & 0xFFFF)
}

/// `x % 97` for `x` below 2^22.
#[inline(always)]
fn small_mod97(x: u32) -> u32 {
    x - ((u64::from(x) * 44_278_014) >> 32) as u32 * 97
}

/// Pair codes in `PAIRS`: the class pattern of two bytes. 0 is "not two IBAN characters", so the
/// all-zero entries of the table (every other byte pair) are invalid.
const P_INVALID: u16 = 0;
const P_DD: u16 = 1;
const P_DL: u16 = 2;
const P_LD: u16 = 3;
const P_LL: u16 = 4;

/// Per pair code, 10^(decimal digits the pair adds): digits add one, letters two.
static PAIR_SCALE: [u64; 8] = [0, 100, 1_000, 1_000, 10_000, 0, 0, 0];

/// Per byte pair (`first << 8 | second`): `code << 12 | value`, where value is the pair's MOD-97
/// expansion read as a number (`"B1"` → 11·10 + 1 = 111, `"ZZ"` → 35·100 + 35 = 3535 < 2^12).
/// Built at compile time (128 KB of static data, but only rows and columns 0x30–0x7A are non-zero,
/// and wasm-opt drops the zero runs from the module). The entries in use fit in L1 cache.
static PAIRS: [u16; 65536] = build_pair_table();

const fn build_pair_table() -> [u16; 65536] {
    let value = build_value_table();
    let mut t = [P_INVALID; 65536];
    let mut a = b'0' as usize;
    while a <= b'z' as usize {
        let mut b = b'0' as usize;
        while b <= b'z' as usize {
            let (va, vb) = (value[a] as u16, value[b] as u16);
            if va < 36 && vb < 36 {
                let (code, scale_b) = match (va < 10, vb < 10) {
                    (true, true) => (P_DD, 10),
                    (true, false) => (P_DL, 100),
                    (false, true) => (P_LD, 10),
                    (false, false) => (P_LL, 100),
                };
                t[a << 8 | b] = code << 12 | (va * scale_b + vb);
            }
            b += 1;
        }
        a += 1;
    }
    t
}

/// One country's compiled format. All zero means "not in the registry" (so `Registry::new` is all
/// zeros and the static lives in `.bss`).
#[derive(Clone, Copy)]
struct CountryFormat {
    /// Full IBAN length, 0 when the country is not registered.
    len: u8,
    /// Per BBAN position, the classes that position forbids: `n` forbids letters, `a` digits, `c`
    /// nothing. Positions past the BBAN forbid nothing: the length check already rejects them.
    forbid: [u8; MAX_BBAN],
    /// Per BBAN position pair (bytes 2k, 2k+1), the bit set `1 << code` of the pair codes the
    /// structure allows there. Never includes `P_INVALID`.
    pair_allow: [u8; MAX_BBAN / 2],
}

impl CountryFormat {
    const EMPTY: CountryFormat =
        CountryFormat { len: 0, forbid: [0; MAX_BBAN], pair_allow: [0; MAX_BBAN / 2] };
}

/// The IBAN registry, compiled for the kernel. Fixed size (about 31 KB), no allocation.
pub struct Registry {
    formats: [CountryFormat; COUNTRIES],
    count: usize,
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl Registry {
    /// An empty registry (every country unknown); `const` so it can live in a static.
    pub const fn new() -> Self {
        Registry { formats: [CountryFormat::EMPTY; COUNTRIES], count: 0 }
    }

    /// Loads a compact spec, one country per line: `CC,iban_length,bban_format`, e.g.
    /// `GB,22,4!a6!n8!n`. The format is SWIFT notation restricted to fixed-length items (`!`),
    /// which is all the registry uses: `n` digits, `a` upper-case letters, `c` letters or digits.
    /// Blank lines are skipped; `\r\n` endings and spaces around a line are tolerated.
    ///
    /// A line is bad when it has not exactly three fields, the country is not two upper-case
    /// letters or is repeated, the length is not 5–34, an item is not `<1-2 digits>!<n|a|c>`, or
    /// the items do not add up to the length minus 4.
    ///
    /// Returns the number of countries, or the 1-based number of the first bad line; on error the
    /// registry is left empty, so nothing half-loaded is ever used.
    pub fn load(&mut self, spec: &[u8]) -> Result<usize, usize> {
        self.clear();
        let mut count = 0;
        for (i, line) in spec.split(|&b| b == b'\n').enumerate() {
            let line = trim(line);
            if line.is_empty() {
                continue;
            }
            match parse_line(line) {
                Some((idx, fmt)) if self.formats[idx].len == 0 => {
                    self.formats[idx] = fmt;
                    count += 1;
                }
                _ => {
                    self.clear();
                    return Err(i + 1);
                }
            }
        }
        self.count = count;
        Ok(count)
    }

    /// Number of countries loaded.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn clear(&mut self) {
        for f in self.formats.iter_mut() {
            *f = CountryFormat::EMPTY;
        }
        self.count = 0;
    }
}

/// Strips ASCII spaces, tabs and carriage returns from both ends of a spec line.
fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t' | b'\r', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t' | b'\r'] = s {
        s = rest;
    }
    s
}

/// Index of a country in the 26×26 table, from two upper-case ASCII letters.
fn country_index(a: u8, b: u8) -> Option<usize> {
    if a.is_ascii_uppercase() && b.is_ascii_uppercase() {
        Some((a - b'A') as usize * 26 + (b - b'A') as usize)
    } else {
        None
    }
}

/// Parses one non-empty spec line into its table index and compiled format.
fn parse_line(line: &[u8]) -> Option<(usize, CountryFormat)> {
    let mut fields = line.split(|&b| b == b',');
    let cc = fields.next()?;
    let len = fields.next()?;
    let bban = fields.next()?;
    if fields.next().is_some() {
        return None;
    }
    let idx = match cc {
        [a, b] => country_index(*a, *b)?,
        _ => return None,
    };
    let len = small_number(len)?;
    if !(MIN_IBAN..=MAX_IBAN).contains(&len) {
        return None;
    }
    let mut fmt = CountryFormat { len: len as u8, forbid: [0; MAX_BBAN], pair_allow: [0; MAX_BBAN / 2] };
    let mut pos = 0;
    let mut rest = bban;
    while !rest.is_empty() {
        // One item: a count of one or two digits, `!`, then the class letter.
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 || digits > 2 || rest.len() < digits + 2 || rest[digits] != b'!' {
            return None;
        }
        let n = small_number(&rest[..digits])?;
        let forbid = match rest[digits + 1] {
            b'n' => LETTER,
            b'a' => DIGIT,
            b'c' => 0,
            _ => return None,
        };
        if n == 0 || pos + n > MAX_BBAN {
            return None;
        }
        for f in fmt.forbid[pos..pos + n].iter_mut() {
            *f = forbid;
        }
        pos += n;
        rest = &rest[digits + 2..];
    }
    if pos + 4 != len {
        return None;
    }
    for (k, allow) in fmt.pair_allow.iter_mut().enumerate() {
        let (f0, f1) = (fmt.forbid[2 * k], fmt.forbid[2 * k + 1]);
        for (code, c0, c1) in
            [(P_DD, DIGIT, DIGIT), (P_DL, DIGIT, LETTER), (P_LD, LETTER, DIGIT), (P_LL, LETTER, LETTER)]
        {
            if f0 & c0 == 0 && f1 & c1 == 0 {
                *allow |= 1 << code;
            }
        }
    }
    Some((idx, fmt))
}

/// A decimal number of one or two digits (all the spec ever needs), else `None`.
fn small_number(s: &[u8]) -> Option<usize> {
    match s {
        [a] if a.is_ascii_digit() => Some((a - b'0') as usize),
        [a, b] if a.is_ascii_digit() && b.is_ascii_digit() => {
            Some((a - b'0') as usize * 10 + (b - b'0') as usize)
        }
        _ => None,
    }
}

/// The verdict on one IBAN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IbanCheck {
    /// A reason code from `crate::codes` (`OK` or one of the `IBAN_*`).
    pub code: u8,
    /// The upper-cased country letters when the country is in the registry (every code but
    /// `IBAN_FORMAT` and `IBAN_COUNTRY`), else `[0, 0]`.
    pub country: [u8; 2],
}

const FORMAT_ERROR: IbanCheck = IbanCheck { code: IBAN_FORMAT, country: [0, 0] };

/// Validates one raw IBAN. Spaces (0x20 only) are allowed anywhere and ignored; letters may be of
/// either case. The first failing check decides the code:
///
/// 1. a byte other than `[A-Za-z0-9 ]`, a normalised length outside 5–34, a non-letter among the
///    first two characters or a non-digit among the next two → `IBAN_FORMAT`;
/// 2. the country is not in the registry → `IBAN_COUNTRY`;
/// 3. the length differs from the registry's → `IBAN_LENGTH`;
/// 4. a BBAN character is of a class its position does not allow → `IBAN_BBAN_FORMAT`;
/// 5. check digits outside 02–98 (ISO 13616 never issues 00, 01 or 99; they alias 97, 98 and 02)
///    or a MOD-97-10 remainder other than 1 → `IBAN_CHECKSUM`.
///
/// The checksum is taken over BBAN + country + check digits (the ISO rearrangement) without
/// moving anything: the BBAN is folded into the remainder as it is read, and the six digits of the
/// first four characters are appended arithmetically at the end.
#[inline]
pub fn check_iban(reg: &Registry, raw: &[u8]) -> IbanCheck {
    match check_plain(reg, raw) {
        Some(r) => r,
        None => check_general(reg, raw),
    }
}

/// The fast path, for an IBAN written without spaces at its registry length (almost all of
/// them): a verdict, or `None` to hand the input to `check_general` (spaces, a bad byte, a wrong
/// length or an unknown country). It never reports IBAN_FORMAT, COUNTRY or LENGTH itself, so
/// whatever it answers, `check_general` would answer the same (a test checks this).
#[inline(always)]
fn check_plain(reg: &Registry, raw: &[u8]) -> Option<IbanCheck> {
    let (head, bban) = match raw {
        [a, b, c, d, rest @ ..] => {
            ([VALUE[*a as usize], VALUE[*b as usize], VALUE[*c as usize], VALUE[*d as usize]], rest)
        }
        _ => return None,
    };
    // Two letters (values 10..=35), then two digits.
    if head[0].wrapping_sub(10) >= 26 || head[1].wrapping_sub(10) >= 26 || head[2] >= 10 || head[3] >= 10 {
        return None;
    }
    let fmt = &reg.formats[(head[0] - 10) as usize * 26 + (head[1] - 10) as usize];
    // An unknown country has length 0, and `raw` has at least 4 bytes, so it leaves here too.
    if fmt.len as usize != raw.len() {
        return None;
    }

    // Two pairs per step: look both up, check their class patterns against the structure (a
    // pattern the position does not allow leaves its bit in `bad`), and fold their digits in.
    // The pairs' own arithmetic is independent of `acc`, so only one multiply-add and one fold
    // per four bytes sit on the dependency chain.
    let mut seen = 0u8;
    let mut bad = 0u8;
    let mut acc = 0u64;
    let mut quads = bban.chunks_exact(4);
    for (q, allow) in (&mut quads).zip(fmt.pair_allow.chunks_exact(2)) {
        let e0 = PAIRS[(q[0] as usize) << 8 | q[1] as usize];
        let e1 = PAIRS[(q[2] as usize) << 8 | q[3] as usize];
        let (c0, c1) = ((e0 >> 12) as usize & 7, (e1 >> 12) as usize & 7);
        let (b0, b1) = (1u8 << c0, 1u8 << c1);
        seen |= b0 | b1;
        bad |= (b0 & !allow[0]) | (b1 & !allow[1]);
        let scale1 = PAIR_SCALE[c1];
        // `group` < 3535·10^4 + 3535 < 10^8, the scale is at most 10^8 (0 for an invalid pair) and
        // `acc` < 36·2^32 after every fold, so `acc · scale + group` < 1.6·10^19 fits in a u64.
        let group = (e0 & 0xFFF) as u64 * scale1 + (e1 & 0xFFF) as u64;
        acc = fold(acc * (PAIR_SCALE[c0] * scale1) + group);
    }
    // The last 0-3 bytes, one at a time (at most 10^6 · 36·2^32 + 255·10^4, no overflow even for
    // invalid bytes, whose values are then discarded). `pair_allow` has 15 pairs and a BBAN at
    // most 30 bytes, so the zip above never stops before `quads` does.
    let rest = quads.remainder();
    let first = bban.len() - rest.len();
    for (&b, &forbid) in rest.iter().zip(fmt.forbid.get(first..).unwrap_or(&[])) {
        let v = VALUE[b as usize];
        seen |= v & 0xC0; // SPACE and BAD have the top bits set, values 0-35 never do.
        bad |= forbid & if v < 10 { DIGIT } else { LETTER };
        acc = acc * if v < 10 { 10 } else { 100 } + v as u64;
    }
    if seen & (1 << P_INVALID | 0xC0) != 0 {
        return None;
    }
    let country = [b'A' + head[0] - 10, b'A' + head[1] - 10];
    let code = if bad != 0 { IBAN_BBAN_FORMAT } else { checksum(fold(acc), head) };
    Some(IbanCheck { code, country })
}

/// The byte-by-byte path: every input, every code, in the documented order.
fn check_general(reg: &Registry, raw: &[u8]) -> IbanCheck {
    // The first four normalised characters: two letters, then two digits.
    let mut head = [0u8; 4];
    let mut h = 0;
    let mut i = 0;
    while h < 4 {
        let v = match raw.get(i) {
            Some(&b) => VALUE[b as usize],
            None => return FORMAT_ERROR,
        };
        i += 1;
        if v == SPACE {
            continue;
        }
        let is_letter = v >= 10;
        // `BAD` (0xFF) fails here too: it is neither < 10 nor < 36.
        if v >= 36 || is_letter != (h < 2) {
            return FORMAT_ERROR;
        }
        head[h] = v;
        h += 1;
    }
    // Letters have values 10..=35, so the index is below 676 and the lookup never fails.
    let fmt = &reg.formats[(head[0] - 10) as usize * 26 + (head[1] - 10) as usize];

    // The BBAN: for an unknown country `fmt` is the all-permissive empty entry, and the loop still
    // runs so that a bad byte or an over-long value reports IBAN_FORMAT, which ranks first.
    let mut n = 0usize;
    let mut bad = 0u8;
    let mut acc = 0u64;
    for &b in raw.get(i..).unwrap_or(&[]) {
        let v = VALUE[b as usize];
        if v == SPACE {
            continue;
        }
        if v >= 36 || n >= MAX_BBAN {
            return FORMAT_ERROR;
        }
        let class = if v < 10 { DIGIT } else { LETTER };
        bad |= class & fmt.forbid[n];
        // A digit appends one decimal digit to the number, a letter two (A = 10 … Z = 35).
        acc = fold(if v < 10 { acc * 10 + v as u64 } else { acc * 100 + v as u64 });
        n += 1;
    }
    if n + 4 < MIN_IBAN {
        return FORMAT_ERROR;
    }
    if fmt.len == 0 {
        return IbanCheck { code: IBAN_COUNTRY, country: [0, 0] };
    }
    let country = [b'A' + head[0] - 10, b'A' + head[1] - 10];
    let code = if n + 4 != fmt.len as usize {
        IBAN_LENGTH
    } else if bad != 0 {
        IBAN_BBAN_FORMAT
    } else {
        checksum(acc, head)
    };
    IbanCheck { code, country }
}

/// `OK` or `IBAN_CHECKSUM`, from the folded BBAN value (below 36·2^32) and the first four
/// characters' values. The country letters (two digits each) and the check digits are six more
/// decimal digits, appended here: that is the ISO rearrangement, done arithmetically.
#[inline(always)]
fn checksum(bban: u64, head: [u8; 4]) -> u8 {
    let check = head[2] as u64 * 10 + head[3] as u64;
    let tail = head[0] as u64 * 10_000 + head[1] as u64 * 100 + check;
    if (2..=98).contains(&check) && mod97(bban * 1_000_000 + tail) == 1 {
        OK
    } else {
        IBAN_CHECKSUM
    }
}

/// For a GB IBAN, the sort code (as a number) and the 8 account digits (as values 0–9), read from
/// the raw text (spaces skipped, any case). `None` unless the normalised text is 22 characters of
/// `GB`, 2 digits, 4 letters, 14 digits. It checks the shape only: call `check_iban` first.
pub fn gb_sort_account(raw: &[u8]) -> Option<(u32, [u8; 8])> {
    let mut norm = [0u8; 22];
    let mut n = 0;
    for &b in raw {
        let v = VALUE[b as usize];
        if v == SPACE {
            continue;
        }
        if v >= 36 || n >= norm.len() {
            return None;
        }
        norm[n] = v;
        n += 1;
    }
    // G = 16, B = 11 in MOD-97 values.
    if n != 22 || norm[0] != 16 || norm[1] != 11 {
        return None;
    }
    let (check, rest) = norm[2..].split_at(2);
    let (bank, rest) = rest.split_at(4);
    let (sort, account) = rest.split_at(6);
    if check.iter().chain(sort).chain(account).any(|&v| v >= 10) || bank.iter().any(|&v| v < 10) {
        return None;
    }
    let mut sort_code = 0u32;
    for &d in sort {
        sort_code = sort_code * 10 + d as u32;
    }
    let mut acct = [0u8; 8];
    acct.copy_from_slice(account);
    Some((sort_code, acct))
}

/// Column kernel: `out_codes[i]` gets the code of row `i` (`OK` for a null or empty row) and
/// `out_country[2i..2i+2]` its country letters or `0, 0` (see `IbanCheck::country`). Rows are
/// those of `out_codes`; a row past the end of `col` counts as absent, and a row with no room
/// left in `out_country` gets its code only.
pub fn check_column(reg: &Registry, col: StrCol, out_codes: &mut [u8], out_country: &mut [u8]) {
    let mut countries = out_country.chunks_exact_mut(2);
    for (i, out) in out_codes.iter_mut().enumerate() {
        let r = match col.get_present(i) {
            Some(raw) => check_iban(reg, raw),
            None => IbanCheck { code: OK, country: [0, 0] },
        };
        *out = r.code;
        if let Some(c) = countries.next() {
            c.copy_from_slice(&r.country);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;
    use std::vec::Vec;

    const CSV: &str = include_str!("../../reference/iban/registry.csv");

    /// Splits one CSV line, honouring double-quoted fields (which may hold commas and `""`).
    fn csv_fields(line: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut cur = String::new();
        let mut quoted = false;
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match (c, quoted) {
                ('"', true) if chars.peek() == Some(&'"') => {
                    cur.push('"');
                    chars.next();
                }
                ('"', _) => quoted = !quoted,
                (',', false) => out.push(core::mem::take(&mut cur)),
                _ => cur.push(c),
            }
        }
        out.push(cur);
        out
    }

    /// (spec text, example IBANs) from the registry CSV.
    fn spec_and_examples() -> (String, Vec<String>) {
        let mut lines = CSV.lines().filter(|l| !l.trim().is_empty());
        let header = csv_fields(lines.next().unwrap());
        let col = |name: &str| header.iter().position(|h| h == name).unwrap();
        let (cc, len, fmt, ex) =
            (col("country_code"), col("iban_length"), col("bban_format"), col("example_iban"));
        let mut spec = String::new();
        let mut examples = Vec::new();
        for line in lines {
            let f = csv_fields(line);
            spec.push_str(&std::format!("{},{},{}\n", f[cc], f[len], f[fmt]));
            examples.push(f[ex].clone());
        }
        (spec, examples)
    }

    fn registry() -> std::boxed::Box<Registry> {
        let (spec, _) = spec_and_examples();
        let mut reg = std::boxed::Box::new(Registry::new());
        assert_eq!(reg.load(spec.as_bytes()), Ok(89));
        reg
    }

    fn code(reg: &Registry, s: &str) -> u8 {
        check_iban(reg, s.as_bytes()).code
    }

    /// A straightforward MOD-97 over the rearranged, expanded text, to cross-check the kernel.
    fn slow_mod97(iban: &str) -> u32 {
        let s: String = iban.chars().filter(|&c| c != ' ').collect::<String>().to_uppercase();
        let r = std::format!("{}{}", &s[4..], &s[..4]);
        let mut m = 0u32;
        for c in r.chars() {
            let v = c.to_digit(36).unwrap();
            m = if v < 10 { (m * 10 + v) % 97 } else { (m * 100 + v) % 97 };
        }
        m
    }

    /// Sets the check digits of a normalised IBAN so that it passes MOD-97.
    fn with_check_digits(iban: &str) -> String {
        let zeroed = std::format!("{}00{}", &iban[..2], &iban[4..]);
        let check = 98 - slow_mod97(&zeroed);
        std::format!("{}{:02}{}", &iban[..2], check, &iban[4..])
    }

    #[test]
    fn every_registry_example_is_valid() {
        let reg = registry();
        let (_, examples) = spec_and_examples();
        assert_eq!(examples.len(), 89);
        for ex in &examples {
            let r = check_iban(&reg, ex.as_bytes());
            assert_eq!(r.code, OK, "{ex}");
            assert_eq!(&r.country, &ex.as_bytes()[..2], "{ex}");
            assert_eq!(slow_mod97(ex), 1, "{ex}");
        }
    }

    #[test]
    fn spaces_and_lower_case_are_accepted() {
        let reg = registry();
        assert_eq!(code(&reg, "GB29 NWBK 6016 1331 9268 19"), OK);
        assert_eq!(code(&reg, "gb29nwbk60161331926819"), OK);
        assert_eq!(code(&reg, " g b 2 9nwBK6016133192681 9 "), OK);
        assert_eq!(check_iban(&reg, b"gb29nwbk60161331926819").country, *b"GB");
        // Lower-case letters in `a` and `c` positions are fine once upper-cased.
        assert_eq!(code(&reg, "fr1420041010050500013m02606"), OK);
    }

    #[test]
    fn format_errors() {
        let reg = registry();
        for s in [
            "",
            " ",
            "GB2",
            "GB29",
            "GB 29  ",
            "1B29NWBK60161331926819",
            "G129NWBK60161331926819",
            "GBX9NWBK60161331926819",
            "GB2XNWBK60161331926819",
            "GB29-NWBK-6016-1331-9268-19",
            "GB29\tNWBK60161331926819",
            "GB29NWBK6016133192681\u{e9}",
            "GB29NWBK60161331926819\n",
            "XX00123456789012345678901234567890X",
            "GB2912345678901234567890123456789012",
        ] {
            assert_eq!(check_iban(&reg, s.as_bytes()), FORMAT_ERROR, "{s:?}");
        }
        // A bad byte wins over an unknown country.
        assert_eq!(code(&reg, "ZZ12 345_6"), IBAN_FORMAT);
        // Exactly 34 characters is the limit, 35 is a format error even for an unknown country.
        assert_eq!(code(&reg, &std::format!("ZZ12{}", "1".repeat(30))), IBAN_COUNTRY);
        assert_eq!(code(&reg, &std::format!("ZZ12{}", "1".repeat(31))), IBAN_FORMAT);
    }

    #[test]
    fn country_length_bban_and_checksum_errors() {
        let reg = registry();
        let unknown = check_iban(&reg, b"US64SVBKUS6S3300958879");
        assert_eq!(unknown, IbanCheck { code: IBAN_COUNTRY, country: [0, 0] });
        assert_eq!(code(&reg, "ZZ12345"), IBAN_COUNTRY);

        assert_eq!(check_iban(&reg, b"GB29NWBK6016133192681").code, IBAN_LENGTH);
        assert_eq!(check_iban(&reg, b"GB29NWBK601613319268190").country, *b"GB");
        assert_eq!(code(&reg, "GB29NWBK601613319268190"), IBAN_LENGTH);
        assert_eq!(code(&reg, "GB00"), IBAN_FORMAT);
        assert_eq!(code(&reg, "GB001"), IBAN_LENGTH);

        // Structure errors, with check digits fixed so only the structure is wrong.
        for s in ["GB00NWB160161331926819", "GB00NWBK6016133192681A", "GB00NWBK60161A31926819"] {
            let s = with_check_digits(s);
            assert_eq!(code(&reg, &s), IBAN_BBAN_FORMAT, "{s}");
        }
        // Length is checked before structure.
        assert_eq!(code(&reg, "GB29NWB1601613319268"), IBAN_LENGTH);

        assert_eq!(code(&reg, "GB28NWBK60161331926819"), IBAN_CHECKSUM);
        assert_eq!(code(&reg, "GB29NWBK60161331926818"), IBAN_CHECKSUM);
        assert_eq!(code(&reg, "GB29NWBK60161331962819"), IBAN_CHECKSUM);
        let r = check_iban(&reg, b"DE89370400440532013001");
        assert_eq!(r, IbanCheck { code: IBAN_CHECKSUM, country: *b"DE" });
    }

    #[test]
    fn check_digits_outside_02_98_are_rejected() {
        let reg = registry();
        // Find GB numbers whose correct check digits are 97, 98 or 02: their aliases 00, 01, 99
        // pass MOD-97 but are never issued.
        let mut seen = [false; 3];
        for k in 0..100_000u32 {
            let base = std::format!("GB00NWBK6016133{:07}", k);
            let good = with_check_digits(&base);
            let alias = match &good[2..4] {
                "97" => (0, "00"),
                "98" => (1, "01"),
                "02" => (2, "99"),
                _ => continue,
            };
            assert_eq!(code(&reg, &good), OK, "{good}");
            let bad = std::format!("GB{}{}", alias.1, &good[4..]);
            assert_eq!(slow_mod97(&bad), 1);
            assert_eq!(code(&reg, &bad), IBAN_CHECKSUM, "{bad}");
            seen[alias.0] = true;
            if seen.iter().all(|&s| s) {
                return;
            }
        }
        panic!("no alias found");
    }

    #[test]
    fn mod97_without_division_is_exact() {
        for x in 0..1u32 << 22 {
            assert_eq!(small_mod97(x), x % 97, "{x}");
        }
        for x in [0u32, 1, 96, 97, 65535, 65536, 1 << 31, u32::MAX - 1, u32::MAX] {
            assert!(fold_u32(x) < 1 << 22);
            assert_eq!(fold_u32(x) % 97, x % 97, "{x}");
        }
        let mut s = 0x0123_4567_89AB_CDEFu64;
        for _ in 0..1_000_000 {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            for x in [s >> 6, s >> 30, s >> 40, s & 0xFFFF_FFFF] {
                assert_eq!(u64::from(mod97(x)), x % 97, "{x}");
            }
        }
        assert_eq!(u64::from(mod97((1 << 58) - 1)), ((1u64 << 58) - 1) % 97);
    }

    #[test]
    fn kernel_checksum_matches_slow_mod97() {
        let reg = registry();
        // Letter-heavy BBANs exercise the two-digit expansion and the deferred reduction.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let alnum = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        for _ in 0..20_000 {
            let mut s = String::from("LC00");
            for _ in 0..28 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                s.push(alnum[(x % 36) as usize] as char);
            }
            if x % 4 == 0 {
                // Some all-letter tails after a bank code of letters.
                s.replace_range(4..8, "ZZZZ");
            }
            let valid = with_check_digits(&s);
            let bban_ok = valid.as_bytes()[4..8].iter().all(|b| b.is_ascii_uppercase());
            let expect = if bban_ok { OK } else { IBAN_BBAN_FORMAT };
            assert_eq!(code(&reg, &valid), expect, "{valid}");
            let check: u32 = s[2..4].parse().unwrap();
            let raw_ok = slow_mod97(&s) == 1 && (2..=98).contains(&check);
            let expect = if !bban_ok {
                IBAN_BBAN_FORMAT
            } else if raw_ok {
                OK
            } else {
                IBAN_CHECKSUM
            };
            assert_eq!(code(&reg, &s), expect, "{s}");
        }
    }

    /// xorshift64: a deterministic source of test inputs.
    fn next(x: &mut u64) -> u64 {
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        *x
    }

    /// A random BBAN for a SWIFT format (`c` positions get digits, upper and lower case letters).
    fn random_bban(fmt: &str, x: &mut u64) -> String {
        let mut out = String::new();
        for item in fmt.split_inclusive(['n', 'a', 'c']) {
            let count: usize = item[..item.len() - 2].parse().unwrap();
            let set: &[u8] = match item.as_bytes()[item.len() - 1] {
                b'n' => b"0123456789",
                b'a' => b"ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                _ => b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
            };
            for _ in 0..count {
                out.push(set[(next(x) % set.len() as u64) as usize] as char);
            }
        }
        out
    }

    #[test]
    fn random_valid_ibans_of_every_country_pass_both_paths() {
        let reg = registry();
        let (spec, _) = spec_and_examples();
        let mut x = 0x1234_5678_9abc_def1u64;
        for line in spec.lines() {
            let f: Vec<&str> = line.split(',').collect();
            for _ in 0..500 {
                let iban = with_check_digits(&std::format!("{}00{}", f[0], random_bban(f[2], &mut x)));
                assert_eq!(iban.len(), f[1].parse::<usize>().unwrap());
                let want = IbanCheck { code: OK, country: [f[0].as_bytes()[0], f[0].as_bytes()[1]] };
                assert_eq!(check_plain(&reg, iban.as_bytes()), Some(want), "{iban}");
                assert_eq!(check_general(&reg, iban.as_bytes()), want, "{iban}");
            }
        }
    }

    #[test]
    fn fast_path_agrees_with_general_path() {
        let reg = registry();
        let (_, examples) = spec_and_examples();
        let alphabet = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcxyz -_\xff\x80";
        let mut x = 0xdead_beef_cafe_f00du64;
        let mut fast = 0;
        for round in 0..200_000 {
            let ex = examples[(next(&mut x) % examples.len() as u64) as usize].as_bytes();
            let mut s: Vec<u8> = ex.to_vec();
            // 0-3 substitutions, sometimes an insertion or a deletion.
            for _ in 0..next(&mut x) % 4 {
                let at = (next(&mut x) % s.len() as u64) as usize;
                s[at] = alphabet[(next(&mut x) % alphabet.len() as u64) as usize];
            }
            match round % 10 {
                0 => s.insert((next(&mut x) % s.len() as u64) as usize, b'7'),
                1 => drop(s.remove((next(&mut x) % s.len() as u64) as usize)),
                2 if s.iter().all(u8::is_ascii_alphanumeric)
                    && s[..2].iter().all(u8::is_ascii_alphabetic) =>
                {
                    // Re-validate the checksum, so the structure check is what decides.
                    let t = std::format!(
                        "{}00{}",
                        core::str::from_utf8(&s[..2]).unwrap(),
                        core::str::from_utf8(&s[4..]).unwrap()
                    );
                    s = with_check_digits(&t).into_bytes();
                }
                _ => {}
            }
            let general = check_general(&reg, &s);
            assert_eq!(check_iban(&reg, &s), general, "{:?}", s);
            if let Some(r) = check_plain(&reg, &s) {
                assert_eq!(r, general, "{:?}", s);
                fast += 1;
            }
        }
        assert!(fast > 100_000, "fast path taken {fast} times");
    }

    #[test]
    fn hostile_input_never_panics() {
        let reg = registry();
        let long = [b'9'; 1000];
        assert_eq!(code(&reg, core::str::from_utf8(&long).unwrap()), IBAN_FORMAT);
        let mut spaced = std::vec![b' '; 1000];
        spaced[500..522].copy_from_slice(b"GB29NWBK60161331926819");
        assert_eq!(check_iban(&reg, &spaced).code, OK);
        let mut x = 88172645463325252u64;
        for len in 0..200 {
            let mut buf = std::vec![0u8; len];
            for _ in 0..50 {
                for b in buf.iter_mut() {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    *b = x as u8;
                }
                let _ = check_iban(&reg, &buf);
                let _ = gb_sort_account(&buf);
            }
        }
        for b in 0..=255u8 {
            let s = [b'G', b'B', b'2', b'9', b, b'W', b'B', b'K'];
            let _ = check_iban(&reg, &s);
            let _ = check_iban(&reg, &[b; 40]);
        }
        // An empty registry knows no country.
        let empty = Registry::new();
        assert!(empty.is_empty());
        assert_eq!(code(&empty, "GB29NWBK60161331926819"), IBAN_COUNTRY);
    }

    #[test]
    fn load_rejects_bad_lines_and_leaves_the_registry_empty() {
        let mut reg = Registry::new();
        assert_eq!(reg.load(b"GB,22,4!a6!n8!n\r\n\r\n  DE,22,8!n10!n  \n"), Ok(2));
        assert_eq!(reg.len(), 2);
        assert_eq!(code(&reg, "DE89370400440532013000"), OK);
        for (spec, line) in [
            (&b"GB,22,4!a6!n8!n\nDE,22,8!n10!n,x\n"[..], 2),
            (b"gb,22,4!a6!n8!n", 1),
            (b"GBR,22,4!a6!n8!n", 1),
            (b"GB,23,4!a6!n8!n", 1),
            (b"GB,22,4!a6!n8!", 1),
            (b"GB,22,4a6!n8!n", 1),
            (b"GB,22,4!x6!n8!n", 1),
            (b"GB,22,0!a4!a6!n8!n", 1),
            (b"GB,22,004!a6!n8!n", 1),
            (b"GB,4,", 1),
            (b"GB,35,31!n", 1),
            (b"GB,,4!a6!n8!n", 1),
            (b"GB,22", 1),
            (b"\nGB,22,4!a6!n8!n\nGB,22,4!a6!n8!n", 3),
            (b"GB,22,4!a6!n8!n\n\xff", 2),
        ] {
            assert_eq!(reg.load(spec), Err(line), "{:?}", core::str::from_utf8(spec));
            assert!(reg.is_empty());
            assert_eq!(code(&reg, "DE89370400440532013000"), IBAN_COUNTRY);
        }
        assert_eq!(reg.load(b""), Ok(0));
        assert_eq!(reg.load(b"XK,34,30!c"), Ok(1));
        // The longest BBAN, with the largest values and scales everywhere, on both paths.
        for fill in ["a", "Z", "z", "9", "0", "Z9", "9Z"] {
            let iban = with_check_digits(&std::format!("XK00{}", fill.repeat(30).get(..30).unwrap()));
            assert_eq!(code(&reg, &iban), OK, "{iban}");
            assert_eq!(check_general(&reg, iban.as_bytes()).code, OK, "{iban}");
            let spaced = std::format!("{} ", iban);
            assert_eq!(code(&reg, &spaced), OK, "{spaced}");
        }
    }

    #[test]
    fn gb_sort_account_extracts_the_parts() {
        let acct = [3, 1, 9, 2, 6, 8, 1, 9];
        assert_eq!(gb_sort_account(b"GB29NWBK60161331926819"), Some((601613, acct)));
        assert_eq!(gb_sort_account(b"gb29 nwbk 6016 1331 9268 19"), Some((601613, acct)));
        assert_eq!(gb_sort_account(b"GB29NWBK00000001926819").map(|r| r.0), Some(0));
        assert_eq!(gb_sort_account(b"GB29NWBK6016133192681"), None);
        assert_eq!(gb_sort_account(b"GB29NWBK601613319268190"), None);
        assert_eq!(gb_sort_account(b"IE29AIBK93115212345678"), None);
        assert_eq!(gb_sort_account(b"GB29NWB160161331926819"), None);
        assert_eq!(gb_sort_account(b"GB29NWBK6016A331926819"), None);
        assert_eq!(gb_sort_account(b"GB29NWBK60161331926819-"), None);
        assert_eq!(gb_sort_account(b""), None);
    }

    #[test]
    fn column_kernel_writes_codes_and_countries() {
        let reg = registry();
        let rows: [&[u8]; 5] = [
            b"GB29NWBK60161331926819",
            b"",
            b"DE89370400440532013001",
            b"US64SVBKUS6S3300958879",
            b"fr14 2004 1010 0505 0001 3m02 606",
        ];
        let mut data = Vec::new();
        let mut offsets = std::vec![0i32];
        for r in rows {
            data.extend_from_slice(r);
            offsets.push(data.len() as i32);
        }
        offsets.push(data.len() as i32); // a sixth, null row
        let validity = [0b0001_1111u8];
        let col = StrCol::new(&offsets, &data, Some(&validity));
        let mut codes = [0xAAu8; 7];
        let mut countries = [0xAAu8; 14];
        check_column(&reg, col, &mut codes, &mut countries);
        assert_eq!(codes, [OK, OK, IBAN_CHECKSUM, IBAN_COUNTRY, OK, OK, OK]);
        assert_eq!(&countries, b"GB\0\0DE\0\0FR\0\0\0\0");

        // Short country output: codes are still all written.
        let mut codes = [0xAAu8; 3];
        let mut short = [0u8; 2];
        check_column(&reg, col, &mut codes, &mut short);
        assert_eq!(codes, [OK, OK, IBAN_CHECKSUM]);
        assert_eq!(&short, b"GB");

        // An absent column is all OK.
        let mut codes = [0xAAu8; 3];
        let mut c = [0xAAu8; 6];
        check_column(&reg, StrCol::EMPTY, &mut codes, &mut c);
        assert_eq!(codes, [OK; 3]);
        assert_eq!(c, [0; 6]);
    }
}
