//! What every role's HTTP API shares: Pinot's error body, the request helpers, the
//! body limit, and how a failed query maps to a status.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use tessera_query::QueryError;
use tessera_status::Status;

/// Largest request body (push batches, configs).
pub const MAX_BODY_BYTES: usize = 512 * 1024 * 1024;

/// A controller error: Pinot's `{"code": ..., "error": ...}`.
pub struct ApiError {
    status: StatusCode,
    message: String,
    /// `Retry-After` seconds, for failures a retry can cure.
    retry_after_secs: Option<u32>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            retry_after_secs: None,
        }
    }

    /// An error of a [`Status`]: its HTTP status, and `Retry-After` when retrying can
    /// succeed.
    pub fn from_status(status: Status, message: impl Into<String>) -> ApiError {
        ApiError {
            status: http_status(status),
            message: message.into(),
            retry_after_secs: status.retry_after_secs(),
        }
    }

    /// This error with `Retry-After: secs`.
    pub fn retry_after(mut self, secs: u32) -> ApiError {
        self.retry_after_secs = Some(secs);
        self
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    pub fn internal(error: impl std::fmt::Display) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, error.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"code": self.status.as_u16(), "error": self.message});
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

pub fn body_text(body: &Bytes) -> ApiResult<&str> {
    std::str::from_utf8(body).map_err(|_| ApiError::bad_request("the request body is not UTF-8"))
}

/// Run blocking work (catalog writes, segment IO, queries) off the async workers.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(ApiError::internal)
}

/// Run a query's work on the query (rayon) pool, and wait for it without holding an
/// async worker. `spawn_blocking` took two thread hops (to a blocking thread, then from
/// it to the rayon workers that scan); here the work starts on a rayon worker, whose
/// scans run where it is. Each hop wakes a sleeping thread, which costs most of a point
/// lookup's time on a machine that was idle (see docs/benchmarks.md). A panic in the
/// work comes back as its message: it neither aborts the process (rayon's default for
/// a panicking spawn) nor loses the request.
pub async fn on_query_pool<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    let (sender, receiver) = tokio::sync::oneshot::channel();
    rayon::spawn(move || {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
        // The receiver is gone when the client disconnected: nothing to tell.
        let _ = sender.send(outcome);
    });
    match receiver.await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(panic)) => Err(panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "the query panicked".to_string())),
        Err(_) => Err("the query pool dropped the query".to_string()),
    }
}

pub fn json_text(text: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], text).into_response()
}

/// `?tableName=T` of a segment upload.
#[derive(Debug, Deserialize)]
pub struct UploadParams {
    #[serde(rename = "tableName")]
    pub table_name: String,
}

/// The HTTP status of a [`Status`].
fn http_status(status: Status) -> StatusCode {
    StatusCode::from_u16(status.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// The HTTP status of a failed query, by its code's [`Status`].
pub fn query_error_status(error: &QueryError) -> StatusCode {
    http_status(error.code.status())
}

/// The HTTP answer of a failed query: its `body`, with the status of its code when
/// `use_status` (else 200, as Pinot's `/query/sql` answers) and `Retry-After` when a
/// retry can cure it (the deep store unreachable).
pub fn query_failure_response(
    error: &QueryError,
    body: serde_json::Value,
    use_status: bool,
) -> Response {
    let status = if use_status {
        query_error_status(error)
    } else {
        StatusCode::OK
    };
    let mut response = (status, axum::Json(body)).into_response();
    if let Some(secs) = error.code.status().retry_after_secs() {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
    }
    response
}

/// A failed segment restore: a conflict when a segment of that name is back already.
pub fn restore_error(error: anyhow::Error) -> ApiError {
    match error.downcast_ref::<tessera_meta::Error>() {
        Some(tessera_meta::Error::Conflict(message)) => {
            ApiError::new(StatusCode::CONFLICT, message.clone())
        }
        _ => ApiError::internal(format!("{error:#}")),
    }
}

/// Longest `Idempotency-Key` accepted.
pub const MAX_IDEMPOTENCY_KEY_BYTES: usize = 256;

/// The request's `Idempotency-Key`, checked.
pub fn idempotency_key(headers: &HeaderMap) -> ApiResult<Option<String>> {
    let Some(value) = headers.get("Idempotency-Key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .map_err(|_| ApiError::bad_request("the Idempotency-Key header is not ASCII"))?;
    if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY_BYTES {
        return Err(ApiError::bad_request(format!(
            "the Idempotency-Key header must hold 1 to {MAX_IDEMPOTENCY_KEY_BYTES} bytes"
        )));
    }
    Ok(Some(key.to_string()))
}
