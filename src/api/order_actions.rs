//! What an agent's status changes share (hold, release, confirm, close, reopen): the order's
//! situation (its status with orderdesk's holds), the 409 of a blocked action, the dry run,
//! and the intake that accepts one as a run of its workflow.

use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::api::accept::{Admission, Admitted, Answer, Intake};
use crate::api::jobs::{JobOut, admin_location};
use crate::api::precondition::OrderEdit;
use crate::db;
use crate::db::audit::Entry;
use crate::db::holds::HoldRow;
use crate::db::runs::RunRow;
use crate::domain::cancel::BlockedReason;
use crate::domain::ids::OrderId;
use crate::domain::order::Order;
use crate::domain::transitions::{OrderAction, allowed_actions, check};
use crate::error::{Error, Result};
use crate::jobs::transitions::{self, Started, Transition};
use crate::state::AppState;

pub use crate::jobs::transitions::situation;

/// What the admin order view shows of the order's holds and the actions it allows now.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderActionsOut {
    /// The agent actions [`check`] allows now (whatever the viewer's own permissions).
    pub allowed_actions: Vec<OrderAction>,
    /// The order's holds, newest first (at most 50).
    pub holds: Vec<HoldRow>,
    /// The legal hold in force, if any.
    pub legal_hold: Option<db::holds::OrderLegalHold>,
}

pub async fn actions_of(state: &AppState, order: &Order) -> Result<OrderActionsOut> {
    let mut conn = state.db.acquire().await?;
    let (situation, holds) = situation(&mut conn, order).await?;
    let history = db::holds::history(&mut conn, &order.tenant_id, &order.id).await?;
    Ok(OrderActionsOut {
        allowed_actions: allowed_actions(&situation),
        holds: history,
        legal_hold: holds.legal,
    })
}

/// 409 with the blocked reason's code, and the reason as `blocked_reasons` (as cancels have).
pub fn blocked(reason: BlockedReason) -> Error {
    Error::conflict(&reason.code, reason.message.clone())
        .with_extra("blocked_reasons", json!([reason]))
}

/// The answer to `dry_run: true`: whether the action applies now and what would run.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActionDryRunOut {
    pub dry_run: bool,
    pub action: OrderAction,
    pub allowed: bool,
    pub blocked_reasons: Vec<BlockedReason>,
    /// The workflow steps that would run, in order.
    pub steps: Vec<String>,
}

/// The dry run of `action` on `order`.
pub async fn dry_run(state: &AppState, order: &Order, action: OrderAction) -> Result<Response> {
    let mut conn = state.db.acquire().await?;
    let (situation, _) = situation(&mut conn, order).await?;
    let blocked_reasons: Vec<_> = check(action, &situation).err().into_iter().collect();
    let steps = action
        .workflow()
        .map(|w| state.workflows.planned_steps(w, &json!({})))
        .unwrap_or_default();
    Ok(axum::Json(ActionDryRunOut {
        dry_run: true,
        action,
        allowed: blocked_reasons.is_empty(),
        blocked_reasons,
        steps,
    })
    .into_response())
}

/// An accepted status change: the hold it placed or releases, and the job carrying it out.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActionAcceptedOut {
    #[schema(value_type = String)]
    pub order_id: OrderId,
    pub action: OrderAction,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hold: Option<HoldRow>,
    pub job: JobOut,
}

impl Answer for ActionAcceptedOut {
    async fn finished(self, run: &RunRow, _: &sqlx::PgPool) -> Result<Self> {
        Ok(ActionAcceptedOut {
            job: JobOut::from_run(run),
            ..self
        })
    }
}

/// Accepts `action` on `order` as a run of its workflow. The order's situation is judged
/// under a lock on its holds after the `Idempotency-Key` was claimed, so a replay is never
/// refused for what its first call did and two agents never both hold or release.
pub struct ActionIntake<'a> {
    pub order: &'a Order,
    pub action: OrderAction,
    /// The hold's reason, the release's resolution, or the agent's note.
    pub reason: String,
    /// A hold's expiry.
    pub expires_at: Option<DateTime<Utc>>,
    /// Set by the precondition's guard ([`OrderEdit`]).
    pub expected_version: Option<i64>,
}

impl OrderEdit for ActionIntake<'_> {
    fn order(&self) -> &Order {
        self.order
    }

    fn expect_version(&mut self, version: Option<i64>) {
        self.expected_version = version;
    }
}

impl Intake for ActionIntake<'_> {
    type Answer = ActionAcceptedOut;

    async fn admit(self, adm: &mut Admission<'_>) -> Result<Admitted<ActionAcceptedOut>> {
        let ActionIntake {
            order,
            action,
            reason,
            expires_at,
            expected_version,
        } = self;
        let agent = adm.caller().principal.clone();
        let t = Transition {
            order,
            action,
            reason: &reason,
            expires_at,
            requested_by: &agent,
            correlation_id: adm.caller().actor.correlation_id.clone(),
            queue: None,
            expected_version,
        };
        let registry = adm.state().workflows.clone();
        let (run, hold, hold_id) = match transitions::start(adm.conn(), &registry, t).await? {
            Started::Run { run, hold, hold_id } => (*run, hold, hold_id),
            Started::Blocked(reason) => return Err(blocked(reason)),
        };
        adm.dispatch_after_commit(&run);
        let action_name = format!("order.{}", action.as_str());
        adm.audit(Entry {
            action: &action_name,
            subject_type: "order",
            subject_id: order.id.as_str(),
            reason: Some(&reason),
            before: Some(json!({ "status": order.status })),
            after: Some(json!({ "run_id": run.id, "hold_id": hold_id, "expires_at": expires_at })),
            personal_data_of: Some(&order.customer_id),
        })
        .await?;
        let answer = ActionAcceptedOut {
            order_id: order.id.clone(),
            action,
            hold,
            job: JobOut::from_run(&run),
        };
        Ok(Admitted::accepted(
            admin_location(run.id),
            answer,
            Some(run.id),
        ))
    }
}
