//! The unsorted, append-only dictionary of a consuming segment: ids in arrival order,
//! so an id once handed out never changes and readers of a prefix stay consistent.

use std::cmp::Ordering;
use std::ops::Bound;

use rustc_hash::FxHashMap;
use tessera_config::DataType;
use tessera_segment::Value;

/// Entries stored by physical kind: fixed-width values as 64-bit patterns, variable
/// ones in one byte arena. The hash maps use FxHash and are probed without allocating.
#[derive(Debug)]
enum Store {
    Fixed {
        bits: Vec<u64>,
        ids: FxHashMap<u64, u32>,
    },
    Bytes {
        /// Entry `i` is `data[offsets[i]..offsets[i + 1]]`.
        offsets: Vec<u64>,
        data: Vec<u8>,
        ids: FxHashMap<Box<[u8]>, u32>,
    },
}

/// Value → id and id → value for one column.
#[derive(Debug)]
pub(crate) struct MutableDictionary {
    data_type: DataType,
    store: Store,
}

/// The 64-bit pattern of a fixed-width value (`None` for strings, bytes, NULL).
fn bits_of(value: &Value) -> Option<u64> {
    Some(match value {
        Value::Int(v) => i64::from(*v) as u64,
        Value::Long(v) | Value::Timestamp(v) => *v as u64,
        Value::Boolean(v) => u64::from(*v),
        Value::Float(v) => u64::from(v.to_bits()),
        Value::Double(v) => v.to_bits(),
        _ => return None,
    })
}

fn bytes_of(value: &Value) -> Option<&[u8]> {
    match value {
        Value::String(v) | Value::Json(v) => Some(v.as_bytes()),
        Value::Bytes(v) => Some(v),
        _ => None,
    }
}

impl MutableDictionary {
    pub(crate) fn new(data_type: DataType) -> MutableDictionary {
        let store = match data_type {
            DataType::String | DataType::Json | DataType::Bytes => Store::Bytes {
                offsets: vec![0],
                data: Vec::new(),
                ids: FxHashMap::default(),
            },
            _ => Store::Fixed {
                bits: Vec::new(),
                ids: FxHashMap::default(),
            },
        };
        MutableDictionary { data_type, store }
    }

    pub(crate) fn len(&self) -> u32 {
        match &self.store {
            Store::Fixed { bits, .. } => bits.len() as u32,
            Store::Bytes { offsets, .. } => (offsets.len() - 1) as u32,
        }
    }

    /// The id of `value`, adding it if new. `value` must be a non-null scalar of the
    /// column's type.
    pub(crate) fn id_of(&mut self, value: &Value) -> u32 {
        match &mut self.store {
            Store::Fixed { bits, ids } => {
                let Some(pattern) = bits_of(value) else {
                    return 0;
                };
                let next = bits.len() as u32;
                *ids.entry(pattern).or_insert_with(|| {
                    bits.push(pattern);
                    next
                })
            }
            Store::Bytes { offsets, data, ids } => {
                let Some(bytes) = bytes_of(value) else {
                    return 0;
                };
                if let Some(id) = ids.get(bytes) {
                    return *id;
                }
                let id = (offsets.len() - 1) as u32;
                data.extend_from_slice(bytes);
                offsets.push(data.len() as u64);
                ids.insert(bytes.into(), id);
                id
            }
        }
    }

    /// Id of `value` among the first `visible` entries.
    pub(crate) fn lookup(&self, value: &Value, data_type: DataType, visible: u32) -> Option<u32> {
        let normalized = normalize(value, data_type)?;
        let id = match &self.store {
            Store::Fixed { ids, .. } => *ids.get(&bits_of(&normalized)?)?,
            Store::Bytes { ids, .. } => *ids.get(bytes_of(&normalized)?)?,
        };
        (id < visible).then_some(id)
    }

    fn entry_bytes(&self, id: u32) -> &[u8] {
        match &self.store {
            Store::Bytes { offsets, data, .. } => {
                match (offsets.get(id as usize), offsets.get(id as usize + 1)) {
                    (Some(start), Some(end)) => &data[*start as usize..*end as usize],
                    _ => &[],
                }
            }
            Store::Fixed { .. } => &[],
        }
    }

    fn entry_bits(&self, id: u32) -> Option<u64> {
        match &self.store {
            Store::Fixed { bits, .. } => bits.get(id as usize).copied(),
            Store::Bytes { .. } => None,
        }
    }

    pub(crate) fn value(&self, id: u32) -> Value {
        if id >= self.len() {
            return Value::Null;
        }
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        match (self.data_type, self.entry_bits(id)) {
            (DataType::Int, Some(bits)) => Value::Int(bits as i64 as i32),
            (DataType::Long, Some(bits)) => Value::Long(bits as i64),
            (DataType::Timestamp, Some(bits)) => Value::Timestamp(bits as i64),
            (DataType::Boolean, Some(bits)) => Value::Boolean(bits != 0),
            (DataType::Float, Some(bits)) => Value::Float(f32::from_bits(bits as u32)),
            (DataType::Double, Some(bits)) => Value::Double(f64::from_bits(bits)),
            (DataType::String, None) => Value::String(text(self.entry_bytes(id))),
            (DataType::Json, None) => Value::Json(text(self.entry_bytes(id))),
            (DataType::Bytes, None) => Value::Bytes(self.entry_bytes(id).to_vec()),
            _ => Value::Null,
        }
    }

    pub(crate) fn long(&self, id: u32) -> i64 {
        match (self.data_type, self.entry_bits(id)) {
            (DataType::Float | DataType::Double, _) => self.double(id) as i64,
            (_, Some(bits)) => bits as i64,
            (_, None) => 0,
        }
    }

    pub(crate) fn double(&self, id: u32) -> f64 {
        match (self.data_type, self.entry_bits(id)) {
            (DataType::Float, Some(bits)) => f64::from(f32::from_bits(bits as u32)),
            (DataType::Double, Some(bits)) => f64::from_bits(bits),
            (_, Some(bits)) => bits as i64 as f64,
            (_, None) => 0.0,
        }
    }

    /// Ids (ascending) among the first `visible` whose value lies within the bounds.
    pub(crate) fn ids_in_range(
        &self,
        low: Bound<&Value>,
        high: Bound<&Value>,
        visible: u32,
    ) -> Vec<u32> {
        let order = |id: u32, bound: &Value| -> Option<Ordering> {
            match &self.store {
                Store::Bytes { .. } => Some(self.entry_bytes(id).cmp(bytes_of(bound)?)),
                Store::Fixed { .. } => compare(&self.value(id), bound),
            }
        };
        let above = |id: u32| match low {
            Bound::Included(bound) => order(id, bound).is_some_and(Ordering::is_ge),
            Bound::Excluded(bound) => order(id, bound).is_some_and(Ordering::is_gt),
            Bound::Unbounded => true,
        };
        let below = |id: u32| match high {
            Bound::Included(bound) => order(id, bound).is_some_and(Ordering::is_le),
            Bound::Excluded(bound) => order(id, bound).is_some_and(Ordering::is_lt),
            Bound::Unbounded => true,
        };
        (0..visible.min(self.len()))
            .filter(|id| above(*id) && below(*id))
            .collect()
    }

    /// Heap bytes held (entries and hash table), approximately.
    pub(crate) fn memory_bytes(&self) -> usize {
        match &self.store {
            Store::Fixed { bits, ids } => bits.capacity() * 8 + ids.capacity() * 13,
            Store::Bytes { offsets, data, ids } => {
                offsets.capacity() * 8 + 2 * data.capacity() + ids.capacity() * 21
            }
        }
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
    Some(bytes_of(a)?.cmp(bytes_of(b)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_ids_are_stable_and_lookup_respects_visibility() {
        let mut dictionary = MutableDictionary::new(DataType::Long);
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
