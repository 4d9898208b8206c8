//! The tenant's settings as agents read and change them: `GET` with an `ETag`, `PATCH` as a
//! JSON merge patch (RFC 7396) guarded by `If-Match`, so two agents editing at once cannot
//! overwrite each other's change unseen. Every change is audited with before and after.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::api::accept::{Admission, Admitted, Answer, Intake, accept};
use crate::api::authorized::{Authorized, can};
use crate::api::extract::{Valid, Validate, invalid};
use crate::api::idempotency::IdempotencyKey;
use crate::api::precondition::{IfMatch, Tags};
use crate::api::shared::RequestMeta;
use crate::db;
use crate::db::audit::Entry;
use crate::domain::settings::TenantSettings;
use crate::error::{Error, FieldError, Result};
use crate::state::AppState;

/// The settings and the version they are at: send `etag` back as `If-Match` to change them.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminSettingsOut {
    /// A strong entity tag, quoted as HTTP writes it (`"…"`).
    pub etag: String,
    pub settings: TenantSettings,
}

impl AdminSettingsOut {
    fn of(settings: TenantSettings) -> Self {
        let digest = Sha256::digest(serde_json::to_vec(&settings).unwrap_or_default());
        let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
        AdminSettingsOut {
            etag: format!("\"{hex}\""),
            settings,
        }
    }
}

impl Answer for AdminSettingsOut {}

/// The tenant's settings, with their `ETag`.
#[utoipa::path(get, path = "/v1/admin/settings", tag = "admin",
    security(("bearer" = ["orders.read"])),
    responses((status = 200, body = AdminSettingsOut, headers(("ETag" = String))),
              (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem)))]
pub async fn get_settings(
    State(state): State<AppState>,
    agent: Authorized<can::OrdersRead>,
) -> Result<Response> {
    let mut conn = state.db.acquire().await?;
    let out = AdminSettingsOut::of(db::tenants::settings(&mut conn, &agent.tenant_id).await?);
    Ok(([(header::ETAG, out.etag.clone())], axum::Json(out)).into_response())
}

/// A JSON merge patch of the settings: members to set, `null` to reset one to its default
/// (or to clear an optional one); nested objects merge member by member.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub struct SettingsPatch(pub Value);

impl Validate for SettingsPatch {
    type Checked = ();

    fn validate(&self) -> Result<()> {
        match &self.0 {
            Value::Object(members) if !members.is_empty() => Ok(()),
            _ => Err(invalid("body", "a JSON object naming at least one setting")),
        }
    }
}

/// Changes the tenant's settings by a merge patch, if they are still at the `If-Match`
/// version: 412 `settings.stale` (with the current `etag`) when someone changed them since,
/// 428 `settings.if_match_required` without the header, 400
/// `precondition.if_match_malformed` for one that is not `*` or a list of quoted tags. A retry with the same
/// `Idempotency-Key` and body replays the first answer.
#[utoipa::path(patch, path = "/v1/admin/settings", tag = "admin",
    params(("If-Match" = String, Header, description = "the etag of the settings this change was made against"),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body(content = SettingsPatch, content_type = "application/merge-patch+json"),
    security(("bearer" = ["tenant.settings.write"])),
    responses((status = 200, body = AdminSettingsOut), (status = 401, body = crate::error::Problem),
              (status = 400, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 412, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem), (status = 428, body = crate::error::Problem)))]
pub async fn patch_settings(
    State(state): State<AppState>,
    agent: Authorized<can::TenantSettingsWrite>,
    meta: RequestMeta,
    key: IdempotencyKey,
    if_match: IfMatch,
    Valid { body, .. }: Valid<SettingsPatch>,
) -> Result<Response> {
    let expected = if_match.required("settings.if_match_required", "GET /v1/admin/settings")?;
    let key = key.optional_for("settings.patch", &(&expected, &body));
    let intake = SettingsChange {
        expected,
        patch: body.0,
    };
    let answer = accept(&state, agent.caller(&meta), key, intake).await?;
    // this process's next request reads the change at once, not when the NOTIFY arrives
    state.tenant_settings.invalidate(&agent.tenant_id);
    Ok(answer)
}

/// One agent's change of the settings, written under the row's lock.
struct SettingsChange {
    expected: Tags,
    patch: Value,
}

impl Intake for SettingsChange {
    type Answer = AdminSettingsOut;

    async fn admit(self, adm: &mut Admission<'_>) -> Result<Admitted<AdminSettingsOut>> {
        let tenant = adm.caller().tenant_id.clone();
        let before = db::tenants::settings_for_update(adm.conn(), &tenant).await?;
        let current = AdminSettingsOut::of(before.clone()).etag;
        if !self.expected.matches_strong(&current) {
            return Err(Error::new(
                StatusCode::PRECONDITION_FAILED,
                "settings.stale",
                "the settings changed since you read them; read them again and retry",
            )
            .with_extra("etag", current.into()));
        }
        let after = patched(&before, self.patch)?;
        db::tenants::set_settings(adm.conn(), &tenant, &after).await?;
        adm.audit(Entry {
            action: "settings.changed",
            subject_type: "tenant",
            subject_id: tenant.as_str(),
            reason: None,
            before: serde_json::to_value(&before).ok(),
            after: serde_json::to_value(&after).ok(),
            personal_data_of: None,
        })
        .await?;
        Ok(Admitted::done(StatusCode::OK, AdminSettingsOut::of(after)))
    }
}

/// `before` with `patch` merged in, if the result is settings that pass their checks: 422
/// naming every unknown member and every broken rule otherwise.
fn patched(before: &TenantSettings, patch: Value) -> Result<TenantSettings> {
    let mut doc = serde_json::to_value(before).map_err(anyhow::Error::from)?;
    json_patch::merge(&mut doc, &patch);
    let after: TenantSettings =
        serde_json::from_value(doc.clone()).map_err(|e| invalid("body", e.to_string()))?;
    let known = serde_json::to_value(&after).map_err(anyhow::Error::from)?;
    let mut errors = Vec::new();
    unknown_members(&doc, &known, "", &mut errors);
    errors.extend(
        after
            .check()
            .into_iter()
            .map(|(field, message)| FieldError {
                field: field.into(),
                message,
            }),
    );
    if errors.is_empty() {
        Ok(after)
    } else {
        Err(Error::validation(errors))
    }
}

/// Members of `sent` that the settings do not have (they would be dropped silently).
fn unknown_members(sent: &Value, known: &Value, at: &str, out: &mut Vec<FieldError>) {
    let (Value::Object(sent), Value::Object(known)) = (sent, known) else {
        return;
    };
    for (name, value) in sent {
        let path = if at.is_empty() {
            name.clone()
        } else {
            format!("{at}.{name}")
        };
        match known.get(name) {
            Some(k) => unknown_members(value, k, &path, out),
            None => {
                let names: Vec<&str> = known.keys().map(String::as_str).collect();
                out.push(FieldError {
                    field: path,
                    message: format!("no such setting; there are: {}", names.join(", ")),
                });
            }
        }
    }
}
