//! The node config of a cluster process (`tessera controller|broker|server --config
//! FILE`, TOML). Unknown keys are an error naming the key; every example under
//! `deploy/cluster/` is parsed in a test.
//!
//! ```toml
//! [node]
//! id = "server-1"                  # unique in the cluster; a live duplicate is refused
//! data_dir = "/var/lib/tessera"    # local segment copies
//! deep_store = "s3://bucket/prefix" # or a directory every node reaches
//!
//! [etcd]
//! endpoints = ["http://10.0.0.1:2379"]
//! cluster = "prod"                 # keys live under /tessera/prod/
//!
//! [server]                         # the role's own section
//! flight = "0.0.0.0:8098"
//! tags = ["historical"]
//! ```

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;
use tessera_coordination::EtcdConfig;

use crate::auth::AuthConfig;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterNodeConfig {
    pub node: NodeSection,
    pub etcd: EtcdConfig,
    #[serde(default)]
    pub controller: Option<ControllerSection>,
    #[serde(default)]
    pub broker: Option<BrokerSection>,
    #[serde(default)]
    pub server: Option<ServerSection>,
    /// Users and tokens, as standalone's: brokers and controllers check them on every
    /// HTTP route but `/health` (brokers pass the caller's credentials on to the
    /// leader), brokers on the PostgreSQL wire, servers on their HTTP routes. Give
    /// every node the same `[auth]`.
    #[serde(default)]
    pub auth: AuthConfig,
    /// TLS on a broker's client listeners, HTTP and PostgreSQL, as standalone's
    /// (`crate::tls`). Traffic between nodes stays plaintext on the cluster's network:
    /// controllers and servers refuse the table.
    #[serde(default)]
    pub tls: Option<crate::tls::TlsConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSection {
    /// Letters, digits, `-` and `_`; unique among live nodes.
    pub id: String,
    pub data_dir: PathBuf,
    /// Deep store URI: a directory shared by every node, or `s3://bucket/prefix`
    /// (credentials and `AWS_ENDPOINT` from the environment).
    pub deep_store: String,
    /// Seconds a node stays registered after its last lease refresh: how long a killed
    /// node is still routed to. Lower detects deaths sooner; etcd's floor is 2.
    #[serde(default = "default_lease_ttl")]
    pub lease_ttl_s: u64,
}

fn default_lease_ttl() -> u64 {
    5
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControllerSection {
    /// The admin HTTP listener (schemas, tables, segment uploads, `/cluster`).
    pub http: String,
    /// How often the leader enforces tables' retention and purges the trash (`10m`,
    /// `1h`, `2s`).
    #[serde(default = "ten_minutes", deserialize_with = "duration")]
    pub retention_check_interval: std::time::Duration,
    /// How long a segment past its table's retention stays restorable in the trash.
    #[serde(default = "seven_days", deserialize_with = "duration")]
    pub trash_retention: std::time::Duration,
}

fn ten_minutes() -> std::time::Duration {
    std::time::Duration::from_secs(600)
}

fn seven_days() -> std::time::Duration {
    std::time::Duration::from_secs(7 * 86_400)
}

/// A duration written as `7d`, `12h`, `10m`, `30s` or `500ms`.
fn duration<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<std::time::Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    tessera_config::stream::parse_duration(&text).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "`{text}` is not a duration such as 7d, 12h, 10m or 30s"
        ))
    })
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrokerSection {
    /// The query HTTP listener (`/query/sql`; admin routes are forwarded to the
    /// controller leader).
    pub http: String,
    /// The PostgreSQL wire listener (psql, Grafana, BI tools); none when absent.
    #[serde(default)]
    pub pg: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// The Arrow Flight listener brokers send leaf queries to.
    pub flight: String,
    /// What the server holds: `historical` (sealed segments of OFFLINE tables) and/or
    /// `realtime`.
    #[serde(default = "default_tags")]
    pub tags: Vec<String>,
    /// The address brokers reach the Flight listener at, when it differs from `flight`
    /// (a wildcard bind, NAT).
    #[serde(default)]
    pub advertised_flight: Option<String>,
    /// An HTTP listener for `/health` and `/metrics`; none when absent.
    #[serde(default)]
    pub http: Option<String>,
    /// Serve sealed segments cold: opened from their footer in the deep store, sections
    /// fetched on demand into a disk cache of this size (`1GB`, `512M`); none: download
    /// each segment whole (docs/cold-segments.md).
    #[serde(default)]
    pub cache_size: Option<String>,
    /// Where that cache lives (default `{data_dir}/cache`).
    #[serde(default)]
    pub cache_dir: Option<PathBuf>,
}

fn default_tags() -> Vec<String> {
    vec!["historical".into(), "realtime".into()]
}

impl ClusterNodeConfig {
    pub fn load(path: &Path) -> anyhow::Result<ClusterNodeConfig> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("read node config `{}`", path.display()))?;
        Self::parse(&text).with_context(|| format!("node config `{}`", path.display()))
    }

    pub fn parse(text: &str) -> anyhow::Result<ClusterNodeConfig> {
        let config: ClusterNodeConfig = toml::from_str(text)?;
        let id_ok = !config.node.id.is_empty()
            && config
                .node
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !id_ok {
            bail!(
                "`node.id` is letters, digits, `-` and `_`: id=`{}`",
                config.node.id
            );
        }
        Ok(config)
    }

    /// The role section `role` needs, or an error saying what to add.
    pub fn require<'a, T>(section: &'a Option<T>, role: &str) -> anyhow::Result<&'a T> {
        section.as_ref().with_context(|| {
            format!("the node config has no `[{role}]` section, which `tessera {role}` needs")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_every_example_config_parses() -> anyhow::Result<()> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/cluster");
        let mut parsed = 0;
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "toml") {
                ClusterNodeConfig::load(&path)?;
                parsed += 1;
            }
        }
        assert!(parsed >= 3, "examples for each role in {}", dir.display());
        Ok(())
    }

    #[test]
    fn test_bad_configs_are_named() {
        let base = "[node]\nid = \"a\"\ndata_dir = \"d\"\ndeep_store = \"s\"\n[etcd]\nendpoints = [\"127.0.0.1:2379\"]\n";
        assert!(ClusterNodeConfig::parse(base).is_ok());
        let error = |text: &str| {
            ClusterNodeConfig::parse(text)
                .err()
                .map(|e| format!("{e:#}"))
                .unwrap_or_default()
        };
        assert!(error(&format!("{base}[server]\nflight = \"x\"\ntagz = []\n")).contains("tagz"));
        assert!(error(&base.replace("id = \"a\"", "id = \"a b\"")).contains("node.id"));
        assert!(
            error(&base.replace("[etcd]\nendpoints = [\"127.0.0.1:2379\"]\n", "")).contains("etcd")
        );
        let controller = ClusterNodeConfig::parse(&format!(
            "{base}[controller]\nhttp = \"x\"\nretention_check_interval = \"2s\"\n"
        ))
        .expect("a controller config");
        let section = controller.controller.expect("the section");
        assert_eq!(
            (section.retention_check_interval, section.trash_retention),
            (
                std::time::Duration::from_secs(2),
                std::time::Duration::from_secs(7 * 86_400)
            )
        );
        assert!(
            error(&format!(
                "{base}[controller]\nhttp = \"x\"\ntrash_retention = \"soon\"\n"
            ))
            .contains("soon")
        );
    }
}
