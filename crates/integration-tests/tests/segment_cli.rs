//! `tessera segment build|inspect` on TPC-H lineitem, checked against DuckDB.

use std::path::Path;

use serde_json::Value;
use tessera_integration_tests::{duckdb_rows, lineitem_dataset_dir, lineitem_file, tessera};

fn build_segment(input: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let dataset = lineitem_dataset_dir();
    let schema = dataset.join("schema.json");
    let table = dataset.join("table.json");
    let mut args = vec![
        "segment",
        "build",
        "--schema",
        schema.to_str().expect("utf-8 path"),
        "--table-config",
        table.to_str().expect("utf-8 path"),
        "--input",
        input.to_str().expect("utf-8 path"),
        "--out",
        out.to_str().expect("utf-8 path"),
    ];
    args.extend_from_slice(extra);
    tessera(&args)
}

fn inspect(path: &Path) -> Value {
    let output = tessera(&["segment", "inspect", path.to_str().expect("utf-8 path")]);
    assert!(
        output.status.success(),
        "inspect failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("inspect prints JSON")
}

fn column<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["columns"]
        .as_array()
        .and_then(|columns| columns.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("column {name} missing from inspect"))
}

#[test]
fn test_lineitem_parquet_segment_matches_duckdb() {
    let parquet = lineitem_file("0.01", "parquet");
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("lineitem.tseg");
    let built = build_segment(&parquet, &out, &[]);
    assert!(
        built.status.success(),
        "build failed: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    let summary = String::from_utf8_lossy(&built.stdout);
    assert!(summary.contains("rejected=0"), "summary: {summary}");

    let report = inspect(&out);
    let oracle = duckdb_rows(&format!(
        "SELECT count(*), epoch_ms(min(l_shipdate)::TIMESTAMP), epoch_ms(max(l_shipdate)::TIMESTAMP), \
         count(DISTINCT l_shipmode), count(DISTINCT l_returnflag), count(DISTINCT l_orderkey), \
         min(l_extendedprice), max(l_comment) FROM read_parquet('{}')",
        parquet.display()
    ));
    let expected = &oracle[0];
    assert_eq!(report["rowCount"], expected[0]);
    assert_eq!(report["minTime"], expected[1]);
    assert_eq!(report["maxTime"], expected[2]);
    assert_eq!(report["timeColumn"], "l_shipdate");
    assert_eq!(report["formatVersion"], 3);
    assert_eq!(column(&report, "l_shipmode")["cardinality"], 7);
    assert_eq!(column(&report, "l_returnflag")["cardinality"], 3);
    assert_eq!(column(&report, "l_shipmode")["cardinality"], expected[3]);
    assert_eq!(column(&report, "l_orderkey")["cardinality"], expected[5]);
    let price_min = column(&report, "l_extendedprice")["min"]
        .as_f64()
        .expect("number");
    let oracle_min: f64 = expected[6].as_str().map_or_else(
        || expected[6].as_f64().unwrap_or(f64::NAN),
        |s| s.parse().unwrap_or(f64::NAN),
    );
    assert!(
        (price_min - oracle_min).abs() < 1e-9,
        "min price {price_min} vs {oracle_min}"
    );
    assert_eq!(column(&report, "l_comment")["max"], expected[7]);

    let shipdate = column(&report, "l_shipdate");
    assert_eq!(shipdate["indexes"], serde_json::json!(["sorted"]));
    assert_eq!(column(&report, "l_comment")["encoding"], "RAW");
    assert_eq!(column(&report, "l_comment")["compression"], "LZ4");
    assert_eq!(
        column(&report, "l_comment")["indexes"],
        serde_json::json!(["text"])
    );
    assert_eq!(
        column(&report, "l_orderkey")["indexes"],
        serde_json::json!(["inverted", "bloom"])
    );
    assert_eq!(
        column(&report, "l_quantity")["indexes"],
        serde_json::json!(["range"])
    );
    assert!(report["bytes"].as_u64().is_some_and(|b| b > 0));
}

#[test]
fn test_lineitem_csv_builds_the_same_columns_as_parquet() {
    let dir = tempfile::tempdir().expect("tempdir");
    let from_parquet = dir.path().join("p.tseg");
    let from_csv = dir.path().join("c.tseg");
    assert!(
        build_segment(&lineitem_file("0.01", "parquet"), &from_parquet, &[])
            .status
            .success()
    );
    let built = build_segment(&lineitem_file("0.01", "csv"), &from_csv, &[]);
    assert!(
        built.status.success(),
        "csv build failed: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    let (parquet, csv) = (inspect(&from_parquet), inspect(&from_csv));
    for key in ["rowCount", "minTime", "maxTime", "name"] {
        assert_eq!(parquet[key], csv[key], "{key}");
    }
    for (p, c) in parquet["columns"]
        .as_array()
        .into_iter()
        .flatten()
        .zip(csv["columns"].as_array().into_iter().flatten())
    {
        for key in [
            "name",
            "dataType",
            "cardinality",
            "min",
            "max",
            "nullCount",
            "bytes",
        ] {
            if key == "cardinality" && p["encoding"] == "RAW" {
                continue;
            }
            assert_eq!(p[key], c[key], "column {} {key}", p["name"]);
        }
    }
}

#[test]
fn test_bad_rows_are_counted_and_strict_mode_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("bad.jsonl");
    let good = r#"{"l_orderkey": 1, "l_partkey": 2, "l_suppkey": 3, "l_linenumber": 1, "l_quantity": 5, "l_extendedprice": 10.5, "l_discount": 0.05, "l_tax": 0.01, "l_returnflag": "N", "l_linestatus": "O", "l_shipdate": "1996-03-13", "l_commitdate": "1996-02-12", "l_receiptdate": "1996-03-22", "l_shipinstruct": "NONE", "l_shipmode": "AIR", "l_comment": "fine"}"#;
    let wrong_type = good.replace(r#""l_orderkey": 1"#, r#""l_orderkey": "not a number""#);
    let bad_date = good.replace("1996-03-13", "the thirteenth");
    let text = format!("{good}\n{wrong_type}\nnot json at all\n{bad_date}\n{good}\n");
    std::fs::write(&input, text).expect("write input");
    let out = dir.path().join("bad.tseg");
    let built = build_segment(&input, &out, &[]);
    assert!(
        built.status.success(),
        "build failed: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    let stdout = String::from_utf8_lossy(&built.stdout);
    let stderr = String::from_utf8_lossy(&built.stderr);
    assert!(stdout.contains("rows=2 rejected=3"), "summary: {stdout}");
    assert!(
        stderr.contains("l_orderkey") && stderr.contains("row 2"),
        "report: {stderr}"
    );
    assert!(stderr.contains("l_shipdate"), "report: {stderr}");
    assert_eq!(inspect(&out)["rowCount"], 2);

    let strict = build_segment(&input, &dir.path().join("strict.tseg"), &["--strict"]);
    assert!(!strict.status.success(), "strict build should fail");
    assert!(String::from_utf8_lossy(&strict.stderr).contains("l_orderkey"));
    assert!(
        !dir.path().join("strict.tseg").exists(),
        "a failed build must not leave a segment"
    );
}

#[test]
fn test_inspect_rejects_damaged_files_with_nonzero_exit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("lineitem.tseg");
    assert!(
        build_segment(&lineitem_file("0.01", "parquet"), &out, &[])
            .status
            .success()
    );
    let original = std::fs::read(&out).expect("read segment");
    let damaged = dir.path().join("damaged.tseg");
    // The segment crate's corpus test flips every byte of a small file; here a spread of
    // positions across a real one goes through the binary.
    let step = (original.len() / 97).max(1);
    let positions =
        (0..original.len())
            .step_by(step)
            .chain([0, 9, original.len() - 1, original.len() - 20]);
    for position in positions {
        let mut bytes = original.clone();
        bytes[position] ^= 0x10;
        std::fs::write(&damaged, &bytes).expect("write damaged");
        let output = tessera(&["segment", "inspect", damaged.to_str().expect("utf-8 path")]);
        assert!(!output.status.success(), "flip at {position} was accepted");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("corrupt segment") || stderr.contains("format version"),
            "flip at {position}: {stderr}"
        );
        assert!(
            !stderr.contains("panicked"),
            "flip at {position} panicked: {stderr}"
        );
    }
    for length in [0, 10, 100, original.len() / 2, original.len() - 1] {
        std::fs::write(&damaged, &original[..length]).expect("write truncated");
        let output = tessera(&["segment", "inspect", damaged.to_str().expect("utf-8 path")]);
        assert!(
            !output.status.success(),
            "truncation to {length} was accepted"
        );
        assert!(String::from_utf8_lossy(&output.stderr).contains("corrupt segment"));
    }
}
