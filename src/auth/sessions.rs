//! The operations console's sessions: an agent signs in once with a token or an API key and
//! the browser carries a cookie instead. The cookie holds 256 random bits; the row keeps
//! their SHA-256, the credential sealed (bound to the row) and a CSRF token. Every request
//! verifies the credential again, so a session never outlives what it was made from.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use http::StatusCode;
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::claims::Claims;
use crate::db;
use crate::error::{Error, Result};
use crate::sealing;

/// The session cookie's name. The `__Host-` prefix makes browsers refuse the name from any
/// `Set-Cookie` with a `Domain`, a `Path` other than `/` or without `Secure`, so a sibling
/// subdomain or a plain-HTTP answer cannot plant a session of its own under it.
pub const COOKIE: &str = "__Host-orderdesk_console";
/// Where a cookie-authenticated request that changes something repeats the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a session lasts at most (less when its credential expires sooner).
pub const LIFETIME: Duration = Duration::from_secs(8 * 60 * 60);

/// A signed-in session, as a request carries it once its cookie was verified.
#[derive(Debug, Clone)]
pub struct Session {
    pub id_hash: Vec<u8>,
    pub csrf_token: String,
    /// The step-up token the agent gave the console, while it has not expired.
    pub sudo: Option<String>,
}

/// A session just made: what goes into the cookie, and for how long.
pub struct Opened {
    pub cookie_secret: String,
    pub csrf_token: String,
    pub max_age: Duration,
}

/// Seals and opens what the sessions keep, under a key derived from `ORDERDESK_DATA_KEY`.
pub(super) struct SessionSeal(pub(super) [u8; sealing::KEY_LEN]);

impl SessionSeal {
    pub(super) fn new(data_key: &[u8]) -> SessionSeal {
        SessionSeal(sealing::derive_key(
            data_key,
            b"orderdesk console sessions v1",
        ))
    }

    fn aad(what: &str, id_hash: &[u8]) -> Vec<u8> {
        format!("console:{what}:{}", hex::encode(id_hash)).into_bytes()
    }

    fn seal(&self, what: &str, id_hash: &[u8], secret: &str) -> Result<Vec<u8>> {
        Ok(sealing::seal(
            &self.0,
            &Self::aad(what, id_hash),
            secret.as_bytes(),
        )?)
    }

    fn open(&self, what: &str, id_hash: &[u8], sealed: &[u8]) -> Option<String> {
        sealing::open(&self.0, &Self::aad(what, id_hash), sealed)
            .and_then(|plain| String::from_utf8(plain).ok())
    }
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

pub fn ended() -> Error {
    Error::new(
        StatusCode::UNAUTHORIZED,
        "auth.session_ended",
        "the console session has ended or was never signed in",
    )
    .with_next_step("sign in again at /console/sign-in")
}

/// Stores a new session for `credential` (already verified into `claims`).
pub(super) async fn create(
    pool: &sqlx::PgPool,
    seal: &SessionSeal,
    credential: &str,
    claims: &Claims,
    principal: &str,
) -> Result<Opened> {
    let secret = random_token();
    let id_hash = hash(&secret);
    let csrf_token = random_token();
    let now = Utc::now();
    let credential_expiry =
        DateTime::<Utc>::from_timestamp(claims.exp.min(i64::MAX as u64) as i64, 0)
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
    let expires_at = (now + LIFETIME).min(credential_expiry);
    let mut conn = pool.acquire().await?;
    db::console_sessions::delete_expired(&mut conn).await?;
    db::console_sessions::insert(
        &mut conn,
        &db::console_sessions::NewSession {
            id_hash: &id_hash,
            tenant_id: &claims.tenant,
            principal,
            credential: &seal.seal("credential", &id_hash, credential)?,
            csrf_token: &csrf_token,
            expires_at,
        },
    )
    .await?;
    let max_age = (expires_at - now).to_std().unwrap_or_default();
    Ok(Opened {
        cookie_secret: secret,
        csrf_token,
        max_age,
    })
}

/// The session of a cookie's secret and the credential it was made from.
pub(super) async fn open(
    pool: &sqlx::PgPool,
    seal: &SessionSeal,
    secret: &str,
) -> Result<(String, Session)> {
    let id_hash = hash(secret);
    let mut conn = pool.acquire().await?;
    let row = db::console_sessions::find(&mut conn, &id_hash)
        .await?
        .ok_or_else(ended)?;
    // A row that does not open was moved or sealed under another data key: no session.
    let credential = seal
        .open("credential", &id_hash, &row.credential)
        .ok_or_else(ended)?;
    let sudo = row
        .sudo_credential
        .and_then(|sealed| seal.open("sudo", &id_hash, &sealed));
    Ok((
        credential,
        Session {
            id_hash,
            csrf_token: row.csrf_token,
            sudo,
        },
    ))
}

/// Keeps a verified step-up token in the session until `expires_at`.
pub(super) async fn keep_sudo(
    pool: &sqlx::PgPool,
    seal: &SessionSeal,
    session: &Session,
    token: &str,
    expires_at: DateTime<Utc>,
) -> Result<()> {
    let sealed = seal.seal("sudo", &session.id_hash, token)?;
    let mut conn = pool.acquire().await?;
    if !db::console_sessions::set_sudo(&mut conn, &session.id_hash, &sealed, expires_at).await? {
        return Err(ended());
    }
    Ok(())
}

pub(super) async fn end(pool: &sqlx::PgPool, session: &Session) -> Result<()> {
    let mut conn = pool.acquire().await?;
    db::console_sessions::delete(&mut conn, &session.id_hash).await?;
    Ok(())
}

/// Whether `presented` is the session's CSRF token, compared in constant time.
pub fn csrf_matches(session: &Session, presented: &str) -> bool {
    use subtle::ConstantTimeEq;
    presented.len() == session.csrf_token.len()
        && bool::from(presented.as_bytes().ct_eq(session.csrf_token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_credential_opens_only_for_its_own_session() {
        let seal = SessionSeal::new(b"a data key of enough length for the test");
        let sealed = seal.seal("credential", b"row-a", "token-a").unwrap();
        assert_eq!(
            seal.open("credential", b"row-a", &sealed).as_deref(),
            Some("token-a")
        );
        assert_eq!(seal.open("credential", b"row-b", &sealed), None);
        assert_eq!(seal.open("sudo", b"row-a", &sealed), None);
    }

    #[test]
    fn csrf_tokens_compare_whole() {
        let session = Session {
            id_hash: vec![],
            csrf_token: "abc".into(),
            sudo: None,
        };
        assert!(csrf_matches(&session, "abc"));
        assert!(!csrf_matches(&session, "ab"));
        assert!(!csrf_matches(&session, "abd"));
        assert!(!csrf_matches(&session, ""));
    }
}
