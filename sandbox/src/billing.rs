//! The Billing service (`/billing/v1/...`): one invoice per seeded order, with its credit
//! notes and adjustments; and the customers' store credits.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};

use super::extract::{Body, IdempotencyKey, Params, Tenant};
use super::fulfillment::OrderParams;
use super::idempotency::{self, Answer, Claim, Mutation};
use super::store::billing::{InvoiceChange, StoreCredit};
use super::{SandboxState, new_id, store};
use crate::error::{Error, FieldError, Result};
use crate::service::Service;

pub fn routes() -> Router<SandboxState> {
    Router::new()
        .route("/v1/invoices", get(list_invoices))
        .route("/v1/invoices/{id}/credit-notes", post(credit_note))
        .route("/v1/invoices/{id}/adjustments", post(adjustment))
        .route("/v1/store-credits", post(grant_store_credit))
}

/// Under `/sandbox`: Billing's invoices set by hand, so reconciliation can be shown a
/// difference; the store credits granted (read-back).
pub fn sandbox_routes() -> Router<SandboxState> {
    Router::new()
        .route("/invoices/{order_id}", put(set_invoice_total))
        .route("/store-credits", get(list_store_credits))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct InvoiceTotalIn {
    total_minor: i64,
}

/// `PUT /sandbox/invoices/{order_id}` `{total_minor}`: the order's invoice now totals that
/// (200 `{"order_id","total_minor"}`); an order without an invoice → 404.
async fn set_invoice_total(
    State(s): State<SandboxState>,
    Tenant(tenant): Tenant,
    Path(order_id): Path<String>,
    Body(input): Body<InvoiceTotalIn>,
) -> Result<Json<Value>> {
    let mut conn = s.db.acquire().await?;
    let total = input.total_minor;
    if !store::orders::set_invoice_total(&mut conn, &tenant, &order_id, total).await? {
        return Err(Error::not_found("invoice"));
    }
    Ok(Json(json!({ "order_id": order_id, "total_minor": total })))
}

/// `GET /v1/invoices?order_id=`: `{"data":[{"id","order_id","total_minor","currency",
/// "credit_notes":[…],"adjustments":[…],"balance_minor"}]}` (balance: total − credit notes +
/// adjustments); unknown order → 404.
async fn list_invoices(
    State(s): State<SandboxState>,
    Tenant(tenant): Tenant,
    Params(p): Params<OrderParams>,
) -> Result<Json<Value>> {
    let order_id = p.required()?;
    let mut conn = s.db.acquire().await?;
    if store::orders::get(&mut conn, &tenant, &order_id)
        .await?
        .is_none()
    {
        return Err(Error::not_found("order"));
    }
    let invoices = store::orders::invoices(&mut conn, &tenant, &order_id).await?;
    let changes = store::billing::changes(&mut conn, &tenant, &order_id).await?;
    let data: Vec<Value> = invoices
        .into_iter()
        .map(|inv| {
            let of = |kind: &str| -> Vec<&InvoiceChange> {
                changes
                    .iter()
                    .filter(|c| c.invoice_id == inv.id && c.kind == kind)
                    .collect()
            };
            let (credits, debits) = (of("credit_note"), of("adjustment"));
            let balance = inv.total_minor - credits.iter().map(|c| c.amount_minor).sum::<i64>()
                + debits.iter().map(|c| c.amount_minor).sum::<i64>();
            json!({
                "id": inv.id, "order_id": inv.order_id, "total_minor": inv.total_minor,
                "currency": inv.currency, "credit_notes": credits, "adjustments": debits,
                "balance_minor": balance,
            })
        })
        .collect();
    Ok(Json(json!({ "data": data })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeIn {
    amount_minor: i64,
    #[serde(default)]
    line_id: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

fn positive(amount_minor: i64) -> Result<()> {
    if amount_minor <= 0 {
        return Err(Error::validation(vec![FieldError {
            field: "amount_minor".into(),
            message: "must be greater than 0".into(),
        }]));
    }
    Ok(())
}

/// `POST /v1/invoices/{id}/credit-notes` `{amount_minor, line_id?, reason?}`: 201 the credit
/// note. More than the invoice's balance → 422 `credit_note.exceeds_balance`; a line the
/// order does not have → 422 `invoice.unknown_line`; unknown invoice → 404.
async fn credit_note(
    State(s): State<SandboxState>,
    Tenant(tenant): Tenant,
    IdempotencyKey(key): IdempotencyKey,
    Path(id): Path<String>,
    Body(input): Body<ChangeIn>,
) -> Result<Response> {
    positive(input.amount_minor)?;
    let mut m = match idempotency::begin(&s.db, Service::Billing, &tenant, key).await? {
        Claim::Replay(answer) => return Ok(answer),
        Claim::Fresh(m) => m,
    };
    let outcome = change_invoice(&mut m, &tenant, &id, "credit_note", input).await;
    m.finish(outcome, &s.events).await
}

/// `POST /v1/invoices/{id}/adjustments` `{amount_minor, line_id?, reason?}`: 201 the
/// adjustment (more owed on the invoice). A line the order does not have → 422
/// `invoice.unknown_line`; unknown invoice → 404.
async fn adjustment(
    State(s): State<SandboxState>,
    Tenant(tenant): Tenant,
    IdempotencyKey(key): IdempotencyKey,
    Path(id): Path<String>,
    Body(input): Body<ChangeIn>,
) -> Result<Response> {
    positive(input.amount_minor)?;
    let mut m = match idempotency::begin(&s.db, Service::Billing, &tenant, key).await? {
        Claim::Replay(answer) => return Ok(answer),
        Claim::Fresh(m) => m,
    };
    let outcome = change_invoice(&mut m, &tenant, &id, "adjustment", input).await;
    m.finish(outcome, &s.events).await
}

async fn change_invoice(
    m: &mut Mutation,
    tenant: &str,
    invoice_id: &str,
    kind: &str,
    input: ChangeIn,
) -> Result<Answer> {
    let invoice = store::billing::lock_invoice(m.conn(), tenant, invoice_id)
        .await?
        .ok_or_else(|| Error::not_found("invoice"))?;
    if let Some(line) = &input.line_id {
        let order = store::orders::get(m.conn(), tenant, &invoice.order_id).await?;
        if !order.is_some_and(|o| o.lines.iter().any(|l| &l.id == line)) {
            return Err(Error::unprocessable(
                "invoice.unknown_line",
                format!("the order has no line {line}"),
            ));
        }
    }
    let changes = store::billing::changes(m.conn(), tenant, &invoice.order_id).await?;
    let balance =
        changes
            .iter()
            .filter(|c| c.invoice_id == invoice.id)
            .fold(invoice.total_minor, |b, c| match c.kind.as_str() {
                "credit_note" => b - c.amount_minor,
                _ => b + c.amount_minor,
            });
    if kind == "credit_note" && input.amount_minor > balance {
        return Err(Error::unprocessable(
            "credit_note.exceeds_balance",
            format!(
                "{} exceeds the invoice's balance of {balance}",
                input.amount_minor
            ),
        )
        .with_extra("balance_minor", json!(balance)));
    }
    let prefix = if kind == "credit_note" { "cn" } else { "adj" };
    let change = InvoiceChange {
        id: new_id(prefix),
        invoice_id: invoice.id.clone(),
        order_id: invoice.order_id.clone(),
        kind: kind.into(),
        line_id: input.line_id,
        amount_minor: input.amount_minor,
        currency: invoice.currency.clone(),
        reason: input.reason,
        created_at: Utc::now(),
    };
    store::billing::insert_change(m.conn(), tenant, &change).await?;
    let detail = json!({ "id": change.id, "invoice_id": change.invoice_id,
                         "amount_minor": change.amount_minor, "line_id": change.line_id });
    m.effect(&change.order_id, &format!("billing.{kind}"), detail)
        .await?;
    Answer::new(StatusCode::CREATED, &change)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoreCreditIn {
    customer_id: String,
    order_id: String,
    amount_minor: i64,
    currency: String,
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /v1/store-credits` `{customer_id, order_id, amount_minor, currency, reason?}`: 201
/// the credit granted. Unknown order → 404; an order of another customer → 422
/// `store_credit.wrong_customer`.
async fn grant_store_credit(
    State(s): State<SandboxState>,
    Tenant(tenant): Tenant,
    IdempotencyKey(key): IdempotencyKey,
    Body(input): Body<StoreCreditIn>,
) -> Result<Response> {
    positive(input.amount_minor)?;
    let mut m = match idempotency::begin(&s.db, Service::Billing, &tenant, key).await? {
        Claim::Replay(answer) => return Ok(answer),
        Claim::Fresh(m) => m,
    };
    let outcome = grant(&mut m, &tenant, input).await;
    m.finish(outcome, &s.events).await
}

async fn grant(m: &mut Mutation, tenant: &str, input: StoreCreditIn) -> Result<Answer> {
    let order = store::orders::get(m.conn(), tenant, &input.order_id)
        .await?
        .ok_or_else(|| Error::not_found("order"))?;
    if order.customer_id != input.customer_id {
        return Err(Error::unprocessable(
            "store_credit.wrong_customer",
            "the order belongs to another customer",
        ));
    }
    let credit = StoreCredit {
        id: new_id("scr"),
        customer_id: input.customer_id,
        order_id: input.order_id,
        amount_minor: input.amount_minor,
        currency: input.currency,
        reason: input.reason,
        created_at: Utc::now(),
    };
    store::billing::insert_credit(m.conn(), tenant, &credit).await?;
    let detail = json!({ "id": credit.id, "customer_id": credit.customer_id,
                         "amount_minor": credit.amount_minor });
    m.effect(&credit.order_id, "billing.store_credit", detail)
        .await?;
    Answer::new(StatusCode::CREATED, &credit)
}

#[derive(Debug, Deserialize)]
struct CreditFilter {
    customer_id: Option<String>,
    order_id: Option<String>,
}

/// `GET /sandbox/store-credits?customer_id=&order_id=`: `{"data":[credit…],
/// "balance_minor"}`, oldest first.
async fn list_store_credits(
    State(s): State<SandboxState>,
    Tenant(tenant): Tenant,
    Params(f): Params<CreditFilter>,
) -> Result<Json<Value>> {
    let mut conn = s.db.acquire().await?;
    let (customer, order) = (f.customer_id.as_deref(), f.order_id.as_deref());
    let credits = store::billing::credits(&mut conn, &tenant, customer, order).await?;
    let balance: i64 = credits.iter().map(|c| c.amount_minor).sum();
    Ok(Json(json!({ "data": credits, "balance_minor": balance })))
}
