//! One notion of what went wrong, shared by every Tessera crate: each crate's error
//! names its [`Status`], and the status alone decides what a client sees — the HTTP
//! status, the PostgreSQL SQLSTATE (the class, where the error has no finer code),
//! whether retrying the same request can succeed, and after how long. The mapping is
//! here once, not in each server (the model is Quickwit's `ServiceErrorCode` and
//! GreptimeDB's status codes).
//!
//! The line that matters most runs between the caller's fault and the server's:
//! invalid input is never "internal", and a failing dependency (the catalog, the deep
//! store, the disk under the write-ahead log) is never "invalid input".

use std::fmt;

/// What kind of failure an error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// The request is wrong and must be changed: bad SQL, a bad value, a bad schema.
    InvalidInput,
    /// What the request names does not exist (a table, a segment, a file).
    NotFound,
    /// The request conflicts with what exists (a name taken).
    Conflict,
    /// The request asks for more than a configured limit allows; the error names the
    /// limit and the option that raises it.
    LimitExceeded,
    /// The request ran out of its time.
    Timeout,
    /// The client cancelled the request or went away.
    Cancelled,
    /// Something the server depends on failed — the catalog, the deep store, Kafka,
    /// the local disk: the same request can succeed later.
    Unavailable,
    /// Stored data failed its checksum or cannot be read as its format says.
    Corrupt,
    /// A bug or an unexpected failure of the server itself.
    Internal,
}

impl Status {
    /// The HTTP status code.
    pub fn http_status(self) -> u16 {
        match self {
            Status::InvalidInput | Status::LimitExceeded => 400,
            Status::NotFound => 404,
            Status::Conflict => 409,
            // nginx's "client closed request".
            Status::Cancelled => 499,
            Status::Internal | Status::Corrupt => 500,
            Status::Unavailable => 503,
            Status::Timeout => 504,
        }
    }

    /// The PostgreSQL SQLSTATE for an error of this status with no finer code.
    pub fn sqlstate(self) -> &'static str {
        match self {
            // syntax_error_or_access_rule_violation
            Status::InvalidInput => "42000",
            // undefined_table (what a query names that is missing)
            Status::NotFound => "42P01",
            // duplicate_object
            Status::Conflict => "42710",
            // program_limit_exceeded
            Status::LimitExceeded => "54000",
            // query_canceled
            Status::Timeout | Status::Cancelled => "57014",
            // cannot_connect_now: retry
            Status::Unavailable => "57P03",
            // data_corrupted
            Status::Corrupt => "XX001",
            // internal_error
            Status::Internal => "XX000",
        }
    }

    /// Whether sending the same request again can succeed.
    pub fn is_retryable(self) -> bool {
        matches!(self, Status::Unavailable | Status::Timeout)
    }

    /// Seconds a client should wait before retrying (HTTP `Retry-After`), for statuses
    /// a retry can cure without the client changing anything.
    pub fn retry_after_secs(self) -> Option<u32> {
        match self {
            Status::Unavailable => Some(1),
            _ => None,
        }
    }

    /// Whether the caller's request is at fault (HTTP 4xx), not the server.
    pub fn is_client_error(self) -> bool {
        (400..500).contains(&self.http_status())
    }

    /// The status's name as it travels between nodes and appears in logs.
    pub fn name(self) -> &'static str {
        match self {
            Status::InvalidInput => "InvalidInput",
            Status::NotFound => "NotFound",
            Status::Conflict => "Conflict",
            Status::LimitExceeded => "LimitExceeded",
            Status::Timeout => "Timeout",
            Status::Cancelled => "Cancelled",
            Status::Unavailable => "Unavailable",
            Status::Corrupt => "Corrupt",
            Status::Internal => "Internal",
        }
    }

    /// Every status, for tables and tests.
    pub const ALL: [Status; 9] = [
        Status::InvalidInput,
        Status::NotFound,
        Status::Conflict,
        Status::LimitExceeded,
        Status::Timeout,
        Status::Cancelled,
        Status::Unavailable,
        Status::Corrupt,
        Status::Internal,
    ];

    /// The status named `name` (see [`Status::name`]).
    pub fn from_name(name: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.name() == name)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_the_caller_at_fault_is_never_told_to_retry_and_a_failed_dependency_always_is() {
        for status in Status::ALL {
            assert_eq!(Status::from_name(status.name()), Some(status));
            if status.is_client_error() && status != Status::Timeout {
                assert!(!status.is_retryable(), "{status}");
            }
            assert_eq!(
                status.retry_after_secs().is_some(),
                status == Status::Unavailable,
                "{status}"
            );
            assert_eq!(status.sqlstate().len(), 5, "{status}");
        }
        assert_eq!(Status::Unavailable.http_status(), 503);
        assert_eq!(Status::InvalidInput.http_status(), 400);
        assert!(!Status::Internal.is_client_error());
    }
}
