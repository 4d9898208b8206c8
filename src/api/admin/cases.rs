//! The order's support case as agents see it: every message — the customer's (from the
//! customer API), agents' replies and internal notes — with its author; agents replying to
//! the customer (`POST .../cases`) and writing notes (`POST .../notes`, internal or seen by
//! the customer), with attachments under the same checks as customers' uploads.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::api::accept::{Admission, Admitted, Answer, Intake, accept};
use crate::api::authorized::{Authorized, can};
use crate::api::customer::message_attachment::{AttachmentIn, Decoded, decode};
use crate::api::customer::message_send::{SEND_BODY_LIMIT, new_id};
use crate::api::customer::messages::ListMessagesQuery;
use crate::api::extract::{Path, Valid, ValidQuery, Validate, invalid};
use crate::api::idempotency::IdempotencyKey;
use crate::api::shared::{RequestMeta, page_of};
use crate::db;
use crate::db::audit::Entry;
use crate::db::support::{CaseRow, MessageRow, NewMessage};
use crate::domain::ids::OrderId;
use crate::domain::order::Order;
use crate::domain::support::case_subject;
use crate::error::Result;
use crate::state::AppState;

/// The body limit of the routes that take attachments (as the customer's send route).
pub const UPLOAD_BODY_LIMIT: usize = SEND_BODY_LIMIT;
const MAX_BODY_CHARS: usize = 5000;
const MAX_SUBJECT_CHARS: usize = 200;

/// A support case as agents see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminCaseOut {
    pub id: String,
    /// `open` (waits for an agent), `pending` (waits for the customer) or `closed`.
    pub status: String,
    pub subject: String,
    pub message_count: i32,
    pub last_message_at: DateTime<Utc>,
    /// The agent it was given to (`POST .../assign`).
    pub assigned_agent: Option<String>,
    /// The team it was given to.
    pub assigned_team: Option<String>,
    /// How an agent closed it (`POST .../close`); cleared when the customer reopens it.
    pub resolution: Option<String>,
    pub closed_by: Option<String>,
    pub closed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<CaseRow> for AdminCaseOut {
    fn from(c: CaseRow) -> Self {
        AdminCaseOut {
            id: c.id,
            status: c.status,
            subject: c.subject,
            message_count: c.message_count,
            last_message_at: c.last_message_at,
            assigned_agent: c.assigned_agent,
            assigned_team: c.assigned_team,
            resolution: c.resolution,
            closed_by: c.closed_by,
            closed_at: c.closed_at,
            created_at: c.created_at,
        }
    }
}

/// An attachment's metadata; `url` downloads it (access-logged).
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminAttachmentOut {
    pub filename: String,
    /// As sniffed from the content.
    pub content_type: String,
    pub size_bytes: i32,
    /// `GET` it for the file (`orders.read`).
    pub url: String,
}

/// A message of the case, with its author.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminMessageOut {
    pub id: String,
    /// `customer` or `agent`.
    pub author_kind: String,
    /// The customer's or the agent's id.
    pub author_id: String,
    /// An agent's note the customer never sees.
    pub internal: bool,
    pub body: String,
    pub created_at: DateTime<Utc>,
    /// True once the text was erased (GDPR).
    pub redacted: bool,
    pub attachment: Option<AdminAttachmentOut>,
}

impl From<MessageRow> for AdminMessageOut {
    fn from(m: MessageRow) -> Self {
        let attachment = match (m.attachment_filename, m.attachment_content_type) {
            (Some(filename), Some(content_type)) => Some(AdminAttachmentOut {
                filename,
                content_type,
                size_bytes: m.attachment_size.unwrap_or(0),
                url: format!(
                    "/v1/admin/orders/{}/messages/{}/attachment",
                    m.order_id, m.id
                ),
            }),
            _ => None,
        };
        AdminMessageOut {
            id: m.id,
            author_kind: m.author_kind,
            author_id: m.author_id,
            internal: m.internal,
            body: m.body,
            created_at: m.created_at,
            redacted: m.redacted_at.is_some(),
            attachment,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CaseListOut {
    #[schema(value_type = String)]
    pub order_id: OrderId,
    /// `null` until the first message.
    pub case: Option<AdminCaseOut>,
    /// Oldest first, internal notes included.
    pub data: Vec<AdminMessageOut>,
    pub next_cursor: Option<String>,
}

/// The order's case and its messages, oldest first, internal notes included (`limit` 1 to
/// 100, default 50; `cursor`). Requires `orders.read`.
#[utoipa::path(get, path = "/v1/admin/orders/{order_id}/cases", tag = "admin",
    params(("order_id" = String, Path), ListMessagesQuery), security(("bearer" = ["orders.read"])),
    responses((status = 200, body = CaseListOut), (status = 400, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn get_cases(
    State(state): State<AppState>,
    agent: Authorized<can::OrdersRead>,
    Path(order_id): Path<OrderId>,
    ValidQuery(page): ValidQuery<ListMessagesQuery>,
) -> Result<axum::Json<CaseListOut>> {
    let order = agent.tenant_order(&state, &order_id).await?;
    let (tenant, after) = (&agent.tenant_id, page.after.as_ref());
    let mut conn = state.db.acquire().await?;
    let case = db::support::case_for_order(&mut conn, tenant, &order.id).await?;
    let rows = db::support::list_for_order(&mut conn, tenant, &order.id, true, after, page.fetch());
    let (rows, next_cursor) = page_of(rows.await?, page.limit, |m| (m.created_at, m.id.clone()));
    let data = rows.into_iter().map(AdminMessageOut::from).collect();
    let case = case.map(AdminCaseOut::from);
    Ok(axum::Json(CaseListOut {
        order_id: order.id,
        case,
        data,
        next_cursor,
    }))
}

/// Who sees a note.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Agents only (default).
    #[default]
    Internal,
    /// The customer too, as a message from `support`.
    Customer,
}

/// An agent's reply to the customer on the order's case.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseMessageIn {
    /// 1 to 5000 characters; the customer reads it.
    pub body: String,
    /// The case's subject when this message opens it (at most 200 characters).
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub attachment: Option<AttachmentIn>,
    /// Check the body and attachment and answer what would be written, writing nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// An agent's note on the order's case.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteIn {
    /// 1 to 5000 characters.
    pub body: String,
    /// `internal` (default) or `customer`.
    #[serde(default)]
    pub visibility: Visibility,
    #[serde(default)]
    pub attachment: Option<AttachmentIn>,
    /// Check the body and attachment and answer what would be written, writing nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// The checks both bodies share: the text, then the attachment decoded and sniffed.
fn check_message(body: &str, attachment: Option<&AttachmentIn>) -> Result<Option<Decoded>> {
    let n = body.trim().chars().count();
    if n == 0 || n > MAX_BODY_CHARS {
        return Err(invalid("body", format!("1 to {MAX_BODY_CHARS} characters")));
    }
    attachment.map(decode).transpose()
}

impl Validate for CaseMessageIn {
    type Checked = Option<Decoded>;

    fn validate(&self) -> Result<Option<Decoded>> {
        if self
            .subject
            .as_ref()
            .is_some_and(|s| s.chars().count() > MAX_SUBJECT_CHARS)
        {
            return Err(invalid(
                "subject",
                format!("at most {MAX_SUBJECT_CHARS} characters"),
            ));
        }
        check_message(&self.body, self.attachment.as_ref())
    }
}

impl Validate for NoteIn {
    type Checked = Option<Decoded>;

    fn validate(&self) -> Result<Option<Decoded>> {
        check_message(&self.body, self.attachment.as_ref())
    }
}

/// The message written and the case as it is after it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentMessageOut {
    pub case: AdminCaseOut,
    pub message: AdminMessageOut,
}

impl Answer for AgentMessageOut {}

/// The answer to `dry_run: true`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentMessageDryRunOut {
    pub dry_run: bool,
    /// Whether the message would be for agents only.
    pub internal: bool,
    /// Whether it would open the order's case (there is none yet).
    pub opens_case: bool,
}

async fn dry_run(state: &AppState, order: &Order, internal: bool) -> Result<Response> {
    let mut conn = state.db.acquire().await?;
    let case = db::support::case_for_order(&mut conn, &order.tenant_id, &order.id).await?;
    let out = AgentMessageDryRunOut {
        dry_run: true,
        internal,
        opens_case: case.is_none(),
    };
    Ok(axum::Json(out).into_response())
}

/// What an agent writes on the case.
struct Written {
    body: String,
    subject: Option<String>,
    internal: bool,
    attachment: Option<Decoded>,
}

struct AgentMessage<'a> {
    order: &'a Order,
    written: Written,
}

impl Intake for AgentMessage<'_> {
    type Answer = AgentMessageOut;

    async fn admit(self, adm: &mut Admission<'_>) -> Result<Admitted<AgentMessageOut>> {
        let (order, agent) = (self.order, adm.caller().principal.clone());
        let w = self.written;
        let subject = case_subject(w.subject.as_deref(), &order.number);
        let owner = (&order.id, &order.customer_id);
        let (case_id, visible) = (new_id("case"), !w.internal);
        let case = db::support::touch_case_by_agent(
            adm.conn(),
            &order.tenant_id,
            owner,
            &case_id,
            &subject,
            visible,
        )
        .await?;
        let new = NewMessage {
            tenant_id: &order.tenant_id,
            id: &new_id("msg"),
            case_id: &case.id,
            order_id: &order.id,
            author_kind: "agent",
            author_id: agent.strip_prefix("agent:").unwrap_or(&agent),
            body: w.body.trim(),
            internal: w.internal,
        };
        let attachment = w.attachment.as_ref().map(Decoded::as_new);
        let message = db::support::insert_message(adm.conn(), &new, attachment.as_ref()).await?;
        let action = if w.internal {
            "support.note_added"
        } else {
            "support.agent_replied"
        };
        adm.audit(Entry {
            action,
            subject_type: "order",
            subject_id: order.id.as_str(),
            reason: None,
            before: None,
            after: Some(json!({ "case_id": case.id, "message_id": message.id,
                                "internal": w.internal,
                                "attachment": message.attachment_content_type })),
            personal_data_of: Some(&order.customer_id),
        })
        .await?;
        let answer = AgentMessageOut {
            case: case.into(),
            message: message.into(),
        };
        Ok(Admitted::done(StatusCode::CREATED, answer))
    }
}

async fn write(
    state: &AppState,
    agent: &Authorized<can::OrdersEdit>,
    meta: &RequestMeta,
    key: IdempotencyKey,
    (order_id, body): (&OrderId, &impl Serialize),
    (written, dry): (Written, bool),
) -> Result<Response> {
    let order = agent.tenant_order(state, order_id).await?;
    if dry {
        return dry_run(state, &order, written.internal).await;
    }
    let key = key.optional_for(&format!("agent-message:{order_id}"), body);
    let intake = AgentMessage {
        order: &order,
        written,
    };
    accept(state, agent.caller(meta), key, intake).await
}

/// Replies to the customer on the order's case (opening it when there is none): the
/// customer reads it among their messages, from `support`; the case then waits for the
/// customer (`pending`). Requires `orders.edit`; an `Idempotency-Key` replays it.
#[utoipa::path(post, path = "/v1/admin/orders/{order_id}/cases", tag = "admin",
    params(("order_id" = String, Path), ("Idempotency-Key" = Option<String>, Header)), request_body = CaseMessageIn, security(("bearer" = ["orders.edit"])),
    responses((status = 201, body = AgentMessageOut), (status = 200, body = AgentMessageDryRunOut), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 413, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn reply_case(
    State(state): State<AppState>,
    agent: Authorized<can::OrdersEdit>,
    meta: RequestMeta,
    key: IdempotencyKey,
    Path(order_id): Path<OrderId>,
    Valid { body, checked }: Valid<CaseMessageIn>,
) -> Result<Response> {
    let written = Written {
        body: body.body.clone(),
        subject: body.subject.clone(),
        internal: false,
        attachment: checked,
    };
    let asked = (written, body.dry_run);
    write(&state, &agent, &meta, key, (&order_id, &body), asked).await
}

/// Adds a note to the order's case (opening it when there is none): `internal` (default)
/// for agents only, `customer` to show it to the customer as a reply from `support`.
/// Requires `orders.edit`; an `Idempotency-Key` replays it.
#[utoipa::path(post, path = "/v1/admin/orders/{order_id}/notes", tag = "admin",
    params(("order_id" = String, Path), ("Idempotency-Key" = Option<String>, Header)), request_body = NoteIn, security(("bearer" = ["orders.edit"])),
    responses((status = 201, body = AgentMessageOut), (status = 200, body = AgentMessageDryRunOut), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 413, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn add_note(
    State(state): State<AppState>,
    agent: Authorized<can::OrdersEdit>,
    meta: RequestMeta,
    key: IdempotencyKey,
    Path(order_id): Path<OrderId>,
    Valid { body, checked }: Valid<NoteIn>,
) -> Result<Response> {
    let written = Written {
        body: body.body.clone(),
        subject: None,
        internal: body.visibility == Visibility::Internal,
        attachment: checked,
    };
    let asked = (written, body.dry_run);
    write(&state, &agent, &meta, key, (&order_id, &body), asked).await
}
