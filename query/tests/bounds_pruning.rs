//! Property: a broker's pruning from catalog min/max bounds never drops a segment that
//! holds a match — whenever `bounds_may_match` says no for a segment, the query on that
//! segment alone counts 0 rows. Predicates span every column kind; an `id` range (the
//! two segments hold disjoint ids) makes pruning happen.

mod common;

use common::predicate;
use proptest::prelude::*;
use tessera_query::filter::{Bounds, bounds_may_match, stat};
use tessera_query::types::SqlType;
use tessera_query::{QueryOptions, Table};
use tessera_segment::SegmentReader;

/// A column's bounds as a catalog record gives them: the segment's own min/max.
fn bounds(segment: &dyn SegmentReader, column: &str) -> Option<Bounds> {
    let metadata = segment.column(column).ok()?.metadata().clone();
    let ty = SqlType::of(metadata.data_type);
    Some(Bounds {
        min: stat(&metadata.min, ty)?,
        max: stat(&metadata.max, ty)?,
        single_value: metadata.single_value,
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn pruned_segments_hold_no_match(
        predicate in predicate(),
        id in 0i64..2_400,
        op in prop::sample::select(vec!["<", "<=", ">", ">=", "="]),
        join in prop::sample::select(vec!["AND", "OR"]),
    ) {
        let sql = format!("SELECT COUNT(*) FROM t WHERE ({predicate}) {join} id {op} {id}");
        let (table, _) = common::table();
        let mut pruned = 0;
        for segment in &table.segments {
            let alone = Table::from_segments(vec![segment.clone()]).expect("table");
            let plan = tessera_query::engine::plan_for(&sql, QueryOptions::default(), std::slice::from_ref(&alone))
                .map_err(|e| TestCaseError::fail(format!("{sql}: {}", e.message)))?;
            let Some(filter) = &plan.filter else { continue };
            if bounds_may_match(filter, &|column| bounds(segment.as_ref(), column)) {
                continue;
            }
            pruned += 1;
            let rows = common::result_rows(&alone, &sql, QueryOptions::default())
                .map_err(TestCaseError::fail)?;
            prop_assert_eq!(rows.len(), 1, "{}", sql);
            prop_assert!(rows[0].contains("Long(0)") || rows[0].contains("Int(0)"), "{sql}: a pruned segment matched: {:?}", rows);
        }
        let _ = pruned;
    }
}

#[test]
fn disjoint_id_ranges_prune() {
    let (table, _) = common::table();
    let sql = "SELECT COUNT(*) FROM t WHERE id >= 1600 AND s IS NOT NULL";
    let plan =
        tessera_query::engine::plan_for(sql, QueryOptions::default(), std::slice::from_ref(table))
            .expect("plan");
    let filter = plan.filter.expect("a filter");
    let verdicts: Vec<bool> = table
        .segments
        .iter()
        .map(|segment| bounds_may_match(&filter, &|column| bounds(segment.as_ref(), column)))
        .collect();
    assert_eq!(
        verdicts,
        [false, true],
        "ids 0..1500 cannot hold id >= 1600"
    );
}

/// The leaf prunes segments by their statistics before it runs the rest: a query that
/// keeps one segment of eight (run on the calling thread) or three (run on the pool)
/// answers as the same rows in one segment do, and its statistics count every segment
/// as queried and only the kept ones as processed.
#[test]
fn leaf_prunes_before_it_runs_and_counts_every_segment() {
    let (segmented, whole, _) = common::segmented_tables();
    for (sql, kept) in [
        ("SELECT COUNT(*), SUM(b) FROM t WHERE id = 12345", 1),
        (
            "SELECT COUNT(*), SUM(b) FROM t WHERE id >= 4000 AND id < 14000",
            3,
        ),
        ("SELECT i, COUNT(*) FROM t WHERE id > 39999 GROUP BY i", 0),
    ] {
        let plan = tessera_query::engine::plan_for(
            sql,
            QueryOptions::default(),
            std::slice::from_ref(segmented),
        )
        .expect("plan");
        let (result, stats) = tessera_query::engine::execute(&plan, segmented).expect("runs");
        let (expected, _) = tessera_query::engine::execute(&plan, whole).expect("runs");
        assert_eq!(result.rows, expected.rows, "{sql}");
        assert_eq!(stats.num_segments_queried, 8, "{sql}");
        assert_eq!(stats.num_segments_processed, kept, "{sql}");
        assert_eq!(stats.total_docs, 40_000, "{sql}");
    }
}
