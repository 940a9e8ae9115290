//! Property: the same rows answer every query identically from consuming segments (the
//! in-memory tier) and from sealed segments — the seam between the tiers is invisible.

#[path = "../../query/tests/common/mod.rs"]
mod common;

use std::sync::{Arc, OnceLock};

use common::predicate;
use proptest::prelude::*;
use tessera_config::{Schema, TableConfig};
use tessera_ingest::consuming::{MutableSegment, SegmentIdentity};
use tessera_query::{QueryOptions, Table};
use tessera_segment::SegmentReader;

fn consuming_table() -> &'static Table {
    static CELL: OnceLock<Table> = OnceLock::new();
    CELL.get_or_init(|| {
        let (sealed, rows) = common::table();
        let schema = Schema::from_json(common::SCHEMA).expect("schema").value;
        let table = TableConfig::from_json(common::TABLE, &schema)
            .expect("table")
            .value;
        let segment = |partition: u32, rows: &[Vec<tessera_segment::Value>]| {
            let identity = SegmentIdentity {
                name: format!("t__{partition}__0"),
                table: "t".into(),
                partition,
                start_offset: 0,
                created_ms: 0,
            };
            let segment = Arc::new(MutableSegment::new(identity, &schema, &table));
            // Segment 0 arrives in one batch (high-cardinality columns then go raw),
            // segment 1 in small appends (everything dictionary-encoded).
            let chunk_rows = if partition == 0 { rows.len() } else { 97 };
            for chunk in rows.chunks(chunk_rows) {
                segment.append_rows(chunk, 0).expect("append");
            }
            segment.snapshot() as Arc<dyn SegmentReader>
        };
        Table {
            schema: sealed.schema.clone(),
            segments: vec![segment(0, &rows[..1500]), segment(1, &rows[1500..])],
        }
    })
}

fn rows(table: &Table, sql: &str) -> Result<Vec<String>, String> {
    common::result_rows(table, sql, QueryOptions::default())
}

fn same(sql: &str) {
    let sealed = rows(&common::table().0, sql);
    let consuming = rows(consuming_table(), sql);
    assert!(sealed.is_ok(), "{sql}: {sealed:?}");
    assert_eq!(sealed, consuming, "{sql}");
}

#[test]
fn test_text_like_null_and_multi_value_paths_agree() {
    for sql in [
        "SELECT COUNT(*) FROM t",
        "SELECT id FROM t WHERE TEXT_MATCH(x, 'alpha AND beta') ORDER BY id LIMIT 100000",
        "SELECT id FROM t WHERE TEXT_MATCH(x, '\"gamma delta\"') ORDER BY id LIMIT 100000",
        "SELECT COUNT(*) FROM t WHERE x LIKE '%eta%'",
        "SELECT COUNT(*) FROM t WHERE x LIKE '%Zeta%'",
        "SELECT COUNT(*) FROM t WHERE x LIKE 'beta%'",
        "SELECT COUNT(*) FROM t WHERE x NOT LIKE 'Zet%'",
        "SELECT COUNT(*) FROM t WHERE x LIKE '%eta'",
        "SELECT COUNT(*), COUNT(c), COUNT(m) FROM t WHERE c IS NULL OR m IS NOT NULL",
        "SELECT COUNT(*), SUM(n) FROM t WHERE m = 'alpha' OR m IN ('日本', '')",
        "SELECT c, s, SUM(n), AVG(r), MIN(f), MAX(ts) FROM t GROUP BY c, s ORDER BY c, s LIMIT 1000",
        "SELECT DISTINCTCOUNT(x), DISTINCTCOUNTHLL(c), PERCENTILE(n, 50), MINMAXRANGE(b) FROM t",
        "SELECT flag, COUNT(*) FROM t WHERE i BETWEEN -3 AND 4 GROUP BY flag ORDER BY flag",
        "SELECT id, s, c, m, x, n, r, f, ts FROM t ORDER BY id DESC LIMIT 50",
        "SELECT DISTINCT c FROM t ORDER BY c LIMIT 20",
        "SELECT m, COUNT(*), SUM(n), MAX(x), COUNT(DISTINCT c) FROM t GROUP BY m ORDER BY m LIMIT 100",
        "SELECT m, c, AVG(r) FROM t WHERE m IN ('beta', 'Zeta') GROUP BY m, c ORDER BY m, c LIMIT 100",
        "SELECT DISTINCT m FROM t ORDER BY m LIMIT 100",
        // Sealed segments answer these from their dictionaries' ends; consuming ones
        // (unsorted dictionaries) by reading the values.
        "SELECT MIN(n), MAX(n), MIN(ts), MAX(ts), MIN(c), MAX(s), MIN(r), MAX(f), MIN(i), COUNT(*) FROM t",
        "SELECT MAX(c), MIN(b), MAX(flag) FROM t",
    ] {
        same(sql);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn consuming_equals_sealed(predicate in predicate()) {
        let select = format!("SELECT id FROM t WHERE {predicate} ORDER BY id LIMIT 100000");
        prop_assert_eq!(rows(&common::table().0, &select), rows(consuming_table(), &select), "{}", select);
        let aggregate = format!(
            "SELECT COUNT(*), SUM(n), MIN(r), MAX(f), COUNT(DISTINCT c), COUNT(DISTINCT i), COUNT(DISTINCT ts) FROM t WHERE {predicate}"
        );
        prop_assert_eq!(rows(&common::table().0, &aggregate), rows(consuming_table(), &aggregate), "{}", aggregate);
        let grouped = format!(
            "SELECT DATE_TRUNC('day', ts) AS d, i * 2, COUNT(*), COUNT(DISTINCT s) FROM t WHERE {predicate} \
             GROUP BY DATE_TRUNC('day', ts), i * 2 ORDER BY d, 2 LIMIT 1000"
        );
        prop_assert_eq!(rows(&common::table().0, &grouped), rows(consuming_table(), &grouped), "{}", grouped);
    }
}
