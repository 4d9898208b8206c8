//! Admin reads of an order and its audit trail.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::auth::Agent;
use crate::api::authorized::{Authorized, can};
use crate::api::extract::Path;
use crate::api::extract::{ValidQuery, Validate};
use crate::api::order_actions::{OrderActionsOut, actions_of};
use crate::api::shared::{PageIn, RequestMeta, page_of};
use crate::db;
use crate::db::audit::{AuditRow, Entry};
use crate::db::requests::RequestRow;
use crate::domain::cancel;
use crate::domain::ids::{OrderId, RequestId, RunId};
use crate::domain::order::Order;
use crate::error::{Error, Result};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct OpenRequestOut {
    #[schema(value_type = uuid::Uuid)]
    pub id: RequestId,
    pub kind: String,
    pub status: String,
    #[schema(value_type = Option<uuid::Uuid>)]
    pub job_id: Option<RunId>,
}

/// The whole order document as the upstream last described it, with orderdesk's open requests.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminOrderOut {
    pub order: Order,
    pub open_requests: Vec<OpenRequestOut>,
    #[serde(flatten)]
    pub actions: OrderActionsOut,
}

impl Agent {
    /// An order of the agent's tenant, or 404.
    pub async fn tenant_order(&self, state: &AppState, order_id: &OrderId) -> Result<Order> {
        let mut conn = state.db.acquire().await?;
        db::orders::get(&mut conn, &self.tenant_id, order_id, None)
            .await?
            .ok_or_else(|| Error::not_found("order"))
    }
}

impl From<RequestRow> for OpenRequestOut {
    fn from(r: RequestRow) -> Self {
        OpenRequestOut {
            id: r.id,
            kind: r.kind,
            status: r.status.as_str().into(),
            job_id: r.run_id,
        }
    }
}

/// The order's open requests, read in the transaction that records the agent's view of
/// the order (it shows personal data, so every read is audited).
async fn open_requests_audited(
    state: &AppState,
    agent: &Agent,
    meta: &RequestMeta,
    order_id: &OrderId,
) -> Result<Vec<OpenRequestOut>> {
    let mut tx = state.db.begin().await?;
    let tenant = &agent.tenant_id;
    let open =
        db::requests::open_for_order(&mut tx, tenant, order_id, cancel::REQUEST_KIND).await?;
    let viewed = Entry {
        action: "order.viewed",
        subject_type: "order",
        subject_id: order_id.as_str(),
        reason: None,
        before: None,
        after: None,
        personal_data_of: None,
    };
    let actor = agent.actor(meta);
    db::audit::record(&mut tx, tenant, &actor, &viewed).await?;
    tx.commit().await?;
    Ok(open.into_iter().map(OpenRequestOut::from).collect())
}

/// One order of the agent's tenant. The read is audited (it shows personal data).
#[utoipa::path(get, path = "/v1/admin/orders/{order_id}", tag = "admin", params(("order_id" = String, Path)),
    security(("bearer" = ["orders.read"])),
    responses((status = 200, body = AdminOrderOut), (status = 404, body = crate::error::Problem), (status = 403, body = crate::error::Problem)))]
pub async fn get_order(
    State(state): State<AppState>,
    agent: Authorized<can::OrdersRead>,
    meta: RequestMeta,
    Path(order_id): Path<OrderId>,
) -> Result<Json<AdminOrderOut>> {
    let order = agent.tenant_order(&state, &order_id).await?;
    let open_requests = open_requests_audited(&state, &agent, &meta, &order_id).await?;
    let actions = actions_of(&state, &order).await?;
    Ok(Json(AdminOrderOut {
        order,
        open_requests,
        actions,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// 1 to 200, default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

impl Validate for AuditQuery {
    /// The page; the cursor is the id of the last record seen.
    type Checked = PageIn<i64>;

    fn validate(&self) -> Result<PageIn<i64>> {
        PageIn::parse(self.limit, self.cursor.as_deref(), 50, 200)
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditListOut {
    pub data: Vec<AuditRow>,
    pub next_cursor: Option<String>,
}

/// Every recorded action on the order, oldest first.
#[utoipa::path(get, path = "/v1/admin/orders/{order_id}/audit", tag = "admin", params(("order_id" = String, Path), AuditQuery),
    security(("bearer" = ["audit.read"])),
    responses((status = 200, body = AuditListOut), (status = 404, body = crate::error::Problem), (status = 403, body = crate::error::Problem)))]
pub async fn get_audit(
    State(state): State<AppState>,
    agent: Authorized<can::AuditRead>,
    Path(order_id): Path<OrderId>,
    ValidQuery(page): ValidQuery<AuditQuery>,
) -> Result<Json<AuditListOut>> {
    agent.tenant_order(&state, &order_id).await?;
    let (tenant, after) = (&agent.tenant_id, page.after.unwrap_or(0));
    let mut conn = state.db.acquire().await?;
    let rows = db::audit::list_for_subject(
        &mut conn,
        tenant,
        "order",
        order_id.as_str(),
        after,
        page.fetch(),
    )
    .await?;
    let (data, next_cursor) = page_of(rows, page.limit, |r| r.id);
    Ok(Json(AuditListOut { data, next_cursor }))
}
