//! A REALTIME Kafka table in the cluster (`deploy/cluster/local.sh` and the tansu
//! broker): one realtime server consumes the topic's 4 partitions; sealed segments are
//! committed through the etcd catalog and handed off to historical servers under a query
//! loop in which COUNT(*) never goes down and never exceeds what was produced; then the
//! consuming server is killed with `kill -9` and another resumes every partition from
//! the committed offsets: COUNT(*) and SUM(id) exact.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tessera_integration_tests::cluster::LocalCluster;
use tessera_integration_tests::kafka::{
    EVENTS_SCHEMA as SCHEMA, Tansu, events_table_config as table_config, produce,
};
use tessera_integration_tests::server::http;

fn post(url: &str, path: &str, body: &str) {
    let response = http(
        "POST",
        url.trim_start_matches("http://"),
        path,
        &[],
        body.as_bytes(),
    )
    .expect("the broker answers");
    assert_eq!(response.status, 200, "POST {path}: {}", response.body);
}

/// (COUNT(*), SUM(id)) when the answer is exact.
fn count_and_sum(cluster: &LocalCluster, broker: &str) -> Option<(u64, u64)> {
    let response = cluster.query(broker, "SELECT COUNT(*), SUM(id) FROM events");
    if response["partialResult"].as_bool().unwrap_or(true)
        || response["exceptions"]
            .as_array()
            .is_none_or(|e| !e.is_empty())
    {
        return None;
    }
    let row = &response["resultTable"]["rows"][0];
    Some((row[0].as_u64()?, row[1].as_f64().unwrap_or(0.0) as u64))
}

#[test]
fn test_realtime_table_hands_off_and_survives_its_consumer() {
    let tansu = Tansu::start_in_memory();
    tansu.create_topic("events", 4);
    let cluster = LocalCluster::up(3);
    let brokers = cluster.broker_urls();
    post(&brokers[0], "/schemas", SCHEMA);
    post(&brokers[0], "/tables", &table_config(&tansu.address(), 200));

    // Seals and handoffs under a query loop: COUNT(*) never goes down, never passes
    // what was produced.
    let produced = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (produced, stop, brokers) = (produced.clone(), stop.clone(), brokers.clone());
        let cluster_dir = cluster.dir().to_path_buf();
        std::thread::spawn(move || {
            let _ = cluster_dir;
            let (mut last, mut answers, mut turn) = (0u64, 0u64, 0usize);
            while !stop.load(Ordering::Acquire) {
                let broker = &brokers[turn % brokers.len()];
                turn += 1;
                let body = serde_json::json!({"sql": "SELECT COUNT(*) FROM events"}).to_string();
                let ceiling = produced.load(Ordering::Acquire);
                let Ok(response) = http(
                    "POST",
                    broker.trim_start_matches("http://"),
                    "/query/sql",
                    &[],
                    body.as_bytes(),
                ) else {
                    continue;
                };
                let json = response.json();
                let Some(count) = json["resultTable"]["rows"][0][0].as_u64() else {
                    panic!("no count: {}", response.body);
                };
                assert!(
                    !json["partialResult"].as_bool().unwrap_or(false),
                    "a partial answer during handoffs: {}",
                    response.body
                );
                assert!(count >= last, "COUNT went down: {last} then {count}");
                let ceiling = ceiling.max(produced.load(Ordering::Acquire));
                assert!(
                    count <= ceiling,
                    "COUNT {count} passed what was produced ({ceiling})"
                );
                last = count;
                answers += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            answers
        })
    };
    let mut expected_rows = 0;
    let mut expected_sum = 0;
    // Batches of 1,000 (250 a partition) each seen before the next is sent, so every
    // batch passes the 200-row threshold and seals a segment on each partition.
    for batch in 0..5u64 {
        // The ceiling rises before the rows can be seen.
        produced.fetch_add(1_000, Ordering::AcqRel);
        let sent = produce(&tansu.address(), "events", batch * 1_000, 1_000, 4, &[]);
        expected_rows += sent.rows;
        expected_sum += sent.sum_id;
        LocalCluster::wait_until("every row queryable", Duration::from_secs(60), || {
            count_and_sum(&cluster, &brokers[0]) == Some((expected_rows, expected_sum))
        });
    }
    let handed_off = || {
        let view = cluster.cluster_view();
        view["tables"]["events"]["serving"]
            .as_object()
            .map_or(0, |segments| {
                segments
                    .values()
                    .filter(|on| {
                        on.as_array().is_some_and(|on| {
                            on.iter()
                                .any(|s| s.as_str().is_some_and(|s| s.starts_with("server-hist")))
                        })
                    })
                    .count()
            })
    };
    LocalCluster::wait_until("at least 10 handoffs", Duration::from_secs(90), || {
        handed_off() >= 10
    });
    let consumer = cluster.cluster_view()["consumers"]["events"]
        .as_str()
        .expect("a consumer")
        .to_string();
    // The realtime server drops what the historical servers took (after a grace period
    // for brokers' views), still under the query loop.
    let held_by_consumer = || {
        cluster.cluster_view()["tables"]["events"]["serving"]
            .as_object()
            .map_or(usize::MAX, |segments| {
                segments
                    .values()
                    .filter(|on| {
                        on.as_array()
                            .is_some_and(|on| on.iter().any(|s| *s == consumer.as_str()))
                    })
                    .count()
            })
    };
    LocalCluster::wait_until(
        "the consumer dropped handed-off segments",
        Duration::from_secs(30),
        || held_by_consumer() <= 8,
    );
    stop.store(true, Ordering::Release);
    let answers = watcher.join().expect("the query loop held its invariants");
    assert!(answers > 10, "the loop ran ({answers} answers)");
    eprintln!(
        "{} segments handed off under {answers} queries",
        handed_off()
    );

    // kill -9 the consuming server while more is produced: another realtime server
    // resumes every partition from the committed offsets.
    let killed_at = Instant::now();
    cluster.signal(&consumer, "KILL");
    let sent = produce(&tansu.address(), "events", 5_000, 5_000, 4, &[]);
    expected_rows += sent.rows;
    expected_sum += sent.sum_id;
    let took =
        LocalCluster::wait_until("exact after the takeover", Duration::from_secs(120), || {
            count_and_sum(&cluster, &brokers[1]) == Some((expected_rows, expected_sum))
        });
    let now = cluster.cluster_view()["consumers"]["events"]
        .as_str()
        .map(str::to_string);
    assert!(
        now.is_some_and(|now| now != consumer),
        "another server consumes"
    );
    eprintln!(
        "exact {took:?} after the kill ({:?} since)",
        killed_at.elapsed()
    );

    // kill -9 the controller leader while more is produced and sealed: seals commit
    // through the catalog without it, the standby leads and hands the new segments off;
    // nothing lost, nothing counted twice.
    let leader = cluster.leader().expect("a leader");
    let before = handed_off();
    cluster.signal(&leader, "KILL");
    let sent = produce(&tansu.address(), "events", 10_000, 5_000, 4, &[]);
    expected_rows += sent.rows;
    expected_sum += sent.sum_id;
    LocalCluster::wait_until("the standby leads", Duration::from_secs(15), || {
        cluster.leader().is_some_and(|now| now != leader)
    });
    LocalCluster::wait_until(
        "exact after the leader's death",
        Duration::from_secs(60),
        || count_and_sum(&cluster, &brokers[0]) == Some((expected_rows, expected_sum)),
    );
    LocalCluster::wait_until(
        "handoffs continue under the new leader",
        Duration::from_secs(60),
        || handed_off() > before,
    );
}
