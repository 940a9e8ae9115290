//! Coordination errors, each with the kind a caller acts on.

/// What went wrong talking to etcd.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The node's etcd settings cannot work (no endpoints, an unparsable address).
    #[error("etcd config: {0}")]
    Config(String),
    /// etcd cannot be reached or did not answer in time; the same call may succeed later.
    #[error("etcd unavailable during {operation}: {message}")]
    Unavailable { operation: String, message: String },
    /// etcd refused the request itself (too large, invalid); retrying will not help.
    #[error("etcd refused {operation}: {message}")]
    Rejected { operation: String, message: String },
    /// A stored value is not what Tessera wrote there.
    #[error("etcd entry is corrupt: key=`{key}`: {message}")]
    Corrupt { key: String, message: String },
    /// Another live node is registered under this node's id.
    #[error(
        "node id `{node_id}` is already registered by a live node ({holder}); give each node its own `node_id`"
    )]
    NodeIdTaken { node_id: String, holder: String },
    /// The campaign ended without leadership (the caller's deadline passed).
    #[error("no leadership within {0:?}")]
    NotElected(std::time::Duration),
}

impl Error {
    /// Whether retrying the same call can succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Unavailable { .. } | Error::NotElected(_))
    }

    /// Classify an etcd client error: transport failures and timeouts are
    /// [`Error::Unavailable`], refusals of the request [`Error::Rejected`].
    pub(crate) fn from_etcd(operation: &str, error: etcd_client::Error) -> Error {
        use etcd_client::Error as Etcd;
        use tonic::Code;
        let operation = operation.to_string();
        let message = error.to_string();
        match &error {
            Etcd::GRpcStatus(status) => match status.code() {
                Code::InvalidArgument
                | Code::FailedPrecondition
                | Code::OutOfRange
                | Code::ResourceExhausted
                | Code::PermissionDenied
                | Code::Unauthenticated
                | Code::Unimplemented => Error::Rejected { operation, message },
                _ => Error::Unavailable { operation, message },
            },
            Etcd::InvalidArgs(_) | Etcd::InvalidUri(_) | Etcd::EndpointError(_) => {
                Error::Config(format!("{operation}: {message}"))
            }
            _ => Error::Unavailable { operation, message },
        }
    }
}

impl From<Error> for tessera_meta::Error {
    fn from(error: Error) -> tessera_meta::Error {
        match error {
            Error::Unavailable { .. } | Error::NotElected(_) => {
                tessera_meta::Error::Unavailable(error.to_string())
            }
            Error::Corrupt { key, message } => tessera_meta::Error::Corrupt { key, message },
            Error::Rejected { .. } | Error::Config(_) | Error::NodeIdTaken { .. } => {
                tessera_meta::Error::InvalidTransaction(error.to_string())
            }
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
