//! A cluster whose historical servers serve sealed segments cold: opened from their
//! footer in the S3 server, sections fetched on demand into a disk cache. Answers through
//! a broker are exact against DuckDB, the servers keep no local copy, and the response
//! counts what the servers fetched.

use std::time::Duration;

use tessera_integration_tests::cluster::LocalCluster;
use tessera_integration_tests::{duckdb_rows, lineitem_file, segment_files_under, tessera};

#[test]
fn test_cluster_servers_answer_exactly_from_cold_segments() {
    let cluster = LocalCluster::up_with(5, &[("SERVER_CACHE_SIZE", "64M")]);
    let broker = cluster.broker_urls()[0].clone();
    let dataset = tessera_integration_tests::lineitem_dataset_dir();
    let read = |name: &str| std::fs::read_to_string(dataset.join(name)).expect("dataset file");
    LocalCluster::post(
        &cluster.controller_urls()[0],
        "/schemas",
        &read("schema.json"),
    );
    LocalCluster::post(
        &cluster.controller_urls()[0],
        "/tables",
        &read("table.json"),
    );
    let parquet = lineitem_file("0.01", "parquet");
    let output = tessera(&[
        "ingest",
        "--url",
        &broker,
        "--table",
        "lineitem",
        "--segment-rows",
        "6000",
        &parquet.display().to_string(),
    ]);
    assert!(
        output.status.success(),
        "ingest: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    LocalCluster::wait_until("every row served", Duration::from_secs(120), || {
        let answer = cluster.query(&broker, "SELECT COUNT(*) FROM lineitem");
        answer["resultTable"]["rows"][0][0] == 60_175 && answer["partialResult"] == false
    });
    let q06 = read("queries/q06.sql");
    let first = cluster.query(&broker, &q06);
    let oracle = duckdb_rows(&format!(
        "SELECT SUM(l_extendedprice * l_discount) FROM '{}' WHERE l_shipdate >= DATE '1994-01-01' AND l_shipdate < DATE '1995-01-01' AND l_discount BETWEEN 0.05 AND 0.07 AND l_quantity < 24",
        parquet.display()
    ));
    let ours = first["resultTable"]["rows"][0][0]
        .as_f64()
        .unwrap_or(f64::NAN);
    let theirs = oracle[0][0]
        .as_f64()
        .or_else(|| oracle[0][0].as_str().and_then(|s| s.parse().ok()))
        .unwrap_or(f64::NAN);
    assert!(
        (ours - theirs).abs() <= 1e-9 * theirs.abs(),
        "{ours} vs {theirs}"
    );
    assert!(
        first["numDeepStoreRequests"].as_u64().unwrap_or(0) > 0,
        "the first q06 fetched nothing: {first}"
    );
    let again = cluster.query(&broker, &q06);
    assert_eq!(again["numDeepStoreRequests"], 0, "{again}");
    assert!(again["numBytesReadFromCache"].as_u64().unwrap_or(0) > 0);
    assert_eq!(again["resultTable"], first["resultTable"]);
    let grouped = "SELECT l_returnflag, COUNT(*), SUM(l_quantity) FROM lineitem GROUP BY l_returnflag ORDER BY l_returnflag";
    let answer = cluster.query(&broker, grouped);
    let oracle = duckdb_rows(&format!(
        "SELECT l_returnflag, COUNT(*), SUM(l_quantity) FROM '{}' GROUP BY l_returnflag ORDER BY l_returnflag",
        parquet.display()
    ));
    let rows = answer["resultTable"]["rows"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(rows.len(), oracle.len(), "{answer}");
    for (row, expected) in rows.iter().zip(&oracle) {
        assert_eq!(row[0], expected[0]);
        assert_eq!(row[1].as_u64(), expected[1].as_u64());
        let sum = expected[2]
            .as_f64()
            .or_else(|| expected[2].as_str().and_then(|s| s.parse().ok()))
            .unwrap_or(f64::NAN);
        assert!((row[2].as_f64().unwrap_or(f64::NAN) - sum).abs() <= 1e-9 * sum.abs());
    }
    // The servers' disks hold caches, not segment files.
    let copies = segment_files_under(&cluster.dir().join("data"));
    assert!(copies.is_empty(), "local copies: {copies:?}");
}
