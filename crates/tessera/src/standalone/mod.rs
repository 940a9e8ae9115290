//! `tessera standalone` and `tessera quickstart`: controller, broker and server roles in
//! one process — an embedded catalog (`{data-dir}/catalog`), a deep store (a local
//! directory by default), realtime tables fed by push or the generator, and the
//! Pinot-compatible HTTP API on one listener.

mod broker;
pub mod http;
mod lakehouse;
mod node_config;
pub(crate) mod prometheus;
pub mod quickstart;
mod servers;
mod state;
pub mod upload;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use anyhow::Context;
use clap::Args;
use tessera_meta::{Catalog, FileMetaStore};
use tessera_storage::DeepStore;
use tracing::info;

use state::ServerState;

#[derive(Debug, Args)]
pub struct StandaloneArgs {
    /// Node config (TOML): `[auth]` users and tokens (docs/operations.md).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Where the catalog, write-ahead logs and local segment copies live.
    #[arg(long, default_value = "tessera-data")]
    pub data_dir: PathBuf,
    /// The HTTP listener (broker and controller routes).
    #[arg(long, default_value = "127.0.0.1:8099")]
    pub http: String,
    /// The PostgreSQL wire listener (psql, Grafana, BI tools); `off` disables it.
    #[arg(long, default_value = "127.0.0.1:5433")]
    pub pg: String,
    /// Deep store URI: a directory (default `{data-dir}/deepstore`) or `s3://bucket/prefix`
    /// (credentials and `AWS_ENDPOINT` from the environment).
    #[arg(long)]
    pub deep_store: Option<String>,
    /// Serve sealed segments cold: opened from their footer in the deep store, sections
    /// fetched on demand into a disk cache bounded to this size (`1GB`, `512M`); no
    /// whole local copies. Also `[cache] size` in the node config.
    #[arg(long, value_parser = parse_size)]
    pub cache_size: Option<u64>,
    /// Where the cold-segment cache lives (default `{data-dir}/cache`).
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// How long a dropped table, or a segment past its table's retention, stays
    /// restorable in the deep store's trash (`7d`, `12h`, `0s`).
    #[arg(long, default_value = "7d", value_parser = parse_retention)]
    pub trash_retention: std::time::Duration,
    /// How often tables' retention (`segmentsConfig.retentionTimeUnit`/`Value`) and the
    /// trash retention are enforced (`10m`, `1h`, `2s`); also once at start.
    #[arg(long, default_value = "10m", value_parser = parse_retention)]
    pub retention_check_interval: std::time::Duration,
}

fn parse_size(text: &str) -> Result<u64, String> {
    tessera_ingest::realtime::settings::parse_bytes(text)
        .filter(|bytes| *bytes > 0)
        .ok_or_else(|| format!("`{text}` is not a size such as 1GB, 512M or 1048576"))
}

fn parse_retention(text: &str) -> Result<std::time::Duration, String> {
    tessera_ingest::realtime::settings::parse_duration(text)
        .ok_or_else(|| format!("`{text}` is not a duration such as 7d, 12h or 30m"))
}

/// Open the catalog and deep store, start every table, and serve until Ctrl-C.
pub fn run(args: StandaloneArgs) -> anyhow::Result<()> {
    serve(args, |_| Ok(()))
}

/// Like [`run`], calling `ready` once the listener is bound (the quickstart adds its
/// demo table there).
pub fn serve(
    args: StandaloneArgs,
    ready: impl FnOnce(&ServerHandle) -> anyhow::Result<()> + Send + 'static,
) -> anyhow::Result<()> {
    let node_config = match &args.config {
        Some(path) => node_config::NodeConfig::load(path)?,
        None => node_config::NodeConfig::default(),
    };
    let auth = tessera_api::auth::Authenticator::from_config(&node_config.auth)?.map(Arc::new);
    let tls = node_config
        .tls
        .as_ref()
        .map(tessera_api::tls::Tls::from_config)
        .transpose()?;
    tessera_segment::builder::allocator::keep_freed_memory_for_reuse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(tessera_query::sql_limits::QUERY_THREAD_STACK_BYTES)
        .build()
        .context("start the async runtime")?;
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("create data dir `{}`", args.data_dir.display()))?;
    let data_dir = args.data_dir.canonicalize()?;
    let store = FileMetaStore::open(&data_dir.join("catalog"))?;
    let deep_uri = args
        .deep_store
        .clone()
        .unwrap_or_else(|| data_dir.join("deepstore").display().to_string());
    let deep_store = DeepStore::open(&deep_uri)?;
    let cache_size = match (args.cache_size, &node_config.cache) {
        (Some(size), _) => Some(size),
        (None, Some(cache)) => Some(parse_size(&cache.size).map_err(anyhow::Error::msg)?),
        (None, None) => None,
    };
    let cold = match cache_size {
        Some(size) => {
            let dir = args
                .cache_dir
                .clone()
                .or_else(|| node_config.cache.as_ref().and_then(|c| c.dir.clone()))
                .unwrap_or_else(|| data_dir.join("cache"));
            let cache = tessera_storage::section_cache::SectionCache::open(&dir, size)
                .with_context(|| format!("open the segment cache `{}`", dir.display()))?;
            info!(dir = %dir.display(), bytes = size, "sealed segments are served cold through a disk cache");
            Some(tessera_storage::cold::ColdStore::new(
                deep_store.clone(),
                Arc::new(cache),
                runtime.handle().clone(),
            ))
        }
        None => None,
    };
    let state = Arc::new(ServerState {
        catalog: Catalog::new(Arc::new(store)),
        deep_store,
        cold,
        data_dir,
        runtime: runtime.handle().clone(),
        tables: RwLock::new(BTreeMap::new()),
        metrics: Default::default(),
    });
    let retention = args.trash_retention;
    let purge = move |state: &ServerState| {
        let now = tessera_ingest::realtime::now_ms();
        if let Err(error) = state.purge_expired_trash(retention, now) {
            tracing::warn!(
                error = format!("{error:#}"),
                "trash purge failed; retrying at the next check"
            );
        }
    };
    let enforce = |state: &ServerState| {
        if let Err(error) = state.enforce_retention(tessera_ingest::realtime::now_ms()) {
            tracing::warn!(
                error = format!("{error:#}"),
                "retention failed; retrying at the next check"
            );
        }
    };
    let starter = state.clone();
    // Start-up downloads segments through the runtime: not on one of its workers.
    // Dropped tables past their trash retention go before the tables start; tables'
    // own retention applies once they run.
    std::thread::spawn(move || {
        purge(&starter);
        starter.start_all()?;
        enforce(&starter);
        anyhow::Ok(())
    })
    .join()
    .map_err(|_| anyhow::anyhow!("table start-up panicked"))??;
    let janitor = state.clone();
    let interval = args.retention_check_interval;
    std::thread::Builder::new()
        .name("retention".into())
        .spawn(move || {
            loop {
                std::thread::sleep(interval);
                enforce(&janitor);
                purge(&janitor);
            }
        })?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&args.http)
            .await
            .with_context(|| format!("listen on `{}`", args.http))?;
        let address = listener.local_addr()?;
        let pg_address = if args.pg == "off" {
            None
        } else {
            let pg_listener = tokio::net::TcpListener::bind(&args.pg)
                .await
                .with_context(|| format!("listen for PostgreSQL clients on `{}`", args.pg))?;
            let pg_address = pg_listener.local_addr()?;
            tokio::spawn(tessera_broker::pg::serve(
                pg_listener,
                state.clone(),
                auth.clone(),
                tls.clone(),
            ));
            Some(pg_address)
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        info!(%address, ?pg_address, deep_store = %deep_uri, scheme, "tessera standalone is serving");
        match pg_address {
            Some(pg) => eprintln!(
                "tessera: serving {scheme}://{address} and postgresql://{pg} (deep store {deep_uri})"
            ),
            None => eprintln!("tessera: serving {scheme}://{address} (deep store {deep_uri})"),
        }
        let handle = ServerHandle {
            url: format!("{scheme}://{address}"),
            state: state.clone(),
        };
        tokio::task::spawn_blocking(move || ready(&handle)).await??;
        let app = http::router(state.clone(), auth.clone());
        let listener =
            tessera_api::http_listener::HttpListener::new(listener, tls, state.metrics.clone())?;
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
        for table in state.table_list() {
            if let Some(realtime) = &table.realtime {
                realtime.stop();
            }
        }
        anyhow::Ok(())
    })
}

/// What a `ready` callback may use.
pub struct ServerHandle {
    pub url: String,
    state: Arc<ServerState>,
}

impl ServerHandle {
    /// Add a schema and table through the same path as the HTTP API (no request).
    pub fn ensure_table(&self, schema_json: &str, table_json: &str) -> anyhow::Result<()> {
        let schema = tessera_config::Schema::from_json(schema_json)?.value;
        if self.state.table(&schema.name).is_some() {
            return Ok(());
        }
        self.state.catalog.put_schema(&schema.name, schema_json)?;
        let config = tessera_config::TableConfig::from_json(table_json, &schema)?.value;
        let record = tessera_meta::TableRecord {
            name: config.table_name.clone(),
            table_type: config.table_type.pinot_name().to_string(),
            schema_name: schema.name.clone(),
            config: serde_json::from_str(table_json)?,
            created_ms: tessera_ingest::realtime::now_ms(),
            deleted_ms: None,
        };
        self.state.catalog.create_table(&record)?;
        self.state.start_table(record)?;
        Ok(())
    }
}
