//! Values on the PostgreSQL wire: Tessera's types as PostgreSQL types (OIDs), and a
//! cell's bytes in the text and the binary format.
//!
//! | Tessera    | PostgreSQL                  |
//! |------------|-----------------------------|
//! | BOOLEAN    | `bool` (16)                 |
//! | INT        | `int4` (23)                 |
//! | LONG       | `int8` (20)                 |
//! | FLOAT      | `float4` (700)              |
//! | DOUBLE     | `float8` (701)              |
//! | TIMESTAMP  | `timestamp` (1114), UTC     |
//! | STRING     | `text` (25)                 |
//! | JSON       | `json` (114)                |
//! | BYTES      | `bytea` (17)                |
//! | multi-value| the element type's array    |

use bytes::{BufMut, BytesMut};
use pgwire::api::Type;
use pgwire::api::results::FieldFormat;
use pgwire::messages::data::DataRow;
use tessera_query::types::{ColumnType, Scalar, SqlType};

/// One value as the PG layer holds it (Tessera results and catalog rows alike).
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    Bytes(Vec<u8>),
    /// Epoch milliseconds, UTC.
    Timestamp(i64),
    Array(Vec<Cell>),
}

impl Cell {
    /// A Tessera result value of column type `ty`.
    pub fn from_scalar(value: &Scalar, ty: SqlType) -> Cell {
        match value {
            Scalar::Null => Cell::Null,
            Scalar::Bool(v) => Cell::Bool(*v),
            Scalar::Long(v) if ty == SqlType::Timestamp => Cell::Timestamp(*v),
            Scalar::Long(v) if ty.is_floating() => Cell::Float(*v as f64),
            Scalar::Long(v) => Cell::Int(*v),
            Scalar::Double(v) => Cell::Float(*v),
            Scalar::Str(v) => Cell::Text(v.clone()),
            Scalar::Bytes(v) => Cell::Bytes(v.clone()),
            Scalar::Array(items) => {
                Cell::Array(items.iter().map(|i| Cell::from_scalar(i, ty)).collect())
            }
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Cell::Null)
    }

    /// The value as PostgreSQL's text output would print it.
    pub fn to_text(&self) -> Option<String> {
        Some(match self {
            Cell::Null => return None,
            Cell::Bool(v) => if *v { "t" } else { "f" }.to_string(),
            Cell::Int(v) => v.to_string(),
            Cell::Float(v) => float_text(*v),
            Cell::Text(v) => v.clone(),
            Cell::Bytes(v) => format!("\\x{}", tessera_segment::value::hex(v)),
            Cell::Timestamp(ms) => timestamp_text(*ms),
            Cell::Array(items) => array_text(items),
        })
    }
}

fn float_text(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else {
        v.to_string()
    }
}

/// `2026-01-01 00:00:01.5`: PostgreSQL prints no fraction for whole seconds.
pub fn timestamp_text(ms: i64) -> String {
    let text = tessera_query::time::format_pinot(ms);
    match text.strip_suffix(".0") {
        Some(whole) => whole.to_string(),
        None => text,
    }
}

/// `{a,"b c",NULL}`: elements quoted when PostgreSQL would quote them.
fn array_text(items: &[Cell]) -> String {
    let mut out = String::from("{");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match item.to_text() {
            None => out.push_str("NULL"),
            Some(text) => {
                let quote = text.is_empty()
                    || text.eq_ignore_ascii_case("null")
                    || text
                        .chars()
                        .any(|c| matches!(c, ',' | '{' | '}' | '"' | '\\') || c.is_whitespace());
                if quote {
                    out.push('"');
                    for c in text.chars() {
                        if c == '"' || c == '\\' {
                            out.push('\\');
                        }
                        out.push(c);
                    }
                    out.push('"');
                } else {
                    out.push_str(&text);
                }
            }
        }
    }
    out.push('}');
    out
}

/// The PostgreSQL type of a Tessera column type.
pub fn pg_type(ty: ColumnType) -> Type {
    let element = match ty.element {
        SqlType::Boolean => Type::BOOL,
        SqlType::Int => Type::INT4,
        SqlType::Long => Type::INT8,
        SqlType::Float => Type::FLOAT4,
        SqlType::Double => Type::FLOAT8,
        SqlType::Timestamp => Type::TIMESTAMP,
        SqlType::String | SqlType::Null => Type::TEXT,
        SqlType::Json => Type::JSON,
        SqlType::Bytes => Type::BYTEA,
    };
    if ty.single_value {
        element
    } else {
        array_of(&element)
    }
}

pub fn array_of(element: &Type) -> Type {
    match *element {
        Type::BOOL => Type::BOOL_ARRAY,
        Type::INT2 => Type::INT2_ARRAY,
        Type::INT4 => Type::INT4_ARRAY,
        Type::INT8 => Type::INT8_ARRAY,
        Type::FLOAT4 => Type::FLOAT4_ARRAY,
        Type::FLOAT8 => Type::FLOAT8_ARRAY,
        Type::TIMESTAMP => Type::TIMESTAMP_ARRAY,
        Type::JSON => Type::JSON_ARRAY,
        Type::BYTEA => Type::BYTEA_ARRAY,
        Type::NAME => Type::NAME_ARRAY,
        Type::OID => Type::OID_ARRAY,
        _ => Type::TEXT_ARRAY,
    }
}

fn element_of(array: &Type) -> Type {
    match *array {
        Type::BOOL_ARRAY => Type::BOOL,
        Type::INT2_ARRAY => Type::INT2,
        Type::INT4_ARRAY => Type::INT4,
        Type::INT8_ARRAY => Type::INT8,
        Type::FLOAT4_ARRAY => Type::FLOAT4,
        Type::FLOAT8_ARRAY => Type::FLOAT8,
        Type::TIMESTAMP_ARRAY => Type::TIMESTAMP,
        Type::JSON_ARRAY => Type::JSON,
        Type::BYTEA_ARRAY => Type::BYTEA,
        Type::NAME_ARRAY => Type::NAME,
        Type::OID_ARRAY => Type::OID,
        _ => Type::TEXT,
    }
}

/// Microseconds between the Unix epoch and PostgreSQL's (2000-01-01).
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// A cell in the binary format of `ty` (`None` for NULL).
fn binary(cell: &Cell, ty: &Type, out: &mut BytesMut) {
    match (cell, ty) {
        (Cell::Bool(v), _) => out.put_u8(u8::from(*v)),
        (Cell::Int(v), &Type::INT2) => out.put_i16(*v as i16),
        (Cell::Int(v), &Type::INT4 | &Type::OID) => out.put_i32(*v as i32),
        (Cell::Int(v), &Type::INT8) => out.put_i64(*v),
        (Cell::Int(v), &Type::FLOAT4) => out.put_f32(*v as f32),
        (Cell::Int(v), &Type::FLOAT8) => out.put_f64(*v as f64),
        (Cell::Float(v), &Type::FLOAT4) => out.put_f32(*v as f32),
        (Cell::Float(v), &Type::FLOAT8) => out.put_f64(*v),
        (Cell::Timestamp(ms), _) => {
            out.put_i64(ms.saturating_mul(1000).saturating_sub(PG_EPOCH_MICROS))
        }
        (Cell::Bytes(v), _) => out.put_slice(v),
        (Cell::Array(items), _) => {
            let element = element_of(ty);
            out.put_i32(if items.is_empty() { 0 } else { 1 });
            out.put_i32(i32::from(items.iter().any(Cell::is_null)));
            out.put_u32(element.oid());
            if !items.is_empty() {
                out.put_i32(items.len() as i32);
                out.put_i32(1);
            }
            for item in items {
                put_field(item, &element, FieldFormat::Binary, out);
            }
        }
        // Text-like types (and any value whose type has no other binary form).
        (other, _) => out.put_slice(other.to_text().unwrap_or_default().as_bytes()),
    }
}

/// A cell's text in column type `ty`: `real` values print at single precision, as
/// PostgreSQL prints them (0.1, not 0.10000000149011612).
fn text_of(cell: &Cell, ty: &Type) -> String {
    match (cell, ty) {
        (Cell::Float(v), &Type::FLOAT4) if v.is_finite() => (*v as f32).to_string(),
        (Cell::Array(items), &Type::FLOAT4_ARRAY) => Cell::Array(
            items
                .iter()
                .map(|item| match item {
                    Cell::Float(v) if v.is_finite() => Cell::Text((*v as f32).to_string()),
                    other => other.clone(),
                })
                .collect(),
        )
        .to_text()
        .unwrap_or_default(),
        _ => cell.to_text().unwrap_or_default(),
    }
}

/// One length-prefixed field of a DataRow.
fn put_field(cell: &Cell, ty: &Type, format: FieldFormat, out: &mut BytesMut) {
    if cell.is_null() {
        out.put_i32(-1);
        return;
    }
    let start = out.len();
    out.put_i32(0);
    match format {
        FieldFormat::Text => out.put_slice(text_of(cell, ty).as_bytes()),
        FieldFormat::Binary => binary(cell, ty, out),
    }
    let len = (out.len() - start - 4) as i32;
    out[start..start + 4].copy_from_slice(&len.to_be_bytes());
}

/// A DataRow of `cells` in the columns' types and formats.
pub fn data_row(cells: &[Cell], types: &[(Type, FieldFormat)]) -> DataRow {
    let mut out = BytesMut::with_capacity(16 * cells.len());
    for (cell, (ty, format)) in cells.iter().zip(types) {
        put_field(cell, ty, *format, &mut out);
    }
    DataRow::new(out, cells.len() as i16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_text_forms_match_postgres() {
        assert_eq!(Cell::Bool(true).to_text().as_deref(), Some("t"));
        assert_eq!(
            Cell::Bytes(vec![0xca, 0xfe]).to_text().as_deref(),
            Some("\\xcafe")
        );
        assert_eq!(timestamp_text(1_767_225_600_000), "2026-01-01 00:00:00");
        assert_eq!(timestamp_text(1_767_225_601_500), "2026-01-01 00:00:01.5");
        let array = Cell::Array(vec![
            Cell::Text("x".into()),
            Cell::Text("a b".into()),
            Cell::Null,
            Cell::Text(String::new()),
        ]);
        assert_eq!(array.to_text().as_deref(), Some("{x,\"a b\",NULL,\"\"}"));
        assert_eq!(Cell::Float(f64::NAN).to_text().as_deref(), Some("NaN"));
        let real = data_row(
            &[Cell::Float(f64::from(0.1f32))],
            &[(Type::FLOAT4, FieldFormat::Text)],
        );
        assert_eq!(&real.data[4..], b"0.1");
    }

    #[test]
    fn test_binary_timestamp_counts_from_2000() {
        let row = data_row(
            &[Cell::Timestamp(946_684_800_001)],
            &[(Type::TIMESTAMP, FieldFormat::Binary)],
        );
        assert_eq!(&row.data[..], &[0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 3, 232]);
    }

    #[test]
    fn test_binary_int_array_has_header_and_elements() {
        let row = data_row(
            &[Cell::Array(vec![Cell::Int(1), Cell::Null])],
            &[(Type::INT8_ARRAY, FieldFormat::Binary)],
        );
        let data = &row.data[4..];
        assert_eq!(&data[0..8], &[0, 0, 0, 1, 0, 0, 0, 1]);
        assert_eq!(
            u32::from_be_bytes([data[8], data[9], data[10], data[11]]),
            20
        );
        assert_eq!(&data[12..20], &[0, 0, 0, 2, 0, 0, 0, 1]);
        assert_eq!(&data[20..32], &[0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(&data[32..36], &(-1i32).to_be_bytes());
    }
}
