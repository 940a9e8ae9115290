//! Push ingestion's HTTP surface (`POST /ingest/{t}`), as standalone and a cluster's
//! realtime servers answer it: the `Idempotency-Key` header and the response.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value as Json, json};
use tessera_ingest::realtime::{PushError, PushOutcome};

use tessera_api::http::{ApiError, ApiResult};

/// The answer to a push: rows ingested, rejected and filtered, or why not.
pub fn push_response(outcome: Result<PushOutcome, PushError>) -> ApiResult<Response> {
    match outcome {
        Ok(outcome) => {
            let ingested = outcome
                .ack
                .as_ref()
                .map_or(0, |a| if a.duplicate { 0 } else { a.rows });
            let rejects: Vec<Json> = outcome
                .rejects
                .iter()
                .map(|r| json!({"line": r.line, "reason": r.reason, "detail": r.detail, "sample": r.sample}))
                .collect();
            let body = json!({
                "status": "OK",
                "rowsIngested": ingested,
                "rowsRejected": outcome.rows_rejected,
                "rowsFiltered": outcome.rows_filtered,
                "duplicate": outcome.ack.as_ref().is_some_and(|a| a.duplicate),
                "rejects": rejects,
            });
            let status =
                if outcome.ack.is_none() && outcome.rows_rejected > 0 && outcome.rows_filtered == 0
                {
                    StatusCode::BAD_REQUEST
                } else {
                    StatusCode::OK
                };
            Ok((status, axum::Json(body)).into_response())
        }
        Err(PushError::Backpressure {
            retry_after_secs, ..
        }) => {
            let mut response = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "backpressure: sealed segments wait for the deep store; retry later",
            )
            .into_response();
            if let Ok(value) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            Ok(response)
        }
        Err(error @ PushError::NotPush(_)) => Err(ApiError::bad_request(error.to_string())),
        Err(error @ PushError::Stopped(_)) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            error.to_string(),
        )),
        Err(PushError::Failed(error)) => Err(ApiError::internal(error)),
    }
}
