//! Work queues: counts, oldest item and SLA breaches; atomic, expiring claims.

use serde_json::{Value, json};

use crate::helpers::{self, OTHER_TENANT, TENANT, TestApp};

async fn claim(
    app: &TestApp,
    token: &str,
    tenant: &str,
    queue: &str,
    key: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let mut h = app.auth(token, tenant);
    if let Some(k) = key {
        h.insert("idempotency-key", k.parse().unwrap());
    }
    let res = app
        .post(&format!("/v1/admin/queues/{queue}/claim"), h, &body)
        .await;
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn queue(app: &TestApp, id: &str) -> Value {
    let token = app.agent_token(TENANT, "agt_lead", &["cs_lead"]);
    let (status, body) = app.get("/v1/admin/queues", app.auth(&token, TENANT)).await;
    assert_eq!(status, 200, "{body}");
    let ids: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["queue_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["fraud_review", "cancel_review", "cases", "tasks"]);
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["queue_id"] == id)
        .unwrap()
        .clone()
}

#[tokio::test]
async fn concurrent_claims_never_share_an_item_and_an_expired_claim_is_claimed_again() {
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let fraud = queue(&app, "fraud_review").await;
    let k = fraud["count"].as_i64().unwrap();
    assert!(
        k >= 1,
        "the demo data has an order in fraud review: {fraud}"
    );
    assert_eq!(
        (fraud["unclaimed"].as_i64(), fraud["sla_minutes"].as_i64()),
        (Some(k), Some(240))
    );
    assert!(fraud["oldest_at"].is_string() && fraud["oldest_age_seconds"].is_i64());

    // k + 2 agents claim at once: each item goes to exactly one of them, two get nothing
    let tokens: Vec<String> = (0..k + 2)
        .map(|i| app.agent_token(TENANT, &format!("agt_{i}"), &["fraud"]))
        .collect();
    let claims = futures::future::join_all(
        tokens
            .iter()
            .map(|t| claim(&app, t, TENANT, "fraud_review", None, json!({}))),
    )
    .await;
    let mut items: Vec<String> = Vec::new();
    let mut empty = 0;
    for (status, body) in &claims {
        assert_eq!(*status, 200, "{body}");
        match body["item"]["item_id"].as_str() {
            Some(id) => items.push(id.to_string()),
            None => {
                assert!(body["item"].is_null(), "{body}");
                empty += 1;
            }
        }
    }
    let n = items.len();
    items.sort();
    items.dedup();
    assert_eq!(
        (items.len(), n, empty),
        (k as usize, k as usize, 2),
        "{claims:?}"
    );
    assert_eq!(queue(&app, "fraud_review").await["unclaimed"], 0);

    // a claim expires: the item can then be claimed again, by someone else
    let item = items[0].clone();
    sqlx::query(
        "UPDATE queue_claims SET expires_at = now() - interval '1 second' WHERE item_id = $1",
    )
    .bind(&item)
    .execute(&app.state.db)
    .await
    .unwrap();
    let late = app.agent_token(TENANT, "agt_late", &["cs_agent"]);
    let (status, again) = claim(
        &app,
        &late,
        TENANT,
        "fraud_review",
        Some("c-1"),
        json!({"ttl_minutes": 5}),
    )
    .await;
    assert_eq!(
        (status, again["item"]["item_id"].as_str()),
        (200, Some(item.as_str())),
        "{again}"
    );
    assert_eq!(again["item"]["claimed_by"], "agent:agt_late");
    assert_eq!(
        again["item"]["order_id"],
        item.as_str(),
        "a fraud review's item is its order"
    );
    // the same key replays the claim; without one, nothing is left
    let (status, replay) = claim(
        &app,
        &late,
        TENANT,
        "fraud_review",
        Some("c-1"),
        json!({"ttl_minutes": 5}),
    )
    .await;
    assert_eq!((status, &replay), (200, &again));
    let (status, none) = claim(&app, &late, TENANT, "fraud_review", None, json!({})).await;
    assert_eq!((status, &none["item"]), (200, &Value::Null));

    // what waits past its SLA is a breach
    sqlx::query("UPDATE order_views SET updated_at = now() - interval '5 hours' WHERE tenant_id = $1 AND id = $2")
        .bind(TENANT)
        .bind(&item)
        .execute(&app.state.db)
        .await
        .unwrap();
    assert!(
        queue(&app, "fraud_review").await["sla_breaches"]
            .as_i64()
            .unwrap()
            >= 1
    );
}

#[tokio::test]
async fn claims_are_checked_scoped_to_the_tenant_and_dry_runs_claim_nothing() {
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let agent = app.agent_token(TENANT, "agt_ann", &["cs_agent"]);
    for bad in [
        json!({"ttl_minutes": 0}),
        json!({"ttl_minutes": 241}),
        json!({"queue": "x"}),
    ] {
        let (status, body) = claim(&app, &agent, TENANT, "fraud_review", None, bad).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (422, Some("validation.failed")),
            "{body}"
        );
    }
    let (status, body) = claim(&app, &agent, TENANT, "returns", None, json!({})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("queue.not_found"))
    );
    let auditor = app.agent_token(TENANT, "agt_aud", &["auditor"]);
    let (status, _) = claim(&app, &auditor, TENANT, "fraud_review", None, json!({})).await;
    assert_eq!(status, 403);
    let res = app
        .http
        .post(format!("{}/v1/admin/queues/fraud_review/claim", app.api))
        .header("x-tenant-id", TENANT)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
    let res = app
        .http
        .get(format!("{}/v1/admin/queues", app.api))
        .header("x-tenant-id", TENANT)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);

    let (status, dry) = claim(
        &app,
        &agent,
        TENANT,
        "fraud_review",
        None,
        json!({"dry_run": true}),
    )
    .await;
    assert_eq!(status, 200, "{dry}");
    let next = dry["next"]["item_id"].as_str().unwrap().to_string();
    assert_eq!(
        queue(&app, "fraud_review").await["unclaimed"],
        queue(&app, "fraud_review").await["count"]
    );

    // another tenant's agent sees and claims none of this tenant's items
    let foreign = app.agent_token(OTHER_TENANT, "agt_x", &["admin"]);
    let (status, theirs) = claim(
        &app,
        &foreign,
        OTHER_TENANT,
        "fraud_review",
        None,
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{theirs}");
    assert_ne!(theirs["item"]["item_id"].as_str(), Some(next.as_str()));
    let (_, mine) = claim(&app, &agent, TENANT, "fraud_review", None, json!({})).await;
    assert_eq!(
        mine["item"]["item_id"].as_str(),
        Some(next.as_str()),
        "{mine}"
    );
}

#[tokio::test]
async fn the_sweeper_deletes_claims_long_expired_and_keeps_the_rest() {
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    // a real claim through the API, then claims of both tenants written as they would be
    let fraud = app.agent_token(TENANT, "agt_fay", &["fraud"]);
    let order = app.order_in("confirmed").id.to_string();
    sqlx::query("UPDATE order_views SET doc = jsonb_set(doc, '{fraud_state}', '\"review\"') WHERE tenant_id = $1 AND id = $2")
        .bind(TENANT)
        .bind(&order)
        .execute(&app.state.db)
        .await
        .unwrap();
    let (status, claimed) = claim(&app, &fraud, TENANT, "fraud_review", None, json!({})).await;
    assert_eq!(
        (status, claimed["item"]["item_id"].as_str()),
        (200, Some(order.as_str()))
    );
    for (tenant, item, expires) in [
        (TENANT, "old_a", "now() - interval '2 hours'"),
        (OTHER_TENANT, "old_b", "now() - interval '3 days'"),
        (TENANT, "recent", "now() - interval '10 minutes'"),
        (TENANT, "live", "now() + interval '10 minutes'"),
    ] {
        sqlx::query(&format!(
            "INSERT INTO queue_claims (tenant_id, queue, item_id, claimed_by, expires_at)
             VALUES ($1, 'tasks', $2, 'agent:agt_x', {expires})"
        ))
        .bind(tenant)
        .bind(item)
        .execute(&app.state.db)
        .await
        .unwrap();
    }
    // the API's claim ran out two hours ago
    sqlx::query(
        "UPDATE queue_claims SET expires_at = now() - interval '2 hours' WHERE item_id = $1",
    )
    .bind(&order)
    .execute(&app.state.db)
    .await
    .unwrap();

    let mut conn = app.state.db.acquire().await.unwrap();
    let retention = orderdesk::workers::sweeper::CLAIM_RETENTION;
    let deleted = orderdesk::workers::sweeper::delete_expired_claims(&mut conn, retention)
        .await
        .unwrap();
    assert_eq!(deleted, 3);
    let mut left: Vec<String> = sqlx::query_scalar("SELECT item_id FROM queue_claims")
        .fetch_all(&mut *conn)
        .await
        .unwrap();
    left.sort();
    assert_eq!(left, ["live", "recent"], "within the retention, or live");
    let again = orderdesk::workers::sweeper::delete_expired_claims(&mut conn, retention)
        .await
        .unwrap();
    assert_eq!(again, 0, "nothing more to do");
    // the pruned claim's item is claimed anew
    let (status, claimed) = claim(&app, &fraud, TENANT, "fraud_review", None, json!({})).await;
    assert_eq!(
        (status, claimed["item"]["item_id"].as_str()),
        (200, Some(order.as_str()))
    );
}
