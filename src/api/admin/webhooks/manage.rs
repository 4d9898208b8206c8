//! Creating, changing, disabling, deleting a subscription and rotating its secret: each
//! through `api::accept` (idempotent, audited).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use uuid::Uuid;

use super::{WebhookIn, WebhookPatch, WebhookSecretOut, entry, guard_url, webhook_id};
use crate::api::accept::{Admission, Admitted, Intake, accept};
use crate::api::authorized::{Authorized, can};
use crate::api::extract::{Path, Valid};
use crate::api::idempotency::IdempotencyKey;
use crate::api::shared::RequestMeta;
use crate::db;
use crate::db::webhooks::{NewWebhook, WebhookChange, WebhookRow};
use crate::error::{Error, Result};
use crate::events::webhook::{SecretSeal, new_secret};
use crate::state::AppState;

struct CreateIntake<'a> {
    body: &'a WebhookIn,
}

impl Intake for CreateIntake<'_> {
    type Answer = WebhookSecretOut;

    async fn admit(self, adm: &mut Admission<'_>) -> Result<Admitted<WebhookSecretOut>> {
        let secret = new_secret();
        let (tenant, by) = (
            adm.caller().tenant_id.clone(),
            adm.caller().principal.clone(),
        );
        let mut types = self.body.event_types.clone();
        types.sort();
        types.dedup();
        let id = Uuid::now_v7();
        let sealed = SecretSeal::new(&adm.state().config).seal(tenant.as_str(), id, &secret)?;
        let new = NewWebhook {
            id,
            tenant_id: &tenant,
            url: &self.body.url,
            description: self.body.description.trim(),
            event_types: &types,
            secret: &sealed,
            created_by: &by,
        };
        let record = db::webhooks::insert(adm.conn(), &new).await?;
        let id = record.id.to_string();
        adm.audit(entry("webhook.created", &id, &record)).await?;
        let secret = Some(secret);
        Ok(Admitted::done(
            StatusCode::CREATED,
            WebhookSecretOut { record, secret },
        ))
    }
}

/// Creates a subscription (201; its secret is in this answer only). Requires
/// `webhooks.manage` and `Idempotency-Key`; 422 `webhooks.url_refused` for a URL whose host
/// is not public (see `ORDERDESK_WEBHOOK_ALLOW_HOSTS`).
#[utoipa::path(post, path = "/v1/admin/webhooks", tag = "admin", request_body = WebhookIn,
    params(("Idempotency-Key" = String, Header)), security(("bearer" = ["webhooks.manage"])),
    responses((status = 201, body = WebhookSecretOut), (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn create_webhook(
    State(state): State<AppState>,
    agent: Authorized<can::WebhooksManage>,
    meta: RequestMeta,
    key: IdempotencyKey,
    Valid { body, .. }: Valid<WebhookIn>,
) -> Result<Response> {
    let key = key.required_for("webhooks.create", &body)?;
    guard_url(&state, &body.url).await?;
    accept(
        &state,
        agent.caller(&meta),
        key,
        CreateIntake { body: &body },
    )
    .await
}

/// A change to one subscription.
enum Change {
    Patch(WebhookPatch),
    Disable,
    Delete,
}

struct ChangeIntake {
    id: Uuid,
    change: Change,
}

impl Intake for ChangeIntake {
    type Answer = WebhookRow;

    async fn admit(self, adm: &mut Admission<'_>) -> Result<Admitted<WebhookRow>> {
        let tenant = adm.caller().tenant_id.clone();
        let (action, found) = match &self.change {
            Change::Patch(p) => {
                let types = p.event_types.as_ref().map(|t| {
                    let mut t = t.clone();
                    t.sort();
                    t.dedup();
                    t
                });
                let c = WebhookChange {
                    url: p.url.as_deref(),
                    description: p.description.as_deref().map(str::trim),
                    event_types: types.as_deref(),
                    enabled: p.enabled,
                    disabled_reason: Some("disabled by an agent"),
                    secret: None,
                };
                let row = db::webhooks::update(adm.conn(), &tenant, self.id, &c).await?;
                ("webhook.changed", row)
            }
            Change::Disable => {
                let c = WebhookChange {
                    enabled: Some(false),
                    disabled_reason: Some("disabled by an agent"),
                    ..WebhookChange::default()
                };
                let row = db::webhooks::update(adm.conn(), &tenant, self.id, &c).await?;
                ("webhook.disabled", row)
            }
            Change::Delete => {
                let row = db::webhooks::delete(adm.conn(), &tenant, self.id).await?;
                ("webhook.deleted", row)
            }
        };
        let record = found.ok_or_else(|| Error::not_found("webhook"))?;
        let id = record.id.to_string();
        adm.audit(entry(action, &id, &record)).await?;
        Ok(Admitted::done(StatusCode::OK, record))
    }
}

/// Changes a subscription's URL, description, event types or `enabled`. Requires
/// `webhooks.manage`.
#[utoipa::path(patch, path = "/v1/admin/webhooks/{webhook_id}", tag = "admin",
    request_body = WebhookPatch, params(("webhook_id" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    security(("bearer" = ["webhooks.manage"])),
    responses((status = 200, body = WebhookRow), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn patch_webhook(
    State(state): State<AppState>,
    agent: Authorized<can::WebhooksManage>,
    meta: RequestMeta,
    key: IdempotencyKey,
    Path(id): Path<String>,
    Valid { body, .. }: Valid<WebhookPatch>,
) -> Result<Response> {
    let id = webhook_id(&id)?;
    if let Some(url) = &body.url {
        guard_url(&state, url).await?;
    }
    let key = key.optional_for(&format!("webhooks.patch:{id}"), &body);
    let intake = ChangeIntake {
        id,
        change: Change::Patch(body),
    };
    accept(&state, agent.caller(&meta), key, intake).await
}

/// Disables a subscription: no delivery is attempted until it is enabled again (PATCH
/// `enabled: true`). Requires `webhooks.manage`.
#[utoipa::path(post, path = "/v1/admin/webhooks/{webhook_id}/disable", tag = "admin",
    params(("webhook_id" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    security(("bearer" = ["webhooks.manage"])),
    responses((status = 200, body = WebhookRow), (status = 404, body = crate::error::Problem)))]
pub async fn disable_webhook(
    State(state): State<AppState>,
    agent: Authorized<can::WebhooksManage>,
    meta: RequestMeta,
    key: IdempotencyKey,
    Path(id): Path<String>,
) -> Result<Response> {
    let id = webhook_id(&id)?;
    let key = key.optional_for(&format!("webhooks.disable:{id}"), &());
    let intake = ChangeIntake {
        id,
        change: Change::Disable,
    };
    accept(&state, agent.caller(&meta), key, intake).await
}

/// Deletes a subscription and its delivery log. Requires `webhooks.manage`.
#[utoipa::path(delete, path = "/v1/admin/webhooks/{webhook_id}", tag = "admin",
    params(("webhook_id" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    security(("bearer" = ["webhooks.manage"])),
    responses((status = 200, body = WebhookRow), (status = 404, body = crate::error::Problem)))]
pub async fn delete_webhook(
    State(state): State<AppState>,
    agent: Authorized<can::WebhooksManage>,
    meta: RequestMeta,
    key: IdempotencyKey,
    Path(id): Path<String>,
) -> Result<Response> {
    let id = webhook_id(&id)?;
    let key = key.optional_for(&format!("webhooks.delete:{id}"), &());
    let intake = ChangeIntake {
        id,
        change: Change::Delete,
    };
    accept(&state, agent.caller(&meta), key, intake).await
}

struct RotateIntake {
    id: Uuid,
}

impl Intake for RotateIntake {
    type Answer = WebhookSecretOut;

    async fn admit(self, adm: &mut Admission<'_>) -> Result<Admitted<WebhookSecretOut>> {
        let tenant = adm.caller().tenant_id.clone();
        let secret = new_secret();
        let sealed =
            SecretSeal::new(&adm.state().config).seal(tenant.as_str(), self.id, &secret)?;
        let c = WebhookChange {
            secret: Some(&sealed),
            ..WebhookChange::default()
        };
        let record = db::webhooks::update(adm.conn(), &tenant, self.id, &c)
            .await?
            .ok_or_else(|| Error::not_found("webhook"))?;
        let id = record.id.to_string();
        adm.audit(entry("webhook.secret_rotated", &id, &record))
            .await?;
        let secret = Some(secret);
        Ok(Admitted::done(
            StatusCode::OK,
            WebhookSecretOut { record, secret },
        ))
    }
}

/// Replaces a subscription's secret; the new one is in this answer only and signs every
/// delivery attempted from now on. Requires `webhooks.manage` and `Idempotency-Key`.
#[utoipa::path(post, path = "/v1/admin/webhooks/{webhook_id}/rotate-secret", tag = "admin",
    params(("webhook_id" = String, Path), ("Idempotency-Key" = String, Header)),
    security(("bearer" = ["webhooks.manage"])),
    responses((status = 200, body = WebhookSecretOut), (status = 404, body = crate::error::Problem)))]
pub async fn rotate_webhook_secret(
    State(state): State<AppState>,
    agent: Authorized<can::WebhooksManage>,
    meta: RequestMeta,
    key: IdempotencyKey,
    Path(id): Path<String>,
) -> Result<Response> {
    let id = webhook_id(&id)?;
    let key = key.required_for(&format!("webhooks.rotate:{id}"), &())?;
    accept(&state, agent.caller(&meta), key, RotateIntake { id }).await
}
