//! Presigned download links: `<payload>.<mac>`, both base64url. The payload names what the
//! link grants (for a document: tenant, customer, order, document) and its expiry; the MAC
//! is HMAC-SHA256 over it with a key derived from `ORDERDESK_DOWNLOAD_SECRET` under a label
//! per kind of link, so a document link never verifies as an export link (`exports::link`)
//! nor the reverse. Whoever holds a link may download that one thing until it expires: the
//! link is the capability, so nothing else is checked.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::DocumentKind;
use crate::domain::ids::{CustomerId, OrderId, TenantId};

/// Separates this key's use from any other the secret might ever get.
const KEY_LABEL: &[u8] = b"orderdesk/download-links/v1";

/// The key that signs and verifies links.
#[derive(Clone)]
pub struct LinkKey([u8; 32]);

impl LinkKey {
    /// Derives the document link key from the configured secret.
    pub fn derive(secret: &[u8]) -> LinkKey {
        LinkKey::derive_for(secret, KEY_LABEL)
    }

    /// The key of one kind of link: HMAC-SHA256(secret, `label`).
    pub fn derive_for(secret: &[u8], label: &[u8]) -> LinkKey {
        LinkKey(crate::sealing::derive_key(secret, label))
    }

    fn mac(&self, payload_b64: &str) -> Hmac<Sha256> {
        let mut m = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        m.update(payload_b64.as_bytes());
        m
    }
}

/// What a link grants: one document of one order, until `expires_at` (unix seconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkClaims {
    #[serde(rename = "t")]
    pub tenant_id: TenantId,
    #[serde(rename = "c")]
    pub customer_id: CustomerId,
    #[serde(rename = "o")]
    pub order_id: OrderId,
    #[serde(rename = "k")]
    pub kind: DocumentKind,
    /// The shipment of a label or of a per-shipment packing slip.
    #[serde(rename = "s", default, skip_serializing_if = "Option::is_none")]
    pub shipment_id: Option<String>,
    #[serde(rename = "e")]
    pub expires_at: i64,
}

/// Claims that end: a link is refused from `expires_at` (unix seconds) on.
pub trait Expiring {
    fn expires_at(&self) -> i64;
}

impl Expiring for LinkClaims {
    fn expires_at(&self) -> i64 {
        self.expires_at
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkError {
    /// Not shaped like a link at all.
    Malformed,
    /// Changed, or signed with another key.
    BadSignature,
    Expired,
}

/// The token of a link granting `claims`.
pub fn sign<C: Serialize>(key: &LinkKey, claims: &C) -> String {
    let payload = serde_json::to_vec(claims).expect("claims serialize");
    let payload_b64 = URL_SAFE_NO_PAD.encode(payload);
    let mac = key.mac(&payload_b64).finalize().into_bytes();
    format!("{payload_b64}.{}", URL_SAFE_NO_PAD.encode(mac))
}

/// The claims of `token` if it is ours, unchanged and not expired at unix time `now`.
///
/// The MAC is compared in constant time and checked before the payload is read, so a
/// changed expiry is a bad signature, never a valid link.
pub fn verify<C: DeserializeOwned + Expiring>(
    key: &LinkKey,
    token: &str,
    now: i64,
) -> Result<C, LinkError> {
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
    let claims: C = URL_SAFE_NO_PAD
        .decode(payload_b64)
        .ok()
        .and_then(|p| serde_json::from_slice(&p).ok())
        .ok_or(LinkError::Malformed)?;
    if now >= claims.expires_at() {
        return Err(LinkError::Expired);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(expires_at: i64) -> LinkClaims {
        LinkClaims {
            tenant_id: TenantId::new("acme"),
            customer_id: CustomerId::new("cus_0001"),
            order_id: OrderId::new("ord_000001"),
            kind: DocumentKind::ShippingLabel,
            shipment_id: Some("shp_000001_1".into()),
            expires_at,
        }
    }

    fn key() -> LinkKey {
        LinkKey::derive(b"a-download-secret-for-tests")
    }

    #[test]
    fn round_trip_until_expiry() {
        let token = sign(&key(), &claims(1_000));
        assert!(
            !token.contains(['/', '+', '=', '?', '&']),
            "path-safe: {token}"
        );
        assert_eq!(verify::<LinkClaims>(&key(), &token, 999), Ok(claims(1_000)));
        assert_eq!(
            verify::<LinkClaims>(&key(), &token, 1_000),
            Err(LinkError::Expired)
        );
    }

    #[test]
    fn a_changed_payload_or_mac_or_key_is_a_bad_signature() {
        let token = sign(&key(), &claims(1_000));
        let (payload, mac) = token.split_once('.').unwrap();
        // a later expiry, re-encoded by someone without the key
        let forged = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(9_999)).unwrap());
        assert_eq!(
            verify::<LinkClaims>(&key(), &format!("{forged}.{mac}"), 999),
            Err(LinkError::BadSignature)
        );
        let mut other_mac = URL_SAFE_NO_PAD.decode(mac).unwrap();
        other_mac[0] ^= 1;
        let flipped = format!("{payload}.{}", URL_SAFE_NO_PAD.encode(other_mac));
        assert_eq!(
            verify::<LinkClaims>(&key(), &flipped, 999),
            Err(LinkError::BadSignature)
        );
        let other_key = LinkKey::derive(b"another-download-secret");
        assert_eq!(
            verify::<LinkClaims>(&other_key, &token, 999),
            Err(LinkError::BadSignature)
        );
    }

    #[test]
    fn garbage_is_malformed() {
        for bad in ["", "abc", "abc.", ".abc", "abc.%%%", "abc.AAAA"] {
            assert_eq!(
                verify::<LinkClaims>(&key(), bad, 0),
                Err(LinkError::Malformed),
                "{bad:?}"
            );
        }
    }
}
