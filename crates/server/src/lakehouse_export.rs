//! Export: a table's sealed segments written into its lakehouse Iceberg table, so other
//! engines (Spark, Trino, DuckDB, PyIceberg) read Tessera's history without Tessera.
//!
//! One export appends one snapshot: a Parquet file (zstd, Iceberg field ids) per
//! segment and day partition, one manifest, a manifest list carrying the parent's
//! manifests, and the next metadata version, committed create-if-absent. Each snapshot's
//! summary lists the segments it holds (`tessera.segments`), so an export never writes a
//! segment twice, and the tier knows which segments' rows Iceberg already has. The
//! Iceberg table is created on the first export (partitioned by day of a TIMESTAMP time
//! column) and gains a column when the table's schema does.
//!
//! Crash safety: the metadata file is the commit point ([`writer::commit`]); a kill at any
//! named step (`export.data`, `export.manifests`, `export.commit`) leaves the old snapshot,
//! and the next export writes the same segments again under new names.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use anyhow::Context;
use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, Float32Builder, Float64Builder, Int32Builder, Int64Builder,
    StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType as ArrowType, Field as ArrowField, Schema as ArrowSchema, TimeUnit};
use bytes::Bytes;
use serde_json::{Value as Json, json};
use tessera_config::DataType;
use tessera_ingest::fault::{self, Step};
use tessera_lakehouse::metadata::{
    IcebergSchema, NestedField, PartitionField, PartitionSpec, TableMetadata, Transform,
};
use tessera_lakehouse::table::{self as iceberg_table, table_roots};
use tessera_lakehouse::writer::{self, NewDataFile, NewManifest, NewSnapshot};
use tessera_lakehouse::{Datum, IcebergType};
use tessera_segment::{ImmutableSegment, SegmentReader, Value};
use tracing::info;

use crate::lakehouse_tier::{LakehouseTier, SEGMENTS_SUMMARY_KEY};

/// Rows read from a segment column at a time.
const READ_ROWS: usize = 65_536;
const DAY_MS: i64 = 86_400_000;

/// The Iceberg type a Tessera column is exported as.
fn iceberg_type(data_type: DataType) -> IcebergType {
    match data_type {
        DataType::Int => IcebergType::Int,
        DataType::Long => IcebergType::Long,
        DataType::Float => IcebergType::Float,
        DataType::Double => IcebergType::Double,
        DataType::Boolean => IcebergType::Boolean,
        DataType::Timestamp => IcebergType::Timestamp,
        DataType::String | DataType::Json => IcebergType::String,
        DataType::Bytes => IcebergType::Binary,
    }
}

fn arrow_type(ty: &IcebergType) -> ArrowType {
    match ty {
        IcebergType::Int => ArrowType::Int32,
        IcebergType::Long => ArrowType::Int64,
        IcebergType::Float => ArrowType::Float32,
        IcebergType::Double => ArrowType::Float64,
        IcebergType::Boolean => ArrowType::Boolean,
        IcebergType::Timestamp => ArrowType::Timestamp(TimeUnit::Microsecond, None),
        IcebergType::Binary => ArrowType::Binary,
        _ => ArrowType::Utf8,
    }
}

/// What one export did.
#[derive(Debug, Clone, Default)]
pub struct ExportSummary {
    pub segments: Vec<String>,
    pub files: usize,
    pub rows: u64,
    pub snapshot_id: Option<i64>,
    pub metadata_file: Option<String>,
}

impl ExportSummary {
    pub fn to_json(&self) -> Json {
        json!({
            "segments": self.segments,
            "dataFiles": self.files,
            "rows": self.rows,
            "snapshotId": self.snapshot_id,
            "metadataFile": self.metadata_file,
        })
    }
}

/// A column of the export: its Tessera name and its Iceberg field.
#[derive(Debug)]
struct ExportColumn {
    name: String,
    field: NestedField,
}

/// The Iceberg table an export appends to: its metadata as of now (new when it does not
/// exist yet), its root, the current metadata file and version.
struct Target {
    root: String,
    metadata: TableMetadata,
    previous: Option<String>,
    version: u64,
}

fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    hasher.finish()
}

fn uuid() -> String {
    let (a, b) = (random_u64(), random_u64());
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        (b >> 48) & 0x3fff | 0x8000,
        b & 0xffff_ffff_ffff
    )
}

/// `YYYY-MM-DD` of a day number since the epoch (the day transform's partition path).
fn date_of(days: i32) -> String {
    tessera_query::time::format_with(i64::from(days) * DAY_MS, "%Y-%m-%d")
        .unwrap_or_else(|| format!("day{days}"))
}

/// The segment an exported data file holds rows of, from its name
/// (`<segment>-<commit uuid>.parquet`); `None` for a file not named so.
pub fn segment_of_data_file(path: &str) -> Option<&str> {
    let name = path.rsplit('/').next()?.strip_suffix(".parquet")?;
    // A uuid is 36 characters: 8-4-4-4-12.
    let cut = name.len().checked_sub(37)?;
    let (segment, uuid) = name.split_at(cut);
    let uuid = uuid.strip_prefix('-')?;
    let groups: Vec<usize> = uuid.split('-').map(str::len).collect();
    (groups == [8, 4, 4, 4, 12] && !segment.is_empty()).then_some(segment)
}

/// Every segment the Iceberg table's snapshots record as exported.
pub fn exported_segments(metadata: &TableMetadata) -> HashSet<String> {
    metadata
        .snapshots
        .iter()
        .filter_map(|s| s.summary.get(SEGMENTS_SUMMARY_KEY))
        .flat_map(|list| {
            list.split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        })
        .collect()
}

impl LakehouseTier {
    fn export_target(&self) -> anyhow::Result<Target> {
        let io = self.io();
        match iceberg_table::locate(io, &self.catalog(), self.iceberg_table()) {
            Ok(file) => {
                let metadata = iceberg_table::load_metadata(io, &file)?;
                let version = writer::metadata_version(&file).with_context(|| {
                    format!("the metadata file `{file}` carries no version number")
                })?;
                Ok(Target {
                    root: metadata.location.trim_end_matches('/').to_string(),
                    metadata,
                    previous: Some(file),
                    version,
                })
            }
            Err(tessera_lakehouse::Error::NotFound { .. }) => {
                let root = table_roots(&self.catalog(), self.iceberg_table())
                    .into_iter()
                    .next()
                    .context("the lakehouse catalog names no location")?;
                let fields: Vec<NestedField> = self
                    .schema()
                    .fields
                    .iter()
                    .enumerate()
                    .map(|(i, f)| NestedField {
                        id: i as i32 + 1,
                        name: f.name.clone(),
                        required: false,
                        ty: iceberg_type(f.data_type),
                    })
                    .collect();
                let time = fields.iter().find(|f| f.name == self.time_column());
                let spec = PartitionSpec {
                    spec_id: 0,
                    fields: time
                        .filter(|f| f.ty == IcebergType::Timestamp)
                        .map(|f| PartitionField {
                            source_id: f.id,
                            field_id: 1000,
                            name: format!("{}_day", f.name),
                            transform: Transform::Day,
                        })
                        .into_iter()
                        .collect(),
                };
                let schema = IcebergSchema {
                    schema_id: 0,
                    fields,
                };
                let json = writer::new_table_metadata(
                    &root,
                    &schema,
                    &spec,
                    &uuid(),
                    tessera_ingest::realtime::now_ms(),
                );
                let metadata = TableMetadata::parse(json.to_string().as_bytes(), &root)?;
                Ok(Target {
                    root,
                    metadata,
                    previous: None,
                    version: 0,
                })
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Export the sealed segments among `segments` that the Iceberg table does not hold
    /// yet, as one new snapshot; then look the snapshot up.
    pub fn export(&self, segments: &[Arc<ImmutableSegment>]) -> anyhow::Result<ExportSummary> {
        let _one_at_a_time = self.export_lock().lock().unwrap_or_else(|e| e.into_inner());
        let target = self.export_target()?;
        let done = exported_segments(&target.metadata);
        let mut todo: Vec<&Arc<ImmutableSegment>> = segments
            .iter()
            .filter(|s| !done.contains(s.name()) && s.num_docs() > 0)
            .collect();
        todo.sort_by(|a, b| a.name().cmp(b.name()));
        if todo.is_empty() {
            return Ok(ExportSummary {
                metadata_file: target.previous,
                snapshot_id: target.metadata.current_snapshot_id,
                ..ExportSummary::default()
            });
        }
        let (columns, schema, evolved) = export_schema(self.schema(), &target.metadata)?;
        let spec = target
            .metadata
            .spec(target.metadata.default_spec_id)
            .cloned()
            .context("the Iceberg table has no default partition spec")?;
        let day_field = match spec.fields.as_slice() {
            [] => None,
            [field] if field.transform == Transform::Day => {
                let source = schema
                    .field_by_id(field.source_id)
                    .context("the partition source column is missing")?;
                Some((field.name.clone(), source.name.clone()))
            }
            _ => anyhow::bail!(
                "the Iceberg table's partition spec is not one the exporter writes (none, or \
                 day of the time column)"
            ),
        };
        let io = self.io();
        let commit_id = uuid();
        let snapshot_id = (random_u64() >> 1) as i64;
        let mut files = Vec::new();
        let mut summary = ExportSummary::default();
        for segment in &todo {
            for (partition, docs) in
                partitions(segment, day_field.as_ref().map(|(_, c)| c.as_str()))?
            {
                let (parquet, stats) = write_parquet(segment, &columns, &docs)?;
                let directory = match (&day_field, partition) {
                    (Some((name, _)), Some(day)) => format!("data/{name}={}", date_of(day)),
                    (Some((name, _)), None) => format!("data/{name}=null"),
                    _ => "data".to_string(),
                };
                let path = format!(
                    "{}/{directory}/{}-{commit_id}.parquet",
                    target.root,
                    segment.name()
                );
                let size = parquet.len() as i64;
                io.write(&path, Bytes::from(parquet))?;
                fault::at(Step::ExportData)?;
                summary.rows += docs.len() as u64;
                files.push(NewDataFile {
                    path,
                    record_count: docs.len() as i64,
                    file_size: size,
                    partition: if day_field.is_some() {
                        vec![partition]
                    } else {
                        Vec::new()
                    },
                    ..stats
                });
            }
            summary.segments.push(segment.name().to_string());
        }
        let sequence = target.metadata.last_sequence_number + 1;
        let manifest_path = format!("{}/metadata/{commit_id}-m0.avro", target.root);
        let manifest = writer::write_manifest(&files, snapshot_id, &schema, &spec)?;
        let manifest_length = manifest.len() as i64;
        io.write(&manifest_path, Bytes::from(manifest))?;
        let carried = match target.metadata.current_snapshot() {
            Some(parent) => writer::read_manifest_list_records(io, &parent.manifest_list)?,
            None => Vec::new(),
        };
        let list_path = format!(
            "{}/metadata/snap-{snapshot_id}-1-{commit_id}.avro",
            target.root
        );
        let new = NewManifest {
            path: manifest_path,
            length: manifest_length,
            spec_id: spec.spec_id,
            snapshot_id,
            sequence_number: sequence,
            files: &files,
        };
        let list =
            writer::write_manifest_list(&carried, &new, target.metadata.current_snapshot_id)?;
        io.write(&list_path, Bytes::from(list))?;
        fault::at(Step::ExportManifests)?;
        let json = if evolved {
            writer::with_schema(&target.metadata, &schema)
        } else {
            target.metadata.json.clone()
        };
        let snapshot = NewSnapshot {
            snapshot_id,
            sequence_number: sequence,
            manifest_list: list_path,
            timestamp_ms: tessera_ingest::realtime::now_ms(),
            schema_id: schema.schema_id,
            added_files: files.len(),
            added_records: summary.rows as i64,
            added_size: files.iter().map(|f| f.file_size).sum(),
            summary: vec![(SEGMENTS_SUMMARY_KEY.to_string(), summary.segments.join(","))],
        };
        let json = writer::with_snapshot(
            json,
            &target.metadata,
            &snapshot,
            target.previous.as_deref(),
        );
        fault::at(Step::ExportCommit)?;
        let version = target.version + 1;
        if !writer::commit(io, &target.root, version, &json)? {
            anyhow::bail!(
                "another writer committed version {version} of `{}` first; export again",
                target.root
            );
        }
        summary.files = files.len();
        summary.snapshot_id = Some(snapshot_id);
        summary.metadata_file = Some(format!("{}/metadata/v{version}.metadata.json", target.root));
        info!(table = %self.table_name(), segments = summary.segments.len(), files = summary.files,
            rows = summary.rows, version, "segments exported to the lakehouse");
        // Queries see the new snapshot (and its boundary) at once.
        let _ = self.refresh();
        Ok(summary)
    }
}

/// The export's columns, and the schema the new snapshot is written with: the
/// current one, or one more with the columns the table gained.
fn export_schema(
    tessera: &tessera_config::Schema,
    metadata: &TableMetadata,
) -> anyhow::Result<(Vec<ExportColumn>, IcebergSchema, bool)> {
    let current = metadata
        .schema()
        .context("the Iceberg table has no current schema")?;
    let mut schema = current.clone();
    let mut next_id = metadata
        .last_column_id
        .max(current.fields.iter().map(|f| f.id).max().unwrap_or(0));
    let mut columns = Vec::new();
    let mut evolved = false;
    for field in &tessera.fields {
        if !field.single_value {
            anyhow::bail!(
                "column `{}` is multi-value: exporting multi-value columns is not supported yet",
                field.name
            );
        }
        let iceberg = match current.field(&field.name) {
            Some(existing) => {
                if existing.ty != iceberg_type(field.data_type) {
                    anyhow::bail!(
                        "column `{}` is `{}` in the Iceberg table, not `{}` as exported",
                        field.name,
                        existing.ty.to_json(),
                        iceberg_type(field.data_type).to_json()
                    );
                }
                existing.clone()
            }
            None => {
                next_id += 1;
                evolved = true;
                let added = NestedField {
                    id: next_id,
                    name: field.name.clone(),
                    required: false,
                    ty: iceberg_type(field.data_type),
                };
                schema.fields.push(added.clone());
                added
            }
        };
        columns.push(ExportColumn {
            name: field.name.clone(),
            field: iceberg,
        });
    }
    if evolved {
        schema.schema_id = metadata
            .schemas
            .iter()
            .map(|s| s.schema_id)
            .max()
            .unwrap_or(0)
            + 1;
    }
    Ok((columns, schema, evolved))
}

/// A segment's docs by day partition of `time_column` (one group when unpartitioned).
fn partitions(
    segment: &ImmutableSegment,
    time_column: Option<&str>,
) -> anyhow::Result<Vec<(Option<i32>, Vec<u32>)>> {
    let all: Vec<u32> = (0..segment.num_docs()).collect();
    let Some(time_column) = time_column else {
        return Ok(vec![(None, all)]);
    };
    let column = segment.column(time_column)?;
    let mut groups: BTreeMap<Option<i32>, Vec<u32>> = BTreeMap::new();
    let mut values = Vec::new();
    for chunk in all.chunks(READ_ROWS) {
        values.clear();
        column.read_values(chunk, &mut values)?;
        for (doc, value) in chunk.iter().zip(&values) {
            let day = match value {
                Value::Timestamp(ms) | Value::Long(ms) => Some(ms.div_euclid(DAY_MS) as i32),
                _ => None,
            };
            groups.entry(day).or_default().push(*doc);
        }
    }
    Ok(groups.into_iter().collect())
}

/// Running bounds of one column over a file.
#[derive(Default)]
struct Bounds {
    nulls: i64,
    low: Option<Datum>,
    high: Option<Datum>,
}

fn less(a: &Datum, b: &Datum) -> bool {
    match (a, b) {
        (Datum::Integer(a), Datum::Integer(b))
        | (Datum::TimestampMicros(a), Datum::TimestampMicros(b)) => a < b,
        (Datum::Float(a), Datum::Float(b)) => a < b,
        (Datum::String(a), Datum::String(b)) => a < b,
        (Datum::Binary(a), Datum::Binary(b)) => a < b,
        (Datum::Boolean(a), Datum::Boolean(b)) => !a & b,
        _ => false,
    }
}

impl Bounds {
    fn add(&mut self, datum: Option<Datum>) {
        let Some(datum) = datum else {
            self.nulls += 1;
            return;
        };
        if matches!(datum, Datum::Float(f) if f.is_nan()) {
            return;
        }
        if self.low.as_ref().is_none_or(|low| less(&datum, low)) {
            self.low = Some(datum.clone());
        }
        if self.high.as_ref().is_none_or(|high| less(high, &datum)) {
            self.high = Some(datum);
        }
    }
}

/// One segment's docs as a Parquet file, and its column statistics.
fn write_parquet(
    segment: &ImmutableSegment,
    columns: &[ExportColumn],
    docs: &[u32],
) -> anyhow::Result<(Vec<u8>, NewDataFile)> {
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(columns.len());
    let mut fields = Vec::with_capacity(columns.len());
    let mut stats = NewDataFile::default();
    for column in columns {
        let reader = segment.column(&column.name)?;
        let mut values = Vec::with_capacity(docs.len().min(READ_ROWS));
        let mut all = Vec::with_capacity(docs.len());
        for chunk in docs.chunks(READ_ROWS) {
            values.clear();
            reader.read_values(chunk, &mut values)?;
            all.append(&mut values);
        }
        let mut bounds = Bounds::default();
        let ty = &column.field.ty;
        let array: ArrayRef = match ty {
            IcebergType::Int => {
                let mut b = Int32Builder::with_capacity(all.len());
                for v in &all {
                    let x = match v {
                        Value::Int(x) => Some(*x),
                        _ => None,
                    };
                    bounds.add(x.map(|x| Datum::Integer(i64::from(x))));
                    b.append_option(x);
                }
                Arc::new(b.finish())
            }
            IcebergType::Long => {
                let mut b = Int64Builder::with_capacity(all.len());
                for v in &all {
                    let x = match v {
                        Value::Long(x) | Value::Timestamp(x) => Some(*x),
                        Value::Int(x) => Some(i64::from(*x)),
                        _ => None,
                    };
                    bounds.add(x.map(Datum::Integer));
                    b.append_option(x);
                }
                Arc::new(b.finish())
            }
            IcebergType::Float => {
                let mut b = Float32Builder::with_capacity(all.len());
                for v in &all {
                    let x = match v {
                        Value::Float(x) => Some(*x),
                        _ => None,
                    };
                    bounds.add(x.map(|x| Datum::Float(f64::from(x))));
                    b.append_option(x);
                }
                Arc::new(b.finish())
            }
            IcebergType::Double => {
                let mut b = Float64Builder::with_capacity(all.len());
                for v in &all {
                    let x = match v {
                        Value::Double(x) => Some(*x),
                        Value::Float(x) => Some(f64::from(*x)),
                        _ => None,
                    };
                    bounds.add(x.map(Datum::Float));
                    b.append_option(x);
                }
                Arc::new(b.finish())
            }
            IcebergType::Boolean => {
                let mut b = BooleanBuilder::with_capacity(all.len());
                for v in &all {
                    let x = match v {
                        Value::Boolean(x) => Some(*x),
                        _ => None,
                    };
                    bounds.add(x.map(Datum::Boolean));
                    b.append_option(x);
                }
                Arc::new(b.finish())
            }
            IcebergType::Timestamp => {
                let mut b = TimestampMicrosecondBuilder::with_capacity(all.len());
                for v in &all {
                    let x = match v {
                        Value::Timestamp(ms) | Value::Long(ms) => Some(ms.saturating_mul(1000)),
                        _ => None,
                    };
                    bounds.add(x.map(Datum::TimestampMicros));
                    b.append_option(x);
                }
                Arc::new(b.finish())
            }
            IcebergType::Binary => {
                let mut b = BinaryBuilder::new();
                for v in &all {
                    let x = match v {
                        Value::Bytes(x) => Some(x.as_slice()),
                        _ => None,
                    };
                    bounds.add(x.map(|x| Datum::Binary(x.to_vec())));
                    b.append_option(x);
                }
                Arc::new(b.finish())
            }
            _ => {
                let mut b = StringBuilder::new();
                for v in &all {
                    let x = match v {
                        Value::String(x) | Value::Json(x) => Some(x.as_str()),
                        _ => None,
                    };
                    bounds.add(x.map(|x| Datum::String(x.to_string())));
                    b.append_option(x);
                }
                Arc::new(b.finish())
            }
        };
        let id = column.field.id;
        stats.value_counts.insert(id, all.len() as i64);
        stats.null_value_counts.insert(id, bounds.nulls);
        if let Some(low) = bounds.low.as_ref().and_then(|d| d.encode(ty)) {
            stats.lower_bounds.insert(id, low);
        }
        if let Some(high) = bounds.high.as_ref().and_then(|d| d.encode(ty)) {
            stats.upper_bounds.insert(id, high);
        }
        fields.push(
            ArrowField::new(&column.name, arrow_type(ty), true).with_metadata(
                std::collections::HashMap::from([(
                    parquet::arrow::PARQUET_FIELD_ID_META_KEY.to_string(),
                    id.to_string(),
                )]),
            ),
        );
        arrays.push(array);
    }
    let schema = Arc::new(ArrowSchema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), arrays)?;
    let properties = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::ZSTD(Default::default()))
        .build();
    let mut out = Vec::new();
    let mut parquet_writer =
        parquet::arrow::ArrowWriter::try_new(&mut out, schema, Some(properties))?;
    parquet_writer.write(&batch)?;
    parquet_writer.close()?;
    Ok((out, stats))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_numbers_name_their_dates() {
        assert_eq!(date_of(0), "1970-01-01");
        assert_eq!(date_of(19_783), "2024-03-01");
        assert_eq!(date_of(-1), "1969-12-31");
        assert_eq!(date_of(11_016), "2000-02-29");
    }

    #[test]
    fn a_column_the_table_gained_joins_a_new_schema() {
        let tessera = tessera_config::Schema::from_json(
            r#"{"schemaName": "events",
                "dimensionFieldSpecs": [{"name": "id", "dataType": "LONG"},
                                        {"name": "k", "dataType": "STRING"}],
                "dateTimeFieldSpecs": [{"name": "ts", "dataType": "TIMESTAMP",
                    "format": "1:MILLISECONDS:EPOCH", "granularity": "1:MILLISECONDS"}]}"#,
        )
        .expect("schema")
        .value;
        let metadata = TableMetadata::parse(
            br#"{"format-version": 2, "location": "/t", "last-column-id": 2,
                "current-schema-id": 0, "schemas": [{"type": "struct", "schema-id": 0, "fields": [
                  {"id": 1, "name": "id", "required": false, "type": "long"},
                  {"id": 2, "name": "ts", "required": false, "type": "timestamp"}]}]}"#,
            "m",
        )
        .expect("metadata");
        let (columns, schema, evolved) = export_schema(&tessera, &metadata).expect("evolves");
        assert!(evolved);
        assert_eq!(schema.schema_id, 1);
        let k = schema.field("k").expect("k added");
        assert_eq!((k.id, &k.ty), (3, &IcebergType::String));
        assert_eq!(
            columns.iter().map(|c| c.field.id).collect::<Vec<_>>(),
            [1, 3, 2]
        );
        // A column whose type differs is refused, naming it.
        let wrong = TableMetadata::parse(
            br#"{"format-version": 2, "location": "/t", "current-schema-id": 0,
                "schemas": [{"type": "struct", "schema-id": 0, "fields": [
                  {"id": 1, "name": "id", "required": false, "type": "string"}]}]}"#,
            "m",
        )
        .expect("metadata");
        let error = export_schema(&tessera, &wrong).expect_err("mismatch");
        assert!(error.to_string().contains("`id`"), "{error}");
    }

    #[test]
    fn data_files_name_their_segment() {
        let id = uuid();
        let path =
            format!("s3://b/t/data/ts_day=2024-03-01/events__0__3__20261204T1646Z-{id}.parquet");
        assert_eq!(
            segment_of_data_file(&path),
            Some("events__0__3__20261204T1646Z")
        );
        assert_eq!(
            segment_of_data_file("s3://b/t/data/00000-0-abc.parquet"),
            None
        );
        assert_eq!(
            segment_of_data_file(&format!("s3://b/t/data/-{id}.parquet")),
            None
        );
    }

    #[test]
    fn uuids_have_the_version_4_shape() {
        let id = uuid();
        assert_eq!(id.len(), 36, "{id}");
        assert_eq!(id.as_bytes()[14], b'4', "{id}");
        assert_ne!(id, uuid());
    }
}
