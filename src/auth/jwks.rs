//! Keys fetched from a JWKS URL, looked up by `kid`, refreshed at most once a minute.
//!
//! The algorithm of each key follows from its type (RSA → RS256, EC P-256 → ES256), never
//! from the token, and a token's `kid` can only select among the keys fetched here.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use anyhow::Context;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};

/// An unknown `kid` triggers a refresh only if the last one is at least this old, so a
/// flood of forged kids costs the identity provider one request a minute.
pub const JWKS_MIN_REFRESH: Duration = Duration::from_secs(60);

/// A verification key and the one algorithm it may verify.
#[derive(Clone)]
pub(super) struct VerifyingKey {
    pub alg: Algorithm,
    pub key: DecodingKey,
}

pub(super) struct JwksKeys {
    url: String,
    http: reqwest::Client,
    state: RwLock<Fetched>,
    /// Serialises refreshes so concurrent unknown kids fetch once.
    refreshing: tokio::sync::Mutex<()>,
}

struct Fetched {
    keys: HashMap<String, VerifyingKey>,
    at: Instant,
}

impl JwksKeys {
    /// Fetches the key set; failing here fails start-up, since no token could be verified.
    pub async fn fetch(url: &str) -> anyhow::Result<JwksKeys> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .context("building the JWKS HTTP client")?;
        let keys = download(&http, url)
            .await
            .with_context(|| format!("fetching ORDERDESK_JWKS_URL {url}"))?;
        if keys.is_empty() {
            tracing::warn!(%url, "the JWKS has no usable RS256/ES256 key with a kid");
        }
        Ok(JwksKeys {
            url: url.to_string(),
            http,
            state: RwLock::new(Fetched {
                keys,
                at: Instant::now(),
            }),
            refreshing: tokio::sync::Mutex::new(()),
        })
    }

    /// The key with this `kid`, refreshing the set once if it is unknown and the last
    /// fetch is older than [`JWKS_MIN_REFRESH`].
    pub async fn find(&self, kid: &str) -> Option<VerifyingKey> {
        if let Some(key) = self.cached(kid) {
            return Some(key);
        }
        let _one_refresh_at_a_time = self.refreshing.lock().await;
        if let Some(key) = self.cached(kid) {
            return Some(key); // another request refreshed while we waited
        }
        if self.read().at.elapsed() < JWKS_MIN_REFRESH {
            return None;
        }
        let refreshed = download(&self.http, &self.url).await;
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        state.at = Instant::now();
        match refreshed {
            Ok(keys) => state.keys = keys,
            // Keep the keys we have: an IdP outage must not log everyone out.
            Err(e) => {
                tracing::warn!(url = %self.url, error = %format!("{e:#}"), "JWKS refresh failed")
            }
        }
        state.keys.get(kid).cloned()
    }

    fn cached(&self, kid: &str) -> Option<VerifyingKey> {
        self.read().keys.get(kid).cloned()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Fetched> {
        // A panic while holding the lock cannot leave the map half-written.
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }
}

async fn download(
    http: &reqwest::Client,
    url: &str,
) -> anyhow::Result<HashMap<String, VerifyingKey>> {
    #[derive(serde::Deserialize)]
    struct RawSet {
        keys: Vec<serde_json::Value>,
    }
    let set: RawSet = http
        .get(url)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await
        .context("the JWKS is not a JSON key set")?;
    Ok(usable_keys(set.keys))
}

/// Keeps the signature keys we can verify; a key we cannot use is skipped, not fatal, so
/// an IdP publishing an extra key type does not break start-up.
fn usable_keys(raw: Vec<serde_json::Value>) -> HashMap<String, VerifyingKey> {
    let mut keys = HashMap::new();
    for value in raw {
        let jwk: Jwk = match serde_json::from_value(value) {
            Ok(jwk) => jwk,
            Err(e) => {
                tracing::info!(error = %e, "skipping a JWKS entry that is not a known key type");
                continue;
            }
        };
        let Some(kid) = jwk.common.key_id.clone() else {
            tracing::info!("skipping a JWKS key without kid");
            continue;
        };
        match verifying_key(&jwk) {
            Some(key) => {
                keys.insert(kid, key);
            }
            None => {
                tracing::info!(%kid, "skipping a JWKS key that is not an RS256/ES256 signing key")
            }
        }
    }
    keys
}

fn verifying_key(jwk: &Jwk) -> Option<VerifyingKey> {
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return None;
    }
    let (alg, key) = match &jwk.algorithm {
        AlgorithmParameters::RSA(rsa) => (
            Algorithm::RS256,
            DecodingKey::from_rsa_components(&rsa.n, &rsa.e).ok()?,
        ),
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => (
            Algorithm::ES256,
            DecodingKey::from_ec_components(&ec.x, &ec.y).ok()?,
        ),
        _ => return None,
    };
    // A key that declares another algorithm (e.g. PS256, RSA-OAEP) is not ours to use.
    let declared_ok = match jwk.common.key_algorithm {
        None => true,
        Some(KeyAlgorithm::RS256) => alg == Algorithm::RS256,
        Some(KeyAlgorithm::ES256) => alg == Algorithm::ES256,
        Some(_) => false,
    };
    declared_ok.then_some(VerifyingKey { alg, key })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_only_signing_keys_with_kid_and_a_matching_alg() {
        // n/e/x/y need not be a real key for DecodingKey construction except EC points.
        let rsa = |kid: &str, extra: serde_json::Value| {
            let mut k = json!({"kty": "RSA", "n": "sXch", "e": "AQAB", "kid": kid});
            k.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            k
        };
        let keys = usable_keys(vec![
            rsa("plain", json!({})),
            rsa("declared", json!({"alg": "RS256", "use": "sig"})),
            rsa("pss", json!({"alg": "PS256"})),
            rsa("enc", json!({"use": "enc"})),
            json!({"kty": "RSA", "n": "sXch", "e": "AQAB"}),
            json!({"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"}),
            json!({"kty": "weird", "kid": "weird"}),
        ]);
        let mut kids: Vec<&str> = keys.keys().map(String::as_str).collect();
        kids.sort();
        assert_eq!(kids, ["declared", "plain"]);
        assert!(keys.values().all(|k| k.alg == Algorithm::RS256));
    }
}
