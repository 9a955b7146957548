//! API keys: random secrets shown once, stored only as SHA-256 hashes (the secrets carry 256
//! bits of entropy, so a slow password hash would add nothing), checked on every call.

use super::AuthError;
use crate::domain::account::Caller;
use crate::store::{ApiKeyRecord, KeyRole, NewApiKey, SharedStore};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Every key starts with this, so a leaked key is easy to recognise in logs and scanners.
const KEY_PREFIX: &str = "bo_";

/// A freshly generated key: the secret (to show once) and what is stored.
#[derive(Debug)]
pub struct GeneratedKey {
    pub secret: String,
    pub stored: NewApiKey,
}

pub fn generate(
    role: KeyRole,
    account_id: Option<crate::domain::account::AccountId>,
    label: &str,
) -> GeneratedKey {
    let mut bytes = [0u8; 32];
    // The thread RNG is a CSPRNG seeded from the operating system.
    rand::rng().fill_bytes(&mut bytes);
    let secret = format!("{KEY_PREFIX}{}", hex::encode(bytes));
    GeneratedKey {
        stored: NewApiKey {
            role,
            account_id,
            label: label.to_string(),
            prefix: secret[..KEY_PREFIX.len() + 8].to_string(),
            secret_hash: hash(&secret),
        },
        secret,
    }
}

pub fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Resolves the `authorization` header value to the caller.
pub async fn authenticate(store: &SharedStore, header: Option<&str>) -> Result<Caller, AuthError> {
    let header = header.ok_or(AuthError::Missing)?.trim();
    let secret = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or(AuthError::Malformed)?;
    let record = store
        .find_api_key_by_hash(&hash(secret))
        .await?
        .ok_or(AuthError::Unknown)?;
    caller_of(&record)
}

fn caller_of(record: &ApiKeyRecord) -> Result<Caller, AuthError> {
    if record.revoked_at.is_some() {
        return Err(AuthError::Revoked);
    }
    match (record.role, record.account_id) {
        (KeyRole::Operator, _) => Ok(Caller::Operator { key_id: record.id }),
        (KeyRole::Account, Some(account_id)) => Ok(Caller::account_key(record.id, account_id)),
        (KeyRole::Account, None) => Err(AuthError::Unknown),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_and_stored_only_as_hashes() {
        let a = generate(KeyRole::Operator, None, "a");
        let b = generate(KeyRole::Operator, None, "b");
        assert_ne!(a.secret, b.secret);
        assert!(a.secret.starts_with("bo_") && a.secret.len() == 3 + 64);
        assert_eq!(a.stored.secret_hash, hash(&a.secret));
        assert!(!a.stored.secret_hash.contains(&a.secret[3..]));
        assert!(a.secret.starts_with(&a.stored.prefix));
    }
}
