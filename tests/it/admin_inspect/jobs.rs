//! `GET /v1/admin/jobs` and `/jobs/{id}` show run inputs and results, which may hold a
//! customer's personal data: each read leaves an access record naming the jobs shown.

use serde_json::json;

use super::{access_records, get_as, spawn};
use crate::helpers::TENANT;

#[tokio::test]
async fn reading_jobs_is_access_logged() {
    let app = spawn().await;
    let agent = app.agent_token(TENANT, "agt_lead", &["cs_lead"]);
    let order = app.order_in("confirmed").id.to_string();
    let (status, accepted) = app
        .admin_post(
            &agent,
            &format!("/v1/admin/orders/{order}/hold"),
            Some("h-1"),
            None,
            json!({"reason": "check"}),
        )
        .await;
    assert_eq!(status, 202, "{accepted}");
    let job = accepted["job"]["id"].as_str().unwrap().to_string();

    let (status, one) = get_as(&app, &["cs_agent"], &format!("/v1/admin/jobs/{job}")).await;
    assert_eq!(status, 200, "{one}");
    let (status, list) = get_as(&app, &["cs_agent"], "/v1/admin/jobs").await;
    assert_eq!(status, 200, "{list}");
    let records = access_records(&app, "jobs.viewed").await;
    assert_eq!(records.len(), 2, "{records:?}");
    assert_eq!(records[0]["job_ids"], json!([job]));
    assert!(
        records[1]["job_ids"]
            .as_array()
            .unwrap()
            .contains(&json!(job))
    );
    // an unknown job leaves nothing: nothing was shown
    let (status, _) = get_as(
        &app,
        &["cs_agent"],
        "/v1/admin/jobs/01900000-0000-7000-8000-000000000000",
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(access_records(&app, "jobs.viewed").await.len(), 2);
}
