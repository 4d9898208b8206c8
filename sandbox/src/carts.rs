//! The Orders service's catalog and carts (`/orders/v1/catalog/{sku}`, `/orders/v1/carts`),
//! plus the sandbox-only `PUT /sandbox/catalog/{sku}` that reprices or discontinues a SKU.
//! Seeding lists every SKU of the seeded orders at the price it was sold for.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::extract::{Body, IdempotencyKey, Params, Tenant};
use super::idempotency::{self, Answer, Claim, Mutation};
use super::store::commerce::{self as store, CatalogRow};
use super::{SandboxState, new_id};
use crate::error::{Error, FieldError, Result};
use crate::service::Service;

/// Most lines one cart may be created with.
const MAX_CART_LINES: usize = 100;

pub fn routes() -> Router<SandboxState> {
    Router::new()
        .route("/v1/catalog/{sku}", get(get_catalog_item))
        .route("/v1/carts", post(create_cart))
        .route("/v1/carts/{id}", get(get_cart))
}

/// Mounted under `/sandbox`, without fault injection.
pub fn sandbox_routes() -> Router<SandboxState> {
    Router::new().route("/catalog/{sku}", put(set_catalog_item))
}

#[derive(Debug, Deserialize)]
struct CurrencyParam {
    currency: String,
}

/// `GET /v1/catalog/{sku}?currency=EUR`: `{"sku","name","currency","price_minor",
/// "discontinued"}`; not sold in that currency (or at all) → 404 `sku.not_found`.
async fn get_catalog_item(
    State(s): State<SandboxState>,
    Tenant(tenant): Tenant,
    Path(sku): Path<String>,
    Params(p): Params<CurrencyParam>,
) -> Result<Json<CatalogRow>> {
    let mut conn = s.db.acquire().await?;
    store::catalog_item(&mut conn, &tenant, &sku, &p.currency.to_ascii_uppercase())
        .await?
        .map(Json)
        .ok_or_else(|| Error::not_found("sku"))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogIn {
    currency: String,
    name: Option<String>,
    price_minor: Option<i64>,
    discontinued: Option<bool>,
}

/// `PUT /sandbox/catalog/{sku}` `{"currency","name"?,"price_minor"?,"discontinued"?}`: sets
/// the entry (a new one needs `name` and `price_minor`).
async fn set_catalog_item(
    State(s): State<SandboxState>,
    Tenant(tenant): Tenant,
    Path(sku): Path<String>,
    Body(input): Body<CatalogIn>,
) -> Result<Json<CatalogRow>> {
    if input.price_minor.is_some_and(|p| p < 0) {
        return Err(invalid("price_minor", "must not be negative"));
    }
    let currency = input.currency.to_ascii_uppercase();
    let mut conn = s.db.acquire().await?;
    let (name, price) = (input.name.as_deref(), input.price_minor);
    store::set_catalog_item(
        &mut conn,
        &tenant,
        &sku,
        &currency,
        name,
        price,
        input.discontinued,
    )
    .await?
    .map(Json)
    .ok_or_else(|| {
        invalid(
            "price_minor",
            "a new catalog entry needs name and price_minor",
        )
    })
}

fn invalid(field: &str, message: &str) -> Error {
    Error::validation(vec![FieldError {
        field: field.into(),
        message: message.into(),
    }])
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CartLineIn {
    sku: String,
    qty: i64,
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    ref_: Option<String>,
}

#[derive(Debug, Deserialize)]
struct CartIn {
    customer_id: String,
    currency: String,
    #[serde(default)]
    source_order_id: Option<String>,
    lines: Vec<CartLineIn>,
}

fn validate(input: &CartIn) -> Result<()> {
    let mut errors = Vec::new();
    let mut bad = |field: String, message: &str| {
        errors.push(FieldError {
            field,
            message: message.into(),
        })
    };
    if input.customer_id.trim().is_empty() {
        bad("customer_id".into(), "required");
    }
    if !(input.currency.len() == 3 && input.currency.bytes().all(|b| b.is_ascii_uppercase())) {
        bad("currency".into(), "an ISO 4217 code such as EUR");
    }
    if input.lines.is_empty() || input.lines.len() > MAX_CART_LINES {
        bad("lines".into(), "1 to 100 lines");
    }
    for (i, line) in input.lines.iter().enumerate() {
        if line.sku.trim().is_empty() {
            bad(format!("lines[{i}].sku"), "required");
        }
        if !(1..=999).contains(&line.qty) {
            bad(format!("lines[{i}].qty"), "1 to 999");
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::validation(errors))
    }
}

/// `POST /v1/carts` `{"customer_id","currency","source_order_id"?,"lines":[{"sku","qty","ref"?}]}`:
/// 201 the cart, each line priced by the catalog now; lines it cannot add are listed in
/// `rejected` (`cart.sku_discontinued`, `cart.sku_unknown`); none addable → 409
/// `cart.nothing_addable`. Stock is not reserved.
async fn create_cart(
    State(s): State<SandboxState>,
    Tenant(tenant): Tenant,
    IdempotencyKey(key): IdempotencyKey,
    Body(input): Body<CartIn>,
) -> Result<Response> {
    validate(&input)?;
    let mut m = match idempotency::begin(&s.db, Service::Orders, &tenant, key).await? {
        Claim::Replay(answer) => return Ok(answer),
        Claim::Fresh(m) => m,
    };
    let outcome = build_cart(&mut m, &tenant, input).await;
    m.finish(outcome, &s.events).await
}

async fn build_cart(m: &mut Mutation, tenant: &str, input: CartIn) -> Result<Answer> {
    let (mut lines, mut rejected) = (Vec::new(), Vec::new());
    for line in &input.lines {
        let item = store::catalog_item(m.conn(), tenant, &line.sku, &input.currency).await?;
        let refusal = match &item {
            None => Some(("cart.sku_unknown", "not sold in this currency")),
            Some(i) if i.discontinued => Some(("cart.sku_discontinued", "no longer sold")),
            Some(_) => None,
        };
        match (item, refusal) {
            (Some(i), None) => lines.push(json!({
                "sku": i.sku, "name": i.name, "qty": line.qty,
                "unit_price_minor": i.price_minor, "total_minor": i.price_minor * line.qty,
                "ref": line.ref_,
            })),
            (_, refusal) => {
                let (code, message) = refusal.unwrap_or(("cart.sku_unknown", "unknown"));
                rejected.push(json!({
                    "sku": line.sku, "qty": line.qty, "code": code, "message": message,
                    "ref": line.ref_,
                }));
            }
        }
    }
    if lines.is_empty() {
        return Err(Error::conflict(
            "cart.nothing_addable",
            "none of the lines can be added to a cart",
        )
        .with_extra("rejected", Value::Array(rejected)));
    }
    let subtotal: i64 = lines.iter().filter_map(|l| l["total_minor"].as_i64()).sum();
    let id = new_id("cart");
    let cart = json!({
        "id": id, "customer_id": input.customer_id, "currency": input.currency,
        "source_order_id": input.source_order_id, "lines": lines, "rejected": rejected,
        "subtotal_minor": subtotal, "created_at": Utc::now(),
    });
    store::insert_cart(m.conn(), tenant, &id, &input.customer_id, &cart).await?;
    let order_id = input.source_order_id.as_deref().unwrap_or("");
    let detail = json!({ "cart_id": id, "lines": lines.len(), "rejected": rejected.len() });
    m.effect(order_id, "cart.create", detail).await?;
    Answer::new(StatusCode::CREATED, &cart)
}

/// `GET /v1/carts/{id}`: the cart; another tenant's → 404 `cart.not_found`.
async fn get_cart(
    State(s): State<SandboxState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    let mut conn = s.db.acquire().await?;
    store::cart(&mut conn, &tenant, &id)
        .await?
        .map(Json)
        .ok_or_else(|| Error::not_found("cart"))
}
