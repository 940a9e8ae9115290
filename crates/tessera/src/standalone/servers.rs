//! How the broker reaches the servers that hold a table's segments.
//!
//! The broker plans a query, asks every server for its partial result through
//! [`ServerClient`], and merges the partials (`tessera_query::engine::execute_root`).
//! In `tessera standalone` the one server lives in this process ([`LocalServer`]); the
//! cluster will implement the trait over the network, shipping each partial in the
//! versioned Arrow IPC format of `tessera_query::partial_ipc`.

use tessera_ingest::realtime::ServedSegment;
use tessera_query::leaf::Partial;
use tessera_query::plan::QueryPlan;
use tessera_query::{QueryError, engine};
use tessera_segment::{ImmutableSegment, SegmentReader};
use tessera_server::cold_queries;

use std::sync::Arc;

use tessera_server::lakehouse_tier::{LakehouseQuery, LakehouseTier};
use tessera_server::time_bound::{Coverage, TimeBound};

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
    /// The segments to run on, when the broker took them already (to split a query at
    /// the lakehouse boundary by what they hold); `None`: the table's segments now.
    pub segments: Option<Vec<Arc<dyn SegmentReader>>>,
    /// The segment side of a lakehouse split: rows at or after the boundary.
    pub bound: Option<TimeBound>,
}

impl LocalServer<'_> {
    /// The sections the query would fetch from the table's cold segments, for EXPLAIN.
    pub fn describe_fetch(&self, plan: &QueryPlan) -> Option<String> {
        let cold = self.state.cold.as_ref()?;
        let table = self.state.table(&plan.table)?;
        let served = table.segments.list();
        Some(cold_queries::describe(cold, plan, sealed(&served)))
    }
}

/// The sealed segments among `served`.
fn sealed(served: &[ServedSegment]) -> impl Iterator<Item = &ImmutableSegment> {
    served.iter().filter_map(|segment| match segment {
        ServedSegment::Sealed(sealed) => Some(sealed.as_ref()),
        ServedSegment::Consuming(_) => None,
    })
}

impl ServerClient for LocalServer<'_> {
    fn execute(&self, plan: &QueryPlan) -> Result<ServerAnswer, QueryError> {
        let table = self
            .state
            .table(&plan.table)
            .ok_or_else(|| QueryError::invalid(format!("table `{}` does not exist", plan.table)))?;
        let segments = match &self.segments {
            Some(segments) => segments.clone(),
            None => table.segments.readers(),
        };
        let consuming = segments
            .iter()
            .any(|s| s.metadata().end_offset.is_none() && s.metadata().stream_partition.is_some());
        // The sections this query fetched stay held until it has run.
        let served = table.segments.list();
        // Segments a lakehouse split leaves wholly to Iceberg are not run: nothing of
        // theirs is fetched.
        let wanted = sealed(&served).filter(|segment| {
            self.bound
                .as_ref()
                .is_none_or(|bound| bound.coverage(segment.metadata()) != Coverage::Nothing)
        });
        let fetched = cold_queries::prefetch(self.state.cold.as_ref(), plan, wanted)?;
        let mut partial = match &self.bound {
            Some(bound) => bound.execute(plan, &segments)?,
            None => engine::execute_leaf(plan, &segments)?,
        };
        fetched.count(&mut partial.stats);
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

/// The lakehouse tier of one table: the rows of its Iceberg table below the time
/// boundary, read in this process.
pub struct LakehouseServer {
    pub tier: Arc<LakehouseTier>,
    /// The snapshot the query reads and where it was split.
    pub query: LakehouseQuery,
}

impl ServerClient for LakehouseServer {
    fn execute(&self, plan: &QueryPlan) -> Result<ServerAnswer, QueryError> {
        let scan = self.tier.scan(plan, &self.query)?;
        Ok(ServerAnswer {
            partial: scan.execute(plan)?,
            freshness_ms: None,
        })
    }
}
