//! The cluster's own keys in etcd, beside the catalog's (`schemas/`, `tables/`,
//! `segments/`) and coordination's (`nodes/`, `controller/leader`):
//!
//! - `assignments/{table}/{segment}` → JSON list of server ids: where the controller
//!   wants the segment (written by the leader, fenced);
//! - `serving/{node}/{table}` → JSON list of segment names the server has loaded and
//!   answers for (written by the server under its lease, so it vanishes with it);
//! - `consumers/{table}/{partition}` → the realtime server that is to consume the
//!   stream partition (written by the leader, fenced);
//! - `consuming/{node}/{table}` → JSON list of the partitions the server consumes now,
//!   those it is still releasing included (written by the server under its lease): a
//!   server starts a partition only once no other server lists it, so a moved partition
//!   is never consumed twice at once;
//! - `paused/{table}` → the operator paused the REALTIME table's consumption
//!   (`pauseConsumption`; written by the leader, fenced; consumers follow it, across
//!   restarts and takeovers);
//! - `decommissioned/{node}` → when the operator asked: the server takes no new replicas
//!   and its replicas are re-created elsewhere (written by the leader, fenced).

use std::collections::{BTreeMap, BTreeSet};

use tessera_coordination::MirrorSnapshot;

pub const ASSIGNMENTS: &str = "assignments/";
pub const DECOMMISSIONED: &str = "decommissioned/";
pub const CONSUMERS: &str = "consumers/";
pub const CONSUMING: &str = "consuming/";
pub use tessera_meta::catalog::PAUSED;

/// The tables whose consumption is paused, from a mirror of `paused/`.
pub fn paused(snapshot: &MirrorSnapshot) -> BTreeSet<String> {
    snapshot
        .entries
        .keys()
        .filter_map(|key| key.strip_prefix(PAUSED))
        .map(str::to_string)
        .collect()
}
pub const SERVING: &str = "serving/";

pub fn assignment_key(table: &str, segment: &str) -> String {
    format!("{ASSIGNMENTS}{table}/{segment}")
}

pub fn serving_key(node: &str, table: &str) -> String {
    format!("{SERVING}{node}/{table}")
}

/// Table → segment → assigned servers, from a mirror of `assignments/`.
pub fn assignments(
    snapshot: &MirrorSnapshot,
) -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
    let mut tables: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for (key, stored) in &snapshot.entries {
        let Some((table, segment)) = key
            .strip_prefix(ASSIGNMENTS)
            .and_then(|rest| rest.split_once('/'))
        else {
            continue;
        };
        let servers: BTreeSet<String> = serde_json::from_str(&stored.value).unwrap_or_default();
        tables
            .entry(table.to_string())
            .or_default()
            .insert(segment.to_string(), servers);
    }
    tables
}

/// Table → segment → servers serving it, from a mirror of `serving/`.
pub fn serving(snapshot: &MirrorSnapshot) -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
    let mut tables: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for (key, stored) in &snapshot.entries {
        let Some((node, table)) = key
            .strip_prefix(SERVING)
            .and_then(|rest| rest.split_once('/'))
        else {
            continue;
        };
        let segments: Vec<String> = serde_json::from_str(&stored.value).unwrap_or_default();
        let table_entry = tables.entry(table.to_string()).or_default();
        for segment in segments {
            table_entry
                .entry(segment)
                .or_default()
                .insert(node.to_string());
        }
    }
    tables
}

pub fn decommissioned_key(node: &str) -> String {
    format!("{DECOMMISSIONED}{node}")
}

/// The servers being decommissioned, from a mirror of `decommissioned/`.
pub fn decommissioned(snapshot: &MirrorSnapshot) -> BTreeSet<String> {
    snapshot
        .entries
        .keys()
        .filter_map(|key| key.strip_prefix(DECOMMISSIONED))
        .map(str::to_string)
        .collect()
}

pub fn consumer_key(table: &str, partition: u32) -> String {
    format!("{CONSUMERS}{table}/{partition}")
}

/// Table → partition → the server to consume it, from a mirror of `consumers/`.
pub fn consumers(snapshot: &MirrorSnapshot) -> BTreeMap<String, BTreeMap<u32, String>> {
    let mut tables: BTreeMap<String, BTreeMap<u32, String>> = BTreeMap::new();
    for (key, stored) in &snapshot.entries {
        let Some((table, partition)) = key
            .strip_prefix(CONSUMERS)
            .and_then(|rest| rest.rsplit_once('/'))
        else {
            continue;
        };
        let Ok(partition) = partition.parse() else {
            continue;
        };
        tables
            .entry(table.to_string())
            .or_default()
            .insert(partition, stored.value.clone());
    }
    tables
}

pub fn consuming_key(node: &str, table: &str) -> String {
    format!("{CONSUMING}{node}/{table}")
}

/// Table → partition → the servers consuming it now, from a mirror of `consuming/`
/// (one server, except for a moment when a server has not yet seen that its lease
/// expired).
pub fn consuming(snapshot: &MirrorSnapshot) -> BTreeMap<String, BTreeMap<u32, BTreeSet<String>>> {
    let mut tables: BTreeMap<String, BTreeMap<u32, BTreeSet<String>>> = BTreeMap::new();
    for (key, stored) in &snapshot.entries {
        let Some((node, table)) = key
            .strip_prefix(CONSUMING)
            .and_then(|rest| rest.split_once('/'))
        else {
            continue;
        };
        let partitions: Vec<u32> = serde_json::from_str(&stored.value).unwrap_or_default();
        let table_entry = tables.entry(table.to_string()).or_default();
        for partition in partitions {
            table_entry
                .entry(partition)
                .or_default()
                .insert(node.to_string());
        }
    }
    tables
}

/// `(partition, sequence)` of a realtime segment name
/// (`{table}__{partition}__{sequence}__{created}`).
pub fn partition_and_sequence(segment: &str) -> Option<(u32, u32)> {
    let mut parts = segment.rsplitn(4, "__");
    let _created = parts.next()?;
    let sequence = parts.next()?.parse().ok()?;
    let partition = parts.next()?.parse().ok()?;
    Some((partition, sequence))
}
