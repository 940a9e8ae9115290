//! Push ingestion's HTTP surface (`POST /ingest/{t}`), as standalone and a cluster's
//! realtime servers answer it: the `Idempotency-Key` header and the response.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value as Json, json};
use tessera_ingest::realtime::{PushError, PushOutcome};

use tessera_api::http::{ApiError, ApiResult};
use tessera_status::Status;

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
        }) => Ok(unavailable(
            "backpressure: sealed segments wait for the deep store; retry later",
            retry_after_secs,
        )),
        Err(error @ PushError::NotPush(_)) => Err(ApiError::bad_request(error.to_string())),
        Err(error @ PushError::Stopped(_)) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            error.to_string(),
        )),
        // By the kind of failure: the input's (400), a dependency's (503, retry), the
        // server's own (500).
        Err(PushError::Failed(error)) => {
            Err(ApiError::from_status(error.status(), error.to_string()))
        }
    }
}

/// 503 with `Retry-After`.
fn unavailable(message: &str, retry_after_secs: u64) -> Response {
    ApiError::from_status(Status::Unavailable, message)
        .retry_after(u32::try_from(retry_after_secs).unwrap_or(u32::MAX))
        .into_response()
}

#[cfg(test)]
mod tests {
    use axum::http::header;
    use tessera_ingest::Error;

    use super::*;

    fn status(error: Error) -> (StatusCode, Option<String>) {
        let response = match push_response(Err(PushError::Failed(error))) {
            Ok(response) => response,
            Err(error) => error.into_response(),
        };
        let retry = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        (response.status(), retry)
    }

    #[test]
    fn test_a_failed_push_answers_by_the_kind_of_failure() {
        let (code, retry) = status(Error::Unavailable("write-ahead log: disk full".into()));
        assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(retry.as_deref(), Some("1"));
        let (code, retry) = status(Error::Invalid("Idempotency-Key is too long".into()));
        assert_eq!(code, StatusCode::BAD_REQUEST);
        assert_eq!(retry, None);
        let (code, _) = status(Error::Segment {
            context: "build".into(),
            source: tessera_segment::Error::Corrupt {
                path: "x.tseg".into(),
                message: "bad".into(),
            },
        });
        assert_eq!(code, StatusCode::INTERNAL_SERVER_ERROR);
    }
}
