use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tessera_config::{Schema, TableConfig};
use tessera_segment::{SegmentReader, Value};

use super::{MutableSegment, SegmentIdentity};

const SCHEMA: &str = r#"{"schemaName": "e",
  "dimensionFieldSpecs": [{"name": "k", "dataType": "STRING"}, {"name": "tags", "dataType": "STRING", "singleValueField": false}],
  "metricFieldSpecs": [{"name": "v", "dataType": "LONG"}],
  "dateTimeFieldSpecs": [{"name": "ts", "dataType": "TIMESTAMP", "format": "1:MILLISECONDS:EPOCH", "granularity": "1:MILLISECONDS"}]}"#;
const TABLE: &str = r#"{"tableName": "e", "tableType": "REALTIME", "segmentsConfig": {"timeColumnName": "ts"},
  "tableIndexConfig": {"invertedIndexColumns": ["k"], "noDictionaryColumns": ["v"]}}"#;

fn segment() -> Arc<MutableSegment> {
    let schema = Schema::from_json(SCHEMA).expect("schema").value;
    let table = TableConfig::from_json(TABLE, &schema).expect("table").value;
    let identity = SegmentIdentity {
        name: "e__0__0".into(),
        table: "e".into(),
        partition: 0,
        start_offset: 100,
        created_ms: 0,
    };
    Arc::new(MutableSegment::new(identity, &schema, &table))
}

fn row(i: i64) -> Vec<Value> {
    vec![
        if i % 5 == 0 {
            Value::Null
        } else {
            Value::String(format!("k{}", i % 7))
        },
        Value::Array(vec![
            Value::String("a".into()),
            Value::String(format!("t{}", i % 3)),
        ]),
        Value::Long(i),
        Value::Timestamp(1_000 + i),
    ]
}

#[test]
fn test_snapshot_sees_a_fixed_prefix() -> Result<(), Box<dyn std::error::Error>> {
    let segment = segment();
    let rows: Vec<Vec<Value>> = (0..10).map(row).collect();
    segment.append_rows(&rows, 110)?;
    let snapshot = segment.snapshot();
    segment.append_rows(&(10..20).map(row).collect::<Vec<_>>(), 120)?;
    assert_eq!(snapshot.num_docs(), 10);
    assert_eq!(segment.num_rows(), 20);
    assert_eq!(segment.end_offset(), 120);
    let k = snapshot.column("k")?;
    let id = k.lookup(&Value::String("k1".into())).ok_or("k1 missing")?;
    let docs = k.inverted_bitmap(id)?.ok_or("no inverted index")?;
    assert_eq!(
        docs.iter().collect::<Vec<_>>(),
        vec![1, 8],
        "rows 15.. are not visible"
    );
    assert_eq!(k.null_bitmap()?.map(|n| n.len()), Some(2));
    let mut values = Vec::new();
    snapshot.column("v")?.read_i64(&[0, 9], &mut values)?;
    assert_eq!(values, vec![0, 9]);
    assert_eq!(snapshot.metadata().max_time, Some(1_009));
    assert!(snapshot.column("v")?.read_i64(&[10], &mut values).is_err());
    let mut tags = Vec::new();
    snapshot.column("tags")?.read_values(&[4], &mut tags)?;
    assert_eq!(
        tags,
        vec![Value::Array(vec![
            Value::String("a".into()),
            Value::String("t1".into())
        ])]
    );
    let batches = segment.to_batches(8)?;
    assert_eq!(
        batches.iter().map(|b| b.num_rows).collect::<Vec<_>>(),
        vec![8, 8, 4]
    );
    Ok(())
}

#[test]
fn test_readers_never_see_a_torn_batch() -> Result<(), Box<dyn std::error::Error>> {
    let segment = segment();
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let segment = segment.clone();
        let done = done.clone();
        std::thread::spawn(move || {
            for batch in 0..200i64 {
                let rows: Vec<Vec<Value>> = (batch * 10..batch * 10 + 10).map(row).collect();
                segment.append_rows(&rows, 0).expect("append");
            }
            done.store(true, Ordering::SeqCst);
        })
    };
    let mut checked = 0;
    while !done.load(Ordering::SeqCst) || checked == 0 {
        let snapshot = segment.snapshot();
        let rows = snapshot.num_docs();
        assert_eq!(rows % 10, 0, "a batch is visible whole or not at all");
        let docs: Vec<u32> = (0..rows).collect();
        let mut values = Vec::new();
        snapshot.column("v")?.read_i64(&docs, &mut values)?;
        let expected: i64 = (0..i64::from(rows)).sum();
        assert_eq!(values.iter().sum::<i64>(), expected);
        checked += 1;
    }
    writer.join().map_err(|_| "writer panicked")?;
    assert_eq!(segment.num_rows(), 2000);
    Ok(())
}
