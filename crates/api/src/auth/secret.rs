//! Hashed secrets for the node config: passwords as PBKDF2-HMAC-SHA256
//! (`pbkdf2-sha256$ITERATIONS$SALT$HASH`, base64), bearer tokens — random and long —
//! as SHA-256 (`sha256$HEX`). `tessera hash-secret` prints both forms.

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// PBKDF2 rounds for new password hashes (OWASP's floor for SHA-256 is 600,000 for
/// interactive logins; verified credentials are cached, so the cost is paid once).
pub const PBKDF2_ITERATIONS: u32 = 600_000;

/// A stored secret, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredSecret {
    Pbkdf2 {
        iterations: u32,
        salt: Vec<u8>,
        hash: Vec<u8>,
    },
    Sha256(Vec<u8>),
}

impl StoredSecret {
    /// Parse a stored hash; plain text is refused with a message saying what to do.
    pub fn parse(text: &str) -> Result<StoredSecret, String> {
        let refuse = || {
            "is not a hashed secret (expected `pbkdf2-sha256$...` or `sha256$...` from \
             `tessera hash-secret`); plain-text secrets are refused"
                .to_string()
        };
        if let Some(hex) = text.strip_prefix("sha256$") {
            let bytes = tessera_config::hex::decode_hex(hex).ok_or_else(refuse)?;
            if bytes.len() != 32 {
                return Err(refuse());
            }
            return Ok(StoredSecret::Sha256(bytes));
        }
        let Some(rest) = text.strip_prefix("pbkdf2-sha256$") else {
            return Err(refuse());
        };
        let parts: Vec<&str> = rest.split('$').collect();
        let [iterations, salt, hash] = parts[..] else {
            return Err(refuse());
        };
        let iterations: u32 = iterations.parse().map_err(|_| refuse())?;
        let salt = B64.decode(salt).map_err(|_| refuse())?;
        let hash = B64.decode(hash).map_err(|_| refuse())?;
        if iterations == 0 || salt.len() < 8 || hash.len() != 32 {
            return Err(refuse());
        }
        Ok(StoredSecret::Pbkdf2 {
            iterations,
            salt,
            hash,
        })
    }

    /// Whether `presented` is the secret (constant-time comparison).
    pub fn verify(&self, presented: &str) -> bool {
        let (expected, actual) = match self {
            StoredSecret::Sha256(expected) => (expected.as_slice(), sha256(presented).to_vec()),
            StoredSecret::Pbkdf2 {
                iterations,
                salt,
                hash,
            } => (
                hash.as_slice(),
                pbkdf2_sha256(presented.as_bytes(), salt, *iterations).to_vec(),
            ),
        };
        bool::from(expected.ct_eq(&actual))
    }
}

pub fn sha256(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// PBKDF2 (RFC 8018) with HMAC-SHA256, one 32-byte block.
fn pbkdf2_sha256(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    let Ok(keyed) = Hmac::<Sha256>::new_from_slice(password) else {
        return [0; 32];
    };
    let mut mac = keyed.clone();
    mac.update(salt);
    mac.update(&1u32.to_be_bytes());
    let mut block: [u8; 32] = mac.finalize().into_bytes().into();
    let mut out = block;
    for _ in 1..iterations {
        let mut mac = keyed.clone();
        mac.update(&block);
        block = mac.finalize().into_bytes().into();
        for (o, b) in out.iter_mut().zip(block) {
            *o ^= b;
        }
    }
    out
}

fn random_bytes(n: usize) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = vec![0; n];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes)
}

/// A new password hash with `iterations` PBKDF2 rounds.
pub fn hash_password(password: &str, iterations: u32) -> std::io::Result<String> {
    let salt = random_bytes(16)?;
    let iterations = iterations.max(1);
    let hash = pbkdf2_sha256(password.as_bytes(), &salt, iterations);
    Ok(format!(
        "pbkdf2-sha256${iterations}${}${}",
        B64.encode(&salt),
        B64.encode(hash)
    ))
}

/// A stored form of a bearer token.
pub fn hash_token(token: &str) -> String {
    format!("sha256${}", tessera_segment::value::hex(&sha256(token)))
}

/// A new random bearer token (256 bits).
pub fn generate_token() -> std::io::Result<String> {
    let bytes = random_bytes(32)?;
    Ok(format!(
        "tsr_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_pbkdf2_matches_rfc_7914_vector() {
        // RFC 7914 §11: PBKDF2-HMAC-SHA256("passwd", "salt", 1), first 32 bytes.
        let out = pbkdf2_sha256(b"passwd", b"salt", 1);
        assert_eq!(
            tessera_segment::value::hex(&out),
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
        );
    }

    #[test]
    fn test_hashes_round_trip_and_plain_text_is_refused() -> std::io::Result<()> {
        let stored = StoredSecret::parse(&hash_token("tok")).map_err(std::io::Error::other)?;
        assert!(stored.verify("tok") && !stored.verify("tok2"));
        let quick = format!(
            "pbkdf2-sha256$2${}${}",
            B64.encode(b"saltsalt"),
            B64.encode(pbkdf2_sha256(b"pw", b"saltsalt", 2))
        );
        let stored = StoredSecret::parse(&quick).map_err(std::io::Error::other)?;
        assert!(stored.verify("pw") && !stored.verify("pW"));
        assert!(StoredSecret::parse("hunter2").is_err());
        assert!(StoredSecret::parse("sha256$abcd").is_err());
        assert!(generate_token()?.len() > 40);
        Ok(())
    }
}
