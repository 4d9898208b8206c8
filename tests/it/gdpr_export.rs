//! GDPR subject export (`POST /v1/admin/gdpr/export`): the archive opened and checked to hold
//! the customer's data and nobody else's, withheld records left out, an erased customer's
//! remains; bad input, auth, RBAC, tenancy, idempotent replay, and links that are not valid.

use std::collections::HashMap;
use std::io::{Cursor, Read};

use orderdesk::domain::ids::{SubjectExportId, TenantId};
use orderdesk::exports::link::{SubjectExportClaims, sign, subject_export_key};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::exports::spawn;
use crate::helpers::{OTHER_TENANT, TENANT, TestApp};

const PATH: &str = "/v1/admin/gdpr/export";

fn admin(app: &TestApp) -> String {
    app.agent_token(TENANT, "agt_dpo", &["admin"])
}

/// Starts an export of `customer` as an admin and waits for its job: the job's result.
pub(crate) async fn export(app: &TestApp, customer: &str) -> Value {
    let body = json!({"customer_id": customer, "reason": "subject access request SAR-7"});
    let (status, accepted) = app.admin_post(&admin(app), PATH, None, None, body).await;
    assert_eq!(status, 202, "{accepted}");
    assert_eq!(accepted["customer_id"], customer);
    let job = app
        .wait_job(accepted["job"]["id"].as_str().unwrap(), 30)
        .await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["kind"], "export_subject", "{job}");
    assert_eq!(job["result"]["export_id"], accepted["export_id"]);
    job["result"].clone()
}

/// Downloads the archive with no token, checks its size and sha256 against the result, and
/// opens it: every file's JSON by name.
pub(crate) async fn open(app: &TestApp, result: &Value) -> HashMap<String, Value> {
    let url = format!("{}{}", app.api, result["download_url"].as_str().unwrap());
    let res = app.http.get(url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/zip");
    assert!(res.headers().contains_key("repr-digest"));
    let bytes = res.bytes().await.unwrap().to_vec();
    assert_eq!(bytes.len() as u64, result["bytes"].as_u64().unwrap());
    let sha = hex::encode(Sha256::digest(&bytes));
    assert_eq!(sha, result["sha256"].as_str().unwrap());
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    let mut files = HashMap::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let mut text = String::new();
        f.read_to_string(&mut text).unwrap();
        files.insert(f.name().to_string(), serde_json::from_str(&text).unwrap());
    }
    files
}

fn ids(records: &Value, member: &str) -> Vec<String> {
    let mut ids: Vec<String> = records
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[member].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn the_archive_holds_the_customers_data_and_nobody_elses() {
    let (app, dir) = spawn(1).await;
    let order = app.order_in("delivered").clone();
    let customer = order.customer_id.to_string();
    // a message of the customer (with an attachment), an agent reading the order, and a
    // legal hold on it (withheld from the archive)
    let token = app.customer_token(TENANT, &customer);
    let msg = json!({"body": "Where is my refund?", "subject": "Refund",
        "attachment": {"filename": "note.txt", "content_base64": "aGVsbG8="}});
    let res = app
        .post(
            &format!("/v1/customer/orders/{}/messages", order.id),
            app.auth(&token, TENANT),
            &msg,
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    app.admin_view(order.id.as_str()).await;
    let lead = app.agent_token(TENANT, "agt_legal", &["cs_lead"]);
    let (status, hold) = app
        .admin_post(
            &lead,
            &format!("/v1/admin/orders/{}/legal-hold", order.id),
            Some("lh-1"),
            None,
            json!({"reason": "litigation internal 42"}),
        )
        .await;
    assert_eq!(status, 201, "{hold}");

    let result = export(&app, &customer).await;
    let files = open(&app, &result).await;
    let manifest = &files["manifest.json"];
    assert_eq!(manifest["format"], "orderdesk.subject_export.v1");
    assert_eq!(manifest["customer_id"], customer.as_str());
    assert_eq!(manifest["tenant_id"], TENANT);
    assert_eq!(manifest["erased"], false);
    let listed: Vec<&str> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(listed.len(), 8, "{manifest}");
    assert_eq!(files.len(), 9, "the manifest and the files it lists");

    // exactly the customer's orders of this tenant, without internal fields
    let mut own: Vec<String> = app
        .orders
        .iter()
        .filter(|o| o.customer_id == order.customer_id)
        .map(|o| o.id.to_string())
        .collect();
    own.sort();
    let orders = &files["orders.json"];
    assert_eq!(ids(orders, "id"), own);
    for o in orders.as_array().unwrap() {
        assert_eq!(o["customer_id"], customer.as_str());
        assert_eq!(o["tenant_id"], TENANT);
        assert!(o.get("risk").is_none() && o.get("notes").is_none(), "{o}");
    }
    assert_eq!(result["counts"]["orders"], own.len());
    assert_eq!(manifest["counts"], result["counts"]);
    let messages = files["support_messages.json"].as_array().unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["body"], "Where is my refund?");
    assert_eq!(messages[0]["author"], "customer");
    assert_eq!(messages[0]["attachment"]["filename"], "note.txt");
    assert!(messages[0]["attachment"].get("content").is_none());
    assert_eq!(result["counts"]["attachments"], 1);
    assert_eq!(files["support_cases.json"][0]["subject"], "Refund");
    let docs = files["documents.json"].as_array().unwrap();
    assert!(
        docs.iter()
            .any(|d| d["order_id"] == order.id.as_str() && d["kind"] == "invoice")
    );
    assert!(
        docs.iter()
            .all(|d| own.contains(&d["order_id"].as_str().unwrap().to_string()))
    );

    // audit: what the customer did (with its details), what support did (without), and no
    // legal hold
    let audit = files["audit.json"].as_array().unwrap();
    let sent = audit
        .iter()
        .find(|a| a["action"] == "support.message_sent")
        .expect("the message is in the audit trail");
    assert_eq!(sent["by"], "you");
    assert!(sent["after"].is_object(), "{sent}");
    let viewed = audit
        .iter()
        .find(|a| a["action"] == "order.viewed")
        .expect("the agent's read");
    assert_eq!(viewed["by"], "support");
    assert!(viewed.get("reason").is_none() && viewed.get("ip").is_none());
    assert!(audit.iter().all(|a| a["action"] != "order.legal_hold"));

    // nothing of anyone else: no other customer's or tenant's order id, no agent id, no
    // withheld reason anywhere in the archive
    let text: String = files.values().map(|v| v.to_string()).collect();
    for other in app
        .orders
        .iter()
        .filter(|o| o.customer_id != order.customer_id)
    {
        assert!(!text.contains(&format!("\"{}\"", other.id)), "{}", other.id);
    }
    assert!(!text.contains("_g\""), "no order of the other tenant");
    for secret in ["agt_legal", "agt_view", "litigation internal 42", "SAR-7"] {
        assert!(!text.contains(secret), "{secret} leaked");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn an_erased_customer_gets_what_remains_and_is_told_so() {
    let (app, dir) = spawn(1).await;
    let customer = app.order_in("delivered").customer_id.to_string();
    let token = app.customer_token(TENANT, &customer);
    let mut h = app.auth(&token, TENANT);
    h.insert("idempotency-key", "erase-1".parse().unwrap());
    let res = app
        .post("/v1/customer/gdpr/erase-request", h, &json!({}))
        .await;
    let body: Value = res.json().await.unwrap();
    let job = app.wait_job(body["job"]["id"].as_str().unwrap(), 30).await;
    assert_eq!(job["status"], "succeeded", "{job}");

    let result = export(&app, &customer).await;
    assert_eq!(result["erased"], true);
    let files = open(&app, &result).await;
    assert_eq!(files["manifest.json"]["erased"], true);
    let notes = files["manifest.json"]["notes"].to_string();
    assert!(notes.contains("erased"), "{notes}");
    let orders = files["orders.json"].as_array().unwrap();
    assert!(!orders.is_empty(), "the anonymised orders remain");
    for o in orders {
        assert_eq!(o["email"], "redacted@erased.invalid", "{o}");
        assert_eq!(o["shipping_address"]["line1"], "[redacted]", "{o}");
    }
    let requests = files["requests.json"].as_array().unwrap();
    assert!(
        requests
            .iter()
            .any(|r| r["kind"] == "erase" && r["status"] == "succeeded")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn bad_input_auth_roles_and_tenancy() {
    let (app, _dir) = spawn(0).await;
    let token = admin(&app);
    let (status, p) = app
        .admin_post(
            &token,
            PATH,
            None,
            None,
            json!({"customer_id": "no such/id", "reason": " "}),
        )
        .await;
    assert_eq!(
        (status, p["code"].as_str()),
        (422, Some("validation.failed")),
        "{p}"
    );
    let fields: Vec<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["customer_id", "reason"], "{p}");
    for body in [
        json!({"customer_id": "cus_0001"}),
        json!({"customer_id": "cus_0001", "reason": "x", "format": "csv"}),
    ] {
        let (status, p) = app.admin_post(&token, PATH, None, None, body).await;
        assert_eq!(status, 422, "{p}");
    }

    let body = json!({"customer_id": "cus_0001", "reason": "SAR"});
    let res = app.post(PATH, Default::default(), &body).await;
    assert_eq!(res.status(), 401);
    for role in ["cs_lead", "finance", "auditor"] {
        let t = app.agent_token(TENANT, "agt_x", &[role]);
        let (status, p) = app.admin_post(&t, PATH, None, None, body.clone()).await;
        assert_eq!(
            (status, p["code"].as_str()),
            (403, Some("auth.forbidden")),
            "{role}"
        );
        assert_eq!(p["required_permission"], "gdpr.export", "{p}");
    }

    // a customer only the other tenant knows is not found here; there it is
    let mut only_there = orderdesk::seed::demo_orders(&TenantId::new(OTHER_TENANT), 1, 1);
    only_there[0].id = "ord_only_globex".into();
    only_there[0].number = "990001".into();
    only_there[0].customer_id = "cus_only_globex".into();
    let settings = orderdesk::seed::demo_settings();
    crate::helpers::seed_both_sides(&app.state.db, OTHER_TENANT, &settings, &only_there).await;
    let here = json!({"customer_id": "cus_only_globex", "reason": "SAR"});
    let (status, p) = app.admin_post(&token, PATH, None, None, here.clone()).await;
    assert_eq!(
        (status, p["code"].as_str()),
        (404, Some("customer.not_found")),
        "{p}"
    );
    let theirs = app.agent_token(OTHER_TENANT, "agt_g", &["admin"]);
    let (status, p) = app
        .post_as(&theirs, OTHER_TENANT, PATH, None, None, here)
        .await;
    assert_eq!(status, 202, "{p}");
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM subject_exports")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(rows, 1, "refused requests wrote nothing");
}

#[tokio::test]
async fn the_same_idempotency_key_replays_the_same_export() {
    let (app, _dir) = spawn(0).await;
    let token = admin(&app);
    let body = json!({"customer_id": "cus_0002", "reason": "SAR-9"});
    let (s1, first) = app
        .admin_post(&token, PATH, Some("sar-9"), None, body.clone())
        .await;
    let (s2, again) = app
        .admin_post(&token, PATH, Some("sar-9"), None, body)
        .await;
    assert_eq!((s1, s2), (202, 202), "{first} {again}");
    assert_eq!(first["export_id"], again["export_id"]);
    assert_eq!(first["job"]["id"], again["job"]["id"]);
    let (status, p) = app
        .admin_post(
            &token,
            PATH,
            Some("sar-9"),
            None,
            json!({"customer_id": "cus_0003", "reason": "SAR-9"}),
        )
        .await;
    assert_eq!(status, 422, "{p}");
    let (rows, audits): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM subject_exports),
                (SELECT count(*) FROM audit_log WHERE action = 'gdpr.export_requested')",
    )
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!((rows, audits), (1, 1), "one export, audited once");
}

#[tokio::test]
async fn tampered_expired_and_foreign_links_are_refused() {
    let (app, _dir) = spawn(1).await;
    let result = export(&app, "cus_0001").await;
    open(&app, &result).await;
    let url = result["download_url"].as_str().unwrap();
    assert!(url.starts_with("/v1/gdpr/exports/download/"), "{url}");
    let (base, token) = url.rsplit_once('/').unwrap();
    let (payload, mac) = token.split_once('.').unwrap();
    let mut flipped = mac.as_bytes().to_vec();
    flipped[3] = if flipped[3] == b'A' { b'B' } else { b'A' };
    let tampered = format!("{base}/{payload}.{}", String::from_utf8(flipped).unwrap());
    assert_eq!(
        problem(&app, &tampered).await,
        (403, "export.link_invalid".into())
    );
    let id = SubjectExportId::parse(result["export_id"].as_str().unwrap()).unwrap();
    let key = subject_export_key(&app.config.download_secret);
    let claims = |tenant: &str, expires_at: i64| SubjectExportClaims {
        tenant_id: TenantId::new(tenant),
        export_id: id,
        expires_at,
    };
    let now = chrono::Utc::now().timestamp();
    let expired = sign(&key, &claims(TENANT, now - 1));
    let got = problem(&app, &format!("{base}/{expired}")).await;
    assert_eq!(got, (410, "export.link_expired".into()));
    // signed right, but naming the archive under another tenant: nothing there
    let elsewhere = sign(&key, &claims(OTHER_TENANT, now + 60));
    assert_eq!(problem(&app, &format!("{base}/{elsewhere}")).await.0, 404);
    // the orders export links' key does not open a subject's archive, nor the reverse
    let export_key = orderdesk::exports::link::export_key(&app.config.download_secret);
    let foreign = sign(&export_key, &claims(TENANT, now + 60));
    let got = problem(&app, &format!("{base}/{foreign}")).await;
    assert_eq!(got, (403, "export.link_invalid".into()));
    let got = problem(&app, &format!("/v1/exports/download/{token}")).await;
    assert_eq!(got, (403, "export.link_invalid".into()));
}

pub(crate) async fn problem(app: &TestApp, path: &str) -> (u16, String) {
    let res = app
        .http
        .get(format!("{}{path}", app.api))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let ct = res.headers()["content-type"].to_str().unwrap().to_string();
    assert_eq!(ct, "application/problem+json", "{path}");
    let body: Value = res.json().await.unwrap();
    (
        status,
        body["code"].as_str().unwrap_or_default().to_string(),
    )
}
