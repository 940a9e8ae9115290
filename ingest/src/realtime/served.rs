//! [`SegmentSet`]: the segments that answer a table's queries right now.

use std::sync::{Arc, RwLock};

use tessera_segment::{ImmutableSegment, SegmentReader};

use crate::consuming::MutableSegment;

/// A segment serving queries.
#[derive(Clone)]
pub enum ServedSegment {
    /// In memory, still consuming or waiting for its sealed copy to commit.
    Consuming(Arc<MutableSegment>),
    Sealed(Arc<ImmutableSegment>),
}

impl ServedSegment {
    pub fn name(&self) -> &str {
        match self {
            ServedSegment::Consuming(segment) => segment.name(),
            ServedSegment::Sealed(segment) => segment.name(),
        }
    }
}

/// A table's serving segments. Swapping a consuming segment for its sealed copy is one
/// write under the lock and a query takes its readers under the read lock, so every
/// row is answered by exactly one segment at every instant.
#[derive(Default)]
pub struct SegmentSet {
    segments: RwLock<Vec<ServedSegment>>,
}

impl std::fmt::Debug for SegmentSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentSet")
            .field("segments", &self.list().len())
            .finish()
    }
}

impl SegmentSet {
    pub fn add(&self, segment: ServedSegment) {
        self.segments
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(segment);
    }

    /// Replace the segment named `name` by `by` (adds it when absent).
    pub fn replace(&self, name: &str, by: ServedSegment) {
        let mut segments = self
            .segments
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match segments.iter().position(|segment| segment.name() == name) {
            Some(index) => segments[index] = by,
            None => segments.push(by),
        }
    }

    /// Stop serving the segment named `name` (a cluster's realtime server drops a
    /// sealed segment once a historical server serves it); whether it was there.
    pub fn remove(&self, name: &str) -> bool {
        let mut segments = self
            .segments
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let before = segments.len();
        segments.retain(|segment| segment.name() != name);
        segments.len() != before
    }

    pub fn clear(&self) {
        self.segments
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }

    pub fn list(&self) -> Vec<ServedSegment> {
        self.segments
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Reopen every cold segment whose cache dropped bytes it maps (so the maps, and
    /// the disk behind them, are released once running queries finish with them).
    fn reopen_stale(&self) {
        let reopened: Vec<(Arc<ImmutableSegment>, ImmutableSegment)> = self
            .segments
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .filter_map(|segment| match segment {
                ServedSegment::Sealed(sealed) => match sealed.reopen_if_stale() {
                    Some(Ok(fresh)) => Some((sealed.clone(), fresh)),
                    _ => None,
                },
                ServedSegment::Consuming(_) => None,
            })
            .collect();
        for (old, fresh) in reopened {
            let mut segments = self
                .segments
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(slot) = segments
                .iter_mut()
                .find(|segment| matches!(segment, ServedSegment::Sealed(s) if Arc::ptr_eq(s, &old)))
            {
                *slot = ServedSegment::Sealed(Arc::new(fresh));
            }
        }
    }

    /// Readers for one query: consuming segments as snapshots taken together.
    pub fn readers(&self) -> Vec<Arc<dyn SegmentReader>> {
        self.reopen_stale();
        let segments = self
            .segments
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        segments
            .iter()
            .filter_map(|segment| match segment {
                ServedSegment::Consuming(segment) => {
                    let snapshot = segment.snapshot();
                    (snapshot.num_docs() > 0).then_some(snapshot as Arc<dyn SegmentReader>)
                }
                ServedSegment::Sealed(segment) => Some(segment.clone() as Arc<dyn SegmentReader>),
            })
            .collect()
    }
}
