//! The corrupt-file corpus: every byte flip and every truncation of a segment is
//! rejected with a clear error, and the golden file of each format version still reads.

mod common;

use std::path::{Path, PathBuf};

use tantivy::directory::OwnedBytes;
use tessera_segment::file_source::FileSectionSource;
use tessera_segment::{ImmutableSegment, SegmentReader, Value};
use tessera_status::Status;

use common::{build, schema, table};

const SCHEMA: &str = r#"{"schemaName":"golden",
  "dimensionFieldSpecs":[
    {"name":"city","dataType":"STRING"},
    {"name":"tags","dataType":"STRING","singleValueField":false},
    {"name":"note","dataType":"STRING"},
    {"name":"flag","dataType":"BOOLEAN"}],
  "metricFieldSpecs":[{"name":"amount","dataType":"DOUBLE"},{"name":"qty","dataType":"INT"}],
  "dateTimeFieldSpecs":[{"name":"ts","dataType":"TIMESTAMP","format":"1:MILLISECONDS:TIMESTAMP","granularity":"1:MILLISECONDS"}]}"#;

const TABLE: &str = r#"{"tableName":"golden","tableType":"OFFLINE",
  "segmentsConfig":{"timeColumnName":"ts"},
  "tableIndexConfig":{"sortedColumn":["city"],"invertedIndexColumns":["tags","qty"],
    "rangeIndexColumns":["amount","qty"],"bloomFilterColumns":["city"],"noDictionaryColumns":["amount","note"]},
  "fieldConfigList":[{"name":"note","encodingType":"RAW","indexTypes":["TEXT"]}]}"#;

fn rows() -> Vec<Vec<Value>> {
    let cities = ["Oslo", "Lima", "Kyiv", "Pune"];
    (0..40i64)
        .map(|i| {
            vec![
                if i % 7 == 3 {
                    Value::Null
                } else {
                    Value::String(cities[(i % 4) as usize].into())
                },
                Value::Array(
                    (0..(i % 3))
                        .map(|t| Value::String(format!("t{t}")))
                        .collect(),
                ),
                Value::String(format!("note {i} special requests")),
                Value::Boolean(i % 2 == 0),
                Value::Double(i as f64 * 1.25),
                if i % 5 == 0 {
                    Value::Null
                } else {
                    Value::Int((i % 9) as i32)
                },
                Value::Timestamp(1_700_000_000_000 + i * 60_000),
            ]
        })
        .collect()
}

/// The golden file written by format version `version`.
fn golden_path(version: u32) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("test-data/v{version}/golden.tseg"))
}

/// Every format version this build still reads.
const GOLDEN_VERSIONS: [u32; 3] = [1, 2, 3];

fn fresh_segment_bytes() -> Vec<u8> {
    let schema = schema(SCHEMA);
    let table = table(TABLE, &schema);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("golden.tseg");
    build(&schema, &table, &rows(), &path);
    std::fs::read(&path).expect("read back")
}

fn check_contents(segment: &ImmutableSegment) {
    assert_eq!(segment.num_docs(), 40);
    let metadata = segment.metadata();
    assert_eq!(metadata.min_time, Some(1_700_000_000_000));
    assert_eq!(metadata.max_time, Some(1_700_000_000_000 + 39 * 60_000));
    let city = segment.column("city").expect("city");
    assert_eq!(city.cardinality(), Some(4));
    let lima = city
        .lookup(&Value::String("Lima".into()))
        .expect("Lima in dictionary");
    assert_eq!(
        city.sorted_doc_range(lima..lima + 1).map(|r| r.len()),
        Some(9)
    );
    let note = segment.column("note").expect("note");
    assert_eq!(
        note.text_search("special")
            .expect("search")
            .map(|b| b.len()),
        Some(40)
    );
    let mut values = Vec::new();
    note.read_values(&[0], &mut values).expect("read");
    assert!(matches!(&values[0], Value::String(s) if s.ends_with("special requests")));
    // A raw DOUBLE column: zstd in version 1, bit-packed decimals from version 2; read
    // densely and sparsely.
    let amount = segment.column("amount").expect("amount");
    let docs: Vec<u32> = (0..40).collect();
    let mut all = Vec::new();
    amount.read_f64(&docs, &mut all).expect("read amount");
    let mut sparse = Vec::new();
    amount.read_f64(&[3, 39], &mut sparse).expect("read amount");
    assert_eq!(sparse, vec![all[3], all[39]]);
    let mut expected: Vec<f64> = (0..40).map(|i| f64::from(i) * 1.25).collect();
    let mut sorted = all.clone();
    sorted.sort_by(f64::total_cmp);
    expected.sort_by(f64::total_cmp);
    assert_eq!(sorted, expected, "amount values, in any doc order");
}

#[test]
fn test_fresh_segment_reads() {
    let bytes = fresh_segment_bytes();
    let segment =
        ImmutableSegment::open_bytes(Path::new("fresh"), OwnedBytes::new(bytes)).expect("open");
    check_contents(&segment);
}

#[test]
fn test_golden_file_of_format_v1_reads() {
    let segment = ImmutableSegment::open(&golden_path(1)).expect("golden file opens");
    assert_eq!(segment.metadata().format_version, 1);
    check_contents(&segment);
}

#[test]
fn test_golden_file_of_format_v2_reads() {
    let segment = ImmutableSegment::open(&golden_path(2)).expect("golden file opens");
    assert_eq!(segment.metadata().format_version, 2);
    assert_eq!(
        segment.metadata().column("note").expect("note").compression,
        None
    );
    check_contents(&segment);
}

/// Set TESSERA_WRITE_GOLDEN=1 to regenerate the current version's golden file after a
/// deliberate format change (which also needs a new FORMAT_VERSION, a new test-data/vN
/// directory and a new entry in GOLDEN_VERSIONS).
#[test]
fn test_golden_file_of_format_v3_reads() {
    if std::env::var_os("TESSERA_WRITE_GOLDEN").is_some() {
        std::fs::write(golden_path(3), fresh_segment_bytes()).expect("write golden");
    }
    let segment = ImmutableSegment::open(&golden_path(3)).expect("golden file opens");
    assert_eq!(segment.metadata().format_version, 3);
    // The raw string column's chunks are LZ4, the default codec of format 3.
    assert_eq!(
        segment
            .metadata()
            .column("note")
            .expect("note")
            .compression
            .as_deref(),
        Some("LZ4")
    );
    check_contents(&segment);
}

/// Every golden version opens from its footer (one read: the files are small), with no
/// section read until a column is asked for, and answer like a file opened whole.
#[test]
fn test_golden_files_open_lazily_from_their_footer() {
    for version in GOLDEN_VERSIONS {
        let (segment, source) = FileSectionSource::open(&golden_path(version)).expect("lazy open");
        assert_eq!(source.reads(), 1, "v{version}: the footer is one read");
        assert!(segment.is_lazy());
        check_contents(&segment);
        assert!(source.reads() > 1);
    }
}

/// A lazily opened file never reads its 16-byte header (the trailer repeats the version);
/// every other damaged byte is caught: at open (trailer, metadata) or when the section
/// that holds it arrives.
#[test]
fn test_every_byte_flip_is_caught_by_a_lazy_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    for version in GOLDEN_VERSIONS {
        let original = std::fs::read(golden_path(version)).expect("golden");
        for position in 16..original.len() {
            let mut damaged = original.clone();
            damaged[position] ^= 0x01;
            let path = dir.path().join("damaged.tseg");
            std::fs::write(&path, &damaged).expect("write");
            let result =
                FileSectionSource::open(&path).and_then(|(segment, _)| segment.load_all_sections());
            match result {
                Ok(()) => panic!("v{version}: a flip at byte {position} went unnoticed"),
                Err(error) => assert_eq!(error.status(), Status::Corrupt, "{error}"),
            }
        }
    }
}

fn assert_rejected(bytes: Vec<u8>, what: &str) {
    match ImmutableSegment::open_bytes(Path::new("corpus"), OwnedBytes::new(bytes)) {
        Ok(_) => panic!("{what}: a damaged file opened"),
        Err(error) => {
            assert_eq!(error.status(), Status::Corrupt, "{what}: {error}");
            assert!(!error.to_string().is_empty());
        }
    }
}

#[test]
fn test_every_byte_flip_is_rejected() {
    for version in GOLDEN_VERSIONS {
        let original = std::fs::read(golden_path(version)).expect("golden");
        for position in 0..original.len() {
            for mask in [0x01u8, 0x80] {
                let mut damaged = original.clone();
                damaged[position] ^= mask;
                assert_rejected(
                    damaged,
                    &format!("v{version}: flip {mask:#x} at byte {position}"),
                );
            }
        }
    }
}

#[test]
fn test_every_truncation_is_rejected() {
    for version in GOLDEN_VERSIONS {
        let original = std::fs::read(golden_path(version)).expect("golden");
        for length in 0..original.len() {
            assert_rejected(
                original[..length].to_vec(),
                &format!("v{version}: truncated to {length} bytes"),
            );
        }
        let mut extended = original.clone();
        extended.push(0);
        assert_rejected(extended, &format!("v{version}: one byte appended"));
    }
}

#[test]
fn test_garbage_and_empty_files_are_rejected() {
    assert_rejected(Vec::new(), "empty");
    assert_rejected(vec![0u8; 4096], "zeros");
    assert_rejected(
        (0..10_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect(),
        "noise",
    );
    let missing = ImmutableSegment::open(Path::new("/nonexistent/x.tseg"))
        .err()
        .expect("missing file fails");
    assert_eq!(missing.status(), Status::NotFound);
}
