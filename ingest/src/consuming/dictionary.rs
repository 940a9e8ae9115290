//! The unsorted, append-only dictionary of a consuming segment: ids in arrival order,
//! so an id once handed out never changes and readers of a prefix stay consistent.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::ops::Bound;

use tessera_config::DataType;
use tessera_segment::Value;

/// Hash key of a value: integers and floats by bit pattern, the rest by bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Bits(u64),
    Bytes(Box<[u8]>),
}

fn key_of(value: &Value) -> Option<Key> {
    Some(match value {
        Value::Int(v) => Key::Bits(*v as i64 as u64),
        Value::Long(v) | Value::Timestamp(v) => Key::Bits(*v as u64),
        Value::Boolean(v) => Key::Bits(u64::from(*v)),
        Value::Float(v) => Key::Bits(u64::from(v.to_bits())),
        Value::Double(v) => Key::Bits(v.to_bits()),
        Value::String(v) | Value::Json(v) => Key::Bytes(v.as_bytes().into()),
        Value::Bytes(v) => Key::Bytes(v.as_slice().into()),
        Value::Null | Value::Array(_) => return None,
    })
}

/// Value → id and id → value, plus numeric tables for the bulk readers.
#[derive(Debug, Default)]
pub(crate) struct MutableDictionary {
    values: Vec<Value>,
    ids: HashMap<Key, u32>,
    /// `values` as i64 (integer types) and f64 (numeric types), for `read_i64`/`read_f64`.
    longs: Vec<i64>,
    doubles: Vec<f64>,
    value_bytes: usize,
}

impl MutableDictionary {
    pub(crate) fn len(&self) -> u32 {
        self.values.len() as u32
    }

    /// The id of `value`, adding it if new. `value` must be a non-null scalar of the
    /// column's type.
    pub(crate) fn id_of(&mut self, value: &Value) -> u32 {
        let Some(key) = key_of(value) else {
            return 0;
        };
        if let Some(id) = self.ids.get(&key) {
            return *id;
        }
        let id = self.values.len() as u32;
        self.value_bytes += match &key {
            Key::Bits(_) => 8,
            Key::Bytes(bytes) => 2 * bytes.len() + 24,
        };
        self.ids.insert(key, id);
        self.longs.push(as_i64(value).unwrap_or(0));
        self.doubles.push(as_f64(value).unwrap_or(0.0));
        self.values.push(value.clone());
        id
    }

    /// Id of `value` among the first `visible` entries.
    pub(crate) fn lookup(&self, value: &Value, data_type: DataType, visible: u32) -> Option<u32> {
        let normalized = normalize(value, data_type)?;
        let id = *self.ids.get(&key_of(&normalized)?)?;
        (id < visible).then_some(id)
    }

    pub(crate) fn value(&self, id: u32) -> Value {
        self.values.get(id as usize).cloned().unwrap_or(Value::Null)
    }

    pub(crate) fn long(&self, id: u32) -> i64 {
        self.longs.get(id as usize).copied().unwrap_or(0)
    }

    pub(crate) fn double(&self, id: u32) -> f64 {
        self.doubles.get(id as usize).copied().unwrap_or(0.0)
    }

    /// Ids (ascending) among the first `visible` whose value lies within the bounds.
    pub(crate) fn ids_in_range(
        &self,
        low: Bound<&Value>,
        high: Bound<&Value>,
        visible: u32,
    ) -> Vec<u32> {
        let above = |value: &Value| match low {
            Bound::Included(bound) => compare(value, bound).is_some_and(Ordering::is_ge),
            Bound::Excluded(bound) => compare(value, bound).is_some_and(Ordering::is_gt),
            Bound::Unbounded => true,
        };
        let below = |value: &Value| match high {
            Bound::Included(bound) => compare(value, bound).is_some_and(Ordering::is_le),
            Bound::Excluded(bound) => compare(value, bound).is_some_and(Ordering::is_lt),
            Bound::Unbounded => true,
        };
        self.values[..visible as usize]
            .iter()
            .enumerate()
            .filter(|(_, value)| above(value) && below(value))
            .map(|(id, _)| id as u32)
            .collect()
    }

    /// Heap bytes held (values, hash table, numeric tables), approximately.
    pub(crate) fn memory_bytes(&self) -> usize {
        self.value_bytes
            + self.values.capacity() * (std::mem::size_of::<Value>() + 16)
            + self.ids.capacity() * 40
    }
}

/// Integer value of INT/LONG/TIMESTAMP/BOOLEAN values.
pub(crate) fn as_i64(value: &Value) -> Option<i64> {
    match value {
        Value::Int(v) => Some(i64::from(*v)),
        Value::Long(v) | Value::Timestamp(v) => Some(*v),
        Value::Boolean(v) => Some(i64::from(*v)),
        _ => None,
    }
}

pub(crate) fn as_f64(value: &Value) -> Option<f64> {
    match value {
        Value::Float(v) => Some(f64::from(*v)),
        Value::Double(v) => Some(*v),
        other => as_i64(other).map(|v| v as f64),
    }
}

/// `value` as the column's type when it represents exactly the same value.
fn normalize(value: &Value, data_type: DataType) -> Option<Value> {
    Some(match (data_type, value) {
        (DataType::Int, _) => Value::Int(i32::try_from(exact_integer(value)?).ok()?),
        (DataType::Long, _) => Value::Long(exact_integer(value)?),
        (DataType::Timestamp, _) => Value::Timestamp(exact_integer(value)?),
        (DataType::Boolean, Value::Boolean(_)) => value.clone(),
        (DataType::Boolean, _) => Value::Boolean(match exact_integer(value)? {
            0 => false,
            1 => true,
            _ => return None,
        }),
        (DataType::Float, _) => {
            let wide = as_f64(value)?;
            let narrow = wide as f32;
            (f64::from(narrow) == wide || wide.is_nan()).then_some(Value::Float(narrow))?
        }
        (DataType::Double, _) => Value::Double(as_f64(value)?),
        (DataType::String, Value::String(_)) | (DataType::Json, Value::Json(_)) => value.clone(),
        (DataType::Json, Value::String(text)) => Value::Json(text.clone()),
        (DataType::String, Value::Json(text)) => Value::String(text.clone()),
        (DataType::Bytes, Value::Bytes(_)) => value.clone(),
        _ => return None,
    })
}

fn exact_integer(value: &Value) -> Option<i64> {
    match value {
        Value::Float(_) | Value::Double(_) => {
            let v = as_f64(value)?;
            (v.fract() == 0.0 && v.abs() < 9.2e18).then_some(v as i64)
        }
        other => as_i64(other),
    }
}

/// Order of two non-null scalars: numbers by value (across numeric types), strings and
/// bytes by bytes; `None` when they cannot be compared.
pub(crate) fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (as_i64(a), as_i64(b)) {
        return Some(x.cmp(&y));
    }
    if let (Some(x), Some(y)) = (as_f64(a), as_f64(b)) {
        return Some(x.total_cmp(&y));
    }
    let bytes = |value: &Value| -> Option<Vec<u8>> {
        match value {
            Value::String(v) | Value::Json(v) => Some(v.as_bytes().to_vec()),
            Value::Bytes(v) => Some(v.clone()),
            _ => None,
        }
    };
    Some(bytes(a)?.cmp(&bytes(b)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_ids_are_stable_and_lookup_respects_visibility() {
        let mut dictionary = MutableDictionary::default();
        assert_eq!(dictionary.id_of(&Value::Long(5)), 0);
        assert_eq!(dictionary.id_of(&Value::Long(3)), 1);
        assert_eq!(dictionary.id_of(&Value::Long(5)), 0);
        assert_eq!(
            dictionary.lookup(&Value::Int(3), DataType::Long, 2),
            Some(1)
        );
        assert_eq!(dictionary.lookup(&Value::Long(3), DataType::Long, 1), None);
        assert_eq!(
            dictionary.lookup(&Value::Double(3.5), DataType::Long, 2),
            None
        );
        let ids = dictionary.ids_in_range(Bound::Included(&Value::Long(4)), Bound::Unbounded, 2);
        assert_eq!(ids, vec![0]);
        assert_eq!(dictionary.long(1), 3);
        assert_eq!(dictionary.double(0), 5.0);
    }
}
