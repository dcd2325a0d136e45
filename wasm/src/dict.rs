//! Dictionary ids for one batch's text column: each row gets the index of its value among the
//! batch's distinct values, in order of first sighting, so the caller can do per-value work (a
//! string, a map lookup, a key derivation) once per distinct value instead of once per row.
//!
//! Values are compared by their bytes, never by hash alone: the ids key things that must not
//! merge (a data subject's encryption key, an account's gold aggregate).

use crate::aml::account_key;
use crate::column::StrCol;

/// The id of a null or empty value.
pub const ABSENT: u32 = u32::MAX;

/// Hash-table slots the caller provides for `n` rows: a power of two at least twice `n`, so the
/// table stays at most half full and probe runs stay short.
pub fn table_slots(n: usize) -> usize {
    (2 * n).next_power_of_two().max(16)
}

/// Fills `ids[i]` with row i's dictionary id (`ABSENT` for a null or empty value) and
/// `firsts[d]` with the first row holding value d, and, when `keys` is not empty, `keys[d]` with
/// value d's `account_key` (the hash the table probes with, so the caller can find the value in a
/// longer-lived table without hashing its bytes again). Returns the number of distinct values.
/// `table` (at least `table_slots(n)` entries, a power of two) is scratch, cleared here.
pub fn dict_ids(
    col: &StrCol,
    n: usize,
    table: &mut [u32],
    ids: &mut [u32],
    firsts: &mut [u32],
    keys: &mut [u64],
) -> usize {
    for t in table.iter_mut() {
        *t = 0;
    }
    let mask = table.len() - 1;
    let mut count = 0usize;
    for (i, id_out) in ids.iter_mut().enumerate().take(n) {
        let value = match col.get_present(i) {
            Some(v) => v,
            None => {
                *id_out = ABSENT;
                continue;
            }
        };
        let key = account_key(value);
        let mut at = (key as usize) & mask;
        loop {
            // An entry is its id + 1; 0 is an empty slot.
            let entry = table[at];
            if entry == 0 {
                table[at] = count as u32 + 1;
                firsts[count] = i as u32;
                if let Some(k) = keys.get_mut(count) {
                    *k = key;
                }
                *id_out = count as u32;
                count += 1;
                break;
            }
            let id = entry - 1;
            if col.get(firsts[id as usize] as usize) == Some(value) {
                *id_out = id;
                break;
            }
            at = (at + 1) & mask;
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(values: &[Option<&str>]) -> (Vec<i32>, Vec<u8>, Vec<u8>) {
        let mut offsets = vec![0i32];
        let mut data = Vec::new();
        let mut validity = vec![0u8; values.len().div_ceil(8)];
        for (i, v) in values.iter().enumerate() {
            if let Some(s) = v {
                data.extend_from_slice(s.as_bytes());
                validity[i >> 3] |= 1 << (i & 7);
            }
            offsets.push(data.len() as i32);
        }
        (offsets, data, validity)
    }

    fn run(values: &[Option<&str>]) -> (Vec<u32>, Vec<u32>) {
        let (offsets, data, validity) = column(values);
        let col = StrCol::new(&offsets, &data, Some(&validity));
        let n = values.len();
        let mut table = vec![0u32; table_slots(n)];
        let mut ids = vec![0u32; n];
        let mut firsts = vec![0u32; n];
        let count = dict_ids(&col, n, &mut table, &mut ids, &mut firsts, &mut []);
        firsts.truncate(count);
        (ids, firsts)
    }

    #[test]
    fn equal_values_share_an_id_in_order_of_first_sighting() {
        let (ids, firsts) = run(&[Some("B"), Some("A"), Some("B"), Some("C"), Some("A")]);
        assert_eq!(ids, vec![0, 1, 0, 2, 1]);
        assert_eq!(firsts, vec![0, 1, 3]);
    }

    #[test]
    fn null_and_empty_values_are_absent() {
        let (ids, firsts) = run(&[None, Some(""), Some("x"), None, Some("x")]);
        assert_eq!(ids, vec![ABSENT, ABSENT, 0, ABSENT, 0]);
        assert_eq!(firsts, vec![2]);
    }

    #[test]
    fn values_that_share_a_table_slot_stay_apart() {
        // A tiny table forces every value through the same few slots: ids must still follow bytes.
        let values: Vec<String> = (0..12).map(|k| format!("ACC{}", k % 6)).collect();
        let refs: Vec<Option<&str>> = values.iter().map(|s| Some(s.as_str())).collect();
        let (offsets, data, _) = column(&refs);
        let col = StrCol::new(&offsets, &data, None);
        let mut table = vec![0u32; 16];
        let mut ids = vec![0u32; 12];
        let mut firsts = vec![0u32; 12];
        assert_eq!(dict_ids(&col, 12, &mut table, &mut ids, &mut firsts, &mut []), 6);
        assert_eq!(ids, vec![0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn keys_are_each_distinct_values_account_key_in_id_order() {
        let values = [Some("B"), None, Some("A"), Some("B"), Some("C")];
        let (offsets, data, validity) = column(&values);
        let col = StrCol::new(&offsets, &data, Some(&validity));
        let mut table = vec![0u32; table_slots(5)];
        let (mut ids, mut firsts, mut keys) = (vec![0u32; 5], vec![0u32; 5], vec![0u64; 5]);
        let count = dict_ids(&col, 5, &mut table, &mut ids, &mut firsts, &mut keys);
        assert_eq!(count, 3);
        let want: Vec<u64> = ["B", "A", "C"].iter().map(|v| account_key(v.as_bytes())).collect();
        assert_eq!(keys[..3], want[..]);
    }

    #[test]
    fn a_value_and_its_prefix_are_distinct() {
        let (ids, _) = run(&[Some("AB"), Some("A"), Some("AB"), Some("ABC")]);
        assert_eq!(ids, vec![0, 1, 0, 2]);
    }

    #[test]
    fn table_slots_is_a_power_of_two_at_least_twice_the_rows() {
        for n in [0usize, 1, 7, 8, 9, 1000, 8192, 65536] {
            let s = table_slots(n);
            assert!(s.is_power_of_two() && s >= 2 * n && s >= 16, "n {n}: {s}");
        }
    }
}
