//! Partial results survive the Arrow IPC wire format: for every aggregate state and
//! selection shape, leaf partials encoded, decoded and merged give the same answer as
//! merging them in memory; and a stream of another version or kind is rejected.

mod common;

use tessera_query::engine::plan_for;
use tessera_query::leaf::{PartialRows, execute_segment};
use tessera_query::merge::{finish, merge};
use tessera_query::{QueryOptions, partial_ipc};

const QUERIES: &[&str] = &[
    "SELECT COUNT(*), COUNT(n), SUM(n), SUM(r), AVG(r), MIN(c), MAX(ts), MIN(r), MAX(i) FROM t",
    "SELECT c, COUNT(DISTINCT s), COUNT(DISTINCT n), DISTINCTCOUNT(ts), DISTINCTCOUNTHLL(b), PERCENTILE(r, 90), PERCENTILETDIGEST(n, 50), MINMAXRANGE(f) FROM t GROUP BY c ORDER BY c",
    "SELECT DATE_TRUNC('day', ts) AS d, flag, SUM(n) FILTER (WHERE c = 'beta') FROM t GROUP BY d, flag ORDER BY d, flag LIMIT 20",
    "SELECT id, s, m, r, ts, flag FROM t WHERE n > 3 ORDER BY r DESC NULLS LAST, id LIMIT 25 OFFSET 3",
    "SELECT id, m FROM t WHERE m = 'beta' LIMIT 7",
    "SELECT COUNT(*) FROM t WHERE id < 0",
];

#[test]
fn encode_decode_merge_equals_in_memory_merge() {
    let (table, _) = common::table();
    for sql in QUERIES {
        let plan =
            plan_for(sql, QueryOptions::default(), std::slice::from_ref(table)).expect("plans");
        let partials: Vec<_> = table
            .segments
            .iter()
            .map(|s| execute_segment(&plan, s.as_ref(), None).expect("runs"))
            .collect();
        let direct =
            finish(&plan, merge(&plan, partials.clone()).expect("merges")).expect("finishes");
        let shipped: Vec<_> = partials
            .iter()
            .map(|p| {
                let bytes = partial_ipc::encode(&plan, p).expect("encodes");
                partial_ipc::decode(&plan, &bytes).expect("decodes")
            })
            .collect();
        // The sorted flag travels: partials sorted in memory arrive sorted.
        for (sent, received) in partials.iter().zip(&shipped) {
            if let (PartialRows::Aggregation(a), PartialRows::Aggregation(b)) =
                (&sent.rows, &received.rows)
            {
                assert_eq!(a.sorted, b.sorted, "{sql}");
            }
        }
        let merged = merge(&plan, shipped).expect("merges");
        assert_eq!(merged.stats.total_docs, 2200, "{sql}");
        let via_wire = finish(&plan, merged).expect("finishes");
        assert_eq!(
            format!("{:?}", via_wire.rows),
            format!("{:?}", direct.rows),
            "{sql}"
        );
    }
}

#[test]
fn foreign_streams_are_rejected() {
    let (table, _) = common::table();
    let aggregation = plan_for(
        "SELECT COUNT(*) FROM t",
        QueryOptions::default(),
        std::slice::from_ref(table),
    )
    .expect("plans");
    let selection = plan_for(
        "SELECT id FROM t",
        QueryOptions::default(),
        std::slice::from_ref(table),
    )
    .expect("plans");
    let partial = execute_segment(&aggregation, table.segments[0].as_ref(), None).expect("runs");
    let bytes = partial_ipc::encode(&aggregation, &partial).expect("encodes");
    let error = partial_ipc::decode(&selection, &bytes).expect_err("kind mismatch");
    assert!(
        error.message.contains("does not match"),
        "{}",
        error.message
    );
    assert!(partial_ipc::decode(&aggregation, &bytes[..bytes.len() / 2]).is_err());
    assert!(partial_ipc::decode(&aggregation, b"not arrow").is_err());
}

#[test]
fn a_false_sorted_claim_is_checked_not_trusted() {
    let (table, _) = common::table();
    let sql = "SELECT c, COUNT(*) FROM t GROUP BY c ORDER BY c";
    let plan = plan_for(sql, QueryOptions::default(), std::slice::from_ref(table)).expect("plans");
    let mut partial = execute_segment(&plan, table.segments[0].as_ref(), None).expect("runs");
    let PartialRows::Aggregation(groups) = &mut partial.rows else {
        panic!("aggregation partial expected");
    };
    assert!(groups.sorted && groups.keys.len() > 2);
    // Out of key order but still claiming to be sorted.
    let reversed: Vec<usize> = (0..groups.keys.len()).rev().collect();
    groups.reorder(&reversed);
    let bytes = partial_ipc::encode(&plan, &partial).expect("encodes");
    let decoded = partial_ipc::decode(&plan, &bytes).expect("decodes");
    let PartialRows::Aggregation(groups) = decoded.rows else {
        panic!("aggregation partial expected");
    };
    assert!(!groups.sorted);
}

#[test]
fn a_partial_of_another_key_shape_is_an_error_not_a_merge() {
    let (table, _) = common::table();
    let sql = "SELECT c, COUNT(*) FROM t GROUP BY c";
    let plan = plan_for(sql, QueryOptions::default(), std::slice::from_ref(table)).expect("plans");
    let good = execute_segment(&plan, table.segments[0].as_ref(), None).expect("runs");
    let mut bad = execute_segment(&plan, table.segments[1].as_ref(), None).expect("runs");
    if let PartialRows::Aggregation(groups) = &mut bad.rows {
        groups.keys.make_rows();
        if let tessera_query::group_keys::GroupKeys::Rows(rows) = &mut groups.keys {
            for key in rows {
                key.push(tessera_query::types::Scalar::Long(1));
            }
        }
    }
    let error = merge(&plan, vec![good, bad]).expect_err("shape mismatch");
    assert!(
        error.message.contains("has 2 values, the plan groups by 1"),
        "{}",
        error.message
    );
}
