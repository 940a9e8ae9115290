//! Cluster coordination on etcd (DESIGN §8): everything the controller, brokers and
//! servers of a cluster agree on goes through here, and nothing else talks to etcd.
//!
//! - [`EtcdSession`]: a node's connection, with its own small runtime, and the
//!   namespace `/tessera/{cluster}/` all keys live under;
//! - [`EtcdMetaStore`]: the catalog's [`tessera_meta::MetaStore`] — one key per table,
//!   schema and segment, one etcd transaction per catalog transaction;
//! - [`membership`]: nodes registered under leases (a killed node disappears within
//!   the TTL; a duplicate node id is refused);
//! - [`election`]: the controller leader, whose every write is fenced by its term;
//! - [`PrefixMirror`]: a local copy of a key prefix kept current by a watch, resumed
//!   from its revision after an outage and re-read in full after a compaction.
//!
//! Key layout (relative to the namespace): `schemas/{name}`, `tables/{name}`,
//! `segments/{table}/{segment}` (the catalog, as in the file store), `nodes/{node_id}`
//! (leased registrations), `controller/leader` (leased, the leader's term is its
//! `mod_revision`).

pub mod election;
mod error;
mod etcd_store;
mod lease;
pub mod membership;
mod mirror;
mod session;

pub use election::{Candidate, LEADER_KEY, LeaderRecord, Leadership, current_leader};
pub use error::{Error, Result};
pub use etcd_store::EtcdMetaStore;
pub use membership::{NodeInfo, NodeRole, Registration, live_nodes, register};
pub use mirror::{MirrorSnapshot, PrefixMirror};
pub use session::{EtcdConfig, EtcdSession};
