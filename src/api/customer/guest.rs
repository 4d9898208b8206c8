//! Guest lookup, `GET /v1/customer/orders/lookup`: a buyer without an account finds an order
//! by e-mail, order number and the token of its confirmation (`auth::guest`), and gets a
//! short-lived customer token scoped to that one order.
//!
//! Wrong e-mail, number or token are one answer (404 `order.not_found`) reached by the same
//! work: attempts are counted per IP and per order number first, then the order is read and
//! the HMAC computed whatever the input, and only then is the outcome decided. When the
//! attempt counters (Redis) cannot count, lookups are refused (503): unlimited guesses at a
//! confirmation token are worse than a lookup that waits.

use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::auth::{Customer, TENANT_HEADER};
use crate::api::extract::Query;
use crate::api::rate_limit::{self, Policy, Quota, RateLimiter};
use crate::api::shared::RequestMeta;
use crate::auth::guest::{constant_time_eq, verify_confirmation_token};
use crate::auth::{MintRequest, mint};
use crate::config::JwtKeys;
use crate::db;
use crate::db::audit::Entry;
use crate::domain::ids::{OrderId, TenantId};
use crate::error::{Error, FieldError, Result};
use crate::state::AppState;

/// The window of `rate_limits.guest_lookups_per_15_minutes`.
pub const GUEST_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Lifetime of the token a successful lookup returns.
pub const GUEST_TOKEN_TTL: Duration = Duration::from_secs(30 * 60);

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LookupQuery {
    /// The e-mail the order was placed with (any case).
    pub email: Option<String>,
    /// The order number printed on the confirmation, e.g. `100001`.
    pub order_number: Option<String>,
    /// The verification token printed on the confirmation.
    pub token: Option<String>,
}

/// What a guest sees of the order before using the guest token.
#[derive(Debug, Serialize, ToSchema)]
pub struct GuestOrderOut {
    #[schema(value_type = String)]
    pub id: OrderId,
    pub number: String,
    pub status: String,
    pub currency: String,
    pub total_minor: i64,
    pub placed_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GuestLookupOut {
    pub order: GuestOrderOut,
    /// A customer token that reaches this order only (`/v1/customer/orders/{id}` and its
    /// sub-resources); send it as `Authorization: Bearer`.
    pub guest_token: String,
    pub token_type: String,
    pub expires_at: DateTime<Utc>,
}

struct Lookup {
    tenant: TenantId,
    email: String,
    order_number: String,
    token: String,
}

/// Finds an order without an account; answers a summary and a 30-minute guest token.
#[utoipa::path(get, path = "/v1/customer/orders/lookup", tag = "customer", params(LookupQuery,
        ("X-Tenant-ID" = String, Header, description = "the shop's tenant")),
    responses((status = 200, body = GuestLookupOut),
              (status = 404, description = "wrong e-mail, number or token (one answer for all)", body = crate::error::Problem),
              (status = 422, body = crate::error::Problem),
              (status = 429, description = "too many attempts from this IP or on this order number; see Retry-After", body = crate::error::Problem),
              (status = 503, description = "attempts cannot be counted now (Redis unavailable); see Retry-After", body = crate::error::Problem)))]
pub async fn lookup_order(
    State(state): State<AppState>,
    Extension(limiter): Extension<RateLimiter>,
    meta: RequestMeta,
    headers: HeaderMap,
    Query(q): Query<LookupQuery>,
) -> Response {
    let (lookup, quota) = match count_attempt(&state, &limiter, &meta, &headers, q).await {
        Ok(Attempt::Allowed(lookup, quota)) => (lookup, quota),
        Ok(Attempt::Refused(res)) => return res,
        Err(e) => return e.into_response(),
    };
    let mut res = decide(&state, &meta, &lookup)
        .await
        .map(Json)
        .into_response();
    if let Some(q) = quota {
        q.apply_headers(Policy::Guest, res.headers_mut());
    }
    res
}

enum Attempt {
    Allowed(Lookup, Option<Quota>),
    /// Throttled (429), or the counters cannot count (503: fail closed).
    Refused(Response),
}

/// Validates the request and counts the attempt against the IP's and the order number's
/// quota, before anything is looked up.
async fn count_attempt(
    state: &AppState,
    limiter: &RateLimiter,
    meta: &RequestMeta,
    headers: &HeaderMap,
    q: LookupQuery,
) -> Result<Attempt> {
    if !matches!(state.config.jwt, JwtKeys::Hs256 { .. }) {
        return Err(Error::unavailable(
            "guest_lookup.unavailable",
            "guest lookup needs orderdesk to issue tokens (ORDERDESK_JWT_SECRET); this deployment verifies an identity provider's tokens",
        ));
    }
    let lookup = validate(headers, q)?;
    let settings = limiter.tenant_settings(&lookup.tenant).await?;
    if !settings.capabilities.guest_lookup_enabled {
        return Err(Error::forbidden(
            "guest_lookup.disabled",
            "this shop does not offer order lookup without an account",
        )
        .with_next_step("sign in to see your orders"));
    }
    let limit = settings.rate_limits.guest_lookups_per_15_minutes;
    if limit == 0 {
        return Ok(Attempt::Allowed(lookup, None));
    }
    let ip = meta.ip.as_deref().unwrap_or("unknown");
    let keys = [
        limiter.key(&lookup.tenant, &format!("guest:ip:{ip}")),
        limiter.key(
            &lookup.tenant,
            &format!("guest:order:{}", lookup.order_number),
        ),
    ];
    let counted = limiter.hit(&keys, GUEST_WINDOW).await.and_then(|windows| {
        // the fuller of the two counters is the one that binds
        windows.into_iter().max_by_key(|w| (w.count, w.reset))
    });
    if counted.is_none() {
        tracing::warn!(tenant = %lookup.tenant, ip, "guest lookup refused: attempts cannot be counted");
        return Ok(Attempt::Refused(rate_limit::cannot_count("order lookup")));
    }
    let quota = Quota {
        limit,
        window: GUEST_WINDOW,
        counted,
    };
    if quota.exceeded() {
        tracing::info!(tenant = %lookup.tenant, ip, "guest lookup throttled");
        let too_many = quota.too_many(Policy::Guest, "guest lookups");
        return Ok(Attempt::Refused(too_many));
    }
    Ok(Attempt::Allowed(lookup, Some(quota)))
}

/// Does all the work — the read by number and the HMAC — then decides.
async fn decide(state: &AppState, meta: &RequestMeta, l: &Lookup) -> Result<GuestLookupOut> {
    let mut conn = state.db.acquire().await?;
    let head = db::orders::head_by_number(&mut conn, &l.tenant, &l.order_number).await?;
    let token_ok = verify_confirmation_token(
        &state.config.guest_secret,
        l.tenant.as_str(),
        &l.order_number,
        &l.email,
        &l.token,
    );
    let stored_email = head
        .as_ref()
        .map(|h| h.email.trim().to_lowercase())
        .unwrap_or_default();
    let email_ok = constant_time_eq(stored_email.as_bytes(), l.email.as_bytes());
    let head = match head {
        Some(h) if token_ok & email_ok => h,
        _ => {
            tracing::info!(tenant = %l.tenant, ip = meta.ip.as_deref().unwrap_or(""), "guest lookup refused");
            return Err(Error::not_found("order"));
        }
    };
    let request = MintRequest::customer(&l.tenant, &head.customer_id)
        .order(&head.id)
        .ttl(GUEST_TOKEN_TTL);
    let guest_token = mint(&state.config, &request)?;
    let actor = meta.actor("guest", head.customer_id.as_str(), vec![]);
    let entry = Entry {
        action: "order.guest_lookup",
        subject_type: "order",
        subject_id: head.id.as_str(),
        reason: None,
        before: None,
        after: None,
        personal_data_of: Some(&head.customer_id),
    };
    db::audit::record(&mut conn, &l.tenant, &actor, &entry).await?;
    Ok(GuestLookupOut {
        expires_at: Utc::now() + GUEST_TOKEN_TTL,
        guest_token,
        token_type: "Bearer".into(),
        order: GuestOrderOut {
            id: head.id,
            number: head.number,
            status: head.status,
            currency: head.currency,
            total_minor: head.total_minor,
            placed_at: head.placed_at,
        },
    })
}

/// The tenant header (no token vouches for it here) and the three parameters, each present
/// and of a sane size; every bad field is listed.
fn validate(headers: &HeaderMap, q: LookupQuery) -> Result<Lookup> {
    let tenant = headers
        .get(TENANT_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or_default();
    if tenant.is_empty() {
        return Err(Error::bad_request(
            "tenant.header_missing",
            "send the shop's tenant in the X-Tenant-ID header",
        ));
    }
    let tenant = TenantId::parse(tenant).map_err(|_| {
        Error::bad_request(
            "tenant.header_invalid",
            "X-Tenant-ID is at most 64 letters, digits, '.', '_' or '-'",
        )
    })?;
    let mut errors = vec![];
    let mut field = |name: &str, value: Option<String>, max: usize| {
        let v = value.as_deref().map(str::trim).unwrap_or_default();
        if v.is_empty() {
            errors.push(FieldError {
                field: name.into(),
                message: "is required".into(),
            });
        } else if v.len() > max {
            errors.push(FieldError {
                field: name.into(),
                message: format!("is at most {max} characters"),
            });
        }
        v.to_string()
    };
    let email = field("email", q.email, 254).to_lowercase();
    let order_number = field("order_number", q.order_number, 64);
    let token = field("token", q.token, 64);
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    Ok(Lookup {
        tenant,
        email,
        order_number,
        token,
    })
}

impl Customer {
    /// Whether the token is a guest token (scoped to one order).
    pub fn is_guest(&self) -> bool {
        self.scope_order_id.is_some()
    }

    /// 403 `auth.account_required` for a guest token: for endpoints about the account
    /// rather than one order (metrics, erasure, …).
    pub fn require_account(&self) -> Result<()> {
        if self.is_guest() {
            return Err(Error::forbidden(
                "auth.account_required",
                "a guest token reaches one order only; sign in for this",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(email: &str, number: &str, token: &str) -> LookupQuery {
        let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
        LookupQuery {
            email: some(email),
            order_number: some(number),
            token: some(token),
        }
    }

    fn tenant(t: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(TENANT_HEADER, t.parse().unwrap());
        h
    }

    #[test]
    fn validation_lists_every_bad_field() {
        let Err(Error::Problem(p)) = validate(&tenant("acme"), q("", " ", &"x".repeat(65))) else {
            panic!("expected a problem");
        };
        let fields: Vec<_> = p.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["email", "order_number", "token"]);
    }

    #[test]
    fn tenant_header_is_required_and_plain() {
        let err = |h: &HeaderMap| validate(h, q("a@b.c", "1", "t")).err().unwrap();
        assert_eq!(err(&HeaderMap::new()).code(), "tenant.header_missing");
        assert_eq!(err(&tenant("ac:me")).code(), "tenant.header_invalid");
        let ok = validate(&tenant("acme"), q(" A@B.c ", " 100001 ", "t")).unwrap();
        assert_eq!(
            (ok.email.as_str(), ok.order_number.as_str()),
            ("a@b.c", "100001")
        );
    }
}
