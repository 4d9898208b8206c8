//! Agents downloading the attachments on an order's case: the customer's uploads and their
//! own notes' files, as downloads, access-logged, and gone once the customer is erased.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use orderdesk::db;
use orderdesk::domain::ids::{RunId, TenantId};
use serde_json::{Value, json};

use super::post;
use crate::helpers::{self, OTHER_TENANT, TENANT, TestApp};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0";

/// GETs `path` as `token` of `tenant`: the status, headers and bytes.
async fn download(
    app: &TestApp,
    token: Option<&str>,
    tenant: &str,
    path: &str,
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let mut req = app
        .http
        .get(format!("{}{path}", app.api))
        .header("x-tenant-id", tenant);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    let (status, headers) = (res.status().as_u16(), res.headers().clone());
    (status, headers, res.bytes().await.unwrap().to_vec())
}

/// The `order.attachment_downloaded` records of `order`'s audit trail.
async fn downloads_logged(app: &TestApp, order: &str) -> Vec<Value> {
    let auditor = app.agent_token(TENANT, "agt_aud", &["auditor"]);
    let path = format!("/v1/admin/orders/{order}/audit?action=order.attachment_downloaded");
    let (status, audit) = app.get(&path, app.auth(&auditor, TENANT)).await;
    assert_eq!(status, 200, "{audit}");
    audit["data"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn agents_download_case_attachments_logged_and_erased_with_the_customer() {
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let order = app.order_in("delivered").clone();
    let id = order.id.to_string();
    let customer = app.customer_token(TENANT, &order.customer_id);
    let agent = app.agent_token(TENANT, "agt_ann", &["cs_agent"]);

    let (status, sent) = post(
        &app,
        &customer,
        TENANT,
        &format!("/v1/customer/orders/{id}/messages"),
        None,
        json!({"body": "Broken, see photo",
               "attachment": {"filename": "photo.png", "content_base64": STANDARD.encode(PNG)}}),
    )
    .await;
    assert_eq!(status, 201, "{sent}");
    let photo_msg = sent["message"]["id"].as_str().unwrap().to_string();
    let (status, note) = post(
        &app,
        &agent,
        TENANT,
        &format!("/v1/admin/orders/{id}/notes"),
        None,
        json!({"body": "carrier's scan",
               "attachment": {"filename": "scan \"1\".txt", "content_base64": STANDARD.encode("depot 7")}}),
    )
    .await;
    assert_eq!(status, 201, "{note}");
    let note_msg = note["message"]["id"].as_str().unwrap().to_string();
    let (_, plain) = post(
        &app,
        &agent,
        TENANT,
        &format!("/v1/admin/orders/{id}/notes"),
        None,
        json!({"body": "no file"}),
    )
    .await;
    let plain_msg = plain["message"]["id"].as_str().unwrap().to_string();

    // the case lists each file with the url agents download it from
    let (_, case) = app
        .get(
            &format!("/v1/admin/orders/{id}/cases"),
            app.auth(&agent, TENANT),
        )
        .await;
    let url = case["data"][0]["attachment"]["url"].as_str().unwrap();
    assert_eq!(
        url,
        format!("/v1/admin/orders/{id}/messages/{photo_msg}/attachment")
    );
    assert!(downloads_logged(&app, &id).await.is_empty());

    let (status, headers, bytes) = download(&app, Some(&agent), TENANT, url).await;
    assert_eq!(status, 200);
    assert_eq!(bytes, PNG);
    assert_eq!(headers["content-type"], "image/png");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename=\"photo.png\"; filename*=UTF-8''photo.png"
    );
    // an internal note's file too (which the customer cannot reach)
    let note_url = format!("/v1/admin/orders/{id}/messages/{note_msg}/attachment");
    let (status, headers, bytes) = download(&app, Some(&agent), TENANT, &note_url).await;
    assert_eq!((status, bytes.as_slice()), (200, b"depot 7".as_slice()));
    assert_eq!(headers["content-type"], "text/plain; charset=utf-8");
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"scan 1.txt\""),
        "{headers:?}"
    );
    let customer_path = format!("/v1/customer/orders/{id}/messages/{note_msg}/attachment");
    let (status, _, _) = download(&app, Some(&customer), TENANT, &customer_path).await;
    assert_eq!(status, 404);

    // each download is recorded, naming the message, never the content
    let logged = downloads_logged(&app, &id).await;
    assert_eq!(logged.len(), 2, "{logged:?}");
    let text = serde_json::to_string(&logged).unwrap();
    assert!(
        text.contains(&photo_msg) && text.contains(&note_msg) && text.contains("agt_ann"),
        "{text}"
    );
    assert!(!text.contains("depot 7"), "{text}");

    // a message without a file, an unknown message, another order's message
    for (path, code) in [
        (
            format!("/v1/admin/orders/{id}/messages/{plain_msg}/attachment"),
            "attachment.not_found",
        ),
        (
            format!("/v1/admin/orders/{id}/messages/msg_nope/attachment"),
            "message.not_found",
        ),
        (
            format!(
                "/v1/admin/orders/{}/messages/{photo_msg}/attachment",
                app.orders.iter().find(|o| o.id != order.id).unwrap().id
            ),
            "message.not_found",
        ),
    ] {
        let (status, _, body) = download(&app, Some(&agent), TENANT, &path).await;
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!((status, body["code"].as_str()), (404, Some(code)), "{path}");
    }
    // no token, a bad token, another tenant's agent
    assert_eq!(download(&app, None, TENANT, url).await.0, 401);
    assert_eq!(download(&app, Some("nope"), TENANT, url).await.0, 401);
    let foreign = app.agent_token(OTHER_TENANT, "agt_x", &["admin"]);
    let (status, _, body) = download(&app, Some(&foreign), OTHER_TENANT, url).await;
    assert_eq!(status, 404, "{}", String::from_utf8_lossy(&body));
    assert_eq!(
        downloads_logged(&app, &id).await.len(),
        2,
        "refusals log nothing"
    );

    // erasing the customer's data deletes the files: the customer's and the agents'
    let mut conn = app.state.db.acquire().await.unwrap();
    let (tenant, run) = (TenantId::new(TENANT), RunId::now_v7());
    let erased = db::gdpr::anonymise_customer(&mut conn, &tenant, &order.customer_id, run, None)
        .await
        .unwrap();
    assert_eq!(erased.support_attachments, 2);
    for path in [url, note_url.as_str()] {
        let (status, _, body) = download(&app, Some(&agent), TENANT, path).await;
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            (status, body["code"].as_str()),
            (404, Some("attachment.not_found"))
        );
    }
    let left: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM support_attachments WHERE tenant_id = $1 AND message_id = ANY($2)",
    )
    .bind(TENANT)
    .bind(vec![photo_msg, note_msg])
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert_eq!(left, 0, "no bytes are left behind");
}
