//! The sealed part of an audit record: its personal data, encrypted (ChaCha20-Poly1305)
//! under the data subject's key, bound to the tenant and subject so a sealed blob cannot be
//! moved to another subject's rows.

use crate::domain::ids::TenantId;
use crate::sealing;
use serde::{Deserialize, Serialize};

pub use crate::sealing::new_key;

/// What an audit record holds about a person.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Personal {
    pub reason: Option<String>,
    pub ip: Option<String>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
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
    let msg = serde_json::to_vec(personal)?;
    sealing::seal(key, &aad(tenant_id, subject), &msg)
}

/// The personal data back, or `None` when the blob does not open with `key`.
pub fn open(key: &[u8], tenant_id: &TenantId, subject: &str, sealed: &[u8]) -> Option<Personal> {
    let msg = sealing::open(key, &aad(tenant_id, subject), sealed)?;
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
