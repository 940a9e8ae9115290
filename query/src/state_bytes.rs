//! How many bytes of intermediate state a query holds on this node, against its
//! `maxStateBytes` limit: the groups and their aggregate states (exact distinct sets,
//! exact percentile values), and the selected rows. Without it one
//! `COUNT(DISTINCT)` over a high-cardinality string column, or an exact percentile over
//! a billion rows, grows until the process is killed for memory.
//!
//! The count is shared by every thread of the query (clones share it). What a segment's
//! scan builds is charged as it grows; a merge releases what it folded in and charges
//! what its own state grew by, so the count follows the live state rather than the sum
//! of everything ever built. Sizes are estimates (a value's inline size, its heap
//! bytes, a hash-table slot), close enough to bound resident memory by the limit, not
//! an allocator's exact figure.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::error::{ErrorCode, QueryError, QueryResult};
use crate::types::Scalar;

/// A query's state byte count; clones share it.
#[derive(Debug, Clone, Default)]
pub struct StateBytes(Arc<AtomicUsize>);

impl StateBytes {
    pub fn new() -> StateBytes {
        StateBytes::default()
    }

    /// Add `bytes` to what the query holds; an error naming the limit when the total
    /// passes `limit` (the bytes stay charged: the query is ending).
    pub fn charge(&self, bytes: usize, limit: usize) -> QueryResult<()> {
        if bytes == 0 {
            return Ok(());
        }
        let held = self
            .0
            .fetch_add(bytes, Ordering::Relaxed)
            .saturating_add(bytes);
        if held > limit {
            return Err(QueryError {
                code: ErrorCode::LimitExceeded,
                message: format!(
                    "the query holds more than maxStateBytes={limit} bytes of intermediate state \
                     (groups, distinct values, percentile values or selected rows); raise it with \
                     `SET maxStateBytes = N;`, or use an approximate aggregate \
                     (DISTINCTCOUNTHLL, PERCENTILETDIGEST)"
                ),
            });
        }
        Ok(())
    }

    /// Take back `bytes` charged before (state that was merged away or dropped).
    pub fn release(&self, bytes: usize) {
        let _ = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |held| {
                Some(held.saturating_sub(bytes))
            });
    }

    /// Bytes held now.
    pub fn held(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

/// What one holder of state (a segment's scan, a merge) has charged to its query's
/// count: charges past the limit fail by name; the holder hands its total on with its
/// partial, or gives part of it back.
#[derive(Debug)]
pub struct Charged<'q> {
    count: &'q StateBytes,
    limit: usize,
    bytes: usize,
}

impl<'q> Charged<'q> {
    /// Nothing charged yet, against the query's `maxStateBytes`.
    pub fn new(options: &'q crate::options::QueryOptions) -> Charged<'q> {
        Charged {
            count: &options.state_bytes,
            limit: options.max_state_bytes,
            bytes: 0,
        }
    }

    /// Charge `bytes` more.
    pub fn add(&mut self, bytes: usize) -> QueryResult<()> {
        self.count.charge(bytes, self.limit)?;
        self.bytes += bytes;
        Ok(())
    }

    /// Take over `bytes` another holder charged (a partial folded in whole).
    pub fn adopt(&mut self, bytes: usize) {
        self.bytes += bytes;
    }

    /// Give back up to `bytes` of what this holder charged.
    pub fn release(&mut self, bytes: usize) {
        let bytes = bytes.min(self.bytes);
        self.count.release(bytes);
        self.bytes -= bytes;
    }

    /// What this holder has charged.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

/// Two options are equal whatever their counts: the count is how a query is bounded,
/// not what it asks.
impl PartialEq for StateBytes {
    fn eq(&self, _other: &StateBytes) -> bool {
        true
    }
}

/// Estimated bytes one value takes in a hash set or a row: its inline size, its heap
/// bytes, and (for sets) a slot's share of table overhead.
pub fn scalar_bytes(value: &Scalar) -> usize {
    std::mem::size_of::<Scalar>()
        + match value {
            Scalar::Str(s) => s.len(),
            Scalar::Bytes(b) => b.len(),
            Scalar::Array(items) => items.iter().map(scalar_bytes).sum(),
            _ => 0,
        }
}

/// Estimated bytes of a row of values (a group key or a selected row).
pub fn row_bytes(values: &[Scalar]) -> usize {
    std::mem::size_of::<Vec<Scalar>>() + values.iter().map(scalar_bytes).sum::<usize>()
}

/// A hash-set entry's bytes beyond its value: the control byte and the free share of
/// a table kept at most 7/8 full, rounded up.
pub const SET_SLOT_OVERHEAD: usize = 16;

/// Bytes per group of every aggregate's fixed-size slot (counts, sums, min/max,
/// flags, an empty set or vector header).
pub const GROUP_SLOT_BYTES: usize = 32;

/// Bytes a distinct integer takes in a roaring bitmap's array container (dense
/// containers take less).
pub const DISTINCT_INT_BYTES: usize = 2;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_a_charge_past_the_limit_names_it_and_a_release_makes_room() {
        let bytes = StateBytes::new();
        let shared = bytes.clone();
        bytes.charge(600, 1000).expect("under the limit");
        let error = shared.charge(600, 1000).expect_err("past the limit");
        assert_eq!(error.code, ErrorCode::LimitExceeded);
        assert!(error.message.contains("maxStateBytes=1000"), "{error}");
        bytes.release(1200);
        assert_eq!(bytes.held(), 0);
        shared
            .charge(900, 1000)
            .expect("room again after the release");
    }

    #[test]
    fn test_string_values_count_their_heap_bytes() {
        let short = scalar_bytes(&Scalar::Long(1));
        let text = scalar_bytes(&Scalar::Str("x".repeat(1000)));
        assert_eq!(text, short + 1000);
        let row = row_bytes(&[Scalar::Long(1), Scalar::Str("abc".into())]);
        assert_eq!(row, std::mem::size_of::<Vec<Scalar>>() + 2 * short + 3);
    }
}
