//! Bad input, auth, tenancy, idempotent replay, listing and links that are not valid.

use orderdesk::domain::ids::{ExportId, TenantId};
use orderdesk::exports::link::{ExportClaims, export_key, sign};
use serde_json::json;

use super::{PATH, download, export, finance, spawn};
use crate::helpers::{OTHER_TENANT, TENANT};

#[tokio::test]
async fn unknown_columns_formats_and_filter_fields_are_422_naming_them() {
    let (app, _dir) = spawn(0).await;
    let token = finance(&app);
    let (status, p) = app
        .admin_post(
            &token,
            PATH,
            None,
            None,
            json!({"format": "csv", "columns": ["id", "colour"]}),
        )
        .await;
    assert_eq!(status, 422, "{p}");
    assert_eq!(p["code"], "export.unknown_column");
    assert!(p["detail"].as_str().unwrap().contains("colour"), "{p}");
    assert!(
        p["allowed"]
            .as_array()
            .unwrap()
            .contains(&json!("total_minor")),
        "{p}"
    );
    assert_eq!(p["errors"][0]["field"], "columns[1]");
    let (status, p) = app
        .admin_post(&token, PATH, None, None, json!({"format": "xlsx"}))
        .await;
    assert_eq!(status, 422);
    assert_eq!(p["code"], "export.invalid_format");
    assert_eq!(p["allowed"], json!(["csv", "ndjson", "parquet"]));
    let (status, p) = app
        .admin_post(
            &token,
            PATH,
            None,
            None,
            json!({"format": "csv", "filter": {"colour": {"eq": 1}}}),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(p["code"], "search.unknown_field");
    let (status, p) = app
        .admin_post(
            &token,
            PATH,
            None,
            None,
            json!({"format": "parquet", "compression": "gzip"}),
        )
        .await;
    assert_eq!(
        (status, p["code"].as_str()),
        (422, Some("export.invalid_format"))
    );
    let (status, _) = app
        .admin_post(&token, PATH, None, None, json!({"columns": ["id"]}))
        .await;
    assert_eq!(status, 422, "format is required");
}

#[tokio::test]
async fn auth_roles_and_tenancy() {
    let (app, _dir) = spawn(0).await;
    let res = app
        .post(PATH, Default::default(), &json!({"format": "csv"}))
        .await;
    assert_eq!(res.status(), 401);
    let agent = app.agent_token(TENANT, "agt_cs", &["cs_agent"]);
    let (status, p) = app
        .admin_post(&agent, PATH, None, None, json!({"format": "csv"}))
        .await;
    assert_eq!((status, p["code"].as_str()), (403, Some("auth.forbidden")));
    for role in ["admin", "cs_lead", "finance"] {
        let t = app.agent_token(TENANT, "agt_x", &[role]);
        let (status, _) = app
            .admin_post(&t, PATH, None, None, json!({"format": "csv"}))
            .await;
        assert_eq!(status, 202, "{role}");
    }
    let (_, accepted) = app
        .admin_post(
            &finance(&app),
            PATH,
            None,
            None,
            json!({"format": "ndjson"}),
        )
        .await;
    let path = format!(
        "/v1/admin/exports/{}",
        accepted["export_id"].as_str().unwrap()
    );
    let (status, own) = app.get(&path, app.auth(&finance(&app), TENANT)).await;
    assert_eq!(status, 200, "{own}");
    assert_eq!(own["status"], "queued");
    assert_eq!(own["format"], "ndjson");
    assert!(own["download_url"].is_null(), "no link before it finished");
    let other = app.agent_token(OTHER_TENANT, "agt_other", &["finance"]);
    let (status, p) = app.get(&path, app.auth(&other, OTHER_TENANT)).await;
    assert_eq!(
        (status, p["code"].as_str()),
        (404, Some("export.not_found"))
    );
    let (status, list) = app
        .get("/v1/admin/exports", app.auth(&other, OTHER_TENANT))
        .await;
    assert_eq!(status, 200);
    assert_eq!(list["data"], json!([]));
    let (status, list) = app
        .get(
            "/v1/admin/exports?limit=2",
            app.auth(&finance(&app), TENANT),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(list["data"].as_array().unwrap().len(), 2);
    let cursor = list["next_cursor"]
        .as_str()
        .expect("four exports: a next page");
    let (_, next) = app
        .get(
            &format!("/v1/admin/exports?limit=2&cursor={cursor}"),
            app.auth(&finance(&app), TENANT),
        )
        .await;
    assert_eq!(next["data"].as_array().unwrap().len(), 2);
    assert!(next["next_cursor"].is_null());
    let (status, _) = app.get("/v1/admin/exports", app.auth(&agent, TENANT)).await;
    assert_eq!(status, 403);
    let (status, _) = app
        .get(
            "/v1/admin/exports/not-a-uuid",
            app.auth(&finance(&app), TENANT),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_same_idempotency_key_replays_the_same_export() {
    let (app, _dir) = spawn(0).await;
    let token = finance(&app);
    let body = json!({"format": "csv", "columns": ["id", "total_minor"]});
    let (s1, first) = app
        .admin_post(&token, PATH, Some("exp-1"), None, body.clone())
        .await;
    let (s2, again) = app
        .admin_post(&token, PATH, Some("exp-1"), None, body)
        .await;
    assert_eq!((s1, s2), (202, 202));
    assert_eq!(first["export_id"], again["export_id"]);
    let (_, list) = app.get("/v1/admin/exports", app.auth(&token, TENANT)).await;
    assert_eq!(
        list["data"].as_array().unwrap().len(),
        1,
        "one export, not two"
    );
    let (status, p) = app
        .admin_post(
            &token,
            PATH,
            Some("exp-1"),
            None,
            json!({"format": "ndjson"}),
        )
        .await;
    assert_eq!(status, 422, "{p}");
}

#[tokio::test]
async fn tampered_expired_and_malformed_links_are_refused() {
    let (app, _dir) = spawn(1).await;
    let result = export(&app, json!({"format": "csv"})).await;
    download(&app, &result).await;
    let url = result["download_url"].as_str().unwrap();
    let (base, token) = url.rsplit_once('/').unwrap();
    let (payload, mac) = token.split_once('.').unwrap();
    let mut flipped = mac.as_bytes().to_vec();
    flipped[3] = if flipped[3] == b'A' { b'B' } else { b'A' };
    let tampered = format!(
        "{}{base}/{payload}.{}",
        app.api,
        String::from_utf8(flipped).unwrap()
    );
    let p = get_problem(&app, &tampered).await;
    assert_eq!(
        (p.0, p.1["code"].as_str()),
        (403, Some("export.link_invalid"))
    );
    assert_eq!(p.2, "application/problem+json");
    // a link signed with the right key but past its expiry
    let export_id = ExportId::parse(result["export_id"].as_str().unwrap()).unwrap();
    let key = export_key(&app.config.download_secret);
    let expired = sign(
        &key,
        &ExportClaims {
            tenant_id: TenantId::new(TENANT),
            export_id,
            expires_at: chrono::Utc::now().timestamp() - 1,
        },
    );
    let p = get_problem(&app, &format!("{}{base}/{expired}", app.api)).await;
    assert_eq!(
        (p.0, p.1["code"].as_str()),
        (410, Some("export.link_expired"))
    );
    let p = get_problem(&app, &format!("{}{base}/garbage", app.api)).await;
    assert_eq!(
        (p.0, p.1["code"].as_str()),
        (400, Some("export.link_malformed"))
    );
    // a valid link naming the export under another tenant finds nothing there
    let elsewhere = sign(
        &key,
        &ExportClaims {
            tenant_id: TenantId::new(OTHER_TENANT),
            export_id,
            expires_at: chrono::Utc::now().timestamp() + 60,
        },
    );
    let p = get_problem(&app, &format!("{}{base}/{elsewhere}", app.api)).await;
    assert_eq!(p.0, 404);
    // the finished export shows a fresh link that works
    let path = format!("/v1/admin/exports/{export_id}");
    let (status, shown) = app.get(&path, app.auth(&finance(&app), TENANT)).await;
    assert_eq!(status, 200);
    assert_eq!(shown["status"], "succeeded");
    assert_eq!(shown["sha256"], result["sha256"]);
    assert_eq!(shown["rows_so_far"], result["row_count"]);
    assert_eq!(
        shown["parts"].as_array().unwrap().len(),
        result["parts"].as_array().unwrap().len()
    );
    let mut fresh = result.clone();
    fresh["download_url"] = shown["download_url"].clone();
    download(&app, &fresh).await;
}

async fn get_problem(app: &crate::helpers::TestApp, url: &str) -> (u16, serde_json::Value, String) {
    let res = app.http.get(url).send().await.unwrap();
    let status = res.status().as_u16();
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, res.json().await.unwrap_or_default(), ct)
}
