//! Agents downloading the attachment of a message on an order's case (the customer's
//! uploads and agents' notes alike): the stored bytes, as the type they were sniffed as,
//! never rendered inline. The file is the customer's personal data, so each download is
//! access-logged in the read's own transaction.

use axum::extract::State;
use axum::response::Response;

use super::access_log::{self, Read};
use crate::api::auth::Agent;
use crate::api::authorized::{Authorized, can};
use crate::api::customer::message_attachment::attachment_download;
use crate::api::extract::Path;
use crate::api::shared::RequestMeta;
use crate::db;
use crate::domain::ids::OrderId;
use crate::domain::order::Order;
use crate::error::{Error, Result};
use crate::state::AppState;

/// The attachment of `message_id` on `order`'s case (internal notes included): its file
/// name, type and content, read in the transaction that records the agent's download; 404
/// for another order's message or one without a file (erased files are gone).
async fn read_logged(
    state: &AppState,
    (agent, meta): (&Agent, &RequestMeta),
    order: &Order,
    message_id: &str,
) -> Result<(String, String, Vec<u8>)> {
    let tenant = &order.tenant_id;
    let mut tx = state.db.begin().await?;
    db::support::get_message(&mut tx, tenant, &order.id, message_id, true)
        .await?
        .ok_or_else(|| Error::not_found("message"))?;
    let (filename, content_type, content) =
        db::support::attachment_content(&mut tx, tenant, message_id)
            .await?
            .ok_or_else(|| Error::not_found("attachment"))?;
    let read = Read {
        action: "order.attachment_downloaded",
        subject_type: "order",
        subject_id: order.id.as_str(),
        shown: serde_json::json!({ "message_id": message_id, "content_type": content_type,
                                   "size_bytes": content.len() }),
    };
    access_log::record(&mut tx, agent, meta, read).await?;
    tx.commit().await?;
    Ok((filename, content_type, content))
}

/// Downloads the attachment of one message of the order's case — the customer's or an
/// agent's, internal notes included — with the type it was sniffed as,
/// `Content-Disposition: attachment` and `X-Content-Type-Options: nosniff`. 404
/// `message.not_found` / `attachment.not_found` (also once erased). Each download is
/// access-logged (`order.attachment_downloaded`). Requires `orders.read`.
#[utoipa::path(get, path = "/v1/admin/orders/{order_id}/messages/{message_id}/attachment", tag = "admin",
    params(("order_id" = String, Path), ("message_id" = String, Path)), security(("bearer" = ["orders.read"])),
    responses((status = 200, description = "the file", content_type = "application/octet-stream"),
              (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem)))]
pub async fn download_attachment(
    State(state): State<AppState>,
    agent: Authorized<can::OrdersRead>,
    meta: RequestMeta,
    Path((order_id, message_id)): Path<(OrderId, String)>,
) -> Result<Response> {
    let order = agent.tenant_order(&state, &order_id).await?;
    let who = (&agent.agent, &meta);
    let (filename, content_type, content) = read_logged(&state, who, &order, &message_id).await?;
    Ok(attachment_download(&filename, &content_type, content))
}
