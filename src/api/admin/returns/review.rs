//! Agents reviewing a return: `approve` (how the goods come back) and `inspect` (condition,
//! restockable, disposition → the refund or credit proposed). Each is judged on the
//! return's state (409 `return.*`), has a dry run, and is carried out by its workflow
//! (`approve_return`, `inspect_return`: 202 with the job).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::{situation, tenant_return};
use crate::api::accept::{Admission, Admitted, Answer, Intake, StartRun, accept};
use crate::api::authorized::{Authorized, Grant, can};
use crate::api::cancellation::validate_note;
use crate::api::extract::{Path, Valid, Validate, invalid};
use crate::api::idempotency::IdempotencyKey;
use crate::api::jobs::{JobOut, admin_location};
use crate::api::order_actions::blocked;
use crate::api::shared::RequestMeta;
use crate::db;
use crate::db::audit::Entry;
use crate::db::returns::ReturnRow;
use crate::db::runs::RunRow;
use crate::domain::cancel::BlockedReason;
use crate::domain::return_review::{
    ApprovalMethod, ApproveReturnRunInput, Condition, Disposition, InspectReturnRunInput,
    ProposedSettlement, ReturnAction, check, proposed_settlement,
};
use crate::domain::returns::RmaLine;
use crate::error::{Error, Result};
use crate::state::AppState;

/// The longest inspection note, in characters.
const MAX_NOTES: usize = 2000;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveReturnIn {
    /// Required, at most 500 characters; recorded in the audit log.
    pub reason: String,
    /// `label` or `pickup`. Absent: as the customer chose (`pickup` → `pickup`, `dropoff` →
    /// `label`).
    #[serde(default)]
    pub method: Option<ApprovalMethod>,
    #[serde(default)]
    pub dry_run: bool,
}

impl Validate for ApproveReturnIn {
    type Checked = ();

    fn validate(&self) -> Result<()> {
        validate_note("reason", Some(&self.reason), true)
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InspectReturnIn {
    pub condition: Condition,
    /// Whether the goods go back on the shelf (the Returns API restocks them, once).
    pub restockable: bool,
    /// `refund` and `store_credit` propose the lines' value back; `replace` and `reject`
    /// propose nothing.
    pub disposition: Disposition,
    /// Required, at most 500 characters; recorded in the audit log.
    pub reason: String,
    /// The inspector's notes, at most 2,000 characters: internal, never shown to the
    /// customer.
    #[serde(default)]
    pub notes: Option<String>,
    #[serde(default)]
    pub dry_run: bool,
}

impl Validate for InspectReturnIn {
    type Checked = ();

    fn validate(&self) -> Result<()> {
        validate_note("reason", Some(&self.reason), true)?;
        match &self.notes {
            Some(n) if n.chars().count() > MAX_NOTES => {
                Err(invalid("notes", format!("at most {MAX_NOTES} characters")))
            }
            Some(n) if n.contains('\0') => Err(invalid("notes", "no NUL characters")),
            _ => Ok(()),
        }
    }
}

/// The answer to `dry_run: true`: whether the review applies now and what would run.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReturnDryRunOut {
    pub dry_run: bool,
    pub action: ReturnAction,
    pub allowed: bool,
    pub blocked_reasons: Vec<BlockedReason>,
    /// The workflow steps that would run, in order.
    pub steps: Vec<String>,
    /// Inspect: the refund or credit the inspection would propose.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proposed_settlement: Option<ProposedSettlement>,
}

/// An accepted review: the job carrying it out.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReturnActionAcceptedOut {
    pub rma_id: String,
    pub action: ReturnAction,
    /// Inspect: the refund or credit proposed (recorded once the job succeeded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proposed_settlement: Option<ProposedSettlement>,
    pub job: JobOut,
}

impl Answer for ReturnActionAcceptedOut {
    async fn finished(self, run: &RunRow, _: &sqlx::PgPool) -> Result<Self> {
        Ok(ReturnActionAcceptedOut {
            job: JobOut::from_run(run),
            ..self
        })
    }
}

/// What a review asks for, once its body is valid.
enum Asked {
    Approve(Option<ApprovalMethod>),
    Inspect {
        condition: Condition,
        restockable: bool,
        disposition: Disposition,
        notes: Option<String>,
    },
}

impl Asked {
    fn action(&self) -> ReturnAction {
        match self {
            Asked::Approve(_) => ReturnAction::Approve,
            Asked::Inspect { .. } => ReturnAction::Inspect,
        }
    }
}

/// Approves a return: how the goods come back (`label` or `pickup`). 202 with the
/// `approve_return` job; 409 `return.already_approved`, `return.not_created`,
/// `return.not_open` or `return.action_running`. Requires `returns.approve` and
/// `Idempotency-Key`.
#[utoipa::path(post, path = "/v1/admin/returns/{return_id}/approve", tag = "admin",
    params(("return_id" = String, Path), ("Idempotency-Key" = String, Header)),
    request_body = ApproveReturnIn, security(("bearer" = ["returns.approve"])),
    responses((status = 202, body = ReturnActionAcceptedOut), (status = 200, body = ReturnDryRunOut),
              (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn approve_return(
    State(state): State<AppState>,
    agent: Authorized<can::ReturnsApprove>,
    meta: RequestMeta,
    key: IdempotencyKey,
    Path(return_id): Path<String>,
    Valid { body, .. }: Valid<ApproveReturnIn>,
) -> Result<Response> {
    let asked = Asked::Approve(body.method);
    let review = Review {
        reason: body.reason.trim(),
        dry_run: body.dry_run,
        asked,
    };
    act(&state, &agent, &meta, key, &return_id, &body, review).await
}

/// Records the inspection of a return's goods: condition, restockable, disposition. 202
/// with the `inspect_return` job and the proposed refund or credit; 409
/// `return.not_approved`, `return.not_created`, `return.not_open` or
/// `return.action_running`. Requires `returns.inspect` and `Idempotency-Key`.
#[utoipa::path(post, path = "/v1/admin/returns/{return_id}/inspect", tag = "admin",
    params(("return_id" = String, Path), ("Idempotency-Key" = String, Header)),
    request_body = InspectReturnIn, security(("bearer" = ["returns.inspect"])),
    responses((status = 202, body = ReturnActionAcceptedOut), (status = 200, body = ReturnDryRunOut),
              (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn inspect_return(
    State(state): State<AppState>,
    agent: Authorized<can::ReturnsInspect>,
    meta: RequestMeta,
    key: IdempotencyKey,
    Path(return_id): Path<String>,
    Valid { body, .. }: Valid<InspectReturnIn>,
) -> Result<Response> {
    let asked = Asked::Inspect {
        condition: body.condition,
        restockable: body.restockable,
        disposition: body.disposition,
        notes: body.notes.clone(),
    };
    let review = Review {
        reason: body.reason.trim(),
        dry_run: body.dry_run,
        asked,
    };
    act(&state, &agent, &meta, key, &return_id, &body, review).await
}

struct Review<'a> {
    reason: &'a str,
    dry_run: bool,
    asked: Asked,
}

async fn act<P: Grant, B: Serialize>(
    state: &AppState,
    agent: &Authorized<P>,
    meta: &RequestMeta,
    key: IdempotencyKey,
    return_id: &str,
    body: &B,
    review: Review<'_>,
) -> Result<Response> {
    let mut conn = state.db.acquire().await?;
    let row = tenant_return(&mut conn, &agent.tenant_id, return_id, false).await?;
    if review.dry_run {
        return dry_run(state, &mut conn, &row, &review.asked).await;
    }
    drop(conn);
    let operation = format!("return.{}:{return_id}", review.asked.action().as_str());
    let key = key.required_for(&operation, body)?;
    let intake = ReviewIntake {
        rma_id: row.rma_id,
        reason: review.reason.to_string(),
        asked: review.asked,
    };
    accept(state, agent.caller(meta), key, intake).await
}

async fn dry_run(
    state: &AppState,
    conn: &mut sqlx::PgConnection,
    row: &ReturnRow,
    asked: &Asked,
) -> Result<Response> {
    let action = asked.action();
    let facts = situation(conn, row).await?;
    let blocked_reasons: Vec<_> = check(action, &facts.for_row(row))
        .err()
        .into_iter()
        .collect();
    let proposed = match asked {
        Asked::Inspect { disposition, .. } => Some(settlement(conn, row, *disposition).await?),
        Asked::Approve(_) => None,
    };
    let steps = state.workflows.planned_steps(action.workflow(), &json!({}));
    Ok(axum::Json(ReturnDryRunOut {
        dry_run: true,
        action,
        allowed: blocked_reasons.is_empty(),
        blocked_reasons,
        steps,
        proposed_settlement: proposed,
    })
    .into_response())
}

/// What `disposition` proposes for the return's lines, at the order's prices.
async fn settlement(
    conn: &mut sqlx::PgConnection,
    row: &ReturnRow,
    disposition: Disposition,
) -> Result<ProposedSettlement> {
    let order = db::orders::get(conn, &row.tenant_id, &row.order_id, None)
        .await?
        .ok_or_else(|| Error::not_found("order"))?;
    let lines: Vec<RmaLine> = row.lines.0.iter().map(|l| l.line.clone()).collect();
    Ok(proposed_settlement(disposition, &order, &lines))
}

/// Accepts a review as a run of its workflow. The return's state is judged under its row
/// lock after the `Idempotency-Key` was claimed, so a replay is never refused for what its
/// first call did and two agents never both approve.
struct ReviewIntake {
    rma_id: String,
    reason: String,
    asked: Asked,
}

impl Intake for ReviewIntake {
    type Answer = ReturnActionAcceptedOut;

    async fn admit(self, adm: &mut Admission<'_>) -> Result<Admitted<ReturnActionAcceptedOut>> {
        let tenant = adm.caller().tenant_id.clone();
        let row = tenant_return(adm.conn(), &tenant, &self.rma_id, true).await?;
        let action = self.asked.action();
        let facts = situation(adm.conn(), &row).await?;
        check(action, &facts.for_row(&row)).map_err(blocked)?;
        let (run, settlement, after) = start_review(adm, &row, self.asked, &self.reason).await?;
        let audit_action = format!("return.{}", action.as_str());
        adm.audit(Entry {
            action: &audit_action,
            subject_type: "return",
            subject_id: &row.rma_id,
            reason: Some(&self.reason),
            before: Some(json!({ "status": row.status })),
            after: Some(json!({ "run_id": run.id, "review": after })),
            personal_data_of: Some(&row.customer_id),
        })
        .await?;
        let answer = ReturnActionAcceptedOut {
            rma_id: row.rma_id.clone(),
            action,
            proposed_settlement: settlement,
            job: JobOut::from_run(&run),
        };
        Ok(Admitted::accepted(
            admin_location(run.id),
            answer,
            Some(run.id),
        ))
    }
}

/// Starts the review's run: its typed input, what it proposes (inspect), and what the audit
/// record shows of it.
async fn start_review(
    adm: &mut Admission<'_>,
    row: &ReturnRow,
    asked: Asked,
    reason: &str,
) -> Result<(RunRow, Option<ProposedSettlement>, serde_json::Value)> {
    let action = asked.action();
    match asked {
        Asked::Approve(method) => {
            let method = method.unwrap_or_else(|| ApprovalMethod::for_return_method(&row.method));
            let input = ApproveReturnRunInput {
                order_id: row.order_id.clone(),
                rma_id: row.rma_id.clone(),
                method,
                reason: reason.to_string(),
            };
            let run = adm.start_run(start(action, row, &input)).await?;
            Ok((run, None, json!({ "method": method })))
        }
        Asked::Inspect {
            condition,
            restockable,
            disposition,
            notes,
        } => {
            let settlement = settlement(adm.conn(), row, disposition).await?;
            let after = json!({
                "condition": condition, "restockable": restockable,
                "disposition": disposition, "proposed_settlement": settlement,
            });
            let input = InspectReturnRunInput {
                order_id: row.order_id.clone(),
                rma_id: row.rma_id.clone(),
                condition,
                restockable,
                disposition,
                notes,
                reason: reason.to_string(),
                settlement: settlement.clone(),
            };
            let run = adm.start_run(start(action, row, &input)).await?;
            Ok((run, Some(settlement), after))
        }
    }
}

/// The run of `action` on the return (its subject is the RMA id, which the in-flight check
/// looks for).
fn start<'a, I>(action: ReturnAction, row: &'a ReturnRow, input: &'a I) -> StartRun<'a, I> {
    StartRun {
        workflow: action.workflow(),
        subject_id: &row.rma_id,
        customer_id: None,
        input,
        request: None,
        decided_by: None,
    }
}
