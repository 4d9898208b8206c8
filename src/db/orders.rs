//! The read model: `order_views` and `order_events`.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use sqlx::types::Json;

use crate::domain::ids::{CustomerId, OrderId, TenantId};
use crate::domain::order::{Order, Shipment};
use crate::domain::timeline::{CUSTOMER_VISIBLE_EVENTS, EventRecord};

/// Stores `order` unless a newer version is already there. Returns whether it was written.
pub async fn upsert_view(conn: &mut PgConnection, order: &Order) -> sqlx::Result<bool> {
    let res = sqlx::query!(
        "INSERT INTO order_views (tenant_id, id, number, customer_id, email, status, currency,
                                  total_minor, placed_at, doc, version, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, now())
         ON CONFLICT (tenant_id, id) DO UPDATE SET
             status = EXCLUDED.status, email = EXCLUDED.email, total_minor = EXCLUDED.total_minor,
             doc = EXCLUDED.doc, version = EXCLUDED.version, updated_at = now()
         WHERE order_views.version < EXCLUDED.version",
        order.tenant_id.as_str(),
        order.id.as_str(),
        order.number,
        order.customer_id.as_str(),
        order.email,
        order.status.as_str(),
        order.currency,
        order.totals.total_minor,
        order.placed_at,
        Json(order) as Json<&Order>,
        order.version,
    )
    .execute(conn)
    .await?;
    Ok(res.rows_affected() == 1)
}

/// Replaces the order's shipments in the read model with the Fulfillment service's (its
/// version, the Orders service's, stays as it is); false when they already were those, or the
/// order is not in the read model.
pub async fn set_shipments(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    order_id: &OrderId,
    shipments: &[Shipment],
) -> sqlx::Result<bool> {
    let res = sqlx::query!(
        "UPDATE order_views SET doc = jsonb_set(doc, '{shipments}', $3), updated_at = now()
         WHERE tenant_id = $1 AND id = $2 AND doc -> 'shipments' IS DISTINCT FROM $3",
        tenant_id.as_str(),
        order_id.as_str(),
        Json(shipments) as Json<&[Shipment]>,
    )
    .execute(conn)
    .await?;
    Ok(res.rows_affected() == 1)
}

/// One order of the tenant; `customer_id` narrows it to that customer's own.
pub async fn get(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    order_id: &OrderId,
    customer_id: Option<&CustomerId>,
) -> sqlx::Result<Option<Order>> {
    let doc = sqlx::query_scalar!(
        r#"SELECT doc AS "doc: Json<Order>" FROM order_views
         WHERE tenant_id = $1 AND id = $2 AND ($3::text IS NULL OR customer_id = $3)"#,
        tenant_id.as_str(),
        order_id.as_str(),
        customer_id.map(|id| id.as_str()),
    )
    .fetch_optional(conn)
    .await?;
    Ok(doc.map(|Json(order)| order))
}

/// The stored version of an order, locked until the transaction ends, so that two events
/// of one order are compared with the read model one after the other.
pub async fn lock_view(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    order_id: &OrderId,
) -> sqlx::Result<Option<Order>> {
    let doc = sqlx::query_scalar!(
        r#"SELECT doc AS "doc: Json<Order>" FROM order_views
         WHERE tenant_id = $1 AND id = $2 FOR UPDATE"#,
        tenant_id.as_str(),
        order_id.as_str(),
    )
    .fetch_optional(conn)
    .await?;
    Ok(doc.map(|Json(order)| order))
}

/// Filters of a customer's order list.
#[derive(Debug, Default, Clone)]
pub struct ListFilter {
    pub status: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub channel: Option<String>,
    /// Keyset position: (placed_at, id) of the last order of the previous page.
    pub after: Option<(DateTime<Utc>, String)>,
    pub limit: i64,
    /// Orders skipped first (paging by page number); 0 with a keyset position.
    pub offset: i64,
    /// Only this order (a guest token's scope).
    pub only_order: Option<OrderId>,
}

/// A customer's orders, newest first, served by `order_views_by_customer`.
pub async fn list_for_customer(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    customer_id: &CustomerId,
    f: &ListFilter,
) -> sqlx::Result<Vec<Order>> {
    let (after_at, after_id) = match &f.after {
        Some((at, id)) => (Some(*at), Some(id.as_str())),
        None => (None, None),
    };
    let docs = sqlx::query_scalar!(
        r#"SELECT doc AS "doc: Json<Order>" FROM order_views
         WHERE tenant_id = $1 AND customer_id = $2
           AND ($3::text IS NULL OR status = $3)
           AND ($4::timestamptz IS NULL OR placed_at >= $4)
           AND ($5::timestamptz IS NULL OR placed_at < $5)
           AND ($6::timestamptz IS NULL OR (placed_at, id) < ($6, $7))
           AND ($9::text IS NULL OR id = $9)
           AND ($10::text IS NULL OR channel = $10)
         ORDER BY placed_at DESC, id DESC
         LIMIT $8 OFFSET $11"#,
        tenant_id.as_str(),
        customer_id.as_str(),
        f.status.as_deref(),
        f.from,
        f.to,
        after_at,
        after_id,
        f.limit,
        f.only_order.as_ref().map(|o| o.as_str()),
        f.channel.as_deref(),
        f.offset,
    )
    .fetch_all(conn)
    .await?;
    Ok(docs.into_iter().map(|Json(order)| order).collect())
}

pub async fn count_for_tenant(conn: &mut PgConnection, tenant_id: &TenantId) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM order_views WHERE tenant_id = $1"#,
        tenant_id.as_str(),
    )
    .fetch_one(conn)
    .await
}

/// Records an event once per `event_id`; returns false for a duplicate.
pub async fn insert_event(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    order_id: &OrderId,
    event_id: &str,
    event_type: &str,
    payload: &serde_json::Value,
    occurred_at: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let res = sqlx::query!(
        "INSERT INTO order_events (tenant_id, order_id, event_id, type, payload, occurred_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, event_id) DO NOTHING",
        tenant_id.as_str(),
        order_id.as_str(),
        event_id,
        event_type,
        payload,
        occurred_at,
    )
    .execute(conn)
    .await?;
    Ok(res.rows_affected() == 1)
}

/// One order as the customer's reads need it, fetched in one query: the document, the
/// tenant's settings (for `allowed_actions` and help entries) and, when asked for, its
/// newest customer-visible events.
#[derive(Debug, Clone)]
pub struct OrderRead {
    pub order: Order,
    /// Oldest first; empty unless `events_limit` > 0.
    pub events: Vec<EventRecord>,
}

/// The order and, if `events_limit` > 0, its newest `events_limit` events of the types in
/// `timeline::CUSTOMER_VISIBLE_EVENTS` (never their payloads, only the status the order had
/// after each). `customer_id` narrows it to that customer's own. The tenant's settings are
/// not read here: requests take them from the process's cache (`tenant_settings`).
pub async fn get_for_read(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    order_id: &OrderId,
    customer_id: Option<&CustomerId>,
    events_limit: i64,
) -> sqlx::Result<Option<OrderRead>> {
    // without events the query is one lookup: no subquery to plan, no array to bind
    if events_limit <= 0 {
        let row = sqlx::query!(
            r#"SELECT v.doc AS "doc: Json<Order>" FROM order_views v
             WHERE v.tenant_id = $1 AND v.id = $2 AND ($3::text IS NULL OR v.customer_id = $3)"#,
            tenant_id.as_str(),
            order_id.as_str(),
            customer_id.map(|id| id.as_str()),
        )
        .fetch_optional(conn)
        .await?;
        return Ok(row.map(|r| OrderRead {
            order: r.doc.0,
            events: Vec::new(),
        }));
    }
    let row = sqlx::query!(
        r#"SELECT v.doc AS "doc: Json<Order>", (
             SELECT coalesce(jsonb_agg(jsonb_build_object(
                        'type', e.type, 'occurred_at', e.occurred_at, 'status', e.status)
                        ORDER BY e.occurred_at, e.seq), '[]'::jsonb)
             FROM (SELECT seq, type, occurred_at, payload->>'status' AS status
                   FROM order_events
                   WHERE tenant_id = v.tenant_id AND order_id = v.id AND type = ANY($5)
                   ORDER BY occurred_at DESC, seq DESC
                   LIMIT $4) e) AS "events!: Json<Vec<EventRecord>>"
         FROM order_views v
         WHERE v.tenant_id = $1 AND v.id = $2 AND ($3::text IS NULL OR v.customer_id = $3)"#,
        tenant_id.as_str(),
        order_id.as_str(),
        customer_id.map(|id| id.as_str()),
        events_limit,
        &CUSTOMER_VISIBLE_EVENTS[..] as &[&str],
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| OrderRead {
        order: r.doc.0,
        events: r.events.0,
    }))
}

/// The customer's order that has a shipment with `tracking_number` (`only_order` narrows
/// it to one order, for guest tokens).
///
/// No index on the shipments: `order_views_by_customer` already narrows the rows to one
/// customer's orders, and an expression index on `doc` would make every read-model update a
/// non-HOT update (all indexes rewritten) on the ingest path, for a lookup that scans tens
/// of rows.
pub async fn find_by_tracking_number(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    customer_id: &CustomerId,
    tracking_number: &str,
    only_order: Option<&OrderId>,
) -> sqlx::Result<Option<Order>> {
    let doc = sqlx::query_scalar!(
        r#"SELECT doc AS "doc: Json<Order>" FROM order_views
         WHERE tenant_id = $1 AND customer_id = $2 AND ($4::text IS NULL OR id = $4)
           AND doc -> 'shipments' @> jsonb_build_array(jsonb_build_object('tracking_number', $3::text))
         ORDER BY placed_at DESC, id DESC
         LIMIT 1"#,
        tenant_id.as_str(),
        customer_id.as_str(),
        tracking_number,
        only_order.map(|id| id.as_str()),
    )
    .fetch_optional(conn)
    .await?;
    Ok(doc.map(|Json(order)| order))
}

/// A customer's spending in one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpendRow {
    pub currency: String,
    /// Orders that count as spending: every order except cancelled ones.
    pub orders_count: i64,
    pub cancelled_count: i64,
    /// Totals of the counted orders minus what was refunded on them.
    pub total_spend_minor: i64,
    /// `total_spend_minor / orders_count`, rounded half away from zero; 0 without orders.
    pub average_order_value_minor: i64,
}

/// The customer's spending per currency (`only_order` narrows it to one order, for guest
/// tokens), in one aggregate over `order_views_by_customer`. Cancelled orders count in
/// neither the spend nor `orders_count`; refunds of the others are subtracted.
pub async fn spend_by_currency(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    customer_id: &CustomerId,
    only_order: Option<&OrderId>,
) -> sqlx::Result<Vec<SpendRow>> {
    sqlx::query_as!(
        SpendRow,
        r#"SELECT currency AS "currency!", orders_count AS "orders_count!",
                cancelled_count AS "cancelled_count!", total_spend_minor AS "total_spend_minor!",
                CASE WHEN orders_count > 0
                     THEN round(total_spend_minor::numeric / orders_count)::bigint
                     ELSE 0 END AS "average_order_value_minor!"
         FROM (SELECT v.currency,
                      count(*) FILTER (WHERE v.status <> 'cancelled') AS orders_count,
                      count(*) FILTER (WHERE v.status = 'cancelled') AS cancelled_count,
                      coalesce(sum(v.total_minor - r.refunded)
                               FILTER (WHERE v.status <> 'cancelled'), 0)::bigint
                          AS total_spend_minor
               FROM order_views v
               CROSS JOIN LATERAL (
                   SELECT coalesce(sum((p->>'refunded_minor')::bigint), 0) AS refunded
                   FROM jsonb_array_elements(v.doc -> 'payments') p) r
               WHERE v.tenant_id = $1 AND v.customer_id = $2
                 AND ($3::text IS NULL OR v.id = $3)
               GROUP BY v.currency) per_currency
         ORDER BY currency"#,
        tenant_id.as_str(),
        customer_id.as_str(),
        only_order.map(|id| id.as_str()),
    )
    .fetch_all(conn)
    .await
}

/// The columns of an order a guest lookup needs, without its document.
#[derive(Debug, Clone)]
pub struct OrderHead {
    pub id: OrderId,
    pub number: String,
    pub customer_id: CustomerId,
    pub email: String,
    pub status: String,
    pub currency: String,
    pub total_minor: i64,
    pub placed_at: DateTime<Utc>,
}

/// One order of the tenant by its number (`order_views_by_number`), header columns only.
pub async fn head_by_number(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    number: &str,
) -> sqlx::Result<Option<OrderHead>> {
    sqlx::query_as!(
        OrderHead,
        "SELECT id, number, customer_id, email, status, currency, total_minor, placed_at
         FROM order_views WHERE tenant_id = $1 AND number = $2",
        tenant_id.as_str(),
        number,
    )
    .fetch_optional(conn)
    .await
}

/// When the tenant's newest event from the Orders service arrived, if one ever did.
pub async fn last_event_received(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
) -> sqlx::Result<Option<chrono::DateTime<chrono::Utc>>> {
    sqlx::query_scalar!(
        "SELECT received_at FROM order_events WHERE tenant_id = $1
         ORDER BY received_at DESC LIMIT 1",
        tenant_id.as_str(),
    )
    .fetch_optional(conn)
    .await
}
