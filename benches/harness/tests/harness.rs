//! System tests of `tessera-bench`: the real binary against a real `tessera standalone`
//! (paused with SIGSTOP to make a stall) and against a small HTTP server of this test whose
//! answer time the test sets (to inject a slowdown).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use tessera_integration_tests::server::{Server, metric_at};

/// The tests measure latency: one at a time, so they do not slow each other down.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn harness(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tessera-bench"))
        .args(args)
        .output()
        .expect("tessera-bench runs")
}

fn run_scenario(dir: &Path, name: &str, scenario: &str) -> (Output, PathBuf) {
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(&file, scenario).expect("scenario written");
    let out = dir.join(name);
    let output = harness(&[
        "run",
        file.to_str().expect("utf-8 path"),
        "--out",
        out.to_str().expect("utf-8 path"),
        "--quiet",
    ]);
    (output, out)
}

fn summary(out: &Path) -> Json {
    let text = std::fs::read_to_string(out.join("summary.json")).expect("summary.json written");
    serde_json::from_str(&text).expect("summary is JSON")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// An HTTP/1.1 server answering every request with a one-row broker response after
/// `delay_us` microseconds (thread per connection, keep-alive).
struct SlowServer {
    address: String,
    delay_us: Arc<AtomicU64>,
}

impl SlowServer {
    fn start(delay: Duration) -> SlowServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = listener.local_addr().expect("address").to_string();
        let delay_us = Arc::new(AtomicU64::new(delay.as_micros() as u64));
        let shared = delay_us.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let delay = shared.clone();
                std::thread::spawn(move || serve(stream, &delay));
            }
        });
        SlowServer { address, delay_us }
    }

    fn set_delay(&self, delay: Duration) {
        self.delay_us
            .store(delay.as_micros() as u64, Ordering::Relaxed);
    }
}

fn serve(stream: TcpStream, delay_us: &AtomicU64) {
    let _ = stream.set_nodelay(true);
    let mut writer = match stream.try_clone() {
        Ok(writer) => writer,
        Err(_) => return,
    };
    let mut reader = BufReader::new(stream);
    loop {
        let mut length = 0usize;
        let mut line = String::new();
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if line == "\r\n" {
                break;
            }
            if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        std::thread::sleep(Duration::from_micros(delay_us.load(Ordering::Relaxed)));
        let answer = r#"{"resultTable":{"rows":[[1]]},"exceptions":[]}"#;
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{answer}",
            answer.len()
        );
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

const TABLE_SCHEMA: &str = r#"{"schemaName": "events",
  "dimensionFieldSpecs": [{"name": "k", "dataType": "STRING"}],
  "metricFieldSpecs": [{"name": "v", "dataType": "LONG"}],
  "dateTimeFieldSpecs": [{"name": "ts", "dataType": "LONG", "format": "1:MILLISECONDS:EPOCH", "granularity": "1:MILLISECONDS"}]}"#;
const TABLE: &str = r#"{"tableName": "events", "tableType": "REALTIME", "segmentsConfig": {"timeColumnName": "ts"},
  "tableIndexConfig": {"invertedIndexColumns": ["k"], "streamConfigs": {"streamType": "push"}}}"#;

fn standalone_with_events(dir: &Path) -> Server {
    let server = Server::start(&dir.join("data"), None, &[]);
    server.create_table(TABLE_SCHEMA, TABLE);
    let rows: String = (0..2000)
        .map(|i| {
            format!(
                "{{\"k\": \"k{}\", \"v\": {i}, \"ts\": {}}}\n",
                i % 10,
                1_700_000_000_000u64 + i
            )
        })
        .collect();
    let pushed = server.post("/ingest/events", &rows);
    assert_eq!(pushed.status, 200, "{}", pushed.body);
    server
}

fn stall_scenario(address: &str, mode: &str) -> String {
    format!(
        r#"
name = "stall-{mode}"
mode = "{mode}"
concurrency = 1
[[targets]]
url = "http://{address}"
[params.k]
kind = "choice"
values = ["k1", "k2", "k3"]
[[queries]]
name = "count_k"
sql = "SELECT count(*) FROM events WHERE k = '{{k}}'"
expect_rows = 1
[[phases]]
kind = "steady"
name = "steady"
qps = 200
duration = "3s"
"#
    )
}

/// Runs the stall scenario in `mode`; the server stops for 500 ms once it has answered 100
/// of the run's queries. Returns the summary and how long the server was stopped.
fn run_with_stall(dir: &Path, server: &Server, mode: &str) -> (Json, Duration) {
    let file = dir.join(format!("{mode}.toml"));
    std::fs::write(&file, stall_scenario(&server.address, mode)).expect("scenario");
    let out = dir.join(mode);
    let answered = |s: &Server| metric_at(&s.address, "tessera_query_duration_seconds_count");
    let before = answered(server);
    let mut child = Command::new(env!("CARGO_BIN_EXE_tessera-bench"))
        .args([
            "run",
            file.to_str().expect("path"),
            "--out",
            out.to_str().expect("path"),
            "--quiet",
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("tessera-bench starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    while answered(server) < before + 100.0 {
        assert!(
            Instant::now() < deadline,
            "the harness never reached 100 answers"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let pid = server.pid().expect("server runs").to_string();
    let stop = Command::new("kill")
        .args(["-STOP", &pid])
        .status()
        .expect("kill");
    let stopped = Instant::now();
    assert!(stop.success());
    // The stall itself is the fault under test: the server is frozen for 500 ms.
    std::thread::sleep(Duration::from_millis(500));
    let cont = Command::new("kill")
        .args(["-CONT", &pid])
        .status()
        .expect("kill");
    let stall = stopped.elapsed();
    assert!(cont.success());
    let status = child.wait().expect("harness exits");
    assert!(status.success(), "tessera-bench failed: {status}");
    (summary(&out), stall)
}

#[test]
fn a_stall_shows_in_the_open_loop_histogram_and_hides_in_the_closed_loop() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let server = standalone_with_events(dir.path());

    // A run whose generator fell behind its schedule (the harness says so:
    // `behind_schedule`, schedule lag p99 over 5 ms) measured the machine, not the
    // server: on two shared cores that happens now and then, so such a run is repeated,
    // up to three times in all, and the checks below hold for a run that kept time.
    let (mut open, mut stall) = run_with_stall(dir.path(), &server, "open");
    for _ in 0..2 {
        if open["phases"][0]["behind_schedule"] != true {
            break;
        }
        eprintln!("open loop: the generator fell behind its schedule; running again");
        (open, stall) = run_with_stall(dir.path(), &server, "open");
    }
    let phase = &open["phases"][0];
    assert_eq!(phase["errors"], 0, "{phase:#}");
    let max = phase["latency_ms"]["max"].as_f64().expect("max");
    // The first request meant for the stall was meant up to one interval (5 ms at 200 QPS)
    // after it began, and waited the rest of it.
    let floor = stall.as_secs_f64() * 1000.0 - 5.0;
    assert!(
        max >= floor,
        "open loop max {max} ms: the stall ({stall:?}) must show in full\n{phase:#}"
    );
    // Every request meant for the 500 ms the server was frozen waited: about 100 of them at
    // 200 QPS.
    let affected = phase["latency_over_ms"]["10"].as_u64().expect("count");
    assert!(
        (80..=140).contains(&affected),
        "open loop: {affected} requests of 10 ms or more, about 100 expected\n{phase:#}"
    );
    eprintln!("open loop: stall {stall:?}, max {max} ms, {affected} requests >= 10 ms");
    assert_eq!(phase["requests"], 600, "{phase:#}");
    assert_eq!(phase["behind_schedule"], false, "{phase:#}");

    let (closed, stall) = run_with_stall(dir.path(), &server, "closed");
    let phase = &closed["phases"][0];
    assert_eq!(phase["errors"], 0, "{phase:#}");
    let max = phase["latency_ms"]["max"].as_f64().expect("max");
    let floor = stall.as_secs_f64() * 1000.0 - 25.0;
    assert!(
        max >= floor,
        "closed loop max {max} ms, stall {stall:?}\n{phase:#}"
    );
    let affected = phase["latency_over_ms"]["10"].as_u64().expect("count");
    assert!(
        affected <= 3,
        "closed loop: the stall should look like one slow request, saw {affected}\n{phase:#}"
    );
    // The closed loop sent fewer requests: it waited instead of sending.
    let requests = phase["requests"].as_u64().expect("requests");
    eprintln!("closed loop: max {max} ms, {affected} requests >= 10 ms, {requests} sent");
    assert!(requests < 560, "closed loop sent {requests}\n{phase:#}");
}

fn steady(address: &str, name: &str, qps: u32, duration: &str, extra: &str) -> String {
    format!(
        r#"
name = "{name}"
{extra}
[[targets]]
url = "http://{address}"
[[queries]]
name = "q"
sql = "SELECT 1"
[[phases]]
kind = "steady"
name = "steady"
qps = {qps}
duration = "{duration}"
"#
    )
}

#[test]
fn compare_flags_an_injected_slowdown_and_passes_a_rerun() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let server = SlowServer::start(Duration::from_millis(20));
    let scenario = steady(&server.address, "slow", 50, "3s", "");
    let (first, base) = run_scenario(dir.path(), "base", &scenario);
    assert!(first.status.success(), "{}", stderr(&first));
    let (second, rerun) = run_scenario(dir.path(), "rerun", &scenario);
    assert!(second.status.success(), "{}", stderr(&second));
    // A 50 % slowdown against a 25 % threshold: a rerun's p99 moves by a few ms when the
    // machine hiccups (150 samples: p99 is the second slowest), which 10 % did not absorb.
    server.set_delay(Duration::from_millis(30));
    let (third, slower) = run_scenario(dir.path(), "slower", &scenario);
    assert!(third.status.success(), "{}", stderr(&third));

    let base_json = base.join("summary.json");
    let same = harness(&[
        "compare",
        base_json.to_str().expect("path"),
        rerun.join("summary.json").to_str().expect("path"),
        "--max-regression",
        "25%",
    ]);
    let printed = String::from_utf8_lossy(&same.stdout);
    assert_eq!(
        same.status.code(),
        Some(0),
        "a rerun of the same server regressed:\n{printed}"
    );
    let slow = harness(&[
        "compare",
        base_json.to_str().expect("path"),
        slower.join("summary.json").to_str().expect("path"),
        "--max-regression",
        "25%",
    ]);
    let printed = String::from_utf8_lossy(&slow.stdout);
    assert_eq!(
        slow.status.code(),
        Some(1),
        "a 50% slowdown passed:\n{printed}"
    );
    assert!(
        printed.contains("REGRESSION steady: latency p50"),
        "{printed}"
    );
}

#[test]
fn a_client_that_cannot_keep_its_schedule_says_so() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("tempdir");
    // Two requests at a time, each 10 ms: at most 200 QPS, against 1,000 asked.
    let server = SlowServer::start(Duration::from_millis(10));
    let scenario = steady(&server.address, "behind", 1000, "1s", "max_in_flight = 2");
    let (output, out) = run_scenario(dir.path(), "behind", &scenario);
    assert!(output.status.success(), "{}", stderr(&output));
    let summary = summary(&out);
    let phase = &summary["phases"][0];
    assert_eq!(phase["behind_schedule"], true, "{phase:#}");
    assert!(
        phase["waited_for_slot"].as_u64().expect("count") > 500,
        "{phase:#}"
    );
    let warnings = summary["warnings"].to_string();
    assert!(warnings.contains("fell behind its schedule"), "{warnings}");
    assert!(warnings.contains("achieved"), "{warnings}");
    // All 1,000 were sent, late, and their latency counts the wait.
    assert_eq!(phase["requests"], 1000, "{phase:#}");
    assert!(
        phase["latency_ms"]["max"].as_f64().expect("max") > 1000.0,
        "{phase:#}"
    );
}

#[test]
fn bad_input_gets_a_clear_message_and_a_report_of_what_was_measured() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let server = SlowServer::start(Duration::ZERO);

    // A typo: exit 2, the key and its line named, nothing run.
    let typo = steady(&server.address, "typo", 10, "1s", "").replace("qps = 10", "qsp = 10");
    let (output, out) = run_scenario(dir.path(), "typo", &typo);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(
        message.contains("qsp") && message.contains("line"),
        "{message}"
    );
    assert!(!out.join("summary.json").exists());

    // An unreachable target: said at the start, the run measured and reported.
    let closed_port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("address")
        .port();
    let unreachable = steady(&format!("127.0.0.1:{closed_port}"), "down", 20, "1s", "");
    let (output, out) = run_scenario(dir.path(), "down", &unreachable);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("unreachable"),
        "{}",
        stderr(&output)
    );
    let report = summary(&out);
    assert_eq!(
        report["phases"][0]["error_kinds"]["connect"]["count"], 20,
        "{report:#}"
    );
    assert!(
        report["warnings"].to_string().contains("unreachable"),
        "{report:#}"
    );

    // A query the server refuses: counted by its error code, with the server's message.
    let tessera = Server::start(&dir.path().join("data"), None, &[]);
    let failing = steady(&tessera.address, "failing", 20, "1s", "")
        .replace("SELECT 1", "SELECT count(*) FROM no_such_table");
    let (output, out) = run_scenario(dir.path(), "failing", &failing);
    assert!(output.status.success(), "{}", stderr(&output));
    let report = summary(&out);
    let error = &report["phases"][0]["error_kinds"]["error_190"];
    assert_eq!(error["count"], 20, "{report:#}");
    assert!(
        error["example"]
            .as_str()
            .expect("message")
            .contains("no_such_table"),
        "{report:#}"
    );
    let markdown = std::fs::read_to_string(out.join("report.md")).expect("report.md");
    assert!(markdown.contains("error_190 × 20"), "{markdown}");
}

#[test]
fn a_ramp_finds_its_knee_and_draws_it() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("tempdir");
    // Four requests at a time, 5 ms each: the server holds 800 QPS at most, so the ramp's
    // p99 stays low through 400 QPS and passes the target somewhere above.
    let server = SlowServer::start(Duration::from_millis(5));
    let scenario = format!(
        r#"
name = "ramp"
max_in_flight = 4
[slo]
p99_ms = 50
[[targets]]
url = "http://{}"
[[queries]]
name = "q"
sql = "SELECT 1"
[[phases]]
kind = "ramp"
name = "up"
from = 200
to = 1400
steps = 4
step_duration = "1s"
"#,
        server.address
    );
    let (output, out) = run_scenario(dir.path(), "ramp", &scenario);
    assert!(output.status.success(), "{}", stderr(&output));
    let report = summary(&out);
    let knee = &report["knees"][0];
    assert_eq!(knee["phase"], "up", "{report:#}");
    let qps = knee["qps"].as_f64().expect("a knee");
    assert!((200.0..=600.0).contains(&qps), "knee at {qps}\n{report:#}");
    assert!(
        knee["first_miss_qps"].as_f64().expect("a miss") > qps,
        "{knee}"
    );
    for plot in ["latency.png", "qps.png", "ramp-up.png"] {
        let bytes = std::fs::read(out.join(plot)).expect("plot written");
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{plot} is not a PNG");
        assert!(bytes.len() > 10_000, "{plot} is only {} bytes", bytes.len());
    }
    let svg = std::fs::read_to_string(out.join("ramp-up.svg")).expect("svg");
    assert!(svg.contains(&format!("knee: {qps} QPS")), "{svg:.300}");
}

fn ingest_scenario(query_target: &str, sink: &str, table: &str) -> String {
    format!(
        r#"
name = "fresh"
[[targets]]
url = "http://{query_target}"
[[queries]]
name = "count"
sql = "SELECT count(*) FROM {table}"
[[phases]]
kind = "steady"
name = "steady"
qps = 20
duration = "3s"
[ingest]
table = "{table}"
{sink}
rows_per_s = 2000
batch_rows = 100
marker_column = "k"
marker_interval = "200ms"
marker_timeout = "20s"
[ingest.columns]
id = {{ kind = "sequence", start = 1 }}
k = {{ kind = "choice", values = ["a", "b"] }}
v = {{ kind = "uniform", min = 0, max = 99 }}
ts = {{ kind = "now", minus = ["0s"] }}
"#
    )
}

/// Runs an ingest scenario; checks the markers were all seen and every acknowledged row is
/// in the table exactly once. Returns the ingest block of the summary.
fn check_freshness(dir: &Path, server: &Server, name: &str, scenario: &str, table: &str) -> Json {
    let (output, out) = run_scenario(dir, name, scenario);
    assert!(output.status.success(), "{}", stderr(&output));
    let report = summary(&out);
    let ingest = report["ingest"].clone();
    assert_eq!(ingest["errors"], 0, "{ingest:#}");
    let written = ingest["markers_written"].as_u64().expect("markers");
    assert!(written >= 14, "{ingest:#}");
    assert_eq!(ingest["markers_seen"], written, "{ingest:#}");
    let p50 = ingest["freshness_ms"]["p50"].as_f64().expect("freshness");
    assert!(p50 > 0.0 && p50 < 10_000.0, "{ingest:#}");
    let acknowledged = ingest["rows_acknowledged"].as_u64().expect("rows");
    assert_eq!(
        ingest["rows_sent"].as_u64(),
        Some(acknowledged),
        "{ingest:#}"
    );
    assert!(acknowledged >= 6000, "{ingest:#}");
    let phase = &report["phases"][0];
    assert!(phase["freshness_ms"]["p50"].as_f64().is_some(), "{phase:#}");
    let rate = phase["ingest_rows_per_s"].as_f64().expect("rate");
    assert!((1800.0..=2200.0).contains(&rate), "{phase:#}");
    // Every acknowledged row (markers included) is in the table once.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let rows = server.query(&format!("SELECT count(*) FROM {table}"));
        let count = rows.first().and_then(|r| r[0].as_u64()).unwrap_or(0);
        if count == acknowledged {
            break;
        }
        assert!(
            count < acknowledged,
            "{count} rows in the table, {acknowledged} acknowledged"
        );
        assert!(
            Instant::now() < deadline,
            "{count} rows of {acknowledged} after 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("{name}: freshness {}", ingest["freshness_ms"]);
    ingest
}

#[test]
fn freshness_is_measured_end_to_end_through_push() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("data"), None, &[]);
    server.create_table(
        &tessera_integration_tests::kafka::events_schema_named("pushed"),
        r#"{"tableName": "pushed", "tableType": "REALTIME", "segmentsConfig": {"timeColumnName": "ts"},
          "tableIndexConfig": {"invertedIndexColumns": ["k"], "streamConfigs": {"streamType": "push"}}}"#,
    );
    let sink = format!("push = \"http://{}\"", server.address);
    let ingest = check_freshness(
        dir.path(),
        &server,
        "push",
        &ingest_scenario(&server.address, &sink, "pushed"),
        "pushed",
    );
    assert_eq!(ingest["sink"], "push");
}

#[test]
fn freshness_is_measured_end_to_end_through_kafka() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let kafka = tessera_integration_tests::kafka::Tansu::start_in_memory();
    kafka.create_topic("events", 2);
    let server = Server::start(&dir.path().join("data"), None, &[]);
    server.create_table(
        tessera_integration_tests::kafka::EVENTS_SCHEMA,
        &tessera_integration_tests::kafka::events_table_config(&kafka.address(), 100_000),
    );
    let sink = format!("kafka = \"{}\"\ntopic = \"events\"", kafka.address());
    let ingest = check_freshness(
        dir.path(),
        &server,
        "kafka",
        &ingest_scenario(&server.address, &sink, "events"),
        "events",
    );
    assert_eq!(ingest["sink"], "kafka");
}

#[test]
fn the_postgres_wire_carries_the_same_scenario() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let server = standalone_with_events(dir.path());
    let scenario = stall_scenario(&server.address, "open")
        .replace(
            &format!("url = \"http://{}\"", server.address),
            &format!(
                "postgres = \"postgres://bench@{}/default\"",
                server.pg_address
            ),
        )
        .replace("duration = \"3s\"", "duration = \"2s\"")
        + r#"
[[queries]]
name = "missing_table"
sql = "SELECT count(*) FROM no_such_table"
"#;
    let (output, out) = run_scenario(dir.path(), "pg", &scenario);
    assert!(output.status.success(), "{}", stderr(&output));
    let report = summary(&out);
    assert!(
        report["targets"][0]
            .as_str()
            .expect("target")
            .starts_with("postgres://"),
        "{report:#}"
    );
    let phase = &report["phases"][0];
    assert_eq!(phase["requests"], 400, "{phase:#}");
    let counted = &phase["queries"]["count_k"];
    assert_eq!(counted["errors"], 0, "{phase:#}");
    assert!(
        counted["requests"].as_u64().expect("requests") > 150,
        "{phase:#}"
    );
    let missing = &phase["queries"]["missing_table"];
    assert_eq!(missing["errors"], missing["requests"], "{phase:#}");
    let error = &phase["error_kinds"]["sqlstate_42P01"];
    assert_eq!(error["count"], missing["requests"], "{phase:#}");
    assert!(
        error["example"]
            .as_str()
            .expect("message")
            .contains("no_such_table"),
        "{phase:#}"
    );
    assert_eq!(phase["behind_schedule"], false, "{phase:#}");
}

#[test]
fn answers_are_checked_against_an_expected_result() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let server = SlowServer::start(Duration::ZERO);
    std::fs::write(dir.path().join("right.json"), "[[1]]").expect("write");
    std::fs::write(
        dir.path().join("wrong.json"),
        r#"{"resultTable": {"rows": [[2]]}}"#,
    )
    .expect("write");
    let scenario = steady(&server.address, "checked", 50, "1s", "")
        + "\n[[queries]]\nname = \"wrong\"\nsql = \"SELECT 2\"\nexpect_result = \"wrong.json\"\n";
    let scenario = scenario.replace(
        "sql = \"SELECT 1\"\n",
        "sql = \"SELECT 1\"\nexpect_result = \"right.json\"\n",
    );
    let (output, out) = run_scenario(dir.path(), "checked", &scenario);
    assert!(output.status.success(), "{}", stderr(&output));
    let report = summary(&out);
    let phase = &report["phases"][0];
    assert_eq!(phase["queries"]["q"]["errors"], 0, "{phase:#}");
    let wrong = &phase["queries"]["wrong"];
    assert!(
        wrong["requests"].as_u64().expect("requests") > 0,
        "{phase:#}"
    );
    assert_eq!(wrong["errors"], wrong["requests"], "{phase:#}");
    let example = phase["error_kinds"]["wrong_result"]["example"]
        .as_str()
        .expect("example");
    assert!(
        example.contains("row 0 is [1] where [2] was expected"),
        "{example}"
    );
}

#[test]
fn a_run_with_its_progress_line_writes_its_report() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let server = SlowServer::start(Duration::from_millis(1));
    let file = dir.path().join("progress.toml");
    std::fs::write(&file, steady(&server.address, "progress", 50, "1s", "")).expect("write");
    let out = dir.path().join("progress");
    // No --quiet: the progress ticker runs (hidden, stderr is not a terminal).
    let output = harness(&[
        "run",
        file.to_str().expect("path"),
        "--out",
        out.to_str().expect("path"),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(summary(&out)["phases"][0]["requests"], 50);
}
