//! The Returns API of the Fulfillment service (`/fulfillment/v1/returns`): RMAs for returns
//! and exchanges of delivered lines, each with a printable return label.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::extract::{Body, IdempotencyKey, Params, Tenant};
use super::fulfillment::OrderParams;
use super::idempotency::{self, Answer, Claim, Mutation};
use super::{SandboxState, new_id, store};
use crate::error::{Error, FieldError, Result};
use crate::service::Service;
use crate::wire::{Order, Rma, RmaKind, RmaLine};

/// What an id may hold unencoded in a label URL: the unreserved characters (RFC 3986), so a
/// caller's RMA id with `/`, `?` or `#` stays one path segment.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// How the parcel goes back.
const METHODS: [&str; 2] = ["pickup", "dropoff"];

pub fn routes() -> Router<SandboxState> {
    Router::new()
        .route("/v1/returns", get(list_returns).post(create_return))
        .route("/v1/returns/{id}", get(get_return))
        .route("/v1/returns/{id}/label", get(get_label))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RmaIn {
    /// The caller's id for the RMA (`rma_…`); a repeat with the same id answers the RMA.
    id: Option<String>,
    order_id: String,
    kind: RmaKind,
    method: String,
    #[serde(default)]
    preferred_refund: Option<String>,
    lines: Vec<RmaLine>,
}

/// `POST /v1/returns`: 201 the RMA (`status: requested`, `label_url`, `instructions`). An
/// RMA with the given `id` already → 200 with it. Unknown order → 404; a line not
/// delivered or more units than delivered minus earlier RMAs → 409 `return.not_returnable`.
async fn create_return(
    State(s): State<SandboxState>,
    Tenant(tenant): Tenant,
    IdempotencyKey(key): IdempotencyKey,
    headers: HeaderMap,
    Body(input): Body<RmaIn>,
) -> Result<Response> {
    validate(&input)?;
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1:8081")
        .to_string();
    let mut m = match idempotency::begin(&s.db, Service::Fulfillment, &tenant, key).await? {
        Claim::Replay(answer) => return Ok(answer),
        Claim::Fresh(m) => m,
    };
    let outcome = create(&mut m, &tenant, &host, input).await;
    m.finish(outcome, &s.events).await
}

async fn create(m: &mut Mutation, tenant: &str, host: &str, input: RmaIn) -> Result<Answer> {
    // the order's row lock serializes RMAs of one order, so two cannot both take the
    // last returnable unit
    let order = store::orders::lock(m.conn(), tenant, &input.order_id)
        .await?
        .ok_or_else(|| Error::not_found("order"))?
        .order;
    if let Some(id) = &input.id
        && let Some(existing) = store::returns::get(m.conn(), tenant, id).await?
    {
        if existing.order_id != input.order_id {
            return Err(Error::conflict(
                "return.id_conflict",
                "this RMA id belongs to another order",
            ));
        }
        return Answer::new(StatusCode::OK, &existing);
    }
    let earlier = store::returns::list_for_order(m.conn(), tenant, &order.id).await?;
    let open = earlier.iter().filter(|r| r.status != "cancelled");
    let taken = units_by_line(
        open.flat_map(|r| &r.lines)
            .map(|l| (l.line_id.as_str(), l.qty)),
    );
    let delivered = delivered_units(&order);
    let asked = units_by_line(input.lines.iter().map(|l| (l.line_id.as_str(), l.qty)));
    let line_errors: Vec<Value> = asked
        .iter()
        .filter_map(|(line_id, qty)| {
            let units = delivered.get(line_id).copied().unwrap_or(0);
            let left = units - taken.get(line_id).copied().unwrap_or(0);
            (*qty > left)
                .then(|| json!({"line_id": line_id, "delivered": units, "returnable": left.max(0)}))
        })
        .collect();
    if !line_errors.is_empty() {
        return Err(Error::conflict(
            "return.not_returnable",
            "some lines are not delivered or have fewer returnable units than asked",
        )
        .with_extra("line_errors", Value::Array(line_errors)));
    }
    let id = input.id.unwrap_or_else(|| new_id("rma"));
    let rma = Rma {
        label_url: Some(format!(
            "http://{host}/fulfillment/v1/returns/{}/label",
            utf8_percent_encode(&id, PATH_SEGMENT)
        )),
        instructions: instructions(input.kind, &input.method),
        id,
        order_id: order.id.clone(),
        kind: input.kind,
        status: "requested".into(),
        method: input.method,
        preferred_refund: input.preferred_refund,
        lines: input.lines,
        created_at: Utc::now(),
        approval: None,
        inspections: Vec::new(),
    };
    store::returns::insert(m.conn(), tenant, &rma).await?;
    let detail = json!({ "id": rma.id, "kind": rma.kind, "lines": rma.lines });
    m.effect(&order.id, "return.create", detail).await?;
    Answer::new(StatusCode::CREATED, &rma)
}

fn validate(input: &RmaIn) -> Result<()> {
    let mut errors = Vec::new();
    let mut bad = |field: String, message: &str| {
        errors.push(FieldError {
            field,
            message: message.into(),
        })
    };
    if input.order_id.trim().is_empty() {
        bad("order_id".into(), "required");
    }
    if input
        .id
        .as_deref()
        .is_some_and(|id| id.trim().is_empty() || id.len() > 64)
    {
        bad("id".into(), "1 to 64 characters");
    }
    if !METHODS.contains(&input.method.as_str()) {
        bad("method".into(), "pickup or dropoff");
    }
    if input.lines.is_empty() || input.lines.len() > 100 {
        bad("lines".into(), "1 to 100 lines");
    }
    for (i, l) in input.lines.iter().enumerate() {
        if l.line_id.trim().is_empty() {
            bad(format!("lines[{i}].line_id"), "required");
        }
        if l.qty <= 0 {
            bad(format!("lines[{i}].qty"), "must be greater than 0");
        }
        if l.reason.trim().is_empty() {
            bad(format!("lines[{i}].reason"), "required");
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::validation(errors))
    }
}

/// `GET /v1/returns?order_id=`: `{"data":[rma…]}`, oldest first.
async fn list_returns(
    State(s): State<SandboxState>,
    Tenant(tenant): Tenant,
    Params(p): Params<OrderParams>,
) -> Result<Json<Value>> {
    let order_id = p.required()?;
    let mut conn = s.db.acquire().await?;
    let rmas = store::returns::list_for_order(&mut conn, &tenant, &order_id).await?;
    Ok(Json(json!({ "data": rmas })))
}

/// `GET /v1/returns/{id}`: the RMA, or 404 `return.not_found`.
async fn get_return(
    State(s): State<SandboxState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<Json<Rma>> {
    let mut conn = s.db.acquire().await?;
    store::returns::get(&mut conn, &tenant, &id)
        .await?
        .map(Json)
        .ok_or_else(|| Error::not_found("return"))
}

/// `GET /v1/returns/{id}/label`: the return label as a one-page PDF. Label links are
/// bearer links (carriers print them without credentials), so no `X-Tenant-ID` is needed.
async fn get_label(State(s): State<SandboxState>, Path(id): Path<String>) -> Result<Response> {
    let mut conn = s.db.acquire().await?;
    let rma = store::returns::by_label_id(&mut conn, &id)
        .await?
        .ok_or_else(|| Error::not_found("return"))?;
    let pdf = label_pdf(&rma);
    Ok(([(header::CONTENT_TYPE, "application/pdf")], pdf).into_response())
}

/// Units per line id, summed over `lines`.
fn units_by_line<'a>(lines: impl Iterator<Item = (&'a str, i32)>) -> HashMap<&'a str, i32> {
    let mut out = HashMap::new();
    for (line_id, qty) in lines {
        *out.entry(line_id).or_default() += qty;
    }
    out
}

/// Delivered units per line id of `order`.
fn delivered_units(order: &Order) -> HashMap<&str, i32> {
    let delivered = order.shipments.iter().filter(|s| s.delivered_at.is_some());
    units_by_line(
        delivered
            .flat_map(|s| &s.lines)
            .map(|l| (l.line_id.as_str(), l.qty)),
    )
}

/// What the customer does next, by return method.
fn instructions(kind: RmaKind, method: &str) -> String {
    let what = match kind {
        RmaKind::Return => "the items you return",
        RmaKind::Exchange => "the items you exchange",
    };
    match method {
        "pickup" => format!(
            "Pack {what} in their original packaging and attach the return label. \
             A courier will contact you to arrange the pickup."
        ),
        _ => format!(
            "Pack {what} in their original packaging, attach the return label and drop \
             the parcel at any carrier drop-off point within 14 days."
        ),
    }
}

/// A minimal valid PDF (one page, Helvetica) naming the RMA, its order and its lines.
fn label_pdf(rma: &Rma) -> Vec<u8> {
    let esc = |s: &str| {
        s.replace('\\', "\\\\")
            .replace('(', "\\(")
            .replace(')', "\\)")
    };
    let mut text = vec![
        "RETURN LABEL".to_string(),
        format!("RMA {}", rma.id),
        format!("Order {}", rma.order_id),
        format!("Method: {}", rma.method),
    ];
    text.extend(
        rma.lines
            .iter()
            .map(|l| format!("{} x {}", l.qty, l.line_id)),
    );
    let mut content = String::from("BT /F1 12 Tf 24 400 Td 16 TL\n");
    for t in text {
        content.push_str(&format!("({}) Tj T*\n", esc(&t)));
    }
    content.push_str("ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 288 432] /Contents 4 0 R \
         /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_string(),
        format!(
            "<< /Length {} >>\nstream\n{content}\nendstream",
            content.len()
        ),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
    ];
    let mut out = String::from("%PDF-1.4\n");
    let mut offsets = Vec::new();
    for (i, obj) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.push_str(&format!("{} 0 obj\n{obj}\nendobj\n", i + 1));
    }
    let xref = out.len();
    out.push_str(&format!(
        "xref\n0 {}\n0000000000 65535 f \n",
        objects.len() + 1
    ));
    for o in offsets {
        out.push_str(&format!("{o:010} 00000 n \n"));
    }
    out.push_str(&format!(
        "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
        objects.len() + 1
    ));
    out.into_bytes()
}
