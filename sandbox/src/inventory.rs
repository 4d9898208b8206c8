//! The Inventory service (`/inventory/v1/...`): releases (stock back on the shelf),
//! reservations (their compensation) and stock levels.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::extract::{Body, IdempotencyKey, Tenant};
use super::idempotency::{self, Answer, Claim, Mutation};
use super::{SandboxState, new_id, store};
use crate::error::{Error, FieldError, Result};
use crate::service::Service;

pub fn routes() -> Router<SandboxState> {
    Router::new()
        .route("/v1/releases", post(create_release))
        .route("/v1/reservations", post(create_reservation))
        .route("/v1/stock/{sku}", get(get_stock))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StockLine {
    sku: String,
    qty: i64,
}

#[derive(Debug, Deserialize)]
struct LinesIn {
    order_id: String,
    lines: Vec<StockLine>,
}

#[derive(Debug, Serialize)]
struct LinesOut {
    id: String,
    order_id: String,
    lines: Vec<StockLine>,
}

/// `POST /v1/releases`: 201; the stock of each SKU grows by its qty.
async fn create_release(
    s: State<SandboxState>,
    t: Tenant,
    k: IdempotencyKey,
    b: Body<LinesIn>,
) -> Result<Response> {
    move_stock(s, t, k, b, Movement::Release).await
}

/// `POST /v1/reservations`: 201; the stock of each SKU shrinks by its qty (the
/// compensation of a release). Not enough stock → 409 `inventory.insufficient_stock`.
async fn create_reservation(
    s: State<SandboxState>,
    t: Tenant,
    k: IdempotencyKey,
    b: Body<LinesIn>,
) -> Result<Response> {
    move_stock(s, t, k, b, Movement::Reservation).await
}

#[derive(Clone, Copy)]
enum Movement {
    Release,
    Reservation,
}

async fn move_stock(
    State(s): State<SandboxState>,
    Tenant(tenant): Tenant,
    IdempotencyKey(key): IdempotencyKey,
    Body(input): Body<LinesIn>,
    movement: Movement,
) -> Result<Response> {
    validate(&input)?;
    let mut m = match idempotency::begin(&s.db, Service::Inventory, &tenant, key).await? {
        Claim::Replay(answer) => return Ok(answer),
        Claim::Fresh(m) => m,
    };
    let outcome = apply(&mut m, &tenant, input, movement).await;
    m.finish(outcome, &s.events).await
}

async fn apply(
    m: &mut Mutation,
    tenant: &str,
    input: LinesIn,
    movement: Movement,
) -> Result<Answer> {
    let (prefix, reason, sign) = match movement {
        Movement::Release => ("rel", "release", 1),
        Movement::Reservation => ("res", "reservation", -1),
    };
    let id = new_id(prefix);
    for line in &input.lines {
        let delta = sign * line.qty;
        if store::stock::adjust(m.conn(), tenant, &line.sku, delta)
            .await?
            .is_none()
        {
            return Err(Error::conflict(
                "inventory.insufficient_stock",
                format!("not enough stock of {} to reserve {}", line.sku, line.qty),
            ));
        }
        let (sku, order) = (&line.sku, Some(input.order_id.as_str()));
        store::stock::record_movement(m.conn(), tenant, sku, delta, reason, Some(&id), order)
            .await?;
    }
    let out = LinesOut {
        id,
        order_id: input.order_id,
        lines: input.lines,
    };
    let detail = json!({ "id": out.id, "lines": out.lines });
    m.effect(&out.order_id, &format!("inventory.{reason}"), detail)
        .await?;
    Answer::new(StatusCode::CREATED, &out)
}

fn validate(input: &LinesIn) -> Result<()> {
    let mut errors = Vec::new();
    if input.order_id.trim().is_empty() {
        errors.push(FieldError {
            field: "order_id".into(),
            message: "required".into(),
        });
    }
    if input.lines.is_empty() {
        errors.push(FieldError {
            field: "lines".into(),
            message: "at least one line".into(),
        });
    }
    for (i, line) in input.lines.iter().enumerate() {
        if line.sku.trim().is_empty() {
            errors.push(FieldError {
                field: format!("lines[{i}].sku"),
                message: "required".into(),
            });
        }
        if line.qty <= 0 {
            errors.push(FieldError {
                field: format!("lines[{i}].qty"),
                message: "must be greater than 0".into(),
            });
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::validation(errors))
    }
}

/// `GET /v1/stock/{sku}`: `{"sku","on_hand"}`; an unknown SKU → 404 `sku.not_found`.
async fn get_stock(
    State(s): State<SandboxState>,
    Tenant(tenant): Tenant,
    Path(sku): Path<String>,
) -> Result<Json<Value>> {
    let mut conn = s.db.acquire().await?;
    let on_hand = store::stock::on_hand(&mut conn, &tenant, &sku)
        .await?
        .ok_or_else(|| Error::not_found("sku"))?;
    Ok(Json(json!({ "sku": sku, "on_hand": on_hand })))
}
