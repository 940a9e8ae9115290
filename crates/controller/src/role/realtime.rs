//! The controller's routes for REALTIME tables in a cluster: consumption status
//! gathered from the realtime servers (`/cluster`, `consumingSegmentsInfo`), pausing
//! and resuming consumption (`paused/{table}`, which every consumer follows, across
//! restarts and takeovers), and `forceCommit`, which every realtime server carries out
//! for its partitions.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value as Json, json};
use tessera_coordination::{NodeInfo, NodeRole};
use tessera_meta::{Catalog, SegmentState};

use super::{ApiResult, ControllerRole, REALTIME};
use tessera_api::http::{ApiError, blocking};
use tessera_api::keys;

/// `method path` on every live realtime server's HTTP listener, with the caller's
/// credentials: each server's JSON answer, or `None` when it has no listener or did
/// not answer within a second.
async fn ask_realtime_servers(
    role: &ControllerRole,
    nodes: &[NodeInfo],
    method: reqwest::Method,
    path: &str,
    authorization: Option<&str>,
) -> Vec<(String, Option<Json>)> {
    let asks = nodes
        .iter()
        .filter(|node| node.role == NodeRole::Server && node.tags.iter().any(|t| t == REALTIME))
        .map(|node| {
            let method = method.clone();
            async move {
                let Some(address) = &node.http_address else {
                    return (node.node_id.clone(), None);
                };
                let mut request = role.http.request(method, format!("http://{address}{path}"));
                if let Some(value) = authorization {
                    request = request.header("authorization", value);
                }
                let answer = match request.send().await {
                    Ok(response) if response.status().is_success() => response
                        .bytes()
                        .await
                        .ok()
                        .and_then(|body| serde_json::from_slice::<Json>(&body).ok()),
                    _ => None,
                };
                (node.node_id.clone(), answer)
            }
        });
    futures::future::join_all(asks).await
}

/// The live nodes, read from etcd.
async fn live_nodes(role: &Arc<ControllerRole>) -> ApiResult<Vec<NodeInfo>> {
    let session = role.session.clone();
    blocking(move || tessera_coordination::live_nodes(&session))
        .await?
        .map_err(ApiError::internal)
}

fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
}

/// Each realtime server's consuming partitions and their lag, asked of its HTTP
/// listener with the caller's credentials: table → partition → status and server.
/// Servers that do not answer within a second are listed apart.
pub(super) async fn consumption(
    role: &ControllerRole,
    nodes: &[NodeInfo],
    authorization: Option<&str>,
) -> (BTreeMap<String, BTreeMap<String, Json>>, Vec<String>) {
    let answers = ask_realtime_servers(
        role,
        nodes,
        reqwest::Method::GET,
        "/consuming",
        authorization,
    )
    .await;
    let mut tables: BTreeMap<String, BTreeMap<String, Json>> = BTreeMap::new();
    let mut unavailable = Vec::new();
    for (server, answer) in answers {
        let Some(Json::Object(by_table)) = answer else {
            unavailable.push(server);
            continue;
        };
        for (table, partitions) in by_table {
            let Json::Object(partitions) = partitions else {
                continue;
            };
            for (partition, mut status) in partitions {
                if let Some(object) = status.as_object_mut() {
                    object.insert("server".into(), json!(server));
                }
                tables
                    .entry(table.clone())
                    .or_default()
                    .insert(partition, status);
            }
        }
    }
    (tables, unavailable)
}

/// `GET /tables/{t}/status`, as standalone answers it: `HEALTHY`, or `UNHEALTHY` with
/// the partitions whose sealing stopped on a failure retrying cannot cure, gathered
/// from the realtime servers' `GET /consuming`.
pub(super) async fn table_status(
    State(role): State<Arc<ControllerRole>>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
) -> ApiResult<axum::Json<Json>> {
    let record = role.live_table(&name)?;
    let session = role.session.clone();
    let nodes = blocking(move || tessera_coordination::live_nodes(&session))
        .await?
        .map_err(ApiError::internal)?;
    let authorization = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok());
    let (consuming, unavailable) = consumption(&role, &nodes, authorization).await;
    // Each server's stall, with the server that reported it.
    let stalls = consuming
        .get(&record.name)
        .into_iter()
        .flat_map(|partitions| partitions.values())
        .filter_map(|status| {
            let mut stall = status["sealStall"].clone();
            stall
                .as_object_mut()?
                .insert("server".into(), status["server"].clone());
            Some(stall)
        })
        .collect();
    let mut status = tessera_api::table_status::ingestion_status(
        &format!("{}_{}", record.name, record.table_type),
        stalls,
    );
    status["serversUnavailable"] = json!(unavailable);
    Ok(axum::Json(status))
}

/// A live REALTIME table's name, or the error a client should see.
fn realtime_table(role: &ControllerRole, name: &str) -> ApiResult<tessera_meta::TableRecord> {
    let record = role.live_table(name)?;
    if record.table_type != "REALTIME" {
        return Err(ApiError::bad_request(format!(
            "table `{name}` is not a REALTIME table"
        )));
    }
    Ok(record)
}

/// `method /tables/{t}/{route}` on every realtime server, for the live REALTIME table
/// `name`, with the caller's credentials: the table's record and each server's answer.
async fn ask_about_table(
    role: &Arc<ControllerRole>,
    name: String,
    method: reqwest::Method,
    route: &str,
    headers: &HeaderMap,
) -> ApiResult<(tessera_meta::TableRecord, Vec<(String, Option<Json>)>)> {
    let checking = role.clone();
    let record = blocking(move || realtime_table(&checking, &name)).await??;
    let nodes = live_nodes(role).await?;
    let path = format!("/tables/{}/{route}", record.name);
    let answers = ask_realtime_servers(role, &nodes, method, &path, authorization(headers)).await;
    Ok((record, answers))
}

/// Pinot's consuming-segments report, merged from every realtime server's part.
pub(super) async fn consuming_segments_info(
    State(role): State<Arc<ControllerRole>>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
) -> ApiResult<axum::Json<Json>> {
    let (record, answers) = ask_about_table(
        &role,
        name,
        reqwest::Method::GET,
        "consumingSegmentsInfo",
        &headers,
    )
    .await?;
    let mut segments: BTreeMap<String, Vec<Json>> = BTreeMap::new();
    let mut unavailable = Vec::new();
    for (server, answer) in answers {
        let Some(answer) = answer else {
            unavailable.push(server);
            continue;
        };
        if let Some(reports) = answer["_segmentToConsumingInfoMap"].as_object() {
            for (segment, report) in reports {
                let entries = report.as_array().cloned().unwrap_or_default();
                segments.entry(segment.clone()).or_default().extend(entries);
            }
        }
    }
    Ok(axum::Json(json!({
        "_segmentToConsumingInfoMap": segments,
        "paused": keys::paused(&role.paused.snapshot()).contains(&record.name),
        "serversUnavailable": unavailable,
    })))
}

pub(super) async fn pause_consumption(
    State(role): State<Arc<ControllerRole>>,
    UrlPath(name): UrlPath<String>,
) -> ApiResult<axum::Json<Json>> {
    set_paused(role, name, true).await
}

pub(super) async fn resume_consumption(
    State(role): State<Arc<ControllerRole>>,
    UrlPath(name): UrlPath<String>,
) -> ApiResult<axum::Json<Json>> {
    set_paused(role, name, false).await
}

/// Record (fenced) that the table's consumption is paused or not; its consumers
/// follow within a moment, and keep following after restarts and takeovers.
async fn set_paused(
    role: Arc<ControllerRole>,
    name: String,
    paused: bool,
) -> ApiResult<axum::Json<Json>> {
    let catalog_role = role.clone();
    let leadership = role.current_leadership().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "controller `{}` is not the leader; retry on the leader",
                role.node_id
            ),
        )
    })?;
    let (record, consuming) = blocking(move || -> ApiResult<_> {
        let record = realtime_table(&catalog_role, &name)?;
        if tessera_api::catalog_tables::takes_pushes(&record) {
            return Err(ApiError::bad_request(format!(
                "table `{name}` takes pushes; there is no stream to pause"
            )));
        }
        // The catalog's own write of the key, fenced by this leader's term.
        Catalog::new(Arc::new(leadership.fenced(catalog_role.store.clone())))
            .set_paused(&record.name, paused)
            .map_err(ApiError::internal)?;
        let consuming: Vec<String> = catalog_role
            .catalog()
            .segments(&record.name)
            .map_err(ApiError::internal)?
            .into_iter()
            .filter(|segment| segment.state == SegmentState::Consuming)
            .map(|segment| segment.name)
            .collect();
        Ok((record, consuming))
    })
    .await??;
    Ok(axum::Json(json!({
        "tableName": format!("{}_REALTIME", record.name),
        "pauseFlag": paused,
        "consumingSegments": consuming,
        "description": if paused { "Pause request recorded: every consumer stops after its current batch" } else { "Resume request recorded: every consumer restarts from where it stopped" },
    })))
}

/// Seal every consuming segment of the table now, on every realtime server.
pub(super) async fn force_commit(
    State(role): State<Arc<ControllerRole>>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
) -> ApiResult<axum::Json<Json>> {
    let (_, answers) =
        ask_about_table(&role, name, reqwest::Method::POST, "forceCommit", &headers).await?;
    let sealing: Vec<String> = answers
        .iter()
        .filter(|(_, answer)| answer.as_ref().is_some_and(|a| a["forceCommitted"] == true))
        .map(|(server, _)| server.clone())
        .collect();
    let unavailable: Vec<String> = answers
        .iter()
        .filter(|(_, answer)| answer.is_none())
        .map(|(server, _)| server.clone())
        .collect();
    Ok(axum::Json(json!({
        "status": "force commit started",
        "servers": sealing,
        "serversUnavailable": unavailable,
    })))
}
