//! SQL semantics on a small table, checked against answers computed here from the rows
//! themselves: NULL handling, three-valued logic, multi-value matching, ORDER BY with
//! NULL placement, LIMIT/OFFSET, HAVING, DISTINCT, aggregates over no rows.

mod common;

use tessera_query::QueryOptions;
use tessera_query::types::Scalar;
use tessera_segment::Value;

fn query(sql: &str) -> Vec<Vec<Scalar>> {
    let (table, _) = common::table();
    tessera_query::run(sql, QueryOptions::default(), std::slice::from_ref(table))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .result
        .rows
}

fn rows() -> &'static [Vec<Value>] {
    &common::table().1
}

/// Column index in the schema order.
fn col(name: &str) -> usize {
    [
        "id", "s", "c", "i", "b", "m", "x", "flag", "n", "r", "f", "ts",
    ]
    .iter()
    .position(|c| *c == name)
    .expect("column")
}

fn long(v: &Scalar) -> i64 {
    v.as_i64().expect("long")
}

#[test]
fn count_skips_nulls_and_sum_of_nothing_is_null() {
    let result = query("SELECT COUNT(*), COUNT(n), SUM(n), AVG(r), MIN(c), MAX(ts) FROM t");
    let expected_count = rows().iter().filter(|r| !r[col("n")].is_null()).count() as i64;
    let expected_sum: i64 = rows()
        .iter()
        .filter_map(|r| match r[col("n")] {
            Value::Long(v) => Some(v),
            _ => None,
        })
        .sum();
    assert_eq!(long(&result[0][0]), 2200);
    assert_eq!(long(&result[0][1]), expected_count);
    assert_eq!(long(&result[0][2]), expected_sum);
    let empty = query("SELECT COUNT(*), COUNT(n), SUM(n), AVG(r), MIN(c) FROM t WHERE id < 0");
    assert_eq!(long(&empty[0][0]), 0);
    assert_eq!(long(&empty[0][1]), 0);
    assert!(empty[0][2].is_null() && empty[0][3].is_null() && empty[0][4].is_null());
    // GROUP BY over no rows has no groups.
    assert!(query("SELECT c, COUNT(*) FROM t WHERE id < 0 GROUP BY c").is_empty());
}

#[test]
fn three_valued_logic() {
    let nulls = rows().iter().filter(|r| r[col("n")].is_null()).count() as i64;
    let count = |sql: &str| long(&query(sql)[0][0]);
    let total = 2200;
    // n = 1 OR NOT n = 1 misses exactly the NULLs.
    assert_eq!(
        count("SELECT COUNT(*) FROM t WHERE n = 1 OR NOT (n = 1)"),
        total - nulls
    );
    // NOT IN with a NULL in the list is never TRUE.
    assert_eq!(count("SELECT COUNT(*) FROM t WHERE n NOT IN (1, NULL)"), 0);
    // ... and IN with a NULL matches the listed value only.
    let ones = rows()
        .iter()
        .filter(|r| r[col("n")] == Value::Long(1))
        .count() as i64;
    assert_eq!(count("SELECT COUNT(*) FROM t WHERE n IN (1, NULL)"), ones);
    assert_eq!(
        count("SELECT COUNT(*) FROM t WHERE NOT (n IN (1, NULL))"),
        0
    );
    assert_eq!(count("SELECT COUNT(*) FROM t WHERE n IS NULL"), nulls);
    assert_eq!(
        count("SELECT COUNT(*) FROM t WHERE NOT (n IS NULL)"),
        total - nulls
    );
}

#[test]
fn multi_value_predicates_match_any_element() {
    let has = |r: &Vec<Value>, word: &str| match &r[col("m")] {
        Value::Array(items) => items.iter().any(|v| *v == Value::String(word.into())),
        _ => false,
    };
    let any_beta = rows().iter().filter(|r| has(r, "beta")).count() as i64;
    let no_beta = rows()
        .iter()
        .filter(|r| !r[col("m")].is_null() && !has(r, "beta"))
        .count() as i64;
    assert_eq!(
        long(&query("SELECT COUNT(*) FROM t WHERE m = 'beta'")[0][0]),
        any_beta
    );
    assert_eq!(
        long(&query("SELECT COUNT(*) FROM t WHERE m <> 'beta'")[0][0]),
        no_beta
    );
    assert_eq!(
        long(&query("SELECT COUNT(*) FROM t WHERE NOT (m = 'beta')")[0][0]),
        no_beta
    );
}

#[test]
fn order_by_nulls_limit_offset() {
    let first = query("SELECT n, id FROM t ORDER BY n ASC NULLS FIRST, id LIMIT 3");
    assert!(first.iter().all(|r| r[0].is_null()));
    let last = query("SELECT n FROM t ORDER BY n DESC NULLS LAST LIMIT 1 OFFSET 0");
    let max = rows()
        .iter()
        .filter_map(|r| match r[col("n")] {
            Value::Long(v) => Some(v),
            _ => None,
        })
        .max()
        .expect("values");
    assert_eq!(long(&last[0][0]), max);
    // Default: ASC puts NULLs last, DESC first (PostgreSQL).
    let desc = query("SELECT n FROM t ORDER BY n DESC LIMIT 1");
    assert!(desc[0][0].is_null());
    let page = query("SELECT id FROM t ORDER BY id LIMIT 5 OFFSET 1498");
    let ids: Vec<i64> = page.iter().map(|r| long(&r[0])).collect();
    assert_eq!(ids, vec![1498, 1499, 1500, 1501, 1502]);
    // A selection without LIMIT returns the default 10 rows.
    assert_eq!(query("SELECT id FROM t").len(), 10);
}

#[test]
fn having_distinct_and_filter_clauses() {
    let groups = query("SELECT c, COUNT(*) AS k FROM t GROUP BY c HAVING k > 250 ORDER BY k DESC");
    assert!(groups.iter().all(|r| long(&r[1]) > 250));
    let distinct = query("SELECT DISTINCT c FROM t ORDER BY c NULLS LAST");
    assert_eq!(distinct.len(), 9, "8 words and NULL: {distinct:?}");
    assert!(distinct[8][0].is_null());
    let filtered = query("SELECT COUNT(*) FILTER (WHERE c = 'beta'), COUNT(*) FROM t");
    let betas = rows()
        .iter()
        .filter(|r| r[col("c")] == Value::String("beta".into()))
        .count() as i64;
    assert_eq!(long(&filtered[0][0]), betas);
    assert_eq!(long(&filtered[0][1]), 2200);
}

#[test]
fn time_functions_and_literals() {
    let by_day = query(
        "SELECT DATE_TRUNC('day', ts) AS d, COUNT(*) FROM t WHERE ts >= '2024-01-10' AND ts < TIMESTAMP '2024-01-12 00:00:00' GROUP BY d ORDER BY d",
    );
    assert_eq!(by_day.len(), 2);
    assert_eq!(long(&by_day[0][0]), 1_704_844_800_000);
    let year =
        query("SELECT EXTRACT(YEAR FROM ts), YEAR(ts), DATETRUNC('month', ts) FROM t LIMIT 1");
    assert_eq!(long(&year[0][0]), 2024);
    assert_eq!(long(&year[0][1]), 2024);
    assert_eq!(long(&year[0][2]), 1_704_067_200_000);
    let text = query("SELECT TODATETIME(ts, 'yyyy-MM-dd') FROM t WHERE id = 0");
    assert!(matches!(&text[0][0], Scalar::Str(s) if s.starts_with("2024-01-")));
}

#[test]
fn group_top_n_trimmed_per_segment_equals_the_untrimmed_order() {
    let (table, _) = common::table();
    let cases = [
        ("i, c", "i DESC, c", 4),
        ("i, c", "c NULLS FIRST, i", 7),
        ("b", "b", 10),
        (
            "DATE_TRUNC('day', ts), flag",
            "flag DESC NULLS FIRST, DATE_TRUNC('day', ts)",
            5,
        ),
    ];
    for (keys, order, limit) in cases {
        let aggregates = "COUNT(*), SUM(n), AVG(r), MIN(c), COUNT(DISTINCT s)";
        let trimmed = format!(
            "SELECT {keys}, {aggregates} FROM t GROUP BY {keys} ORDER BY {order} LIMIT {limit} OFFSET 2"
        );
        let plan = tessera_query::engine::plan_for(
            &trimmed,
            QueryOptions::default(),
            std::slice::from_ref(table),
        )
        .expect("plans");
        assert_eq!(
            tessera_query::trim::groups_to_keep(&plan),
            Some(limit + 2),
            "{trimmed}"
        );
        let full = format!(
            "SELECT {keys}, {aggregates} FROM t GROUP BY {keys} ORDER BY {order} LIMIT 100000"
        );
        let expected: Vec<Vec<Scalar>> = query(&full).into_iter().skip(2).take(limit).collect();
        assert_eq!(query(&trimmed), expected, "{trimmed}");
    }
    // Ordering by an aggregate, or with HAVING, keeps every group (exact, untrimmed).
    for sql in [
        "SELECT i, COUNT(*) FROM t GROUP BY i ORDER BY COUNT(*) DESC LIMIT 3",
        "SELECT i, COUNT(*) FROM t GROUP BY i HAVING COUNT(*) > 1 ORDER BY i LIMIT 3",
        "SELECT i, c, COUNT(*) FROM t GROUP BY i, c ORDER BY i LIMIT 3",
    ] {
        let plan = tessera_query::engine::plan_for(
            sql,
            QueryOptions::default(),
            std::slice::from_ref(table),
        )
        .expect("plans");
        assert_eq!(tessera_query::trim::groups_to_keep(&plan), None, "{sql}");
    }
}

#[test]
fn percentile_spellings_are_the_pinot_aggregates_they_name() {
    let float = |v: &Scalar| v.as_f64().expect("a number");
    // The approximate spellings are the t-digest; the exact ones agree with each other.
    let approximate = query(
        "SELECT approx_quantile(r, 0.9), quantile(0.9)(r), quantileTDigest(0.9)(r), \
         PERCENTILETDIGEST(r, 90) FROM t",
    );
    let digest = float(&approximate[0][3]);
    for (i, value) in approximate[0].iter().enumerate().take(3) {
        assert_eq!(float(value), digest, "spelling {i}");
    }
    let exact = query(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY r), quantile_cont(r, 0.5), \
         median(r), percentile_disc(0.5) WITHIN GROUP (ORDER BY r), quantile_disc(r, 0.5) \
         FROM t",
    );
    let cont = float(&exact[0][0]);
    assert_eq!(float(&exact[0][1]), cont);
    assert_eq!(float(&exact[0][2]), cont);
    assert_eq!(float(&exact[0][3]), float(&exact[0][4]));
    // PERCENTILE_DISC is a value of the column: the first whose cumulative share
    // reaches the fraction.
    let mut values: Vec<f64> = rows()
        .iter()
        .filter_map(|r| match r[col("r")] {
            Value::Double(v) => Some(v),
            _ => None,
        })
        .collect();
    values.sort_by(f64::total_cmp);
    let disc = values[(values.len() as f64 * 0.5).ceil() as usize - 1];
    assert_eq!(float(&exact[0][3]), disc);
    // Grouped, over a group's rows only.
    let grouped = query("SELECT c, median(r) FROM t GROUP BY c ORDER BY c LIMIT 1");
    assert_eq!(grouped.len(), 1);
}

#[test]
fn mod_is_the_modulo_operator() {
    let both = query("SELECT COUNT(*) FROM t WHERE MOD(id, 7) = 3");
    let operator = query("SELECT COUNT(*) FROM t WHERE id % 7 = 3");
    assert_eq!(both, operator);
    assert!(long(&both[0][0]) > 0);
    assert_eq!(
        query("SELECT MOD(17, 5) FROM t LIMIT 1")[0][0].as_i64(),
        Some(2)
    );
}

#[test]
fn percentile_spellings_refuse_what_they_cannot_answer() {
    let error = |sql: &str| {
        let (table, _) = common::table();
        match tessera_query::run(sql, QueryOptions::default(), std::slice::from_ref(table)) {
            Ok(_) => panic!("{sql} should fail"),
            Err(error) => error.message,
        }
    };
    let message = error("SELECT percentile_cont(1.5) WITHIN GROUP (ORDER BY r) FROM t");
    assert!(message.contains("fraction from 0 to 1"), "{message}");
    let message = error("SELECT percentile_cont(0.5) FROM t");
    assert!(
        message.contains("WITHIN GROUP (ORDER BY value)"),
        "{message}"
    );
    let message = error("SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY r DESC) FROM t");
    assert!(message.contains("DESC"), "{message}");
    let message = error("SELECT SUM(r) WITHIN GROUP (ORDER BY r) FROM t");
    assert!(message.contains("WITHIN GROUP"), "{message}");
    let message = error("SELECT quantile(0.5, 0.9)(r) FROM t");
    assert!(message.contains("quantile(fraction)(value)"), "{message}");
}

/// `maxStateBytes` bounds what one query holds: each kind of growing state (exact
/// distinct values, exact percentile values, groups, selected rows) is refused by name
/// past a small limit, and answered under the default.
#[test]
fn state_past_max_state_bytes_is_refused_by_name() {
    let (table, _) = common::table();
    let run = |sql: &str, limit: Option<usize>| {
        let mut options = QueryOptions::default();
        if let Some(limit) = limit {
            options.max_state_bytes = limit;
        }
        tessera_query::run(sql, options, std::slice::from_ref(table))
    };
    for sql in [
        "SELECT COUNT(DISTINCT x) FROM t",
        "SELECT COUNT(DISTINCT id) FROM t",
        "SELECT COUNT(DISTINCT CONCAT(x, 'y')) FROM t",
        "SELECT c, COUNT(DISTINCT x) FROM t GROUP BY c",
        "SELECT PERCENTILE(r, 50) FROM t",
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY b) FROM t",
        "SELECT id, x, COUNT(*) FROM t GROUP BY id, x",
        "SELECT id, x FROM t ORDER BY x LIMIT 2000",
    ] {
        let answered = run(sql, None).unwrap_or_else(|e| panic!("{sql}: {e}"));
        assert!(!answered.result.rows.is_empty(), "{sql}");
        let error = run(sql, Some(2_000)).expect_err(sql);
        assert_eq!(error.code, tessera_query::ErrorCode::LimitExceeded, "{sql}");
        assert!(
            error.message.contains("maxStateBytes=2000"),
            "{sql}: {error}"
        );
    }
    // As an option a client sets.
    let mut options = QueryOptions::default();
    let sql = tessera_query::options::split_set_statements(
        "SET maxStateBytes = 100; SELECT COUNT(DISTINCT x) FROM t",
        &mut options,
    )
    .expect("parses");
    let error = tessera_query::run(&sql, options, std::slice::from_ref(table)).expect_err(&sql);
    assert!(error.message.contains("maxStateBytes=100"), "{error}");
}

/// A merge releases what it folds in: after COUNT(DISTINCT x) over two segments that
/// share their values, the query holds one merged set's bytes, not both segments'.
#[test]
fn merged_state_is_counted_once() {
    let (table, rows) = common::table();
    let options = QueryOptions::default();
    let held = options.state_bytes.clone();
    tessera_query::run(
        "SELECT COUNT(DISTINCT x) FROM t",
        options,
        std::slice::from_ref(table),
    )
    .expect("answers");
    let distinct: std::collections::BTreeSet<&str> = rows
        .iter()
        .filter_map(|r| match &r[col("x")] {
            Value::String(s) => Some(s.as_str()),
            _ => None,
        })
        .collect();
    let one_set: usize = distinct
        .iter()
        .map(|s| {
            tessera_query::state_bytes::scalar_bytes(&Scalar::Str(s.to_string()))
                + tessera_query::state_bytes::SET_SLOT_OVERHEAD
        })
        .sum();
    assert!(
        held.held() >= one_set && held.held() <= one_set + 1024,
        "held {} bytes; one set of {} values is {one_set}",
        held.held(),
        distinct.len()
    );
}

/// GROUP BY a multi-value column (Pinot's semantics): a row joins the group of each
/// value it holds — duplicates as often as they appear — and a NULL or empty cell
/// joins the NULL group; the filter selects rows before they spread.
#[test]
fn group_by_multi_value_joins_a_group_per_value() {
    use std::collections::BTreeMap;
    let values_of = |row: &Vec<Value>| -> Vec<Option<String>> {
        match &row[col("m")] {
            Value::Array(items) if !items.is_empty() => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Some(s.clone()),
                    _ => None,
                })
                .collect(),
            _ => vec![None],
        }
    };
    let n_of = |row: &Vec<Value>| match row[col("n")] {
        Value::Long(v) => Some(v),
        _ => None,
    };
    let key = |v: &Scalar| match v {
        Scalar::Str(s) => Some(s.clone()),
        _ => None,
    };
    let check = |sql: &str, keep: &dyn Fn(&Vec<Value>) -> bool| {
        // value → (rows, sum of n, distinct c, sum of r × 4: the raw doubles are quarters)
        #[allow(clippy::type_complexity)]
        let mut expected: BTreeMap<
            Option<String>,
            (i64, i64, std::collections::BTreeSet<String>, i64),
        > = BTreeMap::new();
        for row in rows().iter().filter(|r| keep(r)) {
            for value in values_of(row) {
                let entry = expected.entry(value).or_default();
                entry.0 += 1;
                entry.1 += n_of(row).unwrap_or(0);
                if let Value::String(c) = &row[col("c")] {
                    entry.2.insert(c.clone());
                }
                if let Value::Double(r) = row[col("r")] {
                    entry.3 += (r * 4.0) as i64;
                }
            }
        }
        for use_indexes in [true, false] {
            let options = QueryOptions {
                use_indexes,
                ..QueryOptions::default()
            };
            let (table, _) = common::table();
            let result = tessera_query::run(sql, options, std::slice::from_ref(table))
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
                .result
                .rows;
            let got: BTreeMap<Option<String>, (i64, i64, usize, i64)> = result
                .iter()
                .map(|r| {
                    (
                        key(&r[0]),
                        (
                            long(&r[1]),
                            r[2].as_i64().unwrap_or(0),
                            long(&r[3]) as usize,
                            r[4].as_f64().unwrap_or(f64::NAN) as i64,
                        ),
                    )
                })
                .collect();
            let want: BTreeMap<Option<String>, (i64, i64, usize, i64)> = expected
                .iter()
                .map(|(k, (rows, sum, distinct, quarters))| {
                    (k.clone(), (*rows, *sum, distinct.len(), *quarters))
                })
                .collect();
            assert_eq!(got, want, "{sql} (useIndexes={use_indexes})");
            assert_eq!(result.len(), want.len(), "{sql}: one row per group");
        }
    };
    check(
        "SELECT m, COUNT(*), SUM(n), COUNT(DISTINCT c), SUM(r * 4) FROM t GROUP BY m LIMIT 1000",
        &|_| true,
    );
    check(
        "SELECT m, COUNT(*), SUM(n), COUNT(DISTINCT c), SUM(r * 4) FROM t WHERE m = 'beta' GROUP BY m LIMIT 1000",
        &|row| values_of(row).contains(&Some("beta".to_string())),
    );
    check(
        "SELECT m, COUNT(*), SUM(n), COUNT(DISTINCT c), SUM(r * 4) FROM t WHERE id < 700 GROUP BY m LIMIT 1000",
        &|row| matches!(row[col("id")], Value::Long(id) if id < 700),
    );
    // SELECT DISTINCT of a multi-value column: its values, and NULL.
    let distinct = query("SELECT DISTINCT m FROM t ORDER BY m LIMIT 1000");
    let mut values: Vec<Option<String>> = rows().iter().flat_map(values_of).collect();
    values.sort();
    values.dedup();
    assert_eq!(distinct.len(), values.len(), "{distinct:?}");
    // With a second, single-value key: one group per (value, c).
    let pairs = query("SELECT m, c, COUNT(*) FROM t GROUP BY m, c LIMIT 10000");
    let mut expected = std::collections::BTreeSet::new();
    for row in rows() {
        for value in values_of(row) {
            expected.insert((value, format!("{:?}", row[col("c")])));
        }
    }
    assert_eq!(pairs.len(), expected.len());
    let total: i64 = pairs.iter().map(|r| long(&r[2])).sum();
    assert_eq!(
        total,
        rows()
            .iter()
            .map(|r| values_of(r).len() as i64)
            .sum::<i64>()
    );
}

/// A scalar function over a multi-value column is refused by name (it would read the
/// array's text, not its values).
#[test]
fn scalar_functions_over_multi_value_columns_are_refused() {
    let (table, _) = common::table();
    for sql in [
        "SELECT UPPER(m), COUNT(*) FROM t GROUP BY UPPER(m)",
        "SELECT LENGTH(m) FROM t",
        "SELECT COUNT(*) FROM t WHERE CONCAT(m, 'x') = 'ax'",
    ] {
        let error = tessera_query::run(sql, QueryOptions::default(), std::slice::from_ref(table))
            .expect_err(sql);
        assert!(
            error.message.contains("over multi-value column `m`"),
            "{sql}: {error}"
        );
    }
}

/// No group count by default: a GROUP BY's groups are bounded by `maxStateBytes` alone
/// (above), and `numGroupsLimit` refuses by name only when a client sets it.
#[test]
fn groups_are_bounded_by_bytes_not_by_a_count_unless_set() {
    let (table, rows) = common::table();
    assert_eq!(QueryOptions::default().num_groups_limit, usize::MAX);
    let sql = "SELECT id, COUNT(*) FROM t GROUP BY id ORDER BY id LIMIT 5000";
    let answered = tessera_query::run(sql, QueryOptions::default(), std::slice::from_ref(table))
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    assert_eq!(answered.result.rows.len(), rows.len());
    for (limit, refused) in [("1000", true), ("unlimited", false)] {
        let mut options = QueryOptions::default();
        let sql = tessera_query::options::split_set_statements(
            &format!("SET numGroupsLimit = {limit}; {sql}"),
            &mut options,
        )
        .expect("parses");
        let answer = tessera_query::run(&sql, options, std::slice::from_ref(table));
        match (refused, answer) {
            (true, Err(error)) => {
                assert_eq!(error.code, tessera_query::ErrorCode::LimitExceeded);
                assert!(error.message.contains("numGroupsLimit=1000"), "{error}");
            }
            (false, Ok(answer)) => assert_eq!(answer.result.rows.len(), rows.len()),
            (refused, other) => {
                panic!("numGroupsLimit = {limit}: refused={refused}, got {other:?}")
            }
        }
    }
}

/// ORDER BY … LIMIT over many groups selects the first OFFSET + LIMIT instead of sorting
/// them all: the rows, ties included, are those of the full order cut to the window.
#[test]
fn a_limit_over_groups_is_the_full_order_cut_to_its_window() {
    let (table, _) = common::table();
    let run = |sql: &str| {
        tessera_query::run(sql, QueryOptions::default(), std::slice::from_ref(table))
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .result
            .rows
    };
    for (group, order) in [
        ("id % 97", "n DESC"),
        ("i, c", "n DESC"),
        ("b", "n ASC, s DESC"),
        ("id", "s DESC"),
    ] {
        let base = format!(
            "SELECT {group}, COUNT(*) AS n, MIN(s) AS s FROM t GROUP BY {group} ORDER BY {order}"
        );
        let all = run(&format!("{base} LIMIT 100000"));
        assert!(all.len() > 20, "{base}");
        for (limit, offset) in [(1, 0), (5, 0), (3, 7), (10, 2)] {
            let window = run(&format!("{base} LIMIT {limit} OFFSET {offset}"));
            assert_eq!(
                window,
                all[offset..offset + limit],
                "{base} LIMIT {limit} OFFSET {offset}"
            );
        }
    }
}

/// An integer SUM whose exact total leaves the LONG range is a data error naming the
/// aggregate, not a wrapped or zeroed number; a total at the range's edge is returned.
#[test]
fn a_long_sum_outside_the_long_range_is_a_data_error() {
    let (table, rows) = common::table();
    let run =
        |sql: &str| tessera_query::run(sql, QueryOptions::default(), std::slice::from_ref(table));
    let error = run("SELECT SUM(CASE WHEN id >= 0 THEN 9000000000000000000 ELSE 0 END) FROM t")
        .expect_err("the sum overflows");
    assert_eq!(
        error.code,
        tessera_query::ErrorCode::DataException,
        "{error}"
    );
    assert!(error.message.contains("outside the LONG range"), "{error}");
    let grouped = run(
        "SELECT flag, SUM(CASE WHEN id >= 0 THEN 9000000000000000000 ELSE 0 END) FROM t GROUP BY flag",
    )
    .expect_err("every group overflows");
    assert_eq!(grouped.code, tessera_query::ErrorCode::DataException);
    let one = query("SELECT SUM(CASE WHEN id = 7 THEN 9223372036854775807 ELSE 0 END) FROM t");
    assert_eq!(one, vec![vec![Scalar::Long(i64::MAX)]]);
    assert!(rows.len() > 2);
}

/// Groups folded together from eight segments (each thread's sorted group sets merged
/// into one, on every core) count, sum and bound what the rows say, and every other
/// aggregate answers as it does over the same rows in one segment.
#[test]
fn groups_merged_across_segments_equal_the_rows() {
    use std::collections::BTreeMap;
    let (many, one, rows) = common::segmented_tables();
    let run = |table: &tessera_query::Table, sql: &str| {
        tessera_query::run(sql, QueryOptions::default(), std::slice::from_ref(table))
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .result
            .rows
    };
    // (b, i) with NULL last, as ORDER BY b, i puts it.
    type Key = (Option<i64>, Option<i64>);
    let key_of = |row: &[Value]| -> Key {
        let int = |v: &Value| match v {
            Value::Long(x) => Some(*x),
            Value::Int(x) => Some(i64::from(*x)),
            _ => None,
        };
        (int(&row[col("b")]), int(&row[col("i")]))
    };
    let order = |k: &Key| {
        (
            k.0.is_none(),
            k.0.unwrap_or(0),
            k.1.is_none(),
            k.1.unwrap_or(0),
        )
    };
    // Per group: count, sum of n (None: no n), min of r, max of ts.
    type Expected = (i64, Option<i64>, Option<f64>, i64);
    let mut expected: BTreeMap<(bool, i64, bool, i64), Expected> = BTreeMap::new();
    for row in rows {
        let entry = expected
            .entry(order(&key_of(row)))
            .or_insert((0, None, None, i64::MIN));
        entry.0 += 1;
        if let Value::Long(n) = row[col("n")] {
            entry.1 = Some(entry.1.unwrap_or(0) + n);
        }
        if let Value::Double(r) = row[col("r")] {
            entry.2 = Some(entry.2.map_or(r, |m: f64| m.min(r)));
        }
        if let Value::Timestamp(ts) = row[col("ts")] {
            entry.3 = entry.3.max(ts);
        }
    }
    assert!(expected.len() > 15_000, "{} groups", expected.len());
    let got = run(
        many,
        "SELECT b, i, COUNT(*), SUM(n), MIN(r), MAX(ts) FROM t GROUP BY b, i ORDER BY b, i LIMIT 100000",
    );
    assert_eq!(got.len(), expected.len());
    for (row, (key, (count, sum, min_r, max_ts))) in got.iter().zip(&expected) {
        let got_key = (
            row[0].is_null(),
            row[0].as_i64().unwrap_or(0),
            row[1].is_null(),
            row[1].as_i64().unwrap_or(0),
        );
        assert_eq!(&got_key, key);
        assert_eq!(long(&row[2]), *count, "count of {key:?}");
        assert_eq!(row[3].as_i64(), *sum, "sum of {key:?}");
        assert_eq!(row[4].as_f64(), *min_r, "min of {key:?}");
        assert_eq!(long(&row[5]), *max_ts, "max of {key:?}");
    }
    // The ten largest groups, ties by key.
    let mut by_count: Vec<_> = expected.iter().map(|(k, v)| (-v.0, *k)).collect();
    by_count.sort();
    let top = run(
        many,
        "SELECT b, i, COUNT(*) AS n FROM t GROUP BY b, i ORDER BY n DESC, b, i LIMIT 10",
    );
    let top_counts: Vec<i64> = top.iter().map(|r| long(&r[2])).collect();
    let expected_counts: Vec<i64> = by_count.iter().take(10).map(|(c, _)| -c).collect();
    assert_eq!(top_counts, expected_counts);
    // Aggregates whose state is not a number: as over one segment.
    let sql = "SELECT b, i, AVG(f), COUNT(DISTINCT c), COUNT(DISTINCT n), PERCENTILE(r, 90), \
               MIN(c), MAX(b), MIN(n), MAX(r), MIN(ts), MINMAXRANGE(n) FROM t GROUP BY b, i ORDER BY b, i \
               LIMIT 100000";
    assert_eq!(run(many, sql), run(one, sql));
}
