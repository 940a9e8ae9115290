//! Query errors: what went wrong, where in the SQL, and the Pinot error code clients
//! expect in `exceptions[].errorCode`.

use std::fmt;

/// Pinot's query error codes (a subset; clients switch on these numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The SQL does not parse.
    SqlParsing,
    /// It parses but is not a valid query for this table (unknown column, wrong types).
    QueryValidation,
    /// Execution failed (a corrupt segment, an arithmetic overflow).
    QueryExecution,
    /// `timeoutMs` ran out.
    ExecutionTimeout,
    /// The client cancelled the query, or went away.
    QueryCancelled,
    /// No such table.
    TableDoesNotExist,
    /// A limit such as `numGroupsLimit` was exceeded.
    TooManyGroups,
}

impl ErrorCode {
    pub fn code(self) -> i32 {
        match self {
            ErrorCode::SqlParsing => 150,
            ErrorCode::QueryExecution => 200,
            ErrorCode::ExecutionTimeout => 250,
            ErrorCode::QueryCancelled => 503,
            ErrorCode::TableDoesNotExist => 190,
            ErrorCode::QueryValidation => 700,
            ErrorCode::TooManyGroups => 720,
        }
    }
}

/// A query error; `message` already names the construct and its position.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryError {
    pub code: ErrorCode,
    pub message: String,
}

impl QueryError {
    pub fn parse(message: impl Into<String>) -> QueryError {
        QueryError {
            code: ErrorCode::SqlParsing,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> QueryError {
        QueryError {
            code: ErrorCode::QueryValidation,
            message: message.into(),
        }
    }

    pub fn execution(message: impl Into<String>) -> QueryError {
        QueryError {
            code: ErrorCode::QueryExecution,
            message: message.into(),
        }
    }

    pub fn timeout(timeout_ms: u64) -> QueryError {
        QueryError {
            code: ErrorCode::ExecutionTimeout,
            message: format!("query timed out: it ran longer than timeoutMs={timeout_ms}"),
        }
    }

    pub fn cancelled() -> QueryError {
        QueryError {
            code: ErrorCode::QueryCancelled,
            message: "query cancelled: the client cancelled it or went away".into(),
        }
    }

    /// Whether the caller sent a bad query (HTTP 4xx) rather than the server failing.
    pub fn is_client_error(&self) -> bool {
        matches!(
            self.code,
            ErrorCode::SqlParsing
                | ErrorCode::QueryValidation
                | ErrorCode::TableDoesNotExist
                | ErrorCode::TooManyGroups
        )
    }
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for QueryError {}

impl From<tessera_segment::Error> for QueryError {
    fn from(error: tessera_segment::Error) -> QueryError {
        QueryError::execution(error.to_string())
    }
}

pub type QueryResult<T> = std::result::Result<T, QueryError>;
