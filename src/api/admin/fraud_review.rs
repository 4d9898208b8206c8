//! Fraud reviews of an order: flag it for review, end the review (cleared or confirmed),
//! and give the open review to an agent or a team. The fraud state is the Orders service's,
//! so flag and unflag are workflows (202 with the job); the assignment is orderdesk's own
//! record (200, in force when answered).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::api::accept::{Admission, Admitted, Answer, Intake, StartRun, accept};
use crate::api::authorized::{Authorized, can};
use crate::api::cancellation::validate_note;
use crate::api::extract::{Path, Valid, Validate};
use crate::api::idempotency::IdempotencyKey;
use crate::api::jobs::{JobOut, admin_location};
use crate::api::order_actions::blocked;
use crate::api::shared::RequestMeta;
use crate::db;
use crate::db::audit::Entry;
use crate::db::reviews::{NewAssignment, ReviewAssignment};
use crate::db::runs::RunRow;
use crate::domain::cancel::BlockedReason;
use crate::domain::fraud::{FraudAction, FraudRunInput, ReviewOutcome, check, check_in_flight};
use crate::domain::ids::OrderId;
use crate::domain::order::{FraudState, Order};
use crate::error::{Error, FieldError, Result};
use crate::state::AppState;

/// The longest agent id or team name.
const MAX_ASSIGNEE: usize = 100;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FlagFraudIn {
    /// Required, at most 500 characters; told to the Orders service.
    pub reason: String,
    #[serde(default)]
    pub dry_run: bool,
}

impl Validate for FlagFraudIn {
    type Checked = ();

    fn validate(&self) -> Result<()> {
        validate_note("reason", Some(&self.reason), true)
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnflagFraudIn {
    /// Required, at most 500 characters: what the review found.
    pub reason: String,
    /// `cleared` (default: not fraud) or `confirmed` (fraud).
    #[serde(default)]
    pub outcome: ReviewOutcome,
    #[serde(default)]
    pub dry_run: bool,
}

impl Validate for UnflagFraudIn {
    type Checked = ();

    fn validate(&self) -> Result<()> {
        validate_note("reason", Some(&self.reason), true)
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignReviewIn {
    /// An agent id (`agt_…`), or `team:<name>` for a team; at most 100 characters.
    pub assignee: String,
    /// At most 500 characters; internal (never shown to the customer).
    #[serde(default)]
    pub notes: Option<String>,
    #[serde(default)]
    pub dry_run: bool,
}

/// An assignee (an agent or a team) and the trimmed notes.
pub struct Assignee {
    pub agent_id: Option<String>,
    pub team: Option<String>,
    pub notes: Option<String>,
}

impl Assignee {
    /// `assignee` (an agent id, or `team:<name>`) and the optional `notes` (at most 500
    /// characters, named `notes_field` in a 422), trimmed.
    pub fn parse(assignee: &str, (notes_field, notes): (&str, Option<&str>)) -> Result<Self> {
        validate_note(notes_field, notes, false)?;
        let a = assignee.trim();
        let (agent, team) = match a.strip_prefix("team:") {
            Some(team) => (None, Some(team.trim())),
            None => (Some(a), None),
        };
        let name = agent.or(team).unwrap_or_default();
        if name.is_empty() || name.chars().count() > MAX_ASSIGNEE {
            return Err(Error::validation(vec![FieldError {
                field: "assignee".into(),
                message: format!("an agent id or team:<name>, 1 to {MAX_ASSIGNEE} characters"),
            }]));
        }
        let notes = notes.map(str::trim).filter(|n| !n.is_empty());
        Ok(Assignee {
            agent_id: agent.map(str::to_string),
            team: team.map(str::to_string),
            notes: notes.map(str::to_string),
        })
    }
}

impl Validate for AssignReviewIn {
    type Checked = Assignee;

    fn validate(&self) -> Result<Assignee> {
        Assignee::parse(&self.assignee, ("notes", self.notes.as_deref()))
    }
}

/// The answer to `dry_run: true`.
#[derive(Debug, Serialize, ToSchema)]
pub struct FraudDryRunOut {
    pub dry_run: bool,
    pub action: FraudAction,
    pub allowed: bool,
    pub blocked_reasons: Vec<BlockedReason>,
    /// The workflow steps that would run, in order (none for an assignment).
    pub steps: Vec<String>,
}

/// An accepted flag or unflag: the job that changes the fraud state at the Orders service.
#[derive(Debug, Serialize, ToSchema)]
pub struct FraudAcceptedOut {
    #[schema(value_type = String)]
    pub order_id: OrderId,
    pub action: FraudAction,
    /// The fraud state asked for.
    pub fraud_state: FraudState,
    pub job: JobOut,
}

impl Answer for FraudAcceptedOut {
    async fn finished(self, run: &RunRow, _: &sqlx::PgPool) -> Result<Self> {
        Ok(FraudAcceptedOut {
            job: JobOut::from_run(run),
            ..self
        })
    }
}

/// The review's assignment, as it is now.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewAssignedOut {
    #[schema(value_type = String)]
    pub order_id: OrderId,
    pub assignment: ReviewAssignment,
}

impl Answer for ReviewAssignedOut {}

/// What an agent asked of the order's fraud review.
enum Asked {
    SetState { state: FraudState, reason: String },
    Assign(Assignee),
}

struct FraudIntake<'a> {
    order: &'a Order,
    action: FraudAction,
    asked: Asked,
}

/// The audit record's name of `action`.
fn audit_action(action: FraudAction) -> String {
    format!("order.{}", action.as_str())
}

/// Starts the run that sets the order's fraud state.
async fn start(
    adm: &mut Admission<'_>,
    (order, action): (&Order, FraudAction),
    state: FraudState,
    reason: String,
) -> Result<Admitted<FraudAccepted>> {
    let workflow = action.workflow().unwrap_or_default();
    if action == FraudAction::Flag {
        db::reviews::clear(adm.conn(), &order.tenant_id, &order.id).await?;
    }
    let input = FraudRunInput {
        order_id: order.id.clone(),
        state,
        reason: reason.clone(),
    };
    let run = adm
        .start_run(StartRun {
            workflow,
            subject_id: order.id.as_str(),
            customer_id: None,
            input: &input,
            request: None,
            decided_by: None,
        })
        .await?;
    adm.audit(Entry {
        action: &audit_action(action),
        subject_type: "order",
        subject_id: order.id.as_str(),
        reason: Some(&reason),
        before: Some(json!({ "fraud_state": order.fraud_state })),
        after: Some(json!({ "fraud_state": state, "run_id": run.id })),
        // the reviewer's reason may describe the customer: sealed under their key
        personal_data_of: Some(&order.customer_id),
    })
    .await?;
    let answer = FraudAcceptedOut {
        order_id: order.id.clone(),
        action,
        fraud_state: state,
        job: JobOut::from_run(&run),
    };
    let location = admin_location(run.id);
    Ok(Admitted::accepted(
        location,
        FraudAccepted::Run(Box::new(answer)),
        Some(run.id),
    ))
}

/// Records the review's assignment.
async fn assign(
    adm: &mut Admission<'_>,
    (order, action): (&Order, FraudAction),
    who: Assignee,
) -> Result<Admitted<FraudAccepted>> {
    let by = adm.caller().principal.clone();
    let new = NewAssignment {
        tenant_id: &order.tenant_id,
        order_id: &order.id,
        agent_id: who.agent_id.as_deref(),
        team: who.team.as_deref(),
        notes: who.notes.as_deref(),
        assigned_by: &by,
    };
    let assignment = db::reviews::assign(adm.conn(), &new).await?;
    adm.audit(Entry {
        action: &audit_action(action),
        subject_type: "order",
        subject_id: order.id.as_str(),
        reason: who.notes.as_deref(),
        before: None,
        after: Some(json!({ "agent_id": who.agent_id, "team": who.team })),
        // the notes may describe the customer: sealed under their key
        personal_data_of: Some(&order.customer_id),
    })
    .await?;
    let answer = ReviewAssignedOut {
        order_id: order.id.clone(),
        assignment,
    };
    Ok(Admitted::done(
        StatusCode::OK,
        FraudAccepted::Assigned(answer),
    ))
}

/// The answer of either kind of fraud action.
#[derive(Serialize)]
#[serde(untagged)]
enum FraudAccepted {
    Run(Box<FraudAcceptedOut>),
    Assigned(ReviewAssignedOut),
}

impl Answer for FraudAccepted {
    async fn finished(self, run: &RunRow, db: &sqlx::PgPool) -> Result<Self> {
        match self {
            FraudAccepted::Run(a) => Ok(FraudAccepted::Run(Box::new(a.finished(run, db).await?))),
            other => Ok(other),
        }
    }
}

impl Intake for FraudIntake<'_> {
    type Answer = FraudAccepted;

    async fn admit(self, adm: &mut Admission<'_>) -> Result<Admitted<FraudAccepted>> {
        let FraudIntake {
            order,
            action,
            asked,
        } = self;
        // two agents deciding on one order's review decide one after the other, each on the
        // order as it is now and on the changes still running
        let tenant = &order.tenant_id;
        db::holds::lock_order(adm.conn(), tenant, &order.id).await?;
        let now = db::orders::get(adm.conn(), tenant, &order.id, None).await?;
        let fraud_state = now.map_or(order.fraud_state, |o| o.fraud_state);
        check(action, fraud_state).map_err(blocked)?;
        let in_flight = db::fraud::change_in_flight(adm.conn(), tenant, &order.id).await?;
        check_in_flight(action, in_flight).map_err(blocked)?;
        match asked {
            Asked::SetState { state, reason } => start(adm, (order, action), state, reason).await,
            Asked::Assign(who) => assign(adm, (order, action), who).await,
        }
    }
}

/// The dry run of `action` on `order`.
async fn dry_run(state: &AppState, order: &Order, action: FraudAction) -> Result<Response> {
    let mut conn = state.db.acquire().await?;
    let in_flight = db::fraud::change_in_flight(&mut conn, &order.tenant_id, &order.id).await?;
    let blocked_reasons: Vec<_> = [
        check(action, order.fraud_state),
        check_in_flight(action, in_flight),
    ]
    .into_iter()
    .filter_map(Result::err)
    .collect();
    let steps = action
        .workflow()
        .map(|w| state.workflows.planned_steps(w, &json!({})))
        .unwrap_or_default();
    Ok(axum::Json(FraudDryRunOut {
        dry_run: true,
        action,
        allowed: blocked_reasons.is_empty(),
        blocked_reasons,
        steps,
    })
    .into_response())
}

/// The three endpoints once their body is valid: the dry run, or the acceptance.
async fn act<B: Serialize>(
    state: &AppState,
    agent: &Authorized<can::FraudReview>,
    meta: &RequestMeta,
    key: IdempotencyKey,
    (order_id, body, dry): (&OrderId, &B, bool),
    (action, asked): (FraudAction, Asked),
) -> Result<Response> {
    let order = agent.tenant_order(state, order_id).await?;
    if dry {
        return dry_run(state, &order, action).await;
    }
    let key = key.required_for(&format!("{}:{order_id}", action.as_str()), body)?;
    let intake = FraudIntake {
        order: &order,
        action,
        asked,
    };
    accept(state, agent.caller(meta), key, intake).await
}

/// Flags the order for fraud review: a job sets its fraud state to `review` at the Orders
/// service (409 `order.blocked.already_flagged` when it is, 409
/// `order.blocked.fraud_change_in_progress` while another flag or unflag job of the order
/// has not ended). Requires `fraud.review` and `Idempotency-Key`.
#[utoipa::path(post, path = "/v1/admin/orders/{order_id}/flag-fraud", tag = "admin",
    params(("order_id" = String, Path), ("Idempotency-Key" = String, Header)), request_body = FlagFraudIn, security(("bearer" = ["fraud.review"])),
    responses((status = 202, body = FraudAcceptedOut), (status = 200, body = FraudDryRunOut), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn flag_fraud(
    State(state): State<AppState>,
    agent: Authorized<can::FraudReview>,
    meta: RequestMeta,
    key: IdempotencyKey,
    Path(order_id): Path<OrderId>,
    Valid { body, .. }: Valid<FlagFraudIn>,
) -> Result<Response> {
    let (state_to, reason) = (FraudState::Review, body.reason.trim().to_string());
    let asked = Asked::SetState {
        state: state_to,
        reason,
    };
    let what = (&order_id, &body, body.dry_run);
    act(&state, &agent, &meta, key, what, (FraudAction::Flag, asked)).await
}

/// Ends the order's fraud review as `cleared` (default) or `confirmed` (409
/// `order.blocked.not_flagged` when it is not in review, 409
/// `order.blocked.fraud_change_in_progress` while another flag or unflag job of the order
/// has not ended). Requires `fraud.review` and `Idempotency-Key`.
#[utoipa::path(post, path = "/v1/admin/orders/{order_id}/unflag", tag = "admin",
    params(("order_id" = String, Path), ("Idempotency-Key" = String, Header)), request_body = UnflagFraudIn, security(("bearer" = ["fraud.review"])),
    responses((status = 202, body = FraudAcceptedOut), (status = 200, body = FraudDryRunOut), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn unflag_fraud(
    State(state): State<AppState>,
    agent: Authorized<can::FraudReview>,
    meta: RequestMeta,
    key: IdempotencyKey,
    Path(order_id): Path<OrderId>,
    Valid { body, .. }: Valid<UnflagFraudIn>,
) -> Result<Response> {
    let (state_to, reason) = (body.outcome.state(), body.reason.trim().to_string());
    let asked = Asked::SetState {
        state: state_to,
        reason,
    };
    let what = (&order_id, &body, body.dry_run);
    act(
        &state,
        &agent,
        &meta,
        key,
        what,
        (FraudAction::Unflag, asked),
    )
    .await
}

/// Gives the order's open fraud review to an agent or a team, with internal notes; a new
/// assignment replaces the last (409 `order.blocked.not_flagged` when not in review).
/// Requires `fraud.review` and `Idempotency-Key`.
#[utoipa::path(post, path = "/v1/admin/orders/{order_id}/assign-review", tag = "admin",
    params(("order_id" = String, Path), ("Idempotency-Key" = String, Header)), request_body = AssignReviewIn, security(("bearer" = ["fraud.review"])),
    responses((status = 200, body = ReviewAssignedOut), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn assign_review(
    State(state): State<AppState>,
    agent: Authorized<can::FraudReview>,
    meta: RequestMeta,
    key: IdempotencyKey,
    Path(order_id): Path<OrderId>,
    Valid { body, checked }: Valid<AssignReviewIn>,
) -> Result<Response> {
    let what = (&order_id, &body, body.dry_run);
    let asked = (FraudAction::AssignReview, Asked::Assign(checked));
    act(&state, &agent, &meta, key, what, asked).await
}
