//! `POST /v1/customer/orders/{order_id}/messages`: a customer writes to support. The message
//! opens or reopens the order's support case, is audited and starts `notify_support`, all in
//! one transaction.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::messages::{MessageIn, MessageSentOut, message_view};
use crate::api::accept::{Admission, Admitted, Answer, Intake, StartRun, accept};
use crate::api::auth::Customer;
use crate::api::customer::message_attachment::{Decoded, decode};
use crate::api::extract::Json;
use crate::api::idempotency::IdempotencyKey;
use crate::api::shared::RequestMeta;
use crate::db;
use crate::db::audit::Entry;
use crate::db::support::NewMessage;
use crate::domain::attachment::MAX_ATTACHMENT_BYTES;
use crate::domain::order::Order;
use crate::domain::support::NotifySupportInput;
use crate::error::{Error, FieldError, Result};
use crate::state::AppState;

/// The workflow that tells support about a new message.
pub const NOTIFY_WORKFLOW: &str = "notify_support";
const MAX_BODY_CHARS: usize = 5000;
const MAX_SUBJECT_CHARS: usize = 200;
/// Base64 of the largest attachment, plus room for the rest of the JSON body: the body
/// limit of the send route (the router's default is 256 KiB).
pub const SEND_BODY_LIMIT: usize = MAX_ATTACHMENT_BYTES.div_ceil(3) * 4 + 256 * 1024;

/// Sends a message to support about one of the caller's orders, with an optional
/// attachment (JSON, base64). Opens or reopens the order's support case and notifies
/// support. `Idempotency-Key` is optional; with one, a retry replays the first answer.
#[utoipa::path(post, path = "/v1/customer/orders/{order_id}/messages", tag = "customer",
    params(("order_id" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    request_body = MessageIn, security(("bearer" = [])),
    responses((status = 201, body = MessageSentOut), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 413, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn send_message(
    State(state): State<AppState>,
    who: Customer,
    meta: RequestMeta,
    key: IdempotencyKey,
    Path(order_id): Path<String>,
    Json(input): Json<MessageIn>,
) -> Result<Response> {
    let attachment = validate(&input)?;
    let order = who.own_order(&state, &order_id).await?;
    let settings = {
        let mut conn = state.db.acquire().await?;
        db::tenants::settings(&mut conn, &who.tenant_id).await?
    };
    if !settings.capabilities.messages_enabled {
        return Err(Error::forbidden(
            "message.disabled",
            "this shop does not take messages here; contact it another way",
        ));
    }
    let key = key.optional_for(&format!("message:{order_id}"), &input);
    let intake = MessageIntake {
        order: &order,
        input: &input,
        attachment,
        support_address: settings.support_address(&who.tenant_id),
    };
    accept(&state, who.caller(&meta), key, intake).await
}

/// A message to support: opens or reopens the order's case, stores the message and starts
/// `notify_support`; answered 201 at once (the notification goes on in the background).
struct MessageIntake<'a> {
    order: &'a Order,
    input: &'a MessageIn,
    attachment: Option<Decoded>,
    support_address: String,
}

impl Intake for MessageIntake<'_> {
    type Answer = MessageSentOut;

    async fn admit(self, adm: &mut Admission<'_>) -> Result<Admitted<MessageSentOut>> {
        let (order, input) = (self.order, self.input);
        let tenant = order.tenant_id.as_str();
        let subject = input
            .subject
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| format!("Order {}", order.number));
        let (case, created) = db::support::touch_case(
            adm.conn(),
            tenant,
            &order.id,
            &order.customer_id,
            &new_id("case"),
            &subject,
        )
        .await?;
        let new = NewMessage {
            tenant_id: tenant,
            id: &new_id("msg"),
            case_id: &case.id,
            order_id: &order.id,
            author_kind: "customer",
            author_id: &order.customer_id,
            body: input.body.trim(),
            internal: false,
        };
        let attachment = self.attachment.as_ref().map(Decoded::as_new);
        let message = db::support::insert_message(adm.conn(), &new, attachment.as_ref()).await?;
        let notice = NotifySupportInput {
            order_id: order.id.clone(),
            order_number: order.number.clone(),
            case_id: case.id.clone(),
            message_id: message.id.clone(),
            case_created: created,
            has_attachment: self.attachment.is_some(),
            to: self.support_address,
        };
        adm.start_run(StartRun {
            workflow: NOTIFY_WORKFLOW,
            subject_id: &order.id,
            customer_id: Some(&order.customer_id),
            input: &notice,
            request: None,
            decided_by: None,
        })
        .await?;
        adm.audit(Entry {
            action: "support.message_sent",
            subject_type: "order",
            subject_id: &order.id,
            reason: None,
            before: None,
            after: Some(json!({
                "case_id": case.id, "message_id": message.id, "case_created": created,
                "attachment": message.attachment_content_type,
            })),
            personal_data_of: Some(&order.customer_id),
        })
        .await?;
        let answer = MessageSentOut {
            message: message_view(message),
            case: case.into(),
            case_created: created,
        };
        Ok(Admitted::done(StatusCode::CREATED, answer))
    }
}

impl Answer for MessageSentOut {}

/// Checks the body and subject, then decodes and sniffs the attachment.
fn validate(input: &MessageIn) -> Result<Option<Decoded>> {
    let mut errors = Vec::new();
    let body_chars = input.body.trim().chars().count();
    if body_chars == 0 || body_chars > MAX_BODY_CHARS {
        errors.push(FieldError {
            field: "body".into(),
            message: "1 to 5000 characters".into(),
        });
    }
    if input
        .subject
        .as_ref()
        .is_some_and(|s| s.chars().count() > MAX_SUBJECT_CHARS)
    {
        errors.push(FieldError {
            field: "subject".into(),
            message: "at most 200 characters".into(),
        });
    }
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    input.attachment.as_ref().map(decode).transpose()
}

/// A new prefixed id such as `case_0190…` (uuid v7: ids sort by creation time).
fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
}
