//! `GET /v1/customer/orders/{order_id}/faq`: help entries chosen by the order's state.

use axum::Json;
use axum::extract::State;
use chrono::Utc;
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::auth::Customer;
use crate::api::extract::{Path, Strict};
use crate::domain::faq::{self, FaqEntry};
use crate::domain::ids::OrderId;
use crate::error::Result;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct FaqOut {
    /// Most pressing first; the last one always says how to reach support.
    pub data: Vec<FaqEntry>,
}

/// Questions the customer likely has about this order now (late delivery, return window,
/// cancellation, hold, refund…), answered from the tenant's rules.
#[utoipa::path(get, path = "/v1/customer/orders/{order_id}/faq", tag = "customer",
    params(("order_id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = FaqOut), (status = 401, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn get_faq(
    State(state): State<AppState>,
    who: Customer,
    Path(Strict(order_id)): Path<Strict<OrderId>>,
) -> Result<Json<FaqOut>> {
    let read = who.own_order_read(&state, &order_id, 0).await?;
    let settings = state.tenant_settings.get(&state.db, &who.tenant_id).await?;
    Ok(Json(FaqOut {
        data: faq::entries(&read.order, &settings, Utc::now()),
    }))
}
