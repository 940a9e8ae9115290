//! `tessera query` against DuckDB: the public lineitem queries and generated queries over
//! an events table with NULLs, multi-value columns, skew and unicode
//! (`tests/differential/run.py`), each also run with indexes off to check the index
//! paths against full scans; plus the CLI's error and output contracts.

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use tessera_integration_tests::{
    lineitem_dataset_dir, lineitem_file, python, tessera, tessera_binary,
};

fn repo_root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

#[test]
fn differential_against_duckdb_with_index_and_scan_paths() {
    let work = tempfile::tempdir().expect("tempdir");
    let output = Command::new(python())
        .arg(repo_root().join("tests/differential/run.py"))
        .args([
            "--count",
            "250",
            "--seed",
            "1",
            "--scan-check",
            "--show",
            "5",
        ])
        .arg("--tessera")
        .arg(tessera_binary())
        .arg("--keep")
        .arg(work.path())
        .arg("--lineitem-parquet")
        .arg(lineitem_file("0.01", "parquet"))
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let summary = stdout.lines().last().unwrap_or_default().to_string();
    println!("{summary}");
    assert!(
        output.status.success(),
        "differential suite failed: {summary}\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // 10 public queries + 250 generated, each indexed and scanned.
    assert!(summary.contains("520 passed"), "{summary}");
}

fn lineitem_segments() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let dataset = lineitem_dataset_dir();
    let out = dir.path().join("lineitem.tseg");
    let output = tessera(&[
        "segment",
        "build",
        "--schema",
        dataset.join("schema.json").to_str().expect("utf-8"),
        "--table-config",
        dataset.join("table.json").to_str().expect("utf-8"),
        "--input",
        lineitem_file("0.01", "parquet").to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    dir
}

fn query(dir: &Path, format: &str, sql: &str) -> std::process::Output {
    tessera(&[
        "query",
        "--segments",
        dir.to_str().expect("utf-8"),
        "--format",
        format,
        sql,
    ])
}

#[test]
fn json_output_is_the_pinot_broker_response() {
    let dir = lineitem_segments();
    let output = query(
        dir.path(),
        "json",
        "SELECT l_shipmode, COUNT(*) AS c, MIN(l_shipdate) FROM lineitem \
         WHERE l_shipmode IN ('AIR', 'RAIL') GROUP BY l_shipmode ORDER BY l_shipmode",
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let response: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let schema = &response["resultTable"]["dataSchema"];
    assert_eq!(schema["columnNames"][1], "c");
    assert_eq!(schema["columnDataTypes"][0], "STRING");
    assert_eq!(schema["columnDataTypes"][1], "LONG");
    assert_eq!(schema["columnDataTypes"][2], "TIMESTAMP");
    let rows = response["resultTable"]["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0][0], "AIR");
    // TIMESTAMP cells print as Pinot prints them.
    let first = rows[0][2].as_str().expect("timestamp string");
    assert!(first.ends_with(" 00:00:00.0"), "{first}");
    assert_eq!(response["exceptions"], Value::Array(Vec::new()));
    for key in [
        "numServersQueried",
        "numServersResponded",
        "numSegmentsQueried",
        "numSegmentsProcessed",
        "numSegmentsMatched",
        "numDocsScanned",
        "numEntriesScannedInFilter",
        "numEntriesScannedPostFilter",
        "totalDocs",
        "timeUsedMs",
    ] {
        assert!(response[key].is_u64(), "missing {key}: {response}");
    }
    assert_eq!(response["totalDocs"], 60_175);
}

#[test]
fn bad_queries_exit_nonzero_with_a_message_that_says_where() {
    let dir = lineitem_segments();
    let cases = [
        (
            "SELECT l_shipmod FROM lineitem",
            "did you mean `l_shipmode`",
        ),
        (
            "SELECT * FROM lineitem a JOIN lineitem b ON a.l_orderkey = b.l_orderkey",
            "JOIN is not supported yet",
        ),
        (
            "SELECT COUNT(*) FROM nosuch",
            "table `nosuch` does not exist",
        ),
        ("SELEC 1", "SQL parse error"),
        (
            "SELECT l_shipmode, COUNT(*) FROM lineitem",
            "must appear in GROUP BY",
        ),
        (
            "SELECT COUNT(*) FROM lineitem WHERE l_shipmode > 5",
            "cannot compare STRING",
        ),
        (
            "SELECT COUNT(*) FROM lineitem WHERE l_shipdate > 'yesterday'",
            "bad timestamp literal",
        ),
        (
            "SET timeoutMs = 0; SELECT SUM(l_quantity) FROM lineitem",
            "timed out",
        ),
    ];
    for (sql, expected) in cases {
        let output = query(dir.path(), "table", sql);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{sql} succeeded");
        assert!(stderr.contains(expected), "{sql}: {stderr}");
        assert!(!stderr.contains("panicked"), "{sql}: {stderr}");
    }
}

#[test]
fn csv_and_table_formats() {
    let dir = lineitem_segments();
    let output = query(
        dir.path(),
        "csv",
        "SELECT l_returnflag, COUNT(*) AS c FROM lineitem GROUP BY l_returnflag ORDER BY l_returnflag",
    );
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "l_returnflag,c");
    assert_eq!(lines.len(), 4, "{text}");
    let output = query(
        dir.path(),
        "table",
        "EXPLAIN PLAN FOR SELECT COUNT(*) FROM lineitem WHERE l_shipmode = 'AIR'",
    );
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("FILTER_INVERTED_INDEX(predicate:l_shipmode = 'AIR')"),
        "{text}"
    );
}
