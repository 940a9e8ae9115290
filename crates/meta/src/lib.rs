//! The catalog: tables, schemas and segment metadata, durable across crashes.
//!
//! Two layers:
//! - [`MetaStore`] is a small transactional key-value interface (get, list by prefix,
//!   conditional multi-key commit) — the shape etcd offers, so the cluster can implement
//!   it there; [`FileMetaStore`] implements it in one file for `tessera standalone`;
//! - [`Catalog`] is the typed model on top: [`TableRecord`], [`SegmentRecord`], and the
//!   segment commit (one atomic write that marks a segment DONE and records its
//!   successor CONSUMING).
//!
//! Invariant: every [`MetaStore::commit`] is all-or-nothing, also across `kill -9`.
//! [`conformance`] checks the properties the catalog relies on for any store;
//! [`FencedMetaStore`] makes every write of a controller conditional on its leadership;
//! [`faults::FaultyMetaStore`] fails on cue, for deterministic protocol tests.

pub mod catalog;
pub mod conformance;
pub mod error;
pub mod faults;
pub mod fenced;
pub mod file_store;
pub mod model;
pub mod store;

pub use catalog::Catalog;
pub use error::{Error, Result};
pub use fenced::FencedMetaStore;
pub use file_store::FileMetaStore;
pub use model::{ColumnRange, SegmentRecord, SegmentState, TableRecord, TrashedSegment};
pub use store::{Condition, MetaStore, Op, Transaction, Versioned};
