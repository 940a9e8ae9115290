//! REALTIME Kafka tables in the cluster (`deploy/cluster/local.sh` and the tansu
//! broker): the two realtime servers share a topic's partitions; sealed segments are
//! committed through the etcd catalog and handed off to historical servers under a query
//! loop in which COUNT(*) never goes down and never exceeds what was produced; a
//! realtime server consuming 4 partitions is killed with `kill -9` while 200,000
//! messages stream in, and the other resumes its partitions from the committed offsets:
//! COUNT(*) and SUM(id) exact; retention trashes old segments; the controller leader
//! is killed during seals; the table is dropped and restored.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tessera_integration_tests::cluster::LocalCluster;
use tessera_integration_tests::kafka::{
    EVENTS_SCHEMA as SCHEMA, Tansu, events_schema_named, events_table_config as table_config,
    produce, realtime_table_config,
};
use tessera_integration_tests::server::{http, metric_at};

/// The clusters of this file want the machine: one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Partition → consuming server of `table`, from the controller's `/cluster`.
fn consumers(cluster: &LocalCluster, table: &str) -> Vec<(u32, String)> {
    cluster.cluster_view()["consumers"][table]
        .as_object()
        .map(|partitions| {
            partitions
                .iter()
                .filter_map(|(p, s)| Some((p.parse().ok()?, s.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// How many of `table`'s partitions `server` is assigned.
fn partitions_of(cluster: &LocalCluster, table: &str, server: &str) -> usize {
    consumers(cluster, table)
        .iter()
        .filter(|(_, s)| s == server)
        .count()
}

#[test]
fn test_realtime_table_hands_off_and_survives_its_consumer() {
    let _alone = serial();
    let tansu = Tansu::start_in_memory();
    tansu.create_topic("events", 4);
    let cluster = LocalCluster::up(3);
    let brokers = cluster.broker_urls();
    LocalCluster::post(&brokers[0], "/schemas", SCHEMA);
    LocalCluster::post(&brokers[0], "/tables", &table_config(&tansu.address(), 200));

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
            cluster.exact_count_and_sum(&brokers[0], "events")
                == Some((expected_rows, expected_sum))
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
    // The partitions are spread: each realtime server consumes two.
    assert_eq!(
        (
            partitions_of(&cluster, "events", "server-rt-1"),
            partitions_of(&cluster, "events", "server-rt-2")
        ),
        (2, 2),
        "partitions spread over the realtime servers: {:?}",
        consumers(&cluster, "events")
    );
    // `/cluster` reports each consuming partition, its server and its lag (caught up).
    LocalCluster::wait_until("consumption reported", Duration::from_secs(30), || {
        let view = cluster.cluster_view();
        let partitions = view["consuming"]["events"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        partitions.len() == 4
            && partitions.values().all(|status| {
                status["lagOffsets"] == 0
                    && status["nextOffset"]
                        .as_u64()
                        .is_some_and(|offset| offset >= 1_250)
                    && status["server"]
                        .as_str()
                        .is_some_and(|s| s.starts_with("server-rt"))
            })
    });
    // The realtime servers drop what the historical servers took (after a grace period
    // for brokers' views), still under the query loop: what is left on them is about
    // their 4 consuming segments.
    let held_by_realtime = || {
        cluster.cluster_view()["tables"]["events"]["serving"]
            .as_object()
            .map_or(usize::MAX, |segments| {
                segments
                    .values()
                    .filter(|on| {
                        on.as_array().is_some_and(|on| {
                            on.iter()
                                .any(|s| s.as_str().is_some_and(|s| s.starts_with("server-rt")))
                        })
                    })
                    .count()
            })
    };
    LocalCluster::wait_until(
        "the realtime servers dropped handed-off segments",
        Duration::from_secs(30),
        || held_by_realtime() <= 8,
    );
    stop.store(true, Ordering::Release);
    let answers = watcher.join().expect("the query loop held its invariants");
    assert!(answers > 10, "the loop ran ({answers} answers)");
    eprintln!(
        "{} segments handed off under {answers} queries",
        handed_off()
    );

    // A second table on an 8-partition topic: each realtime server consumes 4. 200,000
    // messages stream in; kill -9 one realtime server while it consumes them: the other
    // resumes its 4 partitions from the committed offsets.
    tansu.create_topic("clicks", 8);
    LocalCluster::post(&brokers[0], "/schemas", &events_schema_named("clicks"));
    LocalCluster::post(
        &brokers[0],
        "/tables",
        &realtime_table_config("clicks", "clicks", &tansu.address(), 20_000),
    );
    LocalCluster::wait_until(
        "8 partitions spread 4 and 4",
        Duration::from_secs(30),
        || {
            partitions_of(&cluster, "clicks", "server-rt-1") == 4
                && partitions_of(&cluster, "clicks", "server-rt-2") == 4
        },
    );
    let producer = {
        let address = tansu.address();
        std::thread::spawn(move || produce(&address, "clicks", 0, 200_000, 8, &[]))
    };
    let clicks = |broker: &str| {
        let response = cluster.query(broker, "SELECT COUNT(*), SUM(id) FROM clicks");
        let row = &response["resultTable"]["rows"][0];
        (
            row[0].as_u64().unwrap_or(0),
            row[1].as_f64().unwrap_or(0.0) as u64,
            response["partialResult"].as_bool().unwrap_or(true),
        )
    };
    LocalCluster::wait_until("consumption under way", Duration::from_secs(60), || {
        clicks(&brokers[0]).0 >= 20_000
    });
    let victim = "server-rt-1";
    let killed_at = Instant::now();
    let (consumed_at_kill, _, _) = clicks(&brokers[0]);
    cluster.signal(victim, "KILL");
    let sent = producer.join().expect("the producer");
    assert_eq!(sent.rows, 200_000);
    let sent_clicks_sum = sent.sum_id;
    assert!(
        consumed_at_kill < sent.rows,
        "killed while consuming ({consumed_at_kill} of {} rows in)",
        sent.rows
    );
    let took =
        LocalCluster::wait_until("exact after the takeover", Duration::from_secs(180), || {
            let (count, sum, partial) = clicks(&brokers[1]);
            assert!(count <= sent.rows, "COUNT {count} passed what was produced");
            !partial && (count, sum) == (sent.rows, sent.sum_id)
        });
    assert_eq!(
        partitions_of(&cluster, "clicks", "server-rt-2"),
        8,
        "the survivor consumes every partition"
    );
    eprintln!(
        "clicks exact {took:?} after the producer finished, {:?} after the kill \
         ({consumed_at_kill} of 200000 rows were in)",
        killed_at.elapsed()
    );
    // The events table moved to the survivor too and lost nothing.
    let sent = produce(&tansu.address(), "events", 5_000, 5_000, 4, &[]);
    expected_rows += sent.rows;
    expected_sum += sent.sum_id;
    LocalCluster::wait_until(
        "events exact after the takeover",
        Duration::from_secs(60),
        || {
            cluster.exact_count_and_sum(&brokers[1], "events")
                == Some((expected_rows, expected_sum))
        },
    );

    // The killed server comes back; decommissioning the survivor moves every partition
    // to it, each released first (its rows sealed and committed), while rows stream in:
    // nothing lost, nothing twice.
    cluster.start(victim);
    LocalCluster::post(&brokers[0], "/cluster/servers/server-rt-2/decommission", "");
    let producer = {
        let address = tansu.address();
        std::thread::spawn(move || produce(&address, "clicks", 200_000, 20_000, 8, &[]))
    };
    LocalCluster::wait_until("the partitions moved", Duration::from_secs(60), || {
        partitions_of(&cluster, "clicks", victim) == 8
            && partitions_of(&cluster, "events", victim) == 4
    });
    let more = producer.join().expect("the producer");
    let moved = LocalCluster::wait_until(
        "exact after the decommission",
        Duration::from_secs(60),
        || {
            let (count, sum, partial) = clicks(&brokers[0]);
            assert!(count <= 220_000, "COUNT {count} passed what was produced");
            !partial && (count, sum) == (220_000, sent_clicks_sum + more.sum_id)
        },
    );
    eprintln!("clicks exact {moved:?} after the partitions moved off a decommissioned server");
    // Realtime servers report their ingestion in /metrics, as standalone does.
    let view = cluster.cluster_view();
    let ingested: f64 = view["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|node| node["role"] == "server")
        .filter_map(|node| node["httpAddress"].as_str())
        .map(|address| metric_at(address, "tessera_rows_ingested_total{table=\"clicks\"}"))
        .sum();
    assert!(ingested > 0.0, "no realtime server reports rows ingested");
    // The table's status, through a broker (forwarded to the leader, which asks the
    // realtime servers): healthy, no seal stalled.
    let status = LocalCluster::get(&brokers[0], "/tables/clicks/status");
    assert_eq!(
        status["ingestionStatus"]["ingestionState"], "HEALTHY",
        "{status}"
    );
    assert_eq!(status["sealStalls"], serde_json::json!([]), "{status}");

    // Pause: every consumer stops (the lag grows, nothing more is served); resume: exact.
    // Then forceCommit seals every consuming segment on every realtime server.
    let info = || {
        LocalCluster::get(&brokers[0], "/tables/clicks/consumingSegmentsInfo")
            ["_segmentToConsumingInfoMap"]
            .as_object()
            .cloned()
            .unwrap_or_default()
    };
    let reports = |info: &serde_json::Map<String, serde_json::Value>| -> Vec<serde_json::Value> {
        info.values()
            .flat_map(|entries| entries.as_array().cloned().unwrap_or_default())
            .collect()
    };
    LocalCluster::post(&brokers[0], "/tables/clicks/pauseConsumption", "");
    LocalCluster::wait_until("every consumer paused", Duration::from_secs(30), || {
        let reports = reports(&info());
        reports.len() == 8
            && reports
                .iter()
                .all(|r| r["consumerState"] == "NOT_CONSUMING")
    });
    let paused_more = produce(&tansu.address(), "clicks", 220_000, 1_000, 8, &[]);
    // Proof that consumers ran meanwhile: rows of another table produced after these
    // are consumed (by the same server), while the paused table's are not.
    let later = produce(&tansu.address(), "events", 20_000, 400, 4, &[]);
    expected_rows += later.rows;
    expected_sum += later.sum_id;
    LocalCluster::wait_until("the later events consumed", Duration::from_secs(30), || {
        cluster.exact_count_and_sum(&brokers[0], "events") == Some((expected_rows, expected_sum))
    });
    assert_eq!(
        clicks(&brokers[0]).0,
        220_000,
        "nothing consumed while paused"
    );
    LocalCluster::post(&brokers[1], "/tables/clicks/resumeConsumption", "");
    let clicks_sum = sent_clicks_sum + more.sum_id + paused_more.sum_id;
    LocalCluster::wait_until("exact after resuming", Duration::from_secs(30), || {
        let (count, sum, partial) = clicks(&brokers[0]);
        !partial && (count, sum) == (221_000, clicks_sum)
    });
    let before: std::collections::BTreeSet<String> = info().keys().cloned().collect();
    LocalCluster::post(&brokers[0], "/tables/clicks/forceCommit", "");
    LocalCluster::wait_until(
        "every consuming segment sealed",
        Duration::from_secs(30),
        || {
            let now = info();
            now.len() == 8 && now.keys().all(|segment| !before.contains(segment))
        },
    );
    let (count, sum, _) = clicks(&brokers[1]);
    assert_eq!(
        (count, sum),
        (221_000, clicks_sum),
        "exact after the force commit"
    );

    // Retention: a table keeping 30 days. 2,000 rows from 40 days ago seal into old
    // segments (one a partition), 500 fresh rows stay consuming; the leader trashes the
    // old segments (out of routing, files into the deep store's trash), restorable.
    tansu.create_topic("aged", 2);
    LocalCluster::post(&brokers[0], "/schemas", &events_schema_named("aged"));
    let aged_config = realtime_table_config("aged", "aged", &tansu.address(), 1_000).replace(
        r#""segmentsConfig": {"timeColumnName": "ts"}"#,
        r#""segmentsConfig": {"timeColumnName": "ts", "retentionTimeUnit": "DAYS", "retentionTimeValue": "30"}"#,
    );
    LocalCluster::post(&brokers[0], "/tables", &aged_config);
    let forty_days_ago = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
        - 40 * 86_400_000)
        .to_string();
    produce(
        &tansu.address(),
        "aged",
        0,
        2_000,
        2,
        &["--ts-ms", &forty_days_ago],
    );
    let aged_count = || {
        let response = cluster.query(&brokers[0], "SELECT COUNT(*) FROM aged");
        let count = response["resultTable"]["rows"][0][0].as_u64();
        assert!(
            count.is_none_or(|c| c <= 2_500),
            "more rows than produced: {response}"
        );
        count
    };
    // (name, rows) of the trashed segments.
    let trash = || {
        LocalCluster::get(&brokers[1], "/tables/aged/trash")["segments"]
            .as_array()
            .map(|segments| {
                segments
                    .iter()
                    .filter_map(|s| {
                        Some((
                            s["segmentName"].as_str()?.to_string(),
                            s["totalDocs"].as_u64()?,
                        ))
                    })
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    let trashed_rows = || trash().iter().map(|(_, rows)| rows).sum::<u64>();
    // Each partition's 1,000 old rows seal (the threshold) and are trashed.
    LocalCluster::wait_until("the old segments trashed", Duration::from_secs(60), || {
        trashed_rows() == 2_000 && aged_count() == Some(0)
    });
    produce(&tansu.address(), "aged", 2_000, 500, 2, &[]);
    LocalCluster::wait_until("the fresh rows served", Duration::from_secs(60), || {
        aged_count() == Some(500)
    });
    // A restored segment comes back to routing; the table's retention was not raised,
    // so the next pass trashes it again.
    let (restored, rows) = trash()[0].clone();
    LocalCluster::post(
        &brokers[1],
        &format!("/tables/aged/segments/{restored}/restore"),
        "",
    );
    assert!(
        trashed_rows() == 2_000 - rows || aged_count() == Some(500 + rows),
        "restored"
    );
    LocalCluster::wait_until("trashed again", Duration::from_secs(30), || {
        trashed_rows() == 2_000 && aged_count() == Some(500)
    });

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
        || {
            cluster.exact_count_and_sum(&brokers[0], "events")
                == Some((expected_rows, expected_sum))
        },
    );
    LocalCluster::wait_until(
        "handoffs continue under the new leader",
        Duration::from_secs(60),
        || handed_off() > before,
    );

    // Drop the table while rows stream in: it leaves routing, its consumers stop; restore
    // it: served again and consumed from the committed offsets, exact.
    let dropped = http(
        "DELETE",
        brokers[0].trim_start_matches("http://"),
        "/tables/events",
        &[],
        b"",
    )
    .expect("the broker answers");
    assert_eq!(dropped.status, 200, "{}", dropped.body);
    let sent = produce(&tansu.address(), "events", 15_000, 2_000, 4, &[]);
    expected_rows += sent.rows;
    expected_sum += sent.sum_id;
    LocalCluster::wait_until(
        "the table gone from routing",
        Duration::from_secs(10),
        || {
            let body = serde_json::json!({"sql": "SELECT COUNT(*) FROM events"}).to_string();
            http(
                "POST",
                brokers[1].trim_start_matches("http://"),
                "/query/sql",
                &[],
                body.as_bytes(),
            )
            .is_ok_and(|response| response.status == 404 && response.body.contains("events"))
        },
    );
    let again = http(
        "DELETE",
        brokers[1].trim_start_matches("http://"),
        "/tables/events",
        &[],
        b"",
    )
    .expect("the broker answers");
    assert_eq!(again.status, 404, "{}", again.body);
    LocalCluster::post(&brokers[1], "/tables/events/restore", "");
    LocalCluster::wait_until("exact after the restore", Duration::from_secs(60), || {
        cluster.exact_count_and_sum(&brokers[0], "events") == Some((expected_rows, expected_sum))
    });
}

/// A seal that cannot succeed on a realtime server (`TESSERA_FAULTS=seal.build=error`
/// on every node) shows in the table's status through a broker — the partition, its
/// server, the error — while the rows stay queryable from the consuming segments.
#[test]
fn test_a_seal_that_cannot_succeed_shows_in_the_cluster_table_status() {
    let _alone = serial();
    let tansu = Tansu::start_in_memory();
    tansu.create_topic("events", 2);
    let cluster = LocalCluster::up_with(3, &[("TESSERA_FAULTS", "seal.build=error")]);
    let brokers = cluster.broker_urls();
    LocalCluster::post(&brokers[0], "/schemas", SCHEMA);
    LocalCluster::post(&brokers[0], "/tables", &table_config(&tansu.address(), 200));
    let sent = produce(&tansu.address(), "events", 0, 1_000, 2, &[]);
    let status = || LocalCluster::get(&brokers[0], "/tables/events/status");
    LocalCluster::wait_until("the stall in the status", Duration::from_secs(60), || {
        status()["ingestionStatus"]["ingestionState"] == "UNHEALTHY"
    });
    let status = status();
    let message = status["ingestionStatus"]["errorMessage"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(message.contains("seal.build"), "{status}");
    let stall = &status["sealStalls"][0];
    assert!(
        stall["server"]
            .as_str()
            .is_some_and(|s| s.starts_with("server-rt")),
        "{status}"
    );
    LocalCluster::wait_until("every row queryable", Duration::from_secs(60), || {
        cluster.exact_count_and_sum(&brokers[0], "events") == Some((sent.rows, sent.sum_id))
    });
}
