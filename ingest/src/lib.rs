//! Tessera's file ingestion: sources that read Parquet, CSV (with a header row) and JSON
//! lines in batches and coerce every value to a table [`Schema`](tessera_config::Schema),
//! producing the columnar [`ColumnBatch`](tessera_segment::ColumnBatch)es the segment
//! builder consumes.
//!
//! Invariants:
//! - every batch a source returns has one column per schema field, in schema order, and
//!   passes `ColumnBatch::validate`; values already have the schema's types;
//! - a row with any value that cannot be coerced is skipped whole and recorded in a
//!   [`RejectReport`] (in strict mode it is an error instead); a row is never half-stored;
//! - NULL inputs (missing columns, empty CSV cells, JSON `null`) are NULL rows, except in
//!   `notNull` fields, which store the field's null replacement;
//! - files are streamed: memory is bounded by the batch size, not the file size.
//!
//! The coercion rules live in [`coerce`] and are shared with realtime JSON ingestion.

mod arrow_column;
pub mod coerce;
mod column_ops;
pub mod consuming;
mod csv_source;
pub mod error;
pub mod fault;
mod json_source;
mod parquet_source;
pub mod realtime;
pub mod reject;
pub mod row_decoder;
pub mod segment_stats;
pub mod source;
pub mod transform;
pub mod wal;

pub use coerce::{FieldCoercer, Reject};
pub use error::{Error, Result};
pub use json_source::MAX_LINE_BYTES;
pub use reject::{RejectReport, RejectedValue};
pub use source::{
    BatchSource, DEFAULT_BATCH_ROWS, InputPart, PART_ROWS, ReadOptions, open_file, open_files,
    split_files,
};
