//! Grouping by sorting: a segment's group codes, all of them at once, sorted by radix.
//!
//! A GROUP BY of dictionary columns whose key space is too large for an array (two id
//! columns, or one of millions of entries) would hash every row's code, then sort the
//! distinct codes so the partial comes out in key order. When a segment holds nearly as
//! many groups as rows — the usual shape of such a query — the hash table misses the
//! cache on almost every row. Sorting every row's code instead (each packed with its
//! row's position into one word, a few passes of a least-significant-digit radix sort)
//! reads and writes memory in order, yields the groups already in code order, and gives
//! each row its group number by one pass over the sorted words.

/// Bits of one radix pass: 2,048 buckets, whose counts stay in the L1 cache.
const DIGIT_BITS: u32 = 11;

/// Bits needed to write every value below `n`.
fn bits_below(n: u64) -> u32 {
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
    radix_sort_bits(codes, position_bits, position_bits + code_bits);
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

thread_local! {
    /// The radix sort's second buffer, kept by each thread between sorts: freshly
    /// allocated, its pages would be faulted in and zeroed by the kernel on every segment.
    static SPARE: std::cell::RefCell<Vec<u64>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A spare buffer kept between sorts holds at most this many words (32 MiB).
const SPARE_KEPT: usize = 1 << 22;

/// Sort `values` by their bits `low..high` (bits outside keep the order they had among
/// equal digits: the sort is stable). Every digit's counts are taken in one read of the
/// values before the first pass.
pub fn radix_sort_bits(values: &mut Vec<u64>, low: u32, high: u32) {
    let digits: Vec<(u32, u32)> = (low..high)
        .step_by(DIGIT_BITS as usize)
        .map(|at| (at, DIGIT_BITS.min(high - at)))
        .collect();
    let buckets = 1usize << DIGIT_BITS;
    let mut counts = vec![0usize; buckets * digits.len()];
    for value in values.iter() {
        for (d, (at, bits)) in digits.iter().enumerate() {
            let digit = ((value >> at) & ((1u64 << bits) - 1)) as usize;
            counts[d * buckets + digit] += 1;
        }
    }
    let mut buffer = SPARE.with(|spare| std::mem::take(&mut *spare.borrow_mut()));
    buffer.clear();
    buffer.resize(values.len(), 0);
    for (d, (at, bits)) in digits.iter().enumerate() {
        let counts = &mut counts[d * buckets..(d + 1) * buckets];
        if counts.contains(&values.len()) {
            // Every value has the same digit: the pass would not move anything.
            continue;
        }
        let mut offset = 0;
        for count in counts.iter_mut() {
            let n = *count;
            *count = offset;
            offset += n;
        }
        let mask = (1u64 << bits) - 1;
        for value in values.iter() {
            let digit = ((value >> at) & mask) as usize;
            buffer[counts[digit]] = *value;
            counts[digit] += 1;
        }
        std::mem::swap(values, &mut buffer);
    }
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
    fn radix_sort_orders_by_the_chosen_bits_and_is_stable() {
        let mut seed = 0x9e37_79b9_7f4a_7c15;
        for (low, high) in [(0, 64), (8, 40), (20, 23), (63, 64)] {
            let values: Vec<u64> = (0..5_000).map(|_| random(&mut seed)).collect();
            let mask = if high - low == 64 {
                u64::MAX
            } else {
                ((1u64 << (high - low)) - 1) << low
            };
            let mut sorted = values.clone();
            radix_sort_bits(&mut sorted, low, high);
            let mut expected = values;
            expected.sort_by_key(|v| v & mask); // stable, as the radix sort is
            assert_eq!(sorted, expected, "bits {low}..{high}");
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
    fn codes_and_positions_that_do_not_fit_a_word_are_refused() {
        assert!(group_by_sorting(&mut vec![1, 2, 3], u64::MAX).is_none());
        assert!(
            group_by_sorting(&mut vec![5], 5).is_none(),
            "a code outside the key space"
        );
    }
}
