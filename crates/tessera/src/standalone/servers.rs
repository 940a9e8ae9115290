//! How the broker reaches the servers that hold a table's segments.
//!
//! The broker plans a query, asks every server for its partial result through
//! [`ServerClient`], and merges the partials (`tessera_query::engine::execute_root`).
//! In `tessera standalone` the one server lives in this process ([`LocalServer`]); the
//! cluster will implement the trait over the network, shipping each partial in the
//! versioned Arrow IPC format of `tessera_query::partial_ipc`.

use tessera_ingest::realtime::{SegmentSet, ServedSegment};
use tessera_query::leaf::Partial;
use tessera_query::plan::QueryPlan;
use tessera_query::prefetch::FetchPlan;
use tessera_query::{QueryError, engine};
use tessera_segment::SegmentReader;
use tessera_segment::format::SectionEntry;
use tessera_storage::cold::{FetchStats, Pinned};

use super::state::ServerState;

/// One server's answer to the leaf half of a query.
pub struct ServerAnswer {
    /// The server's segments combined into one partial.
    pub partial: Partial,
    /// How fresh the consuming (in-memory) segments that took part are: every row
    /// produced before this instant is in them (`None` when none took part).
    pub freshness_ms: Option<i64>,
}

/// The broker's handle on one server.
pub trait ServerClient {
    /// Run the leaf half of `plan` on this server's segments of table `plan.table`.
    fn execute(&self, plan: &QueryPlan) -> Result<ServerAnswer, QueryError>;
}

/// The server role of this process.
pub struct LocalServer<'a> {
    pub state: &'a ServerState,
}

impl LocalServer<'_> {
    /// The sections the query would fetch from the table's cold segments, for EXPLAIN:
    /// `FETCH_FROM_DEEP_STORE(segments:…, sections:column.kind …, bytes:…, cached:…)`.
    pub fn describe_fetch(&self, plan: &QueryPlan) -> Option<String> {
        let cold = self.state.cold.as_ref()?;
        let table = self.state.table(&plan.table)?;
        let (mut segments, mut bytes, mut cached) = (0u64, 0u64, 0u64);
        let mut kinds: Vec<String> = Vec::new();
        let fetch_plan = FetchPlan::new(plan);
        for served in table.segments.list() {
            let ServedSegment::Sealed(segment) = served else {
                continue;
            };
            if !segment.is_lazy() {
                continue;
            }
            let location = segment.path().to_string_lossy().into_owned();
            let sections = fetch_plan.sections(segment.metadata());
            if sections.is_empty() {
                continue;
            }
            segments += 1;
            for section in sections {
                let name = format!("{}.{:?}", section.column, section.kind).to_lowercase();
                if !kinds.contains(&name) {
                    kinds.push(name);
                }
                bytes += section.length;
                let key = tessera_storage::section_cache::PieceKey {
                    object: location.clone(),
                    offset: section.offset,
                    len: section.length,
                    footer: false,
                };
                if cold.cache().contains(&key) {
                    cached += section.length;
                }
            }
        }
        kinds.sort();
        Some(format!(
            "FETCH_FROM_DEEP_STORE(segments:{segments}, sections:{}, bytes:{bytes}, cached:{cached})",
            kinds.join(" ")
        ))
    }

    /// Fetch, all at once, the sections the query will read from the table's cold
    /// segments (see `tessera_query::prefetch`).
    fn prefetch_cold(
        &self,
        plan: &QueryPlan,
        segments: &SegmentSet,
    ) -> Result<(FetchStats, Option<Pinned>), QueryError> {
        let Some(cold) = &self.state.cold else {
            return Ok((FetchStats::default(), None));
        };
        let fetch_plan = FetchPlan::new(plan);
        let wanted: Vec<(String, Vec<SectionEntry>)> = segments
            .list()
            .iter()
            .filter_map(|served| match served {
                ServedSegment::Sealed(segment) if segment.is_lazy() => Some((
                    segment.path().to_string_lossy().into_owned(),
                    fetch_plan.sections(segment.metadata()),
                )),
                _ => None,
            })
            .filter(|(_, sections)| !sections.is_empty())
            .collect();
        if wanted.is_empty() {
            return Ok((FetchStats::default(), None));
        }
        cold.prefetch_blocking(&wanted)
            .map_err(|error| QueryError::unavailable(error.to_string()))
    }
}

impl ServerClient for LocalServer<'_> {
    fn execute(&self, plan: &QueryPlan) -> Result<ServerAnswer, QueryError> {
        let table = self
            .state
            .table(&plan.table)
            .ok_or_else(|| QueryError::invalid(format!("table `{}` does not exist", plan.table)))?;
        let segments = table.segments.readers();
        let consuming = segments
            .iter()
            .any(|s| s.metadata().end_offset.is_none() && s.metadata().stream_partition.is_some());
        // The sections this query fetched stay held until it has run.
        let (fetched, _pinned) = self.prefetch_cold(plan, &table.segments)?;
        let mut partial = engine::execute_leaf(plan, &segments)?;
        partial.stats.num_deep_store_requests += fetched.requests;
        partial.stats.num_bytes_read_from_deep_store += fetched.bytes_fetched;
        partial.stats.num_bytes_read_from_cache += fetched.bytes_from_cache;
        let now = tessera_ingest::realtime::now_ms();
        // Push and generator rows are queryable when acknowledged (fresh up to now); a
        // Kafka partition that lags is as fresh as when it last caught up.
        let freshness_ms = consuming.then(|| {
            table.realtime.as_ref().map_or(now, |realtime| {
                realtime
                    .partition_status()
                    .values()
                    .map(|status| now - status.lag_millis(now))
                    .min()
                    .unwrap_or(now)
            })
        });
        Ok(ServerAnswer {
            partial,
            freshness_ms,
        })
    }
}
