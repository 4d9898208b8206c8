//! API keys: their format, making one, and verifying a presented one into [`Claims`].
//!
//! A key reads `odk_<id>_<secret>`: the id (32 hex digits) finds its row, the secret (256
//! random bits, base64url) is compared with the stored SHA-256 in constant time. Only the
//! hash is stored, so a key is shown once, when it is made.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::StatusCode;
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::claims::{Claims, PrincipalKind};
use super::roles::Permission;
use crate::db;
use crate::error::{Error, Result};

/// What every key starts with (and how the verifier tells a key from a JWT).
pub const PREFIX: &str = "odk_";

/// A new key: what is shown once, and what is stored.
pub struct NewKey {
    pub id: Uuid,
    /// The whole key, for the caller.
    pub key: String,
    pub secret_hash: Vec<u8>,
}

pub fn generate() -> NewKey {
    let id = Uuid::now_v7();
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let secret = URL_SAFE_NO_PAD.encode(secret);
    NewKey {
        id,
        key: format!("{PREFIX}{}_{secret}", id.simple()),
        secret_hash: hash(&secret),
    }
}

fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

fn rejected(code: &str, detail: &str) -> Error {
    Error::new(StatusCode::UNAUTHORIZED, code, detail.to_string())
        .with_next_step("use a key that is in force, or ask a tenant admin for a new one")
}

/// The claims of the key `token` (which starts with [`PREFIX`]): 401 `auth.invalid_token`
/// when it is no key of ours, `auth.key_revoked` / `auth.key_expired` when it was one.
pub async fn verify(pool: &PgPool, token: &str) -> Result<Claims> {
    let malformed = || rejected("auth.invalid_token", "the API key is malformed or unknown");
    let rest = token.strip_prefix(PREFIX).ok_or_else(malformed)?;
    let (id, secret) = rest.split_once('_').ok_or_else(malformed)?;
    let id = Uuid::try_parse(id).map_err(|_| malformed())?;
    let mut conn = pool.acquire().await?;
    let stored = db::api_keys::find(&mut conn, id)
        .await?
        .ok_or_else(malformed)?;
    if !bool::from(hash(secret).ct_eq(&stored.secret_hash)) {
        return Err(malformed());
    }
    if stored.revoked_at.is_some() {
        return Err(rejected("auth.key_revoked", "the API key was revoked"));
    }
    let now = chrono::Utc::now();
    if stored.expires_at.is_some_and(|at| at <= now) {
        return Err(rejected("auth.key_expired", "the API key has expired"));
    }
    let scopes = stored
        .scopes
        .iter()
        .filter_map(|s| Permission::ALL.iter().copied().find(|p| p.as_str() == s))
        .collect();
    Ok(Claims {
        sub: id.to_string(),
        kind: PrincipalKind::ApiKey,
        tenant: stored.tenant_id,
        iss: "orderdesk".into(),
        exp: stored
            .expires_at
            .map_or(u64::MAX, |at| at.timestamp().max(0) as u64),
        iat: None,
        roles: Vec::new(),
        sudo: false,
        order_id: None,
        act: None,
        key_scopes: Some(scopes),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_names_its_id_and_only_the_hash_of_its_secret_is_kept() {
        let k = generate();
        let rest = k.key.strip_prefix(PREFIX).unwrap();
        let (id, secret) = rest.split_once('_').unwrap();
        assert_eq!(Uuid::try_parse(id).unwrap(), k.id);
        assert_eq!(secret.len(), 43);
        assert_eq!(hash(secret), k.secret_hash);
        assert_ne!(generate().key, k.key);
    }
}
