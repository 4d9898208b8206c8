//! `GET /v1/customer/orders/{order_id}/timeline`: what happened to the order, oldest first,
//! with titles a UI can show as they are.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::auth::Customer;
use crate::api::extract::{Path, Strict, ValidQuery, Validate};
use crate::api::shared::{PageIn, page_of};
use crate::domain::ids::OrderId;
use crate::domain::timeline::{self, Position, TimelineEntry};
use crate::error::Result;
use crate::state::AppState;

/// Events of one order the timeline reads at most (the newest); an order has a handful.
const MAX_EVENTS: i64 = 500;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TimelineQuery {
    /// 1 to 100, default 50.
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl Validate for TimelineQuery {
    type Checked = PageIn<Position>;

    fn validate(&self) -> Result<PageIn<Position>> {
        PageIn::parse(self.limit, self.cursor.as_deref(), 50, 100)
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineOut {
    /// Oldest first.
    pub data: Vec<TimelineEntry>,
    pub next_cursor: Option<String>,
}

/// The order's timeline: placed, status changes (confirmed, hold, cancel…), shipments and
/// refunds merged in time order, each with a `title`, `type` and `at`.
#[utoipa::path(get, path = "/v1/customer/orders/{order_id}/timeline", tag = "customer",
    params(("order_id" = String, Path), TimelineQuery), security(("bearer" = [])),
    responses((status = 200, body = TimelineOut), (status = 400, body = crate::error::Problem),
              (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)))]
pub async fn get_timeline(
    State(state): State<AppState>,
    who: Customer,
    Path(Strict(order_id)): Path<Strict<OrderId>>,
    ValidQuery(page): ValidQuery<TimelineQuery>,
) -> Result<Json<TimelineOut>> {
    let read = who.own_order_read(&state, &order_id, MAX_EVENTS).await?;
    let entries = timeline::build(&read.order, &read.events);
    let entries = timeline::entries_after(entries, page.after.as_ref(), page.fetch() as usize);
    let (data, next_cursor) = page_of(entries, page.limit, TimelineEntry::position);
    Ok(Json(TimelineOut { data, next_cursor }))
}
