//! Avro object container files, the encoding of Iceberg manifest lists and manifests:
//! schemas parsed from the file's own header, values decoded generically from it, and
//! files written with a given schema (export). Only what Iceberg uses is here, but all of
//! it: every primitive, records, enums, arrays, maps, unions, fixed; the codecs `null`,
//! `deflate`, `snappy` and `zstandard`.
//!
//! Every length read from a file is checked against the bytes that remain before anything
//! is allocated, so a corrupt file is an error, never a huge allocation.

use std::collections::HashMap;
use std::io::{Read, Write};

use serde_json::Value as Json;

use crate::error::{Error, Result};

const MAGIC: &[u8; 4] = b"Obj\x01";

/// An Avro schema.
#[derive(Debug, Clone, PartialEq)]
pub enum Schema {
    Null,
    Boolean,
    Int,
    Long,
    Float,
    Double,
    Bytes,
    String,
    Record { name: String, fields: Vec<Field> },
    Enum { name: String, symbols: Vec<String> },
    Array(Box<Schema>),
    Map(Box<Schema>),
    Union(Vec<Schema>),
    Fixed { name: String, size: usize },
}

/// A field of a record schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub schema: Schema,
}

/// A decoded Avro value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Boolean(bool),
    Int(i32),
    Long(i64),
    Float(f32),
    Double(f64),
    Bytes(Vec<u8>),
    String(String),
    Record(Vec<(String, Value)>),
    Enum(String),
    Array(Vec<Value>),
    Map(Vec<(String, Value)>),
    Fixed(Vec<u8>),
}

impl Value {
    /// A record's field by name (`None` for a missing field or a non-record).
    pub fn field(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Record(fields) => fields.iter().find(|(n, _)| n == name).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(v) => Some(i64::from(*v)),
            Value::Long(v) => Some(*v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) | Value::Enum(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) | Value::Fixed(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

impl Schema {
    /// Parse a schema from its JSON text.
    pub fn parse(text: &str) -> Result<Schema> {
        let json: Json = serde_json::from_str(text)
            .map_err(|error| Error::avro(format!("the schema is not JSON: {error}")))?;
        Schema::from_json(&json, &mut HashMap::new(), "")
    }

    /// Parse a schema from JSON.
    pub fn from_value(json: &Json) -> Result<Schema> {
        Schema::from_json(json, &mut HashMap::new(), "")
    }

    fn from_json(
        json: &Json,
        named: &mut HashMap<String, Schema>,
        namespace: &str,
    ) -> Result<Schema> {
        match json {
            Json::String(name) => Schema::by_name(name, named, namespace),
            Json::Array(branches) => Ok(Schema::Union(
                branches
                    .iter()
                    .map(|b| Schema::from_json(b, named, namespace))
                    .collect::<Result<_>>()?,
            )),
            Json::Object(object) => {
                let kind = object
                    .get("type")
                    .ok_or_else(|| Error::avro("a schema object has no `type`"))?;
                let Json::String(kind) = kind else {
                    // {"type": {...}}: a nested schema.
                    return Schema::from_json(kind, named, namespace);
                };
                let name = || -> Result<(String, String)> {
                    let name = object
                        .get("name")
                        .and_then(Json::as_str)
                        .ok_or_else(|| Error::avro(format!("a `{kind}` schema has no name")))?;
                    let space = object
                        .get("namespace")
                        .and_then(Json::as_str)
                        .unwrap_or(namespace);
                    let full = if name.contains('.') || space.is_empty() {
                        name.to_string()
                    } else {
                        format!("{space}.{name}")
                    };
                    Ok((full, space.to_string()))
                };
                let schema = match kind.as_str() {
                    "record" | "error" => {
                        let (full, space) = name()?;
                        let fields = object
                            .get("fields")
                            .and_then(Json::as_array)
                            .ok_or_else(|| Error::avro(format!("record `{full}` has no fields")))?;
                        let mut parsed = Vec::with_capacity(fields.len());
                        for field in fields {
                            let field_name =
                                field.get("name").and_then(Json::as_str).ok_or_else(|| {
                                    Error::avro(format!("a field of `{full}` has no name"))
                                })?;
                            let field_type = field.get("type").ok_or_else(|| {
                                Error::avro(format!("field `{full}.{field_name}` has no type"))
                            })?;
                            parsed.push(Field {
                                name: field_name.to_string(),
                                schema: Schema::from_json(field_type, named, &space)?,
                            });
                        }
                        Schema::Record {
                            name: full,
                            fields: parsed,
                        }
                    }
                    "enum" => {
                        let (full, _) = name()?;
                        let symbols = object
                            .get("symbols")
                            .and_then(Json::as_array)
                            .ok_or_else(|| Error::avro(format!("enum `{full}` has no symbols")))?
                            .iter()
                            .map(|s| s.as_str().map(str::to_string))
                            .collect::<Option<Vec<_>>>()
                            .ok_or_else(|| {
                                Error::avro(format!("enum `{full}`: a symbol is not a string"))
                            })?;
                        Schema::Enum {
                            name: full,
                            symbols,
                        }
                    }
                    "fixed" => {
                        let (full, _) = name()?;
                        let size = object
                            .get("size")
                            .and_then(Json::as_u64)
                            .ok_or_else(|| Error::avro(format!("fixed `{full}` has no size")))?;
                        Schema::Fixed {
                            name: full,
                            size: size as usize,
                        }
                    }
                    "array" => Schema::Array(Box::new(Schema::from_json(
                        object
                            .get("items")
                            .ok_or_else(|| Error::avro("an array schema has no items"))?,
                        named,
                        namespace,
                    )?)),
                    "map" => Schema::Map(Box::new(Schema::from_json(
                        object
                            .get("values")
                            .ok_or_else(|| Error::avro("a map schema has no values"))?,
                        named,
                        namespace,
                    )?)),
                    // A primitive with attributes ({"type": "long", "logicalType": ...}).
                    primitive => return Schema::by_name(primitive, named, namespace),
                };
                match &schema {
                    Schema::Record { name, .. }
                    | Schema::Enum { name, .. }
                    | Schema::Fixed { name, .. } => {
                        named.insert(name.clone(), schema.clone());
                    }
                    _ => {}
                }
                Ok(schema)
            }
            other => Err(Error::avro(format!("`{other}` is not a schema"))),
        }
    }

    fn by_name(name: &str, named: &HashMap<String, Schema>, namespace: &str) -> Result<Schema> {
        Ok(match name {
            "null" => Schema::Null,
            "boolean" => Schema::Boolean,
            "int" => Schema::Int,
            "long" => Schema::Long,
            "float" => Schema::Float,
            "double" => Schema::Double,
            "bytes" => Schema::Bytes,
            "string" => Schema::String,
            other => named
                .get(other)
                .or_else(|| named.get(&format!("{namespace}.{other}")))
                .cloned()
                .ok_or_else(|| Error::avro(format!("unknown type `{other}`")))?,
        })
    }
}

/// A cursor over Avro binary data.
struct Decoder<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Decoder<'a> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.at
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(Error::avro(format!(
                "{n} bytes wanted at offset {}, {} left",
                self.at,
                self.remaining()
            )));
        }
        let out = &self.bytes[self.at..self.at + n];
        self.at += n;
        Ok(out)
    }

    fn long(&mut self) -> Result<i64> {
        let mut value: u64 = 0;
        for shift in (0..70).step_by(7) {
            let byte = *self
                .take(1)?
                .first()
                .ok_or_else(|| Error::avro("a varint ends early"))?;
            if shift == 63 && byte > 1 {
                return Err(Error::avro("a varint overflows 64 bits"));
            }
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(((value >> 1) as i64) ^ -((value & 1) as i64));
            }
        }
        Err(Error::avro("a varint is longer than 10 bytes"))
    }

    fn length(&mut self) -> Result<usize> {
        let n = self.long()?;
        if n < 0 || n as u64 > self.remaining() as u64 {
            return Err(Error::avro(format!(
                "a length of {n} at offset {} with {} bytes left",
                self.at,
                self.remaining()
            )));
        }
        Ok(n as usize)
    }

    /// Items in the next block of an array or map (0 at the end).
    fn block_count(&mut self) -> Result<usize> {
        let count = self.long()?;
        let count = if count < 0 {
            // A negative count is followed by the block's size in bytes.
            self.long()?;
            count.unsigned_abs()
        } else {
            count as u64
        };
        // Every item takes at least one byte, except null items: bound by what is left
        // (and by a generous absolute for zero-byte items).
        if count > (self.remaining() as u64).max(1 << 20) {
            return Err(Error::avro(format!(
                "a block of {count} items with {} bytes left",
                self.remaining()
            )));
        }
        Ok(count as usize)
    }

    /// The items of an array or a map: blocks of a count, until a block of none.
    fn blocks<T>(&mut self, mut item: impl FnMut(&mut Self) -> Result<T>) -> Result<Vec<T>> {
        let mut out = Vec::new();
        loop {
            let count = self.block_count()?;
            if count == 0 {
                return Ok(out);
            }
            for _ in 0..count {
                out.push(item(self)?);
            }
        }
    }

    fn value(&mut self, schema: &Schema) -> Result<Value> {
        Ok(match schema {
            Schema::Null => Value::Null,
            Schema::Boolean => Value::Boolean(self.take(1)?[0] != 0),
            Schema::Int => {
                let v = self.long()?;
                Value::Int(
                    i32::try_from(v).map_err(|_| Error::avro(format!("int {v} out of range")))?,
                )
            }
            Schema::Long => Value::Long(self.long()?),
            Schema::Float => {
                let b = self.take(4)?;
                Value::Float(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            }
            Schema::Double => {
                let b = self.take(8)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                Value::Double(f64::from_le_bytes(a))
            }
            Schema::Bytes => {
                let n = self.length()?;
                Value::Bytes(self.take(n)?.to_vec())
            }
            Schema::String => {
                let n = self.length()?;
                let bytes = self.take(n)?;
                Value::String(
                    std::str::from_utf8(bytes)
                        .map_err(|_| Error::avro("a string is not UTF-8"))?
                        .to_string(),
                )
            }
            Schema::Record { fields, .. } => {
                let mut out = Vec::with_capacity(fields.len());
                for field in fields {
                    out.push((field.name.clone(), self.value(&field.schema)?));
                }
                Value::Record(out)
            }
            Schema::Enum { name, symbols } => {
                let index = self.long()?;
                let symbol = usize::try_from(index)
                    .ok()
                    .and_then(|i| symbols.get(i))
                    .ok_or_else(|| Error::avro(format!("enum `{name}` has no symbol {index}")))?;
                Value::Enum(symbol.clone())
            }
            Schema::Array(items) => Value::Array(self.blocks(|decoder| decoder.value(items))?),
            Schema::Map(values) => Value::Map(self.blocks(|decoder| {
                let Value::String(key) = decoder.value(&Schema::String)? else {
                    return Err(Error::avro("a map key is not a string"));
                };
                Ok((key, decoder.value(values)?))
            })?),
            Schema::Union(branches) => {
                let index = self.long()?;
                let branch = usize::try_from(index)
                    .ok()
                    .and_then(|i| branches.get(i))
                    .ok_or_else(|| Error::avro(format!("a union has no branch {index}")))?;
                self.value(branch)?
            }
            Schema::Fixed { size, .. } => Value::Fixed(self.take(*size)?.to_vec()),
        })
    }
}

/// An Avro container file read whole: its header metadata, schema and records.
#[derive(Debug, Clone)]
pub struct Container {
    pub metadata: HashMap<String, Vec<u8>>,
    pub schema: Schema,
    pub records: Vec<Value>,
}

impl Container {
    /// A metadata entry as text.
    pub fn meta(&self, key: &str) -> Option<&str> {
        self.metadata
            .get(key)
            .and_then(|v| std::str::from_utf8(v).ok())
    }
}

/// Read a container file.
pub fn read_container(bytes: &[u8]) -> Result<Container> {
    let mut decoder = Decoder { bytes, at: 0 };
    if decoder.take(4).ok() != Some(MAGIC.as_slice()) {
        return Err(Error::avro(
            "not an Avro container file (no `Obj\\x01` magic)",
        ));
    }
    let Value::Map(entries) = decoder.value(&Schema::Map(Box::new(Schema::Bytes)))? else {
        return Err(Error::avro("the header metadata is not a map"));
    };
    let metadata: HashMap<String, Vec<u8>> = entries
        .into_iter()
        .map(|(k, v)| match v {
            Value::Bytes(b) => (k, b),
            _ => (k, Vec::new()),
        })
        .collect();
    let schema_text = metadata
        .get("avro.schema")
        .and_then(|v| std::str::from_utf8(v).ok())
        .ok_or_else(|| Error::avro("the header has no `avro.schema`"))?;
    let schema = Schema::parse(schema_text)?;
    let codec = metadata
        .get("avro.codec")
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .unwrap_or_else(|| "null".to_string());
    let sync = decoder.take(16)?.to_vec();
    let mut records = Vec::new();
    while decoder.remaining() > 0 {
        let count = decoder.long()?;
        let size = decoder.length()?;
        if count < 0 {
            return Err(Error::avro(format!("a block of {count} records")));
        }
        let block = decode_block(&codec, decoder.take(size)?)?;
        if decoder.take(16)? != sync.as_slice() {
            return Err(Error::avro(
                "a block's sync marker does not match the header's",
            ));
        }
        let mut inner = Decoder {
            bytes: &block,
            at: 0,
        };
        for _ in 0..count {
            records.push(inner.value(&schema)?);
        }
    }
    Ok(Container {
        metadata,
        schema,
        records,
    })
}

fn decode_block(codec: &str, data: &[u8]) -> Result<Vec<u8>> {
    match codec {
        "null" => Ok(data.to_vec()),
        "deflate" => {
            let mut out = Vec::new();
            flate2::read::DeflateDecoder::new(data)
                .read_to_end(&mut out)
                .map_err(|error| Error::avro(format!("a deflate block is damaged: {error}")))?;
            Ok(out)
        }
        "snappy" => {
            // The compressed bytes, then the CRC-32 (big-endian) of the uncompressed ones.
            let Some(split) = data.len().checked_sub(4) else {
                return Err(Error::avro("a snappy block is shorter than its checksum"));
            };
            let out = snap::raw::Decoder::new()
                .decompress_vec(&data[..split])
                .map_err(|error| Error::avro(format!("a snappy block is damaged: {error}")))?;
            let mut crc = [0u8; 4];
            crc.copy_from_slice(&data[split..]);
            if crc32(&out) != u32::from_be_bytes(crc) {
                return Err(Error::avro("a snappy block fails its checksum"));
            }
            Ok(out)
        }
        "zstandard" => zstd::decode_all(data)
            .map_err(|error| Error::avro(format!("a zstandard block is damaged: {error}"))),
        other => Err(Error::avro(format!("codec `{other}` is not supported"))),
    }
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut hasher = flate2::Crc::new();
    hasher.update(bytes);
    hasher.sum()
}

/// Encodes values of a schema into Avro binary.
struct Encoder {
    out: Vec<u8>,
}

impl Encoder {
    fn long(&mut self, v: i64) {
        let mut n = ((v << 1) ^ (v >> 63)) as u64;
        loop {
            if n < 0x80 {
                self.out.push(n as u8);
                return;
            }
            self.out.push((n as u8 & 0x7f) | 0x80);
            n >>= 7;
        }
    }

    fn bytes(&mut self, b: &[u8]) {
        self.long(b.len() as i64);
        self.out.extend_from_slice(b);
    }

    fn value(&mut self, schema: &Schema, value: &Value) -> Result<()> {
        let mismatch = || Error::avro(format!("value {value:?} does not fit schema {schema:?}"));
        match (schema, value) {
            (Schema::Null, Value::Null) => {}
            (Schema::Boolean, Value::Boolean(b)) => self.out.push(u8::from(*b)),
            (Schema::Int, Value::Int(v)) => self.long(i64::from(*v)),
            (Schema::Long, Value::Long(v)) => self.long(*v),
            (Schema::Long, Value::Int(v)) => self.long(i64::from(*v)),
            (Schema::Float, Value::Float(v)) => self.out.extend_from_slice(&v.to_le_bytes()),
            (Schema::Double, Value::Double(v)) => self.out.extend_from_slice(&v.to_le_bytes()),
            (Schema::Bytes, Value::Bytes(b)) => self.bytes(b),
            (Schema::String, Value::String(s)) => self.bytes(s.as_bytes()),
            (Schema::Record { fields, .. }, Value::Record(values)) => {
                for field in fields {
                    let value = values
                        .iter()
                        .find(|(name, _)| *name == field.name)
                        .map(|(_, v)| v)
                        .unwrap_or(&Value::Null);
                    self.value(&field.schema, value)?;
                }
            }
            (Schema::Enum { symbols, .. }, Value::Enum(symbol)) => {
                let index = symbols
                    .iter()
                    .position(|s| s == symbol)
                    .ok_or_else(mismatch)?;
                self.long(index as i64);
            }
            (Schema::Array(items), Value::Array(values)) => {
                if !values.is_empty() {
                    self.long(values.len() as i64);
                    for v in values {
                        self.value(items, v)?;
                    }
                }
                self.long(0);
            }
            (Schema::Map(item), Value::Map(entries)) => {
                if !entries.is_empty() {
                    self.long(entries.len() as i64);
                    for (k, v) in entries {
                        self.bytes(k.as_bytes());
                        self.value(item, v)?;
                    }
                }
                self.long(0);
            }
            (Schema::Union(branches), value) => {
                let index = branches
                    .iter()
                    .position(|branch| fits(branch, value))
                    .ok_or_else(mismatch)?;
                self.long(index as i64);
                self.value(&branches[index], value)?;
            }
            (Schema::Fixed { size, .. }, Value::Fixed(b)) if b.len() == *size => {
                self.out.extend_from_slice(b)
            }
            _ => return Err(mismatch()),
        }
        Ok(())
    }
}

/// Whether `value` is of `schema`'s kind (to choose a union branch).
fn fits(schema: &Schema, value: &Value) -> bool {
    matches!(
        (schema, value),
        (Schema::Null, Value::Null)
            | (Schema::Boolean, Value::Boolean(_))
            | (Schema::Int, Value::Int(_))
            | (Schema::Long, Value::Long(_) | Value::Int(_))
            | (Schema::Float, Value::Float(_))
            | (Schema::Double, Value::Double(_))
            | (Schema::Bytes, Value::Bytes(_))
            | (Schema::String, Value::String(_))
            | (Schema::Record { .. }, Value::Record(_))
            | (Schema::Enum { .. }, Value::Enum(_))
            | (Schema::Array(_), Value::Array(_))
            | (Schema::Map(_), Value::Map(_))
            | (Schema::Fixed { .. }, Value::Fixed(_))
    )
}

/// Write a container file of the schema declared by `schema_json` (written to the header
/// as given, so Iceberg's attributes such as `field-id` stay): one deflate-compressed
/// block holding every record, with the header metadata given (beside `avro.schema` and
/// `avro.codec`).
pub fn write_container(
    schema_json: &Json,
    metadata: &[(&str, String)],
    records: &[Value],
) -> Result<Vec<u8>> {
    let schema = &Schema::from_value(schema_json)?;
    let mut header = Encoder {
        out: MAGIC.to_vec(),
    };
    let mut entries: Vec<(String, Value)> = vec![
        (
            "avro.schema".into(),
            Value::Bytes(schema_json.to_string().into_bytes()),
        ),
        ("avro.codec".into(), Value::Bytes(b"deflate".to_vec())),
    ];
    entries.extend(
        metadata
            .iter()
            .map(|(k, v)| (k.to_string(), Value::Bytes(v.clone().into_bytes()))),
    );
    header.value(&Schema::Map(Box::new(Schema::Bytes)), &Value::Map(entries))?;
    // A sync marker unique enough per file: derived from the content's hash and time.
    let mut sync = [0u8; 16];
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    sync.copy_from_slice(&stamp.to_le_bytes());
    header.out.extend_from_slice(&sync);
    if !records.is_empty() {
        let mut body = Encoder { out: Vec::new() };
        for record in records {
            body.value(schema, record)?;
        }
        let mut compressed =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        compressed
            .write_all(&body.out)
            .and_then(|_| compressed.try_finish())
            .map_err(|error| Error::avro(format!("deflate failed: {error}")))?;
        let compressed = compressed
            .finish()
            .map_err(|error| Error::avro(format!("deflate failed: {error}")))?;
        header.long(records.len() as i64);
        header.bytes(&compressed);
        header.out.extend_from_slice(&sync);
    }
    Ok(header.out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_schema() -> Json {
        serde_json::from_str(
            r#"{"type": "record", "name": "manifest_entry", "fields": [
                {"name": "status", "type": "int", "field-id": 0},
                {"name": "snapshot_id", "type": ["null", "long"], "field-id": 1},
                {"name": "data_file", "type": {"type": "record", "name": "r2", "fields": [
                    {"name": "file_path", "type": "string", "field-id": 100},
                    {"name": "file_format", "type": "string", "field-id": 101},
                    {"name": "lower_bounds", "type": ["null", {"type": "array", "items": {
                        "type": "record", "name": "k126_v127", "fields": [
                            {"name": "key", "type": "int", "field-id": 126},
                            {"name": "value", "type": "bytes", "field-id": 127}]},
                        "logicalType": "map"}], "field-id": 125},
                    {"name": "score", "type": "double"},
                    {"name": "tags", "type": {"type": "map", "values": "long"}},
                    {"name": "kind", "type": {"type": "enum", "name": "kind", "symbols": ["A", "B"]}},
                    {"name": "id", "type": {"type": "fixed", "name": "uuid", "size": 4}}
                ]}}
            ]}"#,
        )
        .expect("schema is JSON")
    }

    fn sample_record(i: i64) -> Value {
        Value::Record(vec![
            ("status".into(), Value::Int(1)),
            (
                "snapshot_id".into(),
                if i % 2 == 0 {
                    Value::Null
                } else {
                    Value::Long(-i * 1_000_000_007)
                },
            ),
            (
                "data_file".into(),
                Value::Record(vec![
                    (
                        "file_path".into(),
                        Value::String(format!("s3://b/data/{i}.parquet")),
                    ),
                    ("file_format".into(), Value::String("PARQUET".into())),
                    (
                        "lower_bounds".into(),
                        Value::Array(vec![Value::Record(vec![
                            ("key".into(), Value::Int(1)),
                            ("value".into(), Value::Bytes(i.to_le_bytes().to_vec())),
                        ])]),
                    ),
                    ("score".into(), Value::Double(i as f64 / 3.0)),
                    (
                        "tags".into(),
                        Value::Map(vec![("x".into(), Value::Long(i))]),
                    ),
                    ("kind".into(), Value::Enum("B".into())),
                    ("id".into(), Value::Fixed(vec![1, 2, 3, 4])),
                ]),
            ),
        ])
    }

    #[test]
    fn written_containers_read_back_equal() {
        let schema = sample_schema();
        let records: Vec<Value> = (0..100).map(sample_record).collect();
        let bytes =
            write_container(&schema, &[("format-version", "2".into())], &records).expect("writes");
        let container = read_container(&bytes).expect("reads");
        assert_eq!(container.records, records);
        assert_eq!(container.meta("format-version"), Some("2"));
        assert_eq!(
            container.schema,
            Schema::from_value(&schema).expect("parses")
        );
        let first = &container.records[1];
        assert_eq!(
            first
                .field("data_file")
                .and_then(|f| f.field("file_path"))
                .and_then(Value::as_str),
            Some("s3://b/data/1.parquet")
        );
    }

    #[test]
    fn every_codec_decodes_its_block() {
        let plain = b"the quick brown fox jumps over the lazy dog".repeat(10);
        let mut deflated =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        deflated.write_all(&plain).expect("deflate");
        let deflated = deflated.finish().expect("deflate");
        assert_eq!(decode_block("deflate", &deflated).expect("deflate"), plain);
        let mut snappy = snap::raw::Encoder::new()
            .compress_vec(&plain)
            .expect("snappy");
        snappy.extend_from_slice(&crc32(&plain).to_be_bytes());
        assert_eq!(decode_block("snappy", &snappy).expect("snappy"), plain);
        let last = snappy.len() - 1;
        snappy[last] ^= 1;
        assert!(decode_block("snappy", &snappy).is_err());
        let zstd = zstd::encode_all(plain.as_slice(), 3).expect("zstd");
        assert_eq!(decode_block("zstandard", &zstd).expect("zstd"), plain);
        assert!(decode_block("bzip2", &plain).is_err());
    }

    #[test]
    fn damaged_files_are_errors_never_panics() {
        let schema = sample_schema();
        let records: Vec<Value> = (0..20).map(sample_record).collect();
        let bytes = write_container(&schema, &[], &records).expect("writes");
        for cut in 0..bytes.len() {
            // Every truncation fails or reads fewer records; none panics.
            if let Ok(container) = read_container(&bytes[..cut]) {
                assert!(container.records.len() < records.len());
            }
        }
        for at in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x55;
            let _ = read_container(&damaged);
        }
        // A length prefix claiming far more than the file holds.
        let mut decoder = Decoder {
            bytes: &[0xfe, 0xff, 0xff, 0xff, 0x0f],
            at: 0,
        };
        assert!(decoder.value(&Schema::Bytes).is_err());
        let nested = Schema::from_value(&sample_schema()).expect("parses");
        assert!(matches!(nested, Schema::Record { ref fields, .. } if fields.len() == 3));
    }

    #[test]
    fn varints_round_trip_at_the_extremes() {
        for v in [
            0,
            1,
            -1,
            63,
            -64,
            64,
            i64::from(i32::MAX),
            i64::MIN,
            i64::MAX,
        ] {
            let mut encoder = Encoder { out: Vec::new() };
            encoder.long(v);
            let mut decoder = Decoder {
                bytes: &encoder.out,
                at: 0,
            };
            assert_eq!(decoder.long().expect("decodes"), v);
        }
    }
}
