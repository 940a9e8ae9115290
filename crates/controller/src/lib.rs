//! The controller role's decisions, as pure functions of the cluster's state (DESIGN §8):
//! which servers hold which segment, which server consumes which stream partition, and
//! how to move from one assignment to another without a segment ever losing its last
//! serving replica. No I/O and no clock here: the controller process reads the state
//! from etcd, calls these, and writes the result back (fenced by its term), so the
//! decisions are deterministic and tested in-process.
//!
//! - [`assignment`]: rendezvous hashing over the servers carrying a tag;
//! - [`rebalance`]: the next step from the current assignment toward the target,
//!   adding replicas before removing any, and throttled;
//! - [`retention`]: which sealed segments a table no longer keeps (standalone uses it
//!   too).

pub mod assignment;
pub mod rebalance;
pub mod retention;

pub use assignment::{ServerCandidate, assign_partitions, assign_segments, place};
pub use rebalance::{Assignment, RebalanceLimits, next_assignment};
