//! Errors of the ingest crate. A bad *value* is not an error (it is a reject, see
//! [`crate::reject`]) unless the caller asked for strict mode; errors are for inputs that
//! cannot be read at all.

use std::path::PathBuf;

use tessera_status::Status;

use crate::reject::RejectedValue;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read input file path=`{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read parquet file path=`{}`", path.display())]
    Parquet {
        path: PathBuf,
        #[source]
        source: parquet::errors::ParquetError,
    },
    #[error("cannot decode parquet data path=`{}`", path.display())]
    Arrow {
        path: PathBuf,
        #[source]
        source: arrow_schema::ArrowError,
    },
    #[error("cannot read csv file path=`{}`", path.display())]
    Csv {
        path: PathBuf,
        #[source]
        source: csv::Error,
    },
    /// The file's structure does not fit the schema (a column type that cannot be
    /// coerced at all), or the schema asks for something this reader cannot do.
    #[error("{message} path=`{}`", path.display())]
    Schema { path: PathBuf, message: String },
    /// Strict mode: the first value that could not be coerced.
    #[error(
        "value rejected in strict mode: {} file=`{}` row={} column=`{}` value=`{}`",
        rejected.reason, rejected.file, rejected.row, rejected.column, rejected.value
    )]
    Rejected { rejected: Box<RejectedValue> },
    #[error(
        "unknown input file format, use one of .parquet, .pq, .csv, .json, .jsonl, .ndjson path=`{}`",
        path.display()
    )]
    UnknownFormat { path: PathBuf },
    /// A batch could not be assembled (more than 4 GiB of bytes in one column of one
    /// batch); smaller `batch_rows` fixes it.
    #[error("cannot assemble a batch path=`{}`", path.display())]
    Batch {
        path: PathBuf,
        #[source]
        source: tessera_segment::Error,
    },
    /// The server's own machine failed: the local disk under the write-ahead log or the
    /// segment files, or a thread that could not start. Not the input's fault; the same
    /// request can succeed later.
    #[error("{what}: {source}")]
    Local {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// Input that cannot be stored as given (a row of the wrong shape, a limit passed).
    #[error("{0}")]
    Invalid(String),
    /// Something the table depends on failed — the catalog, the deep store, the Kafka
    /// client, the local disk under the write-ahead log — not the input: the same
    /// request can succeed later.
    #[error("{0}")]
    Unavailable(String),
    #[error("{context}")]
    Segment {
        context: String,
        #[source]
        source: tessera_segment::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// What kind of failure this is (see [`tessera_status`]): the input's fault, a
    /// missing file, or a dependency (the local disk among them) that may recover.
    pub fn status(&self) -> Status {
        match self {
            Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                Status::NotFound
            }
            Error::Io { .. } => Status::Unavailable,
            Error::Parquet { .. }
            | Error::Arrow { .. }
            | Error::Csv { .. }
            | Error::Schema { .. }
            | Error::Rejected { .. }
            | Error::UnknownFormat { .. }
            | Error::Batch { .. }
            | Error::Invalid(_) => Status::InvalidInput,
            Error::Segment { source, .. } => source.status(),
            Error::Unavailable(_) | Error::Local { .. } => Status::Unavailable,
        }
    }

    /// Whether trying again unchanged can succeed: a dependency that failed, or an IO
    /// failure other than a missing file (an interrupted read, a full disk freed).
    pub fn is_retryable(&self) -> bool {
        self.status().is_retryable()
    }
}
