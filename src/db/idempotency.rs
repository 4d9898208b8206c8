//! Idempotency records: one per (tenant, principal, key), written in the same transaction
//! as the effect they guard, so a replay can never disagree with what happened.

use std::time::Duration;

use sqlx::PgConnection;
use sqlx::types::Json;

use crate::domain::ids::TenantId;

/// A response saved for replay.
#[derive(Debug, Clone)]
pub struct Saved {
    pub request_hash: String,
    pub response_status: i32,
    pub response_headers: Json<Vec<(String, String)>>,
    pub response_body: Vec<u8>,
}

/// The outcome of claiming a key inside the caller's transaction.
#[derive(Debug)]
pub enum Claim {
    /// The key is new (or expired): go on, then call [`complete`] before committing.
    Fresh,
    /// The key was used before: the saved answer.
    Used(Saved),
}

/// Claims `key`. A concurrent transaction holding the same key makes this wait until it
/// commits (then the saved answer is returned) or rolls back (then the key is ours), for at
/// most `wait`: then it fails with `55P03`.
pub async fn claim(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    principal: &str,
    key: &str,
    request_hash: &str,
    wait: Duration,
) -> sqlx::Result<Claim> {
    // One statement, one round trip: `lock_timeout` bounds the wait on the unique index
    // (set as the insert's source row is made, before the insert can wait) and goes back
    // to no bound once the insert is done (the aggregate reads all of `claimed` first), so
    // the rest of the caller's transaction waits for its locks as long as it must.
    let claimed = sqlx::query!(
        r#"WITH claimed AS (
             INSERT INTO idempotency_keys (tenant_id, principal, key, request_hash, state)
             SELECT $1, $2, $3, $4, 'in_flight'
             FROM (SELECT set_config('lock_timeout', $5, true)) AS bounded
             ON CONFLICT (tenant_id, principal, key) DO UPDATE
                 SET request_hash = EXCLUDED.request_hash, state = 'in_flight',
                     response_status = NULL, response_headers = NULL, response_body = NULL,
                     created_at = now(), expires_at = now() + interval '24 hours'
                 WHERE idempotency_keys.expires_at < now()
             RETURNING 1)
           SELECT count(*) AS "inserted!", set_config('lock_timeout', '0', true) AS unbounded
           FROM claimed"#,
        tenant_id.as_str(),
        principal,
        key,
        request_hash,
        format!("{}ms", wait.as_millis()),
    )
    .fetch_one(&mut *conn)
    .await?;
    if claimed.inserted == 1 {
        return Ok(Claim::Fresh);
    }
    // `!`: a committed key has its answer (`complete` runs in the transaction that claimed it)
    let saved = sqlx::query_as!(
        Saved,
        r#"SELECT request_hash, response_status AS "response_status!",
                  response_headers AS "response_headers!: Json<Vec<(String, String)>>",
                  response_body AS "response_body!"
         FROM idempotency_keys WHERE tenant_id = $1 AND principal = $2 AND key = $3"#,
        tenant_id.as_str(),
        principal,
        key,
    )
    .fetch_one(conn)
    .await?;
    Ok(Claim::Used(saved))
}

/// Saves the answer of a fresh key; called in the same transaction as [`claim`].
pub async fn complete(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    principal: &str,
    key: &str,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE idempotency_keys SET state = 'done', response_status = $4, response_headers = $5,
                response_body = $6
         WHERE tenant_id = $1 AND principal = $2 AND key = $3",
        tenant_id.as_str(),
        principal,
        key,
        i32::from(status),
        Json(headers) as Json<&[(String, String)]>,
        body,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes records past their expiry; returns how many.
pub async fn purge_expired(conn: &mut PgConnection) -> sqlx::Result<u64> {
    Ok(
        sqlx::query!("DELETE FROM idempotency_keys WHERE expires_at < now()")
            .execute(conn)
            .await?
            .rows_affected(),
    )
}
