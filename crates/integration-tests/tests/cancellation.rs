//! A query that is cancelled — its HTTP client disconnects, its PostgreSQL client sends
//! a cancel request — or that runs past its `timeoutMs` stops its work: the server's
//! CPU use falls to idle within 100 ms of the cancel, measured from `/proc`. The scans
//! check the query's cancel flag with its deadline after every block of rows.

use std::io::Write;
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tessera_integration_tests::server::{Server, http};

const SCHEMA: &str = r#"{"schemaName": "big",
  "dimensionFieldSpecs": [{"name": "id", "dataType": "LONG"}, {"name": "s", "dataType": "STRING"}]}"#;
const TABLE: &str = r#"{"tableName": "big", "tableType": "REALTIME",
  "tableIndexConfig": {"streamConfigs": {"streamType": "push", "stream.push.partitions": "1",
    "realtime.segment.flush.threshold.rows": "10000000",
    "realtime.segment.flush.threshold.time": "24h"}}}"#;

const ROWS: u64 = 2_400_000;

/// Seconds of scanning per query on this table: every row's string, repeated, through
/// a regular expression (no index answers it).
const SLOW: &str = "SELECT COUNT(*) FROM big \
    WHERE REGEXP_LIKE(CONCAT(s, s, s, s, s, s, s, s), '(0a|1b|2c|3d|4e|5f){2}[0-9]{4}z')";

fn load(server: &Server) {
    server.create_table(SCHEMA, TABLE);
    for batch in 0..ROWS / 50_000 {
        let rows: String = (batch * 50_000..(batch + 1) * 50_000)
            .map(|id| {
                let hash = id.wrapping_mul(0x9E37_79B9_7F4A_7C15);
                format!(
                    "{{\"id\": {id}, \"s\": \"{hash:016x}{:016x}\"}}\n",
                    hash.rotate_left(17)
                )
            })
            .collect();
        let pushed = http(
            "POST",
            &server.address,
            "/ingest/big",
            &[("Content-Type", "application/x-ndjson")],
            rows.as_bytes(),
        )
        .expect("push reaches the server");
        assert_eq!(pushed.status, 200, "{}", pushed.body);
    }
}

/// CPU the server uses over `window`.
fn cpu_over(server: &Server, window: Duration) -> Duration {
    let before = server.cpu_time();
    std::thread::sleep(window);
    server.cpu_time().saturating_sub(before)
}

/// The query is running (the server busy), then `cancel` runs; 100 ms later the server
/// is idle for the next half second.
fn assert_cancel_stops_the_work(server: &Server, what: &str, cancel: impl FnOnce()) {
    std::thread::sleep(Duration::from_millis(300));
    let busy = cpu_over(server, Duration::from_millis(500));
    assert!(
        busy >= Duration::from_millis(300),
        "{what}: the query is running before the cancel (CPU {busy:?} in 500 ms)"
    );
    cancel();
    std::thread::sleep(Duration::from_millis(100));
    let after = cpu_over(server, Duration::from_millis(500));
    assert!(
        after <= Duration::from_millis(50),
        "{what}: the work stopped within 100 ms of the cancel (CPU {after:?} in the next 500 ms)"
    );
}

#[test]
fn test_cancelled_and_timed_out_queries_stop_their_work() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("data"), None, &[]);
    load(&server);
    let rows = server.query("SELECT COUNT(*) FROM big");
    assert_eq!(rows[0][0], ROWS);

    // The query alone takes well over the test's windows.
    let started = Instant::now();
    let body = serde_json::json!({"sql": SLOW, "queryOptions": "timeoutMs=120000"}).to_string();
    let answered = server.post("/query/sql", &body);
    let full = started.elapsed();
    assert_eq!(answered.status, 200, "{}", answered.body);
    assert!(
        full >= Duration::from_millis(2_000),
        "the slow query took only {full:?}"
    );
    eprintln!("the slow query runs {full:?} uncancelled");

    // timeoutMs=50: the timeout error within 150 ms.
    let started = Instant::now();
    let body = serde_json::json!({"sql": SLOW, "queryOptions": "timeoutMs=50"}).to_string();
    let timed_out = server.post("/query/sql", &body);
    let took = started.elapsed();
    assert!(
        timed_out.body.contains("timeoutMs=50"),
        "{}",
        timed_out.body
    );
    assert!(
        took < Duration::from_millis(150),
        "timeoutMs=50 answered in {took:?}"
    );
    assert!(cpu_over(&server, Duration::from_millis(300)) <= Duration::from_millis(30));

    // An HTTP client that disconnects mid-query.
    let mut stream = TcpStream::connect(&server.address).expect("connect");
    let body = serde_json::json!({"sql": SLOW, "queryOptions": "timeoutMs=120000"}).to_string();
    let request = format!(
        "POST /query/sql HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        server.address,
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .expect("send the query");
    assert_cancel_stops_the_work(&server, "HTTP disconnect", move || drop(stream));

    // psql interrupted (SIGINT): it sends PostgreSQL's cancel request.
    let (host, port) = server.pg_address.split_once(':').expect("host:port");
    let psql = Command::new("psql")
        .args([
            "-X", "-h", host, "-p", port, "-U", "tessera", "-d", "default",
        ])
        .args(["-c", &format!("SET timeoutMs = 120000; {SLOW}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("psql runs (Debian package postgresql-client)");
    let pid = psql.id().to_string();
    assert_cancel_stops_the_work(&server, "PostgreSQL cancel request", || {
        let sent = Command::new("kill").args(["-INT", &pid]).status();
        assert!(sent.is_ok_and(|s| s.success()), "SIGINT to psql");
    });
    let output = psql.wait_with_output().expect("psql exits");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success() && stderr.contains("cancel"),
        "{stderr}"
    );

    // And the server answers on.
    let rows = server.query("SELECT COUNT(*) FROM big WHERE id < 10");
    assert_eq!(rows[0][0], 10);
}
