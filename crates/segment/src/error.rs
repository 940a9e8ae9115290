//! Errors of the segment crate. Every decoding failure is an error, never a panic.

use std::path::PathBuf;

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
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Coarse classes of errors that servers turn into HTTP statuses and exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    BadRequest,
    NotFound,
    Internal,
    Corrupt,
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidInput(_) | Error::Unsupported(_) | Error::TextQuery(_) => {
                ErrorKind::BadRequest
            }
            Error::NoSuchColumn(_) => ErrorKind::NotFound,
            Error::Corrupt { .. } | Error::UnsupportedVersion { .. } => ErrorKind::Corrupt,
            Error::Io { .. } | Error::TextIndex(_) => ErrorKind::Internal,
        }
    }
}
