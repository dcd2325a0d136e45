//! A read-only view of an Arrow Utf8 column: offsets, data and an optional validity bitmap,
//! exactly the buffers Arrow holds, so no row is ever materialised as an object.

#[derive(Clone, Copy)]
pub struct StrCol<'a> {
    /// `len + 1` offsets into `data` (Arrow Utf8 layout; the first need not be 0).
    pub offsets: &'a [i32],
    pub data: &'a [u8],
    /// Arrow validity bitmap (LSB first, bit offset 0), or `None` when every slot is valid.
    pub validity: Option<&'a [u8]>,
}

impl<'a> StrCol<'a> {
    pub const EMPTY: StrCol<'static> = StrCol { offsets: &[], data: &[], validity: None };

    pub fn new(offsets: &'a [i32], data: &'a [u8], validity: Option<&'a [u8]>) -> Self {
        StrCol { offsets, data, validity }
    }

    /// Number of rows, or 0 for an absent column.
    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes of row `i`, or `None` when the row is null, the column is absent, or the
    /// offsets are out of bounds (a hostile batch must not make a kernel panic).
    #[inline]
    pub fn get(&self, i: usize) -> Option<&'a [u8]> {
        if i + 1 >= self.offsets.len() {
            return None;
        }
        if let Some(v) = self.validity {
            if v.get(i >> 3).map_or(true, |b| b & (1 << (i & 7)) == 0) {
                return None;
            }
        }
        let (s, e) = (self.offsets[i], self.offsets[i + 1]);
        if s < 0 || e < s {
            return None;
        }
        self.data.get(s as usize..e as usize)
    }

    /// Like `get`, but an empty string counts as absent: optional fields sent as `""` by CSV.
    #[inline]
    pub fn get_present(&self, i: usize) -> Option<&'a [u8]> {
        match self.get(i) {
            Some(b) if !b.is_empty() => Some(b),
            _ => None,
        }
    }

    /// `get_present` for a short value: its length, and its first eight bytes (or fewer) as one
    /// little-endian word, zero past the end (see `short_word`). The word is one load from the
    /// data buffer instead of a loop over a length that differs from row to row (near the end of
    /// the buffer it falls back to the loop). For enumerations, compared whole against constants.
    #[inline]
    pub fn get_present_word(&self, i: usize) -> Option<(u64, usize)> {
        let b = self.get_present(i)?;
        let len = b.len();
        // `get` has checked the offsets, so the value starts at `offsets[i]` (a valid index).
        let start = self.offsets[i] as usize;
        let word = match start.checked_add(8).and_then(|end| self.data.get(start..end)) {
            Some(w) => {
                let mut bytes = [0u8; 8];
                bytes.copy_from_slice(w);
                let mask = if len >= 8 { u64::MAX } else { (1u64 << (8 * len)) - 1 };
                u64::from_le_bytes(bytes) & mask
            }
            None => short_word(b),
        };
        Some((word, len))
    }
}

/// The first eight bytes of `b` (or all of them if fewer) as a little-endian word, zero-padded.
pub const fn short_word(b: &[u8]) -> u64 {
    let mut w = 0u64;
    let mut j = 0;
    while j < b.len() && j < 8 {
        w |= (b[j] as u64) << (8 * j);
        j += 1;
    }
    w
}

/// An Arrow Int64 column (amount_minor, epoch-ms timestamps) with optional validity.
#[derive(Clone, Copy)]
pub struct I64Col<'a> {
    pub values: &'a [i64],
    pub validity: Option<&'a [u8]>,
}

impl<'a> I64Col<'a> {
    pub const EMPTY: I64Col<'static> = I64Col { values: &[], validity: None };

    #[inline]
    pub fn get(&self, i: usize) -> Option<i64> {
        if let Some(v) = self.validity {
            if v.get(i >> 3).map_or(true, |b| b & (1 << (i & 7)) == 0) {
                return None;
            }
        }
        self.values.get(i).copied()
    }

    pub fn is_present(&self) -> bool {
        !self.values.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_reads_rows_and_respects_validity_and_bounds() {
        let offsets = [0, 2, 2, 5];
        let data = b"abcde";
        let validity = [0b101u8];
        let c = StrCol::new(&offsets, data, Some(&validity));
        assert_eq!(c.len(), 3);
        assert_eq!(c.get(0), Some(&b"ab"[..]));
        assert_eq!(c.get(1), None);
        assert_eq!(c.get(2), Some(&b"cde"[..]));
        assert_eq!(c.get(3), None);
        let bad = [0, 9];
        assert_eq!(StrCol::new(&bad, data, None).get(0), None);
    }

    #[test]
    fn words_match_the_bytes() {
        // Values of every length 0-12 at every position of a buffer, so that some end too close
        // to the buffer's end for the eight-byte load.
        let data = b"debitcreditFPSINTERNALx\0yz\xffabcdefghijkl";
        let mut offsets = [0i32; 64];
        let mut k = 0;
        for start in 0..data.len() {
            for len in 0..=12 {
                if start + len > data.len() {
                    continue;
                }
                offsets[0] = start as i32;
                offsets[1] = (start + len) as i32;
                let c = StrCol::new(&offsets[..2], data, None);
                let b = &data[start..start + len];
                let want = if b.is_empty() { None } else { Some((short_word(b), len)) };
                assert_eq!(c.get_present_word(0), want, "{start} {len}");
                k += 1;
            }
        }
        assert!(k > 300);
        assert_eq!(short_word(b"ab"), 0x6261);
        assert_eq!(short_word(b"abcdefghij"), u64::from_le_bytes(*b"abcdefgh"));
        let validity = [0u8];
        assert_eq!(StrCol::new(&[0, 3], b"abc", Some(&validity)).get_present_word(0), None);
        assert_eq!(StrCol::new(&[0, 9], b"abc", None).get_present_word(0), None);
    }

    #[test]
    fn get_present_treats_empty_as_absent() {
        let offsets = [0, 0, 1];
        let c = StrCol::new(&offsets, b"x", None);
        assert_eq!(c.get_present(0), None);
        assert_eq!(c.get_present(1), Some(&b"x"[..]));
    }
}
