//! The controller role (DESIGN §8). Its decisions are pure functions of the cluster's
//! state — which servers hold which segment, which server consumes which stream
//! partition, how to move from one assignment to another without a segment ever losing
//! its last serving replica, which segments retention drops — with no I/O and no clock,
//! so they are deterministic and tested in-process:
//!
//! - [`assignment`]: rendezvous hashing over the servers carrying a tag;
//! - [`rebalance`]: the next step from the current assignment toward the target,
//!   adding replicas before removing any, and throttled;
//! - [`retention`]: which sealed segments a table no longer keeps.
//!
//! The process applies them: [`role`] (`tessera controller --config FILE`: election,
//! the admin API on the etcd catalog, assignment rounds, every write fenced by the
//! leader's term), [`trash`] (retention and table drops applied to a catalog and deep
//! store, standalone's janitor too) and [`new_table`] (the one reader of a
//! `POST /tables` body, for both wirings).

pub mod assignment;
pub mod new_table;
pub mod rebalance;
pub mod retention;
pub mod role;
pub mod trash;
pub mod upload;

pub use assignment::{ServerCandidate, assign_partitions, assign_segments, place};
pub use rebalance::{Assignment, RebalanceLimits, next_assignment};
