//! Field rules of CONTRACT §1 that need no table loaded at run time: pure functions over the raw
//! bytes of one value. Nothing here allocates or can panic, whatever the bytes.

use crate::codes::{AMOUNT_INVALID, AMOUNT_NON_POSITIVE, AMOUNT_PRECISION, AMOUNT_RANGE, OK};
use crate::column::short_word;

/// Largest amount accepted, in major units (CONTRACT §1: ≤ 1,000,000,000.00).
const MAX_MAJOR: u64 = 1_000_000_000;

// ---------------------------------------------------------------------------------------------
// tx_id

/// Bytes allowed in a `tx_id`: `[A-Za-z0-9._:-]`.
static TX_ID_BYTE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b':' || b == b'-';
        i += 1;
    }
    t
};

/// `tx_id`: 1–64 characters of `[A-Za-z0-9._:-]`.
pub fn tx_id_ok(b: &[u8]) -> bool {
    !b.is_empty() && b.len() <= 64 && b.iter().all(|&c| TX_ID_BYTE[c as usize])
}

// ---------------------------------------------------------------------------------------------
// Currencies

/// ISO 4217 List One (published 2026-01-01): every code whose minor units are a number, sorted.
/// Left out are the entries whose minor units are "N.A." (XAG, XAU, XBA–XBD, XDR, XPD, XPT, XSU,
/// XTS, XUA, XXX) and withdrawn codes (ANG → XCG, BGN → EUR, CUC, HRK, SLL, ZWL, …). Fund codes
/// with minor units (BOV, CHE, CHW, CLF, COU, MXV, USN, UYI, UYW) are kept. The position of a code
/// is its `currency_index`: stable within a build, but editing the table shifts it, so an index
/// is never persisted (store the code).
#[rustfmt::skip]
const CURRENCY_LIST: [([u8; 3], u8); 165] = [
    (*b"AED", 2), (*b"AFN", 2), (*b"ALL", 2), (*b"AMD", 2), (*b"AOA", 2), (*b"ARS", 2), (*b"AUD", 2), (*b"AWG", 2),
    (*b"AZN", 2), (*b"BAM", 2), (*b"BBD", 2), (*b"BDT", 2), (*b"BHD", 3), (*b"BIF", 0), (*b"BMD", 2), (*b"BND", 2),
    (*b"BOB", 2), (*b"BOV", 2), (*b"BRL", 2), (*b"BSD", 2), (*b"BTN", 2), (*b"BWP", 2), (*b"BYN", 2), (*b"BZD", 2),
    (*b"CAD", 2), (*b"CDF", 2), (*b"CHE", 2), (*b"CHF", 2), (*b"CHW", 2), (*b"CLF", 4), (*b"CLP", 0), (*b"CNY", 2),
    (*b"COP", 2), (*b"COU", 2), (*b"CRC", 2), (*b"CUP", 2), (*b"CVE", 2), (*b"CZK", 2), (*b"DJF", 0), (*b"DKK", 2),
    (*b"DOP", 2), (*b"DZD", 2), (*b"EGP", 2), (*b"ERN", 2), (*b"ETB", 2), (*b"EUR", 2), (*b"FJD", 2), (*b"FKP", 2),
    (*b"GBP", 2), (*b"GEL", 2), (*b"GHS", 2), (*b"GIP", 2), (*b"GMD", 2), (*b"GNF", 0), (*b"GTQ", 2), (*b"GYD", 2),
    (*b"HKD", 2), (*b"HNL", 2), (*b"HTG", 2), (*b"HUF", 2), (*b"IDR", 2), (*b"ILS", 2), (*b"INR", 2), (*b"IQD", 3),
    (*b"IRR", 2), (*b"ISK", 0), (*b"JMD", 2), (*b"JOD", 3), (*b"JPY", 0), (*b"KES", 2), (*b"KGS", 2), (*b"KHR", 2),
    (*b"KMF", 0), (*b"KPW", 2), (*b"KRW", 0), (*b"KWD", 3), (*b"KYD", 2), (*b"KZT", 2), (*b"LAK", 2), (*b"LBP", 2),
    (*b"LKR", 2), (*b"LRD", 2), (*b"LSL", 2), (*b"LYD", 3), (*b"MAD", 2), (*b"MDL", 2), (*b"MGA", 2), (*b"MKD", 2),
    (*b"MMK", 2), (*b"MNT", 2), (*b"MOP", 2), (*b"MRU", 2), (*b"MUR", 2), (*b"MVR", 2), (*b"MWK", 2), (*b"MXN", 2),
    (*b"MXV", 2), (*b"MYR", 2), (*b"MZN", 2), (*b"NAD", 2), (*b"NGN", 2), (*b"NIO", 2), (*b"NOK", 2), (*b"NPR", 2),
    (*b"NZD", 2), (*b"OMR", 3), (*b"PAB", 2), (*b"PEN", 2), (*b"PGK", 2), (*b"PHP", 2), (*b"PKR", 2), (*b"PLN", 2),
    (*b"PYG", 0), (*b"QAR", 2), (*b"RON", 2), (*b"RSD", 2), (*b"RUB", 2), (*b"RWF", 0), (*b"SAR", 2), (*b"SBD", 2),
    (*b"SCR", 2), (*b"SDG", 2), (*b"SEK", 2), (*b"SGD", 2), (*b"SHP", 2), (*b"SLE", 2), (*b"SOS", 2), (*b"SRD", 2),
    (*b"SSP", 2), (*b"STN", 2), (*b"SVC", 2), (*b"SYP", 2), (*b"SZL", 2), (*b"THB", 2), (*b"TJS", 2), (*b"TMT", 2),
    (*b"TND", 3), (*b"TOP", 2), (*b"TRY", 2), (*b"TTD", 2), (*b"TWD", 2), (*b"TZS", 2), (*b"UAH", 2), (*b"UGX", 0),
    (*b"USD", 2), (*b"USN", 2), (*b"UYI", 0), (*b"UYU", 2), (*b"UYW", 4), (*b"UZS", 2), (*b"VED", 2), (*b"VES", 2),
    (*b"VND", 0), (*b"VUV", 0), (*b"WST", 2), (*b"XAD", 2), (*b"XAF", 0), (*b"XCD", 2), (*b"XCG", 2), (*b"XOF", 0),
    (*b"XPF", 0), (*b"YER", 2), (*b"ZAR", 2), (*b"ZMW", 2), (*b"ZWG", 2),
];

static CURRENCIES: [([u8; 3], u8); 165] = CURRENCY_LIST;

/// Every three-letter code as a number below 26^3, for `CURRENCY_SLOT`.
const fn letters_key(a: u8, b: u8, c: u8) -> usize {
    (a - b'A') as usize * 676 + (b - b'A') as usize * 26 + (c - b'A') as usize
}

/// Per three upper-case letters (`letters_key`), the code's position in `CURRENCIES` plus one, or
/// 0 for no currency. A lookup is then one load, where a binary search over 3-byte keys took
/// eight compares and branches per row and was one of the costliest parts of validating a row.
/// 17.5 KB, built at compile time; the codes in use stay in cache.
static CURRENCY_SLOT: [u8; 26 * 26 * 26] = {
    let mut t = [0u8; 26 * 26 * 26];
    let mut i = 0;
    while i < CURRENCY_LIST.len() {
        let c = CURRENCY_LIST[i].0;
        // `i + 1` must fit in a u8, and 0 stays free for "unknown".
        assert!(i < 255);
        t[letters_key(c[0], c[1], c[2])] = i as u8 + 1;
        i += 1;
    }
    t
};

/// Position of a currency code in `CURRENCIES` (the table is sorted, so this is also its rank).
/// Upper case only: `gbp` is not a code.
#[inline]
pub fn currency_index(code: &[u8]) -> Option<u16> {
    match code {
        [a, b, c] if a.is_ascii_uppercase() && b.is_ascii_uppercase() && c.is_ascii_uppercase() => {
            match CURRENCY_SLOT[letters_key(*a, *b, *c)] {
                0 => None,
                slot => Some(slot as u16 - 1),
            }
        }
        _ => None,
    }
}

/// ISO 4217 minor units of an active currency code (GBP 2, JPY 0, KWD 3, CLF 4), else `None`.
pub fn currency_minor_units(code: &[u8]) -> Option<u8> {
    currency_index(code).and_then(index_minor_units)
}

/// `index_minor_units` for constant tables (it reads the list itself, not the static copy).
pub const fn list_minor_units(index: usize) -> Option<u8> {
    if index < CURRENCY_LIST.len() {
        Some(CURRENCY_LIST[index].1)
    } else {
        None
    }
}

/// The minor units of the currency at a `currency_index`, else `None` (e.g. for `NO_CURRENCY`).
#[inline]
pub fn index_minor_units(index: u16) -> Option<u8> {
    CURRENCIES.get(index as usize).map(|e| e.1)
}

/// The code at a `currency_index` (for the engine to turn indices back into text).
pub fn currency_code(index: u16) -> Option<[u8; 3]> {
    CURRENCIES.get(index as usize).map(|e| e.0)
}

// ---------------------------------------------------------------------------------------------
// Countries

/// ISO 3166-1 alpha-2: the 249 officially assigned codes, plus XK (Kosovo, a user-assigned code
/// that SWIFT and the IBAN registry use).
const COUNTRY_CODES: &[u8] = b"\
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ \
BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ \
CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ \
DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR \
GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU \
ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ \
LA LB LC LI LK LR LS LT LU LV LY \
MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ \
NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA \
RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ \
TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU \
WF WS XK YE YT ZA ZM ZW";

/// The country codes as a 26×26 bit set: row = first letter, bit = second letter. Built at
/// compile time, so a lookup is one load and one shift.
static COUNTRY_BITS: [u32; 26] = {
    let mut bits = [0u32; 26];
    let mut i = 0;
    while i + 1 < COUNTRY_CODES.len() {
        bits[(COUNTRY_CODES[i] - b'A') as usize] |= 1 << (COUNTRY_CODES[i + 1] - b'A');
        i += 3;
    }
    bits
};

/// An ISO 3166-1 alpha-2 code (upper case), or XK.
pub fn country_ok(code: &[u8]) -> bool {
    match code {
        [a, b] if a.is_ascii_uppercase() && b.is_ascii_uppercase() => {
            COUNTRY_BITS[(a - b'A') as usize] & (1 << (b - b'A')) != 0
        }
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------
// Enumerations

// The values are matched as (word, length) pairs, as `StrCol::get_present_word` reads them: every
// candidate is compared at once, with no branch that depends on which value a row holds (rows
// arrive in no particular order, so a match that branches byte by byte mispredicts often).
// The length takes part so that a NUL byte cannot pass for the zero padding.

const DIRECTIONS: [(u64, usize); 2] = [(short_word(b"debit"), 5), (short_word(b"credit"), 6)];

const CHANNELS: [(u64, usize); 7] = [
    (short_word(b"FPS"), 3),
    (short_word(b"BACS"), 4),
    (short_word(b"CHAPS"), 5),
    (short_word(b"SWIFT"), 5),
    (short_word(b"CARD"), 4),
    (short_word(b"CASH"), 4),
    (short_word(b"INTERNAL"), 8),
];

/// 1 + the position of `(word, len)` among `values`, or 0.
#[inline(always)]
fn position_of(values: &[(u64, usize)], word: u64, len: usize) -> u8 {
    let mut found = 0u8;
    for (k, &(w, l)) in values.iter().enumerate() {
        found |= ((w == word) & (l == len)) as u8 * (k as u8 + 1);
    }
    found
}

/// `debit` → 1, `credit` → 2 (exactly, lower case).
pub fn direction(b: &[u8]) -> Option<u8> {
    direction_word(short_word(b), b.len())
}

/// `direction` of a value given as by `StrCol::get_present_word`.
#[inline]
pub fn direction_word(word: u64, len: usize) -> Option<u8> {
    match position_of(&DIRECTIONS, word, len) {
        0 => None,
        d => Some(d),
    }
}

/// FPS, BACS, CHAPS, SWIFT, CARD, CASH, INTERNAL (exactly, upper case) → 1..=7 in that order.
pub fn channel(b: &[u8]) -> Option<u8> {
    channel_word(short_word(b), b.len())
}

/// `channel` of a value given as by `StrCol::get_present_word`.
#[inline]
pub fn channel_word(word: u64, len: usize) -> Option<u8> {
    match position_of(&CHANNELS, word, len) {
        0 => None,
        c => Some(c),
    }
}

// ---------------------------------------------------------------------------------------------
// Amounts

/// Parses a decimal amount exactly into minor units.
///
/// Grammar: optional `-` or `+`, one or more digits, optionally `.` and one or more digits
/// (so `.5`, `5.`, `1e3`, ` 5`, `1,000` are `AMOUNT_INVALID`). Then, in this order:
/// more significant fraction digits than `minor_units` (trailing zeros do not count: `1.500` GBP
/// is 150) → `AMOUNT_PRECISION`; a value ≤ 0 (`-0`, `0.00`, any negative) → `AMOUNT_NON_POSITIVE`;
/// more than 1,000,000,000 major units → `AMOUNT_RANGE`. Leading zeros are fine. Digit strings of
/// any length are handled without overflow.
#[inline]
pub fn parse_amount(b: &[u8], minor_units: u8) -> Result<i64, u8> {
    match parse_amount_plain(b, minor_units) {
        Some(r) => r,
        None => parse_amount_general(b, minor_units),
    }
}

/// The fast path, for the shape almost every amount has: 1–10 digits, optionally `.` and 1 to
/// `minor_units` (at most 4) digits, no sign. One pass, no overflow checks needed (the value is
/// below 10^14), so no 128-bit multiply either (which a checked u64 multiply becomes in WASM).
/// `None` hands anything else to `parse_amount_general`, which answers the same for these
/// inputs (a test checks both on many strings).
#[inline(always)]
fn parse_amount_plain(b: &[u8], minor_units: u8) -> Option<Result<i64, u8>> {
    if minor_units > MAX_PLAIN_MINOR_UNITS {
        return None;
    }
    let mut i = 0;
    let mut major = 0u64;
    while i < b.len() && b[i].is_ascii_digit() {
        if i == 10 {
            return None;
        }
        major = major * 10 + (b[i] - b'0') as u64;
        i += 1;
    }
    if i == 0 {
        return None;
    }
    let mut fraction = 0u64;
    let mut frac_digits = 0usize;
    if i < b.len() {
        if b[i] != b'.' {
            return None;
        }
        i += 1;
        while i < b.len() {
            // A digit past `minor_units` may be a trailing zero or a precision error: general path.
            if !b[i].is_ascii_digit() || frac_digits == minor_units as usize {
                return None;
            }
            fraction = fraction * 10 + (b[i] - b'0') as u64;
            frac_digits += 1;
            i += 1;
        }
        if frac_digits == 0 {
            return None;
        }
    }
    let scale = POW10[minor_units as usize];
    let value = major * scale + fraction * POW10[minor_units as usize - frac_digits];
    Some(if value == 0 {
        Err(AMOUNT_NON_POSITIVE)
    } else if value > MAX_MAJOR * scale {
        Err(AMOUNT_RANGE)
    } else {
        Ok(value as i64)
    })
}

/// The most minor units `parse_amount_plain` handles (every ISO 4217 currency has at most 4).
const MAX_PLAIN_MINOR_UNITS: u8 = 4;
static POW10: [u64; MAX_PLAIN_MINOR_UNITS as usize + 1] = [1, 10, 100, 1_000, 10_000];

/// The byte-by-byte path: every input, every code, in the documented order.
fn parse_amount_general(b: &[u8], minor_units: u8) -> Result<i64, u8> {
    let (negative, body) = match b {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, b),
    };
    let (int, frac) = match body.iter().position(|&c| c == b'.') {
        Some(p) => (&body[..p], &body[p + 1..]),
        None => (body, &body[body.len()..]),
    };
    let has_point = int.len() < body.len();
    if int.is_empty() || (has_point && frac.is_empty()) {
        return Err(AMOUNT_INVALID);
    }
    // A second '.' lands in `frac` and fails here.
    if !int.iter().chain(frac).all(u8::is_ascii_digit) {
        return Err(AMOUNT_INVALID);
    }

    let mut frac_sig = frac.len();
    while frac_sig > 0 && frac[frac_sig - 1] == b'0' {
        frac_sig -= 1;
    }
    if frac_sig > minor_units as usize {
        return Err(AMOUNT_PRECISION);
    }
    let frac = &frac[..frac_sig];

    let lead = int.iter().take_while(|&&c| c == b'0').count();
    let int = &int[lead..];
    // `frac` now ends in a non-zero digit unless empty, so this is "the value is zero".
    if negative || (int.is_empty() && frac.is_empty()) {
        return Err(AMOUNT_NON_POSITIVE);
    }
    // More than 10 significant integer digits is at least 10^10 > 10^9.
    if int.len() > 10 {
        return Err(AMOUNT_RANGE);
    }

    // Here int < 10^10 and frac has at most `minor_units` digits; every step is checked so that
    // an absurd `minor_units` gives AMOUNT_RANGE instead of wrapping.
    let scale = match 10u64.checked_pow(minor_units as u32) {
        Some(s) => s,
        None => return Err(AMOUNT_RANGE),
    };
    let mut major = 0u64;
    for &d in int {
        major = major * 10 + (d - b'0') as u64;
    }
    let mut fraction = 0u64;
    for &d in frac {
        fraction = fraction * 10 + (d - b'0') as u64;
    }
    // Pad the fraction to `minor_units` digits: "1.5" GBP → 50 pence.
    let fraction = fraction * 10u64.pow((minor_units as usize - frac.len()) as u32);
    let value = major.checked_mul(scale).and_then(|v| v.checked_add(fraction));
    let limit = MAX_MAJOR.saturating_mul(scale);
    match value {
        Some(v) if v <= limit && v <= i64::MAX as u64 => Ok(v as i64),
        _ => Err(AMOUNT_RANGE),
    }
}

/// Checks an amount already in minor units (Arrow `amount_minor`): ≤ 0 → `AMOUNT_NON_POSITIVE`,
/// above 1,000,000,000 major units → `AMOUNT_RANGE`, else `OK`.
pub fn check_amount_minor(v: i64, minor_units: u8) -> u8 {
    if v <= 0 {
        return AMOUNT_NON_POSITIVE;
    }
    let limit = 10i64.checked_pow(minor_units as u32).and_then(|s| s.checked_mul(MAX_MAJOR as i64));
    match limit {
        Some(limit) if v > limit => AMOUNT_RANGE,
        _ => OK,
    }
}

// ---------------------------------------------------------------------------------------------
// Timestamps

/// 9999-12-31T23:59:59.999Z, the last instant with a four-digit year.
const MAX_MS: i64 = 253_402_300_799_999;
const MS_PER_DAY: i64 = 86_400_000;

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `days_from_civil`):
/// shift the year to start in March so the leap day is last, then count whole 400-year eras.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400; // [0, 399]
    let mp = (m + 9) % 12; // March = 0 … February = 11
    let doy = (153 * mp + 2) / 5 + d - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe - 719_468
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The value of `n` ASCII digits at `b[at..at + n]`, or `None` if any is not a digit or missing.
fn digits(b: &[u8], at: usize, n: usize) -> Option<i64> {
    let s = b.get(at..at + n)?;
    let mut v = 0i64;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (c - b'0') as i64;
    }
    Some(v)
}

/// Parses an event time into epoch milliseconds, or `None` (→ `TIMESTAMP_INVALID`).
///
/// Two forms:
/// - all digits: epoch milliseconds, 1–15 digits, at most 9999-12-31T23:59:59.999Z;
/// - `YYYY-MM-DDTHH:MM:SS[.f]` + offset, where the separator may be `T`, `t` or a space, the
///   fraction has 1–9 digits (truncated to milliseconds), and the offset, which is mandatory, is
///   `Z`, `z`, `±HH:MM` or `±HHMM` (hours 00–23, minutes 00–59; `-00:00` is read as UTC).
///
/// Ranges: year 1970–9999 (as written, before the offset is applied, so an early-1970 time
/// with a positive offset can give a slightly negative result), month 1–12, day within the
/// month (leap years per the Gregorian rule), hour 0–23, minute 0–59, second 0–59. A leap second
/// (`:60`) is rejected: epoch milliseconds cannot represent it, and no payment system needs it.
#[inline]
pub fn parse_timestamp_ms(b: &[u8]) -> Option<i64> {
    match parse_timestamp_plain(b) {
        Some(ms) => Some(ms),
        None => parse_timestamp_general(b),
    }
}

/// The fast path, for the shape almost every text timestamp has (JavaScript's `toISOString`):
/// `YYYY-MM-DDTHH:MM:SS.sssZ`, or the same without the fraction. All fourteen date and time
/// digits are checked at once, and the date arithmetic has no division: LLVM's WASM backend
/// leaves a division by a constant as a real divide instruction (tens of cycles), and the general
/// path's calendar takes seven of them.
/// Only a valid time is answered: anything else, including an out-of-range field, returns `None`
/// and goes to `parse_timestamp_general`, which gives the same value for what this accepts
/// (a test checks both on many strings).
#[inline(always)]
fn parse_timestamp_plain(b: &[u8]) -> Option<i64> {
    let millis = match b.len() {
        20 if b[19] == b'Z' => 0,
        24 if b[19] == b'.' && b[23] == b'Z' => {
            let (x, y, z) = (b[20].wrapping_sub(b'0'), b[21].wrapping_sub(b'0'), b[22].wrapping_sub(b'0'));
            if x > 9 || y > 9 || z > 9 {
                return None;
            }
            x as u32 * 100 + y as u32 * 10 + z as u32
        }
        _ => return None,
    };
    if b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    // The fourteen digits, YYYY MM DD HH MM SS, as scalars (an array would live in memory in
    // WASM). A byte that is not a digit wraps to a value above 9: `bad` collects them all.
    let mut bad = false;
    let mut two = |k: usize| {
        let (hi, lo) = (b[k].wrapping_sub(b'0'), b[k + 1].wrapping_sub(b'0'));
        bad |= (hi > 9) | (lo > 9);
        u32::from(hi) * 10 + u32::from(lo)
    };
    let year = two(0) * 100 + two(2);
    let (month, day) = (two(5), two(8));
    let (hour, minute, second) = (two(11), two(14), two(17));
    if bad {
        return None;
    }
    // The year's century, for the Gregorian rule (see `div100`).
    let century = div100(year);
    let leap = year & 3 == 0 && (century * 100 != year || century & 3 == 0);
    if year < 1970
        || !(1..=12).contains(&month)
        || day == 0
        || day > MONTH_DAYS[leap as usize][month as usize]
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    // Days before the year: 365 per year since 1970, plus the leap days in between, counted as
    // leap years up to the year before (y/4 − y/100 + y/400) less the 477 up to 1969.
    let before = year - 1;
    let c = div100(before);
    let leap_days = (before >> 2) - c + (c >> 2) - 477;
    let days = (year - 1970) * 365
        + leap_days
        + DAYS_BEFORE_MONTH[month as usize]
        + (leap && month > 2) as u32
        + day
        - 1;
    let secs = (hour * 60 + minute) * 60 + second;
    Some(days as i64 * MS_PER_DAY + secs as i64 * 1000 + millis as i64)
}

/// `x / 100` for any u32 as a multiply and a shift (the usual reciprocal; exact, a test checks),
/// because WASM would divide. `⌊⌊x/100⌋/4⌋ = ⌊x/400⌋`, so `div100(x) >> 2` is `x / 400`.
#[inline(always)]
fn div100(x: u32) -> u32 {
    ((u64::from(x) * 0x51EB_851F) >> 37) as u32
}

/// Days in a common year before each month (index 1–12).
static DAYS_BEFORE_MONTH: [u32; 13] = [0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];

/// Days per month (index 1–12), common and leap years.
static MONTH_DAYS: [[u32; 13]; 2] = [
    [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31],
    [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31],
];

/// The byte-by-byte path: both forms, every shape, every range check.
fn parse_timestamp_general(b: &[u8]) -> Option<i64> {
    if b.is_empty() {
        return None;
    }
    if b.iter().all(u8::is_ascii_digit) {
        if b.len() > 15 {
            return None;
        }
        let ms = digits(b, 0, b.len())?;
        return if ms <= MAX_MS { Some(ms) } else { None };
    }

    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (digits(b, 0, 4)?, digits(b, 5, 2)?, digits(b, 8, 2)?);
    let (hour, minute, second) = (digits(b, 11, 2)?, digits(b, 14, 2)?, digits(b, 17, 2)?);
    if !(1970..=9999).contains(&year)
        || !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }

    let mut pos = 19;
    let mut millis = 0i64;
    if b[pos] == b'.' {
        let n = b[pos + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 || n > 9 {
            return None;
        }
        // Truncate to milliseconds: take the first three digits, padding with zeros.
        for k in 0..3 {
            let d = if k < n { (b[pos + 1 + k] - b'0') as i64 } else { 0 };
            millis = millis * 10 + d;
        }
        pos += 1 + n;
    }

    let offset_minutes = match &b[pos..] {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), rest @ ..] => {
            let (oh, om) = match rest {
                [_, _, b':', _, _] => (digits(rest, 0, 2)?, digits(rest, 3, 2)?),
                [_, _, _, _] => (digits(rest, 0, 2)?, digits(rest, 2, 2)?),
                _ => return None,
            };
            if oh > 23 || om > 59 {
                return None;
            }
            let m = oh * 60 + om;
            if *sign == b'-' {
                -m
            } else {
                m
            }
        }
        _ => return None,
    };

    let days = days_from_civil(year, month, day);
    let local = days * MS_PER_DAY + ((hour * 60 + minute) * 60 + second) * 1000 + millis;
    Some(local - offset_minutes * 60_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tx_id_rules() {
        assert!(tx_id_ok(b"T1"));
        assert!(tx_id_ok(b"a"));
        assert!(tx_id_ok(b"ABC.def_123:xyz-9"));
        assert!(tx_id_ok(&[b'x'; 64]));
        assert!(!tx_id_ok(&[b'x'; 65]));
        assert!(!tx_id_ok(b""));
        for bad in [&b"a b"[..], b"a/b", b"a\0", b"caf\xc3\xa9", b"a+b", b"a\n", b"#1"] {
            assert!(!tx_id_ok(bad), "{bad:?}");
        }
    }

    #[test]
    fn currency_table_is_sorted_unique_and_sane() {
        for w in CURRENCIES.windows(2) {
            assert!(w[0].0 < w[1].0, "{:?} !< {:?}", w[0].0, w[1].0);
        }
        for (i, (code, mu)) in CURRENCIES.iter().enumerate() {
            assert!(code.iter().all(u8::is_ascii_uppercase));
            assert!(*mu <= 4);
            assert_eq!(currency_index(code), Some(i as u16));
            assert_eq!(currency_code(i as u16), Some(*code));
        }
        assert_eq!(currency_code(CURRENCIES.len() as u16), None);
    }

    #[test]
    fn currency_lookups() {
        assert_eq!(currency_minor_units(b"GBP"), Some(2));
        assert_eq!(currency_minor_units(b"EUR"), Some(2));
        assert_eq!(currency_minor_units(b"USD"), Some(2));
        assert_eq!(currency_minor_units(b"JPY"), Some(0));
        assert_eq!(currency_minor_units(b"KRW"), Some(0));
        assert_eq!(currency_minor_units(b"KWD"), Some(3));
        assert_eq!(currency_minor_units(b"BHD"), Some(3));
        assert_eq!(currency_minor_units(b"CLF"), Some(4));
        assert_eq!(currency_minor_units(b"UYW"), Some(4));
        assert_eq!(currency_minor_units(b"XCG"), Some(2));
        assert_eq!(currency_minor_units(b"AED"), Some(2));
        assert_eq!(currency_minor_units(b"ZWG"), Some(2));
        for unknown in [
            &b"gbp"[..],
            b"Gbp",
            b"GB",
            b"GBPP",
            b"",
            b"XAU",
            b"XAG",
            b"XPT",
            b"XPD",
            b"XTS",
            b"XXX",
            b"XDR",
            b"XSU",
            b"XUA",
            b"ANG",
            b"HRK",
            b"AAA",
            b"ZZZ",
            b"\xff\xff\xff",
        ] {
            assert_eq!(currency_index(unknown), None, "{unknown:?}");
            assert_eq!(currency_minor_units(unknown), None, "{unknown:?}");
        }
    }

    #[test]
    fn country_codes() {
        let count = (0..26u8)
            .flat_map(|a| (0..26u8).map(move |b| [b'A' + a, b'A' + b]))
            .filter(|c| country_ok(c))
            .count();
        assert_eq!(count, 250); // 249 assigned + XK
        for ok in [b"GB", b"US", b"DE", b"XK", b"AX", b"SS", b"BQ", b"CW", b"SX", b"AQ", b"ZW", b"AD"] {
            assert!(country_ok(ok), "{ok:?}");
        }
        for bad in [&b"UK"[..], b"EU", b"XX", b"AA", b"gb", b"Gb", b"G", b"GBR", b"", b"[A", b"A@"] {
            assert!(!country_ok(bad), "{bad:?}");
        }
    }

    #[test]
    fn enumerations() {
        assert_eq!(direction(b"debit"), Some(1));
        assert_eq!(direction(b"credit"), Some(2));
        for bad in [&b"Debit"[..], b"DEBIT", b"debit ", b"", b"credits"] {
            assert_eq!(direction(bad), None);
        }
        let all = [&b"FPS"[..], b"BACS", b"CHAPS", b"SWIFT", b"CARD", b"CASH", b"INTERNAL"];
        for (i, c) in all.iter().enumerate() {
            assert_eq!(channel(c), Some(i as u8 + 1));
        }
        for bad in [&b"fps"[..], b"Card", b"SEPA", b"", b"CASH ", b"FPS\0", b"CAS", b"INTERNALS", b"\0FPS"] {
            assert_eq!(channel(bad), None);
        }
        for bad in [&b"debit\0"[..], b"debi", b"credit\0\0", b"creditor"] {
            assert_eq!(direction(bad), None);
        }
    }

    #[test]
    fn amounts_parse_exactly() {
        assert_eq!(parse_amount(b"1234.50", 2), Ok(123_450));
        assert_eq!(parse_amount(b"1234.5", 2), Ok(123_450));
        assert_eq!(parse_amount(b"1234", 2), Ok(123_400));
        assert_eq!(parse_amount(b"+1", 2), Ok(100));
        assert_eq!(parse_amount(b"00012.50", 2), Ok(1250));
        assert_eq!(parse_amount(b"1.500", 2), Ok(150));
        assert_eq!(parse_amount(b"1.50000000000000000000000000", 2), Ok(150));
        assert_eq!(parse_amount(b"0.01", 2), Ok(1));
        assert_eq!(parse_amount(b"999999999.99", 2), Ok(99_999_999_999));
        assert_eq!(parse_amount(b"1000000000.00", 2), Ok(100_000_000_000));
        assert_eq!(parse_amount(b"1000000000", 2), Ok(100_000_000_000));
        assert_eq!(parse_amount(b"0001000000000", 0), Ok(1_000_000_000));
        assert_eq!(parse_amount(b"5000", 0), Ok(5000));
        assert_eq!(parse_amount(b"5000.000", 0), Ok(5000));
        assert_eq!(parse_amount(b"1.234", 3), Ok(1234));
        assert_eq!(parse_amount(b"0.0001", 4), Ok(1));
        assert_eq!(parse_amount(b"1000000000.0000", 4), Ok(10_000_000_000_000));
    }

    #[test]
    fn amount_errors_in_order() {
        for bad in [
            &b""[..],
            b"-",
            b"+",
            b".",
            b".5",
            b"5.",
            b"-.5",
            b"1e3",
            b"1E3",
            b" 5",
            b"5 ",
            b"1,000.00",
            b"1 000",
            b"1.2.3",
            b"--5",
            b"+-5",
            b"0x10",
            b"\xef\xbc\x95",
            b"NaN",
            b"Infinity",
        ] {
            assert_eq!(parse_amount(bad, 2), Err(AMOUNT_INVALID), "{bad:?}");
        }
        assert_eq!(parse_amount(b"1.234", 2), Err(AMOUNT_PRECISION));
        assert_eq!(parse_amount(b"1.5", 0), Err(AMOUNT_PRECISION));
        assert_eq!(parse_amount(b"100.50", 0), Err(AMOUNT_PRECISION));
        assert_eq!(parse_amount(b"0.00001", 4), Err(AMOUNT_PRECISION));
        // Precision is checked before sign and range.
        assert_eq!(parse_amount(b"-1.234", 2), Err(AMOUNT_PRECISION));
        assert_eq!(parse_amount(b"99999999999999.999", 2), Err(AMOUNT_PRECISION));

        for np in [&b"0"[..], b"-0", b"+0", b"0.00", b"-0.00", b"000.000", b"-1", b"-0.01", b"-5000000000000"]
        {
            assert_eq!(parse_amount(np, 2), Err(AMOUNT_NON_POSITIVE), "{np:?}");
        }
        assert_eq!(parse_amount(&[b'0'; 500], 2), Err(AMOUNT_NON_POSITIVE));

        assert_eq!(parse_amount(b"1000000000.01", 2), Err(AMOUNT_RANGE));
        assert_eq!(parse_amount(b"1000000001", 0), Err(AMOUNT_RANGE));
        assert_eq!(parse_amount(b"9999999999", 2), Err(AMOUNT_RANGE));
        assert_eq!(parse_amount(b"10000000000", 2), Err(AMOUNT_RANGE));
        assert_eq!(parse_amount(b"18446744073709551617", 2), Err(AMOUNT_RANGE));
        assert_eq!(parse_amount(b"1000000000.0001", 4), Err(AMOUNT_RANGE));
        let mut huge = [b'9'; 1000];
        assert_eq!(parse_amount(&huge, 2), Err(AMOUNT_RANGE));
        huge[0] = b'-';
        assert_eq!(parse_amount(&huge, 2), Err(AMOUNT_NON_POSITIVE));
        // Absurd minor units never overflow.
        assert_eq!(parse_amount(b"1", 19), Err(AMOUNT_RANGE));
        assert_eq!(parse_amount(b"1", 30), Err(AMOUNT_RANGE));
        assert_eq!(parse_amount(b"1", 255), Err(AMOUNT_RANGE));
        assert_eq!(parse_amount(b"9", 18), Ok(9_000_000_000_000_000_000));
        assert_eq!(parse_amount(b"10", 18), Err(AMOUNT_RANGE));
        assert_eq!(parse_amount(b"1", 18), Ok(1_000_000_000_000_000_000));
    }

    #[test]
    fn amount_minor_checks() {
        assert_eq!(check_amount_minor(1, 2), OK);
        assert_eq!(check_amount_minor(99_999_999_999, 2), OK);
        assert_eq!(check_amount_minor(100_000_000_000, 2), OK);
        assert_eq!(check_amount_minor(100_000_000_001, 2), AMOUNT_RANGE);
        assert_eq!(check_amount_minor(1_000_000_000, 0), OK);
        assert_eq!(check_amount_minor(1_000_000_001, 0), AMOUNT_RANGE);
        assert_eq!(check_amount_minor(10_000_000_000_000, 4), OK);
        assert_eq!(check_amount_minor(10_000_000_000_001, 4), AMOUNT_RANGE);
        assert_eq!(check_amount_minor(0, 2), AMOUNT_NON_POSITIVE);
        assert_eq!(check_amount_minor(-1, 2), AMOUNT_NON_POSITIVE);
        assert_eq!(check_amount_minor(i64::MIN, 2), AMOUNT_NON_POSITIVE);
        assert_eq!(check_amount_minor(i64::MAX, 2), AMOUNT_RANGE);
        assert_eq!(check_amount_minor(i64::MAX, 200), OK);
    }

    #[test]
    fn currency_slots_agree_with_a_search_of_the_list() {
        let search = |code: &[u8]| CURRENCIES.iter().position(|e| e.0[..] == *code).map(|i| i as u16);
        for a in 0..=255u8 {
            for b in b'@'..=b'[' {
                for c in [b'@', b'A', b'B', b'D', b'F', b'P', b'R', b'S', b'Y', b'Z', b'[', b'a', 0xC3] {
                    let code = [a, b, c];
                    assert_eq!(currency_index(&code), search(&code), "{code:?}");
                }
            }
        }
        for a in b'A'..=b'Z' {
            for b in b'A'..=b'Z' {
                for c in b'A'..=b'Z' {
                    let code = [a, b, c];
                    assert_eq!(currency_index(&code), search(&code), "{code:?}");
                }
            }
        }
        assert_eq!(index_minor_units(crate::validate::NO_CURRENCY), None);
    }

    /// Random strings over `alphabet` (and now and then any byte), for fast-vs-general checks.
    fn random_strings(alphabet: &[u8], max_len: usize, count: usize, mut each: impl FnMut(&[u8])) {
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut buf = [0u8; 64];
        for k in 0..count {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % (max_len as u64 + 1)) as usize;
            for b in buf[..len].iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = if k % 7 == 0 && x & 0xF0 == 0 {
                    (x >> 8) as u8
                } else {
                    alphabet[(x % alphabet.len() as u64) as usize]
                };
            }
            each(&buf[..len]);
        }
    }

    #[test]
    fn amount_fast_path_agrees_with_the_general_path() {
        let mut fast = 0;
        random_strings(b"0123456789000.", 16, 400_000, |b| {
            for mu in 0..=6u8 {
                if let Some(r) = parse_amount_plain(b, mu) {
                    assert_eq!(r, parse_amount_general(b, mu), "{b:?} {mu}");
                    fast += 1;
                }
                assert_eq!(parse_amount(b, mu), parse_amount_general(b, mu), "{b:?} {mu}");
            }
        });
        // Most well-formed amounts take the fast path.
        assert!(fast > 100_000, "{fast}");
        for (b, mu) in [
            (&b"1000000000"[..], 2),
            (b"1000000000.00", 2),
            (b"1000000000.01", 2),
            (b"9999999999.9999", 4),
            (b"0000000000.0", 1),
            (b"0.0001", 4),
            (b"1", 0),
            (b"1.0", 0),
        ] {
            assert_eq!(parse_amount(b, mu), parse_amount_general(b, mu), "{b:?} {mu}");
        }
    }

    #[test]
    fn div100_is_exact() {
        let mut x = 0u32;
        let mut step = 1u32;
        while let Some(next) = x.checked_add(step) {
            assert_eq!(div100(x), x / 100, "{x}");
            assert_eq!(div100(x) >> 2, x / 400, "{x}");
            if x > 1_000_000 {
                step = step.saturating_add(step / 64 + 1);
            }
            x = next;
        }
        for x in [u32::MAX, u32::MAX - 1, 4_294_967_200, 4_294_967_199] {
            assert_eq!(div100(x), x / 100, "{x}");
        }
        let mut month_start = 0;
        for m in 1..=12 {
            assert_eq!(DAYS_BEFORE_MONTH[m], month_start);
            month_start += MONTH_DAYS[0][m];
        }
    }

    #[test]
    fn timestamp_fast_path_agrees_with_the_general_path() {
        let mut fast = 0;
        let mut check = |b: &[u8]| {
            if let Some(ms) = parse_timestamp_plain(b) {
                assert_eq!(Some(ms), parse_timestamp_general(b), "{b:?}");
                fast += 1;
            }
            assert_eq!(parse_timestamp_ms(b), parse_timestamp_general(b), "{b:?}");
        };
        // Every date of a few centuries and a few leap-year edges, at a few times of day.
        for y in [1970, 1971, 1999, 2000, 2023, 2024, 2100, 2400, 9999] {
            for m in 0..=13 {
                for d in 0..=32 {
                    for t in ["00:00:00", "23:59:59", "12:34:56", "24:00:00", "00:60:00", "00:00:60"] {
                        for frac in ["", ".000", ".999", ".5", ".12a"] {
                            for z in ["Z", "z", "+00:00"] {
                                let s = std::format!("{y:04}-{m:02}-{d:02}T{t}{frac}{z}");
                                check(s.as_bytes());
                            }
                        }
                    }
                }
            }
        }
        // Every year from before 1970 to 2600 and a few far ones, across February's end.
        for y in (1960..2600).chain([2800, 3200, 4000, 8000, 9996, 9998]) {
            for md in ["01-01", "02-28", "02-29", "03-01", "12-31"] {
                check(std::format!("{y:04}-{md}T01:02:03.456Z").as_bytes());
            }
        }
        // Mutations of a valid time: every byte replaced by a few others.
        for base in ["2024-02-29T10:30:00.123Z", "2023-12-31T23:59:59Z"] {
            for i in 0..base.len() {
                for c in [b'0', b'9', b'-', b':', b'T', b'Z', b'.', b' ', b'/', 0xFF] {
                    let mut b = std::vec::Vec::from(base.as_bytes());
                    b[i] = c;
                    check(&b);
                }
            }
        }
        random_strings(b"0123456789-:.TZ", 26, 200_000, |b| check(b));
        assert!(fast > 3_000, "{fast}");
    }

    #[test]
    fn hostile_amounts_never_panic() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let alphabet = b"0123456789.-+e 0000";
        for len in 0..64 {
            for _ in 0..200 {
                let mut buf = [0u8; 64];
                for b in buf[..len].iter_mut() {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    *b =
                        if x & 0x100 == 0 { alphabet[(x % alphabet.len() as u64) as usize] } else { x as u8 };
                }
                for mu in [0u8, 2, 3, 4, 20] {
                    let _ = parse_amount(&buf[..len], mu);
                }
                let _ = parse_timestamp_ms(&buf[..len]);
                let _ = tx_id_ok(&buf[..len]);
                let _ = currency_index(&buf[..len.min(4)]);
            }
        }
    }

    fn ts(s: &str) -> Option<i64> {
        parse_timestamp_ms(s.as_bytes())
    }

    #[test]
    fn days_from_civil_matches_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(1970, 1, 2), 1);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2024, 2, 29), 19_782);
        assert_eq!(days_from_civil(9999, 12, 31), 2_932_896);
        // Consecutive dates are consecutive days, across every month of a few centuries.
        let mut expect = days_from_civil(1970, 1, 1);
        for y in 1970..2410 {
            for m in 1..=12 {
                for d in 1..=days_in_month(y, m) {
                    assert_eq!(days_from_civil(y, m, d), expect, "{y}-{m}-{d}");
                    expect += 1;
                }
            }
        }
    }

    #[test]
    fn timestamps_iso() {
        assert_eq!(ts("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(ts("2024-01-15T10:30:00Z"), Some(1_705_314_600_000));
        assert_eq!(ts("2024-01-15t10:30:00z"), Some(1_705_314_600_000));
        assert_eq!(ts("2024-01-15 10:30:00Z"), Some(1_705_314_600_000));
        assert_eq!(ts("2024-01-15T10:30:00.123Z"), Some(1_705_314_600_123));
        assert_eq!(ts("2024-01-15T10:30:00.1Z"), Some(1_705_314_600_100));
        assert_eq!(ts("2024-01-15T10:30:00.12Z"), Some(1_705_314_600_120));
        assert_eq!(ts("2024-01-15T10:30:00.123999999Z"), Some(1_705_314_600_123));
        assert_eq!(ts("2024-01-15T11:30:00+01:00"), Some(1_705_314_600_000));
        assert_eq!(ts("2024-01-15T11:30:00+0100"), Some(1_705_314_600_000));
        assert_eq!(ts("2024-01-15T05:00:00-05:30"), Some(1_705_314_600_000));
        assert_eq!(ts("2024-01-15T10:30:00-00:00"), Some(1_705_314_600_000));
        assert_eq!(ts("2024-01-15T10:30:00+00:00"), Some(1_705_314_600_000));
        assert_eq!(ts("2024-01-16T00:30:00+14:00"), Some(1_705_314_600_000));
        // Leap days.
        assert_eq!(ts("2024-02-29T00:00:00Z"), Some(19_782 * MS_PER_DAY));
        assert!(ts("2000-02-29T00:00:00Z").is_some());
        assert!(ts("2023-02-29T00:00:00Z").is_none());
        assert!(ts("1900-02-29T00:00:00Z").is_none());
        assert!(ts("2100-02-29T00:00:00Z").is_none());
        assert_eq!(ts("2023-12-31T23:59:59.999Z"), Some(1_704_067_199_999));
        assert_eq!(ts("9999-12-31T23:59:59.999Z"), Some(MAX_MS));
        // Early 1970 with a positive offset is before the epoch.
        assert_eq!(ts("1970-01-01T00:30:00+01:00"), Some(-1_800_000));
    }

    #[test]
    fn timestamps_rejected() {
        for bad in [
            "",
            "2024-01-15T10:30:00",
            "2024-01-15T10:30:00+01",
            "2024-01-15T10:30:00+1:00",
            "2024-01-15T10:30:00+01:0",
            "2024-01-15T10:30:00+24:00",
            "2024-01-15T10:30:00+01:60",
            "2024-01-15T10:30:00 Z",
            "2024-01-15T10:30:00ZZ",
            "2024-01-15T10:30:00.Z",
            "2024-01-15T10:30:00.1234567891Z",
            "2024-01-15T10:30Z",
            "2024-01-15X10:30:00Z",
            "2024-01-15T10:30:60Z",
            "2024-01-15T24:00:00Z",
            "2024-01-15T10:60:00Z",
            "2024-13-15T10:30:00Z",
            "2024-00-15T10:30:00Z",
            "2024-01-00T10:30:00Z",
            "2024-01-32T10:30:00Z",
            "2024-04-31T10:30:00Z",
            "1969-12-31T23:59:59Z",
            "0000-01-01T00:00:00Z",
            "10000-01-01T00:00:00Z",
            "2024/01/15T10:30:00Z",
            "2024-1-15T10:30:00Z",
            "+2024-01-15T10:30:00Z",
            "2024-01-15T10:30:00.12a3Z",
            "2024-01-15T10:30:00Z\n",
            " 2024-01-15T10:30:00Z",
            "2024-01-15",
            "-1705314600000",
            "1705314600000.5",
            "1.7e12",
            "2024-01-15T10:30:00+01:00\u{0}",
            "2024-01-15T10:\u{e9}0:00Z",
        ] {
            assert_eq!(ts(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn timestamps_epoch_ms() {
        assert_eq!(ts("0"), Some(0));
        assert_eq!(ts("1705314600000"), Some(1_705_314_600_000));
        assert_eq!(ts("001705314600000"), Some(1_705_314_600_000)); // 15 digits
        assert_eq!(ts("0001705314600000"), None); // 16 digits
        assert_eq!(ts("253402300799999"), Some(MAX_MS));
        assert_eq!(ts("253402300800000"), None);
        assert_eq!(ts("999999999999999"), None);
        assert_eq!(ts("9999999999999999"), None);
        assert_eq!(ts(&"9".repeat(1000)), None);
    }
}
