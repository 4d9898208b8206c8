//! `GET /v1/customer/requests/{request_id}`: a customer polls their own request.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::auth::Customer;
use crate::api::extract::Path;
use crate::api::jobs::JobOut;
use crate::db;
use crate::db::requests::RequestRow;
use crate::db::runs::RunRow;
use crate::domain::ids::RequestId;
use crate::domain::request::RequestStatus;
use crate::error::{Error, Result};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct RequestOut {
    #[schema(value_type = uuid::Uuid)]
    pub id: RequestId,
    /// `cancel` (later: `return`, `exchange`, …).
    pub kind: String,
    /// Absent for a request about no one order (`erase`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    /// `pending_review`, `rejected`, or the job's status.
    pub status: RequestStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job: Option<JobOut>,
}

/// One of the caller's requests with its job's progress; anyone else's is a 404.
#[utoipa::path(get, path = "/v1/customer/requests/{request_id}", tag = "customer", params(("request_id" = Uuid, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = RequestOut), (status = 404, body = crate::error::Problem), (status = 401, body = crate::error::Problem)))]
pub async fn get_request(
    State(state): State<AppState>,
    who: Customer,
    Path(id): Path<RequestId>,
) -> Result<Json<RequestOut>> {
    let (request, run) = who.own_request(&state, id).await?;
    Ok(Json(RequestOut::new(request, run)))
}

impl RequestOut {
    /// A request with its run, if one started.
    fn new(request: RequestRow, run: Option<RunRow>) -> Self {
        let job = run.as_ref().map(JobOut::from_run);
        RequestOut {
            id: request.id,
            // an erase request's order_id column holds the customer id (see db::gdpr)
            order_id: (request.kind != db::gdpr::REQUEST_KIND).then_some(request.order_id),
            kind: request.kind,
            status: job.as_ref().map_or(request.status, |j| j.status.into()),
            created_at: request.created_at,
            updated_at: request.updated_at,
            job,
        }
    }
}

impl Customer {
    /// One of the caller's requests (a guest: of its one order) and its run; 404 for
    /// anyone else's or a malformed id.
    async fn own_request(
        &self,
        state: &AppState,
        id: RequestId,
    ) -> Result<(RequestRow, Option<RunRow>)> {
        let mut conn = state.db.acquire().await?;
        let request = db::requests::get(&mut conn, &self.tenant_id, id, Some(&self.customer_id))
            .await?
            .filter(|r| self.may_see(&r.order_id).is_ok())
            .ok_or_else(|| Error::not_found("request"))?;
        let run = match request.run_id {
            Some(run_id) => db::runs::get(&mut conn, &self.tenant_id, run_id).await?,
            None => None,
        };
        Ok((request, run))
    }
}
