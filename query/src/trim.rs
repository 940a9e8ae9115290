//! Top-N trimming of grouped partials.
//!
//! `GROUP BY a, b ORDER BY b DESC, a LIMIT 10`: when the ORDER BY names every group key
//! (so it orders groups totally) and nothing else, and there is no HAVING, a group of the
//! final first OFFSET + LIMIT is also among the first OFFSET + LIMIT groups of every
//! partial that holds it (fewer groups precede it there than overall). Each segment,
//! worker and server therefore ships only those groups, and the result stays exact.
//!
//! Ordering by an aggregate (`ORDER BY SUM(x) DESC LIMIT 10`) ships every group: a
//! group's rank in one partial says nothing about its total, and Tessera does not trade
//! exactness for the smaller partials Pinot's approximate trim gives.

use crate::expr::Expr;
use crate::leaf::{AggPartial, compare_sort_keys};
use crate::plan::{PlanKind, QueryPlan, SortKey};
use crate::types::Scalar;

/// How many groups each partial of `plan` needs to keep, when trimming is exact.
pub fn groups_to_keep(plan: &QueryPlan) -> Option<usize> {
    let PlanKind::Aggregation(aggregation) = &plan.kind else {
        return None;
    };
    if aggregation.having.is_some() || aggregation.keys.is_empty() {
        return None;
    }
    let limit = aggregation
        .limit
        .unwrap_or(usize::MAX)
        .min(plan.options.max_rows);
    let keep = aggregation.offset.checked_add(limit)?;
    if keep == usize::MAX {
        return None;
    }
    let mut named = vec![false; aggregation.keys.len()];
    for key in &aggregation.order_by {
        match &key.expr {
            Expr::Slot { index, .. } if *index < named.len() => named[*index] = true,
            _ => return None,
        }
    }
    named.iter().all(|n| *n).then_some(keep)
}

/// Keep the first `keep` groups of `partial` in ORDER BY order (the group keys named by
/// `order_by`, see [`groups_to_keep`]); the kept groups stay in the order they had.
pub fn trim_groups(partial: &mut AggPartial, order_by: &[SortKey], keep: usize) {
    if partial.keys.len() <= keep {
        return;
    }
    let sort_keys: Vec<Vec<Scalar>> = (0..partial.keys.len())
        .map(|group| {
            order_by
                .iter()
                .map(|k| match &k.expr {
                    Expr::Slot { index, .. } => partial.keys.value(group, *index),
                    _ => Scalar::Null,
                })
                .collect()
        })
        .collect();
    let mut order: Vec<usize> = (0..partial.keys.len()).collect();
    let compare =
        |a: &usize, b: &usize| compare_sort_keys(&sort_keys[*a], &sort_keys[*b], order_by);
    keep_first_by(&mut order, keep, compare);
    order.sort_unstable();
    partial.retain_groups(&order);
}

/// Cut `order` to its first `keep` entries by `compare`, found by selection rather than a
/// full sort (they are left in no particular order).
///
/// A few kept among many (`LIMIT 10` of a million groups) take one comparison per entry
/// against a threshold: entries are gathered in a buffer of a few times `keep`; when it
/// fills, a selection cuts it to `keep` and its last entry becomes the threshold that
/// later entries must beat to be gathered at all.
pub fn keep_first_by(
    order: &mut Vec<usize>,
    keep: usize,
    mut compare: impl FnMut(&usize, &usize) -> std::cmp::Ordering,
) {
    if keep == 0 {
        order.clear();
        return;
    }
    if keep >= order.len() {
        return;
    }
    let capacity = keep.saturating_mul(4).max(1024);
    if order.len() <= capacity {
        order.select_nth_unstable_by(keep - 1, compare);
        order.truncate(keep);
        return;
    }
    let mut kept: Vec<usize> = Vec::with_capacity(capacity);
    let mut threshold: Option<usize> = None;
    for &entry in order.iter() {
        if let Some(bar) = threshold
            && compare(&entry, &bar) != std::cmp::Ordering::Less
        {
            continue;
        }
        kept.push(entry);
        if kept.len() == capacity {
            kept.select_nth_unstable_by(keep - 1, &mut compare);
            kept.truncate(keep);
            threshold = kept.last().copied();
        }
    }
    if kept.len() > keep {
        kept.select_nth_unstable_by(keep - 1, &mut compare);
        kept.truncate(keep);
    }
    *order = kept;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::AccState;
    use crate::types::SqlType;

    fn slot(index: usize, descending: bool) -> SortKey {
        SortKey {
            expr: Expr::Slot {
                index,
                ty: SqlType::Long,
                multi_value: false,
            },
            descending,
            nulls_first: false,
        }
    }

    fn partial(keys: &[(i64, i64)]) -> AggPartial {
        AggPartial {
            keys: crate::group_keys::GroupKeys::Rows(
                keys.iter()
                    .map(|(a, b)| vec![Scalar::Long(*a), Scalar::Long(*b)])
                    .collect(),
            ),
            states: vec![AccState::Count((0..keys.len() as i64).collect())],
            sorted: true,
        }
    }

    #[test]
    fn keeps_the_first_groups_in_order_by_order_and_their_states() {
        let mut part = partial(&[(1, 9), (2, 5), (3, 7), (4, 5), (5, 1)]);
        // ORDER BY b DESC, a: (1,9) (3,7) (2,5) (4,5) (5,1).
        trim_groups(&mut part, &[slot(1, true), slot(0, false)], 3);
        let kept: Vec<i64> = part
            .keys
            .column(0)
            .iter()
            .map(|k| k.as_i64().unwrap_or(-1))
            .collect();
        assert_eq!(kept, vec![1, 2, 3], "kept groups stay in key order");
        match &part.states[0] {
            AccState::Count(counts) => assert_eq!(counts, &vec![0, 1, 2]),
            other => panic!("unexpected state {other:?}"),
        }
        assert!(part.sorted);
        trim_groups(&mut part, &[slot(1, true), slot(0, false)], 0);
        assert!(part.keys.is_empty());
        assert_eq!(part.states[0].groups(), 0);
    }

    /// The threshold path keeps exactly the entries a full sort puts first, with ties
    /// broken by position, for many sizes around the buffer's capacity.
    #[test]
    fn keep_first_by_matches_a_full_sort() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for (n, keep, spread) in [
            (5000usize, 10usize, 50u64),
            (5000, 1, 3),
            (1023, 10, 1000),
            (4096, 1024, 7),
            (20_000, 300, 100_000),
            (20_000, 19_999, 10),
        ] {
            let values: Vec<u64> = (0..n).map(|_| next() % spread).collect();
            let compare = |a: &usize, b: &usize| values[*b].cmp(&values[*a]).then(a.cmp(b));
            let mut expected: Vec<usize> = (0..n).collect();
            expected.sort_by(compare);
            expected.truncate(keep);
            let mut order: Vec<usize> = (0..n).collect();
            keep_first_by(&mut order, keep, compare);
            order.sort_by(compare);
            assert_eq!(order, expected, "n {n}, keep {keep}");
        }
    }

    #[test]
    fn fewer_groups_than_kept_are_left_alone() {
        let mut part = partial(&[(1, 1), (2, 2)]);
        trim_groups(&mut part, &[slot(0, false), slot(1, false)], 5);
        assert_eq!(part.keys.len(), 2);
    }
}
