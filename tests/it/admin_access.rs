//! Access: scoped API keys (shown once, within their scopes, revocable, expiring) and
//! impersonation (a customer token acting as the agent, audited, useless on admin routes).

use base64::Engine;
use serde_json::{Value, json};

use crate::helpers::{self, OTHER_TENANT, TENANT, TestApp};

async fn create_key(app: &TestApp, token: &str, key: &str, body: Value) -> (u16, Value) {
    app.admin_post(token, "/v1/admin/keys", Some(key), None, body)
        .await
}

/// The order's audit records, as an auditor reads them.
async fn audit_of(app: &TestApp, order: &str) -> Vec<Value> {
    let auditor = app.agent_token(TENANT, "agt_audit", &["auditor"]);
    let (status, audit) = app
        .get(
            &format!("/v1/admin/orders/{order}/audit?limit=200"),
            app.auth(&auditor, TENANT),
        )
        .await;
    assert_eq!(status, 200, "{audit}");
    audit["data"].as_array().unwrap().clone()
}

#[tokio::test]
async fn an_api_key_is_shown_once_and_works_within_its_scopes_until_revoked() {
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let admin = app.agent_token(TENANT, "agt_admin", &["admin"]);
    let order = app.order_in("confirmed").id.to_string();
    let body = json!({"name": "warehouse sync", "scopes": ["orders.read", "orders.read"]});

    let (status, made) = create_key(&app, &admin, "key-1", body.clone()).await;
    assert_eq!(status, 201, "{made}");
    let key = made["key"].as_str().unwrap().to_string();
    assert!(key.starts_with("odk_"), "{key}");
    assert_eq!(made["scopes"], json!(["orders.read"]));
    assert_eq!(made["created_by"], "agent:agt_admin");
    // a replay answers the record, never the key again
    let (status, replay) = create_key(&app, &admin, "key-1", body).await;
    assert_eq!((status, &replay["id"]), (201, &made["id"]));
    assert!(replay["key"].is_null(), "{replay}");
    let stored: Vec<(Vec<u8>,)> = sqlx::query_as("SELECT response_body FROM idempotency_keys")
        .fetch_all(&app.state.db)
        .await
        .unwrap_or_default();
    for (bytes,) in stored {
        assert!(
            !String::from_utf8_lossy(&bytes).contains(&key),
            "a saved answer kept the key"
        );
    }
    let (status, list) = app.get("/v1/admin/keys", app.auth(&admin, TENANT)).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["data"][0]["id"], made["id"]);
    assert!(list["data"][0].get("key").is_none() && !list.to_string().contains(&key));

    // the key reads orders, and nothing outside its scope
    let (status, view) = app
        .get(&format!("/v1/admin/orders/{order}"), app.auth(&key, TENANT))
        .await;
    assert_eq!(status, 200, "{view}");
    let viewed = audit_of(&app, &order).await;
    let by_key = viewed
        .iter()
        .find(|r| r["action"] == "order.viewed")
        .unwrap();
    assert_eq!(
        (&by_key["actor_kind"], &by_key["actor_id"]),
        (&json!("key"), &made["id"])
    );
    let res = app
        .post(
            "/v1/admin/orders/search",
            app.auth(&key, TENANT),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 403);
    let refused: Value = res.json().await.unwrap();
    assert_eq!(
        (
            refused["code"].as_str(),
            refused["required_permission"].as_str()
        ),
        (Some("auth.forbidden"), Some("orders.search"))
    );
    let (status, _) = app.get("/v1/admin/keys", app.auth(&key, TENANT)).await;
    assert_eq!(status, 403);
    let (status, body) = app
        .get(
            &format!("/v1/admin/orders/{order}"),
            app.auth(&key, OTHER_TENANT),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("tenant.mismatch"))
    );
    let forged = format!("{}x", &key[..key.len() - 1]);
    let (status, body) = app
        .get(
            &format!("/v1/admin/orders/{order}"),
            app.auth(&forged, TENANT),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("auth.invalid_token"))
    );
    let (status, me) = app
        .get("/v1/admin/permissions/me", app.auth(&key, TENANT))
        .await;
    assert_eq!(
        (status, me["permissions"].as_array().map(Vec::len)),
        (200, Some(1))
    );

    // revoked: 401, and revoking again changes nothing
    let id = made["id"].as_str().unwrap();
    let revoke = format!("/v1/admin/keys/{id}/revoke");
    let (status, revoked) = app.admin_post(&admin, &revoke, None, None, json!({})).await;
    assert_eq!(status, 200, "{revoked}");
    assert_eq!(revoked["revoked_by"], "agent:agt_admin");
    let (status, again) = app.admin_post(&admin, &revoke, None, None, json!({})).await;
    assert_eq!(
        (status, &again["revoked_at"]),
        (200, &revoked["revoked_at"])
    );
    let (status, body) = app
        .get(&format!("/v1/admin/orders/{order}"), app.auth(&key, TENANT))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("auth.key_revoked"))
    );
}

#[tokio::test]
async fn keys_expire_cannot_exceed_their_creator_and_stay_in_their_tenant() {
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let admin = app.agent_token(TENANT, "agt_admin", &["admin"]);
    for bad in [
        json!({"name": "x", "scopes": []}),
        json!({"name": "x", "scopes": ["orders.fly"]}),
        json!({"name": " ", "scopes": ["orders.read"]}),
        json!({"name": "x", "scopes": ["orders.read"], "expires_at": "2020-01-01T00:00:00Z"}),
        json!({"name": "x", "scopes": ["orders.read"], "expires_at": "2099-01-01T00:00:00Z"}),
        json!({"name": "x", "scopes": ["orders.read"], "owner": "me"}),
    ] {
        let (status, body) = create_key(&app, &admin, "bad", bad.clone()).await;
        assert_eq!(status, 422, "{bad}: {body}");
    }
    // many unknown scopes: one error at once, not one per name each listing every permission
    // (87,000 empty names fit in the 256 KiB body limit)
    let many = vec![""; 87_000];
    let (status, body) =
        create_key(&app, &admin, "many", json!({"name": "x", "scopes": many})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("validation.failed"))
    );
    assert_eq!(body["errors"].as_array().unwrap().len(), 1, "{body}");
    assert!(
        body.to_string().len() < 1_000,
        "{} bytes",
        body.to_string().len()
    );
    // a few unknown ones: each named, the permissions that exist listed once
    let few = json!({"name": "x", "scopes": ["orders.fly", "orders.read", "x".repeat(500)]});
    let (status, body) = create_key(&app, &admin, "few", few).await;
    assert_eq!(status, 422, "{body}");
    let errors = body["errors"].as_array().unwrap();
    let fields: Vec<&str> = errors
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["scopes[0]", "scopes[2]", "scopes"], "{body}");
    let lists = errors
        .iter()
        .filter(|e| e["message"].as_str().unwrap().contains("orders.read"))
        .count();
    assert_eq!(lists, 1, "{body}");
    assert!(!body.to_string().contains(&"x".repeat(500)), "{body}");
    let (status, body) = app
        .admin_post(
            &admin,
            "/v1/admin/keys",
            None,
            None,
            json!({"name": "x", "scopes": ["orders.read"]}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("idempotency.key_required"))
    );
    let lead = app.agent_token(TENANT, "agt_lead", &["cs_lead"]);
    let body = json!({"name": "x", "scopes": ["orders.read"]});
    let (status, refused) = create_key(&app, &lead, "k-lead", body).await;
    assert_eq!(
        (status, refused["required_permission"].as_str()),
        (403, Some("keys.manage"))
    );

    // a key that manages keys cannot give more than it has
    let body = json!({"name": "provisioner", "scopes": ["keys.manage", "orders.read"]});
    let (_, manager) = create_key(&app, &admin, "k-mgr", body).await;
    let manager = manager["key"].as_str().unwrap().to_string();
    let body = json!({"name": "more", "scopes": ["orders.search"]});
    let (status, refused) = create_key(&app, &manager, "k-more", body).await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (403, Some("keys.scope_not_held"))
    );
    let body =
        json!({"name": "soon", "scopes": ["orders.read"], "expires_at": "2027-06-01T00:00:00Z"});
    let (status, soon) = create_key(&app, &manager, "k-soon", body).await;
    assert_eq!(
        (
            status,
            soon["created_by"].as_str().map(|s| s.starts_with("key:"))
        ),
        (201, Some(true))
    );
    // a key never passes a sudo check
    let sudo = app.sudo_token(TENANT, "agt_admin", &["admin"]);
    let order = app.order_in("confirmed").id.to_string();
    let force = json!({"refund": false, "restock": false, "reason": "key"});
    let path = format!("/v1/admin/orders/{order}/force-cancel");
    let full = {
        let body = json!({"name": "all", "scopes": ["orders.cancel.force", "orders.read", "customers.impersonate"]});
        let (_, k) = create_key(&app, &admin, "k-all", body).await;
        k["key"].as_str().unwrap().to_string()
    };
    let (status, body) = app
        .admin_post(&full, &path, Some("fc"), Some(&sudo), force)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("auth.sudo_required"))
    );
    // nor acts as a customer
    let path = format!("/v1/admin/orders/{order}/impersonate-customer");
    let (status, body) = app
        .admin_post(&full, &path, Some("imp"), None, json!({"reason": "key"}))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("impersonation.agents_only"))
    );

    // expired: refused with its own code
    let soon_key = soon["key"].as_str().unwrap().to_string();
    sqlx::query("UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = $1::uuid")
        .bind(soon["id"].as_str().unwrap())
        .execute(&app.state.db)
        .await
        .unwrap();
    let (status, body) = app
        .get(
            &format!("/v1/admin/orders/{order}"),
            app.auth(&soon_key, TENANT),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("auth.key_expired"))
    );

    // another tenant's admin neither sees nor revokes this tenant's keys
    let foreign = app.agent_token(OTHER_TENANT, "agt_x", &["admin"]);
    let (status, list) = app
        .get("/v1/admin/keys", app.auth(&foreign, OTHER_TENANT))
        .await;
    assert_eq!(
        (status, list["data"].as_array().map(Vec::len)),
        (200, Some(0))
    );
    let mut h = app.auth(&foreign, OTHER_TENANT);
    h.insert("idempotency-key", "r".parse().unwrap());
    let id = soon["id"].as_str().unwrap();
    let res = app
        .post(&format!("/v1/admin/keys/{id}/revoke"), h, &json!({}))
        .await;
    assert_eq!(res.status(), 404);
    let res = app
        .post(
            "/v1/admin/keys/not-a-key/revoke",
            app.auth(&admin, TENANT),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 404);
    let res = app
        .post("/v1/admin/keys", Default::default(), &json!({}))
        .await;
    assert_eq!(res.status(), 401);
}

/// The claims of a JWT, unverified (the test only reads what it was given).
fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn an_impersonation_token_acts_as_the_customer_audited_with_the_agent() {
    let app = helpers::spawn().await;
    let order = app.order_in("confirmed").clone();
    let id = order.id.to_string();
    let lead = app.agent_token(TENANT, "agt_lead", &["cs_lead"]);
    let path = format!("/v1/admin/orders/{id}/impersonate-customer");
    let why = json!({"reason": "customer on the phone cannot log in", "ttl_seconds": 300});

    for bad in [
        json!({"reason": ""}),
        json!({"reason": "x", "ttl_seconds": 30}),
        json!({"reason": "x", "ttl_seconds": 3600}),
    ] {
        let (status, body) = app.admin_post(&lead, &path, Some("bad"), None, bad).await;
        assert_eq!(status, 422, "{body}");
    }
    let cs = app.agent_token(TENANT, "agt_cs", &["cs_agent"]);
    let (status, body) = app
        .admin_post(&cs, &path, Some("i-cs"), None, why.clone())
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("auth.forbidden"))
    );
    let (status, made) = app
        .admin_post(&lead, &path, Some("i-1"), None, why.clone())
        .await;
    assert_eq!(status, 201, "{made}");
    let token = made["token"].as_str().unwrap().to_string();
    assert_eq!(made["customer_id"], order.customer_id.as_str());
    let claims = claims_of(&token);
    assert_eq!(claims["act"]["sub"], "agent:agt_lead");
    assert_eq!(claims["sub"], order.customer_id.as_str());
    assert!(claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap() <= 300);
    let (status, replay) = app
        .admin_post(&lead, &path, Some("i-1"), None, why.clone())
        .await;
    assert_eq!((status, replay["token"].is_null()), (201, true), "{replay}");

    // it is the customer on the customer API…
    let (status, mine) = app
        .get("/v1/customer/orders", app.auth(&token, TENANT))
        .await;
    assert_eq!(status, 200, "{mine}");
    let (status, dry) = app
        .admin_post(
            &token,
            &format!("/v1/customer/orders/{id}/cancel-request"),
            Some("c-1"),
            None,
            json!({"reason": "asked by phone", "dry_run": true}),
        )
        .await;
    assert_eq!(status, 200, "{dry}");
    let (status, done) = app
        .admin_post(
            &token,
            &format!("/v1/customer/orders/{id}/cancel-request"),
            Some("c-2"),
            None,
            json!({"reason": "asked by phone"}),
        )
        .await;
    assert_eq!(status, 202, "{done}");
    // …and nothing on the admin API
    for path in [
        format!("/v1/admin/orders/{id}"),
        "/v1/admin/permissions/me".to_string(),
    ] {
        let (status, body) = app.get(&path, app.auth(&token, TENANT)).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (403, Some("auth.wrong_principal")),
            "{path}"
        );
    }
    let audit = audit_of(&app, &id).await;
    let asked = audit
        .iter()
        .find(|r| r["actor_kind"] == "customer")
        .expect("the customer's request is audited");
    assert_eq!(asked["on_behalf_of"], "agent:agt_lead", "{asked}");
    let started: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'customer.impersonated' AND actor_id = 'agt_lead'",
    )
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(started, 1, "one impersonation, however many replays");

    // another tenant's order names no customer of this agent's
    let other = app.agent_token(OTHER_TENANT, "agt_lead", &["cs_lead"]);
    let mut h = app.auth(&other, OTHER_TENANT);
    h.insert("idempotency-key", "i-x".parse().unwrap());
    let res = app.post(&path, h, &why).await;
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn high_risk_actions_wait_for_another_agents_approval() {
    use orderdesk::domain::approvals::HighRiskAction::*;
    let settings = orderdesk::domain::settings::TenantSettings {
        approvals_required_for: vec![KeyCreation, LegalHoldRemoval, Impersonation],
        ..orderdesk::seed::demo_settings()
    };
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        settings,
        ..Default::default()
    })
    .await;
    let ann = app.agent_token(TENANT, "agt_ann", &["admin"]);
    let bob = app.agent_token(TENANT, "agt_bob", &["admin"]);
    let lead = app.agent_token(TENANT, "agt_lead", &["cs_lead"]);

    // a key: held, approved by another admin, carried out once by its requester
    let body = json!({"name": "erp", "scopes": ["orders.read"]});
    let (status, held) = create_key(&app, &ann, "k-1", body).await;
    assert_eq!(status, 202, "{held}");
    assert_eq!(
        (held["status"].as_str(), held["action"].as_str()),
        (Some("pending_approval"), Some("key_creation"))
    );
    assert!(held.get("key").is_none() && !held.to_string().contains("odk_"));
    let id = held["id"].as_str().unwrap();
    let approve = format!("/v1/admin/approvals/{id}/approve");
    let execute = format!("/v1/admin/approvals/{id}/execute");
    let (status, body) = app.admin_post(&ann, &approve, None, None, json!({})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("approval.own_request"))
    );
    let (status, body) = app.admin_post(&lead, &approve, None, None, json!({})).await;
    assert_eq!(
        (status, body["required_permission"].as_str()),
        (403, Some("keys.manage"))
    );
    let (status, body) = app.admin_post(&ann, &execute, None, None, json!({})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("approval.not_approved"))
    );
    let (status, approved) = app
        .admin_post(&bob, &approve, Some("ap-1"), None, json!({"note": "ok"}))
        .await;
    assert_eq!(
        (status, approved["status"].as_str()),
        (200, Some("approved")),
        "{approved}"
    );
    // a retry of the same decision replays it rather than answering 409
    let (status, replay) = app
        .admin_post(&bob, &approve, Some("ap-1"), None, json!({"note": "ok"}))
        .await;
    assert_eq!(
        (status, &replay["decided_at"]),
        (200, &approved["decided_at"])
    );
    assert_eq!(approved["decided_by"], "agent:agt_bob");
    let (status, body) = app.admin_post(&bob, &approve, None, None, json!({})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("approval.not_pending"))
    );
    let (status, body) = app.admin_post(&bob, &execute, None, None, json!({})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("approval.not_requester"))
    );
    let (status, made) = app.admin_post(&ann, &execute, None, None, json!({})).await;
    assert_eq!(status, 201, "{made}");
    let key = made["key"].as_str().unwrap().to_string();
    let order = app.order_in("confirmed").id.to_string();
    let (status, _) = app
        .get(&format!("/v1/admin/orders/{order}"), app.auth(&key, TENANT))
        .await;
    assert_eq!(status, 200);
    let (status, body) = app.admin_post(&ann, &execute, None, None, json!({})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("approval.not_approved"))
    );

    // an impersonation, rejected: never carried out
    let path = format!("/v1/admin/orders/{order}/impersonate-customer");
    let (status, held) = app
        .admin_post(&lead, &path, Some("i-1"), None, json!({"reason": "phone"}))
        .await;
    assert_eq!(status, 202, "{held}");
    let id = held["id"].as_str().unwrap();
    let (status, rejected) = app
        .admin_post(
            &bob,
            &format!("/v1/admin/approvals/{id}/reject"),
            None,
            None,
            json!({"note": "no ticket"}),
        )
        .await;
    assert_eq!(
        (status, rejected["status"].as_str()),
        (200, Some("rejected"))
    );
    let (status, _) = app
        .admin_post(
            &lead,
            &format!("/v1/admin/approvals/{id}/execute"),
            None,
            None,
            json!({}),
        )
        .await;
    assert_eq!(status, 409);

    // a legal hold's removal: held (sudo checked when asked), approved, then carried out
    let sudo = app.sudo_token(TENANT, "agt_lead", &["cs_lead"]);
    let hold = format!("/v1/admin/orders/{order}/legal-hold");
    let (status, _) = app
        .admin_post(&lead, &hold, Some("l-1"), None, json!({"reason": "case"}))
        .await;
    assert_eq!(status, 201);
    let remove = format!("{hold}/remove");
    let (status, held) = app
        .admin_post(
            &lead,
            &remove,
            Some("u-1"),
            Some(&sudo),
            json!({"reason": "settled"}),
        )
        .await;
    assert_eq!(status, 202, "{held}");
    let id = held["id"].as_str().unwrap();
    let (status, _) = app
        .admin_post(
            &bob,
            &format!("/v1/admin/approvals/{id}/approve"),
            None,
            None,
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, removed) = app
        .admin_post(
            &lead,
            &format!("/v1/admin/approvals/{id}/execute"),
            None,
            None,
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{removed}");
    assert_eq!(removed["legal_hold"]["release_reason"], "settled");

    // the list: by status, for deciders only
    let (status, list) = app
        .get(
            "/v1/admin/approvals?status=executed",
            app.auth(&bob, TENANT),
        )
        .await;
    assert_eq!(
        (status, list["data"].as_array().map(Vec::len)),
        (200, Some(2)),
        "{list}"
    );
    let (status, _) = app
        .get("/v1/admin/approvals?status=maybe", app.auth(&bob, TENANT))
        .await;
    assert_eq!(status, 422);
    let auditor = app.agent_token(TENANT, "agt_audit", &["auditor"]);
    let (status, _) = app
        .get("/v1/admin/approvals", app.auth(&auditor, TENANT))
        .await;
    assert_eq!(status, 403);
    let (status, one) = app
        .get(
            &format!("/v1/admin/approvals/{id}"),
            app.auth(&auditor, TENANT),
        )
        .await;
    assert_eq!((status, one["status"].as_str()), (200, Some("executed")));
    let foreign = app.agent_token(OTHER_TENANT, "agt_x", &["admin"]);
    let (status, _) = app
        .get(
            &format!("/v1/admin/approvals/{id}"),
            app.auth(&foreign, OTHER_TENANT),
        )
        .await;
    assert_eq!(status, 404);
}
