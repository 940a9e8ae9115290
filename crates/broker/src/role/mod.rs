//! `tessera broker --config FILE`: a cluster broker. It follows the catalog, the node
//! registrations and what every server serves through etcd watches; plans each query,
//! routes every sealed segment to one live replica (the least loaded), scatters leaf
//! requests over Arrow Flight, retries a failed server's segments on another replica
//! within the query's deadline, and merges. Segments no replica can answer are reported
//! the way Pinot does (`partialResult`, `exceptions`, `numSegmentsUnavailable`) — never a
//! silently short answer — or, with `allowPartialResults=false`, fail the query. Admin
//! routes are forwarded to the controller leader.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde::Deserialize;
use serde_json::{Value as Json, json};
use tessera_api::auth::http as auth_http;
use tessera_coordination::{
    EtcdSession, NodeInfo, NodeRole, PrefixMirror, current_leader, register,
};
use tessera_flight::{FlightLeafClient, LeafRequest};
use tessera_query::leaf::Partial;
use tessera_query::plan::QueryPlan;
use tessera_query::{QueryError, QueryOptions, QueryOutcome};
use tessera_status::Status;
use tracing::warn;

mod push;

use crate::metrics::BrokerMetrics;
use crate::query_service::{QueryService, TableSummary};
use crate::routing::{RoutingView, Snapshots, TableRoute};
use tessera_api::keys;
use tessera_api::node_config::ClusterNodeConfig;
use tessera_api::prometheus::count;
use tessera_api::prometheus::{Families, queries_and_connections};
use tessera_api::role_start::RoleStart;
use tessera_api::server_metrics::{Protocol, QueryStatus, ServerMetrics};
use tessera_api::strip_type_suffix;

/// Pinot's code for segments no server could answer.
const SEGMENTS_UNAVAILABLE: i32 = 305;
/// Pinot's code for a server that did not answer.
const SERVER_NOT_RESPONDING: i32 = 427;

/// What the broker knows of one server's recent answers.
#[derive(Debug, Default, Clone, Copy)]
struct ServerLoad {
    in_flight: usize,
    /// Exponentially weighted latency of recent answers, milliseconds.
    latency_ewma_ms: f64,
}

struct BrokerRole {
    node_id: String,
    session: EtcdSession,
    tables: PrefixMirror,
    schemas: PrefixMirror,
    segments: PrefixMirror,
    serving: PrefixMirror,
    nodes: PrefixMirror,
    consumers: PrefixMirror,
    consuming: PrefixMirror,
    /// Turns of pushes without an `Idempotency-Key` over a table's partitions.
    push_turns: std::sync::atomic::AtomicUsize,
    clients: Mutex<HashMap<String, FlightLeafClient>>,
    load: Mutex<HashMap<String, ServerLoad>>,
    http: reqwest::Client,
    runtime: tokio::runtime::Handle,
    metrics: Arc<ServerMetrics>,
    cluster_metrics: BrokerMetrics,
    routing: RwLock<Arc<RoutingView>>,
}

/// A cluster answer before it is put in a protocol's shape.
struct ClusterAnswer {
    outcome: QueryOutcome,
    servers_queried: usize,
    servers_responded: usize,
    segments_queried: usize,
    segments_pruned: usize,
    segments_unavailable: usize,
    exceptions: Vec<Json>,
    retries: usize,
    wire_bytes: u64,
}

pub fn run(config_path: &Path) -> anyhow::Result<()> {
    let start = RoleStart::new(config_path)?;
    let (config, session, runtime) = (&start.config, &start.session, &start.runtime);
    let section = ClusterNodeConfig::require(&config.broker, "broker")?.clone();
    let listener = start.bind(&section.http, "HTTP")?;
    let address = listener.local_addr()?.to_string();
    let mut info = NodeInfo::new(&config.node.id, NodeRole::Broker);
    info.http_address = Some(address.clone());
    let registration = register(session, &info, Duration::from_secs(config.node.lease_ttl_s))?;
    let role = Arc::new(BrokerRole {
        node_id: config.node.id.clone(),
        session: session.clone(),
        tables: PrefixMirror::start(session, "tables/")?,
        schemas: PrefixMirror::start(session, "schemas/")?,
        segments: PrefixMirror::start(session, "segments/")?,
        serving: PrefixMirror::start(session, keys::SERVING)?,
        nodes: PrefixMirror::start(session, "nodes/")?,
        consumers: PrefixMirror::start(session, keys::CONSUMERS)?,
        consuming: PrefixMirror::start(session, keys::CONSUMING)?,
        push_turns: std::sync::atomic::AtomicUsize::new(0),
        clients: Mutex::new(HashMap::new()),
        load: Mutex::new(HashMap::new()),
        http: reqwest::Client::new(),
        runtime: runtime.handle().clone(),
        metrics: Arc::new(ServerMetrics::default()),
        cluster_metrics: BrokerMetrics::default(),
        routing: RwLock::new(Arc::new(RoutingView::default())),
    });
    let pg_address = match &section.pg {
        Some(pg) => {
            let pg_listener = start.bind(pg, "PostgreSQL clients")?;
            let bound = pg_listener.local_addr()?;
            let service: Arc<dyn QueryService> = role.clone();
            runtime.spawn(crate::pg::serve(
                pg_listener,
                service,
                start.auth.clone(),
                start.tls.clone(),
            ));
            Some(bound)
        }
        None => None,
    };
    let scheme = if start.tls.is_some() { "https" } else { "http" };
    match pg_address {
        Some(pg) => eprintln!(
            "tessera: broker `{}` on {scheme}://{address} and postgresql://{pg}",
            config.node.id
        ),
        None => eprintln!(
            "tessera: broker `{}` on {scheme}://{address}",
            config.node.id
        ),
    }
    let app = Router::new()
        .route("/health", get(health))
        .route(auth_http::INFO_PATH, get(auth_http::info))
        .route(auth_http::VERIFY_PATH, get(auth_http::verify))
        .merge(tessera_console::router())
        .route("/query/sql", post(query_post))
        .route("/metrics", get(metrics))
        .route("/ingest/{name}", post(push::ingest))
        .fallback(any(forward_to_leader))
        .layer(axum::extract::DefaultBodyLimit::max(
            tessera_api::http::MAX_BODY_BYTES,
        ))
        .with_state(role.clone());
    let metrics = role.metrics.clone();
    start.serve_http(listener, app, metrics)?;
    drop(registration);
    Ok(())
}

async fn metrics(State(role): State<Arc<BrokerRole>>) -> Response {
    let mut f = Families::new();
    queries_and_connections(&mut f, &role.metrics);
    let servers = role
        .load
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|(server, load)| {
            (
                server.clone(),
                (load.in_flight, load.latency_ewma_ms / 1_000.0),
            )
        })
        .collect();
    role.cluster_metrics.render(&mut f, &servers);
    f.into_response()
}

async fn health(State(role): State<Arc<BrokerRole>>) -> axum::Json<Json> {
    axum::Json(json!({"status": "OK", "node": role.node_id}))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryRequest {
    sql: String,
    #[serde(default)]
    query_options: Option<String>,
}

async fn query_post(State(role): State<Arc<BrokerRole>>, body: Bytes) -> Response {
    let started = Instant::now();
    let request: QueryRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => {
            let error = QueryError::parse(format!(
                "the request body must be JSON with a `sql` string: {error}"
            ));
            return failure(&error, started);
        }
    };
    let options_text = request.query_options.as_deref().unwrap_or("");
    let mut options = QueryOptions::default();
    if let Err(error) = options.apply_pinot_string(options_text) {
        return failure(&error, started);
    }
    let allow_partial = !options_text
        .split(';')
        .filter_map(|pair| pair.split_once('='))
        .any(|(key, value)| {
            key.trim().eq_ignore_ascii_case("allowPartialResults")
                && value.trim().eq_ignore_ascii_case("false")
        });
    let outcome = role.execute(&request.sql, options, allow_partial).await;
    role.metrics.query(
        Protocol::Http,
        match &outcome {
            Ok(_) => QueryStatus::Ok,
            Err(error) => QueryStatus::of(error),
        },
        started.elapsed(),
    );
    match outcome {
        Ok(answer) => axum::Json(answer.to_json()).into_response(),
        Err(error) => failure(&error, started),
    }
}

impl ClusterAnswer {
    /// Pinot's broker response, with the cluster's own fields.
    fn to_json(&self) -> Json {
        let mut body = tessera_query::response::success(&self.outcome);
        if let Some(object) = body.as_object_mut() {
            object.insert("exceptions".into(), Json::Array(self.exceptions.clone()));
            object.insert("numServersQueried".into(), json!(self.servers_queried));
            object.insert("numServersResponded".into(), json!(self.servers_responded));
            object.insert("numSegmentsQueried".into(), json!(self.segments_queried));
            object.insert(
                "numSegmentsPrunedByBroker".into(),
                json!(self.segments_pruned),
            );
            object.insert(
                "numSegmentsUnavailable".into(),
                json!(self.segments_unavailable),
            );
            object.insert("partialResult".into(), json!(self.segments_unavailable > 0));
            object.insert("minConsumingFreshnessTimeMs".into(), json!(-1));
            object.insert("partialsWireBytes".into(), json!(self.wire_bytes));
            object.insert("numServerRetries".into(), json!(self.retries));
        }
        body
    }
}

fn failure(error: &QueryError, started: Instant) -> Response {
    let body = tessera_query::response::failure(error, started.elapsed().as_millis() as u64);
    tessera_api::http::query_failure_response(error, body, true)
}

/// Why a leaf call failed: the query's own fault (every replica would refuse it), or
/// the server's (another replica may answer).
enum CallFailure {
    Final(QueryError),
    Retry(tessera_flight::TransportError),
}

/// One replica's share of a query.
struct ServerShare {
    node_id: String,
    address: String,
    segments: Vec<String>,
}

impl BrokerRole {
    /// The routing view at the mirrors' current revisions (rebuilt only when one
    /// moved).
    fn view(&self) -> Arc<RoutingView> {
        let snapshots = Snapshots {
            tables: self.tables.snapshot(),
            schemas: self.schemas.snapshot(),
            segments: self.segments.snapshot(),
            serving: self.serving.snapshot(),
            nodes: self.nodes.snapshot(),
            consumers: self.consumers.snapshot(),
            consuming: self.consuming.snapshot(),
        };
        let cached = self
            .routing
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if cached.revisions == snapshots.revisions() {
            return cached;
        }
        let view = Arc::new(RoutingView::build(&snapshots));
        self.cluster_metrics
            .routing_entries
            .store(view.entries() as u64, std::sync::atomic::Ordering::Relaxed);
        *self.routing.write().unwrap_or_else(|e| e.into_inner()) = view.clone();
        view
    }

    fn client(&self, address: &str) -> Result<FlightLeafClient, QueryError> {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(client) = clients.get(address) {
            return Ok(client.clone());
        }
        let client = FlightLeafClient::connect_lazy(address).map_err(|e| e.to_query_error())?;
        clients.insert(address.to_string(), client.clone());
        Ok(client)
    }

    /// Plan against every live table's schema: the plan, the routing view it was
    /// planned on, and the SQL without its `SET` statements.
    fn plan(
        &self,
        sql: &str,
        mut options: QueryOptions,
    ) -> Result<(QueryPlan, Arc<RoutingView>, String), QueryError> {
        let sql_only = tessera_query::options::split_set_statements(sql, &mut options)?;
        let view = self.view();
        let plan = tessera_query::engine::plan_for(&sql_only, options, &view.schemas)?;
        if !view.tables.contains_key(&plan.table) {
            return Err(QueryError::invalid(format!(
                "table `{}` does not exist",
                plan.table
            )));
        }
        Ok((plan, view, sql_only))
    }

    /// Give each segment to one live replica not in `excluded`, spreading the query's
    /// segments over the replicas and preferring servers with fewer queries in flight
    /// and lower latency. Returns the shares and the segments no replica can take.
    fn route(
        &self,
        route: &TableRoute,
        servers: &BTreeMap<String, String>,
        segments: &[String],
        excluded: &BTreeSet<String>,
    ) -> (Vec<ServerShare>, Vec<String>) {
        let load = self.load.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut shares: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut unavailable = Vec::new();
        for segment in segments {
            let candidates = route
                .replicas
                .get(segment)
                .into_iter()
                .flatten()
                .filter(|server| !excluded.contains(*server));
            let chosen = candidates.min_by(|a, b| {
                let score = |server: &str| {
                    let current = load.get(server).copied().unwrap_or_default();
                    let planned = shares.get(server).map_or(0, Vec::len);
                    (current.in_flight * 1_000 + planned) as f64 + current.latency_ewma_ms / 1_000.0
                };
                score(a).total_cmp(&score(b)).then_with(|| a.cmp(b))
            });
            match chosen {
                Some(server) => shares
                    .entry(server.clone())
                    .or_default()
                    .push(segment.clone()),
                None => unavailable.push(segment.clone()),
            }
        }
        let shares = shares
            .into_iter()
            .filter_map(|(node_id, segments)| {
                servers.get(&node_id).map(|address| ServerShare {
                    address: address.clone(),
                    node_id,
                    segments,
                })
            })
            .collect();
        (shares, unavailable)
    }

    /// Run a query over the servers; with `allow_partial` false, segments no replica
    /// answered make it an error instead of a flagged partial answer.
    async fn execute(
        &self,
        sql: &str,
        options: QueryOptions,
        allow_partial: bool,
    ) -> Result<ClusterAnswer, QueryError> {
        let started = Instant::now();
        let (plan, view, sql_only) = self.plan(sql, options)?;
        let Some(route) = view.tables.get(&plan.table) else {
            return Err(QueryError::invalid(format!(
                "table `{}` does not exist",
                plan.table
            )));
        };
        let record = &route.record;
        // Servers plan the SQL without its SET statements and with every option the
        // broker planned with, so both sides hold the same plan.
        let options_text = plan.options.to_pinot_string();
        let timeout = Duration::from_millis(plan.options.timeout_ms);
        let deadline = started + timeout;
        if plan.explain {
            let lines = self
                .explain(&plan, route, &view, &sql_only, &options_text, deadline)
                .await?;
            let outcome = QueryOutcome {
                result: tessera_query::explain::explain_table(&lines),
                plan,
                stats: Default::default(),
                time_used: started.elapsed(),
            };
            return Ok(ClusterAnswer {
                outcome,
                servers_queried: 1,
                servers_responded: 1,
                segments_queried: 0,
                segments_pruned: 0,
                segments_unavailable: 0,
                exceptions: Vec::new(),
                retries: 0,
                wire_bytes: 0,
            });
        }
        let (segments, pruned) = prune(&plan, route);
        let mut pending = segments.clone();
        let mut excluded = BTreeSet::new();
        let mut partials: Vec<Partial> = Vec::new();
        let mut exceptions: Vec<Json> = Vec::new();
        // Failures whose segments another replica answered leave the answer exact: they
        // are counted, not reported as exceptions (clients treat those as errors).
        let mut server_failures: Vec<String> = Vec::new();
        let mut unavailable: Vec<String> = Vec::new();
        let mut servers_queried = BTreeSet::new();
        let mut servers_responded = BTreeSet::new();
        let mut wire_bytes = 0u64;
        while !pending.is_empty() {
            let (shares, no_replica) = self.route(route, &view.servers, &pending, &excluded);
            unavailable.extend(no_replica);
            pending.clear();
            let remaining = deadline.saturating_duration_since(Instant::now());
            if shares.is_empty() {
                break;
            }
            if remaining.is_zero() {
                unavailable.extend(shares.into_iter().flat_map(|share| share.segments));
                break;
            }
            count(&self.cluster_metrics.leaf_calls, shares.len() as u64);
            let calls = shares.into_iter().map(|share| {
                let role = self;
                let plan = plan.clone();
                let mut request = LeafRequest::new(record.name.clone(), sql_only.clone());
                request.query_options = options_text.clone();
                request.segments = Some(share.segments.clone());
                async move {
                    let outcome = async {
                        let client = role.client(&share.address).map_err(CallFailure::Final)?;
                        role.begin(&share.node_id);
                        let began = Instant::now();
                        let reply = client.execute(&request, &plan, remaining).await;
                        role.end(&share.node_id, began.elapsed(), reply.is_ok());
                        reply.map_err(|error| {
                            if error.kind == Status::InvalidInput {
                                CallFailure::Final(error.to_query_error())
                            } else {
                                CallFailure::Retry(error)
                            }
                        })
                    }
                    .await;
                    (share, outcome)
                }
            });
            for (share, outcome) in futures::future::join_all(calls).await {
                servers_queried.insert(share.node_id.clone());
                match outcome {
                    Ok(reply) => {
                        servers_responded.insert(share.node_id.clone());
                        wire_bytes += reply.wire_bytes;
                        partials.push(reply.partial);
                    }
                    Err(CallFailure::Final(query_error)) => return Err(query_error),
                    Err(CallFailure::Retry(transport_error)) => {
                        warn!(server = %share.node_id, error = %transport_error, "a server failed; retrying its segments on another replica");
                        count(&self.cluster_metrics.leaf_failures, 1);
                        server_failures.push(transport_error.to_string());
                        excluded.insert(share.node_id);
                        pending.extend(share.segments);
                    }
                }
            }
        }
        if !unavailable.is_empty() {
            let message = format!(
                "{} of {} segments of table `{}` are unavailable (no live replica answered): segments=`{}`",
                unavailable.len(),
                segments.len(),
                record.name,
                unavailable
                    .iter()
                    .take(10)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(",")
            );
            if !allow_partial {
                return Err(QueryError::execution(format!(
                    "{message}; allowPartialResults=false"
                )));
            }
            for failure in &server_failures {
                exceptions.push(json!({"errorCode": SERVER_NOT_RESPONDING, "message": failure}));
            }
            exceptions.push(json!({"errorCode": SEGMENTS_UNAVAILABLE, "message": message}));
        }
        let merge_plan = plan.clone();
        let (result, mut stats) = tokio::task::spawn_blocking(move || {
            tessera_query::engine::execute_root(&merge_plan, partials)
        })
        .await
        .map_err(|error| QueryError::execution(error.to_string()))??;
        // The table's rows are its rows, pruned or not (as standalone counts them).
        stats.total_docs += pruned.docs;
        let outcome = QueryOutcome {
            plan,
            result,
            stats,
            time_used: started.elapsed(),
        };
        let metrics = &self.cluster_metrics;
        count(&metrics.queries_scattered, 1);
        count(&metrics.segments_pruned, pruned.segments as u64);
        count(&metrics.retries, server_failures.len() as u64);
        count(&metrics.partials_wire_bytes, wire_bytes);
        count(&metrics.partial_results, u64::from(!unavailable.is_empty()));
        Ok(ClusterAnswer {
            outcome,
            servers_queried: servers_queried.len(),
            servers_responded: servers_responded.len(),
            segments_queried: segments.len(),
            segments_pruned: pruned.segments,
            segments_unavailable: unavailable.len(),
            exceptions,
            retries: server_failures.len(),
            wire_bytes,
        })
    }

    /// `EXPLAIN`: the operator lines as a server holding one of the table's segments
    /// would run the query (index choices depend on the segment, as in standalone,
    /// which decides on its first one); without a served segment, the operators alone.
    async fn explain(
        &self,
        plan: &QueryPlan,
        route: &TableRoute,
        view: &RoutingView,
        sql: &str,
        options_text: &str,
        deadline: Instant,
    ) -> Result<Vec<(String, usize)>, QueryError> {
        let served = route.segments.iter().find_map(|segment| {
            let server = route.replicas.get(segment)?.first()?;
            Some((segment.clone(), view.servers.get(server)?.clone()))
        });
        let Some((segment, address)) = served else {
            let schema = view
                .schemas
                .iter()
                .find(|table| table.schema.name == plan.table)
                .map(|table| table.schema.clone())
                .ok_or_else(|| {
                    QueryError::invalid(format!("table `{}` does not exist", plan.table))
                })?;
            let table = tessera_query::Table {
                schema,
                segments: Vec::new(),
            };
            return Ok(tessera_query::explain::explain_lines(plan, &table));
        };
        let mut request = LeafRequest::new(route.record.name.clone(), sql.to_string());
        request.query_options = options_text.to_string();
        request.segments = Some(vec![segment]);
        let remaining = deadline.saturating_duration_since(Instant::now());
        let reply = self
            .client(&address)?
            .execute(&request, plan, remaining)
            .await
            .map_err(|error| error.to_query_error())?;
        reply.explain.ok_or_else(|| {
            QueryError::execution(format!(
                "server at `{address}` answered EXPLAIN without a plan"
            ))
        })
    }

    fn begin(&self, server: &str) {
        let mut load = self.load.lock().unwrap_or_else(|e| e.into_inner());
        load.entry(server.to_string()).or_default().in_flight += 1;
    }

    fn end(&self, server: &str, took: Duration, ok: bool) {
        let mut load = self.load.lock().unwrap_or_else(|e| e.into_inner());
        let entry = load.entry(server.to_string()).or_default();
        entry.in_flight = entry.in_flight.saturating_sub(1);
        // A failure counts as a slow answer, so a flaky server is picked less.
        let sample = if ok {
            took.as_secs_f64() * 1_000.0
        } else {
            10_000.0
        };
        entry.latency_ewma_ms = 0.8 * entry.latency_ewma_ms + 0.2 * sample;
    }
}

/// Admin routes (`/schemas`, `/tables`, `/segments`, `/cluster`) go to the controller
/// leader, as Pinot brokers' clients expect them on one address.
/// Segments the broker's pruning left out, and their rows.
#[derive(Debug, Default)]
struct Pruned {
    segments: usize,
    docs: u64,
}

/// The segments of `route` the query must read: those whose catalog bounds cannot
/// satisfy the filter are left out before the scatter (as a server would skip them, but
/// without a call). `useIndexes=false` reads every segment, as it does on servers.
fn prune(plan: &QueryPlan, route: &TableRoute) -> (Vec<String>, Pruned) {
    let mut pruned = Pruned::default();
    let Some(filter) = plan.filter.as_ref().filter(|_| plan.options.use_indexes) else {
        return (route.segments.clone(), pruned);
    };
    let kept = route
        .segments
        .iter()
        .filter(|segment| {
            let Some(stats) = route.stats.get(*segment) else {
                return true;
            };
            let bounds = |column: &str| stats.bounds.get(column).cloned();
            let keep = tessera_query::filter::bounds_may_match(filter, &bounds);
            if !keep {
                pruned.segments += 1;
                pruned.docs += stats.num_docs;
            }
            keep
        })
        .cloned()
        .collect();
    (kept, pruned)
}

async fn forward_to_leader(
    State(role): State<Arc<BrokerRole>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let session = role.session.clone();
    let leader = tokio::task::spawn_blocking(move || current_leader(&session)).await;
    let address = match leader {
        Ok(Ok(Some((record, _)))) => record.http_address.unwrap_or_default(),
        _ => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(json!({"code": 503, "error": "no controller leads the cluster now; retry shortly"})),
            )
                .into_response();
        }
    };
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let url = format!("http://{address}{path}");
    let Ok(method) = reqwest::Method::from_bytes(method.as_str().as_bytes()) else {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    };
    let mut request = role.http.request(method, &url).body(body.to_vec());
    // The caller's credentials go on: the leader checks them too.
    for name in ["content-type", "authorization"] {
        if let Some(value) = headers.get(name).and_then(|v| v.to_str().ok()) {
            request = request.header(name, value);
        }
    }
    match request.send().await {
        Ok(response) => {
            let status = StatusCode::from_u16(response.status().as_u16())
                .unwrap_or(StatusCode::BAD_GATEWAY);
            let content_type = response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("application/json")
                .to_string();
            let bytes = response.bytes().await.unwrap_or_default();
            (status, [("content-type", content_type)], bytes.to_vec()).into_response()
        }
        Err(error) => (
            StatusCode::BAD_GATEWAY,
            axum::Json(json!({"code": 502, "error": format!("the controller leader at `{address}` did not answer: {error}")})),
        )
            .into_response(),
    }
}

impl QueryService for BrokerRole {
    fn metrics(&self) -> &Arc<ServerMetrics> {
        &self.metrics
    }

    fn has_table(&self, name: &str) -> bool {
        let name = strip_type_suffix(name);
        self.view()
            .tables
            .keys()
            .any(|table| table.eq_ignore_ascii_case(name))
    }

    fn tables(&self) -> Vec<TableSummary> {
        let view = self.view();
        view.schemas
            .iter()
            .filter_map(|table| {
                let route = view.tables.get(&table.schema.name)?;
                Some(TableSummary {
                    schema: table.schema.clone(),
                    rows: route.rows,
                    bytes: route.bytes,
                })
            })
            .collect()
    }

    fn plan_sql(&self, sql: &str, options: QueryOptions) -> Result<QueryPlan, QueryError> {
        self.plan(sql, options).map(|(plan, _, _)| plan)
    }

    /// A PostgreSQL client cannot be told an answer is partial: segments no replica
    /// answered make the query an error.
    fn execute_sql(
        &self,
        sql: &str,
        options: QueryOptions,
    ) -> Result<(QueryOutcome, i64), QueryError> {
        // The scatter awaits its servers here; a cancelled query drops it, and with it
        // the Flight calls, which stops the servers' scans.
        let cancel = options.cancel.clone();
        let answer = self.runtime.block_on(async {
            tokio::select! {
                answer = self.execute(sql, options, false) => answer,
                () = cancelled(&cancel) => Err(QueryError::cancelled()),
            }
        })?;
        Ok((answer.outcome, -1))
    }
}

/// Resolves once `cancel` is set (checked every 10 ms).
async fn cancelled(cancel: &tessera_query::Cancel) {
    while !cancel.is_cancelled() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
