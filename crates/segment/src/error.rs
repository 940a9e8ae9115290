//! Errors of the segment crate. Every decoding failure is an error, never a panic.

use std::path::PathBuf;

use tessera_status::Status;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input handed to the builder does not fit the schema (a caller bug or bad data
    /// that escaped coercion).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The table config asks for something this segment cannot do.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The file is not a valid segment: bad magic, checksum mismatch, truncation,
    /// inconsistent section. The file must not be used.
    #[error("corrupt segment: {message} path=`{path}`")]
    Corrupt { path: PathBuf, message: String },
    /// The segment was written by a format version this build cannot read.
    #[error(
        "unsupported segment format version {found} (this build reads {oldest}..={newest}) path=`{path}`"
    )]
    UnsupportedVersion {
        path: PathBuf,
        found: u32,
        oldest: u32,
        newest: u32,
    },
    #[error("io error on `{path}`")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("text index error")]
    TextIndex(#[source] tantivy::TantivyError),
    #[error("invalid text query: {0}")]
    TextQuery(String),
    #[error("no such column column=`{0}`")]
    NoSuchColumn(String),
    /// A section of a segment opened from its footer could not be fetched from where the
    /// segment lives (the message names the store, the object and the section).
    #[error("{message}")]
    Fetch { message: String, status: Status },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// What kind of failure this is (see [`tessera_status`]).
    pub fn status(&self) -> Status {
        match self {
            Error::InvalidInput(_) | Error::Unsupported(_) | Error::TextQuery(_) => {
                Status::InvalidInput
            }
            Error::NoSuchColumn(_) => Status::NotFound,
            Error::Corrupt { .. } | Error::UnsupportedVersion { .. } => Status::Corrupt,
            Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                Status::NotFound
            }
            // The local disk: it may recover (space freed).
            Error::Io { .. } => Status::Unavailable,
            Error::TextIndex(_) => Status::Internal,
            Error::Fetch { status, .. } => *status,
        }
    }
}
