//! Signed, expiring download links of exports: `<payload>.<mac>`, both base64url. The
//! payload names the tenant, the export and the expiry; the MAC is HMAC-SHA256 over it with
//! a key derived from `ORDERDESK_DOWNLOAD_SECRET` under a label of its own (a document link
//! never verifies as an export link, nor the reverse). Whoever holds a link may download
//! that export until it expires, without a bearer token.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::domain::ids::{ExportId, TenantId};

const KEY_LABEL: &[u8] = b"orderdesk/export-links/v1";

/// The key that signs and verifies export links.
#[derive(Clone)]
pub struct ExportLinkKey([u8; 32]);

impl ExportLinkKey {
    pub fn derive(secret: &[u8]) -> ExportLinkKey {
        let mut m = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
        m.update(KEY_LABEL);
        ExportLinkKey(m.finalize().into_bytes().into())
    }

    fn mac(&self, payload_b64: &str) -> Hmac<Sha256> {
        let mut m = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        m.update(payload_b64.as_bytes());
        m
    }
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkError {
    Malformed,
    /// Changed, or signed with another key.
    BadSignature,
    Expired,
}

pub fn sign(key: &ExportLinkKey, claims: &ExportClaims) -> String {
    let payload = serde_json::to_vec(claims).expect("claims serialize");
    let payload_b64 = URL_SAFE_NO_PAD.encode(payload);
    let mac = key.mac(&payload_b64).finalize().into_bytes();
    format!("{payload_b64}.{}", URL_SAFE_NO_PAD.encode(mac))
}

/// The claims of `token` if it is ours, unchanged and not expired at unix time `now`. The
/// MAC is checked (in constant time) before the payload is read.
pub fn verify(key: &ExportLinkKey, token: &str, now: i64) -> Result<ExportClaims, LinkError> {
    let (payload_b64, mac_b64) = token.split_once('.').ok_or(LinkError::Malformed)?;
    let mac = URL_SAFE_NO_PAD
        .decode(mac_b64)
        .map_err(|_| LinkError::Malformed)?;
    if payload_b64.is_empty() || mac.len() != 32 {
        return Err(LinkError::Malformed);
    }
    key.mac(payload_b64)
        .verify_slice(&mac)
        .map_err(|_| LinkError::BadSignature)?;
    let claims: ExportClaims = URL_SAFE_NO_PAD
        .decode(payload_b64)
        .ok()
        .and_then(|p| serde_json::from_slice(&p).ok())
        .ok_or(LinkError::Malformed)?;
    if now >= claims.expires_at {
        return Err(LinkError::Expired);
    }
    Ok(claims)
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
    let token = sign(&ExportLinkKey::derive(&config.download_secret), &claims);
    let base = config.public_url.as_deref().unwrap_or("");
    let expires_at = chrono::DateTime::from_timestamp(claims.expires_at, 0).unwrap_or(expires_at);
    (format!("{base}{DOWNLOAD_PATH}/{token}"), expires_at)
}

/// Where export links point (the token follows).
pub const DOWNLOAD_PATH: &str = "/v1/exports/download";

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(expires_at: i64) -> ExportClaims {
        ExportClaims {
            tenant_id: TenantId::new("acme"),
            export_id: ExportId::now_v7(),
            expires_at,
        }
    }

    #[test]
    fn valid_until_expiry_and_refused_when_changed_or_signed_with_another_key() {
        let key = ExportLinkKey::derive(b"a-download-secret-for-tests-0123456789");
        let c = claims(1_000);
        let token = sign(&key, &c);
        assert_eq!(verify(&key, &token, 999), Ok(c.clone()));
        assert_eq!(verify(&key, &token, 1_000), Err(LinkError::Expired));
        let (_, mac) = token.split_once('.').unwrap();
        let later = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(9_999)).unwrap());
        assert_eq!(
            verify(&key, &format!("{later}.{mac}"), 999),
            Err(LinkError::BadSignature)
        );
        let other = ExportLinkKey::derive(b"another-secret-0123456789abcdef-xyz");
        assert_eq!(verify(&other, &token, 999), Err(LinkError::BadSignature));
        assert_eq!(verify(&key, "nope", 0), Err(LinkError::Malformed));
    }
}
