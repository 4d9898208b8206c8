//! Reading subscriptions and their delivery log.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::webhook_id;
use crate::api::authorized::{Authorized, can};
use crate::api::extract::{Path, ValidQuery, Validate};
use crate::api::shared::{PageIn, page_of};
use crate::db;
use crate::db::webhooks::{DeliveryRow, WebhookRow};
use crate::error::{Error, Result};
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WebhooksPage {
    /// 1 to 200, default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

impl Validate for WebhooksPage {
    type Checked = PageIn<Uuid>;

    fn validate(&self) -> Result<PageIn<Uuid>> {
        PageIn::parse(self.limit, self.cursor.as_deref(), 50, 200)
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookListOut {
    pub data: Vec<WebhookRow>,
    pub next_cursor: Option<String>,
}

/// The tenant's subscriptions, newest first; never their secrets. Requires
/// `webhooks.manage`.
#[utoipa::path(get, path = "/v1/admin/webhooks", tag = "admin", params(WebhooksPage),
    security(("bearer" = ["webhooks.manage"])),
    responses((status = 200, body = WebhookListOut), (status = 403, body = crate::error::Problem)))]
pub async fn list_webhooks(
    State(state): State<AppState>,
    agent: Authorized<can::WebhooksManage>,
    ValidQuery(page): ValidQuery<WebhooksPage>,
) -> Result<Json<WebhookListOut>> {
    let mut conn = state.db.acquire().await?;
    let rows = db::webhooks::list(&mut conn, &agent.tenant_id, page.after, page.fetch()).await?;
    let (data, next_cursor) = page_of(rows, page.limit, |r| r.id);
    Ok(Json(WebhookListOut { data, next_cursor }))
}

/// One subscription; never its secret. Requires `webhooks.manage`.
#[utoipa::path(get, path = "/v1/admin/webhooks/{webhook_id}", tag = "admin",
    params(("webhook_id" = String, Path)), security(("bearer" = ["webhooks.manage"])),
    responses((status = 200, body = WebhookRow), (status = 404, body = crate::error::Problem)))]
pub async fn get_webhook(
    State(state): State<AppState>,
    agent: Authorized<can::WebhooksManage>,
    Path(id): Path<String>,
) -> Result<Json<WebhookRow>> {
    let id = webhook_id(&id)?;
    let mut conn = state.db.acquire().await?;
    let row = db::webhooks::get(&mut conn, &agent.tenant_id, id).await?;
    Ok(Json(row.ok_or_else(|| Error::not_found("webhook"))?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesPage {
    /// 1 to 200, default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

impl Validate for DeliveriesPage {
    type Checked = PageIn<i64>;

    fn validate(&self) -> Result<PageIn<i64>> {
        PageIn::parse(self.limit, self.cursor.as_deref(), 50, 200)
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryListOut {
    pub data: Vec<DeliveryRow>,
    pub next_cursor: Option<String>,
}

/// The subscription's delivery log, newest first: each event sent or to send, its
/// attempts, next attempt and the receiver's last answer. Requires `webhooks.manage`.
#[utoipa::path(get, path = "/v1/admin/webhooks/{webhook_id}/deliveries", tag = "admin",
    params(("webhook_id" = String, Path), DeliveriesPage), security(("bearer" = ["webhooks.manage"])),
    responses((status = 200, body = DeliveryListOut), (status = 404, body = crate::error::Problem)))]
pub async fn list_deliveries(
    State(state): State<AppState>,
    agent: Authorized<can::WebhooksManage>,
    Path(id): Path<String>,
    ValidQuery(page): ValidQuery<DeliveriesPage>,
) -> Result<Json<DeliveryListOut>> {
    let id = webhook_id(&id)?;
    let mut conn = state.db.acquire().await?;
    db::webhooks::get(&mut conn, &agent.tenant_id, id)
        .await?
        .ok_or_else(|| Error::not_found("webhook"))?;
    let rows =
        db::webhooks::deliveries(&mut conn, &agent.tenant_id, id, page.after, page.fetch()).await?;
    let (data, next_cursor) = page_of(rows, page.limit, |r| r.seq);
    Ok(Json(DeliveryListOut { data, next_cursor }))
}
