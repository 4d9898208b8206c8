//! The sealed part of an audit record: its personal data, encrypted (ChaCha20-Poly1305)
//! under the data subject's key, bound to the tenant and subject so a sealed blob cannot be
//! moved to another subject's rows.

use crate::domain::ids::TenantId;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use rand::RngCore;
use serde::{Deserialize, Serialize};

const NONCE_LEN: usize = 12;
pub const KEY_LEN: usize = 32;

/// What an audit record holds about a person.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Personal {
    pub reason: Option<String>,
    pub ip: Option<String>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

/// A new random key for one data subject.
pub fn new_key() -> Vec<u8> {
    let mut key = vec![0u8; KEY_LEN];
    rand::rng().fill_bytes(&mut key);
    key
}

fn aad(tenant_id: &TenantId, subject: &str) -> Vec<u8> {
    format!("audit:{tenant_id}:{subject}").into_bytes()
}

/// `nonce || ciphertext` of `personal`.
pub fn seal(
    key: &[u8],
    tenant_id: &TenantId,
    subject: &str,
    personal: &Personal,
) -> anyhow::Result<Vec<u8>> {
    let cipher = ChaCha20Poly1305::new_from_slice(key)
        .map_err(|_| anyhow::anyhow!("a subject key of {} bytes", key.len()))?;
    let mut nonce = [0u8; NONCE_LEN];
    rand::rng().fill_bytes(&mut nonce);
    let msg = serde_json::to_vec(personal)?;
    let aad = aad(tenant_id, subject);
    let payload = Payload {
        msg: &msg,
        aad: &aad,
    };
    let sealed = cipher
        .encrypt(&Nonce::from(nonce), payload)
        .map_err(|_| anyhow::anyhow!("sealing an audit record failed"))?;
    Ok([nonce.as_slice(), &sealed].concat())
}

/// The personal data back, or `None` when the blob does not open with `key`.
pub fn open(key: &[u8], tenant_id: &TenantId, subject: &str, sealed: &[u8]) -> Option<Personal> {
    let cipher = ChaCha20Poly1305::new_from_slice(key).ok()?;
    let (nonce, ciphertext) = sealed.split_at_checked(NONCE_LEN)?;
    let nonce = Nonce::from(<[u8; NONCE_LEN]>::try_from(nonce).ok()?);
    let aad = aad(tenant_id, subject);
    let payload = Payload {
        msg: ciphertext,
        aad: &aad,
    };
    let msg = cipher.decrypt(&nonce, payload).ok()?;
    serde_json::from_slice(&msg).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_data_opens_only_with_its_key_and_subject() {
        let key = new_key();
        let personal = Personal {
            reason: Some("moved to 1 Main St".into()),
            ip: Some("203.0.113.7".into()),
            before: Some(serde_json::json!({"address": "old"})),
            after: None,
        };
        let t1 = &TenantId::new("t1");
        let sealed = seal(&key, t1, "cus_1", &personal).unwrap();
        assert!(!String::from_utf8_lossy(&sealed).contains("Main St"));
        assert_eq!(open(&key, t1, "cus_1", &sealed), Some(personal));
        assert_eq!(open(&new_key(), t1, "cus_1", &sealed), None, "another key");
        assert_eq!(open(&key, t1, "cus_2", &sealed), None, "another subject");
        assert_eq!(open(&key, t1, "cus_1", &sealed[..5]), None, "truncated");
    }
}
