//! Spreading a table's partitions over processes: `RealtimeTable::start_assigned` and
//! `assign` hand a partition from one consumer to the next with every row committed
//! once (a generator stream, the file catalog and a local deep store).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tessera_config::{Schema, TableConfig};
use tessera_meta::{Catalog, FileMetaStore, SegmentState, TableRecord};
use tessera_storage::DeepStore;

use super::{Clock, RealtimeContext, RealtimeTable, SegmentSet, ServedSegment};

const SCHEMA: &str = r#"{"schemaName": "g",
  "dimensionFieldSpecs": [{"name": "k", "dataType": "STRING"}],
  "metricFieldSpecs": [{"name": "v", "dataType": "LONG"}],
  "dateTimeFieldSpecs": [{"name": "ts", "dataType": "TIMESTAMP", "format": "1:MILLISECONDS:EPOCH", "granularity": "1:MILLISECONDS"}]}"#;
const TABLE: &str = r#"{"tableName": "g", "tableType": "REALTIME", "segmentsConfig": {"timeColumnName": "ts"},
  "tableIndexConfig": {"streamConfigs": {"streamType": "generator", "stream.generator.partitions": "4",
    "stream.generator.rows.per.second": "2000", "realtime.segment.flush.threshold.rows": "100000"}}}"#;

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "{what} within 20 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Partitions with a consuming segment holding rows in `segments`.
fn consuming_partitions(segments: &SegmentSet) -> BTreeSet<u32> {
    segments
        .list()
        .iter()
        .filter_map(|segment| match segment {
            ServedSegment::Consuming(consuming) if consuming.num_rows() > 0 => {
                Some(consuming.identity().partition)
            }
            _ => None,
        })
        .collect()
}

#[test]
fn test_assigned_partitions_move_between_consumers_exactly_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let store = FileMetaStore::open(&dir.path().join("meta")).expect("meta store");
    let catalog = Catalog::new(Arc::new(store));
    std::fs::create_dir_all(dir.path().join("deep")).expect("deep store dir");
    let deep_store =
        DeepStore::open(&dir.path().join("deep").display().to_string()).expect("deep store");
    let schema = Schema::from_json(SCHEMA).expect("schema").value;
    let config = TableConfig::from_json(TABLE, &schema).expect("table").value;
    catalog.put_schema("g", SCHEMA).expect("schema record");
    catalog
        .create_table(&TableRecord {
            name: "g".into(),
            table_type: "REALTIME".into(),
            schema_name: "g".into(),
            config: serde_json::from_str(TABLE).expect("json"),
            created_ms: 0,
            deleted_ms: None,
        })
        .expect("table record");
    let context = |name: &str| RealtimeContext {
        catalog: catalog.clone(),
        deep_store: deep_store.clone(),
        runtime: runtime.handle().clone(),
        data_dir: dir.path().join(name),
        clock: Clock::system(),
    };

    // Two consumers split the four partitions.
    let (first_segments, second_segments) = (
        Arc::new(SegmentSet::default()),
        Arc::new(SegmentSet::default()),
    );
    let first = RealtimeTable::start_assigned(
        context("a"),
        &schema,
        &config,
        first_segments.clone(),
        &BTreeSet::from([0, 1]),
    )
    .expect("first consumer");
    let second = RealtimeTable::start_assigned(
        context("b"),
        &schema,
        &config,
        second_segments.clone(),
        &BTreeSet::from([2, 3]),
    )
    .expect("second consumer");
    assert_eq!(first.consumed_partitions(), BTreeSet::from([0, 1]));
    wait_until("both consume their partitions", || {
        consuming_partitions(&first_segments) == BTreeSet::from([0, 1])
            && consuming_partitions(&second_segments) == BTreeSet::from([2, 3])
    });

    // Partition 1 moves: the first consumer seals and commits it, then the second takes
    // it from where that commit ended.
    first.assign(&BTreeSet::from([0])).expect("release");
    wait_until("partition 1 released", || {
        first.consumed_partitions() == BTreeSet::from([0])
    });
    assert!(!consuming_partitions(&first_segments).contains(&1));
    let committed: Vec<_> = catalog
        .segments("g")
        .expect("segments")
        .into_iter()
        .filter(|s| s.partition == 1 && s.state == SegmentState::Done)
        .collect();
    assert_eq!(
        committed.len(),
        1,
        "the released rows are committed once: {committed:?}"
    );
    let handed_at = committed[0].end_offset.expect("an end offset");
    assert!(handed_at > 0);
    second
        .assign(&BTreeSet::from([1, 2, 3]))
        .expect("take over");
    wait_until("the second consumer consumes partition 1", || {
        consuming_partitions(&second_segments).contains(&1)
    });
    let resumed = second_segments
        .list()
        .into_iter()
        .find_map(|segment| match segment {
            ServedSegment::Consuming(consuming) if consuming.identity().partition == 1 => {
                Some(consuming.identity().start_offset)
            }
            _ => None,
        })
        .expect("a consuming segment of partition 1");
    assert_eq!(resumed, handed_at, "resumed where the commit ended");
    first.stop();
    second.stop();
}
