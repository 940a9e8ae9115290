//! What the client protocols (the PostgreSQL wire; the HTTP query routes) need from the
//! process that answers queries — one interface, two wirings: `tessera standalone`
//! answers from its own segments, a cluster broker by scattering to its servers.

use std::sync::Arc;

use tessera_query::plan::QueryPlan;
use tessera_query::planner::TableSchema;
use tessera_query::{QueryError, QueryOptions, QueryOutcome};

use tessera_api::server_metrics::ServerMetrics;

/// A table as clients see it (the PostgreSQL catalog lists these).
#[derive(Debug, Clone)]
pub struct TableSummary {
    pub schema: TableSchema,
    pub rows: u64,
    pub bytes: u64,
}

/// Answers SQL for the client protocols. The query methods block (call them off the
/// async workers).
pub trait QueryService: Send + Sync + 'static {
    fn metrics(&self) -> &Arc<ServerMetrics>;
    fn has_table(&self, name: &str) -> bool;
    fn tables(&self) -> Vec<TableSummary>;
    /// Plan `sql` against every table's schema (what a PostgreSQL Describe needs).
    fn plan_sql(&self, sql: &str, options: QueryOptions) -> Result<QueryPlan, QueryError>;
    /// Run `sql`: the outcome and the freshness of the consuming segments (`-1` when
    /// none took part).
    fn execute_sql(
        &self,
        sql: &str,
        options: QueryOptions,
    ) -> Result<(QueryOutcome, i64), QueryError>;
}
