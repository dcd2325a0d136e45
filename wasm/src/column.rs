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
    fn get_present_treats_empty_as_absent() {
        let offsets = [0, 0, 1];
        let c = StrCol::new(&offsets, b"x", None);
        assert_eq!(c.get_present(0), None);
        assert_eq!(c.get_present(1), Some(&b"x"[..]));
    }
}
