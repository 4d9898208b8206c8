//! `orderdesk seed` loads a tenant without orders with COPY: a search finds exactly the demo
//! orders, derived search fields included; seeding again (one upsert each) changes nothing.

use orderdesk::domain::ids::TenantId;
use serde_json::json;

use super::{ids_of, search_as, spawn};

const BULK: &str = "bulk";

fn seed_bulk(app: &crate::helpers::TestApp) -> std::process::Command {
    let mut cmd = app.command(&[
        "seed",
        "--tenant",
        BULK,
        "--orders",
        "500",
        "--customers",
        "25",
        "--read-model-only",
    ]);
    cmd.stdout(std::process::Stdio::piped());
    cmd
}

#[tokio::test]
async fn seed_loads_a_new_tenant_with_copy_and_again_without_change() {
    let app = spawn().await;
    for round in ["copy", "upsert"] {
        let mut cmd = seed_bulk(&app);
        let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{round}: {stderr}");
    }
    let token = app.agent_token(BULK, "agt_bulk", &["admin"]);
    let body = json!({"limit": 1, "aggregations": {"n": {"terms": "currency"}}});
    let (status, out) = search_as(&app, &token, BULK, &body).await;
    assert_eq!(status, 200, "{out}");
    let total: i64 = out["aggregations"]["n"]["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["count"].as_i64().unwrap())
        .sum();
    assert_eq!(total, 500);

    let demo = orderdesk::seed::demo_orders(&TenantId::new(BULK), 25, 500);
    for o in [&demo[0], &demo[251], &demo[499]] {
        let (_, found) =
            search_as(&app, &token, BULK, &json!({"filter": {"id": {"eq": o.id}}})).await;
        assert_eq!(ids_of(&found), [o.id.to_string()]);
        let s = &found["data"][0];
        assert_eq!(s["number"], o.number.as_str());
        assert_eq!(s["email"], o.email.as_str());
        assert_eq!(s["total_minor"], o.totals.total_minor);
        assert_eq!(s["tags"], json!(o.tags));
        assert_eq!(s["channel"], json!(o.channel));
        assert_eq!(s["customer_name"], o.shipping_address.name.as_str());
        let at: chrono::DateTime<chrono::Utc> = s["placed_at"].as_str().unwrap().parse().unwrap();
        assert_eq!(at, o.placed_at);
    }
}
