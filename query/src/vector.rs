//! [`Vector`]: one expression's values for a block of rows — the unit the evaluator and
//! aggregators work on. Values live in a typed buffer; `nulls[i]` marks SQL NULL.

use crate::types::{Scalar, SqlType};

#[derive(Debug, Clone)]
pub enum Data {
    Bool(Vec<bool>),
    /// INT, LONG, TIMESTAMP.
    Long(Vec<i64>),
    /// FLOAT, DOUBLE.
    Double(Vec<f64>),
    /// STRING, JSON.
    Str(Vec<String>),
    Bytes(Vec<Vec<u8>>),
    /// Multi-value cells (and NULL-typed vectors: every cell NULL).
    Array(Vec<Vec<Scalar>>),
}

#[derive(Debug, Clone)]
pub struct Vector {
    pub ty: SqlType,
    /// Cells are arrays of `ty` (a multi-value column).
    pub multi_value: bool,
    pub data: Data,
    /// `Some` when any cell may be NULL; `nulls[i]` is true for a NULL cell.
    pub nulls: Option<Vec<bool>>,
}

impl Vector {
    pub fn len(&self) -> usize {
        match &self.data {
            Data::Bool(v) => v.len(),
            Data::Long(v) => v.len(),
            Data::Double(v) => v.len(),
            Data::Str(v) => v.len(),
            Data::Bytes(v) => v.len(),
            Data::Array(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn is_null(&self, row: usize) -> bool {
        self.nulls.as_ref().is_some_and(|nulls| nulls[row])
    }

    pub fn new(ty: SqlType, data: Data, nulls: Option<Vec<bool>>) -> Vector {
        let nulls = nulls.filter(|nulls| nulls.iter().any(|null| *null));
        Vector {
            ty,
            multi_value: false,
            data,
            nulls,
        }
    }

    /// A vector of `len` copies of one value.
    pub fn constant(ty: SqlType, value: &Scalar, len: usize) -> Vector {
        if value.is_null() {
            let data = empty_data(ty, len);
            return Vector {
                ty,
                multi_value: false,
                data,
                nulls: Some(vec![true; len]),
            };
        }
        let data = match value {
            Scalar::Bool(v) => Data::Bool(vec![*v; len]),
            Scalar::Long(v) if ty.is_floating() => Data::Double(vec![*v as f64; len]),
            Scalar::Long(v) => Data::Long(vec![*v; len]),
            Scalar::Double(v) => Data::Double(vec![*v; len]),
            Scalar::Str(v) => Data::Str(vec![v.clone(); len]),
            Scalar::Bytes(v) => Data::Bytes(vec![v.clone(); len]),
            Scalar::Array(v) => Data::Array(vec![v.clone(); len]),
            Scalar::Null => empty_data(ty, len),
        };
        Vector {
            ty,
            multi_value: matches!(value, Scalar::Array(_)),
            data,
            nulls: None,
        }
    }

    /// Build from scalars of one type (NULL cells allowed).
    pub fn from_scalars(ty: SqlType, multi_value: bool, values: &[Scalar]) -> Vector {
        let nulls: Vec<bool> = values.iter().map(Scalar::is_null).collect();
        let data = if multi_value {
            Data::Array(
                values
                    .iter()
                    .map(|v| match v {
                        Scalar::Array(items) => items.clone(),
                        _ => Vec::new(),
                    })
                    .collect(),
            )
        } else {
            match ty {
                SqlType::Boolean => Data::Bool(
                    values
                        .iter()
                        .map(|v| matches!(v, Scalar::Bool(true)))
                        .collect(),
                ),
                SqlType::Int | SqlType::Long | SqlType::Timestamp => {
                    Data::Long(values.iter().map(|v| v.as_i64().unwrap_or(0)).collect())
                }
                SqlType::Float | SqlType::Double => {
                    Data::Double(values.iter().map(|v| v.as_f64().unwrap_or(0.0)).collect())
                }
                SqlType::String | SqlType::Json => Data::Str(
                    values
                        .iter()
                        .map(|v| v.as_str().unwrap_or_default().to_string())
                        .collect(),
                ),
                SqlType::Bytes => Data::Bytes(
                    values
                        .iter()
                        .map(|v| match v {
                            Scalar::Bytes(b) => b.clone(),
                            _ => Vec::new(),
                        })
                        .collect(),
                ),
                SqlType::Null => Data::Array(vec![Vec::new(); values.len()]),
            }
        };
        let mut vector = Vector::new(ty, data, Some(nulls));
        if ty == SqlType::Null {
            vector.nulls = Some(vec![true; values.len()]);
        }
        vector.multi_value = multi_value;
        vector
    }

    /// The value of one row.
    pub fn scalar(&self, row: usize) -> Scalar {
        if self.is_null(row) || self.ty == SqlType::Null {
            return Scalar::Null;
        }
        match &self.data {
            Data::Bool(v) => Scalar::Bool(v[row]),
            Data::Long(v) => Scalar::Long(v[row]),
            Data::Double(v) => Scalar::Double(v[row]),
            Data::Str(v) => Scalar::Str(v[row].clone()),
            Data::Bytes(v) => Scalar::Bytes(v[row].clone()),
            Data::Array(v) => Scalar::Array(v[row].clone()),
        }
    }

    /// Numeric cells as f64 (NULL cells read 0.0; check `nulls`).
    pub fn to_f64(&self) -> Vec<f64> {
        match &self.data {
            Data::Double(v) => v.clone(),
            Data::Long(v) => v.iter().map(|x| *x as f64).collect(),
            Data::Bool(v) => v.iter().map(|x| f64::from(u8::from(*x))).collect(),
            _ => vec![0.0; self.len()],
        }
    }

    /// The rows where a boolean vector is TRUE (not FALSE, not NULL).
    pub fn true_rows(&self) -> Vec<bool> {
        match &self.data {
            Data::Bool(values) => match &self.nulls {
                None => values.clone(),
                Some(nulls) => values.iter().zip(nulls).map(|(v, n)| *v && !n).collect(),
            },
            _ => vec![false; self.len()],
        }
    }

    /// Keep the rows where `keep` is true.
    pub fn filter(&self, keep: &[bool]) -> Vector {
        fn pick<T: Clone>(values: &[T], keep: &[bool]) -> Vec<T> {
            values
                .iter()
                .zip(keep)
                .filter(|(_, k)| **k)
                .map(|(v, _)| v.clone())
                .collect()
        }
        let data = match &self.data {
            Data::Bool(v) => Data::Bool(pick(v, keep)),
            Data::Long(v) => Data::Long(pick(v, keep)),
            Data::Double(v) => Data::Double(pick(v, keep)),
            Data::Str(v) => Data::Str(pick(v, keep)),
            Data::Bytes(v) => Data::Bytes(pick(v, keep)),
            Data::Array(v) => Data::Array(pick(v, keep)),
        };
        Vector {
            ty: self.ty,
            multi_value: self.multi_value,
            data,
            nulls: self.nulls.as_ref().map(|nulls| pick(nulls, keep)),
        }
    }
}

fn empty_data(ty: SqlType, len: usize) -> Data {
    match ty {
        SqlType::Boolean => Data::Bool(vec![false; len]),
        SqlType::Int | SqlType::Long | SqlType::Timestamp => Data::Long(vec![0; len]),
        SqlType::Float | SqlType::Double => Data::Double(vec![0.0; len]),
        SqlType::String | SqlType::Json => Data::Str(vec![String::new(); len]),
        SqlType::Bytes => Data::Bytes(vec![Vec::new(); len]),
        SqlType::Null => Data::Array(vec![Vec::new(); len]),
    }
}

/// Union of two null masks.
pub fn merge_nulls(a: &Option<Vec<bool>>, b: &Option<Vec<bool>>) -> Option<Vec<bool>> {
    match (a, b) {
        (None, None) => None,
        (Some(a), None) => Some(a.clone()),
        (None, Some(b)) => Some(b.clone()),
        (Some(a), Some(b)) => Some(a.iter().zip(b).map(|(x, y)| *x || *y).collect()),
    }
}
