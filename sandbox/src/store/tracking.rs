//! What the Tracking service reads: the shipment with a tracking number, inside
//! `sandbox.orders` (the carrier's own data is derived from it, so no table of its own).

use sqlx::PgConnection;
use sqlx::types::Json;

use crate::wire::Order;

/// The tenant's order holding a shipment with `tracking_number`. A scan of the tenant's
/// orders: the sandbox holds demo-sized data.
pub async fn order_with_tracking_number(
    conn: &mut PgConnection,
    tenant: &str,
    tracking_number: &str,
) -> sqlx::Result<Option<Order>> {
    let row: Option<(Json<Order>,)> = sqlx::query_as(
        "SELECT doc FROM sandbox.orders
         WHERE tenant_id = $1
           AND doc -> 'shipments' @> jsonb_build_array(jsonb_build_object('tracking_number', $2::text))
         ORDER BY placed_at DESC, id
         LIMIT 1",
    )
    .bind(tenant)
    .bind(tracking_number)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(Json(o),)| o))
}
