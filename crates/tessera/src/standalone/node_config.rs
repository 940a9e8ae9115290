//! The node config (`--config FILE`, TOML): `[auth]` and `[tls]`; unknown keys are an
//! error naming the key.
//!
//! ```toml
//! [[auth.users]]
//! name = "admin"
//! password_hash = "pbkdf2-sha256$600000$..."   # tessera hash-secret
//! role = "admin"                               # or "read"
//!
//! [[auth.tokens]]
//! name = "grafana"
//! token_hash = "sha256$..."                    # tessera hash-secret --token
//! role = "read"
//!
//! [tls]                                        # HTTPS and TLS on the PostgreSQL wire
//! cert_file = "server.pem"
//! key_file = "server.key"
//! allow_plaintext = false
//!
//! [cache]                                      # cold segments (docs/cold-segments.md)
//! size = "1GB"                                 # the disk cache's bound
//! dir = "/var/cache/tessera"                   # default {data-dir}/cache
//! ```

use std::path::Path;

use anyhow::Context;
use serde::Deserialize;

use tessera_api::auth::AuthConfig;
use tessera_api::tls::TlsConfig;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    #[serde(default)]
    pub auth: AuthConfig,
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    #[serde(default)]
    pub cache: Option<CacheConfig>,
}

/// `[cache]`: serve sealed segments straight from the deep store through a disk cache.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheConfig {
    /// The cache's bound in bytes (`1GB`, `512M`).
    pub size: String,
    pub dir: Option<std::path::PathBuf>,
}

impl NodeConfig {
    pub fn load(path: &Path) -> anyhow::Result<NodeConfig> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("read node config `{}`", path.display()))?;
        toml::from_str(&text).with_context(|| format!("node config `{}`", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_unknown_keys_are_named() {
        let error = toml::from_str::<NodeConfig>("[auth]\nuserz = []\n")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("userz"), "{error}");
    }
}
