//! Combining two sorted group sets into one, in key order, on every core.
//!
//! A server's workers each fold their segments into a merger whose groups are appended
//! as they first appear, with their key order kept beside them. Folding one worker's
//! million groups into another's by that order (look each up, grow the states, merge,
//! then permute everything into key order to hand on) runs on one core while the others
//! wait. Here the two key orders are instead walked once into a list of *pairs*: for
//! each merged group in key order, its group in the first set and in the second (either
//! may be absent). The walk is split by key range, and the merged keys and states are
//! then gathered from the pairs chunk by chunk, every chunk on any core. The result is
//! in key order as it stands: nothing is permuted afterwards.

use rayon::prelude::*;

use crate::aggregate::AccState;
use crate::group_keys::FlatKeys;

/// A group absent from one side of a pair.
pub const ABSENT: u32 = u32::MAX;

/// Merged groups per chunk of parallel work (keys and states alike).
pub(crate) const CHUNK: usize = 1 << 14;

/// For each merged group, in key order: its group in `a` and in `b` ([`ABSENT`] where
/// it has none). `a_order` and `b_order` list each side's groups in strictly ascending
/// key order; both sides have the same layout.
pub fn sorted_pairs(
    a: &FlatKeys,
    a_order: &[usize],
    b: &FlatKeys,
    b_order: &[usize],
) -> Vec<(u32, u32)> {
    // Ranges of b's order, each with the range of a's order holding the same keys.
    let parts = (rayon::current_num_threads() * 4)
        .min(b_order.len() / CHUNK)
        .max(1);
    let mut a_starts = Vec::with_capacity(parts + 1);
    let mut b_starts = Vec::with_capacity(parts + 1);
    for part in 0..parts {
        let b_start = part * b_order.len() / parts;
        let a_start = if part == 0 {
            0
        } else {
            let key = b.key(b_order[b_start]);
            a_order.partition_point(|&g| a.compare_words(a.key(g), key).is_lt())
        };
        a_starts.push(a_start);
        b_starts.push(b_start);
    }
    a_starts.push(a_order.len());
    b_starts.push(b_order.len());
    let pieces: Vec<Vec<(u32, u32)>> = (0..parts)
        .into_par_iter()
        .map(|part| {
            walk(
                a,
                &a_order[a_starts[part]..a_starts[part + 1]],
                b,
                &b_order[b_starts[part]..b_starts[part + 1]],
            )
        })
        .collect();
    if pieces.len() == 1 {
        return pieces.into_iter().next().unwrap_or_default();
    }
    let mut pairs = Vec::with_capacity(pieces.iter().map(Vec::len).sum());
    for piece in pieces {
        pairs.extend_from_slice(&piece);
    }
    pairs
}

/// The sequential merge of one key range of both sides.
fn walk(a: &FlatKeys, a_order: &[usize], b: &FlatKeys, b_order: &[usize]) -> Vec<(u32, u32)> {
    let mut pairs = Vec::with_capacity(a_order.len().max(b_order.len()));
    let (mut i, mut j) = (0, 0);
    while i < a_order.len() && j < b_order.len() {
        let (ga, gb) = (a_order[i], b_order[j]);
        match a.compare_words(a.key(ga), b.key(gb)) {
            std::cmp::Ordering::Less => {
                pairs.push((ga as u32, ABSENT));
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                pairs.push((ABSENT, gb as u32));
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                pairs.push((ga as u32, gb as u32));
                i += 1;
                j += 1;
            }
        }
    }
    pairs.extend(a_order[i..].iter().map(|&g| (g as u32, ABSENT)));
    pairs.extend(b_order[j..].iter().map(|&g| (ABSENT, g as u32)));
    pairs
}

/// The merged state of each pair's groups, in pair order: a state's group of `a` and
/// its group of `b` combined. Returns the state and the bytes it grew by beyond its
/// per-group slots, as [`AccState::merge_from`] does.
pub fn merge_state_pairs(a: AccState, b: AccState, pairs: &[(u32, u32)]) -> (AccState, usize) {
    match (a, b) {
        (AccState::Count(a), AccState::Count(b)) => (AccState::Count(gather_sum(&a, &b, pairs)), 0),
        (
            AccState::SumLong { sums, counts },
            AccState::SumLong {
                sums: s2,
                counts: c2,
            },
        ) => {
            let (sums, counts) = gather_sums_and_counts((&sums, &counts), (&s2, &c2), pairs);
            (AccState::SumLong { sums, counts }, 0)
        }
        (
            AccState::SumDouble { sums, counts },
            AccState::SumDouble {
                sums: s2,
                counts: c2,
            },
        ) => {
            let (sums, counts) = gather_sums_and_counts((&sums, &counts), (&s2, &c2), pairs);
            (AccState::SumDouble { sums, counts }, 0)
        }
        (
            AccState::Avg { sums, counts },
            AccState::Avg {
                sums: s2,
                counts: c2,
            },
        ) => {
            let (sums, counts) = gather_sums_and_counts((&sums, &counts), (&s2, &c2), pairs);
            (AccState::Avg { sums, counts }, 0)
        }
        (
            AccState::MinMaxLong { values, seen, max },
            AccState::MinMaxLong {
                values: v2,
                seen: s2,
                ..
            },
        ) => {
            let (values, seen) = gather_extreme(&values, &seen, &v2, &s2, pairs, |x, y| {
                if max { x.max(y) } else { x.min(y) }
            });
            (AccState::MinMaxLong { values, seen, max }, 0)
        }
        (
            AccState::MinMaxDouble { values, seen, max },
            AccState::MinMaxDouble {
                values: v2,
                seen: s2,
                ..
            },
        ) => {
            // As `merge_from` keeps them: by total order.
            let (values, seen) = gather_extreme(&values, &seen, &v2, &s2, pairs, |x, y| {
                let second = if max {
                    y.total_cmp(&x).is_gt()
                } else {
                    y.total_cmp(&x).is_lt()
                };
                if second { y } else { x }
            });
            (AccState::MinMaxDouble { values, seen, max }, 0)
        }
        (mut a, b) => {
            // Any other state: a's groups moved into pair order (an empty group where a
            // has none), then b's merged in where its pairs put them.
            let empty = a.groups();
            a.resize(empty + 1);
            let order: Vec<usize> = pairs
                .iter()
                .map(|&(ga, _)| if ga == ABSENT { empty } else { ga as usize })
                .collect();
            a.reorder(&order);
            let mut mapping = vec![0usize; b.groups()];
            for (at, &(_, gb)) in pairs.iter().enumerate() {
                if let Some(slot) = mapping.get_mut(gb as usize) {
                    *slot = at;
                }
            }
            let grown = a.merge_from(&b, &mapping);
            (a, grown)
        }
    }
}

/// [`gather_sum`] of a state's sums and of its counts, side by side.
fn gather_sums_and_counts<T>(
    a: (&[T], &[i64]),
    b: (&[T], &[i64]),
    pairs: &[(u32, u32)],
) -> (Vec<T>, Vec<i64>)
where
    T: Copy + Default + std::ops::Add<Output = T> + Send + Sync,
{
    rayon::join(
        || gather_sum(a.0, b.0, pairs),
        || gather_sum(a.1, b.1, pairs),
    )
}

/// `out[i] = a[pair.0] + b[pair.1]` (an absent side adds nothing), chunk by chunk in
/// parallel.
fn gather_sum<T>(a: &[T], b: &[T], pairs: &[(u32, u32)]) -> Vec<T>
where
    T: Copy + Default + std::ops::Add<Output = T> + Send + Sync,
{
    let mut out = vec![T::default(); pairs.len()];
    let side = |values: &[T], g: u32| {
        if g == ABSENT {
            T::default()
        } else {
            values.get(g as usize).copied().unwrap_or_default()
        }
    };
    out.par_chunks_mut(CHUNK)
        .zip(pairs.par_chunks(CHUNK))
        .for_each(|(out, pairs)| {
            for (slot, &(ga, gb)) in out.iter_mut().zip(pairs) {
                *slot = side(a, ga) + side(b, gb);
            }
        });
    out
}

/// A MIN or MAX state's values and seen flags for each pair: the `better` of both
/// sides' values where both saw one, the one seen otherwise.
fn gather_extreme<T>(
    a_values: &[T],
    a_seen: &[bool],
    b_values: &[T],
    b_seen: &[bool],
    pairs: &[(u32, u32)],
    better: impl Fn(T, T) -> T + Sync,
) -> (Vec<T>, Vec<bool>)
where
    T: Copy + Default + Send + Sync,
{
    let mut values = vec![T::default(); pairs.len()];
    let mut seen = vec![false; pairs.len()];
    let side = |values: &[T], seen: &[bool], g: u32| -> Option<T> {
        if g == ABSENT || !seen.get(g as usize).copied().unwrap_or(false) {
            None
        } else {
            values.get(g as usize).copied()
        }
    };
    values
        .par_chunks_mut(CHUNK)
        .zip(seen.par_chunks_mut(CHUNK))
        .zip(pairs.par_chunks(CHUNK))
        .for_each(|((values, seen), pairs)| {
            for ((value, seen), &(ga, gb)) in values.iter_mut().zip(seen).zip(pairs) {
                let merged = match (side(a_values, a_seen, ga), side(b_values, b_seen, gb)) {
                    (Some(x), Some(y)) => Some(better(x, y)),
                    (x, y) => x.or(y),
                };
                if let Some(merged) = merged {
                    *value = merged;
                    *seen = true;
                }
            }
        });
    (values, seen)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group_keys::{GroupKeys, Lane};
    use crate::types::Scalar;
    use crate::value_lists::ValueLists;

    fn flat(keys: &[(i64, i64)]) -> FlatKeys {
        let mut flat = FlatKeys::new(vec![Lane::Long, Lane::Long]);
        for (x, y) in keys {
            assert!(flat.push_scalars(&[Scalar::Long(*x), Scalar::Long(*y)]));
        }
        flat
    }

    /// Key order of `keys`, as a merger keeps it.
    fn order(keys: &FlatKeys) -> Vec<usize> {
        GroupKeys::Flat(keys.clone()).sorted_order()
    }

    /// Pairs from the split walk equal a plain sequential merge of the same keys, with
    /// enough groups that the walk is split in many key ranges.
    #[test]
    fn split_walk_pairs_match_a_sequential_merge() {
        let mut state = 7u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            state >> 33
        };
        let mut seen = std::collections::BTreeSet::new();
        let a_keys: Vec<(i64, i64)> = (0..200_000)
            .map(|_| ((next() % 500) as i64, (next() % 1000) as i64))
            .filter(|k| seen.insert(*k))
            .collect();
        let mut seen = std::collections::BTreeSet::new();
        let b_keys: Vec<(i64, i64)> = (0..150_000)
            .map(|_| ((next() % 500) as i64, (next() % 1000) as i64))
            .filter(|k| seen.insert(*k))
            .collect();
        let (a, b) = (flat(&a_keys), flat(&b_keys));
        let (a_order, b_order) = (order(&a), order(&b));
        let pairs = sorted_pairs(&a, &a_order, &b, &b_order);
        assert_eq!(pairs, walk(&a, &a_order, &b, &b_order));
        // Every group of both sides appears once, in ascending key order.
        let key_of = |&(ga, gb): &(u32, u32)| {
            if ga == ABSENT {
                b_keys[gb as usize]
            } else {
                a_keys[ga as usize]
            }
        };
        assert!(pairs.windows(2).all(|w| key_of(&w[0]) < key_of(&w[1])));
        let union: std::collections::BTreeSet<(i64, i64)> =
            a_keys.iter().chain(&b_keys).copied().collect();
        assert_eq!(pairs.len(), union.len());
        for &(ga, gb) in &pairs {
            if ga != ABSENT && gb != ABSENT {
                assert_eq!(a_keys[ga as usize], b_keys[gb as usize]);
            }
        }
    }

    /// Every state kind merges by pairs as merging by mapping does.
    #[test]
    fn state_pairs_merge_as_merge_from() {
        let pairs = vec![(1, ABSENT), (ABSENT, 0), (0, 2), (2, 1)];
        let a = AccState::Percentile {
            values: ValueLists::from_lists(vec![vec![1.0], vec![2.0, 3.0], vec![]]),
            p: 50.0,
            rank: crate::aggregate::PercentileRank::Interpolated,
        };
        let b = AccState::Percentile {
            values: ValueLists::from_lists(vec![vec![4.0], vec![5.0], vec![6.0]]),
            p: 50.0,
            rank: crate::aggregate::PercentileRank::Interpolated,
        };
        let (merged, _) = merge_state_pairs(a, b, &pairs);
        match merged {
            AccState::Percentile { values, .. } => assert_eq!(
                values.to_lists(),
                vec![vec![2.0, 3.0], vec![4.0], vec![1.0, 6.0], vec![5.0]]
            ),
            other => panic!("unexpected {other:?}"),
        }
        let (merged, _) = merge_state_pairs(
            AccState::MinMaxLong {
                values: vec![5, 0, 9],
                seen: vec![true, false, true],
                max: false,
            },
            AccState::MinMaxLong {
                values: vec![0, 7, 3],
                seen: vec![false, true, true],
                max: false,
            },
            &pairs,
        );
        match merged {
            AccState::MinMaxLong { values, seen, .. } => {
                assert_eq!(seen, vec![false, false, true, true]);
                assert_eq!((values[2], values[3]), (3, 7));
            }
            other => panic!("unexpected {other:?}"),
        }
        let (merged, grown) = merge_state_pairs(
            AccState::Count(vec![1, 2, 3]),
            AccState::Count(vec![10, 20, 30]),
            &pairs,
        );
        assert_eq!(grown, 0);
        match merged {
            AccState::Count(counts) => assert_eq!(counts, vec![2, 10, 31, 23]),
            other => panic!("unexpected {other:?}"),
        }
    }
}
