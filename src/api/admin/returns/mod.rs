//! Returns as agents see and review them: `GET /v1/admin/returns/{return_id}` (orderdesk's
//! record with the live RMA and its inspection history) here; approve and inspect in
//! `review.rs`; the refund leg (`issue-refund`) in `refund.rs`. What they share: the tenant's return and the situation actions are judged on.

pub mod refund;
pub mod review;

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;

use crate::api::admin::access_log::{self, Read};
use crate::api::admin::order_expand::UpstreamFailure;
use crate::api::auth::Agent;
use crate::api::authorized::{Authorized, can};
use crate::api::customer::returns::ReturnOut;
use crate::api::extract::Path;
use crate::api::shared::RequestMeta;
use crate::db;
use crate::db::returns::ReturnRow;
use crate::domain::ids::{CustomerId, TenantId};
use crate::domain::request::RequestStatus;
use crate::domain::return_review::{ReturnAction, ReturnSituation, allowed_actions};
use crate::domain::returns::Rma;
use crate::error::{Error, Result};
use crate::state::AppState;

/// The longest RMA id orderdesk makes or accepts; a longer one names nothing.
const MAX_RETURN_ID: usize = 64;

/// A return as an agent sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminReturnOut {
    /// What the customer sees of it (status, lines, label, approval, inspection outcome,
    /// proposed settlement).
    #[serde(flatten)]
    pub summary: ReturnOut,
    #[schema(value_type = String)]
    pub customer_id: CustomerId,
    /// The reviews the return's state allows now (whatever the viewer's own permissions).
    pub allowed_actions: Vec<ReturnAction>,
    /// The RMA as the Returns API says it is now: its approval and every inspection, oldest
    /// first, with the inspectors' notes. Absent when the call failed (see `rma_error`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rma: Option<Rma>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rma_error: Option<UpstreamFailure>,
}

/// One return of the agent's tenant, with the live RMA and its inspection history. The read
/// is access-logged (the return names a customer and carries their comments). Another
/// tenant's return is a 404. Requires `orders.read`.
#[utoipa::path(get, path = "/v1/admin/returns/{return_id}", tag = "admin",
    params(("return_id" = String, Path, description = "the RMA id (`rma_…`)")),
    security(("bearer" = ["orders.read"])),
    responses((status = 200, body = AdminReturnOut), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn get_return(
    State(state): State<AppState>,
    agent: Authorized<can::OrdersRead>,
    meta: RequestMeta,
    Path(return_id): Path<String>,
) -> Result<Json<AdminReturnOut>> {
    let (row, situation) = read_audited(&state, &agent, &meta, &return_id).await?;
    let (rma, rma_error) = match state.upstream.get_rma(&agent.tenant_id, &row.rma_id).await {
        Ok(rma) => (Some(rma), None),
        Err(e) => (None, Some(UpstreamFailure::from(&e))),
    };
    Ok(Json(AdminReturnOut {
        customer_id: row.customer_id.clone(),
        allowed_actions: allowed_actions(&situation.for_row(&row)),
        summary: ReturnOut::from(row),
        rma,
        rma_error,
    }))
}

/// The return and its situation, read in the transaction that records the agent's view
/// of it (`return.viewed`: it names a customer and carries their comments).
async fn read_audited(
    state: &AppState,
    agent: &Agent,
    meta: &RequestMeta,
    return_id: &str,
) -> Result<(ReturnRow, Facts)> {
    let mut tx = state.db.begin().await?;
    let row = tenant_return(&mut tx, &agent.tenant_id, return_id, false).await?;
    let facts = situation(&mut tx, &row).await?;
    let viewed = Read {
        action: "return.viewed",
        subject_type: "return",
        subject_id: &row.rma_id,
        shown: serde_json::json!({ "order_id": row.order_id }),
    };
    access_log::record(&mut tx, agent, meta, viewed).await?;
    tx.commit().await?;
    Ok((row, facts))
}

/// The tenant's return `rma_id` (locked until the transaction ends with `lock`); 404
/// `return.not_found` for any other tenant's or an unknown one.
async fn tenant_return(
    conn: &mut PgConnection,
    tenant: &TenantId,
    rma_id: &str,
    lock: bool,
) -> Result<ReturnRow> {
    if rma_id.len() > MAX_RETURN_ID {
        return Err(Error::not_found("return"));
    }
    let row = if lock {
        db::returns::lock(conn, tenant, rma_id).await?
    } else {
        db::returns::get(conn, tenant, rma_id, None).await?
    };
    row.ok_or_else(|| Error::not_found("return"))
}

/// What a return's situation is read from besides its own row.
struct Facts {
    created: bool,
    action_running: bool,
}

impl Facts {
    fn for_row<'a>(&self, row: &'a ReturnRow) -> ReturnSituation<'a> {
        ReturnSituation {
            status: &row.status,
            created: self.created,
            action_running: self.action_running,
        }
    }
}

/// Whether the RMA exists (its request succeeded) and whether a review of it is running.
async fn situation(conn: &mut PgConnection, row: &ReturnRow) -> Result<Facts> {
    let tenant = &row.tenant_id;
    let request = db::requests::get(conn, tenant, row.request_id, None).await?;
    let created = request.is_some_and(|r| r.status == RequestStatus::Succeeded);
    let action_running = db::returns::review_in_flight(conn, tenant, &row.rma_id).await?;
    Ok(Facts {
        created,
        action_running,
    })
}
