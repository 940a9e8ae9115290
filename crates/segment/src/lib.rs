//! The Tessera segment: a set of rows of one table, column-oriented, with indexes.
//!
//! This crate owns the immutable segment file (`.tseg`, see `docs/segment-format.md`):
//! its [`builder`] (sorted dictionaries, bit-packed forward indexes, zstd raw chunks,
//! multi-value columns, inverted/sorted/range/bloom/text indexes, statistics) and its
//! [`reader`] (mmap, zero-copy, every section checked by CRC before use). The
//! [`SegmentReader`] trait is the one surface the query engine reads; consuming
//! (in-memory) segments implement it too.
//!
//! Invariants: the crate is synchronous (no tokio); a corrupt or truncated file is an
//! error, never a panic and never a wrong value.

pub mod batch;
pub mod bitpack;
pub mod bloom;
pub mod builder;
pub mod column_builder;
pub mod dictionary;
pub mod dictionary_builder;
pub mod error;
pub mod file_source;
pub mod footer;
pub mod for_chunk;
pub mod format;
pub mod hll;
pub mod id_vec;
pub mod inverted;
pub mod metadata;
pub mod range_index;
pub mod raw_forward;
pub mod raw_reorder;
pub mod reader;
pub mod text_index;
pub mod value;

pub use batch::{ColumnBatch, ColumnData, ColumnValues, VarBytes};
pub use builder::{BuildOptions, BuildSummary, SegmentBuilder, now_ms};
pub use error::{Error, Result};
pub use metadata::{ColumnMetadata, SegmentMetadata};
pub use reader::{
    ChunkBounds, ColumnReader, IdSet, ImmutableSegment, SectionSource, SegmentReader,
};
/// The byte buffer sections are read from (a memory map, or bytes fetched from a store).
pub use tantivy::directory::OwnedBytes;
pub use value::{PhysicalType, Value};
