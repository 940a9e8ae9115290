//! Property: every predicate selects the same rows through the indexes (sorted ranges,
//! inverted bitmaps, range index, bloom pruning, dictionary-id scans, null bitmaps) as
//! through a full scan with `useIndexes = false`.

mod common;

use proptest::prelude::*;
use tessera_query::QueryOptions;

fn literal_for(column: &str, pick: u64) -> String {
    match column {
        "s" | "c" | "m" | "x" => format!("'{}'", common::WORDS[(pick % 8) as usize]),
        "i" => ((pick % 24) as i64 - 12).to_string(),
        "b" => format!("{}", pick % 1100),
        "n" => {
            if pick.is_multiple_of(5) {
                format!("{}.5", pick % 50)
            } else {
                format!("{}", (pick % 60) as i64 - 30)
            }
        }
        "r" => format!("{}", (pick % 440) as f64 / 4.0 - 55.0),
        "f" => format!("{}", (pick % 70) as f64 / 8.0),
        "ts" => format!("TIMESTAMP '2024-01-{:02} 00:00:00'", 1 + pick % 31),
        "flag" => {
            if pick.is_multiple_of(2) {
                "true".into()
            } else {
                "false".into()
            }
        }
        _ => "0".into(),
    }
}

const COLUMNS: [&str; 11] = ["s", "c", "i", "b", "n", "r", "f", "ts", "m", "x", "flag"];

fn leaf() -> impl Strategy<Value = String> {
    (
        0usize..COLUMNS.len(),
        0u64..1_000_000,
        0u64..1_000_000,
        0u8..9,
    )
        .prop_map(|(c, a, b, kind)| {
            let column = COLUMNS[c];
            let single = column != "m";
            match kind {
                0 => format!("{column} = {}", literal_for(column, a)),
                1 if single => format!("{column} <> {}", literal_for(column, a)),
                2 if column != "flag" => {
                    let op = ["<", "<=", ">", ">="][(a % 4) as usize];
                    format!("{column} {op} {}", literal_for(column, b))
                }
                3 if single && column != "flag" => format!(
                    "{column} BETWEEN {} AND {}",
                    literal_for(column, a),
                    literal_for(column, b)
                ),
                4 => format!(
                    "{column} IN ({}, {})",
                    literal_for(column, a),
                    literal_for(column, b)
                ),
                5 if single => format!(
                    "{column} NOT IN ({}, {})",
                    literal_for(column, a),
                    literal_for(column, b)
                ),
                6 => format!("{column} IS {}NULL", if a % 2 == 0 { "NOT " } else { "" }),
                7 if matches!(column, "s" | "c" | "x" | "m") => {
                    let pattern = [
                        "a%", "%a%", "_e%", "%日%", "", "%", "be__", "%eta%", "%Zet%", "%ZETA%",
                    ][(a % 10) as usize];
                    let not = if single && b % 2 == 0 { "NOT " } else { "" };
                    format!("{column} {not}LIKE '{pattern}'")
                }
                _ => format!("{column} IS NULL"),
            }
        })
}

fn predicate() -> impl Strategy<Value = String> {
    leaf().prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4)
                .prop_map(|v| format!("({})", v.join(" AND "))),
            prop::collection::vec(inner.clone(), 2..4)
                .prop_map(|v| format!("({})", v.join(" OR "))),
            inner.prop_map(|p| format!("NOT ({p})")),
        ]
    })
}

fn rows(sql: &str, use_indexes: bool) -> Result<Vec<String>, String> {
    let (table, _) = common::table();
    let options = QueryOptions {
        use_indexes,
        ..QueryOptions::default()
    };
    let outcome =
        tessera_query::run(sql, options, std::slice::from_ref(table)).map_err(|e| e.message)?;
    Ok(outcome
        .result
        .rows
        .iter()
        .map(|r| format!("{r:?}"))
        .collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn index_path_equals_full_scan(predicate in predicate()) {
        let select = format!("SELECT id FROM t WHERE {predicate} ORDER BY id LIMIT 100000");
        let indexed = rows(&select, true);
        let scanned = rows(&select, false);
        prop_assert_eq!(&indexed, &scanned, "{}", select);
        prop_assert!(indexed.is_ok(), "{select}: {indexed:?}");
        let aggregate = format!("SELECT COUNT(*), SUM(n), MIN(r), COUNT(DISTINCT c), COUNT(DISTINCT i), COUNT(DISTINCT ts) FROM t WHERE {predicate}");
        prop_assert_eq!(rows(&aggregate, true), rows(&aggregate, false), "{}", aggregate);
        // Keys derived from one dictionary column are grouped by dictionary id with
        // indexes on and per row with them off.
        let grouped = format!(
            "SELECT DATE_TRUNC('day', ts) AS d, i * 2, COUNT(*), COUNT(DISTINCT s) FROM t WHERE {predicate} \
             GROUP BY DATE_TRUNC('day', ts), i * 2 ORDER BY d, 2 LIMIT 1000"
        );
        prop_assert_eq!(rows(&grouped, true), rows(&grouped, false), "{}", grouped);
    }
}

#[test]
fn sorted_inverted_and_range_paths_are_taken() {
    let (table, _) = common::table();
    let explain = |sql: &str| {
        let outcome = tessera_query::run(
            &format!("EXPLAIN PLAN FOR {sql}"),
            QueryOptions::default(),
            std::slice::from_ref(table),
        )
        .expect("explains");
        format!("{:?}", outcome.result.rows)
    };
    assert!(explain("SELECT id FROM t WHERE s = 'beta'").contains("SORTED_INDEX"));
    assert!(explain("SELECT id FROM t WHERE c = 'beta'").contains("INVERTED_INDEX"));
    assert!(explain("SELECT id FROM t WHERE r > 3").contains("RANGE_INDEX"));
    assert!(explain("SELECT id FROM t WHERE i = 3").contains("DICTIONARY_ID_SCAN"));
    assert!(explain("SELECT id FROM t WHERE TEXT_MATCH(x, 'beta')").contains("TEXT_INDEX"));
    assert!(explain("SELECT id FROM t WHERE n * 2 > 3").contains("DICTIONARY_EVAL"));
    assert!(explain("SELECT id FROM t WHERE n * 2 > i").contains("FULL_SCAN"));
}
