//! An agent acting as an order's customer: a short-lived customer token that carries the
//! agent as its RFC 8693 `act` claim. Everything the token does is audited with the agent as
//! `on_behalf_of`; it is a customer token, so no admin route accepts it; and the customer
//! is found through an order of the agent's own tenant, so no other tenant's customer can be
//! reached.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::approvals;
use crate::api::accept::{Admission, Admitted, Answer, Intake, accept};
use crate::api::auth::Agent;
use crate::api::authorized::{Authorized, can};
use crate::api::cancellation::validate_note;
use crate::api::extract::{Path, Valid, Validate};
use crate::api::idempotency::IdempotencyKey;
use crate::api::shared::RequestMeta;
use crate::auth::{Act, MintRequest, mint};
use crate::db::audit::Entry;
use crate::domain::approvals::HighRiskAction;
use crate::domain::ids::{CustomerId, OrderId};
use crate::domain::order::Order;
use crate::error::{Error, FieldError, Result};
use crate::state::AppState;

const TTL_SECONDS: std::ops::RangeInclusive<u64> = 60..=900;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImpersonateIn {
    /// Required, at most 500 characters: why (recorded in the audit log).
    pub reason: String,
    /// 60 to 900 seconds, default 600.
    #[serde(default)]
    pub ttl_seconds: Option<u64>,
}

impl Validate for ImpersonateIn {
    type Checked = Duration;

    fn validate(&self) -> Result<Duration> {
        validate_note("reason", Some(&self.reason), true)?;
        match self.ttl_seconds.unwrap_or(600) {
            s if TTL_SECONDS.contains(&s) => Ok(Duration::from_secs(s)),
            _ => Err(Error::validation(vec![FieldError {
                field: "ttl_seconds".into(),
                message: "from 60 to 900".into(),
            }])),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImpersonationOut {
    /// A customer token (`Authorization: Bearer …` on the customer API); in this answer
    /// only — a replay under the same `Idempotency-Key` answers `null`.
    pub token: Option<String>,
    pub token_type: &'static str,
    pub expires_at: DateTime<Utc>,
    #[schema(value_type = String)]
    pub customer_id: CustomerId,
    #[schema(value_type = String)]
    pub order_id: OrderId,
    /// The acting agent, as the token's `act` claim names it.
    #[schema(value_type = Object)]
    pub act: Act,
}

impl Answer for ImpersonationOut {
    fn for_replay(&self) -> Option<serde_json::Value> {
        let mut v = serde_json::to_value(self).ok()?;
        v["token"] = serde_json::Value::Null;
        Some(v)
    }
}

pub(super) struct ImpersonationIntake<'a> {
    pub(super) order: &'a Order,
    pub(super) reason: &'a str,
    pub(super) ttl: Duration,
}

impl Intake for ImpersonationIntake<'_> {
    type Answer = ImpersonationOut;

    async fn admit(self, adm: &mut Admission<'_>) -> Result<Admitted<ImpersonationOut>> {
        let (order, agent) = (self.order, adm.caller().principal.clone());
        let request = MintRequest::customer(&order.tenant_id, &order.customer_id)
            .acting(&agent)
            .ttl(self.ttl);
        let token = mint(&adm.state().config, &request).map_err(|_| {
            Error::unavailable(
                "impersonation.unavailable",
                "impersonation needs orderdesk to sign tokens (ORDERDESK_JWT_SECRET)",
            )
        })?;
        let expires_at = Utc::now() + self.ttl;
        adm.audit(Entry {
            action: "customer.impersonated",
            subject_type: "customer",
            subject_id: order.customer_id.as_str(),
            reason: Some(self.reason),
            before: None,
            after: Some(json!({ "order_id": order.id, "expires_at": expires_at })),
            personal_data_of: Some(&order.customer_id),
        })
        .await?;
        let answer = ImpersonationOut {
            token: Some(token),
            token_type: "Bearer",
            expires_at,
            customer_id: order.customer_id.clone(),
            order_id: order.id.clone(),
            act: Act { sub: agent },
        };
        Ok(Admitted::done(StatusCode::CREATED, answer))
    }
}

/// The order whose customer `agent` may act as: an agent's (never an API key's), of the
/// agent's tenant.
async fn impersonable(state: &AppState, agent: &Agent, order_id: &OrderId) -> Result<Order> {
    if agent.key_scopes.is_some() {
        let detail = "an API key cannot impersonate";
        return Err(Error::forbidden("impersonation.agents_only", detail));
    }
    agent.tenant_order(state, order_id).await
}

/// A customer token for the order's customer, acting as the calling agent (201), or the
/// request held for a second agent's approval (202) when the tenant's settings say so. Requires
/// `customers.impersonate` (an agent's, not an API key's), a reason and `Idempotency-Key`.
#[utoipa::path(post, path = "/v1/admin/orders/{order_id}/impersonate-customer", tag = "admin",
    params(("order_id" = String, Path), ("Idempotency-Key" = String, Header)), request_body = ImpersonateIn,
    security(("bearer" = ["customers.impersonate"])),
    responses((status = 201, body = ImpersonationOut), (status = 202, body = crate::db::approvals::ApprovalRow), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn impersonate_customer(
    State(state): State<AppState>,
    agent: Authorized<can::CustomersImpersonate>,
    meta: RequestMeta,
    key: IdempotencyKey,
    Path(order_id): Path<OrderId>,
    Valid { body, checked }: Valid<ImpersonateIn>,
) -> Result<Response> {
    let order = impersonable(&state, &agent, &order_id).await?;
    let key = key.required_for(&format!("impersonate:{order_id}"), &body)?;
    if approvals::required(&state, &agent, HighRiskAction::Impersonation).await? {
        let (caller, held) = (agent.caller(&meta), HighRiskAction::Impersonation);
        return approvals::hold(&state, caller, key, held, order_id.as_str(), &body).await;
    }
    let intake = ImpersonationIntake {
        order: &order,
        reason: body.reason.trim(),
        ttl: checked,
    };
    accept(&state, agent.caller(&meta), key, intake).await
}
