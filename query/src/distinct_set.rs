//! The exact distinct integers of one group, for COUNT(DISTINCT) of INT, LONG and
//! TIMESTAMP arguments. Values are held as order-preserving words
//! ([`crate::types::ordered_u64`]).
//!
//! A large GROUP BY has many groups with few distinct values each (`GROUP BY l_suppkey`
//! with `COUNT(DISTINCT l_suppkey)` has one per group), so a set starts small: up to
//! [`INLINE`] words inside the set itself, then a sorted vector up to [`SORTED_MAX`]
//! words, then a 64-bit roaring bitmap. A roaring treemap for every group cost a B-tree
//! walk for each length, a heap allocation per value range and a B-tree drop per group.

use roaring::RoaringTreemap;

/// Words held inside the set, with no allocation.
pub const INLINE: usize = 3;
/// Words held in a sorted vector before the set becomes a bitmap.
pub const SORTED_MAX: usize = 256;

/// Wire tag: the words follow, ascending, 8 little-endian bytes each.
const TAG_WORDS: u8 = 1;
/// Wire tag: a portable 64-bit roaring treemap follows.
const TAG_BITMAP: u8 = 2;

#[derive(Debug, Clone)]
pub enum DistinctSet {
    /// `words[..len]`, ascending.
    Inline {
        len: u8,
        words: [u64; INLINE],
    },
    /// Ascending, more than [`INLINE`] and at most [`SORTED_MAX`] words.
    Sorted(Vec<u64>),
    Bitmap(RoaringTreemap),
}

impl Default for DistinctSet {
    fn default() -> Self {
        DistinctSet::Inline {
            len: 0,
            words: [0; INLINE],
        }
    }
}

impl DistinctSet {
    /// A set of ascending, distinct words.
    pub fn from_sorted(words: &[u64]) -> DistinctSet {
        debug_assert!(words.windows(2).all(|w| w[0] < w[1]));
        if words.len() <= INLINE {
            let mut inline = [0; INLINE];
            inline[..words.len()].copy_from_slice(words);
            DistinctSet::Inline {
                len: words.len() as u8,
                words: inline,
            }
        } else if words.len() <= SORTED_MAX {
            DistinctSet::Sorted(words.to_vec())
        } else {
            let mut bitmap = RoaringTreemap::new();
            // Ascending words append in one pass.
            let _ = bitmap.append(words.iter().copied());
            DistinctSet::Bitmap(bitmap)
        }
    }

    pub fn len(&self) -> u64 {
        match self {
            DistinctSet::Inline { len, .. } => *len as u64,
            DistinctSet::Sorted(words) => words.len() as u64,
            DistinctSet::Bitmap(bitmap) => bitmap.len(),
        }
    }

    /// Bytes a value adds to the set in its present form, for the memory budget: none
    /// inline, a word in the sorted vector, a roaring array container's two bytes.
    pub fn value_bytes(&self) -> usize {
        match self {
            DistinctSet::Inline { .. } => 0,
            DistinctSet::Sorted(_) => std::mem::size_of::<u64>(),
            DistinctSet::Bitmap(_) => crate::state_bytes::DISTINCT_INT_BYTES,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds `word`; true when it was not there.
    pub fn insert(&mut self, word: u64) -> bool {
        match self {
            DistinctSet::Inline { len, words } => {
                let held = &words[..*len as usize];
                let at = match held.binary_search(&word) {
                    Ok(_) => return false,
                    Err(at) => at,
                };
                if (*len as usize) < INLINE {
                    words.copy_within(at..*len as usize, at + 1);
                    words[at] = word;
                    *len += 1;
                } else {
                    let mut sorted = Vec::with_capacity(2 * INLINE);
                    sorted.extend_from_slice(&words[..at]);
                    sorted.push(word);
                    sorted.extend_from_slice(&words[at..]);
                    *self = DistinctSet::Sorted(sorted);
                }
                true
            }
            DistinctSet::Sorted(words) => {
                let at = match words.binary_search(&word) {
                    Ok(_) => return false,
                    Err(at) => at,
                };
                if words.len() < SORTED_MAX {
                    words.insert(at, word);
                } else {
                    let mut bitmap = RoaringTreemap::new();
                    let _ = bitmap.append(words.iter().copied());
                    bitmap.insert(word);
                    *self = DistinctSet::Bitmap(bitmap);
                }
                true
            }
            DistinctSet::Bitmap(bitmap) => bitmap.insert(word),
        }
    }

    /// Adds every word of `other`; returns how many were new.
    pub fn union_with(&mut self, other: &DistinctSet) -> u64 {
        match (&mut *self, other) {
            (DistinctSet::Bitmap(a), DistinctSet::Bitmap(b)) => {
                let before = a.len();
                *a |= b;
                a.len() - before
            }
            (_, DistinctSet::Bitmap(b)) => {
                let mut bitmap = b.clone();
                for word in self.words() {
                    bitmap.insert(word);
                }
                let new = bitmap.len() - self.len();
                *self = DistinctSet::Bitmap(bitmap);
                new
            }
            (DistinctSet::Bitmap(a), small) => {
                small.words().filter(|w| a.insert(*w)).count() as u64
            }
            (_, small) => {
                let before = self.len();
                let merged = merge_ascending(self.sorted_words(), small.sorted_words());
                *self = DistinctSet::from_sorted(&merged);
                self.len() - before
            }
        }
    }

    /// The words of a set that is not a bitmap.
    fn sorted_words(&self) -> &[u64] {
        match self {
            DistinctSet::Inline { len, words } => &words[..*len as usize],
            DistinctSet::Sorted(words) => words,
            DistinctSet::Bitmap(_) => &[],
        }
    }

    /// The words, ascending.
    pub fn words(&self) -> Box<dyn Iterator<Item = u64> + '_> {
        match self {
            DistinctSet::Inline { len, words } => Box::new(words[..*len as usize].iter().copied()),
            DistinctSet::Sorted(words) => Box::new(words.iter().copied()),
            DistinctSet::Bitmap(bitmap) => Box::new(bitmap.iter()),
        }
    }

    /// The wire form: a tag byte, then the ascending words or a portable roaring treemap.
    pub fn serialize_into(&self, out: &mut Vec<u8>) -> std::io::Result<()> {
        match self {
            DistinctSet::Bitmap(bitmap) => {
                out.push(TAG_BITMAP);
                bitmap.serialize_into(out)
            }
            small => {
                out.push(TAG_WORDS);
                for word in small.words() {
                    out.extend_from_slice(&word.to_le_bytes());
                }
                Ok(())
            }
        }
    }

    /// Reads [`DistinctSet::serialize_into`]'s form; bytes from the network are checked.
    pub fn deserialize(bytes: &[u8]) -> Result<DistinctSet, String> {
        match bytes.split_first() {
            Some((&TAG_WORDS, rest)) => {
                if rest.len() % 8 != 0 {
                    return Err(format!(
                        "distinct words of {} bytes, not a multiple of 8",
                        rest.len()
                    ));
                }
                let words: Vec<u64> = rest
                    .chunks_exact(8)
                    .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()))
                    .collect();
                if words.windows(2).any(|w| w[0] >= w[1]) {
                    return Err("distinct words are not strictly ascending".into());
                }
                Ok(DistinctSet::from_sorted(&words))
            }
            Some((&TAG_BITMAP, rest)) => {
                let bitmap = RoaringTreemap::deserialize_from(rest).map_err(|e| e.to_string())?;
                // A small set on the wire as a bitmap is still a valid set; keep the
                // in-memory form canonical so lengths and unions stay cheap.
                if bitmap.len() <= SORTED_MAX as u64 {
                    let words: Vec<u64> = bitmap.iter().collect();
                    return Ok(DistinctSet::from_sorted(&words));
                }
                Ok(DistinctSet::Bitmap(bitmap))
            }
            Some((tag, _)) => Err(format!("distinct set tag {tag} is unknown")),
            None => Err("an empty distinct set value".into()),
        }
    }
}

/// The union of two ascending, distinct word lists, ascending.
fn merge_ascending(a: &[u64], b: &[u64]) -> Vec<u64> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let (x, y) = (a[i], b[j]);
        out.push(x.min(y));
        i += usize::from(x <= y);
        j += usize::from(y <= x);
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn lcg(state: &mut u64) -> u64 {
        *state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *state >> 33
    }

    fn contents(set: &DistinctSet) -> Vec<u64> {
        set.words().collect()
    }

    #[test]
    fn inserts_agree_with_a_btree_set_through_every_form() {
        let mut state = 7;
        for spread in [4u64, 50, 1000, u64::MAX >> 33] {
            let mut set = DistinctSet::default();
            let mut oracle = BTreeSet::new();
            for _ in 0..300 {
                let word = lcg(&mut state) % spread.max(1) + (1 << 40);
                assert_eq!(set.insert(word), oracle.insert(word));
                assert_eq!(set.len(), oracle.len() as u64);
            }
            assert_eq!(contents(&set), oracle.iter().copied().collect::<Vec<_>>());
            let expect_bitmap = oracle.len() > SORTED_MAX;
            assert_eq!(matches!(set, DistinctSet::Bitmap(_)), expect_bitmap);
        }
    }

    #[test]
    fn unions_of_every_pair_of_forms_count_what_is_new() {
        let sizes = [0usize, 2, 3, 10, SORTED_MAX, SORTED_MAX + 1, 700];
        let mut state = 11;
        for &a_len in &sizes {
            for &b_len in &sizes {
                let a_words: BTreeSet<u64> = (0..a_len).map(|_| lcg(&mut state) % 900).collect();
                let b_words: BTreeSet<u64> = (0..b_len).map(|_| lcg(&mut state) % 900).collect();
                let a_vec: Vec<u64> = a_words.iter().copied().collect();
                let b_vec: Vec<u64> = b_words.iter().copied().collect();
                let mut a = DistinctSet::from_sorted(&a_vec);
                let b = DistinctSet::from_sorted(&b_vec);
                let union: BTreeSet<u64> = a_words.union(&b_words).copied().collect();
                let added = a.union_with(&b);
                assert_eq!(
                    added,
                    (union.len() - a_words.len()) as u64,
                    "{a_len} ∪ {b_len}"
                );
                assert_eq!(contents(&a), union.iter().copied().collect::<Vec<_>>());
                assert_eq!(a.len(), union.len() as u64);
            }
        }
    }

    #[test]
    fn the_wire_form_round_trips_and_rejects_bad_bytes() {
        for len in [0usize, 1, 3, 4, SORTED_MAX, SORTED_MAX + 1, 1000] {
            let words: Vec<u64> = (0..len as u64)
                .map(|i| i * 7 + (u64::MAX - 10_000))
                .collect();
            let set = DistinctSet::from_sorted(&words);
            let mut bytes = Vec::new();
            set.serialize_into(&mut bytes).expect("writes to a vector");
            let back = DistinctSet::deserialize(&bytes).expect("reads what it wrote");
            assert_eq!(contents(&back), words);
        }
        // A small set sent as a bitmap reads back in the small form.
        let mut bitmap = RoaringTreemap::new();
        bitmap.insert(5);
        let mut bytes = vec![TAG_BITMAP];
        bitmap
            .serialize_into(&mut bytes)
            .expect("writes to a vector");
        let back = DistinctSet::deserialize(&bytes).expect("reads what it wrote");
        assert!(matches!(back, DistinctSet::Inline { len: 1, .. }));

        assert!(DistinctSet::deserialize(&[]).is_err());
        assert!(DistinctSet::deserialize(&[9]).is_err());
        assert!(DistinctSet::deserialize(&[TAG_WORDS, 1, 2, 3]).is_err());
        let mut descending = vec![TAG_WORDS];
        descending.extend_from_slice(&5u64.to_le_bytes());
        descending.extend_from_slice(&4u64.to_le_bytes());
        assert!(DistinctSet::deserialize(&descending).is_err());
        assert!(DistinctSet::deserialize(&[TAG_BITMAP, 1, 0]).is_err());
    }
}
