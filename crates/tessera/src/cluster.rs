//! The cluster roles as processes (DESIGN §8): `tessera controller`, `tessera broker`
//! and `tessera server`, each configured by a node config (TOML) and coordinated
//! through etcd; brokers reach servers over Arrow Flight. Each role is its own crate
//! (`tessera-controller`, `tessera-broker`, `tessera-server`); this module only
//! dispatches the command line to them.

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
    tessera_controller::role::run(&args.config)
}

pub fn run_broker(args: RoleArgs) -> anyhow::Result<()> {
    tessera_broker::run(&args.config)
}

pub fn run_server(args: RoleArgs) -> anyhow::Result<()> {
    tessera_server::run(&args.config)
}
