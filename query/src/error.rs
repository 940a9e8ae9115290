//! Query errors: what went wrong, where in the SQL, and the Pinot error code clients
//! expect in `exceptions[].errorCode`.

use std::fmt;

use tessera_status::Status;

/// Pinot's query error codes (a subset; clients switch on these numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The SQL does not parse.
    SqlParsing,
    /// It parses but is not a valid query for this table (unknown column, wrong types).
    QueryValidation,
    /// Execution failed on the server's side (a corrupt segment, a bug).
    QueryExecution,
    /// The query's expressions failed on the data: a CAST that does not fit, an
    /// integer overflow, a negative SUBSTR length, a date that does not parse (the
    /// query's fault, PostgreSQL's class 22).
    DataException,
    /// `timeoutMs` ran out.
    ExecutionTimeout,
    /// The client cancelled the query, or went away.
    QueryCancelled,
    /// No such table.
    TableDoesNotExist,
    /// A query limit (`numGroupsLimit`, `maxStateBytes`) was exceeded.
    LimitExceeded,
    /// Something the query needs cannot be reached now (the deep store a cold segment
    /// lives in); retrying later can succeed.
    Unavailable,
}

impl ErrorCode {
    /// Every code, for tables and tests.
    pub const ALL: [ErrorCode; 9] = [
        ErrorCode::SqlParsing,
        ErrorCode::QueryValidation,
        ErrorCode::QueryExecution,
        ErrorCode::DataException,
        ErrorCode::ExecutionTimeout,
        ErrorCode::QueryCancelled,
        ErrorCode::TableDoesNotExist,
        ErrorCode::LimitExceeded,
        ErrorCode::Unavailable,
    ];

    /// The Pinot error code clients switch on (`exceptions[].errorCode`).
    pub fn code(self) -> i32 {
        match self {
            ErrorCode::SqlParsing => 150,
            ErrorCode::QueryExecution | ErrorCode::DataException => 200,
            ErrorCode::ExecutionTimeout => 250,
            ErrorCode::QueryCancelled => 503,
            ErrorCode::TableDoesNotExist => 190,
            ErrorCode::QueryValidation => 700,
            ErrorCode::LimitExceeded => 720,
            // Pinot's SERVER_NOT_RESPONDING.
            ErrorCode::Unavailable => 427,
        }
    }

    /// What kind of failure it is: decides the HTTP status, the SQLSTATE class and
    /// retryability (see [`tessera_status`]).
    pub fn status(self) -> Status {
        match self {
            ErrorCode::SqlParsing | ErrorCode::QueryValidation | ErrorCode::DataException => {
                Status::InvalidInput
            }
            ErrorCode::TableDoesNotExist => Status::NotFound,
            ErrorCode::LimitExceeded => Status::LimitExceeded,
            ErrorCode::ExecutionTimeout => Status::Timeout,
            ErrorCode::QueryCancelled => Status::Cancelled,
            ErrorCode::QueryExecution => Status::Internal,
            ErrorCode::Unavailable => Status::Unavailable,
        }
    }

    /// The PostgreSQL SQLSTATE of an error with this code: the finest this code knows,
    /// else its status's class.
    pub fn sqlstate(self) -> &'static str {
        match self {
            ErrorCode::SqlParsing => "42601",
            // data_exception
            ErrorCode::DataException => "22000",
            _ => self.status().sqlstate(),
        }
    }

    /// The code's name as it travels between nodes (unambiguous, where Pinot's numbers
    /// are shared).
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::SqlParsing => "SqlParsing",
            ErrorCode::QueryValidation => "QueryValidation",
            ErrorCode::QueryExecution => "QueryExecution",
            ErrorCode::DataException => "DataException",
            ErrorCode::ExecutionTimeout => "ExecutionTimeout",
            ErrorCode::QueryCancelled => "QueryCancelled",
            ErrorCode::TableDoesNotExist => "TableDoesNotExist",
            ErrorCode::LimitExceeded => "LimitExceeded",
            ErrorCode::Unavailable => "Unavailable",
        }
    }

    /// The code named `name` (see [`ErrorCode::name`]).
    pub fn from_name(name: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.name() == name)
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

    /// The query's expressions failed on the data (see [`ErrorCode::DataException`]).
    pub fn data(message: impl Into<String>) -> QueryError {
        QueryError {
            code: ErrorCode::DataException,
            message: message.into(),
        }
    }

    /// More groups than `numGroupsLimit` allows.
    pub fn too_many_groups(limit: usize) -> QueryError {
        QueryError {
            code: ErrorCode::LimitExceeded,
            message: format!(
                "the query produces more than numGroupsLimit={limit} groups; raise it with `SET numGroupsLimit = N;`"
            ),
        }
    }

    /// The deep store (or another service the query needs) cannot be reached now.
    pub fn unavailable(message: impl Into<String>) -> QueryError {
        QueryError {
            code: ErrorCode::Unavailable,
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
        self.code.status().is_client_error()
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
        match error.status() {
            // A bad text-search query, a column the segment does not have.
            Status::InvalidInput | Status::NotFound => QueryError::invalid(error.to_string()),
            Status::Unavailable => QueryError::unavailable(error.to_string()),
            _ => QueryError::execution(error.to_string()),
        }
    }
}

pub type QueryResult<T> = std::result::Result<T, QueryError>;
