//! The Pinot-compatible HTTP API of `tessera standalone` (DESIGN §5): controller routes
//! (schemas, tables, segments), the broker route (`/query/sql`), push ingestion, health
//! and Prometheus metrics, on one listener.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::handler::Handler;
use axum::http::Method;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, post};
use serde::Deserialize;
use serde_json::{Value as Json, json};
use tessera_config::Schema;
use tessera_ingest::realtime::{PushError, ServedSegment, now_ms, segments_dir, wal_dir};
use tessera_query::{QueryError, QueryOptions};
use tessera_segment::SegmentReader;

use tessera_api::auth::Authenticator;
use tessera_api::auth::http as auth_http;
use tessera_api::http::{
    ApiError, ApiResult, MAX_BODY_BYTES, UploadParams, blocking, body_text, json_text,
    restore_error,
};
use tessera_api::server_metrics::{Protocol, QueryStatus};
use tessera_api::strip_type_suffix;
use tessera_controller::new_table::{NewTable, new_table};

use super::state::ServerState;

/// The API's routes, recorded as they are added, so the list the router serves and
/// the list `tessera routes` prints (and the auth test walks) are one list.
pub struct Routes {
    router: Router<Arc<ServerState>>,
    pub list: Vec<(Method, &'static str)>,
}

impl Routes {
    fn add(
        mut self,
        method: Method,
        path: &'static str,
        route: MethodRouter<Arc<ServerState>>,
    ) -> Routes {
        self.list.push((method, path));
        self.router = self.router.route(path, route);
        self
    }

    fn get<H, T>(self, path: &'static str, handler: H) -> Routes
    where
        H: Handler<T, Arc<ServerState>>,
        T: 'static,
    {
        self.add(Method::GET, path, get(handler))
    }

    fn post<H, T>(self, path: &'static str, handler: H) -> Routes
    where
        H: Handler<T, Arc<ServerState>>,
        T: 'static,
    {
        self.add(Method::POST, path, post(handler))
    }

    /// The web console's page and assets (public: they hold no data).
    fn console(mut self) -> Routes {
        self.list
            .extend(tessera_console::ROUTES.map(|path| (Method::GET, path)));
        self.router = self.router.merge(tessera_console::router());
        self
    }

    fn delete<H, T>(self, path: &'static str, handler: H) -> Routes
    where
        H: Handler<T, Arc<ServerState>>,
        T: 'static,
    {
        self.add(Method::DELETE, path, delete(handler))
    }
}

pub fn routes() -> Routes {
    Routes {
        router: Router::new(),
        list: Vec::new(),
    }
    .get("/health", || async { "OK" })
    .get(auth_http::INFO_PATH, auth_http::info)
    .get(auth_http::VERIFY_PATH, auth_http::verify)
    .console()
    .get("/metrics", super::prometheus::metrics)
    .get("/schemas", list_schemas)
    .post("/schemas", add_schema)
    .get("/schemas/{name}", get_schema)
    .get("/tables", list_tables)
    .post("/tables", add_table)
    .get("/tables/{name}", get_table)
    .delete("/tables/{name}", drop_table)
    .get("/tables/{name}/schema", get_table_schema)
    .get("/tables/{name}/metadata", get_table_metadata)
    .get("/tables/{name}/status", get_table_status)
    .get("/tables/{name}/lakehouse", get_table_lakehouse)
    .post("/tables/{name}/lakehouse/export", export_to_lakehouse)
    .post("/tables/{name}/restore", restore_table)
    .get("/tables/{name}/trash", list_trash)
    .post("/tables/{name}/segments/{segment}/restore", restore_segment)
    .post("/tables/{name}/forceCommit", force_commit)
    .post("/tables/{name}/pauseConsumption", pause_consumption)
    .post("/tables/{name}/resumeConsumption", resume_consumption)
    .get(
        "/tables/{name}/consumingSegmentsInfo",
        consuming_segments_info,
    )
    .post("/segments", upload_segment)
    .get("/segments/{name}", list_segments)
    .get("/segments/{name}/metadata", segments_metadata)
    .get("/query/sql", query_get)
    .post("/query/sql", query_post)
    .post("/ingest/{name}", ingest)
}

/// The HTTP API; with `auth`, every route but `/health` checks credentials.
pub fn router(state: Arc<ServerState>, auth: Option<Arc<Authenticator>>) -> Router {
    let mut router = routes().router.layer(DefaultBodyLimit::max(MAX_BODY_BYTES));
    if let Some(auth) = auth {
        router = router.layer(axum::middleware::from_fn_with_state(
            auth,
            tessera_api::auth::http::require,
        ));
    }
    router.with_state(state)
}

/// The live table `name`, or 404.
fn live_table(state: &ServerState, name: &str) -> ApiResult<Arc<super::state::TableRuntime>> {
    state
        .table(name)
        .ok_or_else(|| ApiError::not_found(format!("table `{name}` does not exist")))
}

// --- schemas

async fn list_schemas(State(state): State<Arc<ServerState>>) -> ApiResult<axum::Json<Json>> {
    let names = state.catalog.schema_names().map_err(ApiError::internal)?;
    Ok(axum::Json(json!(names)))
}

async fn get_schema(
    State(state): State<Arc<ServerState>>,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    let schema = state.catalog.schema(&name).map_err(ApiError::internal)?;
    let text =
        schema.ok_or_else(|| ApiError::not_found(format!("schema `{name}` does not exist")))?;
    Ok(json_text(text))
}

async fn add_schema(
    State(state): State<Arc<ServerState>>,
    body: Bytes,
) -> ApiResult<axum::Json<Json>> {
    let text = body_text(&body)?.to_string();
    let parsed = Schema::from_json(&text).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let name = parsed.value.name.clone();
    if let Some(table) = state.table(&name)
        && table.schema_json != text
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "schema `{name}` is used by table `{}`; changing a live table's schema is not supported yet",
                table.record.name
            ),
        ));
    }
    let catalog = state.catalog.clone();
    let stored_name = name.clone();
    blocking(move || catalog.put_schema(&stored_name, &text))
        .await?
        .map_err(ApiError::internal)?;
    Ok(axum::Json(json!({
        "status": format!("{name} successfully added"),
        "warnings": parsed.warnings,
    })))
}

// --- tables

async fn list_tables(State(state): State<Arc<ServerState>>) -> axum::Json<Json> {
    let names: Vec<String> = state
        .table_list()
        .iter()
        .map(|t| t.record.name.clone())
        .collect();
    axum::Json(json!({"tables": names}))
}

async fn get_table(
    State(state): State<Arc<ServerState>>,
    Path(name): Path<String>,
) -> ApiResult<axum::Json<Json>> {
    let table = live_table(&state, &name)?;
    Ok(axum::Json(
        json!({ table.type_name(): masked_secrets(&table.record.config) }),
    ))
}

async fn get_table_schema(
    State(state): State<Arc<ServerState>>,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    let table = live_table(&state, &name)?;
    Ok(json_text(table.schema_json.clone()))
}

/// A table config as shown to readers: values of stream settings whose key names a
/// secret (`...password`, `...secret`, `sasl.jaas.config`, ...) are masked.
fn masked_secrets(config: &Json) -> Json {
    let mut shown = config.clone();
    if let Some(streams) = shown
        .pointer_mut("/tableIndexConfig/streamConfigs")
        .and_then(Json::as_object_mut)
    {
        for (key, value) in streams.iter_mut() {
            let key = key.to_ascii_lowercase();
            if [
                "password",
                "secret",
                "jaas",
                "token",
                "key.pem",
                "credential",
            ]
            .iter()
            .any(|needle| key.contains(needle))
            {
                *value = Json::String("*****".into());
            }
        }
    }
    shown
}

/// Pinot's `TableMetadataInfo` (the StarTree Grafana plugin reads it): rows, segments
/// and bytes over every served segment, consuming ones counted by their memory.
async fn get_table_metadata(
    State(state): State<Arc<ServerState>>,
    Path(name): Path<String>,
) -> ApiResult<axum::Json<Json>> {
    let table = live_table(&state, &name)?;
    let size = table.size();
    Ok(axum::Json(json!({
        "tableName": table.config.table_name_with_type(),
        "diskSizeInBytes": size.bytes,
        "numSegments": size.segments,
        "numRows": size.rows,
        "columnLengthMap": {},
        "columnCardinalityMap": {},
        "maxNumMultiValuesMap": {},
        "columnIndexSizeMap": {},
    })))
}

/// Whether the table ingests: `HEALTHY`, or `UNHEALTHY` with why — a partition whose
/// sealing stopped on a failure retrying cannot cure (Pinot's `ingestionStatus`).
async fn get_table_status(
    State(state): State<Arc<ServerState>>,
    Path(name): Path<String>,
) -> ApiResult<axum::Json<Json>> {
    let table = live_table(&state, &name)?;
    let stalls = table
        .realtime
        .as_ref()
        .map(|realtime| realtime.metrics().seal_stalls())
        .unwrap_or_default()
        .iter()
        .map(|(partition, stall)| stall.to_json(*partition))
        .collect();
    Ok(axum::Json(tessera_api::table_status::ingestion_status(
        &table.config.table_name_with_type(),
        stalls,
    )))
}

/// The lakehouse tier of a live table, or 404.
fn lakehouse_of(
    table: &super::state::TableRuntime,
    name: &str,
) -> ApiResult<Arc<tessera_server::lakehouse_tier::LakehouseTier>> {
    table
        .lakehouse
        .clone()
        .ok_or_else(|| ApiError::not_found(format!("table `{name}` has no lakehouse tier")))
}

/// The table's lakehouse tier: its Iceberg snapshot, time boundary, files and counters.
/// `?refresh=true` looks the snapshot up first.
async fn get_table_lakehouse(
    State(state): State<Arc<ServerState>>,
    Path(name): Path<String>,
    Query(params): Query<std::collections::HashMap<String, String>>,
) -> ApiResult<axum::Json<Json>> {
    let table = live_table(&state, &name)?;
    let tier = lakehouse_of(&table, &name)?;
    if params.get("refresh").is_some_and(|v| v == "true") {
        let refreshing = tier.clone();
        // A failed refresh is reported in the status (`lastError`).
        let _ = blocking(move || refreshing.refresh().is_ok()).await;
    }
    Ok(axum::Json(tier.status()))
}

/// Export the table's sealed segments that its Iceberg table does not hold yet, as one
/// new snapshot (then, with `dropExported`, drop those wholly below the boundary).
async fn export_to_lakehouse(
    State(state): State<Arc<ServerState>>,
    Path(name): Path<String>,
) -> ApiResult<axum::Json<Json>> {
    let table = live_table(&state, &name)?;
    let tier = lakehouse_of(&table, &name)?;
    let exporter = state.exporter(&table.record.name, tier, table.segments.clone());
    let summary = blocking(move || exporter.run()).await?.map_err(|error| {
        let status = error
            .downcast_ref::<tessera_lakehouse::Error>()
            .map_or(500, |e| e.status().http_status());
        ApiError::new(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            format!("table `{name}`: export to the lakehouse failed: {error:#}"),
        )
    })?;
    Ok(axum::Json(summary))
}

async fn add_table(
    State(state): State<Arc<ServerState>>,
    body: Bytes,
) -> ApiResult<axum::Json<Json>> {
    let text = body_text(&body)?;
    let NewTable {
        record,
        config,
        warnings,
    } = new_table(&state.catalog, text, now_ms())?;
    let name = record.name.clone();
    if state.table(&name).is_some() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("table `{name}` already exists"),
        ));
    }
    let typed = config.table_name_with_type();
    let started_state = state.clone();
    blocking(move || -> anyhow::Result<()> {
        let dropped_before = started_state.catalog.table(&record.name)?.is_some();
        started_state.catalog.create_table(&record)?;
        if dropped_before {
            // A new table of a dropped table's name starts without the old log.
            let _ = std::fs::remove_dir_all(wal_dir(&started_state.data_dir, &record.name));
        }
        if let Err(error) = started_state.start_table(record.clone()) {
            // A table that cannot start must not stay in the catalog to fail every restart.
            let _ = started_state
                .catalog
                .set_table_deleted(&record.name, Some(now_ms()));
            return Err(error);
        }
        Ok(())
    })
    .await?
    .map_err(|e| {
        if e.downcast_ref::<tessera_meta::Error>()
            .is_some_and(|e| matches!(e, tessera_meta::Error::AlreadyExists(_)))
        {
            ApiError::new(StatusCode::CONFLICT, format!("{e:#}"))
        } else {
            ApiError::bad_request(format!("{e:#}"))
        }
    })?;
    Ok(axum::Json(json!({
        "status": format!("Table {typed} successfully added"),
        "warnings": warnings,
    })))
}

async fn drop_table(
    State(state): State<Arc<ServerState>>,
    Path(name): Path<String>,
) -> ApiResult<axum::Json<Json>> {
    let table = live_table(&state, &name)?;
    let typed = table.config.table_name_with_type();
    let dropped = state.clone();
    blocking(move || -> anyhow::Result<()> {
        // Stop taking rows and seal what is in memory, so the trash holds every row.
        if let Some(realtime) = &table.realtime {
            realtime.drain();
        }
        let name = table.record.name.clone();
        dropped.unload_table(&name);
        dropped.retention().drop_table(&name, now_ms())?;
        let _ = std::fs::remove_dir_all(wal_dir(&dropped.data_dir, &name));
        let _ = std::fs::remove_dir_all(segments_dir(&dropped.data_dir, &name));
        Ok(())
    })
    .await?
    .map_err(|e| ApiError::internal(format!("{e:#}")))?;
    Ok(axum::Json(
        json!({"status": format!("Tables: [{typed}] deleted")}),
    ))
}

async fn restore_table(
    State(state): State<Arc<ServerState>>,
    Path(name): Path<String>,
) -> ApiResult<axum::Json<Json>> {
    let name = strip_type_suffix(&name).to_string();
    let restored = state.clone();
    let table_name = name.clone();
    blocking(move || -> anyhow::Result<Result<(), ApiError>> {
        if restored.catalog.table(&table_name)?.is_none() {
            return Ok(Err(ApiError::not_found(format!(
                "table `{table_name}` does not exist"
            ))));
        }
        let Some(record) = restored.retention().restore_table(&table_name)? else {
            return Ok(Err(ApiError::new(
                StatusCode::CONFLICT,
                format!("table `{table_name}` is not dropped"),
            )));
        };
        restored.start_table(record)?;
        Ok(Ok(()))
    })
    .await?
    .map_err(|e| ApiError::internal(format!("{e:#}")))??;
    Ok(axum::Json(
        json!({"status": format!("Table {name} restored")}),
    ))
}

async fn list_trash(
    State(state): State<Arc<ServerState>>,
    Path(name): Path<String>,
) -> ApiResult<axum::Json<Json>> {
    let table = live_table(&state, &name)?;
    let catalog = state.catalog.clone();
    let table_name = table.record.name.clone();
    let trashed = blocking(move || catalog.trashed_segments(&table_name))
        .await?
        .map_err(ApiError::internal)?;
    Ok(axum::Json(tessera_controller::trash::trash_listing(
        &table.record.name,
        &trashed,
    )))
}

/// Bring a segment retention trashed back into its table, and serve it again.
async fn restore_segment(
    State(state): State<Arc<ServerState>>,
    Path((name, segment)): Path<(String, String)>,
) -> ApiResult<axum::Json<Json>> {
    let table = live_table(&state, &name)?;
    let restoring = state.clone();
    let segment_name = segment.clone();
    let restored = blocking(move || -> anyhow::Result<bool> {
        let Some(record) = restoring
            .retention()
            .restore(&table.record.name, &segment_name)?
        else {
            return Ok(false);
        };
        let sealed = restoring.load_sealed(&record, &table.tiering)?;
        table
            .segments
            .replace(&record.name, ServedSegment::Sealed(Arc::new(sealed)));
        Ok(true)
    })
    .await?
    .map_err(restore_error)?;
    if !restored {
        return Err(ApiError::not_found(format!(
            "segment `{segment}` of table `{name}` is not in the trash"
        )));
    }
    Ok(axum::Json(
        json!({"status": format!("Segment {segment} restored")}),
    ))
}

async fn force_commit(
    State(state): State<Arc<ServerState>>,
    Path(name): Path<String>,
) -> ApiResult<axum::Json<Json>> {
    let table = live_table(&state, &name)?;
    let Some(_) = &table.realtime else {
        return Err(ApiError::bad_request(format!(
            "table `{name}` is not a REALTIME table"
        )));
    };
    blocking(move || {
        if let Some(realtime) = &table.realtime {
            realtime.force_commit();
        }
    })
    .await?;
    Ok(axum::Json(json!({"status": "force commit started"})))
}

fn realtime_table(state: &ServerState, name: &str) -> ApiResult<Arc<super::state::TableRuntime>> {
    let table = live_table(state, name)?;
    if table.realtime.is_none() {
        return Err(ApiError::bad_request(format!(
            "table `{name}` is not a REALTIME table"
        )));
    }
    Ok(table)
}

async fn pause_consumption(
    State(state): State<Arc<ServerState>>,
    Path(name): Path<String>,
) -> ApiResult<axum::Json<Json>> {
    set_paused(&state, &name, true)
}

async fn resume_consumption(
    State(state): State<Arc<ServerState>>,
    Path(name): Path<String>,
) -> ApiResult<axum::Json<Json>> {
    set_paused(&state, &name, false)
}

fn set_paused(state: &ServerState, name: &str, paused: bool) -> ApiResult<axum::Json<Json>> {
    let table = realtime_table(state, name)?;
    if let Some(realtime) = &table.realtime {
        realtime
            .set_paused(paused)
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        // Kept in the catalog: a restart finds the table paused.
        state
            .catalog
            .set_paused(&table.config.table_name, paused)
            .map_err(ApiError::internal)?;
    }
    Ok(axum::Json(json!({
        "tableName": table.config.table_name_with_type(),
        "pauseFlag": paused,
        "consumingSegments": consuming_names(&table),
        "description": if paused { "Pause request sent: consumption stops after the current batch, which is committed; the table stays paused across restarts" } else { "Resume request sent: consumption restarts from where it stopped" },
    })))
}

fn consuming_names(table: &super::state::TableRuntime) -> Vec<String> {
    table
        .segments
        .list()
        .iter()
        .filter_map(|s| match s {
            ServedSegment::Consuming(segment) => Some(segment.name().to_string()),
            ServedSegment::Sealed(_) => None,
        })
        .collect()
}

/// Pinot's consuming-segments report: per consuming segment, its partition's
/// position, the upstream log end, and the lag in offsets and milliseconds.
async fn consuming_segments_info(
    State(state): State<Arc<ServerState>>,
    Path(name): Path<String>,
) -> ApiResult<axum::Json<Json>> {
    let table = realtime_table(&state, &name)?;
    let Some(realtime) = &table.realtime else {
        return Err(ApiError::bad_request(format!(
            "table `{name}` is not a REALTIME table"
        )));
    };
    let segments = tessera_server::consuming_info::consuming_segments(
        &table.segments,
        &realtime.partition_status(),
        "standalone",
        now_ms(),
    );
    Ok(axum::Json(json!({
        "_segmentToConsumingInfoMap": segments,
        "paused": realtime.is_paused(),
    })))
}

// --- segments

/// `POST /segments?tableName=T` with a `.tseg` body: a batch-built segment joins the
/// table (checked by CRC and against the table's schema, uploaded to the deep store,
/// registered in the catalog, then served).
async fn upload_segment(
    State(state): State<Arc<ServerState>>,
    Query(params): Query<UploadParams>,
    body: axum::body::Body,
) -> ApiResult<axum::Json<Json>> {
    let table = live_table(&state, &params.table_name)?;
    let (opened, opened_table) = (state.clone(), table.clone());
    let temporary = blocking(move || super::upload::upload_file(&opened, &opened_table)).await??;
    let checksum = super::upload::receive(body, &temporary).await?;
    let uploaded = state.clone();
    let name = blocking(move || super::upload::add_segment(&uploaded, &table, temporary, checksum))
        .await??;
    Ok(axum::Json(
        json!({"status": format!("segment {name} added")}),
    ))
}

async fn list_segments(
    State(state): State<Arc<ServerState>>,
    Path(name): Path<String>,
) -> ApiResult<axum::Json<Json>> {
    let table = live_table(&state, &name)?;
    let names: Vec<String> = table
        .segments
        .list()
        .iter()
        .map(|s| s.name().to_string())
        .collect();
    Ok(axum::Json(json!([{ table.type_name(): names }])))
}

async fn segments_metadata(
    State(state): State<Arc<ServerState>>,
    Path(name): Path<String>,
) -> ApiResult<axum::Json<Json>> {
    let table = live_table(&state, &name)?;
    let records = state
        .catalog
        .segments(&table.record.name)
        .map_err(ApiError::internal)?;
    let mut out = serde_json::Map::new();
    for served in table.segments.list() {
        let record = records.iter().find(|r| r.name == served.name());
        let entry = match &served {
            ServedSegment::Consuming(segment) => json!({
                "segmentName": segment.name(),
                "state": "CONSUMING",
                "totalDocs": segment.num_rows(),
                "memoryBytes": segment.memory_bytes(),
                "partition": segment.identity().partition,
                "startOffset": segment.identity().start_offset,
                "endOffset": segment.end_offset(),
            }),
            ServedSegment::Sealed(segment) => json!({
                "segmentName": segment.name(),
                "state": "ONLINE",
                "totalDocs": segment.num_docs(),
                "sizeBytes": segment.file_len(),
                "location": record.and_then(|r| r.location.clone()),
                "crc32": record.and_then(|r| r.crc32),
                "partition": segment.metadata().stream_partition,
                "startOffset": segment.metadata().start_offset,
                "endOffset": segment.metadata().end_offset,
                "minTime": segment.metadata().min_time,
                "maxTime": segment.metadata().max_time,
            }),
        };
        out.insert(served.name().to_string(), entry);
    }
    Ok(axum::Json(Json::Object(out)))
}

// --- queries

#[derive(Debug, Deserialize)]
struct QueryRequest {
    sql: String,
    #[serde(default, rename = "queryOptions")]
    query_options: Option<String>,
}

/// Pinot's header choosing how a failed query is reported: `true` (Tessera's default)
/// answers with a 4xx/5xx status, `false` with 200 and the error in `exceptions`, as
/// Pinot brokers do by default.
const HTTP_STATUS_FOR_ERRORS: &str = "Pinot-Use-Http-Status-For-Errors";

fn status_for_errors(headers: &HeaderMap) -> bool {
    headers
        .get(HTTP_STATUS_FOR_ERRORS)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| !v.trim().eq_ignore_ascii_case("false"))
}

async fn query_get(
    State(state): State<Arc<ServerState>>,
    headers: HeaderMap,
    Query(request): Query<QueryRequest>,
) -> Response {
    run_query(state, request, status_for_errors(&headers)).await
}

async fn query_post(
    State(state): State<Arc<ServerState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let use_status = status_for_errors(&headers);
    let request: QueryRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => {
            let error = QueryError::parse(format!(
                "the request body must be JSON with a `sql` string: {error}"
            ));
            return query_failure(&state, &error, 0, use_status);
        }
    };
    run_query(state, request, use_status).await
}

fn query_failure(
    state: &ServerState,
    error: &QueryError,
    micros: u64,
    use_status: bool,
) -> Response {
    state.metrics.query(
        Protocol::Http,
        QueryStatus::of(error),
        Duration::from_micros(micros),
    );
    let body = tessera_query::response::failure(error, micros / 1000);
    tessera_api::http::query_failure_response(error, body, use_status)
}

async fn run_query(state: Arc<ServerState>, request: QueryRequest, use_status: bool) -> Response {
    let started = Instant::now();
    let worker = state.clone();
    // A client that disconnects drops this future, and the guard stops the scans.
    let cancel = tessera_query::Cancel::new();
    let stop_if_dropped = cancel.on_drop();
    let outcome = tessera_api::http::on_query_pool(move || {
        let mut options = QueryOptions {
            cancel,
            ..QueryOptions::default()
        };
        if let Some(text) = &request.query_options {
            options.apply_pinot_string(text)?;
        }
        super::broker::execute_sql(&worker, &request.sql, options)
    })
    .await;
    stop_if_dropped.disarm();
    let micros = started.elapsed().as_micros() as u64;
    match outcome {
        Ok(Ok((outcome, freshness))) => {
            state.metrics.query(
                Protocol::Http,
                QueryStatus::Ok,
                Duration::from_micros(micros),
            );
            let mut body = tessera_query::response::success(&outcome);
            if let Some(object) = body.as_object_mut() {
                object.insert("minConsumingFreshnessTimeMs".into(), json!(freshness));
            }
            axum::Json(body).into_response()
        }
        Ok(Err(error)) => query_failure(&state, &error, micros, use_status),
        Err(panic) => query_failure(&state, &QueryError::execution(panic), micros, use_status),
    }
}

// --- ingestion

async fn ingest(
    State(state): State<Arc<ServerState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let table = live_table(&state, &name)?;
    if table.realtime.is_none() {
        return Err(ApiError::bad_request(format!(
            "table `{name}` is OFFLINE; push goes to a REALTIME table with streamType push (use `tessera ingest` for files)"
        )));
    }
    let key = tessera_api::http::idempotency_key(&headers)?;
    let outcome = blocking(move || match &table.realtime {
        Some(realtime) => realtime.push(body.to_vec(), key),
        None => Err(PushError::NotPush(table.record.name.clone())),
    })
    .await?;
    tessera_server::push::push_response(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_stream_secrets_are_masked_for_readers() {
        let config = json!({"tableName": "t", "tableIndexConfig": {"streamConfigs": {
            "stream.kafka.topic.name": "events",
            "stream.kafka.consumer.prop.sasl.password": "hunter2",
            "stream.kafka.consumer.prop.sasl.jaas.config": "... password=\"hunter2\";",
            "stream.kafka.consumer.prop.ssl.key.password": "k"}}});
        let shown = masked_secrets(&config);
        let streams = &shown["tableIndexConfig"]["streamConfigs"];
        assert_eq!(streams["stream.kafka.topic.name"], "events");
        assert!(!shown.to_string().contains("hunter2"), "{shown}");
        assert_eq!(
            streams["stream.kafka.consumer.prop.ssl.key.password"],
            "*****"
        );
    }
}
