//! The ABI boundary: every export, and the only `unsafe` in the crate.
//!
//! JavaScript owns the linear memory above `__heap_base` (a bump region it resets per batch, see
//! `engine/wasm-memory.ts`), copies column buffers into it and passes raw pointers here. Each export
//! turns pointers into slices once and calls a safe kernel. The loaded tables live in statics that
//! only these functions touch; WASM instances are single-threaded, one per worker.

use crate::column::{I64Col, StrCol};
use crate::iban::{self, Registry};
use crate::modulus::{self, ModulusTable};
use crate::validate::{self, Batch, Out, Params, FIELD_COUNT};
use core::slice;

static mut MODULUS: ModulusTable = ModulusTable::new();
static mut REGISTRY: Registry = Registry::new();

/// Slice from a JS-provided pointer; a null pointer or zero length gives an empty slice.
unsafe fn bytes<'a>(ptr: usize, len: usize) -> &'a [u8] {
    if ptr == 0 || len == 0 {
        &[]
    } else {
        slice::from_raw_parts(ptr as *const u8, len)
    }
}

unsafe fn bytes_mut<'a, T>(ptr: usize, len: usize) -> &'a mut [T] {
    if ptr == 0 || len == 0 {
        &mut []
    } else {
        slice::from_raw_parts_mut(ptr as *mut T, len)
    }
}

/// A Utf8 column from its four descriptor words: offsets, data, data length, validity (0 = none).
/// Offsets 0 means the column is absent.
unsafe fn str_col<'a>(words: &[u32], n: usize) -> StrCol<'a> {
    let (offsets, data, data_len, validity) =
        (words[0] as usize, words[1] as usize, words[2] as usize, words[3] as usize);
    if offsets == 0 {
        return StrCol::EMPTY;
    }
    StrCol::new(
        slice::from_raw_parts(offsets as *const i32, n + 1),
        bytes(data, data_len),
        if validity == 0 { None } else { Some(bytes(validity, n.div_ceil_compat(8))) },
    )
}

/// An Int64 column from two descriptor words: values, validity (0 = none). Values 0 = absent.
unsafe fn i64_col<'a>(words: &[u32], n: usize) -> I64Col<'a> {
    let (values, validity) = (words[0] as usize, words[1] as usize);
    if values == 0 {
        return I64Col::EMPTY;
    }
    I64Col {
        values: slice::from_raw_parts(values as *const i64, n),
        validity: if validity == 0 { None } else { Some(bytes(validity, n.div_ceil_compat(8))) },
    }
}

trait DivCeil {
    fn div_ceil_compat(self, d: usize) -> usize;
}
impl DivCeil for usize {
    // `usize::div_ceil` is newer than the rustc 1.63 that builds the module.
    fn div_ceil_compat(self, d: usize) -> usize {
        (self + d - 1) / d
    }
}

/// Loads the Vocalink weight and substitution tables. Returns the row count, or minus the
/// 1-based line number of the first bad line (the old table is then gone: the caller refuses to start).
#[no_mangle]
pub unsafe extern "C" fn modulus_load(v_ptr: usize, v_len: usize, s_ptr: usize, s_len: usize) -> i32 {
    let table = &mut *core::ptr::addr_of_mut!(MODULUS);
    match table.load(bytes(v_ptr, v_len), bytes(s_ptr, s_len)) {
        Ok(n) => n as i32,
        Err(line) => -(line as i32),
    }
}

/// Loads the IBAN registry spec (`CC,length,bban_format` lines). Same return convention.
#[no_mangle]
pub unsafe extern "C" fn registry_load(ptr: usize, len: usize) -> i32 {
    let reg = &mut *core::ptr::addr_of_mut!(REGISTRY);
    match reg.load(bytes(ptr, len)) {
        Ok(n) => n as i32,
        Err(line) => -(line as i32),
    }
}

/// IBAN column kernel: `desc` is one Utf8 descriptor (4 words).
#[no_mangle]
pub unsafe extern "C" fn iban_check_column(desc: usize, n: usize, out_codes: usize, out_country: usize) {
    let words = slice::from_raw_parts(desc as *const u32, 4);
    let reg = &*core::ptr::addr_of!(REGISTRY);
    iban::check_column(reg, str_col(words, n), bytes_mut(out_codes, n), bytes_mut(out_country, 2 * n));
}

/// Modulus column kernel: `desc` is two Utf8 descriptors (sort codes, account numbers).
#[no_mangle]
pub unsafe extern "C" fn modulus_check_column(desc: usize, n: usize, out_codes: usize) {
    let words = slice::from_raw_parts(desc as *const u32, 8);
    let table = &*core::ptr::addr_of!(MODULUS);
    modulus::check_column(table, str_col(&words[0..4], n), str_col(&words[4..8], n), bytes_mut(out_codes, n));
}

/// Number of u32 words in the `validate_batch` descriptor.
pub const BATCH_DESC_WORDS: usize = 17 * 4 + 2 * 2 + 6;

#[no_mangle]
pub extern "C" fn batch_desc_words() -> usize {
    BATCH_DESC_WORDS
}

#[no_mangle]
pub extern "C" fn field_count() -> usize {
    FIELD_COUNT
}

/// The fused validation of a batch. Descriptor layout (u32 words), mirrored in `engine/kernels.ts`:
/// 17 Utf8 columns × 4 words (tx_id, ts_text, amount_text, currency, direction, channel, account_id,
/// customer_id, sort_code, account_number, iban, cp_name, cp_sort_code, cp_account_number, cp_iban,
/// cp_country, reference), 2 Int64 columns × 2 words (ts_ms, amount_minor), then 6 output pointers
/// (mask u32, codes u8, amount_minor i64, ts_ms i64, currency u16, cp_country u8×2).
/// Returns 0, or -1 when a required output is missing.
#[no_mangle]
pub unsafe extern "C" fn validate_batch(desc: usize, n: usize, now_ms: f64, max_future_ms: f64) -> i32 {
    let w = slice::from_raw_parts(desc as *const u32, BATCH_DESC_WORDS);
    let s = |k: usize| str_col(&w[k * 4..k * 4 + 4], n);
    let base = 17 * 4;
    let batch = Batch {
        n,
        tx_id: s(0),
        ts_text: s(1),
        amount_text: s(2),
        currency: s(3),
        direction: s(4),
        channel: s(5),
        account_id: s(6),
        customer_id: s(7),
        sort_code: s(8),
        account_number: s(9),
        iban: s(10),
        cp_name: s(11),
        cp_sort_code: s(12),
        cp_account_number: s(13),
        cp_iban: s(14),
        cp_country: s(15),
        reference: s(16),
        ts_ms: i64_col(&w[base..base + 2], n),
        amount_minor: i64_col(&w[base + 2..base + 4], n),
    };
    let o = &w[base + 4..base + 10];
    let mut out = Out {
        mask: bytes_mut(o[0] as usize, n),
        codes: bytes_mut(o[1] as usize, FIELD_COUNT * n),
        amount_minor: bytes_mut(o[2] as usize, n),
        ts_ms: bytes_mut(o[3] as usize, n),
        currency: bytes_mut(o[4] as usize, n),
        cp_country: bytes_mut(o[5] as usize, 2 * n),
    };
    if n > 0 && !out.fits(n) {
        return -1;
    }
    let params = Params { now_ms: now_ms as i64, max_future_ms: max_future_ms as i64 };
    let table = &*core::ptr::addr_of!(MODULUS);
    let reg = &*core::ptr::addr_of!(REGISTRY);
    validate::validate_batch(&batch, &params, table, reg, &mut out);
    0
}
