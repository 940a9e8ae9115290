//! What a segment opened from its footer fetches before a query runs on it.
//!
//! A cold segment's sections arrive from object storage. Fetched one by one as the
//! engine first reads them, a query would pay a round trip per section per segment, in
//! sequence on each CPU thread. Instead the server asks [`sections_to_fetch`] for every
//! segment, fetches all of those sections at once (coalesced and in parallel, see
//! `tessera_storage::cold`), and then runs the query on warm sections. The choice comes
//! from the plan and each segment's metadata alone, as the engine would choose its
//! access paths; a section it misses is still fetched when first read, one round trip
//! later, and counted (`tessera_cold_unplanned_fetches_total`).

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Write;

use tessera_segment::format::{SectionEntry, SectionKind};
use tessera_segment::{ImmutableSegment, SegmentMetadata, SegmentReader};

use crate::filter::{filter_sections, may_match_by_statistics};
use crate::plan::QueryPlan;

/// The sections of `segment` the leaf half of `plan` will read; empty when the
/// segment's statistics prove no row matches (the engine prunes it too).
pub fn sections_to_fetch(plan: &QueryPlan, segment: &SegmentMetadata) -> Vec<SectionEntry> {
    FetchPlan::new(plan).sections(segment)
}

/// What a query reads of every segment, worked out once per query: column → the kinds
/// of section it reads whatever the segment (a bit per [`SectionKind`]).
pub struct FetchPlan<'p> {
    plan: &'p QueryPlan,
    kinds: HashMap<String, u16>,
    /// The filter's columns, whose storage decides its index choices.
    filter_columns: Vec<String>,
    /// The filter's sections by the storage of its columns (segments of a table
    /// nearly always share it): worked out once per kind of segment.
    by_storage: RefCell<HashMap<String, Vec<(String, SectionKind)>>>,
}

fn bit(kind: SectionKind) -> u16 {
    1 << (kind as u16)
}

impl<'p> FetchPlan<'p> {
    pub fn new(plan: &'p QueryPlan) -> FetchPlan<'p> {
        let mut kinds: HashMap<String, u16> = HashMap::new();
        // Every column the query names opens with its dictionary, null bitmap and
        // sorted index (the lookups the engine makes before it reads).
        let opens =
            bit(SectionKind::Dictionary) | bit(SectionKind::Nulls) | bit(SectionKind::Sorted);
        for column in plan.referenced_columns() {
            *kinds.entry(column).or_default() |= opens;
        }
        // Values the query reads after the filter.
        let read = plan.value_columns();
        for column in read {
            *kinds.entry(column).or_default() |= bit(SectionKind::Forward);
        }
        let mut filter_columns = Vec::new();
        if let Some(filter) = &plan.filter {
            filter.columns(&mut filter_columns);
            filter_columns.sort();
            filter_columns.dedup();
        }
        FetchPlan {
            plan,
            kinds,
            filter_columns,
            by_storage: RefCell::default(),
        }
    }

    /// How the filter's columns are stored in `segment`: what its index choices follow.
    fn storage_of(&self, segment: &SegmentMetadata) -> String {
        let mut signature = String::new();
        for name in &self.filter_columns {
            match segment.columns.iter().find(|c| &c.name == name) {
                Some(column) => {
                    let _ = write!(
                        signature,
                        "{name}:{:?}:{}:{};",
                        column.encoding,
                        column.single_value,
                        column.indexes.join(",")
                    );
                }
                None => {
                    let _ = write!(signature, "{name}:-;");
                }
            }
        }
        signature
    }

    /// Per lazily opened segment among `segments` (by its object location), the
    /// sections the query reads; segments with none are left out.
    pub fn wanted<'s>(
        &self,
        segments: impl IntoIterator<Item = &'s ImmutableSegment>,
    ) -> Vec<(String, Vec<SectionEntry>)> {
        segments
            .into_iter()
            .filter(|segment| segment.is_lazy())
            .map(|segment| {
                (
                    segment.path().to_string_lossy().into_owned(),
                    self.sections(segment.metadata()),
                )
            })
            .filter(|(_, sections)| !sections.is_empty())
            .collect()
    }

    /// The sections of `segment` the query reads, in file order.
    pub fn sections(&self, segment: &SegmentMetadata) -> Vec<SectionEntry> {
        let use_indexes = self.plan.options.use_indexes;
        let mut by_filter: Vec<(String, SectionKind)> = Vec::new();
        if let Some(filter) = &self.plan.filter {
            if use_indexes && !may_match_by_statistics(segment, filter) {
                return Vec::new();
            }
            // The filter's index choices depend on how its columns are stored.
            let storage = self.storage_of(segment);
            let mut memo = self.by_storage.borrow_mut();
            by_filter = memo
                .entry(storage)
                .or_insert_with(|| {
                    let mut sections = Vec::new();
                    filter_sections(filter, segment, use_indexes, &mut sections);
                    sections
                })
                .clone();
        }
        let mut entries: Vec<SectionEntry> = segment
            .sections
            .iter()
            .filter(|entry| {
                self.kinds
                    .get(entry.column.as_str())
                    .is_some_and(|kinds| kinds & bit(entry.kind) != 0)
                    || by_filter
                        .iter()
                        .any(|(column, kind)| *column == entry.column && *kind == entry.kind)
            })
            .cloned()
            .collect();
        entries.sort_by_key(|entry| entry.offset);
        entries
    }
}
