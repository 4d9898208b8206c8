//! Guest lookup (confirmation token → a token for one order), per-principal rate limits with
//! their headers, capabilities and settings, and serving on while Redis is down.

mod anonymous_limit;
mod guest_scope;
mod quota_counting;

use std::process::{Command, Stdio};
use std::time::Duration;

use orderdesk::auth::guest::confirmation_token;
use orderdesk::db;
use orderdesk::domain::ids::TenantId;
use orderdesk::domain::order::Order;
use orderdesk::domain::settings::TenantSettings;
use orderdesk::seed;
use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::helpers::{self, OTHER_TENANT, TENANT, TestApp};

fn settings(edit: impl FnOnce(&mut TenantSettings)) -> TenantSettings {
    let mut s = seed::demo_settings();
    edit(&mut s);
    s
}

async fn app_with(edit: impl FnOnce(&mut TenantSettings), env: &[(&str, &str)]) -> TestApp {
    helpers::spawn_with(helpers::Options {
        workers: 0,
        settings: settings(edit),
        extra_env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    })
    .await
}

fn token_of(app: &TestApp, tenant: &str, o: &Order) -> String {
    confirmation_token(&app.config.guest_secret, tenant, &o.number, &o.email)
}

fn lookup_path(email: &str, number: &str, token: &str) -> String {
    format!("/v1/customer/orders/lookup?email={email}&order_number={number}&token={token}")
}

/// A guest lookup from `ip` (sent as X-Forwarded-For): status, headers, body.
async fn lookup(app: &TestApp, tenant: &str, ip: &str, path: &str) -> (u16, HeaderMap, Value) {
    let res = app
        .http
        .get(format!("{}{path}", app.api))
        .header("x-tenant-id", tenant)
        .header("x-forwarded-for", ip)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, headers, res.json().await.unwrap_or(Value::Null))
}

async fn get_with_headers(app: &TestApp, path: &str, h: HeaderMap) -> (u16, HeaderMap, Value) {
    let res = app
        .http
        .get(format!("{}{path}", app.api))
        .headers(h)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, headers, res.json().await.unwrap_or(Value::Null))
}

fn header_u64(h: &HeaderMap, name: &str) -> u64 {
    h.get(name)
        .unwrap_or_else(|| panic!("{name} missing: {h:?}"))
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// A parameter of the draft's `RateLimit: "<policy>";r=<remaining>;t=<seconds>` header,
/// checking the policy's name.
fn rate_limit(h: &HeaderMap, policy: &str, param: &str) -> u64 {
    let value = h
        .get("ratelimit")
        .unwrap_or_else(|| panic!("RateLimit missing: {h:?}"))
        .to_str()
        .unwrap();
    let mut items = value.split(';');
    assert_eq!(
        items.next(),
        Some(format!("\"{policy}\"").as_str()),
        "{value}"
    );
    items
        .find_map(|i| i.strip_prefix(&format!("{param}=")))
        .unwrap_or_else(|| panic!("{param} missing: {value}"))
        .parse()
        .unwrap()
}

/// Requests left in the principal's quota, from `RateLimit`.
fn remaining(h: &HeaderMap) -> u64 {
    rate_limit(h, "default", "r")
}

/// A customer with at least two orders, and two of them.
fn two_orders_of_one_customer(app: &TestApp) -> (Order, Order) {
    let first = app.orders[0].clone();
    let second = app
        .orders
        .iter()
        .find(|o| o.customer_id == first.customer_id && o.id != first.id)
        .expect("seeded customers have several orders")
        .clone();
    (first, second)
}

#[tokio::test]
async fn guest_lookup_gives_a_token_for_that_order_only() {
    let app = app_with(|_| {}, &[]).await;
    let (order, sibling) = two_orders_of_one_customer(&app);
    let token = token_of(&app, TENANT, &order);
    // the e-mail in another case still matches; the static path is not taken for an order id
    let path = lookup_path(&order.email.to_uppercase(), &order.number, &token);
    let (status, headers, body) = lookup(&app, TENANT, "10.1.1.1", &path).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["order"]["id"], order.id.as_str());
    assert_eq!(body["order"]["number"], order.number.as_str());
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["order"].get("customer_id").is_none() && body["order"].get("email").is_none());
    assert!(rate_limit(&headers, "guest", "r") > 0, "{headers:?}");
    let guest = body["guest_token"].as_str().unwrap().to_string();

    // the guest token reaches that order, and nothing else of the customer
    let (status, body) = app
        .get(
            &format!("/v1/customer/orders/{}", order.id),
            app.auth(&guest, TENANT),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app
        .get(
            &format!("/v1/customer/orders/{}", sibling.id),
            app.auth(&guest, TENANT),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("order.not_found"))
    );
    let (status, body) = app
        .get("/v1/customer/orders", app.auth(&guest, TENANT))
        .await;
    assert_eq!(status, 200, "{body}");
    let ids: Vec<_> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].clone())
        .collect();
    assert_eq!(ids, vec![Value::String(order.id.to_string())]);
    // shop-wide reads are fine for a guest
    let (status, _) = app
        .get("/v1/customer/capabilities", app.auth(&guest, TENANT))
        .await;
    assert_eq!(status, 200);
    // the token is only valid in its tenant
    let (status, _) = app
        .get(
            &format!("/v1/customer/orders/{}", order.id),
            app.auth(&guest, OTHER_TENANT),
        )
        .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn wrong_email_number_or_token_are_one_answer() {
    let app = app_with(|s| s.rate_limits.guest_lookups_per_15_minutes = 100, &[]).await;
    let (order, sibling) = two_orders_of_one_customer(&app);
    let other_customer = app
        .orders
        .iter()
        .find(|o| o.customer_id != order.customer_id)
        .unwrap();
    let token = token_of(&app, TENANT, &order);
    let foreign_token = token_of(&app, OTHER_TENANT, &order);
    let wrong = [
        lookup_path("someone@example.test", &order.number, &token),
        lookup_path(&other_customer.email, &order.number, &token),
        lookup_path(&order.email, &sibling.number, &token),
        lookup_path(&order.email, "999999", &token),
        lookup_path(
            &order.email,
            &order.number,
            &token_of(&app, TENANT, &sibling),
        ),
        lookup_path(&order.email, &order.number, "AAAAAAAAAAAAAAAAAAAAAA"),
        lookup_path(&order.email, &order.number, "not-base64!"),
        lookup_path(&order.email, &order.number, &foreign_token),
    ];
    let mut bodies = vec![];
    for path in &wrong {
        let (status, _, mut body) = lookup(&app, TENANT, "10.2.2.2", path).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert!(body["request_id"].is_string());
        body.as_object_mut().unwrap().remove("request_id");
        bodies.push(body);
    }
    assert!(bodies.iter().all(|b| *b == bodies[0]), "{bodies:?}");
    assert_eq!(bodies[0]["code"], "order.not_found");
    // the right triple sent to the other tenant is wrong there
    let path = lookup_path(&order.email, &order.number, &token);
    let (status, _, mut body) = lookup(&app, OTHER_TENANT, "10.2.2.2", &path).await;
    assert_eq!(status, 404);
    body.as_object_mut().unwrap().remove("request_id");
    assert_eq!(body, bodies[0]);

    // bad input is told apart: it says nothing about any order
    let (status, _, body) = lookup(
        &app,
        TENANT,
        "10.2.2.2",
        "/v1/customer/orders/lookup?email=a@b.c",
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("validation.failed")),
        "{body}"
    );
    let fields: Vec<_> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].clone())
        .collect();
    assert_eq!(fields, ["order_number", "token"]);
    let res = app
        .http
        .get(format!("{}{path}", app.api))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn guest_lookup_brute_force_is_throttled_per_ip_and_per_order_number() {
    let app = app_with(
        |s| s.rate_limits.guest_lookups_per_15_minutes = 3,
        &[("ORDERDESK_TRUST_FORWARDED_FOR", "true")],
    )
    .await;
    let (order, other) = two_orders_of_one_customer(&app);
    let guess = |n: u32| lookup_path(&order.email, &order.number, &format!("guess{n:017}"));
    for n in 0..3 {
        let (status, _, body) = lookup(&app, TENANT, "10.3.3.1", &guess(n)).await;
        assert_eq!(status, 404, "{body}");
    }
    let (status, headers, body) = lookup(&app, TENANT, "10.3.3.1", &guess(4)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (429, Some("rate_limit.exceeded")),
        "{body}"
    );
    let retry_after = header_u64(&headers, "retry-after");
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    assert_eq!(rate_limit(&headers, "guest", "r"), 0);
    assert_eq!(headers["ratelimit-policy"], r#""guest";q=3;w=900"#);
    // checked before the lookup: even the right token is refused now
    let right = lookup_path(&order.email, &order.number, &token_of(&app, TENANT, &order));
    let (status, _, _) = lookup(&app, TENANT, "10.3.3.1", &right).await;
    assert_eq!(status, 429);
    // a fresh IP on the same order number is throttled too
    let (status, headers, _) = lookup(&app, TENANT, "10.3.3.2", &right).await;
    assert_eq!(status, 429);
    assert!(headers.contains_key("retry-after"));
    // and the first IP on another order number
    let right_other = lookup_path(&other.email, &other.number, &token_of(&app, TENANT, &other));
    let (status, _, _) = lookup(&app, TENANT, "10.3.3.1", &right_other).await;
    assert_eq!(status, 429);
    // a fresh IP on a fresh order number is served
    let (status, _, body) = lookup(&app, TENANT, "10.3.3.3", &right_other).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn forwarded_for_is_not_trusted_by_default() {
    let app = app_with(|s| s.rate_limits.guest_lookups_per_15_minutes = 2, &[]).await;
    let order = &app.orders[0];
    let mut statuses = vec![];
    for n in 0..3 {
        // a client inventing a new X-Forwarded-For each time is still one peer
        let path = lookup_path(&order.email, &format!("55555{n}"), "AAAAAAAAAAAAAAAAAAAAAA");
        let (status, _, _) = lookup(&app, TENANT, &format!("10.4.4.{n}"), &path).await;
        statuses.push(status);
    }
    assert_eq!(statuses, [404, 404, 429]);
}

#[tokio::test]
async fn principal_quota_headers_and_429() {
    let app = app_with(
        |s| {
            s.rate_limits.customer_per_minute = 5;
            s.rate_limits.agent_per_minute = 3;
        },
        &[],
    )
    .await;
    let order = app.orders[0].clone();
    let token = app.customer_token(TENANT, &order.customer_id);
    let path = format!("/v1/customer/orders/{}", order.id);
    let (status, h, _) = get_with_headers(&app, &path, app.auth(&token, TENANT)).await;
    assert_eq!(status, 200);
    assert_eq!(h["ratelimit-policy"], r#""default";q=5;w=60"#);
    assert_eq!(remaining(&h), 4);
    assert!((1..=60).contains(&rate_limit(&h, "default", "t")));
    for old in ["ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"] {
        assert!(!h.contains_key(old), "{old} is not sent any more");
    }
    // the quota endpoint counts like any other request and agrees with its headers
    let (status, h, body) =
        get_with_headers(&app, "/v1/customer/rate-limits", app.auth(&token, TENANT)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["limit"].as_u64(), body["remaining"].as_u64()),
        (Some(5), Some(3))
    );
    assert_eq!(body["remaining"].as_u64().unwrap(), remaining(&h));
    assert_eq!(body["window_seconds"], 60);
    for left in [2, 1, 0] {
        let (status, h, _) = get_with_headers(&app, &path, app.auth(&token, TENANT)).await;
        assert_eq!(status, 200);
        assert_eq!(remaining(&h), left);
    }
    let (status, h, body) = get_with_headers(&app, &path, app.auth(&token, TENANT)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (429, Some("rate_limit.exceeded")),
        "{body}"
    );
    assert!((1..=60).contains(&header_u64(&h, "retry-after")));
    assert_eq!(remaining(&h), 0);
    assert!(body["request_id"].is_string());
    // per principal: another customer of the tenant is not affected
    let other = app.customer_token(TENANT, "cus_0002");
    let (status, _, _) =
        get_with_headers(&app, "/v1/customer/orders", app.auth(&other, TENANT)).await;
    assert_eq!(status, 200);
    // a request without a valid token is not counted: it gets its 401
    let (status, h, _) = get_with_headers(&app, &path, HeaderMap::new()).await;
    assert_eq!(status, 401);
    assert!(!h.contains_key("ratelimit-policy"));
    // agents have their own quota on the admin surface
    let agent = app.agent_token(TENANT, "agt_rl", &["admin"]);
    let admin_path = format!("/v1/admin/orders/{}", order.id);
    for left in [2, 1, 0] {
        let (status, h, body) = get_with_headers(&app, &admin_path, app.auth(&agent, TENANT)).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(remaining(&h), left);
    }
    let (status, _, _) = get_with_headers(&app, &admin_path, app.auth(&agent, TENANT)).await;
    assert_eq!(status, 429);
}

#[tokio::test]
async fn capabilities_and_settings_are_the_tenants_own() {
    let app = app_with(
        |s| {
            s.capabilities.returns_enabled = false;
            s.return_window_days = 14;
            s.address_change_window_minutes = 45;
        },
        &[],
    )
    .await;
    // globex has settings of its own
    let mut conn = app.state.db.acquire().await.unwrap();
    let globex = settings(|s| {
        s.return_window_days = 60;
        s.capabilities.guest_lookup_enabled = false;
    });
    db::tenants::upsert(
        &mut conn,
        &TenantId::new(OTHER_TENANT),
        OTHER_TENANT,
        &globex,
    )
    .await
    .unwrap();
    drop(conn);

    let token = app.customer_token(TENANT, "cus_0001");
    let (status, caps) = app
        .get("/v1/customer/capabilities", app.auth(&token, TENANT))
        .await;
    assert_eq!(status, 200, "{caps}");
    assert_eq!(caps["returns_enabled"], false);
    for key in [
        "exchanges_enabled",
        "reorder_enabled",
        "store_credit",
        "coupons_enabled",
        "guest_lookup_enabled",
        "messages_enabled",
    ] {
        assert_eq!(caps[key], true, "{key}: {caps}");
    }
    let (status, s) = app
        .get("/v1/customer/settings", app.auth(&token, TENANT))
        .await;
    assert_eq!(status, 200, "{s}");
    assert_eq!(
        (
            s["return_window_days"].as_i64(),
            s["address_change_window_minutes"].as_i64()
        ),
        (Some(14), Some(45))
    );
    assert!(s["cancel_window_minutes"].is_i64() && s["edit_window_minutes"].is_i64());
    assert!(s.get("cancel_review_above_minor").is_none() && s.get("rate_limits").is_none());

    let foreign = app.customer_token(OTHER_TENANT, "cus_0001");
    let (_, s) = app
        .get("/v1/customer/settings", app.auth(&foreign, OTHER_TENANT))
        .await;
    assert_eq!(s["return_window_days"], 60);

    for path in [
        "/v1/customer/capabilities",
        "/v1/customer/settings",
        "/v1/customer/rate-limits",
    ] {
        let (status, body) = app.get(path, HeaderMap::new()).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (401, Some("auth.missing_token")),
            "{path}"
        );
        // acme's token asking for globex's
        let (status, body) = app.get(path, app.auth(&token, OTHER_TENANT)).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (403, Some("tenant.mismatch")),
            "{path}"
        );
    }

    // globex turned guest lookup off
    let o = &app.orders[0];
    let path = lookup_path(&o.email, &o.number, &token_of(&app, OTHER_TENANT, o));
    let (status, _, body) = lookup(&app, OTHER_TENANT, "10.5.5.5", &path).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("guest_lookup.disabled"))
    );
}

/// A Redis server of this test's own, which it may stop (never the shared one).
struct OwnRedis(u16);

impl OwnRedis {
    fn start() -> OwnRedis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Self::start_on(port)
    }
    fn start_on(port: u16) -> OwnRedis {
        let status = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(["--daemonize", "yes", "--bind", "127.0.0.1"])
            .stdout(Stdio::null())
            .status()
            .expect("redis-server is installed");
        assert!(status.success());
        OwnRedis(port)
    }
    fn stop(&self) {
        let _ = Command::new("redis-cli")
            .args(["-p", &self.0.to_string(), "shutdown", "nosave"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    async fn wait_up(&self) {
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.0)).is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis on {} did not start", self.0);
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test]
async fn redis_down_serves_tokens_and_refuses_guest_lookups() {
    let redis = OwnRedis::start();
    redis.wait_up().await;
    let s = settings(|s| {
        s.rate_limits.customer_per_minute = 2;
        s.rate_limits.guest_lookups_per_15_minutes = 1;
    });
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        redis_url: format!("redis://127.0.0.1:{}", redis.0),
        settings: s,
        ..Default::default()
    })
    .await;
    let order = app.orders[0].clone();
    let token = app.customer_token(TENANT, &order.customer_id);
    let path = format!("/v1/customer/orders/{}", order.id);
    let (status, h, _) = get_with_headers(&app, &path, app.auth(&token, TENANT)).await;
    assert_eq!((status, remaining(&h)), (200, 1));
    redis.stop();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // over the quota of 2, yet served: the limiter fails open
    for _ in 0..4 {
        let (status, h, body) = get_with_headers(&app, &path, app.auth(&token, TENANT)).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(h["ratelimit-policy"], r#""default";q=2;w=60"#);
        assert!(!h.contains_key("ratelimit"));
    }
    let (status, body) = app
        .get("/v1/customer/rate-limits", app.auth(&token, TENANT))
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["remaining"].is_null());
    // guest lookups fail closed: uncounted guesses at a confirmation token are not allowed
    let right = lookup_path(&order.email, &order.number, &token_of(&app, TENANT, &order));
    for _ in 0..2 {
        let (status, h, body) = lookup(&app, TENANT, "10.6.6.6", &right).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (503, Some("rate_limit.unavailable")),
            "{body}"
        );
        assert!((1..=60).contains(&header_u64(&h, "retry-after")));
        assert!(body.get("guest_token").is_none());
    }
    // and serve again once Redis is back
    let back = OwnRedis::start_on(redis.0);
    back.wait_up().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (status, _, body) = lookup(&app, TENANT, "10.6.6.6", &right).await;
        if status == 200 {
            break;
        }
        assert_eq!(status, 503, "{body}");
        assert!(
            tokio::time::Instant::now() < deadline,
            "lookups stay refused"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
