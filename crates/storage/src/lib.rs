//! The deep store: where sealed segment files live, over `object_store` — a local
//! directory by default, `s3://bucket/prefix` (with an optional custom endpoint for
//! S3-compatible servers) by URL with the standard AWS environment credentials.
//!
//! Layout (DESIGN §2): `{table}/{segment}.tseg`; dropped tables move under
//! `_trash/{droppedAtMs}/{table}/` until purged, so nothing is deleted by one mistake.
//!
//! Invariants: an upload is visible under its final path only when complete (object
//! stores put atomically); a download is checked against the CRC-32 the catalog holds
//! and lands in the cache only after it matched.

pub mod cold;
pub mod deep_store;
pub mod error;
pub mod metrics;
pub mod section_cache;

pub use deep_store::{DeepStore, FileChecksum, file_crc32};
pub use error::{Error, Result};
pub use metrics::{Operation, StoreMetrics};
