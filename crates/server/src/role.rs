//! `tessera server --config FILE`: a cluster server. It registers in etcd with its
//! Flight address and tags, follows the controller's assignments, loads the sealed
//! segments assigned to it from the deep store (CRC-checked, cached on local disk),
//! reports what it serves under its lease, and answers brokers' leaf queries over Arrow
//! Flight.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use tessera_coordination::{
    EtcdMetaStore, EtcdSession, NodeInfo, NodeRole, PrefixMirror, Registration, register,
};
use tessera_flight::{LeafAnswer, LeafContext, LeafExecutor, LeafRequest, plan_leaf};
use tessera_ingest::realtime::{Clock, RealtimeContext};
use tessera_meta::{Catalog, SegmentRecord, SegmentState, TableRecord};
use tessera_query::planner::TableSchema;
use tessera_query::{ErrorCode, QueryError};
use tessera_segment::{ImmutableSegment, SegmentReader};
use tessera_storage::{DeepStore, file_crc32};
use tracing::{info, warn};

use crate::consumed_tables::{ConsumedTable, ConsumedTables};
use crate::metrics::ServerRoleMetrics;
use tessera_api::catalog_tables::table_schema;
use tessera_api::keys;
use tessera_api::node_config::ClusterNodeConfig;
use tessera_api::prometheus::Families;
use tessera_api::prometheus::count;
use tessera_api::role_start::RoleStart;
use tessera_api::strip_type_suffix;
use tessera_storage::cold::ColdStore;
use tessera_storage::section_cache::SectionCache;

/// A table as this server serves it.
struct ServedTable {
    schema: TableSchema,
    segments: BTreeMap<String, Arc<dyn SegmentReader>>,
    /// The cold ones among `segments` (opened from their footer; see
    /// docs/cold-segments.md), which a query prefetches from.
    cold: BTreeMap<String, Arc<ImmutableSegment>>,
}

/// The server role's state.
struct ServerRole {
    node_id: String,
    data_dir: PathBuf,
    deep_store: DeepStore,
    /// Set when sealed segments are served cold (`[server] cache_size`).
    cold: Option<Arc<ColdStore>>,
    runtime: tokio::runtime::Handle,
    tables: RwLock<BTreeMap<String, Arc<ServedTable>>>,
    /// Segments assigned away from here, and since when (see [`UNASSIGNED_GRACE`]).
    unassigned_since: Mutex<BTreeMap<(String, String), Instant>>,
    metrics: ServerRoleMetrics,
    /// REALTIME tables this server consumes.
    consumed: ConsumedTables,
    /// The catalog's view of this server, for committing the segments it seals.
    realtime_context: RealtimeContext,
}

/// The catalog and assignment views a server follows.
struct Views {
    assignments: PrefixMirror,
    segments: PrefixMirror,
    tables: PrefixMirror,
    schemas: PrefixMirror,
    consumers: PrefixMirror,
    consuming: PrefixMirror,
    paused: PrefixMirror,
    serving: PrefixMirror,
}

impl Views {
    fn start(session: &EtcdSession) -> anyhow::Result<Views> {
        Ok(Views {
            assignments: PrefixMirror::start(session, keys::ASSIGNMENTS)?,
            segments: PrefixMirror::start(session, "segments/")?,
            tables: PrefixMirror::start(session, "tables/")?,
            schemas: PrefixMirror::start(session, "schemas/")?,
            consumers: PrefixMirror::start(session, keys::CONSUMERS)?,
            consuming: PrefixMirror::start(session, keys::CONSUMING)?,
            paused: PrefixMirror::start(session, keys::PAUSED)?,
            serving: PrefixMirror::start(session, keys::SERVING)?,
        })
    }
}

pub fn run(config_path: &Path) -> anyhow::Result<()> {
    let start = RoleStart::new(config_path)?;
    start.refuse_tls("server")?;
    let (config, session, runtime) = (&start.config, &start.session, &start.runtime);
    let section = ClusterNodeConfig::require(&config.server, "server")?.clone();
    let listener = start.bind(&section.flight, "Flight")?;
    let bound = listener.local_addr()?.to_string();
    let mut info = NodeInfo::new(&config.node.id, NodeRole::Server);
    info.tags = section.tags.clone();
    info.flight_address = Some(section.advertised_flight.clone().unwrap_or(bound.clone()));
    info.http_address = section.http.clone();
    let registration = register(session, &info, Duration::from_secs(config.node.lease_ttl_s))?;
    let data_dir = start.data_dir()?;
    let deep_store = DeepStore::open(&config.node.deep_store)?;
    let views = Arc::new(Views::start(session)?);
    let cold = match &section.cache_size {
        Some(size) => {
            let bytes = tessera_ingest::realtime::settings::parse_bytes(size)
                .filter(|bytes| *bytes > 0)
                .with_context(|| {
                    format!("[server] cache_size `{size}` is not a size such as 1GB or 512M")
                })?;
            let dir = section
                .cache_dir
                .clone()
                .unwrap_or_else(|| data_dir.join("cache"));
            let cache = SectionCache::open(&dir, bytes)
                .with_context(|| format!("open the segment cache `{}`", dir.display()))?;
            Some(ColdStore::new(
                deep_store.clone(),
                Arc::new(cache),
                runtime.handle().clone(),
            ))
        }
        None => None,
    };
    let role = Arc::new(ServerRole {
        node_id: config.node.id.clone(),
        realtime_context: RealtimeContext {
            catalog: Catalog::new(Arc::new(EtcdMetaStore::new(session.clone()))),
            deep_store: deep_store.clone(),
            runtime: runtime.handle().clone(),
            data_dir: data_dir.clone(),
            clock: Clock::system(),
        },
        data_dir,
        deep_store,
        cold,
        runtime: runtime.handle().clone(),
        tables: RwLock::new(BTreeMap::new()),
        unassigned_since: Mutex::new(BTreeMap::new()),
        metrics: ServerRoleMetrics::default(),
        consumed: ConsumedTables::default(),
    });
    if let Some(http) = &section.http {
        let listener = start.bind(http, "HTTP")?;
        let app = axum::Router::new()
            .route("/health", axum::routing::get(health))
            .route("/metrics", axum::routing::get(metrics))
            .route("/consuming", axum::routing::get(consuming))
            .route(
                "/tables/{name}/consumingSegmentsInfo",
                axum::routing::get(consuming_segments_info),
            )
            .route(
                "/tables/{name}/forceCommit",
                axum::routing::post(force_commit),
            )
            .route("/ingest/{name}", axum::routing::post(ingest))
            .layer(axum::extract::DefaultBodyLimit::max(
                tessera_api::http::MAX_BODY_BYTES,
            ))
            .with_state(role.clone());
        let app = start.secured(app);
        let listener =
            axum::serve::ListenerExt::tap_io(listener, |socket: &mut tokio::net::TcpStream| {
                tessera_api::http_listener::no_delay(socket)
            });
        runtime.spawn(async move { axum::serve(listener, app).await });
    }
    let follower = role.clone();
    std::thread::Builder::new()
        .name("assignments".into())
        .spawn(move || follower.follow(&views, &registration))?;
    eprintln!(
        "tessera: server `{}` serving Flight on {bound} (tags {:?})",
        config.node.id, section.tags
    );
    runtime.block_on(async move {
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        tessera_flight::serve(listener, role, shutdown).await
    })?;
    Ok(())
}

/// How long a segment assigned away from this server is still answered here (no longer
/// published): brokers' views of who serves what lag this server's own, and a broker
/// that still routes the segment here must find it, or it would give up on this server
/// for the whole query.
const UNASSIGNED_GRACE: Duration = Duration::from_secs(2);

impl ServerRole {
    /// Keep answering for segments no longer assigned here during [`UNASSIGNED_GRACE`]
    /// (they are not published: brokers stop routing here meanwhile).
    fn keep_unassigned_a_while(
        &self,
        current: &BTreeMap<String, Arc<ServedTable>>,
        next_tables: &mut BTreeMap<String, Arc<ServedTable>>,
    ) {
        let mut since = self
            .unassigned_since
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut kept: BTreeSet<(String, String)> = BTreeSet::new();
        for (table, old) in current {
            for (segment, reader) in &old.segments {
                let still = next_tables
                    .get(table)
                    .is_some_and(|next| next.segments.contains_key(segment));
                if still {
                    continue;
                }
                let key = (table.clone(), segment.clone());
                let first = *since.entry(key.clone()).or_insert_with(Instant::now);
                if first.elapsed() >= UNASSIGNED_GRACE {
                    continue;
                }
                kept.insert(key);
                let next = next_tables.entry(table.clone()).or_insert_with(|| {
                    Arc::new(ServedTable {
                        schema: old.schema.clone(),
                        segments: BTreeMap::new(),
                        cold: BTreeMap::new(),
                    })
                });
                let mut segments = next.segments.clone();
                segments.insert(segment.clone(), reader.clone());
                let mut cold = next.cold.clone();
                if let Some(lazy) = old.cold.get(segment) {
                    cold.insert(segment.clone(), lazy.clone());
                }
                *next = Arc::new(ServedTable {
                    schema: next.schema.clone(),
                    segments,
                    cold,
                });
            }
        }
        since.retain(|key, _| kept.contains(key));
    }

    /// Reconcile with the assignments whenever they (or the catalog) change, and
    /// publish what is served after each change and after every re-registration.
    fn follow(&self, views: &Views, registration: &Registration) {
        let mut published = Published::default();
        let mut registrations = registration.registrations();
        loop {
            let seen = (
                views.assignments.revision(),
                views.segments.revision(),
                views.tables.revision(),
            );
            let (served, consuming) = self.reconcile(views);
            if registration.registrations() != registrations {
                // A new lease: the old serving keys are gone with the old one.
                registrations = registration.registrations();
                published = Published::default();
            }
            publish(registration, &mut published.serving, &served, |table| {
                keys::serving_key(&self.node_id, table)
            });
            publish(
                registration,
                &mut published.consuming,
                &consuming,
                |table| keys::consuming_key(&self.node_id, table),
            );
            // Wake on the next assignment change; re-check now and then for catalog
            // changes and failed loads.
            let unchanged = seen
                == (
                    views.assignments.revision(),
                    views.segments.revision(),
                    views.tables.revision(),
                );
            if unchanged {
                views
                    .assignments
                    .wait_for_revision(seen.0 + 1, Duration::from_millis(500));
            }
        }
    }

    /// Load what is assigned here and drop what is not, consume the stream partitions
    /// assigned here; returns table → served segments, and table → consumed partitions.
    fn reconcile(&self, views: &Views) -> (Served, Consuming) {
        let assignments = keys::assignments(&views.assignments.snapshot());
        let segments_snapshot = views.segments.snapshot();
        let tables_snapshot = views.tables.snapshot();
        let schemas_snapshot = views.schemas.snapshot();
        let mut next_tables: BTreeMap<String, Arc<ServedTable>> = BTreeMap::new();
        let current = self
            .tables
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        for (table_name, table_assignments) in &assignments {
            let wanted: BTreeSet<&String> = table_assignments
                .iter()
                .filter(|(_, servers)| servers.contains(&self.node_id))
                .map(|(segment, _)| segment)
                .collect();
            if wanted.is_empty() {
                continue;
            }
            let Some(record) = tables_snapshot
                .entries
                .get(&format!("tables/{table_name}"))
                .and_then(|stored| serde_json::from_str::<TableRecord>(&stored.value).ok())
                .filter(|record| record.deleted_ms.is_none())
            else {
                continue;
            };
            let schema = match table_schema(&record, &schemas_snapshot) {
                Ok(schema) => schema,
                Err(error) => {
                    warn!(table = %table_name, error = format!("{error:#}"), "cannot serve the table");
                    continue;
                }
            };
            let existing = current.get(table_name.as_str());
            let mut loaded: BTreeMap<String, Arc<dyn SegmentReader>> = BTreeMap::new();
            let mut cold: BTreeMap<String, Arc<ImmutableSegment>> = BTreeMap::new();
            for segment_name in wanted {
                if let Some(segment) = existing.and_then(|t| t.cold.get(segment_name)) {
                    // A cold segment whose cache dropped bytes it maps opens again, so
                    // the maps are released once running queries finish.
                    let segment = match segment.reopen_if_stale() {
                        Some(Ok(fresh)) => Arc::new(fresh),
                        _ => segment.clone(),
                    };
                    loaded.insert(segment_name.clone(), segment.clone());
                    cold.insert(segment_name.clone(), segment);
                    continue;
                }
                if let Some(segment) = existing.and_then(|t| t.segments.get(segment_name)) {
                    loaded.insert(segment_name.clone(), segment.clone());
                    continue;
                }
                let key = format!("segments/{table_name}/{segment_name}");
                let Some(segment_record) = segments_snapshot
                    .entries
                    .get(&key)
                    .and_then(|stored| serde_json::from_str::<SegmentRecord>(&stored.value).ok())
                    .filter(|record| record.state == SegmentState::Done)
                else {
                    continue;
                };
                let loaded_now = self.load(&segment_record);
                count(
                    if loaded_now.is_ok() {
                        &self.metrics.segment_loads
                    } else {
                        &self.metrics.segment_load_failures
                    },
                    1,
                );
                match loaded_now {
                    Ok(segment) => {
                        info!(segment = %segment_name, cold = segment.is_lazy(), "loaded an assigned segment");
                        let segment = Arc::new(segment);
                        if segment.is_lazy() {
                            cold.insert(segment_name.clone(), segment.clone());
                        }
                        loaded.insert(segment_name.clone(), segment);
                    }
                    Err(error) => {
                        warn!(segment = %segment_name, error = format!("{error:#}"), "cannot load an assigned segment; retrying later");
                    }
                }
            }
            next_tables.insert(
                table_name.clone(),
                Arc::new(ServedTable {
                    schema,
                    segments: loaded,
                    cold,
                }),
            );
        }
        // What is published: every segment loaded because it is assigned here.
        let mut served: BTreeMap<String, BTreeSet<String>> = next_tables
            .iter()
            .map(|(table, served)| (table.clone(), served.segments.keys().cloned().collect()))
            .collect();
        self.keep_unassigned_a_while(&current, &mut next_tables);
        // The stream partitions assigned here, each once no other server consumes it
        // (a partition moved from a live server is released there first: its rows
        // sealed and committed, so this server resumes after them).
        let consuming_now = keys::consuming(&views.consuming.snapshot());
        let mine: BTreeMap<String, BTreeSet<u32>> = keys::consumers(&views.consumers.snapshot())
            .into_iter()
            .map(|(table, partitions)| {
                let elsewhere = consuming_now.get(&table);
                let partitions = partitions
                    .into_iter()
                    .filter(|(_, server)| *server == self.node_id)
                    .map(|(partition, _)| partition)
                    .filter(|partition| {
                        !elsewhere
                            .and_then(|p| p.get(partition))
                            .is_some_and(|nodes| nodes.iter().any(|n| *n != self.node_id))
                    })
                    .collect();
                (table, partitions)
            })
            .collect();
        let mut elsewhere: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (table, segments) in keys::serving(&views.serving.snapshot()) {
            for (segment, servers) in segments {
                if servers.iter().any(|server| *server != self.node_id) {
                    elsewhere.entry(table.clone()).or_default().insert(segment);
                }
            }
        }
        let consumed = self.consumed.reconcile(
            &mine,
            &tables_snapshot,
            &schemas_snapshot,
            &segments_snapshot,
            &elsewhere,
            &self.realtime_context,
        );
        self.consumed
            .follow_pauses(&keys::paused(&views.paused.snapshot()));
        for (table, names) in consumed.served {
            served.entry(table).or_default().extend(names);
        }
        *self
            .metrics
            .served
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = served
            .iter()
            .map(|(table, segments)| (table.clone(), segments.len()))
            .collect();
        *self
            .tables
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = next_tables;
        (served, consumed.partitions)
    }

    /// The local copy of a sealed segment, downloaded (CRC-checked) when missing or
    /// corrupt.
    /// With a cold-segment cache, the segment opens from its footer in the deep store
    /// instead (at most two GETs, none once the footer is cached).
    fn load(&self, record: &SegmentRecord) -> anyhow::Result<ImmutableSegment> {
        let path =
            tessera_ingest::realtime::segment_file(&self.data_dir, &record.table, &record.name);
        if let Some(cold) = &self.cold {
            return crate::cold_queries::open(cold, &self.runtime, record, &path);
        }
        let good = std::fs::read(&path)
            .is_ok_and(|bytes| record.crc32.is_none_or(|crc| file_crc32(&bytes) == crc));
        if !good {
            let location = record
                .location
                .as_deref()
                .with_context(|| format!("segment `{}` has no deep-store location", record.name))?;
            self.runtime
                .block_on(self.deep_store.download(location, &path, record.crc32))
                .with_context(|| format!("download segment `{}`", record.name))?;
        }
        ImmutableSegment::open(&path).with_context(|| format!("open `{}`", path.display()))
    }
}

/// The consuming segments this server holds that follow, in their partition, the
/// newest segment the broker asked for there, when this server consumes that partition:
/// a segment rotated into after the broker's view of the catalog was taken (the commit
/// that records it may even be done already). Only consuming segments are added — a
/// broker never routes those to another server — so no row is answered twice, and rows
/// acknowledged (or consumed) in a new segment are answered at once.
fn newer_consuming(consumed: &ConsumedTable, requested: &[String]) -> Vec<Arc<dyn SegmentReader>> {
    let mine = consumed.table.consumed_partitions();
    let mut newest: BTreeMap<u32, u32> = BTreeMap::new();
    for name in requested {
        if let Some((partition, sequence)) = keys::partition_and_sequence(name)
            && mine.contains(&partition)
        {
            let entry = newest.entry(partition).or_insert(sequence);
            *entry = (*entry).max(sequence);
        }
    }
    if newest.is_empty() {
        return Vec::new();
    }
    consumed
        .consuming_readers()
        .into_iter()
        .filter(|(name, _)| {
            keys::partition_and_sequence(name).is_some_and(|(partition, sequence)| {
                newest
                    .get(&partition)
                    .is_some_and(|&known| sequence > known)
            })
        })
        .map(|(_, reader)| reader)
        .collect()
}

/// Table → names of the segments a server serves.
type Served = BTreeMap<String, BTreeSet<String>>;
/// Table → stream partitions a server consumes.
type Consuming = BTreeMap<String, BTreeSet<u32>>;

/// What a server last published under its lease.
#[derive(Default)]
struct Published {
    serving: BTreeMap<String, String>,
    consuming: BTreeMap<String, String>,
}

/// Publish `current` (table → a JSON list) under the lease as `key(table)`, writing only
/// what changed since `published` and deleting the keys of tables no longer there.
fn publish<T: serde::Serialize>(
    registration: &Registration,
    published: &mut BTreeMap<String, String>,
    current: &BTreeMap<String, T>,
    key: impl Fn(&str) -> String,
) {
    for (table, value) in current {
        let value = serde_json::to_string(value).unwrap_or_default();
        if published.get(table) == Some(&value) {
            continue;
        }
        match registration.put_leased(&key(table), &value) {
            Ok(()) => {
                published.insert(table.clone(), value);
            }
            Err(error) => warn!(%error, table, "cannot publish what this server serves"),
        }
    }
    let gone: Vec<String> = published
        .keys()
        .filter(|table| !current.contains_key(*table))
        .cloned()
        .collect();
    for table in gone {
        if registration.delete_leased(&key(&table)).is_ok() {
            published.remove(&table);
        }
    }
}

async fn health(
    axum::extract::State(role): axum::extract::State<Arc<ServerRole>>,
) -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({"status": "OK", "node": role.node_id}))
}

/// This server's part of Pinot's consuming-segments report for one table (the
/// controller merges its realtime servers' parts).
async fn consuming_segments_info(
    axum::extract::State(role): axum::extract::State<Arc<ServerRole>>,
    axum::extract::Path(name): axum::extract::Path<String>,
) -> axum::Json<serde_json::Value> {
    let name = strip_type_suffix(&name);
    let report = role.consumed.get(name).map(|consumed| {
        crate::consuming_info::consuming_segments(
            &consumed.segments,
            &consumed.table.partition_status(),
            &role.node_id,
            tessera_ingest::realtime::now_ms(),
        )
    });
    axum::Json(serde_json::json!({"_segmentToConsumingInfoMap": report.unwrap_or_default()}))
}

/// `?partition=N` of a push a broker forwards.
#[derive(serde::Deserialize)]
struct PushTarget {
    partition: usize,
}

/// A push a broker forwarded to the server consuming the chosen partition: appended
/// to that partition's write-ahead log, acknowledged once durable and queryable.
async fn ingest(
    axum::extract::State(role): axum::extract::State<Arc<ServerRole>>,
    axum::extract::Path(name): axum::extract::Path<String>,
    axum::extract::Query(target): axum::extract::Query<PushTarget>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> tessera_api::http::ApiResult<axum::response::Response> {
    let key = tessera_api::http::idempotency_key(&headers)?;
    let Some(consumed) = role.consumed.get(strip_type_suffix(&name)) else {
        return Err(tessera_api::http::ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "server `{}` does not consume table `{name}` now; retry",
                role.node_id
            ),
        ));
    };
    let outcome = tessera_api::http::blocking(move || {
        consumed
            .table
            .push_to(body.to_vec(), key, Some(target.partition))
    })
    .await?;
    crate::push::push_response(outcome)
}

/// Seal this server's consuming segments of one table now (the controller's
/// `forceCommit` asks every realtime server).
async fn force_commit(
    axum::extract::State(role): axum::extract::State<Arc<ServerRole>>,
    axum::extract::Path(name): axum::extract::Path<String>,
) -> axum::Json<serde_json::Value> {
    let consumed = role.consumed.get(strip_type_suffix(&name));
    let sealing = consumed.is_some();
    if let Some(consumed) = consumed {
        let _ = tokio::task::spawn_blocking(move || consumed.table.force_commit()).await;
    }
    axum::Json(serde_json::json!({"node": role.node_id, "forceCommitted": sealing}))
}

/// The stream partitions this server consumes and their lag (the controller's
/// `/cluster` gathers them).
async fn consuming(
    axum::extract::State(role): axum::extract::State<Arc<ServerRole>>,
) -> axum::Json<serde_json::Value> {
    axum::Json(role.consumed.status())
}

async fn metrics(
    axum::extract::State(role): axum::extract::State<Arc<ServerRole>>,
) -> axum::response::Response {
    let mut f = Families::new();
    role.metrics.render(&mut f);
    crate::ingest_metrics::render(&mut f, &role.consumed.ingest_metrics());
    if let Some(cold) = &role.cold {
        crate::cold_metrics::render(&mut f, cold);
    }
    f.into_response()
}

impl LeafExecutor for ServerRole {
    fn execute(
        &self,
        request: &LeafRequest,
        context: &LeafContext,
    ) -> Result<LeafAnswer, QueryError> {
        count(&self.metrics.leaf_requests, 1);
        let answer = self.answer(request, context);
        if answer.is_err() {
            count(&self.metrics.leaf_errors, 1);
        }
        answer
    }
}

impl ServerRole {
    fn answer(
        &self,
        request: &LeafRequest,
        context: &LeafContext,
    ) -> Result<LeafAnswer, QueryError> {
        let name = strip_type_suffix(&request.table);
        let historical = self
            .tables
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(name)
            .cloned();
        let consumed = self.consumed.get(name);
        let schema = match (&historical, &consumed) {
            (Some(table), _) => &table.schema,
            (None, Some(consumed)) => &consumed.schema,
            (None, None) => {
                return Err(QueryError {
                    code: ErrorCode::TableDoesNotExist,
                    message: format!("table `{name}` is not served by server `{}`", self.node_id),
                });
            }
        };
        let plan = plan_leaf(request, schema, context)?;
        let mut available: BTreeMap<String, Arc<dyn SegmentReader>> = historical
            .as_ref()
            .map(|table| table.segments.clone())
            .unwrap_or_default();
        let consuming_rows = consumed.as_ref().map(|consumed| {
            available.extend(consumed.readers());
            consumed.freshness_ms()
        });
        let segments: Vec<Arc<dyn SegmentReader>> = match &request.segments {
            None => available.values().cloned().collect(),
            Some(names) => {
                let mut found = Vec::with_capacity(names.len());
                let mut missing = Vec::new();
                for segment_name in names {
                    match available.get(segment_name) {
                        Some(segment) => found.push(segment.clone()),
                        // A consuming segment of the table this server consumes, with
                        // no row yet: empty.
                        None if consumed
                            .as_ref()
                            .is_some_and(|consumed| consumed.is_empty_consuming(segment_name)) => {}
                        None => missing.push(segment_name.as_str()),
                    }
                }
                if !missing.is_empty() {
                    return Err(QueryError {
                        code: ErrorCode::TableDoesNotExist,
                        message: format!(
                            "server `{}` does not serve segments=`{}`",
                            self.node_id,
                            missing.join(",")
                        ),
                    });
                }
                if let Some(consumed) = &consumed {
                    found.extend(newer_consuming(consumed, names));
                }
                found
            }
        };
        if plan.explain {
            // The index choices, as decided on the first requested segment.
            let table = tessera_query::Table {
                schema: schema.clone(),
                segments: segments.into_iter().take(1).collect(),
            };
            let lines = tessera_query::explain::explain_lines(&plan, &table);
            return Ok(LeafAnswer {
                partial: tessera_query::leaf::Partial::empty(&plan),
                plan,
                freshness_ms: None,
                explain: Some(lines),
            });
        }
        // The sections this query reads from cold segments, fetched all at once and held
        // until it has run.
        let requested = historical.iter().flat_map(|table| {
            table
                .cold
                .iter()
                .filter(|(name, _)| {
                    request
                        .segments
                        .as_ref()
                        .is_none_or(|names| names.iter().any(|n| n == *name))
                })
                .map(|(_, segment)| segment.as_ref())
        });
        let fetched = crate::cold_queries::prefetch(self.cold.as_ref(), &plan, requested)?;
        let mut partial = tessera_query::engine::execute_leaf(&plan, &segments)?;
        fetched.count(&mut partial.stats);
        Ok(LeafAnswer {
            plan,
            partial,
            freshness_ms: consuming_rows,
            explain: None,
        })
    }
}
