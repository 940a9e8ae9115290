//! The broker role: plan a SQL query against the live tables' schemas, ask every server
//! for its partial result, merge and finish. The HTTP API (`/query/sql`) and the
//! PostgreSQL wire both answer queries through [`execute_sql`].

use std::time::Instant;

use tessera_ingest::realtime::now_ms;
use tessera_query::{QueryError, QueryOptions, QueryOutcome, Table};

use super::servers::{LocalServer, ServerClient};
use super::state::ServerState;

/// Plan against every table's schema, ask the servers for their partials,
/// merge and finish. EXPLAIN is answered from the local segments' metadata.
pub fn execute_sql(
    state: &ServerState,
    sql: &str,
    query_options: Option<&str>,
) -> Result<(QueryOutcome, i64), QueryError> {
    let started = Instant::now();
    let mut options = QueryOptions::default();
    if let Some(text) = query_options {
        options.apply_pinot_string(text)?;
    }
    let runtimes = state.table_list();
    let schemas: Vec<Table> = runtimes
        .iter()
        .map(|t| Table {
            schema: t.query_schema.clone(),
            segments: Vec::new(),
        })
        .collect();
    let plan = tessera_query::engine::plan_for(sql, options, &schemas)?;
    let runtime = runtimes
        .iter()
        .find(|t| t.query_schema.name == plan.table)
        .ok_or_else(|| QueryError::invalid(format!("table `{}` does not exist", plan.table)))?;
    if plan.explain {
        let table = Table {
            schema: runtime.query_schema.clone(),
            segments: runtime.segments.readers(),
        };
        let result = tessera_query::explain::explain(&plan, &table);
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
    let servers: Vec<Box<dyn ServerClient + '_>> = vec![Box::new(LocalServer { state })];
    let mut partials = Vec::with_capacity(servers.len());
    let mut consuming = false;
    for server in &servers {
        let answer = server.execute(&plan)?;
        consuming |= answer.consuming;
        partials.push(answer.partial);
    }
    // Consuming segments are fresh up to now: a row is queryable when acknowledged.
    let freshness = if consuming { now_ms() } else { -1 };
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
