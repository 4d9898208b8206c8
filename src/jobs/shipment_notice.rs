//! Starting `notify_shipment_update` when a new version of an order brings shipment news:
//! called by whoever stores that version in the read model (event ingest, or a workflow that
//! shipped the order), in the transaction that stores it. Only the writer that actually
//! stored the version (`upsert_view` true) calls it, so the news is told once per channel
//! however many paths bring the same version.

use sqlx::PgConnection;

use super::{NewRun, Started, enqueue};
use crate::db;
use crate::db::subscriptions::Which;
use crate::domain::order::Order;
use crate::domain::shipment_updates::{self, ShipmentNoticeInput};
use crate::error::Result;
use crate::workflows::Registry;

/// The workflow that tells subscribers about shipment news.
pub const WORKFLOW: &str = "notify_shipment_update";

/// When `after` brings shipment news and the customer subscribed to updates of the order,
/// enqueues `notify_shipment_update` in `tx` (requested by `requested_by`) and returns the
/// run to dispatch after commit (a worker may leave that to the outbox relay).
pub async fn start(
    tx: &mut PgConnection,
    registry: &Registry,
    before: Option<&Order>,
    after: &Order,
    requested_by: &str,
) -> Result<Option<Started>> {
    let updates = shipment_updates::changes(before, after);
    if updates.is_empty() {
        return Ok(None);
    }
    let (tenant, customer) = (&after.tenant_id, &after.customer_id);
    let subscribed =
        db::subscriptions::list(tx, tenant, &after.id, customer, Which::Active).await?;
    if subscribed.is_empty() {
        return Ok(None);
    }
    let channels = subscribed.iter().map(|s| s.channel.as_str());
    let input = ShipmentNoticeInput::new(after, updates, channels);
    let run = NewRun {
        tenant_id: after.tenant_id.clone(),
        kind: WORKFLOW.into(),
        subject_id: Some(after.id.to_string()),
        customer_id: Some(after.customer_id.clone()),
        requested_by: requested_by.into(),
        input: serde_json::to_value(&input).map_err(anyhow::Error::from)?,
        correlation_id: None,
        queue: None,
    };
    let run = enqueue(tx, registry, run).await?;
    Ok(Some(Started::from(&run)))
}
