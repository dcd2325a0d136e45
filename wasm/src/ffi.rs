//! The ABI boundary: every export, and the only `unsafe` in the crate.
//!
//! JavaScript owns the linear memory above `__heap_base` (a bump region it resets per batch, see
//! `engine/wasm-memory.ts`), copies column buffers into it and passes raw pointers here. Each export
//! turns pointers into slices once and calls a safe kernel. The loaded tables live in statics that
//! only these functions touch; WASM instances are single-threaded, one per worker.

use crate::aml;
use crate::cipher;
use crate::column::{I64Col, StrCol};
use crate::dict;
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

// ---------------------------------------------------------------------------------------------
// AML scoring (`aml.rs`). The arena is JavaScript's: allocated once per shard outside the bump
// region, described here by its address and slot count.

static mut AML_ARENA: usize = 0;
static mut AML_CAP: usize = 0;
static mut AML_PARAMS: aml::Params = aml::Params::DEFAULT;
static mut AML_DERIVE: aml::Derive = aml::Derive::EMPTY;

/// Loads the rate table (`count` records of three i64: the code's three bytes, num, den), the
/// 676-byte high-risk country table and the round-amount step. Returns the rates taken, or -1
/// minus the index of the first record whose code is not ISO 4217.
#[no_mangle]
pub unsafe extern "C" fn aml_set_derive(
    rates: usize,
    count: usize,
    high_risk: usize,
    round_multiple: f64,
) -> i32 {
    let d = &mut *core::ptr::addr_of_mut!(AML_DERIVE);
    *d = aml::Derive::EMPTY;
    let words: &[i64] = bytes_mut(rates, count * 3);
    for k in 0..count {
        let c = words[3 * k] as u32;
        let code = [(c >> 16) as u8, (c >> 8) as u8, c as u8];
        if !d.set_rate(&code, words[3 * k + 1], words[3 * k + 2]) {
            return -1 - k as i32;
        }
    }
    d.high_risk.copy_from_slice(bytes(high_risk, 676));
    d.set_round_multiple(round_multiple as i64);
    count as i32
}

/// Derives GBP amounts and flags. Descriptor (u32 words): amount, currency Utf8 (4 words),
/// country (2 bytes per row), compute_gbp, gbp, flags, currency indexes (u16 per row, as the
/// validator found them; 0 to parse the Utf8 column instead).
#[no_mangle]
pub unsafe extern "C" fn aml_derive(desc: usize, n: usize) {
    let w = slice::from_raw_parts(desc as *const u32, 10);
    let d = &*core::ptr::addr_of!(AML_DERIVE);
    let currency = match w[9] {
        0 => aml::Currencies::Text(str_col(&w[1..5], n)),
        at => aml::Currencies::Index(bytes_mut::<u16>(at as usize, n)),
    };
    aml::derive(
        d,
        bytes_mut::<i64>(w[0] as usize, n),
        currency,
        bytes(w[5] as usize, 2 * n),
        w[6] != 0,
        bytes_mut(w[7] as usize, n),
        bytes_mut(w[8] as usize, n),
    );
}

/// A batch's scoring inputs besides event time, in one call: account keys, each row's flags
/// (`base`, the credit flag, then what `aml_derive` adds) and, with compute_gbp, GBP amounts.
/// Descriptor (u32 words): `aml_derive`'s ten, then account Utf8 (4 words), direction Utf8
/// (4 words), keys out, base flags.
#[no_mangle]
pub unsafe extern "C" fn aml_inputs(desc: usize, n: usize) {
    let w = slice::from_raw_parts(desc as *const u32, 20);
    aml::key_column(str_col(&w[10..14], n), bytes_mut(w[18] as usize, n));
    aml::base_flags(str_col(&w[14..18], n), w[19] as u8, bytes_mut(w[8] as usize, n));
    aml_derive(desc, n);
}

unsafe fn aml_state<'a>() -> aml::State<'a> {
    let (base, cap) = (AML_ARENA, AML_CAP);
    let ic = aml::index_cap(cap);
    let header = base;
    let line = aml::LINE_WORDS * 8;
    let index = (header + aml::HEADER_WORDS * 8 + line - 1) / line * line;
    let slots = index + 2 * ic * 8;
    let free = slots + cap * aml::SLOT_WORDS * 8;
    aml::State {
        header: bytes_mut(header, aml::HEADER_WORDS),
        index: bytes_mut(index, 2 * ic),
        slots: bytes_mut(slots, cap * aml::SLOT_WORDS),
        free: bytes_mut(free, cap),
    }
}

#[no_mangle]
pub extern "C" fn aml_arena_bytes(cap: usize) -> usize {
    aml::arena_words(cap) * 8
}

#[no_mangle]
pub extern "C" fn aml_slot_words() -> usize {
    aml::SLOT_WORDS
}

#[no_mangle]
pub extern "C" fn aml_detail_words() -> usize {
    aml::DETAIL_WORDS
}

#[no_mangle]
pub extern "C" fn aml_param_words() -> usize {
    aml::PARAM_WORDS
}

/// Takes `cap` slots at `arena` (8-aligned, `aml_arena_bytes(cap)` long) and empties them.
#[no_mangle]
pub unsafe extern "C" fn aml_init(arena: usize, cap: usize) {
    AML_ARENA = arena;
    AML_CAP = cap;
    aml_state().init();
}

/// Sets the rule parameters from `aml_param_words()` i64 words. Returns 0, or -1 if too short.
#[no_mangle]
pub unsafe extern "C" fn aml_set_params(ptr: usize, len: usize) -> i32 {
    match aml::Params::from_words(bytes_mut::<i64>(ptr, len)) {
        Some(p) => {
            AML_PARAMS = p;
            0
        }
        None => -1,
    }
}

/// Account keys of a Utf8 column (one descriptor); 0 for a null or empty id.
#[no_mangle]
pub unsafe extern "C" fn aml_key_column(desc: usize, n: usize, out: usize) {
    aml::key_column(str_col(slice::from_raw_parts(desc as *const u32, 4), n), bytes_mut(out, n));
}

/// Row indices into `order` (n u32), in event-time order; `scratch` is n more u32.
#[no_mangle]
pub unsafe extern "C" fn aml_sort(ts: usize, n: usize, order: usize, scratch: usize) {
    aml::sort_rows(bytes_mut::<i64>(ts, n), bytes_mut(order, n), bytes_mut(scratch, n));
}

#[no_mangle]
pub unsafe extern "C" fn aml_prepare(
    keys: usize,
    ts: usize,
    n: usize,
    fresh: usize,
    fresh_cap: usize,
) -> i32 {
    aml::prepare(&mut aml_state(), bytes_mut(keys, n), bytes_mut(ts, n), bytes_mut(fresh, fresh_cap)) as i32
}

/// Puts back `count` saved slots, back to back, each packed or whole (`State::restore`); `lens`
/// holds each one's length in words (u32). Returns how many went in.
#[no_mangle]
pub unsafe extern "C" fn aml_restore(words: usize, lens: usize, count: usize) -> i32 {
    let lens: &[u32] = bytes_mut(lens, count);
    let total = lens.iter().map(|&l| l as usize).sum();
    let all: &[u64] = bytes_mut(words, total);
    let mut st = aml_state();
    let (mut k, mut at) = (0, 0);
    while k < count && st.restore(&all[at..at + lens[k] as usize]) {
        at += lens[k] as usize;
        k += 1;
    }
    k as i32
}

/// Scores rows. Descriptor (u32 words): key, ts, gbp, flags, n, order, order_len, score, rules,
/// out_flags, detail, dry, undo, undo_words, fired (order_len u32s). Returns how many rows fired
/// a rule (listed in `fired`), or -1 when a slot was missing or the undo buffer too small.
#[no_mangle]
pub unsafe extern "C" fn aml_score(desc: usize) -> i32 {
    let w = slice::from_raw_parts(desc as *const u32, 15);
    let p = |k: usize| w[k] as usize;
    let n = p(4);
    let rows = aml::Rows {
        key: bytes_mut(p(0), n),
        ts: bytes_mut(p(1), n),
        gbp: bytes_mut(p(2), n),
        flags: bytes(p(3), n),
    };
    let order: &[u32] = bytes_mut(p(5), p(6));
    let mut out = aml::Scores {
        score: bytes_mut(p(7), n),
        rules: bytes_mut(p(8), n),
        out_flags: bytes_mut(p(9), n),
        detail: bytes_mut(p(10), n * aml::DETAIL_WORDS),
        fired: bytes_mut(p(14), p(6)),
        fired_count: 0,
    };
    if n > 0 && (rows.key.len() != n || out.detail.len() != n * aml::DETAIL_WORDS) {
        return -1;
    }
    let params = *core::ptr::addr_of!(AML_PARAMS);
    let ok = aml::score_rows(
        &mut aml_state(),
        &params,
        &rows,
        order,
        &mut out,
        p(11) != 0,
        bytes_mut(p(12), p(13)),
    );
    if ok {
        out.fired_count as i32
    } else {
        -1
    }
}

/// Writes a transfer's copied slots, words and next slot to `res` (three u32).
unsafe fn transfer_out(t: aml::Transfer, res: usize) {
    let r: &mut [u32] = bytes_mut(res, 3);
    r.copy_from_slice(&[t.copied as u32, t.words as u32, t.next as u32]);
}

/// Copies dirty slots from slot `from` on into `out` (room for `cap_words` u64), packed, marking
/// them clean; the transfer's counts go to `res` (`transfer_out`).
#[no_mangle]
pub unsafe extern "C" fn aml_take_dirty(out: usize, cap_words: usize, from: usize, res: usize) {
    transfer_out(aml_state().take_dirty(bytes_mut(out, cap_words), from), res);
}

/// Evicts slots from slot `from` on that were last touched before `cutoff`, copying dirty ones
/// packed into `out` (room for `cap_words` u64); the transfer's counts go to `res`.
/// `aml_free_slots` tells how many were freed.
#[no_mangle]
pub unsafe extern "C" fn aml_evict(cutoff: f64, out: usize, cap_words: usize, from: usize, res: usize) {
    transfer_out(aml_state().evict(cutoff as u64, bytes_mut(out, cap_words), from), res);
}

#[no_mangle]
pub unsafe extern "C" fn aml_free_slots() -> usize {
    aml_state().free_slots()
}

#[no_mangle]
pub unsafe extern "C" fn aml_min_touch() -> f64 {
    aml_state().min_touch() as f64
}

#[no_mangle]
pub unsafe extern "C" fn aml_clock() -> f64 {
    aml_state().clock() as f64
}

// ---------------------------------------------------------------------------------------------
// Sanctions screening (`sanctions.rs`). The index lives in two arenas that JavaScript allocates
// once per list (one `u32` arena, one byte arena: `sanctions_plan` sizes them) and keeps until the
// list is replaced; screening writes only the arena's per-row stamps. No statics: an instance can
// hold several lists.

/// Sizes the arenas for `n` list names (`desc`: one Utf8 descriptor, 4 words). Writes two u32
/// at `out`: the `u32` words and the bytes needed.
#[no_mangle]
pub unsafe extern "C" fn sanctions_plan(desc: usize, n: usize, out: usize) {
    let names = str_col(slice::from_raw_parts(desc as *const u32, 4), n);
    let plan = crate::sanctions::plan(&names, n);
    let out: &mut [u32] = bytes_mut(out, 2);
    out[0] = plan.words as u32;
    out[1] = plan.bytes as u32;
}

/// Builds the index of `n` list names (entry `i` = name `i`) into the arenas. A token in more than
/// `common_df` names is common (0 = the default, `sanctions::COMMON_DF`). Returns the number of
/// distinct tokens, or -1 when an arena is smaller than `sanctions_plan` said. When `stats` is not
/// 0, writes five u32 there: names, distinct tokens, keys, single postings, pair postings.
#[no_mangle]
pub unsafe extern "C" fn sanctions_build(
    desc: usize,
    n: usize,
    words: usize,
    words_len: usize,
    arena_bytes: usize,
    arena_bytes_len: usize,
    common_df: u32,
    stats: usize,
) -> i32 {
    let names = str_col(slice::from_raw_parts(desc as *const u32, 4), n);
    let common_df = if common_df == 0 { crate::sanctions::COMMON_DF } else { common_df };
    let (w, b) = (bytes_mut(words, words_len), bytes_mut(arena_bytes, arena_bytes_len));
    match crate::sanctions::build(&names, n, common_df, w, b) {
        Some(b) => {
            if stats != 0 {
                let s: &mut [u32] = bytes_mut(stats, 5);
                s.copy_from_slice(&[
                    b.names as u32,
                    b.tokens as u32,
                    b.keys as u32,
                    b.postings as u32,
                    b.pairs as u32,
                ]);
            }
            b.tokens as i32
        }
        None => -1,
    }
}

/// Screens `n` rows (`desc`: one Utf8 descriptor) against a built index. Writes per row the best
/// similarity ×10,000 (u16 at `out_sim`; exact from `threshold - sanctions::EXACT_BAND` up) and
/// the matched entry, or -1 below `threshold` (i32 at `out_entry`); `scratch` holds
/// `sanctions_scratch_words(n)` u32s. Returns the number of rows matched, or -1 when the arenas
/// hold no index.
#[no_mangle]
pub unsafe extern "C" fn sanctions_screen(
    words: usize,
    words_len: usize,
    arena_bytes: usize,
    arena_bytes_len: usize,
    desc: usize,
    n: usize,
    threshold: f64,
    out_sim: usize,
    out_entry: usize,
    scratch: usize,
) -> i32 {
    let rows = str_col(slice::from_raw_parts(desc as *const u32, 4), n);
    let index =
        crate::sanctions::Index::open(bytes_mut(words, words_len), bytes(arena_bytes, arena_bytes_len));
    let scratch = bytes_mut(scratch, crate::sanctions::screen_scratch_words(n));
    match index.and_then(|mut ix| {
        ix.screen(&rows, n, threshold, bytes_mut(out_sim, n), bytes_mut(out_entry, n), scratch)
    }) {
        Some(m) => m as i32,
        None => -1,
    }
}

/// Scratch words `sanctions_screen` needs for `n` rows.
#[no_mangle]
pub extern "C" fn sanctions_scratch_words(n: usize) -> usize {
    crate::sanctions::screen_scratch_words(n)
}

/// The normalised form of one name (tokens joined by single spaces) into `out` (room for `cap`
/// bytes). Returns its length.
#[no_mangle]
pub unsafe extern "C" fn sanctions_normalise(ptr: usize, len: usize, out: usize, cap: usize) -> usize {
    let mut name = crate::sanctions::Name::new();
    name.parse(bytes(ptr, len));
    name.write_joined(bytes_mut(out, cap))
}

/// The similarity of a list name and a row name (both raw UTF-8), 0 when they may not match.
#[no_mangle]
pub unsafe extern "C" fn sanctions_similarity(
    list: usize,
    list_len: usize,
    row: usize,
    row_len: usize,
) -> f64 {
    crate::sanctions::name_similarity(bytes(list, list_len), bytes(row, row_len))
}

// ---------------------------------------------------------------------------------------------
// Row encryption (`cipher.rs`): ChaCha20 over the personal fields of a batch, in place.

/// Most columns one `cipher_xor_rows` call takes (the column views live on the stack: no allocator).
pub const CIPHER_MAX_COLUMNS: usize = 32;

#[no_mangle]
pub extern "C" fn cipher_max_columns() -> usize {
    CIPHER_MAX_COLUMNS
}

/// XORs `n` rows of `m` Binary columns with their rows' ChaCha20 keystreams, in place. `keys` is
/// `k` keys of 32 bytes, `key_of_row` n u32 (`u32::MAX` = leave the row alone), `nonces` 12 bytes
/// per row, `desc` m × [offsets, data] (n + 1 i32 offsets; the data runs to the last offset; the
/// columns' buffers must not overlap). Returns 0, -(a `CipherError`), or -5 when `m` is over
/// `CIPHER_MAX_COLUMNS`; a refused batch is unchanged.
#[no_mangle]
pub unsafe extern "C" fn cipher_xor_rows(
    keys: usize,
    k: usize,
    key_of_row: usize,
    nonces: usize,
    n: usize,
    desc: usize,
    m: usize,
) -> i32 {
    if m > CIPHER_MAX_COLUMNS {
        return -5;
    }
    let w: &[u32] = bytes_mut(desc, 2 * m);
    let mut cols: [cipher::Col; CIPHER_MAX_COLUMNS] =
        core::array::from_fn(|_| cipher::Col { offsets: &[], data: &mut [] });
    for (c, col) in cols.iter_mut().take(m).enumerate() {
        let offsets: &[i32] = bytes_mut(w[2 * c] as usize, n + 1);
        // The data's length is its last offset; `xor_rows` refuses the column if that is negative.
        let len = offsets.last().map_or(0, |&e| e.max(0) as usize);
        *col = cipher::Col { offsets, data: bytes_mut(w[2 * c + 1] as usize, len) };
    }
    let rc = match cipher::xor_rows(
        bytes(keys, k * cipher::KEY_BYTES),
        bytes_mut(key_of_row, n),
        bytes(nonces, n * cipher::NONCE_BYTES),
        &mut cols[..m],
    ) {
        Ok(()) => 0,
        Err(e) => -(e as i32),
    };
    burn_stack();
    rc
}

/// Overwrites the shadow stack below this frame, where `xor_rows` kept the last row's key words
/// and keystream block: a shredded key must not linger in memory the instance reuses. Volatile,
/// so that the compiler cannot drop the stores as dead (safe Rust has no way to say so).
#[inline(never)]
fn burn_stack() {
    let mut scratch = [0u8; 2048];
    for b in scratch.iter_mut() {
        // SAFETY: `b` is a valid, aligned, exclusive reference into a local array.
        unsafe { core::ptr::write_volatile(b, 0) };
    }
}

/// Hash-table slots (u32 each) `dict_column` needs as scratch for `n` rows.
#[no_mangle]
pub extern "C" fn dict_table_slots(n: usize) -> usize {
    dict::table_slots(n)
}

/// Dictionary ids of a Utf8 column (descriptor: four words, as `str_col`): `ids` (n u32),
/// `firsts` (n u32) and, unless `keys` is 0, each distinct value's account key (n u64); returns
/// the distinct count. `table` is `dict_table_slots(n)` u32 of scratch.
#[no_mangle]
pub unsafe extern "C" fn dict_column(
    desc: usize,
    n: usize,
    table: usize,
    ids: usize,
    firsts: usize,
    keys: usize,
) -> usize {
    let col = str_col(slice::from_raw_parts(desc as *const u32, 4), n);
    dict::dict_ids(
        &col,
        n,
        bytes_mut(table, dict::table_slots(n)),
        bytes_mut(ids, n),
        bytes_mut(firsts, n),
        bytes_mut(keys, n),
    )
}
