//! What a server does for cold segments (docs/cold-segments.md), in standalone and in
//! the cluster alike: open an assigned segment from its footer, fetch before a query
//! runs the sections it will read, count them in the query's statistics, and describe
//! them for EXPLAIN.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use tessera_meta::SegmentRecord;
use tessera_query::QueryError;
use tessera_query::leaf::ExecStats;
use tessera_query::plan::QueryPlan;
use tessera_query::prefetch::FetchPlan;
use tessera_segment::ImmutableSegment;
use tessera_storage::cold::{ColdStore, FetchStats, Pinned, block_on};
use tessera_storage::section_cache::PieceKey;

/// Open the segment of `record` from its footer in the deep store (at most two GETs,
/// none once the footer is cached), removing a local copy left from before.
pub fn open(
    cold: &Arc<ColdStore>,
    runtime: &tokio::runtime::Handle,
    record: &SegmentRecord,
    local_copy: &Path,
) -> anyhow::Result<ImmutableSegment> {
    let location = record
        .location
        .as_deref()
        .with_context(|| format!("segment `{}` has no deep-store location", record.name))?
        .to_string();
    let store = cold.clone();
    let segment = block_on(runtime, async move { store.open_segment(&location).await })
        .with_context(|| format!("open cold segment `{}`", record.name))?;
    if local_copy.exists() {
        let _ = std::fs::remove_file(local_copy);
    }
    Ok(segment)
}

/// What a query fetched for its cold segments; the sections it fetched stay held until
/// this is dropped, after the query has run.
#[derive(Default)]
pub struct Prefetched {
    stats: FetchStats,
    _pinned: Option<Pinned>,
}

impl Prefetched {
    /// Add what was fetched to a partial's statistics.
    pub fn count(&self, stats: &mut ExecStats) {
        stats.num_deep_store_requests += self.stats.requests;
        stats.num_bytes_read_from_deep_store += self.stats.bytes_fetched;
        stats.num_bytes_read_from_cache += self.stats.bytes_from_cache;
    }
}

/// Fetch, all at once, the sections `plan` will read from the cold ones among
/// `segments` (see `tessera_query::prefetch`); nothing without a cold store.
pub fn prefetch<'s>(
    cold: Option<&Arc<ColdStore>>,
    plan: &QueryPlan,
    segments: impl IntoIterator<Item = &'s ImmutableSegment>,
) -> Result<Prefetched, QueryError> {
    let Some(cold) = cold else {
        return Ok(Prefetched::default());
    };
    let wanted = FetchPlan::new(plan).wanted(segments);
    if wanted.is_empty() {
        return Ok(Prefetched::default());
    }
    let (stats, pinned) = cold
        .prefetch_blocking(&wanted)
        .map_err(|error| QueryError::unavailable(error.to_string()))?;
    Ok(Prefetched {
        stats,
        _pinned: pinned,
    })
}

/// The sections `plan` would fetch from the cold ones among `segments`, for EXPLAIN:
/// `FETCH_FROM_DEEP_STORE(segments:…, sections:column.kind …, bytes:…, cached:…)`.
pub fn describe<'s>(
    cold: &ColdStore,
    plan: &QueryPlan,
    segments: impl IntoIterator<Item = &'s ImmutableSegment>,
) -> String {
    let wanted = FetchPlan::new(plan).wanted(segments);
    let (mut bytes, mut cached) = (0u64, 0u64);
    let mut kinds: Vec<String> = Vec::new();
    for (location, sections) in &wanted {
        for section in sections {
            let name = format!("{}.{:?}", section.column, section.kind).to_lowercase();
            if !kinds.contains(&name) {
                kinds.push(name);
            }
            bytes += section.length;
            if cold.cache().contains(&PieceKey::section(location, section)) {
                cached += section.length;
            }
        }
    }
    kinds.sort();
    format!(
        "FETCH_FROM_DEEP_STORE(segments:{}, sections:{}, bytes:{bytes}, cached:{cached})",
        wanted.len(),
        kinds.join(" ")
    )
}
