//! Extractors that authenticate a request, resolve its tenant and carry the principal:
//! [`Customer`], [`Agent`] (with [`Agent::require`] for RBAC) and [`Sudo`] (step-up).
//!
//! They are generic over the router state (anything that yields an `Arc<Verifier>`), and a
//! request verifies its bearer token once however many of them a handler takes.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};

use crate::auth::sessions::{self, Session};
use crate::auth::{Claims, Permission, PrincipalKind, Role, Verifier};
use crate::domain::ids::{CustomerId, OrderId, TenantId};
use crate::error::{Error, Result};

/// Names the tenant of the request; must equal the token's `tenant` claim.
pub const TENANT_HEADER: &str = "x-tenant-id";
/// Carries the step-up token that destructive admin endpoints require.
pub const SUDO_HEADER: &str = "x-admin-auth-sudo";

/// A customer, authenticated by a customer token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    pub tenant_id: TenantId,
    pub customer_id: CustomerId,
    /// Set for a guest token: the customer may only see this order.
    pub scope_order_id: Option<OrderId>,
    /// Set for a token an agent obtained by impersonation: the agent's principal, recorded
    /// as `on_behalf_of` of everything the token does.
    pub acting_agent: Option<String>,
}

/// An agent of the tenant, authenticated by an agent token (unknown roles are dropped) —
/// or an integration's API key, which stands in for an agent within its scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    pub tenant_id: TenantId,
    /// The agent id, or the API key's id.
    pub agent_id: String,
    pub roles: Vec<Role>,
    /// An API key's scopes: then these, not roles, say what it may do.
    pub key_scopes: Option<Vec<Permission>>,
}

/// An agent who also presented a valid sudo token for themselves in `X-Admin-Auth-Sudo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sudo {
    pub agent: Agent,
}

impl Customer {
    /// The principal as audit and idempotency records name it: `customer:cus_0001`.
    pub fn principal(&self) -> String {
        format!("customer:{}", self.customer_id)
    }
}

impl Agent {
    /// How audit records name the kind of principal: `agent`, or `key` for an API key.
    pub fn kind(&self) -> &'static str {
        if self.key_scopes.is_some() {
            "key"
        } else {
            "agent"
        }
    }

    /// The principal as audit and idempotency records name it: `agent:agt_alice`, or
    /// `key:<id>` for an API key.
    pub fn principal(&self) -> String {
        format!("{}:{}", self.kind(), self.agent_id)
    }

    /// The role names, as audit records store them (an API key has none).
    pub fn role_names(&self) -> Vec<String> {
        self.roles.iter().map(|r| r.as_str().to_string()).collect()
    }

    /// Whether any of the agent's roles (or the key's scopes) grants `permission`.
    pub fn can(&self, permission: Permission) -> bool {
        match &self.key_scopes {
            Some(scopes) => scopes.contains(&permission),
            None => self.roles.iter().any(|role| role.grants(permission)),
        }
    }

    /// Every permission the agent (or key) has, in the table's order.
    pub fn permissions(&self) -> Vec<Permission> {
        Permission::ALL
            .iter()
            .copied()
            .filter(|p| self.can(*p))
            .collect()
    }

    /// 403 `auth.forbidden`, naming the permission, unless a role grants it.
    pub fn require(&self, permission: Permission) -> Result<()> {
        if self.can(permission) {
            return Ok(());
        }
        let held: Vec<&str> = match &self.key_scopes {
            Some(scopes) => scopes.iter().map(|p| p.as_str()).collect(),
            None => self.roles.iter().map(|r| r.as_str()).collect(),
        };
        let what = if self.key_scopes.is_some() {
            "the key's scopes"
        } else {
            "your roles"
        };
        Err(Error::forbidden(
            "auth.forbidden",
            format!(
                "this action requires the permission `{permission}`, which none of {what} ({}) grants",
                if held.is_empty() { "none".to_string() } else { held.join(", ") }
            ),
        )
        .with_extra("required_permission", permission.as_str().into())
        .with_next_step("ask a tenant admin for a role that grants this permission"))
    }
}

impl<S> FromRequestParts<S> for Customer
where
    S: Send + Sync,
    Arc<Verifier>: FromRef<S>,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        let claims = authenticate(parts, state).await?;
        if claims.kind != PrincipalKind::Customer {
            return Err(wrong_principal("a customer", "an agent"));
        }
        Ok(Customer {
            tenant_id: claims.tenant.clone(),
            customer_id: CustomerId::new(&claims.sub),
            scope_order_id: claims.order_id.clone(),
            acting_agent: claims.act.as_ref().map(|a| a.sub.clone()),
        })
    }
}

impl<S> FromRequestParts<S> for Agent
where
    S: Send + Sync,
    Arc<Verifier>: FromRef<S>,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        let claims = authenticate(parts, state).await?;
        agent_of(&claims)
    }
}

impl<S> FromRequestParts<S> for Sudo
where
    S: Send + Sync,
    Arc<Verifier>: FromRef<S>,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        let bearer = authenticate(parts, state).await?;
        let agent = agent_of(&bearer)?;
        // The console keeps a step-up token the agent gave it (`POST /console/sudo`).
        let kept = parts
            .extensions
            .get::<Session>()
            .and_then(|s| s.sudo.clone());
        let token = match (sudo_token(&parts.headers), kept.as_deref()) {
            (Ok(token), _) => token,
            (Err(_), Some(kept)) => kept,
            (Err(missing), None) => return Err(missing),
        };
        Arc::<Verifier>::from_ref(state)
            .verify_sudo(token, &bearer)
            .await?;
        Ok(Sudo { agent })
    }
}

/// The bearer's verified claims, kept in the request so a second extractor reuses them.
#[derive(Clone)]
struct Authenticated(Arc<Claims>);

/// Verifies the bearer token and checks `X-Tenant-ID` against its tenant. Also used by the
/// rate-limit middleware, whose verified claims the extractors then reuse.
pub(crate) async fn authenticate<S>(parts: &mut Parts, state: &S) -> Result<Arc<Claims>>
where
    Arc<Verifier>: FromRef<S>,
{
    if let Some(Authenticated(claims)) = parts.extensions.get() {
        return Ok(claims.clone());
    }
    let verifier = Arc::<Verifier>::from_ref(state);
    let claims = match (bearer_token(&parts.headers), session_cookie(&parts.headers)) {
        (Ok(token), _) => {
            let claims = verifier.verify(token).await?;
            check_tenant(&parts.headers, &claims.tenant)?;
            claims
        }
        // The console's cookie stands for its agent (the session fixes the tenant); a
        // request that changes something must repeat the session's CSRF token.
        (Err(_), Some(secret)) => {
            let (claims, session) = verifier.verify_session(secret).await?;
            if parts.headers.contains_key(TENANT_HEADER) {
                check_tenant(&parts.headers, &claims.tenant)?;
            }
            check_csrf(parts, &session)?;
            parts.extensions.insert(session);
            claims
        }
        (Err(missing), None) => return Err(missing),
    };
    let claims = Arc::new(claims);
    parts.extensions.insert(Authenticated(claims.clone()));
    Ok(claims)
}

fn bearer_token(headers: &HeaderMap) -> Result<&str> {
    let missing = || {
        Error::new(
            StatusCode::UNAUTHORIZED,
            "auth.missing_token",
            "send a token as `Authorization: Bearer <token>`",
        )
    };
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(missing)?;
    let (scheme, token) = value.trim().split_once(' ').ok_or_else(missing)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(missing());
    }
    Ok(token)
}

/// The console session's cookie secret, when the request carries exactly one. Two cookies of
/// the name are none: the browser sends every cookie that matches, and one planted by a
/// sibling domain or a plain-HTTP answer must not decide whose session the request is in.
pub(crate) fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    let mut values = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| *name == sessions::COOKIE)
        .map(|(_, value)| value.trim());
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    Some(value).filter(|value| !value.is_empty())
}

fn check_csrf(parts: &Parts, session: &Session) -> Result<()> {
    if parts.method.is_safe() {
        return Ok(());
    }
    let presented = parts
        .headers
        .get(sessions::CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if sessions::csrf_matches(session, presented) {
        return Ok(());
    }
    Err(Error::forbidden(
        "auth.csrf_failed",
        "a request signed in by the console's cookie must repeat the session's CSRF token in X-CSRF-Token",
    )
    .with_next_step("reload the console page and try again"))
}

fn check_tenant(headers: &HeaderMap, token_tenant: &TenantId) -> Result<()> {
    let tenant = headers
        .get(TENANT_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            Error::bad_request(
                "tenant.header_missing",
                "send the tenant of your token in the X-Tenant-ID header",
            )
        })?;
    if tenant != token_tenant.as_str() {
        return Err(Error::forbidden(
            "tenant.mismatch",
            "the X-Tenant-ID header names another tenant than the token",
        ));
    }
    Ok(())
}

fn sudo_token(headers: &HeaderMap) -> Result<&str> {
    let value = headers
        .get(SUDO_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or_default();
    // Accept the bare token and, for clients that reuse their bearer code, `Bearer <token>`.
    let token = match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => value,
    };
    if token.is_empty() {
        return Err(Error::forbidden(
            "auth.sudo_required",
            "this action requires a sudo token in the X-Admin-Auth-Sudo header",
        )
        .with_next_step(
            "re-authenticate to obtain a sudo token and send it in X-Admin-Auth-Sudo",
        ));
    }
    Ok(token)
}

pub(crate) fn agent_of(claims: &Claims) -> Result<Agent> {
    if claims.kind == PrincipalKind::Customer {
        return Err(wrong_principal("an agent", "a customer"));
    }
    Ok(Agent {
        tenant_id: claims.tenant.clone(),
        agent_id: claims.sub.clone(),
        roles: claims.known_roles(),
        key_scopes: claims.key_scopes.clone(),
    })
}

fn wrong_principal(expected: &str, got: &str) -> Error {
    Error::forbidden(
        "auth.wrong_principal",
        format!("this endpoint is for {expected}; the token is {got} token"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn bearer_scheme_is_case_insensitive_and_required() {
        assert_eq!(
            bearer_token(&headers(&[("authorization", "bearer abc")])).unwrap(),
            "abc"
        );
        for bad in ["abc", "Basic abc", "Bearer ", "Bearer"] {
            let e = bearer_token(&headers(&[("authorization", bad)])).unwrap_err();
            assert_eq!(e.code(), "auth.missing_token", "{bad}");
        }
    }

    #[test]
    fn a_session_cookie_given_twice_is_none() {
        let mut h = headers(&[("cookie", "theme=dark; __Host-orderdesk_console=mine")]);
        assert_eq!(session_cookie(&h), Some("mine"));
        // a planted cookie of the same name, in the same header or another
        h.insert(
            header::COOKIE,
            "__Host-orderdesk_console=planted; __Host-orderdesk_console=mine"
                .parse()
                .unwrap(),
        );
        assert_eq!(session_cookie(&h), None);
        h.insert(
            header::COOKIE,
            "__Host-orderdesk_console=mine".parse().unwrap(),
        );
        h.append(
            header::COOKIE,
            "__Host-orderdesk_console=planted".parse().unwrap(),
        );
        assert_eq!(session_cookie(&h), None);
        // the old name is no session any more, and an empty value is none
        for other in ["orderdesk_console=mine", "__Host-orderdesk_console="] {
            let h = headers(&[("cookie", other)]);
            assert_eq!(session_cookie(&h), None, "{other}");
        }
    }

    #[test]
    fn agent_require_names_the_permission() {
        let agent = Agent {
            tenant_id: TenantId::new("t1"),
            agent_id: "agt_bob".into(),
            roles: vec![Role::CsAgent],
            key_scopes: None,
        };
        assert!(agent.require(Permission::OrdersCancelApprove).is_ok());
        let e = agent.require(Permission::OrdersCancelForce).unwrap_err();
        assert_eq!(e.code(), "auth.forbidden");
        assert!(e.to_string().contains("orders.cancel.force"), "{e}");
        assert_eq!(agent.principal(), "agent:agt_bob");
    }
}
