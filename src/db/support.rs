//! Support cases, their messages and attachments (`support_cases`, `support_messages`,
//! `support_attachments`). One case per order; a customer's message reopens it.

use crate::domain::ids::{CustomerId, OrderId, TenantId};
use chrono::{DateTime, Utc};
use sqlx::PgConnection;

/// One row of `support_cases`.
#[derive(Debug, Clone)]
pub struct CaseRow {
    pub tenant_id: TenantId,
    pub id: String,
    pub order_id: OrderId,
    pub customer_id: CustomerId,
    /// `open` (waits for support), `pending` (waits for the customer) or `closed`.
    pub status: String,
    pub subject: String,
    pub message_count: i32,
    pub last_message_at: DateTime<Utc>,
    pub assigned_agent: Option<String>,
    /// The team it was given to (internal, as `assigned_agent`).
    pub assigned_team: Option<String>,
    /// How an agent closed it; cleared when it reopens.
    pub resolution: Option<String>,
    pub closed_by: Option<String>,
    pub closed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Opens the order's case, or reopens it (`open`, a closed case's closure cleared) and
/// counts one more message; returns the case and whether it was created now. `new_id` and `subject` are used only on creation.
pub async fn touch_case(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    order_id: &OrderId,
    customer_id: &CustomerId,
    new_id: &str,
    subject: &str,
) -> sqlx::Result<(CaseRow, bool)> {
    let t = sqlx::query!(
        r#"INSERT INTO support_cases (tenant_id, id, order_id, customer_id, subject, message_count,
                                    last_message_at)
         VALUES ($1, $2, $3, $4, $5, 1, clock_timestamp())
         ON CONFLICT (tenant_id, order_id) DO UPDATE SET
             status = 'open', message_count = support_cases.message_count + 1,
             last_message_at = clock_timestamp(), updated_at = now(),
             resolution = NULL, closed_by = NULL, closed_at = NULL
         RETURNING tenant_id, id, order_id, customer_id, status, subject, message_count,
                   last_message_at, assigned_agent, assigned_team, resolution, closed_by,
                   closed_at, created_at, updated_at, (xmax = 0) AS "created!""#,
        tenant_id.as_str(),
        new_id,
        order_id.as_str(),
        customer_id.as_str(),
        subject,
    )
    .fetch_one(conn)
    .await?;
    let case = CaseRow {
        tenant_id: t.tenant_id.into(),
        id: t.id,
        order_id: t.order_id.into(),
        customer_id: t.customer_id.into(),
        status: t.status,
        subject: t.subject,
        message_count: t.message_count,
        last_message_at: t.last_message_at,
        assigned_agent: t.assigned_agent,
        assigned_team: t.assigned_team,
        resolution: t.resolution,
        closed_by: t.closed_by,
        closed_at: t.closed_at,
        created_at: t.created_at,
        updated_at: t.updated_at,
    };
    Ok((case, t.created))
}

/// The order's case, if any.
pub async fn case_for_order(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    order_id: &OrderId,
) -> sqlx::Result<Option<CaseRow>> {
    sqlx::query_as!(
        CaseRow,
        "SELECT tenant_id, id, order_id, customer_id, status, subject, message_count,
                last_message_at, assigned_agent, assigned_team, resolution, closed_by, closed_at,
                created_at, updated_at
         FROM support_cases WHERE tenant_id = $1 AND order_id = $2",
        tenant_id.as_str(),
        order_id.as_str(),
    )
    .fetch_optional(conn)
    .await
}

/// A message to store.
pub struct NewMessage<'a> {
    pub tenant_id: &'a TenantId,
    pub id: &'a str,
    pub case_id: &'a str,
    pub order_id: &'a OrderId,
    /// `customer` or `agent`.
    pub author_kind: &'a str,
    pub author_id: &'a str,
    pub body: &'a str,
    pub internal: bool,
}

/// An attachment to store with its message.
pub struct NewAttachment<'a> {
    pub filename: &'a str,
    pub content_type: &'a str,
    pub sha256: &'a str,
    pub content: &'a [u8],
}

/// A message with its attachment's metadata (never its content).
#[derive(Debug, Clone)]
pub struct MessageRow {
    pub id: String,
    pub case_id: String,
    pub order_id: OrderId,
    pub author_kind: String,
    pub author_id: String,
    pub body: String,
    pub internal: bool,
    pub created_at: DateTime<Utc>,
    pub redacted_at: Option<DateTime<Utc>>,
    pub attachment_filename: Option<String>,
    pub attachment_content_type: Option<String>,
    pub attachment_size: Option<i32>,
}

/// Stores a message and its attachment; returns the message as [`get_message`] would.
pub async fn insert_message(
    conn: &mut PgConnection,
    m: &NewMessage<'_>,
    attachment: Option<&NewAttachment<'_>>,
) -> sqlx::Result<MessageRow> {
    sqlx::query!(
        "INSERT INTO support_messages (tenant_id, id, case_id, order_id, author_kind, author_id,
                                       body, internal)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        m.tenant_id.as_str(),
        m.id,
        m.case_id,
        m.order_id.as_str(),
        m.author_kind,
        m.author_id,
        m.body,
        m.internal,
    )
    .execute(&mut *conn)
    .await?;
    if let Some(a) = attachment {
        sqlx::query!(
            "INSERT INTO support_attachments (tenant_id, message_id, filename, content_type,
                                              size_bytes, sha256, content)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            m.tenant_id.as_str(),
            m.id,
            a.filename,
            a.content_type,
            i32::try_from(a.content.len()).unwrap_or(i32::MAX),
            a.sha256,
            a.content,
        )
        .execute(&mut *conn)
        .await?;
    }
    get_message(conn, m.tenant_id, m.order_id, m.id, true)
        .await?
        .ok_or(sqlx::Error::RowNotFound)
}

/// An order's messages oldest first, after the keyset position `after` (created_at, id);
/// internal notes only when `include_internal`.
pub async fn list_for_order(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    order_id: &OrderId,
    include_internal: bool,
    after: Option<&(DateTime<Utc>, String)>,
    limit: i64,
) -> sqlx::Result<Vec<MessageRow>> {
    sqlx::query_as!(
        MessageRow,
        r#"SELECT m.id, m.case_id, m.order_id, m.author_kind, m.author_id, m.body, m.internal,
                  m.created_at, m.redacted_at, a.filename AS "attachment_filename?",
                  a.content_type AS "attachment_content_type?",
                  a.size_bytes AS "attachment_size?"
         FROM support_messages m
         LEFT JOIN support_attachments a ON a.tenant_id = m.tenant_id AND a.message_id = m.id
         WHERE m.tenant_id = $1 AND m.order_id = $2 AND ($3 OR NOT m.internal)
           AND ($4::timestamptz IS NULL OR (m.created_at, m.id) > ($4, $5))
         ORDER BY m.created_at, m.id
         LIMIT $6"#,
        tenant_id.as_str(),
        order_id.as_str(),
        include_internal,
        after.map(|a| a.0),
        after.map(|a| a.1.as_str()),
        limit,
    )
    .fetch_all(conn)
    .await
}

/// One message of an order; internal notes only when `include_internal`.
pub async fn get_message(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    order_id: &OrderId,
    message_id: &str,
    include_internal: bool,
) -> sqlx::Result<Option<MessageRow>> {
    sqlx::query_as!(
        MessageRow,
        r#"SELECT m.id, m.case_id, m.order_id, m.author_kind, m.author_id, m.body, m.internal,
                  m.created_at, m.redacted_at, a.filename AS "attachment_filename?",
                  a.content_type AS "attachment_content_type?",
                  a.size_bytes AS "attachment_size?"
         FROM support_messages m
         LEFT JOIN support_attachments a ON a.tenant_id = m.tenant_id AND a.message_id = m.id
         WHERE m.tenant_id = $1 AND m.order_id = $2 AND m.id = $3 AND ($4 OR NOT m.internal)"#,
        tenant_id.as_str(),
        order_id.as_str(),
        message_id,
        include_internal,
    )
    .fetch_optional(conn)
    .await
}

/// An attachment's stored bytes: (filename, content type, content).
pub async fn attachment_content(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    message_id: &str,
) -> sqlx::Result<Option<(String, String, Vec<u8>)>> {
    let row = sqlx::query!(
        r#"SELECT filename, content_type, content AS "content!" FROM support_attachments
         WHERE tenant_id = $1 AND message_id = $2 AND content IS NOT NULL"#,
        tenant_id.as_str(),
        message_id,
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| (r.filename, r.content_type, r.content)))
}

/// An agent writes on the order's case: opens it if there is none (`new_id`, `subject`)
/// and counts one more message; a reply the customer sees (`visible`) makes the case wait
/// for the customer (`pending`, a closed case reopened so), an internal note leaves its
/// status alone.
pub async fn touch_case_by_agent(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    (order_id, customer_id): (&OrderId, &CustomerId),
    new_id: &str,
    subject: &str,
    visible: bool,
) -> sqlx::Result<CaseRow> {
    sqlx::query_as!(
        CaseRow,
        "INSERT INTO support_cases (tenant_id, id, order_id, customer_id, subject, message_count,
                                    last_message_at, status)
         VALUES ($1, $2, $3, $4, $5, 1, clock_timestamp(),
                 CASE WHEN $6 THEN 'pending' ELSE 'open' END)
         ON CONFLICT (tenant_id, order_id) DO UPDATE SET
             status = CASE WHEN $6 THEN 'pending' ELSE support_cases.status END,
             message_count = support_cases.message_count + 1,
             last_message_at = CASE WHEN $6 THEN clock_timestamp()
                                    ELSE support_cases.last_message_at END,
             resolution = CASE WHEN $6 THEN NULL ELSE support_cases.resolution END,
             closed_by = CASE WHEN $6 THEN NULL ELSE support_cases.closed_by END,
             closed_at = CASE WHEN $6 THEN NULL ELSE support_cases.closed_at END,
             updated_at = now()
         RETURNING tenant_id, id, order_id, customer_id, status, subject, message_count,
                   last_message_at, assigned_agent, assigned_team, resolution, closed_by,
                   closed_at, created_at, updated_at",
        tenant_id.as_str(),
        new_id,
        order_id.as_str(),
        customer_id.as_str(),
        subject,
        visible,
    )
    .fetch_one(conn)
    .await
}
