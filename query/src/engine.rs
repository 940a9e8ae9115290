//! Run a query over a set of segments in this process: plan, execute every segment on
//! rayon, merge, finish. A server runs the leaf half of this; a broker the merge half.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rayon::prelude::*;
use tessera_segment::SegmentReader;

use crate::error::{QueryError, QueryResult};
use crate::leaf::{
    ExecStats, Partial, execute_unpruned_segment, pruned_segment_stats, segment_may_match,
};
use crate::merge::{Merger, ResultTable, finish, merge};
use crate::options::QueryOptions;
use crate::plan::QueryPlan;
use crate::planner::{SchemaColumn, TableSchema, plan};
use crate::types::{ColumnType, SqlType};

/// A table: its schema and the segments that hold its rows.
#[derive(Clone)]
pub struct Table {
    pub schema: TableSchema,
    pub segments: Vec<Arc<dyn SegmentReader>>,
}

impl Table {
    /// A table described by its first segment's columns (all segments share a schema).
    pub fn from_segments(segments: Vec<Arc<dyn SegmentReader>>) -> QueryResult<Table> {
        let first = segments
            .first()
            .ok_or_else(|| QueryError::invalid("no segments"))?;
        let metadata = first.metadata();
        let schema = TableSchema {
            name: metadata.table_name.clone(),
            columns: metadata
                .columns
                .iter()
                .map(|c| SchemaColumn {
                    name: c.name.clone(),
                    ty: ColumnType {
                        element: SqlType::of(c.data_type),
                        single_value: c.single_value,
                    },
                })
                .collect(),
            time_column: metadata.time_column.clone(),
        };
        for segment in &segments[1..] {
            let other = segment.metadata();
            if other.table_name != schema.name {
                return Err(QueryError::invalid(format!(
                    "segment `{}` belongs to table `{}`, not `{}`",
                    other.name, other.table_name, schema.name
                )));
            }
        }
        Ok(Table { schema, segments })
    }
}

/// The outcome of one query.
#[derive(Debug, Clone)]
pub struct QueryOutcome {
    pub plan: QueryPlan,
    pub result: ResultTable,
    pub stats: ExecStats,
    pub time_used: Duration,
}

/// Plan a query against a set of tables.
pub fn plan_for(sql: &str, options: QueryOptions, tables: &[Table]) -> QueryResult<QueryPlan> {
    plan(sql, options, &|name| {
        tables
            .iter()
            .find(|t| t.schema.name == name)
            .or_else(|| {
                tables
                    .iter()
                    .find(|t| t.schema.name.eq_ignore_ascii_case(name))
            })
            .map(|t| t.schema.clone())
    })
}

/// Server (leaf) half: run `plan` on `segments` in parallel and combine their results
/// into this server's one partial. It never finishes a result: that is the broker's.
pub fn execute_leaf(plan: &QueryPlan, segments: &[Arc<dyn SegmentReader>]) -> QueryResult<Partial> {
    let now = Instant::now();
    // A timeout too large to represent means no deadline.
    let deadline = now
        .checked_add(Duration::from_millis(plan.options.timeout_ms))
        .map(|deadline| (deadline, plan.options.timeout_ms));
    // A filter that the segments' statistics and bloom filters answer (a point lookup)
    // usually leaves one segment of many: those checks run here first, on this thread,
    // so that a lone segment left runs here too, without waking another worker (on a
    // VM a sleeping thread takes a fraction of a millisecond to wake, longer than the
    // lookup). The checks are cheap: metadata, and a bloom probe for an equality.
    let mut pruned = ExecStats::default();
    let kept: Vec<&Arc<dyn SegmentReader>> = segments
        .iter()
        .filter(|segment| {
            let may = segment_may_match(plan, segment.as_ref());
            if !may {
                pruned.add(&pruned_segment_stats(segment.as_ref()));
            }
            may
        })
        .collect();
    if kept.len() <= 1 {
        let mut merger = Merger::new(plan);
        for segment in kept {
            merger.add(execute_unpruned_segment(plan, segment.as_ref(), deadline)?)?;
        }
        let mut partial = merger.finish();
        partial.stats.add(&pruned);
        return Ok(partial);
    }
    // Each worker folds the segments it ran into one merger as it goes, so merging runs
    // on every core and overlaps execution; the per-worker mergers combine last.
    // A few runs of consecutive segments per thread: each run's merger hashes its
    // groups once, and there are few mergers to combine; still enough runs to balance.
    let runs = 2 * rayon::current_num_threads().max(1);
    let merged = kept
        .par_iter()
        .with_min_len(kept.len().div_ceil(runs).max(1))
        .map(|segment| execute_unpruned_segment(plan, segment.as_ref(), deadline))
        .try_fold(
            || Merger::new(plan),
            |mut merger, partial| -> QueryResult<Merger<'_>> {
                merger.add(partial?)?;
                Ok(merger)
            },
        )
        .try_reduce(
            || Merger::new(plan),
            |mut a, b| {
                a.absorb(b)?;
                Ok(a)
            },
        )?;
    let mut partial = merged.finish();
    partial.stats.add(&pruned);
    Ok(partial)
}

/// Broker (root) half: merge the servers' partials and finish the result.
pub fn execute_root(
    plan: &QueryPlan,
    partials: Vec<Partial>,
) -> QueryResult<(ResultTable, ExecStats)> {
    let merged = merge(plan, partials)?;
    let stats = merged.stats.clone();
    Ok((finish(plan, merged)?, stats))
}

/// Execute a plan on a table's segments in this process: both halves.
pub fn execute(plan: &QueryPlan, table: &Table) -> QueryResult<(ResultTable, ExecStats)> {
    let partial = execute_leaf(plan, &table.segments)?;
    execute_root(plan, vec![partial])
}

/// Plan and run SQL against tables.
pub fn run(sql: &str, options: QueryOptions, tables: &[Table]) -> QueryResult<QueryOutcome> {
    let started = Instant::now();
    let plan = plan_for(sql, options, tables)?;
    let table = tables
        .iter()
        .find(|t| t.schema.name == plan.table)
        .ok_or_else(|| QueryError::invalid(format!("table `{}` does not exist", plan.table)))?;
    if plan.explain {
        let result = crate::explain::explain(&plan, table);
        return Ok(QueryOutcome {
            plan,
            result,
            stats: ExecStats::default(),
            time_used: started.elapsed(),
        });
    }
    let (result, stats) = execute(&plan, table)?;
    Ok(QueryOutcome {
        plan,
        result,
        stats,
        time_used: started.elapsed(),
    })
}
