//! Kafka ingestion, exactly once (issue: Kafka ingestion), against the real
//! Kafka-protocol broker tansu: partition consumers at explicit offsets, the segment
//! commit protocol under kill -9, malformed messages, a broker restart, queries during
//! seals, pause/resume and the consuming-segments report.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tessera_integration_tests::kafka::{
    EVENTS_SCHEMA as SCHEMA, Produced, Tansu, events_schema_named,
    events_table_config as table_config, produce, realtime_table_config,
};
use tessera_integration_tests::server::{Moto, Server};

/// These tests start brokers and servers that each want the machine: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn count_and_sum(server: &Server) -> (u64, u64) {
    let response = server.post(
        "/query/sql",
        &serde_json::json!({"sql": "SELECT COUNT(*), SUM(id) FROM events"}).to_string(),
    );
    if response.status != 200 {
        return (0, 0);
    }
    let row = &response.json()["resultTable"]["rows"][0];
    (
        row[0].as_u64().unwrap_or(0),
        row[1].as_f64().unwrap_or(0.0) as u64,
    )
}

fn wait_for_count(server: &Server, want: u64, timeout: Duration) -> (u64, u64) {
    let deadline = Instant::now() + timeout;
    loop {
        let (count, sum) = count_and_sum(server);
        if count >= want {
            return (count, sum);
        }
        assert!(
            Instant::now() < deadline,
            "only {count} of {want} rows after {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn tseg_files(dir: &std::path::Path) -> usize {
    let mut n = 0;
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            n += tseg_files(&path);
        } else if path.extension().is_some_and(|e| e == "tseg") {
            n += 1;
        }
    }
    n
}

#[test]
fn test_million_events_exact_in_local_and_s3_deep_stores_with_a_monotonic_query_loop() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let tansu = Tansu::start_in_memory();
    tansu.create_topic("events", 4);
    let produced = produce(&tansu.address(), "events", 0, 1_000_000, 4, &[]);
    assert_eq!(produced.rows, 1_000_000);

    // Local deep store, with a query loop running through the seals.
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("data"), None, &[]);
    server.create_table(SCHEMA, &table_config(&tansu.address(), 100_000));
    let mut last = 0;
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let (count, _) = count_and_sum(&server);
        assert!(count >= last, "the count went down: {last} then {count}");
        assert!(count <= produced.rows, "{count} rows, more than produced");
        last = count;
        if count == produced.rows {
            break;
        }
        assert!(Instant::now() < deadline, "only {count} rows after 600 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(count_and_sum(&server), (produced.rows, produced.sum_id));
    eprintln!(
        "local deep store: {} rows, sum {} consumed exactly",
        produced.rows, produced.sum_id
    );
    // 250,000 rows per partition at 100,000 per segment: 2 sealed per partition.
    let deep = dir.path().join("data/deepstore/events");
    let deadline = Instant::now() + Duration::from_secs(60);
    while tseg_files(&deep) < 8 {
        assert!(
            Instant::now() < deadline,
            "{} segments sealed",
            tseg_files(&deep)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(count_and_sum(&server), (produced.rows, produced.sum_id));
    drop(server);

    // The same stream into an S3-compatible deep store.
    let moto = Moto::start("tessera-kafka");
    let env = moto.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(
        &dir.path().join("data"),
        Some("s3://tessera-kafka/deep"),
        &env,
    );
    server.create_table(SCHEMA, &table_config(&tansu.address(), 100_000));
    assert_eq!(
        wait_for_count(&server, produced.rows, Duration::from_secs(600)),
        (produced.rows, produced.sum_id)
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    while moto.keys("deep/events/").len() < 8 {
        assert!(Instant::now() < deadline, "{:?}", moto.keys("deep/"));
        std::thread::sleep(Duration::from_millis(500));
    }
    eprintln!("s3 deep store: {:?}", moto.keys("deep/events/"));
    assert_eq!(count_and_sum(&server), (produced.rows, produced.sum_id));
}

#[test]
fn test_kill_9_during_consumption_seal_and_upload_ends_exact() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let tansu = Tansu::start_in_memory();
    tansu.create_topic("events", 4);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(&dir.path().join("data"), None, &[]);
    server.create_table(SCHEMA, &table_config(&tansu.address(), 2_500));
    // One record per batch: a restarted partition seeks to a segment boundary, and
    // tansu is exact only at batch boundaries.
    let brokers = tansu.address();
    let producer = std::thread::spawn(move || {
        let mut total = Produced::default();
        for round in 0..4u64 {
            let part = produce(&brokers, "events", round * 10_000, 10_000, 4, &["--single"]);
            total.rows += part.rows;
            total.sum_id += part.sum_id;
        }
        total
    });
    let kills = AtomicU64::new(0);
    let kill = |server: &mut Server, why: &str| {
        server.kill();
        kills.fetch_add(1, Ordering::Relaxed);
        eprintln!("kill -9 #{} ({why})", kills.load(Ordering::Relaxed));
        server.restart();
    };
    // 1: mid-consumption.
    wait_for_count(&server, 2_000, Duration::from_secs(120));
    kill(&mut server, "mid-consumption");
    // 2 to 4: at each step of a seal in turn (build, upload, commit).
    server.crash_at_each_seal_step();
    kills.fetch_add(3, Ordering::Relaxed);
    let produced = producer.join().expect("producer thread");
    assert_eq!(produced.rows, 40_000);
    // 4: once more after everything was produced.
    wait_for_count(&server, 20_000, Duration::from_secs(120));
    kill(&mut server, "late");
    let (count, sum) = wait_for_count(&server, produced.rows, Duration::from_secs(300));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        count_and_sum(&server),
        (produced.rows, produced.sum_id),
        "(was {count}, {sum})"
    );
    assert!(kills.load(Ordering::Relaxed) >= 4);
    // Every id exactly once.
    let duplicates =
        server.query("SELECT id, COUNT(*) FROM events GROUP BY id HAVING COUNT(*) > 1 LIMIT 5");
    assert!(duplicates.is_empty(), "{duplicates:?}");
}

#[test]
fn test_malformed_messages_are_counted_and_skipped() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let tansu = Tansu::start_in_memory();
    tansu.create_topic("events", 2);
    let produced = produce(&tansu.address(), "events", 0, 5_000, 2, &["--bad", "10"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("data"), None, &[]);
    server.create_table(SCHEMA, &table_config(&tansu.address(), 1_000));
    assert_eq!(
        wait_for_count(&server, produced.rows, Duration::from_secs(120)),
        (produced.rows, produced.sum_id)
    );
    // The bad messages come first in each partition: all were read before the rows.
    for reason in [
        "invalid_json",
        "wrong_type",
        "missing_time",
        "row_too_large",
    ] {
        let want = produced.bad[reason].as_f64().unwrap_or(-1.0);
        let got = server.metric(&format!(
            "tessera_rows_rejected_total{{table=\"events\",reason=\"{reason}\"}}"
        ));
        assert_eq!(got, want, "{reason}");
    }
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(count_and_sum(&server), (produced.rows, produced.sum_id));
}

#[test]
fn test_every_compression_codec_is_consumed_exactly_once() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let tansu = Tansu::start_in_memory();
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("data"), None, &[]);
    for (n, codec) in ["gzip", "snappy", "lz4", "zstd"].into_iter().enumerate() {
        tansu.create_topic(codec, 2);
        let first_id = n as u64 * 1_000_000;
        let produced = produce(
            &tansu.address(),
            codec,
            first_id,
            50_000,
            2,
            &["--compression", codec],
        );
        server.create_table(
            &events_schema_named(codec),
            &realtime_table_config(codec, codec, &tansu.address(), 20_000),
        );
        let sql = format!("SELECT COUNT(*), SUM(id) FROM {codec}");
        let deadline = Instant::now() + Duration::from_secs(120);
        let answer = loop {
            let rows = server.query(&sql);
            let answer = (
                rows[0][0].as_u64().unwrap_or(0),
                rows[0][1].as_f64().unwrap_or(0.0) as u64,
            );
            if answer.0 >= produced.rows || Instant::now() > deadline {
                break answer;
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        assert_eq!(answer, (produced.rows, produced.sum_id), "{codec}");
        assert_eq!(produced.rows, 50_000, "{codec}");
    }
}

#[test]
fn test_broker_restart_mid_stream_resumes_exactly() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // Durable: the broker keeps its log in an S3-compatible bucket across restarts.
    let moto = Moto::start("tansu-log");
    let mut tansu = Tansu::start_durable(&moto);
    tansu.create_topic("events", 2);
    let first = produce(&tansu.address(), "events", 0, 20_000, 2, &[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("data"), None, &[]);
    server.create_table(SCHEMA, &table_config(&tansu.address(), 8_000));
    wait_for_count(&server, first.rows, Duration::from_secs(120));

    // The broker goes away and comes back with its log; queries keep answering.
    tansu.stop();
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(count_and_sum(&server), (first.rows, first.sum_id));
    tansu.restart();
    let second = produce(&tansu.address(), "events", 20_000, 20_000, 2, &[]);
    let total = (first.rows + second.rows, first.sum_id + second.sum_id);
    assert_eq!(
        wait_for_count(&server, total.0, Duration::from_secs(180)),
        total
    );
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(count_and_sum(&server), total);
}

/// The partitions `consumingSegmentsInfo` reports a consuming segment for.
fn consuming_partitions(server: &Server) -> usize {
    let info = server.get("/tables/events/consumingSegmentsInfo");
    assert_eq!(info.status, 200, "{}", info.body);
    info.json()["_segmentToConsumingInfoMap"]
        .as_object()
        .map_or(0, |segments| segments.len())
}

#[test]
fn test_partitions_added_to_the_topic_are_discovered_and_consumed_exactly_once() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let moto = Moto::start("tansu-grow");
    let tansu = Tansu::start_durable(&moto);
    tansu.create_topic("events", 1);
    let first = produce(&tansu.address(), "events", 0, 5_000, 1, &[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("data"), None, &[]);
    // Discovery every 2 s (`tessera.kafka.partition.discovery.interval`).
    server.create_table(SCHEMA, &table_config(&tansu.address(), 100_000));
    wait_for_count(&server, first.rows, Duration::from_secs(120));
    assert_eq!(consuming_partitions(&server), 1);

    // The topic grows from one partition to three while the table consumes.
    tansu.add_partitions(&moto, "events", 3);
    let waited = tessera_integration_tests::wait_until(
        "the table consumes the topic's three partitions",
        Duration::from_secs(60),
        || consuming_partitions(&server) == 3,
    );
    eprintln!("new partitions discovered after {waited:?}");

    // Rows in every partition, the new ones included, each counted once.
    let second = produce(&tansu.address(), "events", 5_000, 6_000, 3, &[]);
    let total = (first.rows + second.rows, first.sum_id + second.sum_id);
    assert_eq!(
        wait_for_count(&server, total.0, Duration::from_secs(120)),
        total
    );
    let per_partition = server.post(
        "/query/sql",
        &serde_json::json!({"sql": "SELECT COUNT(*) FROM events WHERE id >= 5000 AND id % 3 = 2"})
            .to_string(),
    );
    assert_eq!(
        per_partition.json()["resultTable"]["rows"][0][0],
        2_000,
        "partition 2's rows: {}",
        per_partition.body
    );
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(count_and_sum(&server), total);

    // After a restart the table resumes all three partitions from the catalog.
    let mut server = server;
    server.restart();
    assert_eq!(
        wait_for_count(&server, total.0, Duration::from_secs(60)),
        total
    );
    assert_eq!(consuming_partitions(&server), 3);
}

#[test]
fn test_pause_resume_consuming_info_lag_and_freshness() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let tansu = Tansu::start_in_memory();
    tansu.create_topic("events", 2);
    let first = produce(&tansu.address(), "events", 0, 10_000, 2, &[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("data"), None, &[]);
    server.create_table(SCHEMA, &table_config(&tansu.address(), 100_000));
    let total = (first.rows, first.sum_id);
    assert_eq!(
        wait_for_count(&server, total.0, Duration::from_secs(120)),
        total
    );

    // Paused: new messages wait in the broker and the report shows them as lag.
    let paused = server.post("/tables/events/pauseConsumption", "");
    assert_eq!(paused.status, 200, "{}", paused.body);
    std::thread::sleep(Duration::from_millis(500));
    // One record per batch: tansu's log-end offset is exact only then.
    let more = produce(&tansu.address(), "events", 10_000, 4_000, 2, &["--single"]);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        count_and_sum(&server),
        total,
        "paused tables do not consume"
    );
    let info = server.get("/tables/events/consumingSegmentsInfo");
    assert_eq!(info.status, 200, "{}", info.body);
    let info = info.json();
    assert_eq!(info["paused"], true, "{info}");
    let lag: u64 = info["_segmentToConsumingInfoMap"]
        .as_object()
        .map(|segments| {
            segments
                .values()
                .filter_map(|s| {
                    s[0]["partitionOffsetInfo"]["recordsLagMap"]
                        .as_object()
                        .cloned()
                })
                .flat_map(|m| m.into_values())
                .filter_map(|v| v.as_str().and_then(|s| s.parse::<u64>().ok()))
                .sum()
        })
        .unwrap_or(0);
    assert_eq!(lag, more.rows, "lag after producing while paused: {info}");
    let metric_lag = server
        .metric("tessera_consuming_lag_offsets{table=\"events\",partition=\"0\"}")
        + server.metric("tessera_consuming_lag_offsets{table=\"events\",partition=\"1\"}");
    assert_eq!(metric_lag, more.rows as f64, "lag in /metrics");
    assert!(server.metric("tessera_consuming_lag_seconds{table=\"events\",partition=\"0\"}") > 0.0);
    // Pausing committed the consumed rows (as Pinot does): no consuming segment is
    // left to report a freshness.
    let fresh = server.post(
        "/query/sql",
        &serde_json::json!({"sql": "SELECT COUNT(*) FROM events"}).to_string(),
    );
    let freshness = fresh.json()["minConsumingFreshnessTimeMs"]
        .as_i64()
        .unwrap_or(0);
    assert_eq!(freshness, -1, "{}", fresh.body);

    // Pausing committed what was consumed; killed and restarted, the table is still
    // paused and answers every consumed row from its sealed segments.
    let deadline = Instant::now() + Duration::from_secs(60);
    while server.metric("tessera_segments_sealed_total{table=\"events\"}") < 2.0 {
        assert!(
            Instant::now() < deadline,
            "the pause committed both partitions' consumed rows"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut server = server;
    server.restart();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        count_and_sum(&server),
        total,
        "still paused after a restart"
    );
    let info = server.get("/tables/events/consumingSegmentsInfo").json();
    assert_eq!(info["paused"], true, "{info}");

    let resumed = server.post("/tables/events/resumeConsumption", "");
    assert_eq!(resumed.status, 200, "{}", resumed.body);
    let total = (total.0 + more.rows, total.1 + more.sum_id);
    assert_eq!(
        wait_for_count(&server, total.0, Duration::from_secs(120)),
        total
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        server.metric("tessera_consuming_lag_offsets{table=\"events\",partition=\"0\"}"),
        0.0
    );
    let caught_up = server.post(
        "/query/sql",
        &serde_json::json!({"sql": "SELECT COUNT(*) FROM events"}).to_string(),
    );
    assert!(
        caught_up.json()["minConsumingFreshnessTimeMs"]
            .as_i64()
            .unwrap_or(0)
            > freshness,
        "{}",
        caught_up.body
    );
}
