//! The access record of an admin read that shows personal data: who read what, in the
//! read's own transaction, so a read that could not be recorded is not answered.

use sqlx::PgConnection;

use crate::api::auth::Agent;
use crate::api::shared::RequestMeta;
use crate::db;
use crate::db::audit::Entry;
use crate::error::Result;

/// What an agent read.
pub struct Read<'a> {
    /// `order.viewed`, `orders.searched`, `order.audit_viewed`, `orders.fraud_listed`, …
    pub action: &'a str,
    pub subject_type: &'a str,
    pub subject_id: &'a str,
    /// Which records were shown (order ids, expansions), never the data itself.
    pub shown: serde_json::Value,
}

/// Records `read` by `agent`.
pub async fn record(
    conn: &mut PgConnection,
    agent: &Agent,
    meta: &RequestMeta,
    read: Read<'_>,
) -> Result<()> {
    let actor = agent.actor(meta);
    let entry = Entry {
        action: read.action,
        subject_type: read.subject_type,
        subject_id: read.subject_id,
        reason: None,
        before: None,
        after: Some(read.shown),
        personal_data_of: None,
    };
    db::audit::record(conn, &agent.tenant_id, &actor, &entry).await?;
    Ok(())
}
