//! A query bounded in time: what each side of a lakehouse split runs.
//!
//! The bound is the conjunct `time <op> boundary` ANDed to the query's filter. A segment
//! whose time range (from its metadata) lies wholly on the bound's side runs the query
//! as it is: the conjunct would hold on every row, and leaving it out keeps every fast
//! path a filter-free or index-served query has. A segment wholly outside is not run at
//! all; only a segment across the boundary runs the bounded query.

use std::sync::Arc;

use tessera_config::Schema;
use tessera_query::QueryError;
use tessera_query::engine;
use tessera_query::expr::{CmpOp, Expr};
use tessera_query::leaf::Partial;
use tessera_query::merge::Merger;
use tessera_query::plan::{Filter, QueryPlan};
use tessera_query::types::{Scalar, SqlType};
use tessera_segment::SegmentReader;
use tessera_segment::metadata::SegmentMetadata;

/// `time <op> boundary` on a table's time column.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeBound {
    pub column: String,
    pub ty: SqlType,
    pub op: CmpOp,
    pub boundary: i64,
}

/// Where a segment's rows lie against a bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coverage {
    /// Every row holds the bound.
    All,
    /// Some may, some may not.
    Part,
    /// No row does.
    Nothing,
}

impl TimeBound {
    /// The bound on `schema`'s column `column`.
    pub fn new(schema: &Schema, column: &str, op: CmpOp, boundary: i64) -> TimeBound {
        TimeBound {
            column: column.to_string(),
            ty: schema
                .field(column)
                .map_or(SqlType::Long, |f| SqlType::of(f.data_type)),
            op,
            boundary,
        }
    }

    fn holds(&self, time: i64) -> bool {
        match self.op {
            CmpOp::Lt => time < self.boundary,
            CmpOp::LtEq => time <= self.boundary,
            CmpOp::Gt => time > self.boundary,
            CmpOp::GtEq => time >= self.boundary,
            CmpOp::Eq => time == self.boundary,
            CmpOp::NotEq => time != self.boundary,
        }
    }

    /// Where a segment lies, from its time range; a segment with NULL times, or no
    /// range, is read row by row.
    pub fn coverage(&self, metadata: &SegmentMetadata) -> Coverage {
        let nulls = metadata
            .column(&self.column)
            .is_none_or(|column| column.null_count > 0);
        match (metadata.min_time, metadata.max_time) {
            (Some(min), Some(max)) => match (self.holds(min), self.holds(max)) {
                (true, true) if !nulls => Coverage::All,
                (false, false) if min == max || self.op != CmpOp::NotEq => Coverage::Nothing,
                _ => Coverage::Part,
            },
            _ => Coverage::Part,
        }
    }

    /// `plan` with the bound ANDed to its filter.
    pub fn plan(&self, plan: &QueryPlan) -> QueryPlan {
        let leaf = Filter::Leaf(Expr::Compare {
            op: self.op,
            left: Box::new(Expr::Column {
                name: self.column.clone(),
                ty: self.ty,
                single_value: true,
            }),
            right: Box::new(Expr::literal(Scalar::Long(self.boundary), self.ty)),
        });
        let filter = match plan.filter.clone() {
            None => leaf,
            Some(Filter::And(mut children)) => {
                children.push(leaf);
                Filter::And(children)
            }
            Some(other) => Filter::And(vec![other, leaf]),
        };
        QueryPlan {
            filter: Some(filter),
            ..plan.clone()
        }
    }

    /// The leaf half of `plan` over `segments`, bounded: each segment wholly inside runs
    /// `plan`, each across the boundary the bounded plan, the rest nothing.
    pub fn execute(
        &self,
        plan: &QueryPlan,
        segments: &[Arc<dyn SegmentReader>],
    ) -> Result<Partial, QueryError> {
        let (mut whole, mut part) = (Vec::new(), Vec::new());
        for segment in segments {
            match self.coverage(segment.metadata()) {
                Coverage::All => whole.push(segment.clone()),
                Coverage::Part => part.push(segment.clone()),
                Coverage::Nothing => {}
            }
        }
        let unbounded = engine::execute_leaf(plan, &whole)?;
        if part.is_empty() {
            return Ok(unbounded);
        }
        let bounded = engine::execute_leaf(&self.plan(plan), &part)?;
        let mut merger = Merger::new(plan);
        merger.add(unbounded)?;
        merger.add(bounded)?;
        Ok(merger.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(min: i64, max: i64, nulls: u64) -> SegmentMetadata {
        use tessera_segment::metadata::ColumnMetadata;
        SegmentMetadata {
            name: "s".into(),
            table_name: "t".into(),
            format_version: 1,
            row_count: 10,
            creation_time_ms: 0,
            time_column: Some("ts".into()),
            min_time: Some(min),
            max_time: Some(max),
            sorted_column: None,
            stream_partition: None,
            start_offset: None,
            end_offset: None,
            sections: Vec::new(),
            columns: vec![ColumnMetadata::from_statistics(
                "ts",
                tessera_config::DataType::Timestamp,
                true,
                (min.into(), max.into()),
                nulls,
            )],
        }
    }

    #[test]
    fn segments_wholly_on_a_side_skip_the_conjunct() {
        let below = TimeBound {
            column: "ts".into(),
            ty: SqlType::Timestamp,
            op: CmpOp::Lt,
            boundary: 100,
        };
        assert_eq!(below.coverage(&metadata(10, 99, 0)), Coverage::All);
        assert_eq!(below.coverage(&metadata(10, 100, 0)), Coverage::Part);
        assert_eq!(below.coverage(&metadata(100, 200, 0)), Coverage::Nothing);
        // NULL times hold no bound: such a segment runs the bounded plan.
        assert_eq!(below.coverage(&metadata(10, 99, 1)), Coverage::Part);
        let at_or_after = TimeBound {
            op: CmpOp::GtEq,
            ..below
        };
        assert_eq!(at_or_after.coverage(&metadata(100, 200, 0)), Coverage::All);
        assert_eq!(
            at_or_after.coverage(&metadata(10, 99, 0)),
            Coverage::Nothing
        );
    }
}
