//! Small editing operations on [`ColumnData`] the batch-wise Parquet path needs: copying
//! cells between columns, filling NULL replacements, and dropping rejected rows.

use std::ops::Range;

use tessera_segment::{ColumnData, ColumnValues, Value, VarBytes};

/// A column's byte buffer passed 4 GiB within one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooLarge;

/// A `notNull` field's replacement value in physical form.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ScalarFill {
    I32(i32),
    I64(i64),
    F32(f32),
    F64(f64),
    Bytes(Vec<u8>),
}

impl ScalarFill {
    /// The physical form of a scalar [`Value`]; `None` for NULL and arrays.
    pub(crate) fn of(value: &Value) -> Option<ScalarFill> {
        Some(match value {
            Value::Int(v) => ScalarFill::I32(*v),
            Value::Boolean(v) => ScalarFill::I32(i32::from(*v)),
            Value::Long(v) | Value::Timestamp(v) => ScalarFill::I64(*v),
            Value::Float(v) => ScalarFill::F32(*v),
            Value::Double(v) => ScalarFill::F64(*v),
            Value::String(v) | Value::Json(v) => ScalarFill::Bytes(v.as_bytes().to_vec()),
            Value::Bytes(v) => ScalarFill::Bytes(v.clone()),
            Value::Null | Value::Array(_) => return None,
        })
    }
}

pub(crate) fn push_bytes(out: &mut VarBytes, value: &[u8]) -> Result<(), TooLarge> {
    out.data.extend_from_slice(value);
    end_value(out)
}

/// Closes the value whose bytes were appended to `out.data` since the last offset.
pub(crate) fn end_value(out: &mut VarBytes) -> Result<(), TooLarge> {
    let end = u32::try_from(out.data.len()).map_err(|_| TooLarge)?;
    out.offsets.push(end);
    Ok(())
}

/// Appends the scalar placeholder stored under a NULL flag (0, 0.0 or empty bytes).
pub(crate) fn push_placeholder(out: &mut ColumnData) -> Result<(), TooLarge> {
    match out {
        ColumnData::I32(v) => v.push(0),
        ColumnData::I64(v) => v.push(0),
        ColumnData::F32(v) => v.push(0.0),
        ColumnData::F64(v) => v.push(0.0),
        ColumnData::Bytes(v) => end_value(v)?,
        ColumnData::Multi { offsets, values } => {
            let end = u32::try_from(values.len()).map_err(|_| TooLarge)?;
            offsets.push(end);
        }
    }
    Ok(())
}

/// Appends one scalar fill value; a type mismatch (impossible for fills built from the
/// same field) appends the placeholder.
pub(crate) fn push_fill(out: &mut ColumnData, fill: &ScalarFill) -> Result<(), TooLarge> {
    match (out, fill) {
        (ColumnData::I32(v), ScalarFill::I32(x)) => v.push(*x),
        (ColumnData::I64(v), ScalarFill::I64(x)) => v.push(*x),
        (ColumnData::F32(v), ScalarFill::F32(x)) => v.push(*x),
        (ColumnData::F64(v), ScalarFill::F64(x)) => v.push(*x),
        (ColumnData::Bytes(v), ScalarFill::Bytes(x)) => push_bytes(v, x)?,
        (out, _) => push_placeholder(out)?,
    }
    Ok(())
}

/// Appends the scalar cells `range` of `source` to `out` (same physical type).
pub(crate) fn extend_cells(
    out: &mut ColumnData,
    source: &ColumnData,
    range: Range<usize>,
) -> Result<(), TooLarge> {
    match (out, source) {
        (ColumnData::I32(out), ColumnData::I32(source)) => out.extend_from_slice(&source[range]),
        (ColumnData::I64(out), ColumnData::I64(source)) => out.extend_from_slice(&source[range]),
        (ColumnData::F32(out), ColumnData::F32(source)) => out.extend_from_slice(&source[range]),
        (ColumnData::F64(out), ColumnData::F64(source)) => out.extend_from_slice(&source[range]),
        (ColumnData::Bytes(out), ColumnData::Bytes(source)) => {
            let base = u32::try_from(out.data.len()).map_err(|_| TooLarge)?;
            let first = source.offsets[range.start];
            let last = source.offsets[range.end];
            out.data
                .extend_from_slice(&source.data[first as usize..last as usize]);
            for offset in &source.offsets[range.start + 1..=range.end] {
                let shifted = (offset - first).checked_add(base).ok_or(TooLarge)?;
                out.offsets.push(shifted);
            }
        }
        (
            ColumnData::Multi { offsets, values },
            ColumnData::Multi {
                offsets: source_offsets,
                values: source_values,
            },
        ) => {
            for cell in range {
                let elements = source_offsets[cell] as usize..source_offsets[cell + 1] as usize;
                extend_cells(values, source_values, elements)?;
                offsets.push(u32::try_from(values.len()).map_err(|_| TooLarge)?);
            }
        }
        // Both sides are always built for the same field; `ColumnBatch::validate` would
        // catch a mismatch.
        _ => {}
    }
    Ok(())
}

/// Keeps the rows whose `keep` flag is set, in order.
pub(crate) fn retain_rows(column: &mut ColumnValues, keep: &[bool]) -> Result<(), TooLarge> {
    if let Some(nulls) = &mut column.nulls {
        retain_flags(nulls, keep);
        if !nulls.iter().any(|null| *null) {
            column.nulls = None;
        }
    }
    match &mut column.data {
        ColumnData::I32(values) => retain_flags(values, keep),
        ColumnData::I64(values) => retain_flags(values, keep),
        ColumnData::F32(values) => retain_flags(values, keep),
        ColumnData::F64(values) => retain_flags(values, keep),
        data @ (ColumnData::Bytes(_) | ColumnData::Multi { .. }) => {
            let mut kept = empty_like(data);
            for (row, _) in keep.iter().enumerate().filter(|(_, keep)| **keep) {
                extend_cells(&mut kept, data, row..row + 1)?;
            }
            *data = kept;
        }
    }
    Ok(())
}

fn retain_flags<T>(values: &mut Vec<T>, keep: &[bool]) {
    let mut row = 0;
    values.retain(|_| {
        let kept = keep.get(row).copied().unwrap_or(true);
        row += 1;
        kept
    });
}

/// An empty column of the same shape as `data`.
pub(crate) fn empty_like(data: &ColumnData) -> ColumnData {
    match data {
        ColumnData::I32(_) => ColumnData::I32(Vec::new()),
        ColumnData::I64(_) => ColumnData::I64(Vec::new()),
        ColumnData::F32(_) => ColumnData::F32(Vec::new()),
        ColumnData::F64(_) => ColumnData::F64(Vec::new()),
        ColumnData::Bytes(_) => ColumnData::Bytes(VarBytes::default()),
        ColumnData::Multi { values, .. } => ColumnData::Multi {
            offsets: vec![0],
            values: Box::new(empty_like(values)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes_of(values: &[&str]) -> ColumnData {
        let mut out = VarBytes::default();
        for value in values {
            push_bytes(&mut out, value.as_bytes()).expect("small");
        }
        ColumnData::Bytes(out)
    }

    #[test]
    fn test_retain_rows_every_shape() {
        let keep = [true, false, true];
        let mut ints = ColumnValues {
            nulls: Some(vec![false, true, false]),
            data: ColumnData::I64(vec![1, 0, 3]),
        };
        retain_rows(&mut ints, &keep).expect("retain");
        assert_eq!(ints.data, ColumnData::I64(vec![1, 3]));
        assert_eq!(ints.nulls, None);

        let mut strings = ColumnValues {
            nulls: None,
            data: bytes_of(&["a", "bb", "ccc"]),
        };
        retain_rows(&mut strings, &keep).expect("retain");
        assert_eq!(strings.data, bytes_of(&["a", "ccc"]));

        let mut multi = ColumnValues {
            nulls: None,
            data: ColumnData::Multi {
                offsets: vec![0, 2, 3, 3],
                values: Box::new(bytes_of(&["x", "y", "z"])),
            },
        };
        retain_rows(&mut multi, &keep).expect("retain");
        assert_eq!(
            multi.data,
            ColumnData::Multi {
                offsets: vec![0, 2, 2],
                values: Box::new(bytes_of(&["x", "y"])),
            }
        );
    }

    #[test]
    fn test_fill_and_placeholder() {
        let mut data = bytes_of(&[]);
        push_fill(&mut data, &ScalarFill::Bytes(b"null".to_vec())).expect("fill");
        push_placeholder(&mut data).expect("placeholder");
        assert_eq!(data, bytes_of(&["null", ""]));
        assert_eq!(
            ScalarFill::of(&Value::Boolean(true)),
            Some(ScalarFill::I32(1))
        );
        assert_eq!(ScalarFill::of(&Value::Null), None);
    }
}
