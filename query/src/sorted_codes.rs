//! Grouping by sorting: a segment's group codes, all of them at once, sorted.
//!
//! A GROUP BY of dictionary columns whose key space is too large for an array (two id
//! columns, or one of millions of entries) would hash every row's code, then sort the
//! distinct codes so the partial comes out in key order. When a segment holds nearly as
//! many groups as rows — the usual shape of such a query — the hash table misses the
//! cache on almost every row. Sorting every row's code instead (each packed with its
//! row's position into one word) yields the groups already in code order and gives each
//! row its group number by one pass over the sorted words. The sort moves every word
//! once, into a bucket by its top bits (buckets of about a hundred words), then sorts
//! each bucket in the cache: on this project's VM, where every scattered write that
//! misses the TLB costs a page walk, that is a third faster than three passes of an
//! 11-bit least-significant-digit radix sort.

/// Words per bucket the first pass aims at: a bucket this size sorts inside the L1 cache.
const BUCKET_WORDS: usize = 128;

/// At most this many buckets (2^14: their counts stay in the L2 cache).
const MAX_BUCKET_BITS: u32 = 14;

/// Fewer words than this are sorted directly.
const DIRECT_SORT_WORDS: usize = 4_096;

/// Bits needed to write every value below `n`.
pub(crate) fn bits_below(n: u64) -> u32 {
    64 - n.saturating_sub(1).leading_zeros()
}

/// The distinct codes in ascending order, and each row's group: the index of its code
/// among them. `None` when a code and a row position do not fit one word together
/// (`key_space` codes, `codes.len()` rows), or a code is outside the key space. `codes`
/// is used as the sort's space and left in no particular state.
pub fn group_by_sorting(codes: &mut Vec<u64>, key_space: u64) -> Option<(Vec<u64>, Vec<u32>)> {
    let position_bits = bits_below(codes.len() as u64);
    let code_bits = bits_below(key_space);
    if position_bits + code_bits > 64 || codes.len() > u32::MAX as usize {
        return None;
    }
    let mut outside = false;
    for (position, code) in codes.iter_mut().enumerate() {
        outside |= *code >= key_space;
        *code = (*code << position_bits) | position as u64;
    }
    if outside {
        return None;
    }
    // Sorting the whole words orders them by code, and rows of one code by position.
    sort_words(codes, position_bits + code_bits);
    let position_mask = (1u64 << position_bits) - 1;
    let mut distinct: Vec<u64> = Vec::new();
    let mut groups = vec![0u32; codes.len()];
    for word in codes.iter() {
        let code = word >> position_bits;
        if distinct.last() != Some(&code) {
            distinct.push(code);
        }
        groups[(word & position_mask) as usize] = distinct.len() as u32 - 1;
    }
    Some((distinct, groups))
}

/// The distinct codes in ascending order and how many rows hold each: a GROUP BY whose
/// only aggregate is `COUNT(*)` needs no row's group, so the codes sort alone (no row
/// positions in the words) and each count is the length of a run of equal codes.
/// `None` when a code is outside the key space. `codes` becomes the distinct codes.
pub fn count_by_sorting(codes: &mut Vec<u64>, key_space: u64) -> Option<Vec<i64>> {
    if codes.iter().any(|code| *code >= key_space) {
        return None;
    }
    sort_words(codes, bits_below(key_space));
    let counts = codes
        .chunk_by(|a, b| a == b)
        .map(|run| run.len() as i64)
        .collect();
    codes.dedup();
    Some(counts)
}

thread_local! {
    /// The radix sort's second buffer, kept by each thread between sorts: freshly
    /// allocated, its pages would be faulted in and zeroed by the kernel on every segment.
    static SPARE: std::cell::RefCell<Vec<u64>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A spare buffer kept between sorts holds at most this many words (32 MiB).
const SPARE_KEPT: usize = 1 << 22;

/// Sort `values` ascending (every value below `2^high`): one pass moves each value into
/// a bucket by its top bits, then each bucket is sorted where it lies.
pub fn sort_words(values: &mut Vec<u64>, high: u32) {
    let n = values.len();
    if n < DIRECT_SORT_WORDS || high == 0 {
        values.sort_unstable();
        return;
    }
    let bits = bits_below((n / BUCKET_WORDS) as u64)
        .clamp(1, MAX_BUCKET_BITS)
        .min(high);
    let at = high - bits;
    let buckets = 1usize << bits;
    let bucket = |value: u64| ((value >> at) as usize) & (buckets - 1);
    let mut starts = vec![0usize; buckets + 1];
    for value in values.iter() {
        starts[bucket(*value) + 1] += 1;
    }
    for b in 0..buckets {
        starts[b + 1] += starts[b];
    }
    let mut buffer = SPARE.with(|spare| std::mem::take(&mut *spare.borrow_mut()));
    // Every slot is written below: a kept buffer is only cut or grown, not zeroed again.
    if buffer.len() < n {
        buffer.resize(n, 0);
    } else {
        buffer.truncate(n);
    }
    let mut next = starts.clone();
    for value in values.iter() {
        let slot = &mut next[bucket(*value)];
        buffer[*slot] = *value;
        *slot += 1;
    }
    for b in 0..buckets {
        buffer[starts[b]..starts[b + 1]].sort_unstable();
    }
    std::mem::swap(values, &mut buffer);
    if buffer.capacity() <= SPARE_KEPT {
        SPARE.with(|spare| *spare.borrow_mut() = buffer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random(seed: &mut u64) -> u64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    }

    #[test]
    fn words_sort_as_a_plain_sort_does() {
        let mut seed = 0x9e37_79b9_7f4a_7c15;
        for (n, high) in [
            (0, 10),
            (10, 64),
            (5_000, 64),
            (50_000, 40),
            (50_000, 3),
            (70_000, 20),
        ] {
            let mask = if high == 64 {
                u64::MAX
            } else {
                (1u64 << high) - 1
            };
            let mut values: Vec<u64> = (0..n).map(|_| random(&mut seed) & mask).collect();
            if n > 100 {
                // A skewed share: many values in one bucket.
                for value in values.iter_mut().step_by(3) {
                    *value &= 0xff;
                }
            }
            let mut expected = values.clone();
            expected.sort_unstable();
            sort_words(&mut values, high);
            assert_eq!(values, expected, "{n} values below 2^{high}");
        }
    }

    #[test]
    fn rows_get_the_rank_of_their_code() {
        let mut seed = 7;
        for (rows, space) in [
            (0usize, 10u64),
            (1, 1),
            (1_000, 7),
            (20_000, 5_000_000),
            (3_000, 1 << 40),
        ] {
            let codes: Vec<u64> = (0..rows).map(|_| random(&mut seed) % space).collect();
            let (distinct, groups) = group_by_sorting(&mut codes.clone(), space).expect("fits");
            let mut expected = codes.clone();
            expected.sort_unstable();
            expected.dedup();
            assert_eq!(distinct, expected);
            for (code, group) in codes.iter().zip(&groups) {
                assert_eq!(distinct[*group as usize], *code);
            }
        }
    }

    #[test]
    fn counts_are_the_rows_of_each_code() {
        let mut seed = 11;
        for (rows, space) in [(0usize, 10u64), (1, 1), (5_000, 3), (30_000, 1 << 30)] {
            let codes: Vec<u64> = (0..rows).map(|_| random(&mut seed) % space).collect();
            let mut distinct = codes.clone();
            let counts = count_by_sorting(&mut distinct, space).expect("inside the space");
            let mut expected: std::collections::BTreeMap<u64, i64> = Default::default();
            for code in &codes {
                *expected.entry(*code).or_default() += 1;
            }
            assert_eq!(distinct, expected.keys().copied().collect::<Vec<_>>());
            assert_eq!(counts, expected.values().copied().collect::<Vec<_>>());
        }
        assert!(
            count_by_sorting(&mut vec![3, 9], 9).is_none(),
            "outside the space"
        );
    }

    #[test]
    fn codes_and_positions_that_do_not_fit_a_word_are_refused() {
        assert!(group_by_sorting(&mut vec![1, 2, 3], u64::MAX).is_none());
        assert!(
            group_by_sorting(&mut vec![5], 5).is_none(),
            "a code outside the key space"
        );
    }
}
