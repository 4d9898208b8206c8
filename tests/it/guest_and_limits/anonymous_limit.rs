//! Requests without a valid token are limited per client address (in-process, `governor`):
//! wrong or missing tokens, guest lookups, event deliveries with a bad signature.

use reqwest::header::HeaderMap;

use super::{app_with, get_with_headers, header_u64, lookup, lookup_path, rate_limit};
use crate::helpers::{TENANT, TestApp};

/// `GET /v1/customer/orders` without a token, from `ip`.
async fn anonymous(app: &TestApp, ip: &str) -> (u16, HeaderMap, serde_json::Value) {
    let mut h = HeaderMap::new();
    h.insert("x-forwarded-for", ip.parse().unwrap());
    h.insert("x-tenant-id", TENANT.parse().unwrap());
    get_with_headers(app, "/v1/customer/orders", h).await
}

fn assert_limited(status: u16, h: &HeaderMap, body: &serde_json::Value) {
    assert_eq!(
        (status, body["code"].as_str()),
        (429, Some("rate_limit.exceeded")),
        "{body}"
    );
    assert_eq!(h["content-type"], "application/problem+json");
    assert!(body["request_id"].is_string());
    // 3 per minute: one request comes back every 20 s
    assert!((1..=20).contains(&header_u64(h, "retry-after")), "{h:?}");
    assert_eq!(h["ratelimit-policy"], r#""anonymous";q=3;w=60"#);
    assert_eq!(rate_limit(h, "anonymous", "r"), 0);
}

#[tokio::test]
async fn requests_without_a_valid_token_are_limited_per_address() {
    let app = app_with(
        |s| s.rate_limits.guest_lookups_per_15_minutes = 100,
        &[
            ("ORDERDESK_ANONYMOUS_PER_MINUTE", "3"),
            ("ORDERDESK_TRUST_FORWARDED_FOR", "true"),
        ],
    )
    .await;
    for _ in 0..3 {
        let (status, _, body) = anonymous(&app, "10.7.7.1").await;
        assert_eq!(
            (status, body["code"].as_str()),
            (401, Some("auth.missing_token"))
        );
    }
    let (status, h, body) = anonymous(&app, "10.7.7.1").await;
    assert_limited(status, &h, &body);
    // a wrong token is no token
    let mut wrong = app.auth("not-a-jwt", TENANT);
    wrong.insert("x-forwarded-for", "10.7.7.1".parse().unwrap());
    let (status, h, body) = get_with_headers(&app, "/v1/customer/orders", wrong).await;
    assert_limited(status, &h, &body);
    // a valid token from the same address is not limited by it
    let mut valid = app.auth(&app.customer_token(TENANT, "cus_0001"), TENANT);
    valid.insert("x-forwarded-for", "10.7.7.1".parse().unwrap());
    let (status, _, body) = get_with_headers(&app, "/v1/customer/orders", valid).await;
    assert_eq!(status, 200, "{body}");
    // another address has its own allowance
    let (status, _, _) = anonymous(&app, "10.7.7.2").await;
    assert_eq!(status, 401);

    // guest lookups count as requests without a token, before their own counters
    let order = &app.orders[0];
    let path = lookup_path(&order.email, &order.number, "AAAAAAAAAAAAAAAAAAAAAA");
    for _ in 0..3 {
        let (status, _, _) = lookup(&app, TENANT, "10.7.7.3", &path).await;
        assert_eq!(status, 404);
    }
    let (status, h, body) = lookup(&app, TENANT, "10.7.7.3", &path).await;
    assert_limited(status, &h, &body);

    // event deliveries: each failed signature counts, the one over the allowance is a 429
    let ingest = |sig: &'static str| {
        app.http
            .post(format!("{}/v1/events/ingest", app.api))
            .header("x-forwarded-for", "10.7.7.4")
            .header("x-orderdesk-signature", sig)
            .body("{}")
            .send()
    };
    for _ in 0..3 {
        let res = ingest("t=1,v1=00").await.unwrap();
        assert_eq!(res.status(), 401);
    }
    let res = ingest("t=1,v1=00").await.unwrap();
    let (status, h) = (res.status().as_u16(), res.headers().clone());
    let body: serde_json::Value = res.json().await.unwrap();
    assert_limited(status, &h, &body);
}

/// Guessing at the console's sign-in counts as requests without a valid token.
#[tokio::test]
async fn failed_console_sign_ins_are_limited_per_address() {
    let app = app_with(
        |_| {},
        &[
            ("ORDERDESK_ANONYMOUS_PER_MINUTE", "3"),
            ("ORDERDESK_TRUST_FORWARDED_FOR", "true"),
        ],
    )
    .await;
    let sign_in = |ip: &'static str, credential: String| {
        let req = app
            .http
            .post(format!("{}/console/sign-in", app.api))
            .header("x-forwarded-for", ip)
            .form(&[("credential", credential)]);
        async move { req.send().await.unwrap().status().as_u16() }
    };
    for _ in 0..3 {
        assert_eq!(sign_in("10.8.8.1", "odk_guess".into()).await, 401);
    }
    assert_eq!(sign_in("10.8.8.1", "odk_guess".into()).await, 429);
    assert_eq!(sign_in("10.8.8.2", "odk_guess".into()).await, 401);
}
