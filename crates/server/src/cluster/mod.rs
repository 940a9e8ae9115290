//! The cluster roles as processes (DESIGN §8): `tessera controller`, `tessera broker`
//! and `tessera server`, each configured by a node config (TOML) and coordinated
//! through etcd; brokers reach servers over Arrow Flight. The decisions live in the
//! role libraries (`tessera-controller`, `tessera-coordination`, `tessera-flight`);
//! these modules wire them to listeners, mirrors and the deep store.

mod broker_role;
pub mod config;
mod controller_role;
mod keys;
mod metrics;
mod server_role;

use std::path::PathBuf;

use clap::Args;

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
