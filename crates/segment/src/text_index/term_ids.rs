//! Term ids by term bytes, for a text index while it is built: every word of every doc
//! is looked up once, so the lookup is the builder's inner loop.
//!
//! A term of 1 to 16 bytes is keyed by two words that hold all its bytes (loaded
//! whole, overlapping for lengths between the word sizes) and its length: a lookup is
//! a multiply, a probe and three integer compares, with no hashing of a slice and no
//! `memcmp`. Longer terms (rare: the word field keeps words under 40 bytes) go to a
//! hash map.

use rustc_hash::FxHashMap;

/// One slot of the open-addressing table; `len == 0` is empty.
#[derive(Clone, Copy, Default)]
struct Slot {
    lo: u64,
    hi: u64,
    len: u32,
    id: u32,
}

/// The longest term the packed table holds.
const PACKED_MAX: usize = 16;

/// Every byte of a term of 1..=16 bytes, in two words; with the length, a term's key.
#[inline]
fn pack(term: &[u8]) -> (u64, u64) {
    let n = term.len();
    let word = |at: usize| -> u64 {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&term[at..at + 8]);
        u64::from_le_bytes(bytes)
    };
    let half = |at: usize| -> u64 {
        let mut bytes = [0u8; 4];
        bytes.copy_from_slice(&term[at..at + 4]);
        u64::from(u32::from_le_bytes(bytes))
    };
    if n >= 8 {
        (word(0), word(n - 8))
    } else if n >= 4 {
        (half(0) | (half(n - 4) << 32), 0)
    } else {
        (
            u64::from(term[0]) | (u64::from(term[n / 2]) << 8) | (u64::from(term[n - 1]) << 16),
            0,
        )
    }
}

#[inline]
fn hash(lo: u64, hi: u64, len: u32) -> u64 {
    (lo ^ hi.rotate_left(29) ^ (u64::from(len) << 57)).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Ids handed out in order of first sight, 0, 1, 2, …; each id's bytes kept for the
/// sorted term table.
#[derive(Default)]
pub(super) struct TermIds {
    slots: Vec<Slot>,
    /// Slots taken in `slots`.
    packed: usize,
    long: FxHashMap<Box<[u8]>, u32>,
    bytes: Vec<u8>,
    ends: Vec<u32>,
}

impl TermIds {
    /// Terms seen.
    pub(super) fn len(&self) -> usize {
        self.ends.len()
    }

    /// The bytes of term `id`.
    pub(super) fn term(&self, id: u32) -> &[u8] {
        let end = self.ends[id as usize] as usize;
        let start = match id {
            0 => 0,
            _ => self.ends[id as usize - 1] as usize,
        };
        &self.bytes[start..end]
    }

    /// The id of `term`, and whether it is new.
    #[inline]
    pub(super) fn id_of(&mut self, term: &[u8]) -> (u32, bool) {
        if term.is_empty() || term.len() > PACKED_MAX {
            return self.long_id_of(term);
        }
        if self.packed * 2 >= self.slots.len() {
            self.grow();
        }
        let (lo, hi) = pack(term);
        let len = term.len() as u32;
        let mask = self.slots.len() - 1;
        let mut at = (hash(lo, hi, len) >> 32) as usize & mask;
        loop {
            let slot = self.slots[at];
            if slot.len == 0 {
                let id = self.push(term);
                self.slots[at] = Slot { lo, hi, len, id };
                self.packed += 1;
                return (id, true);
            }
            if slot.lo == lo && slot.hi == hi && slot.len == len {
                return (slot.id, false);
            }
            at = (at + 1) & mask;
        }
    }

    fn long_id_of(&mut self, term: &[u8]) -> (u32, bool) {
        if let Some(id) = self.long.get(term) {
            return (*id, false);
        }
        let id = self.push(term);
        self.long.insert(term.into(), id);
        (id, true)
    }

    fn push(&mut self, term: &[u8]) -> u32 {
        let id = self.ends.len() as u32;
        self.bytes.extend_from_slice(term);
        self.ends.push(self.bytes.len() as u32);
        id
    }

    /// Double the table (or start it) and put every slot back.
    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(1024);
        let old = std::mem::replace(&mut self.slots, vec![Slot::default(); size]);
        let mask = size - 1;
        for slot in old.into_iter().filter(|slot| slot.len != 0) {
            let mut at = (hash(slot.lo, slot.hi, slot.len) >> 32) as usize & mask;
            while self.slots[at].len != 0 {
                at = (at + 1) & mask;
            }
            self.slots[at] = slot;
        }
    }

    /// Every id, ordered by its term's bytes.
    pub(super) fn sorted(&self) -> Vec<u32> {
        let mut order: Vec<u32> = (0..self.len() as u32).collect();
        order.sort_unstable_by(|a, b| self.term(*a).cmp(self.term(*b)));
        order
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_every_length_keeps_terms_apart_and_finds_them_again() {
        // Terms differing in one byte at every position, of every length around the
        // word sizes the packing switches at, plus long ones.
        let mut terms: Vec<Vec<u8>> = Vec::new();
        for len in 1..=40usize {
            for at in 0..len {
                let mut term = vec![b'a'; len];
                term[at] = b'b';
                terms.push(term);
            }
            terms.push(vec![b'a'; len]);
        }
        let mut ids = TermIds::default();
        for (expected, term) in terms.iter().enumerate() {
            assert_eq!(ids.id_of(term), (expected as u32, true), "{term:?}");
        }
        for (expected, term) in terms.iter().enumerate() {
            assert_eq!(ids.id_of(term), (expected as u32, false), "{term:?}");
            assert_eq!(ids.term(expected as u32), term.as_slice());
        }
        assert_eq!(ids.len(), terms.len());
        let sorted: Vec<&[u8]> = ids.sorted().into_iter().map(|id| ids.term(id)).collect();
        let mut expected: Vec<&[u8]> = terms.iter().map(Vec::as_slice).collect();
        expected.sort();
        assert_eq!(sorted, expected);
    }
}
