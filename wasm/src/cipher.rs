//! ChaCha20 (RFC 8439: 20 rounds, 256-bit key, 96-bit nonce, 32-bit block counter) over rows of
//! Arrow Binary columns, for personal fields encrypted at rest with a key per data subject.
//!
//! A stream cipher keeps every value's length, so a column is encrypted in place and its offsets
//! stay as they are. Each row has one keystream (its subject's key, its own nonce, block counter
//! from 0) that runs across the row's fields in column order: field `c` of a row starts at stream
//! position `len(0) + … + len(c - 1)`, so no two fields of a row share keystream bytes. XOR is its
//! own inverse: the same call encrypts and decrypts. `engine/pii/cipher.ts` does the same for one
//! value with node:crypto, and a property test holds the two to the same bytes.

/// `key_of_row` value of a row the kernel leaves untouched (no subject, or a shredded key).
pub const SKIP: u32 = u32::MAX;
pub const KEY_BYTES: usize = 32;
pub const NONCE_BYTES: usize = 12;
const BLOCK: usize = 64;

/// "expand 32-byte k", the RFC 8439 §2.3 constants.
const SIGMA: [u32; 4] = [0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574];

/// One Binary column: `n + 1` offsets (the first need not be 0) and the bytes they index.
pub struct Col<'a> {
    pub offsets: &'a [i32],
    pub data: &'a mut [u8],
}

/// Why `xor_rows` refused a batch. It checks everything before it writes anything, so a refused
/// batch is left exactly as it came.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CipherError {
    /// `keys` is not a whole number of 32-byte keys.
    Keys = 1,
    /// `nonces` is not 12 bytes per row.
    Nonces = 2,
    /// A row names a key past the end of `keys` (and is not `SKIP`).
    KeyIndex = 3,
    /// A column's offsets are not `n + 1`, decrease, are negative, or run past its data.
    Offsets = 4,
}

#[inline(always)]
fn quarter(s: &mut [u32; 16], a: usize, b: usize, c: usize, d: usize) {
    s[a] = s[a].wrapping_add(s[b]);
    s[d] = (s[d] ^ s[a]).rotate_left(16);
    s[c] = s[c].wrapping_add(s[d]);
    s[b] = (s[b] ^ s[c]).rotate_left(12);
    s[a] = s[a].wrapping_add(s[b]);
    s[d] = (s[d] ^ s[a]).rotate_left(8);
    s[c] = s[c].wrapping_add(s[d]);
    s[b] = (s[b] ^ s[c]).rotate_left(7);
}

/// The 20 rounds (ten double rounds: columns, then diagonals) over a state whose words are `T`:
/// one stream's (`u32`) or four streams' in lanes.
#[inline(always)]
fn rounds<T>(s: &mut [T; 16], quarter: fn(&mut [T; 16], usize, usize, usize, usize)) {
    for _ in 0..10 {
        quarter(s, 0, 4, 8, 12);
        quarter(s, 1, 5, 9, 13);
        quarter(s, 2, 6, 10, 14);
        quarter(s, 3, 7, 11, 15);
        quarter(s, 0, 5, 10, 15);
        quarter(s, 1, 6, 11, 12);
        quarter(s, 2, 7, 8, 13);
        quarter(s, 3, 4, 9, 14);
    }
}

/// The ChaCha20 block function (RFC 8439 §2.3): 64 keystream bytes for one block counter.
pub fn block(key: &[u32; 8], counter: u32, nonce: &[u32; 3], out: &mut [u8; 64]) {
    let mut init = [0u32; 16];
    init[..4].copy_from_slice(&SIGMA);
    init[4..12].copy_from_slice(key);
    init[12] = counter;
    init[13..].copy_from_slice(nonce);
    let mut s = init;
    rounds(&mut s, quarter);
    for k in 0..16 {
        out[4 * k..4 * k + 4].copy_from_slice(&s[k].wrapping_add(init[k]).to_le_bytes());
    }
}

/// Rows whose first keystream blocks are computed together, one row per lane: the same steps on
/// four independent states, which the compiler turns into 128-bit SIMD (the module is built with
/// `simd128`). Most rows' personal fields fit in `AHEAD` blocks; the rest of a longer row's stream
/// comes from `block`, one at a time.
const LANES: usize = 4;
const AHEAD: usize = 2;
const AHEAD_BYTES: usize = AHEAD * BLOCK;

type Lanes = [u32; LANES];

#[inline(always)]
fn lanes_add(a: Lanes, b: Lanes) -> Lanes {
    let mut r = [0u32; LANES];
    for l in 0..LANES {
        r[l] = a[l].wrapping_add(b[l]);
    }
    r
}

#[inline(always)]
fn lanes_xor_rotl(a: Lanes, b: Lanes, n: u32) -> Lanes {
    let mut r = [0u32; LANES];
    for l in 0..LANES {
        r[l] = (a[l] ^ b[l]).rotate_left(n);
    }
    r
}

#[inline(always)]
fn quarter_lanes(s: &mut [Lanes; 16], a: usize, b: usize, c: usize, d: usize) {
    s[a] = lanes_add(s[a], s[b]);
    s[d] = lanes_xor_rotl(s[d], s[a], 16);
    s[c] = lanes_add(s[c], s[d]);
    s[b] = lanes_xor_rotl(s[b], s[c], 12);
    s[a] = lanes_add(s[a], s[b]);
    s[d] = lanes_xor_rotl(s[d], s[a], 8);
    s[c] = lanes_add(s[c], s[d]);
    s[b] = lanes_xor_rotl(s[b], s[c], 7);
}

/// `block` for four streams at once: lane `l` gets the block of (`key[l]`, `counter`, `nonce[l]`).
/// The blocks go to `out[l][at..at + 64]`.
pub fn block_lanes(
    key: &[[u32; 8]; LANES],
    counter: u32,
    nonce: &[[u32; 3]; LANES],
    out: &mut [[u8; AHEAD_BYTES]; LANES],
    at: usize,
) {
    let mut init = [[0u32; LANES]; 16];
    for k in 0..4 {
        init[k] = [SIGMA[k]; LANES];
    }
    for l in 0..LANES {
        for k in 0..8 {
            init[4 + k][l] = key[l][k];
        }
        for k in 0..3 {
            init[13 + k][l] = nonce[l][k];
        }
    }
    init[12] = [counter; LANES];
    let mut s = init;
    rounds(&mut s, quarter_lanes);
    for k in 0..16 {
        let w = lanes_add(s[k], init[k]);
        for l in 0..LANES {
            out[l][at + 4 * k..at + 4 * k + 4].copy_from_slice(&w[l].to_le_bytes());
        }
    }
}

/// Little-endian words of `bytes` (whose length is `4 * out.len()`).
fn words(bytes: &[u8], out: &mut [u32]) {
    for (k, w) in out.iter_mut().enumerate() {
        *w = u32::from_le_bytes([bytes[4 * k], bytes[4 * k + 1], bytes[4 * k + 2], bytes[4 * k + 3]]);
    }
}

/// The rest of a row's keystream after the blocks computed ahead, one block at a time as the
/// row's fields consume it.
struct Stream {
    key: [u32; 8],
    nonce: [u32; 3],
    counter: u32,
    block: [u8; 64],
    /// Bytes of `block` already used; `BLOCK` when the next byte needs a new block.
    used: usize,
}

impl Stream {
    /// The stream from block `counter` on.
    fn at(key: [u32; 8], nonce: [u32; 3], counter: u32) -> Stream {
        Stream { key, nonce, counter, block: [0; 64], used: BLOCK }
    }

    fn xor(&mut self, mut data: &mut [u8]) {
        while !data.is_empty() {
            if self.used == BLOCK {
                block(&self.key, self.counter, &self.nonce, &mut self.block);
                self.counter = self.counter.wrapping_add(1);
                self.used = 0;
            }
            let take = (BLOCK - self.used).min(data.len());
            let (head, rest) = data.split_at_mut(take);
            for (d, k) in head.iter_mut().zip(&self.block[self.used..self.used + take]) {
                *d ^= *k;
            }
            self.used += take;
            data = rest;
        }
    }
}

/// XORs row `i`'s fields with its keystream: `ahead` (its first blocks, computed in lanes), then
/// `block` from the next counter on, only for a row longer than `ahead`.
fn xor_row(cols: &mut [Col], i: usize, ahead: &[u8], key: [u32; 8], nonce: [u32; 3]) {
    let mut pos = 0;
    let mut tail: Option<Stream> = None;
    for c in cols.iter_mut() {
        let (s, e) = range(c.offsets, i);
        let data = &mut c.data[s..e];
        let at = pos.min(ahead.len());
        let k = (ahead.len() - at).min(data.len());
        for (d, x) in data[..k].iter_mut().zip(&ahead[at..at + k]) {
            *d ^= *x;
        }
        if k < data.len() {
            let counter = (ahead.len() / BLOCK) as u32;
            tail.get_or_insert_with(|| Stream::at(key, nonce, counter)).xor(&mut data[k..]);
        }
        pos += data.len();
    }
}

/// The byte range of row `i` of a column whose offsets `check` has accepted.
#[inline]
fn range(offsets: &[i32], i: usize) -> (usize, usize) {
    (offsets[i] as usize, offsets[i + 1] as usize)
}

fn check(keys: &[u8], key_of_row: &[u32], nonces: &[u8], cols: &[Col]) -> Result<(), CipherError> {
    let n = key_of_row.len();
    if keys.len() % KEY_BYTES != 0 {
        return Err(CipherError::Keys);
    }
    if nonces.len() != NONCE_BYTES * n {
        return Err(CipherError::Nonces);
    }
    let k = keys.len() / KEY_BYTES;
    if key_of_row.iter().any(|&r| r != SKIP && r as usize >= k) {
        return Err(CipherError::KeyIndex);
    }
    for c in cols {
        if c.offsets.len() != n + 1 || c.offsets[0] < 0 {
            return Err(CipherError::Offsets);
        }
        if c.offsets.windows(2).any(|w| w[1] < w[0]) || c.offsets[n] as usize > c.data.len() {
            return Err(CipherError::Offsets);
        }
    }
    Ok(())
}

/// XORs each row's fields with the row's keystream: key `keys[key_of_row[i]]` (32 bytes each),
/// nonce `nonces[12 i..12 i + 12]`, block counter from 0, across `cols` in order. Rows whose key
/// is `SKIP` are left alone. Encrypts and decrypts alike.
pub fn xor_rows(keys: &[u8], key_of_row: &[u32], nonces: &[u8], cols: &mut [Col]) -> Result<(), CipherError> {
    check(keys, key_of_row, nonces, cols)?;
    let n = key_of_row.len();
    let mut first = 0;
    while first < n {
        let rows = (n - first).min(LANES);
        // Each lane's key and nonce, and how many blocks its row needs (up to AHEAD). A skipped
        // row, or a lane past the end, computes a block of zeros that nothing uses.
        let mut key = [[0u32; 8]; LANES];
        let mut nonce = [[0u32; 3]; LANES];
        let mut need = 0;
        for l in 0..rows {
            let i = first + l;
            let r = key_of_row[i];
            if r == SKIP {
                continue;
            }
            words(&keys[r as usize * KEY_BYTES..(r as usize + 1) * KEY_BYTES], &mut key[l]);
            words(&nonces[NONCE_BYTES * i..NONCE_BYTES * (i + 1)], &mut nonce[l]);
            let len: usize = cols.iter().map(|c| range(c.offsets, i)).map(|(s, e)| e - s).sum();
            need = need.max((len + BLOCK - 1) / BLOCK);
        }
        let blocks = need.min(AHEAD);
        let mut ahead = [[0u8; AHEAD_BYTES]; LANES];
        for b in 0..blocks {
            block_lanes(&key, b as u32, &nonce, &mut ahead, b * BLOCK);
        }
        for l in 0..rows {
            if key_of_row[first + l] != SKIP {
                xor_row(cols, first + l, &ahead[l][..blocks * BLOCK], key[l], nonce[l]);
            }
        }
        first += rows;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: Vec<u8> = s.bytes().filter(|b| b.is_ascii_hexdigit()).collect();
        s.chunks(2).map(|p| u8::from_str_radix(core::str::from_utf8(p).unwrap(), 16).unwrap()).collect()
    }

    /// The RFC 8439 test key: bytes 00 01 … 1f.
    fn rfc_key() -> [u8; 32] {
        let mut k = [0u8; 32];
        for (i, b) in k.iter_mut().enumerate() {
            *b = i as u8;
        }
        k
    }

    const SUNSCREEN: &[u8] = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip \
for the future, sunscreen would be it.";

    const SUNSCREEN_CIPHERTEXT: &str = "
        6e 2e 35 9a 25 68 f9 80 41 ba 07 28 dd 0d 69 81 e9 7e 7a ec 1d 43 60 c2 0a 27 af cc fd 9f ae 0b
        f9 1b 65 c5 52 47 33 ab 8f 59 3d ab cd 62 b3 57 16 39 d6 24 e6 51 52 ab 8f 53 0c 35 9f 08 61 d8
        07 ca 0d bf 50 0d 6a 61 56 a3 8e 08 8a 22 b6 5e 52 bc 51 4d 16 cc f8 06 81 8c e9 1a b7 79 37 36
        5a f9 0b bf 74 a3 5b e6 b4 0b 8e ed f2 78 5e 42 87 4d";

    /// A deterministic byte generator (xorshift), so the tests need no crate.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn bytes(&mut self, n: usize) -> Vec<u8> {
            (0..n).map(|_| self.next() as u8).collect()
        }
    }

    /// Binary columns built from per-row values: (offsets, data) per column.
    fn columns(values: &[Vec<Vec<u8>>]) -> Vec<(Vec<i32>, Vec<u8>)> {
        values
            .iter()
            .map(|rows| {
                let mut offsets = vec![0i32];
                let mut data = Vec::new();
                for v in rows {
                    data.extend_from_slice(v);
                    offsets.push(data.len() as i32);
                }
                (offsets, data)
            })
            .collect()
    }

    fn run(
        keys: &[u8],
        key_of_row: &[u32],
        nonces: &[u8],
        cols: &mut [(Vec<i32>, Vec<u8>)],
    ) -> Result<(), CipherError> {
        let mut views: Vec<Col> = cols.iter_mut().map(|(o, d)| Col { offsets: o, data: d }).collect();
        xor_rows(keys, key_of_row, nonces, &mut views)
    }

    #[test]
    fn block_matches_rfc8439_2_3_2() {
        let mut key = [0u32; 8];
        words(&rfc_key(), &mut key);
        let mut nonce = [0u32; 3];
        words(&hex("00 00 00 09 00 00 00 4a 00 00 00 00"), &mut nonce);
        let mut out = [0u8; 64];
        block(&key, 1, &nonce, &mut out);
        let want = hex(
            "10 f1 e7 e4 d1 3b 59 15 50 0f dd 1f a3 20 71 c4 c7 d1 f4 c7 33 c0 68 03 04 22 aa 9a c3 d4 6c 4e
             d2 82 64 46 07 9f aa 09 14 c2 d7 05 d9 8b 02 a2 b5 12 9c d1 de 16 4e b9 cb d0 83 e8 a2 50 3c 4e",
        );
        assert_eq!(&out[..], &want[..]);
    }

    #[test]
    fn lanes_give_each_stream_the_block_the_one_stream_function_gives() {
        let mut rng = Rng(0x5eed);
        for counter in [0u32, 1, 7, u32::MAX] {
            let mut key = [[0u32; 8]; LANES];
            let mut nonce = [[0u32; 3]; LANES];
            for l in 0..LANES {
                words(&rng.bytes(32), &mut key[l]);
                words(&rng.bytes(12), &mut nonce[l]);
            }
            let mut out = [[0u8; AHEAD_BYTES]; LANES];
            block_lanes(&key, counter, &nonce, &mut out, BLOCK);
            for l in 0..LANES {
                let mut one = [0u8; 64];
                block(&key[l], counter, &nonce[l], &mut one);
                assert_eq!(out[l][BLOCK..2 * BLOCK], one, "lane {} counter {}", l, counter);
            }
        }
    }

    #[test]
    fn encryption_matches_rfc8439_2_4_2() {
        // The vector starts at block counter 1; the kernel's rows start at 0, so 64 bytes in a
        // first column use up block 0 and the plaintext in the second column meets block 1.
        let nonce = hex("00 00 00 00 00 00 00 4a 00 00 00 00");
        let mut cols = columns(&[vec![vec![0u8; 64]], vec![SUNSCREEN.to_vec()]]);
        run(&rfc_key(), &[0], &nonce, &mut cols).unwrap();
        assert_eq!(cols[1].1, hex(SUNSCREEN_CIPHERTEXT));
    }

    #[test]
    fn xor_twice_is_the_identity() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let n = 50;
        let keys = rng.bytes(32 * 7);
        let key_of_row: Vec<u32> = (0..n).map(|i| (i * 3 % 7) as u32).collect();
        let nonces = rng.bytes(12 * n);
        let values: Vec<Vec<Vec<u8>>> = (0..3)
            .map(|_| {
                (0..n)
                    .map(|_| {
                        let l = rng.next() % 150;
                        rng.bytes(l as usize)
                    })
                    .collect()
            })
            .collect();
        let plain = columns(&values);
        let mut cols = plain.clone();
        run(&keys, &key_of_row, &nonces, &mut cols).unwrap();
        assert_ne!(cols, plain);
        run(&keys, &key_of_row, &nonces, &mut cols).unwrap();
        assert_eq!(cols, plain);
    }

    #[test]
    fn a_row_split_across_columns_gets_the_stream_of_the_concatenated_row() {
        let mut rng = Rng(42);
        let n = 20;
        let keys = rng.bytes(32 * n);
        let key_of_row: Vec<u32> = (0..n as u32).rev().collect();
        let nonces = rng.bytes(12 * n);
        // Row i is split at cut points that vary per row, including empty pieces.
        let whole: Vec<Vec<u8>> = (0..n).map(|i| rng.bytes(3 + 17 * i)).collect();
        let mut split: Vec<Vec<Vec<u8>>> = vec![Vec::new(); 4];
        for (i, w) in whole.iter().enumerate() {
            let a = (i * 7) % (w.len() + 1);
            let b = a + (w.len() - a) / 2;
            let c = if i % 3 == 0 { b } else { b + (w.len() - b) / 3 };
            for (k, piece) in [&w[..a], &w[a..b], &w[b..c], &w[c..]].iter().enumerate() {
                split[k].push(piece.to_vec());
            }
        }
        let mut one = columns(&[whole]);
        let mut four = columns(&split);
        run(&keys, &key_of_row, &nonces, &mut one).unwrap();
        run(&keys, &key_of_row, &nonces, &mut four).unwrap();
        for i in 0..n {
            let joined: Vec<u8> =
                four.iter().flat_map(|(o, d)| d[o[i] as usize..o[i + 1] as usize].iter().copied()).collect();
            assert_eq!(joined, &one[0].1[one[0].0[i] as usize..one[0].0[i + 1] as usize], "row {i}");
        }
    }

    #[test]
    fn rows_longer_than_a_block_use_consecutive_counters() {
        // 300 bytes = blocks 0..4, the last one partial: each 64-byte stretch is `block` at its counter.
        let mut rng = Rng(7);
        let key = rng.bytes(32);
        let nonce = rng.bytes(12);
        let mut cols = columns(&[vec![vec![0u8; 300]]]);
        run(&key, &[0], &nonce, &mut cols).unwrap();
        let (mut kw, mut nw) = ([0u32; 8], [0u32; 3]);
        words(&key, &mut kw);
        words(&nonce, &mut nw);
        for (counter, chunk) in cols[0].1.chunks(64).enumerate() {
            let mut out = [0u8; 64];
            block(&kw, counter as u32, &nw, &mut out);
            assert_eq!(chunk, &out[..chunk.len()], "block {counter}");
        }
    }

    #[test]
    fn empty_fields_and_empty_batches_are_fine() {
        let mut rng = Rng(3);
        let keys = rng.bytes(32);
        let nonces = rng.bytes(24);
        let mut empty = columns(&[vec![vec![], vec![]], vec![vec![], vec![]]]);
        run(&keys, &[0, 0], &nonces, &mut empty).unwrap();
        assert!(empty.iter().all(|(o, d)| o == &[0, 0, 0] && d.is_empty()));
        // An empty field between two others does not move the stream.
        let mut with_gap = columns(&[vec![vec![0u8; 5]], vec![vec![]], vec![vec![0u8; 5]]]);
        let mut without = columns(&[vec![vec![0u8; 10]]]);
        run(&keys, &[0], &nonces[..12], &mut with_gap).unwrap();
        run(&keys, &[0], &nonces[..12], &mut without).unwrap();
        assert_eq!([&with_gap[0].1[..], &with_gap[2].1[..]].concat(), without[0].1);
        assert_eq!(run(&[], &[], &[], &mut []), Ok(()));
    }

    #[test]
    fn skipped_rows_are_untouched_and_do_not_shift_the_others() {
        let mut rng = Rng(11);
        let keys = rng.bytes(64);
        let nonces = rng.bytes(36);
        let values = vec![vec![rng.bytes(70), rng.bytes(70), rng.bytes(70)]];
        let plain = columns(&values);
        let mut cols = plain.clone();
        run(&keys, &[1, SKIP, 0], &nonces, &mut cols).unwrap();
        assert_eq!(cols[0].1[70..140], plain[0].1[70..140]);
        assert_ne!(cols[0].1[..70], plain[0].1[..70]);
        // Row 2 alone (its own nonce, key 0) gives the same bytes as within the batch.
        let mut alone = columns(&[vec![values[0][2].clone()]]);
        run(&keys, &[0], &nonces[24..], &mut alone).unwrap();
        assert_eq!(alone[0].1, cols[0].1[140..]);
    }

    #[test]
    fn bad_batches_are_refused_before_any_byte_changes() {
        let keys = [5u8; 64];
        let nonces = [9u8; 24];
        let plain = columns(&[vec![vec![1, 2, 3], vec![4, 5]]]);
        let mut cols = plain.clone();
        assert_eq!(run(&keys[..63], &[0, 1], &nonces, &mut cols), Err(CipherError::Keys));
        assert_eq!(run(&keys, &[0, 1], &nonces[..23], &mut cols), Err(CipherError::Nonces));
        assert_eq!(run(&keys, &[0, 2], &nonces, &mut cols), Err(CipherError::KeyIndex));
        for bad in [vec![0, 3], vec![0, 4, 3], vec![-1, 3, 5], vec![0, 3, 6]] {
            let mut c = vec![(bad, vec![0u8; 5])];
            assert_eq!(run(&keys, &[0, 1], &nonces, &mut c), Err(CipherError::Offsets));
        }
        assert_eq!(cols, plain);
    }
}
