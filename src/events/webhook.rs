//! Outgoing webhook messages per the Standard Webhooks specification: `whsec_…` secrets
//! (stored sealed, see [`SecretSeal`]) and the `webhook-id` / `webhook-timestamp` /
//! `webhook-signature` headers.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use standardwebhooks::Webhook;
use uuid::Uuid;

use crate::config::Config;
use crate::sealing;

/// What a sealed secret starts with in `webhooks.secret`; a value without it is a secret
/// stored before sealing (read as is, sealed at its next rotation).
const SEALED_PREFIX: &str = "sealed:v1:";

/// Seals and opens the webhooks' signing secrets with a key derived from
/// `ORDERDESK_DATA_KEY`, each bound to its tenant and webhook id: a database dump alone
/// does not let anyone sign as orderdesk.
pub struct SecretSeal([u8; sealing::KEY_LEN]);

impl SecretSeal {
    pub fn new(config: &Config) -> SecretSeal {
        SecretSeal(sealing::derive_key(
            &config.data_key,
            b"orderdesk webhook secrets v1",
        ))
    }

    fn aad(tenant_id: &str, webhook_id: Uuid) -> Vec<u8> {
        format!("webhook:{tenant_id}:{webhook_id}").into_bytes()
    }

    /// The stored form of `secret`.
    pub fn seal(&self, tenant_id: &str, webhook_id: Uuid, secret: &str) -> anyhow::Result<String> {
        let aad = Self::aad(tenant_id, webhook_id);
        let sealed = sealing::seal(&self.0, &aad, secret.as_bytes())?;
        Ok(format!("{SEALED_PREFIX}{}", STANDARD.encode(sealed)))
    }

    /// The secret of a stored value; an error when it does not open (another data key, or
    /// a value moved from another webhook).
    pub fn open(&self, tenant_id: &str, webhook_id: Uuid, stored: &str) -> anyhow::Result<String> {
        let Some(b64) = stored.strip_prefix(SEALED_PREFIX) else {
            return Ok(stored.to_string());
        };
        let aad = Self::aad(tenant_id, webhook_id);
        STANDARD
            .decode(b64)
            .ok()
            .and_then(|blob| sealing::open(&self.0, &aad, &blob))
            .and_then(|plain| String::from_utf8(plain).ok())
            .ok_or_else(|| {
                anyhow::anyhow!("the webhook's secret does not open with ORDERDESK_DATA_KEY")
            })
    }
}

/// A new secret: `whsec_` and 24 random bytes in base64.
pub fn new_secret() -> String {
    let mut key = [0u8; 24];
    rand::rng().fill_bytes(&mut key);
    format!("whsec_{}", STANDARD.encode(key))
}

/// The three headers of `body` sent as message `msg_id` at unix time `timestamp`.
pub fn headers(
    secret: &str,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> anyhow::Result<[(&'static str, String); 3]> {
    let signer = Webhook::new(secret).map_err(|e| anyhow::anyhow!("bad secret: {e:?}"))?;
    let signature = signer
        .sign(msg_id, timestamp, body)
        .map_err(|e| anyhow::anyhow!("cannot sign: {e:?}"))?;
    Ok([
        (standardwebhooks::HEADER_WEBHOOK_ID, msg_id.to_string()),
        (
            standardwebhooks::HEADER_WEBHOOK_TIMESTAMP,
            timestamp.to_string(),
        ),
        (standardwebhooks::HEADER_WEBHOOK_SIGNATURE, signature),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_what_the_reference_verifier_accepts() {
        let secret = new_secret();
        let now = chrono::Utc::now().timestamp();
        let mut map = http::HeaderMap::new();
        for (k, v) in headers(&secret, "msg_1", now, b"{\"a\":1}").unwrap() {
            map.insert(k, v.parse().unwrap());
        }
        let verifier = Webhook::new(&secret).unwrap();
        assert!(verifier.verify(b"{\"a\":1}", &map).is_ok());
        assert!(verifier.verify(b"{\"a\":2}", &map).is_err());
    }

    #[test]
    fn secrets_are_sealed_to_their_webhook() {
        let with_key = |key: &str| {
            let key = key.to_string();
            Config::from_lookup(move |k| match k {
                crate::config::ALLOW_DEV_SECRETS => Some("true".into()),
                "ORDERDESK_DATA_KEY" => Some(key.clone()),
                _ => None,
            })
            .unwrap()
        };
        let seal = SecretSeal::new(&with_key(&"a".repeat(40)));
        let (id, secret) = (Uuid::now_v7(), new_secret());
        let stored = seal.seal("acme", id, &secret).unwrap();
        assert!(stored.starts_with(SEALED_PREFIX) && !stored.contains(&secret[6..]));
        assert_eq!(seal.open("acme", id, &stored).unwrap(), secret);
        assert!(
            seal.open("acme", Uuid::now_v7(), &stored).is_err(),
            "another webhook"
        );
        assert!(seal.open("other", id, &stored).is_err(), "another tenant");
        let other = SecretSeal::new(&with_key(&"b".repeat(40)));
        assert!(other.open("acme", id, &stored).is_err(), "another data key");
        // stored before sealing: read as is
        assert_eq!(seal.open("acme", id, &secret).unwrap(), secret);
    }
}
