//! `EXPLAIN PLAN FOR`: the operators a query runs and, per predicate, which index or
//! scan answers it (as decided on the table's first segment; segments can differ).

use crate::engine::Table;
use crate::expr::Expr;
use crate::filter::{
    complement_of_id_range, describe_leaf, double_comparison, is_range_merge_leaf,
    merge_double_ranges, range_merge_columns,
};
use crate::merge::ResultTable;
use crate::plan::{Filter, OutputColumn, PlanKind, QueryPlan};
use crate::segment_scan::SegmentContext;
use crate::types::{ColumnType, Scalar, SqlType};

/// The operators as (text, depth) lines: what `EXPLAIN` prints, before it becomes a
/// table (a cluster server sends these to its broker).
pub fn explain_lines(plan: &QueryPlan, table: &Table) -> Vec<(String, usize)> {
    let mut lines: Vec<(String, usize)> = Vec::new();
    match &plan.kind {
        PlanKind::Aggregation(aggregation) => {
            let aggs: Vec<&str> = aggregation.aggs.iter().map(|a| a.text.as_str()).collect();
            if aggregation.keys.is_empty() {
                lines.push((format!("AGGREGATE(aggregations:{})", aggs.join(", ")), 0));
            } else {
                let keys: Vec<String> = aggregation.keys.iter().map(|k| k.to_string()).collect();
                lines.push((
                    format!(
                        "GROUP_BY(groupKeys:{}, aggregations:{})",
                        keys.join(", "),
                        aggs.join(", ")
                    ),
                    0,
                ));
            }
        }
        PlanKind::Selection(selection) => {
            let exprs: Vec<String> = selection.exprs.iter().map(|e| e.to_string()).collect();
            let order = if selection.order_by.is_empty() {
                String::new()
            } else {
                let keys: Vec<String> = selection
                    .order_by
                    .iter()
                    .map(|k| format!("{} {}", k.expr, if k.descending { "DESC" } else { "ASC" }))
                    .collect();
                format!(", orderBy:{}", keys.join(", "))
            };
            lines.push((
                format!(
                    "SELECT(columns:{}{order}, limit:{}, offset:{})",
                    exprs.join(", "),
                    selection.limit,
                    selection.offset
                ),
                0,
            ));
        }
    }
    match (&plan.filter, table.segments.first()) {
        (None, _) => lines.push(("DOC_ID_SET(ALL_DOCS)".to_string(), 1)),
        (Some(filter), Some(segment)) => {
            let context = SegmentContext::new(
                segment.as_ref(),
                plan.options.use_indexes,
                None,
                plan.options.cancel.clone(),
            );
            describe(&context, filter, 1, &mut lines);
        }
        (Some(_), None) => lines.push(("FILTER(no segments)".to_string(), 1)),
    }
    lines
}

pub fn explain(plan: &QueryPlan, table: &Table) -> ResultTable {
    explain_table(&explain_lines(plan, table))
}

/// `EXPLAIN`'s result: one row per line (operator, its id, its parent's id).
pub fn explain_table(lines: &[(String, usize)]) -> ResultTable {
    let mut rows = Vec::new();
    let mut parents: Vec<i64> = Vec::new();
    for (id, (text, depth)) in lines.iter().enumerate() {
        parents.truncate(*depth);
        let parent = parents.last().copied().unwrap_or(-1);
        rows.push(vec![
            Scalar::Str(text.clone()),
            Scalar::Long(id as i64),
            Scalar::Long(parent),
        ]);
        parents.push(id as i64);
    }
    let column = |name: &str, element| OutputColumn {
        name: name.to_string(),
        ty: ColumnType {
            element,
            single_value: true,
        },
    };
    ResultTable {
        columns: vec![
            column("Operator", SqlType::String),
            column("Operator_Id", SqlType::Int),
            column("Parent_Id", SqlType::Int),
        ],
        rows,
    }
}

fn describe(
    context: &SegmentContext<'_>,
    filter: &Filter,
    depth: usize,
    lines: &mut Vec<(String, usize)>,
) {
    match filter {
        // Comparisons of one dictionary column run as one id range: one line for them,
        // where the first of them stands.
        Filter::And(children) if context.use_indexes => {
            lines.push(("FILTER_AND".to_string(), depth));
            let merged = range_merge_columns(context, children);
            // Comparisons of one raw DOUBLE column run as one value range, scanned once.
            let (double_ranges, _) = merge_double_ranges(context, children.iter().collect());
            let mut shown: Vec<&str> = Vec::new();
            for child in children {
                if let Filter::Leaf(expr) = child
                    && let Some((column, _, _)) = double_comparison(expr)
                    && double_ranges.iter().any(|(name, _)| *name == column)
                {
                    if !shown.contains(&column) {
                        shown.push(column);
                        let predicate: Vec<String> = children
                            .iter()
                            .filter_map(|c| match c {
                                Filter::Leaf(e)
                                    if double_comparison(e).is_some_and(|d| d.0 == column) =>
                                {
                                    Some(e.to_string())
                                }
                                _ => None,
                            })
                            .collect();
                        lines.push((
                            format!(
                                "FILTER_FULL_SCAN(predicate:{}, valueRange:merged)",
                                predicate.join(" AND ")
                            ),
                            depth + 1,
                        ));
                    }
                    continue;
                }
                let column = match child {
                    Filter::Leaf(expr) => merged
                        .iter()
                        .copied()
                        .find(|column| is_range_merge_leaf(expr, column)),
                    _ => None,
                };
                let Some(column) = column else {
                    describe(context, child, depth + 1, lines);
                    continue;
                };
                if shown.contains(&column) {
                    continue;
                }
                shown.push(column);
                let members: Vec<&Expr> = children
                    .iter()
                    .filter_map(|c| match c {
                        Filter::Leaf(expr) if is_range_merge_leaf(expr, column) => Some(expr),
                        _ => None,
                    })
                    .collect();
                let Some(first) = members.first() else {
                    continue;
                };
                let access = describe_leaf(context, first).0;
                let predicate: Vec<String> = members.iter().map(|e| e.to_string()).collect();
                lines.push((
                    format!(
                        "FILTER_{}(predicate:{}, idRange:merged)",
                        access.name(),
                        predicate.join(" AND ")
                    ),
                    depth + 1,
                ));
            }
        }
        // `x < a OR x > b` on one dictionary column runs as one scan for the ids outside
        // one range.
        Filter::Or(children)
            if context.use_indexes && complement_of_id_range(context, children).is_some() =>
        {
            let predicate: Vec<String> = children.iter().map(filter_text).collect();
            let access = match children.first() {
                Some(Filter::Leaf(first)) => describe_leaf(context, first).0,
                _ => crate::filter::Access::DictionaryScan,
            };
            lines.push((
                format!(
                    "FILTER_{}(predicate:{}, idRange:complement)",
                    access.name(),
                    predicate.join(" OR ")
                ),
                depth,
            ));
        }
        Filter::And(children) | Filter::Or(children) => {
            let name = if matches!(filter, Filter::And(_)) {
                "FILTER_AND"
            } else {
                "FILTER_OR"
            };
            lines.push((name.to_string(), depth));
            for child in children {
                describe(context, child, depth + 1, lines);
            }
        }
        Filter::Leaf(expr) => {
            let (access, _) = if context.use_indexes {
                describe_leaf(context, expr)
            } else {
                (crate::filter::Access::Scan, String::new())
            };
            lines.push((format!("FILTER_{}(predicate:{expr})", access.name()), depth));
        }
    }
}

/// A filter as SQL text (a leaf's predicate; AND/OR of their texts).
fn filter_text(filter: &Filter) -> String {
    match filter {
        Filter::Leaf(expr) => expr.to_string(),
        Filter::And(children) => children
            .iter()
            .map(filter_text)
            .collect::<Vec<_>>()
            .join(" AND "),
        Filter::Or(children) => children
            .iter()
            .map(filter_text)
            .collect::<Vec<_>>()
            .join(" OR "),
    }
}
