//! Moving from one assignment to another without losing a segment: replicas are added
//! first, and a replica leaves only when every replica the target wants for its segment
//! serves it — so a segment never drops below the replicas it will end with, never to
//! zero, also when its servers die or are decommissioned mid-move. Additions are
//! throttled: at most [`RebalanceLimits::max_replicas_loading`] replicas may be assigned
//! and still loading at once, so a rebalance never floods the deep store or the servers.
//!
//! The controller calls [`next_assignment`] whenever the servers report progress (or
//! the target changes) and writes the result; servers load what is assigned to them and
//! drop what is not. Repeating this converges on the target.

use std::collections::{BTreeMap, BTreeSet};

/// Segment → the servers assigned to hold it (Pinot's "ideal state"), or, for what the
/// servers report, the servers serving it.
pub type Assignment = BTreeMap<String, BTreeSet<String>>;

/// How fast a rebalance may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RebalanceLimits {
    /// Replicas assigned but not yet serving, at most, across the table.
    pub max_replicas_loading: usize,
}

impl Default for RebalanceLimits {
    fn default() -> Self {
        RebalanceLimits {
            max_replicas_loading: 16,
        }
    }
}

fn serving_on<'a>(serving: &'a Assignment, segment: &str) -> Option<&'a BTreeSet<String>> {
    serving.get(segment)
}

/// The next assignment on the way from `current` to `target`, given what `serving`
/// reports. Segments absent from `target` are dropped from the assignment (the caller
/// decided they leave: a dropped table, retention).
pub fn next_assignment(
    target: &Assignment,
    current: &Assignment,
    serving: &Assignment,
    limits: RebalanceLimits,
) -> Assignment {
    let is_serving = |segment: &str, server: &str| {
        serving_on(serving, segment).is_some_and(|servers| servers.contains(server))
    };
    let mut next = Assignment::new();
    let mut loading: usize = current
        .iter()
        .filter(|(segment, _)| target.contains_key(*segment))
        .map(|(segment, servers)| {
            servers
                .iter()
                .filter(|server| !is_serving(segment, server))
                .count()
        })
        .sum();
    for (segment, wanted) in target {
        let mut assigned = current.get(segment).cloned().unwrap_or_default();
        // Add: the target's replicas this segment lacks, while the throttle allows.
        for server in wanted {
            if assigned.contains(server) {
                continue;
            }
            if loading >= limits.max_replicas_loading {
                break;
            }
            assigned.insert(server.clone());
            loading += 1;
        }
        // Remove: only when every wanted replica is assigned and serves (and there is
        // at least one): a server still serving a segment it is not assigned is about
        // to drop it, so it does not count.
        let wanted_all_serve = !wanted.is_empty()
            && wanted
                .iter()
                .all(|server| assigned.contains(server) && is_serving(segment, server));
        if wanted_all_serve {
            assigned.retain(|server| wanted.contains(server));
        }
        next.insert(segment.clone(), assigned);
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assignment::{ServerCandidate, assign_segments};
    use proptest::prelude::*;

    const REPLICATION: usize = 2;

    fn target_for(segments: &[String], servers: &[ServerCandidate]) -> Assignment {
        assign_segments(
            "t",
            segments.iter().map(String::as_str),
            servers,
            "historical",
            REPLICATION,
        )
        .into_iter()
        .map(|(segment, replicas)| (segment, replicas.into_iter().collect()))
        .collect()
    }

    fn pool(ids: &[&str]) -> Vec<ServerCandidate> {
        ids.iter()
            .map(|id| ServerCandidate::new(*id, &["historical"]))
            .collect()
    }

    /// The servers as a simulation: each tick every live server loads up to `rate` of
    /// the segments assigned to it and drops those no longer assigned.
    struct Cluster {
        serving: Assignment,
        dead: BTreeSet<String>,
        rate: usize,
    }

    impl Cluster {
        fn tick(&mut self, assigned: &Assignment) {
            let mut budget: BTreeMap<String, usize> = BTreeMap::new();
            for (segment, servers) in assigned {
                let serving = self.serving.entry(segment.clone()).or_default();
                for server in servers {
                    if self.dead.contains(server) || serving.contains(server) {
                        continue;
                    }
                    let used = budget.entry(server.clone()).or_insert(0);
                    if *used < self.rate {
                        *used += 1;
                        serving.insert(server.clone());
                    }
                }
                serving.retain(|server| servers.contains(server));
            }
            self.serving
                .retain(|segment, _| assigned.contains_key(segment));
        }

        fn serving_count(&self, segment: &str) -> usize {
            self.serving.get(segment).map_or(0, |servers| {
                servers.iter().filter(|s| !self.dead.contains(*s)).count()
            })
        }
    }

    /// Drive `current` to `target`; check the invariants at every step; return the steps.
    fn converge(
        target: &Assignment,
        mut current: Assignment,
        cluster: &mut Cluster,
        floor: usize,
    ) -> usize {
        let limits = RebalanceLimits {
            max_replicas_loading: 10,
        };
        for step in 1..=500 {
            current = next_assignment(target, &current, &cluster.serving, limits);
            let loading: usize = current
                .iter()
                .map(|(segment, servers)| {
                    servers
                        .iter()
                        .filter(|s| {
                            !cluster.dead.contains(*s)
                                && !cluster
                                    .serving
                                    .get(segment)
                                    .is_some_and(|on| on.contains(*s))
                        })
                        .count()
                })
                .sum();
            assert!(
                loading <= limits.max_replicas_loading,
                "step {step}: {loading} replicas loading"
            );
            cluster.tick(&current);
            for segment in target.keys() {
                let count = cluster.serving_count(segment);
                assert!(
                    count >= floor,
                    "step {step}: {segment} served by {count} < {floor}"
                );
            }
            if &current == target && &cluster.serving == target {
                return step;
            }
        }
        panic!("no convergence in 500 steps");
    }

    fn segments(count: usize) -> Vec<String> {
        (0..count).map(|i| format!("s{i:04}")).collect()
    }

    #[test]
    fn test_adding_a_server_moves_replicas_without_dropping_any() {
        let names = segments(200);
        let before = target_for(&names, &pool(&["a", "b", "c", "d"]));
        let after = target_for(&names, &pool(&["a", "b", "c", "d", "e"]));
        let mut cluster = Cluster {
            serving: before.clone(),
            dead: BTreeSet::new(),
            rate: 3,
        };
        let steps = converge(&after, before, &mut cluster, REPLICATION);
        assert!(steps > 1, "throttled: more than one step");
    }

    #[test]
    fn test_a_dead_server_is_replaced_and_every_segment_stays_served() {
        let names = segments(200);
        let before = target_for(&names, &pool(&["a", "b", "c", "d"]));
        let mut cluster = Cluster {
            serving: before.clone(),
            dead: BTreeSet::from(["b".to_string()]),
            rate: 5,
        };
        // b is gone: the target no longer names it; its segments keep their other replica.
        let after = target_for(&names, &pool(&["a", "c", "d"]));
        converge(&after, before, &mut cluster, 1);
        assert!(
            cluster
                .serving
                .values()
                .all(|servers| servers.len() == REPLICATION)
        );
    }

    #[test]
    fn test_a_decommissioned_server_keeps_serving_until_replaced() {
        let names = segments(200);
        let before = target_for(&names, &pool(&["a", "b", "c", "d"]));
        let mut draining = pool(&["a", "b", "c", "d", "e"]);
        draining[1].accepting = false;
        let after = target_for(&names, &draining);
        let mut cluster = Cluster {
            serving: before.clone(),
            dead: BTreeSet::new(),
            rate: 4,
        };
        // Full replication throughout: b serves until its replacement does.
        converge(&after, before, &mut cluster, REPLICATION);
        assert!(
            cluster
                .serving
                .values()
                .all(|servers| !servers.contains("b"))
        );
    }

    #[test]
    fn test_no_eligible_server_keeps_what_serves() {
        let current: Assignment =
            BTreeMap::from([("s".to_string(), BTreeSet::from(["a".to_string()]))]);
        let target: Assignment = BTreeMap::from([("s".to_string(), BTreeSet::new())]);
        let next = next_assignment(&target, &current, &current, RebalanceLimits::default());
        assert_eq!(
            next, current,
            "an empty target never strips the last replica"
        );
    }

    fn arbitrary_assignment() -> impl Strategy<Value = Assignment> {
        let servers =
            prop::collection::btree_set(prop::sample::select(vec!["a", "b", "c", "d"]), 0..4);
        prop::collection::btree_map(0u8..12, servers, 0..12).prop_map(|map| {
            map.into_iter()
                .map(|(segment, servers)| {
                    (
                        format!("s{segment}"),
                        servers.into_iter().map(String::from).collect(),
                    )
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn test_a_step_never_removes_the_last_serving_replica(
            target in arbitrary_assignment(),
            current in arbitrary_assignment(),
            serving in arbitrary_assignment(),
            limit in 0usize..6,
        ) {
            let next = next_assignment(&target, &current, &serving, RebalanceLimits { max_replicas_loading: limit });
            for (segment, servers) in &next {
                let before = current.get(segment).cloned().unwrap_or_default();
                let served_before: BTreeSet<_> = before
                    .iter()
                    .filter(|s| serving.get(segment).is_some_and(|on| on.contains(*s)))
                    .collect();
                let served_after = servers
                    .iter()
                    .filter(|s| serving.get(segment).is_some_and(|on| on.contains(*s)))
                    .count();
                // Whatever served and was assigned before still does, unless the
                // target's replicas all serve.
                if !served_before.is_empty() {
                    prop_assert!(served_after >= 1, "{segment}: lost its last serving replica");
                }
                // Only target replicas are added.
                for server in servers.difference(&before) {
                    prop_assert!(target[segment].contains(server));
                }
            }
            // Segments outside the target leave.
            prop_assert!(next.keys().all(|segment| target.contains_key(segment)));
        }
    }
}
