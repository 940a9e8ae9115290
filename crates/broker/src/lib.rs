//! The broker role (DESIGN §8): what a query meets first. It keeps per-table routing
//! tables current from etcd watches, prunes segments by their catalog bounds, scatters
//! leaf requests over Arrow Flight to one live replica each (the least loaded), retries
//! a failed server's segments on another replica within the deadline, and merges the
//! partials. It serves the HTTP query API and the PostgreSQL wire (which standalone
//! serves through this crate too), forwards pushes to the server consuming the
//! partition, and admin calls to the controller leader. It links no ingest path: a
//! broker has no Kafka client.

mod metrics;
pub mod pg;
pub mod query_service;
mod role;
mod routing;

pub use role::run;
