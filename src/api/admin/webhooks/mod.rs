//! Webhook subscriptions of the tenant: created (the `whsec_…` secret shown once), listed,
//! read, changed, disabled, deleted, their secret rotated, their delivery log listed. The
//! events they receive are written by `db::events::record`; the worker delivers them
//! (`events::deliver`). Every endpoint requires `webhooks.manage`.

mod deliveries;
mod manage;
mod replay;

pub use deliveries::*;
pub use manage::*;
pub use replay::*;

use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::api::accept::Answer;
use crate::api::extract::Validate;
use crate::db::audit::Entry;
use crate::db::webhooks::WebhookRow;
use crate::error::{Error, FieldError, Result};
use crate::events::ssrf;
use crate::state::AppState;

const MAX_DESCRIPTION: usize = 200;
const MAX_TYPES: usize = 50;
const MAX_URL: usize = 2000;

/// A new subscription.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookIn {
    /// `http(s)://…`, at most 2000 characters, whose host resolves to public addresses only.
    pub url: String,
    /// At most 200 characters.
    #[serde(default)]
    pub description: String,
    /// Event types to receive (`order.updated`, `customer.cancel_requested`, …); empty or
    /// absent: every type.
    #[serde(default)]
    pub event_types: Vec<String>,
}

impl Validate for WebhookIn {
    type Checked = ();

    fn validate(&self) -> Result<()> {
        let mut errors = Vec::new();
        check_url(&self.url, &mut errors);
        check_description(&self.description, &mut errors);
        check_types(&self.event_types, &mut errors);
        done(errors)
    }
}

/// A change of a subscription: members absent stay as they are.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookPatch {
    pub url: Option<String>,
    pub description: Option<String>,
    pub event_types: Option<Vec<String>>,
    /// `true` re-enables a disabled subscription (its waiting deliveries resume).
    pub enabled: Option<bool>,
}

impl Validate for WebhookPatch {
    type Checked = ();

    fn validate(&self) -> Result<()> {
        let mut errors = Vec::new();
        if let Some(url) = &self.url {
            check_url(url, &mut errors);
        }
        if let Some(d) = &self.description {
            check_description(d, &mut errors);
        }
        if let Some(t) = &self.event_types {
            check_types(t, &mut errors);
        }
        done(errors)
    }
}

fn check_url(url: &str, errors: &mut Vec<FieldError>) {
    let ok = url.len() <= MAX_URL
        && reqwest::Url::parse(url)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
    if !ok {
        errors.push(field(
            "url",
            format!("an http(s) URL of at most {MAX_URL} characters"),
        ));
    }
}

fn check_description(d: &str, errors: &mut Vec<FieldError>) {
    if d.chars().count() > MAX_DESCRIPTION {
        errors.push(field(
            "description",
            format!("at most {MAX_DESCRIPTION} characters"),
        ));
    }
}

/// `area.name` in lower case, e.g. `order.updated`.
fn check_types(types: &[String], errors: &mut Vec<FieldError>) {
    let well_formed = |t: &str| {
        t.split_once('.').is_some_and(|(a, b)| {
            !a.is_empty()
                && !b.is_empty()
                && t.len() <= 100
                && t.chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_' || c == '.')
        })
    };
    if types.len() > MAX_TYPES {
        errors.push(field("event_types", format!("at most {MAX_TYPES} types")));
    }
    if let Some(bad) = types.iter().find(|t| !well_formed(t)) {
        let message = format!("{bad:?} is not an event type (e.g. order.updated)");
        errors.push(field("event_types", message));
    }
}

fn field(name: &str, message: String) -> FieldError {
    FieldError {
        field: name.into(),
        message,
    }
}

fn done(errors: Vec<FieldError>) -> Result<()> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::validation(errors))
    }
}

/// 422 `webhooks.url_refused` unless the URL's host resolves to allowed addresses only.
pub(crate) async fn guard_url(state: &AppState, url: &str) -> Result<()> {
    let allow = &state.config.webhooks.allow_hosts;
    ssrf::check(url, allow).await.map(|_| ()).map_err(|e| {
        Error::unprocessable("webhooks.url_refused", format!("the URL is refused: {e}"))
            .with_errors(vec![field("url", e.to_string())])
    })
}

/// A malformed id names no webhook, as an unknown one.
pub(crate) fn webhook_id(raw: &str) -> Result<Uuid> {
    Uuid::try_parse(raw).map_err(|_| Error::not_found("webhook"))
}

/// A subscription and, this once, its secret (creation, rotation).
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookSecretOut {
    #[serde(flatten)]
    pub record: WebhookRow,
    /// The `whsec_…` signing secret (Standard Webhooks), in this answer only: a replay
    /// under the same `Idempotency-Key` answers `null`.
    pub secret: Option<String>,
}

impl Answer for WebhookSecretOut {
    fn for_replay(&self) -> Option<serde_json::Value> {
        let mut v = serde_json::to_value(&self.record).ok()?;
        v["secret"] = serde_json::Value::Null;
        Some(v)
    }
}

impl Answer for WebhookRow {}

fn entry<'a>(action: &'a str, id: &'a str, record: &WebhookRow) -> Entry<'a> {
    Entry {
        action,
        subject_type: "webhook",
        subject_id: id,
        reason: None,
        before: None,
        after: Some(json!({
            "url": record.url, "event_types": record.event_types, "enabled": record.enabled,
        })),
        personal_data_of: None,
    }
}
