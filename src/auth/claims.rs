//! The claims orderdesk reads from (and mints into) a JWT.

use serde::{Deserialize, Serialize};

use super::roles::{Permission, Role};
use crate::domain::ids::{OrderId, TenantId};

/// Who a token speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrincipalKind {
    /// A shopper; `sub` is a customer id such as `cus_0001`.
    Customer,
    /// A staff member of the tenant; `sub` is an agent id such as `agt_alice`.
    Agent,
    /// An integration's API key; `sub` is the key's id. Never read from a JWT: only the
    /// key store makes these (`auth::api_keys`).
    #[serde(skip)]
    ApiKey,
}

/// RFC 8693 `act`: the party acting for the subject (an agent impersonating a customer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Act {
    /// The agent's principal, e.g. `agent:agt_alice`.
    pub sub: String,
}

/// The verified claims of a token. `aud` is checked by the verifier and not kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Customer id or agent id, depending on `kind`.
    pub sub: String,
    pub kind: PrincipalKind,
    /// The tenant the token belongs to; requests must name it in `X-Tenant-ID`.
    pub tenant: TenantId,
    pub iss: String,
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    /// Raw role names of an agent; see [`Claims::known_roles`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// A step-up token, accepted only in `X-Admin-Auth-Sudo`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sudo: bool,
    /// A guest token: the customer may only see this one order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<OrderId>,
    /// Set on a customer token an agent obtained by impersonation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Act>,
    /// An API key's scopes (the only permissions it has); never read from a JWT.
    #[serde(skip)]
    pub key_scopes: Option<Vec<Permission>>,
}

impl Claims {
    /// The roles orderdesk knows; unknown names are logged and ignored, so an identity
    /// provider can carry roles meant for other systems.
    pub fn known_roles(&self) -> Vec<Role> {
        let mut roles = Vec::with_capacity(self.roles.len());
        for name in &self.roles {
            match name.parse::<Role>() {
                Ok(role) if !roles.contains(&role) => roles.push(role),
                Ok(_) => {}
                Err(_) => tracing::info!(
                    agent = %self.sub,
                    tenant = %self.tenant,
                    role = %name,
                    "ignoring unknown role in token"
                ),
            }
        }
        roles
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_claims_default_and_unknown_roles_are_dropped() {
        let c: Claims = serde_json::from_value(serde_json::json!({
            "sub": "agt_alice", "kind": "agent", "tenant": "t1", "iss": "orderdesk",
            "exp": 1, "roles": ["cs_agent", "wizard", "cs_agent", "auditor"],
        }))
        .unwrap();
        assert!(!c.sudo);
        assert_eq!(c.order_id, None);
        assert_eq!(c.known_roles(), [Role::CsAgent, Role::Auditor]);
    }

    #[test]
    fn kind_is_required_and_closed() {
        let bad = serde_json::json!({
            "sub": "x", "kind": "robot", "tenant": "t1", "iss": "i", "exp": 1,
        });
        assert!(serde_json::from_value::<Claims>(bad).is_err());
    }
}
