//! Catalog errors.

/// What went wrong in the catalog.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("catalog storage failed: {context}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("catalog entry is corrupt: key=`{key}`: {message}")]
    Corrupt { key: String, message: String },
    /// A transaction's condition did not hold; re-read and retry.
    #[error("catalog conflict: {0}")]
    Conflict(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
}

impl Error {
    /// Whether retrying the same call can succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Io { .. } | Error::Conflict(_))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
