//! The Flight transport between a broker and servers, in one process over loopback
//! gRPC: partials shipped by Flight and merged give exactly the answer of running the
//! query locally; partials larger than a gRPC message stream in pieces; bad requests
//! are errors naming the problem and leave the server serving; deadlines stop the
//! server's work; an unreachable or silent server is an error in seconds.

use std::net::TcpListener as StdListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use arrow_flight::flight_service_client::FlightServiceClient;
use arrow_flight::{FlightDescriptor, Ticket};
use tessera_config::{Schema, TableConfig};
use tessera_flight::{
    FlightLeafClient, LeafAnswer, LeafContext, LeafExecutor, LeafRequest, plan_leaf,
};
use tessera_query::planner::TableSchema;
use tessera_query::{ErrorCode, QueryError, QueryOptions, Table};
use tessera_segment::{
    BuildOptions, ColumnBatch, ImmutableSegment, SegmentBuilder, SegmentReader, Value,
};
use tessera_status::Status;

const SCHEMA: &str = r#"{
  "schemaName": "t",
  "dimensionFieldSpecs": [
    {"name": "id", "dataType": "LONG"},
    {"name": "c", "dataType": "STRING"},
    {"name": "m", "dataType": "STRING", "singleValueField": false},
    {"name": "payload", "dataType": "STRING"}
  ],
  "metricFieldSpecs": [{"name": "r", "dataType": "DOUBLE"}],
  "dateTimeFieldSpecs": [
    {"name": "ts", "dataType": "TIMESTAMP", "format": "1:MILLISECONDS:EPOCH", "granularity": "1:MILLISECONDS"}
  ]
}"#;

const TABLE: &str = r#"{
  "tableName": "t",
  "tableType": "OFFLINE",
  "segmentsConfig": {"timeColumnName": "ts"},
  "tableIndexConfig": {"invertedIndexColumns": ["c"], "noDictionaryColumns": ["payload", "r"]}
}"#;

const WORDS: [&str; 6] = ["alpha", "beta", "gamma", "日本", "", "delta"];

/// Segments of `t`: 40,000 rows in four segments, with a 120-byte payload per row (so
/// selecting every payload is a partial of several megabytes).
fn segments() -> &'static Vec<Arc<dyn SegmentReader>> {
    static SEGMENTS: OnceLock<Vec<Arc<dyn SegmentReader>>> = OnceLock::new();
    SEGMENTS.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir").keep();
        let schema = Schema::from_json(SCHEMA).expect("schema").value;
        let config = TableConfig::from_json(TABLE, &schema).expect("table").value;
        (0..4)
            .map(|index: u32| {
                let rows: Vec<Vec<Value>> = (0..10_000)
                    .map(|i| {
                        let id = i64::from(index) * 10_000 + i;
                        let word = |k: i64| WORDS[(k.unsigned_abs() % 6) as usize].to_string();
                        vec![
                            Value::Long(id),
                            if id % 11 == 0 {
                                Value::Null
                            } else {
                                Value::String(word(id * 7))
                            },
                            Value::Array(vec![
                                Value::String(word(id)),
                                Value::String(word(id / 3)),
                            ]),
                            Value::String(format!("{id:>12}{}", "x".repeat(108))),
                            Value::Double((id % 997) as f64 / 4.0),
                            Value::Timestamp(1_704_067_200_000 + id * 60_000),
                        ]
                    })
                    .collect();
                let mut builder = SegmentBuilder::new(&schema, &config).expect("builder");
                builder
                    .add_batch(&ColumnBatch::from_rows(&schema, &rows).expect("batch"))
                    .expect("add");
                let path = dir.join(format!("t_{index}.tseg"));
                let options = BuildOptions {
                    sequence: index,
                    ..BuildOptions::default()
                };
                builder.finish(&path, &options).expect("build");
                Arc::new(ImmutableSegment::open(&path).expect("open")) as Arc<dyn SegmentReader>
            })
            .collect()
    })
}

fn schema() -> TableSchema {
    Table::from_segments(segments().clone())
        .expect("table")
        .schema
}

/// A server holding some of the segments.
struct SegmentServer {
    schema: TableSchema,
    segments: Vec<Arc<dyn SegmentReader>>,
}

impl LeafExecutor for SegmentServer {
    fn execute(
        &self,
        request: &LeafRequest,
        context: &LeafContext,
    ) -> Result<LeafAnswer, QueryError> {
        if request.table != "t" {
            return Err(QueryError {
                code: ErrorCode::TableDoesNotExist,
                message: format!("table `{}` is not served here", request.table),
            });
        }
        let plan = plan_leaf(request, &self.schema, context)?;
        let partial = tessera_query::engine::execute_leaf(&plan, &self.segments)?;
        Ok(LeafAnswer {
            plan,
            partial,
            freshness_ms: Some(42),
            explain: None,
        })
    }
}

/// Start a Flight server for `executor` on a free port; returns its address.
fn start_server<E: LeafExecutor>(runtime: &tokio::runtime::Runtime, executor: E) -> String {
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let address = listener.local_addr().expect("address").to_string();
    runtime.spawn(tessera_flight::serve(
        listener,
        Arc::new(executor),
        std::future::pending(),
    ));
    address
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Two servers with two segments each.
fn two_servers(runtime: &tokio::runtime::Runtime) -> Vec<FlightLeafClient> {
    let all = segments();
    let addresses = [
        start_server(
            runtime,
            SegmentServer {
                schema: schema(),
                segments: all[..2].to_vec(),
            },
        ),
        start_server(
            runtime,
            SegmentServer {
                schema: schema(),
                segments: all[2..].to_vec(),
            },
        ),
    ];
    let _guard = runtime.enter();
    addresses
        .iter()
        .map(|address| FlightLeafClient::connect_lazy(address).expect("client"))
        .collect()
}

/// Scatter `sql` to `servers`, merge; the result rows in debug form and the wire bytes.
fn scatter(
    runtime: &tokio::runtime::Runtime,
    servers: &[FlightLeafClient],
    sql: &str,
) -> Result<(Vec<String>, u64), tessera_flight::TransportError> {
    let plan = broker_plan(sql);
    let request = LeafRequest::new("t", sql);
    let replies = runtime.block_on(async {
        let calls = servers
            .iter()
            .map(|server| server.execute(&request, &plan, Duration::from_secs(30)));
        futures::future::join_all(calls).await
    });
    let mut partials = Vec::new();
    let mut bytes = 0;
    for reply in replies {
        let reply = reply?;
        assert_eq!(reply.freshness_ms, Some(42), "reply metadata travels");
        bytes += reply.wire_bytes;
        partials.push(reply.partial);
    }
    let (result, stats) = tessera_query::engine::execute_root(&plan, partials).expect("merges");
    assert_eq!(stats.total_docs, 40_000, "{sql}");
    Ok((
        result.rows.iter().map(|row| format!("{row:?}")).collect(),
        bytes,
    ))
}

/// The plan a broker makes of `sql` (schemas only, no segments).
fn broker_plan(sql: &str) -> tessera_query::plan::QueryPlan {
    let table = Table {
        schema: schema(),
        segments: Vec::new(),
    };
    tessera_query::engine::plan_for(sql, QueryOptions::default(), &[table])
        .expect("the broker plans")
}

fn local(sql: &str) -> Vec<String> {
    let table = Table::from_segments(segments().clone()).expect("table");
    let outcome = tessera_query::run(sql, QueryOptions::default(), &[table]).expect("runs");
    outcome
        .result
        .rows
        .iter()
        .map(|row| format!("{row:?}"))
        .collect()
}

#[test]
fn test_partials_over_flight_merge_to_the_local_answer() {
    let runtime = runtime();
    let servers = two_servers(&runtime);
    for sql in [
        "SELECT COUNT(*), SUM(r), AVG(r), MIN(ts), MAX(c), COUNT(DISTINCT c) FROM t",
        "SELECT c, COUNT(*), SUM(r), PERCENTILE(r, 90), DISTINCTCOUNTHLL(id) FROM t GROUP BY c ORDER BY c",
        "SELECT c, COUNT(*) FROM t WHERE m = 'beta' AND r > 100 GROUP BY c ORDER BY 2 DESC, c LIMIT 4",
        "SELECT DATE_TRUNC('day', ts) AS d, MIN(id), MAX(id) FROM t GROUP BY d ORDER BY d",
        "SELECT id, c, m, r FROM t WHERE c = 'beta' ORDER BY r DESC, id LIMIT 15 OFFSET 5",
        "SELECT COUNT(*) FROM t WHERE id < 0",
    ] {
        let (rows, _) = scatter(&runtime, &servers, sql).expect("scatter");
        assert_eq!(rows, local(sql), "{sql}");
    }
}

#[test]
fn test_a_partial_larger_than_a_message_streams_in_pieces() {
    let runtime = runtime();
    let servers = two_servers(&runtime);
    let sql = "SELECT id, payload FROM t ORDER BY id LIMIT 40000";
    let (rows, wire_bytes) = scatter(&runtime, &servers, sql).expect("scatter");
    assert_eq!(rows.len(), 40_000);
    assert_eq!(rows, local(sql));
    // 40,000 payloads of 120 bytes: more than two 2 MiB messages' worth.
    assert!(wire_bytes > 4 * 1024 * 1024, "wire bytes {wire_bytes}");
}

#[test]
fn test_bad_requests_are_named_errors_and_the_server_keeps_serving() {
    let runtime = runtime();
    let servers = two_servers(&runtime);
    let server = &servers[0];
    let plan = broker_plan("SELECT COUNT(*) FROM t");
    let call = |request: LeafRequest| {
        runtime.block_on(server.execute(&request, &plan, Duration::from_secs(10)))
    };
    let error = call(LeafRequest::new("t", "SELEKT nonsense")).expect_err("bad SQL");
    assert_eq!(error.kind, Status::InvalidInput, "{error}");
    assert_eq!(
        error.to_query_error().code,
        ErrorCode::SqlParsing,
        "{error}"
    );
    assert!(!error.is_retryable());
    let error = call(LeafRequest::new("nope", "SELECT COUNT(*) FROM nope")).expect_err("no table");
    assert_eq!(error.kind, Status::NotFound, "{error}");
    assert!(error.message.contains("nope"), "{error}");
    let error = call(LeafRequest::new("t", "SELECT COUNT(*) FROM t2")).expect_err("wrong table");
    assert_eq!(error.kind, Status::NotFound, "{error}");
    assert!(error.message.contains("t2"), "{error}");
    let mut bad_option = LeafRequest::new("t", "SELECT COUNT(*) FROM t");
    bad_option.query_options = "timeoutMs".into();
    let error = call(bad_option).expect_err("bad option");
    assert!(error.message.contains("timeoutMs"), "{error}");

    // Raw Flight calls a broker would never make.
    let address = format!("http://{}", server.address());
    runtime.block_on(async {
        let channel = tonic::transport::Endpoint::from_shared(address)
            .expect("an address")
            .connect()
            .await
            .expect("connects");
        let mut raw = FlightServiceClient::new(channel);
        let garbage = Ticket {
            ticket: b"\x00\x01 not json".to_vec().into(),
        };
        let status = raw.do_get(garbage).await.expect_err("garbage ticket");
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert!(
            status.message().contains("not a Tessera leaf request"),
            "{status:?}"
        );
        let future = Ticket {
            ticket: br#"{"version":2,"table":"t","sql":"x"}"#.to_vec().into(),
        };
        let status = raw.do_get(future).await.expect_err("a future version");
        assert!(status.message().contains("version 2"), "{status:?}");
        let status = raw
            .get_flight_info(FlightDescriptor::new_path(vec!["t".into()]))
            .await
            .expect_err("not served");
        assert_eq!(status.code(), tonic::Code::Unimplemented);
    });
    // Still serving.
    let reply = call(LeafRequest::new("t", "SELECT COUNT(*) FROM t")).expect("serves");
    assert_eq!(reply.partial.stats.total_docs, 20_000);
}

/// A server whose queries take `delay` unless cancelled; records when it noticed.
struct SlowServer {
    delay: Duration,
    noticed_cancel: Arc<OnceLock<Instant>>,
    finished: Arc<AtomicBool>,
}

impl LeafExecutor for SlowServer {
    fn execute(
        &self,
        request: &LeafRequest,
        context: &LeafContext,
    ) -> Result<LeafAnswer, QueryError> {
        let started = Instant::now();
        while started.elapsed() < self.delay {
            if context.is_cancelled() {
                let _ = self.noticed_cancel.set(Instant::now());
                return Err(QueryError::execution("cancelled"));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        self.finished.store(true, Ordering::Release);
        let plan = plan_leaf(request, &schema(), context)?;
        let partial = tessera_query::leaf::Partial::empty(&plan);
        Ok(LeafAnswer {
            plan,
            partial,
            freshness_ms: None,
            explain: None,
        })
    }
}

#[test]
fn test_a_deadline_stops_the_call_and_the_server_work() {
    let runtime = runtime();
    let noticed_cancel = Arc::new(OnceLock::new());
    let finished = Arc::new(AtomicBool::new(false));
    let address = start_server(
        &runtime,
        SlowServer {
            delay: Duration::from_secs(10),
            noticed_cancel: noticed_cancel.clone(),
            finished: finished.clone(),
        },
    );
    let client = {
        let _guard = runtime.enter();
        FlightLeafClient::connect_lazy(&address).expect("client")
    };
    let sql = "SELECT COUNT(*) FROM t";
    let plan = broker_plan(sql);
    let started = Instant::now();
    let error = runtime
        .block_on(client.execute(
            &LeafRequest::new("t", sql),
            &plan,
            Duration::from_millis(300),
        ))
        .expect_err("too slow");
    let gave_up = started.elapsed();
    assert_eq!(error.kind, Status::Timeout, "{error}");
    assert!(error.is_retryable());
    assert!(
        gave_up < Duration::from_millis(1_000),
        "gave up after {gave_up:?}"
    );
    // The server's work learns of it within a bounded time, long before it would finish.
    let deadline = Instant::now() + Duration::from_secs(3);
    while noticed_cancel.get().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let noticed = noticed_cancel
        .get()
        .expect("the server saw the cancellation");
    let after = noticed.duration_since(started);
    assert!(
        after < Duration::from_millis(1_500),
        "noticed after {after:?}"
    );
    assert!(!finished.load(Ordering::Acquire));
}

#[test]
fn test_unreachable_and_silent_servers_fail_in_seconds() {
    let runtime = runtime();
    let plan = broker_plan("SELECT COUNT(*) FROM t");
    let request = LeafRequest::new("t", "SELECT COUNT(*) FROM t");
    // Nothing listens.
    let closed = StdListener::bind("127.0.0.1:0").expect("bind");
    let closed_address = closed.local_addr().expect("address").to_string();
    drop(closed);
    // Accepts connections and never says a word (a frozen process, as the kernel sees it).
    let silent = StdListener::bind("127.0.0.1:0").expect("bind");
    let silent_address = silent.local_addr().expect("address").to_string();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in silent.incoming().flatten() {
            held.push(stream);
        }
    });
    for (address, what) in [(closed_address, "closed"), (silent_address, "silent")] {
        let client = {
            let _guard = runtime.enter();
            FlightLeafClient::connect_lazy(&address).expect("client")
        };
        let started = Instant::now();
        let error = runtime
            .block_on(client.execute(&request, &plan, Duration::from_secs(60)))
            .expect_err("no answer");
        let took = started.elapsed();
        assert!(error.is_retryable(), "{what}: {error}");
        assert!(
            took < Duration::from_secs(8),
            "{what}: failed after {took:?}"
        );
        assert!(
            error.to_string().contains(&address),
            "{what}: names the server: {error}"
        );
    }
}
