//! `POST /v1/customer/orders/{order_id}/messages`: a customer writes to support. The message
//! opens or reopens the order's support case, is audited and starts `notify_support`, all in
//! one transaction.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::messages::{MessageIn, MessageSentOut, message_view};
use crate::api::accept::{Admission, Admitted, Answer, Intake, StartRun, accept};
use crate::api::auth::Customer;
use crate::api::customer::message_attachment::{Decoded, decode};
use crate::api::extract::Path;
use crate::api::extract::{Valid, Validate};
use crate::api::idempotency::IdempotencyKey;
use crate::api::shared::RequestMeta;
use crate::db;
use crate::db::audit::Entry;
use crate::db::support::NewMessage;
use crate::domain::attachment::MAX_ATTACHMENT_BYTES;
use crate::domain::ids::OrderId;
use crate::domain::ids::TenantId;
use crate::domain::order::Order;
use crate::domain::support::{NotifySupportInput, case_subject};
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
    Path(order_id): Path<OrderId>,
    Valid {
        body,
        checked: attachment,
    }: Valid<MessageIn>,
) -> Result<Response> {
    let order = who.own_order(&state, &order_id).await?;
    let support_address = support_address(&state, &who.tenant_id).await?;
    let key = key.optional_for(&format!("message:{order_id}"), &body);
    let intake = MessageIntake {
        order: &order,
        input: &body,
        attachment,
        support_address,
    };
    accept(&state, who.caller(&meta), key, intake).await
}

/// Where the shop's support reads messages; 403 `message.disabled` when it takes none here.
async fn support_address(state: &AppState, tenant: &TenantId) -> Result<String> {
    let mut conn = state.db.acquire().await?;
    let settings = db::tenants::settings(&mut conn, tenant).await?;
    if !settings.capabilities.messages_enabled {
        return Err(Error::forbidden(
            "message.disabled",
            "this shop does not take messages here; contact it another way",
        ));
    }
    Ok(settings.support_address(tenant))
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
        let tenant = &order.tenant_id;
        let subject = case_subject(input.subject.as_deref(), &order.number);
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
            author_id: order.customer_id.as_str(),
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
        adm.start_run(notify_support(order, &notice)).await?;
        let after = json!({
            "case_id": case.id, "message_id": message.id, "case_created": created,
            "attachment": message.attachment_content_type,
        });
        adm.audit(Entry {
            action: "support.message_sent",
            subject_type: "order",
            subject_id: order.id.as_str(),
            reason: None,
            before: None,
            after: Some(after),
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

/// The `notify_support` run telling support about `notice`, on the order's own timeline.
fn notify_support<'a>(
    order: &'a Order,
    notice: &'a NotifySupportInput,
) -> StartRun<'a, NotifySupportInput> {
    StartRun {
        workflow: NOTIFY_WORKFLOW,
        subject_id: order.id.as_str(),
        customer_id: Some(&order.customer_id),
        input: notice,
        request: None,
        decided_by: None,
    }
}

impl Answer for MessageSentOut {}

impl Validate for MessageIn {
    /// The attachment, decoded and sniffed.
    type Checked = Option<Decoded>;

    /// Checks the body and subject, then decodes and sniffs the attachment.
    fn validate(&self) -> Result<Option<Decoded>> {
        let mut errors = Vec::new();
        let body_chars = self.body.trim().chars().count();
        if body_chars == 0 || body_chars > MAX_BODY_CHARS {
            errors.push(FieldError {
                field: "body".into(),
                message: "1 to 5000 characters".into(),
            });
        }
        if self
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
        self.attachment.as_ref().map(decode).transpose()
    }
}

/// A new prefixed id such as `case_0190…` (uuid v7: ids sort by creation time).
pub(crate) fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
}
