//! Signed, expiring download links of exports: `<payload>.<mac>`, both base64url. The
//! payload names the tenant, the export and the expiry; the MAC is HMAC-SHA256 over it with
//! a key derived from `ORDERDESK_DOWNLOAD_SECRET` under a label of its own (a document link
//! never verifies as an export link, nor the reverse). Whoever holds a link may download
//! that export until it expires, without a bearer token.

use serde::{Deserialize, Serialize};

use crate::documents::signing::Expiring;
pub use crate::documents::signing::{LinkError, LinkKey, sign, verify};
use crate::domain::ids::{ExportId, TenantId};

const KEY_LABEL: &[u8] = b"orderdesk/export-links/v1";

/// The key that signs and verifies export links.
pub fn export_key(secret: &[u8]) -> LinkKey {
    LinkKey::derive_for(secret, KEY_LABEL)
}

/// What a link grants: one export of one tenant, until `expires_at` (unix seconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportClaims {
    #[serde(rename = "t")]
    pub tenant_id: TenantId,
    #[serde(rename = "x")]
    pub export_id: ExportId,
    #[serde(rename = "e")]
    pub expires_at: i64,
}

impl Expiring for ExportClaims {
    fn expires_at(&self) -> i64 {
        self.expires_at
    }
}

/// A download link of `export`, valid for the configured lifetime from now: absolute when
/// the server knows its public URL (`ORDERDESK_PUBLIC_URL`), else a path on this API.
pub fn download_url(
    config: &crate::config::Config,
    tenant: &TenantId,
    export: ExportId,
) -> (String, chrono::DateTime<chrono::Utc>) {
    let now = chrono::Utc::now();
    let expires_at = now + config.exports.link_ttl;
    let claims = ExportClaims {
        tenant_id: tenant.clone(),
        export_id: export,
        expires_at: expires_at.timestamp(),
    };
    let token = sign(&export_key(&config.download_secret), &claims);
    let base = config.public_url.as_deref().unwrap_or("");
    let expires_at = chrono::DateTime::from_timestamp(claims.expires_at, 0).unwrap_or(expires_at);
    (format!("{base}{DOWNLOAD_PATH}/{token}"), expires_at)
}

/// Where export links point (the token follows).
pub const DOWNLOAD_PATH: &str = "/v1/exports/download";

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn claims(expires_at: i64) -> ExportClaims {
        ExportClaims {
            tenant_id: TenantId::new("acme"),
            export_id: ExportId::now_v7(),
            expires_at,
        }
    }

    #[test]
    fn valid_until_expiry_and_refused_when_changed_or_signed_with_another_key() {
        let key = export_key(b"a-download-secret-for-tests-0123456789");
        let c = claims(1_000);
        let token = sign(&key, &c);
        assert_eq!(verify::<ExportClaims>(&key, &token, 999), Ok(c.clone()));
        assert_eq!(
            verify::<ExportClaims>(&key, &token, 1_000),
            Err(LinkError::Expired)
        );
        let (_, mac) = token.split_once('.').unwrap();
        let later = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(9_999)).unwrap());
        assert_eq!(
            verify::<ExportClaims>(&key, &format!("{later}.{mac}"), 999),
            Err(LinkError::BadSignature)
        );
        let other = export_key(b"another-secret-0123456789abcdef-xyz");
        assert_eq!(
            verify::<ExportClaims>(&other, &token, 999),
            Err(LinkError::BadSignature)
        );
        assert_eq!(
            verify::<ExportClaims>(&key, "nope", 0),
            Err(LinkError::Malformed)
        );
    }
}
