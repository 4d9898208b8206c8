//! Commerce self-service on one of the caller's orders: reorder, shipping-address change
//! and coupon preview. This file holds what the endpoints share: the eligibility refusal
//! and the intake of a request that starts a workflow.

pub mod address;
pub mod coupon;
pub mod reorder;

use chrono::Utc;
use serde::Serialize;
use serde_json::{Value, json};

use crate::api::accept::{Admission, Admitted, Intake, OpenRequest, RequestAcceptedOut, StartRun};
use crate::db;
use crate::db::audit::Entry;
use crate::domain::eligibility::{self, SelfService};
use crate::domain::order::Order;
use crate::domain::request::RequestStatus;
use crate::error::{Error, Result};
use crate::state::AppState;

/// Refuses with the reason `domain::eligibility::check` gives for `action` now: 409 with
/// exactly the code `allowed_actions` shows for it. For what changes nothing (a dry run, a
/// preview); a request judges it after its Idempotency-Key is claimed
/// ([`RequestKind::on`]), so that a retry of an accepted request is answered what it was.
pub(crate) async fn ensure_allowed(
    state: &AppState,
    action: SelfService,
    order: &Order,
) -> Result<()> {
    let mut conn = state.db.acquire().await?;
    allowed_in(&mut conn, action, order).await
}

async fn allowed_in(
    conn: &mut sqlx::PgConnection,
    action: SelfService,
    order: &Order,
) -> Result<()> {
    let settings = db::tenants::settings(conn, &order.tenant_id).await?;
    eligibility::check(action, order, &settings, Utc::now()).map_err(|r| {
        Error::conflict(&r.code, r.message.clone()).with_extra("blocked_reasons", json!([r]))
    })
}

/// One kind of request on an order that starts a workflow.
pub(crate) struct RequestKind {
    /// `requests.kind`, e.g. `reorder`, `address_change`.
    pub request_kind: &'static str,
    /// The self-service action whose eligibility (window, state, the tenant's switches) a
    /// request of this kind must pass, judged once its Idempotency-Key is claimed: a retry
    /// of a request accepted just before the window closed is answered the saved 202, not
    /// refused.
    pub allowed_as: SelfService,
    /// The workflow of `workflows.toml`.
    pub workflow: &'static str,
    /// The audit action, e.g. `order.reorder_requested`.
    pub audit_action: &'static str,
}

impl RequestKind {
    /// A request of this kind on `order`, to run with `input`; `before` is what it changes
    /// as it is now (audit).
    pub fn on<'a, I>(
        &'static self,
        order: &'a Order,
        input: I,
        before: Option<Value>,
    ) -> OrderRequest<'a, I> {
        OrderRequest {
            kind: self,
            order,
            input,
            before,
        }
    }
}

/// A customer's request on one of their orders that starts a workflow with `input`: one
/// open request of its kind per order (409 `request.already_open` while one runs).
pub(crate) struct OrderRequest<'a, I> {
    pub kind: &'static RequestKind,
    pub order: &'a Order,
    /// The typed run input.
    pub input: I,
    /// What the request changes, as it is before (audit).
    pub before: Option<Value>,
}

impl<I: Serialize + Send + Sync> Intake for OrderRequest<'_, I> {
    type Answer = RequestAcceptedOut;

    async fn admit(self, adm: &mut Admission<'_>) -> Result<Admitted<RequestAcceptedOut>> {
        let OrderRequest { order, input, .. } = self;
        allowed_in(adm.conn(), self.kind.allowed_as, order).await?;
        let kind = self.kind.request_kind;
        let already_open = Error::conflict(
            "request.already_open",
            format!(
                "a {} request for this order is still running",
                kind.replace('_', " ")
            ),
        )
        .with_next_step("poll the open request, then try again");
        let request = adm
            .open_request(OpenRequest {
                kind,
                order_id: order.id.as_str(),
                customer_id: &order.customer_id,
                status: RequestStatus::Queued,
                input: serde_json::to_value(&input).map_err(anyhow::Error::from)?,
                decided_by: None,
                already_open,
            })
            .await?;
        let start = StartRun::for_request(self.kind.workflow, order, &input, request.id);
        let run = adm.start_run(start).await?;
        let after = json!({ "request_id": request.id, "job_id": run.id, "input": request.input });
        adm.audit(Entry {
            action: self.kind.audit_action,
            subject_type: "order",
            subject_id: order.id.as_str(),
            reason: None,
            before: self.before,
            after: Some(after),
            personal_data_of: Some(&order.customer_id),
        })
        .await?;
        Ok(Admitted::request_started(request.id, &run))
    }
}
