//! Keys from a JWKS URL: a token's kid selects only among the fetched keys, and unknown
//! kids do not make the verifier hammer the identity provider.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::routing::get;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey};
use orderdesk::auth::Verifier;
use reqwest::StatusCode;

use super::*;

fn public_jwk(key: &EncodingKey, alg: Algorithm, kid: &str) -> Jwk {
    let mut jwk = Jwk::from_encoding_key(key, alg).unwrap();
    jwk.common.key_id = Some(kid.to_string());
    jwk
}

/// Serves a JWKS with the fixture RSA key as `rsa-1` and EC key as `ec-1`; counts fetches.
async fn identity_provider() -> (String, Arc<AtomicUsize>) {
    let set = JwkSet {
        keys: vec![
            public_jwk(&rsa_signing_key(), Algorithm::RS256, "rsa-1"),
            public_jwk(&ec_signing_key(), Algorithm::ES256, "ec-1"),
        ],
    };
    let fetches = Arc::new(AtomicUsize::new(0));
    let counter = fetches.clone();
    let router = Router::new().route(
        "/.well-known/jwks.json",
        get(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            let set = set.clone();
            async move { Json(set) }
        }),
    );
    let base = serve(router).await;
    (format!("{base}/.well-known/jwks.json"), fetches)
}

fn jwks_config(url: &str) -> Config {
    config_with(&[("ORDERDESK_JWKS_URL", url.to_string())])
}

#[tokio::test]
async fn known_kids_verify_and_unknown_kids_are_rejected() {
    let (url, fetches) = identity_provider().await;
    let app = spawn(&jwks_config(&url)).await;
    let claims = customer_claims("cus_0001");

    let rsa = sign(Algorithm::RS256, &rsa_signing_key(), Some("rsa-1"), &claims);
    ok(app.call("/customer", &rsa).await).await;
    let ec = sign(Algorithm::ES256, &ec_signing_key(), Some("ec-1"), &claims);
    ok(app.call("/customer", &ec).await).await;

    let rejected = [
        (
            "unknown kid",
            sign(Algorithm::RS256, &rsa_signing_key(), Some("rsa-2"), &claims),
        ),
        (
            "no kid",
            sign(Algorithm::RS256, &rsa_signing_key(), None, &claims),
        ),
        // The RSA key's kid with the EC key's algorithm: the key decides, not the header.
        (
            "alg of another key",
            sign(Algorithm::ES256, &ec_signing_key(), Some("rsa-1"), &claims),
        ),
    ];
    for (case, token) in rejected {
        let res = app.call("/customer", &token).await;
        let body = problem(res, StatusCode::UNAUTHORIZED, "auth.invalid_token").await;
        assert!(body["detail"].is_string(), "{case}");
    }
    // Fetched once at start; the unknown kid came within a minute, so no refetch.
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_unreachable_jwks_fails_start_up_naming_the_variable() {
    // Bind then drop a listener so the port is (almost certainly) closed.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    drop(listener);
    let err = Verifier::new(&jwks_config(&url))
        .await
        .err()
        .expect("start-up must fail");
    assert!(format!("{err:#}").contains("ORDERDESK_JWKS_URL"), "{err:#}");
}
