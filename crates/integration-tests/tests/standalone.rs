//! System tests of `tessera standalone` (issue: a running Tessera): the real binary,
//! the real S3-compatible server (moto), real kill -9.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value as Json;
use tessera_integration_tests::server::{Moto, Server, http};
use tessera_integration_tests::wait_until;

/// These tests start servers that each want the machine: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

const SCHEMA: &str = r#"{"schemaName": "events",
  "dimensionFieldSpecs": [{"name": "id", "dataType": "LONG"}, {"name": "b", "dataType": "LONG"}, {"name": "k", "dataType": "STRING"}],
  "metricFieldSpecs": [{"name": "v", "dataType": "DOUBLE"}],
  "dateTimeFieldSpecs": [{"name": "ts", "dataType": "TIMESTAMP", "format": "1:MILLISECONDS:EPOCH", "granularity": "1:MILLISECONDS"}]}"#;

fn table_config(flush_rows: u64, extra: &str) -> String {
    format!(
        r#"{{"tableName": "events", "tableType": "REALTIME", "segmentsConfig": {{"timeColumnName": "ts"}},
  "tableIndexConfig": {{"invertedIndexColumns": ["k"], "streamConfigs": {{"streamType": "push",
    "realtime.segment.flush.threshold.rows": "{flush_rows}" {extra}}}}}}}"#
    )
}

/// JSON lines for rows `first..first + n` of batch `batch`.
fn rows_body(batch: u64, first: u64, n: u64) -> Vec<u8> {
    let mut body = String::with_capacity(n as usize * 90);
    for id in first..first + n {
        body.push_str(&format!(
            "{{\"id\": {id}, \"b\": {batch}, \"k\": \"k{}\", \"v\": {}.25, \"ts\": {}}}\n",
            id % 17,
            id % 1000,
            1_700_000_000_000u64 + id
        ));
    }
    body.into_bytes()
}

/// Lines that must be rejected, one per reason: invalid JSON, wrong type, missing time,
/// binary garbage (counted as invalid JSON).
fn bad_lines() -> Vec<u8> {
    let mut bad = Vec::new();
    bad.extend_from_slice(b"{\"id\": 1, \"ts\": \n");
    bad.extend_from_slice(b"{\"id\": \"not a number\", \"b\": 0, \"ts\": 1}\n");
    bad.extend_from_slice(b"{\"id\": 5, \"b\": 0, \"k\": \"x\"}\n");
    bad.extend_from_slice(b"\x00\xff\xfe\x01binary\x07garbage\n");
    bad
}

fn count_and_sum(server: &Server) -> (u64, u64) {
    let rows = server.query("SELECT COUNT(*), SUM(id) FROM events");
    let row = rows.first().cloned().unwrap_or(Json::Null);
    (
        row[0].as_u64().unwrap_or(0),
        row[1].as_f64().unwrap_or(0.0) as u64,
    )
}

fn push(
    server_address: &str,
    body: &[u8],
    key: Option<&str>,
) -> std::io::Result<tessera_integration_tests::server::Response> {
    let mut headers = vec![("Content-Type", "application/x-ndjson")];
    if let Some(key) = key {
        headers.push(("Idempotency-Key", key));
    }
    http("POST", server_address, "/ingest/events", &headers, body)
}

fn sealed(server: &Server) -> u64 {
    server.metric("tessera_segments_sealed_total{table=\"events\"}") as u64
}

fn push_million(server: &Server) {
    const BATCH: u64 = 20_000;
    const TOTAL: u64 = 1_000_000;
    for batch in 0..TOTAL / BATCH {
        let mut body = rows_body(batch, batch * BATCH, BATCH);
        body.extend_from_slice(&bad_lines());
        if batch == 0 {
            body.extend_from_slice(
                format!("{{\"id\": 1, \"pad\": \"{}\"}}\n", "x".repeat(1_500_000)).as_bytes(),
            );
        }
        let response = push(&server.address, &body, None).expect("push");
        assert_eq!(response.status, 200, "{}", response.body);
        assert_eq!(response.json()["rowsIngested"], BATCH);
    }
    assert_eq!(count_and_sum(server), (TOTAL, TOTAL * (TOTAL - 1) / 2));
    wait_until("10 sealed segments", Duration::from_secs(600), || {
        sealed(server) >= 10
    });
    assert_eq!(
        count_and_sum(server),
        (TOTAL, TOTAL * (TOTAL - 1) / 2),
        "exact after the seals"
    );
    let reject = |reason: &str| {
        server.metric(&format!(
            "tessera_rows_rejected_total{{table=\"events\",reason=\"{reason}\"}}"
        )) as u64
    };
    assert_eq!(reject("invalid_json"), 2 * TOTAL / BATCH);
    assert_eq!(reject("wrong_type"), TOTAL / BATCH);
    assert_eq!(reject("missing_time"), TOTAL / BATCH);
    assert_eq!(reject("row_too_large"), 1);
}

#[test]
fn test_million_pushed_rows_exact_with_local_deep_store() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("data"), None, &[]);
    server.create_table(SCHEMA, &table_config(100_000, ""));
    push_million(&server);
    let files = std::fs::read_dir(dir.path().join("data/deepstore/events"))
        .expect("deep store dir")
        .filter(|entry| {
            entry
                .as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "tseg"))
        })
        .count();
    assert_eq!(files, 10, "every sealed segment is in the deep store");
}

#[test]
fn test_million_pushed_rows_exact_with_s3_deep_store() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let moto = Moto::start("tessera-test");
    let dir = tempfile::tempdir().expect("tempdir");
    let env = moto.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = Server::start(
        &dir.path().join("data"),
        Some("s3://tessera-test/deep"),
        &env,
    );
    server.create_table(SCHEMA, &table_config(100_000, ""));
    push_million(&server);
    let keys = moto.keys("deep/events/");
    assert_eq!(keys.len(), 10, "{keys:?}");
    assert!(keys.iter().all(|key| key.ends_with(".tseg")));
}

/// Every request's rows are there whole or not at all (batch `b` holds `rows` rows).
fn assert_no_torn_batches(server: &Server, rows: u64) {
    let torn = server.query(&format!(
        "SELECT b, COUNT(*) FROM events GROUP BY b HAVING COUNT(*) <> {rows} LIMIT 100"
    ));
    assert!(
        torn.is_empty(),
        "batches with a partial row count: {torn:?}"
    );
}

#[test]
fn test_kill_nine_during_ingest_and_seal_keeps_every_acknowledged_row_once() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    const BATCH: u64 = 3_000;
    const BATCHES: u64 = 60;
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("data"), None, &[]);
    server.create_table(SCHEMA, &table_config(30_000, ""));
    let address = server.address.clone();
    let server = Arc::new(Mutex::new(server));
    let acked = Arc::new(AtomicU64::new(0));
    let finished = Arc::new(AtomicBool::new(false));
    let pusher = {
        let acked = acked.clone();
        let finished = finished.clone();
        std::thread::spawn(move || {
            for batch in 0..BATCHES {
                let body = rows_body(batch, batch * BATCH, BATCH);
                let key = format!("batch-{batch}");
                // A client that retries with the same key until it gets an answer.
                loop {
                    match push(&address, &body, Some(&key)) {
                        Ok(response) if response.status == 200 => break,
                        _ => std::thread::sleep(Duration::from_millis(50)),
                    }
                }
                acked.fetch_add(1, Ordering::SeqCst);
            }
            finished.store(true, Ordering::SeqCst);
        })
    };
    let lock = || {
        server
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    };
    // Kill 1: mid-ingest, at a moment that depends on the machine's speed.
    wait_until("10 batches", Duration::from_secs(300), || {
        acked.load(Ordering::SeqCst) >= 10
    });
    std::thread::sleep(Duration::from_millis(37));
    // Crashes 2 to 4: at each step of a seal, in turn.
    lock().crash_at_each_seal_step();
    assert_no_torn_batches(&lock(), BATCH);
    // Kill 4: right after a burst of acknowledgements.
    let seen = acked.load(Ordering::SeqCst);
    wait_until("more batches", Duration::from_secs(300), || {
        acked.load(Ordering::SeqCst) >= seen + 3 || finished.load(Ordering::SeqCst)
    });
    lock().restart();
    assert_no_torn_batches(&lock(), BATCH);
    pusher.join().expect("pusher");
    let server = lock();
    let total = BATCH * BATCHES;
    assert_eq!(count_and_sum(&server), (total, total * (total - 1) / 2));
    assert_no_torn_batches(&server, BATCH);
    wait_until("all seals", Duration::from_secs(300), || {
        server.metric("tessera_pending_seal_bytes{table=\"events\"}") == 0.0
    });
    assert_eq!(count_and_sum(&server), (total, total * (total - 1) / 2));
}

#[test]
fn test_query_loop_never_sees_count_go_down_or_pass_what_was_sent() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    const BATCH: u64 = 2_500;
    const BATCHES: u64 = 60;
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("data"), None, &[]);
    server.create_table(SCHEMA, &table_config(10_000, ""));
    let sent = Arc::new(AtomicU64::new(0));
    let acked = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let pusher = {
        let (sent, acked, done, address) = (
            sent.clone(),
            acked.clone(),
            done.clone(),
            server.address.clone(),
        );
        std::thread::spawn(move || {
            for batch in 0..BATCHES {
                sent.fetch_add(BATCH, Ordering::SeqCst);
                let response =
                    push(&address, &rows_body(batch, batch * BATCH, BATCH), None).expect("push");
                assert_eq!(response.status, 200, "{}", response.body);
                acked.fetch_add(BATCH, Ordering::SeqCst);
            }
            done.store(true, Ordering::SeqCst);
        })
    };
    let mut last = 0u64;
    let mut queries = 0u64;
    while !done.load(Ordering::SeqCst) {
        let floor = acked.load(Ordering::SeqCst);
        let (count, _) = count_and_sum(&server);
        let ceiling = sent.load(Ordering::SeqCst);
        assert!(count >= last, "count went down from {last} to {count}");
        assert!(
            count >= floor,
            "count {count} is below the {floor} rows acknowledged before the query"
        );
        assert!(
            count <= ceiling,
            "count {count} passed the {ceiling} rows sent"
        );
        assert_eq!(count % BATCH, 0, "a request is visible whole or not at all");
        last = count;
        queries += 1;
    }
    pusher.join().expect("pusher");
    assert!(queries > 10, "the loop ran {queries} queries");
    assert!(sealed(&server) >= 5, "seals happened during the loop");
    assert_eq!(count_and_sum(&server).0, BATCH * BATCHES);
}

#[test]
fn test_s3_outage_retries_then_backpressure_then_commits_exactly() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    const BATCH: u64 = 10_000;
    let mut moto = Moto::start("tessera-outage");
    let dir = tempfile::tempdir().expect("tempdir");
    let env = moto.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = Server::start(&dir.path().join("data"), Some("s3://tessera-outage"), &env);
    server.create_table(
        SCHEMA,
        &table_config(BATCH, r#", "tessera.backpressure.pending.bytes": "20M""#),
    );
    let mut next_batch = 0u64;
    for _ in 0..2 {
        let response = push(
            &server.address,
            &rows_body(next_batch, next_batch * BATCH, BATCH),
            None,
        )
        .expect("push");
        assert_eq!(response.status, 200);
        next_batch += 1;
    }
    wait_until("2 seals", Duration::from_secs(120), || sealed(&server) >= 2);
    moto.stop();
    // Ingestion goes on while uploads fail, until the pending bytes pass the bound.
    let mut refused = None;
    for _ in 0..200 {
        let body = rows_body(next_batch, next_batch * BATCH, BATCH);
        let response = push(&server.address, &body, None).expect("push");
        if response.status == 503 {
            refused = Some(response);
            break;
        }
        assert_eq!(response.status, 200, "{}", response.body);
        next_batch += 1;
    }
    let refused = refused.expect("pushes get 503 once too much waits for the deep store");
    assert!(
        refused.header("Retry-After").is_some(),
        "503 carries Retry-After"
    );
    assert!(
        next_batch > 3,
        "ingestion continued during the outage ({next_batch} batches)"
    );
    wait_until(
        "failed uploads to be counted",
        Duration::from_secs(120),
        || server.metric("tessera_deep_store_upload_failures_total{table=\"events\"}") > 0.0,
    );
    assert_eq!(
        count_and_sum(&server).0,
        next_batch * BATCH,
        "rows stay queryable during the outage"
    );
    moto.start_again();
    wait_until("the backlog to commit", Duration::from_secs(300), || {
        server.metric("tessera_pending_seal_bytes{table=\"events\"}") == 0.0
    });
    let body = rows_body(next_batch, next_batch * BATCH, BATCH);
    let response = push(&server.address, &body, None).expect("push");
    assert_eq!(response.status, 200, "{}", response.body);
    next_batch += 1;
    let total = next_batch * BATCH;
    assert_eq!(count_and_sum(&server), (total, total * (total - 1) / 2));
    wait_until("the last seal", Duration::from_secs(120), || {
        sealed(&server) >= next_batch
    });
    assert!(
        moto.keys("events/").len() as u64 >= next_batch - 2,
        "segments sealed during the outage reached S3"
    );
}

#[test]
fn test_drop_restore_and_corrupt_local_copy() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(&dir.path().join("data"), None, &[]);
    server.create_table(SCHEMA, &table_config(20_000, ""));
    for batch in 0..5u64 {
        let response = push(
            &server.address,
            &rows_body(batch, batch * 10_000, 10_000),
            None,
        )
        .expect("push");
        assert_eq!(response.status, 200);
    }
    let expected = (50_000u64, 50_000u64 * 49_999 / 2);
    assert_eq!(count_and_sum(&server), expected);
    let dropped = http("DELETE", &server.address, "/tables/events", &[], b"").expect("delete");
    assert_eq!(dropped.status, 200, "{}", dropped.body);
    let gone = server.post("/query/sql", r#"{"sql": "SELECT COUNT(*) FROM events"}"#);
    assert_eq!(gone.status, 404, "{}", gone.body);
    assert!(gone.body.contains("events"), "{}", gone.body);
    let restored = server.post("/tables/events/restore", "");
    assert_eq!(restored.status, 200, "{}", restored.body);
    assert_eq!(count_and_sum(&server), expected, "every row is back");
    // A corrupt local copy is detected by its checksum and downloaded again.
    let segments_dir = dir.path().join("data/segments/events");
    let victim = std::fs::read_dir(&segments_dir)
        .expect("segments dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "tseg"))
        .expect("a local segment");
    let mut bytes = std::fs::read(&victim).expect("read");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x5a;
    std::fs::write(&victim, bytes).expect("write");
    server.restart();
    assert_eq!(count_and_sum(&server), expected, "exact after re-download");
    // After the trash retention the dropped table is gone for good.
    let dropped = http("DELETE", &server.address, "/tables/events", &[], b"").expect("delete");
    assert_eq!(dropped.status, 200, "{}", dropped.body);
    server.kill();
    let server = Server::start_with_args(
        &dir.path().join("data"),
        None,
        &[],
        &["--trash-retention", "0s"],
    );
    let restore = server.post("/tables/events/restore", "");
    assert_eq!(restore.status, 404, "{}", restore.body);
    let left = walk_files(&dir.path().join("data/deepstore"));
    assert!(left.is_empty(), "trash purged: {left:?}");
}

/// JSON lines for rows `first..first + n` whose time is `ts_ms`.
fn rows_at(first: u64, n: u64, ts_ms: i64) -> Vec<u8> {
    let mut body = String::new();
    for id in first..first + n {
        body.push_str(&format!(
            "{{\"id\": {id}, \"b\": 0, \"k\": \"k{}\", \"v\": 1.0, \"ts\": {ts_ms}}}\n",
            id % 17
        ));
    }
    body.into_bytes()
}

#[test]
fn test_retention_trashes_old_segments_restorably_then_purges_them() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let fast = ["--retention-check-interval", "1s"];
    let mut server = Server::start_with_args(&data, None, &[], &fast);
    let config = table_config(10_000, "").replace(
        r#""segmentsConfig": {"timeColumnName": "ts"}"#,
        r#""segmentsConfig": {"timeColumnName": "ts", "retentionTimeUnit": "DAYS", "retentionTimeValue": "30"}"#,
    );
    server.create_table(SCHEMA, &config);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    // 10,000 rows from 40 days ago seal into one segment, 10,000 from now into another,
    // and 500 old rows stay in the consuming segment (which never expires).
    for (first, ts) in [
        (0, now - 40 * 86_400_000),
        (10_000, now),
        (20_000, now - 40 * 86_400_000),
    ] {
        let n = if first == 20_000 { 500 } else { 10_000 };
        let response = push(&server.address, &rows_at(first, n, ts), None).expect("push");
        assert_eq!(response.status, 200, "{}", response.body);
    }
    let sum = |range: std::ops::Range<u64>| range.sum::<u64>();
    wait_until("the old segment trashed", Duration::from_secs(60), || {
        count_and_sum(&server) == (10_500, sum(10_000..20_500))
    });
    let trash = server.get("/tables/events/trash").json();
    let trashed = trash["segments"].as_array().cloned().unwrap_or_default();
    assert_eq!(trashed.len(), 1, "{trash}");
    assert_eq!(trashed[0]["totalDocs"], 10_000);
    let segment = trashed[0]["segmentName"]
        .as_str()
        .expect("a name")
        .to_string();
    let in_trash = walk_files(&data.join("deepstore/_trash"));
    assert_eq!(
        in_trash.len(),
        1,
        "the file is in the deep store's trash: {in_trash:?}"
    );

    // Restored (on a server whose next retention pass is far off), it is served again.
    server.kill();
    let mut server =
        Server::start_with_args(&data, None, &[], &["--retention-check-interval", "1h"]);
    let missing = server.post("/tables/events/segments/nope/restore", "");
    assert_eq!(missing.status, 404, "{}", missing.body);
    let restored = server.post(&format!("/tables/events/segments/{segment}/restore"), "");
    assert_eq!(restored.status, 200, "{}", restored.body);
    assert_eq!(
        count_and_sum(&server),
        (20_500, sum(0..20_500)),
        "every row is back"
    );
    let again = server.post(&format!("/tables/events/segments/{segment}/restore"), "");
    assert_eq!(again.status, 404, "{}", again.body);
    server.restart();
    assert!(
        count_and_sum(&server).0 < 20_500,
        "the start-up pass trashes it again (the retention was not raised)"
    );

    // After the trash retention it is gone for good.
    server.kill();
    let server = Server::start_with_args(
        &data,
        None,
        &[],
        &[
            "--retention-check-interval",
            "1s",
            "--trash-retention",
            "0s",
        ],
    );
    wait_until("the trash purged", Duration::from_secs(30), || {
        walk_files(&data.join("deepstore/_trash")).is_empty()
            && server.get("/tables/events/trash").json()["segments"]
                .as_array()
                .is_some_and(Vec::is_empty)
    });
    assert_eq!(count_and_sum(&server), (10_500, sum(10_000..20_500)));
}

fn walk_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk_files(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// `tessera ingest --url URL --table lineitem FILE`, asserting success.
fn ingest_file(url: &str, file: &str) {
    let output =
        tessera_integration_tests::tessera(&["ingest", "--url", url, "--table", "lineitem", file]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn test_batch_ingest_into_offline_table_and_query_over_http_match_duckdb() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("data"), None, &[]);
    let dataset = tessera_integration_tests::lineitem_dataset_dir();
    let read = |name: &str| std::fs::read_to_string(dataset.join(name)).expect("dataset file");
    server.create_table(&read("schema.json"), &read("table.json"));
    let parquet = tessera_integration_tests::lineitem_file("0.01", "parquet");
    let url = format!("http://{}", server.address);
    let parquet_arg = parquet.display().to_string();
    ingest_file(&url, &parquet_arg);
    let sql = "SELECT l_returnflag, COUNT(*), SUM(l_extendedprice) FROM lineitem GROUP BY l_returnflag ORDER BY l_returnflag";
    let ours = server.query(sql);
    let oracle = tessera_integration_tests::duckdb_rows(&format!(
        "SELECT l_returnflag, COUNT(*), SUM(l_extendedprice) FROM '{parquet_arg}' GROUP BY l_returnflag ORDER BY l_returnflag"
    ));
    assert_eq!(ours.len(), oracle.len());
    for (a, b) in ours.iter().zip(&oracle) {
        assert_eq!(a[0], b[0]);
        assert_eq!(a[1].as_u64(), b[1].as_u64());
        let (x, y) = (
            a[2].as_f64().unwrap_or(f64::NAN),
            b[2].as_str()
                .and_then(|s| s.parse::<f64>().ok())
                .or(b[2].as_f64())
                .unwrap_or(f64::NAN),
        );
        assert!((x - y).abs() <= 1e-6 * y.abs(), "{x} vs {y}");
    }
    // The CLI against the HTTP API: a table, and a clear error for a bad query.
    let output = tessera_integration_tests::tessera(&[
        "query",
        "--url",
        &url,
        "--format",
        "csv",
        "SELECT COUNT(*) FROM lineitem",
    ]);
    assert!(output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stdout), "COUNT(*)\n60175\n");
    let output = tessera_integration_tests::tessera(&[
        "query",
        "--url",
        &url,
        "SELECT l_shipmod FROM lineitem",
    ]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("did you mean `l_shipmode`"), "{stderr}");
    // The same file again is a new segment (a new sequence number), not a silent no-op.
    ingest_file(&url, &parquet_arg);
    assert_eq!(server.query("SELECT COUNT(*) FROM lineitem")[0][0], 120_350);
    // Two loads of the same file at once: both succeed (their segments' names differ
    // by run), and every row counts.
    let loads: Vec<_> = (0..2)
        .map(|_| {
            let (url, file) = (url.clone(), parquet_arg.clone());
            std::thread::spawn(move || ingest_file(&url, &file))
        })
        .collect();
    for load in loads {
        assert!(load.join().is_ok(), "a concurrent load failed");
    }
    assert_eq!(
        server.query("SELECT COUNT(*) FROM lineitem")[0][0],
        4 * 60_175
    );
}

#[test]
fn test_transforms_filter_and_dead_letters_on_push() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("data"), None, &[]);
    let groovy = r#"{"tableName": "events", "tableType": "REALTIME", "segmentsConfig": {"timeColumnName": "ts"},
      "tableIndexConfig": {"streamConfigs": {"streamType": "push"}},
      "ingestionConfig": {"transformConfigs": [{"columnName": "k", "transformFunction": "Groovy({a}, a)"}]}}"#;
    assert_eq!(server.post("/schemas", SCHEMA).status, 200);
    let refused = server.post("/tables", groovy);
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(refused.body.contains("Groovy"), "{}", refused.body);
    let table = r#"{"tableName": "events", "tableType": "REALTIME", "segmentsConfig": {"timeColumnName": "ts"},
      "tableIndexConfig": {"streamConfigs": {"streamType": "push", "tessera.deadletter.enabled": "true"}},
      "ingestionConfig": {
        "transformConfigs": [
          {"columnName": "k", "transformFunction": "lower(jsonPathString(meta, '$.source.name'))"},
          {"columnName": "ts", "transformFunction": "fromEpochSeconds(epoch)"}],
        "filterConfig": {"filterFunction": "equals(k, 'internal')"}}}"#;
    let created = server.post("/tables", table);
    assert_eq!(created.status, 200, "{}", created.body);
    let body = concat!(
        "{\"id\": 1, \"b\": 0, \"meta\": {\"source\": {\"name\": \"Web\"}}, \"epoch\": 1700000000}\n",
        "{\"id\": 2, \"b\": 0, \"meta\": {\"source\": {\"name\": \"INTERNAL\"}}, \"epoch\": 1700000001}\n",
        "{\"id\": 3, \"b\": 0, \"k\": \"given\", \"ts\": 1700000002000}\n",
        "{\"id\": \"three\", \"b\": 0, \"epoch\": 1}\n",
    );
    let response = push(&server.address, body.as_bytes(), None).expect("push");
    assert_eq!(response.status, 200, "{}", response.body);
    let reply = response.json();
    assert_eq!(
        (
            reply["rowsIngested"].as_u64(),
            reply["rowsFiltered"].as_u64(),
            reply["rowsRejected"].as_u64()
        ),
        (Some(2), Some(1), Some(1))
    );
    let rows = server.query("SELECT id, k, ts FROM events ORDER BY id");
    assert_eq!(
        rows,
        vec![
            serde_json::json!([1, "web", "2023-11-14 22:13:20.0"]),
            serde_json::json!([3, "given", "2023-11-14 22:13:22.0"]),
        ]
    );
    assert_eq!(
        server.metric("tessera_rows_filtered_total{table=\"events\"}"),
        1.0
    );
    let dead = std::fs::read_to_string(dir.path().join("data/deadletter/events.jsonl"))
        .expect("dead-letter file");
    assert_eq!(dead.lines().count(), 1, "{dead}");
    assert!(
        dead.contains("wrong_type") && dead.contains("three"),
        "{dead}"
    );
}
