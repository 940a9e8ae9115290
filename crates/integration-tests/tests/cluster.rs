//! The cluster as real processes (`deploy/cluster/local.sh`: etcd, 2 controllers, 2
//! brokers, 4 servers on loopback): the differential suite against DuckDB through each
//! broker over HTTP and the PostgreSQL wire, then failures one after another with a query loop running — a historical
//! server killed, a server frozen with SIGSTOP, the controller leader killed, etcd
//! stopped — and bad node configs. No answer may ever be silently short: each is exact
//! or flagged `partialResult`.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tessera_integration_tests::cluster::LocalCluster;
use tessera_integration_tests::server::{http, metric_at as metric};
use tessera_integration_tests::{duckdb_rows, lineitem_file, python, tessera, tessera_binary};

const LEASE_TTL_S: u64 = 3;
const COUNT_SQL: &str = "SELECT COUNT(*) FROM lineitem";

fn repo_root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// One answer of the query loop.
#[derive(Debug, Clone)]
struct Answer {
    sent: Instant,
    took: Duration,
    count: Option<u64>,
    partial: bool,
}

/// Queries `COUNT(*)` through the brokers in turn until stopped.
struct QueryLoop {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Vec<Answer>>,
}

impl QueryLoop {
    fn start(cluster: &LocalCluster) -> QueryLoop {
        let stop = Arc::new(AtomicBool::new(false));
        let brokers = cluster.broker_urls();
        let looping = stop.clone();
        let dir = cluster.dir().to_path_buf();
        let thread = std::thread::spawn(move || {
            // A handle of our own on the same cluster (the script reads pid files by dir).
            let _ = dir;
            let mut answers = Vec::new();
            let mut turn = 0;
            while !looping.load(Ordering::Acquire) {
                let broker = &brokers[turn % brokers.len()];
                turn += 1;
                let sent = Instant::now();
                let response = query_once(broker, COUNT_SQL);
                answers.push(Answer {
                    sent,
                    took: sent.elapsed(),
                    count: response["resultTable"]["rows"][0][0].as_u64(),
                    partial: response["partialResult"].as_bool().unwrap_or(false),
                });
                std::thread::sleep(Duration::from_millis(20));
            }
            answers
        });
        QueryLoop { stop, thread }
    }

    fn finish(self) -> Vec<Answer> {
        self.stop.store(true, Ordering::Release);
        self.thread.join().expect("query loop")
    }
}

fn query_once(broker: &str, sql: &str) -> serde_json::Value {
    let body = serde_json::json!({ "sql": sql }).to_string();
    match tessera_integration_tests::server::http(
        "POST",
        broker.trim_start_matches("http://"),
        "/query/sql",
        &[],
        body.as_bytes(),
    ) {
        Ok(response) => serde_json::from_str(&response.body).unwrap_or_default(),
        Err(_) => serde_json::Value::Null,
    }
}

/// Every answer is exact or flagged partial (an unreachable broker or an error counts as
/// neither, and is not allowed either).
fn assert_never_silently_short(answers: &[Answer], expected: u64, phase: &str) {
    assert!(!answers.is_empty(), "{phase}: the loop ran");
    for answer in answers {
        match answer.count {
            Some(count) if count == expected && !answer.partial => {}
            Some(count) if answer.partial && count <= expected => {}
            other => panic!(
                "{phase}: a wrong answer {other:?} (partial {}) after {:?}",
                answer.partial, answer.took
            ),
        }
    }
}

fn ingest(broker: &str, file: &Path) -> u64 {
    let output = tessera(&[
        "ingest",
        "--url",
        broker,
        "--table",
        "lineitem",
        &file.display().to_string(),
    ]);
    assert!(
        output.status.success(),
        "ingest: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .split("ingested rows=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|rows| rows.parse().ok())
        .expect("ingest reports its rows")
}

/// Every segment of every table served by `replicas` servers.
fn fully_served(view: &serde_json::Value, replicas: usize) -> bool {
    view["tables"].as_object().is_some_and(|tables| {
        tables.values().all(|table| {
            let segments = table["segments"].as_u64().unwrap_or(0) as usize;
            table["serving"].as_object().is_some_and(|serving| {
                serving.len() == segments
                    && serving
                        .values()
                        .all(|on| on.as_array().is_some_and(|on| on.len() == replicas))
            })
        })
    })
}

fn exact_count(cluster: &LocalCluster) -> Option<u64> {
    let response = query_once(&cluster.broker_urls()[0], COUNT_SQL);
    if response["partialResult"].as_bool().unwrap_or(true) {
        return None;
    }
    response["resultTable"]["rows"][0][0].as_u64()
}

#[test]
fn test_cluster_answers_exactly_through_failures() {
    let cluster = LocalCluster::up(LEASE_TTL_S);
    let brokers = cluster.broker_urls();
    let work = tempfile::tempdir().expect("tempdir");

    // The differential suite through each broker, over HTTP and the PostgreSQL wire, on
    // tables loaded through the first (lineitem as 13 segments, events as 3),
    // replication 2.
    let output = Command::new(python())
        .arg(repo_root().join("tests/differential/run.py"))
        .args([
            "--count",
            "60",
            "--seed",
            "3",
            "--load",
            "--load-replication",
            "2",
        ])
        .arg("--url")
        .arg(brokers.join(","))
        .arg("--pg")
        .arg(cluster.var("BROKER_PG"))
        .arg("--tessera")
        .arg(tessera_binary())
        .arg("--keep")
        .arg(work.path())
        .arg("--lineitem-parquet")
        .arg(lineitem_file("0.01", "parquet"))
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("0 failed, 0 errors"),
        "differential through the brokers: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // A lakehouse table is refused, naming why, rather than served without its
    // Iceberg rows.
    let broker = brokers[0].trim_start_matches("http://");
    let schema = r#"{"schemaName": "lake_probe", "dimensionFieldSpecs": [{"name": "id", "dataType": "LONG"}],
        "dateTimeFieldSpecs": [{"name": "ts", "dataType": "TIMESTAMP", "format": "1:MILLISECONDS:EPOCH", "granularity": "1:MILLISECONDS"}]}"#;
    let added = http("POST", broker, "/schemas", &[], schema.as_bytes()).expect("broker answers");
    assert_eq!(added.status, 200, "{}", added.body);
    let table = r#"{"tableName": "lake_probe", "tableType": "OFFLINE", "segmentsConfig": {"timeColumnName": "ts"},
        "lakehouse": {"catalog": {"type": "location", "location": "/nowhere"}}}"#;
    let refused = http("POST", broker, "/tables", &[], table.as_bytes()).expect("broker answers");
    assert!(
        refused.status == 400 && refused.body.contains("tessera standalone"),
        "{} {}",
        refused.status,
        refused.body
    );
    let parquet = lineitem_file("0.01", "parquet");
    let mut expected = duckdb_rows(&format!("SELECT COUNT(*) FROM '{}'", parquet.display()))[0][0]
        .as_u64()
        .expect("a count");
    assert_eq!(exact_count(&cluster), Some(expected));
    // Brokers prune by the catalog's min/max before scattering: lineitem's segments hold
    // disjoint l_orderkey ranges, so a narrow range reads one or two of them.
    let narrow = "SELECT COUNT(*), SUM(l_quantity) FROM lineitem WHERE l_orderkey <= 100";
    let answer = cluster.query(&brokers[1], narrow);
    let oracle = duckdb_rows(&format!(
        "SELECT COUNT(*), SUM(l_quantity) FROM '{}' WHERE l_orderkey <= 100",
        lineitem_file("0.01", "parquet").display()
    ));
    assert_eq!(
        answer["resultTable"]["rows"][0][0].as_u64(),
        oracle[0][0].as_u64(),
        "{answer}"
    );
    let pruned = answer["numSegmentsPrunedByBroker"].as_u64().unwrap_or(0);
    assert!(
        pruned >= 11 && answer["numSegmentsQueried"].as_u64() == Some(13 - pruned),
        "most segments pruned before the scatter: {answer}"
    );
    assert_eq!(answer["totalDocs"].as_u64(), Some(expected), "{answer}");

    // EXPLAIN through a broker: a server holding a segment describes how it would run
    // the query, index choices included.
    let explained = cluster.query(
        &brokers[0],
        "EXPLAIN PLAN FOR SELECT COUNT(*) FROM lineitem WHERE l_shipdate >= '1995-01-01' AND l_quantity < 10",
    );
    let operators: Vec<String> = explained["resultTable"]["rows"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .filter_map(|row| row[0].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    assert!(
        operators
            .first()
            .is_some_and(|first| first.starts_with("AGGREGATE"))
            && operators.iter().any(|line| line == "FILTER_AND")
            && operators
                .iter()
                .filter(|line| line.starts_with("FILTER_"))
                .count()
                >= 3,
        "EXPLAIN through the broker: {explained}"
    );

    // The web console on a broker: the page, and its segment view's data (forwarded to
    // the controller leader) naming the servers that serve each segment.
    let broker = brokers[0].trim_start_matches("http://");
    let page = http("GET", broker, "/", &[], b"").expect("the console page");
    assert!(
        page.status == 200 && page.body.contains("Tessera console"),
        "{page:?}"
    );
    let segments = http("GET", broker, "/segments/lineitem/metadata", &[], b"")
        .expect("segment metadata through the broker");
    assert_eq!(segments.status, 200, "{}", segments.body);
    let segments = segments.json();
    let segments = segments.as_object().cloned().unwrap_or_default();
    assert_eq!(segments.len(), 13, "{segments:?}");
    assert!(
        segments.values().all(|s| s["state"] == "ONLINE"
            && s["totalDocs"].as_u64().unwrap_or(0) > 0
            && s["servers"].as_array().is_some_and(|on| !on.is_empty())),
        "{segments:?}"
    );

    // The deep store is the S3 server local.sh started: the uploaded segments are there.
    let listing = http(
        "GET",
        cluster.var("S3_ENDPOINT").trim_start_matches("http://"),
        "/tessera?list-type=2&prefix=deepstore/",
        &[],
        b"",
    )
    .expect("the S3 server answers");
    assert!(
        listing.body.matches(".tseg</Key>").count() >= 13,
        "segments in the S3 deep store: {}",
        listing.body
    );

    // kill -9 a historical server inside a query loop.
    let queries = QueryLoop::start(&cluster);
    std::thread::sleep(Duration::from_secs(1));
    let killed_at = Instant::now();
    cluster.signal("server-hist-1", "KILL");
    std::thread::sleep(Duration::from_secs(LEASE_TTL_S + 3));
    let answers = queries.finish();
    assert_never_silently_short(&answers, expected, "server killed");
    let settle = killed_at + Duration::from_secs(LEASE_TTL_S + 2);
    for answer in answers.iter().filter(|a| a.sent > settle) {
        assert!(
            answer.count == Some(expected) && !answer.partial,
            "exact again within the lease TTL + 2 s: {answer:?}"
        );
    }
    // A spare historical server: the controller re-creates the lost replicas there.
    cluster.add_server("server-hist-3", &["historical"]);
    let restored = LocalCluster::wait_until("replication 2 again", Duration::from_secs(60), || {
        let view = cluster.cluster_view();
        let serving = &view["tables"]["lineitem"]["serving"];
        serving.as_object().is_some_and(|segments| {
            segments.len() == 13
                && segments.values().all(|servers| {
                    let servers = servers.as_array().cloned().unwrap_or_default();
                    servers.len() == 2 && !servers.iter().any(|s| s == "server-hist-1")
                })
        })
    });
    eprintln!("replication restored {restored:?} after the spare joined");

    // SIGSTOP a server: at most the queries in flight wait; after the lease TTL the
    // broker routes around it; after SIGCONT it serves again.
    let queries = QueryLoop::start(&cluster);
    std::thread::sleep(Duration::from_secs(1));
    let frozen_at = Instant::now();
    cluster.signal("server-hist-2", "STOP");
    std::thread::sleep(Duration::from_secs(LEASE_TTL_S + 8));
    let answers = queries.finish();
    cluster.signal("server-hist-2", "CONT");
    assert_never_silently_short(&answers, expected, "server frozen");
    let routed_around = frozen_at + Duration::from_secs(LEASE_TTL_S + 5);
    let late: Vec<&Answer> = answers.iter().filter(|a| a.sent > routed_around).collect();
    assert!(!late.is_empty());
    for answer in late {
        assert!(
            answer.took < Duration::from_secs(1),
            "normal latency 5 s after the lease expired: {answer:?}"
        );
    }
    let slowest = answers.iter().map(|a| a.took).max().unwrap_or_default();
    eprintln!("slowest answer while a server froze: {slowest:?}");
    LocalCluster::wait_until(
        "the thawed server serves again",
        Duration::from_secs(20),
        || {
            cluster.cluster_view()["tables"]["lineitem"]["serving"]
                .as_object()
                .is_some_and(|segments| {
                    segments.values().any(|servers| {
                        servers
                            .as_array()
                            .is_some_and(|s| s.iter().any(|s| s == "server-hist-2"))
                    })
                })
        },
    );

    // Add a server, then decommission one, under a query loop: segments rebalance onto
    // the new server and off the decommissioned one with no failed or partial answer,
    // and the decommissioned server holds nothing before it is stopped.
    let queries = QueryLoop::start(&cluster);
    cluster.add_server("server-hist-4", &["historical"]);
    LocalCluster::wait_until(
        "the new server takes its share",
        Duration::from_secs(60),
        || {
            let view = cluster.cluster_view();
            view["servers"]["server-hist-4"]["segmentsServing"]
                .as_u64()
                .unwrap_or(0)
                > 0
                && fully_served(&view, 2)
        },
    );
    let response = tessera_integration_tests::server::http(
        "POST",
        brokers[0].trim_start_matches("http://"),
        "/cluster/servers/server-hist-3/decommission",
        &[],
        b"",
    )
    .expect("the broker forwards to the leader");
    assert_eq!(response.status, 200, "{}", response.body);
    LocalCluster::wait_until("server-hist-3 drained", Duration::from_secs(60), || {
        let view = cluster.cluster_view();
        view["servers"]["server-hist-3"]["segmentsServing"].as_u64() == Some(0)
            && fully_served(&view, 2)
    });
    cluster.signal("server-hist-3", "KILL");
    std::thread::sleep(Duration::from_secs(1));
    let answers = queries.finish();
    assert!(
        answers
            .iter()
            .all(|a| a.count == Some(expected) && !a.partial),
        "every answer exact while segments moved"
    );

    // kill -9 the controller leader: the standby leads within 15 s, and admin calls
    // through a broker reach it (a new segment is assigned and served).
    let leader = cluster.leader().expect("a leader");
    cluster.signal(&leader, "KILL");
    let killed_at = Instant::now();
    let took = LocalCluster::wait_until("the standby leads", Duration::from_secs(15), || {
        cluster.leader().is_some_and(|now| now != leader)
    });
    eprintln!("standby took over {took:?} after the leader was killed");
    let part = work.path().join("lineitem-parts/part-000.parquet");
    expected += ingest(&brokers[1], &part);
    LocalCluster::wait_until("the new segment is served", Duration::from_secs(30), || {
        exact_count(&cluster) == Some(expected)
    });
    assert!(killed_at.elapsed() < Duration::from_secs(60));

    // etcd stopped for 30 s (ten lease TTLs: every node's lease is judged lost): brokers
    // answer from what they know; coordination resumes after.
    let queries = QueryLoop::start(&cluster);
    cluster.signal("etcd", "KILL");
    std::thread::sleep(Duration::from_secs(30));
    let answers = queries.finish();
    assert_never_silently_short(&answers, expected, "etcd stopped");
    assert!(
        answers
            .iter()
            .all(|a| a.count == Some(expected) && !a.partial),
        "every answer exact while etcd is away"
    );
    cluster.start("etcd");
    let part = work.path().join("lineitem-parts/part-001.parquet");
    LocalCluster::wait_until(
        "a leader after etcd returns",
        Duration::from_secs(30),
        || cluster.leader().is_some(),
    );
    expected += ingest(&brokers[0], &part);
    LocalCluster::wait_until("coordination resumed", Duration::from_secs(60), || {
        exact_count(&cluster) == Some(expected)
    });

    // Bad node configs are clear errors at start.
    let config_dir = cluster.dir().join("config");
    let good = std::fs::read_to_string(config_dir.join("server-rt-1.toml")).expect("a config");
    let wrong_etcd = good.replace(cluster.var("ETCD_ENDPOINTS"), "http://127.0.0.1:1");
    let path = work.path().join("wrong-etcd.toml");
    std::fs::write(&path, wrong_etcd).expect("write");
    let started = Instant::now();
    let output = tessera(&["server", "--config", &path.display().to_string()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("127.0.0.1:1"),
        "names the endpoint: {stderr}"
    );
    assert!(started.elapsed() < Duration::from_secs(15));
    let flight = good
        .lines()
        .find(|line| line.starts_with("flight"))
        .expect("a flight line")
        .to_string();
    let duplicate = good.replace(&flight, "flight = \"127.0.0.1:0\"");
    let path = work.path().join("duplicate.toml");
    std::fs::write(&path, duplicate).expect("write");
    let output = tessera(&["server", "--config", &path.display().to_string()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("already registered"), "{stderr}");
    // The cluster is unharmed.
    assert_eq!(exact_count(&cluster), Some(expected));

    // Every role reports what it did in /metrics.
    let broker = brokers[0].trim_start_matches("http://");
    assert!(metric(broker, "tessera_broker_leaf_calls_total") > 0.0);
    assert!(
        metric(broker, "tessera_broker_retries_total") > 0.0,
        "retries after the kill"
    );
    assert!(metric(broker, "tessera_queries_total") > 0.0);
    let view = cluster.cluster_view();
    let leader = view["leader"]["httpAddress"]
        .as_str()
        .expect("a leader address");
    assert_eq!(metric(leader, "tessera_controller_is_leader"), 1.0);
    assert!(metric(leader, "tessera_controller_assignment_writes_total") > 0.0);
    let server = view["nodes"]
        .as_array()
        .and_then(|nodes| {
            nodes
                .iter()
                .find(|node| node["nodeId"] == "server-hist-4")
                .and_then(|node| node["httpAddress"].as_str())
        })
        .expect("server-hist-4's HTTP address");
    assert!(metric(server, "tessera_server_segments_served") > 0.0);
    assert!(metric(server, "tessera_server_leaf_requests_total") > 0.0);
}
