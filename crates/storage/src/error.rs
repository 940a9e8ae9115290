//! Deep-store errors.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("deep store uri is not supported: uri=`{uri}`: {message}")]
    InvalidUri { uri: String, message: String },
    #[error("deep store operation failed: {operation}")]
    ObjectStore {
        operation: String,
        #[source]
        source: object_store::Error,
    },
    #[error("local file operation failed: {context}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "downloaded segment does not match its checksum: location=`{location}` expected={expected:08x} actual={actual:08x}"
    )]
    Checksum {
        location: String,
        expected: u32,
        actual: u32,
    },
}

impl Error {
    /// Whether retrying can help (object-store and IO failures are often transient).
    pub fn is_retryable(&self) -> bool {
        !matches!(self, Error::InvalidUri { .. })
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
