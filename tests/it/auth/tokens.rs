//! Which bearer tokens are accepted, and that every forged or broken one is 401.

use jsonwebtoken::{Algorithm, EncodingKey};
use orderdesk::auth::{MintRequest, mint};
use orderdesk::domain::ids::{CustomerId, OrderId, TenantId};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::*;

const INVALID: &str = "auth.invalid_token";

async fn rejected(app: &App, token: &str) -> Value {
    problem(
        app.call("/customer", token).await,
        StatusCode::UNAUTHORIZED,
        INVALID,
    )
    .await
}

#[tokio::test]
async fn minted_customer_token_is_accepted() {
    let cfg = hs256_config();
    let app = spawn(&cfg).await;
    let token = mint(
        &cfg,
        &MintRequest::customer(&TenantId::new(TENANT), &CustomerId::new("cus_0001")),
    )
    .unwrap();
    let body = ok(app.call("/customer", &token).await).await;
    assert_eq!(
        body,
        json!({"principal": "customer:cus_0001", "tenant": TENANT, "scope_order_id": null})
    );
}

#[tokio::test]
async fn guest_token_exposes_its_order() {
    let cfg = hs256_config();
    let app = spawn(&cfg).await;
    let token = mint(
        &cfg,
        &MintRequest::customer(&TenantId::new(TENANT), &CustomerId::new("cus_0001"))
            .order(&OrderId::new("ord_42")),
    )
    .unwrap();
    let body = ok(app.call("/customer", &token).await).await;
    assert_eq!(body["scope_order_id"], "ord_42");
}

#[tokio::test]
async fn rs256_and_es256_tokens_verify_with_their_configured_public_key() {
    let rs = spawn(&rs256_config()).await;
    let token = sign(
        Algorithm::RS256,
        &rsa_signing_key(),
        None,
        &customer_claims("cus_0001"),
    );
    ok(rs.call("/customer", &token).await).await;

    let es = spawn(&es256_config()).await;
    let token = sign(
        Algorithm::ES256,
        &ec_signing_key(),
        None,
        &customer_claims("cus_0001"),
    );
    ok(es.call("/customer", &token).await).await;
    // ...and neither accepts the other's algorithm.
    rejected(&rs, &token).await;
}

#[tokio::test]
async fn alg_none_is_rejected() {
    let unsigned = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&customer_claims("cus_0001"))
    );
    rejected(&spawn(&hs256_config()).await, &unsigned).await;
    rejected(&spawn(&rs256_config()).await, &unsigned).await;
}

#[tokio::test]
async fn hs256_signed_with_the_rsa_public_key_is_rejected() {
    let app = spawn(&rs256_config()).await;
    let public_pem = fixture("jwt_rs256_public.pem");
    let confused = sign(
        Algorithm::HS256,
        &EncodingKey::from_secret(&public_pem),
        None,
        &customer_claims("cus_0001"),
    );
    let body = rejected(&app, &confused).await;
    assert!(
        body["detail"].as_str().unwrap().contains("algorithm"),
        "{body}"
    );
}

#[tokio::test]
async fn another_secret_is_rejected() {
    let app = spawn(&hs256_config()).await;
    let key = EncodingKey::from_secret(b"some-other-secret-of-enough-length");
    rejected(
        &app,
        &sign(Algorithm::HS256, &key, None, &customer_claims("cus_0001")),
    )
    .await;
}

#[tokio::test]
async fn expired_wrong_audience_and_wrong_issuer_are_rejected() {
    let app = spawn(&hs256_config()).await;
    let cases: [(&str, Value, &str); 3] = [
        ("exp", json!(now() - 3600), "expired"),
        ("aud", json!("someone-else"), "audience"),
        ("iss", json!("evil-idp"), "issuer"),
    ];
    for (claim, value, needle) in cases {
        let mut claims = customer_claims("cus_0001");
        claims[claim] = value;
        let body = rejected(&app, &hs256(&claims)).await;
        assert!(
            body["detail"].as_str().unwrap().contains(needle),
            "{claim}: {body}"
        );
    }
    // An audience list must contain ours.
    let mut claims = customer_claims("cus_0001");
    claims["aud"] = json!(["other-api", "billing-api"]);
    rejected(&app, &hs256(&claims)).await;
    claims["aud"] = json!(["other-api", "orderdesk-api"]);
    ok(app.call("/customer", &hs256(&claims)).await).await;
}

#[tokio::test]
async fn each_required_claim_is_required() {
    let app = spawn(&hs256_config()).await;
    for claim in ["exp", "iss", "aud", "sub", "tenant", "kind"] {
        let mut claims = customer_claims("cus_0001");
        claims.as_object_mut().unwrap().remove(claim);
        let body = rejected(&app, &hs256(&claims)).await;
        assert!(
            body["detail"].as_str().unwrap().contains(claim),
            "{claim}: {body}"
        );
    }
}

#[tokio::test]
async fn tampered_payload_is_rejected() {
    let app = spawn(&rs256_config()).await;
    let token = sign(
        Algorithm::RS256,
        &rsa_signing_key(),
        None,
        &customer_claims("cus_0001"),
    );
    let parts: Vec<&str> = token.split('.').collect();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64(&customer_claims("cus_0002")),
        parts[2]
    );
    rejected(&app, &forged).await;
}

#[tokio::test]
async fn missing_or_malformed_authorization_is_missing_token() {
    let app = spawn(&hs256_config()).await;
    let res = app
        .call_with(
            "/customer",
            Call {
                bearer: None,
                tenant: Some(TENANT),
                sudo: None,
            },
        )
        .await;
    problem(res, StatusCode::UNAUTHORIZED, "auth.missing_token").await;

    let res = reqwest::Client::new()
        .get(format!("{}/customer", app.base))
        .header("Authorization", "Basic dXNlcjpwdw==")
        .header("X-Tenant-ID", TENANT)
        .send()
        .await
        .unwrap();
    problem(res, StatusCode::UNAUTHORIZED, "auth.missing_token").await;

    rejected(&app, "not-a-jwt").await;
}
