//! Admin reads of an order and its audit trail.

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use serde::Serialize;
use utoipa::ToSchema;

use super::order_expand::{self, Expansions, GetOrderQuery, OrderExpansions};
use crate::api::auth::Agent;
use crate::api::authorized::{Authorized, can};
use crate::api::extract::Path;
use crate::api::extract::ValidQuery;
use crate::api::order_actions::{OrderActionsOut, actions_of};
use crate::api::precondition::{version_etag, with_etag};
use crate::api::shared::RequestMeta;
use crate::db;
use crate::db::audit::Entry;
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

/// The whole order document as the upstream last described it, with orderdesk's open
/// requests and the expansions asked for (each under its name).
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminOrderOut {
    pub order: Order,
    pub open_requests: Vec<OpenRequestOut>,
    #[serde(flatten)]
    pub actions: OrderActionsOut,
    #[serde(flatten)]
    pub expanded: OrderExpansions,
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
/// the order (it shows personal data, so every read is audited, with the expansions read).
async fn open_requests_audited(
    state: &AppState,
    agent: &Agent,
    meta: &RequestMeta,
    order_id: &OrderId,
    expanded: &Expansions,
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
        after: (!expanded.names().is_empty())
            .then(|| serde_json::json!({ "expand": expanded.names() })),
        personal_data_of: None,
    };
    let actor = agent.actor(meta);
    db::audit::record(&mut tx, tenant, &actor, &viewed).await?;
    tx.commit().await?;
    Ok(open.into_iter().map(OpenRequestOut::from).collect())
}

/// One order of the agent's tenant, with `expand=` (README, "Inspecting an order"), and its
/// version as a strong `ETag` (`"7"`) to send back as `If-Match` with an edit. The read is
/// audited (it shows personal data), naming the expansions read. An expansion needs the
/// permission of the endpoint answering the same data — `payments` `payments.read`, `audit`
/// `audit.read`, `reconciliation` `reconcile` — or is 403 `auth.forbidden` naming it; and
/// `audit` writes the audit trail's access record (`order.audit_viewed`). No 304 to
/// `If-None-Match`: holds, open requests and expansions change under the same version.
#[utoipa::path(get, path = "/v1/admin/orders/{order_id}", tag = "admin",
    params(("order_id" = String, Path), GetOrderQuery),
    security(("bearer" = ["orders.read"])),
    responses((status = 200, body = AdminOrderOut, headers(("ETag" = String))),
              (status = 404, body = crate::error::Problem), (status = 403, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)))]
pub async fn get_order(
    State(state): State<AppState>,
    agent: Authorized<can::OrdersRead>,
    meta: RequestMeta,
    Path(order_id): Path<OrderId>,
    ValidQuery(asked): ValidQuery<GetOrderQuery>,
) -> Result<Response> {
    asked.require(&agent)?;
    let order = agent.tenant_order(&state, &order_id).await?;
    let etag = version_etag(order.version);
    let expanded = order_expand::read(&state, &agent, &meta, &order, &asked).await?;
    let open_requests = open_requests_audited(&state, &agent, &meta, &order_id, &asked).await?;
    let actions = actions_of(&state, &order).await?;
    let out = AdminOrderOut {
        order,
        open_requests,
        actions,
        expanded,
    };
    Ok(with_etag(&etag, Json(out)))
}
