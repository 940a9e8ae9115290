//! Root side: merge [`Partial`]s (segments into a server result, servers into the
//! broker's) and finish the query — HAVING, output expressions, ORDER BY, OFFSET/LIMIT.
//! Nothing here reads a segment.

use rustc_hash::FxHashMap;

use crate::aggregate::AccState;
use crate::error::{ErrorCode, QueryError, QueryResult};
use crate::eval::{SlotColumns, eval};
use crate::leaf::{AggPartial, ExecStats, Partial, PartialRows, SelectedRow, compare_sort_keys};
use crate::plan::{OutputColumn, PlanKind, QueryPlan};
use crate::types::Scalar;
use crate::vector::Vector;

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
    rows: Vec<SelectedRow>,
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
            },
            index: GroupIndex::new(key_columns),
            rows: Vec::new(),
        }
    }

    /// Fold another merger's result in.
    pub fn absorb(&mut self, other: Merger<'_>) -> QueryResult<()> {
        self.add(other.finish())
    }

    pub fn add(&mut self, partial: Partial) -> QueryResult<()> {
        self.stats.add(&partial.stats);
        match (&self.plan.kind, partial.rows) {
            (PlanKind::Aggregation(_), PartialRows::Aggregation(part)) => self.add_groups(part),
            (PlanKind::Selection(selection), PartialRows::Selection(part)) => {
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

    fn add_groups(&mut self, part: AggPartial) -> QueryResult<()> {
        let merged = &mut self.groups;
        if merged.keys.is_empty() {
            // The first partial is taken as it is.
            self.index.reserve(part.keys.len());
            for (group, key) in part.keys.iter().enumerate() {
                self.index.insert(key, group);
            }
            *merged = part;
        } else {
            let mut mapping = Vec::with_capacity(part.keys.len());
            for key in part.keys {
                let target = match self.index.get(&key) {
                    Some(target) => target,
                    None => {
                        let target = merged.keys.len();
                        self.index.insert(&key, target);
                        merged.keys.push(key);
                        target
                    }
                };
                mapping.push(target);
            }
            for state in &mut merged.states {
                state.resize(merged.keys.len());
            }
            for (state, other) in merged.states.iter_mut().zip(&part.states) {
                state.merge_from(other, &mapping);
            }
        }
        let limit = self.plan.options.num_groups_limit;
        if merged.keys.len() > limit {
            return Err(QueryError {
                code: ErrorCode::TooManyGroups,
                message: format!(
                    "the query produces more than numGroupsLimit={limit} groups; raise it with `SET numGroupsLimit = N;`"
                ),
            });
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
            self.rows
                .truncate(selection.offset.saturating_add(selection.limit));
        }
    }

    pub fn finish(mut self) -> Partial {
        let rows = match &self.plan.kind {
            PlanKind::Aggregation(_) => PartialRows::Aggregation(self.groups),
            PlanKind::Selection(_) => {
                self.trim_rows();
                PartialRows::Selection(self.rows)
            }
        };
        Partial {
            rows,
            stats: self.stats,
        }
    }
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

    fn insert(&mut self, key: &[Scalar], group: usize) {
        match (self, key) {
            (GroupIndex::One(map), [one]) => {
                map.insert(one.clone(), group);
            }
            (GroupIndex::One(map), _) => {
                // A partial with another key shape cannot come from the same plan; keep
                // it findable rather than fail.
                map.insert(Scalar::Array(key.to_vec()), group);
            }
            (GroupIndex::Many(map), _) => {
                map.insert(key.to_vec(), group);
            }
        }
    }
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
            if !aggregation.order_by.is_empty() {
                let keys: Vec<Vec<Scalar>> = (0..rows)
                    .map(|r| sort_vectors.iter().map(|v| v.scalar(r)).collect())
                    .collect();
                order
                    .sort_by(|a, b| compare_sort_keys(&keys[*a], &keys[*b], &aggregation.order_by));
            }
            let limit = aggregation
                .limit
                .unwrap_or(usize::MAX)
                .min(plan.options.max_rows);
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
