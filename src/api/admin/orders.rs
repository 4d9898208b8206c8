//! Admin reads of an order and its audit trail.

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::api::auth::Agent;
use crate::api::extract::Query;
use crate::api::shared::{RequestMeta, bounded_limit, decode_cursor, encode_cursor};
use crate::auth::Permission;
use crate::db;
use crate::db::audit::AuditRow;
use crate::domain::order::Order;
use crate::error::{Error, Result};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct OpenRequestOut {
    pub id: Uuid,
    pub kind: String,
    pub status: String,
    pub job_id: Option<Uuid>,
}

/// The whole order document as the upstream last described it, with orderdesk's open requests.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminOrderOut {
    pub order: Order,
    pub open_requests: Vec<OpenRequestOut>,
}

impl Agent {
    /// An order of the agent's tenant, or 404.
    pub async fn tenant_order(&self, state: &AppState, order_id: &str) -> Result<Order> {
        let mut conn = state.db.acquire().await?;
        db::orders::get(&mut conn, &self.tenant_id, order_id, None)
            .await?
            .ok_or_else(|| Error::not_found("order"))
    }
}

/// One order of the agent's tenant. The read is audited (it shows personal data).
#[utoipa::path(get, path = "/v1/admin/orders/{order_id}", tag = "admin", params(("order_id" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = AdminOrderOut), (status = 404, body = crate::error::Problem), (status = 403, body = crate::error::Problem)))]
pub async fn get_order(
    State(state): State<AppState>,
    agent: Agent,
    meta: RequestMeta,
    Path(order_id): Path<String>,
) -> Result<Json<AdminOrderOut>> {
    agent.require(Permission::OrdersRead)?;
    let order = agent.tenant_order(&state, &order_id).await?;
    let mut tx = state.db.begin().await?;
    let open = db::requests::open_for_order(
        &mut tx,
        &agent.tenant_id,
        &order_id,
        crate::domain::cancel::REQUEST_KIND,
    )
    .await?;
    let actor = meta.actor("agent", &agent.agent_id, agent.role_names());
    db::audit::record(
        &mut tx,
        &agent.tenant_id,
        &actor,
        &db::audit::Entry {
            action: "order.viewed",
            subject_type: "order",
            subject_id: &order_id,
            reason: None,
            before: None,
            after: None,
            personal_data_of: None,
        },
    )
    .await?;
    tx.commit().await?;
    let open_requests = open
        .into_iter()
        .map(|r| OpenRequestOut {
            id: r.id,
            kind: r.kind,
            status: r.status.as_str().into(),
            job_id: r.run_id,
        })
        .collect();
    Ok(Json(AdminOrderOut {
        order,
        open_requests,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// 1 to 200, default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditListOut {
    pub data: Vec<AuditRow>,
    pub next_cursor: Option<String>,
}

/// Every recorded action on the order, oldest first.
#[utoipa::path(get, path = "/v1/admin/orders/{order_id}/audit", tag = "admin", params(("order_id" = String, Path), AuditQuery),
    security(("bearer" = [])),
    responses((status = 200, body = AuditListOut), (status = 404, body = crate::error::Problem), (status = 403, body = crate::error::Problem)))]
pub async fn get_audit(
    State(state): State<AppState>,
    agent: Agent,
    Path(order_id): Path<String>,
    Query(q): Query<AuditQuery>,
) -> Result<Json<AuditListOut>> {
    agent.require(Permission::AuditRead)?;
    let limit = bounded_limit(q.limit, 50, 200)?;
    let after: i64 = q
        .cursor
        .as_deref()
        .map(decode_cursor)
        .transpose()?
        .unwrap_or(0);
    agent.tenant_order(&state, &order_id).await?;
    let mut conn = state.db.acquire().await?;
    let mut rows = db::audit::list_for_subject(
        &mut conn,
        &agent.tenant_id,
        "order",
        &order_id,
        after,
        limit + 1,
    )
    .await?;
    let next_cursor = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| encode_cursor(&r.id))
    } else {
        None
    };
    Ok(Json(AuditListOut {
        data: rows,
        next_cursor,
    }))
}
