//! Writing an Iceberg table (format version 2): new table metadata, manifests and
//! manifest lists in Avro, and the atomic commit of a new metadata version.
//!
//! A commit writes `metadata/v{N+1}.metadata.json` only if no such file exists (the
//! object store's create-if-absent), then `metadata/version-hint.text`: the metadata
//! file is the commit point, so a writer killed at any step leaves the old snapshot or
//! the new one, never part of one. Files written before a commit that never happened
//! are orphans no snapshot names. This is the layout Hadoop tables use, which PyIceberg's
//! `StaticTable.from_metadata(<table location>)` and Spark's Hadoop catalog read.

use std::collections::HashMap;

use bytes::Bytes;
use serde_json::{Value as Json, json};

use crate::avro::{self, Value};
use crate::error::{Error, Result};
use crate::io::FileIo;
use crate::metadata::{IcebergSchema, PartitionSpec, TableMetadata, Transform};

/// A data file about to be added, with its statistics by field id.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NewDataFile {
    pub path: String,
    pub record_count: i64,
    pub file_size: i64,
    /// The partition tuple in the spec's field order (day numbers for `day`).
    pub partition: Vec<Option<i32>>,
    pub value_counts: HashMap<i32, i64>,
    pub null_value_counts: HashMap<i32, i64>,
    pub lower_bounds: HashMap<i32, Vec<u8>>,
    pub upper_bounds: HashMap<i32, Vec<u8>>,
}

/// The Avro type of a partition field's value.
fn partition_value_type(transform: &Transform) -> Json {
    match transform {
        Transform::Day => json!({"type": "int", "logicalType": "date"}),
        _ => json!("int"),
    }
}

fn int_map_schema(name: &str, key_id: i32, value_id: i32, value: &str, id: i32) -> Json {
    json!({
        "name": name, "field-id": id, "default": null,
        "type": ["null", {"type": "array", "logicalType": "map", "items": {
            "type": "record", "name": format!("k{key_id}_v{value_id}"), "fields": [
                {"name": "key", "type": "int", "field-id": key_id},
                {"name": "value", "type": value, "field-id": value_id}]}}],
    })
}

/// The schema of a version 2 manifest's entries for a partition spec.
pub fn manifest_entry_schema(spec: &PartitionSpec) -> Json {
    let partition_fields: Vec<Json> = spec
        .fields
        .iter()
        .map(|f| {
            json!({"name": f.name, "field-id": f.field_id, "default": null,
                   "type": ["null", partition_value_type(&f.transform)]})
        })
        .collect();
    json!({"type": "record", "name": "manifest_entry", "fields": [
        {"name": "status", "type": "int", "field-id": 0},
        {"name": "snapshot_id", "type": ["null", "long"], "default": null, "field-id": 1},
        {"name": "sequence_number", "type": ["null", "long"], "default": null, "field-id": 3},
        {"name": "file_sequence_number", "type": ["null", "long"], "default": null, "field-id": 4},
        {"name": "data_file", "field-id": 2, "type": {"type": "record", "name": "r2", "fields": [
            {"name": "content", "type": "int", "field-id": 134},
            {"name": "file_path", "type": "string", "field-id": 100},
            {"name": "file_format", "type": "string", "field-id": 101},
            {"name": "partition", "field-id": 102,
             "type": {"type": "record", "name": "r102", "fields": partition_fields}},
            {"name": "record_count", "type": "long", "field-id": 103},
            {"name": "file_size_in_bytes", "type": "long", "field-id": 104},
            int_map_schema("column_sizes", 117, 118, "long", 108),
            int_map_schema("value_counts", 119, 120, "long", 109),
            int_map_schema("null_value_counts", 121, 122, "long", 110),
            int_map_schema("nan_value_counts", 138, 139, "long", 137),
            int_map_schema("lower_bounds", 126, 127, "bytes", 125),
            int_map_schema("upper_bounds", 129, 130, "bytes", 128),
            {"name": "key_metadata", "type": ["null", "bytes"], "default": null, "field-id": 131},
            {"name": "split_offsets", "type": ["null", {"type": "array", "element-id": 133, "items": "long"}],
             "default": null, "field-id": 132},
            {"name": "equality_ids", "type": ["null", {"type": "array", "element-id": 136, "items": "int"}],
             "default": null, "field-id": 135},
            {"name": "sort_order_id", "type": ["null", "int"], "default": null, "field-id": 140}]}}]})
}

/// The schema of a version 2 manifest list.
pub fn manifest_file_schema() -> Json {
    json!({"type": "record", "name": "manifest_file", "fields": [
        {"name": "manifest_path", "type": "string", "field-id": 500},
        {"name": "manifest_length", "type": "long", "field-id": 501},
        {"name": "partition_spec_id", "type": "int", "field-id": 502},
        {"name": "content", "type": "int", "field-id": 517},
        {"name": "sequence_number", "type": "long", "field-id": 515},
        {"name": "min_sequence_number", "type": "long", "field-id": 516},
        {"name": "added_snapshot_id", "type": "long", "field-id": 503},
        {"name": "added_files_count", "type": "int", "field-id": 504},
        {"name": "existing_files_count", "type": "int", "field-id": 505},
        {"name": "deleted_files_count", "type": "int", "field-id": 506},
        {"name": "added_rows_count", "type": "long", "field-id": 512},
        {"name": "existing_rows_count", "type": "long", "field-id": 513},
        {"name": "deleted_rows_count", "type": "long", "field-id": 514},
        {"name": "partitions", "default": null, "field-id": 507, "type": ["null", {
            "type": "array", "element-id": 508, "items": {"type": "record", "name": "r508", "fields": [
                {"name": "contains_null", "type": "boolean", "field-id": 509},
                {"name": "contains_nan", "type": ["null", "boolean"], "default": null, "field-id": 518},
                {"name": "lower_bound", "type": ["null", "bytes"], "default": null, "field-id": 510},
                {"name": "upper_bound", "type": ["null", "bytes"], "default": null, "field-id": 511}]}}]},
        {"name": "key_metadata", "type": ["null", "bytes"], "default": null, "field-id": 519}]})
}

fn map_value(map: &HashMap<i32, i64>) -> Value {
    let mut keys: Vec<_> = map.iter().collect();
    keys.sort();
    Value::Array(
        keys.into_iter()
            .map(|(k, v)| {
                Value::Record(vec![
                    ("key".into(), Value::Int(*k)),
                    ("value".into(), Value::Long(*v)),
                ])
            })
            .collect(),
    )
}

fn bytes_map_value(map: &HashMap<i32, Vec<u8>>) -> Value {
    let mut keys: Vec<_> = map.iter().collect();
    keys.sort();
    Value::Array(
        keys.into_iter()
            .map(|(k, v)| {
                Value::Record(vec![
                    ("key".into(), Value::Int(*k)),
                    ("value".into(), Value::Bytes(v.clone())),
                ])
            })
            .collect(),
    )
}

/// A manifest of added data files.
pub fn write_manifest(
    files: &[NewDataFile],
    snapshot_id: i64,
    schema: &IcebergSchema,
    spec: &PartitionSpec,
) -> Result<Vec<u8>> {
    let records: Vec<Value> = files
        .iter()
        .map(|file| {
            let partition = spec
                .fields
                .iter()
                .zip(file.partition.iter().chain(std::iter::repeat(&None)))
                .map(|(field, value)| (field.name.clone(), value.map_or(Value::Null, Value::Int)))
                .collect();
            Value::Record(vec![
                ("status".into(), Value::Int(1)),
                ("snapshot_id".into(), Value::Long(snapshot_id)),
                // Added entries inherit their sequence numbers from the manifest list.
                ("sequence_number".into(), Value::Null),
                ("file_sequence_number".into(), Value::Null),
                (
                    "data_file".into(),
                    Value::Record(vec![
                        ("content".into(), Value::Int(0)),
                        ("file_path".into(), Value::String(file.path.clone())),
                        ("file_format".into(), Value::String("PARQUET".into())),
                        ("partition".into(), Value::Record(partition)),
                        ("record_count".into(), Value::Long(file.record_count)),
                        ("file_size_in_bytes".into(), Value::Long(file.file_size)),
                        ("column_sizes".into(), Value::Null),
                        ("value_counts".into(), map_value(&file.value_counts)),
                        (
                            "null_value_counts".into(),
                            map_value(&file.null_value_counts),
                        ),
                        ("nan_value_counts".into(), Value::Null),
                        ("lower_bounds".into(), bytes_map_value(&file.lower_bounds)),
                        ("upper_bounds".into(), bytes_map_value(&file.upper_bounds)),
                        ("key_metadata".into(), Value::Null),
                        ("split_offsets".into(), Value::Null),
                        ("equality_ids".into(), Value::Null),
                        ("sort_order_id".into(), Value::Null),
                    ]),
                ),
            ])
        })
        .collect();
    let spec_json: Vec<Json> = spec
        .fields
        .iter()
        .map(|f| json!({"source-id": f.source_id, "field-id": f.field_id, "name": f.name, "transform": transform_name(&f.transform)}))
        .collect();
    avro::write_container(
        &manifest_entry_schema(spec),
        &[
            ("schema", schema.to_json().to_string()),
            ("partition-spec", Json::Array(spec_json).to_string()),
            ("partition-spec-id", spec.spec_id.to_string()),
            ("format-version", "2".into()),
            ("content", "data".into()),
        ],
        &records,
    )
}

pub fn transform_name(transform: &Transform) -> String {
    match transform {
        Transform::Identity => "identity".into(),
        Transform::Year => "year".into(),
        Transform::Month => "month".into(),
        Transform::Day => "day".into(),
        Transform::Hour => "hour".into(),
        Transform::Bucket(n) => format!("bucket[{n}]"),
        Transform::Truncate(n) => format!("truncate[{n}]"),
        Transform::Void => "void".into(),
        Transform::Other(name) => name.clone(),
    }
}

/// The manifest-list entry of a new manifest.
#[derive(Debug, Clone)]
pub struct NewManifest<'a> {
    pub path: String,
    pub length: i64,
    pub spec_id: i32,
    pub snapshot_id: i64,
    pub sequence_number: i64,
    pub files: &'a [NewDataFile],
}

/// A manifest list: the entries of the parent snapshot's list (as read, any version 2
/// writer's) and the new manifest first.
pub fn write_manifest_list(
    carried: &[Value],
    new: &NewManifest<'_>,
    parent_snapshot_id: Option<i64>,
) -> Result<Vec<u8>> {
    // Partition summaries: the smallest and largest value of each partition field.
    let fields = new.files.first().map_or(0, |f| f.partition.len());
    let partitions: Vec<Value> = (0..fields)
        .map(|i| {
            let values: Vec<i32> = new
                .files
                .iter()
                .filter_map(|f| f.partition.get(i).copied().flatten())
                .collect();
            let bound =
                |v: Option<&i32>| v.map_or(Value::Null, |v| Value::Bytes(v.to_le_bytes().to_vec()));
            Value::Record(vec![
                (
                    "contains_null".into(),
                    Value::Boolean(values.len() < new.files.len()),
                ),
                ("contains_nan".into(), Value::Boolean(false)),
                ("lower_bound".into(), bound(values.iter().min())),
                ("upper_bound".into(), bound(values.iter().max())),
            ])
        })
        .collect();
    let rows: i64 = new.files.iter().map(|f| f.record_count).sum();
    let mut records = vec![Value::Record(vec![
        ("manifest_path".into(), Value::String(new.path.clone())),
        ("manifest_length".into(), Value::Long(new.length)),
        ("partition_spec_id".into(), Value::Int(new.spec_id)),
        ("content".into(), Value::Int(0)),
        ("sequence_number".into(), Value::Long(new.sequence_number)),
        (
            "min_sequence_number".into(),
            Value::Long(new.sequence_number),
        ),
        ("added_snapshot_id".into(), Value::Long(new.snapshot_id)),
        (
            "added_files_count".into(),
            Value::Int(new.files.len() as i32),
        ),
        ("existing_files_count".into(), Value::Int(0)),
        ("deleted_files_count".into(), Value::Int(0)),
        ("added_rows_count".into(), Value::Long(rows)),
        ("existing_rows_count".into(), Value::Long(0)),
        ("deleted_rows_count".into(), Value::Long(0)),
        ("partitions".into(), Value::Array(partitions)),
        ("key_metadata".into(), Value::Null),
    ])];
    records.extend(carried.iter().cloned());
    avro::write_container(
        &manifest_file_schema(),
        &[
            ("snapshot-id", new.snapshot_id.to_string()),
            (
                "parent-snapshot-id",
                parent_snapshot_id.map_or("null".into(), |id| id.to_string()),
            ),
            ("sequence-number", new.sequence_number.to_string()),
            ("format-version", "2".into()),
        ],
        &records,
    )
}

/// The entries of a manifest list as written, to carry into the next one.
pub fn read_manifest_list_records(io: &FileIo, file: &str) -> Result<Vec<Value>> {
    let bytes = io.read(file)?;
    let container =
        avro::read_container(&bytes).map_err(|e| Error::metadata(file, e.to_string()))?;
    if container.meta("format-version").is_some_and(|v| v != "2") {
        return Err(Error::metadata(
            file,
            "only format version 2 tables take appends",
        ));
    }
    Ok(container.records)
}

/// The metadata of a new, empty table.
pub fn new_table_metadata(
    location: &str,
    schema: &IcebergSchema,
    spec: &PartitionSpec,
    uuid: &str,
    now_ms: i64,
) -> Json {
    let last_partition_id = spec.fields.iter().map(|f| f.field_id).max().unwrap_or(999);
    json!({
        "format-version": 2,
        "table-uuid": uuid,
        "location": location,
        "last-sequence-number": 0,
        "last-updated-ms": now_ms,
        "last-column-id": schema.fields.iter().map(|f| f.id).max().unwrap_or(0),
        "current-schema-id": schema.schema_id,
        "schemas": [schema.to_json()],
        "default-spec-id": spec.spec_id,
        "partition-specs": [{"spec-id": spec.spec_id, "fields": spec.fields.iter().map(|f| json!({
            "source-id": f.source_id, "field-id": f.field_id, "name": f.name,
            "transform": transform_name(&f.transform)})).collect::<Vec<_>>()}],
        "last-partition-id": last_partition_id,
        "default-sort-order-id": 0,
        "sort-orders": [{"order-id": 0, "fields": []}],
        "properties": {"write.format.default": "parquet", "created-by": "tessera"},
        "current-snapshot-id": -1,
        "refs": {},
        "snapshots": [],
        "snapshot-log": [],
        "metadata-log": [],
    })
}

/// `metadata` with a new current schema (columns added by the table's schema).
pub fn with_schema(metadata: &TableMetadata, schema: &IcebergSchema) -> Json {
    let mut json = metadata.json.clone();
    if let Some(schemas) = json.get_mut("schemas").and_then(Json::as_array_mut) {
        schemas.push(schema.to_json());
    }
    json["current-schema-id"] = json!(schema.schema_id);
    json["last-column-id"] = json!(
        schema
            .fields
            .iter()
            .map(|f| f.id)
            .max()
            .unwrap_or(0)
            .max(metadata.last_column_id)
    );
    json
}

/// A snapshot appending one manifest's files.
#[derive(Debug, Clone)]
pub struct NewSnapshot {
    pub snapshot_id: i64,
    pub sequence_number: i64,
    pub manifest_list: String,
    pub timestamp_ms: i64,
    pub schema_id: i32,
    pub added_files: usize,
    pub added_records: i64,
    pub added_size: i64,
    /// Extra summary properties (Tessera records the segments a snapshot holds here).
    pub summary: Vec<(String, String)>,
}

/// `metadata` (as JSON, maybe already changed) with `snapshot` appended and current;
/// `previous_file` joins the metadata log.
pub fn with_snapshot(
    mut json: Json,
    metadata: &TableMetadata,
    snapshot: &NewSnapshot,
    previous_file: Option<&str>,
) -> Json {
    let parent = metadata.current_snapshot();
    let number = |key: &str| -> i64 {
        parent
            .and_then(|p| p.summary.get(key))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let mut summary = serde_json::Map::new();
    summary.insert("operation".into(), json!("append"));
    summary.insert(
        "added-data-files".into(),
        json!(snapshot.added_files.to_string()),
    );
    summary.insert(
        "added-records".into(),
        json!(snapshot.added_records.to_string()),
    );
    summary.insert(
        "added-files-size".into(),
        json!(snapshot.added_size.to_string()),
    );
    summary.insert(
        "total-data-files".into(),
        json!((number("total-data-files") + snapshot.added_files as i64).to_string()),
    );
    summary.insert(
        "total-records".into(),
        json!((number("total-records") + snapshot.added_records).to_string()),
    );
    summary.insert(
        "total-files-size".into(),
        json!((number("total-files-size") + snapshot.added_size).to_string()),
    );
    summary.insert("total-delete-files".into(), json!("0"));
    summary.insert("total-position-deletes".into(), json!("0"));
    summary.insert("total-equality-deletes".into(), json!("0"));
    for (key, value) in &snapshot.summary {
        summary.insert(key.clone(), json!(value));
    }
    let mut entry = json!({
        "snapshot-id": snapshot.snapshot_id,
        "sequence-number": snapshot.sequence_number,
        "timestamp-ms": snapshot.timestamp_ms,
        "manifest-list": snapshot.manifest_list,
        "summary": summary,
        "schema-id": snapshot.schema_id,
    });
    if let Some(parent) = parent {
        entry["parent-snapshot-id"] = json!(parent.snapshot_id);
    }
    let push = |json: &mut Json, key: &str, item: Json| match json
        .get_mut(key)
        .and_then(Json::as_array_mut)
    {
        Some(list) => list.push(item),
        None => json[key] = json!([item]),
    };
    push(&mut json, "snapshots", entry);
    push(
        &mut json,
        "snapshot-log",
        json!({"snapshot-id": snapshot.snapshot_id, "timestamp-ms": snapshot.timestamp_ms}),
    );
    if let Some(previous) = previous_file {
        push(
            &mut json,
            "metadata-log",
            json!({"metadata-file": previous, "timestamp-ms": snapshot.timestamp_ms}),
        );
    }
    json["current-snapshot-id"] = json!(snapshot.snapshot_id);
    json["last-sequence-number"] = json!(snapshot.sequence_number);
    json["last-updated-ms"] = json!(snapshot.timestamp_ms);
    json["refs"] = json!({"main": {"snapshot-id": snapshot.snapshot_id, "type": "branch"}});
    json
}

/// The version of a metadata file's name, for the next commit's name.
pub fn metadata_version(file: &str) -> Option<u64> {
    crate::table::metadata_version(file.rsplit('/').next().unwrap_or(file))
}

/// Commit `json` as version `version` of the table at `location`: `Ok(false)` when that
/// version exists already (another writer committed first).
pub fn commit(io: &FileIo, location: &str, version: u64, json: &Json) -> Result<bool> {
    let file = format!("{location}/metadata/v{version}.metadata.json");
    // Check that what is written parses as what readers will read.
    let text =
        serde_json::to_vec_pretty(json).map_err(|e| Error::metadata(&file, e.to_string()))?;
    TableMetadata::parse(&text, &file)?;
    if !io.write_new(&file, Bytes::from(text))? {
        return Ok(false);
    }
    // The hint only speeds readers up: a reader without it lists the metadata files.
    let _ = io.write(
        &format!("{location}/metadata/version-hint.text"),
        Bytes::from(version.to_string()),
    );
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::{IcebergType, NestedField, PartitionField};
    use crate::table::{ManifestCache, current_data_files, current_metadata_file, load_metadata};

    fn schema() -> IcebergSchema {
        IcebergSchema {
            schema_id: 0,
            fields: vec![
                NestedField {
                    id: 1,
                    name: "id".into(),
                    required: false,
                    ty: IcebergType::Long,
                },
                NestedField {
                    id: 2,
                    name: "ts".into(),
                    required: false,
                    ty: IcebergType::Timestamp,
                },
            ],
        }
    }

    fn spec() -> PartitionSpec {
        PartitionSpec {
            spec_id: 0,
            fields: vec![PartitionField {
                source_id: 2,
                field_id: 1000,
                name: "ts_day".into(),
                transform: Transform::Day,
            }],
        }
    }

    /// Append `files` as one snapshot, the way the exporter does.
    fn append(io: &FileIo, location: &str, files: Vec<NewDataFile>, snapshot_id: i64) {
        let (metadata, previous, version) = match current_metadata_file(io, location) {
            Ok(file) => {
                let metadata = load_metadata(io, &file).expect("metadata");
                let version = metadata_version(&file).expect("version");
                (metadata, Some(file), version)
            }
            Err(_) => {
                let json = new_table_metadata(location, &schema(), &spec(), "uuid", 1);
                let text = json.to_string();
                (
                    TableMetadata::parse(text.as_bytes(), "new").expect("parses"),
                    None,
                    0,
                )
            }
        };
        let sequence = metadata.last_sequence_number + 1;
        let manifest_path = format!("{location}/metadata/m-{snapshot_id}.avro");
        let manifest = write_manifest(&files, snapshot_id, &schema(), &spec()).expect("manifest");
        let length = manifest.len() as i64;
        io.write(&manifest_path, Bytes::from(manifest))
            .expect("write manifest");
        let carried = match metadata.current_snapshot() {
            Some(parent) => read_manifest_list_records(io, &parent.manifest_list).expect("list"),
            None => Vec::new(),
        };
        let list_path = format!("{location}/metadata/snap-{snapshot_id}.avro");
        let new = NewManifest {
            path: manifest_path,
            length,
            spec_id: 0,
            snapshot_id,
            sequence_number: sequence,
            files: &files,
        };
        let list = write_manifest_list(&carried, &new, metadata.current_snapshot_id).expect("list");
        io.write(&list_path, Bytes::from(list)).expect("write list");
        let snapshot = NewSnapshot {
            snapshot_id,
            sequence_number: sequence,
            manifest_list: list_path,
            timestamp_ms: 2,
            schema_id: 0,
            added_files: files.len(),
            added_records: files.iter().map(|f| f.record_count).sum(),
            added_size: 10,
            summary: vec![("tessera.segments".into(), "s1".into())],
        };
        let json = with_snapshot(
            metadata.json.clone(),
            &metadata,
            &snapshot,
            previous.as_deref(),
        );
        assert!(commit(io, location, version + 1, &json).expect("commit"));
        // The same version again is a conflict, never an overwrite.
        assert!(!commit(io, location, version + 1, &json).expect("second commit"));
    }

    fn file(path: &str, rows: i64, day: i32) -> NewDataFile {
        NewDataFile {
            path: path.into(),
            record_count: rows,
            file_size: 100,
            partition: vec![Some(day)],
            value_counts: HashMap::from([(1, rows)]),
            null_value_counts: HashMap::from([(1, 0)]),
            lower_bounds: HashMap::from([(1, 5i64.to_le_bytes().to_vec())]),
            upper_bounds: HashMap::from([(1, 9i64.to_le_bytes().to_vec())]),
        }
    }

    #[test]
    fn appends_commit_snapshots_readers_see_whole() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let io = FileIo::new(runtime.handle().clone());
        let dir = tempfile::tempdir().expect("tempdir");
        let location = format!("file://{}/wh/lake/t", dir.path().display());
        append(
            &io,
            &location,
            vec![file("a.parquet", 3, 19783), file("b.parquet", 4, 19784)],
            11,
        );
        append(&io, &location, vec![file("c.parquet", 5, 19785)], 22);
        let current = current_metadata_file(&io, &location).expect("current");
        assert!(current.ends_with("/v2.metadata.json"), "{current}");
        let metadata = load_metadata(&io, &current).expect("metadata");
        assert_eq!(metadata.current_snapshot_id, Some(22));
        let snapshot = metadata.current_snapshot().expect("snapshot");
        assert_eq!(snapshot.parent_snapshot_id, Some(11));
        assert_eq!(
            snapshot.summary.get("total-records").map(String::as_str),
            Some("12")
        );
        assert_eq!(
            snapshot.summary.get("tessera.segments").map(String::as_str),
            Some("s1")
        );
        let mut files =
            current_data_files(&io, &metadata, &ManifestCache::default()).expect("files");
        files.sort_by(|a, b| a.path.cmp(&b.path));
        let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["a.parquet", "b.parquet", "c.parquet"]);
        assert_eq!(files[2].partition, vec![Some(19785)]);
        assert_eq!(
            files[1].lower_bounds.get(&1),
            Some(&5i64.to_le_bytes().to_vec())
        );
        assert_eq!(files[0].record_count, 3);
    }
}
