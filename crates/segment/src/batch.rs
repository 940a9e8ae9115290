//! Columnar input to the segment builder: one [`ColumnBatch`] per input batch, one
//! [`ColumnValues`] per schema field, in schema order. Decoders (Parquet, CSV, JSON)
//! fill these; values are already coerced to the schema, so the builder never sees a
//! value of the wrong type.

use tessera_config::{DataType, FieldSpec, Schema};

use crate::value::{PhysicalType, Value};
use crate::{Error, Result};

/// Variable-width values: `offsets` has one more entry than there are values;
/// value `i` is `data[offsets[i]..offsets[i + 1]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct VarBytes {
    pub offsets: Vec<u32>,
    pub data: Vec<u8>,
}

impl Default for VarBytes {
    fn default() -> Self {
        VarBytes {
            offsets: vec![0],
            data: Vec::new(),
        }
    }
}

impl VarBytes {
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, index: usize) -> &[u8] {
        &self.data[self.offsets[index] as usize..self.offsets[index + 1] as usize]
    }

    /// Append one value. Fails when the batch's byte buffer would pass 4 GiB.
    pub fn push(&mut self, value: &[u8]) -> Result<()> {
        self.data.extend_from_slice(value);
        let end = u32::try_from(self.data.len()).map_err(|_| {
            Error::InvalidInput(
                "a batch holds more than 4 GiB of bytes in one column; use smaller batches".into(),
            )
        })?;
        self.offsets.push(end);
        Ok(())
    }
}

/// The values of one column in one batch, physical representation (see [`PhysicalType`]).
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnData {
    I32(Vec<i32>),
    I64(Vec<i64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    Bytes(VarBytes),
    /// Multi-value cells: cell `i` holds `values[offsets[i]..offsets[i + 1]]`.
    Multi {
        offsets: Vec<u32>,
        values: Box<ColumnData>,
    },
}

impl ColumnData {
    /// An empty container for a field's values.
    pub fn new_for(field: &FieldSpec) -> ColumnData {
        let scalar = Self::new_scalar(PhysicalType::of(field.data_type));
        if field.single_value {
            scalar
        } else {
            ColumnData::Multi {
                offsets: vec![0],
                values: Box::new(scalar),
            }
        }
    }

    pub fn new_scalar(physical: PhysicalType) -> ColumnData {
        match physical {
            PhysicalType::I32 => ColumnData::I32(Vec::new()),
            PhysicalType::I64 => ColumnData::I64(Vec::new()),
            PhysicalType::F32 => ColumnData::F32(Vec::new()),
            PhysicalType::F64 => ColumnData::F64(Vec::new()),
            PhysicalType::Bytes => ColumnData::Bytes(VarBytes::default()),
        }
    }

    /// Number of cells (rows), not elements.
    pub fn len(&self) -> usize {
        match self {
            ColumnData::I32(v) => v.len(),
            ColumnData::I64(v) => v.len(),
            ColumnData::F32(v) => v.len(),
            ColumnData::F64(v) => v.len(),
            ColumnData::Bytes(v) => v.len(),
            ColumnData::Multi { offsets, .. } => offsets.len() - 1,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Append one scalar value (already coerced to this column's type), or the
    /// placeholder for NULL when `value` is `Value::Null`.
    fn push_scalar(&mut self, value: &Value) -> Result<()> {
        match (self, value) {
            (ColumnData::I32(v), Value::Int(x)) => v.push(*x),
            (ColumnData::I32(v), Value::Boolean(x)) => v.push(i32::from(*x)),
            (ColumnData::I32(v), Value::Null) => v.push(0),
            (ColumnData::I64(v), Value::Long(x) | Value::Timestamp(x)) => v.push(*x),
            (ColumnData::I64(v), Value::Null) => v.push(0),
            (ColumnData::F32(v), Value::Float(x)) => v.push(*x),
            (ColumnData::F32(v), Value::Null) => v.push(0.0),
            (ColumnData::F64(v), Value::Double(x)) => v.push(*x),
            (ColumnData::F64(v), Value::Null) => v.push(0.0),
            (ColumnData::Bytes(v), Value::String(x) | Value::Json(x)) => v.push(x.as_bytes())?,
            (ColumnData::Bytes(v), Value::Bytes(x)) => v.push(x)?,
            (ColumnData::Bytes(v), Value::Null) => v.push(&[])?,
            (_, other) => {
                return Err(Error::InvalidInput(format!(
                    "value does not match the column's physical type value=`{other:?}`"
                )));
            }
        }
        Ok(())
    }

    /// Append one cell: a scalar, NULL, or (for multi-value columns) an array.
    pub fn push_value(&mut self, value: &Value) -> Result<()> {
        match self {
            ColumnData::Multi { offsets, values } => {
                match value {
                    Value::Array(items) => {
                        for item in items {
                            if item.is_null() {
                                return Err(Error::InvalidInput(
                                    "a multi-value cell cannot hold a NULL element".into(),
                                ));
                            }
                            values.push_scalar(item)?;
                        }
                    }
                    Value::Null => {}
                    scalar => values.push_scalar(scalar)?,
                }
                let end = u32::try_from(values.len()).map_err(|_| {
                    Error::InvalidInput("a batch holds more than 4G multi-value elements".into())
                })?;
                offsets.push(end);
                Ok(())
            }
            scalar_column => {
                if let Value::Array(_) = value {
                    return Err(Error::InvalidInput(
                        "an array given for a single-value column".into(),
                    ));
                }
                scalar_column.push_scalar(value)
            }
        }
    }
}

/// The values of one column in a batch plus which rows are NULL.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnValues {
    /// `Some(flags)` with `flags[row] == true` where the row is NULL; `None` when no row is.
    pub nulls: Option<Vec<bool>>,
    pub data: ColumnData,
}

impl ColumnValues {
    pub fn new_for(field: &FieldSpec) -> ColumnValues {
        ColumnValues {
            nulls: None,
            data: ColumnData::new_for(field),
        }
    }

    pub fn is_null(&self, row: usize) -> bool {
        self.nulls.as_ref().is_some_and(|flags| flags[row])
    }

    /// Append a cell; `Value::Null` records a NULL row.
    pub fn push(&mut self, value: &Value) -> Result<()> {
        let row = self.data.len();
        self.data.push_value(value)?;
        if value.is_null() {
            self.nulls
                .get_or_insert_with(|| vec![false; row])
                .push(true);
        } else if let Some(flags) = &mut self.nulls {
            flags.push(false);
        }
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

/// A batch of rows in columnar form, columns in schema order.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnBatch {
    pub num_rows: usize,
    pub columns: Vec<ColumnValues>,
}

impl ColumnBatch {
    pub fn new_for(schema: &Schema) -> ColumnBatch {
        ColumnBatch {
            num_rows: 0,
            columns: schema.fields.iter().map(ColumnValues::new_for).collect(),
        }
    }

    /// Append one row of already-coerced values (one per schema field, schema order).
    /// A row that does not fit leaves the batch unchanged and returns an error.
    pub fn push_row(&mut self, schema: &Schema, row: &[Value]) -> Result<()> {
        if row.len() != self.columns.len() {
            return Err(Error::InvalidInput(format!(
                "row has {} values but the schema has {} columns",
                row.len(),
                self.columns.len()
            )));
        }
        for ((field, value), column) in schema.fields.iter().zip(row).zip(&self.columns) {
            check_value_type(field, value)?;
            let _ = column;
        }
        for (value, column) in row.iter().zip(&mut self.columns) {
            column.push(value)?;
        }
        self.num_rows += 1;
        Ok(())
    }

    /// Build a batch from rows; used by tests and row-oriented sources.
    pub fn from_rows(schema: &Schema, rows: &[Vec<Value>]) -> Result<ColumnBatch> {
        let mut batch = ColumnBatch::new_for(schema);
        for row in rows {
            batch.push_row(schema, row)?;
        }
        Ok(batch)
    }

    /// Check that the batch's shape matches the schema: column count, physical types,
    /// single/multi-value, equal row counts, valid UTF-8 in STRING and JSON columns.
    pub fn validate(&self, schema: &Schema) -> Result<()> {
        if self.columns.len() != schema.fields.len() {
            return Err(Error::InvalidInput(format!(
                "batch has {} columns but the schema has {}",
                self.columns.len(),
                schema.fields.len()
            )));
        }
        for (field, column) in schema.fields.iter().zip(&self.columns) {
            let shape_ok = match (&column.data, field.single_value) {
                (ColumnData::Multi { values, .. }, false) => {
                    physical_of(values) == Some(PhysicalType::of(field.data_type))
                }
                (data, true) => physical_of(data) == Some(PhysicalType::of(field.data_type)),
                _ => false,
            };
            if !shape_ok {
                return Err(Error::InvalidInput(format!(
                    "batch column does not match the schema column=`{}`",
                    field.name
                )));
            }
            if column.data.len() != self.num_rows
                || column
                    .nulls
                    .as_ref()
                    .is_some_and(|n| n.len() != self.num_rows)
            {
                return Err(Error::InvalidInput(format!(
                    "batch column has the wrong number of rows column=`{}`",
                    field.name
                )));
            }
            if matches!(field.data_type, DataType::String | DataType::Json) {
                let bytes = match &column.data {
                    ColumnData::Bytes(v) => v,
                    ColumnData::Multi { values, .. } => match values.as_ref() {
                        ColumnData::Bytes(v) => v,
                        _ => continue,
                    },
                    _ => continue,
                };
                if std::str::from_utf8(&bytes.data).is_err() {
                    return Err(Error::InvalidInput(format!(
                        "string column holds invalid UTF-8 column=`{}`",
                        field.name
                    )));
                }
            }
        }
        Ok(())
    }
}

fn physical_of(data: &ColumnData) -> Option<PhysicalType> {
    match data {
        ColumnData::I32(_) => Some(PhysicalType::I32),
        ColumnData::I64(_) => Some(PhysicalType::I64),
        ColumnData::F32(_) => Some(PhysicalType::F32),
        ColumnData::F64(_) => Some(PhysicalType::F64),
        ColumnData::Bytes(_) => Some(PhysicalType::Bytes),
        ColumnData::Multi { .. } => None,
    }
}

/// Whether `value` is a valid cell for `field` (type, single/multi-value).
pub fn check_value_type(field: &FieldSpec, value: &Value) -> Result<()> {
    let scalar_ok = |v: &Value| {
        matches!(
            (field.data_type, v),
            (DataType::Int, Value::Int(_))
                | (DataType::Long, Value::Long(_))
                | (DataType::Float, Value::Float(_))
                | (DataType::Double, Value::Double(_))
                | (DataType::Boolean, Value::Boolean(_))
                | (DataType::Timestamp, Value::Timestamp(_))
                | (DataType::String, Value::String(_))
                | (DataType::Bytes, Value::Bytes(_))
                | (DataType::Json, Value::Json(_))
        )
    };
    let ok = match value {
        Value::Null => true,
        Value::Array(items) => !field.single_value && items.iter().all(scalar_ok),
        scalar => scalar_ok(scalar),
    };
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidInput(format!(
            "value does not match column type column=`{}` type=`{}` value=`{value:?}`",
            field.name,
            field.data_type.pinot_name()
        )))
    }
}
