//! Manifest lists and manifests (format versions 1 and 2): which data files a snapshot
//! holds, with the partition tuple and column statistics of each.

use std::collections::HashMap;

use crate::avro::{self, Value};
use crate::error::{Error, Result};

/// What a manifest (or a data file) holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    Data,
    /// Position or equality deletes (format version 2).
    Deletes,
}

/// Summary of one partition field over a manifest's files.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FieldSummary {
    pub contains_null: bool,
    pub lower_bound: Option<Vec<u8>>,
    pub upper_bound: Option<Vec<u8>>,
}

/// One entry of a manifest list.
#[derive(Debug, Clone, PartialEq)]
pub struct ManifestFile {
    pub path: String,
    pub length: i64,
    pub partition_spec_id: i32,
    pub content: Content,
    pub sequence_number: i64,
    pub added_snapshot_id: i64,
    pub partitions: Vec<FieldSummary>,
}

/// A data file of the table, as its manifest describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct DataFile {
    pub path: String,
    /// `PARQUET`, `AVRO` or `ORC`, as written.
    pub format: String,
    pub content: Content,
    pub partition_spec_id: i32,
    /// The partition tuple, in the spec's field order (`None` for a NULL value).
    pub partition: Vec<Option<i64>>,
    pub record_count: i64,
    pub file_size: i64,
    /// Column statistics by field id.
    pub value_counts: HashMap<i32, i64>,
    pub null_value_counts: HashMap<i32, i64>,
    pub lower_bounds: HashMap<i32, Vec<u8>>,
    pub upper_bounds: HashMap<i32, Vec<u8>>,
}

/// Entry status in a manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Existing,
    Added,
    Deleted,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ManifestEntry {
    pub status: Status,
    pub snapshot_id: Option<i64>,
    pub data_file: DataFile,
}

fn field<'a>(record: &'a Value, name: &str, file: &str) -> Result<&'a Value> {
    record
        .field(name)
        .ok_or_else(|| Error::metadata(file, format!("a record has no `{name}`")))
}

fn long(record: &Value, name: &str, file: &str) -> Result<i64> {
    field(record, name, file)?
        .as_i64()
        .ok_or_else(|| Error::metadata(file, format!("`{name}` is not an integer")))
}

fn content(code: i64, file: &str) -> Result<Content> {
    match code {
        0 => Ok(Content::Data),
        1 | 2 => Ok(Content::Deletes),
        other => Err(Error::metadata(
            file,
            format!("content {other} is not known"),
        )),
    }
}

/// Read a manifest list.
pub fn read_manifest_list(bytes: &[u8], file: &str) -> Result<Vec<ManifestFile>> {
    let container =
        avro::read_container(bytes).map_err(|e| Error::metadata(file, e.to_string()))?;
    let mut out = Vec::with_capacity(container.records.len());
    for record in &container.records {
        let partitions = match record.field("partitions") {
            Some(Value::Array(items)) => items
                .iter()
                .map(|summary| FieldSummary {
                    contains_null: matches!(
                        summary.field("contains_null"),
                        Some(Value::Boolean(true))
                    ),
                    lower_bound: summary
                        .field("lower_bound")
                        .and_then(Value::as_bytes)
                        .map(<[u8]>::to_vec),
                    upper_bound: summary
                        .field("upper_bound")
                        .and_then(Value::as_bytes)
                        .map(<[u8]>::to_vec),
                })
                .collect(),
            _ => Vec::new(),
        };
        out.push(ManifestFile {
            path: field(record, "manifest_path", file)?
                .as_str()
                .ok_or_else(|| Error::metadata(file, "`manifest_path` is not a string"))?
                .to_string(),
            length: long(record, "manifest_length", file)?,
            partition_spec_id: long(record, "partition_spec_id", file)? as i32,
            // Format version 1 lists only data manifests and has no `content`.
            content: content(
                record.field("content").and_then(Value::as_i64).unwrap_or(0),
                file,
            )?,
            sequence_number: record
                .field("sequence_number")
                .and_then(Value::as_i64)
                .unwrap_or_default(),
            added_snapshot_id: record
                .field("added_snapshot_id")
                .and_then(Value::as_i64)
                .unwrap_or_default(),
            partitions,
        });
    }
    Ok(out)
}

/// An Iceberg map (`array<record{key, value}>` for non-string keys).
fn int_map(value: Option<&Value>) -> impl Iterator<Item = (i32, &Value)> {
    let items = match value {
        Some(Value::Array(items)) => items.as_slice(),
        _ => &[],
    };
    items.iter().filter_map(|item| {
        let key = item.field("key")?.as_i64()?;
        Some((key as i32, item.field("value")?))
    })
}

/// Read a manifest: its entries, deleted ones included (a scan skips them).
pub fn read_manifest(bytes: &[u8], file: &str, spec_id: i32) -> Result<Vec<ManifestEntry>> {
    let container =
        avro::read_container(bytes).map_err(|e| Error::metadata(file, e.to_string()))?;
    let mut out = Vec::with_capacity(container.records.len());
    for record in &container.records {
        let status = match long(record, "status", file)? {
            0 => Status::Existing,
            1 => Status::Added,
            2 => Status::Deleted,
            other => {
                return Err(Error::metadata(
                    file,
                    format!("entry status {other} is not known"),
                ));
            }
        };
        let data = field(record, "data_file", file)?;
        let partition = match data.field("partition") {
            Some(Value::Record(values)) => values.iter().map(|(_, value)| value.as_i64()).collect(),
            _ => Vec::new(),
        };
        let data_file = DataFile {
            path: field(data, "file_path", file)?
                .as_str()
                .ok_or_else(|| Error::metadata(file, "`file_path` is not a string"))?
                .to_string(),
            format: field(data, "file_format", file)?
                .as_str()
                .unwrap_or_default()
                .to_ascii_uppercase(),
            content: content(
                data.field("content").and_then(Value::as_i64).unwrap_or(0),
                file,
            )?,
            partition_spec_id: spec_id,
            partition,
            record_count: long(data, "record_count", file)?,
            file_size: long(data, "file_size_in_bytes", file)?,
            value_counts: int_map(data.field("value_counts"))
                .filter_map(|(k, v)| Some((k, v.as_i64()?)))
                .collect(),
            null_value_counts: int_map(data.field("null_value_counts"))
                .filter_map(|(k, v)| Some((k, v.as_i64()?)))
                .collect(),
            lower_bounds: int_map(data.field("lower_bounds"))
                .filter_map(|(k, v)| Some((k, v.as_bytes()?.to_vec())))
                .collect(),
            upper_bounds: int_map(data.field("upper_bounds"))
                .filter_map(|(k, v)| Some((k, v.as_bytes()?.to_vec())))
                .collect(),
        };
        out.push(ManifestEntry {
            status,
            snapshot_id: record.field("snapshot_id").and_then(Value::as_i64),
            data_file,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::{Datum, IcebergType, TableMetadata};

    const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/pyiceberg");

    fn read(name: &str) -> Vec<u8> {
        std::fs::read(format!("{DIR}/{name}")).expect("test file")
    }

    /// Files PyIceberg 0.12 wrote: a table partitioned by day(ts), appended twice.
    #[test]
    fn pyiceberg_files_read_whole() {
        let metadata =
            TableMetadata::parse(&read("v2.metadata.json"), "v2.metadata.json").expect("metadata");
        let snapshot = metadata.current_snapshot().expect("snapshot");
        assert_eq!(
            snapshot.summary.get("total-records").map(String::as_str),
            Some("1500")
        );
        let list = read_manifest_list(&read("manifest-list.avro"), "list").expect("list");
        assert_eq!(list.len(), 2);
        assert!(list.iter().all(|m| m.content == Content::Data));
        assert_eq!(
            list[1].partitions[0].lower_bound.as_deref(),
            Some(&19783i32.to_le_bytes()[..])
        );
        let entries = read_manifest(&read("manifest-day1-3.avro"), "m", 0).expect("manifest");
        assert_eq!(entries.len(), 3);
        let first = &entries[0].data_file;
        assert_eq!(first.format, "PARQUET");
        assert_eq!(first.record_count, 334);
        assert_eq!(first.partition, vec![Some(19783)]);
        assert_eq!(first.null_value_counts.get(&3), Some(&67));
        let schema = metadata.schema().expect("schema");
        let ts = schema.field("ts").expect("ts");
        assert_eq!(
            Datum::decode(&ts.ty, &first.lower_bounds[&ts.id]),
            Some(Datum::TimestampMicros(1_709_251_200_000_000))
        );
        assert_eq!(
            Datum::decode(&IcebergType::String, &first.upper_bounds[&3]),
            Some(Datum::String("Tokyo".into()))
        );
        let total: i64 = entries.iter().map(|e| e.data_file.record_count).sum();
        assert_eq!(total, 1000);
    }
}
