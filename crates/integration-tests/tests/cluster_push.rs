//! Push tables in a cluster: `POST /ingest/{t}` on any broker reaches the realtime
//! server consuming the chosen partition (a keyed request's partition is fixed by its
//! key). A realtime server killed with `kill -9` keeps its partitions (their
//! write-ahead logs are on its disk): keyed pushes for them are refused (503) until it
//! is back, others go to partitions that are up, queries flag its rows as unavailable
//! rather than short; back, it replays its log and every acknowledged row is there
//! exactly once. Decommissioning a server moves its partitions after sealing them.

use std::time::Duration;

use tessera_integration_tests::cluster::LocalCluster;
use tessera_integration_tests::kafka::EVENTS_SCHEMA;
use tessera_integration_tests::server::{Response, http};

const TABLE: &str = r#"{"tableName": "events", "tableType": "REALTIME", "segmentsConfig": {"timeColumnName": "ts"},
  "tableIndexConfig": {"streamConfigs": {"streamType": "push", "stream.push.partitions": "4",
    "realtime.segment.flush.threshold.rows": "500"}}}"#;

fn rows(first: u64, n: u64) -> Vec<u8> {
    (first..first + n)
        .map(|id| {
            format!(
                "{{\"id\": {id}, \"k\": \"k{}\", \"v\": 1.5, \"ts\": {}}}\n",
                id % 7,
                1_700_000_000_000u64 + id
            )
        })
        .collect::<String>()
        .into_bytes()
}

fn push(broker: &str, first: u64, n: u64, key: Option<&str>) -> Response {
    let mut headers = vec![("Content-Type", "application/x-ndjson")];
    if let Some(key) = key {
        headers.push(("Idempotency-Key", key));
    }
    http(
        "POST",
        broker.trim_start_matches("http://"),
        "/ingest/events",
        &headers,
        &rows(first, n),
    )
    .expect("the broker answers")
}

#[test]
fn test_pushes_reach_their_partition_and_survive_a_killed_server() {
    let cluster = LocalCluster::up(3);
    let brokers = cluster.broker_urls();
    LocalCluster::post(&brokers[0], "/schemas", EVENTS_SCHEMA);
    LocalCluster::post(&brokers[0], "/tables", TABLE);
    let partitions_on = |server: &str| {
        cluster.cluster_view()["consumers"]["events"]
            .as_object()
            .map_or(0, |p| p.values().filter(|s| *s == server).count())
    };
    LocalCluster::wait_until(
        "4 partitions over 2 servers",
        Duration::from_secs(30),
        || partitions_on("server-rt-1") == 2 && partitions_on("server-rt-2") == 2,
    );
    LocalCluster::wait_until("the partitions consumed", Duration::from_secs(30), || {
        cluster.cluster_view()["consuming"]["events"]
            .as_object()
            .is_some_and(|p| p.len() == 4)
    });

    // 20 pushes of 100 rows through both brokers, half keyed; keyed retries are
    // recognised.
    let (mut acked, mut sum) = (0u64, 0u64);
    for batch in 0..20u64 {
        let key = format!("batch-{batch}");
        let key = (batch % 2 == 0).then_some(key.as_str());
        let response = push(&brokers[(batch % 2) as usize], batch * 100, 100, key);
        assert_eq!(response.status, 200, "{}", response.body);
        assert_eq!(response.json()["rowsIngested"], 100);
        acked += 100;
        sum += (batch * 100..batch * 100 + 100).sum::<u64>();
    }
    for batch in [0u64, 2, 4] {
        let response = push(
            &brokers[1],
            batch * 100,
            100,
            Some(&format!("batch-{batch}")),
        );
        assert_eq!(response.status, 200, "{}", response.body);
        assert_eq!(response.json()["duplicate"], true, "{}", response.body);
    }
    assert_eq!(
        cluster.exact_count_and_sum(&brokers[0], "events"),
        Some((acked, sum))
    );

    // kill -9 a realtime server: keyed pushes for its partitions are refused, others
    // land on partitions that are up; queries flag its rows, never drop them silently.
    cluster.signal("server-rt-1", "KILL");
    LocalCluster::wait_until("its lease expired", Duration::from_secs(30), || {
        cluster.cluster_view()["nodes"]
            .as_array()
            .is_some_and(|nodes| !nodes.iter().any(|n| n["nodeId"] == "server-rt-1"))
    });
    let mut refused = Vec::new();
    for attempt in 0..12u64 {
        let first = 10_000 + attempt * 100;
        let key = format!("after-{attempt}");
        let response = push(&brokers[0], first, 100, Some(&key));
        match response.status {
            200 => {
                acked += 100;
                sum += (first..first + 100).sum::<u64>();
            }
            503 => {
                assert!(
                    response.body.contains("Idempotency-Key"),
                    "{}",
                    response.body
                );
                refused.push((first, key));
            }
            other => panic!("push answered {other}: {}", response.body),
        }
    }
    assert!(
        !refused.is_empty() && refused.len() < 12,
        "keys spread over both servers' partitions: {} refused",
        refused.len()
    );
    let unkeyed = push(&brokers[1], 20_000, 100, None);
    assert_eq!(unkeyed.status, 200, "{}", unkeyed.body);
    acked += 100;
    sum += (20_000..20_100).sum::<u64>();
    let answer = cluster.query(&brokers[0], "SELECT COUNT(*) FROM events");
    let count = answer["resultTable"]["rows"][0][0].as_u64().unwrap_or(0);
    assert!(
        count == acked || answer["partialResult"] == true,
        "never silently short: {answer}"
    );

    // Back, the server replays its write-ahead logs: every acknowledged row once; the
    // refused requests, retried with their keys, land once.
    cluster.start("server-rt-1");
    LocalCluster::wait_until("exact after the restart", Duration::from_secs(60), || {
        cluster.exact_count_and_sum(&brokers[1], "events") == Some((acked, sum))
    });
    for (first, key) in &refused {
        let response = push(&brokers[0], *first, 100, Some(key));
        assert_eq!(response.status, 200, "{}", response.body);
        acked += 100;
        sum += (*first..first + 100).sum::<u64>();
    }
    assert_eq!(
        cluster.exact_count_and_sum(&brokers[0], "events"),
        Some((acked, sum))
    );

    // Decommissioned, a server's push partitions are sealed, then move.
    LocalCluster::post(&brokers[0], "/cluster/servers/server-rt-2/decommission", "");
    LocalCluster::wait_until("the partitions moved", Duration::from_secs(60), || {
        partitions_on("server-rt-1") == 4
            && cluster.cluster_view()["consuming"]["events"]
                .as_object()
                .is_some_and(|p| p.len() == 4 && p.values().all(|s| s["server"] == "server-rt-1"))
    });
    let response = push(&brokers[1], 30_000, 100, None);
    assert_eq!(response.status, 200, "{}", response.body);
    acked += 100;
    sum += (30_000..30_100).sum::<u64>();
    LocalCluster::wait_until("exact after the move", Duration::from_secs(30), || {
        cluster.exact_count_and_sum(&brokers[0], "events") == Some((acked, sum))
    });
}
