//! The Returns API's review of an RMA: approval (`label` or `pickup`) and inspections of the
//! returned goods. A restockable inspection puts the returned units back in stock, once.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;

use super::extract::{Body, IdempotencyKey, Tenant};
use super::idempotency::{self, Answer, Claim, Mutation};
use super::{SandboxState, new_id, store};
use crate::error::{Error, FieldError, Result};
use crate::service::Service;
use crate::wire::{Rma, RmaApproval, RmaInspection};

const APPROVAL_METHODS: [&str; 2] = ["label", "pickup"];
const CONDITIONS: [&str; 4] = ["new", "like_new", "used", "damaged"];
const DISPOSITIONS: [&str; 4] = ["refund", "store_credit", "replace", "reject"];
/// orderdesk allows 2,000 characters: up to 8,000 bytes of UTF-8.
const MAX_NOTES: usize = 8000;

pub fn routes() -> Router<SandboxState> {
    Router::new()
        .route("/v1/returns/{id}/approve", post(approve))
        .route("/v1/returns/{id}/inspections", post(inspect))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApproveIn {
    method: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InspectionIn {
    condition: String,
    restockable: bool,
    disposition: String,
    #[serde(default)]
    notes: Option<String>,
}

/// `POST /v1/returns/{id}/approve` `{method}`: 200 the RMA, `approved`. Unknown RMA → 404;
/// approved already → 409 `return.already_approved`; closed or cancelled → 409
/// `return.not_open`.
async fn approve(
    State(s): State<SandboxState>,
    Tenant(tenant): Tenant,
    IdempotencyKey(key): IdempotencyKey,
    Path(id): Path<String>,
    Body(input): Body<ApproveIn>,
) -> Result<Response> {
    let mut errors = Vec::new();
    one_of(&mut errors, "method", &input.method, &APPROVAL_METHODS);
    fail_on(errors)?;
    let mut m = match idempotency::begin(&s.db, Service::Fulfillment, &tenant, key).await? {
        Claim::Replay(answer) => return Ok(answer),
        Claim::Fresh(m) => m,
    };
    let outcome = apply_approval(&mut m, &tenant, &id, input).await;
    m.finish(outcome, &s.events).await
}

async fn apply_approval(
    m: &mut Mutation,
    tenant: &str,
    id: &str,
    input: ApproveIn,
) -> Result<Answer> {
    let mut rma = locked(m, tenant, id).await?;
    match rma.status.as_str() {
        "requested" => {}
        "closed" | "cancelled" => return Err(not_open(&rma)),
        _ => {
            return Err(Error::conflict(
                "return.already_approved",
                "this RMA was approved already",
            ));
        }
    }
    rma.status = "approved".into();
    rma.approval = Some(RmaApproval {
        method: input.method,
        approved_at: Utc::now(),
    });
    store::returns::save(m.conn(), tenant, &rma).await?;
    let detail = json!({ "id": rma.id, "approval": rma.approval });
    m.effect(&rma.order_id, "return.approve", detail).await?;
    Answer::new(StatusCode::OK, &rma)
}

/// `POST /v1/returns/{id}/inspections` `{condition, restockable, disposition, notes?}`: 201
/// the RMA with the inspection appended (status `inspected`). Not approved yet → 409
/// `return.not_approved`; closed or cancelled → 409 `return.not_open`.
async fn inspect(
    State(s): State<SandboxState>,
    Tenant(tenant): Tenant,
    IdempotencyKey(key): IdempotencyKey,
    Path(id): Path<String>,
    Body(input): Body<InspectionIn>,
) -> Result<Response> {
    let mut errors = Vec::new();
    one_of(&mut errors, "condition", &input.condition, &CONDITIONS);
    one_of(
        &mut errors,
        "disposition",
        &input.disposition,
        &DISPOSITIONS,
    );
    if input
        .notes
        .as_deref()
        .is_some_and(|n| n.len() > MAX_NOTES || n.contains('\0'))
    {
        errors.push(FieldError {
            field: "notes".into(),
            message: format!("at most {MAX_NOTES} bytes, no NUL"),
        });
    }
    fail_on(errors)?;
    let mut m = match idempotency::begin(&s.db, Service::Fulfillment, &tenant, key).await? {
        Claim::Replay(answer) => return Ok(answer),
        Claim::Fresh(m) => m,
    };
    let outcome = apply_inspection(&mut m, &tenant, &id, input).await;
    m.finish(outcome, &s.events).await
}

async fn apply_inspection(
    m: &mut Mutation,
    tenant: &str,
    id: &str,
    input: InspectionIn,
) -> Result<Answer> {
    let mut rma = locked(m, tenant, id).await?;
    match rma.status.as_str() {
        "approved" | "received" | "inspected" => {}
        "closed" | "cancelled" => return Err(not_open(&rma)),
        _ => {
            return Err(Error::conflict(
                "return.not_approved",
                "an RMA is inspected only once it was approved",
            ));
        }
    }
    let restock = input.restockable && !rma.inspections.iter().any(|i| i.restocked);
    let inspection = RmaInspection {
        id: new_id("insp"),
        condition: input.condition,
        restockable: input.restockable,
        disposition: input.disposition,
        notes: input.notes,
        restocked: restock,
        inspected_at: Utc::now(),
    };
    if restock {
        restock_lines(m, tenant, &rma, &inspection.id).await?;
    }
    rma.status = "inspected".into();
    rma.inspections.push(inspection);
    store::returns::save(m.conn(), tenant, &rma).await?;
    let detail = json!({ "id": rma.id, "inspection": rma.inspections.last() });
    m.effect(&rma.order_id, "return.inspect", detail).await?;
    Answer::new(StatusCode::CREATED, &rma)
}

/// Puts the RMA's units back on the shelf of each line's SKU (`return_restock` movements).
async fn restock_lines(m: &mut Mutation, tenant: &str, rma: &Rma, reference: &str) -> Result<()> {
    let order = store::orders::get(m.conn(), tenant, &rma.order_id)
        .await?
        .ok_or_else(|| Error::not_found("order"))?;
    for line in &rma.lines {
        let Some(sku) = order
            .lines
            .iter()
            .find(|l| l.id == line.line_id)
            .map(|l| l.sku.clone())
        else {
            continue;
        };
        let qty = i64::from(line.qty);
        store::stock::adjust(m.conn(), tenant, &sku, qty).await?;
        let order_id = Some(rma.order_id.as_str());
        store::stock::record_movement(
            m.conn(),
            tenant,
            &sku,
            qty,
            "return_restock",
            Some(reference),
            order_id,
        )
        .await?;
    }
    Ok(())
}

async fn locked(m: &mut Mutation, tenant: &str, id: &str) -> Result<Rma> {
    store::returns::lock(m.conn(), tenant, id)
        .await?
        .ok_or_else(|| Error::not_found("return"))
}

fn not_open(rma: &Rma) -> Error {
    Error::conflict(
        "return.not_open",
        format!("this RMA is {}; it changes no more", rma.status),
    )
}

fn one_of(errors: &mut Vec<FieldError>, field: &str, value: &str, allowed: &[&str]) {
    if !allowed.contains(&value) {
        errors.push(FieldError {
            field: field.into(),
            message: format!("one of {}", allowed.join(", ")),
        });
    }
}

fn fail_on(errors: Vec<FieldError>) -> Result<()> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::validation(errors))
    }
}
