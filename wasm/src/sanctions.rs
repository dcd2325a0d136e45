//! SANCTIONS_MATCH (docs/aml.md, "Sanctions names"): fuzzy screening of counterparty names against
//! a sanctions list, with an index built once per list so a row never scans the whole list.
//!
//! - **Normalisation** (`Name::parse`), for list and row names alike: UTF-8 in; Latin letters with
//!   diacritics folded to ASCII (Latin-1 Supplement, Latin Extended-A and -B, Latin Extended
//!   Additional: `É`→`e`, `ß`→`ss`, `Ø`→`o`, `Æ`→`ae`, `Ł`→`l`); combining marks dropped; lower
//!   case; anything not a letter or digit separates tokens; honorifics dropped (`TITLES`); tokens
//!   sorted. Letters of other scripts are kept as their UTF-8 bytes (Greek and Cyrillic lower-cased).
//!   At most `MAX_TOKENS` tokens of at most `MAX_TOKEN_LEN` bytes are kept (the rest is cut).
//! - **Similarity** (`similarity`): Jaro-Winkler per token (prefix scale 0.1, at most 4 characters
//!   of prefix, applied at any Jaro score). Each token of the side with fewer tokens (the row's on a
//!   tie), longest first (ties in sorted order), takes its best unused partner on the other side
//!   (the first on a tie); the result is the mean of those scores weighted by the length of the
//!   matched token. A row with fewer than 2 tokens never matches a list name with more than 1.
//! - **Index** (`build`): the list's distinct tokens, and the list names filed under them. A token
//!   in more than `COMMON_DF` names is common (`llc`, `mohammed`): a name is filed under each of its
//!   uncommon tokens, under each pair of its common tokens (`mohammed`+`ali`), and under its token
//!   when it has only one, so that no single common word makes a row the candidate of hundreds of
//!   names. Tokens go into a hash table under themselves and, when at least `MIN_DELETE_LEN` long,
//!   under each of their one-character deletions (behind a Bloom filter); a row token probes the
//!   same keys. Two tokens share a key exactly when one substitution, insertion, deletion or swap
//!   of neighbours turns one into the other (or they are equal), so a name stays a candidate under
//!   one typo in every token. What it gives up: a name whose only tokens near the row's (one edit
//!   or less) are common ones, fewer than two of them, is not a candidate (`Ivan Petrov Kuznetsov`
//!   with `kuznetsov` misspelt twice and `petrov` left out).
//! - **Screening**: each candidate is scored with `similarity`, abandoned as soon as it can reach
//!   neither the best so far nor `threshold - EXACT_BAND`; a row reports the best candidate, and its
//!   entry when it reaches the threshold. The reported similarity is exact from
//!   `threshold - EXACT_BAND` up (names that are not candidates count as 0).
//!
//! Memory: the caller gives the index a `u32` arena and a byte arena (`plan` says how large); the
//! index lives there, including the per-row scratch (stamps), so `screen` needs no allocation.

use crate::column::StrCol;

/// Tokens kept per name; the rest are ignored.
pub const MAX_TOKENS: usize = 16;
/// Bytes kept per token; the rest are cut.
pub const MAX_TOKEN_LEN: usize = 32;
const NAME_BYTES: usize = MAX_TOKENS * MAX_TOKEN_LEN;
/// Tokens at least this long are also keyed by their one-character deletions.
pub const MIN_DELETE_LEN: usize = 4;
/// The default for `build`'s `common_df`: a token in more list names than this is common, and
/// names are filed under pairs of their common tokens rather than under each (module header).
pub const COMMON_DF: u32 = 16;
/// `Index::screen` reports similarities exactly from this far below the threshold up; below that,
/// candidates are abandoned as soon as they cannot get there, and the figure is the best among
/// those scored to the end (0 if none): a lower bound.
pub const EXACT_BAND: f64 = 0.1;
/// Entry index reported for a row that matches nothing at the threshold.
pub const NO_MATCH: u32 = u32::MAX;

/// Honorifics and titles, dropped from list and row names alike.
const TITLES: [&[u8]; 23] = [
    b"mr",
    b"mrs",
    b"ms",
    b"miss",
    b"mx",
    b"dr",
    b"sir",
    b"lord",
    b"lady",
    b"dame",
    b"prof",
    b"hon",
    b"rev",
    b"sheikh",
    b"shaikh",
    b"sheik",
    b"haji",
    b"hajji",
    b"hadji",
    b"mister",
    b"doctor",
    b"professor",
    b"revd",
];

// ---------------------------------------------------------------------------------------------
// Normalisation

/// ASCII folding of U+00C0–U+024F, two bytes per code point: `x_` = one letter, `xy` = two,
/// two spaces = separator (`×`, `÷`), `??` = a letter with no ASCII form (kept as it is).
/// Generated from Unicode NFD (base letter of the decomposition), plus the letters that do not
/// decompose (`Æ Ð Ø Þ ß Đ Ħ ı Ĳ ĸ Ŀ Ł ŉ Ŋ Œ Ŧ ſ`, the hooked and barred letters of Extended-B).
const FOLD_LATIN: &[u8; 800] = b"a_a_a_a_a_a_aec_e_e_e_e_i_i_i_i_d_n_o_o_o_o_o_  o_u_u_u_u_y_thss\
a_a_a_a_a_a_aec_e_e_e_e_i_i_i_i_d_n_o_o_o_o_o_  o_u_u_u_u_y_thy_\
a_a_a_a_a_a_c_c_c_c_c_c_c_c_d_d_d_d_e_e_e_e_e_e_e_e_e_e_g_g_g_g_\
g_g_g_g_h_h_h_h_i_i_i_i_i_i_i_i_i_i_ijijj_j_k_k_k_l_l_l_l_l_l_l_\
l_l_l_n_n_n_n_n_n_n_n_n_o_o_o_o_o_o_oeoer_r_r_r_r_r_s_s_s_s_s_s_\
s_s_t_t_t_t_t_t_u_u_u_u_u_u_u_u_u_u_u_u_w_w_y_y_y_z_z_z_z_z_z_s_\
b_b_??????????c_c_d_d_????????????f_f_g_??????i_k_k_l_????n_n_??\
o_o_????p_p_??????????t_t_t_t_u_u_??v_y_y_z_z_??????????????????\
????????dzdzdzljljljnjnjnja_a_i_i_o_o_u_u_u_u_u_u_u_u_u_u_??a_a_\
a_a_aeaeg_g_g_g_k_k_o_o_o_o_????j_dzdzdzg_g_????n_n_a_a_aeaeo_o_\
a_a_a_a_e_e_e_e_i_i_i_i_o_o_o_o_r_r_r_r_u_u_u_u_s_s_t_t_????h_h_\
??d_????z_z_a_a_e_e_o_o_o_o_o_o_o_o_y_y_l_n_t_j_????a_c_c_l_t_s_\
z_????b_u_??e_e_j_j_????r_r_y_y_";
/// The same for Latin Extended Additional, U+1E00–U+1EFF (Vietnamese and others).
const FOLD_LATIN_ADD: &[u8; 512] = b"a_a_b_b_b_b_b_b_c_c_d_d_d_d_d_d_d_d_d_d_e_e_e_e_e_e_e_e_e_e_f_f_\
g_g_h_h_h_h_h_h_h_h_h_h_i_i_i_i_k_k_k_k_k_k_l_l_l_l_l_l_l_l_m_m_\
m_m_m_m_n_n_n_n_n_n_n_n_o_o_o_o_o_o_o_o_p_p_p_p_r_r_r_r_r_r_r_r_\
s_s_s_s_s_s_s_s_s_s_t_t_t_t_t_t_t_t_u_u_u_u_u_u_u_u_u_u_v_v_v_v_\
w_w_w_w_w_w_w_w_w_w_x_x_x_x_y_y_z_z_z_z_z_z_h_t_w_y_????s_s_ss??\
a_a_a_a_a_a_a_a_a_a_a_a_a_a_a_a_a_a_a_a_a_a_a_a_e_e_e_e_e_e_e_e_\
e_e_e_e_e_e_e_e_i_i_i_i_o_o_o_o_o_o_o_o_o_o_o_o_o_o_o_o_o_o_o_o_\
o_o_o_o_u_u_u_u_u_u_u_u_u_u_u_u_u_u_y_y_y_y_y_y_y_y_????????????";

/// What one code point becomes.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Fold {
    /// Ends the current token.
    Sep,
    /// Dropped without ending the token (combining marks, variation selectors, BOM).
    Skip,
    /// One or two ASCII letters (second 0 when one).
    Ascii(u8, u8),
    /// A letter with no ASCII form: kept as this code point's UTF-8.
    Keep(u32),
}

fn from_table(t: &[u8], k: usize, cp: u32) -> Fold {
    match (t[2 * k], t[2 * k + 1]) {
        (b' ', _) => Fold::Sep,
        (b'?', _) => Fold::Keep(cp),
        (a, b'_') => Fold::Ascii(a, 0),
        (a, b) => Fold::Ascii(a, b),
    }
}

fn fold(cp: u32) -> Fold {
    match cp {
        0x80..=0xBF => Fold::Sep, // C1 controls, NBSP, Latin-1 punctuation and symbols
        0xC0..=0x24F => from_table(FOLD_LATIN, (cp - 0xC0) as usize, cp),
        0x300..=0x36F => Fold::Skip, // combining diacritics (NFD input)
        0x391..=0x3A9 if cp != 0x3A2 => Fold::Keep(cp + 0x20), // Greek capitals
        0x400..=0x40F => Fold::Keep(cp + 0x50), // Cyrillic capitals Ѐ–Џ
        0x410..=0x42F => Fold::Keep(cp + 0x20), // Cyrillic capitals А–Я
        0x1E00..=0x1EFF => from_table(FOLD_LATIN_ADD, (cp - 0x1E00) as usize, cp),
        0x200B..=0x200D | 0x2060 | 0xFE00..=0xFE0F | 0xFEFF => Fold::Skip,
        0x2000..=0x2BFF | 0x3000..=0x303F | 0xE000..=0xF8FF | 0x1F000..=0x1FFFF => Fold::Sep,
        0xFF10..=0xFF19 => Fold::Ascii((cp - 0xFF10) as u8 + b'0', 0), // fullwidth digits
        0xFF21..=0xFF3A => Fold::Ascii((cp - 0xFF21) as u8 + b'a', 0), // fullwidth letters
        0xFF41..=0xFF5A => Fold::Ascii((cp - 0xFF41) as u8 + b'a', 0),
        0xFF00..=0xFF65 => Fold::Sep, // fullwidth punctuation
        _ => Fold::Keep(cp),
    }
}

/// Decodes the UTF-8 sequence at `s[i]` (not ASCII): the code point and its length, or `None`
/// (length 1) for a malformed byte.
fn decode(s: &[u8], i: usize) -> (Option<u32>, usize) {
    let b0 = s[i] as u32;
    let (len, init) = match b0 {
        0xC2..=0xDF => (2, b0 & 0x1F),
        0xE0..=0xEF => (3, b0 & 0x0F),
        0xF0..=0xF4 => (4, b0 & 0x07),
        _ => return (None, 1),
    };
    if i + len > s.len() {
        return (None, 1);
    }
    let mut cp = init;
    for k in 1..len {
        let b = s[i + k] as u32;
        if b & 0xC0 != 0x80 {
            return (None, 1);
        }
        cp = (cp << 6) | (b & 0x3F);
    }
    let min = [0, 0, 0x80, 0x800, 0x10000][len];
    if cp < min || cp > 0x10FFFF || (0xD800..=0xDFFF).contains(&cp) {
        return (None, 1);
    }
    (Some(cp), len)
}

/// A normalised name: its tokens, sorted, in one buffer. Reused from name to name.
pub struct Name {
    buf: [u8; NAME_BYTES],
    used: usize,
    /// (start, length) of each token in `buf`.
    toks: [(u16, u16); MAX_TOKENS],
    n: usize,
    /// Length of the token being written at `buf[used..]`.
    cur: usize,
}

impl Default for Name {
    fn default() -> Self {
        Name::new()
    }
}

impl Name {
    pub const fn new() -> Name {
        Name { buf: [0; NAME_BYTES], used: 0, toks: [(0, 0); MAX_TOKENS], n: 0, cur: 0 }
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Token `k` (sorted order).
    #[inline]
    pub fn token(&self, k: usize) -> &[u8] {
        let (s, l) = self.toks[k];
        &self.buf[s as usize..s as usize + l as usize]
    }

    #[inline]
    fn push(&mut self, b: u8) {
        if self.cur < MAX_TOKEN_LEN && self.n < MAX_TOKENS {
            self.buf[self.used + self.cur] = b;
            self.cur += 1;
        }
    }

    fn push_char(&mut self, cp: u32) {
        if cp < 0x800 {
            self.push(0xC0 | (cp >> 6) as u8);
        } else if cp < 0x10000 {
            self.push(0xE0 | (cp >> 12) as u8);
            self.push(0x80 | ((cp >> 6) & 0x3F) as u8);
        } else {
            self.push(0xF0 | (cp >> 18) as u8);
            self.push(0x80 | ((cp >> 12) & 0x3F) as u8);
            self.push(0x80 | ((cp >> 6) & 0x3F) as u8);
        }
        self.push(0x80 | (cp & 0x3F) as u8);
    }

    fn end_token(&mut self) {
        if self.cur > 0 && self.n < MAX_TOKENS {
            let t = &self.buf[self.used..self.used + self.cur];
            if !TITLES.contains(&t) {
                self.toks[self.n] = (self.used as u16, self.cur as u16);
                self.n += 1;
                self.used += self.cur;
            }
        }
        self.cur = 0;
    }

    /// Normalises `s` (UTF-8; malformed bytes separate tokens) into `self`.
    pub fn parse(&mut self, s: &[u8]) {
        self.n = 0;
        self.used = 0;
        self.cur = 0;
        let mut i = 0;
        while i < s.len() {
            let b = s[i];
            if b < 0x80 {
                i += 1;
                match b {
                    b'a'..=b'z' | b'0'..=b'9' => self.push(b),
                    b'A'..=b'Z' => self.push(b | 0x20),
                    _ => self.end_token(),
                }
                continue;
            }
            let (cp, w) = decode(s, i);
            i += w;
            match cp.map_or(Fold::Sep, fold) {
                Fold::Sep => self.end_token(),
                Fold::Skip => {}
                Fold::Ascii(a, b) => {
                    self.push(a);
                    if b != 0 {
                        self.push(b);
                    }
                }
                Fold::Keep(cp) => self.push_char(cp),
            }
        }
        self.end_token();
        // Insertion sort: at most MAX_TOKENS tokens.
        let mut toks = self.toks;
        for k in 1..self.n {
            let mut j = k;
            while j > 0 && self.slice(toks[j]) < self.slice(toks[j - 1]) {
                toks.swap(j, j - 1);
                j -= 1;
            }
        }
        self.toks = toks;
    }

    /// The tokens as slices; the first `len()` are set.
    pub fn tokens(&self) -> [&[u8]; MAX_TOKENS] {
        let mut out = [&[][..]; MAX_TOKENS];
        for (k, o) in out.iter_mut().enumerate().take(self.n) {
            *o = self.token(k);
        }
        out
    }

    fn slice(&self, (s, l): (u16, u16)) -> &[u8] {
        &self.buf[s as usize..s as usize + l as usize]
    }

    /// The tokens joined by single spaces, into `out`; returns the length (cut at `out.len()`).
    pub fn write_joined(&self, out: &mut [u8]) -> usize {
        let mut at = 0;
        for k in 0..self.n {
            for &b in (if k > 0 { &b" "[..] } else { &b""[..] }).iter().chain(self.token(k)) {
                if at < out.len() {
                    out[at] = b;
                    at += 1;
                }
            }
        }
        at
    }
}

// ---------------------------------------------------------------------------------------------
// Similarity

/// Jaro similarity of two byte strings (at most 64 bytes each; longer ones are cut).
pub fn jaro(a: &[u8], b: &[u8]) -> f64 {
    let a = &a[..a.len().min(64)];
    let b = &b[..b.len().min(64)];
    let (la, lb) = (a.len(), b.len());
    if la == 0 || lb == 0 {
        return if la == lb { 1.0 } else { 0.0 };
    }
    let window = (la.max(lb) / 2).saturating_sub(1);
    let (mut am, mut bm) = (0u64, 0u64);
    let mut m = 0u32;
    for (i, &ca) in a.iter().enumerate() {
        let lo = i.saturating_sub(window);
        let hi = (i + window + 1).min(lb);
        let mut j = lo;
        while j < hi {
            if bm & (1 << j) == 0 && b[j] == ca {
                bm |= 1 << j;
                am |= 1 << i;
                m += 1;
                break;
            }
            j += 1;
        }
    }
    if m == 0 {
        return 0.0;
    }
    // Half-transpositions: matched characters of `a` and `b`, in order, that differ.
    let mut t = 0u32;
    let mut rest = bm;
    let mut ai = am;
    while ai != 0 {
        let i = ai.trailing_zeros() as usize;
        ai &= ai - 1;
        let j = rest.trailing_zeros() as usize;
        rest &= rest - 1;
        if a[i] != b[j] {
            t += 1;
        }
    }
    let m = m as f64;
    (m / la as f64 + m / lb as f64 + (m - t as f64 / 2.0) / m) / 3.0
}

/// Jaro-Winkler: Jaro plus 0.1 × (common prefix, at most 4) × (1 − Jaro).
pub fn jaro_winkler(a: &[u8], b: &[u8]) -> f64 {
    let j = jaro(a, b);
    let mut l = 0;
    while l < 4 && l < a.len() && l < b.len() && a[l] == b[l] {
        l += 1;
    }
    j + l as f64 * 0.1 * (1.0 - j)
}

/// Token-wise similarity of a list name's tokens and a row name's tokens (both sorted), as the
/// module header describes. `None` when the pair may not match at all (no tokens, or a one-token
/// row against a longer list name).
pub fn similarity(list: &[&[u8]], row: &[&[u8]]) -> Option<f64> {
    similarity_from(list, row, f64::NEG_INFINITY)
}

/// `similarity`, but gives up (`None`) as soon as the result cannot reach `floor`: the shorter
/// side's tokens are matched longest first (ties in sorted order), and after each the best the
/// rest could add (all of their weight) is checked against `floor`.
pub fn similarity_from(list: &[&[u8]], row: &[&[u8]], floor: f64) -> Option<f64> {
    if list.is_empty() || row.is_empty() || (row.len() < 2 && list.len() > 1) {
        return None;
    }
    let (short, long) = if row.len() <= list.len() { (row, list) } else { (list, row) };
    // Matching order: longest first, stable.
    let mut order = [0u8; MAX_TOKENS];
    let mut total = 0usize;
    for k in 0..short.len().min(MAX_TOKENS) {
        order[k] = k as u8;
        total += short[k].len();
        let mut j = k;
        while j > 0 && short[order[j - 1] as usize].len() < short[order[j] as usize].len() {
            order.swap(j, j - 1);
            j -= 1;
        }
    }
    let total_w = total as f64;
    let mut remaining = total;
    let mut used = 0u32;
    let mut sum = 0.0;
    for &k in &order[..short.len().min(MAX_TOKENS)] {
        let s = short[k as usize];
        let (mut best, mut at) = (-1.0, 0);
        for (j, o) in long.iter().enumerate() {
            if used & (1 << j) == 0 {
                let jw = jaro_winkler(s, o);
                if jw > best {
                    best = jw;
                    at = j;
                }
            }
        }
        used |= 1 << at;
        sum += s.len() as f64 * best;
        remaining -= s.len();
        // A small margin: the bound and the final sum round differently.
        if remaining > 0 && (sum + remaining as f64) / total_w < floor - 1e-9 {
            return None;
        }
    }
    Some(sum / total_w)
}

/// `similarity` of two raw names (normalised here), 0 when they may not match.
pub fn name_similarity(list: &[u8], row: &[u8]) -> f64 {
    let (mut l, mut r) = (Name::new(), Name::new());
    l.parse(list);
    r.parse(row);
    let (ls, rs) = (l.tokens(), r.tokens());
    similarity(&ls[..l.len()], &rs[..r.len()]).unwrap_or(0.0)
}

// ---------------------------------------------------------------------------------------------
// Keys: a polynomial hash, so that each one-character deletion of a token hashes in O(1).

const P: u64 = 0x0000_0100_0000_01B3;

/// `P^k` for every token length.
const POWERS: [u64; MAX_TOKEN_LEN + 1] = powers();

const fn powers() -> [u64; MAX_TOKEN_LEN + 1] {
    let mut pw = [1u64; MAX_TOKEN_LEN + 1];
    let mut k = 1;
    while k <= MAX_TOKEN_LEN {
        pw[k] = pw[k - 1].wrapping_mul(P);
        k += 1;
    }
    pw
}

/// The Bloom filter in front of the key table: two bits of one 32-bit word per key, so that a
/// row token that is no list token's neighbour usually costs one cached load, not a table probe.
#[inline]
fn bloom_word(h: u64, mask: usize) -> (usize, u32) {
    ((h >> 40) as usize & mask, (1u32 << ((h >> 32) & 31)) | (1u32 << ((h >> 37) & 31)))
}

#[inline]
fn finish(h: u64, len: usize) -> u64 {
    let mut x = h ^ ((len as u64) << 56);
    x ^= x >> 33;
    x = x.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    x ^= x >> 33;
    x = x.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    x ^ (x >> 33)
}

/// The keys of a token: its own hash first, then (when at least `MIN_DELETE_LEN` long) one per
/// distinct one-character deletion. Returns how many were written.
fn keys(t: &[u8], out: &mut [u64; MAX_TOKEN_LEN + 1]) -> usize {
    let n = t.len().min(MAX_TOKEN_LEN);
    let mut pre = [0u64; MAX_TOKEN_LEN + 1];
    for k in 0..n {
        pre[k + 1] = pre[k].wrapping_mul(P).wrapping_add(t[k] as u64);
    }
    let pw = &POWERS;
    out[0] = finish(pre[n], n);
    let mut c = 1;
    if n >= MIN_DELETE_LEN {
        for k in 0..n {
            if k > 0 && t[k] == t[k - 1] {
                continue; // deleting either of two equal neighbours gives the same string
            }
            let tail = pre[n].wrapping_sub(pre[k + 1].wrapping_mul(pw[n - 1 - k]));
            out[c] = finish(pre[k].wrapping_mul(pw[n - 1 - k]).wrapping_add(tail), n - 1);
            c += 1;
        }
    }
    c
}

fn token_hash(t: &[u8]) -> u64 {
    let mut h = 0u64;
    for &b in t {
        h = h.wrapping_mul(P).wrapping_add(b as u64);
    }
    finish(h, t.len())
}

fn key_count(len: usize) -> usize {
    1 + if len >= MIN_DELETE_LEN { len } else { 0 }
}

// ---------------------------------------------------------------------------------------------
// The index, in the caller's arenas

const MAGIC: u32 = 0x534E_4332; // "SNC2"
const HEADER_WORDS: usize = 16;
const EMPTY: u32 = u32::MAX;
/// Common tokens one row may pair up (the rest are ignored for pairing).
const MAX_COMMON_HITS: usize = 16;

// Header words.
const H_MAGIC: usize = 0;
const H_NAMES: usize = 1;
const H_TOKEN_CAP: usize = 2; // total tokens over all names: bounds distinct tokens and postings
const H_SLOT_CAP: usize = 3;
const H_DICT_CAP: usize = 4;
const H_PAIR_CAP: usize = 5;
const H_TOKENS: usize = 6; // distinct tokens
const H_MASK: usize = 7; // key table slots - 1
const H_PAIR_MASK: usize = 8; // pair table slots - 1
const H_EPOCH: usize = 9;
const H_KEYS: usize = 10;
const H_POSTINGS: usize = 11;
const H_PAIRS: usize = 12;
const H_BLOOM_CAP: usize = 13;
const H_BLOOM_MASK: usize = 14;
const H_COMMON_DF: usize = 15;

/// Section sizes, fixed by `plan` and recorded in the header.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Caps {
    names: usize,
    tokens: usize,
    slots: usize,
    dict: usize,
    pair_slots: usize,
    bloom: usize,
}

impl Caps {
    fn words(&self) -> usize {
        let (n, t) = (self.names, self.tokens);
        HEADER_WORDS
            + (n + 1) + t           // name → tokens
            + (t + 1) + t + t       // token offsets, document frequency, stamps
            + (t + 1) + t           // token → names
            + n                     // name stamps
            + 2 * self.slots        // key table: (fingerprint, token) pairs
            + self.dict             // token dictionary (build only)
            + 3 * self.pair_slots   // pair table: (token, token, name) triples
            + self.bloom // Bloom filter of the keys
    }
}

/// How large the arenas must be for a list: `words` u32 words and `bytes` bytes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Plan {
    pub words: usize,
    pub bytes: usize,
    caps: Caps,
}

struct Parts<'a> {
    hdr: &'a mut [u32],
    name_off: &'a mut [u32],
    name_tok: &'a mut [u32],
    tok_off: &'a mut [u32],
    df: &'a mut [u32],
    tok_stamp: &'a mut [u32],
    post_off: &'a mut [u32],
    post: &'a mut [u32],
    name_stamp: &'a mut [u32],
    table: &'a mut [u32],
    dict: &'a mut [u32],
    pairs: &'a mut [u32],
    bloom: &'a mut [u32],
}

fn take<'a>(rest: &mut &'a mut [u32], len: usize) -> &'a mut [u32] {
    let all = core::mem::take(rest);
    let (head, tail) = all.split_at_mut(len);
    *rest = tail;
    head
}

fn split(words: &mut [u32], caps: Caps) -> Option<Parts<'_>> {
    if words.len() < caps.words() {
        return None;
    }
    let (n, t) = (caps.names, caps.tokens);
    let mut rest = words;
    Some(Parts {
        hdr: take(&mut rest, HEADER_WORDS),
        name_off: take(&mut rest, n + 1),
        name_tok: take(&mut rest, t),
        tok_off: take(&mut rest, t + 1),
        df: take(&mut rest, t),
        tok_stamp: take(&mut rest, t),
        post_off: take(&mut rest, t + 1),
        post: take(&mut rest, t),
        name_stamp: take(&mut rest, n),
        table: take(&mut rest, 2 * caps.slots),
        dict: take(&mut rest, caps.dict),
        pairs: take(&mut rest, 3 * caps.pair_slots),
        bloom: take(&mut rest, caps.bloom),
    })
}

fn pow2_at_least(x: usize) -> usize {
    let mut p = 1;
    while p < x {
        p <<= 1;
    }
    p
}

/// Bloom filter words for `keys` keys: about 8 bits per key.
fn bloom_words(keys: usize) -> usize {
    pow2_at_least((keys * 8 / 32).max(1))
}

fn pair_hash(a: u32, b: u32) -> u64 {
    finish(((a as u64) << 32 | b as u64).wrapping_mul(P), 63)
}

/// Sizes the arenas for the `n` list names in `names` (one normalisation pass).
pub fn plan(names: &StrCol, n: usize) -> Plan {
    let mut name = Name::new();
    let (mut tokens, mut bytes, mut keys, mut pairs) = (0, 0, 0, 0);
    for i in 0..n {
        if let Some(s) = names.get(i) {
            name.parse(s);
            for k in 0..name.len() {
                let l = name.token(k).len();
                tokens += 1;
                bytes += l;
                keys += key_count(l);
            }
            pairs += name.len() * name.len().saturating_sub(1) / 2;
        }
    }
    let caps = Caps {
        names: n,
        tokens,
        slots: pow2_at_least(2 * keys.max(1)),
        dict: pow2_at_least(2 * tokens.max(1)),
        pair_slots: pow2_at_least(2 * pairs.max(1)),
        bloom: bloom_words(keys),
    };
    Plan { words: caps.words(), bytes: bytes.max(1), caps }
}

/// What `build` made.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Built {
    pub names: usize,
    /// Distinct tokens.
    pub tokens: usize,
    /// Entries of the key table.
    pub keys: usize,
    /// Names filed under single tokens.
    pub postings: usize,
    /// Names filed under pairs of common tokens.
    pub pairs: usize,
}

/// A name's distinct tokens (ids are equal for equal tokens, and equal tokens are adjacent).
fn distinct(ids: &[u32]) -> impl Iterator<Item = u32> + '_ {
    ids.iter().enumerate().filter(move |&(k, &id)| k == 0 || ids[k - 1] != id).map(|(_, &id)| id)
}

/// Whether a name is filed under its token `id`: an uncommon token, or the name's only token.
fn filed_single(ids: &[u32], df: &[u32], id: u32, common_df: u32) -> bool {
    df[id as usize] <= common_df || distinct(ids).nth(1).is_none()
}

/// Builds the index of the `n` names of `names` (entry `i` = row `i`; a null or empty row is an
/// entry that never matches) into the arenas, which must be at least as large as `plan` says.
///
/// A name is filed under each of its uncommon tokens (in at most `COMMON_DF` names), under each
/// pair of its distinct common tokens, and under its token when it has only one distinct token.
pub fn build(names: &StrCol, n: usize, common_df: u32, words: &mut [u32], bytes: &mut [u8]) -> Option<Built> {
    let plan = plan(names, n);
    if bytes.len() < plan.bytes {
        return None;
    }
    let caps = plan.caps;
    let p = split(words, caps)?;
    for w in p.hdr.iter_mut() {
        *w = 0;
    }
    for w in p.dict.iter_mut() {
        *w = EMPTY;
    }
    let dmask = caps.dict - 1;
    let mut name = Name::new();
    // Distinct tokens, and each name's token ids.
    let (mut t, mut nb, mut nt) = (0usize, 0usize, 0usize);
    p.tok_off[0] = 0;
    for i in 0..n {
        p.name_off[i] = nt as u32;
        let s = match names.get(i) {
            Some(s) => s,
            None => continue,
        };
        name.parse(s);
        for k in 0..name.len() {
            let tok = name.token(k);
            let mut slot = token_hash(tok) as usize & dmask;
            let id = loop {
                let id = p.dict[slot];
                if id == EMPTY {
                    bytes[nb..nb + tok.len()].copy_from_slice(tok);
                    nb += tok.len();
                    p.tok_off[t + 1] = nb as u32;
                    p.dict[slot] = t as u32;
                    t += 1;
                    break (t - 1) as u32;
                }
                let (a, b) = (p.tok_off[id as usize] as usize, p.tok_off[id as usize + 1] as usize);
                if &bytes[a..b] == tok {
                    break id;
                }
                slot = (slot + 1) & dmask;
            };
            p.name_tok[nt] = id;
            nt += 1;
        }
    }
    p.name_off[n] = nt as u32;
    // Document frequency: the names that carry each token.
    for d in p.df[..t].iter_mut() {
        *d = 0;
    }
    for i in 0..n {
        for id in distinct(&p.name_tok[p.name_off[i] as usize..p.name_off[i + 1] as usize]) {
            p.df[id as usize] += 1;
        }
    }
    // Postings, token → names: count, prefix sums, fill (tok_stamp is the fill cursor).
    for w in p.post_off[..=t].iter_mut() {
        *w = 0;
    }
    for pass in 0..2 {
        for i in 0..n {
            let ids = &p.name_tok[p.name_off[i] as usize..p.name_off[i + 1] as usize];
            for id in distinct(ids) {
                if !filed_single(ids, p.df, id, common_df) {
                    continue;
                }
                let id = id as usize;
                if pass == 0 {
                    p.post_off[id + 1] += 1;
                } else {
                    p.post[p.tok_stamp[id] as usize] = i as u32;
                    p.tok_stamp[id] += 1;
                }
            }
        }
        if pass == 0 {
            for k in 0..t {
                p.post_off[k + 1] += p.post_off[k];
                p.tok_stamp[k] = p.post_off[k];
            }
        }
    }
    for w in p.tok_stamp[..t].iter_mut() {
        *w = 0;
    }
    for w in p.name_stamp.iter_mut() {
        *w = 0;
    }
    // Pairs of common tokens → names.
    let mut npairs = 0;
    for i in 0..n {
        let ids = &p.name_tok[p.name_off[i] as usize..p.name_off[i + 1] as usize];
        let c = distinct(ids).filter(|&id| p.df[id as usize] > common_df).count();
        npairs += c * c.saturating_sub(1) / 2;
    }
    let pair_slots = pow2_at_least(2 * npairs.max(1)).min(caps.pair_slots);
    let pmask = pair_slots - 1;
    for w in p.pairs[..3 * pair_slots].iter_mut() {
        *w = EMPTY;
    }
    for i in 0..n {
        let ids = &p.name_tok[p.name_off[i] as usize..p.name_off[i + 1] as usize];
        for (j, a) in distinct(ids).enumerate() {
            if p.df[a as usize] <= common_df {
                continue;
            }
            for b in distinct(ids).skip(j + 1) {
                if p.df[b as usize] <= common_df {
                    continue;
                }
                let (a, b) = if a < b { (a, b) } else { (b, a) };
                let mut slot = pair_hash(a, b) as usize & pmask;
                while p.pairs[3 * slot + 2] != EMPTY {
                    slot = (slot + 1) & pmask;
                }
                p.pairs[3 * slot] = a;
                p.pairs[3 * slot + 1] = b;
                p.pairs[3 * slot + 2] = i as u32;
            }
        }
    }
    // Key table over the tokens a row can reach names through.
    let keyed = |id: usize, p: &Parts| p.post_off[id + 1] > p.post_off[id] || p.df[id] > common_df;
    let mut nkeys = 0;
    for id in 0..t {
        if keyed(id, &p) {
            nkeys += key_count((p.tok_off[id + 1] - p.tok_off[id]) as usize);
        }
    }
    let slots = pow2_at_least(2 * nkeys.max(1)).min(caps.slots);
    let mask = slots - 1;
    for w in p.table[..2 * slots].iter_mut() {
        *w = EMPTY;
    }
    let bloom = bloom_words(nkeys).min(caps.bloom);
    let bmask = bloom - 1;
    for w in p.bloom[..bloom].iter_mut() {
        *w = 0;
    }
    let mut hashes = [0u64; MAX_TOKEN_LEN + 1];
    for id in 0..t {
        if !keyed(id, &p) {
            continue;
        }
        let tok = &bytes[p.tok_off[id] as usize..p.tok_off[id + 1] as usize];
        let c = keys(tok, &mut hashes);
        for &h in &hashes[..c] {
            let (w, bits) = bloom_word(h, bmask);
            p.bloom[w] |= bits;
            let mut slot = h as usize & mask;
            while p.table[2 * slot + 1] != EMPTY {
                slot = (slot + 1) & mask;
            }
            p.table[2 * slot] = (h >> 32) as u32;
            p.table[2 * slot + 1] = id as u32;
        }
    }
    let postings = p.post_off[t] as usize;
    let h = p.hdr;
    h[H_MAGIC] = MAGIC;
    h[H_NAMES] = n as u32;
    h[H_TOKEN_CAP] = caps.tokens as u32;
    h[H_SLOT_CAP] = caps.slots as u32;
    h[H_DICT_CAP] = caps.dict as u32;
    h[H_PAIR_CAP] = caps.pair_slots as u32;
    h[H_TOKENS] = t as u32;
    h[H_MASK] = mask as u32;
    h[H_PAIR_MASK] = pmask as u32;
    h[H_EPOCH] = 0;
    h[H_KEYS] = nkeys as u32;
    h[H_POSTINGS] = postings as u32;
    h[H_PAIRS] = npairs as u32;
    h[H_BLOOM_CAP] = caps.bloom as u32;
    h[H_BLOOM_MASK] = bmask as u32;
    h[H_COMMON_DF] = common_df;
    Some(Built { names: n, tokens: t, keys: nkeys, postings, pairs: npairs })
}

/// A built index, opened over its arenas for screening.
pub struct Index<'a> {
    p: Parts<'a>,
    bytes: &'a [u8],
    mask: usize,
    pmask: usize,
    bmask: usize,
    common_df: u32,
    epoch: u32,
    row: Name,
}

/// The best candidate so far: similarity and entry (lower entry on a tie).
struct Best(f64, u32);

impl Best {
    #[inline]
    fn offer(&mut self, s: f64, e: u32) {
        if s > self.0 || (s == self.0 && e < self.1) {
            self.0 = s;
            self.1 = e;
        }
    }
}

impl<'a> Index<'a> {
    /// Opens an index that `build` wrote; `None` when the arenas do not hold one.
    pub fn open(words: &'a mut [u32], bytes: &'a [u8]) -> Option<Index<'a>> {
        if words.len() < HEADER_WORDS || words[H_MAGIC] != MAGIC {
            return None;
        }
        let h = &words[..HEADER_WORDS];
        let caps = Caps {
            names: h[H_NAMES] as usize,
            tokens: h[H_TOKEN_CAP] as usize,
            slots: h[H_SLOT_CAP] as usize,
            dict: h[H_DICT_CAP] as usize,
            pair_slots: h[H_PAIR_CAP] as usize,
            bloom: h[H_BLOOM_CAP] as usize,
        };
        let (mask, pmask, epoch, t) =
            (h[H_MASK] as usize, h[H_PAIR_MASK] as usize, h[H_EPOCH], h[H_TOKENS] as usize);
        let (bmask, common_df) = (h[H_BLOOM_MASK] as usize, h[H_COMMON_DF]);
        let p = split(words, caps)?;
        if mask >= caps.slots
            || pmask >= caps.pair_slots
            || bmask >= caps.bloom
            || t > caps.tokens
            || p.tok_off[t] as usize > bytes.len()
        {
            return None;
        }
        Some(Index { p, bytes, mask, pmask, bmask, common_df, epoch, row: Name::new() })
    }

    pub fn names(&self) -> usize {
        self.p.hdr[H_NAMES] as usize
    }

    fn token(&self, id: u32) -> &[u8] {
        let id = id as usize;
        &self.bytes[self.p.tok_off[id] as usize..self.p.tok_off[id + 1] as usize]
    }

    fn next_epoch(&mut self) -> u32 {
        if self.epoch == u32::MAX {
            for w in self.p.tok_stamp.iter_mut().chain(self.p.name_stamp.iter_mut()) {
                *w = 0;
            }
            self.epoch = 0;
        }
        self.epoch += 1;
        self.p.hdr[H_EPOCH] = self.epoch;
        self.epoch
    }

    /// Screens one raw name: (best similarity among the candidates, its entry or `NO_MATCH`).
    /// On equal similarity the lower entry wins.
    pub fn screen_name(&mut self, s: &[u8]) -> (f64, u32) {
        let mut row = core::mem::take(&mut self.row);
        row.parse(s);
        let r = self.screen_parsed(&row, f64::NEG_INFINITY);
        self.row = row;
        r
    }

    fn screen_parsed(&mut self, row: &Name, floor: f64) -> (f64, u32) {
        let mut best = Best(0.0, NO_MATCH);
        if row.is_empty() {
            return (best.0, best.1);
        }
        let epoch = self.next_epoch();
        let rs = row.tokens();
        let rs = &rs[..row.len()];
        let mut hashes = [0u64; MAX_TOKEN_LEN + 1];
        let mut common = [0u32; MAX_COMMON_HITS];
        let mut nc = 0;
        for k in 0..rs.len() {
            if k > 0 && rs[k] == rs[k - 1] {
                continue;
            }
            let c = keys(rs[k], &mut hashes);
            for &h in &hashes[..c] {
                let (w, bits) = bloom_word(h, self.bmask);
                if self.p.bloom[w] & bits != bits {
                    continue;
                }
                let fp = (h >> 32) as u32;
                let mut slot = h as usize & self.mask;
                loop {
                    let tok = self.p.table[2 * slot + 1];
                    if tok == EMPTY {
                        break;
                    }
                    if self.p.table[2 * slot] == fp && self.p.tok_stamp[tok as usize] != epoch {
                        self.p.tok_stamp[tok as usize] = epoch;
                        if self.p.df[tok as usize] > self.common_df && nc < MAX_COMMON_HITS {
                            common[nc] = tok;
                            nc += 1;
                        }
                        let (a, b) = (self.p.post_off[tok as usize], self.p.post_off[tok as usize + 1]);
                        for q in a as usize..b as usize {
                            self.candidate(self.p.post[q], rs, epoch, floor, &mut best);
                        }
                    }
                    slot = (slot + 1) & self.mask;
                }
            }
        }
        // Names all of whose matching tokens are common are filed under pairs of them.
        for i in 0..nc {
            for j in i + 1..nc {
                let (a, b) =
                    if common[i] < common[j] { (common[i], common[j]) } else { (common[j], common[i]) };
                let mut slot = pair_hash(a, b) as usize & self.pmask;
                loop {
                    let e = self.p.pairs[3 * slot + 2];
                    if e == EMPTY {
                        break;
                    }
                    if self.p.pairs[3 * slot] == a && self.p.pairs[3 * slot + 1] == b {
                        self.candidate(e, rs, epoch, floor, &mut best);
                    }
                    slot = (slot + 1) & self.pmask;
                }
            }
        }
        (best.0, best.1)
    }

    #[inline]
    fn candidate(&mut self, e: u32, rs: &[&[u8]], epoch: u32, floor: f64, best: &mut Best) {
        if self.p.name_stamp[e as usize] == epoch {
            return;
        }
        self.p.name_stamp[e as usize] = epoch;
        let (a, b) = (self.p.name_off[e as usize] as usize, self.p.name_off[e as usize + 1] as usize);
        let mut ls = [&[][..]; MAX_TOKENS];
        for (k, &id) in self.p.name_tok[a..b].iter().enumerate() {
            ls[k] = self.token(id);
        }
        if let Some(s) = similarity_from(&ls[..b - a], rs, best.0.max(floor)) {
            best.offer(s, e);
        }
    }

    /// Screens `n` rows of `rows`: per row the best similarity ×10,000 (rounded; exact from
    /// `threshold - EXACT_BAND` up) and the entry whose similarity is ≥ `threshold`, else
    /// `NO_MATCH`. Null and empty rows match nothing.
    ///
    /// Each distinct name is screened once, at its first row, and its rows copy the result: a
    /// payment feed names the same merchants, employers and payees over and over (a few hundred
    /// distinct names in 8,192 generated rows), and screening is a pure function of the bytes.
    /// `scratch` (`screen_scratch_words(n)` words) holds the batch's dictionary (`dict::dict_ids`).
    /// Returns the number of rows that matched, or `None` when an output or `scratch` is short.
    pub fn screen(
        &mut self,
        rows: &StrCol,
        n: usize,
        threshold: f64,
        sim: &mut [u16],
        entry: &mut [u32],
        scratch: &mut [u32],
    ) -> Option<usize> {
        if sim.len() < n || entry.len() < n || scratch.len() < screen_scratch_words(n) {
            return None;
        }
        let (table, rest) = scratch.split_at_mut(crate::dict::table_slots(n));
        let (ids, rest) = rest.split_at_mut(n);
        let firsts = &mut rest[..n];
        let distinct = crate::dict::dict_ids(rows, n, table, ids, firsts, &mut []);
        let mut row = core::mem::take(&mut self.row);
        for &first in &firsts[..distinct] {
            let i = first as usize;
            let (mut s, mut e) = (0.0, NO_MATCH);
            if let Some(b) = rows.get_present(i) {
                row.parse(b);
                (s, e) = self.screen_parsed(&row, threshold - EXACT_BAND);
            }
            sim[i] = (s * 10_000.0 + 0.5) as u16;
            entry[i] = if e != NO_MATCH && s >= threshold { e } else { NO_MATCH };
        }
        self.row = row;
        let mut matched = 0;
        for i in 0..n {
            let id = ids[i];
            if id == crate::dict::ABSENT {
                sim[i] = 0;
                entry[i] = NO_MATCH;
            } else {
                let f = firsts[id as usize] as usize;
                sim[i] = sim[f];
                entry[i] = entry[f];
            }
            if entry[i] != NO_MATCH {
                matched += 1;
            }
        }
        Some(matched)
    }
}

/// Scratch words `Index::screen` needs for `n` rows: the dictionary's table, ids and first rows.
pub fn screen_scratch_words(n: usize) -> usize {
    crate::dict::table_slots(n) + 2 * n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        let mut n = Name::new();
        n.parse(s.as_bytes());
        let mut out = [0u8; 600];
        let l = n.write_joined(&mut out);
        String::from_utf8(out[..l].to_vec()).unwrap()
    }

    fn jw(a: &str, b: &str) -> f64 {
        jaro_winkler(a.as_bytes(), b.as_bytes())
    }

    fn col(names: &[String]) -> (Vec<i32>, Vec<u8>) {
        let mut offsets = vec![0i32];
        let mut data = Vec::new();
        for s in names {
            data.extend_from_slice(s.as_bytes());
            offsets.push(data.len() as i32);
        }
        (offsets, data)
    }

    struct Built2 {
        words: Vec<u32>,
        bytes: Vec<u8>,
    }

    fn build_list(names: &[String]) -> Built2 {
        let (offsets, data) = col(names);
        let c = StrCol::new(&offsets, &data, None);
        let plan = plan(&c, names.len());
        let mut words = vec![0u32; plan.words];
        let mut bytes = vec![0u8; plan.bytes];
        build(&c, names.len(), COMMON_DF, &mut words, &mut bytes).unwrap();
        Built2 { words, bytes }
    }

    fn brute(names: &[String], row: &str) -> f64 {
        names.iter().map(|l| name_similarity(l.as_bytes(), row.as_bytes())).fold(0.0, f64::max)
    }

    #[test]
    fn normalisation_folds_accents_and_case() {
        assert_eq!(norm("Zoltán Keményi"), "kemenyi zoltan");
        assert_eq!(norm("JEAN-BAPTISTE MOREAU-LEFÈVRE"), "baptiste jean lefevre moreau");
        assert_eq!(norm("Straße"), "strasse");
        assert_eq!(norm("Øystein Ærø"), "aero oystein");
        assert_eq!(norm("Łukasz Wałęsa"), "lukasz walesa");
        assert_eq!(norm("ŒUVRE Ĳssel Þór"), "ijssel oeuvre thor");
        assert_eq!(norm("Nguyễn Đức Thắng"), "duc nguyen thang");
        assert_eq!(norm("Ștefan Țurcanu"), "stefan turcanu");
        // Decomposed input (NFD): the combining marks go, the letters stay in one token.
        assert_eq!(norm("Zolta\u{301}n"), "zoltan");
        // Fullwidth letters.
        assert_eq!(norm("ＡＢＣ"), "abc");
    }

    #[test]
    fn normalisation_drops_honorifics_and_punctuation_and_sorts() {
        assert_eq!(norm("Dr. Amira Hassan El-Farouk"), "amira el farouk hassan");
        assert_eq!(norm("Sheikh Hamid Reza, Mr."), "hamid reza");
        assert_eq!(norm("MRS  o'brien;;;  (Mary)"), "brien mary o");
        assert_eq!(norm("Haji Lord Hajji Prof Rev Hon Dame Sir Lady Mx Ms Miss"), "");
        assert_eq!(norm("Viktor Draganov"), norm("DRAGANOV, viktor"));
        assert_eq!(norm("a\u{2019}b\u{a0}c\u{2013}d"), "a b c d");
        // Titles are whole tokens only.
        assert_eq!(norm("Drago Mrak"), "drago mrak");
        // Other scripts are kept (Cyrillic lower-cased), malformed bytes separate.
        assert_eq!(norm("ДРАГАНОВ Виктор"), "виктор драганов");
        let mut n = Name::new();
        n.parse(b"ab\xffcd\xc3");
        assert_eq!(n.len(), 2);
    }

    #[test]
    fn normalisation_caps_tokens_and_lengths() {
        let long = "x".repeat(100);
        assert_eq!(norm(&long).len(), MAX_TOKEN_LEN);
        let many: Vec<String> = (0..40).map(|i| format!("t{i:02}")).collect();
        let mut n = Name::new();
        n.parse(many.join(" ").as_bytes());
        assert_eq!(n.len(), MAX_TOKENS);
    }

    #[test]
    fn jaro_winkler_matches_reference_values() {
        let close = |a: f64, b: f64| (a - b).abs() < 0.0005;
        assert!(close(jw("martha", "marhta"), 0.961), "{}", jw("martha", "marhta"));
        assert!(close(jw("dwayne", "duane"), 0.840), "{}", jw("dwayne", "duane"));
        assert!(close(jw("dixon", "dicksonx"), 0.813), "{}", jw("dixon", "dicksonx"));
        assert!(close(jaro(b"martha", b"marhta"), 0.944));
        assert!(close(jaro(b"dwayne", b"duane"), 0.822));
        assert!(close(jaro(b"dixon", b"dicksonx"), 0.767));
        assert_eq!(jw("abc", "abc"), 1.0);
        assert_eq!(jw("abc", "xyz"), 0.0);
        assert_eq!(jw("", "abc"), 0.0);
        assert_eq!(jw("a", "a"), 1.0);
        assert!(close(jw("crate", "trace"), 0.733));
    }

    #[test]
    fn similarity_is_token_wise_and_length_weighted() {
        // Order, case, accents and punctuation do not matter.
        assert_eq!(name_similarity("Zoltán Keményi".as_bytes(), b"KEMENYI, zoltan"), 1.0);
        // The shorter side's tokens are matched: a name without the patronymic still matches.
        assert_eq!(name_similarity(b"Viktor Aleksandrovich Draganov", b"Viktor Draganov"), 1.0);
        // One typo in a long token barely moves it; weights are token lengths.
        let s = name_similarity(b"Viktor Draganov", b"Viktor Draganow");
        let want = (6.0 + 8.0 * jw("draganov", "draganow")) / 14.0;
        assert!((s - want).abs() < 1e-12 && s > 0.95, "{s}");
        // A single surname is not a hit on a full name, but a one-token list name can be.
        assert_eq!(name_similarity(b"Viktor Draganov", b"Draganov"), 0.0);
        assert_eq!(name_similarity(b"Hezbollah", b"hezbollah"), 1.0);
        // Each partner is used once.
        let s = name_similarity(b"Anna Anna", b"Anna Maria");
        assert!(s < 0.9, "{s}");
    }

    fn list() -> Vec<String> {
        [
            "Viktor Aleksandrovich Draganov",
            "Zoltán Keményi",
            "Amira Hassan El-Farouk",
            "Jean-Baptiste Moreau-Lefèvre",
            "Golden Crescent Exchange",
            "BEKOV, Ruslan Timurovich",
            "QUINTERO VARGAS, Marisol",
            "TAVAKOLI, Hamid Reza",
            "PETRENKO, Oksana",
            "NORTHWIND MARITIME TRADING LLC",
            "Li Wei",
            "Hezbollah",
            "Omar Abu Said",
            "Ivan Petrov",
            "Sergei Ivanovich Petrov",
            "Mohammed Ali Hassan",
            "Blue Ocean Shipping LLC",
            "Tiger Trading LLC",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    /// Every one-character substitution, deletion, insertion and swap of one token.
    fn one_typo_variants(name: &str) -> Vec<String> {
        let mut n = Name::new();
        n.parse(name.as_bytes());
        let toks: Vec<String> =
            (0..n.len()).map(|k| String::from_utf8(n.token(k).to_vec()).unwrap()).collect();
        let mut out = Vec::new();
        for (k, t) in toks.iter().enumerate() {
            let b = t.as_bytes();
            let mut vs: Vec<Vec<u8>> = Vec::new();
            for i in 0..b.len() {
                let mut v = b.to_vec();
                v[i] = if b[i] == b'q' { b'z' } else { b'q' };
                vs.push(v);
                let mut v = b.to_vec();
                v.remove(i);
                vs.push(v);
                let mut v = b.to_vec();
                v.insert(i, b'k');
                vs.push(v);
                if i + 1 < b.len() {
                    let mut v = b.to_vec();
                    v.swap(i, i + 1);
                    vs.push(v);
                }
            }
            for v in vs {
                let mut all = toks.clone();
                all[k] = String::from_utf8(v).unwrap();
                out.push(all.join(" "));
            }
        }
        out
    }

    #[test]
    fn index_finds_every_one_typo_variant_like_a_full_scan() {
        let names = list();
        let mut b = build_list(&names);
        let mut idx = Index::open(&mut b.words, &b.bytes).unwrap();
        let mut checked = 0;
        for name in &names {
            for v in one_typo_variants(name) {
                let (s, e) = idx.screen_name(v.as_bytes());
                // Its own entry is always a candidate ...
                let own = name_similarity(name.as_bytes(), v.as_bytes());
                assert!(s >= own, "{v:?}: {s} < own {own}");
                // ... and whatever a full scan finds at the threshold, the index finds too.
                let want = brute(&names, &v);
                if want >= 0.9 {
                    assert!((s - want).abs() < 1e-12 && e != NO_MATCH, "{v:?}: index {s} vs scan {want}");
                }
                checked += 1;
            }
        }
        assert!(checked > 1000, "{checked}");
    }

    #[test]
    fn screening_matches_variants_and_rejects_different_names() {
        let names = list();
        let mut b = build_list(&names);
        let mut idx = Index::open(&mut b.words, &b.bytes).unwrap();
        let cases: &[(&str, u32)] = &[
            ("Dr Viktor DRAGANOV", 0),
            ("draganov viktor aleksandrovich", 0),
            ("Zoltan Kemenyi", 1),
            ("Mrs Amira El Farouk", 2),
            ("Jean Baptiste Moreau Lefevre", 3),
            ("Golden Cresent Exchange", 4),
            ("Ruslan Bekov", 5),
            ("Marisol Quintero-Vargas", 6),
            ("Sheikh Hamid Reza Tavakoly", 7),
            ("Oksana Petrenco", 8),
            ("Northwind Maritime Trading", 9),
            ("HEZBOLAH", 11),
        ];
        for &(row, want) in cases {
            let (s, e) = idx.screen_name(row.as_bytes());
            assert!(s >= 0.9, "{row}: {s}");
            assert_eq!(e, want, "{row}");
        }
        for row in [
            "John Smith",
            "Acme Widgets Ltd",
            "Draganov",
            "Margaret Thatcher",
            "Oliver Pemberton-Hughes",
            "",
            "...",
            "Tesco Stores Limited",
            "Ivan Smith",
        ] {
            let (s, _) = idx.screen_name(row.as_bytes());
            assert!(s < 0.9, "{row}: {s}");
        }
    }

    #[test]
    fn a_repeated_name_gets_the_result_it_gets_alone() {
        let names = list();
        let mut b = build_list(&names);
        let mut idx = Index::open(&mut b.words, &b.bytes).unwrap();
        // Repeats of matching and non-matching names, near-repeats that differ by a byte, empties.
        let base =
            ["Oksana Petrenko", "TESCO STORES", "zoltan kemenyi", "", "Oksana Petrenk0", "TESCO STORE"];
        let rows: Vec<String> = (0..60).map(|k| base[(k * 7) % base.len()].to_string()).collect();
        let (offsets, data) = col(&rows);
        let c = StrCol::new(&offsets, &data, None);
        let n = rows.len();
        let (mut sim, mut entry) = (vec![0u16; n], vec![0u32; n]);
        let mut scratch = vec![0u32; screen_scratch_words(n)];
        let matched = idx.screen(&c, n, 0.9, &mut sim, &mut entry, &mut scratch).unwrap();
        let mut alone_matched = 0;
        for (k, r) in rows.iter().enumerate() {
            let (o1, d1) = col(std::slice::from_ref(r));
            let one = StrCol::new(&o1, &d1, None);
            let (mut s1, mut e1) = ([0u16; 1], [0u32; 1]);
            let mut sc1 = vec![0u32; screen_scratch_words(1)];
            alone_matched += idx.screen(&one, 1, 0.9, &mut s1, &mut e1, &mut sc1).unwrap();
            assert_eq!((sim[k], entry[k]), (s1[0], e1[0]), "row {k}: {r:?}");
        }
        assert_eq!(matched, alone_matched);
        assert!(matched > 0 && matched < n);
    }

    #[test]
    fn screen_fills_columns_and_skips_nulls() {
        let names = list();
        let mut b = build_list(&names);
        let mut idx = Index::open(&mut b.words, &b.bytes).unwrap();
        let rows: Vec<String> = ["Oksana Petrenko", "", "nobody at all", "zoltan kemenyi"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (offsets, data) = col(&rows);
        let validity = [0b1101u8];
        let c = StrCol::new(&offsets, &data, Some(&validity));
        let mut sim = [0u16; 4];
        let mut entry = [0u32; 4];
        let mut scratch = vec![0u32; screen_scratch_words(4)];
        assert_eq!(idx.screen(&c, 4, 0.9, &mut sim, &mut entry, &mut scratch), Some(2));
        assert_eq!(entry, [8, NO_MATCH, NO_MATCH, 1]);
        assert_eq!(sim[0], 10_000);
        assert_eq!(sim[1], 0);
        assert!(sim[2] < 9_000);
        assert_eq!(idx.screen(&c, 4, 0.9, &mut sim[..3], &mut entry, &mut scratch), None);
        assert_eq!(idx.screen(&c, 4, 0.9, &mut sim, &mut entry, &mut scratch[..20]), None);
        // Similarities are exact from threshold - EXACT_BAND up, and never above the exact figure.
        let mut exact = [0u16; 4];
        idx.screen(&c, 4, 0.0, &mut exact, &mut entry, &mut scratch);
        for k in 0..4 {
            assert!(sim[k] <= exact[k]);
            if exact[k] >= 8_000 {
                assert_eq!(sim[k], exact[k]);
            }
        }
    }

    #[test]
    fn common_tokens_do_not_file_every_name() {
        // 200 "X LLC" names: llc is common, so each is filed under X only.
        let mut names: Vec<String> = (0..200).map(|i| format!("Company{i:03} LLC")).collect();
        let mut b = build_list(&names);
        assert_eq!(b.words[H_POSTINGS], 200);
        assert_eq!(b.words[H_PAIRS], 0);
        let mut idx = Index::open(&mut b.words, &b.bytes).unwrap();
        assert_eq!(idx.screen_name(b"company042 llc"), (1.0, 42));
        let (s, e) = idx.screen_name(b"compnay042 LLC");
        assert!(s > 0.95 && e == 42, "{s} {e}");
        assert_eq!(idx.screen_name(b"acme llc").1, NO_MATCH);
        // A one-token name is filed under its token however common (and, being the shorter
        // side, matches any row that carries it).
        names.push("LLC".to_string());
        let mut b = build_list(&names);
        assert_eq!(b.words[H_POSTINGS], 201);
        let mut idx = Index::open(&mut b.words, &b.bytes).unwrap();
        assert_eq!(idx.screen_name(b"acme llc"), (1.0, 200));
    }

    #[test]
    fn names_of_common_tokens_are_found_through_pairs() {
        // ivan, petrov and sergei are each in more than COMMON_DF names.
        let mut names: Vec<String> = (0..100).map(|i| format!("Ivan Petrov Kuz{i:03}")).collect();
        names.extend((0..100).map(|i| format!("Sergei Ivan Orl{i:03}")));
        names.push("Sergei Petrov".to_string());
        let mut b = build_list(&names);
        // 100 × (ivan, petrov) + 100 × (ivan, sergei) + 1 × (petrov, sergei)
        assert_eq!(b.words[H_PAIRS], 201);
        let mut idx = Index::open(&mut b.words, &b.bytes).unwrap();
        assert_eq!(idx.screen_name(b"Ivan Petrov"), (1.0, 0));
        assert_eq!(idx.screen_name(b"Petrov, Sergei"), (1.0, 200));
        assert_eq!(idx.screen_name(b"Petrow Sergey").1, 200);
        assert_eq!(idx.screen_name(b"Ivan Petrov Kuz077"), (1.0, 77));
        // One common token alone does not reach the names filed under pairs.
        assert!(idx.screen_name(b"Ivan Smith").0 < 0.9);
    }

    #[test]
    fn open_rejects_foreign_arenas_and_epochs_wrap() {
        let mut junk = vec![0u32; 64];
        assert!(Index::open(&mut junk, &[]).is_none());
        let names = list();
        let mut b = build_list(&names);
        b.words[H_EPOCH] = u32::MAX - 1;
        let mut idx = Index::open(&mut b.words, &b.bytes).unwrap();
        for _ in 0..3 {
            assert_eq!(idx.screen_name(b"Oksana Petrenko"), (1.0, 8));
        }
    }

    #[test]
    fn build_refuses_small_arenas_and_handles_empty_rows() {
        let names: Vec<String> = vec!["".into(), "Mr".into(), "Ivan Petrov".into()];
        let (offsets, data) = col(&names);
        let c = StrCol::new(&offsets, &data, None);
        let p = plan(&c, 3);
        let mut words = vec![0u32; p.words - 1];
        let mut bytes = vec![0u8; p.bytes];
        assert!(build(&c, 3, COMMON_DF, &mut words, &mut bytes).is_none());
        let mut words = vec![0u32; p.words];
        let built = build(&c, 3, COMMON_DF, &mut words, &mut bytes).unwrap();
        assert_eq!(built.tokens, 2);
        let mut idx = Index::open(&mut words, &bytes).unwrap();
        assert_eq!(idx.screen_name(b"petrov ivan"), (1.0, 2));
        assert_eq!(idx.screen_name(b"mr"), (0.0, NO_MATCH));
    }
}
