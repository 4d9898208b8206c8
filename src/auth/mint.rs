//! Token minting for `orderdesk token` and for tests. Only possible with an HS256 secret:
//! with public keys orderdesk holds nothing to sign with, the identity provider mints.

use std::time::Duration;

use anyhow::{Context, bail, ensure};
use jsonwebtoken::{EncodingKey, Header};
use serde::Serialize;

use super::claims::{Act, Claims, PrincipalKind};
use super::roles::Role;
use super::verify::SUDO_MAX_LIFETIME;
use crate::config::{Config, JwtKeys};
use crate::domain::ids::{CustomerId, OrderId, TenantId};

/// Lifetime of a minted token when the request names none (sudo tokens use `Config::sudo_ttl`).
pub const DEFAULT_TTL: Duration = Duration::from_secs(60 * 60);

/// What to put in a token. Build with [`MintRequest::customer`] or [`MintRequest::agent`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MintRequest {
    pub tenant: TenantId,
    pub kind: PrincipalKind,
    /// Customer id (`cus_…`) or agent id (`agt_…`).
    pub subject: String,
    /// Agents only.
    pub roles: Vec<Role>,
    /// A step-up token (agents only); its lifetime may not exceed 15 minutes.
    pub sudo: bool,
    /// `None`: [`DEFAULT_TTL`], or `Config::sudo_ttl` for a sudo token.
    pub ttl: Option<Duration>,
    /// A guest token scoped to one order (customers only).
    pub order_id: Option<OrderId>,
    /// The agent acting as the customer (impersonation; customers only).
    pub act: Option<String>,
}

impl MintRequest {
    pub fn customer(tenant: &TenantId, customer_id: &CustomerId) -> MintRequest {
        MintRequest {
            tenant: tenant.clone(),
            kind: PrincipalKind::Customer,
            subject: customer_id.to_string(),
            roles: Vec::new(),
            sudo: false,
            ttl: None,
            order_id: None,
            act: None,
        }
    }

    pub fn agent(tenant: &TenantId, agent_id: &str, roles: &[Role]) -> MintRequest {
        MintRequest {
            tenant: tenant.clone(),
            kind: PrincipalKind::Agent,
            subject: agent_id.to_string(),
            roles: roles.to_vec(),
            sudo: false,
            ttl: None,
            order_id: None,
            act: None,
        }
    }

    /// Makes this a step-up token.
    pub fn sudo(self) -> MintRequest {
        MintRequest { sudo: true, ..self }
    }

    pub fn ttl(self, ttl: Duration) -> MintRequest {
        MintRequest {
            ttl: Some(ttl),
            ..self
        }
    }

    /// A customer token that `agent_principal` acts with (RFC 8693 `act`).
    pub fn acting(self, agent_principal: &str) -> MintRequest {
        MintRequest {
            act: Some(agent_principal.to_string()),
            ..self
        }
    }

    /// Scopes a customer token to one order (a guest token).
    pub fn order(self, order_id: &OrderId) -> MintRequest {
        MintRequest {
            order_id: Some(order_id.clone()),
            ..self
        }
    }
}

/// Whether `cfg` holds what [`mint`] signs with (an HS256 secret).
pub fn can_mint(cfg: &Config) -> bool {
    matches!(cfg.jwt, JwtKeys::Hs256 { .. })
}

/// Signs a token for `req` with the HS256 secret of `cfg`.
pub fn mint(cfg: &Config, req: &MintRequest) -> anyhow::Result<String> {
    let JwtKeys::Hs256 { secret } = &cfg.jwt else {
        // what `can_mint` tells in advance
        bail!(
            "orderdesk can only mint tokens with an HS256 secret (ORDERDESK_JWT_SECRET); \
             with a public key or JWKS the identity provider issues tokens"
        );
    };
    ensure!(
        !req.tenant.as_str().trim().is_empty(),
        "the tenant is empty"
    );
    ensure!(!req.subject.trim().is_empty(), "the subject id is empty");
    if req.kind == PrincipalKind::Customer {
        ensure!(req.roles.is_empty(), "customer tokens carry no roles");
        ensure!(!req.sudo, "sudo tokens are for agents only");
    } else {
        ensure!(
            req.order_id.is_none() && req.act.is_none(),
            "only customer tokens are scoped to an order or carry an acting agent"
        );
    }
    ensure!(
        req.kind != PrincipalKind::ApiKey,
        "API keys are created with POST /v1/admin/keys, not minted"
    );
    let ttl = match (req.ttl, req.sudo) {
        (Some(ttl), _) => ttl,
        (None, true) => cfg.sudo_ttl,
        (None, false) => DEFAULT_TTL,
    };
    ensure!(ttl.as_secs() > 0, "the ttl must be at least one second");
    if req.sudo {
        ensure!(
            ttl <= SUDO_MAX_LIFETIME,
            "a sudo token may live at most {} minutes",
            SUDO_MAX_LIFETIME.as_secs() / 60
        );
    }
    let now = jsonwebtoken::get_current_timestamp();
    let claims = Claims {
        sub: req.subject.clone(),
        kind: req.kind,
        tenant: req.tenant.clone(),
        iss: cfg.jwt_issuer.clone(),
        exp: now + ttl.as_secs(),
        iat: Some(now),
        roles: req.roles.iter().map(|r| r.as_str().to_string()).collect(),
        sudo: req.sudo,
        order_id: req.order_id.clone(),
        act: req.act.as_ref().map(|sub| Act { sub: sub.clone() }),
        key_scopes: None,
    };
    #[derive(Serialize)]
    struct Body<'a> {
        #[serde(flatten)]
        claims: &'a Claims,
        aud: &'a str,
    }
    let body = Body {
        claims: &claims,
        aud: &cfg.jwt_audience,
    };
    jsonwebtoken::encode(
        &Header::new(jsonwebtoken::Algorithm::HS256),
        &body,
        &EncodingKey::from_secret(secret),
    )
    .context("signing the token")
}

/// Parses `30s`, `15m`, `1h` or `2d` into a duration.
pub fn parse_ttl(s: &str) -> anyhow::Result<Duration> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit())
        .with_context(|| format!("ttl {s:?} lacks a unit: use s, m, h or d (e.g. 15m)"))?;
    let (number, unit) = s.split_at(split);
    let n: u64 = number
        .parse()
        .with_context(|| format!("ttl {s:?} must start with a whole number (e.g. 15m)"))?;
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 60 * 60,
        "d" => 24 * 60 * 60,
        _ => bail!("ttl {s:?} has unknown unit {unit:?}: use s, m, h or d"),
    };
    ensure!(n > 0, "ttl {s:?} must be greater than zero");
    let secs = n
        .checked_mul(unit_secs)
        .with_context(|| format!("ttl {s:?} is too long"))?;
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_unit() {
        assert_eq!(parse_ttl("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_ttl("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_ttl("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_ttl(" 2d ").unwrap(), Duration::from_secs(172_800));
    }

    #[test]
    fn rejects_bad_ttls_with_a_reason() {
        for (input, needle) in [
            ("15", "unit"),
            ("m", "whole number"),
            ("-5m", "whole number"),
            ("1.5h", "unit"),
            ("10w", "unknown unit"),
            ("0s", "greater than zero"),
            ("99999999999999999999s", "whole number"),
            ("999999999999999999d", "too long"),
            ("", "unit"),
        ] {
            let e = parse_ttl(input).unwrap_err().to_string();
            assert!(e.contains(needle), "{input:?}: {e}");
        }
    }

    fn cfg() -> Config {
        Config::from_lookup(|k| (k == crate::config::ALLOW_DEV_SECRETS).then(|| "true".into()))
            .unwrap()
    }

    #[test]
    fn refuses_inconsistent_requests() {
        let cfg = cfg();
        let (t1, cus_1) = (TenantId::new("t1"), CustomerId::new("cus_1"));
        let customer_sudo = MintRequest::customer(&t1, &cus_1).sudo();
        assert!(mint(&cfg, &customer_sudo).is_err());
        let long_sudo = MintRequest::agent(&t1, "agt_a", &[Role::Admin])
            .sudo()
            .ttl(Duration::from_secs(16 * 60));
        assert!(
            mint(&cfg, &long_sudo)
                .unwrap_err()
                .to_string()
                .contains("15")
        );
        let agent_guest = MintRequest::agent(&t1, "agt_a", &[]).order(&OrderId::new("ord_1"));
        assert!(mint(&cfg, &agent_guest).is_err());
        assert!(mint(&cfg, &MintRequest::customer(&TenantId::new(""), &cus_1)).is_err());
    }

    #[test]
    fn needs_an_hs256_secret() {
        let mut cfg = cfg();
        cfg.jwt = JwtKeys::Jwks {
            url: "http://idp.invalid/jwks".into(),
        };
        let req = MintRequest::customer(&TenantId::new("t1"), &CustomerId::new("cus_1"));
        let e = mint(&cfg, &req).unwrap_err();
        assert!(e.to_string().contains("HS256"), "{e}");
    }
}
