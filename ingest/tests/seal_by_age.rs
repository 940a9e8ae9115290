//! A consuming segment seals by age (`realtime.segment.flush.threshold.time`) on the
//! table's clock: here a manual one, so the seal happens at the step that moves the
//! clock past the threshold — not before it, and without a sleep — and the segments'
//! names and creation times are the clock's.

use std::time::{Duration, Instant};

mod common;

use tessera_meta::{Catalog, SegmentRecord, SegmentState};

const SCHEMA: &str = r#"{"schemaName": "p",
  "dimensionFieldSpecs": [{"name": "id", "dataType": "LONG"}],
  "dateTimeFieldSpecs": [{"name": "ts", "dataType": "TIMESTAMP", "format": "1:MILLISECONDS:EPOCH", "granularity": "1:MILLISECONDS"}]}"#;
const TABLE: &str = r#"{"tableName": "p", "tableType": "REALTIME", "segmentsConfig": {"timeColumnName": "ts"},
  "tableIndexConfig": {"streamConfigs": {"streamType": "push", "stream.push.partitions": "1",
    "realtime.segment.flush.threshold.rows": "1000000",
    "realtime.segment.flush.threshold.time": "1h"}}}"#;

use common::{START_MS, rows};

fn segments(catalog: &Catalog, state: SegmentState) -> Vec<SegmentRecord> {
    let mut records: Vec<SegmentRecord> = catalog
        .segments("p")
        .expect("segments")
        .into_iter()
        .filter(|s| s.state == state)
        .collect();
    records.sort_by_key(|s| s.sequence);
    records
}

#[test]
fn test_a_consuming_segment_seals_when_the_clock_passes_its_flush_time() {
    let harness = common::ManualClockTable::new("p", SCHEMA, TABLE, START_MS);
    let (catalog, clock) = (&harness.catalog, &harness.clock);
    let table = harness.start();
    let push = |first: u64| {
        let outcome = table.push(rows(first, 10), None).expect("push");
        assert!(outcome.ack.is_some(), "the push is acknowledged");
    };

    // Two pushes, the clock 59 minutes on between them: the partition's loop checks
    // its thresholds after each group it applies, so once the second push is
    // acknowledged the first group's check has run, and nothing sealed.
    push(0);
    clock.advance(Duration::from_secs(59 * 60));
    push(10);
    push(20);
    assert!(
        segments(catalog, SegmentState::Done).is_empty(),
        "no seal before 1 h"
    );
    let consuming = segments(catalog, SegmentState::Consuming);
    assert_eq!(consuming.len(), 1);
    assert_eq!(consuming[0].name, "p__0__0__20260101T0000Z");
    assert_eq!(consuming[0].created_ms, START_MS);

    // One more minute: the segment is an hour old and seals.
    clock.advance(Duration::from_secs(60));
    let deadline = Instant::now() + Duration::from_secs(30);
    while segments(catalog, SegmentState::Done).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the aged segment seals within 30 s"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let done = segments(catalog, SegmentState::Done);
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].name, "p__0__0__20260101T0000Z");
    assert_eq!(done[0].num_docs, 30);

    // Its successor is named and dated by the clock, and is not due for another hour.
    push(30);
    push(40);
    let consuming = segments(catalog, SegmentState::Consuming);
    assert_eq!(consuming.len(), 1);
    assert_eq!(consuming[0].name, "p__0__1__20260101T0100Z");
    assert_eq!(consuming[0].created_ms, START_MS + 3_600_000);
    assert_eq!(segments(catalog, SegmentState::Done).len(), 1);
    table.stop();
}
