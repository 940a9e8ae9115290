//! Property: every predicate selects the same rows through the indexes (sorted ranges,
//! inverted bitmaps, range index, bloom pruning, dictionary-id scans, null bitmaps) as
//! through a full scan with `useIndexes = false`.

mod common;

use common::predicate;
use proptest::prelude::*;
use tessera_query::QueryOptions;

/// The default options, with indexes on or off.
fn options(use_indexes: bool) -> QueryOptions {
    QueryOptions {
        use_indexes,
        ..QueryOptions::default()
    }
}

fn rows(sql: &str, use_indexes: bool) -> Result<Vec<String>, String> {
    common::result_rows(&common::table().0, sql, options(use_indexes))
}

/// `sql` answers (an error fails, even the same error both ways) and answers the same
/// through the indexes as by full scans.
fn same_answer(sql: &str) -> Result<(), TestCaseError> {
    let indexed = rows(sql, true);
    prop_assert!(indexed.is_ok(), "{sql}: {indexed:?}");
    prop_assert_eq!(indexed, rows(sql, false), "{}", sql);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn index_path_equals_full_scan(predicate in predicate()) {
        same_answer(&format!("SELECT id FROM t WHERE {predicate} ORDER BY id LIMIT 100000"))?;
        same_answer(&format!("SELECT COUNT(*), SUM(n), MIN(r), COUNT(DISTINCT c), COUNT(DISTINCT i), COUNT(DISTINCT ts) FROM t WHERE {predicate}"))?;
        // MIN/MAX of dictionary columns compare ids with indexes on, values with them off.
        same_answer(&format!("SELECT MIN(c), MAX(c), MIN(s), MAX(i), MIN(ts), MAX(ts), MIN(b) FROM t WHERE {predicate}"))?;
        // Keys derived from one dictionary column are grouped by dictionary id with
        // indexes on and per row with them off.
        let grouped = format!(
            "SELECT DATE_TRUNC('day', ts) AS d, i * 2, COUNT(*), COUNT(DISTINCT s), MAX(c), MIN(i) FROM t WHERE {predicate} \
             GROUP BY DATE_TRUNC('day', ts), i * 2 ORDER BY d, 2 LIMIT 1000"
        );
        same_answer(&grouped)?;
    }

    /// Sums of products with dictionary-column factors are summed per dictionary id with
    /// indexes on (and multiplied out at the end), per row with them off. The values are
    /// short binary fractions, so both orders of summation are exact.
    #[test]
    fn factored_sums_equal_per_row_sums(predicate in predicate(), key in prop::sample::select(vec!["c", "i", "flag", "DATE_TRUNC('day', ts)"])) {
        let aggregates = "SUM(r * (1 - f)), SUM(r * (1 - f) * (1 + i)), AVG(n), SUM(n), SUM(i * 3), \
             AVG(r * f), SUM(r), AVG(r), COUNT(*), SUM(f * 2 * n), SUM(CASE WHEN c = 'beta' THEN r ELSE 0 END), \
             SUM(COALESCE(i, 7) * r)";
        let grouped = format!(
            "SELECT {key}, {aggregates} FROM t WHERE {predicate} GROUP BY {key} ORDER BY 1 LIMIT 1000"
        );
        same_answer(&grouped)?;
        same_answer(&format!("SELECT {aggregates} FROM t WHERE {predicate}"))?;
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
    assert!(
        explain("SELECT id FROM t WHERE x LIKE 'beta gamma%'").contains("TEXT_INDEX_CANDIDATES")
    );
    assert!(
        explain("SELECT id FROM t WHERE REGEXP_LIKE(x, 'gam.*Zeta')")
            .contains("TEXT_INDEX_CANDIDATES")
    );
    assert!(explain("SELECT id FROM t WHERE x NOT LIKE 'beta gamma%'").contains("FULL_SCAN"));
    assert!(explain("SELECT id FROM t WHERE n * 2 > 3").contains("DICTIONARY_EVAL"));
    assert!(explain("SELECT id FROM t WHERE n * 2 > i").contains("FULL_SCAN"));
    // Comparisons of one dictionary column merge into one id range: one line, beside the
    // other leaves of the AND.
    let merged = explain("SELECT id FROM t WHERE i BETWEEN 2 AND 5 AND c = 'beta' AND i <> 3");
    assert!(
        merged.contains("DICTIONARY_ID_SCAN(predicate:i >= 2 AND i <= 5, idRange:merged)"),
        "{merged}"
    );
    assert!(
        merged.contains("INVERTED_INDEX") && merged.contains("i <> 3"),
        "{merged}"
    );
    // An OR that leaves out one id range is one complement scan (here: every non-NULL
    // id); an OR of other shapes is a union of its children.
    let complement = explain("SELECT id FROM t WHERE i NOT BETWEEN 2 AND 5");
    assert!(
        complement.contains("(predicate:i < 2 OR i > 5, idRange:complement)"),
        "{complement}"
    );
    assert!(explain("SELECT id FROM t WHERE i >= 2 OR i <= 5").contains("idRange:complement"));
    let union = explain("SELECT id FROM t WHERE i = 2 OR i = 5");
    assert!(
        union.contains("FILTER_OR") && !union.contains("idRange"),
        "{union}"
    );
    // A raw DOUBLE column with a range index keeps its comparisons (the index answers
    // each); without one they would run as one value range.
    let doubles = explain("SELECT id FROM t WHERE r BETWEEN 1 AND 2 AND c = 'beta'");
    assert!(
        doubles.contains("RANGE_INDEX") && !doubles.contains("valueRange"),
        "{doubles}"
    );
}

/// Asserts `predicate` on the wordy table answers as the full scan does, through the
/// access path EXPLAIN names `path`; returns whether it matched any row.
fn assert_wordy_equals_the_scan(predicate: &str, path: &str) -> bool {
    let table = common::wordy_table();
    let sql = format!("SELECT COUNT(*), MIN(id), MAX(id) FROM t WHERE {predicate}");
    let indexed = common::result_rows(table, &sql, options(true)).expect("answers");
    assert_eq!(
        indexed,
        common::result_rows(table, &sql, options(false)).expect("answers"),
        "{predicate}"
    );
    let explained = common::result_rows(table, &format!("EXPLAIN PLAN FOR {sql}"), options(true))
        .expect("explains");
    assert!(
        explained.iter().any(|line| line.contains(path)),
        "{predicate}: {explained:?}"
    );
    !indexed[0].starts_with("[Long(0)")
}

/// LIKE and REGEXP_LIKE shapes the text index narrows to candidates (the docs with a
/// token containing each word of the pattern's literals) answer as the full scan does;
/// so do those whose words are too common for it.
#[test]
fn test_text_index_candidates_equal_the_scan() {
    let matched = [
        "x LIKE 'w1ord w2ord w3ord'",
        "x LIKE 'w1ord w2ord w3%'",
        "x LIKE '%ord w2ord w3ord'",
        "x LIKE '%1ord w2ord w3o%'",
        "x LIKE 'W1ORD W2ORD W3%'",
        "x LIKE 'w1_rd w2ord w3ord%'",
        // Literals every match starts and ends with: the leading and trailing runs.
        "x LIKE 'w1ord%w3ord'",
        "x LIKE 'w1%3ord'",
        "x LIKE 'w1ord w2o_d%'",
        "REGEXP_LIKE(x, 'w7ord.*w8ord')",
        "REGEXP_LIKE(x, '^w7ord zz')",
        "REGEXP_LIKE(x, 'W7ORD ZZ W8')",
        // Words too common for candidates: the scan answers.
        "x LIKE 'w1ord w2ord%'",
        "x LIKE '%w5ord w6ord'",
    ]
    .into_iter()
    .filter(|predicate| assert_wordy_equals_the_scan(predicate, "TEXT_INDEX_CANDIDATES"))
    .count();
    assert!(matched >= 11, "most patterns match some rows: {matched}");
}

/// `LIKE 'word%'` and `LIKE '%word'` with an alphanumeric word on a raw, text-indexed
/// column are answered by the text index's leading and trailing runs alone (no value
/// read) and equal the full scan, NOT LIKE and case included.
#[test]
fn test_text_index_prefixes_and_suffixes_equal_the_scan() {
    let matched = [
        "x LIKE 'w1ord%'",
        "x LIKE 'w1%'",
        "x LIKE 'w%'",
        "x LIKE 'W1ORD%'",
        "x LIKE 'w39ord%'",
        "x LIKE 'zz%'",
        "x NOT LIKE 'w7%'",
        "x LIKE '%w3ord'",
        "x LIKE '%ord'",
        "x LIKE '%W8ORD'",
        "x NOT LIKE '%3ord'",
    ]
    .into_iter()
    .filter(|predicate| assert_wordy_equals_the_scan(predicate, "TEXT_INDEX"))
    .count();
    assert!(matched >= 10, "most patterns match some rows: {matched}");
    // The index names no value it did not read: the edge runs answered alone.
    let table = common::wordy_table();
    for sql in [
        "SELECT COUNT(*) FROM t WHERE x LIKE 'w1ord%'",
        "SELECT COUNT(*) FROM t WHERE x LIKE '%w1ord'",
    ] {
        let indexed =
            tessera_query::run(sql, options(true), std::slice::from_ref(table)).expect("answers");
        assert_eq!(indexed.stats.num_entries_scanned_in_filter, 0, "{sql}");
        let scanned =
            tessera_query::run(sql, options(false), std::slice::from_ref(table)).expect("answers");
        assert!(scanned.stats.num_entries_scanned_in_filter > 0, "{sql}");
    }
}

/// MIN and MAX over a whole segment come from its dictionaries' ends with indexes on,
/// from the values with them off; a filter or a group key takes the values either way.
#[test]
fn test_min_max_from_dictionaries_equal_the_scan() {
    for sql in [
        "SELECT MIN(n), MAX(n), MIN(ts), MAX(ts), MIN(c), MAX(s), MIN(r), MAX(f), MIN(i), COUNT(*) FROM t",
        "SELECT MAX(c), MIN(b), MAX(flag), MIN(s) FROM t",
        "SELECT MIN(n), MAX(ts) FROM t WHERE i > 2",
    ] {
        let indexed = rows(sql, true);
        assert!(indexed.is_ok(), "{sql}: {indexed:?}");
        assert_eq!(indexed, rows(sql, false), "{sql}");
    }
}

/// An OR of comparisons of one dictionary column that leaves out one id range (NOT
/// BETWEEN and its spellings) is one complement scan with indexes on; NULLs stay out.
#[test]
fn test_or_of_comparisons_outside_a_range_equals_the_scan() {
    for predicate in [
        "i NOT BETWEEN -3 AND 4",
        "i < -3 OR i > 4",
        "i <= -3 OR i >= 4 OR i < -100",
        "i > 4 OR i < -3",
        "i < 100 OR i > -100",
        "i < -1000 OR i > 1000",
        "i > 2 OR i > 5",
        "i < 2 OR i < 5",
        "c NOT BETWEEN 'b' AND 'm'",
        "c < 'b' OR c >= 'm'",
        "ts < 1000 OR ts > 2000",
        "i < -3 OR i = 0 OR i > 4",
        "i < -3 OR c > 'm'",
    ] {
        let sql = format!("SELECT COUNT(*), SUM(n) FROM t WHERE {predicate}");
        let indexed = rows(&sql, true);
        assert!(indexed.is_ok(), "{sql}: {indexed:?}");
        assert_eq!(indexed, rows(&sql, false), "{sql}");
    }
}

/// Comparisons of two columns of a row (integer-backed or floating pairs read into
/// buffers) agree with the generic evaluation of the same comparison written over
/// expressions (`(i + 0) < (n + 0)`), NULLs on either side included.
#[test]
fn test_column_against_column_equals_the_generic_evaluation() {
    for (a, op, b) in [
        ("i", "<", "n"),
        ("n", ">=", "i"),
        ("b", "=", "n"),
        ("ts", ">", "n"),
        ("i", "<>", "b"),
        ("r", "<", "f"),
        ("f", ">=", "r"),
        ("r", "=", "r"),
        ("i", "=", "i"),
    ] {
        let direct = format!("{a} {op} {b}");
        let generic = format!("({a} + 0) {op} ({b} + 0)");
        for shape in [
            "SELECT COUNT(*), SUM(n) FROM t WHERE {}",
            "SELECT COUNT(*) FROM t WHERE NOT ({})",
            "SELECT COUNT(*) FROM t WHERE {} AND c = 'beta'",
        ] {
            let sql = shape.replace("{}", &direct);
            let fast = rows(&sql, true);
            assert!(fast.is_ok(), "{sql}: {fast:?}");
            assert_eq!(fast, rows(&shape.replace("{}", &generic), false), "{sql}");
            assert_eq!(fast, rows(&sql, false), "{sql}");
        }
    }
}

/// DOUBLE arithmetic compared with a literal, computed over whole blocks of f64 values,
/// agrees with the generic evaluation (the same expression divided by 1, which that path
/// alone evaluates), NULLs in any column included.
#[test]
fn test_double_arithmetic_filters_equal_the_generic_evaluation() {
    for (expression, op, literal) in [
        ("r * (1 - f)", ">", "0.5"),
        ("r * (1 - f)", "<=", "2"),
        ("-r + f * 2", "<", "1"),
        ("ABS(r - 0.25)", "<", "0.5"),
        ("FLOOR(r * 3) - n", ">=", "-4"),
        ("CEIL(f) * i", "=", "2"),
        ("r + n * 0.5", "<>", "3"),
        // Every pairing of computed values, columns and constants, in both orders (a
        // difference compared with 0 is planned as a comparison of its two sides).
        ("2 - r * f", ">", "1"),
        ("r - f", ">", "0.25"),
        ("(2 - 1) * r", "<", "0.5"),
        ("r - f * 2", ">", "0.5"),
        ("f * 2 - r", ">", "0.5"),
        ("-(r) - -(f)", "<=", "0"),
    ] {
        let direct = format!("{expression} {op} {literal}");
        let generic = format!("({expression}) / 1 {op} {literal}");
        for shape in [
            "SELECT COUNT(*), SUM(n) FROM t WHERE {}",
            "SELECT COUNT(*) FROM t WHERE NOT ({})",
            "SELECT id FROM t WHERE {} ORDER BY id LIMIT 100000",
        ] {
            let sql = shape.replace("{}", &direct);
            let fast = rows(&sql, true);
            assert!(fast.is_ok(), "{sql}: {fast:?}");
            assert_eq!(fast, rows(&shape.replace("{}", &generic), false), "{sql}");
        }
    }
}

/// GROUP BY dictionary columns whose key space is too large for an array (two columns of
/// a thousand and tens of thousands of values) groups each segment's rows by sorting
/// their codes; a key space a few times the rows (`b, i, c`: 189,189 codes for 60,000
/// rows) uses the code as the group. The segments' flat keys merge. The same keys as
/// expressions, with indexes off, are hashed by value row by row. Both give the same
/// groups and aggregates, NULL keys included; so does `COUNT(*)` alone, which the sort
/// counts without giving any row its group.
#[test]
fn test_large_key_spaces_group_by_sorting_as_by_hashing_values() {
    for (table, (columns, expressions), aggregates) in [common::wordy_table(), &common::table().0]
        .into_iter()
        .flat_map(|table| {
            [
                ("b, ts", "b + 0, ts"),
                ("ts, b", "ts, b * 1"),
                ("ts", "ts + 0"),
                ("i, b, ts", "i + 0, b, ts"),
                ("b, i, c", "b + 0, i, c"),
                ("b, n, flag", "b, n + 0, flag"),
            ]
            .into_iter()
            .flat_map(move |keys| {
                [
                    "COUNT(*), SUM(n), MIN(r), MAX(ts), COUNT(DISTINCT c)",
                    "COUNT(*), SUM(n), MIN(r), MAX(ts), AVG(f)",
                    // COUNT(*) alone: counted by the sort, no row's group kept.
                    "COUNT(*), COUNT(*) * 2",
                ]
                .into_iter()
                .map(move |aggregates| (table, keys, aggregates))
            })
        })
    {
        {
            let width = columns.split(',').count();
            let keys: Vec<String> = (1..=width).map(|k| k.to_string()).collect();
            let keys = keys.join(", ");
            let count = width + 1;
            for tail in [
                format!("ORDER BY {keys} LIMIT 100000"),
                format!("ORDER BY {count} DESC, {keys} LIMIT 7"),
            ] {
                let sorted = format!(
                    "SELECT {columns}, {aggregates} FROM t WHERE id % 5 <> 1 GROUP BY {columns} {tail}"
                );
                let hashed = format!(
                    "SELECT {expressions}, {aggregates} FROM t WHERE id % 5 <> 1 GROUP BY {expressions} {tail}"
                );
                let got = common::result_rows(table, &sorted, options(true)).expect("answers");
                let expected =
                    common::result_rows(table, &hashed, options(false)).expect("answers");
                assert!(got.len() > 5, "{sorted}: {} rows", got.len());
                assert_eq!(got.len(), expected.len(), "{sorted}");
                if let Some((row, (a, b))) = got
                    .iter()
                    .zip(&expected)
                    .enumerate()
                    .find(|(_, (a, b))| a != b)
                {
                    panic!("{sorted}: row {row} is {a}, by hashing {b}");
                }
            }
        }
    }
}
