//! `tessera controller --config FILE`: a cluster controller. Every controller registers
//! and campaigns; the leader administers schemas, tables and segment uploads (the
//! Pinot-compatible routes) on the etcd catalog and assigns sealed segments to servers,
//! every write fenced by its term; a standby answers reads and refuses writes with the
//! leader's address (brokers forward admin calls to the leader).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use crate::{
    RebalanceLimits, ServerCandidate, assign_partitions, assign_segments, next_assignment,
};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value as Json, json};
use tessera_config::Schema;
use tessera_coordination::{
    Candidate, EtcdMetaStore, EtcdSession, LeaderRecord, Leadership, NodeInfo, NodeRole,
    PrefixMirror, current_leader, register,
};
use tessera_meta::{Catalog, MetaStore, SegmentState, TableRecord, Transaction};
use tessera_storage::DeepStore;
use tracing::{info, warn};

mod metrics;
mod realtime;

use crate::new_table::{NewTable, new_table};
use crate::upload::{check_segment_file, uploaded_segment_record};
use metrics::ControllerMetrics;
use tessera_api::http::{ApiError, UploadParams, blocking, body_text, json_text};
use tessera_api::keys;
use tessera_api::node_config::ClusterNodeConfig;
use tessera_api::prometheus::Families;
use tessera_api::prometheus::count;
use tessera_api::role_start::RoleStart;
use tessera_api::strip_type_suffix;

type ApiResult<T> = Result<T, ApiError>;

/// The tag of the servers that hold sealed segments.
const HISTORICAL: &str = "historical";
/// The tag of the servers that consume streams.
const REALTIME: &str = "realtime";

struct ControllerRole {
    node_id: String,
    session: EtcdSession,
    store: Arc<dyn MetaStore>,
    deep_store: DeepStore,
    data_dir: PathBuf,
    leadership: RwLock<Option<Arc<Leadership>>>,
    nodes: PrefixMirror,
    tables: PrefixMirror,
    segments: PrefixMirror,
    assignments: PrefixMirror,
    serving: PrefixMirror,
    decommissioned: PrefixMirror,
    consumers: PrefixMirror,
    paused: PrefixMirror,
    /// REALTIME table → how many partitions its stream has (asked of Kafka by
    /// `watch_streams`), and a counter bumped when a count changes.
    stream_partitions: Mutex<BTreeMap<String, u32>>,
    streams_changed: AtomicI64,
    runtime: tokio::runtime::Handle,
    metrics: ControllerMetrics,
    /// Asks realtime servers for their consumption status (`/cluster`).
    http: reqwest::Client,
}

/// How often the leader asks each REALTIME table's stream for its partition count.
const STREAM_CHECK_INTERVAL: Duration = Duration::from_secs(5);

pub fn run(config_path: &Path) -> anyhow::Result<()> {
    let start = RoleStart::new(config_path)?;
    start.refuse_tls("controller")?;
    let (config, session) = (&start.config, &start.session);
    let section = ClusterNodeConfig::require(&config.controller, "controller")?.clone();
    let listener = start.bind(&section.http, "HTTP")?;
    let address = listener.local_addr()?.to_string();
    let ttl = Duration::from_secs(config.node.lease_ttl_s);
    let mut info = NodeInfo::new(&config.node.id, NodeRole::Controller);
    info.http_address = Some(address.clone());
    let registration = register(session, &info, ttl)?;
    let runtime = &start.runtime;
    let role = Arc::new(ControllerRole {
        node_id: config.node.id.clone(),
        session: session.clone(),
        store: Arc::new(EtcdMetaStore::new(session.clone())),
        deep_store: DeepStore::open(&config.node.deep_store)?,
        data_dir: start.data_dir()?,
        leadership: RwLock::new(None),
        nodes: PrefixMirror::start(session, "nodes/")?,
        tables: PrefixMirror::start(session, "tables/")?,
        segments: PrefixMirror::start(session, "segments/")?,
        assignments: PrefixMirror::start(session, keys::ASSIGNMENTS)?,
        serving: PrefixMirror::start(session, keys::SERVING)?,
        decommissioned: PrefixMirror::start(session, keys::DECOMMISSIONED)?,
        consumers: PrefixMirror::start(session, keys::CONSUMERS)?,
        paused: PrefixMirror::start(session, keys::PAUSED)?,
        stream_partitions: Mutex::new(BTreeMap::new()),
        streams_changed: AtomicI64::new(0),
        runtime: runtime.handle().clone(),
        metrics: ControllerMetrics::default(),
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(1))
            .build()?,
    });
    let candidate = Candidate::new(
        session.clone(),
        LeaderRecord {
            node_id: config.node.id.clone(),
            http_address: Some(address.clone()),
        },
        ttl,
    );
    let leader = role.clone();
    std::thread::Builder::new()
        .name("controller".into())
        .spawn(move || leader.lead(&candidate))?;
    let streams = role.clone();
    std::thread::Builder::new()
        .name("stream-partitions".into())
        .spawn(move || streams.watch_streams())?;
    let janitor = role.clone();
    let (interval, trash_retention) = (section.retention_check_interval, section.trash_retention);
    std::thread::Builder::new()
        .name("retention".into())
        .spawn(move || {
            loop {
                std::thread::sleep(interval);
                if let Err(error) = janitor.enforce_retention(trash_retention) {
                    warn!(
                        error = format!("{error:#}"),
                        "retention failed; retrying at the next check"
                    );
                }
            }
        })?;
    eprintln!(
        "tessera: controller `{}` on http://{address}",
        config.node.id
    );
    let app = router(role);
    start.serve_http(
        listener,
        app,
        Arc::new(tessera_api::server_metrics::ServerMetrics::default()),
    )?;
    drop(registration);
    Ok(())
}

fn router(role: Arc<ControllerRole>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/cluster", get(cluster))
        .route("/metrics", get(metrics))
        .route(
            "/cluster/servers/{id}/decommission",
            post(decommission).delete(recommission),
        )
        .route("/schemas", get(list_schemas).post(add_schema))
        .route("/schemas/{name}", get(get_schema))
        .route("/tables", get(list_tables).post(add_table))
        .route("/tables/{name}", get(get_table).delete(drop_table))
        .route("/tables/{name}/restore", post(restore_table))
        .route("/tables/{name}/schema", get(get_table_schema))
        .route("/tables/{name}/trash", get(list_trash))
        .route(
            "/tables/{name}/consumingSegmentsInfo",
            get(realtime::consuming_segments_info),
        )
        .route(
            "/tables/{name}/pauseConsumption",
            post(realtime::pause_consumption),
        )
        .route(
            "/tables/{name}/resumeConsumption",
            post(realtime::resume_consumption),
        )
        .route("/tables/{name}/forceCommit", post(realtime::force_commit))
        .route("/tables/{name}/status", get(realtime::table_status))
        .route(
            "/tables/{name}/segments/{segment}/restore",
            post(restore_segment),
        )
        .route("/segments", post(upload_segment))
        .route("/segments/{name}", get(list_segments))
        .route("/segments/{name}/metadata", get(segments_metadata))
        .route("/tables/{name}/metadata", get(table_metadata))
        .layer(axum::extract::DefaultBodyLimit::max(
            tessera_api::http::MAX_BODY_BYTES,
        ))
        .with_state(role)
}

impl ControllerRole {
    /// Campaign; while leading, keep the assignments converging; after losing the
    /// lease, step down and campaign again.
    fn lead(&self, candidate: &Candidate) {
        loop {
            let leadership = match candidate.campaign(None) {
                Ok(leadership) => Arc::new(leadership),
                Err(error) => {
                    warn!(%error, "campaign failed; retrying");
                    std::thread::sleep(Duration::from_secs(1));
                    continue;
                }
            };
            eprintln!(
                "tessera: controller `{}` leads (term {})",
                self.node_id,
                leadership.term()
            );
            *self.leadership.write().unwrap_or_else(|e| e.into_inner()) = Some(leadership.clone());
            count(&self.metrics.leader_changes, 1);
            while !leadership.is_lost() {
                let seen = self.revisions();
                if let Err(error) = self.assign(&leadership) {
                    warn!(error = format!("{error:#}"), "assignment round failed");
                }
                let started = Instant::now();
                while self.revisions() == seen
                    && started.elapsed() < Duration::from_secs(2)
                    && !leadership.is_lost()
                {
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            warn!(node = %self.node_id, "controller leadership lost; stepping down");
            *self.leadership.write().unwrap_or_else(|e| e.into_inner()) = None;
        }
    }

    /// While leading, keep `stream_partitions` current: each REALTIME table's stream
    /// asked for its partition count every few seconds (a Kafka topic may grow).
    fn watch_streams(&self) {
        loop {
            if self.current_leadership().is_some() {
                let catalog = self.catalog();
                let mut counts = BTreeMap::new();
                for stored in self.tables.snapshot().entries.values() {
                    let Ok(record) = serde_json::from_str::<TableRecord>(&stored.value) else {
                        continue;
                    };
                    if record.table_type != "REALTIME" || record.deleted_ms.is_some() {
                        continue;
                    }
                    match stream_partition_count(&catalog, &record) {
                        Ok(count) => {
                            counts.insert(record.name.clone(), count);
                        }
                        Err(error) => {
                            warn!(table = %record.name, error = format!("{error:#}"), "cannot read the stream's partitions; keeping the last count");
                            if let Some(&known) = self
                                .stream_partitions
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner)
                                .get(&record.name)
                            {
                                counts.insert(record.name.clone(), known);
                            }
                        }
                    }
                }
                let mut known = self
                    .stream_partitions
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if *known != counts {
                    *known = counts;
                    self.streams_changed.fetch_add(1, Ordering::SeqCst);
                }
            }
            std::thread::sleep(STREAM_CHECK_INTERVAL);
        }
    }

    /// While leading: trash every live table's segments past its retention (out of the
    /// catalog, so out of routing and, by the next assignment round, off the servers),
    /// and purge what was trashed more than `trash_retention` ago. Every catalog write
    /// is fenced by the term.
    fn enforce_retention(&self, trash_retention: Duration) -> anyhow::Result<()> {
        let Some(leadership) = self.current_leadership() else {
            return Ok(());
        };
        let catalog = Catalog::new(Arc::new(leadership.fenced(self.store.clone())));
        let retention = self.retention(&catalog);
        let now = tessera_ingest::realtime::now_ms();
        for record in catalog.tables()? {
            if record.deleted_ms.is_some() {
                continue;
            }
            let (schema, config, _) = tessera_api::catalog_tables::read_table(&catalog, &record)?;
            let trashed = retention.trash_expired(&record, &schema, &config, now)?;
            count(&self.metrics.segments_trashed, trashed.len() as u64);
        }
        retention.purge(trash_retention.as_millis() as i64, now)?;
        Ok(())
    }

    fn revisions(&self) -> [i64; 8] {
        [
            self.streams_changed.load(Ordering::SeqCst),
            self.consumers.revision(),
            self.nodes.revision(),
            self.tables.revision(),
            self.segments.revision(),
            self.assignments.revision(),
            self.serving.revision(),
            self.decommissioned.revision(),
        ]
    }

    /// One assignment round: every OFFLINE table's sealed segments toward their
    /// rendezvous placement over the live historical servers, one throttled step.
    fn assign(&self, leadership: &Leadership) -> anyhow::Result<()> {
        count(&self.metrics.assignment_rounds, 1);
        let draining = keys::decommissioned(&self.decommissioned.snapshot());
        let consumers = keys::consumers(&self.consumers.snapshot());
        let servers: Vec<ServerCandidate> = self
            .nodes
            .snapshot()
            .entries
            .values()
            .filter_map(|stored| serde_json::from_str::<NodeInfo>(&stored.value).ok())
            .filter(|node| node.role == NodeRole::Server)
            .map(|node| ServerCandidate {
                accepting: !draining.contains(&node.node_id),
                id: node.node_id,
                tags: node.tags.into_iter().collect(),
            })
            .collect();
        let live: BTreeSet<&str> = servers.iter().map(|s| s.id.as_str()).collect();
        let assignments = keys::assignments(&self.assignments.snapshot());
        let serving = keys::serving(&self.serving.snapshot());
        let segments = self.segments.snapshot();
        let mut transaction = Transaction::new();
        let mut writes = 0;
        let fenced = leadership.fenced(self.store.clone());
        let flush = |transaction: &mut Transaction, writes: &mut usize| -> anyhow::Result<()> {
            if *writes > 0 {
                fenced.commit(std::mem::take(transaction))?;
                count(&self.metrics.assignment_writes, *writes as u64);
                *writes = 0;
            }
            Ok(())
        };
        let mut assigned_tables = BTreeSet::new();
        for stored in self.tables.snapshot().entries.values() {
            let Ok(record) = serde_json::from_str::<TableRecord>(&stored.value) else {
                continue;
            };
            if record.deleted_ms.is_some() {
                continue;
            }
            if record.table_type == "REALTIME" {
                // Each stream partition has one realtime consumer; it keeps it while it
                // lives (moving a partition costs a seal and a re-consume), and another
                // takes over when it dies or is decommissioned. Partitions the catalog
                // knows count even while the stream cannot be asked.
                let prefix = format!("segments/{}/", record.name);
                let known = segments
                    .entries
                    .range(prefix.clone()..)
                    .take_while(|(key, _)| key.starts_with(&prefix))
                    .filter_map(|(_, stored)| {
                        serde_json::from_str::<tessera_meta::SegmentRecord>(&stored.value).ok()
                    })
                    .map(|segment| segment.partition + 1)
                    .max()
                    .unwrap_or(0);
                let streamed = self
                    .stream_partitions
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .get(&record.name)
                    .copied()
                    .unwrap_or(0);
                let current = consumers.get(&record.name).cloned().unwrap_or_default();
                // A push partition's write-ahead log is on its server's disk: it stays
                // with that server while it is down (its acknowledged rows come back
                // with it), and moves only when the server, alive, is decommissioned
                // (released: sealed and committed first).
                let mut candidates = servers.clone();
                if tessera_api::catalog_tables::takes_pushes(&record) {
                    for holder in current.values() {
                        if !candidates.iter().any(|c| &c.id == holder) {
                            candidates.push(ServerCandidate::new(holder.clone(), &[REALTIME]));
                        }
                    }
                }
                let next = assign_partitions(
                    &record.name,
                    0..known.max(streamed),
                    &current,
                    &candidates,
                    REALTIME,
                );
                for (partition, server) in &next {
                    if current.get(partition) != Some(server) {
                        transaction = transaction
                            .put(keys::consumer_key(&record.name, *partition), server.clone());
                        writes += 1;
                    }
                }
                for partition in current.keys().filter(|p| !next.contains_key(*p)) {
                    transaction = transaction.delete(keys::consumer_key(&record.name, *partition));
                    writes += 1;
                }
            }
            assigned_tables.insert(record.name.clone());
            let replication = replication_of(&record);
            let prefix = format!("segments/{}/", record.name);
            let done: Vec<&str> = segments
                .entries
                .range(prefix.clone()..)
                .take_while(|(key, _)| key.starts_with(&prefix))
                .filter(|(_, stored)| {
                    serde_json::from_str::<tessera_meta::SegmentRecord>(&stored.value)
                        .is_ok_and(|segment| segment.state == SegmentState::Done)
                })
                .map(|(key, _)| &key[prefix.len()..])
                .collect();
            let target = assign_segments(&record.name, done, &servers, HISTORICAL, replication)
                .into_iter()
                .map(|(segment, replicas)| (segment, replicas.into_iter().collect()))
                .collect();
            let current = assignments.get(&record.name).cloned().unwrap_or_default();
            let mut table_serving = serving.get(&record.name).cloned().unwrap_or_default();
            for servers_of_segment in table_serving.values_mut() {
                servers_of_segment.retain(|server| live.contains(server.as_str()));
            }
            let next = next_assignment(
                &target,
                &current,
                &table_serving,
                RebalanceLimits::default(),
            );
            for (segment, replicas) in &next {
                if current.get(segment) != Some(replicas) {
                    let value = serde_json::to_string(replicas)?;
                    transaction =
                        transaction.put(keys::assignment_key(&record.name, segment), value);
                    writes += 1;
                }
            }
            for segment in current
                .keys()
                .filter(|segment| !next.contains_key(*segment))
            {
                transaction = transaction.delete(keys::assignment_key(&record.name, segment));
                writes += 1;
            }
            if writes >= 100 {
                flush(&mut transaction, &mut writes)?;
            }
        }
        // Assignments and consumers of dropped tables go.
        for table in assignments
            .keys()
            .filter(|table| !assigned_tables.contains(*table))
        {
            transaction = transaction.delete_prefix(format!("{}{table}/", keys::ASSIGNMENTS));
            writes += 1;
        }
        for table in consumers
            .keys()
            .filter(|table| !assigned_tables.contains(*table))
        {
            transaction = transaction.delete_prefix(format!("{}{table}/", keys::CONSUMERS));
            writes += 1;
        }
        flush(&mut transaction, &mut writes)?;
        Ok(())
    }

    /// The catalog for an admin write: fenced by this controller's term, or 503 naming
    /// the leader when this one does not lead.
    /// This controller's leadership, while it is not lost.
    fn current_leadership(&self) -> Option<Arc<Leadership>> {
        self.leadership
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .filter(|leadership| !leadership.is_lost())
    }

    fn leader_catalog(&self) -> ApiResult<Catalog> {
        match self.current_leadership() {
            Some(leadership) => Ok(Catalog::new(Arc::new(
                leadership.fenced(self.store.clone()),
            ))),
            None => {
                let leader = current_leader(&self.session)
                    .ok()
                    .flatten()
                    .map(|(record, _)| {
                        format!(
                            "`{}` at http://{}",
                            record.node_id,
                            record.http_address.unwrap_or_default()
                        )
                    })
                    .unwrap_or_else(|| "being elected".into());
                Err(ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!(
                        "controller `{}` is not the leader; the leader is {leader}: retry there",
                        self.node_id
                    ),
                ))
            }
        }
    }

    /// Retention, drop and restore over `catalog` (the leader's fenced one for writes).
    fn retention<'a>(&'a self, catalog: &'a Catalog) -> crate::trash::Retention<'a> {
        crate::trash::Retention {
            catalog,
            deep_store: &self.deep_store,
            runtime: &self.runtime,
        }
    }

    fn catalog(&self) -> Catalog {
        Catalog::new(self.store.clone())
    }

    fn live_table(&self, name: &str) -> ApiResult<TableRecord> {
        let name = strip_type_suffix(name);
        self.catalog()
            .table(name)
            .map_err(ApiError::internal)?
            .filter(|record| record.deleted_ms.is_none())
            .ok_or_else(|| ApiError::not_found(format!("table `{name}` does not exist")))
    }
}

/// How many partitions a REALTIME table's stream has now.
fn stream_partition_count(catalog: &Catalog, record: &TableRecord) -> anyhow::Result<u32> {
    let (_, config, _) = tessera_api::catalog_tables::read_table(catalog, record)?;
    Ok(tessera_ingest::realtime::stream_partition_count(&config)?)
}

fn replication_of(record: &TableRecord) -> usize {
    record.config["segmentsConfig"]["replication"]
        .as_str()
        .and_then(|text| text.parse().ok())
        .or_else(|| record.config["segmentsConfig"]["replication"].as_u64())
        .unwrap_or(1)
        .max(1) as usize
}

async fn health(State(role): State<Arc<ControllerRole>>) -> axum::Json<Json> {
    let leads = role.current_leadership().is_some();
    axum::Json(json!({"status": "OK", "node": role.node_id, "leader": leads}))
}

async fn cluster(
    State(role): State<Arc<ControllerRole>>,
    headers: axum::http::HeaderMap,
) -> ApiResult<axum::Json<Json>> {
    let session = role.session.clone();
    let (nodes, leader) = blocking(move || {
        (
            tessera_coordination::live_nodes(&session),
            current_leader(&session),
        )
    })
    .await?;
    let nodes = nodes.map_err(ApiError::internal)?;
    let leader = leader.map_err(ApiError::internal)?;
    let authorization = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok());
    let (consuming, consuming_unavailable) =
        realtime::consumption(&role, &nodes, authorization).await;
    let assignments = keys::assignments(&role.assignments.snapshot());
    let serving = keys::serving(&role.serving.snapshot());
    let draining = keys::decommissioned(&role.decommissioned.snapshot());
    let mut servers: BTreeMap<String, Json> = BTreeMap::new();
    for node in nodes.iter().filter(|node| node.role == NodeRole::Server) {
        let held = |view: &BTreeMap<String, BTreeMap<String, BTreeSet<String>>>| -> usize {
            view.values()
                .flat_map(|segments| segments.values())
                .filter(|on| on.contains(&node.node_id))
                .count()
        };
        servers.insert(
            node.node_id.clone(),
            json!({
                "tags": node.tags,
                "flightAddress": node.flight_address,
                "segmentsAssigned": held(&assignments),
                "segmentsServing": held(&serving),
                "decommissioned": draining.contains(&node.node_id),
            }),
        );
    }
    let tables: BTreeMap<String, Json> = assignments
        .iter()
        .map(|(table, segments)| {
            let served = serving.get(table).cloned().unwrap_or_default();
            let under_replicated = segments
                .iter()
                .filter(|(segment, replicas)| {
                    served.get(*segment).map_or(0, BTreeSet::len) < replicas.len()
                })
                .count();
            (
                table.clone(),
                json!({
                    "segments": segments.len(),
                    "assignments": segments,
                    "serving": served,
                    "segmentsNotFullyServed": under_replicated,
                }),
            )
        })
        .collect();
    Ok(axum::Json(json!({
        "leader": leader.map(|(record, term)| json!({"nodeId": record.node_id, "httpAddress": record.http_address, "term": term})),
        "nodes": nodes,
        "servers": servers,
        "decommissioned": draining,
        "consumers": keys::consumers(&role.consumers.snapshot()),
        "paused": keys::paused(&role.paused.snapshot()),
        "consuming": consuming,
        "consumingUnavailable": consuming_unavailable,
        "tables": tables,
    })))
}

async fn metrics(State(role): State<Arc<ControllerRole>>) -> Response {
    let leads = role.current_leadership().is_some();
    let mut f = Families::new();
    role.metrics.render(&mut f, leads);
    f.into_response()
}

/// `POST /cluster/servers/{id}/decommission`: the server receives no new replicas and
/// its replicas are re-created elsewhere (it keeps serving them until then); once
/// `/cluster` shows it serving nothing, it can be stopped. `DELETE` takes it back.
async fn decommission(
    State(role): State<Arc<ControllerRole>>,
    UrlPath(id): UrlPath<String>,
) -> ApiResult<axum::Json<Json>> {
    set_decommissioned(role, id, true).await
}

async fn recommission(
    State(role): State<Arc<ControllerRole>>,
    UrlPath(id): UrlPath<String>,
) -> ApiResult<axum::Json<Json>> {
    set_decommissioned(role, id, false).await
}

async fn set_decommissioned(
    role: Arc<ControllerRole>,
    id: String,
    draining: bool,
) -> ApiResult<axum::Json<Json>> {
    // The same refusal as other admin writes when this controller does not lead.
    role.leader_catalog()?;
    let Some(leadership) = role.current_leadership() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "leadership lost",
        ));
    };
    let fenced = leadership.fenced(role.store.clone());
    let key = keys::decommissioned_key(&id);
    let transaction = if draining {
        Transaction::new().put(key, tessera_ingest::realtime::now_ms().to_string())
    } else {
        Transaction::new().delete(key)
    };
    blocking(move || fenced.commit(transaction))
        .await?
        .map_err(ApiError::internal)?;
    Ok(axum::Json(json!({
        "status": if draining {
            format!("server {id} is being decommissioned: its replicas move to other servers")
        } else {
            format!("server {id} takes replicas again")
        },
    })))
}

async fn list_schemas(State(role): State<Arc<ControllerRole>>) -> ApiResult<axum::Json<Json>> {
    let catalog = role.catalog();
    let names = blocking(move || catalog.schema_names())
        .await?
        .map_err(ApiError::internal)?;
    Ok(axum::Json(json!(names)))
}

async fn get_schema(
    State(role): State<Arc<ControllerRole>>,
    UrlPath(name): UrlPath<String>,
) -> ApiResult<Response> {
    let catalog = role.catalog();
    let lookup = name.clone();
    let schema = blocking(move || catalog.schema(&lookup))
        .await?
        .map_err(ApiError::internal)?;
    schema
        .map(json_text)
        .ok_or_else(|| ApiError::not_found(format!("schema `{name}` does not exist")))
}

async fn add_schema(
    State(role): State<Arc<ControllerRole>>,
    body: Bytes,
) -> ApiResult<axum::Json<Json>> {
    let text = body_text(&body)?.to_string();
    let parsed = Schema::from_json(&text).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let name = parsed.value.name.clone();
    let catalog = role.leader_catalog()?;
    let stored = name.clone();
    blocking(move || catalog.put_schema(&stored, &text))
        .await?
        .map_err(ApiError::internal)?;
    Ok(axum::Json(json!({
        "status": format!("{name} successfully added"),
        "warnings": parsed.warnings,
    })))
}

/// `DELETE /tables/{t}`: the table leaves routing at once (brokers stop planning it,
/// servers unload it, its consumers stop; a Kafka table's rows not yet committed are
/// read again from Kafka after a restore), and its files go to the deep store's trash.
async fn drop_table(
    State(role): State<Arc<ControllerRole>>,
    UrlPath(name): UrlPath<String>,
) -> ApiResult<axum::Json<Json>> {
    let catalog = role.leader_catalog()?;
    let typed = blocking(move || -> Result<String, ApiError> {
        let record = role.live_table(&name)?;
        role.retention(&catalog)
            .drop_table(&record.name, tessera_ingest::realtime::now_ms())
            .map_err(|e| ApiError::internal(format!("{e:#}")))?;
        Ok(format!("{}_{}", record.name, record.table_type))
    })
    .await??;
    Ok(axum::Json(
        json!({"status": format!("Tables: [{typed}] deleted")}),
    ))
}

/// `POST /tables/{t}/restore`: a dropped table's files come back from the trash and it
/// is served (and consumed) again.
async fn restore_table(
    State(role): State<Arc<ControllerRole>>,
    UrlPath(name): UrlPath<String>,
) -> ApiResult<axum::Json<Json>> {
    let catalog = role.leader_catalog()?;
    let name = strip_type_suffix(&name).to_string();
    let table = name.clone();
    blocking(move || -> Result<(), ApiError> {
        if catalog.table(&table).map_err(ApiError::internal)?.is_none() {
            return Err(ApiError::not_found(format!(
                "table `{table}` does not exist"
            )));
        }
        let restored = role
            .retention(&catalog)
            .restore_table(&table)
            .map_err(|e| ApiError::internal(format!("{e:#}")))?;
        match restored {
            Some(_) => Ok(()),
            None => Err(ApiError::new(
                StatusCode::CONFLICT,
                format!("table `{table}` is not dropped"),
            )),
        }
    })
    .await??;
    Ok(axum::Json(
        json!({"status": format!("Table {name} restored")}),
    ))
}

async fn list_trash(
    State(role): State<Arc<ControllerRole>>,
    UrlPath(name): UrlPath<String>,
) -> ApiResult<axum::Json<Json>> {
    let catalog = role.catalog();
    let record = blocking(move || role.live_table(&name)).await??;
    let table = record.name.clone();
    let trashed = blocking(move || catalog.trashed_segments(&table))
        .await?
        .map_err(ApiError::internal)?;
    Ok(axum::Json(crate::trash::trash_listing(
        &record.name,
        &trashed,
    )))
}

/// Bring a segment retention trashed back: the next assignment round gives it to
/// servers again.
async fn restore_segment(
    State(role): State<Arc<ControllerRole>>,
    UrlPath((name, segment)): UrlPath<(String, String)>,
) -> ApiResult<axum::Json<Json>> {
    let catalog = role.leader_catalog()?;
    let segment_name = segment.clone();
    let restored = blocking(
        move || -> Result<Option<tessera_meta::SegmentRecord>, ApiError> {
            let record = role.live_table(&name)?;
            role.retention(&catalog)
                .restore(&record.name, &segment_name)
                .map_err(tessera_api::http::restore_error)
        },
    )
    .await??;
    if restored.is_none() {
        return Err(ApiError::not_found(format!(
            "segment `{segment}` is not in the trash"
        )));
    }
    Ok(axum::Json(
        json!({"status": format!("Segment {segment} restored")}),
    ))
}

async fn list_tables(State(role): State<Arc<ControllerRole>>) -> ApiResult<axum::Json<Json>> {
    let catalog = role.catalog();
    let tables = blocking(move || catalog.tables())
        .await?
        .map_err(ApiError::internal)?;
    let names: Vec<String> = tables
        .into_iter()
        .filter(|t| t.deleted_ms.is_none())
        .map(|t| t.name)
        .collect();
    Ok(axum::Json(json!({"tables": names})))
}

async fn get_table(
    State(role): State<Arc<ControllerRole>>,
    UrlPath(name): UrlPath<String>,
) -> ApiResult<axum::Json<Json>> {
    let record = blocking(move || role.live_table(&name)).await??;
    Ok(axum::Json(
        json!({ record.table_type.clone(): record.config }),
    ))
}

async fn get_table_schema(
    State(role): State<Arc<ControllerRole>>,
    UrlPath(name): UrlPath<String>,
) -> ApiResult<Response> {
    let worker = role.clone();
    let schema = blocking(move || -> ApiResult<Option<String>> {
        let record = worker.live_table(&name)?;
        worker
            .catalog()
            .schema(&record.schema_name)
            .map_err(ApiError::internal)
    })
    .await??;
    schema
        .map(json_text)
        .ok_or_else(|| ApiError::not_found("the table's schema is missing"))
}

async fn add_table(
    State(role): State<Arc<ControllerRole>>,
    body: Bytes,
) -> ApiResult<axum::Json<Json>> {
    let text = body_text(&body)?.to_string();
    let catalog = role.leader_catalog()?;
    let reader = catalog.clone();
    let NewTable {
        record,
        config,
        warnings,
    } = blocking(move || new_table(&reader, &text, tessera_ingest::realtime::now_ms())).await??;
    // Refused rather than served partly: a cluster's brokers do not split queries at a
    // lakehouse boundary yet, so the table would answer without its Iceberg rows.
    if config.raw.get("lakehouse").is_some() {
        return Err(ApiError::bad_request(
            "`lakehouse` is served by `tessera standalone` only: a cluster's brokers do not \
             split queries at the time boundary yet (docs/lakehouse.md)",
        ));
    }
    let typed = config.table_name_with_type();
    blocking(move || catalog.create_table(&record))
        .await?
        .map_err(|e| match e {
            tessera_meta::Error::AlreadyExists(message) => {
                ApiError::new(StatusCode::CONFLICT, message)
            }
            other => ApiError::internal(other),
        })?;
    Ok(axum::Json(json!({
        "status": format!("Table {typed} successfully added"),
        "warnings": warnings,
    })))
}

async fn upload_segment(
    State(role): State<Arc<ControllerRole>>,
    Query(params): Query<UploadParams>,
    body: Bytes,
) -> ApiResult<axum::Json<Json>> {
    let catalog = role.leader_catalog()?;
    let name = blocking(move || role.add_segment(&catalog, &params.table_name, &body)).await??;
    Ok(axum::Json(
        json!({"status": format!("segment {name} added")}),
    ))
}

impl ControllerRole {
    fn add_segment(&self, catalog: &Catalog, table: &str, bytes: &[u8]) -> ApiResult<String> {
        let record = self.live_table(table)?;
        let (_, _, schema) = tessera_api::catalog_tables::read_table(catalog, &record)
            .map_err(|e| ApiError::internal(format!("{e:#}")))?;
        let uploads = self.data_dir.join("uploads");
        std::fs::create_dir_all(&uploads).map_err(ApiError::internal)?;
        let temporary = tempfile::Builder::new()
            .suffix(".upload")
            .tempfile_in(&uploads)
            .map_err(ApiError::internal)?;
        std::fs::write(temporary.path(), bytes).map_err(ApiError::internal)?;
        let metadata = check_segment_file(temporary.path(), &record.name, &schema)?;
        let name = metadata.name.clone();
        let location = DeepStore::segment_location(&record.name, &name);
        let created = self
            .runtime
            .block_on(self.deep_store.put_new(&location, bytes.to_vec().into()))
            .map_err(|e| ApiError::from_status(e.status(), format!("deep store: {e}")))?;
        if !created {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!(
                    "segment `{name}` already exists in the deep store of table `{}`",
                    record.name
                ),
            ));
        }
        let segment = uploaded_segment_record(&record.name, &metadata, location, bytes);
        catalog.add_segment(&segment).map_err(|e| match e {
            tessera_meta::Error::Conflict(_) => ApiError::new(
                StatusCode::CONFLICT,
                format!("segment `{name}` already exists"),
            ),
            other => ApiError::from_status(other.status(), format!("catalog: {other}")),
        })?;
        info!(table = %record.name, segment = %name, "segment uploaded");
        Ok(name)
    }
}

/// The live table `name` and its segments, as the catalog records them.
async fn table_segments(
    role: &Arc<ControllerRole>,
    name: String,
) -> ApiResult<(tessera_meta::TableRecord, Vec<tessera_meta::SegmentRecord>)> {
    let worker = role.clone();
    blocking(move || -> ApiResult<_> {
        let record = worker.live_table(&name)?;
        let segments = worker
            .catalog()
            .segments(&record.name)
            .map_err(ApiError::internal)?;
        Ok((record, segments))
    })
    .await?
}

/// `GET /segments/{table}/metadata`: every segment of the table as the catalog records
/// it, with the servers serving it now (what the web console's segment view shows).
async fn segments_metadata(
    State(role): State<Arc<ControllerRole>>,
    UrlPath(name): UrlPath<String>,
) -> ApiResult<axum::Json<Json>> {
    let (record, segments) = table_segments(&role, name).await?;
    let serving = keys::serving(&role.serving.snapshot());
    let served = serving.get(&record.name).cloned().unwrap_or_default();
    let mut out = serde_json::Map::new();
    for segment in segments {
        let done = segment.state == tessera_meta::SegmentState::Done;
        let servers: Vec<&String> = served
            .get(&segment.name)
            .map(|on| on.iter().collect())
            .unwrap_or_default();
        out.insert(
            segment.name.clone(),
            json!({
                "segmentName": segment.name,
                "state": if done { "ONLINE" } else { "CONSUMING" },
                "totalDocs": segment.num_docs,
                "sizeBytes": done.then_some(segment.size_bytes),
                "location": segment.location,
                "crc32": segment.crc32,
                "partition": segment.partition,
                "startOffset": segment.start_offset,
                "endOffset": segment.end_offset,
                "minTime": segment.min_time,
                "maxTime": segment.max_time,
                "servers": servers,
            }),
        );
    }
    Ok(axum::Json(Json::Object(out)))
}

/// `GET /tables/{table}/metadata`: Pinot's table size summary, from the catalog's
/// sealed segments (consuming rows live on the servers).
async fn table_metadata(
    State(role): State<Arc<ControllerRole>>,
    UrlPath(name): UrlPath<String>,
) -> ApiResult<axum::Json<Json>> {
    let (record, segments) = table_segments(&role, name).await?;
    let done = segments
        .iter()
        .filter(|s| s.state == tessera_meta::SegmentState::Done);
    let (rows, bytes) = done.fold((0u64, 0u64), |(rows, bytes), s| {
        (rows + s.num_docs, bytes + s.size_bytes)
    });
    Ok(axum::Json(json!({
        "tableName": format!("{}_{}", record.name, record.table_type),
        "diskSizeInBytes": bytes,
        "numSegments": segments.len(),
        "numRows": rows,
    })))
}

async fn list_segments(
    State(role): State<Arc<ControllerRole>>,
    UrlPath(name): UrlPath<String>,
) -> ApiResult<axum::Json<Json>> {
    let (record, segments) = table_segments(&role, name).await?;
    let names: Vec<String> = segments.into_iter().map(|s| s.name).collect();
    Ok(axum::Json(json!([{ record.table_type: names }])))
}
