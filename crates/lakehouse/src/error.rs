//! Errors of the Iceberg layer. Each names the file it is about, so an operator can find
//! the metadata file or data file that is missing or damaged.

/// An Iceberg read or write failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file is not valid Avro (a manifest list or manifest).
    #[error("avro: {0}")]
    Avro(String),
    /// A metadata, manifest list or manifest file breaks the Iceberg spec, or uses a part
    /// of it this reader does not implement (named in the message).
    #[error("iceberg metadata `{file}`: {message}")]
    Metadata { file: String, message: String },
    /// The table's location holds no metadata file.
    #[error("no Iceberg table at `{location}`: {message}")]
    NotFound { location: String, message: String },
    /// Reading or writing a file failed (the store is unreachable, a file is missing).
    #[error("{operation} `{file}`: {source}")]
    Io {
        operation: &'static str,
        file: String,
        #[source]
        source: Box<tessera_storage::Error>,
    },
    /// Another writer committed first (export retries from the new snapshot).
    #[error("commit conflict on `{file}`: {message}")]
    Conflict { file: String, message: String },
}

impl Error {
    pub(crate) fn avro(message: impl Into<String>) -> Error {
        Error::Avro(message.into())
    }

    pub(crate) fn metadata(file: &str, message: impl Into<String>) -> Error {
        Error::Metadata {
            file: file.to_string(),
            message: message.into(),
        }
    }

    /// What kind of failure this is: damaged metadata is corrupt data, a missing table
    /// is not found, an unreachable store is unavailable (a client may retry).
    pub fn status(&self) -> tessera_status::Status {
        use tessera_status::Status;
        match self {
            Error::Avro(_) | Error::Metadata { .. } => Status::Corrupt,
            Error::NotFound { .. } => Status::NotFound,
            Error::Io { source, .. } => source.status(),
            Error::Conflict { .. } => Status::Conflict,
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;
