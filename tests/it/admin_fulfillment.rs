//! Fulfilments and shipments through the admin API: create → ship (the customer hears of
//! it once per subscribed channel) → labels; cancel, reschedule, split; over-fulfilment,
//! bad input, access, tenancy, idempotent retries and lost answers at the Fulfillment service.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use orderdesk::domain::order::Order;
use serde_json::{Value, json};

use crate::helpers::{self, OTHER_TENANT, TENANT, TestApp};

const SMS: &str = "+14155550199";
const PDF: &[u8] = b"%PDF-1.4\n% carrier label\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n";

fn fulfil(app: &TestApp) -> String {
    app.agent_token(TENANT, "agt_ful", &["fulfillment"])
}

/// Confirmed orders with nothing shipped, with at least `lines` lines.
fn confirmed(app: &TestApp, lines: usize) -> Vec<Order> {
    app.orders
        .iter()
        .filter(|o| o.status.as_str() == "confirmed" && o.shipments.is_empty())
        .filter(|o| o.lines.len() >= lines)
        .cloned()
        .collect()
}

fn all_lines(order: &Order) -> Value {
    json!(
        order
            .lines
            .iter()
            .map(|l| json!({"line_id": l.id, "qty": l.qty}))
            .collect::<Vec<_>>()
    )
}

/// Creates a fulfilment of `lines` at `warehouse` and waits for it: its id.
async fn created(app: &TestApp, order: &Order, warehouse: &str, lines: Value) -> String {
    let path = format!("/v1/admin/orders/{}/create-fulfillment", order.id);
    let body = json!({"warehouse": warehouse, "lines": lines, "reason": "pick today"});
    let answer = app
        .job_succeeded(app.admin_post(&fulfil(app), &path, None, None, body).await)
        .await;
    let job = app
        .wait_job(answer["job"]["id"].as_str().unwrap(), 20)
        .await;
    let id = job["result"]["fulfillment_id"]
        .as_str()
        .expect("a fulfillment id");
    assert_eq!(id, answer["fulfillment_id"], "{job}");
    id.to_string()
}

async fn sandbox_fulfillments(app: &TestApp, order: &Order) -> Vec<Value> {
    let list = app
        .sandbox_get(&format!("/sandbox/fulfillments?order_id={}", order.id))
        .await;
    list["data"].as_array().cloned().unwrap_or_default()
}

/// The `shipment_update` messages of the order, once there are `n` (or 20 s passed).
async fn notices(app: &TestApp, order: &Order, n: usize) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let all = app
            .sandbox_get(&format!("/sandbox/notifications?order_id={}", order.id))
            .await;
        let found: Vec<Value> = all["data"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|m| m["template"] == "shipment_update")
            .collect();
        if found.len() >= n || tokio::time::Instant::now() > deadline {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn subscribe(app: &TestApp, order: &Order) {
    let token = app.customer_token(TENANT, &order.customer_id);
    let notify = format!("/v1/customer/orders/{}/notify", order.id);
    for (key, body) in [
        ("sub-email", json!({"channel": "email", "subscribe": true})),
        (
            "sub-sms",
            json!({"channel": "sms", "subscribe": true, "destination": SMS}),
        ),
    ] {
        let mut h = app.auth(&token, TENANT);
        h.insert("idempotency-key", key.parse().unwrap());
        let res = app.post(&notify, h, &body).await;
        assert_eq!(res.status(), 200);
    }
}

async fn label(app: &TestApp, token: &str, tenant: &str, shipment: &str) -> reqwest::Response {
    app.http
        .get(format!("{}/v1/admin/shipments/{shipment}/label", app.api))
        .headers(app.auth(token, tenant))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn create_then_ship_notifies_each_subscribed_channel_once_and_keeps_the_label() {
    let app = helpers::spawn().await;
    let order = confirmed(&app, 1).remove(0);
    subscribe(&app, &order).await;
    let token = fulfil(&app);
    let id = created(&app, &order, "wh_east", all_lines(&order)).await;
    let listed = sandbox_fulfillments(&app, &order).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["status"], "open");

    let ship = format!("/v1/admin/fulfillments/{id}/ship");
    let body =
        json!({"carrier": "DHL", "tracking_number": "JD0001", "label": STANDARD.encode(PDF)});
    let (status, answer) = app
        .admin_post(&token, &ship, Some("ship-1"), None, body)
        .await;
    assert_eq!(status, 202, "{answer}");
    let job = app
        .wait_job(answer["job"]["id"].as_str().unwrap(), 20)
        .await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let shipment = job["result"]["shipment_id"].as_str().unwrap().to_string();

    let sent = notices(&app, &order, 2).await;
    tokio::time::sleep(Duration::from_secs(2)).await; // the sandbox's event has arrived too
    let sent_later = notices(&app, &order, 3).await;
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(
        sent_later.len(),
        2,
        "one per channel, not one per path: {sent_later:?}"
    );
    let mut to: Vec<_> = sent.iter().map(|m| m["to"].as_str().unwrap()).collect();
    to.sort();
    assert_eq!(to, [SMS, order.email.as_str()]);
    assert_eq!(sent[0]["data"]["updates"][0]["tracking_number"], "JD0001");

    // the uploaded label, then a regenerated version
    let res = label(&app, &token, TENANT, &shipment).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-label-source"], "uploaded");
    assert_eq!(res.bytes().await.unwrap().as_ref(), PDF);
    let path = format!("/v1/admin/shipments/{shipment}/label");
    let (status, v) = app
        .admin_post(&token, &path, Some("regen-1"), None, json!({}))
        .await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["version"], 2);
    let (status, again) = app
        .admin_post(&token, &path, Some("regen-1"), None, json!({}))
        .await;
    assert_eq!((status, &again), (201, &v), "replayed");
    let res = label(&app, &token, TENANT, &shipment).await;
    assert_eq!(res.headers()["x-label-version"], "2");
    assert_eq!(res.headers()["x-label-source"], "rendered");
    assert!(res.bytes().await.unwrap().starts_with(b"%PDF-"));

    // shipped is final
    let body = json!({"carrier": "DHL", "tracking_number": "JD0002"});
    let (status, p) = app.admin_post(&token, &ship, None, None, body).await;
    assert_eq!(
        (status, p["code"].as_str()),
        (409, Some("fulfillment.already_shipped"))
    );
    let cancel = format!("/v1/admin/fulfillments/{id}/cancel");
    let (status, p) = app
        .admin_post(&token, &cancel, None, None, json!({"reason": "x"}))
        .await;
    assert_eq!(
        (status, p["code"].as_str()),
        (409, Some("fulfillment.already_shipped"))
    );
    // the other tenant sees neither
    let other = app.agent_token(OTHER_TENANT, "agt_oth", &["fulfillment"]);
    assert_eq!(
        label(&app, &other, OTHER_TENANT, &shipment).await.status(),
        404
    );
    let body = json!({"carrier": "DHL", "tracking_number": "JD0003"});
    let (status, _) = app
        .post_as(&other, OTHER_TENANT, &ship, None, None, body)
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn an_order_rendered_label_when_none_was_uploaded() {
    let app = helpers::spawn().await;
    let order = confirmed(&app, 1).remove(0);
    let token = fulfil(&app);
    let id = created(&app, &order, "wh_west", all_lines(&order)).await;
    let ship = format!("/v1/admin/fulfillments/{id}/ship");
    let body = json!({"carrier": "UPS", "tracking_number": "1Z999"});
    let answer = app
        .job_succeeded(app.admin_post(&token, &ship, None, None, body).await)
        .await;
    let job = app.wait_job(answer["job"]["id"].as_str().unwrap(), 5).await;
    let shipment = job["result"]["shipment_id"].as_str().unwrap();
    let res = label(&app, &token, TENANT, shipment).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-label-version"], "0");
    assert!(res.bytes().await.unwrap().starts_with(b"%PDF-"));
}

#[tokio::test]
async fn cancel_reschedule_and_over_fulfilment() {
    let app = helpers::spawn().await;
    let order = confirmed(&app, 1).remove(0);
    let token = fulfil(&app);
    let line = &order.lines[0];
    let create = format!("/v1/admin/orders/{}/create-fulfillment", order.id);

    let too_many =
        json!({"warehouse": "wh_east", "lines": [{"line_id": line.id, "qty": line.qty + 1}]});
    let (status, p) = app.admin_post(&token, &create, None, None, too_many).await;
    assert_eq!(
        (status, p["code"].as_str()),
        (422, Some("fulfillment.over_quantity")),
        "{p}"
    );
    let dry =
        json!({"warehouse": "wh_east", "lines": [{"line_id": line.id, "qty": 1}], "dry_run": true});
    let (status, d) = app.admin_post(&token, &create, None, None, dry).await;
    assert_eq!((status, &d["allowed"]), (200, &json!(true)), "{d}");
    assert!(
        sandbox_fulfillments(&app, &order).await.is_empty(),
        "a dry run changes nothing"
    );
    for bad in [
        json!({"warehouse": "", "lines": []}),
        json!({"warehouse": "wh_east", "lines": [{"line_id": line.id, "qty": 0}]}),
        json!({"warehouse": "wh_east", "lines": [{"line_id": line.id, "qty": 1}], "extra": 1}),
    ] {
        let (status, p) = app.admin_post(&token, &create, None, None, bad).await;
        assert_eq!(status, 422, "{p}");
    }

    let one = json!([{"line_id": line.id, "qty": 1, "lot": "L-7", "serials": ["SN1"]}]);
    let id = created(&app, &order, "wh_east", one).await;
    // its unit is held: the rest of the line is what is left
    let rest = json!({"warehouse": "wh_east", "lines": [{"line_id": line.id, "qty": line.qty}]});
    let (status, _) = app.admin_post(&token, &create, None, None, rest).await;
    assert_eq!(status, 422);

    let reschedule = format!("/v1/admin/fulfillments/{id}/reschedule");
    let past = json!({"ship_after": "2020-01-01T00:00:00Z", "reason": "later"});
    assert_eq!(
        app.admin_post(&token, &reschedule, None, None, past)
            .await
            .0,
        422
    );
    let when = chrono::Utc::now() + chrono::Duration::days(2);
    let no_reason = json!({"ship_after": when});
    assert_eq!(
        app.admin_post(&token, &reschedule, None, None, no_reason)
            .await
            .0,
        422
    );
    let body = json!({"ship_after": when, "reason": "customer away"});
    app.job_succeeded(app.admin_post(&token, &reschedule, None, None, body).await)
        .await;
    let f = &sandbox_fulfillments(&app, &order).await[0];
    assert!(f["ship_after"].as_str().is_some(), "{f}");
    assert_eq!(f["lines"][0]["lot"], "L-7");

    let cancel = format!("/v1/admin/fulfillments/{id}/cancel");
    assert_eq!(
        app.admin_post(&token, &cancel, None, None, json!({"reason": " "}))
            .await
            .0,
        422
    );
    let (status, d) = app
        .admin_post(
            &token,
            &cancel,
            None,
            None,
            json!({"reason": "wrong lot", "dry_run": true}),
        )
        .await;
    assert_eq!((status, &d["allowed"]), (200, &json!(true)), "{d}");
    let body = json!({"reason": "wrong lot"});
    app.job_succeeded(app.admin_post(&token, &cancel, None, None, body).await)
        .await;
    assert_eq!(
        sandbox_fulfillments(&app, &order).await[0]["status"],
        "cancelled"
    );
    let (status, p) = app
        .admin_post(&token, &cancel, None, None, json!({"reason": "again"}))
        .await;
    assert_eq!(
        (status, p["code"].as_str()),
        (409, Some("fulfillment.cancelled"))
    );
    let body = json!({"ship_after": when, "reason": "again"});
    let (status, p) = app.admin_post(&token, &reschedule, None, None, body).await;
    assert_eq!(
        (status, p["code"].as_str()),
        (409, Some("fulfillment.cancelled"))
    );
    // cancelled units are unfulfilled again
    let whole = json!([{"line_id": line.id, "qty": line.qty}]);
    created(&app, &order, "wh_east", whole).await;
}

#[tokio::test]
async fn split_dry_run_proposes_and_validates_then_executes() {
    let app = helpers::spawn().await;
    let order = confirmed(&app, 2).remove(0);
    let token = fulfil(&app);
    let split = format!("/v1/admin/orders/{}/split-shipments", order.id);

    let (status, proposal) = app
        .admin_post(&token, &split, None, None, json!({"dry_run": true}))
        .await;
    assert_eq!(status, 200, "{proposal}");
    assert_eq!(proposal["allowed"], true, "{proposal}");
    // two groups by hand: the first line at east, the rest at west
    let (first, rest) = order.lines.split_first().unwrap();
    let groups = json!([
        {"warehouse": "wh_east", "lines": [{"line_id": first.id, "qty": first.qty}]},
        {"warehouse": "wh_west", "lines": rest.iter().map(|l| json!({"line_id": l.id, "qty": l.qty})).collect::<Vec<_>>()},
    ]);
    let missing = json!({"dry_run": true, "groups": [groups[0].clone()]});
    let (_, d) = app.admin_post(&token, &split, None, None, missing).await;
    assert_eq!(d["allowed"], false);
    assert_eq!(d["blocked_reasons"][0]["code"], "split.unaccounted", "{d}");
    let mut north = groups.clone();
    north[0]["warehouse"] = json!("wh_north");
    let (_, d) = app
        .admin_post(
            &token,
            &split,
            None,
            None,
            json!({"dry_run": true, "groups": north}),
        )
        .await;
    assert_eq!(d["allowed"], false);
    assert!(
        d["blocked_reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["code"] == "split.insufficient_stock"),
        "{d}"
    );
    let (_, d) = app
        .admin_post(
            &token,
            &split,
            None,
            None,
            json!({"dry_run": true, "groups": groups}),
        )
        .await;
    assert_eq!(d["allowed"], true, "{d}");
    let missing = json!({"groups": [groups[0].clone()]});
    let (status, p) = app.admin_post(&token, &split, None, None, missing).await;
    assert_eq!(
        (status, p["code"].as_str()),
        (422, Some("split.unaccounted")),
        "{p}"
    );
    assert!(sandbox_fulfillments(&app, &order).await.is_empty());

    let (status, done) = app
        .admin_post(
            &token,
            &split,
            Some("split-1"),
            None,
            json!({"groups": groups}),
        )
        .await;
    assert_eq!(status, 202, "{done}");
    let jobs = done["fulfillments"].as_array().unwrap();
    assert_eq!(jobs.len(), 2);
    for f in jobs {
        let job = app.wait_job(f["job"]["id"].as_str().unwrap(), 20).await;
        assert_eq!(job["status"], "succeeded", "{job}");
    }
    let (status, again) = app
        .admin_post(
            &token,
            &split,
            Some("split-1"),
            None,
            json!({"groups": groups}),
        )
        .await;
    assert_eq!((status, &again), (202, &done), "replayed");
    let mut warehouses: Vec<_> = sandbox_fulfillments(&app, &order)
        .await
        .iter()
        .map(|f| f["warehouse"].as_str().unwrap().to_string())
        .collect();
    warehouses.sort();
    assert_eq!(warehouses, ["wh_east", "wh_west"]);
}

#[tokio::test]
async fn access_tenancy_and_idempotent_retries() {
    let app = helpers::spawn().await;
    let order = confirmed(&app, 1).remove(0);
    let token = fulfil(&app);
    let create = format!("/v1/admin/orders/{}/create-fulfillment", order.id);
    let body = json!({"warehouse": "wh_east", "lines": [{"line_id": order.lines[0].id, "qty": 1}]});

    let res = app
        .post(&create, reqwest::header::HeaderMap::new(), &body)
        .await;
    assert_eq!(res.status(), 401);
    let billing = app.agent_token(TENANT, "agt_bil", &["billing"]);
    let (status, p) = app
        .admin_post(&billing, &create, None, None, body.clone())
        .await;
    assert_eq!(status, 403, "{p}");
    let other = app.agent_token(OTHER_TENANT, "agt_oth", &["fulfillment"]);
    let (status, _) = app
        .post_as(&other, OTHER_TENANT, &create, None, None, body.clone())
        .await;
    assert_eq!(status, 404, "another tenant's order");

    let (s1, first) = app
        .admin_post(&token, &create, Some("ful-1"), None, body.clone())
        .await;
    let (s2, second) = app
        .admin_post(&token, &create, Some("ful-1"), None, body.clone())
        .await;
    assert_eq!((s1, s2), (202, 202));
    assert_eq!(first, second, "same key, same answer");
    // its unit is held from acceptance on, recorded or not
    let whole = json!({"warehouse": "wh_east", "lines": [{"line_id": order.lines[0].id, "qty": order.lines[0].qty}]});
    let (status, p) = app.admin_post(&token, &create, None, None, whole).await;
    assert_eq!(
        (status, p["code"].as_str()),
        (422, Some("fulfillment.over_quantity")),
        "{p}"
    );
    let changed =
        json!({"warehouse": "wh_west", "lines": [{"line_id": order.lines[0].id, "qty": 1}]});
    let (status, _) = app
        .admin_post(&token, &create, Some("ful-1"), None, changed)
        .await;
    assert_eq!(status, 422, "same key, another body");
    let job = app.wait_job(first["job"]["id"].as_str().unwrap(), 20).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(sandbox_fulfillments(&app, &order).await.len(), 1);

    let id = first["fulfillment_id"].as_str().unwrap();
    for action in ["cancel", "reschedule", "ship"] {
        let path = format!("/v1/admin/fulfillments/{id}/{action}");
        let (status, _) = app
            .post_as(
                &other,
                OTHER_TENANT,
                &path,
                None,
                None,
                json!({"reason": "x"}),
            )
            .await;
        assert!(status == 404 || status == 422, "{action}: {status}");
        let res = app
            .post(&path, reqwest::header::HeaderMap::new(), &json!({}))
            .await;
        assert_eq!(res.status(), 401);
        let (status, _) = app
            .admin_post(&billing, &path, None, None, json!({"reason": "x"}))
            .await;
        assert_eq!(status, 403);
    }
    let path = format!("/v1/admin/fulfillments/{id}/cancel");
    let (status, p) = app
        .post_as(
            &other,
            OTHER_TENANT,
            &path,
            None,
            None,
            json!({"reason": "x"}),
        )
        .await;
    assert_eq!(
        (status, p["code"].as_str()),
        (404, Some("fulfillment.not_found")),
        "{p}"
    );
    // a bad label
    let ship = format!("/v1/admin/fulfillments/{id}/ship");
    for label in [
        STANDARD.encode(b"GIF89a"),
        "not base64!".into(),
        STANDARD.encode(vec![b'%'; 150 * 1024]),
    ] {
        let body = json!({"carrier": "DHL", "tracking_number": "T1", "label": label});
        let (status, p) = app.admin_post(&token, &ship, None, None, body).await;
        assert_eq!(status, 422, "{p}");
    }
}

#[tokio::test]
async fn lost_answers_at_fulfillment_still_make_one_fulfilment_and_one_shipment() {
    let app = helpers::spawn().await;
    let order = confirmed(&app, 1).remove(0);
    let token = fulfil(&app);
    // Low enough that 12 attempts of one call all failing stays ~1 run in 10^4 (0.3/0.5 was ~1 %).
    app.set_faults(json!({"service": "fulfillment", "error_rate": 0.2, "lost_response_rate": 0.3}))
        .await;
    let create = format!("/v1/admin/orders/{}/create-fulfillment", order.id);
    let body = json!({"warehouse": "wh_east", "lines": all_lines(&order)});
    let (status, answer) = app.admin_post(&token, &create, None, None, body).await;
    assert_eq!(status, 202, "{answer}");
    let job = app
        .wait_job(answer["job"]["id"].as_str().unwrap(), 60)
        .await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let id = answer["fulfillment_id"].as_str().unwrap();
    let ship = format!("/v1/admin/fulfillments/{id}/ship");
    let body = json!({"carrier": "DHL", "tracking_number": "LOST1"});
    let (status, answer) = app.admin_post(&token, &ship, None, None, body).await;
    assert_eq!(status, 202, "{answer}");
    let job = app
        .wait_job(answer["job"]["id"].as_str().unwrap(), 60)
        .await;
    app.clear_faults().await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(sandbox_fulfillments(&app, &order).await.len(), 1);
    assert_eq!(
        app.effects_of_kind(TENANT, &order.id, "fulfillment.create")
            .await,
        1
    );
    assert_eq!(
        app.effects_of_kind(TENANT, &order.id, "fulfillment.ship")
            .await,
        1
    );
    let canonical = app
        .sandbox_get(&format!("/sandbox/orders/{}", order.id))
        .await;
    assert_eq!(
        canonical["shipments"].as_array().unwrap().len(),
        1,
        "{canonical}"
    );
    assert_eq!(canonical["status"], "shipped");
}

#[tokio::test]
async fn a_fulfilment_orderdesk_cannot_record_is_cancelled_again() {
    let app = helpers::spawn().await;
    let order = confirmed(&app, 1).remove(0);
    // orderdesk's copy refuses open fulfilments: the `record` step fails until it gives up
    sqlx::raw_sql(
        "CREATE FUNCTION refuse_open() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN IF NEW.status = 'open' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$;
         CREATE TRIGGER refuse_open BEFORE INSERT OR UPDATE ON fulfillments
             FOR EACH ROW EXECUTE FUNCTION refuse_open();",
    )
    .execute(&app.state.db)
    .await
    .unwrap();
    let create = format!("/v1/admin/orders/{}/create-fulfillment", order.id);
    let body = json!({"warehouse": "wh_west", "lines": all_lines(&order)});
    let (status, answer) = app
        .admin_post(&fulfil(&app), &create, None, None, body)
        .await;
    assert_eq!(status, 202, "{answer}");
    let job = app
        .wait_job(answer["job"]["id"].as_str().unwrap(), 90)
        .await;
    assert_eq!(job["status"], "compensated", "{job}");
    let listed = sandbox_fulfillments(&app, &order).await;
    assert_eq!(
        listed[0]["status"], "cancelled",
        "the stock is released: {listed:?}"
    );
    let warehouses = app.sandbox_get("/fulfillment/v1/warehouses").await;
    let west = warehouses["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["code"] == "wh_west")
        .cloned()
        .unwrap();
    for line in &order.lines {
        assert_eq!(west["stock"][&line.sku], 100, "{west}");
    }
}

#[tokio::test]
async fn one_change_of_a_fulfilment_at_a_time() {
    let mut app = helpers::spawn().await;
    let order = confirmed(&app, 1).remove(0);
    let token = fulfil(&app);
    let id = created(&app, &order, "wh_east", all_lines(&order)).await;
    app.stop_worker(0); // the reschedule waits in its queue
    let when = chrono::Utc::now() + chrono::Duration::days(1);
    let reschedule = format!("/v1/admin/fulfillments/{id}/reschedule");
    let body = json!({"ship_after": when, "reason": "dock closed"});
    let (status, pending) = app.admin_post(&token, &reschedule, None, None, body).await;
    assert_eq!(status, 202, "{pending}");
    let cancel = format!("/v1/admin/fulfillments/{id}/cancel");
    let (status, p) = app
        .admin_post(&token, &cancel, None, None, json!({"reason": "now"}))
        .await;
    assert_eq!(
        (status, p["code"].as_str()),
        (409, Some("fulfillment.action_running")),
        "{p}"
    );
    app.start_worker();
    let job = app
        .wait_job(pending["job"]["id"].as_str().unwrap(), 30)
        .await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let body = json!({"reason": "now"});
    app.job_succeeded(app.admin_post(&token, &cancel, None, None, body).await)
        .await;
}
