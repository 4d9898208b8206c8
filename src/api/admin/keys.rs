//! Scoped API keys for integrations: created (the key is shown once), listed, revoked.
//! A key is sent as `Authorization: Bearer odk_…` instead of an agent's JWT; it may do what
//! its scopes name and nothing else (never a sudo action), and is rate-limited on its own.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::approvals;
use crate::api::accept::{Admission, Admitted, Answer, Intake, accept};
use crate::api::auth::Agent;
use crate::api::authorized::{Authorized, can};
use crate::api::extract::{Path, Valid, ValidQuery, Validate};
use crate::api::idempotency::IdempotencyKey;
use crate::api::shared::{PageIn, RequestMeta, page_of};
use crate::auth::{Permission, api_keys};
use crate::db;
use crate::db::api_keys::{ApiKeyRow, NewApiKey};
use crate::db::audit::Entry;
use crate::domain::approvals::HighRiskAction;
use crate::error::{Error, FieldError, Result};
use crate::state::AppState;

const MAX_NAME: usize = 100;
/// Longest unknown scope echoed back in an error (longer than any permission name).
const MAX_SCOPE_ECHO: usize = 64;
/// A key lives at most two years.
const MAX_LIFETIME_DAYS: i64 = 730;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKeyIn {
    /// 1 to 100 characters, e.g. the integration's name.
    pub name: String,
    /// Permission names (`orders.read`, …): what the key may do. At least one, each one
    /// the creator holds.
    pub scopes: Vec<String>,
    /// In the future, at most two years ahead; absent: until revoked.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

impl Validate for NewKeyIn {
    type Checked = Vec<Permission>;

    fn validate(&self) -> Result<Vec<Permission>> {
        let mut errors = Vec::new();
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME {
            errors.push(field("name", format!("1 to {MAX_NAME} characters")));
        }
        let mut scopes = Vec::new();
        if self.scopes.len() > Permission::ALL.len() {
            // more names than there are permissions: refused at once, none looked at
            let message = format!("at most {} permissions", Permission::ALL.len());
            return Err(Error::validation(vec![field("scopes", message)]));
        }
        let mut unknown = false;
        for (i, s) in self.scopes.iter().enumerate() {
            match Permission::ALL.iter().find(|p| p.as_str() == s) {
                Some(p) if !scopes.contains(p) => scopes.push(*p),
                Some(_) => {}
                None => {
                    unknown = true;
                    let message = if s.chars().count() <= MAX_SCOPE_ECHO {
                        format!("unknown permission {s:?}")
                    } else {
                        "unknown permission".into()
                    };
                    errors.push(field(&format!("scopes[{i}]"), message));
                }
            }
        }
        if unknown {
            // the permissions that exist, listed once however many names were unknown
            let known: Vec<&str> = Permission::ALL.iter().map(|p| p.as_str()).collect();
            errors.push(field("scopes", format!("known: {}", known.join(", "))));
        }
        if self.scopes.is_empty() {
            errors.push(field("scopes", "at least one permission".into()));
        }
        let now = Utc::now();
        if let Some(at) = self.expires_at
            && (at <= now || at > now + Duration::days(MAX_LIFETIME_DAYS))
        {
            let message = format!("in the future, at most {MAX_LIFETIME_DAYS} days ahead");
            errors.push(field("expires_at", message));
        }
        if errors.is_empty() {
            Ok(scopes)
        } else {
            Err(Error::validation(errors))
        }
    }
}

fn field(name: &str, message: String) -> FieldError {
    FieldError {
        field: name.into(),
        message,
    }
}

/// A new key: its record and, this once, the key itself.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyCreatedOut {
    #[serde(flatten)]
    pub record: ApiKeyRow,
    /// The key, shown in this answer only (a replay under the same `Idempotency-Key`
    /// answers `null`): only its hash is stored.
    pub key: Option<String>,
}

impl Answer for KeyCreatedOut {
    fn for_replay(&self) -> Option<serde_json::Value> {
        let mut v = serde_json::to_value(&self.record).ok()?;
        v["key"] = serde_json::Value::Null;
        Some(v)
    }
}

pub(super) struct NewKeyIntake<'a> {
    pub(super) body: &'a NewKeyIn,
    pub(super) scopes: Vec<Permission>,
}

impl Intake for NewKeyIntake<'_> {
    type Answer = KeyCreatedOut;

    async fn admit(self, adm: &mut Admission<'_>) -> Result<Admitted<KeyCreatedOut>> {
        let made = api_keys::generate();
        let scopes: Vec<String> = self.scopes.iter().map(|p| p.as_str().to_string()).collect();
        let (tenant, by) = (
            adm.caller().tenant_id.clone(),
            adm.caller().principal.clone(),
        );
        let new = NewApiKey {
            id: made.id,
            tenant_id: &tenant,
            name: self.body.name.trim(),
            secret_hash: &made.secret_hash,
            scopes: &scopes,
            created_by: &by,
            expires_at: self.body.expires_at,
        };
        let record = db::api_keys::insert(adm.conn(), &new).await?;
        let id = record.id.to_string();
        adm.audit(key_entry("key.created", &id, &record)).await?;
        let answer = KeyCreatedOut {
            record,
            key: Some(made.key),
        };
        Ok(Admitted::done(StatusCode::CREATED, answer))
    }
}

fn key_entry<'a>(action: &'a str, id: &'a str, record: &ApiKeyRow) -> Entry<'a> {
    Entry {
        action,
        subject_type: "api_key",
        subject_id: id,
        reason: None,
        before: None,
        after: Some(json!({ "id": record.id, "name": record.name, "scopes": record.scopes })),
        personal_data_of: None,
    }
}

/// 403 `keys.scope_not_held` unless the caller holds every scope it gives.
pub(super) fn check_scopes(agent: &Agent, scopes: &[Permission]) -> Result<()> {
    let missing: Vec<&str> = scopes
        .iter()
        .filter(|p| !agent.can(**p))
        .map(|p| p.as_str())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::forbidden(
        "keys.scope_not_held",
        format!(
            "a key cannot get permissions its creator lacks: {}",
            missing.join(", ")
        ),
    ))
}

/// Creates a key (201; the key is in this answer only), or holds the request for a second
/// agent's approval (202) when the tenant's settings say so. Requires `keys.manage`, every
/// scope given, and `Idempotency-Key`.
#[utoipa::path(post, path = "/v1/admin/keys", tag = "admin", request_body = NewKeyIn,
    params(("Idempotency-Key" = String, Header)), security(("bearer" = ["keys.manage"])),
    responses((status = 201, body = KeyCreatedOut), (status = 202, body = crate::db::approvals::ApprovalRow), (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn create_key(
    State(state): State<AppState>,
    agent: Authorized<can::KeysManage>,
    meta: RequestMeta,
    key: IdempotencyKey,
    Valid { body, checked }: Valid<NewKeyIn>,
) -> Result<Response> {
    check_scopes(&agent, &checked)?;
    let key = key.required_for("keys.create", &body)?;
    if approvals::required(&state, &agent, HighRiskAction::KeyCreation).await? {
        let held = HighRiskAction::KeyCreation;
        return approvals::hold(&state, agent.caller(&meta), key, held, "", &body).await;
    }
    let intake = NewKeyIntake {
        body: &body,
        scopes: checked,
    };
    accept(&state, agent.caller(&meta), key, intake).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct KeysQuery {
    /// 1 to 200, default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

impl Validate for KeysQuery {
    type Checked = PageIn<Uuid>;

    fn validate(&self) -> Result<PageIn<Uuid>> {
        PageIn::parse(self.limit, self.cursor.as_deref(), 50, 200)
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyListOut {
    pub data: Vec<ApiKeyRow>,
    pub next_cursor: Option<String>,
}

/// The tenant's keys, newest first, revoked ones included; never their secrets.
#[utoipa::path(get, path = "/v1/admin/keys", tag = "admin", params(KeysQuery),
    security(("bearer" = ["keys.manage"])),
    responses((status = 200, body = KeyListOut), (status = 403, body = crate::error::Problem)))]
pub async fn list_keys(
    State(state): State<AppState>,
    agent: Authorized<can::KeysManage>,
    ValidQuery(page): ValidQuery<KeysQuery>,
) -> Result<Json<KeyListOut>> {
    let mut conn = state.db.acquire().await?;
    let rows = db::api_keys::list(&mut conn, &agent.tenant_id, page.after, page.fetch()).await?;
    let (data, next_cursor) = page_of(rows, page.limit, |r| r.id);
    Ok(Json(KeyListOut { data, next_cursor }))
}

struct RevokeIntake {
    key_id: Uuid,
}

impl Answer for ApiKeyRow {}

impl Intake for RevokeIntake {
    type Answer = ApiKeyRow;

    async fn admit(self, adm: &mut Admission<'_>) -> Result<Admitted<ApiKeyRow>> {
        let (tenant, by) = (
            adm.caller().tenant_id.clone(),
            adm.caller().principal.clone(),
        );
        let record = db::api_keys::revoke(adm.conn(), &tenant, self.key_id, &by)
            .await?
            .ok_or_else(|| Error::not_found("key"))?;
        let id = record.id.to_string();
        adm.audit(key_entry("key.revoked", &id, &record)).await?;
        Ok(Admitted::done(StatusCode::OK, record))
    }
}

/// Revokes a key: from now on it is refused with 401 `auth.key_revoked`. Revoking a revoked
/// key changes nothing. Requires `keys.manage`.
#[utoipa::path(post, path = "/v1/admin/keys/{key_id}/revoke", tag = "admin",
    params(("key_id" = String, Path), ("Idempotency-Key" = Option<String>, Header)), security(("bearer" = ["keys.manage"])),
    responses((status = 200, body = ApiKeyRow), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn revoke_key(
    State(state): State<AppState>,
    agent: Authorized<can::KeysManage>,
    meta: RequestMeta,
    key: IdempotencyKey,
    Path(key_id): Path<String>,
) -> Result<Response> {
    // a malformed id names no key, as an unknown one
    let key_id = Uuid::try_parse(&key_id).map_err(|_| Error::not_found("key"))?;
    let key = key.optional_for(&format!("keys.revoke:{key_id}"), &());
    accept(&state, agent.caller(&meta), key, RevokeIntake { key_id }).await
}
