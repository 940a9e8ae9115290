//! Deep-store errors.

use tessera_status::Status;

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
    /// A cold segment's footer could not be read as a segment.
    #[error("segment in the deep store is not readable: location=`{location}`: {source}")]
    Segment {
        location: String,
        #[source]
        source: tessera_segment::Error,
    },
    /// A section of a cold segment could not be fetched (the message names the store,
    /// the object and the section).
    #[error("{message}")]
    Fetch { message: String, status: Status },
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
    /// What kind of failure this is (see [`tessera_status`]): a store that failed or
    /// cannot be reached is unavailable — a client may retry — never invalid input.
    pub fn status(&self) -> Status {
        match self {
            Error::InvalidUri { .. } => Status::InvalidInput,
            Error::ObjectStore {
                source: object_store::Error::NotFound { .. },
                ..
            } => Status::NotFound,
            Error::ObjectStore {
                source: object_store::Error::AlreadyExists { .. },
                ..
            } => Status::Conflict,
            Error::ObjectStore { .. } | Error::Io { .. } => Status::Unavailable,
            Error::Checksum { .. } => Status::Corrupt,
            Error::Segment { source, .. } => source.status(),
            Error::Fetch { status, .. } => *status,
        }
    }

    /// Whether retrying can help (object-store and IO failures are often transient;
    /// a checksum mismatch may be the download's, not the object's).
    pub fn is_retryable(&self) -> bool {
        !matches!(self, Error::InvalidUri { .. })
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
