//! The conversation with support about one order: `GET` and `POST
//! /v1/customer/orders/{order_id}/messages`. A message opens or reopens the order's support
//! case and starts the `notify_support` workflow (`message_send`). Customers never see internal notes or
//! agent ids: an agent's reply is authored by `support`.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::auth::Customer;
use crate::api::customer::message_attachment::{AttachmentIn, AttachmentOut};
use crate::api::extract::Path;
use crate::api::extract::{ValidQuery, Validate};
use crate::api::shared::{PageIn, page_of};
use crate::db;
use crate::db::support::{CaseRow, MessageRow};
use crate::domain::ids::OrderId;
use crate::error::Result;
use crate::state::AppState;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageIn {
    /// 1 to 5000 characters.
    pub body: String,
    /// The case's subject when this message opens it (at most 200 characters); default
    /// "Order <number>".
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub attachment: Option<AttachmentIn>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessageOut {
    pub id: String,
    pub case_id: String,
    /// `customer` or `support`.
    pub author: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
    /// True once the text was erased (GDPR).
    pub redacted: bool,
    pub attachment: Option<AttachmentOut>,
}

/// The support case of an order as its customer sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseOut {
    pub id: String,
    /// `open` (support will answer), `pending` (support answered) or `closed`.
    pub status: String,
    pub subject: String,
    pub message_count: i32,
    pub last_message_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessageListOut {
    /// `null` until the first message.
    pub case: Option<CaseOut>,
    /// Oldest first.
    pub data: Vec<MessageOut>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessageSentOut {
    pub message: MessageOut,
    pub case: CaseOut,
    /// Whether this message opened the case.
    pub case_created: bool,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListMessagesQuery {
    /// 1 to 100, default 50.
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl Validate for ListMessagesQuery {
    /// The cursor is the (created_at, id) of the last message seen.
    type Checked = PageIn<(DateTime<Utc>, String)>;

    fn validate(&self) -> Result<Self::Checked> {
        PageIn::parse(self.limit, self.cursor.as_deref(), 50, 100)
    }
}

impl From<CaseRow> for CaseOut {
    fn from(c: CaseRow) -> Self {
        CaseOut {
            id: c.id,
            status: c.status,
            subject: c.subject,
            message_count: c.message_count,
            last_message_at: c.last_message_at,
            created_at: c.created_at,
        }
    }
}

/// The customer's view of a message: agents become `support`, no author id.
pub fn message_view(m: MessageRow) -> MessageOut {
    let attachment = match (m.attachment_filename, m.attachment_content_type) {
        (Some(filename), Some(content_type)) => Some(AttachmentOut {
            url: format!(
                "/v1/customer/orders/{}/messages/{}/attachment",
                m.order_id, m.id
            ),
            filename,
            content_type,
            size_bytes: m.attachment_size.unwrap_or(0),
        }),
        _ => None,
    };
    MessageOut {
        author: if m.author_kind == "customer" {
            "customer".into()
        } else {
            "support".into()
        },
        redacted: m.redacted_at.is_some(),
        id: m.id,
        case_id: m.case_id,
        body: m.body,
        created_at: m.created_at,
        attachment,
    }
}

/// The conversation with support about one of the caller's orders, oldest first.
#[utoipa::path(get, path = "/v1/customer/orders/{order_id}/messages", tag = "customer",
    params(("order_id" = String, Path), ListMessagesQuery), security(("bearer" = [])),
    responses((status = 200, body = MessageListOut), (status = 400, body = crate::error::Problem),
              (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn list_messages(
    State(state): State<AppState>,
    who: Customer,
    Path(order_id): Path<OrderId>,
    ValidQuery(page): ValidQuery<ListMessagesQuery>,
) -> Result<axum::Json<MessageListOut>> {
    let order = who.own_order(&state, &order_id).await?;
    let (tenant, after) = (&who.tenant_id, page.after.as_ref());
    let mut conn = state.db.acquire().await?;
    let case = db::support::case_for_order(&mut conn, tenant, &order.id).await?;
    let rows =
        db::support::list_for_order(&mut conn, tenant, &order.id, false, after, page.fetch())
            .await?;
    let (rows, next_cursor) = page_of(rows, page.limit, |m| (m.created_at, m.id.clone()));
    Ok(axum::Json(MessageListOut {
        case: case.map(CaseOut::from),
        data: rows.into_iter().map(message_view).collect(),
        next_cursor,
    }))
}
