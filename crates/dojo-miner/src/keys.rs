//! Worker-platform keys and session tokens: random secrets shown once, stored only as hashes.
//!
//! Secrets carry 256 bits from the OS random source, so a plain SHA-256 is the right hash: there
//! is nothing to brute-force that a slow password hash would protect.

use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};

use crate::store::{KeyKind, Store, StoreError};

/// A newly issued key: the secret is shown to the operator once and never stored.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedKey {
    /// Public id, to list and revoke.
    pub id: String,
    /// Kind.
    pub kind: KeyKind,
    /// The secret (`sk-…` for subscription keys, `ak-…` for API keys).
    pub secret: String,
}

impl std::fmt::Debug for IssuedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedKey")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("secret", &"<redacted>")
            .finish()
    }
}

fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

/// SHA-256 of a secret, hex.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.trim().as_bytes()))
}

/// A new session token (shown to the worker's browser once, stored hashed).
pub fn new_token() -> String {
    format!("st-{}", random_hex(32))
}

/// Issues a key of `kind` and stores its hash.
pub async fn generate(store: &Store, kind: KeyKind, now_ms: i64) -> Result<IssuedKey, StoreError> {
    let prefix = match kind {
        KeyKind::Subscription => "sk",
        KeyKind::Api => "ak",
    };
    let key = IssuedKey {
        id: format!("key-{}", random_hex(6)),
        kind,
        secret: format!("{prefix}-{}", random_hex(32)),
    };
    store
        .insert_key(&key.id, kind, &hash_secret(&key.secret), now_ms)
        .await?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_differ_and_hash_is_stable() {
        let (a, b) = (random_hex(32), random_hex(32));
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert_eq!(hash_secret("sk-1"), hash_secret(" sk-1\n"));
        assert_ne!(hash_secret("sk-1"), hash_secret("sk-2"));
    }

    #[test]
    fn debug_redacts_the_secret() {
        let k = IssuedKey {
            id: "key-1".into(),
            kind: KeyKind::Api,
            secret: "ak-topsecret".into(),
        };
        assert!(!format!("{k:?}").contains("topsecret"));
    }
}
