//! Tessera's query engine: SQL → plan → index-aware per-segment execution → mergeable
//! partial results → the Pinot broker response.
//!
//! - [`planner`] parses SQL (`sqlparser`) into a typed [`plan::QueryPlan`];
//! - [`leaf`] runs a plan on one segment through the [`tessera_segment::SegmentReader`]
//!   trait ([`filter`] answers predicates from indexes, [`eval`] evaluates expressions
//!   over blocks of rows, [`aggregate`] holds mergeable aggregate states);
//! - [`merge`] is the root side: it merges partials and finishes the result;
//!   [`partial_ipc`] is the versioned Arrow IPC wire format of partials between nodes;
//! - [`engine`] runs both halves in one process; [`response`] renders Pinot's JSON.
//!
//! Invariant: no SQL text can panic the engine; anything outside the supported surface
//! is a [`QueryError`] naming the construct and its position.

pub mod absorb;
pub mod aggregate;
pub mod cancel;
pub mod distinct_set;
pub mod docset;
pub mod engine;
pub mod error;
pub mod eval;
pub mod explain;
pub mod expr;
pub mod factored;
pub mod filter;
pub mod group_keys;
pub mod leaf;
pub mod merge;
pub mod options;
pub mod partial_ipc;
pub mod plan;
pub mod planner;
pub mod prefetch;
pub mod response;
pub mod segment_scan;
pub mod sorted_codes;
pub mod sql_limits;
pub mod state_bytes;
pub mod tdigest;
pub mod time;
pub mod trim;
pub mod types;
pub mod value_lists;
pub mod vector;

pub use cancel::{Cancel, CancelOnDrop};
pub use engine::{QueryOutcome, Table, run};
pub use error::{ErrorCode, QueryError, QueryResult};
pub use options::QueryOptions;
