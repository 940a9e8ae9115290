//! Root side: merge [`Partial`]s (segments into a server result, servers into the
//! broker's) and finish the query — HAVING, output expressions, ORDER BY, OFFSET/LIMIT.
//! Nothing here reads a segment.

use std::borrow::Cow;
use std::cmp::Ordering;

use rayon::prelude::*;
use rustc_hash::FxHashMap;

use crate::aggregate::AccState;
use crate::error::{QueryError, QueryResult};
use crate::eval::{SlotColumns, eval};
use crate::expr::Expr;
use crate::group_keys::{FlatIndex, FlatKeys, GroupKeys};
use crate::leaf::{
    AggPartial, ExecStats, Partial, PartialRows, SelectedRow, compare_sort_keys, order_by_key,
};
use crate::plan::{OutputColumn, PlanKind, QueryPlan};
use crate::state_bytes::{Charged, GROUP_SLOT_BYTES};
use crate::trim;
use crate::types::Scalar;
use crate::vector::{Data, Vector};

/// A finished result: the rows a client sees.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultTable {
    pub columns: Vec<OutputColumn>,
    pub rows: Vec<Vec<Scalar>>,
}

/// Merge partial results of the same plan.
pub fn merge(plan: &QueryPlan, partials: Vec<Partial>) -> QueryResult<Partial> {
    let mut merger = Merger::new(plan);
    for partial in partials {
        merger.add(partial)?;
    }
    Ok(merger.finish())
}

/// Groups on each side from which two mergers' sorted groups are merged into a new set
/// in key order on every core; smaller sets are folded into the larger in place.
const MIN_GROUPS_MERGED_BY_PAIRS: usize = 1 << 12;

/// Merges partials one at a time, keeping its group index between them (a merge of n
/// partials hashes each key once, not once per pairwise step).
pub struct Merger<'p> {
    plan: &'p QueryPlan,
    stats: ExecStats,
    groups: AggPartial,
    index: GroupIndex,
    /// While every partial so far came sorted: the merged groups in key order (the index
    /// is then left empty). `None` once a partial was not sorted: the index is used.
    key_order: Option<Vec<usize>>,
    /// The key order a sorted merge replaced, kept to build the next one in.
    spare_order: Vec<usize>,
    rows: Vec<SelectedRow>,
    /// The state held, charged to the query's `maxStateBytes`.
    held: Charged<'p>,
}

impl<'p> Merger<'p> {
    pub fn new(plan: &'p QueryPlan) -> Merger<'p> {
        let (states, keys) = match &plan.kind {
            PlanKind::Aggregation(aggregation) => (
                aggregation.aggs.iter().map(AccState::new).collect(),
                GroupKeys::for_types(&aggregation.key_types()),
            ),
            PlanKind::Selection(_) => (Vec::new(), GroupKeys::default()),
        };
        Merger {
            plan,
            stats: ExecStats::default(),
            groups: AggPartial {
                keys,
                states,
                sorted: true,
            },
            index: GroupIndex::Empty,
            key_order: Some(Vec::new()),
            spare_order: Vec::new(),
            rows: Vec::new(),
            held: Charged::new(&plan.options),
        }
    }

    /// Fold in another merger's result (of the docs after this one's).
    pub fn absorb(&mut self, mut other: Merger<'p>) -> QueryResult<()> {
        if self.is_empty() {
            // Take the other's groups with their index: nothing to hash again.
            let stats = std::mem::take(&mut self.stats);
            *self = other;
            self.stats.add(&stats);
            return Ok(());
        }
        // Two large sorted group sets of flat keys: merged into a new set in key order,
        // on every core (see `absorb`).
        if let (Some(a_order), Some(b_order), GroupKeys::Flat(a), GroupKeys::Flat(b)) = (
            &self.key_order,
            &other.key_order,
            &self.groups.keys,
            &other.groups.keys,
        ) && a.same_layout(b)
            && a.len().min(b.len()) >= MIN_GROUPS_MERGED_BY_PAIRS
            && a.len().max(b.len()) < crate::absorb::ABSENT as usize
            && self.groups.states.len() == other.groups.states.len()
        {
            let pairs = crate::absorb::sorted_pairs(a, a_order, b, b_order);
            let a_states = std::mem::take(&mut self.groups.states);
            let b_states = std::mem::take(&mut other.groups.states);
            let (keys, states) = rayon::join(
                || FlatKeys::gather_pairs(a, b, &pairs),
                || {
                    a_states
                        .into_par_iter()
                        .zip(b_states)
                        .map(|(x, y)| crate::absorb::merge_state_pairs(x, y, &pairs))
                        .collect::<Vec<_>>()
                },
            );
            let groups_before = a.len();
            let keys = GroupKeys::Flat(keys);
            let new_groups = keys.len() - groups_before;
            let mut grown = keys.bytes_from(groups_before)
                + new_groups * GROUP_SLOT_BYTES * states.len().max(1);
            let mut merged_states = Vec::with_capacity(states.len());
            for (state, state_grown) in states {
                merged_states.push(state);
                grown += state_grown;
            }
            self.groups = AggPartial {
                keys,
                states: merged_states,
                sorted: true,
            };
            self.key_order = Some((0..self.groups.keys.len()).collect());
            self.index = GroupIndex::Empty;
            self.stats.add(&other.stats);
            self.plan.options.state_bytes.release(other.held.bytes());
            self.held.add(grown)?;
            let limit = self.plan.options.num_groups_limit;
            if self.groups.keys.len() > limit {
                return Err(QueryError::too_many_groups(limit));
            }
            return Ok(());
        }
        self.add(other.finish())
    }

    fn is_empty(&self) -> bool {
        self.groups.keys.is_empty() && self.rows.is_empty()
    }

    pub fn add(&mut self, partial: Partial) -> QueryResult<()> {
        self.stats.add(&partial.stats);
        match (&self.plan.kind, partial.rows) {
            (PlanKind::Aggregation(_), PartialRows::Aggregation(part)) => {
                self.add_groups(part, partial.held_bytes)
            }
            (PlanKind::Selection(selection), PartialRows::Selection(part)) => {
                // The rows move in: what they hold is now this merger's (a partial
                // from another node was not charged here).
                if partial.held_bytes == 0 {
                    self.held.add(part.iter().map(SelectedRow::bytes).sum())?;
                } else {
                    self.held.adopt(partial.held_bytes);
                }
                self.rows.extend(part);
                let wanted = selection.offset.saturating_add(selection.limit);
                if self.rows.len() > wanted.saturating_mul(2).max(1024) {
                    self.trim_rows();
                }
                Ok(())
            }
            _ => Err(QueryError::execution("mixed partial result kinds")),
        }
    }

    /// Fold in `part`, which holds `part_bytes` of charged state: the merged state's
    /// growth is charged and `part_bytes` released.
    fn add_groups(&mut self, mut part: AggPartial, part_bytes: usize) -> QueryResult<()> {
        let width = match &self.plan.kind {
            PlanKind::Aggregation(aggregation) => aggregation.keys.len(),
            PlanKind::Selection(_) => 0,
        };
        if let Some(got) = part.keys.any_key_not_of_width(width) {
            return Err(key_shape_error(got, width));
        }
        if self.groups.keys.unify(&mut part.keys) {
            // The merged keys changed form: an index over them is built again if needed.
            self.index = GroupIndex::Empty;
        }
        if self.groups.keys.is_empty() && part.sorted {
            // The first partial, in key order, is taken as it is.
            self.key_order = Some((0..part.keys.len()).collect());
            self.groups = part;
            self.held.adopt(part_bytes);
        } else {
            let groups_before = self.groups.keys.len();
            if !part.sorted {
                // Hashing from here on: the index is built over the groups so far.
                self.key_order = None;
            }
            let mapping = match &mut self.key_order {
                Some(order) => merge_sorted_keys(
                    &mut self.groups.keys,
                    order,
                    &mut part.keys,
                    &mut self.spare_order,
                ),
                None => {
                    self.index.ensure(&self.groups.keys, width);
                    self.index.map(&mut self.groups.keys, &mut part.keys)?
                }
            };
            let merged = &mut self.groups;
            for state in &mut merged.states {
                state.resize(merged.keys.len());
            }
            let new_groups = merged.keys.len() - groups_before;
            let mut grown = merged.keys.bytes_from(groups_before)
                + new_groups * GROUP_SLOT_BYTES * merged.states.len().max(1);
            for (state, other) in merged.states.iter_mut().zip(&part.states) {
                grown += state.merge_from(other, &mapping);
            }
            drop(part.states);
            // The partial's charge is its builder's, handed on with it.
            self.plan.options.state_bytes.release(part_bytes);
            self.held.add(grown)?;
        }
        let merged = &self.groups;
        let limit = self.plan.options.num_groups_limit;
        if merged.keys.len() > limit {
            return Err(QueryError::too_many_groups(limit));
        }
        Ok(())
    }

    /// Keep the first OFFSET + LIMIT rows in ORDER BY order.
    fn trim_rows(&mut self) {
        if let PlanKind::Selection(selection) = &self.plan.kind {
            if !selection.order_by.is_empty() {
                self.rows
                    .sort_by(|a, b| compare_sort_keys(&a.sort, &b.sort, &selection.order_by));
            }
            let keep = selection.offset.saturating_add(selection.limit);
            if self.rows.len() > keep {
                let dropped: usize = self.rows[keep..].iter().map(SelectedRow::bytes).sum();
                self.rows.truncate(keep);
                self.held.release(dropped);
            }
        }
    }

    pub fn finish(mut self) -> Partial {
        let rows = match &self.plan.kind {
            PlanKind::Aggregation(aggregation) => {
                if let Some(order) = &self.key_order {
                    // Hand the groups on in key order, so the next merge walks too.
                    self.groups.reorder(order);
                    self.groups.sorted = true;
                } else {
                    self.groups.sorted = false;
                }
                if let Some(keep) = trim::groups_to_keep(self.plan) {
                    trim::trim_groups(&mut self.groups, &aggregation.order_by, keep);
                }
                PartialRows::Aggregation(self.groups)
            }
            PlanKind::Selection(_) => {
                self.trim_rows();
                PartialRows::Selection(self.rows)
            }
        };
        Partial {
            rows,
            stats: self.stats,
            held_bytes: self.held.bytes(),
        }
    }
}

/// Merge the ascending `incoming` keys into `keys` (of the same form), whose ascending
/// order is `order`: new keys are moved to the end of `keys` and placed in `order`.
/// Returns, for each incoming key, its group in `keys`. The merged order is built in
/// `spare`, and the order it replaces is left there for the next merge.
fn merge_sorted_keys(
    keys: &mut GroupKeys,
    order: &mut Vec<usize>,
    incoming: &mut GroupKeys,
    spare: &mut Vec<usize>,
) -> Vec<usize> {
    match (keys, incoming) {
        (GroupKeys::Flat(keys), GroupKeys::Flat(incoming)) if keys.same_layout(incoming) => {
            keys.reserve(incoming.len());
            merge_sorted(&mut FlatMerge { keys, incoming }, order, spare)
        }
        (keys, incoming) => merge_sorted(&mut AnyMerge { keys, incoming }, order, spare),
    }
}

/// The two key lists a sorted merge walks: the merged keys, by group, and the incoming
/// ones, by position.
trait SortedMerge {
    fn incoming(&self) -> usize;
    fn compare(&self, group: usize, key: usize) -> Ordering;
    /// Move incoming key `key` to the end of the merged keys; returns its group.
    fn push(&mut self, key: usize) -> usize;
}

/// Flat keys of one layout: words compared and copied.
struct FlatMerge<'k> {
    keys: &'k mut FlatKeys,
    incoming: &'k FlatKeys,
}

impl SortedMerge for FlatMerge<'_> {
    fn incoming(&self) -> usize {
        self.incoming.len()
    }

    #[inline]
    fn compare(&self, group: usize, key: usize) -> Ordering {
        self.keys
            .compare_words(self.keys.key(group), self.incoming.key(key))
    }

    fn push(&mut self, key: usize) -> usize {
        self.keys.push_words(self.incoming.key(key));
        self.keys.len() - 1
    }
}

/// Keys of any one form.
struct AnyMerge<'k> {
    keys: &'k mut GroupKeys,
    incoming: &'k mut GroupKeys,
}

impl SortedMerge for AnyMerge<'_> {
    fn incoming(&self) -> usize {
        self.incoming.len()
    }

    fn compare(&self, group: usize, key: usize) -> Ordering {
        self.keys.compare(group, self.incoming, key)
    }

    fn push(&mut self, key: usize) -> usize {
        self.keys.push_from(self.incoming, key)
    }
}

/// The walk of [`merge_sorted_keys`].
fn merge_sorted(
    merge: &mut impl SortedMerge,
    order: &mut Vec<usize>,
    spare: &mut Vec<usize>,
) -> Vec<usize> {
    let incoming = merge.incoming();
    let mut mapping = Vec::with_capacity(incoming);
    let mut merged_order = std::mem::take(spare);
    merged_order.clear();
    merged_order.reserve(order.len() + incoming);
    let mut next = 0;
    for key in 0..incoming {
        let mut target = None;
        while let Some(&group) = order.get(next) {
            match merge.compare(group, key) {
                Ordering::Less => {
                    merged_order.push(group);
                    next += 1;
                }
                Ordering::Equal => {
                    merged_order.push(group);
                    next += 1;
                    target = Some(group);
                    break;
                }
                Ordering::Greater => break,
            }
        }
        let group = match target {
            Some(group) => group,
            None => {
                let group = merge.push(key);
                merged_order.push(group);
                group
            }
        };
        mapping.push(group);
    }
    merged_order.extend_from_slice(&order[next..]);
    *spare = std::mem::replace(order, merged_order);
    mapping
}

/// Group key → merged group number, for partials that are not in key order. One-column
/// rows (a GROUP BY of strings) hash the value itself; flat keys hash their words.
enum GroupIndex {
    /// Not built: sorted partials merge without it.
    Empty,
    One(FxHashMap<Scalar, usize>),
    Many(FxHashMap<Vec<Scalar>, usize>),
    Flat(FlatIndex),
}

impl GroupIndex {
    /// Index every group of `keys` (`width` values per key), unless already built.
    fn ensure(&mut self, keys: &GroupKeys, width: usize) {
        if !matches!(self, GroupIndex::Empty) {
            return;
        }
        *self = match keys {
            GroupKeys::Flat(flat) => {
                let mut index = FlatIndex::default();
                index.reserve(flat.len(), flat);
                for group in 0..flat.len() {
                    index.insert_existing(flat, group);
                }
                GroupIndex::Flat(index)
            }
            GroupKeys::Rows(rows) if width == 1 => GroupIndex::One(
                rows.iter()
                    .enumerate()
                    .map(|(group, key)| (key.first().cloned().unwrap_or(Scalar::Null), group))
                    .collect(),
            ),
            GroupKeys::Rows(rows) => GroupIndex::Many(
                rows.iter()
                    .enumerate()
                    .map(|(group, key)| (key.clone(), group))
                    .collect(),
            ),
        };
    }

    /// Each incoming key's group in `keys` (both of one form, indexed by `self`); keys
    /// not there yet are moved to the end of `keys`.
    fn map(&mut self, keys: &mut GroupKeys, incoming: &mut GroupKeys) -> QueryResult<Vec<usize>> {
        let mut mapping = Vec::with_capacity(incoming.len());
        match (self, keys, incoming) {
            (GroupIndex::Flat(index), GroupKeys::Flat(keys), GroupKeys::Flat(incoming)) => {
                index.reserve(incoming.len(), keys);
                for group in 0..incoming.len() {
                    mapping.push(index.find_or_insert(keys, incoming.key(group)));
                }
            }
            (GroupIndex::One(map), GroupKeys::Rows(keys), GroupKeys::Rows(incoming)) => {
                map.reserve(incoming.len());
                for key in incoming.drain(..) {
                    let one = key.first().cloned().unwrap_or(Scalar::Null);
                    let next = keys.len();
                    let target = *map.entry(one).or_insert(next);
                    if target == next {
                        keys.push(key);
                    }
                    mapping.push(target);
                }
            }
            (GroupIndex::Many(map), GroupKeys::Rows(keys), GroupKeys::Rows(incoming)) => {
                map.reserve(incoming.len());
                for key in incoming.drain(..) {
                    let target = match map.get(&key) {
                        Some(target) => *target,
                        None => {
                            let target = keys.len();
                            map.insert(key.clone(), target);
                            keys.push(key);
                            target
                        }
                    };
                    mapping.push(target);
                }
            }
            _ => {
                return Err(QueryError::execution(
                    "group index out of step with its keys",
                ));
            }
        }
        Ok(mapping)
    }
}

/// A partial whose group keys do not have the plan's number of values cannot come from
/// the same plan (a foreign or corrupt partial).
fn key_shape_error(got: usize, expected: usize) -> QueryError {
    QueryError::execution(format!(
        "a partial result's group key has {got} values, the plan groups by {expected}"
    ))
}

/// Finish a merged result into the rows the client sees.
pub fn finish(plan: &QueryPlan, partial: Partial) -> QueryResult<ResultTable> {
    let rows = match (&plan.kind, partial.rows) {
        (PlanKind::Selection(selection), PartialRows::Selection(rows)) => rows
            .into_iter()
            .skip(selection.offset)
            .take(selection.limit)
            .map(|r| r.values)
            .collect(),
        (PlanKind::Aggregation(aggregation), PartialRows::Aggregation(mut part)) => {
            if aggregation.keys.is_empty() && part.keys.is_empty() {
                // An aggregate over no rows still yields one row (COUNT 0, SUM NULL).
                part.keys.push(Vec::new());
                for state in &mut part.states {
                    state.resize(1);
                }
            }
            let n = part.keys.len();
            for (state, call) in part.states.iter_mut().zip(&aggregation.aggs) {
                if state.long_sum_overflow(n).is_some() {
                    // A LONG cannot hold it; a number that is not the sum is worse than
                    // an error.
                    return Err(QueryError::data(format!(
                        "integer overflow in `{}`: the sum is outside the LONG range \
                         (CAST the argument to DOUBLE to sum it approximately)",
                        call.text
                    )));
                }
            }
            // Every key column and aggregate becomes its vector at once (a million
            // groups: each is a pass over them).
            let keys = &part.keys;
            let (mut slots, aggregates): (Vec<Vector>, Vec<Vector>) = rayon::join(
                || {
                    aggregation
                        .keys
                        .par_iter()
                        .enumerate()
                        .map(|(i, key)| keys.vector(i, key.ty()))
                        .collect()
                },
                || {
                    part.states
                        .par_iter_mut()
                        .zip(&aggregation.aggs)
                        .map(|(state, call)| state.finish_vector(call.ty, n))
                        .collect()
                },
            );
            slots.extend(aggregates);
            let mut rows = n;
            if let Some(having) = &aggregation.having {
                let keep = eval(
                    having,
                    &mut SlotColumns {
                        slots: &slots,
                        rows,
                    },
                )?
                .true_rows();
                slots = slots.iter().map(|s| s.filter(&keep)).collect();
                rows = keep.iter().filter(|k| **k).count();
            }
            let mut input = SlotColumns {
                slots: &slots,
                rows,
            };
            // A sort key that is a slot is read where it lies; others are evaluated.
            let sort_vectors: Vec<Cow<'_, Vector>> = aggregation
                .order_by
                .iter()
                .map(|k| match &k.expr {
                    Expr::Slot { index, .. } if *index < slots.len() => {
                        Ok(Cow::Borrowed(&slots[*index]))
                    }
                    expr => eval(expr, &mut input).map(Cow::Owned),
                })
                .collect::<QueryResult<_>>()?;
            let mut order: Vec<usize> = (0..rows).collect();
            let limit = aggregation
                .limit
                .unwrap_or(usize::MAX)
                .min(plan.options.max_rows);
            if !aggregation.order_by.is_empty() {
                // Rows compared where their sort values lie in the vectors (no key built
                // per row: a million groups, LIMIT 10, would allocate a million keys).
                // Ties keep the groups' order, as a stable sort would.
                let compare = |a: &usize, b: &usize| {
                    compare_vector_rows(&sort_vectors, *a, *b, &aggregation.order_by).then(a.cmp(b))
                };
                // ORDER BY … LIMIT n over many groups: select the first OFFSET + n, then
                // sort only those (a million groups, LIMIT 10: no full sort).
                let keep = aggregation.offset.saturating_add(limit);
                if keep < rows / 2 {
                    crate::trim::keep_first_by(&mut order, keep, compare);
                }
                order.sort_unstable_by(compare);
            }
            let order: Vec<usize> = order
                .into_iter()
                .skip(aggregation.offset)
                .take(limit)
                .collect();
            // The output expressions are evaluated for the rows returned only.
            let mut returned = order.clone();
            returned.sort_unstable();
            let slots: Vec<Vector> = if returned.len() < rows {
                let mut keep = vec![false; rows];
                for row in &returned {
                    keep[*row] = true;
                }
                slots.iter().map(|s| s.filter(&keep)).collect()
            } else {
                slots
            };
            let mut input = SlotColumns {
                slots: &slots,
                rows: returned.len(),
            };
            let outputs: Vec<Vector> = aggregation
                .outputs
                .iter()
                .map(|e| eval(e, &mut input))
                .collect::<QueryResult<_>>()?;
            order
                .iter()
                .map(|row| {
                    let at = returned.binary_search(row).unwrap_or(0);
                    outputs.iter().map(|v| v.scalar(at)).collect()
                })
                .collect()
        }
        _ => {
            return Err(QueryError::execution(
                "partial result does not match the plan",
            ));
        }
    };
    Ok(ResultTable {
        columns: plan.columns.clone(),
        rows,
    })
}

/// Rows `a` and `b` of the sort vectors in ORDER BY order, as [`compare_sort_keys`]
/// orders their values.
fn compare_vector_rows<V: std::ops::Deref<Target = Vector>>(
    vectors: &[V],
    a: usize,
    b: usize,
    order_by: &[crate::plan::SortKey],
) -> Ordering {
    for (vector, key) in vectors.iter().zip(order_by) {
        let ordering = order_by_key(
            key,
            vector.is_null(a),
            vector.is_null(b),
            || match &vector.data {
                Data::Long(values) if !vector.multi_value => values[a].cmp(&values[b]),
                Data::Double(values) if !vector.multi_value => values[a].total_cmp(&values[b]),
                Data::Str(values) if !vector.multi_value => values[a].cmp(&values[b]),
                _ => vector.scalar(a).sql_cmp(&vector.scalar(b)),
            },
        );
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Comparing rows where they lie in the vectors orders them as comparing their
    /// values does, for every type, direction and NULL placement.
    #[test]
    fn vector_rows_compare_as_their_values() {
        use crate::expr::Expr;
        use crate::types::SqlType;
        let vectors = [
            Vector::from_scalars(
                SqlType::Long,
                false,
                &[
                    Scalar::Long(3),
                    Scalar::Null,
                    Scalar::Long(-1),
                    Scalar::Long(3),
                ],
            ),
            Vector::from_scalars(
                SqlType::Double,
                false,
                &[
                    Scalar::Double(0.5),
                    Scalar::Double(-0.0),
                    Scalar::Null,
                    Scalar::Double(0.0),
                ],
            ),
            Vector::from_scalars(
                SqlType::String,
                false,
                &[
                    Scalar::Str("b".into()),
                    Scalar::Str("a".into()),
                    Scalar::Str("b".into()),
                    Scalar::Null,
                ],
            ),
        ];
        for descending in [false, true] {
            for nulls_first in [false, true] {
                for (column, vector) in vectors.iter().enumerate() {
                    let key = crate::plan::SortKey {
                        expr: Expr::Slot {
                            index: 0,
                            ty: vector.ty,
                            multi_value: false,
                        },
                        descending,
                        nulls_first,
                    };
                    let one: &[&Vector] = &[vector];
                    for a in 0..4 {
                        for b in 0..4 {
                            let expected = compare_sort_keys(
                                &[vector.scalar(a)],
                                &[vector.scalar(b)],
                                std::slice::from_ref(&key),
                            );
                            assert_eq!(
                                compare_vector_rows(one, a, b, std::slice::from_ref(&key)),
                                expected,
                                "column {column} rows {a} {b} desc {descending} nulls first {nulls_first}"
                            );
                        }
                    }
                }
            }
        }
    }

    fn rows(values: &[i64]) -> Vec<Vec<Scalar>> {
        values.iter().map(|v| vec![Scalar::Long(*v)]).collect()
    }

    /// Rows of scalars, or the same keys flat.
    fn keys(values: &[i64], flat: bool) -> GroupKeys {
        let mut keys = if flat {
            GroupKeys::for_types(&[crate::types::SqlType::Long])
        } else {
            GroupKeys::Rows(Vec::new())
        };
        for row in rows(values) {
            keys.push(row);
        }
        assert_eq!(matches!(keys, GroupKeys::Flat(_)), flat);
        keys
    }

    #[test]
    fn sorted_merge_maps_equal_keys_and_appends_new_ones() {
        for flat in [false, true] {
            let mut merged = keys(&[2, 5, 9], flat);
            let mut order = vec![0, 1, 2];
            let mapping = merge_sorted_keys(
                &mut merged,
                &mut order,
                &mut keys(&[1, 5, 7, 9, 11], flat),
                &mut Vec::new(),
            );
            assert_eq!(mapping, vec![3, 1, 4, 2, 5]);
            assert_eq!(merged, keys(&[2, 5, 9, 1, 7, 11], flat));
            let in_order: Vec<Vec<Scalar>> = order.iter().map(|g| merged.row(*g)).collect();
            assert_eq!(in_order, rows(&[1, 2, 5, 7, 9, 11]));
            // NULL sorts last and matches NULL.
            let mut with_null = keys(&[1], flat);
            with_null.push(vec![Scalar::Null]);
            let mut order = vec![0, 1];
            let mut incoming = keys(&[3], flat);
            incoming.push(vec![Scalar::Null]);
            let mapping =
                merge_sorted_keys(&mut with_null, &mut order, &mut incoming, &mut Vec::new());
            assert_eq!(mapping, vec![2, 1]);
            assert_eq!(order, vec![0, 2, 1]);
        }
    }

    /// Hashed merging groups equal keys, of either form, and appends new ones.
    #[test]
    fn hashed_merge_maps_equal_keys_and_appends_new_ones() {
        for flat in [false, true] {
            let mut merged = keys(&[9, 2, 5], flat);
            let mut index = GroupIndex::Empty;
            index.ensure(&merged, 1);
            let mapping = index
                .map(&mut merged, &mut keys(&[5, 11, 9, 11], flat))
                .expect("same form");
            assert_eq!(mapping, vec![2, 3, 0, 3]);
            assert_eq!(merged, keys(&[9, 2, 5, 11], flat));
        }
        let mut index = GroupIndex::Empty;
        let mut merged = keys(&[1], true);
        index.ensure(&merged, 1);
        assert!(index.map(&mut merged, &mut keys(&[1], false)).is_err());
    }
}
