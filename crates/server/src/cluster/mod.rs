//! The cluster roles as processes (DESIGN §8): `tessera controller`, `tessera broker`
//! and `tessera server`, each configured by a node config (TOML) and coordinated
//! through etcd; brokers reach servers over Arrow Flight. The decisions live in the
//! role libraries (`tessera-controller`, `tessera-coordination`, `tessera-flight`);
//! these modules wire them to listeners, mirrors and the deep store.

mod broker_role;
mod catalog_tables;
pub mod config;
mod consumed_tables;
mod controller_role;
mod keys;
mod metrics;
mod routing;
mod server_role;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use tessera_coordination::EtcdSession;

use config::ClusterNodeConfig;

use crate::api::auth::Authenticator;

/// What every role starts with: its config, its etcd session (a wrong address fails
/// here, naming it), the runtime its listeners run on, and the node's `[auth]`.
struct RoleStart {
    config: ClusterNodeConfig,
    session: EtcdSession,
    runtime: tokio::runtime::Runtime,
    auth: Option<Arc<Authenticator>>,
}

impl RoleStart {
    fn new(config_path: &Path) -> anyhow::Result<RoleStart> {
        let config = ClusterNodeConfig::load(config_path)?;
        let auth = Authenticator::from_config(&config.auth)?.map(Arc::new);
        let session = EtcdSession::connect(&config.etcd).context("connect to etcd")?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("start the async runtime")?;
        Ok(RoleStart {
            config,
            session,
            runtime,
            auth,
        })
    }

    /// Bind a listener for `what` on `address`.
    fn bind(&self, address: &str, what: &str) -> anyhow::Result<tokio::net::TcpListener> {
        self.runtime
            .block_on(tokio::net::TcpListener::bind(address))
            .with_context(|| format!("listen for {what} on `{address}`"))
    }

    /// `app` behind the node's `[auth]` (every route but `/health`), as standalone's.
    fn secured(&self, app: axum::Router) -> axum::Router {
        match &self.auth {
            Some(auth) => app.layer(axum::middleware::from_fn_with_state(
                auth.clone(),
                crate::api::auth::http::require,
            )),
            None => app,
        }
    }

    /// Serve `app` on `listener`, behind the node's `[auth]`, until Ctrl-C.
    fn serve_http(
        &self,
        listener: tokio::net::TcpListener,
        app: axum::Router,
    ) -> anyhow::Result<()> {
        let app = self.secured(app);
        self.runtime.block_on(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = tokio::signal::ctrl_c().await;
                })
                .await
        })?;
        Ok(())
    }

    /// The node's data directory, created, as an absolute path.
    fn data_dir(&self) -> anyhow::Result<PathBuf> {
        let dir = &self.config.node.data_dir;
        std::fs::create_dir_all(dir)
            .with_context(|| format!("create data dir `{}`", dir.display()))?;
        Ok(dir.canonicalize()?)
    }
}

/// The arguments every cluster role takes.
#[derive(Debug, Args)]
pub struct RoleArgs {
    /// The node config (TOML): `[node]`, `[etcd]` and the role's own section
    /// (docs/cluster.md).
    #[arg(long)]
    pub config: PathBuf,
}

pub fn run_controller(args: RoleArgs) -> anyhow::Result<()> {
    controller_role::run(&args.config)
}

pub fn run_broker(args: RoleArgs) -> anyhow::Result<()> {
    broker_role::run(&args.config)
}

pub fn run_server(args: RoleArgs) -> anyhow::Result<()> {
    server_role::run(&args.config)
}
