//! Optional authentication and authorization (node config `[auth]`): HTTP Basic and
//! bearer tokens on every HTTP endpoint but `/health`, passwords on the PostgreSQL
//! wire; two roles — `read` (queries, GETs, metrics) and `admin` (schema, table and
//! segment changes, ingestion). Secrets are stored hashed ([`secret`]).

pub mod http;
pub mod secret;

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine;
use serde::Deserialize;

use self::secret::{StoredSecret, sha256};

/// What a caller may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Queries and every GET.
    Read,
    /// Everything.
    Admin,
}

/// `[auth]` of the node config.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    #[serde(default)]
    pub users: Vec<UserConfig>,
    #[serde(default)]
    pub tokens: Vec<TokenConfig>,
}

/// `[[auth.users]]`: HTTP Basic and PostgreSQL logins.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    pub name: String,
    /// From `tessera hash-secret`.
    pub password_hash: String,
    pub role: Role,
}

/// `[[auth.tokens]]`: `Authorization: Bearer TOKEN` (and a PG password).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    pub name: String,
    /// From `tessera hash-secret --token`.
    pub token_hash: String,
    pub role: Role,
}

/// Why a request has no role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    /// No credentials, or malformed ones.
    Missing(String),
    /// Credentials that match nobody.
    Invalid,
}

/// Most verified credentials remembered (each entry is a 32-byte digest).
const CACHE_LIMIT: usize = 10_000;

/// The configured users and tokens, with verified credentials cached by digest so
/// the slow password hash runs once per credential, not once per request.
#[derive(Debug)]
pub struct Authenticator {
    users: Vec<(String, StoredSecret, Role)>,
    tokens: Vec<(String, StoredSecret, Role)>,
    verified: Mutex<HashMap<[u8; 32], Role>>,
}

impl Authenticator {
    /// `None` when the config names no user and no token (auth off).
    pub fn from_config(config: &AuthConfig) -> anyhow::Result<Option<Authenticator>> {
        if config.users.is_empty() && config.tokens.is_empty() {
            return Ok(None);
        }
        let mut users = Vec::new();
        for (i, user) in config.users.iter().enumerate() {
            let secret = StoredSecret::parse(&user.password_hash).map_err(|e| {
                anyhow::anyhow!("auth.users[{i}] (`{}`).password_hash {e}", user.name)
            })?;
            users.push((user.name.clone(), secret, user.role));
        }
        let mut tokens = Vec::new();
        for (i, token) in config.tokens.iter().enumerate() {
            let secret = StoredSecret::parse(&token.token_hash).map_err(|e| {
                anyhow::anyhow!("auth.tokens[{i}] (`{}`).token_hash {e}", token.name)
            })?;
            tokens.push((token.name.clone(), secret, token.role));
        }
        Ok(Some(Authenticator {
            users,
            tokens,
            verified: Mutex::new(HashMap::new()),
        }))
    }

    fn cached(&self, key: &[u8; 32], verify: impl FnOnce() -> Option<Role>) -> Option<Role> {
        let cache = || {
            self.verified
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        if let Some(role) = cache().get(key) {
            return Some(*role);
        }
        let role = verify()?;
        let mut cache = cache();
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(*key, role);
        Some(role)
    }

    /// The role of `user` with `password`. Slow the first time (PBKDF2): call it off
    /// the async workers.
    pub fn password(&self, user: &str, password: &str) -> Option<Role> {
        let key = sha256(&format!("user\0{user}\0{password}"));
        self.cached(&key, || {
            self.users
                .iter()
                .find(|(name, secret, _)| name == user && secret.verify(password))
                .map(|(_, _, role)| *role)
        })
    }

    /// The role of a bearer token.
    pub fn token(&self, token: &str) -> Option<Role> {
        let key = sha256(&format!("token\0{token}"));
        self.cached(&key, || {
            self.tokens
                .iter()
                .find(|(_, secret, _)| secret.verify(token))
                .map(|(_, _, role)| *role)
        })
    }

    /// The role an `Authorization` header grants.
    pub fn authorize(&self, header: Option<&str>) -> Result<Role, Denied> {
        let header =
            header.ok_or_else(|| Denied::Missing("credentials are required".to_string()))?;
        let (scheme, value) = header.trim().split_once(' ').ok_or_else(|| {
            Denied::Missing("the Authorization header must be `Basic ...` or `Bearer ...`".into())
        })?;
        let role = if scheme.eq_ignore_ascii_case("bearer") {
            self.token(value.trim())
        } else if scheme.eq_ignore_ascii_case("basic") {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(value.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| Denied::Missing("Basic credentials are not base64 UTF-8".into()))?;
            let (user, password) = decoded
                .split_once(':')
                .ok_or_else(|| Denied::Missing("Basic credentials need `user:password`".into()))?;
            self.password(user, password)
        } else {
            return Err(Denied::Missing(format!(
                "authorization scheme `{scheme}` is not supported; use Basic or Bearer"
            )));
        };
        role.ok_or(Denied::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn authenticator() -> Authenticator {
        let config: AuthConfig = toml::from_str(&format!(
            r#"
            [[users]]
            name = "ann"
            password_hash = "{}"
            role = "admin"
            [[tokens]]
            name = "grafana"
            token_hash = "{}"
            role = "read"
            "#,
            secret::hash_password("s3cret", 10).unwrap_or_default(),
            secret::hash_token("tok"),
        ))
        .unwrap_or_default();
        Authenticator::from_config(&config)
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("auth config"))
    }

    #[test]
    fn test_basic_and_bearer_grant_their_roles() {
        let auth = authenticator();
        let basic = |u: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(u)
            )
        };
        assert_eq!(auth.authorize(Some(&basic("ann:s3cret"))), Ok(Role::Admin));
        assert_eq!(auth.authorize(Some(&basic("ann:s3cret"))), Ok(Role::Admin));
        assert_eq!(
            auth.authorize(Some(&basic("ann:nope"))),
            Err(Denied::Invalid)
        );
        assert_eq!(auth.authorize(Some("Bearer tok")), Ok(Role::Read));
        assert_eq!(auth.authorize(Some("Bearer other")), Err(Denied::Invalid));
        assert!(matches!(auth.authorize(None), Err(Denied::Missing(_))));
        assert!(matches!(
            auth.authorize(Some("Digest x")),
            Err(Denied::Missing(_))
        ));
        assert!(Role::Admin > Role::Read);
    }

    #[test]
    fn test_plain_text_secrets_are_refused_with_the_field_named() {
        let config = AuthConfig {
            users: vec![UserConfig {
                name: "bob".into(),
                password_hash: "hunter2".into(),
                role: Role::Read,
            }],
            tokens: Vec::new(),
        };
        let error = Authenticator::from_config(&config)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            error.contains("auth.users[0] (`bob`).password_hash"),
            "{error}"
        );
        assert!(error.contains("plain-text"), "{error}");
    }
}
