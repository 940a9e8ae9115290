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

use tessera_segment::SegmentMetadata;
use tessera_segment::format::{SectionEntry, SectionKind};

use crate::filter::{filter_sections, may_match_by_statistics};
use crate::plan::{PlanKind, QueryPlan};

/// The sections of `segment` the leaf half of `plan` will read; empty when the
/// segment's statistics prove no row matches (the engine prunes it too).
pub fn sections_to_fetch(plan: &QueryPlan, segment: &SegmentMetadata) -> Vec<SectionEntry> {
    let use_indexes = plan.options.use_indexes;
    if use_indexes
        && let Some(filter) = &plan.filter
        && !may_match_by_statistics(segment, filter)
    {
        return Vec::new();
    }
    let mut wanted: Vec<(String, SectionKind)> = Vec::new();
    // Every column the query names opens with its dictionary, null bitmap and sorted
    // index (the lookups the engine makes before it reads).
    for column in plan.referenced_columns() {
        for kind in [
            SectionKind::Dictionary,
            SectionKind::Nulls,
            SectionKind::Sorted,
        ] {
            wanted.push((column.clone(), kind));
        }
    }
    if let Some(filter) = &plan.filter {
        filter_sections(filter, segment, use_indexes, &mut wanted);
    }
    // Values the query reads after the filter: keys, aggregate arguments, projections
    // and sort keys.
    let mut read = Vec::new();
    match &plan.kind {
        PlanKind::Selection(selection) => {
            selection.exprs.iter().for_each(|e| e.columns(&mut read));
            selection
                .order_by
                .iter()
                .for_each(|k| k.expr.columns(&mut read));
        }
        PlanKind::Aggregation(aggregation) => {
            aggregation.keys.iter().for_each(|e| e.columns(&mut read));
            for agg in &aggregation.aggs {
                if let Some(arg) = &agg.arg {
                    arg.columns(&mut read);
                }
                if let Some(filter) = &agg.filter {
                    filter.columns(&mut read);
                }
            }
        }
    }
    wanted.extend(read.into_iter().map(|c| (c, SectionKind::Forward)));
    let mut entries: Vec<SectionEntry> = segment
        .sections
        .iter()
        .filter(|entry| {
            wanted
                .iter()
                .any(|(column, kind)| *column == entry.column && *kind == entry.kind)
        })
        .cloned()
        .collect();
    entries.sort_by_key(|entry| entry.offset);
    entries
}
