//! What the client protocols (the PostgreSQL wire; the HTTP query routes) need from the
//! process that answers queries — one interface, two wirings: `tessera standalone`
//! answers from its own segments ([`ServerState`]), a cluster broker by scattering to
//! its servers.

use std::sync::Arc;

use tessera_query::plan::QueryPlan;
use tessera_query::planner::TableSchema;
use tessera_query::{QueryError, QueryOptions, QueryOutcome};

use super::server_metrics::ServerMetrics;
use super::state::ServerState;

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

impl QueryService for ServerState {
    fn metrics(&self) -> &Arc<ServerMetrics> {
        &self.metrics
    }

    fn has_table(&self, name: &str) -> bool {
        self.table(name).is_some()
    }

    fn tables(&self) -> Vec<TableSummary> {
        self.table_list()
            .iter()
            .map(|table| {
                let size = table.size();
                TableSummary {
                    schema: table.query_schema.clone(),
                    rows: size.rows,
                    bytes: size.bytes,
                }
            })
            .collect()
    }

    fn plan_sql(&self, sql: &str, options: QueryOptions) -> Result<QueryPlan, QueryError> {
        super::broker::plan_sql(self, sql, options)
    }

    fn execute_sql(
        &self,
        sql: &str,
        options: QueryOptions,
    ) -> Result<(QueryOutcome, i64), QueryError> {
        super::broker::execute_sql(self, sql, options)
    }
}
