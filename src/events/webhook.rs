//! Outgoing webhook messages per the Standard Webhooks specification: `whsec_…` secrets
//! and the `webhook-id` / `webhook-timestamp` / `webhook-signature` headers.

use base64::Engine;
use rand::RngCore;
use standardwebhooks::Webhook;

/// A new secret: `whsec_` and 24 random bytes in base64.
pub fn new_secret() -> String {
    let mut key = [0u8; 24];
    rand::rng().fill_bytes(&mut key);
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(key)
    )
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
}
