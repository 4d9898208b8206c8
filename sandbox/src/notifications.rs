//! The Notifications service (`/notifications/v1/messages`): messages are recorded, never
//! delivered; read them back at `/sandbox/notifications`.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use serde::Deserialize;
use serde_json::{Value, json};

use super::extract::{Body, IdempotencyKey, Tenant};
use super::idempotency::{self, Answer, Claim, Mutation};
use super::{SandboxState, new_id, store};
use crate::error::{Error, FieldError, Result};
use crate::service::Service;

pub fn routes() -> Router<SandboxState> {
    Router::new().route("/v1/messages", post(send_message))
}

#[derive(Debug, Deserialize)]
struct MessageIn {
    order_id: String,
    to: String,
    template: String,
    #[serde(default)]
    data: Value,
}

/// `POST /v1/messages`: 201 the message (`id` is `msg_…`).
async fn send_message(
    State(s): State<SandboxState>,
    Tenant(tenant): Tenant,
    IdempotencyKey(key): IdempotencyKey,
    Body(input): Body<MessageIn>,
) -> Result<Response> {
    let errors: Vec<FieldError> = [
        ("order_id", &input.order_id),
        ("to", &input.to),
        ("template", &input.template),
    ]
    .into_iter()
    .filter(|(_, v)| v.trim().is_empty())
    .map(|(field, _)| FieldError {
        field: field.into(),
        message: "required".into(),
    })
    .collect();
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    let mut m = match idempotency::begin(&s.db, Service::Notifications, &tenant, key).await? {
        Claim::Replay(answer) => return Ok(answer),
        Claim::Fresh(m) => m,
    };
    let outcome = send(&mut m, &tenant, input).await;
    m.finish(outcome, &s.events).await
}

async fn send(m: &mut Mutation, tenant: &str, input: MessageIn) -> Result<Answer> {
    let id = new_id("msg");
    let data = if input.data.is_null() {
        json!({})
    } else {
        input.data
    };
    let (order, to, template) = (&input.order_id, &input.to, &input.template);
    let message =
        store::messages::insert(m.conn(), tenant, &id, order, to, template, &data).await?;
    let detail = json!({ "id": id, "to": input.to, "template": input.template });
    m.effect(&input.order_id, "notification.send", detail)
        .await?;
    Answer::new(StatusCode::CREATED, &message)
}
