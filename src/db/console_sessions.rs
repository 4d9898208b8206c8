//! The operations console's sessions (`console_sessions`): the secrets are hashed and the
//! credentials sealed by `auth::sessions` before they reach these functions.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::domain::ids::TenantId;

pub struct NewSession<'a> {
    pub id_hash: &'a [u8],
    pub tenant_id: &'a TenantId,
    pub principal: &'a str,
    pub credential: &'a [u8],
    pub csrf_token: &'a str,
    pub expires_at: DateTime<Utc>,
}

pub struct SessionRow {
    pub tenant_id: String,
    pub credential: Vec<u8>,
    pub csrf_token: String,
    /// Only while it has not expired.
    pub sudo_credential: Option<Vec<u8>>,
}

pub async fn insert(conn: &mut PgConnection, s: &NewSession<'_>) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO console_sessions (id_hash, tenant_id, principal, credential, csrf_token, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
        s.id_hash,
        s.tenant_id.as_str(),
        s.principal,
        s.credential,
        s.csrf_token,
        s.expires_at,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The session of `id_hash` unless it expired.
pub async fn find(conn: &mut PgConnection, id_hash: &[u8]) -> sqlx::Result<Option<SessionRow>> {
    sqlx::query_as!(
        SessionRow,
        r#"SELECT tenant_id, credential, csrf_token,
                  CASE WHEN sudo_expires_at > now() THEN sudo_credential END AS "sudo_credential?"
           FROM console_sessions WHERE id_hash = $1 AND expires_at > now()"#,
        id_hash,
    )
    .fetch_optional(conn)
    .await
}

pub async fn set_sudo(
    conn: &mut PgConnection,
    id_hash: &[u8],
    sealed: &[u8],
    expires_at: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "UPDATE console_sessions SET sudo_credential = $2, sudo_expires_at = $3
         WHERE id_hash = $1 AND expires_at > now()",
        id_hash,
        sealed,
        expires_at,
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn delete(conn: &mut PgConnection, id_hash: &[u8]) -> sqlx::Result<()> {
    sqlx::query!("DELETE FROM console_sessions WHERE id_hash = $1", id_hash)
        .execute(conn)
        .await?;
    Ok(())
}

/// Forgets sessions that ended; called at each sign-in, so the table holds only live ones
/// and those of the last sign-in's gap.
pub async fn delete_expired(conn: &mut PgConnection) -> sqlx::Result<u64> {
    let done = sqlx::query!("DELETE FROM console_sessions WHERE expires_at <= now()")
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}
