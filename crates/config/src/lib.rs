//! Tessera's table model: schemas and table configs in Apache Pinot's JSON format.
//!
//! Pinot users bring their `schema.json` and `table.json` unchanged. Parsing is lenient
//! where Pinot is (unknown fields become warnings) and strict where Tessera cannot honor
//! a setting (a clear error that names the field). Everything downstream — segment
//! builds, ingestion, queries — works on the validated [`Schema`] and [`TableConfig`].

pub mod error;
pub mod hex;
mod json_reader;
pub mod schema;
pub mod stream;
pub mod suggestion;
pub mod table;

pub use error::{Error, Result};
pub use schema::DefaultValue;
pub use schema::{DataType, FieldRole, FieldSpec, Schema};
pub use table::{ColumnIndexConfig, IndexingConfig, RawCompression, TableConfig, TableType};

/// A parsed config together with the warnings produced while reading it
/// (unknown fields, ignored settings). Warnings are also logged with `tracing`.
#[derive(Debug, Clone)]
pub struct Parsed<T> {
    pub value: T,
    pub warnings: Vec<String>,
}
