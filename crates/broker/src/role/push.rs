//! `POST /ingest/{t}` on a broker: a push table's partitions are consumed by realtime
//! servers (one each, their write-ahead logs on their disks), so the broker picks the
//! partition — a keyed request's by its key, so a retry lands where the first attempt
//! did; others in turns over the partitions whose server is up — and forwards the
//! request to the server consuming it, credentials included, answering with its reply.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tessera_coordination::NodeInfo;

use super::BrokerRole;
use tessera_api::http::ApiError;
use tessera_api::keys;
use tessera_api::strip_type_suffix;

fn unavailable(message: String) -> Response {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, message).into_response()
}

pub(super) async fn ingest(
    State(role): State<Arc<BrokerRole>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let key = match tessera_api::http::idempotency_key(&headers) {
        Ok(key) => key,
        Err(error) => return error.into_response(),
    };
    let name = strip_type_suffix(&name).to_string();
    let view = role.view();
    let Some(route) = view.tables.get(&name) else {
        return ApiError::not_found(format!("table `{name}` does not exist")).into_response();
    };
    if !tessera_api::catalog_tables::takes_pushes(&route.record) {
        return ApiError::bad_request(format!(
            "table `{name}` does not take pushes (streamType is not push)"
        ))
        .into_response();
    }
    let owners = keys::consumers(&role.consumers.snapshot())
        .remove(&name)
        .unwrap_or_default();
    // Live servers and their HTTP listeners (a registration lives with its lease).
    let live: std::collections::BTreeMap<String, Option<String>> = role
        .nodes
        .snapshot()
        .entries
        .values()
        .filter_map(|stored| serde_json::from_str::<NodeInfo>(&stored.value).ok())
        .map(|node| (node.node_id, node.http_address))
        .collect();
    // A partition takes pushes while the server assigned it is up (the server itself
    // refuses one it does not consume yet, with a 503 to retry).
    let serving = |partition: u32| -> Option<String> {
        let owner = owners.get(&partition)?;
        live.contains_key(owner).then(|| owner.clone())
    };
    let count = owners.len();
    if count == 0 {
        return unavailable(format!(
            "table `{name}` has no partition assigned yet; retry"
        ));
    }
    let chosen = match &key {
        Some(key) => {
            let partition = tessera_config::stream::push_partition(Some(key), count, 0) as u32;
            match serving(partition) {
                Some(owner) => (partition, owner),
                None => {
                    return unavailable(format!(
                        "partition {partition} of table `{name}` (where this Idempotency-Key goes) has no server up; retry with the same key"
                    ));
                }
            }
        }
        None => {
            let turn = role.push_turns.fetch_add(1, Ordering::Relaxed);
            let up = (0..count)
                .map(|step| ((turn + step) % count) as u32)
                .find_map(|partition| serving(partition).map(|owner| (partition, owner)));
            match up {
                Some(chosen) => chosen,
                None => {
                    return unavailable(format!(
                        "no partition of table `{name}` has a server up; retry"
                    ));
                }
            }
        }
    };
    let (partition, owner) = chosen;
    let address = live.get(&owner).cloned().flatten();
    let Some(address) = address else {
        return unavailable(format!(
            "server `{owner}` consuming partition {partition} of table `{name}` has no HTTP listener (`[server] http`)"
        ));
    };
    let url = format!("http://{address}/ingest/{name}?partition={partition}");
    let mut request = role.http.post(&url).body(body.to_vec());
    for header in ["content-type", "authorization", "idempotency-key"] {
        if let Some(value) = headers.get(header).and_then(|v| v.to_str().ok()) {
            request = request.header(header, value);
        }
    }
    match request.send().await {
        Ok(response) => {
            let status =
                StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let bytes = response.bytes().await.unwrap_or_default();
            let mut reply = (
                status,
                [("content-type", "application/json")],
                bytes.to_vec(),
            )
                .into_response();
            if let Some(value) = retry_after.and_then(|v| v.parse().ok()) {
                reply.headers_mut().insert("retry-after", value);
            }
            reply
        }
        Err(error) => unavailable(format!(
            "server `{owner}` consuming partition {partition} of table `{name}` did not answer ({error}); retry"
        )),
    }
}
