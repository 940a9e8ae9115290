//! Iceberg table metadata (`*.metadata.json`, format versions 1 and 2): schemas,
//! partition specs and snapshots, and the single-value binary encoding of the column
//! bounds manifests carry (spec, appendix D).

use std::collections::BTreeMap;

use serde_json::Value as Json;

use crate::error::{Error, Result};

/// An Iceberg primitive or nested type.
#[derive(Debug, Clone, PartialEq)]
pub enum IcebergType {
    Boolean,
    Int,
    Long,
    Float,
    Double,
    Date,
    Time,
    /// Microseconds since the epoch, without (`Timestamp`) or with (`TimestampTz`) a zone.
    Timestamp,
    TimestampTz,
    /// Nanoseconds since the epoch (format version 3).
    TimestampNs,
    TimestampTzNs,
    String,
    Uuid,
    Binary,
    Decimal {
        precision: u32,
        scale: u32,
    },
    Fixed(usize),
    /// A struct, list or map (kept as declared).
    Nested(Json),
}

impl IcebergType {
    fn parse(json: &Json) -> Option<IcebergType> {
        let Json::String(name) = json else {
            return Some(IcebergType::Nested(json.clone()));
        };
        Some(match name.as_str() {
            "boolean" => IcebergType::Boolean,
            "int" => IcebergType::Int,
            "long" => IcebergType::Long,
            "float" => IcebergType::Float,
            "double" => IcebergType::Double,
            "date" => IcebergType::Date,
            "time" => IcebergType::Time,
            "timestamp" => IcebergType::Timestamp,
            "timestamptz" => IcebergType::TimestampTz,
            "timestamp_ns" => IcebergType::TimestampNs,
            "timestamptz_ns" => IcebergType::TimestampTzNs,
            "string" => IcebergType::String,
            "uuid" => IcebergType::Uuid,
            "binary" => IcebergType::Binary,
            other => {
                if let Some(inner) = other
                    .strip_prefix("decimal(")
                    .and_then(|s| s.strip_suffix(')'))
                {
                    let (p, s) = inner.split_once(',')?;
                    IcebergType::Decimal {
                        precision: p.trim().parse().ok()?,
                        scale: s.trim().parse().ok()?,
                    }
                } else if let Some(size) = other
                    .strip_prefix("fixed[")
                    .and_then(|s| s.strip_suffix(']'))
                {
                    IcebergType::Fixed(size.trim().parse().ok()?)
                } else {
                    return None;
                }
            }
        })
    }

    /// The type as the metadata file spells it.
    pub fn to_json(&self) -> Json {
        match self {
            IcebergType::Boolean => "boolean".into(),
            IcebergType::Int => "int".into(),
            IcebergType::Long => "long".into(),
            IcebergType::Float => "float".into(),
            IcebergType::Double => "double".into(),
            IcebergType::Date => "date".into(),
            IcebergType::Time => "time".into(),
            IcebergType::Timestamp => "timestamp".into(),
            IcebergType::TimestampTz => "timestamptz".into(),
            IcebergType::TimestampNs => "timestamp_ns".into(),
            IcebergType::TimestampTzNs => "timestamptz_ns".into(),
            IcebergType::String => "string".into(),
            IcebergType::Uuid => "uuid".into(),
            IcebergType::Binary => "binary".into(),
            IcebergType::Decimal { precision, scale } => {
                format!("decimal({precision}, {scale})").into()
            }
            IcebergType::Fixed(size) => format!("fixed[{size}]").into(),
            IcebergType::Nested(json) => json.clone(),
        }
    }
}

/// A top-level field of a schema.
#[derive(Debug, Clone, PartialEq)]
pub struct NestedField {
    pub id: i32,
    pub name: String,
    pub required: bool,
    pub ty: IcebergType,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IcebergSchema {
    pub schema_id: i32,
    pub fields: Vec<NestedField>,
}

impl IcebergSchema {
    pub fn field(&self, name: &str) -> Option<&NestedField> {
        self.fields.iter().find(|f| f.name == name)
    }

    pub fn field_by_id(&self, id: i32) -> Option<&NestedField> {
        self.fields.iter().find(|f| f.id == id)
    }

    pub fn to_json(&self) -> Json {
        serde_json::json!({
            "type": "struct",
            "schema-id": self.schema_id,
            "fields": self.fields.iter().map(|f| serde_json::json!({
                "id": f.id, "name": f.name, "required": f.required, "type": f.ty.to_json(),
            })).collect::<Vec<_>>(),
        })
    }
}

/// A partition transform.
#[derive(Debug, Clone, PartialEq)]
pub enum Transform {
    Identity,
    Year,
    Month,
    Day,
    Hour,
    Bucket(u32),
    Truncate(u32),
    Void,
    Other(String),
}

impl Transform {
    fn parse(text: &str) -> Transform {
        let number = |prefix: &str| {
            text.strip_prefix(prefix)
                .and_then(|s| s.strip_suffix(']'))
                .and_then(|s| s.parse().ok())
        };
        match text {
            "identity" => Transform::Identity,
            "year" => Transform::Year,
            "month" => Transform::Month,
            "day" => Transform::Day,
            "hour" => Transform::Hour,
            "void" => Transform::Void,
            _ => {
                if let Some(n) = number("bucket[") {
                    Transform::Bucket(n)
                } else if let Some(n) = number("truncate[") {
                    Transform::Truncate(n)
                } else {
                    Transform::Other(text.to_string())
                }
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PartitionField {
    pub source_id: i32,
    pub field_id: i32,
    pub name: String,
    pub transform: Transform,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PartitionSpec {
    pub spec_id: i32,
    pub fields: Vec<PartitionField>,
}

/// One snapshot: the table's state after a commit.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub snapshot_id: i64,
    pub parent_snapshot_id: Option<i64>,
    pub sequence_number: i64,
    pub timestamp_ms: i64,
    pub manifest_list: String,
    pub summary: BTreeMap<String, String>,
    pub schema_id: Option<i32>,
}

/// A table's metadata file, parsed. `json` keeps the file as read, so a writer changes
/// only what it means to.
#[derive(Debug, Clone)]
pub struct TableMetadata {
    pub format_version: u8,
    pub table_uuid: String,
    pub location: String,
    pub last_sequence_number: i64,
    pub last_column_id: i32,
    pub schemas: Vec<IcebergSchema>,
    pub current_schema_id: i32,
    pub partition_specs: Vec<PartitionSpec>,
    pub default_spec_id: i32,
    pub current_snapshot_id: Option<i64>,
    pub snapshots: Vec<Snapshot>,
    pub properties: BTreeMap<String, String>,
    pub json: Json,
}

fn int(json: &Json, key: &str, file: &str) -> Result<i64> {
    json.get(key)
        .and_then(Json::as_i64)
        .ok_or_else(|| Error::metadata(file, format!("`{key}` is missing or not an integer")))
}

/// An optional integer, 0 when absent.
fn number_or_zero(json: &Json, key: &str) -> i64 {
    json.get(key).and_then(Json::as_i64).unwrap_or(0)
}

fn text(json: &Json, key: &str, file: &str) -> Result<String> {
    json.get(key)
        .and_then(Json::as_str)
        .map(str::to_string)
        .ok_or_else(|| Error::metadata(file, format!("`{key}` is missing or not a string")))
}

fn string_map(json: Option<&Json>) -> BTreeMap<String, String> {
    json.and_then(Json::as_object)
        .map(|object| {
            object
                .iter()
                .map(|(k, v)| {
                    let value = match v {
                        Json::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), value)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn parse_schema(json: &Json, file: &str) -> Result<IcebergSchema> {
    let fields = json
        .get("fields")
        .and_then(Json::as_array)
        .ok_or_else(|| Error::metadata(file, "a schema has no `fields`"))?;
    let mut parsed = Vec::with_capacity(fields.len());
    for field in fields {
        let name = text(field, "name", file)?;
        let declared = field
            .get("type")
            .ok_or_else(|| Error::metadata(file, format!("field `{name}` has no type")))?;
        let ty = IcebergType::parse(declared).ok_or_else(|| {
            Error::metadata(
                file,
                format!("field `{name}` has an unknown type `{declared}`"),
            )
        })?;
        parsed.push(NestedField {
            id: int(field, "id", file)? as i32,
            required: field
                .get("required")
                .and_then(Json::as_bool)
                .unwrap_or(false),
            name,
            ty,
        });
    }
    Ok(IcebergSchema {
        schema_id: json.get("schema-id").and_then(Json::as_i64).unwrap_or(0) as i32,
        fields: parsed,
    })
}

fn parse_spec(json: &Json, spec_id: i32, file: &str) -> Result<PartitionSpec> {
    // Format version 1 may spell a spec as the bare list of its fields.
    let fields = json
        .get("fields")
        .unwrap_or(json)
        .as_array()
        .ok_or_else(|| Error::metadata(file, "a partition spec has no `fields`"))?;
    let mut parsed = Vec::with_capacity(fields.len());
    for (i, field) in fields.iter().enumerate() {
        parsed.push(PartitionField {
            source_id: int(field, "source-id", file)? as i32,
            field_id: field
                .get("field-id")
                .and_then(Json::as_i64)
                .unwrap_or(1000 + i as i64) as i32,
            name: text(field, "name", file)?,
            transform: Transform::parse(&text(field, "transform", file)?),
        });
    }
    Ok(PartitionSpec {
        spec_id: json
            .get("spec-id")
            .and_then(Json::as_i64)
            .map_or(spec_id, |id| id as i32),
        fields: parsed,
    })
}

impl TableMetadata {
    /// Parse a metadata file; `file` names it in errors.
    pub fn parse(bytes: &[u8], file: &str) -> Result<TableMetadata> {
        let json: Json = serde_json::from_slice(bytes)
            .map_err(|error| Error::metadata(file, format!("not JSON: {error}")))?;
        let format_version = int(&json, "format-version", file)?;
        if !(1..=2).contains(&format_version) {
            return Err(Error::metadata(
                file,
                format!("format version {format_version} is not supported (1 and 2 are)"),
            ));
        }
        let schemas = match json.get("schemas").and_then(Json::as_array) {
            Some(list) => list
                .iter()
                .map(|s| parse_schema(s, file))
                .collect::<Result<Vec<_>>>()?,
            None => vec![parse_schema(
                json.get("schema")
                    .ok_or_else(|| Error::metadata(file, "no `schemas` and no `schema`"))?,
                file,
            )?],
        };
        let current_schema_id = json
            .get("current-schema-id")
            .and_then(Json::as_i64)
            .map_or(schemas[0].schema_id, |id| id as i32);
        let partition_specs = match json.get("partition-specs").and_then(Json::as_array) {
            Some(list) => list
                .iter()
                .map(|s| parse_spec(s, 0, file))
                .collect::<Result<Vec<_>>>()?,
            None => match json.get("partition-spec") {
                Some(spec) => vec![parse_spec(spec, 0, file)?],
                None => vec![PartitionSpec {
                    spec_id: 0,
                    fields: Vec::new(),
                }],
            },
        };
        let default_spec_id = json
            .get("default-spec-id")
            .and_then(Json::as_i64)
            .map_or(partition_specs[0].spec_id, |id| id as i32);
        let mut snapshots = Vec::new();
        for snapshot in json
            .get("snapshots")
            .and_then(Json::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let snapshot_id = int(snapshot, "snapshot-id", file)?;
            let manifest_list = snapshot
                .get("manifest-list")
                .and_then(Json::as_str)
                .ok_or_else(|| {
                    Error::metadata(
                        file,
                        format!(
                            "snapshot {snapshot_id} has no manifest list (a format version 1 \
                             snapshot listing its manifests inline is not supported)"
                        ),
                    )
                })?;
            snapshots.push(Snapshot {
                snapshot_id,
                parent_snapshot_id: snapshot.get("parent-snapshot-id").and_then(Json::as_i64),
                sequence_number: number_or_zero(snapshot, "sequence-number"),
                timestamp_ms: number_or_zero(snapshot, "timestamp-ms"),
                manifest_list: manifest_list.to_string(),
                summary: string_map(snapshot.get("summary")),
                schema_id: snapshot
                    .get("schema-id")
                    .and_then(Json::as_i64)
                    .map(|id| id as i32),
            });
        }
        let current_snapshot_id = json
            .get("current-snapshot-id")
            .and_then(Json::as_i64)
            .filter(|id| *id != -1);
        let metadata = TableMetadata {
            format_version: format_version as u8,
            table_uuid: json
                .get("table-uuid")
                .and_then(Json::as_str)
                .unwrap_or_default()
                .to_string(),
            location: text(&json, "location", file)?,
            last_sequence_number: number_or_zero(&json, "last-sequence-number"),
            last_column_id: number_or_zero(&json, "last-column-id") as i32,
            schemas,
            current_schema_id,
            partition_specs,
            default_spec_id,
            current_snapshot_id,
            snapshots,
            properties: string_map(json.get("properties")),
            json,
        };
        if metadata.schema().is_none() {
            return Err(Error::metadata(
                file,
                format!("current schema {current_schema_id} is not among the schemas"),
            ));
        }
        if let Some(id) = current_snapshot_id
            && metadata.snapshot(id).is_none()
        {
            return Err(Error::metadata(
                file,
                format!("current snapshot {id} is not among the snapshots"),
            ));
        }
        Ok(metadata)
    }

    /// The current schema.
    pub fn schema(&self) -> Option<&IcebergSchema> {
        self.schemas
            .iter()
            .find(|s| s.schema_id == self.current_schema_id)
    }

    pub fn spec(&self, spec_id: i32) -> Option<&PartitionSpec> {
        self.partition_specs.iter().find(|s| s.spec_id == spec_id)
    }

    pub fn snapshot(&self, snapshot_id: i64) -> Option<&Snapshot> {
        self.snapshots.iter().find(|s| s.snapshot_id == snapshot_id)
    }

    /// The current snapshot (`None` for a table never written).
    pub fn current_snapshot(&self) -> Option<&Snapshot> {
        self.current_snapshot_id.and_then(|id| self.snapshot(id))
    }
}

/// A single value of a bound, decoded from Iceberg's binary encoding. Times keep their
/// unit: `Timestamp` is microseconds, as Iceberg stores them (nanosecond types are
/// converted to microseconds).
#[derive(Debug, Clone, PartialEq)]
pub enum Datum {
    Boolean(bool),
    /// int, long and date (days).
    Integer(i64),
    Float(f64),
    /// Microseconds since the epoch.
    TimestampMicros(i64),
    String(String),
    Binary(Vec<u8>),
}

impl Datum {
    /// Decode a lower or upper bound of a column of type `ty`; `None` when the bytes do
    /// not fit the type (a damaged bound proves nothing and prunes nothing).
    pub fn decode(ty: &IcebergType, bytes: &[u8]) -> Option<Datum> {
        let le8 = || -> Option<i64> { Some(i64::from_le_bytes(bytes.try_into().ok()?)) };
        let le4 = || -> Option<i32> { Some(i32::from_le_bytes(bytes.try_into().ok()?)) };
        Some(match ty {
            IcebergType::Boolean => Datum::Boolean(*bytes.first()? != 0),
            IcebergType::Int | IcebergType::Date => Datum::Integer(i64::from(le4()?)),
            IcebergType::Long => Datum::Integer(le8()?),
            IcebergType::Float => {
                Datum::Float(f64::from(f32::from_le_bytes(bytes.try_into().ok()?)))
            }
            IcebergType::Double => Datum::Float(f64::from_le_bytes(bytes.try_into().ok()?)),
            IcebergType::Timestamp | IcebergType::TimestampTz | IcebergType::Time => {
                Datum::TimestampMicros(le8()?)
            }
            IcebergType::TimestampNs | IcebergType::TimestampTzNs => {
                Datum::TimestampMicros(le8()?.div_euclid(1000))
            }
            IcebergType::String => Datum::String(String::from_utf8(bytes.to_vec()).ok()?),
            IcebergType::Binary | IcebergType::Fixed(_) | IcebergType::Uuid => {
                Datum::Binary(bytes.to_vec())
            }
            IcebergType::Decimal { .. } | IcebergType::Nested(_) => return None,
        })
    }

    /// Encode as Iceberg's single-value binary form for a column of type `ty`.
    pub fn encode(&self, ty: &IcebergType) -> Option<Vec<u8>> {
        Some(match (self, ty) {
            (Datum::Boolean(b), IcebergType::Boolean) => vec![u8::from(*b)],
            (Datum::Integer(v), IcebergType::Int | IcebergType::Date) => {
                i32::try_from(*v).ok()?.to_le_bytes().to_vec()
            }
            (Datum::Integer(v), IcebergType::Long) => v.to_le_bytes().to_vec(),
            (Datum::Float(v), IcebergType::Float) => (*v as f32).to_le_bytes().to_vec(),
            (Datum::Float(v), IcebergType::Double) => v.to_le_bytes().to_vec(),
            (Datum::TimestampMicros(v), IcebergType::Timestamp | IcebergType::TimestampTz) => {
                v.to_le_bytes().to_vec()
            }
            (Datum::String(s), IcebergType::String) => s.as_bytes().to_vec(),
            (Datum::Binary(b), IcebergType::Binary) => b.clone(),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V2: &str = r#"{
      "format-version": 2, "table-uuid": "9c12d441-03fe-4693-9a96-a0705ddf69c1",
      "location": "s3://bucket/wh/lake.db/events", "last-sequence-number": 2,
      "last-updated-ms": 1700000000000, "last-column-id": 4,
      "current-schema-id": 0,
      "schemas": [{"type": "struct", "schema-id": 0, "fields": [
        {"id": 1, "name": "id", "required": true, "type": "long"},
        {"id": 2, "name": "ts", "required": false, "type": "timestamp"},
        {"id": 3, "name": "city", "required": false, "type": "string"},
        {"id": 4, "name": "amount", "required": false, "type": "decimal(10, 2)"}]}],
      "default-spec-id": 0,
      "partition-specs": [{"spec-id": 0, "fields": [
        {"source-id": 2, "field-id": 1000, "name": "ts_day", "transform": "day"}]}],
      "last-partition-id": 1000,
      "properties": {"write.format.default": "parquet"},
      "current-snapshot-id": 22,
      "snapshots": [
        {"snapshot-id": 11, "sequence-number": 1, "timestamp-ms": 1, "manifest-list": "s3://bucket/m1.avro", "summary": {"operation": "append"}, "schema-id": 0},
        {"snapshot-id": 22, "parent-snapshot-id": 11, "sequence-number": 2, "timestamp-ms": 2, "manifest-list": "s3://bucket/m2.avro", "summary": {"operation": "append", "added-records": "5"}}
      ]
    }"#;

    #[test]
    fn a_version_2_file_parses_whole() {
        let metadata = TableMetadata::parse(V2.as_bytes(), "v2.metadata.json").expect("parses");
        assert_eq!(metadata.format_version, 2);
        let schema = metadata.schema().expect("schema");
        assert_eq!(
            schema.field("ts").map(|f| &f.ty),
            Some(&IcebergType::Timestamp)
        );
        assert_eq!(
            schema.field("amount").map(|f| &f.ty),
            Some(&IcebergType::Decimal {
                precision: 10,
                scale: 2
            })
        );
        let spec = metadata.spec(0).expect("spec");
        assert_eq!(spec.fields[0].transform, Transform::Day);
        let current = metadata.current_snapshot().expect("snapshot");
        assert_eq!(current.manifest_list, "s3://bucket/m2.avro");
        assert_eq!(current.parent_snapshot_id, Some(11));
        assert_eq!(
            current.summary.get("added-records").map(String::as_str),
            Some("5")
        );
    }

    #[test]
    fn broken_files_name_what_is_wrong() {
        let error = TableMetadata::parse(b"{", "x.metadata.json").expect_err("not JSON");
        assert!(error.to_string().contains("x.metadata.json"), "{error}");
        let v3 = V2.replace("\"format-version\": 2", "\"format-version\": 9");
        let error = TableMetadata::parse(v3.as_bytes(), "y").expect_err("version");
        assert!(error.to_string().contains("format version 9"), "{error}");
        let dangling = V2.replace("\"current-snapshot-id\": 22", "\"current-snapshot-id\": 33");
        let error = TableMetadata::parse(dangling.as_bytes(), "z").expect_err("snapshot");
        assert!(error.to_string().contains("current snapshot 33"), "{error}");
    }

    #[test]
    fn bounds_round_trip_through_the_binary_encoding() {
        for (ty, datum) in [
            (IcebergType::Long, Datum::Integer(-5_000_000_000)),
            (IcebergType::Int, Datum::Integer(42)),
            (IcebergType::Double, Datum::Float(2.5)),
            (
                IcebergType::Timestamp,
                Datum::TimestampMicros(1_700_000_000_123_456),
            ),
            (IcebergType::String, Datum::String("Zürich".into())),
            (IcebergType::Boolean, Datum::Boolean(true)),
        ] {
            let bytes = datum.encode(&ty).expect("encodes");
            assert_eq!(Datum::decode(&ty, &bytes), Some(datum));
        }
        assert_eq!(Datum::decode(&IcebergType::Long, &[1, 2, 3]), None);
        assert_eq!(
            Datum::decode(&IcebergType::TimestampNs, &1_500i64.to_le_bytes()),
            Some(Datum::TimestampMicros(1))
        );
    }
}
