//! `POST /v1/admin/orders/search`: the order search language (`domain::search`) over the
//! tenant's read model — a page of order summaries, its cursor, and aggregations.

use std::collections::BTreeMap;

use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::auth::Agent;
use crate::api::authorized::{Authorized, can};
use crate::api::extract::{Valid, Validate};
use crate::api::shared::RequestMeta;
use crate::db;
use crate::db::search::{AggregationResult, OrderSummary};
use crate::domain::search::{MAX_HISTOGRAM_BUCKETS, Search, SearchError, SearchRequest};
use crate::error::{Error, FieldError, Result};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchOut {
    /// The page: order summaries in the search's order.
    pub data: Vec<OrderSummary>,
    /// Send it back as `cursor`, with the same filter, text and sort, for the next page;
    /// `null` on the last page.
    pub next_cursor: Option<String>,
    /// Each requested aggregation under its name, over every matching order.
    pub aggregations: BTreeMap<String, AggregationResult>,
}

impl Validate for SearchRequest {
    /// The validated search; a refusal names every error it found.
    type Checked = Search;

    fn validate(&self) -> Result<Search> {
        Search::parse(self).map_err(refused)
    }
}

/// Searches the tenant's orders: filters on fields joined by `and`/`or`/`not`, full text
/// over names, addresses and notes, sort, cursor pagination and aggregations (see the README,
/// "Searching orders"). Requires `orders.search`. Unknown fields, operators or aggregations
/// are 422 naming them, with the names that exist in `allowed`. The search is audited: it
/// shows personal data.
#[utoipa::path(post, path = "/v1/admin/orders/search", tag = "admin",
    request_body = SearchRequest, security(("bearer" = ["orders.search"])),
    responses((status = 200, body = SearchOut), (status = 403, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem), (status = 503, body = crate::error::Problem)))]
pub async fn search_orders(
    State(state): State<AppState>,
    agent: Authorized<can::OrdersSearch>,
    meta: RequestMeta,
    Valid {
        checked: search, ..
    }: Valid<SearchRequest>,
) -> Result<axum::Json<SearchOut>> {
    let out = run(&state, &agent, &meta, &search)
        .await
        .map_err(or_timed_out)?;
    Ok(axum::Json(out))
}

/// The page and the aggregations in one transaction, with the audit record of the read.
async fn run(
    state: &AppState,
    agent: &Agent,
    meta: &RequestMeta,
    search: &Search,
) -> Result<SearchOut> {
    let tenant = &agent.tenant_id;
    let mut tx = db::search::begin(&state.db).await?;
    let page = db::search::page(&mut tx, tenant, search).await?;
    let aggregations =
        db::search::aggregate(&mut tx, tenant, &search.criteria, &search.aggregations).await?;
    for (name, result) in &aggregations {
        if let AggregationResult::Histogram(h) = result
            && h.buckets.len() > MAX_HISTOGRAM_BUCKETS
        {
            let e = SearchError::too_many_buckets(name, MAX_HISTOGRAM_BUCKETS);
            return Err(refused(vec![e]));
        }
    }
    let order_ids: Vec<&str> = page.orders.iter().map(|o| o.id.as_str()).collect();
    db::audit::record(
        &mut tx,
        tenant,
        &agent.actor(meta),
        &db::audit::Entry {
            action: "orders.searched",
            subject_type: "tenant",
            subject_id: tenant.as_str(),
            reason: None,
            before: None,
            // which orders' personal data was shown; the search itself may hold some (a
            // name in `text`, an address in a filter), so it is not kept
            after: Some(serde_json::json!({ "order_ids": order_ids })),
            personal_data_of: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(SearchOut {
        next_cursor: page.next.as_ref().map(|pos| search.cursor_after(pos)),
        data: page.orders,
        aggregations,
    })
}

/// 422 with the first error's code, every error in `errors`, and the names that exist
/// where the first error found an unknown one in `allowed`.
pub(crate) fn refused(errors: Vec<SearchError>) -> Error {
    let first = errors.first().cloned().unwrap_or_else(|| {
        SearchError::new(
            crate::domain::search::error::INVALID_VALUE,
            "body",
            "invalid",
        )
    });
    let detail = errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    let fields = errors
        .into_iter()
        .map(|e| FieldError {
            field: e.path,
            message: e.message,
        })
        .collect();
    let err = Error::unprocessable(first.code, detail).with_errors(fields);
    if first.allowed.is_empty() {
        err
    } else {
        err.with_extra("allowed", serde_json::json!(first.allowed))
    }
}

/// A statement PostgreSQL cancelled for running too long is 503 `search.timed_out`, not a
/// 500: the search was too broad, nothing broke.
fn or_timed_out(e: Error) -> Error {
    let timed_out = matches!(&e, Error::Internal(cause)
        if cause.downcast_ref::<sqlx::Error>().is_some_and(db::search::timed_out));
    if !timed_out {
        return e;
    }
    Error::unavailable(
        "search.timed_out",
        format!(
            "the search ran longer than {} s and was stopped",
            db::search::STATEMENT_TIMEOUT_MS / 1000
        ),
    )
    .with_next_step("narrow the filter (a date range, a status) or leave out aggregations")
}
