//! Transport errors, with the status a broker acts on: retry another replica, or tell
//! the client its query is wrong.

use tessera_query::{ErrorCode, QueryError};
use tessera_status::Status;

/// Metadata key carrying a query error's code (by name) across the wire.
pub(crate) const ERROR_CODE_HEADER: &str = "x-tessera-error-code";

/// A failed leaf call.
#[derive(Debug, Clone, thiserror::Error)]
#[error("server `{server}`: {message}")]
pub struct TransportError {
    /// What kind of failure: [`Status::Unavailable`] (the server cannot be reached, or
    /// went away mid-answer: another replica may answer), [`Status::Timeout`],
    /// [`Status::InvalidInput`] (bad SQL, a bad ticket: no replica will answer it),
    /// [`Status::NotFound`] (the server does not have the table), or the server's
    /// own failure.
    pub kind: Status,
    /// The server's Flight address (empty on the server side).
    pub server: String,
    pub message: String,
    /// The query error's code, when the server answered with a query error.
    pub query_error_code: Option<ErrorCode>,
}

impl TransportError {
    /// Whether asking another replica (or the same one later) can succeed.
    pub fn is_retryable(&self) -> bool {
        self.kind.is_retryable()
    }

    /// The server's status as an error of `server`.
    pub(crate) fn from_status(server: &str, status: &tonic::Status) -> TransportError {
        use tonic::Code;
        let kind = match status.code() {
            Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => {
                Status::InvalidInput
            }
            Code::NotFound => Status::NotFound,
            Code::DeadlineExceeded => Status::Timeout,
            // tonic's answer when a call's `grpc-timeout` runs out.
            Code::Cancelled if status.message() == "Timeout expired" => Status::Timeout,
            Code::Unavailable | Code::Cancelled | Code::Unknown | Code::Aborted => {
                Status::Unavailable
            }
            _ => Status::Internal,
        };
        let query_error_code = status
            .metadata()
            .get(ERROR_CODE_HEADER)
            .and_then(|value| value.to_str().ok())
            .and_then(ErrorCode::from_name);
        TransportError {
            kind,
            server: server.to_string(),
            message: status.message().to_string(),
            query_error_code,
        }
    }

    /// The error as the query error a client sees.
    pub fn to_query_error(&self) -> QueryError {
        let code = self.query_error_code.unwrap_or(match self.kind {
            Status::NotFound => ErrorCode::TableDoesNotExist,
            Status::Timeout => ErrorCode::ExecutionTimeout,
            Status::InvalidInput => ErrorCode::QueryValidation,
            Status::LimitExceeded => ErrorCode::LimitExceeded,
            Status::Cancelled => ErrorCode::QueryCancelled,
            _ => ErrorCode::QueryExecution,
        });
        QueryError {
            code,
            message: self.to_string(),
        }
    }
}

/// A query error as the status a server answers with (its Pinot code in metadata).
pub(crate) fn status_of_query_error(error: &QueryError) -> tonic::Status {
    use tonic::Code;
    let code = match error.code.status() {
        Status::InvalidInput | Status::LimitExceeded => Code::InvalidArgument,
        Status::NotFound => Code::NotFound,
        Status::Timeout => Code::DeadlineExceeded,
        Status::Cancelled => Code::Cancelled,
        Status::Unavailable => Code::Unavailable,
        Status::Conflict => Code::AlreadyExists,
        Status::Corrupt | Status::Internal => Code::Internal,
    };
    let mut metadata = tonic::metadata::MetadataMap::new();
    if let Ok(value) = error.code.name().parse() {
        metadata.insert(ERROR_CODE_HEADER, value);
    }
    tonic::Status::with_metadata(code, error.message.clone(), metadata)
}
