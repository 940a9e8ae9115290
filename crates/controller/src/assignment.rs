//! Deterministic placement by rendezvous (highest-random-weight) hashing.
//!
//! Every (item, server) pair gets a weight from a stable hash; an item goes to the
//! `replication` eligible servers of highest weight. Every controller computes the same
//! placement from the same inputs, with no stored state. Adding a server moves only the
//! items it now ranks first for (about 1/n of them); removing one moves only its items;
//! the others stay where they are. The hash is FNV-1a with a splitmix64 finish, fixed
//! here (not `std`'s hasher, whose output may change between Rust releases), so a
//! placement survives an upgrade of the controller.

use std::collections::{BTreeMap, BTreeSet};

/// A server as assignment sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerCandidate {
    pub id: String,
    pub tags: BTreeSet<String>,
    /// False while the server is being decommissioned: it keeps what it holds until the
    /// replicas are re-created elsewhere, but receives nothing new.
    pub accepting: bool,
}

impl ServerCandidate {
    pub fn new(id: impl Into<String>, tags: &[&str]) -> ServerCandidate {
        ServerCandidate {
            id: id.into(),
            tags: tags.iter().map(|tag| tag.to_string()).collect(),
            accepting: true,
        }
    }
}

/// The stable 64-bit weight of `item` on `server`.
fn weight(item: &str, server: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in item.bytes().chain([0xff]).chain(server.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    // splitmix64's finish spreads FNV's weak low bits.
    hash = (hash ^ (hash >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    hash = (hash ^ (hash >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^ (hash >> 31)
}

/// The servers `item` goes to: the `replication` accepting servers carrying `tag` with
/// the highest weight, best first. Fewer when fewer are eligible (none for no tag match).
pub fn place(
    item: &str,
    servers: &[ServerCandidate],
    tag: &str,
    replication: usize,
) -> Vec<String> {
    let mut ranked: Vec<(u64, &str)> = servers
        .iter()
        .filter(|server| server.accepting && server.tags.contains(tag))
        .map(|server| (weight(item, &server.id), server.id.as_str()))
        .collect();
    // Ties (astronomically rare) break by id, so the order is total.
    ranked.sort_unstable_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    ranked
        .into_iter()
        .take(replication)
        .map(|(_, id)| id.to_string())
        .collect()
}

/// Place every segment of `table` (keyed `{table}/{segment}` so tables spread
/// independently).
pub fn assign_segments<'a>(
    table: &str,
    segments: impl IntoIterator<Item = &'a str>,
    servers: &[ServerCandidate],
    tag: &str,
    replication: usize,
) -> BTreeMap<String, Vec<String>> {
    segments
        .into_iter()
        .map(|segment| {
            let key = format!("{table}/{segment}");
            (segment.to_string(), place(&key, servers, tag, replication))
        })
        .collect()
}

/// The consuming server of each stream partition of `table` (a partition is consumed
/// by one realtime server). Sticky: a partition stays with its `current` consumer while
/// that server is accepting and carries `tag` (moving a partition costs a seal and a
/// re-consume). Every other partition goes to the eligible server that consumes the
/// fewest of the table's partitions, ties broken by rendezvous rank, so a table's
/// partitions spread evenly and the choice is deterministic. Partitions are left out
/// when no server is eligible.
pub fn assign_partitions(
    table: &str,
    partitions: impl IntoIterator<Item = u32>,
    current: &BTreeMap<u32, String>,
    servers: &[ServerCandidate],
    tag: &str,
) -> BTreeMap<u32, String> {
    let eligible: Vec<&ServerCandidate> = servers
        .iter()
        .filter(|server| server.accepting && server.tags.contains(tag))
        .collect();
    let keeps = |server: &String| eligible.iter().any(|candidate| &candidate.id == server);
    let partitions: Vec<u32> = partitions.into_iter().collect();
    let mut load: BTreeMap<&str, usize> = eligible.iter().map(|s| (s.id.as_str(), 0)).collect();
    let mut assigned = BTreeMap::new();
    for partition in &partitions {
        if let Some(server) = current.get(partition).filter(|server| keeps(server)) {
            *load.entry(server.as_str()).or_default() += 1;
            assigned.insert(*partition, server.clone());
        }
    }
    for partition in partitions {
        if assigned.contains_key(&partition) {
            continue;
        }
        let key = format!("{table}#{partition}");
        let chosen = eligible
            .iter()
            .min_by(|a, b| {
                load[a.id.as_str()]
                    .cmp(&load[b.id.as_str()])
                    .then_with(|| weight(&key, &b.id).cmp(&weight(&key, &a.id)))
                    .then_with(|| a.id.cmp(&b.id))
            })
            .copied();
        if let Some(server) = chosen {
            *load.entry(server.id.as_str()).or_default() += 1;
            assigned.insert(partition, server.id.clone());
        }
    }
    assigned
}

#[cfg(test)]
mod tests {
    use super::*;

    fn servers(count: usize) -> Vec<ServerCandidate> {
        (0..count)
            .map(|i| ServerCandidate::new(format!("server-{i}"), &["historical"]))
            .collect()
    }

    fn segment_names(count: usize) -> Vec<String> {
        (0..count).map(|i| format!("lineitem_{i}")).collect()
    }

    fn load(assignment: &BTreeMap<String, Vec<String>>) -> BTreeMap<String, usize> {
        let mut load = BTreeMap::new();
        for replicas in assignment.values() {
            for server in replicas {
                *load.entry(server.clone()).or_insert(0) += 1;
            }
        }
        load
    }

    #[test]
    fn test_replicas_are_distinct_tagged_and_deterministic() {
        let mut pool = servers(4);
        pool.push(ServerCandidate::new("rt-0", &["realtime"]));
        let names = segment_names(50);
        let first = assign_segments(
            "t",
            names.iter().map(String::as_str),
            &pool,
            "historical",
            2,
        );
        let again = assign_segments(
            "t",
            names.iter().map(String::as_str),
            &pool,
            "historical",
            2,
        );
        assert_eq!(first, again, "the same inputs place the same way");
        for replicas in first.values() {
            assert_eq!(replicas.len(), 2);
            assert_ne!(replicas[0], replicas[1]);
            assert!(
                replicas.iter().all(|id| id.starts_with("server-")),
                "only tagged servers"
            );
        }
        // Fewer eligible servers than the replication: every one of them.
        assert_eq!(place("x", &pool, "realtime", 2), vec!["rt-0".to_string()]);
        assert!(place("x", &pool, "no-such-tag", 2).is_empty());
    }

    #[test]
    fn test_placement_is_balanced() {
        let names = segment_names(2_000);
        let assignment = assign_segments(
            "t",
            names.iter().map(String::as_str),
            &servers(4),
            "historical",
            2,
        );
        // 4,000 replicas over 4 servers: 1,000 each in expectation.
        for (server, count) in load(&assignment) {
            assert!((850..=1_150).contains(&count), "{server} holds {count}");
        }
    }

    #[test]
    fn test_adding_or_removing_a_server_moves_only_its_share() {
        let names = segment_names(2_000);
        let before = assign_segments(
            "t",
            names.iter().map(String::as_str),
            &servers(4),
            "historical",
            2,
        );
        let after = assign_segments(
            "t",
            names.iter().map(String::as_str),
            &servers(5),
            "historical",
            2,
        );
        let moved: usize = names
            .iter()
            .map(|name| {
                let old: BTreeSet<_> = before[name].iter().collect();
                after[name]
                    .iter()
                    .filter(|server| !old.contains(server))
                    .count()
            })
            .sum();
        // The new server takes about a fifth of the 4,000 replicas; nothing else moves.
        assert!((650..=950).contains(&moved), "moved {moved}");
        assert!(
            after
                .values()
                .flatten()
                .filter(|s| *s == "server-4")
                .count()
                == moved
        );
        // Decommissioning server-1: only its replicas move, each to a server it was not on.
        let mut draining = servers(4);
        draining[1].accepting = false;
        let drained = assign_segments(
            "t",
            names.iter().map(String::as_str),
            &draining,
            "historical",
            2,
        );
        for name in &names {
            let kept: Vec<_> = before[name].iter().filter(|s| *s != "server-1").collect();
            assert!(
                kept.iter().all(|s| drained[name].contains(s)),
                "{name}: others stay"
            );
            assert!(!drained[name].contains(&"server-1".to_string()));
        }
    }

    #[test]
    fn test_partitions_spread_evenly_stick_and_move_when_their_consumer_goes() {
        let pool = vec![
            ServerCandidate::new("rt-0", &["realtime"]),
            ServerCandidate::new("rt-1", &["realtime"]),
            ServerCandidate::new("hist-0", &["historical"]),
        ];
        let none = BTreeMap::new();
        let consumers = assign_partitions("events", 0..8, &none, &pool, "realtime");
        assert_eq!(consumers.len(), 8);
        let on = |assigned: &BTreeMap<u32, String>, id: &str| {
            assigned.values().filter(|server| *server == id).count()
        };
        assert_eq!((on(&consumers, "rt-0"), on(&consumers, "rt-1")), (4, 4));
        assert_eq!(
            consumers,
            assign_partitions("events", 0..8, &none, &pool, "realtime"),
            "deterministic"
        );
        // A third realtime server joins: nothing moves (sticky), new partitions go to
        // the least loaded server.
        let mut grown = pool.clone();
        grown.push(ServerCandidate::new("rt-2", &["realtime"]));
        let after_join = assign_partitions("events", 0..10, &consumers, &grown, "realtime");
        for (partition, server) in &consumers {
            assert_eq!(&after_join[partition], server);
        }
        assert_eq!(after_join[&8], "rt-2");
        assert_eq!(after_join[&9], "rt-2");
        // rt-0 dies: its partitions go to rt-1, rt-1's stay.
        let survivors = vec![pool[1].clone(), pool[2].clone()];
        let after = assign_partitions("events", 0..8, &consumers, &survivors, "realtime");
        assert!(after.values().all(|server| server == "rt-1"));
        // A decommissioned (not accepting) consumer gives its partitions up too.
        let mut draining = pool.clone();
        draining[0].accepting = false;
        let moved = assign_partitions("events", 0..8, &consumers, &draining, "realtime");
        assert!(moved.values().all(|server| server == "rt-1"));
        // No eligible server: no consumer.
        assert!(assign_partitions("events", 0..2, &none, &pool[2..], "realtime").is_empty());
    }
}
