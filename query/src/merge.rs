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
    let mut stats = ExecStats::default();
    for partial in &partials {
        stats.add(&partial.stats);
    }
    let rows = match &plan.kind {
        PlanKind::Aggregation(aggregation) => {
            let mut merged = AggPartial {
                keys: Vec::new(),
                states: aggregation.aggs.iter().map(AccState::new).collect(),
            };
            let mut index: FxHashMap<Vec<Scalar>, usize> = FxHashMap::default();
            let limit = plan.options.num_groups_limit;
            for partial in partials {
                let PartialRows::Aggregation(part) = partial.rows else {
                    return Err(QueryError::execution("mixed partial result kinds"));
                };
                if merged.keys.is_empty() {
                    // The first partial is taken as it is.
                    index.reserve(part.keys.len());
                    for (group, key) in part.keys.iter().enumerate() {
                        index.insert(key.clone(), group);
                    }
                    merged = part;
                } else {
                    let mut mapping = Vec::with_capacity(part.keys.len());
                    for key in part.keys {
                        let target = match index.get(&key) {
                            Some(target) => *target,
                            None => {
                                let target = merged.keys.len();
                                index.insert(key.clone(), target);
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
                if merged.keys.len() > limit {
                    return Err(QueryError {
                        code: ErrorCode::TooManyGroups,
                        message: format!(
                            "the query produces more than numGroupsLimit={limit} groups; raise it with `SET numGroupsLimit = N;`"
                        ),
                    });
                }
            }
            PartialRows::Aggregation(merged)
        }
        PlanKind::Selection(selection) => {
            let mut rows: Vec<SelectedRow> = Vec::new();
            for partial in partials {
                let PartialRows::Selection(part) = partial.rows else {
                    return Err(QueryError::execution("mixed partial result kinds"));
                };
                rows.extend(part);
            }
            if !selection.order_by.is_empty() {
                rows.sort_by(|a, b| compare_sort_keys(&a.sort, &b.sort, &selection.order_by));
            }
            rows.truncate(selection.offset.saturating_add(selection.limit));
            PartialRows::Selection(rows)
        }
    };
    Ok(Partial { rows, stats })
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
