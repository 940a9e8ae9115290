//! The node config (`--config FILE`, TOML). Today it holds `[auth]`; unknown keys are
//! an error naming the key.
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
//! ```

use std::path::Path;

use anyhow::Context;
use serde::Deserialize;

use tessera_api::auth::AuthConfig;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    #[serde(default)]
    pub auth: AuthConfig,
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
