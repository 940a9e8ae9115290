//! `tessera quickstart`: the standalone server with a demo `events` table fed by the
//! built-in generator, sealing every 10 seconds so both tiers are visible.

use std::path::PathBuf;

use clap::Args;

use super::StandaloneArgs;

const EVENTS_SCHEMA: &str = include_str!("../../../../deploy/quickstart/events_schema.json");
const EVENTS_TABLE: &str = include_str!("../../../../deploy/quickstart/events_table.json");

#[derive(Debug, Args)]
pub struct QuickstartArgs {
    /// Where the demo keeps its catalog, logs and segments.
    #[arg(long, default_value = "tessera-quickstart")]
    pub data_dir: PathBuf,
    /// The HTTP listener.
    #[arg(long, default_value = "127.0.0.1:8099")]
    pub http: String,
    /// The PostgreSQL wire listener (psql, Grafana); `off` disables it.
    #[arg(long, default_value = "127.0.0.1:5433")]
    pub pg: String,
    /// Node config (TOML), e.g. `[auth]` users and tokens.
    #[arg(long)]
    pub config: Option<PathBuf>,
}

pub fn run(args: QuickstartArgs) -> anyhow::Result<()> {
    let standalone = StandaloneArgs {
        config: args.config,
        data_dir: args.data_dir,
        http: args.http,
        pg: args.pg,
        deep_store: None,
        cache_size: None,
        cache_dir: None,
        trash_retention: std::time::Duration::from_secs(7 * 86_400),
        retention_check_interval: std::time::Duration::from_secs(600),
    };
    super::serve(standalone, |server| {
        server.ensure_table(EVENTS_SCHEMA, EVENTS_TABLE)?;
        let url = &server.url;
        println!(
            "Tessera quickstart is running: a realtime table `events` fed by a generator (2,000 rows/s, sealed every 10 s).\n\
             \n  HTTP API:  {url}\n\
             \n  curl -s -X POST {url}/query/sql -H 'Content-Type: application/json' \\\n\
             \x20   -d '{{\"sql\": \"SELECT country, COUNT(*) AS events, PERCENTILE(latency_ms, 99) AS p99 FROM events GROUP BY country ORDER BY events DESC LIMIT 5\"}}'\n\
             \n  tessera query --url {url} \"SELECT COUNT(*), MAX(ts) FROM events\"\n\
             \n  curl -s {url}/segments/events/metadata   # consuming and sealed segments\n\
             \nPress Ctrl-C to stop."
        );
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_demo_configs_parse() -> anyhow::Result<()> {
        let schema = tessera_config::Schema::from_json(EVENTS_SCHEMA)?.value;
        let table = tessera_config::TableConfig::from_json(EVENTS_TABLE, &schema)?;
        assert!(table.warnings.is_empty(), "{:?}", table.warnings);
        let settings =
            tessera_ingest::realtime::StreamSettings::from_configs(&table.value.stream_configs)?;
        assert_eq!(settings.partitions, 2);
        Ok(())
    }
}
