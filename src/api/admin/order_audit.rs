//! `GET /v1/admin/orders/{order_id}/audit`: every recorded action on an order, filtered by
//! actor, action and time, with the correlation id that ties one run's calls together.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::access_log::{self, Read};
use crate::api::auth::Agent;
use crate::api::authorized::{Authorized, can};
use crate::api::extract::{Path, ValidQuery, Validate};
use crate::api::shared::{PageIn, RequestMeta, encode_cursor};
use crate::db;
use crate::db::audit::{ActionMatch, AuditFilter, AuditPage, AuditRow};
use crate::domain::ids::OrderId;
use crate::error::{Error, FieldError, Result};
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// The actor's id (an agent's, a customer's, or a system part's such as `worker`).
    pub actor: Option<String>,
    /// An action (`order.viewed`), or every action under a prefix: `order.*`.
    pub action: Option<String>,
    /// Recorded at or after (RFC 3339).
    pub from: Option<String>,
    /// Recorded before (RFC 3339).
    pub to: Option<String>,
    /// 1 to 200, default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

impl Validate for AuditQuery {
    /// The filter and page; the cursor is the id of the last record seen.
    type Checked = AuditFilter;

    fn validate(&self) -> Result<AuditFilter> {
        let page = PageIn::<i64>::parse(self.limit, self.cursor.as_deref(), 50, 200)?;
        let mut errors = Vec::new();
        let mut time = |field: &str, value: &Option<String>| {
            let v = value.as_deref()?;
            let parsed = DateTime::parse_from_rfc3339(v).map(|t| t.with_timezone(&Utc));
            parsed
                .map_err(|_| errors.push(field_error(field, "not an RFC 3339 date-time")))
                .ok()
        };
        let (from, to) = (time("from", &self.from), time("to", &self.to));
        if let (Some(f), Some(t)) = (from, to)
            && f >= t
        {
            errors.push(field_error("from", "must be before to"));
        }
        let action = self.action.as_deref().map(parse_action).transpose();
        let action = action.unwrap_or_else(|e| {
            errors.push(e);
            None
        });
        let actor = self.actor.clone();
        if actor
            .as_deref()
            .is_some_and(|a| a.is_empty() || a.len() > 200)
        {
            errors.push(field_error("actor", "an actor id: 1 to 200 characters"));
        }
        if !errors.is_empty() {
            return Err(Error::validation(errors));
        }
        let (id, limit) = (page.after.unwrap_or(0), page.fetch());
        Ok(AuditFilter {
            actor_id: actor,
            action,
            from,
            to,
            page: AuditPage::After { id, limit },
        })
    }
}

/// `order.cancel_requested` (exact) or `order.*` (prefix `order.`): lowercase letters,
/// digits, `_` and dots.
fn parse_action(s: &str) -> Result<ActionMatch, FieldError> {
    let (name, prefix) = match s.strip_suffix('*') {
        Some(p) if p.ends_with('.') => (p, true),
        _ => (s, false),
    };
    let valid = !name.is_empty()
        && name.len() <= 100
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.');
    match (valid, prefix) {
        (false, _) => Err(field_error(
            "action",
            "an action (order.viewed) or a prefix ending in .* (order.*)",
        )),
        (true, true) => Ok(ActionMatch::Prefix(name.to_string())),
        (true, false) => Ok(ActionMatch::Exact(name.to_string())),
    }
}

fn field_error(field: &str, message: &str) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditListOut {
    pub data: Vec<AuditRow>,
    pub next_cursor: Option<String>,
}

/// The order's audit records that match the filters, oldest first. Records hold personal
/// data (reasons, IPs, before/after), so each read is itself recorded
/// (`order.audit_viewed`, with the ids shown).
#[utoipa::path(get, path = "/v1/admin/orders/{order_id}/audit", tag = "admin", params(("order_id" = String, Path), AuditQuery),
    security(("bearer" = ["audit.read"])),
    responses((status = 200, body = AuditListOut), (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn get_audit(
    State(state): State<AppState>,
    agent: Authorized<can::AuditRead>,
    meta: RequestMeta,
    Path(order_id): Path<OrderId>,
    ValidQuery(filter): ValidQuery<AuditQuery>,
) -> Result<Json<AuditListOut>> {
    agent.tenant_order(&state, &order_id).await?;
    let (data, more) = read_recorded(&state, &agent, &meta, &order_id, &filter).await?;
    let next_cursor = data.last().filter(|_| more).map(|r| encode_cursor(&r.id));
    Ok(Json(AuditListOut { data, next_cursor }))
}

/// The order's records `filter` selects, cut to the page (it reads one more than it
/// shows), whether more follow, and the access record `order.audit_viewed` naming the ids
/// shown, in one transaction. Every read of an order's audit records goes through here:
/// this endpoint and the order view's `expand=audit`.
pub(super) async fn read_recorded(
    state: &AppState,
    agent: &Agent,
    meta: &RequestMeta,
    order_id: &OrderId,
    filter: &AuditFilter,
) -> Result<(Vec<AuditRow>, bool)> {
    let (tenant, id) = (&agent.tenant_id, order_id.as_str());
    let mut tx = state.db.begin().await?;
    let mut data = db::audit::list_filtered(&mut tx, tenant, "order", id, filter).await?;
    let shown = (filter.page.limit() - 1).max(0) as usize;
    let more = data.len() > shown;
    data.truncate(shown);
    let ids: Vec<i64> = data.iter().map(|r| r.id).collect();
    let read = Read {
        action: "order.audit_viewed",
        subject_type: "order",
        subject_id: id,
        shown: serde_json::json!({ "audit_ids": ids }),
    };
    access_log::record(&mut tx, agent, meta, read).await?;
    tx.commit().await?;
    Ok((data, more))
}
