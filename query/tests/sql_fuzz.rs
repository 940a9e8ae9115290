//! No SQL text can panic the engine: grammar-shaped random queries, token soup, and
//! byte-level mutations of valid queries all end in a result or a clean error. Queries
//! from the typed valid-query generator must answer — an error fails them — and answer
//! alike through the indexes and by full scans. The
//! corpus in `tests/fuzz-corpus/` keeps the inputs that once broke something (or came
//! close); every file in it is replayed.

mod common;

use std::path::Path;

use proptest::prelude::*;
use tessera_query::QueryOptions;

fn run(sql: &str) {
    let (table, _) = common::table();
    let options = QueryOptions {
        timeout_ms: 5_000,
        ..QueryOptions::default()
    };
    // Ok or Err are both fine; a panic fails the test.
    let _ = tessera_query::run(sql, options, std::slice::from_ref(table));
}

const TOKENS: &[&str] = &[
    "SELECT",
    "FROM",
    "t",
    "WHERE",
    "GROUP",
    "BY",
    "ORDER",
    "HAVING",
    "LIMIT",
    "OFFSET",
    "AND",
    "OR",
    "NOT",
    "IN",
    "IS",
    "NULL",
    "LIKE",
    "BETWEEN",
    "DISTINCT",
    "AS",
    "ASC",
    "DESC",
    "NULLS",
    "FIRST",
    "LAST",
    "CASE",
    "WHEN",
    "THEN",
    "ELSE",
    "END",
    "CAST",
    "(",
    ")",
    ",",
    "*",
    "+",
    "-",
    "/",
    "%",
    "=",
    "<>",
    "<",
    ">=",
    "'a'",
    "'%a%'",
    "''",
    "0",
    "1",
    "-1",
    "2.5",
    "1e308",
    "9223372036854775807",
    "-9223372036854775808",
    "id",
    "s",
    "c",
    "i",
    "b",
    "m",
    "x",
    "n",
    "r",
    "f",
    "ts",
    "flag",
    "COUNT",
    "SUM",
    "AVG",
    "MIN",
    "MAX",
    "DISTINCTCOUNT",
    "DISTINCTCOUNTHLL",
    "PERCENTILE",
    "PERCENTILETDIGEST",
    "MINMAXRANGE",
    "LOWER",
    "UPPER",
    "SUBSTR",
    "CONCAT",
    "LENGTH",
    "ABS",
    "FLOOR",
    "CEIL",
    "ROUND",
    "COALESCE",
    "DATE_TRUNC",
    "EXTRACT",
    "YEAR",
    "DATETRUNC",
    "DATETIMECONVERT",
    "FROMDATETIME",
    "TODATETIME",
    "TEXT_MATCH",
    "REGEXP_LIKE",
    "'day'",
    "'1:MILLISECONDS:EPOCH'",
    "'1:HOURS'",
    "'yyyy-MM-dd'",
    "DATE",
    "TIMESTAMP",
    "'2024-01-05'",
    "BIGINT",
    "VARCHAR",
    "DOUBLE",
    "FILTER",
    "SET",
    "timeoutMs",
    ";",
    "EXPLAIN",
    "PLAN",
    "FOR",
    "JOIN",
    "ON",
    "UNION",
    "WITH",
    "true",
    "false",
];

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec(0..TOKENS.len(), 1..40).prop_map(|picks| {
        picks
            .iter()
            .map(|i| TOKENS[*i])
            .collect::<Vec<_>>()
            .join(" ")
    })
}

fn scalar() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("id".to_string()),
        Just("n".to_string()),
        Just("r".to_string()),
        Just("f".to_string()),
        Just("i".to_string()),
        Just("ts".to_string()),
        Just("s".to_string()),
        Just("m".to_string()),
        Just("NULL".to_string()),
        (-3i64..3).prop_map(|v| v.to_string()),
        Just("9223372036854775807".to_string()),
        Just("'2024-01-03'".to_string()),
        Just("0.0".to_string()),
    ];
    leaf.prop_recursive(3, 16, 3, |inner| {
        prop_oneof![
            (
                inner.clone(),
                prop::sample::select(vec!["+", "-", "*", "/", "%"]),
                inner.clone()
            )
                .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            (
                prop::sample::select(vec![
                    "ABS", "FLOOR", "CEIL", "ROUND", "LOWER", "UPPER", "LENGTH", "YEAR"
                ]),
                inner.clone()
            )
                .prop_map(|(f, a)| format!("{f}({a})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("COALESCE({a}, {b})")),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(a, b, c)| format!("SUBSTR({a}, {b}, {c})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("ROUND({a}, {b})")),
            (
                inner.clone(),
                prop::sample::select(vec![
                    "BIGINT",
                    "DOUBLE",
                    "VARCHAR",
                    "INT",
                    "TIMESTAMP",
                    "BOOLEAN"
                ])
            )
                .prop_map(|(a, t)| format!("CAST({a} AS {t})")),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(c, a, b)| format!("CASE WHEN {c} > 0 THEN {a} ELSE {b} END")),
            inner
                .clone()
                .prop_map(|a| format!("DATE_TRUNC('week', {a})")),
            inner.clone().prop_map(|a| format!(
                "DATETIMECONVERT({a}, '1:SECONDS:EPOCH', '1:DAYS:EPOCH', '1:DAYS')"
            )),
            inner.prop_map(|a| format!("-{a}")),
        ]
    })
}

fn structured() -> impl Strategy<Value = String> {
    (
        scalar(),
        scalar(),
        prop::sample::select(vec!["=", "<>", "<", ">=", "IN (1, NULL)", "LIKE '%a_'", "IS NULL"]),
        prop::sample::select(vec!["COUNT(*)", "SUM", "MIN", "MAX", "AVG", "DISTINCTCOUNT", "PERCENTILE95", "MINMAXRANGE", "DISTINCTCOUNTHLL", "PERCENTILETDIGEST90"]),
        0u8..4,
        0usize..3,
    )
        .prop_map(|(a, b, op, agg, shape, limit)| {
            let predicate = if op.starts_with("IN") || op.starts_with("LIKE") || op.starts_with("IS") {
                format!("{a} {op}")
            } else {
                format!("{a} {op} {b}")
            };
            let aggregate = if agg == "COUNT(*)" { agg.to_string() } else { format!("{agg}({b})") };
            match shape {
                0 => format!("SELECT {a}, {b} FROM t WHERE {predicate} ORDER BY {a} DESC NULLS FIRST LIMIT {limit}"),
                1 => format!("SELECT {a}, {aggregate} FROM t WHERE {predicate} GROUP BY {a} HAVING {aggregate} > 1 ORDER BY 2 LIMIT 5 OFFSET {limit}"),
                2 => format!("SELECT DISTINCT {a} FROM t WHERE NOT ({predicate})"),
                _ => format!("SELECT {aggregate} FILTER (WHERE {predicate}) FROM t"),
            }
        })
}

fn mutated() -> impl Strategy<Value = String> {
    let seed = "SELECT c, COUNT(*) AS k, SUM(n * 2) FROM t WHERE s IN ('beta', 'gamma') AND ts >= DATE '2024-01-10' GROUP BY c HAVING k > 1 ORDER BY k DESC, c NULLS LAST LIMIT 3";
    prop::collection::vec((0usize..seed.len(), 0u8..3, any::<char>()), 1..6).prop_map(
        move |edits| {
            let mut chars: Vec<char> = seed.chars().collect();
            for (position, kind, c) in edits {
                let position = position.min(chars.len().saturating_sub(1));
                match kind {
                    0 if !chars.is_empty() => {
                        chars.remove(position);
                    }
                    1 => chars.insert(position, c),
                    _ if !chars.is_empty() => chars[position] = c,
                    _ => {}
                }
            }
            chars.into_iter().collect()
        },
    )
}

/// A numeric expression valid for the table that cannot fail on its data: columns of
/// small range (n, i) and binary fractions (r, f), small constants, `+ - *` at most
/// three deep (no overflow), functions defined for every number.
fn number() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("n".to_string()),
        Just("i".to_string()),
        Just("r".to_string()),
        Just("f".to_string()),
        (-3i64..4).prop_map(|v| v.to_string()),
        Just("0.5".to_string()),
    ];
    leaf.prop_recursive(3, 12, 2, |inner| {
        prop_oneof![
            (
                inner.clone(),
                prop::sample::select(vec!["+", "-", "*"]),
                inner.clone()
            )
                .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            (
                prop::sample::select(vec!["ABS", "FLOOR", "CEIL"]),
                inner.clone()
            )
                .prop_map(|(f, a)| format!("{f}({a})")),
            inner.clone().prop_map(|a| format!("COALESCE({a}, 0)")),
            inner.prop_map(|a| format!("-({a})")),
        ]
    })
}

/// A string expression valid for the table.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("s".to_string()),
        Just("c".to_string()),
        Just("LOWER(s)".to_string()),
        Just("UPPER(c)".to_string()),
        Just("CONCAT(s, c)".to_string()),
        Just("SUBSTR(c, 1, 2)".to_string()),
    ]
}

fn condition() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        (
            number(),
            prop::sample::select(vec!["=", "<>", "<", ">="]),
            number()
        )
            .prop_map(|(a, op, b)| format!("{a} {op} {b}")),
        (
            text(),
            prop::sample::select(vec!["'beta'", "'Zeta'", "''", "'日本'"])
        )
            .prop_map(|(a, v)| format!("{a} = {v}")),
        text().prop_map(|a| format!("{a} LIKE '%a%'")),
        text().prop_map(|a| format!("{a} IN ('alpha', 'gamma', NULL)")),
        number().prop_map(|a| format!("{a} IS NULL")),
        number().prop_map(|a| format!("{a} BETWEEN -1 AND 5")),
        Just("m = 'beta'".to_string()),
        Just("TEXT_MATCH(x, 'beta')".to_string()),
    ];
    leaf.prop_recursive(2, 6, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} AND {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} OR {b})")),
            inner.prop_map(|a| format!("NOT ({a})")),
        ]
    })
}

fn aggregate() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("COUNT(*)".to_string()),
        (
            prop::sample::select(vec![
                "SUM",
                "MIN",
                "MAX",
                "AVG",
                "PERCENTILE95",
                "MINMAXRANGE",
                "COUNT"
            ]),
            number()
        )
            .prop_map(|(f, a)| format!("{f}({a})")),
        text().prop_map(|a| format!("COUNT(DISTINCT {a})")),
        text().prop_map(|a| format!("MAX({a})")),
    ]
}

/// Queries valid for the table: each must answer (no error is acceptable), and the
/// same through the indexes as by full scans.
fn valid() -> impl Strategy<Value = String> {
    (number(), text(), condition(), aggregate(), aggregate(), 0u8..4).prop_map(
        |(number, text, condition, agg, agg2, shape)| match shape {
            0 => format!(
                "SELECT {number}, {text} FROM t WHERE {condition} ORDER BY 1, 2 NULLS LAST LIMIT 20"
            ),
            1 => format!(
                "SELECT {text}, {agg} FROM t WHERE {condition} GROUP BY {text} ORDER BY 1 NULLS LAST LIMIT 50"
            ),
            2 => format!("SELECT {agg}, {agg2} FROM t WHERE {condition}"),
            _ => format!(
                "SELECT {agg} FILTER (WHERE {condition}), {agg2} FROM t WHERE NOT ({condition})"
            ),
        },
    )
}

/// The rows of `sql` with indexes on or off, or its error.
fn answer(sql: &str, use_indexes: bool) -> Result<Vec<String>, String> {
    let options = QueryOptions {
        use_indexes,
        ..QueryOptions::default()
    };
    common::result_rows(&common::table().0, sql, options)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn token_soup_never_panics(sql in soup()) {
        run(&sql);
    }

    #[test]
    fn structured_queries_never_panic(sql in structured()) {
        run(&sql);
    }

    #[test]
    fn mutated_queries_never_panic(sql in mutated()) {
        run(&sql);
    }
}

#[test]
fn corpus_never_panics() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-corpus");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).expect("corpus dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "sql") {
            let sql = std::fs::read_to_string(&path).expect("read");
            run(&sql);
            count += 1;
        }
    }
    assert!(count > 0, "empty corpus at {}", dir.display());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// The valid-query generator's queries all answer — an error fails the test, even
    /// the same error both ways — and the index paths answer as the full scan does.
    #[test]
    fn valid_queries_answer_alike_with_and_without_indexes(sql in valid()) {
        let indexed = answer(&sql, true);
        prop_assert!(indexed.is_ok(), "{sql}: {indexed:?}");
        prop_assert_eq!(indexed, answer(&sql, false), "{}", sql);
    }
}
