//! Starting an agent's status change of one order (hold, release, confirm, close, reopen) as
//! a run of its workflow, in the caller's transaction: the order's situation judged under a
//! lock on its holds, the hold object placed or claimed, the run enqueued. The admin
//! endpoints (through `api::accept`) and the bulk job's items (one transaction each) both
//! start status changes here, so both judge and record them the same way.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{NewRun, enqueue_for_dispatch};
use crate::db;
use crate::db::holds::{HoldRow, NewHold, OrderHolds};
use crate::db::runs::RunRow;
use crate::domain::cancel::BlockedReason;
use crate::domain::order::Order;
use crate::domain::transitions::{OrderAction, Situation, TransitionRunInput, check};
use crate::error::{Error, Result};
use crate::workflows::Registry;

/// The order's situation now, with the holds it was read from.
pub async fn situation(conn: &mut PgConnection, order: &Order) -> Result<(Situation, OrderHolds)> {
    let holds = db::holds::of_order(conn, &order.tenant_id, &order.id).await?;
    let situation = Situation {
        status: order.status,
        held: holds.open.is_some(),
        release_running: holds
            .open
            .as_ref()
            .is_some_and(|h| h.release_run_id.is_some()),
        legal_hold: holds.legal.is_some(),
    };
    Ok((situation, holds))
}

/// A status change to start.
pub struct Transition<'a> {
    pub order: &'a Order,
    pub action: OrderAction,
    /// The hold's reason, the release's resolution, or the agent's note.
    pub reason: &'a str,
    /// A hold's expiry.
    pub expires_at: Option<DateTime<Utc>>,
    /// The agent (or key, or job) asking: the run's `requested_by` and the hold's author.
    pub requested_by: &'a str,
    pub correlation_id: Option<String>,
    /// Another queue than the workflow's own (a bulk job's items wait in the bulk queue).
    pub queue: Option<String>,
    /// The version the Orders service must still be at (an agent's precondition named it).
    pub expected_version: Option<i64>,
}

/// What starting a status change did.
#[derive(Debug)]
pub enum Started {
    Run {
        run: Box<RunRow>,
        /// The hold placed, or the one the release is for.
        hold: Option<HoldRow>,
        hold_id: Option<Uuid>,
    },
    Blocked(BlockedReason),
}

/// Judges `t.action` on the order under a lock on its holds (held until the caller's
/// transaction ends, so two agents never both hold or release) and, when allowed, enqueues
/// the run and places or claims the hold. The caller dispatches the run after its commit
/// (`jobs::dispatch`; the relay is not woken).
pub async fn start(
    conn: &mut PgConnection,
    registry: &Registry,
    t: Transition<'_>,
) -> Result<Started> {
    let Some(workflow) = t.action.workflow() else {
        return Err(Error::unprocessable(
            "order.action_unknown",
            format!("{} is not a status change", t.action.as_str()),
        ));
    };
    let order = t.order;
    db::holds::lock_order(conn, &order.tenant_id, &order.id).await?;
    let (situation, holds) = situation(conn, order).await?;
    if let Err(reason) = check(t.action, &situation) {
        return Ok(Started::Blocked(reason));
    }
    let hold_id = match t.action {
        OrderAction::Hold => Some(Uuid::now_v7()),
        _ => holds.open.as_ref().map(|h| h.id),
    };
    let input = TransitionRunInput {
        order_id: order.id.clone(),
        reason: t.reason.to_string(),
        hold_id,
        requested_by: t.requested_by.to_string(),
        expected_version: t.expected_version,
    };
    let new = NewRun {
        tenant_id: order.tenant_id.clone(),
        kind: workflow.into(),
        subject_id: Some(order.id.as_str().into()),
        customer_id: None,
        requested_by: t.requested_by.into(),
        input: to_value(&input)?,
        correlation_id: t.correlation_id,
        queue: t.queue,
    };
    let run = enqueue_for_dispatch(conn, registry, new).await?;
    let hold = match (t.action, hold_id) {
        (OrderAction::Hold, Some(id)) => {
            let new = NewHold {
                tenant_id: &order.tenant_id,
                id,
                order_id: &order.id,
                reason: t.reason,
                placed_by: t.requested_by,
                expires_at: t.expires_at,
                place_run_id: run.id,
            };
            db::holds::insert(conn, &new).await?
        }
        (OrderAction::Release, Some(id)) => {
            db::holds::claim_release(conn, &order.tenant_id, id, run.id).await?;
            holds.open
        }
        _ => None,
    };
    Ok(Started::Run {
        run: Box::new(run),
        hold,
        hold_id,
    })
}

fn to_value(v: &impl Serialize) -> Result<serde_json::Value> {
    Ok(serde_json::to_value(v).map_err(anyhow::Error::from)?)
}
