//! `GET /v1/customer/orders/metrics`: what the caller has spent, per currency.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::auth::Customer;
use crate::api::extract::{ValidQuery, Validate, invalid};
use crate::db;
use crate::db::orders::SpendRow;
use crate::domain::order::{Money, is_currency_code};
use crate::error::Result;
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MetricsQuery {
    /// Only this ISO 4217 currency, e.g. `EUR`.
    pub currency: Option<String>,
}

impl Validate for MetricsQuery {
    /// The one currency asked for, if any.
    type Checked = Option<String>;

    fn validate(&self) -> Result<Option<String>> {
        match &self.currency {
            Some(c) if !is_currency_code(c) => Err(invalid(
                "currency",
                format!("{c:?} is not an ISO 4217 code such as EUR"),
            )),
            c => Ok(c.clone()),
        }
    }
}

/// The caller's orders in one currency. Cancelled orders count in neither the spend nor
/// `orders_count` (they are in `cancelled_count`); refunds of the others are subtracted.
#[derive(Debug, Serialize, ToSchema)]
pub struct CurrencyMetricsOut {
    pub currency: String,
    pub orders_count: i64,
    pub cancelled_count: i64,
    pub total_spend: Money,
    /// `total_spend / orders_count`, rounded to the minor unit.
    pub average_order_value: Money,
}

impl From<SpendRow> for CurrencyMetricsOut {
    fn from(r: SpendRow) -> Self {
        let money = |amount_minor| Money {
            amount_minor,
            currency: r.currency.clone(),
        };
        CurrencyMetricsOut {
            total_spend: money(r.total_spend_minor),
            average_order_value: money(r.average_order_value_minor),
            orders_count: r.orders_count,
            cancelled_count: r.cancelled_count,
            currency: r.currency,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderMetricsOut {
    /// One entry per currency the caller has ordered in, by currency code.
    pub data: Vec<CurrencyMetricsOut>,
}

/// The caller's total spend, number of orders and average order value per currency.
/// Cancelled orders are excluded from the spend, the count and the average; refunds are
/// subtracted from the spend. A guest token sees its one order only.
#[utoipa::path(get, path = "/v1/customer/orders/metrics", tag = "customer", params(MetricsQuery),
    security(("bearer" = [])),
    responses((status = 200, body = OrderMetricsOut), (status = 401, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)))]
pub async fn get_order_metrics(
    State(state): State<AppState>,
    who: Customer,
    ValidQuery(currency): ValidQuery<MetricsQuery>,
) -> Result<Json<OrderMetricsOut>> {
    let mut conn = state.db.acquire().await?;
    let only_order = who.scope_order_id.as_ref();
    let rows =
        db::orders::spend_by_currency(&mut conn, &who.tenant_id, &who.customer_id, only_order)
            .await?;
    let data = rows
        .into_iter()
        .filter(|r| currency.as_ref().is_none_or(|c| *c == r.currency))
        .map(CurrencyMetricsOut::from)
        .collect();
    Ok(Json(OrderMetricsOut { data }))
}
