//! Catalog errors.

use tessera_status::Status;

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
    /// The store cannot be reached or did not answer in time (etcd down, a network
    /// partition); the same call may succeed later.
    #[error("catalog store unavailable: {0}")]
    Unavailable(String),
    /// A write of a controller whose leadership is over (its term's leader key was
    /// taken): nothing was written; only a new election can make it succeed.
    #[error("not the leader: {0}")]
    Fenced(String),
    /// A transaction no store accepts (see [`crate::Transaction::validate`]): a bug in
    /// the caller, not a state of the store.
    #[error("invalid catalog transaction: {0}")]
    InvalidTransaction(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
}

impl Error {
    /// What kind of failure this is (see [`tessera_status`]) for a client of the
    /// server that met it: a store that failed is unavailable, a conflict is one.
    pub fn status(&self) -> Status {
        match self {
            Error::Io { .. } | Error::Unavailable(_) | Error::Fenced(_) => Status::Unavailable,
            Error::Corrupt { .. } => Status::Corrupt,
            Error::Conflict(_) | Error::AlreadyExists(_) => Status::Conflict,
            Error::NotFound(_) => Status::NotFound,
            Error::InvalidTransaction(_) => Status::Internal,
        }
    }

    /// Whether retrying the same call can succeed (a conflict can: the catalog's
    /// transactions re-read and retry).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::Io { .. } | Error::Conflict(_) | Error::Unavailable(_)
        )
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
