//! A customer's own orders: list and detail, served from the read model.

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::auth::Customer;
use crate::api::extract::Query;
use crate::api::shared::{bounded_limit, decode_cursor, encode_cursor};
use crate::db;
use crate::domain::order::{Address, Order, OrderStatus, Totals};
use crate::error::{Error, FieldError, Result};
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListOrdersQuery {
    /// One of the order statuses.
    pub status: Option<String>,
    /// Placed at or after (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Placed before (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// 1 to 100, default 20.
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GetOrderQuery {
    /// Comma-separated: `lines`, `shipments`.
    pub expand: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LineOut {
    pub id: String,
    pub sku: String,
    pub name: String,
    pub qty: i32,
    pub unit_price_minor: i64,
    pub total_minor: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ShipmentOut {
    pub id: String,
    pub carrier: String,
    pub tracking_number: String,
    pub status: String,
    pub shipped_at: Option<DateTime<Utc>>,
    pub eta: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// An order as its customer sees it: no internal fields.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerOrderOut {
    pub id: String,
    pub number: String,
    pub status: OrderStatus,
    pub currency: String,
    pub placed_at: DateTime<Utc>,
    pub totals: Totals,
    pub refunded_minor: i64,
    pub item_count: i32,
    pub shipping_address: Address,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lines: Option<Vec<LineOut>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipments: Option<Vec<ShipmentOut>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderListOut {
    pub data: Vec<CustomerOrderOut>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Expand {
    lines: bool,
    shipments: bool,
}

fn parse_expand(expand: Option<&str>) -> Result<Expand> {
    let mut e = Expand::default();
    for part in expand
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        match part {
            "lines" => e.lines = true,
            "shipments" => e.shipments = true,
            other => {
                return Err(Error::validation(vec![FieldError {
                    field: "expand".into(),
                    message: format!("unknown expansion {other:?}; allowed: lines, shipments"),
                }]));
            }
        }
    }
    Ok(e)
}

fn customer_view(o: Order, expand: Expand) -> CustomerOrderOut {
    CustomerOrderOut {
        refunded_minor: o.payments.iter().map(|p| p.refunded_minor).sum(),
        item_count: o.lines.iter().map(|l| l.qty).sum(),
        lines: expand.lines.then(|| {
            o.lines
                .iter()
                .map(|l| LineOut {
                    id: l.id.clone(),
                    sku: l.sku.clone(),
                    name: l.name.clone(),
                    qty: l.qty,
                    unit_price_minor: l.unit_price_minor,
                    total_minor: l.total_minor,
                })
                .collect()
        }),
        shipments: expand.shipments.then(|| {
            o.shipments
                .iter()
                .map(|s| ShipmentOut {
                    id: s.id.clone(),
                    carrier: s.carrier.clone(),
                    tracking_number: s.tracking_number.clone(),
                    status: s.status.clone(),
                    shipped_at: s.shipped_at,
                    eta: s.eta,
                    delivered_at: s.delivered_at,
                })
                .collect()
        }),
        id: o.id,
        number: o.number,
        status: o.status,
        currency: o.currency,
        placed_at: o.placed_at,
        totals: o.totals,
        shipping_address: o.shipping_address,
    }
}

/// Lists the caller's orders, newest first (a guest token: its one order).
#[utoipa::path(get, path = "/v1/customer/orders", tag = "customer", params(ListOrdersQuery),
    security(("bearer" = [])),
    responses((status = 200, body = OrderListOut), (status = 400, body = crate::error::Problem),
              (status = 401, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn list_orders(
    State(state): State<AppState>,
    who: Customer,
    Query(q): Query<ListOrdersQuery>,
) -> Result<Json<OrderListOut>> {
    let limit = bounded_limit(q.limit, 20, 100)?;
    if let Some(s) = &q.status
        && OrderStatus::parse(s).is_none()
    {
        return Err(Error::validation(vec![FieldError {
            field: "status".into(),
            message: format!("unknown status {s:?}"),
        }]));
    }
    let filter = db::orders::ListFilter {
        status: q.status,
        from: q.from,
        to: q.to,
        after: q.cursor.as_deref().map(decode_cursor).transpose()?,
        limit: limit + 1,
        only_order: who.scope_order_id.clone(),
    };
    let mut conn = state.db.acquire().await?;
    let mut orders =
        db::orders::list_for_customer(&mut conn, &who.tenant_id, &who.customer_id, &filter).await?;
    let next_cursor = if orders.len() as i64 > limit {
        orders.truncate(limit as usize);
        orders.last().map(|o| encode_cursor(&(o.placed_at, &o.id)))
    } else {
        None
    };
    let data = orders
        .into_iter()
        .map(|o| customer_view(o, Expand::default()))
        .collect();
    Ok(Json(OrderListOut { data, next_cursor }))
}

/// One of the caller's orders; another customer's or tenant's is a 404.
#[utoipa::path(get, path = "/v1/customer/orders/{order_id}", tag = "customer", params(("order_id" = String, Path), GetOrderQuery),
    security(("bearer" = [])),
    responses((status = 200, body = CustomerOrderOut), (status = 404, body = crate::error::Problem), (status = 401, body = crate::error::Problem)))]
pub async fn get_order(
    State(state): State<AppState>,
    who: Customer,
    Path(order_id): Path<String>,
    Query(q): Query<GetOrderQuery>,
) -> Result<Json<CustomerOrderOut>> {
    let expand = parse_expand(q.expand.as_deref())?;
    let order = who.own_order(&state, &order_id).await?;
    Ok(Json(customer_view(order, expand)))
}

impl Customer {
    /// The caller's order from the read model, or 404 (also for others' orders).
    pub async fn own_order(&self, state: &AppState, order_id: &str) -> Result<Order> {
        if self
            .scope_order_id
            .as_deref()
            .is_some_and(|scoped| scoped != order_id)
        {
            return Err(Error::not_found("order"));
        }
        let mut conn = state.db.acquire().await?;
        db::orders::get(
            &mut conn,
            &self.tenant_id,
            order_id,
            Some(&self.customer_id),
        )
        .await?
        .ok_or_else(|| Error::not_found("order"))
    }
}
