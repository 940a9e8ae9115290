//! The broker role: plan a SQL query against the live tables' schemas, ask every server
//! for its partial result, merge and finish. The HTTP API (`/query/sql`) and the
//! PostgreSQL wire both answer queries through [`execute_sql`].

use std::time::Instant;

use std::sync::Arc;

use tessera_query::plan::QueryPlan;
use tessera_query::{QueryError, QueryOptions, QueryOutcome, Table};

use tessera_api::server_metrics::ServerMetrics;
use tessera_broker::query_service::{QueryService, TableSummary};

use super::servers::{LakehouseServer, LocalServer, ServerClient};
use super::state::ServerState;

/// Plan `sql` against every live table's schema (what a PG client's Describe needs).
pub fn plan_sql(
    state: &ServerState,
    sql: &str,
    options: QueryOptions,
) -> Result<QueryPlan, QueryError> {
    let schemas: Vec<Table> = state
        .table_list()
        .iter()
        .map(|t| Table {
            schema: t.query_schema.clone(),
            segments: Vec::new(),
        })
        .collect();
    tessera_query::engine::plan_for(sql, options, &schemas)
}

/// Plan against every table's schema, ask the servers for their partials,
/// merge and finish. EXPLAIN is answered from the local segments' metadata.
pub fn execute_sql(
    state: &ServerState,
    sql: &str,
    options: QueryOptions,
) -> Result<(QueryOutcome, i64), QueryError> {
    let started = Instant::now();
    let plan = plan_sql(state, sql, options)?;
    let runtime = state
        .table(&plan.table)
        .ok_or_else(|| QueryError::invalid(format!("table `{}` does not exist", plan.table)))?;
    if plan.explain {
        let table = Table {
            schema: runtime.query_schema.clone(),
            segments: runtime.segments.readers(),
        };
        let mut lines = tessera_query::explain::explain_lines(&plan, &table);
        if let Some(fetch) = (LocalServer {
            state,
            segments: None,
            bound: None,
        })
        .describe_fetch(&plan)
        {
            lines.push((fetch, 1));
        }
        if let Some(tier) = &runtime.lakehouse {
            let query = tier.split(&table.segments)?;
            lines.push((tier.describe(&plan, &query), 1));
        }
        let result = tessera_query::explain::explain_table(&lines);
        return Ok((
            QueryOutcome {
                plan,
                result,
                stats: Default::default(),
                time_used: started.elapsed(),
            },
            -1,
        ));
    }
    // With a lakehouse tier, segments answer for rows at or after the time boundary and
    // the Iceberg table for rows before it: each side runs the query bounded so (see
    // `tessera_server::lakehouse_tier::Split`).
    let mut servers: Vec<Box<dyn ServerClient + '_>> = Vec::new();
    match &runtime.lakehouse {
        Some(tier) => {
            let segments = runtime.segments.readers();
            let query = tier.split(&segments)?;
            let local = LocalServer {
                state,
                segments: Some(segments),
                bound: query.split.map(|split| tier.segments_bound(split)),
            };
            servers.push(Box::new(local));
            let lake = LakehouseServer {
                tier: tier.clone(),
                query,
            };
            servers.push(Box::new(lake));
        }
        None => {
            let local = LocalServer {
                state,
                segments: None,
                bound: None,
            };
            servers.push(Box::new(local));
        }
    }
    let mut partials = Vec::with_capacity(servers.len());
    let mut freshness: Option<i64> = None;
    for server in &servers {
        let answer = server.execute(&plan)?;
        if let Some(fresh) = answer.freshness_ms {
            freshness = Some(freshness.map_or(fresh, |f| f.min(fresh)));
        }
        partials.push(answer.partial);
    }
    // Consuming segments are fresh up to now: a row is queryable when acknowledged.
    let freshness = freshness.unwrap_or(-1);
    let (result, stats) = tessera_query::engine::execute_root(&plan, partials)?;
    Ok((
        QueryOutcome {
            plan,
            result,
            stats,
            time_used: started.elapsed(),
        },
        freshness,
    ))
}

/// The PostgreSQL wire and the HTTP routes ask standalone's state through
/// [`QueryService`].
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
        plan_sql(self, sql, options)
    }

    fn execute_sql(
        &self,
        sql: &str,
        options: QueryOptions,
    ) -> Result<(QueryOutcome, i64), QueryError> {
        execute_sql(self, sql, options)
    }
}
