//! The fused validation step: every CONTRACT §1 rule over a whole batch, column by column.
//!
//! Each field is checked in its own tight loop over all rows (one column stays hot in cache), and
//! writes one reason code per row into its slice of `Out::codes` (field-major, `codes[f * n + i]`);
//! only a party's sort code, account number and IBAN go row by row together, so that the IBAN can
//! reuse the pair's modulus verdict (see `account_fields`). A last pass folds those codes into one
//! bit set per row, which is what the engine routes on.
//!
//! Throughput matters here (millions of rows a second in WASM), so the hot paths avoid what is
//! slow in WASM in particular: divisions (even by constants, see `modulus::div10`), small arrays
//! (they live in linear memory) and branches on the value a row holds (the rows are in no order).

use crate::codes::*;
use crate::column::{I64Col, StrCol};
use crate::fields;
use crate::iban::{self, Registry};
use crate::modulus::{self, Memo, ModulusTable};

/// Field slots, in the order of `Out::codes`; mirrored by `FIELDS` in `engine/codes.ts`.
pub const F_TX_ID: usize = 0;
pub const F_TS: usize = 1;
pub const F_AMOUNT: usize = 2;
pub const F_CURRENCY: usize = 3;
pub const F_DIRECTION: usize = 4;
pub const F_CHANNEL: usize = 5;
pub const F_ACCOUNT_ID: usize = 6;
pub const F_CUSTOMER_ID: usize = 7;
pub const F_SORT_CODE: usize = 8;
pub const F_ACCOUNT_NUMBER: usize = 9;
pub const F_IBAN: usize = 10;
pub const F_CP_NAME: usize = 11;
pub const F_CP_SORT_CODE: usize = 12;
pub const F_CP_ACCOUNT_NUMBER: usize = 13;
pub const F_CP_IBAN: usize = 14;
pub const F_CP_COUNTRY: usize = 15;
pub const F_REFERENCE: usize = 16;
pub const FIELD_COUNT: usize = 17;

/// Currency index written for a row whose currency is unknown or absent.
pub const NO_CURRENCY: u16 = u16::MAX;
/// The most minor units any ISO 4217 currency has (CLF, UYW): used to parse an amount whose
/// currency is unknown, so the row is not also blamed for the amount's precision.
const MAX_MINOR_UNITS: u8 = 4;

pub struct Batch<'a> {
    pub n: usize,
    pub tx_id: StrCol<'a>,
    /// Event time as text (ISO 8601 or epoch-ms digits) or as Int64/Timestamp(ms): one of the two.
    pub ts_text: StrCol<'a>,
    pub ts_ms: I64Col<'a>,
    /// Amount as decimal text or as Int64 minor units: one of the two.
    pub amount_text: StrCol<'a>,
    pub amount_minor: I64Col<'a>,
    pub currency: StrCol<'a>,
    pub direction: StrCol<'a>,
    pub channel: StrCol<'a>,
    pub account_id: StrCol<'a>,
    pub customer_id: StrCol<'a>,
    pub sort_code: StrCol<'a>,
    pub account_number: StrCol<'a>,
    pub iban: StrCol<'a>,
    pub cp_name: StrCol<'a>,
    pub cp_sort_code: StrCol<'a>,
    pub cp_account_number: StrCol<'a>,
    pub cp_iban: StrCol<'a>,
    pub cp_country: StrCol<'a>,
    pub reference: StrCol<'a>,
}

pub struct Params {
    pub now_ms: i64,
    pub max_future_ms: i64,
}

pub struct Out<'a> {
    /// One bit per reason code per row (`1 << code`); 0 means valid.
    pub mask: &'a mut [u32],
    /// `FIELD_COUNT * n` codes, field-major.
    pub codes: &'a mut [u8],
    pub amount_minor: &'a mut [i64],
    pub ts_ms: &'a mut [i64],
    /// Currency index (see `fields::currency_index`), or `NO_CURRENCY`.
    pub currency: &'a mut [u16],
    /// Counterparty country, two ASCII letters per row (given, else from the counterparty IBAN), or 0,0.
    pub cp_country: &'a mut [u8],
}

impl<'a> Out<'a> {
    /// True when every output slice is large enough for `n` rows; the FFI checks this once.
    pub fn fits(&self, n: usize) -> bool {
        self.mask.len() >= n
            && self.codes.len() >= FIELD_COUNT * n
            && self.amount_minor.len() >= n
            && self.ts_ms.len() >= n
            && self.currency.len() >= n
            && self.cp_country.len() >= 2 * n
    }
}

/// Counts UTF-8 characters (not bytes): limits in the contract are in characters.
#[inline]
fn char_count(b: &[u8]) -> usize {
    let mut n = 0;
    for &c in b {
        if c & 0xC0 != 0x80 {
            n += 1;
        }
    }
    n
}

/// More than `max_chars` characters. A character is at least one byte, so a value of at most
/// `max_chars` bytes (almost every one) needs no count.
#[inline]
fn too_long(b: &[u8], max_chars: usize) -> bool {
    b.len() > max_chars && char_count(b) > max_chars
}

fn required_text(col: StrCol, n: usize, max_chars: usize, out: &mut [u8]) {
    for (i, o) in out.iter_mut().enumerate().take(n) {
        *o = match col.get_present(i) {
            None => MISSING_FIELD,
            Some(b) if too_long(b, max_chars) => FIELD_TOO_LONG,
            Some(_) => OK,
        };
    }
}

fn optional_text(col: StrCol, n: usize, max_chars: usize, out: &mut [u8]) {
    for (i, o) in out.iter_mut().enumerate().take(n) {
        *o = match col.get_present(i) {
            Some(b) if too_long(b, max_chars) => FIELD_TOO_LONG,
            _ => OK,
        };
    }
}

/// Codes for a sort code and account number as a pair: format codes land on the field at fault,
/// a failed modulus check on the account number (the sort code alone was well formed).
#[inline]
fn pair_codes(table: &ModulusTable, memo: &mut Memo, s: Option<&[u8]>, a: Option<&[u8]>) -> (u8, u8) {
    match (s, a) {
        (None, None) => (OK, OK),
        (Some(s), None) => match modulus::parse_sort_code(s) {
            Some(_) => (OK, MISSING_FIELD),
            None => (SORT_CODE_FORMAT, MISSING_FIELD),
        },
        (None, Some(_)) => (MISSING_FIELD, OK),
        (Some(s), Some(a)) => match modulus::check_account_memo(table, memo, s, a) {
            SORT_CODE_FORMAT => (SORT_CODE_FORMAT, OK),
            code => (OK, code),
        },
    }
}

/// An IBAN's code: registry checks, then for a GB IBAN the modulus check of the sort code and
/// account number it carries; and its country (see `IbanCheck::country`).
#[inline]
fn iban_code(registry: &Registry, table: &ModulusTable, memo: &mut Memo, raw: &[u8]) -> (u8, [u8; 2]) {
    let r = iban::check_iban(registry, raw);
    let mut code = r.code;
    if code == OK && r.country == *b"GB" {
        if let Some((sort, acct)) = iban::gb_sort_account(raw) {
            if !modulus::check_standard_memo(table, memo, sort, &acct) {
                code = ACCOUNT_MODULUS;
            }
        }
    }
    (code, r.country)
}

/// One party's account fields: the sort code and account number pair, then the IBAN, row by row.
/// Row by row rather than column by column because an IBAN usually carries the same sort code and
/// account as the pair beside it, and the memo still holds that verdict a moment later. Writes
/// the IBAN's country when it is well formed and `country` is given.
#[allow(clippy::too_many_arguments)]
fn account_fields(
    table: &ModulusTable,
    registry: &Registry,
    memo: &mut Memo,
    cols: [StrCol; 3],
    n: usize,
    out_sort: &mut [u8],
    out_account: &mut [u8],
    out_iban: &mut [u8],
    country: Option<&mut [u8]>,
) {
    let [sort_codes, accounts, ibans] = cols;
    let mut country = country;
    for i in 0..n {
        let (cs, ca) = pair_codes(table, memo, sort_codes.get_present(i), accounts.get_present(i));
        out_sort[i] = cs;
        out_account[i] = ca;
        out_iban[i] = match ibans.get_present(i) {
            None => OK,
            Some(raw) => {
                let (code, cc) = iban_code(registry, table, memo, raw);
                if let Some(c) = country.as_deref_mut() {
                    if cc[0] != 0 && code != IBAN_FORMAT && code != IBAN_COUNTRY {
                        c[2 * i] = cc[0];
                        c[2 * i + 1] = cc[1];
                    }
                }
                code
            }
        };
    }
}

/// Validates a whole batch. `out` must `fit` `batch.n` rows.
pub fn validate_batch(
    batch: &Batch,
    params: &Params,
    table: &ModulusTable,
    registry: &Registry,
    out: &mut Out,
) {
    let n = batch.n;
    let (codes, out_amount, out_ts, out_cur, out_country) = (
        &mut out.codes[..FIELD_COUNT * n],
        &mut out.amount_minor[..n],
        &mut out.ts_ms[..n],
        &mut out.currency[..n],
        &mut out.cp_country[..2 * n],
    );
    let mut fields_out = [(); FIELD_COUNT].map(|_| &mut [][..]);
    {
        let mut rest = codes;
        for slot in fields_out.iter_mut() {
            let (head, tail) = rest.split_at_mut(n);
            *slot = head;
            rest = tail;
        }
    }
    let [c_tx, c_ts, c_amount, c_currency, c_direction, c_channel, c_account_id, c_customer_id, c_sort, c_acct, c_iban, c_cp_name, c_cp_sort, c_cp_acct, c_cp_iban, c_cp_country, c_reference] =
        fields_out;

    for (i, o) in c_tx.iter_mut().enumerate() {
        *o = match batch.tx_id.get_present(i) {
            None => MISSING_FIELD,
            Some(b) if !fields::tx_id_ok(b) => TX_ID_FORMAT,
            Some(_) => OK,
        };
    }

    let latest = params.now_ms.saturating_add(params.max_future_ms);
    for i in 0..n {
        let ts = if batch.ts_ms.is_present() {
            batch.ts_ms.get(i).ok_or(MISSING_FIELD)
        } else {
            match batch.ts_text.get_present(i) {
                None => Err(MISSING_FIELD),
                Some(b) => fields::parse_timestamp_ms(b).ok_or(TIMESTAMP_INVALID),
            }
        };
        let (code, ms) = match ts {
            Ok(ms) if ms > latest => (TIMESTAMP_FUTURE, ms),
            Ok(ms) => (OK, ms),
            Err(code) => (code, 0),
        };
        c_ts[i] = code;
        out_ts[i] = ms;
    }

    for i in 0..n {
        let (code, idx) = match batch.currency.get_present(i) {
            None => (MISSING_FIELD, NO_CURRENCY),
            Some(b) => match fields::currency_index(b) {
                Some(idx) => (OK, idx),
                None => (CURRENCY_UNKNOWN, NO_CURRENCY),
            },
        };
        c_currency[i] = code;
        out_cur[i] = idx;
    }

    // The currency loop above has already looked the code up: `out_cur` gives the minor units.
    for i in 0..n {
        let minor_units = match fields::index_minor_units(out_cur[i]) {
            Some(mu) => mu,
            None => MAX_MINOR_UNITS,
        };
        let parsed = match batch.amount_minor.get(i) {
            Some(v) => match fields::check_amount_minor(v, minor_units) {
                OK => Ok(v),
                code => Err(code),
            },
            None => match batch.amount_text.get_present(i) {
                None => Err(MISSING_FIELD),
                Some(b) => fields::parse_amount(b, minor_units),
            },
        };
        let (code, v) = match parsed {
            Ok(v) => (OK, v),
            Err(code) => (code, 0),
        };
        c_amount[i] = code;
        out_amount[i] = v;
    }

    for (i, o) in c_direction.iter_mut().enumerate() {
        *o = match batch.direction.get_present_word(i) {
            None => MISSING_FIELD,
            Some((w, len)) if fields::direction_word(w, len).is_none() => DIRECTION_INVALID,
            Some(_) => OK,
        };
    }
    for (i, o) in c_channel.iter_mut().enumerate() {
        *o = match batch.channel.get_present_word(i) {
            None => MISSING_FIELD,
            Some((w, len)) if fields::channel_word(w, len).is_none() => CHANNEL_UNKNOWN,
            Some(_) => OK,
        };
    }

    required_text(batch.account_id, n, 64, c_account_id);
    optional_text(batch.customer_id, n, 64, c_customer_id);
    optional_text(batch.cp_name, n, 140, c_cp_name);
    optional_text(batch.reference, n, 140, c_reference);

    let mut memo = Memo::new();
    let own = [batch.sort_code, batch.account_number, batch.iban];
    account_fields(table, registry, &mut memo, own, n, c_sort, c_acct, c_iban, None);
    for c in out_country.iter_mut() {
        *c = 0;
    }
    let cp = [batch.cp_sort_code, batch.cp_account_number, batch.cp_iban];
    let cp_out_country = Some(&mut out_country[..]);
    account_fields(table, registry, &mut memo, cp, n, c_cp_sort, c_cp_acct, c_cp_iban, cp_out_country);

    // A given counterparty country wins over the one the IBAN implies.
    for i in 0..n {
        c_cp_country[i] = match batch.cp_country.get_present(i) {
            None => OK,
            Some(b) if b.len() == 2 && fields::country_ok(b) => {
                out_country[2 * i] = b[0];
                out_country[2 * i + 1] = b[1];
                OK
            }
            Some(_) => {
                out_country[2 * i] = 0;
                out_country[2 * i + 1] = 0;
                COUNTRY_UNKNOWN
            }
        };
    }

    let codes = &out.codes[..FIELD_COUNT * n];
    let mask = &mut out.mask[..n];
    for m in mask.iter_mut() {
        *m = 0;
    }
    for f in 0..FIELD_COUNT {
        let col = &codes[f * n..(f + 1) * n];
        for (m, &c) in mask.iter_mut().zip(col) {
            // `1 << c` unless c is OK (0), without a branch.
            *m |= (1u32 << (c & 31)) * (c != OK) as u32;
        }
    }
}
