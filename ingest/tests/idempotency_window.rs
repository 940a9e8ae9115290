//! An `Idempotency-Key` is remembered for the table's window
//! (`tessera.idempotency.window`), in memory and in its committed segment's catalog
//! record, and forgotten after it — in the catalog too — on the table's clock: here a
//! manual one, so the window passes at a step of the test, without a sleep.

use std::time::{Duration, Instant};

mod common;

use tessera_ingest::realtime::RealtimeTable;
use tessera_meta::{Catalog, SegmentRecord, SegmentState};

const SCHEMA: &str = r#"{"schemaName": "k",
  "dimensionFieldSpecs": [{"name": "id", "dataType": "LONG"}],
  "dateTimeFieldSpecs": [{"name": "ts", "dataType": "TIMESTAMP", "format": "1:MILLISECONDS:EPOCH", "granularity": "1:MILLISECONDS"}]}"#;
const TABLE: &str = r#"{"tableName": "k", "tableType": "REALTIME", "segmentsConfig": {"timeColumnName": "ts"},
  "tableIndexConfig": {"streamConfigs": {"streamType": "push", "stream.push.partitions": "1",
    "realtime.segment.flush.threshold.rows": "10",
    "tessera.idempotency.window": "1h"}}}"#;

use common::{START_MS, rows};

fn done(catalog: &Catalog) -> Vec<SegmentRecord> {
    let mut records: Vec<SegmentRecord> = catalog
        .segments("k")
        .expect("segments")
        .into_iter()
        .filter(|s| s.state == SegmentState::Done)
        .collect();
    records.sort_by_key(|s| s.sequence);
    records
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn test_idempotency_keys_are_forgotten_after_their_window_in_memory_and_in_the_catalog() {
    let harness = common::ManualClockTable::new("k", SCHEMA, TABLE, START_MS);
    let (catalog, clock) = (&harness.catalog, &harness.clock);
    let start = || harness.start();
    // Whether a push of `n` rows with `key` was a duplicate.
    let duplicate = |table: &RealtimeTable, first: u64, key: &str| -> bool {
        let outcome = table
            .push(rows(first, 10), Some(key.to_string()))
            .expect("push");
        outcome.ack.expect("acknowledged").duplicate
    };

    // "a" fills segment 0, which seals with "a" in its catalog record.
    let table = start();
    assert!(!duplicate(&table, 0, "a"), "the first push of a is applied");
    wait_until("segment 0 to commit", || done(catalog).len() == 1);
    assert_eq!(done(catalog)[0].idempotency_keys.get("a"), Some(&10));
    assert!(duplicate(&table, 0, "a"), "a retry within the window");
    // After a restart the key comes back from the catalog.
    table.stop();
    let table = start();
    assert!(
        duplicate(&table, 0, "a"),
        "a retry within the window, restarted"
    );

    // 61 minutes on, "b" fills segment 1: its commit clears segment 0's keys in the
    // catalog, and the rotation forgets "a" in memory.
    clock.advance(Duration::from_secs(61 * 60));
    assert!(
        !duplicate(&table, 10, "b"),
        "the first push of b is applied"
    );
    wait_until("segment 0's keys to be cleared", || {
        let records = done(catalog);
        records.len() == 2 && records[0].idempotency_keys.is_empty()
    });
    assert_eq!(done(catalog)[1].idempotency_keys.get("b"), Some(&10));
    assert!(
        !duplicate(&table, 20, "a"),
        "a retry after the window is a new request"
    );
    // Its rows fill segment 2: the count below reads the catalog, so wait for the
    // commit (a stop before it leaves the segment to recovery, which a loaded machine
    // may not finish before the last stop).
    wait_until("segment 2 to commit", || done(catalog).len() == 3);
    // "b" is still within its window, across a restart.
    table.stop();
    let table = start();
    assert!(duplicate(&table, 10, "b"), "b within its window, restarted");
    table.stop();
    assert_eq!(
        done(catalog).iter().map(|s| s.num_docs).sum::<u64>()
            + catalog
                .segments("k")
                .expect("segments")
                .iter()
                .filter(|s| s.state == SegmentState::Consuming)
                .map(|s| s.num_docs)
                .sum::<u64>(),
        30,
        "rows: a, b, and a again after its window"
    );
}
