//! Root side: merge [`Partial`]s (segments into a server result, servers into the
//! broker's) and finish the query — HAVING, output expressions, ORDER BY, OFFSET/LIMIT.
//! Nothing here reads a segment.

use std::cmp::Ordering;

use rustc_hash::FxHashMap;

use crate::aggregate::AccState;
use crate::error::{QueryError, QueryResult};
use crate::eval::{SlotColumns, eval};
use crate::leaf::{
    AggPartial, ExecStats, Partial, PartialRows, SelectedRow, compare_group_keys,
    compare_sort_keys, order_by_key,
};
use crate::plan::{OutputColumn, PlanKind, QueryPlan};
use crate::state_bytes::{Charged, GROUP_SLOT_BYTES, row_bytes};
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
    rows: Vec<SelectedRow>,
    /// The state held, charged to the query's `maxStateBytes`.
    held: Charged<'p>,
}

impl<'p> Merger<'p> {
    pub fn new(plan: &'p QueryPlan) -> Merger<'p> {
        let (states, key_columns) = match &plan.kind {
            PlanKind::Aggregation(aggregation) => (
                aggregation.aggs.iter().map(AccState::new).collect(),
                aggregation.keys.len(),
            ),
            PlanKind::Selection(_) => (Vec::new(), 0),
        };
        Merger {
            plan,
            stats: ExecStats::default(),
            groups: AggPartial {
                keys: Vec::new(),
                states,
                sorted: true,
            },
            index: GroupIndex::new(key_columns),
            key_order: Some(Vec::new()),
            rows: Vec::new(),
            held: Charged::new(&plan.options),
        }
    }

    /// Fold in another merger's result (of the docs after this one's).
    pub fn absorb(&mut self, other: Merger<'p>) -> QueryResult<()> {
        if self.is_empty() {
            // Take the other's groups with their index: nothing to hash again.
            let stats = std::mem::take(&mut self.stats);
            *self = other;
            self.stats.add(&stats);
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
    fn add_groups(&mut self, part: AggPartial, part_bytes: usize) -> QueryResult<()> {
        if let PlanKind::Aggregation(aggregation) = &self.plan.kind
            && let Some(key) = part.keys.iter().find(|k| k.len() != aggregation.keys.len())
        {
            return Err(key_shape_error(key.len(), aggregation.keys.len()));
        }
        if self.groups.keys.is_empty() {
            // The first partial is taken as it is.
            self.key_order = part.sorted.then(|| (0..part.keys.len()).collect());
            if !part.sorted {
                self.index.reserve(part.keys.len());
                for (group, key) in part.keys.iter().enumerate() {
                    self.index.insert(key, group)?;
                }
            }
            self.groups = part;
            self.held.adopt(part_bytes);
        } else {
            let groups_before = self.groups.keys.len();
            if !part.sorted
                && let Some(order) = self.key_order.take()
            {
                // Fall back to hashing from here on.
                self.index.reserve(order.len());
                for (group, key) in self.groups.keys.iter().enumerate() {
                    self.index.insert(key, group)?;
                }
            }
            let mapping = match &mut self.key_order {
                Some(order) => merge_sorted_keys(&mut self.groups.keys, order, part.keys),
                None => {
                    let merged = &mut self.groups;
                    let mut mapping = Vec::with_capacity(part.keys.len());
                    for key in part.keys {
                        let target = match self.index.get(&key) {
                            Some(target) => target,
                            None => {
                                let target = merged.keys.len();
                                self.index.insert(&key, target)?;
                                merged.keys.push(key);
                                target
                            }
                        };
                        mapping.push(target);
                    }
                    mapping
                }
            };
            let merged = &mut self.groups;
            for state in &mut merged.states {
                state.resize(merged.keys.len());
            }
            let mut grown: usize = merged.keys[groups_before..]
                .iter()
                .map(|k| row_bytes(k) + GROUP_SLOT_BYTES * merged.states.len().max(1))
                .sum();
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

/// Merge the ascending `incoming` keys into `keys`, whose ascending order is `order`:
/// new keys are appended to `keys` and placed in `order`. Returns, for each incoming
/// key, its group in `keys`.
fn merge_sorted_keys(
    keys: &mut Vec<Vec<Scalar>>,
    order: &mut Vec<usize>,
    incoming: Vec<Vec<Scalar>>,
) -> Vec<usize> {
    let mut mapping = Vec::with_capacity(incoming.len());
    let mut merged_order = Vec::with_capacity(order.len() + incoming.len());
    let mut existing = order.iter().copied().peekable();
    for key in incoming {
        loop {
            match existing.peek() {
                Some(&group) => match compare_group_keys(&keys[group], &key) {
                    Ordering::Less => {
                        merged_order.push(group);
                        existing.next();
                    }
                    Ordering::Equal => {
                        merged_order.push(group);
                        existing.next();
                        mapping.push(group);
                        break;
                    }
                    Ordering::Greater => {
                        mapping.push(push_key(keys, &mut merged_order, key));
                        break;
                    }
                },
                None => {
                    mapping.push(push_key(keys, &mut merged_order, key));
                    break;
                }
            }
        }
    }
    merged_order.extend(existing);
    *order = merged_order;
    mapping
}

fn push_key(keys: &mut Vec<Vec<Scalar>>, order: &mut Vec<usize>, key: Vec<Scalar>) -> usize {
    keys.push(key);
    order.push(keys.len() - 1);
    keys.len() - 1
}

/// Group key → merged group number. One-column keys (the common GROUP BY id) hash the
/// value itself: no key vector to hash, compare or copy.
enum GroupIndex {
    One(FxHashMap<Scalar, usize>),
    Many(FxHashMap<Vec<Scalar>, usize>),
}

impl GroupIndex {
    fn new(key_columns: usize) -> GroupIndex {
        if key_columns == 1 {
            GroupIndex::One(FxHashMap::default())
        } else {
            GroupIndex::Many(FxHashMap::default())
        }
    }

    fn reserve(&mut self, n: usize) {
        match self {
            GroupIndex::One(map) => map.reserve(n),
            GroupIndex::Many(map) => map.reserve(n),
        }
    }

    fn get(&self, key: &[Scalar]) -> Option<usize> {
        match (self, key) {
            (GroupIndex::One(map), [one]) => map.get(one).copied(),
            (GroupIndex::Many(map), _) => map.get(key).copied(),
            (GroupIndex::One(_), _) => None,
        }
    }

    fn insert(&mut self, key: &[Scalar], group: usize) -> QueryResult<()> {
        match (self, key) {
            (GroupIndex::One(map), [one]) => {
                map.insert(one.clone(), group);
            }
            (GroupIndex::One(_), _) => return Err(key_shape_error(key.len(), 1)),
            (GroupIndex::Many(map), _) => {
                map.insert(key.to_vec(), group);
            }
        }
        Ok(())
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
            let mut slots: Vec<Vector> = Vec::new();
            for (i, key) in aggregation.keys.iter().enumerate() {
                let column: Vec<Scalar> = part.keys.iter().map(|k| k[i].clone()).collect();
                slots.push(Vector::from_scalars(key.ty(), false, &column));
            }
            for (state, call) in part.states.iter_mut().zip(&aggregation.aggs) {
                let column: Vec<Scalar> = (0..n).map(|g| state.finish(g)).collect();
                slots.push(Vector::from_scalars(call.ty, false, &column));
            }
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
            let outputs: Vec<Vector> = aggregation
                .outputs
                .iter()
                .map(|e| eval(e, &mut input))
                .collect::<QueryResult<_>>()?;
            let sort_vectors: Vec<Vector> = aggregation
                .order_by
                .iter()
                .map(|k| eval(&k.expr, &mut input))
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
            order
                .into_iter()
                .skip(aggregation.offset)
                .take(limit)
                .map(|r| outputs.iter().map(|v| v.scalar(r)).collect())
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
fn compare_vector_rows(
    vectors: &[Vector],
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
                    let one = std::slice::from_ref(vector);
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

    fn keys(values: &[i64]) -> Vec<Vec<Scalar>> {
        values.iter().map(|v| vec![Scalar::Long(*v)]).collect()
    }

    #[test]
    fn sorted_merge_maps_equal_keys_and_appends_new_ones() {
        let mut merged = keys(&[2, 5, 9]);
        let mut order = vec![0, 1, 2];
        let mapping = merge_sorted_keys(&mut merged, &mut order, keys(&[1, 5, 7, 9, 11]));
        assert_eq!(mapping, vec![3, 1, 4, 2, 5]);
        assert_eq!(merged, keys(&[2, 5, 9, 1, 7, 11]));
        let in_order: Vec<&Vec<Scalar>> = order.iter().map(|g| &merged[*g]).collect();
        assert_eq!(
            in_order,
            keys(&[1, 2, 5, 7, 9, 11]).iter().collect::<Vec<_>>()
        );
        // NULL sorts last and matches NULL.
        let mut with_null = vec![vec![Scalar::Long(1)], vec![Scalar::Null]];
        let mut order = vec![0, 1];
        let mapping = merge_sorted_keys(
            &mut with_null,
            &mut order,
            vec![vec![Scalar::Long(3)], vec![Scalar::Null]],
        );
        assert_eq!(mapping, vec![2, 1]);
        assert_eq!(order, vec![0, 2, 1]);
    }
}
