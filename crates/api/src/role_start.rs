//! How every cluster process starts (`tessera controller|broker|server --config
//! FILE`): its node config read, its etcd session opened, its runtime built, its
//! `[auth]` loaded; then listeners bound and served behind that auth.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use tessera_coordination::EtcdSession;

use crate::auth::Authenticator;
use crate::node_config::ClusterNodeConfig;

/// What every role starts with: its config, its etcd session (a wrong address fails
/// here, naming it), the runtime its listeners run on, and the node's `[auth]`.
pub struct RoleStart {
    pub config: ClusterNodeConfig,
    pub session: EtcdSession,
    pub runtime: tokio::runtime::Runtime,
    pub auth: Option<Arc<Authenticator>>,
    /// The node's `[tls]`, loaded (brokers only: see [`RoleStart::refuse_tls`]).
    pub tls: Option<crate::tls::Tls>,
}

impl RoleStart {
    pub fn new(config_path: &Path) -> anyhow::Result<RoleStart> {
        let config = ClusterNodeConfig::load(config_path)?;
        let auth = Authenticator::from_config(&config.auth)?.map(Arc::new);
        let tls = config
            .tls
            .as_ref()
            .map(crate::tls::Tls::from_config)
            .transpose()?;
        let session = EtcdSession::connect(&config.etcd).context("connect to etcd")?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_stack_size(tessera_query::sql_limits::QUERY_THREAD_STACK_BYTES)
            .build()
            .context("start the async runtime")?;
        Ok(RoleStart {
            config,
            session,
            runtime,
            auth,
            tls,
        })
    }

    /// Fail when the node config has `[tls]`: `role` talks only to other nodes, over
    /// the cluster's network, in plaintext.
    pub fn refuse_tls(&self, role: &str) -> anyhow::Result<()> {
        if self.tls.is_some() {
            anyhow::bail!(
                "[tls] is for brokers (the client listeners); a {role} talks only to other nodes, in plaintext: remove [tls] from its config"
            );
        }
        Ok(())
    }

    /// Bind a listener for `what` on `address`.
    pub fn bind(&self, address: &str, what: &str) -> anyhow::Result<tokio::net::TcpListener> {
        self.runtime
            .block_on(tokio::net::TcpListener::bind(address))
            .with_context(|| format!("listen for {what} on `{address}`"))
    }

    /// `app` behind the node's `[auth]` (every route but `/health`), as standalone's.
    pub fn secured(&self, app: axum::Router) -> axum::Router {
        match &self.auth {
            Some(auth) => app.layer(axum::middleware::from_fn_with_state(
                auth.clone(),
                crate::auth::http::require,
            )),
            None => app,
        }
    }

    /// Serve `app` on `listener`, behind the node's `[auth]` and with its `[tls]`,
    /// counting connections in `metrics`, until Ctrl-C.
    pub fn serve_http(
        &self,
        listener: tokio::net::TcpListener,
        app: axum::Router,
        metrics: Arc<crate::server_metrics::ServerMetrics>,
    ) -> anyhow::Result<()> {
        let app = self.secured(app);
        let tls = self.tls.clone();
        self.runtime.block_on(async move {
            let listener = crate::http_listener::HttpListener::new(listener, tls, metrics)?;
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = tokio::signal::ctrl_c().await;
                })
                .await
        })?;
        Ok(())
    }

    /// The node's data directory, created, as an absolute path.
    pub fn data_dir(&self) -> anyhow::Result<PathBuf> {
        let dir = &self.config.node.data_dir;
        std::fs::create_dir_all(dir)
            .with_context(|| format!("create data dir `{}`", dir.display()))?;
        Ok(dir.canonicalize()?)
    }
}
