//! Each kind of failure answers with its own status, over HTTP and the PostgreSQL wire
//! (`tessera_status::Status`, docs/architecture.md#error-kinds): the caller's fault is
//! a 4xx with its SQLSTATE, a dependency that failed is a 503 with `Retry-After` — the
//! deep store down, the disk under the write-ahead log full — and a seal that cannot
//! succeed stops its partition and says so instead of retrying forever.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use tessera_integration_tests::server::{Moto, Server, http};
use tessera_integration_tests::wait_until;
use tessera_integration_tests::{printed, tessera};

const SCHEMA: &str = r#"{"schemaName": "kinds",
  "dimensionFieldSpecs": [{"name": "id", "dataType": "LONG"}, {"name": "name", "dataType": "STRING"}],
  "dateTimeFieldSpecs": [{"name": "ts", "dataType": "TIMESTAMP", "format": "1:MILLISECONDS:EPOCH", "granularity": "1:MILLISECONDS"}]}"#;

fn offline_table() -> String {
    r#"{"tableName": "kinds", "tableType": "OFFLINE", "segmentsConfig": {"timeColumnName": "ts"}}"#
        .to_string()
}

fn push_table(flush_rows: u64) -> String {
    format!(
        r#"{{"tableName": "kinds", "tableType": "REALTIME", "segmentsConfig": {{"timeColumnName": "ts"}},
  "tableIndexConfig": {{"streamConfigs": {{"streamType": "push",
    "realtime.segment.flush.threshold.rows": "{flush_rows}"}}}}}}"#
    )
}

/// JSON lines for ids `first..first + n`, each row about `pad` bytes longer.
fn rows(first: u64, n: u64, pad: usize) -> String {
    let name = "n".repeat(pad);
    (first..first + n)
        .map(|id| {
            format!(
                "{{\"id\": {id}, \"name\": \"{name}{id}\", \"ts\": {}}}\n",
                1_700_000_000_000u64 + id
            )
        })
        .collect()
}

fn push(server: &Server, body: &str) -> tessera_integration_tests::server::Response {
    http(
        "POST",
        &server.address,
        "/ingest/kinds",
        &[("Content-Type", "application/x-ndjson")],
        body.as_bytes(),
    )
    .expect("push reaches the server")
}

/// The HTTP status and Pinot errorCode of a failed query.
fn http_failure(server: &Server, sql: &str) -> (u16, i64) {
    let response = server.post("/query/sql", &serde_json::json!({ "sql": sql }).to_string());
    let code = response.json()["exceptions"][0]["errorCode"]
        .as_i64()
        .unwrap_or_else(|| panic!("{sql}: no errorCode in {}", response.body));
    (response.status, code)
}

/// The SQLSTATE psql reports for `sql` (VERBOSITY=verbose prints `ERROR:  XXXXX: ...`).
fn sqlstate(server: &Server, sql: &str) -> String {
    let (host, port) = server.pg_address.split_once(':').expect("host:port");
    let output = Command::new("psql")
        .args([
            "-X", "-h", host, "-p", port, "-U", "tessera", "-d", "default",
        ])
        .args(["-v", "VERBOSITY=verbose", "-A", "-t", "-c", sql])
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .expect("psql runs (Debian package postgresql-client)");
    let (ok, out) = printed(&output);
    assert!(!ok, "{sql} succeeded over PG: {out}");
    out.split("ERROR:")
        .nth(1)
        .and_then(|rest| rest.trim_start().get(..5))
        .unwrap_or_else(|| panic!("{sql}: no SQLSTATE in {out}"))
        .to_string()
}

/// Build `kinds` rows `first..first + n` into a segment file with `tessera segment build`.
fn build_segment(dir: &Path, first: u64, n: u64) -> Vec<u8> {
    let input = dir.join(format!("rows_{first}.jsonl"));
    std::fs::write(&input, rows(first, n, 0)).expect("rows file");
    let schema = dir.join("schema.json");
    std::fs::write(&schema, SCHEMA).expect("schema file");
    let table = dir.join("table.json");
    std::fs::write(&table, offline_table()).expect("table file");
    let out = dir.join(format!("kinds_{first}.tseg"));
    let path = |p: &Path| p.to_str().expect("utf-8 path").to_string();
    let built = tessera(&[
        "segment",
        "build",
        "--schema",
        &path(&schema),
        "--table-config",
        &path(&table),
        "--input",
        &path(&input),
        "--out",
        &path(&out),
    ]);
    assert!(built.status.success(), "{}", printed(&built).1);
    std::fs::read(&out).expect("the built segment")
}

fn upload(server: &Server, segment: &[u8]) -> tessera_integration_tests::server::Response {
    http(
        "POST",
        &server.address,
        "/segments?tableName=kinds",
        &[("Content-Type", "application/octet-stream")],
        segment,
    )
    .expect("the upload reaches the server")
}

#[test]
fn test_each_kind_of_query_and_upload_failure_answers_with_its_status() {
    let mut moto = Moto::start("tessera-kinds");
    let dir = tempfile::tempdir().expect("tempdir");
    let env = moto.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = Server::start(&dir.path().join("data"), Some("s3://tessera-kinds"), &env);
    server.create_table(SCHEMA, &offline_table());
    let uploaded = upload(&server, &build_segment(dir.path(), 0, 100));
    assert_eq!(uploaded.status, 200, "{}", uploaded.body);

    // (what, SQL, HTTP status, Pinot errorCode, SQLSTATE)
    let cases = [
        ("bad SQL", "SELEC id FROM kinds", 400, 150, "42601"),
        (
            "an unknown table",
            "SELECT COUNT(*) FROM nope",
            404,
            190,
            "42P01",
        ),
        (
            "an unknown column",
            "SELECT nope FROM kinds",
            400,
            700,
            "42703",
        ),
        (
            "a value that does not fit its CAST",
            "SELECT CAST(CONCAT('x', name) AS BIGINT) FROM kinds",
            400,
            200,
            "22000",
        ),
        (
            "a limit passed",
            "SET numGroupsLimit = 10; SELECT id, COUNT(*) FROM kinds GROUP BY id",
            400,
            720,
            "54000",
        ),
    ];
    for (what, sql, status, code, state) in cases {
        assert_eq!(http_failure(&server, sql), (status, code), "HTTP, {what}");
        assert_eq!(sqlstate(&server, sql), state, "PG, {what}");
    }

    // The deep store down: an upload is a dependency's failure, 503 with Retry-After,
    // and the same upload succeeds once the store is back.
    let segment = build_segment(dir.path(), 100, 50);
    moto.stop();
    let refused = upload(&server, &segment);
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert_eq!(refused.header("Retry-After"), Some("1"), "{}", refused.body);
    assert!(refused.body.contains("deep store"), "{}", refused.body);
    moto.start_again();
    let accepted = upload(&server, &segment);
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    assert_eq!(server.query("SELECT COUNT(*) FROM kinds")[0][0], 150);
}

/// A small tmpfs mounted at `dir` (the test's own write-ahead-log directory), or
/// `None` where this machine does not let the test mount one.
struct SmallDisk {
    dir: std::path::PathBuf,
}

impl SmallDisk {
    fn mount(dir: &Path, bytes: u64) -> Option<SmallDisk> {
        std::fs::create_dir_all(dir).expect("mount point");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(dir)
            .output()
            .ok()?;
        mounted.status.success().then(|| SmallDisk {
            dir: dir.to_path_buf(),
        })
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        // Lazily: the server may still hold the log open.
        let _ = Command::new("umount").arg("-l").arg(&self.dir).output();
    }
}

#[test]
fn test_write_ahead_log_disk_full_answers_503_with_retry_after() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    // The table's write-ahead log on a 2 MiB disk of its own.
    let Some(_disk) = SmallDisk::mount(&data.join("wal/kinds"), 2 << 20) else {
        eprintln!("SKIPPED: this machine does not let the test mount a tmpfs (CAP_SYS_ADMIN)");
        return;
    };
    let server = Server::start(&data, None, &[]);
    server.create_table(SCHEMA, &push_table(1_000_000));
    let mut acknowledged = 0u64;
    let mut refused = None;
    for batch in 0..40u64 {
        let response = push(&server, &rows(batch * 1_000, 1_000, 200));
        match response.status {
            200 => acknowledged += 1_000,
            _ => {
                refused = Some(response);
                break;
            }
        }
    }
    let refused = refused.expect("a push fails once the log's disk is full");
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert_eq!(refused.header("Retry-After"), Some("1"), "{}", refused.body);
    assert!(refused.body.contains("write-ahead log"), "{}", refused.body);
    assert!(acknowledged > 0, "some pushes fit before the disk filled");
    // Every acknowledged row, and none of the refused ones, answers queries.
    assert_eq!(
        server.query("SELECT COUNT(*) FROM kinds")[0][0],
        acknowledged,
        "the acknowledged rows"
    );
    assert_eq!(server.get("/health").status, 200);
}

#[test]
fn test_a_seal_that_cannot_succeed_stalls_its_partition_and_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(
        &dir.path().join("data"),
        None,
        &[("TESSERA_FAULTS", "seal.build=error")],
    );
    server.create_table(SCHEMA, &push_table(1_000));
    let status = server.get("/tables/kinds/status").json();
    assert_eq!(status["ingestionStatus"]["ingestionState"], "HEALTHY");

    // 1,500 rows: one full segment to seal, whose build always fails.
    assert_eq!(push(&server, &rows(0, 1_500, 0)).status, 200);
    wait_until("the stall to show", Duration::from_secs(60), || {
        server.get("/tables/kinds/status").json()["ingestionStatus"]["ingestionState"]
            == "UNHEALTHY"
    });
    let status = server.get("/tables/kinds/status").json();
    let message = status["ingestionStatus"]["errorMessage"]
        .as_str()
        .expect("an error message");
    assert!(
        message.contains("seal.build") && message.contains("partition 0"),
        "{message}"
    );
    assert_eq!(status["sealStalls"][0]["partition"], 0);
    let stalled = "tessera_seal_stalled_partitions{table=\"kinds\"}";
    let failures = "tessera_seal_failures_total{table=\"kinds\"}";
    assert_eq!(server.metric(stalled), 1.0);
    assert_eq!(server.metric(failures), 1.0);
    // Not retried: the failure count stays where it is (a retry loop's backoff starts
    // at 200 ms).
    std::thread::sleep(Duration::from_millis(1_000));
    assert_eq!(server.metric(failures), 1.0, "the build is not retried");
    // The rows stay queryable, and pushes still land (up to the pending-bytes bound).
    assert_eq!(push(&server, &rows(1_500, 100, 0)).status, 200);
    assert_eq!(server.query("SELECT COUNT(*) FROM kinds")[0][0], 1_600);
    assert_eq!(
        server.metric("tessera_segments_sealed_total{table=\"kinds\"}"),
        0.0
    );
}
