//! The built-in sandbox over real HTTP: each test gets its own database and port.

use std::time::Duration;

use axum::body::Bytes;
use axum::http::HeaderMap;
use chrono::Utc;
use orderdesk::domain::order::{Address, Order, OrderLine, OrderStatus, Payment, Totals};
use orderdesk::events::signature;
use orderdesk_sandbox::{self as sandbox, SandboxConfig};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const SECRET: &[u8] = b"sandbox-test-events-secret";
const T1: &str = "t1";
const T2: &str = "t2";

/// A sandbox served on a loopback port over its own database.
struct TestSandbox {
    base: String,
    http: reqwest::Client,
    pool: PgPool,
    _db: DropDatabase,
    shutdown: CancellationToken,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl TestSandbox {
    async fn start(events_url: Option<String>) -> TestSandbox {
        let db_name = format!("od_t_{}", uuid::Uuid::new_v4().simple());
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect(ADMIN_URL)
            .await
            .expect("PostgreSQL at 127.0.0.1:5432");
        sqlx::query(&format!("CREATE DATABASE {db_name}"))
            .execute(&admin)
            .await
            .unwrap();
        admin.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(12)
            .connect(&format!("postgres://postgres@127.0.0.1:5432/{db_name}"))
            .await
            .unwrap();
        sandbox::migrate(&pool).await.unwrap();
        sandbox::seed_orders(
            &pool,
            &[
                order(T1, "ord_1", OrderStatus::Confirmed, "captured"),
                order(T1, "ord_2", OrderStatus::Shipped, "captured"),
                order(T1, "ord_3", OrderStatus::Pending, "authorized"),
                order(T2, "ord_9", OrderStatus::Confirmed, "captured"),
            ],
        )
        .await
        .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let cfg = SandboxConfig {
            events_url,
            events_secret: SECRET.to_vec(),
        };
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(sandbox::serve(
            listener,
            pool.clone(),
            cfg,
            shutdown.clone(),
        ));
        TestSandbox {
            base,
            http: reqwest::Client::new(),
            pool,
            _db: DropDatabase(db_name),
            shutdown,
            server,
        }
    }

    /// Stops the server; the database is dropped with `self`.
    async fn finish(self) {
        self.shutdown.cancel();
        let _ = self.server.await;
        self.pool.close().await;
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let res = req.send().await.unwrap();
        let status = res.status();
        let body = res.json::<Value>().await.unwrap_or(Value::Null);
        (status, body)
    }

    async fn get(&self, tenant: &str, path: &str) -> (StatusCode, Value) {
        let req = self.http.get(format!("{}{path}", self.base));
        self.send(req.header("x-tenant-id", tenant)).await
    }

    async fn post(
        &self,
        tenant: &str,
        path: &str,
        key: Option<&str>,
        body: Value,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("x-tenant-id", tenant)
            .json(&body);
        if let Some(key) = key {
            req = req.header("idempotency-key", key);
        }
        self.send(req).await
    }

    async fn set_faults(&self, body: Value) -> (StatusCode, Value) {
        self.send(
            self.http
                .post(format!("{}/sandbox/faults", self.base))
                .json(&body),
        )
        .await
    }

    async fn clear_faults(&self) {
        let (status, body) = self
            .send(self.http.delete(format!("{}/sandbox/faults", self.base)))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, json!({}));
    }

    async fn effects(&self, tenant: &str, order_id: &str) -> Vec<Value> {
        let (status, body) = self
            .get(tenant, &format!("/sandbox/effects?order_id={order_id}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["data"].as_array().unwrap().clone()
    }

    async fn effects_of_kind(&self, tenant: &str, order_id: &str, kind: &str) -> Vec<Value> {
        let all = self.effects(tenant, order_id).await;
        all.into_iter().filter(|e| e["kind"] == kind).collect()
    }
}

/// Drops the test database when the test ends, also when it panics (best effort).
struct DropDatabase(String);

impl Drop for DropDatabase {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.0);
        // Drop runs inside the test's runtime, which cannot block: use a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let admin = PgPoolOptions::new()
                    .max_connections(1)
                    .connect(ADMIN_URL)
                    .await
                    .ok()?;
                let _ = sqlx::query(&sql).execute(&admin).await;
                admin.close().await;
                Some(())
            })
        })
        .join();
    }
}

/// An order of 5000 minor units (two lines) paid by one payment `pay_<id>`.
fn order(tenant: &str, id: &str, status: OrderStatus, payment_status: &str) -> Order {
    let now = Utc::now();
    let line = |n: &str, sku: &str, qty: i32, unit: i64| OrderLine {
        id: format!("{id}_{n}"),
        sku: sku.into(),
        name: format!("Item {sku}"),
        qty,
        unit_price_minor: unit,
        total_minor: unit * i64::from(qty),
        hs_code: None,
        origin_country: None,
    };
    Order {
        id: id.into(),
        tenant_id: tenant.into(),
        number: format!("N-{id}"),
        customer_id: "cus_1".into(),
        email: "ada@example.com".into(),
        status,
        currency: "EUR".into(),
        placed_at: now,
        lines: vec![line("l1", "SKU-A", 2, 1500), line("l2", "SKU-B", 1, 2000)],
        totals: Totals {
            subtotal_minor: 5000,
            shipping_minor: 0,
            tax_minor: 0,
            total_minor: 5000,
        },
        payments: vec![Payment {
            id: format!("pay_{id}"),
            status: payment_status.into(),
            method: "card".into(),
            amount_minor: 5000,
            refunded_minor: 0,
            refunds: vec![],
            captures: vec![],
            settlement: None,
        }],
        shipments: vec![],
        shipping_address: Address {
            name: "Ada".into(),
            line1: "1 Main St".into(),
            line2: None,
            city: "Paris".into(),
            postal_code: "75001".into(),
            country: "FR".into(),
        },
        version: 1,
        updated_at: now,
        cancel_reason: None,
        channel: None,
        external_ref: None,
        tags: vec![],
        fraud_state: None,
        risk: None,
        notes: vec![],
    }
}

fn refund_body(amount: i64) -> Value {
    json!({ "amount_minor": amount, "reason": "test" })
}

#[tokio::test]
async fn get_order_and_other_tenants_order_is_404() {
    let sb = TestSandbox::start(None).await;
    let (status, body) = sb.get(T1, "/orders/v1/orders/ord_1").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let order: Order = serde_json::from_value(body).unwrap();
    assert_eq!((order.id.as_str(), order.version), ("ord_1", 1));

    let (status, body) = sb.get(T2, "/orders/v1/orders/ord_1").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "order.not_found");

    let res = sb
        .http
        .get(format!("{}/orders/v1/orders/ord_1", sb.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "tenant.missing");

    let (status, body) = sb
        .get(T1, "/orders/v1/orders?customer_id=cus_1&limit=10")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"].as_array().unwrap().len(), 3);
    let (_, body) = sb.get(T2, "/orders/v1/orders").await;
    assert_eq!(body["data"][0]["id"], "ord_9");
    sb.finish().await;
}

#[tokio::test]
async fn cancel_has_one_effect_and_reinstate_restores_status() {
    let sb = TestSandbox::start(None).await;
    let reason = json!({ "reason": "changed my mind" });
    let (status, first) = sb
        .post(
            T1,
            "/orders/v1/orders/ord_1/cancel",
            Some("k1"),
            reason.clone(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["status"], "cancelled");
    assert_eq!(first["version"], 2);
    assert_eq!(first["cancel_reason"], "changed my mind");

    let (status, second) = sb
        .post(T1, "/orders/v1/orders/ord_1/cancel", Some("k2"), reason)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        second, first,
        "an already cancelled order is answered as it is"
    );
    assert_eq!(
        sb.effects_of_kind(T1, "ord_1", "order.cancel").await.len(),
        1
    );

    let (status, body) = sb
        .post(
            T1,
            "/orders/v1/orders/ord_1/reinstate",
            Some("k3"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (body["status"].as_str(), body["version"].as_i64()),
        (Some("confirmed"), Some(3))
    );
    let (_, again) = sb
        .post(
            T1,
            "/orders/v1/orders/ord_1/reinstate",
            Some("k4"),
            json!({}),
        )
        .await;
    assert_eq!(again["version"], 3);
    let kinds: Vec<_> = sb
        .effects(T1, "ord_1")
        .await
        .iter()
        .map(|e| e["kind"].clone())
        .collect();
    assert_eq!(kinds, vec![json!("order.cancel"), json!("order.reinstate")]);
    sb.finish().await;
}

#[tokio::test]
async fn hold_and_release_round_trip() {
    let sb = TestSandbox::start(None).await;
    let (status, body) = sb
        .post(T1, "/orders/v1/orders/ord_3/hold", None, json!({}))
        .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("on_hold"))
    );
    // release takes no body at all
    let release = sb
        .http
        .post(format!("{}/orders/v1/orders/ord_3/release", sb.base))
        .header("x-tenant-id", T1);
    let (_, body) = sb.send(release).await;
    assert_eq!(body["status"], "pending");
    let (status, body) = sb
        .post(T1, "/orders/v1/orders/ord_2/hold", None, json!({}))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("order.not_holdable"))
    );
    let kinds: Vec<_> = sb
        .effects(T1, "ord_3")
        .await
        .iter()
        .map(|e| e["kind"].clone())
        .collect();
    assert_eq!(kinds, vec![json!("order.hold"), json!("order.release")]);
    sb.finish().await;
}

#[tokio::test]
async fn a_change_at_another_version_is_refused_first_and_a_replay_is_not() {
    let sb = TestSandbox::start(None).await;
    let (_, order) = sb.get(T1, "/orders/v1/orders/ord_1").await;
    let v = order["version"].as_i64().unwrap();
    let at = |version: i64| json!({"reason": "check", "expected_version": version});

    let (status, body) = sb
        .post(
            T1,
            "/orders/v1/orders/ord_1/hold",
            Some("h-stale"),
            at(v + 1),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (
            StatusCode::PRECONDITION_FAILED,
            Some("order.version_mismatch")
        )
    );
    assert_eq!(body["current_version"], json!(v));
    // judged before the rule: a shipped order at another version is 412, not 409
    let (status, _) = sb
        .post(
            T1,
            "/orders/v1/orders/ord_2/cancel",
            Some("c-stale"),
            at(-5),
        )
        .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    let address = json!({"address": {"name": "A", "line1": "1 Dam", "city": "Amsterdam",
                          "postal_code": "1012 JS", "country": "NL"}, "expected_version": v + 1});
    let (status, body) = sb
        .post(
            T1,
            "/orders/v1/orders/ord_1/address",
            Some("a-stale"),
            address,
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (
            StatusCode::PRECONDITION_FAILED,
            Some("order.version_mismatch")
        )
    );
    assert!(sb.effects(T1, "ord_1").await.is_empty(), "nothing changed");

    let (status, held) = sb
        .post(T1, "/orders/v1/orders/ord_1/hold", Some("h-1"), at(v))
        .await;
    assert_eq!(
        (status, held["version"].as_i64()),
        (StatusCode::OK, Some(v + 1))
    );
    // the same key again, now that the order is at v + 1: the first answer, not a 412
    let (status, replay) = sb
        .post(T1, "/orders/v1/orders/ord_1/hold", Some("h-1"), at(v))
        .await;
    assert_eq!((status, &replay), (StatusCode::OK, &held));
    // without `expected_version` nothing is judged
    let (status, _) = sb
        .post(
            T1,
            "/orders/v1/orders/ord_1/release",
            Some("r-1"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(sb.effects_of_kind(T1, "ord_1", "order.hold").await.len(), 1);
    sb.finish().await;
}

#[tokio::test]
async fn shipped_order_cannot_be_cancelled() {
    let sb = TestSandbox::start(None).await;
    let res = sb
        .http
        .post(format!("{}/orders/v1/orders/ord_2/cancel", sb.base))
        .header("x-tenant-id", T1)
        .json(&json!({ "reason": "late" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        (body["code"].as_str(), body["status"].as_i64()),
        (Some("order.not_cancellable"), Some(409))
    );
    assert!(sb.effects(T1, "ord_2").await.is_empty());

    // An order shipped through the sandbox route is refused the same way.
    let (status, body) = sb
        .post(T1, "/sandbox/orders/ord_1/ship", None, json!({}))
        .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("shipped"))
    );
    assert_eq!(body["shipments"][0]["lines"].as_array().unwrap().len(), 2);
    let (status, _) = sb
        .post(T1, "/orders/v1/orders/ord_1/cancel", None, json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (_, body) = sb.get(T1, "/fulfillment/v1/shipments?order_id=ord_1").await;
    assert_eq!(body["data"].as_array().unwrap().len(), 1);
    sb.finish().await;
}

#[tokio::test]
async fn refund_updates_the_payment_inside_the_order() {
    let sb = TestSandbox::start(None).await;
    let (status, refund) = sb
        .post(
            T1,
            "/payments/v1/payments/pay_ord_1/refunds",
            None,
            refund_body(1200),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{refund}");
    assert!(refund["id"].as_str().unwrap().starts_with("ref_"));
    assert_eq!(refund["amount_minor"], 1200);

    let (status, payment) = sb.get(T1, "/payments/v1/payments/pay_ord_1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(payment["refunded_minor"], 1200);
    assert_eq!(payment["status"], "partially_refunded");
    let (_, readback) = sb.get(T1, "/sandbox/payments/pay_ord_1").await;
    assert_eq!(readback, payment);
    assert_eq!(readback["refunds"][0]["id"], refund["id"]);
    let (_, order) = sb.get(T1, "/orders/v1/orders/ord_1").await;
    assert_eq!(order["version"], 2);

    let (status, _) = sb
        .post(
            T1,
            "/payments/v1/payments/pay_ord_1/refunds",
            None,
            refund_body(3800),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, payment) = sb.get(T1, "/sandbox/payments/pay_ord_1").await;
    assert_eq!(
        (
            payment["status"].as_str(),
            payment["refunded_minor"].as_i64()
        ),
        (Some("refunded"), Some(5000))
    );
    assert_eq!(
        sb.effects_of_kind(T1, "ord_1", "payment.refund")
            .await
            .len(),
        2
    );
    sb.finish().await;
}

#[tokio::test]
async fn refund_errors_change_nothing() {
    let sb = TestSandbox::start(None).await;
    let path = "/payments/v1/payments/pay_ord_1/refunds";
    let (status, body) = sb.post(T1, path, Some("too-much"), refund_body(5001)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("refund.exceeds_captured")
        )
    );
    // The stored answer of a failed call is replayed too.
    let (status, again) = sb.post(T1, path, Some("too-much"), refund_body(5001)).await;
    assert_eq!((status, &again), (StatusCode::UNPROCESSABLE_ENTITY, &body));

    let (status, body) = sb.post(T1, path, None, refund_body(0)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("validation.failed"))
    );
    let (status, body) = sb
        .post(T1, path, None, json!({ "reason": "no amount" }))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("request.invalid_body")
        )
    );
    let (status, body) = sb
        .post(
            T1,
            "/payments/v1/payments/pay_ord_3/refunds",
            None,
            refund_body(10),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("refund.not_captured"))
    );
    let (status, body) = sb.post(T2, path, None, refund_body(10)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("payment.not_found"))
    );
    let (status, _) = sb.get(T2, "/sandbox/payments/pay_ord_1").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    assert!(sb.effects(T1, "ord_1").await.is_empty());
    let (_, payment) = sb.get(T1, "/sandbox/payments/pay_ord_1").await;
    assert_eq!(
        (
            payment["refunded_minor"].as_i64(),
            payment["status"].as_str()
        ),
        (Some(0), Some("captured"))
    );
    sb.finish().await;
}

#[tokio::test]
async fn same_key_twice_has_one_effect_and_the_same_answer() {
    let sb = TestSandbox::start(None).await;
    let path = "/payments/v1/payments/pay_ord_1/refunds";
    let (status, first) = sb
        .post(T1, path, Some("run1:refund"), refund_body(1000))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let res = sb
        .http
        .post(format!("{}{path}", sb.base))
        .header("x-tenant-id", T1)
        .header("idempotency-key", "run1:refund")
        .json(&refund_body(1000))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.headers()["idempotent-replayed"], "true");
    assert_eq!(res.json::<Value>().await.unwrap(), first);

    let effects = sb.effects(T1, "ord_1").await;
    assert_eq!(effects.len(), 1);
    assert_eq!(effects[0]["key"], "run1:refund");
    let (_, payment) = sb.get(T1, "/sandbox/payments/pay_ord_1").await;
    assert_eq!(payment["refunded_minor"], 1000);

    // The same key in another tenant is another call.
    let (status, _) = sb
        .post(
            T2,
            "/payments/v1/payments/pay_ord_9/refunds",
            Some("run1:refund"),
            refund_body(1000),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(sb.effects(T2, "ord_9").await.len(), 1);
    sb.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_concurrent_identical_refunds_refund_once() {
    let sb = TestSandbox::start(None).await;
    let path = "/payments/v1/payments/pay_ord_1/refunds";
    let calls = (0..10).map(|_| sb.post(T1, path, Some("same-key"), refund_body(700)));
    let answers = futures::future::join_all(calls).await;
    for (status, body) in &answers {
        assert_eq!(*status, StatusCode::CREATED, "{body}");
        assert_eq!(body, &answers[0].1);
    }
    let (_, payment) = sb.get(T1, "/sandbox/payments/pay_ord_1").await;
    assert_eq!(payment["refunds"].as_array().unwrap().len(), 1);
    assert_eq!(payment["refunded_minor"], 700);
    assert_eq!(sb.effects(T1, "ord_1").await.len(), 1);
    sb.finish().await;
}

#[tokio::test]
async fn injected_error_has_no_effect_until_faults_are_cleared() {
    let sb = TestSandbox::start(None).await;
    let (status, faults) = sb
        .set_faults(json!({ "service": "payments", "error_rate": 1.0 }))
        .await;
    assert_eq!(status, StatusCode::OK, "{faults}");
    assert_eq!(faults["payments"]["error_rate"], 1.0);
    let path = "/payments/v1/payments/pay_ord_1/refunds";
    let (status, body) = sb.post(T1, path, Some("k"), refund_body(500)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Some("sandbox.injected_error")
        )
    );
    assert!(sb.effects(T1, "ord_1").await.is_empty());
    // Other services and the read-back routes are untouched.
    let (status, _) = sb.get(T1, "/orders/v1/orders/ord_1").await;
    assert_eq!(status, StatusCode::OK);

    let (_, listed) = sb
        .send(sb.http.get(format!("{}/sandbox/faults", sb.base)))
        .await;
    assert_eq!(listed, faults);
    sb.clear_faults().await;
    let (status, _) = sb.post(T1, path, Some("k"), refund_body(500)).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(sb.effects(T1, "ord_1").await.len(), 1);

    // "*" covers every service, but never /sandbox/*.
    sb.set_faults(json!({ "service": "*", "error_rate": 1.0 }))
        .await;
    let (status, _) = sb.get(T1, "/orders/v1/orders/ord_1").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let (status, _) = sb.get(T1, "/sandbox/orders/ord_1").await;
    assert_eq!(status, StatusCode::OK);
    sb.finish().await;
}

#[tokio::test]
async fn lost_response_keeps_the_effect_and_a_retry_replays_it() {
    let sb = TestSandbox::start(None).await;
    sb.set_faults(json!({ "service": "payments", "lost_response_rate": 1.0 }))
        .await;
    let path = "/payments/v1/payments/pay_ord_1/refunds";
    let (status, body) = sb
        .post(T1, path, Some("run7:refund"), refund_body(900))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Some("sandbox.lost_response")
        )
    );
    let effects = sb.effects(T1, "ord_1").await;
    assert_eq!(
        effects.len(),
        1,
        "the effect was committed before the response was lost"
    );

    sb.clear_faults().await;
    let (status, refund) = sb
        .post(T1, path, Some("run7:refund"), refund_body(900))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(refund["id"], effects[0]["detail"]["refund_id"]);
    assert_eq!(sb.effects(T1, "ord_1").await.len(), 1);
    let (_, payment) = sb.get(T1, "/sandbox/payments/pay_ord_1").await;
    assert_eq!(payment["refunded_minor"], 900);
    sb.finish().await;
}

#[tokio::test]
async fn bad_faults_bodies_are_422() {
    let sb = TestSandbox::start(None).await;
    let bad = [
        json!({ "service": "payments", "error_rate": 1.5 }),
        json!({ "service": "payments", "lost_response_rate": -0.1 }),
        json!({ "service": "payments", "latency_ms": 60001 }),
        json!({ "service": "teleport", "error_rate": 0.1 }),
        json!({ "error_rate": 0.1 }),
        json!({ "service": "payments", "eror_rate": 0.1 }),
        json!({ "service": "payments", "error_rate": "high" }),
    ];
    for body in bad {
        let (status, problem) = sb.set_faults(body.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body} → {problem}"
        );
        assert!(problem["code"].is_string(), "{problem}");
    }
    let (_, problem) = sb
        .set_faults(json!({ "service": "nope", "error_rate": 2, "latency_ms": -1 }))
        .await;
    assert_eq!(problem["errors"].as_array().unwrap().len(), 3, "{problem}");
    let (_, listed) = sb
        .send(sb.http.get(format!("{}/sandbox/faults", sb.base)))
        .await;
    assert_eq!(listed, json!({}));
    sb.finish().await;
}

/// Starts a receiver on a loopback port that hands every request to the test.
async fn event_receiver() -> (String, mpsc::UnboundedReceiver<(HeaderMap, Bytes)>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/v1/events/ingest",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let tx = tx.clone();
            async move {
                let _ = tx.send((headers, body));
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1/events/ingest", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, rx)
}

async fn next_event(rx: &mut mpsc::UnboundedReceiver<(HeaderMap, Bytes)>) -> Value {
    let (headers, body) = tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("an event within 20 s")
        .unwrap();
    let header = headers[signature::HEADER].to_str().unwrap();
    assert_eq!(
        signature::verify(SECRET, header, &body, Utc::now().timestamp()),
        Ok(())
    );
    assert_eq!(
        signature::verify(
            b"some-other-secret-value",
            header,
            &body,
            Utc::now().timestamp()
        ),
        Err(signature::SignatureError::Mismatch)
    );
    serde_json::from_slice(&body).unwrap()
}

#[tokio::test]
async fn events_are_delivered_and_signed() {
    let (url, mut rx) = event_receiver().await;
    let sb = TestSandbox::start(Some(url)).await;
    let (status, _) = sb
        .post(
            T1,
            "/orders/v1/orders/ord_1/cancel",
            Some("c"),
            json!({ "reason": "r" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let cancelled = next_event(&mut rx).await;
    assert_eq!(cancelled["type"], "order.cancelled");
    assert_eq!(cancelled["tenant_id"], T1);
    assert_eq!(cancelled["order"]["status"], "cancelled");
    assert_eq!(cancelled["order"]["version"], 2);
    assert!(cancelled["id"].as_str().unwrap().starts_with("evt_"));
    assert!(cancelled["occurred_at"].is_string());

    let (status, _) = sb
        .post(
            T1,
            "/payments/v1/payments/pay_ord_1/refunds",
            None,
            refund_body(100),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let refunded = next_event(&mut rx).await;
    assert_eq!(refunded["type"], "payment.refunded");
    assert_eq!(refunded["order"]["payments"][0]["refunded_minor"], 100);
    assert_ne!(refunded["id"], cancelled["id"]);
    sb.finish().await;
}

#[tokio::test]
async fn inventory_notifications_billing_and_fulfillment() {
    let sb = TestSandbox::start(None).await;
    let lines = json!({ "order_id": "ord_1", "lines": [{ "sku": "SKU-A", "qty": 2 }] });
    let (status, release) = sb
        .post(T1, "/inventory/v1/releases", Some("r1"), lines.clone())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{release}");
    assert!(release["id"].as_str().unwrap().starts_with("rel_"));
    let (_, stock) = sb.get(T1, "/inventory/v1/stock/SKU-A").await;
    assert_eq!(stock, json!({ "sku": "SKU-A", "on_hand": 102 }));
    let (status, reservation) = sb
        .post(T1, "/inventory/v1/reservations", Some("r2"), lines)
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(reservation["id"].as_str().unwrap().starts_with("res_"));
    let too_many = json!({ "order_id": "ord_1", "lines": [{ "sku": "SKU-A", "qty": 1000 }] });
    let (status, body) = sb
        .post(T1, "/inventory/v1/reservations", None, too_many)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("inventory.insufficient_stock"))
    );
    let (status, body) = sb
        .post(
            T1,
            "/inventory/v1/releases",
            None,
            json!({ "order_id": "ord_1", "lines": [] }),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("validation.failed"))
    );
    let (_, inventory) = sb.get(T1, "/sandbox/inventory/SKU-A").await;
    assert_eq!(inventory["on_hand"], 100);
    let reasons: Vec<_> = inventory["movements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["reason"].clone())
        .collect();
    assert_eq!(
        reasons,
        vec![json!("seed"), json!("release"), json!("reservation")]
    );
    let (status, _) = sb.get(T2, "/sandbox/inventory/SKU-UNKNOWN").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let message = json!({ "order_id": "ord_1", "to": "ada@example.com", "template": "order_cancelled", "data": { "n": 1 } });
    let (status, sent) = sb
        .post(
            T1,
            "/notifications/v1/messages",
            Some("m1"),
            message.clone(),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(sent["id"].as_str().unwrap().starts_with("msg_"));
    let (_, replay) = sb
        .post(T1, "/notifications/v1/messages", Some("m1"), message)
        .await;
    assert_eq!(replay, sent);
    let (_, listed) = sb.get(T1, "/sandbox/notifications?order_id=ord_1").await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert_eq!(listed["data"][0]["template"], "order_cancelled");

    let kinds: Vec<_> = sb
        .effects(T1, "ord_1")
        .await
        .iter()
        .map(|e| e["kind"].clone())
        .collect();
    assert_eq!(
        kinds,
        vec![
            json!("inventory.release"),
            json!("inventory.reservation"),
            json!("notification.send")
        ]
    );

    let (status, invoices) = sb.get(T1, "/billing/v1/invoices?order_id=ord_1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(invoices["data"][0]["total_minor"], 5000);
    assert!(
        invoices["data"][0]["id"]
            .as_str()
            .unwrap()
            .starts_with("inv_")
    );
    let (status, _) = sb.get(T2, "/billing/v1/invoices?order_id=ord_1").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, shipments) = sb.get(T1, "/fulfillment/v1/shipments?order_id=ord_1").await;
    assert_eq!(shipments, json!({ "data": [] }));
    sb.finish().await;
}

#[tokio::test]
async fn migrate_and_seed_are_idempotent_and_concurrent() {
    let sb = TestSandbox::start(None).await;
    let (a, b) = tokio::join!(sandbox::migrate(&sb.pool), sandbox::migrate(&sb.pool));
    a.unwrap();
    b.unwrap();
    // Re-seeding replaces the order but keeps the stock a SKU already has.
    sb.post(
        T1,
        "/inventory/v1/releases",
        None,
        json!({ "order_id": "x", "lines": [{ "sku": "SKU-B", "qty": 5 }] }),
    )
    .await;
    sandbox::seed_orders(
        &sb.pool,
        &[order(T1, "ord_1", OrderStatus::Pending, "captured")],
    )
    .await
    .unwrap();
    let (_, body) = sb.get(T1, "/orders/v1/orders/ord_1").await;
    assert_eq!(body["status"], "pending");
    let (_, stock) = sb.get(T1, "/inventory/v1/stock/SKU-B").await;
    assert_eq!(stock["on_hand"], 105);
    sb.finish().await;
}

#[tokio::test]
async fn fulfilments_reserve_warehouse_stock_ship_once_and_cancel_back() {
    let sb = TestSandbox::start(None).await;
    let create = |id: &str, warehouse: &str, qty: i32| {
        json!({"id": id, "order_id": "ord_1", "warehouse": warehouse,
               "lines": [{"line_id": "ord_1_l1", "qty": qty, "lot": "L1"}]})
    };
    let path = "/fulfillment/v1/fulfillments";
    let (status, p) = sb
        .post(T1, path, None, create("ful_n", "wh_north", 1))
        .await;
    assert_eq!(
        (status, &p["code"]),
        (
            StatusCode::CONFLICT,
            &json!("fulfillment.insufficient_stock")
        )
    );
    let (status, p) = sb.post(T1, path, None, create("ful_x", "wh_east", 3)).await;
    assert_eq!(
        (status, &p["code"]),
        (StatusCode::CONFLICT, &json!("fulfillment.over_quantity"))
    );
    let (status, p) = sb
        .post(T1, path, None, create("ful_u", "wh_nowhere", 1))
        .await;
    assert_eq!(
        (status, &p["code"]),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            &json!("fulfillment.unknown_warehouse")
        )
    );
    let (status, f) = sb
        .post(T1, path, Some("c1"), create("ful_1", "wh_east", 1))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{f}");
    assert_eq!(f["status"], "open");
    let (status, again) = sb.post(T1, path, None, create("ful_1", "wh_east", 1)).await;
    assert_eq!(
        (status, &again),
        (StatusCode::OK, &f),
        "same id, same fulfilment"
    );
    let (_, w) = sb.get(T1, "/fulfillment/v1/warehouses").await;
    let east = w["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["code"] == "wh_east")
        .unwrap()
        .clone();
    assert_eq!(east["stock"]["SKU-A"], 99, "{w}");
    let (status, _) = sb.get(T2, "/fulfillment/v1/fulfillments/ful_1").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another tenant's");

    let ship = json!({"carrier": "DHL", "tracking_number": "JD1"});
    let (status, shipped) = sb
        .post(
            T1,
            "/fulfillment/v1/fulfillments/ful_1/ship",
            Some("s1"),
            ship.clone(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{shipped}");
    assert_eq!(shipped["fulfillment"]["status"], "shipped");
    assert_eq!(shipped["order"]["status"], "partially_shipped");
    assert_eq!(shipped["order"]["shipments"][0]["tracking_number"], "JD1");
    let (_, replay) = sb
        .post(
            T1,
            "/fulfillment/v1/fulfillments/ful_1/ship",
            Some("s1"),
            ship.clone(),
        )
        .await;
    assert_eq!(replay, shipped);
    let (status, p) = sb
        .post(
            T1,
            "/fulfillment/v1/fulfillments/ful_1/ship",
            Some("s2"),
            ship,
        )
        .await;
    assert_eq!(
        (status, &p["code"]),
        (StatusCode::CONFLICT, &json!("fulfillment.already_shipped"))
    );

    let (status, _) = sb.post(T1, path, None, create("ful_2", "wh_west", 1)).await;
    assert_eq!(status, StatusCode::CREATED);
    let when = json!({"ship_after": "2030-01-01T00:00:00Z"});
    let (status, f) = sb
        .post(
            T1,
            "/fulfillment/v1/fulfillments/ful_2/reschedule",
            None,
            when,
        )
        .await;
    assert_eq!(
        (status, &f["ship_after"]),
        (StatusCode::OK, &json!("2030-01-01T00:00:00Z"))
    );
    let (status, f) = sb
        .post(
            T1,
            "/fulfillment/v1/fulfillments/ful_2/cancel",
            None,
            json!({}),
        )
        .await;
    assert_eq!(
        (status, &f["status"]),
        (StatusCode::OK, &json!("cancelled"))
    );
    let (_, w) = sb.get(T1, "/fulfillment/v1/warehouses").await;
    let west = w["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["code"] == "wh_west")
        .unwrap()
        .clone();
    assert_eq!(west["stock"]["SKU-A"], 100, "cancelled units are back: {w}");
    let (_, listed) = sb.get(T1, "/sandbox/fulfillments?order_id=ord_1").await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 2);
    let kinds: Vec<_> = sb
        .effects(T1, "ord_1")
        .await
        .iter()
        .map(|e| e["kind"].clone())
        .collect();
    assert_eq!(
        kinds,
        [
            json!("fulfillment.create"),
            json!("fulfillment.ship"),
            json!("fulfillment.create"),
            json!("fulfillment.reschedule"),
            json!("fulfillment.cancel")
        ]
    );
    sb.finish().await;
}
