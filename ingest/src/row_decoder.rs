//! Decoding realtime rows (HTTP push bodies, stream messages) into coerced rows.
//!
//! One JSON object per line. Every line that cannot become a row — bytes that are not
//! UTF-8 JSON, a line over [`MAX_ROW_BYTES`], a value of the wrong type, a missing time
//! value — is returned as a [`RowReject`] with its reason and skipped; every other line
//! becomes exactly one row. Decoding never fails as a whole.

use rustc_hash::FxHashMap;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::{Map, Value as Json};
use tessera_config::{Schema, TableConfig};
use tessera_segment::Value;

use crate::coerce::{FieldCoercer, Reject};
use crate::error::{Error, Result};
use crate::reject::truncate_value;
use crate::transform::RowTransforms;

/// Longest row accepted from a stream or push request.
pub const MAX_ROW_BYTES: usize = 1024 * 1024;

/// Reasons a realtime row is skipped (metric label values).
pub mod reject_reason {
    pub const INVALID_JSON: &str = "invalid_json";
    pub const ROW_TOO_LARGE: &str = "row_too_large";
    pub const MISSING_TIME: &str = "missing_time";
    pub const WRONG_TYPE: &str = "wrong_type";
    /// A decoded row the consuming segment refused (should not happen; counted).
    pub const APPEND_FAILED: &str = "append_failed";
}

/// A skipped row: where it was, why, and a short sample of it.
#[derive(Debug, Clone, PartialEq)]
pub struct RowReject {
    /// 1-based line number within the body.
    pub line: u64,
    /// One of [`reject_reason`].
    pub reason: &'static str,
    /// What exactly was wrong (the coercion message and column, if any).
    pub detail: String,
    pub sample: String,
}

/// What a body decoded to.
#[derive(Debug, Default)]
pub struct DecodedRows {
    pub rows: Vec<Vec<Value>>,
    pub rejects: Vec<RowReject>,
    /// Rows skipped by the table's `filterConfig` (not errors).
    pub filtered: u64,
}

/// Decodes JSON rows for one table.
#[derive(Debug, Clone)]
pub struct JsonRowDecoder {
    schema: Schema,
    coercers: Vec<FieldCoercer>,
    time_index: Option<usize>,
    /// Field name → position, to route each key of an object straight to its slot:
    /// schema fields first, then the other input fields the transforms read.
    positions: FxHashMap<String, usize>,
    transforms: RowTransforms,
}

/// Deserializes one JSON object into per-field slots, parsing only the values of
/// schema fields (others are skipped unparsed) and never allocating a key.
struct ObjectSlots<'a> {
    positions: &'a FxHashMap<String, usize>,
    slots: &'a mut [Option<Json>],
}

struct FieldKey<'a>(&'a FxHashMap<String, usize>);

impl<'de> DeserializeSeed<'de> for FieldKey<'_> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<usize>, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for FieldKey<'_> {
    type Value = Option<usize>;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("a field name")
    }

    fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<Option<usize>, E> {
        Ok(self.0.get(key).copied())
    }
}

impl<'de> DeserializeSeed<'de> for ObjectSlots<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ObjectSlots<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(position) = map.next_key_seed(FieldKey(self.positions))? {
            match position {
                Some(index) => self.slots[index] = Some(map.next_value::<Json>()?),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

impl JsonRowDecoder {
    pub fn new(schema: &Schema, table: &TableConfig) -> Result<JsonRowDecoder> {
        let coercers = schema
            .fields
            .iter()
            .map(|field| FieldCoercer::new(field).map_err(Error::Invalid))
            .collect::<Result<Vec<_>>>()?;
        let time_index = table
            .time_column
            .as_ref()
            .and_then(|name| schema.fields.iter().position(|field| &field.name == name));
        let transforms = RowTransforms::from_table(schema, table)?;
        let positions = schema
            .fields
            .iter()
            .map(|field| field.name.clone())
            .chain(transforms.extra_fields.iter().cloned())
            .enumerate()
            .map(|(index, name)| (name, index))
            .collect();
        Ok(JsonRowDecoder {
            schema: schema.clone(),
            coercers,
            time_index,
            positions,
            transforms,
        })
    }

    /// Decode a body of JSON lines.
    pub fn decode_lines(&self, body: &[u8]) -> DecodedRows {
        let mut decoded = DecodedRows::default();
        for (index, line) in body.split(|byte| *byte == b'\n').enumerate() {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match self.decode_row(line) {
                Ok(Some(row)) => decoded.rows.push(row),
                Ok(None) => decoded.filtered += 1,
                Err(mut reject) => {
                    reject.line = index as u64 + 1;
                    decoded.rejects.push(reject);
                }
            }
        }
        decoded
    }

    /// Decode one JSON object; `Ok(None)` when the table's filter skips it.
    pub fn decode_row(&self, bytes: &[u8]) -> Result<Option<Vec<Value>>, RowReject> {
        let sample = || truncate_value(&String::from_utf8_lossy(&bytes[..bytes.len().min(256)]));
        if bytes.len() > MAX_ROW_BYTES {
            return Err(RowReject {
                line: 0,
                reason: reject_reason::ROW_TOO_LARGE,
                detail: format!(
                    "row of {} bytes is over the limit of {MAX_ROW_BYTES}",
                    bytes.len()
                ),
                sample: sample(),
            });
        }
        let mut slots: Vec<Option<Json>> = vec![None; self.positions.len()];
        let mut deserializer = serde_json::Deserializer::from_slice(bytes);
        let parsed = ObjectSlots {
            positions: &self.positions,
            slots: &mut slots,
        }
        .deserialize(&mut deserializer)
        .and_then(|()| deserializer.end());
        if let Err(error) = parsed {
            let detail = if error.is_data() {
                "a row must be a JSON object".to_string()
            } else {
                error.to_string()
            };
            return Err(RowReject {
                line: 0,
                reason: reject_reason::INVALID_JSON,
                detail,
                sample: sample(),
            });
        }
        if !self.transforms.is_empty() && !self.transforms.apply(&mut slots) {
            return Ok(None);
        }
        self.coerce_slots(&slots).map(Some).map_err(|mut reject| {
            reject.sample = sample();
            reject
        })
    }

    /// Coerce a parsed object to the schema.
    pub fn decode_object(&self, object: &Map<String, Json>) -> Result<Vec<Value>, RowReject> {
        let slots: Vec<Option<Json>> = self
            .schema
            .fields
            .iter()
            .map(|field| object.get(&field.name).cloned())
            .collect();
        self.coerce_slots(&slots)
    }

    /// Coerce one value per field (`None`: the key was absent).
    fn coerce_slots(&self, slots: &[Option<Json>]) -> Result<Vec<Value>, RowReject> {
        let mut row = Vec::with_capacity(self.coercers.len());
        for ((coercer, field), input) in self.coercers.iter().zip(&self.schema.fields).zip(slots) {
            match coercer.coerce_json(input.as_ref()) {
                Ok(value) => row.push(value),
                Err(Reject(why)) => {
                    return Err(RowReject {
                        line: 0,
                        reason: reject_reason::WRONG_TYPE,
                        detail: format!("{why} column=`{}`", field.name),
                        sample: String::new(),
                    });
                }
            }
        }
        if let Some(index) = self.time_index
            && row[index].is_null()
        {
            return Err(RowReject {
                line: 0,
                reason: reject_reason::MISSING_TIME,
                detail: format!(
                    "the time column has no value column=`{}`",
                    self.schema.fields[index].name
                ),
                sample: String::new(),
            });
        }
        Ok(row)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_bad_rows_are_rejected_with_reasons_and_good_rows_kept() -> Result<()> {
        let schema = Schema::from_json(
            r#"{"schemaName": "e", "dimensionFieldSpecs": [{"name": "id", "dataType": "LONG"}],
                "dateTimeFieldSpecs": [{"name": "ts", "dataType": "TIMESTAMP", "format": "1:MILLISECONDS:EPOCH", "granularity": "1:MILLISECONDS"}]}"#,
        )
        .map_err(|e| Error::Invalid(e.to_string()))?
        .value;
        let table = TableConfig::from_json(
            r#"{"tableName": "e", "tableType": "REALTIME", "segmentsConfig": {"timeColumnName": "ts"}}"#,
            &schema,
        )
        .map_err(|e| Error::Invalid(e.to_string()))?
        .value;
        let decoder = JsonRowDecoder::new(&schema, &table)?;
        let mut body = Vec::new();
        body.extend_from_slice(b"{\"id\": 1, \"ts\": 1000}\n");
        body.extend_from_slice(b"{\"id\": \n");
        body.extend_from_slice(b"\xff\xfe\x00garbage\n");
        body.extend_from_slice(b"{\"id\": \"x\", \"ts\": 1}\n");
        body.extend_from_slice(b"{\"id\": 2}\r\n\n");
        body.extend_from_slice(b"[1, 2]\n");
        body.extend_from_slice(
            format!(
                "{{\"id\": 3, \"ts\": \"2024-01-01T00:00:00Z\", \"pad\": \"{}\"}}\n",
                "x".repeat(MAX_ROW_BYTES)
            )
            .as_bytes(),
        );
        body.extend_from_slice(b"{\"id\": 4, \"ts\": \"2024-01-01T00:00:00Z\"}");
        let decoded = decoder.decode_lines(&body);
        assert_eq!(
            decoded.rows,
            vec![
                vec![Value::Long(1), Value::Timestamp(1000)],
                vec![Value::Long(4), Value::Timestamp(1_704_067_200_000)],
            ]
        );
        let reasons: Vec<(u64, &str)> =
            decoded.rejects.iter().map(|r| (r.line, r.reason)).collect();
        assert_eq!(
            reasons,
            vec![
                (2, reject_reason::INVALID_JSON),
                (3, reject_reason::INVALID_JSON),
                (4, reject_reason::WRONG_TYPE),
                (5, reject_reason::MISSING_TIME),
                (7, reject_reason::INVALID_JSON),
                (8, reject_reason::ROW_TOO_LARGE),
            ]
        );
        Ok(())
    }
}
