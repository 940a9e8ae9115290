//! Cluster coordination against a real etcd: the catalog store passes the same
//! conformance suite as the file store; membership leases, leader election with fencing
//! and watched mirrors behave under kills, partitions, outages and compaction.
//!
//! Partitions are made with a TCP proxy of our own between one client and etcd (cut and
//! restored by the test); outages by killing etcd and starting it on the same data.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tessera_coordination::{
    Candidate, Error, EtcdConfig, EtcdMetaStore, EtcdSession, LeaderRecord, NodeInfo, NodeRole,
    PrefixMirror, current_leader, live_nodes, register,
};
use tessera_integration_tests::etcd::{CuttableProxy, Etcd};
use tessera_integration_tests::server::free_port;
use tessera_integration_tests::wait_until;
use tessera_meta::{Catalog, MetaStore, SegmentRecord, SegmentState, TableRecord, Transaction};

fn session(endpoint: &str, cluster: &str) -> EtcdSession {
    let mut config = EtcdConfig::new(vec![endpoint.to_string()], cluster);
    config.request_timeout_ms = 2_000;
    EtcdSession::connect(&config).expect("etcd answers")
}

#[test]
fn test_etcd_meta_store_passes_the_conformance_suite() {
    let etcd = Etcd::start();
    let store = EtcdMetaStore::new(session(&etcd.endpoint(), "conformance"));
    tessera_meta::conformance::check_meta_store(Arc::new(store)).expect("conformance");
    // The namespace isolates clusters sharing one etcd.
    let other = EtcdMetaStore::new(session(&etcd.endpoint(), "other"));
    assert!(other.list("").expect("list").is_empty());
}

fn segment(table: &str, name: &str, sequence: u32) -> SegmentRecord {
    SegmentRecord::consuming(table, name, 0, sequence, u64::from(sequence) * 10, 0)
}

#[test]
fn test_catalog_on_etcd_keeps_one_key_per_record() {
    let etcd = Etcd::start();
    let store: Arc<dyn MetaStore> = Arc::new(EtcdMetaStore::new(session(&etcd.endpoint(), "c")));
    let catalog = Catalog::new(store.clone());
    catalog
        .put_schema("events", r#"{"schemaName":"events"}"#)
        .expect("schema");
    let record = TableRecord {
        name: "events".into(),
        table_type: "REALTIME".into(),
        schema_name: "events".into(),
        config: serde_json::json!({"tableName": "events"}),
        created_ms: 1,
        deleted_ms: None,
    };
    catalog.create_table(&record).expect("create");
    // More segments than etcd allows operations in one transaction (128).
    for sequence in 0..200 {
        catalog
            .add_segment(&segment(
                "events",
                &format!("events__0__{sequence}"),
                sequence,
            ))
            .expect("add segment");
    }
    let mut done = segment("events", "events__0__199", 199);
    done.state = SegmentState::Done;
    done.end_offset = Some(2_000);
    catalog
        .commit_segment(&done, Some(&segment("events", "events__0__200", 200)))
        .expect("commit");
    assert_eq!(catalog.segments("events").expect("segments").len(), 201);
    // One etcd key per record.
    assert_eq!(store.list("segments/events/").expect("list").len(), 201);
    assert!(store.get("tables/events").expect("get").is_some());
    assert!(store.get("schemas/events").expect("get").is_some());
    // Drop, then re-create: the old segments go in one prefix delete.
    catalog.set_table_deleted("events", Some(5)).expect("drop");
    catalog
        .create_table(&record)
        .expect("re-create a dropped table");
    assert!(catalog.segments("events").expect("segments").is_empty());
    catalog
        .add_segment(&segment("events", "events__0__0", 0))
        .expect("add");
    catalog.set_table_deleted("events", Some(6)).expect("drop");
    catalog.purge_table("events").expect("purge");
    assert!(store.list("segments/").expect("list").is_empty());
    assert!(catalog.table("events").expect("read").is_none());
}

#[test]
fn test_bad_etcd_settings_are_clear_errors() {
    // Nothing listens on this port.
    let endpoint = format!("http://127.0.0.1:{}", free_port());
    let mut config = EtcdConfig::new(vec![endpoint.clone()], "c");
    config.request_timeout_ms = 1_000;
    let started = Instant::now();
    let error = EtcdSession::connect(&config).expect_err("no etcd there");
    assert!(matches!(error, Error::Unavailable { .. }), "{error}");
    assert!(
        error.to_string().contains(&endpoint),
        "names the endpoint: {error}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "fails fast: {:?}",
        started.elapsed()
    );
    for (endpoints, cluster) in [
        (vec![], "c"),
        (vec!["not an address".to_string()], "c"),
        (vec!["https://127.0.0.1:2379".to_string()], "c"),
        (vec!["127.0.0.1:2379".to_string()], "a/b"),
    ] {
        let error = EtcdSession::connect(&EtcdConfig::new(endpoints.clone(), cluster))
            .expect_err("a bad setting");
        assert!(
            matches!(error, Error::Config(_)),
            "{endpoints:?} {cluster}: {error}"
        );
    }
}

#[test]
fn test_membership_leases_partitions_and_duplicate_ids() {
    let etcd = Etcd::start();
    let observer = session(&etcd.endpoint(), "m");
    let proxy = CuttableProxy::start(&etcd.address());
    let partitioned = session(&proxy.endpoint(), "m");
    let ttl = Duration::from_secs(2);

    let mut info = NodeInfo::new("server-1", NodeRole::Server);
    info.tags = vec!["historical".into()];
    info.flight_address = Some("127.0.0.1:9001".into());
    let registration = register(&partitioned, &info, ttl).expect("register");
    let nodes = live_nodes(&observer).expect("nodes");
    assert_eq!(nodes, vec![info.clone()]);

    // A second process with the same id is refused (after waiting out one TTL for a
    // previous incarnation to expire), naming the holder.
    let duplicate = NodeInfo::new("server-1", NodeRole::Server);
    let error = register(&observer, &duplicate, ttl).expect_err("a duplicate id");
    assert!(matches!(error, Error::NodeIdTaken { .. }), "{error}");
    assert!(error.to_string().contains("server-1"), "{error}");

    // Partitioned from etcd (as good as killed, for etcd): gone within the TTL + 2 s.
    proxy.cut();
    let gone = wait_until(
        "the partitioned node disappears",
        ttl + Duration::from_secs(3),
        || live_nodes(&observer).is_ok_and(|nodes| nodes.is_empty()),
    );
    eprintln!("partitioned node left the membership after {gone:?}");
    wait_until(
        "the node sees its lease lost",
        Duration::from_secs(5),
        || !registration.is_registered(),
    );
    // Back: it registers again by itself, under a new lease.
    proxy.restore();
    wait_until("the node registers again", Duration::from_secs(10), || {
        registration.is_registered()
            && live_nodes(&observer).is_ok_and(|nodes| nodes == [info.clone()])
    });
    assert_eq!(registration.registrations(), 2);

    // A clean leave removes the node at once.
    drop(registration);
    assert!(live_nodes(&observer).expect("nodes").is_empty());
    // The id is free again.
    let again = register(&observer, &duplicate, ttl).expect("the id is free");
    assert_eq!(live_nodes(&observer).expect("nodes"), vec![duplicate]);
    drop(again);
}

#[test]
fn test_election_failover_and_fencing_of_a_deposed_leader() {
    let etcd = Etcd::start();
    let proxy = CuttableProxy::start(&etcd.address());
    let session_a = session(&proxy.endpoint(), "e");
    let session_b = session(&etcd.endpoint(), "e");
    let ttl = Duration::from_secs(2);
    let record = |id: &str| LeaderRecord {
        node_id: id.into(),
        http_address: Some(format!("{id}:9000")),
    };
    let candidate_a = Candidate::new(session_a.clone(), record("a"), ttl);
    let candidate_b = Candidate::new(session_b.clone(), record("b"), ttl);
    let leader_a = candidate_a
        .campaign(Some(Duration::from_secs(10)))
        .expect("a leads");
    let store_a = leader_a.fenced(Arc::new(EtcdMetaStore::new(session_a.clone())));
    store_a
        .commit(Transaction::new().put("tables/t", "written by a"))
        .expect("the leader writes");
    let (current, term) = current_leader(&session_b).expect("read").expect("a leader");
    assert_eq!((current.node_id.as_str(), term), ("a", leader_a.term()));

    // b stands by; it does not lead while a does.
    let standby = std::thread::spawn(move || {
        let leadership = candidate_b.campaign(Some(Duration::from_secs(30)));
        (leadership, Instant::now())
    });
    std::thread::sleep(ttl + Duration::from_secs(1));
    assert!(
        !standby.is_finished(),
        "the standby waits while the leader lives"
    );

    // a is cut off from etcd (a paused or partitioned process): b leads within 15 s.
    let cut_at = Instant::now();
    proxy.cut();
    let (leader_b, elected_at) = standby.join().expect("standby thread");
    let leader_b = leader_b.expect("b leads");
    let failover = elected_at.duration_since(cut_at);
    eprintln!("standby took over {failover:?} after the leader was cut off");
    assert!(
        failover < Duration::from_secs(15),
        "failover took {failover:?}"
    );
    assert!(leader_b.term() > leader_a.term());
    assert!(
        leader_a.wait_lost(Duration::from_secs(5)),
        "a learns it lost the lease"
    );

    // a comes back believing nothing happened: every write it makes is refused.
    proxy.restore();
    let late = store_a.commit(Transaction::new().put("tables/t", "late write by a"));
    assert!(
        matches!(late, Err(tessera_meta::Error::Fenced(_))),
        "{late:?}"
    );
    let store_b = leader_b.fenced(Arc::new(EtcdMetaStore::new(session_b.clone())));
    store_b
        .commit(Transaction::new().put("tables/t", "written by b"))
        .expect("the new leader writes");
    let stored = store_b.get("tables/t").expect("read").map(|v| v.value);
    assert_eq!(stored.as_deref(), Some("written by b"));

    // b resigns (drop revokes its lease): a wins the next campaign at once.
    drop(leader_b);
    let resigned_at = Instant::now();
    let leader_a2 = candidate_a
        .campaign(Some(Duration::from_secs(10)))
        .expect("a leads again");
    assert!(
        resigned_at.elapsed() < Duration::from_secs(2),
        "{:?}",
        resigned_at.elapsed()
    );
    assert!(
        leader_a2
            .fenced(Arc::new(EtcdMetaStore::new(session_a)))
            .still_leads()
            .expect("read")
    );
}

#[test]
fn test_mirror_follows_changes_through_partitions_compaction_and_outages() {
    let mut etcd = Etcd::start();
    let writer: Arc<dyn MetaStore> = Arc::new(EtcdMetaStore::new(session(&etcd.endpoint(), "w")));
    let proxy = CuttableProxy::start(&etcd.address());
    let mirror_session = session(&proxy.endpoint(), "w");
    for i in 0..5 {
        writer
            .commit(Transaction::new().put(format!("tables/t{i}"), format!("v{i}")))
            .expect("write");
    }
    writer
        .commit(Transaction::new().put("nodes/x", "outside the prefix"))
        .expect("write");
    let mirror = PrefixMirror::start(&mirror_session, "tables/").expect("mirror");
    let matches_store = |mirror: &PrefixMirror| {
        let listed: Vec<_> = writer.list("tables/").expect("list");
        let snapshot = mirror.snapshot();
        let mirrored: Vec<_> = snapshot.entries.clone().into_iter().collect();
        listed == mirrored
    };
    assert!(matches_store(&mirror), "the first full read");

    // Live changes arrive through the watch.
    writer
        .commit(
            Transaction::new()
                .put("tables/t9", "new")
                .delete("tables/t0"),
        )
        .expect("write");
    let revision = writer
        .get("tables/t9")
        .expect("read")
        .map_or(0, |v| v.version) as i64;
    assert!(mirror.wait_for_revision(revision, Duration::from_secs(5)));
    assert!(matches_store(&mirror), "after live changes");

    // Cut off while the prefix changes and etcd compacts its history: the watch cannot
    // resume from its revision, so the mirror reads the prefix in full.
    proxy.cut();
    let frozen = mirror.snapshot();
    writer
        .commit(
            Transaction::new()
                .put("tables/t5", "while cut")
                .delete("tables/t1"),
        )
        .expect("write");
    writer
        .commit(Transaction::new().delete_prefix("tables/t2"))
        .expect("write");
    let compacted = etcd.compact_now();
    assert_eq!(
        mirror.snapshot(),
        frozen,
        "a cut-off mirror keeps what it knew"
    );
    proxy.restore();
    assert!(
        mirror.wait_for_revision(compacted, Duration::from_secs(15)),
        "caught up"
    );
    assert!(matches_store(&mirror), "after the compaction");
    assert_eq!(mirror.full_reads(), 2, "one full read after the compaction");

    // etcd down and back on the same data: the watch resumes from its revision.
    etcd.stop();
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        mirror.snapshot().entries.contains_key("tables/t9"),
        "serves while etcd is down"
    );
    etcd.start_again();
    writer
        .commit(Transaction::new().put("tables/after-outage", "x"))
        .expect("write after the outage");
    let revision = writer
        .get("tables/after-outage")
        .expect("read")
        .map_or(0, |v| v.version);
    assert!(
        mirror.wait_for_revision(revision as i64, Duration::from_secs(15)),
        "resumed"
    );
    assert!(matches_store(&mirror), "after the outage");
    assert_eq!(
        mirror.full_reads(),
        2,
        "resumed from its revision, no full read"
    );
}
