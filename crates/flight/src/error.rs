//! Transport errors, with the kind a broker acts on: retry another replica, or tell the
//! client its query is wrong.

use tessera_query::{ErrorCode, QueryError};

/// Metadata key carrying the Pinot error code of a query error across the wire.
pub(crate) const ERROR_CODE_HEADER: &str = "x-tessera-error-code";

/// What kind of failure a leaf call met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportErrorKind {
    /// The server cannot be reached, or went away mid-answer: another replica may answer.
    Unavailable,
    /// The server did not answer within the query's deadline.
    Timeout,
    /// The request is wrong (bad SQL, bad ticket): no replica will answer it.
    InvalidRequest,
    /// The server does not have the table (or a segment) asked for.
    NotFound,
    /// The server failed (a corrupt segment, a bug).
    Internal,
}

/// A failed leaf call.
#[derive(Debug, Clone, thiserror::Error)]
#[error("server `{server}`: {message}")]
pub struct TransportError {
    pub kind: TransportErrorKind,
    /// The server's Flight address (empty on the server side).
    pub server: String,
    pub message: String,
    /// The Pinot error code, when the server answered with a query error.
    pub query_error_code: Option<i32>,
}

impl TransportError {
    /// Whether asking another replica (or the same one later) can succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.kind,
            TransportErrorKind::Unavailable | TransportErrorKind::Timeout
        )
    }

    /// The server's status as an error of `server`.
    pub(crate) fn from_status(server: &str, status: &tonic::Status) -> TransportError {
        use tonic::Code;
        let kind = match status.code() {
            Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => {
                TransportErrorKind::InvalidRequest
            }
            Code::NotFound => TransportErrorKind::NotFound,
            Code::DeadlineExceeded => TransportErrorKind::Timeout,
            // tonic's answer when a call's `grpc-timeout` runs out.
            Code::Cancelled if status.message() == "Timeout expired" => TransportErrorKind::Timeout,
            Code::Unavailable | Code::Cancelled | Code::Unknown | Code::Aborted => {
                TransportErrorKind::Unavailable
            }
            _ => TransportErrorKind::Internal,
        };
        let query_error_code = status
            .metadata()
            .get(ERROR_CODE_HEADER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse().ok());
        TransportError {
            kind,
            server: server.to_string(),
            message: status.message().to_string(),
            query_error_code,
        }
    }

    /// The error as the query error a client sees.
    pub fn to_query_error(&self) -> QueryError {
        let code = match (self.query_error_code, self.kind) {
            (Some(150), _) => ErrorCode::SqlParsing,
            (Some(190), _) | (None, TransportErrorKind::NotFound) => ErrorCode::TableDoesNotExist,
            (Some(250), _) | (None, TransportErrorKind::Timeout) => ErrorCode::ExecutionTimeout,
            (Some(700), _) | (None, TransportErrorKind::InvalidRequest) => {
                ErrorCode::QueryValidation
            }
            (Some(720), _) => ErrorCode::TooManyGroups,
            (Some(503), _) => ErrorCode::QueryCancelled,
            _ => ErrorCode::QueryExecution,
        };
        QueryError {
            code,
            message: self.to_string(),
        }
    }
}

/// A query error as the status a server answers with (its Pinot code in metadata).
pub(crate) fn status_of_query_error(error: &QueryError) -> tonic::Status {
    use tonic::Code;
    let code = match error.code {
        ErrorCode::SqlParsing | ErrorCode::QueryValidation | ErrorCode::TooManyGroups => {
            Code::InvalidArgument
        }
        ErrorCode::TableDoesNotExist => Code::NotFound,
        ErrorCode::ExecutionTimeout => Code::DeadlineExceeded,
        ErrorCode::QueryCancelled => Code::Cancelled,
        ErrorCode::QueryExecution => Code::Internal,
    };
    let mut metadata = tonic::metadata::MetadataMap::new();
    if let Ok(value) = error.code.code().to_string().parse() {
        metadata.insert(ERROR_CODE_HEADER, value);
    }
    tonic::Status::with_metadata(code, error.message.clone(), metadata)
}
