//! The lakehouse tier: a REALTIME table over Kafka (tansu) whose history is an Iceberg
//! table PyIceberg wrote on the S3 server (moto), queried as one table while rows
//! stream in, segments seal and the time boundary moves; file pruning from manifests;
//! and the errors a missing, damaged or mismatched Iceberg table gives.

use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};
use tessera_integration_tests::kafka::{Tansu, produce};
use tessera_integration_tests::server::{Moto, Server, http};

static SERIAL: Mutex<()> = Mutex::new(());

/// 2024-03-01T00:00:00Z; event i happens at T0 + (i / 2) * STEP (two events an instant).
const T0: i64 = 1_709_251_200_000;
const STEP: i64 = 600_000;
const DAY: i64 = 86_400_000;

fn ts(id: i64) -> i64 {
    T0 + (id / 2) * STEP
}

const SCHEMA: &str = r#"{"schemaName": "events",
  "dimensionFieldSpecs": [{"name": "id", "dataType": "LONG"}, {"name": "k", "dataType": "STRING"}],
  "metricFieldSpecs": [{"name": "v", "dataType": "DOUBLE"}],
  "dateTimeFieldSpecs": [{"name": "ts", "dataType": "TIMESTAMP", "format": "1:MILLISECONDS:EPOCH", "granularity": "1:MILLISECONDS"}]}"#;

fn lakehouse_section(warehouse: &str, table: &str) -> String {
    format!(
        r#""lakehouse": {{"catalog": {{"type": "filesystem", "warehouse": "{warehouse}"}},
            "table": "{table}", "timeBoundary": "auto", "refreshInterval": "1s"}}"#
    )
}

fn realtime_config(brokers: &str, lakehouse: &str) -> String {
    format!(
        r#"{{"tableName": "events", "tableType": "REALTIME", "segmentsConfig": {{"timeColumnName": "ts"}},
  "tableIndexConfig": {{"invertedIndexColumns": ["k"], "streamConfigs": {{
    "streamType": "kafka", "stream.kafka.topic.name": "events",
    "stream.kafka.broker.list": "{brokers}", "stream.kafka.consumer.type": "lowlevel",
    "stream.kafka.consumer.prop.auto.offset.reset": "smallest",
    "stream.kafka.decoder.class.name": "org.apache.pinot.plugin.stream.kafka.KafkaJSONMessageDecoder",
    "realtime.segment.flush.threshold.rows": "700"}}}},
  {lakehouse}}}"#
    )
}

fn offline_config(name: &str, lakehouse: &str) -> String {
    format!(
        r#"{{"tableName": "{name}", "tableType": "OFFLINE", "segmentsConfig": {{"timeColumnName": "ts"}},
  {lakehouse}}}"#
    )
}

/// `clients/lakehouse_iceberg.py` with `args` (PyIceberg, the independent reader and
/// writer): the JSON it prints.
fn lakehouse_script(args: &[&str]) -> Json {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/lakehouse_iceberg.py");
    let output = Command::new(tessera_integration_tests::python())
        .arg(script)
        .args(args)
        .output()
        .expect("python runs");
    assert!(
        output.status.success(),
        "lakehouse_iceberg.py {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the script prints JSON")
}

/// PyIceberg writes through its SQL catalog, whose warehouse is on moto.
fn pyiceberg(moto: &Moto, dir: &std::path::Path, args: &[&str]) -> Json {
    let catalog = dir.join("catalog.db").display().to_string();
    let warehouse = format!("s3://{}/wh", moto.bucket);
    let (start, step) = (T0.to_string(), STEP.to_string());
    let mut all = args.to_vec();
    all.extend(["--catalog-db", &catalog, "--warehouse", &warehouse]);
    all.extend([
        "--endpoint",
        &moto.endpoint,
        "--ts-start",
        &start,
        "--ts-step",
        &step,
    ]);
    lakehouse_script(&all)
}

fn append(moto: &Moto, dir: &std::path::Path, first: i64, count: i64) -> Json {
    pyiceberg(
        moto,
        dir,
        &[
            "append",
            "--first-id",
            &first.to_string(),
            "--count",
            &count.to_string(),
        ],
    )
}

/// A query's response JSON (any status).
fn respond(server: &Server, sql: &str) -> (u16, Json) {
    let response = server.post("/query/sql", &json!({ "sql": sql }).to_string());
    let status = response.status;
    (
        status,
        serde_json::from_str(&response.body).unwrap_or(Json::Null),
    )
}

fn rows(server: &Server, sql: &str) -> Vec<Json> {
    let (status, body) = respond(server, sql);
    assert_eq!(status, 200, "{sql}: {body}");
    assert_eq!(body["exceptions"], json!([]), "{sql}: {body}");
    body["resultTable"]["rows"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn lakehouse_status(server: &Server, table: &str, refresh: bool) -> Json {
    let path = format!(
        "/tables/{table}/lakehouse{}",
        if refresh { "?refresh=true" } else { "" }
    );
    let response = server.get(&path);
    assert_eq!(response.status, 200, "{}", response.body);
    response.json()
}

/// COUNT, SUM, MAX and distinct count of id: the logical table holds ids 0..=MAX, each
/// once, whatever the consumer has reached (every id below the boundary is in Iceberg,
/// and Kafka is consumed in id order on one partition).
fn assert_exact_prefix(server: &Server) -> i64 {
    let row = &rows(
        server,
        "SELECT COUNT(*), SUM(id), MAX(id), DISTINCTCOUNT(id) FROM events",
    )[0];
    let count = row[0].as_i64().unwrap_or(-1);
    let sum = row[1].as_f64().unwrap_or(0.0) as i64;
    let max = row[2].as_f64().unwrap_or(-1.0) as i64;
    let distinct = row[3].as_i64().unwrap_or(-1);
    assert_eq!(count, max + 1, "a gap or a duplicate at a seam: {row}");
    assert_eq!(
        sum,
        max * (max + 1) / 2,
        "a gap or a duplicate at a seam: {row}"
    );
    assert_eq!(distinct, count, "an id counted twice: {row}");
    count
}

fn wait_for_rows(server: &Server, want: i64) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let count = assert_exact_prefix(server);
        if count == want {
            return;
        }
        assert!(count < want, "{count} rows, more than {want}");
        assert!(Instant::now() < deadline, "only {count} of {want} rows");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The differential set: each query on Tessera and on DuckDB over the same rows
/// (ids 0..n generated the way the producers make them).
fn assert_matches_duckdb(server: &Server, n: i64, boundary: i64) {
    let table = format!(
        "(SELECT i AS id, 'k' || (i % 17) AS k, (i % 1000) + 0.25 AS v, \
         {T0} + (i // 2) * {STEP} AS ts FROM range({n}) t(i))"
    );
    let queries = [
        "SELECT COUNT(*), SUM(id), MIN(id), MAX(id), SUM(v) FROM events".to_string(),
        "SELECT k, COUNT(*), SUM(v), MIN(id), MAX(id) FROM events GROUP BY k ORDER BY k".into(),
        "SELECT k, MAX(id) FROM events WHERE id % 3 = 0 GROUP BY k ORDER BY MAX(id) DESC, k LIMIT 5"
            .into(),
        format!(
            "SELECT COUNT(*), SUM(id) FROM events WHERE ts >= {} AND ts <= {}",
            boundary - 3 * STEP,
            boundary + 3 * STEP
        ),
        format!("SELECT COUNT(*), SUM(id) FROM events WHERE ts = {boundary}"),
        format!("SELECT COUNT(*) FROM events WHERE ts < {boundary}"),
        format!("SELECT COUNT(*) FROM events WHERE ts >= {boundary}"),
        "SELECT id, v FROM events WHERE k = 'k5' ORDER BY id DESC LIMIT 7".into(),
        "SELECT k, AVG(v) FROM events WHERE v > 500 GROUP BY k HAVING COUNT(*) > 10 ORDER BY k"
            .into(),
        "SELECT COUNT(*) FROM events WHERE k IN ('k1', 'k2') AND id < 3000".into(),
        "SELECT COUNT(*), SUM(v) FROM events WHERE v BETWEEN 100 AND 200 OR k = 'k16'".into(),
        format!("SELECT k, COUNT(*), MIN(id) FROM events WHERE ts < {boundary} GROUP BY k ORDER BY k"),
    ];
    for sql in &queries {
        let ours = rows(server, sql);
        let duck_sql = sql.replace("FROM events", &format!("FROM {table}"));
        let theirs = tessera_integration_tests::duckdb_rows(&duck_sql);
        assert_eq!(ours.len(), theirs.len(), "{sql}: {ours:?} vs {theirs:?}");
        for (a, b) in ours.iter().zip(&theirs) {
            let (a, b) = (a.as_array().expect("row"), b.as_array().expect("row"));
            assert_eq!(a.len(), b.len(), "{sql}");
            for (x, y) in a.iter().zip(b) {
                let number = |v: &Json| {
                    v.as_f64()
                        .or_else(|| v.as_str().and_then(|s| s.parse::<f64>().ok()))
                };
                match (number(x), number(y)) {
                    (Some(x), Some(y)) => assert!(
                        (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0),
                        "{sql}: {x} vs {y}"
                    ),
                    _ => assert_eq!(x.as_str(), y.as_str(), "{sql}: {x} vs {y}"),
                }
            }
        }
    }
}

#[test]
fn test_realtime_table_over_iceberg_history_is_exact_while_streaming_sealing_and_moving_the_boundary()
 {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().expect("tempdir");
    let moto = Moto::start("lake");
    let tansu = Tansu::start_in_memory();
    tansu.create_topic("events", 1);

    // History: ids 0..2899 in Iceberg. Ids 2898 and 2899 share an instant, the largest
    // the snapshot holds: the boundary falls on it, with one of its two rows in Iceberg.
    let first = append(&moto, dir.path(), 0, 2899);
    assert_eq!(first["rows"], json!(2899));
    let boundary = ts(2898);

    let env = moto.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = Server::start(&dir.path().join("data"), Some("s3://lake/deep"), &env);
    server.create_table(
        SCHEMA,
        &realtime_config(
            &tansu.address(),
            &lakehouse_section("s3://lake/wh", "lake.events"),
        ),
    );
    let status = lakehouse_status(&server, "events", true);
    assert_eq!(status["timeBoundary"], json!(boundary), "{status}");
    let files = status["dataFiles"].as_u64().expect("dataFiles");
    assert_eq!(files, 11, "one file per day of 2024-03-01..11: {status}");

    // Pruning: a time filter inside one day's partition opens that partition's file only.
    let before = lakehouse_status(&server, "events", false);
    let day2 = T0 + 2 * DAY;
    let count = rows(
        &server,
        &format!(
            "SELECT COUNT(*) FROM events WHERE ts >= {day2} AND ts < {}",
            day2 + 6 * 3_600_000
        ),
    );
    assert_eq!(count[0][0], json!(72));
    let after = lakehouse_status(&server, "events", false);
    let delta = |key: &str| after[key].as_u64().unwrap_or(0) - before[key].as_u64().unwrap_or(0);
    assert_eq!(delta("filesScanned"), 1, "{before} -> {after}");
    assert_eq!(delta("filesPruned"), files - 1, "{before} -> {after}");
    assert_eq!(
        delta("filesRead"),
        1,
        "only that file was read: {before} -> {after}"
    );
    eprintln!("pruning: 1 of {files} files opened for a filter inside one day");

    // Kafka holds every event from id 0: rows below the boundary are also in Iceberg,
    // and each must be counted once.
    let produced = produce(
        &tansu.address(),
        "events",
        0,
        3000,
        1,
        &[
            "--ts-start",
            &T0.to_string(),
            "--ts-step",
            &STEP.to_string(),
        ],
    );
    assert_eq!(produced.rows, 3000);
    wait_for_rows(&server, 3000);
    assert_matches_duckdb(&server, 3000, boundary);

    // More history lands in Iceberg (ids 2899..4500, already consumed up to 2999): the
    // boundary moves to the instant of ids 4498 and 4499 while the stream goes on.
    let second = append(&moto, dir.path(), 2899, 1601);
    assert_eq!(second["rows"], json!(4500));
    let moved = ts(4499);
    tessera_integration_tests::wait_until("the boundary moves", Duration::from_secs(30), || {
        lakehouse_status(&server, "events", true)["timeBoundary"] == json!(moved)
    });
    assert_exact_prefix(&server);
    // Six bursts of 500 rows while the queries run: the consumer appends each, and a
    // segment seals every second burst.
    let producer = {
        let brokers = tansu.address();
        std::thread::spawn(move || {
            let (start, step) = (T0.to_string(), STEP.to_string());
            let mut rows = 0;
            for burst in 0..6 {
                let flags = ["--ts-start", start.as_str(), "--ts-step", step.as_str()];
                rows += produce(&brokers, "events", 3000 + burst * 500, 500, 1, &flags).rows;
                std::thread::sleep(Duration::from_millis(300));
            }
            rows
        })
    };
    // Exact at every moment while rows stream in and segments seal.
    let mut checks = 0;
    loop {
        let count = assert_exact_prefix(&server);
        checks += 1;
        if count == 6000 {
            break;
        }
        assert!(checks < 5000, "only {count} of 6000 rows");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(producer.join().expect("producer"), 3000);
    assert_matches_duckdb(&server, 6000, moved);
    // A segment seals once it holds 700 rows, at a poll's end: the first 3,000 rows
    // arrive in one poll, then a seal every second burst of 500.
    tessera_integration_tests::wait_until("4 segments seal", Duration::from_secs(60), || {
        moto.keys("deep/events/").len() >= 4
    });
    let sealed = moto.keys("deep/events/").len();
    assert_exact_prefix(&server);
    let status = lakehouse_status(&server, "events", false);
    eprintln!(
        "exact at {checks} checks while streaming; {sealed} segments sealed; boundary moved \
         {boundary} -> {moved}; status {status}"
    );
    let explain = rows(&server, "EXPLAIN PLAN FOR SELECT COUNT(*) FROM events");
    assert!(
        explain
            .iter()
            .any(|r| r.to_string().contains("LAKEHOUSE(iceberg=lake.events")),
        "{explain:?}"
    );
}

#[test]
fn test_missing_damaged_and_mismatched_iceberg_tables_are_clear_errors_and_the_rest_answers() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().expect("tempdir");
    let moto = Moto::start("lake");
    append(&moto, dir.path(), 0, 600);
    pyiceberg(&moto, dir.path(), &["mismatch", "--table", "lake.wrong"]);

    let env = moto.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = Server::start(&dir.path().join("data"), Some("s3://lake/deep"), &env);
    for (name, warehouse, table) in [
        ("good", "s3://lake/wh", "lake.events"),
        ("missing", "s3://lake/wh", "lake.nothing"),
        ("wrong", "s3://lake/wh", "lake.wrong"),
        ("nobucket", "s3://no-such-bucket/wh", "lake.events"),
    ] {
        let schema = SCHEMA.replace("\"events\"", &format!("\"{name}\""));
        server.create_table(
            &schema,
            &offline_config(name, &lakehouse_section(warehouse, table)),
        );
    }
    assert_eq!(rows(&server, "SELECT COUNT(*) FROM good")[0][0], json!(600));

    let failure = |table: &str, needles: &[&str]| {
        let (status, body) = respond(&server, &format!("SELECT COUNT(*) FROM {table}"));
        let text = body.to_string();
        assert!(
            status != 200 || body["exceptions"] != json!([]),
            "{table}: an error was expected: {text}"
        );
        for needle in needles {
            assert!(
                text.contains(needle),
                "{table}: `{needle}` missing from {text}"
            );
        }
        // The server keeps answering the healthy table.
        assert_eq!(rows(&server, "SELECT COUNT(*) FROM good")[0][0], json!(600));
        eprintln!("{table}: {status} {text}");
    };
    failure(
        "missing",
        &["`missing`", "lake.nothing", "s3://lake/wh/lake/nothing"],
    );
    failure("wrong", &["`wrong`", "does not match", "`k`"]);
    failure("nobucket", &["`nobucket`", "no-such-bucket"]);

    // A damaged metadata file becomes the newest: the table keeps its last good
    // snapshot and reports the error; a table that never read a good one fails naming
    // the file.
    let moto_address = moto.endpoint.trim_start_matches("http://").to_string();
    let bad = "wh/lake/events/metadata/00099-damaged.metadata.json";
    let put = http(
        "PUT",
        &moto_address,
        &format!("/lake/{bad}"),
        &[],
        b"{\"format-version\": 2, oops",
    )
    .expect("moto answers");
    assert_eq!(put.status, 200, "{}", put.body);
    let status = lakehouse_status(&server, "good", true);
    assert!(
        status["lastError"]
            .to_string()
            .contains("00099-damaged.metadata.json"),
        "{status}"
    );
    assert_eq!(rows(&server, "SELECT COUNT(*) FROM good")[0][0], json!(600));
    let schema = SCHEMA.replace("\"events\"", "\"late\"");
    server.create_table(
        &schema,
        &offline_config("late", &lakehouse_section("s3://lake/wh", "lake.events")),
    );
    failure("late", &["`late`", "00099-damaged.metadata.json"]);
}

/// PyIceberg reads the table at `location` (its version hint): rows, sums, distincts.
fn pyiceberg_read(moto: &Moto, location: &str) -> Json {
    lakehouse_script(&[
        "read",
        "--location",
        location,
        "--warehouse",
        "unused",
        "--endpoint",
        &moto.endpoint,
    ])
}

/// Produce events `first..first + count` and seal every consuming segment.
fn produce_and_seal(server: &Server, tansu: &Tansu, first: i64, count: i64) {
    let (start, step) = (T0.to_string(), STEP.to_string());
    let flags = ["--ts-start", start.as_str(), "--ts-step", step.as_str()];
    produce(
        &tansu.address(),
        "events",
        first as u64,
        count as u64,
        1,
        &flags,
    );
    wait_for_rows(server, first + count);
    let response = server.post("/tables/events/forceCommit", "");
    assert_eq!(response.status, 200, "{}", response.body);
    tessera_integration_tests::wait_until("every row sealed", Duration::from_secs(60), || {
        server.metric("tessera_segment_rows{table=\"events\",state=\"consuming\"}") == 0.0
    });
}

fn export(server: &Server) -> Json {
    let response = server.post("/tables/events/lakehouse/export", "");
    assert_eq!(response.status, 200, "{}", response.body);
    response.json()
}

#[test]
fn test_export_appends_only_new_segments_pyiceberg_reads_them_drops_them_and_a_kill_leaves_a_whole_snapshot()
 {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().expect("tempdir");
    let moto = Moto::start("lake");
    let tansu = Tansu::start_in_memory();
    tansu.create_topic("events", 1);
    let env = moto.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut server = Server::start(&dir.path().join("data"), Some("s3://lake/deep"), &env);
    // The table's lakehouse is an Iceberg table Tessera creates on its first export.
    let lakehouse = lakehouse_section("s3://lake/wh", "tessera.events").replace(
        r#""timeBoundary""#,
        r#""export": true, "dropExported": true, "timeBoundary""#,
    );
    server.create_table(SCHEMA, &realtime_config(&tansu.address(), &lakehouse));
    let location = "s3://lake/wh/tessera/events";
    produce_and_seal(&server, &tansu, 0, 2000);
    let first = export(&server);
    assert_eq!(first["rows"], json!(2000), "{first}");
    let read = pyiceberg_read(&moto, location);
    assert_eq!(read["rows"], json!(2000), "{read}");
    assert_eq!(read["sum_id"], json!(1999 * 2000 / 2), "{read}");
    assert_eq!(read["distinct_id"], json!(2000), "{read}");
    assert_eq!(read["distinct_k"], json!(17), "{read}");
    assert_eq!(read["min_ts_ms"], json!(ts(0)), "{read}");
    assert_eq!(read["max_ts_ms"], json!(ts(1999)), "{read}");
    // dropExported: the exported segments, all below the boundary, left the table (to
    // the trash); their rows are read from Iceberg now.
    let dropped = first["droppedSegments"].as_array().map_or(0, Vec::len);
    assert!(dropped >= 1, "{first}");
    assert!(
        moto.keys("deep/events/").is_empty(),
        "{:?}",
        moto.keys("deep/")
    );
    assert_eq!(assert_exact_prefix(&server), 2000);
    eprintln!("first export: {first}");
    let tessera = &rows(&server, "SELECT SUM(v), DISTINCTCOUNT(k) FROM events")[0];
    let sum_v = read["sum_v"].as_f64().expect("sum_v");
    assert!(
        (tessera[0].as_f64().expect("sum") - sum_v).abs() < 1e-6,
        "{tessera} vs {read}"
    );
    assert_eq!(tessera[1], read["distinct_k"]);

    // Exporting again with nothing new writes nothing; after more seals, only the new
    // segments are appended.
    let again = export(&server);
    assert_eq!(again["rows"], json!(0), "{again}");
    produce_and_seal(&server, &tansu, 2000, 1000);
    let second = export(&server);
    assert_eq!(second["rows"], json!(1000), "{second}");
    let read = pyiceberg_read(&moto, location);
    assert_eq!(
        (read["rows"].clone(), read["distinct_id"].clone()),
        (json!(3000), json!(3000))
    );
    assert_eq!(read["snapshots"], json!(2), "{read}");
    // The logical table reads its own export as history: still exact.
    assert_eq!(assert_exact_prefix(&server), 3000);

    // kill -9 at each named step of an export: PyIceberg sees the last whole snapshot.
    produce_and_seal(&server, &tansu, 3000, 500);
    for step in ["export.data", "export.manifests", "export.commit"] {
        server.set_env("TESSERA_FAULTS", Some(&format!("{step}=abort")));
        server.restart();
        let _ = http(
            "POST",
            &server.address,
            "/tables/events/lakehouse/export",
            &[],
            b"",
        );
        let status = server.wait_for_exit(Duration::from_secs(60));
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(6), "the crash at {step}: {status}");
        let read = pyiceberg_read(&moto, location);
        assert_eq!(read["rows"], json!(3000), "after a kill at {step}: {read}");
        assert_eq!(
            read["snapshots"],
            json!(2),
            "after a kill at {step}: {read}"
        );
        eprintln!("killed at {step}: PyIceberg reads the old snapshot whole");
    }
    server.set_env("TESSERA_FAULTS", None);
    server.restart();
    let third = export(&server);
    assert_eq!(third["rows"], json!(500), "{third}");
    let read = pyiceberg_read(&moto, location);
    assert_eq!(
        (read["rows"].clone(), read["distinct_id"].clone()),
        (json!(3500), json!(3500))
    );
    assert_eq!(read["sum_id"], json!(3499 * 3500 / 2), "{read}");
    wait_for_rows(&server, 3500);
    assert_matches_duckdb(&server, 3500, ts(3499));
}
