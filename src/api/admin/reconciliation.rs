//! An order's money reconciled (`GET /v1/admin/orders/{id}/reconciliation`): the order's
//! total, Billing's invoices and the Payments service's captures, refunds and payouts, read
//! live, with each difference named by a stable code and its cause (`domain::ledger`), and
//! finance's resolutions of them (`POST .../reconcile`: evidence for one difference as it
//! stands; audited). A resolution covers a difference's amount: when it moves, it is open
//! again.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::api::accept::{Admission, Admitted, Answer, Intake, accept};
use crate::api::authorized::{Authorized, can};
use crate::api::cancellation::validate_note;
use crate::api::customer::order_parts::upstream_failure;
use crate::api::extract::{Path, Valid, Validate};
use crate::api::idempotency::IdempotencyKey;
use crate::api::shared::RequestMeta;
use crate::db;
use crate::db::audit::Entry;
use crate::db::reconciliation::{NewResolution, ResolutionRow};
use crate::domain::ids::OrderId;
use crate::domain::ledger::{self, CODES, InvoiceTotal, LedgerTotals, Mismatch};
use crate::domain::order::{Order, OrderStatus, Payment};
use crate::error::{Error, FieldError, Result};
use crate::state::AppState;

/// Most resolutions shown with an order (a difference is resolved a few times at most).
const RESOLUTIONS_SHOWN: i64 = 100;
const MAX_REFERENCE_CHARS: usize = 200;

/// One difference, with the resolution that covers it as it stands, if any.
#[derive(Debug, Serialize, ToSchema)]
pub struct DifferenceOut {
    #[serde(flatten)]
    pub mismatch: Mismatch,
    pub resolution: Option<ResolutionRow>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReconciliationOut {
    #[schema(value_type = String)]
    pub order_id: OrderId,
    pub currency: String,
    pub status: OrderStatus,
    pub totals: LedgerTotals,
    /// True when every difference is resolved (or there is none).
    pub balanced: bool,
    pub differences: Vec<DifferenceOut>,
    /// Every resolution recorded for the order, oldest first, including those of
    /// differences that have since closed or moved.
    pub resolutions: Vec<ResolutionRow>,
}

/// The order's invoices (with their credit notes and adjustments) and payments as Billing
/// and Payments say now (asked at once).
async fn money_of(state: &AppState, order: &Order) -> Result<(Vec<InvoiceTotal>, Vec<Payment>)> {
    let tenant = &order.tenant_id;
    let invoices = state.upstream.invoices_of_order(tenant, &order.id);
    let payments = order
        .payments
        .iter()
        .map(|p| state.upstream.get_payment(tenant, &p.id));
    let (invoices, payments) = tokio::join!(invoices, futures::future::try_join_all(payments));
    let failed = |e| upstream_failure("reconciliation", &e);
    let invoices = invoices.map_err(failed)?.into_iter().map(|i| InvoiceTotal {
        credited_minor: i.credit_notes.iter().map(|c| c.amount_minor).sum(),
        debited_minor: i.adjustments.iter().map(|c| c.amount_minor).sum(),
        id: i.id,
        total_minor: i.total_minor,
        currency: i.currency,
    });
    Ok((invoices.collect(), payments.map_err(failed)?))
}

/// The resolution covering `m` as it stands: the newest for its code, subject and amount.
fn covering<'a>(m: &Mismatch, resolutions: &'a [ResolutionRow]) -> Option<&'a ResolutionRow> {
    resolutions.iter().rev().find(|r| {
        r.code == m.code && r.subject == m.subject && r.difference_minor == m.difference_minor
    })
}

async fn reconciled(state: &AppState, order: &Order) -> Result<ReconciliationOut> {
    let (invoices, payments) = money_of(state, order).await?;
    let mut conn = state.db.acquire().await?;
    let resolutions =
        db::reconciliation::of_order(&mut conn, &order.tenant_id, &order.id, RESOLUTIONS_SHOWN)
            .await?;
    let differences: Vec<DifferenceOut> = ledger::reconcile(order, &invoices, &payments)
        .into_iter()
        .map(|mismatch| DifferenceOut {
            resolution: covering(&mismatch, &resolutions).cloned(),
            mismatch,
        })
        .collect();
    Ok(ReconciliationOut {
        order_id: order.id.clone(),
        currency: order.currency.clone(),
        status: order.status,
        totals: ledger::totals(order, &invoices, &payments),
        balanced: differences.iter().all(|d| d.resolution.is_some()),
        differences,
        resolutions,
    })
}

/// The order's money reconciled: totals, each difference between the order, its invoices
/// and its payments with a stable `code` and its cause, and finance's resolutions. Read live
/// from Billing and Payments: 503 `reconciliation.unavailable` when they cannot answer now.
/// Requires `reconcile`.
#[utoipa::path(get, path = "/v1/admin/orders/{order_id}/reconciliation", tag = "admin",
    params(("order_id" = String, Path)), security(("bearer" = ["reconcile"])),
    responses((status = 200, body = ReconciliationOut), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 502, body = crate::error::Problem), (status = 503, body = crate::error::Problem)))]
pub async fn get_reconciliation(
    State(state): State<AppState>,
    agent: Authorized<can::Reconcile>,
    Path(order_id): Path<OrderId>,
) -> Result<Json<ReconciliationOut>> {
    let order = agent.tenant_order(&state, &order_id).await?;
    Ok(Json(reconciled(&state, &order).await?))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReconcileIn {
    /// The difference's `code`, as the reconciliation names it.
    #[schema(schema_with = difference_code)]
    pub code: String,
    /// The difference's `subject` (`order`, an invoice or a payment id); `order` if absent.
    #[serde(default)]
    pub subject: Option<String>,
    /// Required, at most 500 characters: why the difference is accounted for.
    pub note: String,
    /// At most 200 characters: the evidence's reference (a bank statement line, a ticket).
    #[serde(default)]
    pub reference: Option<String>,
}

/// The codes a difference can have, as the document's enum.
fn difference_code() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(CODES))
        .build()
}

impl Validate for ReconcileIn {
    type Checked = ();

    fn validate(&self) -> Result<()> {
        let mut errors = Vec::new();
        if !CODES.contains(&self.code.as_str()) {
            errors.push(FieldError {
                field: "code".into(),
                message: format!("one of {}", CODES.join(", ")),
            });
        }
        if let Err(e) = validate_note("note", Some(&self.note), true) {
            errors.extend(e.to_problem().errors);
        }
        let too_long =
            |s: &Option<String>, n: usize| s.as_ref().is_some_and(|s| s.chars().count() > n);
        if too_long(&self.reference, MAX_REFERENCE_CHARS) {
            errors.push(FieldError {
                field: "reference".into(),
                message: format!("at most {MAX_REFERENCE_CHARS} characters"),
            });
        }
        if too_long(&self.subject, MAX_REFERENCE_CHARS) {
            errors.push(FieldError {
                field: "subject".into(),
                message: format!("at most {MAX_REFERENCE_CHARS} characters"),
            });
        }
        match errors.is_empty() {
            true => Ok(()),
            false => Err(Error::validation(errors)),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReconciledOut {
    #[schema(value_type = String)]
    pub order_id: OrderId,
    pub resolution: ResolutionRow,
}

impl Answer for ReconciledOut {}

struct ResolutionIntake<'a> {
    order: &'a Order,
    body: &'a ReconcileIn,
}

impl Intake for ResolutionIntake<'_> {
    type Answer = ReconciledOut;

    async fn admit(self, adm: &mut Admission<'_>) -> Result<Admitted<ReconciledOut>> {
        let ResolutionIntake { order, body } = self;
        let subject = body.subject.as_deref().unwrap_or("order");
        // judged after the key was claimed, so a replay answers what its first call did
        let now = reconciled(adm.state(), order).await?;
        let open = now
            .differences
            .iter()
            .find(|d| d.mismatch.code == body.code && d.mismatch.subject == subject)
            .ok_or_else(|| {
                Error::unprocessable(
                    "reconcile.no_such_difference",
                    format!("the order has no difference {} on {subject} now", body.code),
                )
                .with_extra("differences", json!(now.differences))
            })?;
        let agent = adm.caller().principal.clone();
        let new = NewResolution {
            code: &body.code,
            subject,
            difference_minor: open.mismatch.difference_minor,
            note: body.note.trim(),
            reference: body.reference.as_deref().map(str::trim),
            resolved_by: &agent,
        };
        let (tenant, customer) = (&order.tenant_id, &order.customer_id);
        let row = db::reconciliation::insert(adm.conn(), tenant, &order.id, customer, new).await?;
        adm.audit(Entry {
            action: "order.reconciled",
            subject_type: "order",
            subject_id: order.id.as_str(),
            reason: Some(body.note.trim()),
            before: Some(json!(open.mismatch)),
            after: Some(json!({ "resolution_id": row.id, "reference": row.reference })),
            // the note and reference may name the customer: sealed, gone with their erasure
            personal_data_of: Some(customer),
        })
        .await?;
        let answer = ReconciledOut {
            order_id: order.id.clone(),
            resolution: row,
        };
        Ok(Admitted::done(StatusCode::CREATED, answer))
    }
}

/// Records why one of the order's differences is accounted for: 201 the resolution, which
/// the reconciliation then shows with the difference (`balanced` once all are). The
/// difference must be there now (422 `reconcile.no_such_difference`, with the differences
/// there are). Requires `reconcile` and `Idempotency-Key`; audited.
#[utoipa::path(post, path = "/v1/admin/orders/{order_id}/reconcile", tag = "admin",
    params(("order_id" = String, Path), ("Idempotency-Key" = String, Header)), request_body = ReconcileIn,
    security(("bearer" = ["reconcile"])),
    responses((status = 201, body = ReconciledOut), (status = 400, body = crate::error::Problem),
              (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem), (status = 502, body = crate::error::Problem),
              (status = 503, body = crate::error::Problem)))]
pub async fn reconcile_order(
    State(state): State<AppState>,
    agent: Authorized<can::Reconcile>,
    meta: RequestMeta,
    key: IdempotencyKey,
    Path(order_id): Path<OrderId>,
    Valid { body, .. }: Valid<ReconcileIn>,
) -> Result<Response> {
    let order = agent.tenant_order(&state, &order_id).await?;
    let key = key.required_for(&format!("reconcile:{order_id}"), &body)?;
    let intake = ResolutionIntake {
        order: &order,
        body: &body,
    };
    accept(&state, agent.caller(&meta), key, intake).await
}
