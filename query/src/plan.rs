//! The query plan: what the planner hands to leaf execution and to the broker merge.

use crate::expr::Expr;
use crate::options::QueryOptions;
use crate::types::{ColumnType, SqlType};

/// The WHERE clause in negation normal form: NOT is pushed into the leaves, so a doc
/// passes a node exactly when the node is TRUE (three-valued logic: FALSE and NULL fail).
#[derive(Debug, Clone)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    /// A boolean expression over columns.
    Leaf(Expr),
}

/// Aggregate functions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AggFunc {
    /// COUNT(*) (no argument) or COUNT(expr) (non-null values).
    Count,
    /// COUNT(DISTINCT x), DISTINCTCOUNT(x): exact.
    CountDistinct,
    /// DISTINCTCOUNTHLL(x): HyperLogLog estimate.
    DistinctCountHll,
    Sum,
    Min,
    Max,
    Avg,
    /// PERCENTILE(x, p): exact, nearest rank.
    Percentile(f64),
    /// PERCENTILE_CONT(p/100) WITHIN GROUP (ORDER BY x): exact, interpolated linearly
    /// between the two nearest ranks (DuckDB's `quantile_cont`).
    PercentileCont(f64),
    /// PERCENTILE_DISC(p/100) WITHIN GROUP (ORDER BY x): exact, the first value whose
    /// cumulative share reaches p (PostgreSQL's and DuckDB's `quantile_disc`).
    PercentileDisc(f64),
    /// PERCENTILETDIGEST(x, p): t-digest estimate.
    PercentileTDigest(f64),
    /// MINMAXRANGE(x): max - min.
    MinMaxRange,
}

impl AggFunc {
    pub fn name(self) -> &'static str {
        match self {
            AggFunc::Count => "count",
            AggFunc::CountDistinct => "distinctcount",
            AggFunc::DistinctCountHll => "distinctcounthll",
            AggFunc::Sum => "sum",
            AggFunc::Min => "min",
            AggFunc::Max => "max",
            AggFunc::Avg => "avg",
            AggFunc::Percentile(_) => "percentile",
            AggFunc::PercentileCont(_) => "percentile_cont",
            AggFunc::PercentileDisc(_) => "percentile_disc",
            AggFunc::PercentileTDigest(_) => "percentiletdigest",
            AggFunc::MinMaxRange => "minmaxrange",
        }
    }
}

/// One aggregate call.
#[derive(Debug, Clone)]
pub struct AggCall {
    pub func: AggFunc,
    /// `None` for COUNT(*).
    pub arg: Option<Expr>,
    /// `FILTER (WHERE ...)`.
    pub filter: Option<Filter>,
    /// Result type.
    pub ty: SqlType,
    /// The call as written (for EXPLAIN and deduplication).
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct SortKey {
    pub expr: Expr,
    pub descending: bool,
    pub nulls_first: bool,
}

#[derive(Debug, Clone)]
pub struct SelectionPlan {
    /// Output expressions over columns.
    pub exprs: Vec<Expr>,
    pub order_by: Vec<SortKey>,
    pub limit: usize,
    pub offset: usize,
}

#[derive(Debug, Clone)]
pub struct AggregationPlan {
    /// GROUP BY expressions (leaf scope).
    pub keys: Vec<Expr>,
    pub aggs: Vec<AggCall>,
    /// Post-aggregation expressions over slots `[keys.., aggs..]`.
    pub outputs: Vec<Expr>,
    pub having: Option<Expr>,
    pub order_by: Vec<SortKey>,
    pub limit: Option<usize>,
    pub offset: usize,
}

impl AggregationPlan {
    /// The type of each GROUP BY key.
    pub fn key_types(&self) -> Vec<crate::types::SqlType> {
        self.keys.iter().map(Expr::ty).collect()
    }
}

#[derive(Debug, Clone)]
pub enum PlanKind {
    Selection(SelectionPlan),
    Aggregation(AggregationPlan),
}

#[derive(Debug, Clone, PartialEq)]
pub struct OutputColumn {
    pub name: String,
    pub ty: ColumnType,
}

#[derive(Debug, Clone)]
pub struct QueryPlan {
    pub table: String,
    pub filter: Option<Filter>,
    pub kind: PlanKind,
    pub columns: Vec<OutputColumn>,
    pub options: QueryOptions,
    /// `EXPLAIN PLAN FOR`: describe instead of run.
    pub explain: bool,
}

impl QueryPlan {
    /// Columns the leaf reads (filter, keys, aggregates, projections).
    pub fn referenced_columns(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(filter) = &self.filter {
            filter.columns(&mut out);
        }
        out.extend(self.value_columns());
        out
    }

    /// Columns whose values the leaf reads after the filter: group keys, aggregate
    /// arguments and filters, projections and sort keys.
    pub fn value_columns(&self) -> Vec<String> {
        let mut out = Vec::new();
        match &self.kind {
            PlanKind::Selection(selection) => {
                selection.exprs.iter().for_each(|e| e.columns(&mut out));
                selection
                    .order_by
                    .iter()
                    .for_each(|k| k.expr.columns(&mut out));
            }
            PlanKind::Aggregation(aggregation) => {
                aggregation.keys.iter().for_each(|e| e.columns(&mut out));
                for agg in &aggregation.aggs {
                    if let Some(arg) = &agg.arg {
                        arg.columns(&mut out);
                    }
                    if let Some(filter) = &agg.filter {
                        filter.columns(&mut out);
                    }
                }
            }
        }
        out
    }
}

impl Filter {
    pub fn columns(&self, out: &mut Vec<String>) {
        match self {
            Filter::And(items) | Filter::Or(items) => items.iter().for_each(|f| f.columns(out)),
            Filter::Leaf(expr) => expr.columns(out),
        }
    }

    /// Build the NNF filter of a boolean expression.
    pub fn from_expr(expr: Expr) -> Filter {
        to_nnf(expr, false)
    }
}

fn to_nnf(expr: Expr, negate: bool) -> Filter {
    match expr {
        Expr::And(items) => {
            let children = items.into_iter().map(|e| to_nnf(e, negate)).collect();
            if negate {
                Filter::Or(children)
            } else {
                Filter::And(children)
            }
        }
        Expr::Or(items) => {
            let children = items.into_iter().map(|e| to_nnf(e, negate)).collect();
            if negate {
                Filter::And(children)
            } else {
                Filter::Or(children)
            }
        }
        Expr::Not(inner) => to_nnf(*inner, !negate),
        leaf if !negate => Filter::Leaf(leaf),
        // Negations of multi-value predicates are not the mirrored predicate ("some
        // element < x" negated is "no element < x"): keep them as NOT.
        leaf if touches_multi_value(&leaf) => Filter::Leaf(Expr::Not(Box::new(leaf))),
        Expr::Compare { op, left, right } => Filter::Leaf(Expr::Compare {
            op: op.negate(),
            left,
            right,
        }),
        Expr::IsNull { expr, negated } => Filter::Leaf(Expr::IsNull {
            expr,
            negated: !negated,
        }),
        Expr::InList {
            expr,
            list,
            negated,
        } => Filter::Leaf(Expr::InList {
            expr,
            list,
            negated: !negated,
        }),
        Expr::Like {
            expr,
            pattern,
            negated,
        } => Filter::Leaf(Expr::Like {
            expr,
            pattern,
            negated: !negated,
        }),
        Expr::RegexpLike {
            expr,
            regex,
            negated,
        } => Filter::Leaf(Expr::RegexpLike {
            expr,
            regex,
            negated: !negated,
        }),
        other => Filter::Leaf(Expr::Not(Box::new(other))),
    }
}

fn touches_multi_value(expr: &Expr) -> bool {
    match expr {
        Expr::Compare { left, right, .. } => left.multi_value() || right.multi_value(),
        Expr::InList { expr, .. } | Expr::Like { expr, .. } | Expr::RegexpLike { expr, .. } => {
            expr.multi_value()
        }
        _ => false,
    }
}
