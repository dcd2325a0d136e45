//! Stateful AML scoring (CONTRACT §6, exact semantics in `docs/aml.md`): per-account windows in
//! event time, Welford's running statistics, and the stateless amount rules.
//!
//! The state is an arena that JavaScript allocates once per shard: an open-addressing index from
//! account key to slot, a fixed number of fixed-size slots, and a free list. No allocator runs;
//! memory is bounded by the slot count, and idle slots are evicted (JS keeps them in LMDB) and
//! restored on demand. Each shard owns its arena alone, so nothing here is shared or locked.

/// Rows of history kept per account, and structuring-band rows kept apart from them.
pub const RING: usize = 64;
pub const BAND: usize = 8;

// Slot layout, in u64 words.
const W_KEY: usize = 0;
const W_MAX_TS: usize = 1;
const W_TOUCH: usize = 2;
const W_N: usize = 3;
const W_MEAN: usize = 4;
const W_M2: usize = 5;
/// Ring head (bits 0–7), ring length (8–15), band length (16–23), `LONE` (bit 24), dirty (bit 32).
const W_META: usize = 6;
/// A lone event's amount and credit bit, packed as in the ring, while `LONE` is set.
const W_LONE: usize = 7;
const W_EVENTS: usize = 8;
const W_BAND: usize = W_EVENTS + 2 * RING;
pub const SLOT_WORDS: usize = W_BAND + BAND;
/// One account's state: header, ring, structuring band.
pub type Slot = [u64; SLOT_WORDS];

const DIRTY: u64 = 1 << 32;
/// The account's one event in reach is kept in the header, not in the ring (which is empty): its
/// time is `W_MAX_TS`, its amount and credit bit in `W_LONE`. Most accounts see a row hours or days
/// after the one before, so applying it empties the ring (`ring_expires`) and leaves the row alone
/// in it: kept in the header line, such a row reads and writes that line only, not the ring's
/// first line as well (about 8 % less AML time in `bench/aml-ab.ts`, both orders).
const LONE: u64 = 1 << 24;
const EMPTY: u64 = 0;
const NO_SLOT: u32 = u32::MAX;

// Header words.
const H_CAP: usize = 0;
const H_FREE: usize = 1;
const H_CLOCK: usize = 2;
pub const HEADER_WORDS: usize = 4;

// Row flags, set by the engine.
pub const F_CREDIT: u8 = 1;
/// The row changes state (an accepted row of an ingest); otherwise it is only scored.
pub const F_APPLY: u8 = 2;
/// The amount is a whole multiple of 1,000 major units of its own currency.
pub const F_ROUND: u8 = 4;
pub const F_HIGH_RISK: u8 = 8;
pub const F_SANCTIONED: u8 = 16;

// Rule bits, as `engine/aml/rule-names.ts`.
pub const SANCTIONS_MATCH: u16 = 1 << 0;
pub const STRUCTURING: u16 = 1 << 1;
pub const RAPID_PASS_THROUGH: u16 = 1 << 2;
pub const HIGH_RISK_COUNTRY: u16 = 1 << 3;
pub const VELOCITY_AMOUNT: u16 = 1 << 4;
pub const VELOCITY_COUNT: u16 = 1 << 5;
pub const AMOUNT_ANOMALY: u16 = 1 << 6;
pub const HIGH_VALUE: u16 = 1 << 7;
pub const ROUND_AMOUNT: u16 = 1 << 8;
pub const RULE_COUNT: usize = 9;

/// Late-row flag in the output.
pub const OUT_LATE: u8 = 1;

/// Detail values per row (why each rule fired), i64 each:
/// 0 window count, 1 window sum, 2 band count, 3 credit amount, 4 debits after it, 5 credit time,
/// 6 mean (f64 bits), 7 sample variance (f64 bits).
pub const DETAIL_WORDS: usize = 8;

/// Rule parameters; amounts in GBP minor units, windows in milliseconds. Mirrored, word for word,
/// in `engine/aml/params.ts`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Params {
    pub weights: [i64; RULE_COUNT],
    pub velocity_window_ms: i64,
    pub velocity_count: i64,
    pub velocity_amount: i64,
    pub structuring_low: i64,
    pub structuring_high: i64,
    pub structuring_window_ms: i64,
    pub structuring_count: i64,
    pub pass_window_ms: i64,
    pub pass_min_credit: i64,
    pub pass_percent: i64,
    pub anomaly_min_rows: i64,
    pub anomaly_sigmas: f64,
    pub high_value: i64,
    pub round_min: i64,
    pub lateness_ms: i64,
}

pub const PARAM_WORDS: usize = RULE_COUNT + 15;

impl Params {
    pub const DEFAULT: Params = Params {
        weights: [100, 60, 50, 40, 40, 30, 30, 20, 10],
        velocity_window_ms: 300_000,
        velocity_count: 11,
        velocity_amount: 5_000_000,
        structuring_low: 900_000,
        structuring_high: 1_000_000,
        structuring_window_ms: 86_400_000,
        structuring_count: 3,
        pass_window_ms: 3_600_000,
        pass_min_credit: 100_000,
        pass_percent: 90,
        anomaly_min_rows: 20,
        anomaly_sigmas: 4.0,
        high_value: 1_000_000,
        round_min: 100_000,
        lateness_ms: 3_600_000,
    };

    /// The longest window the ring is read for (`look_back`).
    pub fn reach(&self) -> i64 {
        self.velocity_window_ms.max(self.pass_window_ms)
    }

    /// From the words the engine writes; the sigma count travels as f64 bits.
    pub fn from_words(w: &[i64]) -> Option<Params> {
        if w.len() < PARAM_WORDS {
            return None;
        }
        let mut weights = [0i64; RULE_COUNT];
        weights.copy_from_slice(&w[..RULE_COUNT]);
        let r = &w[RULE_COUNT..];
        Some(Params {
            weights,
            velocity_window_ms: r[0],
            velocity_count: r[1],
            velocity_amount: r[2],
            structuring_low: r[3],
            structuring_high: r[4],
            structuring_window_ms: r[5],
            structuring_count: r[6],
            pass_window_ms: r[7],
            pass_min_credit: r[8],
            pass_percent: r[9],
            anomaly_min_rows: r[10],
            anomaly_sigmas: f64::from_bits(r[11] as u64),
            high_value: r[12],
            round_min: r[13],
            lateness_ms: r[14],
        })
    }
}

/// One shard's state, as slices of the arena.
pub struct State<'a> {
    pub header: &'a mut [u64],
    /// Open addressing, linear probing, (key, slot) pairs side by side so a probe touches one
    /// cache line; a power of two entries, twice the slot count.
    pub index: &'a mut [u64],
    pub slots: &'a mut [u64],
    pub free: &'a mut [u32],
}

/// Arena size in u64 words for `cap` slots: header, index (key, slot) pairs, slots, free list
/// (u32 pairs), and room to start the index on a cache line (`LINE_WORDS`).
pub fn arena_words(cap: usize) -> usize {
    HEADER_WORDS + LINE_WORDS + 2 * index_cap(cap) + cap * SLOT_WORDS + (cap + 1) / 2
}

/// A cache line, in u64 words. The index and the slots start on a line, and a slot is a whole
/// number of lines, so a slot's header words share one line and an index pair never straddles two.
pub const LINE_WORDS: usize = 8;
const _: () = assert!(SLOT_WORDS % LINE_WORDS == 0);

pub fn index_cap(cap: usize) -> usize {
    (cap * 2).next_power_of_two()
}

/// The account key of an id: FNV-1a, finished with a splitmix round so that low bits (the index
/// position and the shard) are well spread. Never 0, which marks an empty index entry.
pub fn account_key(id: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in id {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    if h == EMPTY {
        1
    } else {
        h
    }
}

impl<'a> State<'a> {
    /// Empties the state: every slot free.
    pub fn init(&mut self) {
        let cap = self.free.len();
        self.header[H_CAP] = cap as u64;
        self.header[H_FREE] = cap as u64;
        self.header[H_CLOCK] = 0;
        for k in self.index.iter_mut() {
            *k = EMPTY;
        }
        for (i, f) in self.free.iter_mut().enumerate() {
            // Popped from the end, so slot 0 is used first.
            *f = (cap - 1 - i) as u32;
        }
    }

    pub fn free_slots(&self) -> usize {
        self.header[H_FREE] as usize
    }

    pub fn resident(&self) -> usize {
        self.free.len() - self.free_slots()
    }

    fn mask(&self) -> usize {
        self.index.len() / 2 - 1
    }

    #[inline]
    pub fn find(&self, key: u64) -> Option<usize> {
        let m = self.mask();
        let mut p = key as usize & m;
        loop {
            let k = self.index[2 * p];
            if k == EMPTY {
                return None;
            }
            if k == key {
                return Some(self.index[2 * p + 1] as usize);
            }
            p = (p + 1) & m;
        }
    }

    /// The slot of `key`, made empty and fresh when absent; `None` when no slot is free.
    pub fn insert(&mut self, key: u64) -> Option<(usize, bool)> {
        let m = self.mask();
        let mut p = key as usize & m;
        loop {
            let k = self.index[2 * p];
            if k == key {
                return Some((self.index[2 * p + 1] as usize, false));
            }
            if k == EMPTY {
                break;
            }
            p = (p + 1) & m;
        }
        let free = self.header[H_FREE] as usize;
        if free == 0 {
            return None;
        }
        let slot = self.free[free - 1] as usize;
        self.header[H_FREE] = (free - 1) as u64;
        self.index[2 * p] = key;
        self.index[2 * p + 1] = slot as u64;
        // Only the header is cleared: the ring and the band are read only up to their lengths
        // (in the header), and zeroing all 18 lines of a slot was half the cost of `prepare` for
        // a batch of new accounts. `copy_out` writes the unused words as zeros.
        let s = self.slot_mut(slot);
        for w in s[..W_EVENTS].iter_mut() {
            *w = 0;
        }
        s[W_KEY] = key;
        s[W_MAX_TS] = i64::MIN as u64;
        Some((slot, true))
    }

    /// Removes `key` (backward-shift deletion keeps every probe chain whole) and frees its slot.
    pub fn remove(&mut self, key: u64) -> bool {
        let m = self.mask();
        let mut p = key as usize & m;
        loop {
            let k = self.index[2 * p];
            if k == EMPTY {
                return false;
            }
            if k == key {
                break;
            }
            p = (p + 1) & m;
        }
        let slot = self.index[2 * p + 1] as u32;
        let mut hole = p;
        let mut q = (p + 1) & m;
        while self.index[2 * q] != EMPTY {
            let home = self.index[2 * q] as usize & m;
            // Move q into the hole when its home is not cyclically in (hole, q].
            let between = if hole <= q { hole < home && home <= q } else { hole < home || home <= q };
            if !between {
                self.index[2 * hole] = self.index[2 * q];
                self.index[2 * hole + 1] = self.index[2 * q + 1];
                hole = q;
            }
            q = (q + 1) & m;
        }
        self.index[2 * hole] = EMPTY;
        self.index[2 * hole + 1] = NO_SLOT as u64;
        let free = self.header[H_FREE] as usize;
        self.free[free] = slot;
        self.header[H_FREE] = (free + 1) as u64;
        true
    }

    /// A slot as a fixed-size array: indexing it at a constant word, or at a ring place masked
    /// into range, needs no bounds check, where a slice of unknown length checks every access.
    pub fn slot(&self, i: usize) -> &Slot {
        let words: &[u64] = &self.slots[i * SLOT_WORDS..(i + 1) * SLOT_WORDS];
        match words.try_into() {
            Ok(slot) => slot,
            Err(_) => unreachable!("a slot range is SLOT_WORDS long"),
        }
    }

    pub fn slot_mut(&mut self, i: usize) -> &mut Slot {
        let words: &mut [u64] = &mut self.slots[i * SLOT_WORDS..(i + 1) * SLOT_WORDS];
        match words.try_into() {
            Ok(slot) => slot,
            Err(_) => unreachable!("a slot range is SLOT_WORDS long"),
        }
    }

    /// Overwrites the slot of `words[0]` (the key) with saved words, inserting it when absent:
    /// a packed slot (`pack`: header, live ring rows oldest first, band rows) or, at
    /// `SLOT_WORDS`, a whole one (stored before packing existed; a packed slot with a full ring
    /// and band has the same layout). False when the words do not match their own header or no
    /// slot is free. The restored slot is clean: it equals what the store holds.
    pub fn restore(&mut self, words: &[u64]) -> bool {
        if words.len() < W_EVENTS || words[W_KEY] == EMPTY {
            return false;
        }
        let whole = words.len() == SLOT_WORDS;
        let (_, len, band) = meta_of(words[W_META]);
        if !whole && (len > RING || band > BAND || words.len() != W_EVENTS + 2 * len + band) {
            return false;
        }
        match self.insert(words[W_KEY]) {
            Some((slot, _)) => {
                let clock = self.header[H_CLOCK];
                let s = self.slot_mut(slot);
                if whole {
                    s.copy_from_slice(words);
                } else {
                    let ring = W_EVENTS + 2 * len;
                    s[..ring].copy_from_slice(&words[..ring]);
                    s[W_BAND..W_BAND + band].copy_from_slice(&words[ring..]);
                    s[W_META] &= !0xff; // the packed ring starts at 0
                }
                s[W_META] &= !DIRTY;
                // Restored for the batch about to be scored: in use, so not evictable before it.
                s[W_TOUCH] = clock + 1;
                true
            }
            None => false,
        }
    }

    /// Writes slot `i` packed into `out`: its header (the ring's head set to 0), its live ring
    /// rows oldest first, its band rows. Returns the words written (`packed_words`). Most
    /// accounts hold a row or two, so this is about a tenth of the slot: what the store keeps,
    /// and all that crosses into JavaScript when slots are evicted or checkpointed. Unused ring
    /// and band words are never copied, so what is kept depends only on the account's history,
    /// not on what the slot held before (`insert` clears only the header).
    fn pack(&self, i: usize, out: &mut [u64]) -> usize {
        let s = self.slot(i);
        let (head, len, band) = meta(s);
        out[..W_EVENTS].copy_from_slice(&s[..W_EVENTS]);
        out[W_META] &= !0xff;
        for j in 0..len {
            let p = W_EVENTS + 2 * ((head + j) & (RING - 1));
            out[W_EVENTS + 2 * j] = s[p];
            out[W_EVENTS + 2 * j + 1] = s[p + 1];
        }
        let ring = W_EVENTS + 2 * len;
        out[ring..ring + band].copy_from_slice(&s[W_BAND..W_BAND + band]);
        ring + band
    }

    /// Copies the dirty slots from slot `from` on into `out`, packed back to back, and marks
    /// them clean; stops when `out` may not hold another. The caller resumes at `next`.
    pub fn take_dirty(&mut self, out: &mut [u64], from: usize) -> Transfer {
        let cap = self.free.len();
        let mut t = Transfer { copied: 0, words: 0, next: from };
        while t.next < cap && t.words + SLOT_WORDS <= out.len() {
            let i = t.next;
            let s = self.slot(i);
            if s[W_KEY] != EMPTY && s[W_META] & DIRTY != 0 {
                self.slot_mut(i)[W_META] &= !DIRTY;
                t.words += self.pack(i, &mut out[t.words..]);
                t.copied += 1;
            }
            t.next += 1;
        }
        t
    }

    /// Evicts the resident slots from slot `from` on that were last touched before `cutoff`.
    /// Dirty ones are copied to `out` first, packed back to back (the engine keeps them until
    /// the next checkpoint); clean ones are already in the store. Stops when `out` may not hold
    /// another; the caller resumes at `next`.
    pub fn evict(&mut self, cutoff: u64, out: &mut [u64], from: usize) -> Transfer {
        let cap = self.free.len();
        let mut t = Transfer { copied: 0, words: 0, next: from };
        while t.next < cap {
            let i = t.next;
            let (key, touch, dirty) = {
                let s = self.slot(i);
                (s[W_KEY], s[W_TOUCH], s[W_META] & DIRTY != 0)
            };
            if key != EMPTY && touch < cutoff {
                if dirty {
                    if t.words + SLOT_WORDS > out.len() {
                        break;
                    }
                    let at = t.words;
                    t.words += self.pack(i, &mut out[at..]);
                    out[at + W_META] &= !DIRTY;
                    t.copied += 1;
                }
                self.slot_mut(i)[W_KEY] = EMPTY;
                self.remove(key);
            }
            t.next += 1;
        }
        t
    }

    /// The oldest touch among resident slots (the clock when none).
    pub fn min_touch(&self) -> u64 {
        let mut min = self.header[H_CLOCK];
        for i in 0..self.free.len() {
            let s = self.slot(i);
            if s[W_KEY] != EMPTY && s[W_TOUCH] < min {
                min = s[W_TOUCH];
            }
        }
        min
    }

    pub fn clock(&self) -> u64 {
        self.header[H_CLOCK]
    }
}

/// What one call of `State::take_dirty` or `State::evict` copied: the slots, the words they
/// fill, and the slot to resume the scan at (the slot count once it is done). Each call goes on
/// from where the last stopped: one pass over the slots for a whole checkpoint or eviction,
/// where starting over at slot 0 for every transfer buffer scanned them dozens of times.
pub struct Transfer {
    pub copied: usize,
    pub words: usize,
    pub next: usize,
}

/// The rows of a batch, as the engine prepared them. `ts` is `i64::MIN` and `key` 0 where the
/// row has no usable time or account; `gbp` is -1 where there is no GBP amount.
pub struct Rows<'a> {
    pub key: &'a [u64],
    pub ts: &'a [i64],
    pub gbp: &'a [i64],
    pub flags: &'a [u8],
}

pub struct Scores<'a> {
    pub score: &'a mut [u8],
    pub rules: &'a mut [u16],
    pub out_flags: &'a mut [u8],
    pub detail: &'a mut [i64],
    /// The rows where a rule fired, in the order scored (`fired_count` of them; room for one per
    /// row of the order). A few rows in a thousand fire: the engine reads these instead of
    /// scanning every row's rules.
    pub fired: &'a mut [u32],
    pub fired_count: usize,
}

/// Fills `order` with the row indices in event-time order (ts, then row). A live feed is nearly in
/// order, with a few late rows: one pass keeps every row at or after the latest kept so far where
/// it is and lifts the others out; only those are sorted (`merge_runs`), and one merge from the
/// back puts them in place. A batch in order costs one scan, a few late rows little more; rows in
/// no order at all are all lifted and merge-sorted. `scratch` is as long as `order`.
pub fn sort_rows(ts: &[i64], order: &mut [u32], scratch: &mut [u32]) {
    let n = order.len();
    let key = |i: u32| (ts.get(i as usize).copied().unwrap_or(i64::MIN), i);
    let (mut kept, mut lifted) = (0usize, 0usize);
    for i in 0..n as u32 {
        if kept == 0 || key(order[kept - 1]) < key(i) {
            order[kept] = i;
            kept += 1;
        } else {
            scratch[lifted] = i;
            lifted += 1;
        }
    }
    if lifted == 0 {
        return;
    }
    // The lifted rows, sorted in `scratch`, with the free tail of `order` as the merge's room.
    merge_runs(&mut scratch[..lifted], &mut order[kept..], &key);
    // Merge from the back: the write position never passes the kept rows not yet placed.
    let (mut a, mut b, mut w) = (kept, lifted, n);
    while b > 0 {
        w -= 1;
        if a > 0 && key(order[a - 1]) > key(scratch[b - 1]) {
            order[w] = order[a - 1];
            a -= 1;
        } else {
            order[w] = scratch[b - 1];
            b -= 1;
        }
    }
}

/// Sorts `data` (row indices) by `key` with a natural merge sort, `tmp` as long as `data`: each
/// pass merges neighbouring ascending runs, so input with few runs takes few passes.
fn merge_runs(data: &mut [u32], tmp: &mut [u32], key: &impl Fn(u32) -> (i64, u32)) {
    let n = data.len();
    // The end of the ascending run that starts at `lo`.
    let run_end = |v: &[u32], lo: usize| {
        let mut k = lo + 1;
        while k < n && key(v[k - 1]) <= key(v[k]) {
            k += 1;
        }
        k
    };
    let mut in_data = true; // whether the current sequence is in `data`
    loop {
        let mut runs = 0;
        {
            let (src, dst): (&[u32], &mut [u32]) =
                if in_data { (&*data, &mut *tmp) } else { (&*tmp, &mut *data) };
            let mut lo = 0;
            while lo < n {
                let mid = run_end(src, lo);
                let hi = if mid < n { run_end(src, mid) } else { n };
                let (mut a, mut b, mut k) = (lo, mid, lo);
                while a < mid && b < hi {
                    if key(src[b]) < key(src[a]) {
                        dst[k] = src[b];
                        b += 1;
                    } else {
                        dst[k] = src[a];
                        a += 1;
                    }
                    k += 1;
                }
                dst[k..k + mid - a].copy_from_slice(&src[a..mid]);
                k += mid - a;
                dst[k..k + hi - b].copy_from_slice(&src[b..hi]);
                runs += 1;
                lo = hi;
            }
        }
        in_data = !in_data;
        if runs <= 1 {
            break;
        }
    }
    if !in_data {
        data.copy_from_slice(tmp);
    }
}

fn meta(s: &Slot) -> (usize, usize, usize) {
    meta_of(s[W_META])
}

/// Ring head, ring length and band length of a `W_META` word.
fn meta_of(m: u64) -> (usize, usize, usize) {
    ((m & 0xff) as usize, ((m >> 8) & 0xff) as usize, ((m >> 16) & 0xff) as usize)
}

/// The words of a packed slot (`State::pack`) whose header has this `W_META` word.
pub fn packed_words(meta_word: u64) -> usize {
    let (_, len, band) = meta_of(meta_word);
    W_EVENTS + 2 * len + band
}

fn set_meta(s: &mut Slot, head: usize, len: usize, band: usize, lone: bool) {
    s[W_META] =
        (head as u64) | ((len as u64) << 8) | ((band as u64) << 16) | if lone { LONE } else { 0 } | DIRTY;
}

fn is_lone(s: &Slot) -> bool {
    s[W_META] & LONE != 0
}

/// An event's amount and credit bit in one word, as the ring and `W_LONE` hold them.
fn pack_event(a: i64, credit: bool) -> u64 {
    ((a << 1) | credit as i64) as u64
}

fn unpack_event(ts: u64, packed: u64) -> (i64, i64, bool) {
    let packed = packed as i64;
    (ts as i64, packed >> 1, packed & 1 == 1)
}

/// The lone event (`LONE`): (ts, gbp amount or -1, credit).
fn lone_event(s: &Slot) -> (i64, i64, bool) {
    unpack_event(s[W_MAX_TS], s[W_LONE])
}

/// Event `j` (0 = oldest) of the ring: (ts, gbp amount or -1, credit).
fn event(s: &Slot, head: usize, j: usize) -> (i64, i64, bool) {
    let p = (head + j) & (RING - 1);
    unpack_event(s[W_EVENTS + 2 * p], s[W_EVENTS + 2 * p + 1])
}

fn put_event(s: &mut Slot, head: usize, j: usize, ev: (i64, i64, bool)) {
    let p = (head + j) & (RING - 1);
    s[W_EVENTS + 2 * p] = ev.0 as u64;
    s[W_EVENTS + 2 * p + 1] = pack_event(ev.1, ev.2);
}

/// What the history says about a row at time `t` with amount `a`.
struct Seen {
    count: i64,
    sum: i64,
    band: i64,
    pass: Option<(i64, i64, i64)>,
}

/// Whether a row at `t` may find any of the slot's ring in a window `reach` long. The newest row
/// is at `W_MAX_TS`, in the slot's first line: when even it is out of reach, the ring (lines that
/// are cold for most accounts) need not be read at all.
fn ring_in_reach(s: &Slot, t: i64, reach: i64) -> bool {
    let newest = s[W_MAX_TS] as i64;
    newest == i64::MIN || t < newest || t - newest <= reach
}

/// Whether applying a row at `t` empties the ring: every row in it is older than `t` by more than
/// the lateness plus the longest window, so no row that may still change the state (one not too
/// late) can see any of them. The emptied ring starts again at its first line, beside the header.
fn ring_expires(s: &Slot, p: &Params, t: i64) -> bool {
    let newest = s[W_MAX_TS] as i64;
    newest != i64::MIN && t.saturating_sub(newest) > p.reach().saturating_add(p.lateness_ms)
}

fn look_back(s: &Slot, p: &Params, t: i64, a: i64, debit: bool) -> Seen {
    let (head, len, band_len) = meta(s);
    let lone = is_lone(s);
    let mut seen = Seen { count: 0, sum: 0, band: 0, pass: None };
    // Newest first; rows after `t` (this row is late) are not yet "seen" as of its event time.
    let mut debits = 0i64;
    let mut j = match (ring_in_reach(s, t, p.reach()), lone) {
        (false, _) => 0,
        (true, true) => 1,
        (true, false) => len,
    };
    while j > 0 {
        j -= 1;
        let (ts, amt, credit) = if lone { lone_event(s) } else { event(s, head, j) };
        if ts > t {
            continue;
        }
        let age = t - ts;
        if age > p.velocity_window_ms && age > p.pass_window_ms {
            break;
        }
        if age <= p.velocity_window_ms {
            seen.count += 1;
            if amt > 0 {
                seen.sum += amt;
            }
        }
        if age <= p.pass_window_ms && amt > 0 {
            if !credit {
                debits += amt;
            } else if debit && seen.pass.is_none() && amt >= p.pass_min_credit && a > 0 {
                // Debits since this credit were below the share before the row, and reach it with it.
                let (before, after) = (debits * 100, (debits + a) * 100);
                let need = amt * p.pass_percent;
                if before < need && after >= need {
                    seen.pass = Some((amt, debits + a, ts));
                }
            }
        }
    }
    for b in 0..band_len {
        let ts = s[W_BAND + b] as i64;
        if ts <= t && t - ts <= p.structuring_window_ms {
            seen.band += 1;
        }
    }
    seen
}

/// Inserts a row into the account's history at its place in time, dropping the oldest when full.
fn apply(s: &mut Slot, p: &Params, t: i64, a: i64, credit: bool) {
    let (mut head, mut len, mut band_len) = meta(s);
    let mut lone = is_lone(s);
    if ring_expires(s, p, t) {
        head = 0;
        len = 0;
        lone = false;
    }
    let newest = s[W_MAX_TS] as i64;
    if len == 0 && !lone && t >= newest {
        // Alone in reach: the row stays in the header (it becomes the newest, `W_MAX_TS`, below).
        s[W_LONE] = pack_event(a, credit);
        lone = true;
    } else {
        if lone {
            // A second row in reach: the lone one moves into the ring first.
            put_event(s, 0, 0, lone_event(s));
            s[W_LONE] = 0;
            head = 0;
            len = 1;
            lone = false;
        }
        if len == RING {
            head = (head + 1) & (RING - 1);
            len -= 1;
        }
        // Find the place from the newest end: rows arrive mostly in order, and a row at or after
        // the newest (`W_MAX_TS`) goes at the end without reading the ring.
        let mut j = len;
        while j > 0 && t < newest && event(s, head, j - 1).0 > t {
            let e = event(s, head, j - 1);
            put_event(s, head, j, e);
            j -= 1;
        }
        put_event(s, head, j, (t, a, credit));
        len += 1;
    }
    if a >= p.structuring_low && a < p.structuring_high {
        if band_len == BAND {
            for b in 1..BAND {
                s[W_BAND + b - 1] = s[W_BAND + b];
            }
            band_len -= 1;
        }
        let mut b = band_len;
        while b > 0 && (s[W_BAND + b - 1] as i64) > t {
            s[W_BAND + b] = s[W_BAND + b - 1];
            b -= 1;
        }
        s[W_BAND + b] = t as u64;
        band_len += 1;
    }
    if a >= 0 {
        // Welford: one pass, numerically stable, and the same order gives the same bits.
        let n = s[W_N] + 1;
        let mean = f64::from_bits(s[W_MEAN]);
        let m2 = f64::from_bits(s[W_M2]);
        let x = a as f64;
        let delta = x - mean;
        let mean2 = mean + delta / n as f64;
        s[W_N] = n;
        s[W_MEAN] = mean2.to_bits();
        s[W_M2] = (m2 + delta * (x - mean2)).to_bits();
    }
    if t > s[W_MAX_TS] as i64 {
        s[W_MAX_TS] = t as u64;
    }
    set_meta(s, head, len, band_len, lone);
}

/// Rows scored per round of `locate`: enough independent loads to keep the memory system busy,
/// few enough that their lines are still in L1/L2 when the round is scored.
const CHUNK: usize = 64;

/// Finds the slot of each row of `chunk` (`NO_SLOT` for rows without key or time) and loads the
/// lines scoring will read: the slot's header, then its newest row and the place of the next.
/// Each pass issues loads that do not depend on one another, so a round's cache misses overlap
/// instead of queuing one by one inside the branchy scoring loop (WASM has no prefetch). Returns
/// a value made from the loads, so they are not optimised away.
fn locate(st: &State, p: &Params, rows: &Rows, chunk: &[u32], slot_of: &mut [u32; CHUNK]) -> u64 {
    let mut warm = 0u64;
    for (k, &ri) in chunk.iter().enumerate() {
        let i = ri as usize;
        slot_of[k] = if rows.key[i] != EMPTY && rows.ts[i] != i64::MIN {
            st.find(rows.key[i]).map_or(NO_SLOT, |s| s as u32)
        } else {
            NO_SLOT
        };
    }
    // The header lines: their addresses need no load, so the misses overlap. For most rows of a
    // quiet account that is all (`LONE`).
    for &slot in slot_of.iter().take(chunk.len()) {
        if slot != NO_SLOT {
            warm = warm.wrapping_add(st.slots[slot as usize * SLOT_WORDS + W_META]);
        }
    }
    for (k, &slot) in slot_of.iter().take(chunk.len()).enumerate() {
        if slot != NO_SLOT {
            let s = st.slot(slot as usize);
            let (head, len, _) = meta(s);
            let t = rows.ts[chunk[k] as usize];
            // The ring's lines only when the row reads or writes them: its newest row when
            // `look_back` reads the ring, the place of the next when the ring is kept and used.
            if len > 0 && ring_in_reach(s, t, p.reach()) {
                warm ^= s[W_EVENTS + 2 * ((head + len + RING - 1) & (RING - 1))];
            }
            if (len > 0 || is_lone(s)) && !ring_expires(s, p, t) {
                warm ^= s[W_EVENTS + 2 * ((head + len) & (RING - 1))];
            }
        }
    }
    warm
}

/// Scores the rows of `order` (in event-time order, see `sort_rows`) and, for rows flagged `F_APPLY`,
/// applies them. Every row with a key must have a resident slot (`prepare`). With `dry`, each
/// touched slot is saved to `undo` first and put back at the end, so nothing changes.
/// Returns false when a slot is missing or `undo` is too small.
pub fn score_rows(
    st: &mut State,
    p: &Params,
    rows: &Rows,
    order: &[u32],
    out: &mut Scores,
    dry: bool,
    undo: &mut [u64],
) -> bool {
    st.header[H_CLOCK] += 1;
    let clock = st.header[H_CLOCK];
    let mut saved = 0usize;
    let mut ok = true;
    let mut warm = 0u64;
    let mut slot_of = [NO_SLOT; CHUNK];
    for chunk in order.chunks(CHUNK) {
        warm ^= locate(st, p, rows, chunk, &mut slot_of);
        for (k, &ri) in chunk.iter().enumerate() {
            let i = ri as usize;
            let (key, t, a, f) = (rows.key[i], rows.ts[i], rows.gbp[i], rows.flags[i]);
            let mut rules = 0u16;
            // Every detail word of the row is written (the engine does not clear them first).
            let d = &mut out.detail[i * DETAIL_WORDS..(i + 1) * DETAIL_WORDS];
            d.fill(0);
            let mut oflags = 0u8;
            if f & F_SANCTIONED != 0 {
                rules |= SANCTIONS_MATCH;
            }
            if f & F_HIGH_RISK != 0 {
                rules |= HIGH_RISK_COUNTRY;
            }
            if a >= p.high_value {
                rules |= HIGH_VALUE;
            }
            if a >= p.round_min && f & F_ROUND != 0 {
                rules |= ROUND_AMOUNT;
            }
            if key != EMPTY && t != i64::MIN {
                let slot = slot_of[k];
                if slot == NO_SLOT {
                    ok = false;
                    continue;
                }
                let slot = slot as usize;
                let s = st.slot(slot);
                let credit = f & F_CREDIT != 0;
                let seen = look_back(s, p, t, a, !credit);
                if seen.count + 1 >= p.velocity_count {
                    rules |= VELOCITY_COUNT;
                }
                let sum = seen.sum + if a > 0 { a } else { 0 };
                if a >= 0 && sum > p.velocity_amount {
                    rules |= VELOCITY_AMOUNT;
                }
                if a >= p.structuring_low && a < p.structuring_high && seen.band + 1 >= p.structuring_count {
                    rules |= STRUCTURING;
                }
                if let Some((c, dsum, cts)) = seen.pass {
                    rules |= RAPID_PASS_THROUGH;
                    d[3] = c;
                    d[4] = dsum;
                    d[5] = cts;
                }
                let n = s[W_N] as i64;
                let mean = f64::from_bits(s[W_MEAN]);
                if n >= p.anomaly_min_rows && n >= 2 && a >= 0 {
                    let var = f64::from_bits(s[W_M2]) / (n - 1) as f64;
                    let dev = a as f64 - mean;
                    if dev > 0.0 && dev * dev > p.anomaly_sigmas * p.anomaly_sigmas * var {
                        rules |= AMOUNT_ANOMALY;
                    }
                    d[6] = mean.to_bits() as i64;
                    d[7] = var.to_bits() as i64;
                }
                d[0] = seen.count + 1;
                d[1] = sum;
                d[2] = seen.band + 1;
                let late = (s[W_MAX_TS] as i64) != i64::MIN
                    && t < (s[W_MAX_TS] as i64).saturating_sub(p.lateness_ms);
                if late {
                    oflags |= OUT_LATE;
                }
                if f & F_APPLY != 0 && !late {
                    if dry && s[W_TOUCH] != clock | (1 << 63) {
                        if (saved + 1) * SLOT_WORDS > undo.len() {
                            ok = false;
                            continue;
                        }
                        undo[saved * SLOT_WORDS..(saved + 1) * SLOT_WORDS].copy_from_slice(s);
                        saved += 1;
                    }
                    let sm = st.slot_mut(slot);
                    apply(sm, p, t, a, credit);
                    // In a dry run the touch marks "saved in this call" and is put back with the slot.
                    sm[W_TOUCH] = if dry { clock | (1 << 63) } else { clock };
                } else if !dry {
                    st.slot_mut(slot)[W_TOUCH] = clock;
                }
            }
            let mut score = 0i64;
            // Most rows fire nothing.
            if rules != 0 {
                for (b, w) in p.weights.iter().enumerate() {
                    if rules & (1 << b) != 0 {
                        score += *w;
                    }
                }
                if let Some(f) = out.fired.get_mut(out.fired_count) {
                    *f = ri;
                    out.fired_count += 1;
                }
            }
            out.score[i] = score.clamp(0, 100) as u8;
            out.rules[i] = rules;
            out.out_flags[i] = oflags;
        }
    }
    st.header[HEADER_WORDS - 1] = warm;
    for k in 0..saved {
        let words = &undo[k * SLOT_WORDS..(k + 1) * SLOT_WORDS];
        if let Some(slot) = st.find(words[W_KEY]) {
            st.slot_mut(slot).copy_from_slice(words);
        }
    }
    ok
}

/// Makes a slot resident for every keyed row: an existing one, or a fresh empty one. Writes the
/// keys of fresh slots to `fresh` (so the engine can fill them from the store) and returns their
/// count `m`; when slots run out it returns `-1 - m` (the engine fills those `m`, evicts, and calls
/// again: it resumes where it stopped).
pub fn prepare(st: &mut State, keys: &[u64], ts: &[i64], fresh: &mut [u64]) -> i64 {
    let mut m = 0;
    let clock = st.header[H_CLOCK];
    let mut warm = 0u64;
    // First the index lines of every row, each load independent of the others (see below).
    let mask = st.mask();
    for &key in keys {
        warm = warm.wrapping_add(st.index[2 * (key as usize & mask)]);
    }
    for (i, &key) in keys.iter().enumerate() {
        if key == EMPTY || ts.get(i).copied().unwrap_or(i64::MIN) == i64::MIN {
            continue;
        }
        // Most rows' accounts are resident: an inlined lookup settles them without the call.
        if st.find(key).is_some() {
            continue;
        }
        match st.insert(key) {
            Some((slot, true)) => {
                if m < fresh.len() {
                    fresh[m] = key;
                }
                m += 1;
                // Marked in use, so an eviction before scoring cannot take it back. (If an
                // eviction takes a resident slot of this batch, the retry brings it back.)
                st.slot_mut(slot)[W_TOUCH] = clock + 1;
            }
            Some((_, false)) => {}
            None => return -1 - m as i64,
        }
    }
    // Kept so the loads above are not optimised away.
    st.header[HEADER_WORDS - 1] = warm;
    m as i64
}

/// What the engine derives per row before scoring: GBP-equivalents from the rate table, and the
/// round-amount and high-risk-country flags. Loaded with the rules.
pub struct Derive {
    /// (num, den) per `currency_index`: GBP minor units = minor × num / den, half up; den 0 = no rate.
    pub rates: [(i64, i64); CURRENCY_SLOTS],
    /// Per currency, the largest amount whose conversion stays in i64 (`gbp_limit`), set with its rate.
    limit: [i64; CURRENCY_SLOTS],
    pub high_risk: [u8; 676],
    /// ROUND_AMOUNT's step per currency, in its minor units (0 for a slot with no currency).
    step: [i64; CURRENCY_SLOTS],
}

pub const CURRENCY_SLOTS: usize = 192;

/// ROUND_AMOUNT's step per currency: `multiple` major units in each currency's minor units.
const fn round_steps(multiple: i64) -> [i64; CURRENCY_SLOTS] {
    let mut step = [0i64; CURRENCY_SLOTS];
    let mut k = 0;
    while k < CURRENCY_SLOTS {
        if let Some(mu) = crate::fields::list_minor_units(k) {
            let mut st = multiple;
            let mut m = 0;
            while m < mu {
                st = st.saturating_mul(10);
                m += 1;
            }
            step[k] = st;
        }
        k += 1;
    }
    step
}

impl Derive {
    pub const EMPTY: Derive = Derive {
        rates: [(0, 0); CURRENCY_SLOTS],
        limit: [-1; CURRENCY_SLOTS],
        high_risk: [0; 676],
        step: round_steps(1000),
    };

    /// Sets the rate of a currency code; false when the code is not ISO 4217.
    pub fn set_rate(&mut self, code: &[u8], num: i64, den: i64) -> bool {
        match crate::fields::currency_index(code) {
            Some(i) if (i as usize) < CURRENCY_SLOTS && den > 0 => {
                self.rates[i as usize] = (num, den);
                self.limit[i as usize] = gbp_limit(num, den);
                true
            }
            _ => false,
        }
    }

    /// Sets ROUND_AMOUNT's step in major units (1,000 unless the rules say otherwise).
    pub fn set_round_multiple(&mut self, multiple: i64) {
        self.step = round_steps(multiple);
    }
}

/// Account keys of an id column: 0 for a missing or empty id.
pub fn key_column(account: crate::column::StrCol, key: &mut [u64]) {
    for (i, k) in key.iter_mut().enumerate() {
        *k = account.get_present(i).map_or(0, account_key);
    }
}

/// Sets each row's flags to `base`, plus `F_CREDIT` where the direction starts with `c` (the
/// validator admits only `debit` and `credit`).
pub fn base_flags(direction: crate::column::StrCol, base: u8, flags: &mut [u8]) {
    for (i, f) in flags.iter_mut().enumerate() {
        let credit = direction.get(i).and_then(|b| b.first()) == Some(&b'c');
        *f = base | if credit { F_CREDIT } else { 0 };
    }
}

/// `a × num / den`, rounded half up, exactly, for `a ≥ 0`. In i64 when nothing overflows (every
/// ordinary amount): WASM has no 128-bit division, and the library routine cost more than the rest
/// of the row's derivation together. (`Derive` keeps the bound per currency, set with its rate.)
#[cfg(test)]
fn gbp_of(a: i64, num: i64, den: i64) -> i64 {
    gbp_within(a, num, den, gbp_limit(num, den))
}

/// The largest `a` for which `a × num × 2 + den` fits an i64 (-1 when none is known to).
fn gbp_limit(num: i64, den: i64) -> i64 {
    if num > 0 && den > 0 {
        (i64::MAX - den) / num / 2
    } else {
        -1
    }
}

/// `gbp_of` with its overflow bound already computed: one comparison instead of `checked_mul`,
/// whose overflow test is itself a 128-bit multiplication on wasm32.
#[inline]
fn gbp_within(a: i64, num: i64, den: i64, limit: i64) -> i64 {
    // A rate of exactly one (sterling itself, most rows): a + 1/2 rounds down to a, and the
    // division (the row's dearest instruction) is not needed.
    if num == den {
        a
    } else if a <= limit {
        (a * num * 2 + den) / (2 * den)
    } else {
        ((a as i128 * num as i128 * 2 + den as i128) / (2 * den as i128)) as i64
    }
}

/// Each row's currency as an index into the ISO 4217 table (`fields::currency_index`): parsed
/// from the text, or as the validator already found it.
#[derive(Clone, Copy)]
pub enum Currencies<'a> {
    Text(crate::column::StrCol<'a>),
    /// `validate::NO_CURRENCY` (or any index past the table) where unknown.
    Index(&'a [u16]),
}

impl Currencies<'_> {
    #[inline]
    fn slot(&self, i: usize) -> Option<usize> {
        let k = match self {
            Currencies::Text(col) => col.get(i).and_then(crate::fields::currency_index)?,
            Currencies::Index(ix) => *ix.get(i)?,
        } as usize;
        if k < CURRENCY_SLOTS {
            Some(k)
        } else {
            None
        }
    }
}

/// Fills `gbp` (when `compute_gbp`) and ORs `F_ROUND` / `F_HIGH_RISK` into `flags`, row by row.
/// `country` holds two ASCII bytes per row (0, 0 for none).
pub fn derive(
    d: &Derive,
    amount: &[i64],
    currency: Currencies,
    country: &[u8],
    compute_gbp: bool,
    gbp: &mut [i64],
    flags: &mut [u8],
) {
    for i in 0..flags.len() {
        let a = amount.get(i).copied().unwrap_or(0);
        let k = currency.slot(i);
        if compute_gbp {
            gbp[i] = match k {
                Some(k) if d.rates[k].1 > 0 && a >= 0 => {
                    gbp_within(a, d.rates[k].0, d.rates[k].1, d.limit[k])
                }
                _ => -1,
            };
        }
        if let Some(k) = k {
            let st = d.step[k];
            // Most amounts are below one step: no division for them.
            if st > 0 && a >= st && a % st == 0 {
                flags[i] |= F_ROUND;
            }
        }
        let (c0, c1) =
            (country.get(2 * i).copied().unwrap_or(0), country.get(2 * i + 1).copied().unwrap_or(0));
        if c0.is_ascii_uppercase()
            && c1.is_ascii_uppercase()
            && d.high_risk[(c0 - b'A') as usize * 26 + (c1 - b'A') as usize] != 0
        {
            flags[i] |= F_HIGH_RISK;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;
    use std::vec::Vec;

    struct Arena {
        header: Vec<u64>,
        index: Vec<u64>,
        slots: Vec<u64>,
        free: Vec<u32>,
    }

    impl Arena {
        fn new(cap: usize) -> Arena {
            let ic = index_cap(cap);
            let mut a = Arena {
                header: vec![0; HEADER_WORDS],
                index: vec![0; 2 * ic],
                slots: vec![0; cap * SLOT_WORDS],
                free: vec![0; cap],
            };
            a.state().init();
            a
        }
        fn state(&mut self) -> State<'_> {
            State {
                header: &mut self.header,
                index: &mut self.index,
                slots: &mut self.slots,
                free: &mut self.free,
            }
        }
    }

    const MIN: i64 = 60_000;
    const GBP: i64 = 100;

    /// Scores rows (account, minute-ish ms, pounds in pence, credit) one call per row, applying.
    struct Harness {
        arena: Arena,
        p: Params,
    }

    struct Row {
        acct: u64,
        ts: i64,
        gbp: i64,
        flags: u8,
    }

    fn row(acct: u64, ts: i64, gbp: i64, credit: bool) -> Row {
        Row { acct, ts, gbp, flags: F_APPLY | if credit { F_CREDIT } else { 0 } }
    }

    impl Harness {
        fn new() -> Harness {
            Harness { arena: Arena::new(64), p: Params::DEFAULT }
        }
        fn run(&mut self, rows: &[Row], dry: bool) -> Vec<(u8, u16, u8, [i64; DETAIL_WORDS])> {
            let n = rows.len();
            let key: Vec<u64> = rows.iter().map(|r| r.acct).collect();
            let ts: Vec<i64> = rows.iter().map(|r| r.ts).collect();
            let gbp: Vec<i64> = rows.iter().map(|r| r.gbp).collect();
            let flags: Vec<u8> = rows.iter().map(|r| r.flags).collect();
            let mut order = vec![0u32; n];
            let mut scratch = vec![0u32; n];
            sort_rows(&ts, &mut order, &mut scratch);
            let mut fresh = vec![0u64; n];
            let mut st = self.arena.state();
            assert!(prepare(&mut st, &key, &ts, &mut fresh) >= 0);
            let (mut score, mut rules, mut of, mut detail) =
                (vec![0u8; n], vec![0u16; n], vec![0u8; n], vec![0i64; n * DETAIL_WORDS]);
            let mut undo = vec![0u64; n * SLOT_WORDS];
            let mut fired = vec![0u32; n];
            let mut out = Scores {
                score: &mut score,
                rules: &mut rules,
                out_flags: &mut of,
                detail: &mut detail,
                fired: &mut fired,
                fired_count: 0,
            };
            assert!(score_rows(
                &mut st,
                &self.p,
                &Rows { key: &key, ts: &ts, gbp: &gbp, flags: &flags },
                &order,
                &mut out,
                dry,
                &mut undo
            ));
            let fired_count = out.fired_count;
            // The fired list names exactly the rows with a rule, each once.
            let listed = &fired[..fired_count];
            assert_eq!(listed.len(), rules.iter().filter(|&&r| r != 0).count());
            assert!(listed.iter().all(|&i| rules[i as usize] != 0));
            let mut distinct = listed.to_vec();
            distinct.sort_unstable();
            distinct.dedup();
            assert_eq!(distinct.len(), listed.len());
            (0..n)
                .map(|i| {
                    let mut d = [0i64; DETAIL_WORDS];
                    d.copy_from_slice(&detail[i * DETAIL_WORDS..(i + 1) * DETAIL_WORDS]);
                    (score[i], rules[i], of[i], d)
                })
                .collect()
        }
        fn one(&mut self, r: Row) -> (u8, u16, u8, [i64; DETAIL_WORDS]) {
            self.run(&[r], false)[0]
        }
    }

    #[test]
    fn velocity_count_fires_on_the_eleventh_row_in_five_minutes_not_the_tenth() {
        let mut h = Harness::new();
        for k in 0..10 {
            let r = h.one(row(7, 1_000_000 + k * 20_000, 10 * GBP, false));
            assert_eq!(r.1 & VELOCITY_COUNT, 0, "row {}", k + 1);
        }
        let r = h.one(row(7, 1_000_000 + 10 * 20_000, 10 * GBP, false));
        assert_ne!(r.1 & VELOCITY_COUNT, 0);
        assert_eq!(r.3[0], 11);
        assert_eq!(r.0, 30);
    }

    #[test]
    fn velocity_count_window_includes_exactly_five_minutes_back() {
        let mut h = Harness::new();
        for k in 0..10 {
            h.one(row(7, k * 1000, GBP, false));
        }
        // The first row is exactly 5 min before: still in the window.
        assert_ne!(h.one(row(7, 5 * MIN, GBP, false)).1 & VELOCITY_COUNT, 0);
        let mut h = Harness::new();
        for k in 0..10 {
            h.one(row(7, k * 1000, GBP, false));
        }
        assert_eq!(h.one(row(7, 5 * MIN + 1, GBP, false)).1 & VELOCITY_COUNT, 0);
    }

    #[test]
    fn velocity_amount_fires_when_the_window_sum_passes_fifty_thousand() {
        let mut h = Harness::new();
        assert_eq!(h.one(row(1, 0, 25_000 * GBP, true)).1 & VELOCITY_AMOUNT, 0);
        assert_eq!(
            h.one(row(1, MIN, 25_000 * GBP, false)).1 & VELOCITY_AMOUNT,
            0,
            "exactly 50,000 is not above"
        );
        let r = h.one(row(1, 2 * MIN, 1, false));
        assert_ne!(r.1 & VELOCITY_AMOUNT, 0);
        assert_eq!(r.3[1], 5_000_001);
    }

    #[test]
    fn structuring_fires_from_the_third_band_row_in_a_day() {
        let mut h = Harness::new();
        assert_eq!(h.one(row(2, 0, 9_500 * GBP, true)).1 & STRUCTURING, 0);
        assert_eq!(
            h.one(row(2, 3_600_000, 899_999, true)).1 & STRUCTURING,
            0,
            "£8,999.99 is outside the band"
        );
        assert_eq!(h.one(row(2, 7_200_000, 999_999, true)).1 & STRUCTURING, 0, "second in band");
        let r = h.one(row(2, 10_800_000, 900_000, true));
        assert_ne!(r.1 & STRUCTURING, 0, "£9,000.00 is the third in band");
        assert_eq!(r.3[2], 3);
        // £10,000.00 is outside the band (and high value).
        let r = h.one(row(2, 11_000_000, 1_000_000, true));
        assert_eq!(r.1 & STRUCTURING, 0);
        assert_ne!(r.1 & HIGH_VALUE, 0);
        // A day later the early ones have left the window.
        let mut h2 = Harness::new();
        h2.one(row(3, 0, 950_000, true));
        h2.one(row(3, 1000, 950_000, true));
        assert_eq!(h2.one(row(3, 86_400_000 + 1, 950_000, true)).1 & STRUCTURING, 0);
    }

    #[test]
    fn rapid_pass_through_fires_on_the_debit_that_crosses_ninety_percent_within_the_hour() {
        let mut h = Harness::new();
        h.one(row(4, 0, 10_000 * GBP, true));
        assert_eq!(h.one(row(4, 10 * MIN, 5_000 * GBP, false)).1 & RAPID_PASS_THROUGH, 0);
        let r = h.one(row(4, 59 * MIN, 4_000 * GBP, false));
        assert_ne!(r.1 & RAPID_PASS_THROUGH, 0, "59 minutes: inside");
        assert_eq!((r.3[3], r.3[4], r.3[5]), (1_000_000, 900_000, 0));
        assert_eq!(
            h.one(row(4, 59 * MIN + 1, 100, false)).1 & RAPID_PASS_THROUGH,
            0,
            "fires once, on the crossing"
        );

        let mut h = Harness::new();
        h.one(row(4, 0, 10_000 * GBP, true));
        h.one(row(4, 10 * MIN, 5_000 * GBP, false));
        assert_eq!(
            h.one(row(4, 61 * MIN, 4_000 * GBP, false)).1 & RAPID_PASS_THROUGH,
            0,
            "61 minutes: outside"
        );

        let mut h = Harness::new();
        h.one(row(4, 0, 999 * GBP, true));
        assert_eq!(h.one(row(4, MIN, 999 * GBP, false)).1 & RAPID_PASS_THROUGH, 0, "credit below £1,000");
    }

    #[test]
    fn amount_anomaly_needs_twenty_earlier_rows_and_four_sigma() {
        let mut h = Harness::new();
        for k in 0..19 {
            h.one(row(5, k * 3_600_000, (40 + (k % 3)) * GBP, false));
        }
        // 19 earlier rows: never an anomaly.
        assert_eq!(h.one(row(5, 19 * 3_600_000, 5_000 * GBP, false)).1 & AMOUNT_ANOMALY, 0);
        let mut h = Harness::new();
        for k in 0..20 {
            h.one(row(5, k * 3_600_000, (40 + (k % 3)) * GBP, false));
        }
        let r = h.one(row(5, 20 * 3_600_000, 5_000 * GBP, false));
        assert_ne!(r.1 & AMOUNT_ANOMALY, 0);
        let mean = f64::from_bits(r.3[6] as u64);
        assert!((mean - 4095.0).abs() < 1.0, "{}", mean);
        // Within 4 sigma: no.
        let mut h = Harness::new();
        for k in 0..20 {
            h.one(row(5, k * 3_600_000, (40 + (k % 3)) * GBP, false));
        }
        assert_eq!(h.one(row(5, 20 * 3_600_000, 42 * GBP, false)).1 & AMOUNT_ANOMALY, 0);
    }

    #[test]
    fn stateless_rules_and_the_score_cap() {
        let mut h = Harness::new();
        let r = h.one(Row {
            acct: 9,
            ts: 0,
            gbp: 1_000_000,
            flags: F_APPLY | F_ROUND | F_HIGH_RISK | F_SANCTIONED,
        });
        assert_eq!(r.1, SANCTIONS_MATCH | HIGH_RISK_COUNTRY | HIGH_VALUE | ROUND_AMOUNT);
        assert_eq!(r.0, 100);
        let r = h.one(Row { acct: 9, ts: 1, gbp: 99_999, flags: F_APPLY | F_ROUND });
        assert_eq!(r.1 & ROUND_AMOUNT, 0, "round but below £1,000");
    }

    #[test]
    fn late_rows_are_scored_as_of_their_event_time_and_too_late_rows_change_nothing() {
        let mut h = Harness::new();
        for k in 0..10 {
            h.one(row(6, 10 * MIN + k * 1000, GBP, false));
        }
        // A row 30 min earlier sees none of those rows.
        let r = h.one(row(6, 10 * MIN - 30 * MIN, GBP, false));
        assert_eq!(r.1 & VELOCITY_COUNT, 0);
        assert_eq!(r.2 & OUT_LATE, 0);
        assert_eq!(r.3[0], 1);
        // Two hours behind the account's latest row: flagged late, not applied.
        let r = h.one(row(6, 10 * MIN - 2 * 3_600_000, GBP, false));
        assert_ne!(r.2 & OUT_LATE, 0);
        let n_before = h.arena.state().slot(0)[W_N];
        assert_eq!(n_before, 11);
    }

    #[test]
    fn rows_of_one_call_apply_in_event_time_order() {
        let mut h = Harness::new();
        let rows: Vec<Row> = (0..11).rev().map(|k| row(8, k * 1000, GBP, false)).collect();
        let out = h.run(&rows, false);
        // The newest row (first in input) is the 11th in time.
        assert_ne!(out[0].1 & VELOCITY_COUNT, 0);
        assert!(out[1..].iter().all(|r| r.1 & VELOCITY_COUNT == 0));
    }

    #[test]
    fn a_dry_run_sees_its_own_rows_and_leaves_the_state_as_it_was() {
        let mut h = Harness::new();
        for k in 0..5 {
            h.one(row(8, k * 1000, GBP, false));
        }
        // The touch word is bookkeeping for eviction, not state: compare everything else.
        let state = |h: &Harness| -> Vec<u64> {
            h.arena
                .slots
                .iter()
                .enumerate()
                .filter(|(i, _)| i % SLOT_WORDS != W_TOUCH)
                .map(|(_, w)| *w)
                .collect()
        };
        let before = state(&h);
        let rows: Vec<Row> = (5..11).map(|k| row(8, k * 1000, GBP, false)).collect();
        let out = h.run(&rows, true);
        assert_ne!(out[5].1 & VELOCITY_COUNT, 0, "the 11th, counting the dry rows before it");
        assert!(state(&h) == before, "the dry run changed the state");
    }

    #[test]
    fn eviction_and_restore_round_trip_the_state() {
        let mut h = Harness::new();
        for k in 0..10 {
            h.one(row(11, k * 1000, GBP, false));
        }
        let mut dirty = vec![0u64; 64 * SLOT_WORDS];
        let mut st = h.arena.state();
        let clock = st.clock();
        let t = st.evict(clock + 1, &mut dirty, 0);
        assert_eq!((t.copied, t.next), (1, 64));
        assert_eq!(t.words, W_EVENTS + 2 * 10, "packed: the header and the ten rows");
        assert_eq!(t.words, packed_words(dirty[W_META]));
        assert!(st.find(11).is_none());
        assert!(st.restore(&dirty[..t.words]));
        assert_ne!(h.one(row(11, 10_000, GBP, false)).1 & VELOCITY_COUNT, 0);
    }

    #[test]
    fn a_reused_slot_saves_the_same_words_as_a_fresh_one() {
        // Account 21 fills a slot's ring and band, is evicted, and account 22 takes the slot;
        // `insert` clears only the header, so 22's saved words must not carry 21's rows.
        let mut h = Harness::new();
        for k in 0..40 {
            h.one(row(21, k * 1000, 9_500 * GBP, false));
        }
        let mut out = vec![0u64; 64 * SLOT_WORDS];
        let clock = h.arena.state().clock();
        assert_eq!(h.arena.state().evict(clock + 1, &mut out, 0).copied, 1);
        h.one(row(22, 5_000_000, 9_500 * GBP, true));
        let t = h.arena.state().take_dirty(&mut out, 0);
        assert_eq!(t.copied, 1);
        let mut fresh = Harness::new();
        fresh.one(row(22, 5_000_000, 9_500 * GBP, true));
        let mut want = vec![0u64; SLOT_WORDS];
        let w = fresh.arena.state().take_dirty(&mut want, 0);
        assert_eq!((w.copied, w.words), (1, t.words));
        // The touch clock differs (the first harness scored more batches); the rest is history.
        out[W_TOUCH] = 0;
        want[W_TOUCH] = 0;
        assert_eq!(&out[..t.words], &want[..w.words]);
    }

    #[test]
    fn checkpoints_and_evictions_resume_where_the_transfer_buffer_filled() {
        // 40 accounts, each dirty, and room for three whole slots a call (two dozen packed
        // ones): every slot comes out once, in calls that go on from where the last stopped.
        let mut h = Harness::new();
        for a in 1..=40u64 {
            h.one(row(a * 7919, 0, GBP, false));
            h.one(row(a * 7919, 1000, GBP, false));
        }
        let collect = |h: &mut Harness, evict: bool| -> Vec<u64> {
            let mut keys = Vec::new();
            let mut out = vec![0u64; 3 * SLOT_WORDS];
            let mut from = 0;
            let clock = h.arena.state().clock();
            while from < 64 {
                let mut st = h.arena.state();
                let t =
                    if evict { st.evict(clock + 1, &mut out, from) } else { st.take_dirty(&mut out, from) };
                assert!(t.next > from, "every call makes progress");
                let mut at = 0;
                for _ in 0..t.copied {
                    keys.push(out[at + W_KEY]);
                    at += packed_words(out[at + W_META]);
                }
                assert_eq!(at, t.words);
                from = t.next;
            }
            keys.sort_unstable();
            keys
        };
        let want: Vec<u64> = (1..=40u64).map(|a| a * 7919).collect();
        assert_eq!(collect(&mut h, false), want);
        assert!(collect(&mut h, false).is_empty(), "taking them marked them clean");
        h.one(row(7919, 2000, GBP, false));
        h.one(row(2 * 7919, 2000, GBP, false));
        assert_eq!(collect(&mut h, true), vec![7919, 2 * 7919], "only the dirty ones are copied");
        assert_eq!(h.arena.state().resident(), 0, "every slot touched before the cutoff went");
    }

    #[test]
    fn a_whole_slot_stored_before_packing_restores_like_its_packed_form() {
        // 70 rows in reach: the ring is full and wraps (its head is not 0 in the whole slot).
        let mut h = Harness::new();
        for k in 0..70 {
            h.one(row(5, k * 1000, GBP, k % 2 == 0));
        }
        let whole: Vec<u64> = {
            let st = h.arena.state();
            let s = st.slot(st.find(5).expect("resident"));
            assert_ne!(meta(s).0, 0, "the ring has wrapped");
            s.to_vec()
        };
        let mut packed = vec![0u64; SLOT_WORDS];
        let clock = h.arena.state().clock();
        let t = h.arena.state().evict(clock + 1, &mut packed, 0);
        assert_eq!((t.copied, t.words), (1, W_EVENTS + 2 * RING), "a full ring, no band rows");
        let next = |h: &mut Harness| h.one(row(5, 70_000, GBP, false));
        assert!(h.arena.state().restore(&whole));
        let from_whole = next(&mut h);
        let mut h2 = Harness::new();
        assert!(h2.arena.state().restore(&packed[..t.words]));
        assert_eq!(next(&mut h2), from_whole);
        assert_eq!(from_whole.3[0], RING as i64 + 1);
        // A packed slot shorter or longer than its header says is refused, as is a truncated one.
        let mut h3 = Harness::new();
        h3.one(row(6, 0, GBP, false));
        h3.one(row(6, 1000, GBP, false));
        let mut out = vec![0u64; SLOT_WORDS];
        let clock = h3.arena.state().clock();
        let t = h3.arena.state().evict(clock + 1, &mut out, 0);
        assert_eq!(t.words, W_EVENTS + 4);
        let mut st = h3.arena.state();
        assert!(!st.restore(&out[..t.words - 1]));
        assert!(!st.restore(&out[..t.words + 1]));
        assert!(!st.restore(&out[..W_EVENTS - 1]));
        assert!(st.restore(&out[..t.words]));
    }

    #[test]
    fn rows_just_inside_and_outside_the_longest_window_see_the_same_history_as_before() {
        // `look_back` skips the ring when the newest row is out of both windows (1 h here):
        // a credit exactly 60 min before a debit still counts for RAPID_PASS_THROUGH.
        let mut h = Harness::new();
        h.one(row(31, 0, 2_000 * GBP, true));
        let r = h.one(row(31, 60 * MIN, 1_900 * GBP, false));
        assert_ne!(r.1 & RAPID_PASS_THROUGH, 0);
        let mut h = Harness::new();
        h.one(row(31, 0, 2_000 * GBP, true));
        let r = h.one(row(31, 60 * MIN + 1, 1_900 * GBP, false));
        assert_eq!(r.1 & RAPID_PASS_THROUGH, 0);
        // A late row (before the newest, within the lateness) still reads the ring: it counts
        // the debit 1 ms before it in its 5-min window.
        h.one(row(31, 2 * 60 * MIN, 1_000 * GBP, true));
        let late = h.one(row(31, 60 * MIN + 2, 19 * GBP, false));
        assert_eq!(late.3[0], 2);
        assert_eq!(late.3[1], 1_919 * GBP);
    }

    #[test]
    fn a_quiet_account_restarts_its_ring_at_the_first_line_and_no_row_in_time_sees_the_difference() {
        const H: i64 = 60 * MIN;
        let mut h = Harness::new();
        for k in 0..5 {
            h.one(row(50, k * MIN, GBP, false));
        }
        // Exactly the lateness plus the longest window (2 h) after the newest row: the ring stays.
        h.one(row(50, 4 * MIN + 2 * H, GBP, false));
        let (head, len, _) = meta(h.arena.state().slot(0));
        assert_eq!((head, len), (0, 6));
        // One millisecond more after that row: every kept row has expired, and the ring starts again.
        let t = 4 * MIN + 4 * H + 1;
        h.one(row(50, t, GBP, false));
        let st = h.arena.state();
        let s = st.slot(0);
        assert_eq!(meta(s).1, 0, "the ring is empty: the row is alone in reach, in the header");
        assert!(is_lone(s));
        assert_eq!(lone_event(s), (t, GBP, false));
        assert_eq!(s[W_N], 7, "the running statistics keep every row");
        // A row within the lateness sees exactly what it saw before: its windows reach back 1 h.
        let r = h.one(Row { acct: 50, ts: t - 30 * MIN, gbp: GBP, flags: F_HIGH_RISK });
        assert_eq!(r.2 & OUT_LATE, 0);
        assert_eq!(r.3[0], 1, "no earlier row in its five minutes");
        // A too-late row is scored against what is kept: the dropped rows are not seen.
        let r = h.one(Row { acct: 50, ts: 4 * MIN + 2 * H, gbp: GBP, flags: F_HIGH_RISK });
        assert_ne!(r.2 & OUT_LATE, 0);
        assert_eq!(r.3[0], 1);
    }

    #[test]
    fn a_lone_row_moves_into_the_ring_when_another_comes_within_reach_before_or_after_it() {
        let mut h = Harness::new();
        h.one(row(60, 10 * MIN, 3 * GBP, true));
        assert!(is_lone(h.arena.state().slot(0)));
        // Within the lateness, before the lone row: both go to the ring, oldest first.
        let r = h.one(Row { acct: 60, ts: 8 * MIN, gbp: 2 * GBP, flags: F_APPLY | F_HIGH_RISK });
        assert_eq!(r.3[0], 1, "the lone row is after it: not yet seen");
        let st = h.arena.state();
        let s = st.slot(0);
        assert!(!is_lone(s));
        assert_eq!(s[W_LONE], 0, "no trace of the lone row is left in the header");
        assert_eq!((meta(s).0, meta(s).1), (0, 2));
        assert_eq!(event(s, 0, 0), (8 * MIN, 2 * GBP, false));
        assert_eq!(event(s, 0, 1), (10 * MIN, 3 * GBP, true));
        // After it: a row alone in reach again only once every kept row has expired.
        let r = h.one(Row { acct: 60, ts: 12 * MIN, gbp: GBP, flags: F_APPLY | F_HIGH_RISK });
        assert_eq!((r.3[0], r.3[1]), (3, 6 * GBP));
        assert_eq!(meta(h.arena.state().slot(0)).1, 3);
    }

    #[test]
    fn index_survives_many_inserts_and_removes() {
        let mut a = Arena::new(64);
        let mut st = a.state();
        for k in 1..=64u64 {
            assert!(st.insert(k * 0x10001).is_some());
        }
        assert!(st.insert(999_999).is_none());
        for k in (1..=64u64).step_by(2) {
            assert!(st.remove(k * 0x10001));
        }
        for k in 1..=64u64 {
            assert_eq!(st.find(k * 0x10001).is_some(), k % 2 == 0, "{}", k);
        }
        assert_eq!(st.free_slots(), 32);
    }

    #[test]
    fn sort_rows_is_stable_and_keeps_sorted_input_as_is() {
        let ts = [5i64, 1, 5, i64::MIN, 1, 3];
        let mut order = vec![0u32; 6];
        let mut scratch = vec![0u32; 6];
        sort_rows(&ts, &mut order, &mut scratch);
        assert_eq!(order, vec![3, 1, 4, 5, 0, 2]);
        sort_rows(&[1, 2, 2, 7], &mut order[..4], &mut scratch[..4]);
        assert_eq!(&order[..4], &[0, 1, 2, 3]);
    }

    #[test]
    fn account_keys_differ_and_are_never_zero() {
        assert_ne!(account_key(b"A0000001"), account_key(b"A0000002"));
        assert_ne!(account_key(b""), 0);
    }

    #[test]
    fn account_keys_keep_the_values_stored_state_was_written_under() {
        // Slots, checkpoints and shard ownership are keyed by these values (LMDB keeps them across
        // restarts and upgrades), so the function must never change. Computed independently
        // (FNV-1a and the splitmix finish in JavaScript BigInt arithmetic).
        assert_eq!(account_key(b"A0004974"), 4_579_451_012_836_563_844);
        assert_eq!(account_key(b""), 17_665_956_581_633_026_203);
        assert_eq!(account_key(b"x"), 3_204_358_148_266_727_566);
        assert_eq!(account_key(b"GB29NWBK60161331926819"), 160_009_441_255_132_894);
    }

    #[test]
    fn ring_keeps_the_latest_rows_when_full() {
        let mut h = Harness::new();
        for k in 0..(RING as i64 + 10) {
            h.one(row(12, k, GBP, false));
        }
        let r = h.one(row(12, 100, GBP, false));
        assert_eq!(r.3[0], RING as i64 + 1, "count saturates at the ring size");
    }

    #[test]
    fn derive_converts_exactly_and_flags_round_amounts_and_risky_countries() {
        let mut d = Derive::EMPTY;
        assert!(d.set_rate(b"GBP", 100, 100));
        assert!(d.set_rate(b"EUR", 871_200, 1_000_000));
        assert!(d.set_rate(b"JPY", 509_100, 1_000_000)); // 0.005091 GBP per yen, 0 minor units
        assert!(!d.set_rate(b"XXQ", 1, 1));
        d.high_risk[(b'K' - b'A') as usize * 26 + (b'P' - b'A') as usize] = 1;
        let offsets = [0i32, 3, 6, 9, 12];
        let data = b"GBPEURJPYGBP";
        let col = crate::column::StrCol::new(&offsets, data, None);
        let amount = [100_000i64, 500_000, 1_000, 123];
        let country = *b"KPFR\0\0kp";
        let (mut gbp, mut flags) = ([0i64; 4], [0u8; 4]);
        derive(&d, &amount, Currencies::Text(col), &country, true, &mut gbp, &mut flags);
        assert_eq!(gbp, [100_000, 435_600, 509, 123]);
        assert_eq!(flags, [F_ROUND | F_HIGH_RISK, F_ROUND, F_ROUND, 0]);
        // The validator's currency indexes give the same, and an unknown one (`NO_CURRENCY`) none.
        let index: Vec<u16> = [b"GBP", b"EUR", b"JPY", b"GBP"]
            .iter()
            .map(|c| crate::fields::currency_index(*c).unwrap())
            .collect();
        let (mut gbp2, mut flags2) = ([0i64; 4], [0u8; 4]);
        derive(&d, &amount, Currencies::Index(&index), &country, true, &mut gbp2, &mut flags2);
        assert_eq!((gbp2, flags2), (gbp, flags));
        let unknown = [crate::validate::NO_CURRENCY; 4];
        derive(&d, &amount, Currencies::Index(&unknown), &country, true, &mut gbp2, &mut [0u8; 4]);
        assert_eq!(gbp2, [-1; 4]);
    }

    #[test]
    fn keys_and_base_flags_come_from_the_id_and_direction_columns() {
        let offsets = [0i32, 5, 5, 10];
        let ids = crate::column::StrCol::new(&offsets, b"ACC-1ACC-2", None);
        let mut key = [7u64; 3];
        key_column(ids, &mut key);
        assert_eq!(key, [account_key(b"ACC-1"), 0, account_key(b"ACC-2")]);
        let offsets = [0i32, 6, 11, 11];
        let dir = crate::column::StrCol::new(&offsets, b"creditdebit", None);
        let mut flags = [0xffu8; 3];
        base_flags(dir, F_APPLY, &mut flags);
        assert_eq!(flags, [F_APPLY | F_CREDIT, F_APPLY, F_APPLY]);
        base_flags(crate::column::StrCol::EMPTY, 0, &mut flags);
        assert_eq!(flags, [0, 0, 0]);
    }

    #[test]
    fn gbp_conversion_is_the_same_in_i64_and_at_the_overflow_edge() {
        let wide = |a: i64, num: i64, den: i64| {
            ((a as i128 * num as i128 * 2 + den as i128) / (2 * den as i128)) as i64
        };
        let rates =
            [(100, 100), (7, 7), (871_200, 1_000_000), (509_100, 1_000_000), (1, 3), (999_999_999, 7)];
        for &(num, den) in &rates {
            let edge = (i64::MAX - den) / num / 2;
            for a in [0, 1, 2, 5, 99, 12_345, 1_000_000_007, edge - 1, edge, edge + 1, i64::MAX / 3, i64::MAX]
            {
                assert_eq!(gbp_of(a, num, den), wide(a, num, den), "a={a} num={num} den={den}");
            }
        }
        // Half up: 1 × 1/2 is 0.5, which rounds to 1; 1 × 1/3 rounds to 0.
        assert_eq!(gbp_of(1, 1, 2), 1);
        assert_eq!(gbp_of(1, 1, 3), 0);
    }

    #[test]
    fn sort_rows_places_late_rows_and_survives_a_row_far_ahead() {
        let check = |ts: &[i64]| {
            let n = ts.len();
            let (mut order, mut scratch) = (vec![0u32; n], vec![0u32; n]);
            sort_rows(ts, &mut order, &mut scratch);
            let mut want: Vec<u32> = (0..n as u32).collect();
            want.sort_by_key(|&i| ts[i as usize]);
            assert_eq!(order, want, "{ts:?}");
        };
        check(&[]);
        check(&[7]);
        check(&[3, 3, 3, 3]);
        // Late rows, one of them before every kept row, one tied with a kept row.
        check(&[10, 20, 5, 30, 20, 40, 1, 50]);
        // A row far ahead first: every row after it is lifted, and still lands in order.
        check(&[1_000_000, 1, 2, 3, 2, 1, 5]);
        // No-time rows (i64::MIN) anywhere go first, in row order.
        check(&[4, i64::MIN, 2, i64::MIN, 9]);
    }

    #[test]
    fn sort_rows_orders_random_and_nearly_sorted_batches_like_a_stable_sort() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for case in 0..200 {
            let n = (next() % 300) as usize;
            let ts: Vec<i64> = (0..n)
                .map(|i| match case % 3 {
                    0 => (next() % 50) as i64,                                   // random, many ties
                    1 => i as i64 * 10 - if next() % 20 == 0 { 500 } else { 0 }, // a few late rows
                    _ => {
                        if next() % 30 == 0 {
                            i64::MIN
                        } else {
                            (n - i) as i64
                        }
                    } // descending, no-time rows
                })
                .collect();
            let (mut order, mut scratch) = (vec![0u32; n], vec![0u32; n]);
            sort_rows(&ts, &mut order, &mut scratch);
            let mut want: Vec<u32> = (0..n as u32).collect();
            want.sort_by_key(|&i| ts[i as usize]);
            assert_eq!(order, want, "case {case}");
        }
    }
}
