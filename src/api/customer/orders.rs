//! A customer's own orders: list and detail, served from the read model (detail: one query
//! for the order, its tenant's settings and, with `expand=events`, its events; only
//! `expand=invoices` asks an upstream, the Billing service).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::{IntoParams, ToSchema};

pub use super::order_parts::{EventOut, InvoiceOut, ShipmentLineOut, ShipmentOut, shipment_out};
use super::order_parts::{events_out, invoices};
use crate::api::auth::Customer;
use crate::api::extract::{Path, Strict};
use crate::api::extract::{Query, ValidQuery, Validate, invalid};
use crate::api::precondition::{version_etag, with_etag};
use crate::api::shared::{bounded_limit, decode_cursor, page_of};
use crate::db;
use crate::db::orders::OrderRead;
use crate::domain::eligibility::{ActionVerdict, allowed_actions};
use crate::domain::fulfillment::primary_shipment_status;
use crate::domain::ids::OrderId;
use crate::domain::order::{Address, Order, OrderStatus, Totals};
use crate::error::{Error, FieldError, Result};
use crate::state::AppState;

/// Events `expand=events` returns at most (the newest).
const EVENTS_IN_DETAIL: i64 = 50;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListOrdersQuery {
    /// One of the order statuses.
    pub status: Option<String>,
    /// Placed at or after (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Placed before (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// Where the order was placed: `web`, `app`, `pos`, `marketplace`, …
    pub channel: Option<String>,
    /// 1 to 100, default 20.
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page number, from 1 (at most 1,000), of `limit` orders each: beside `cursor`, never
    /// with it. Pages shift when an order arrives between two reads; `cursor` does not.
    pub page: Option<i64>,
}

/// The page numbers `page` accepts: an offset costs what it skips.
const MAX_PAGE: i64 = 1_000;

/// The filter of the caller's orders (its guest scope is set by the handler), the page
/// size, and the page number when paging by number.
pub struct OrderListing {
    pub filter: db::orders::ListFilter,
    pub limit: i64,
    pub page: Option<i64>,
}

impl Validate for ListOrdersQuery {
    type Checked = OrderListing;

    fn validate(&self) -> Result<Self::Checked> {
        let limit = bounded_limit(self.limit, 20, 100)?;
        if let Some(s) = &self.status
            && OrderStatus::parse(s).is_none()
        {
            return Err(invalid("status", format!("unknown status {s:?}")));
        }
        if self
            .channel
            .as_deref()
            .is_some_and(|c| c.is_empty() || c.len() > 64)
        {
            return Err(invalid("channel", "1 to 64 characters"));
        }
        let offset = match (self.page, &self.cursor) {
            (Some(_), Some(_)) => {
                return Err(invalid("page", "page and cursor exclude each other"));
            }
            (Some(p), None) if !(1..=MAX_PAGE).contains(&p) => {
                return Err(invalid("page", format!("must be between 1 and {MAX_PAGE}")));
            }
            (page, _) => (page.unwrap_or(1) - 1) * limit,
        };
        let filter = db::orders::ListFilter {
            status: self.status.clone(),
            from: self.from,
            to: self.to,
            channel: self.channel.clone(),
            after: self.cursor.as_deref().map(decode_cursor).transpose()?,
            limit: limit + 1,
            offset,
            only_order: None,
        };
        Ok(OrderListing {
            filter,
            limit,
            page: self.page,
        })
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GetOrderQuery {
    /// Comma-separated: `lines`, `shipments`, `events` (the newest 50, oldest first) and
    /// `invoices` (asks the Billing service: 503 `invoices.unavailable` when it is down).
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

/// An order as its customer sees it: no internal fields.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerOrderOut {
    /// What the list shows of the order.
    #[serde(flatten)]
    pub summary: OrderSummaryOut,
    /// Grows with every change of the order; the detail's `ETag` is this version, quoted.
    /// Send it back (`If-Match`, or `version` in the body) with an address change.
    pub version: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lines: Option<Vec<LineOut>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipments: Option<Vec<ShipmentOut>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoices: Option<Vec<InvoiceOut>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<EventOut>>,
    /// Detail only: each self-service action (`cancel`, `return`, `replace`, `reorder`,
    /// `update_address`, `apply_coupon`) with whether it is allowed now and, if not, the
    /// code its own endpoint answers with.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<BTreeMap<String, ActionVerdict>>)]
    pub allowed_actions: Option<BTreeMap<&'static str, ActionVerdict>>,
}

/// An order as the customer's list shows it (and the detail begins with): its header, no
/// lines, shipments or actions.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderSummaryOut {
    #[schema(value_type = String)]
    pub id: OrderId,
    pub number: String,
    pub status: OrderStatus,
    pub currency: String,
    pub placed_at: DateTime<Utc>,
    pub totals: Totals,
    pub refunded_minor: i64,
    pub item_count: i32,
    pub shipping_address: Address,
    /// `web`, `app`, `pos`, `marketplace`, …; absent when unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// The least advanced status among the order's shipments (`label_created`,
    /// `in_transit`, `out_for_delivery`, `delivered`): what the customer still waits for.
    /// `null` while nothing shipped.
    pub primary_shipment_status: Option<String>,
}

impl From<Order> for OrderSummaryOut {
    fn from(o: Order) -> Self {
        OrderSummaryOut {
            refunded_minor: o.payments.iter().map(|p| p.refunded_minor).sum(),
            item_count: o.lines.iter().map(|l| l.qty).sum(),
            primary_shipment_status: primary_shipment_status(&o).map(str::to_string),
            id: o.id,
            number: o.number,
            status: o.status,
            currency: o.currency,
            placed_at: o.placed_at,
            totals: o.totals,
            shipping_address: o.shipping_address,
            channel: o.channel,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderListOut {
    pub data: Vec<OrderSummaryOut>,
    /// The page after this one by cursor; `null` on the last page.
    pub next_cursor: Option<String>,
    /// With `page` paging: the next page's number; `null` on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page: Option<i64>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Expand {
    lines: bool,
    shipments: bool,
    invoices: bool,
    events: bool,
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
            "invoices" => e.invoices = true,
            "events" => e.events = true,
            other => {
                return Err(Error::validation(vec![FieldError {
                    field: "expand".into(),
                    message: format!(
                        "unknown expansion {other:?}; allowed: lines, shipments, invoices, events"
                    ),
                }]));
            }
        }
    }
    Ok(e)
}

/// The order as its customer sees it, without expansions: what a customer's stale edit
/// answers as the current order.
pub fn customer_order_view(o: Order) -> serde_json::Value {
    serde_json::to_value(customer_view(o, Expand::default())).unwrap_or_default()
}

fn customer_view(o: Order, expand: Expand) -> CustomerOrderOut {
    CustomerOrderOut {
        version: o.version,
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
        shipments: expand
            .shipments
            .then(|| o.shipments.iter().map(|s| shipment_out(&o, s)).collect()),
        invoices: None,
        events: None,
        allowed_actions: None,
        summary: OrderSummaryOut::from(o),
    }
}

/// Lists the caller's orders, newest first, as summaries (a guest token: its one order).
/// Pages by `cursor` or by `page` number, not both.
#[utoipa::path(get, path = "/v1/customer/orders", tag = "customer", params(ListOrdersQuery),
    security(("bearer" = [])),
    responses((status = 200, body = OrderListOut), (status = 400, body = crate::error::Problem),
              (status = 401, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn list_orders(
    State(state): State<AppState>,
    who: Customer,
    ValidQuery(OrderListing {
        mut filter,
        limit,
        page,
    }): ValidQuery<ListOrdersQuery>,
) -> Result<Json<OrderListOut>> {
    filter.only_order = who.scope_order_id.clone();
    let (tenant, customer) = (&who.tenant_id, &who.customer_id);
    let mut conn = state.db.acquire().await?;
    let orders = db::orders::list_for_customer(&mut conn, tenant, customer, &filter).await?;
    let (orders, next_cursor) = page_of(orders, limit, |o| (o.placed_at, o.id.clone()));
    let next_page = page.filter(|_| next_cursor.is_some()).map(|p| p + 1);
    let data = orders.into_iter().map(OrderSummaryOut::from).collect();
    Ok(Json(OrderListOut {
        data,
        next_cursor,
        next_page,
    }))
}

/// One of the caller's orders, always with `allowed_actions`, and its version as a strong
/// `ETag` (`"7"`); another customer's or tenant's is a 404.
#[utoipa::path(get, path = "/v1/customer/orders/{order_id}", tag = "customer", params(("order_id" = String, Path), GetOrderQuery),
    security(("bearer" = [])),
    responses((status = 200, body = CustomerOrderOut, headers(("ETag" = String))), (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem), (status = 502, body = crate::error::Problem), (status = 503, body = crate::error::Problem)))]
pub async fn get_order(
    State(state): State<AppState>,
    who: Customer,
    Path(Strict(order_id)): Path<Strict<OrderId>>,
    Query(q): Query<GetOrderQuery>,
) -> Result<Response> {
    let expand = parse_expand(q.expand.as_deref())?;
    let events_limit = if expand.events { EVENTS_IN_DETAIL } else { 0 };
    let read = who.own_order_read(&state, &order_id, events_limit).await?;
    let invoices = if expand.invoices {
        Some(invoices(&state, &who.tenant_id, &order_id).await?)
    } else {
        None
    };
    let settings = state.tenant_settings.get(&state.db, &who.tenant_id).await?;
    let actions = allowed_actions(&read.order, &settings, Utc::now());
    let mut out = customer_view(read.order, expand);
    out.allowed_actions = Some(actions);
    out.invoices = invoices;
    out.events = expand.events.then(|| events_out(&read.events));
    Ok(with_etag(&version_etag(out.version), Json(out)))
}

impl Customer {
    /// 404 when a guest token is scoped to another order.
    pub(crate) fn may_see(&self, order_id: &str) -> Result<()> {
        match &self.scope_order_id {
            Some(scoped) if scoped.as_str() != order_id => Err(Error::not_found("order")),
            _ => Ok(()),
        }
    }

    /// The caller's order from the read model, or 404 (also for others' orders).
    pub async fn own_order(&self, state: &AppState, order_id: &OrderId) -> Result<Order> {
        let mut conn = state.db.acquire().await?;
        self.own_order_on(&mut conn, order_id).await
    }

    /// [`Self::own_order`] on a connection the caller goes on using (each connection
    /// taken from the pool costs a round trip when it goes back).
    pub async fn own_order_on(&self, conn: &mut PgConnection, order_id: &OrderId) -> Result<Order> {
        self.may_see(order_id.as_str())?;
        db::orders::get(conn, &self.tenant_id, order_id, Some(&self.customer_id))
            .await?
            .ok_or_else(|| Error::not_found("order"))
    }

    /// The caller's order with up to `events_limit` newest
    /// customer-visible events, in one query; 404 for anyone else's order (a malformed id
    /// never gets here: see `extract::Strict`).
    pub async fn own_order_read(
        &self,
        state: &AppState,
        order_id: &OrderId,
        events_limit: i64,
    ) -> Result<OrderRead> {
        self.may_see(order_id.as_str())?;
        let mut conn = state.reads.acquire().await?;
        let read = db::orders::get_for_read(
            &mut conn,
            &self.tenant_id,
            order_id,
            Some(&self.customer_id),
            events_limit,
        )
        .await?;
        conn.done();
        read.ok_or_else(|| Error::not_found("order"))
    }
}
