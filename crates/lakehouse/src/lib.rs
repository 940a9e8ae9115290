//! Apache Iceberg tables as a tier of a Tessera table.
//!
//! This crate is the metadata layer, written against the Iceberg spec (format versions 1
//! and 2): table metadata files, manifest lists and manifests in Avro, the file-system
//! catalog, the single-value encoding of column bounds. iceberg-rust (0.10) was not used:
//! it builds on arrow/parquet 58 and reqwest 0.12 where the workspace is on arrow/parquet
//! 60 and reqwest 0.13, which would compile a second copy of each (see docs/lakehouse.md).
//!
//! Data files are Parquet; the server reads them with the ingest crate's Parquet source.

pub mod avro;
pub mod error;
pub mod io;
pub mod manifest;
pub mod metadata;
pub mod table;
pub mod writer;

pub use error::{Error, Result};
pub use io::FileIo;
pub use manifest::DataFile;
pub use metadata::{Datum, IcebergType, TableMetadata};
pub use table::{Catalog, ManifestCache};
