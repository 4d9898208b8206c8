//! What the three cancel endpoints share: the plan (also the dry run), the 409 for a
//! blocked order, and the intakes that accept a cancellation — a customer's request or an
//! agent's approval of one ([`CancelIntake`]), or an agent's forced cancellation
//! ([`ForceCancelIntake`], started where a long job's cancel items start theirs).

use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::PgConnection;
use utoipa::ToSchema;

use crate::api::accept::{
    Admission, Admitted, Intake, OpenRequest, RequestAcceptedOut, StartRun, request_location,
};
use crate::api::jobs::admin_location;
use crate::api::precondition::OrderEdit;
use crate::db;
use crate::db::audit::Entry;
use crate::db::requests::RequestRow;
use crate::db::runs::RunRow;
use crate::domain::cancel::{
    BlockedReason, CancelPlan, CancelRunInput, Canceller, REQUEST_KIND, WORKFLOW, needs_review,
};
use crate::domain::order::Order;
use crate::domain::request::RequestStatus;
use crate::error::{Error, FieldError, Result};
use crate::jobs;
use crate::jobs::cancellation::{CancelStarted, ForcedCancel};
use crate::state::AppState;

const MAX_REASON: usize = 500;

/// What a cancellation would do, answered to `dry_run: true` with no side effect.
#[derive(Debug, Serialize, ToSchema)]
pub struct CancelDryRunOut {
    pub dry_run: bool,
    pub plan: CancelPlan,
    /// The workflow steps that would run, in order.
    pub steps: Vec<String>,
    /// Whether an agent must approve it first (customer requests only).
    pub needs_review: bool,
}

pub fn validate_reason(reason: Option<&str>, required: bool) -> Result<()> {
    validate_note("reason", reason, required)
}

/// An agent's free text (a reason, a resolution): at most 500 characters, and not blank
/// when `required`.
pub fn validate_note(field: &str, text: Option<&str>, required: bool) -> Result<()> {
    let r = text.map(str::trim).unwrap_or("");
    let message = if required && r.is_empty() {
        format!("a {field} is required")
    } else if text.is_some_and(|r| r.chars().count() > MAX_REASON) {
        format!("at most {MAX_REASON} characters")
    } else {
        return Ok(());
    };
    Err(Error::validation(vec![FieldError {
        field: field.into(),
        message,
    }]))
}

/// A cancellation of one order as planned now: what it would do and the run input.
pub struct Planned {
    pub plan: CancelPlan,
    pub steps: Vec<String>,
    pub input: CancelRunInput,
    /// A customer's request waits for an agent (the tenant's setting).
    pub needs_review: bool,
}

impl Planned {
    /// The dry run's answer.
    pub fn dry_run(self) -> Response {
        axum::Json(CancelDryRunOut {
            dry_run: true,
            plan: self.plan,
            steps: self.steps,
            needs_review: self.needs_review,
        })
        .into_response()
    }
}

/// The plan for `order` now, by `who`.
pub async fn plan(
    state: &AppState,
    order: &Order,
    who: Canceller,
    refund: bool,
    restock: bool,
) -> Result<Planned> {
    let mut conn = state.db.acquire().await?;
    plan_on(state, &mut conn, order, who, refund, restock).await
}

/// [`plan`], read on `conn`.
pub async fn plan_on(
    state: &AppState,
    conn: &mut PgConnection,
    order: &Order,
    who: Canceller,
    refund: bool,
    restock: bool,
) -> Result<Planned> {
    // as fresh as the order read beside it: the cache drops a tenant's entry at each change
    let settings = state.tenant_settings.get_on(conn, &order.tenant_id).await?;
    let plan = jobs::cancellation::plan(conn, order, &settings, who, refund, restock).await?;
    let input = CancelRunInput {
        order_id: order.id.clone(),
        reason: None,
        refund,
        restock,
        canceller: who,
        request_id: None,
        expected_version: None,
    };
    let steps = state.workflows.planned_steps(WORKFLOW, &input);
    let needs_review = who == Canceller::Customer && needs_review(order, &settings);
    Ok(Planned {
        plan,
        steps,
        input,
        needs_review,
    })
}

/// 409 naming the first blocked reason's code and listing all of them.
fn blocked(reasons: &[BlockedReason]) -> Error {
    let first = &reasons[0];
    Error::conflict(&first.code, first.message.clone()).with_extra(
        "blocked_reasons",
        serde_json::to_value(reasons).unwrap_or_default(),
    )
}

/// Which cancellation is being accepted.
pub enum Decision {
    /// A customer asks (`pending_review` when the tenant wants an agent to decide).
    CustomerAsks,
    /// An agent approves the request that waits for review.
    AgentApproves,
}

/// Accepts a cancellation of `order` (see [`Decision`]). The plan is judged after the
/// `Idempotency-Key` was claimed, so a replay is never refused for what its first call did.
pub struct CancelIntake<'a> {
    pub order: &'a Order,
    pub planned: Planned,
    pub decision: Decision,
    /// The caller's reason; an approval without one keeps the customer's.
    pub reason: Option<String>,
}

impl OrderEdit for CancelIntake<'_> {
    fn order(&self) -> &Order {
        self.order
    }

    fn expect_version(&mut self, version: Option<i64>) {
        self.planned.input.expected_version = version;
    }
}

impl Intake for CancelIntake<'_> {
    type Answer = RequestAcceptedOut;

    async fn admit(self, adm: &mut Admission<'_>) -> Result<Admitted<RequestAcceptedOut>> {
        let CancelIntake {
            order,
            planned,
            decision,
            reason,
        } = self;
        let reviewed = decision.request_under_review(adm, order).await?;
        if planned.plan.is_blocked() {
            return Err(blocked(&planned.plan.blocked_reasons));
        }
        let mut input = planned.input;
        input.reason = reason.clone().or_else(|| reason_of(reviewed.as_ref()));
        let agent = adm.caller().principal.clone();
        let decided_by = decision.decided_by(&agent);
        let review = matches!(decision, Decision::CustomerAsks) && planned.needs_review;
        let request = match reviewed {
            Some(r) => r,
            None => {
                adm.open_request(new_request(order, &input, review)?)
                    .await?
            }
        };
        let run = if review {
            None
        } else {
            input.request_id = Some(request.id);
            let start = StartRun {
                decided_by,
                ..StartRun::for_request(WORKFLOW, order, &input, request.id)
            };
            Some(adm.start_run(start).await?)
        };
        adm.audit(Entry {
            action: decision.audit_action(),
            subject_type: "order",
            subject_id: order.id.as_str(),
            reason: reason.as_deref(),
            before: Some(json!({ "status": order.status })),
            after: Some(decision.audit_after(&request, run.as_ref())),
            personal_data_of: Some(&order.customer_id),
        })
        .await?;
        Ok(decision.answer(&request, run))
    }
}

impl Decision {
    /// The request waiting for review that an agent's decision takes over (none for a
    /// customer's ask); 409 `request.none_pending` for an approval without one.
    async fn request_under_review(
        &self,
        adm: &mut Admission<'_>,
        order: &Order,
    ) -> Result<Option<RequestRow>> {
        if matches!(self, Decision::CustomerAsks) {
            return Ok(None);
        }
        let open =
            db::requests::open_for_order(adm.conn(), &order.tenant_id, &order.id, REQUEST_KIND)
                .await?;
        let reviewed = open.filter(|r| r.status == RequestStatus::PendingReview);
        if matches!(self, Decision::AgentApproves) && reviewed.is_none() {
            return Err(Error::conflict(
                "request.none_pending",
                "this order has no cancellation request waiting for review",
            ));
        }
        Ok(reviewed)
    }

    /// The agent who decided (`agent`), when one did.
    fn decided_by<'a>(&self, agent: &'a str) -> Option<&'a str> {
        match self {
            Decision::CustomerAsks => None,
            Decision::AgentApproves => Some(agent),
        }
    }

    fn audit_action(&self) -> &'static str {
        match self {
            Decision::CustomerAsks => "order.cancel_requested",
            Decision::AgentApproves => "order.cancel_approved",
        }
    }

    /// The audit record's `after`: the request, and its job or that it waits for review.
    fn audit_after(&self, request: &RequestRow, run: Option<&RunRow>) -> Value {
        let mut after = json!({ "request_id": request.id });
        match run {
            Some(run) => after["job_id"] = json!(run.id),
            None => after["status"] = json!(RequestStatus::PendingReview.as_str()),
        }
        after
    }

    /// 202 for a request waiting for review (polled as the request), a customer's started
    /// request (polled as the request), or an agent's started job (polled as the job).
    fn answer(&self, request: &RequestRow, run: Option<RunRow>) -> Admitted<RequestAcceptedOut> {
        match (self, run) {
            (_, None) => Admitted::accepted(
                request_location(request.id),
                RequestAcceptedOut::pending_review(request.id),
                None,
            ),
            (Decision::CustomerAsks, Some(run)) => Admitted::request_started(request.id, &run),
            (_, Some(run)) => Admitted::accepted(
                admin_location(run.id),
                RequestAcceptedOut::with_run(request.id, &run),
                Some(run.id),
            ),
        }
    }
}

/// A customer's new cancel request: waiting for review, or queued.
fn new_request<'a>(
    order: &'a Order,
    input: &CancelRunInput,
    review: bool,
) -> Result<OpenRequest<'a>> {
    let status = match review {
        true => RequestStatus::PendingReview,
        false => RequestStatus::Queued,
    };
    Ok(OpenRequest {
        kind: REQUEST_KIND,
        order_id: order.id.as_str(),
        customer_id: &order.customer_id,
        status,
        input: serde_json::to_value(input).map_err(anyhow::Error::from)?,
        decided_by: None,
        already_open: Error::conflict(
            "request.already_open",
            "a cancellation of this order is already pending or running",
        ),
    })
}

/// An agent's forced cancellation of `order`, taking over a request that waits for review.
/// It starts through `jobs::cancellation::start`, as a long job's cancel items do, so it is
/// judged under the lock on the order's holds, after the `Idempotency-Key` was claimed.
pub struct ForceCancelIntake<'a> {
    pub order: &'a Order,
    pub reason: String,
    pub refund: bool,
    pub restock: bool,
    /// Set by the precondition's guard ([`OrderEdit`]).
    pub expected_version: Option<i64>,
}

impl OrderEdit for ForceCancelIntake<'_> {
    fn order(&self) -> &Order {
        self.order
    }

    fn expect_version(&mut self, version: Option<i64>) {
        self.expected_version = version;
    }
}

impl Intake for ForceCancelIntake<'_> {
    type Answer = RequestAcceptedOut;

    async fn admit(self, adm: &mut Admission<'_>) -> Result<Admitted<RequestAcceptedOut>> {
        let (order, caller) = (self.order, adm.caller().clone());
        let forced = ForcedCancel {
            order,
            reason: &self.reason,
            refund: self.refund,
            restock: self.restock,
            requested_by: &caller.principal,
            correlation_id: caller.actor.correlation_id.clone(),
            queue: None,
            expected_version: self.expected_version,
        };
        let registry = adm.state().workflows.clone();
        let (run, request) = match jobs::cancellation::start(adm.conn(), &registry, forced).await? {
            CancelStarted::Run { run, request, .. } => (run, request),
            CancelStarted::Blocked(reasons) => return Err(blocked(&reasons)),
            CancelStarted::AlreadyOpen => {
                let open = jobs::cancellation::already_open();
                return Err(Error::conflict(&open.code, open.message));
            }
        };
        adm.dispatch_after_commit(&run);
        adm.audit(Entry {
            action: "order.force_cancelled",
            subject_type: "order",
            subject_id: order.id.as_str(),
            reason: Some(&self.reason),
            before: Some(json!({ "status": order.status })),
            after: Some(json!({ "request_id": request.id, "job_id": run.id,
                                "refund": self.refund, "restock": self.restock })),
            personal_data_of: Some(&order.customer_id),
        })
        .await?;
        let answer = RequestAcceptedOut::with_run(request.id, &run);
        Ok(Admitted::accepted(
            admin_location(run.id),
            answer,
            Some(run.id),
        ))
    }
}

/// The customer's reason on the request under review.
fn reason_of(request: Option<&RequestRow>) -> Option<String> {
    let input = &request?.input;
    input
        .get("reason")
        .and_then(Value::as_str)
        .map(str::to_string)
}
