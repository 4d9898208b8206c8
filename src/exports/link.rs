//! Signed, expiring download links of exports: `<payload>.<mac>`, both base64url. The
//! payload names the tenant, the export and the expiry; the MAC is HMAC-SHA256 over it with
//! a key derived from `ORDERDESK_DOWNLOAD_SECRET` under a label per kind of link: an orders
//! export (finance) and a subject's archive (GDPR) each have their own, so neither link
//! verifies as the other, nor as a document link. Whoever holds a link may download that
//! export until it expires, without a bearer token.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::documents::signing::Expiring;
pub use crate::documents::signing::{LinkError, LinkKey, sign, verify};
use crate::domain::ids::{ExportId, SubjectExportId, TenantId};

const KEY_LABEL: &[u8] = b"orderdesk/export-links/v1";
const SUBJECT_KEY_LABEL: &[u8] = b"orderdesk/subject-export-links/v1";

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

/// Claims of one kind of export link, verified with that kind's key.
pub trait Signed: DeserializeOwned + Expiring {
    fn key(secret: &[u8]) -> LinkKey;
}

impl Signed for ExportClaims {
    fn key(secret: &[u8]) -> LinkKey {
        export_key(secret)
    }
}

/// A download link of `export`, valid for the configured lifetime from now: absolute when
/// the server knows its public URL (`ORDERDESK_PUBLIC_URL`), else a path on this API.
pub fn download_url(
    config: &crate::config::Config,
    tenant: &TenantId,
    export: ExportId,
) -> (String, chrono::DateTime<chrono::Utc>) {
    let key = export_key(&config.download_secret);
    signed_url(config, &key, DOWNLOAD_PATH, |expires_at| ExportClaims {
        tenant_id: tenant.clone(),
        export_id: export,
        expires_at,
    })
}

/// Where export links point (the token follows).
pub const DOWNLOAD_PATH: &str = "/v1/exports/download";

/// The key that signs and verifies the links of subjects' archives.
pub fn subject_export_key(secret: &[u8]) -> LinkKey {
    LinkKey::derive_for(secret, SUBJECT_KEY_LABEL)
}

/// What a subject archive's link grants: that archive of one tenant, until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectExportClaims {
    #[serde(rename = "t")]
    pub tenant_id: TenantId,
    #[serde(rename = "s")]
    pub export_id: SubjectExportId,
    #[serde(rename = "e")]
    pub expires_at: i64,
}

impl Expiring for SubjectExportClaims {
    fn expires_at(&self) -> i64 {
        self.expires_at
    }
}

impl Signed for SubjectExportClaims {
    fn key(secret: &[u8]) -> LinkKey {
        subject_export_key(secret)
    }
}

/// Where the links of subjects' archives point (the token follows).
pub const SUBJECT_DOWNLOAD_PATH: &str = "/v1/gdpr/exports/download";

/// A download link of a subject's archive, as [`download_url`] makes one of an export.
pub fn subject_download_url(
    config: &crate::config::Config,
    tenant: &TenantId,
    export: SubjectExportId,
) -> (String, chrono::DateTime<chrono::Utc>) {
    let key = subject_export_key(&config.download_secret);
    signed_url(config, &key, SUBJECT_DOWNLOAD_PATH, |expires_at| {
        SubjectExportClaims {
            tenant_id: tenant.clone(),
            export_id: export,
            expires_at,
        }
    })
}

/// `{public url}{path}/{token}` of the claims `claims(expiry)` signed with `key`, expiring
/// after the configured lifetime, and that expiry.
fn signed_url<C: Serialize>(
    config: &crate::config::Config,
    key: &LinkKey,
    path: &str,
    claims: impl FnOnce(i64) -> C,
) -> (String, chrono::DateTime<chrono::Utc>) {
    let now = chrono::Utc::now();
    let expires_at = (now + config.exports.link_ttl).timestamp();
    let token = sign(key, &claims(expires_at));
    let base = config.public_url.as_deref().unwrap_or("");
    let expires_at = chrono::DateTime::from_timestamp(expires_at, 0).unwrap_or(now);
    (format!("{base}{path}/{token}"), expires_at)
}

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

    #[test]
    fn a_subject_archive_link_and_an_export_link_never_verify_as_each_other() {
        let secret = b"a-download-secret-for-tests-0123456789";
        let subject = SubjectExportClaims {
            tenant_id: TenantId::new("acme"),
            export_id: SubjectExportId::now_v7(),
            expires_at: 1_000,
        };
        let token = sign(&subject_export_key(secret), &subject);
        assert_eq!(
            verify::<SubjectExportClaims>(&subject_export_key(secret), &token, 999),
            Ok(subject)
        );
        assert_eq!(
            verify::<SubjectExportClaims>(&export_key(secret), &token, 999),
            Err(LinkError::BadSignature)
        );
        let export = sign(&export_key(secret), &claims(1_000));
        assert_eq!(
            verify::<SubjectExportClaims>(&subject_export_key(secret), &export, 999),
            Err(LinkError::BadSignature)
        );
    }
}
