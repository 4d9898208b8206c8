//! `GET /v1/customer/orders/{order_id}/timeline`: what happened to the order, oldest first,
//! with titles a UI can show as they are.

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::auth::Customer;
use crate::api::extract::Query;
use crate::api::shared::{bounded_limit, decode_cursor, encode_cursor};
use crate::domain::timeline::{self, TimelineEntry};
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
    Path(order_id): Path<String>,
    Query(q): Query<TimelineQuery>,
) -> Result<Json<TimelineOut>> {
    let limit = bounded_limit(q.limit, 50, 100)? as usize;
    let after: Option<(DateTime<Utc>, usize, String)> =
        q.cursor.as_deref().map(decode_cursor).transpose()?;
    let read = who.own_order_read(&state, &order_id, MAX_EVENTS).await?;
    let mut data: Vec<TimelineEntry> = timeline::build(&read.order, &read.events)
        .into_iter()
        .filter(|e| {
            after
                .as_ref()
                .is_none_or(|(at, rank, id)| e.sort_key() > (*at, *rank, id.as_str()))
        })
        .take(limit + 1)
        .collect();
    let next_cursor = if data.len() > limit {
        data.truncate(limit);
        data.last().map(|e| encode_cursor(&e.sort_key()))
    } else {
        None
    };
    Ok(Json(TimelineOut { data, next_cursor }))
}
