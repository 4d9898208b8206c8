//! `GET /v1/admin/jobs/{id}/events`: server-sent events of a job's progress.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{OTHER_TENANT, TENANT, spawn};
use crate::resilience::request_cancel;

/// The stream sends the job as it changes, its last state `succeeded`, then `end`, and
/// closes; progress only grows. Another tenant's job is a 404, no token a 401.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_streams_its_progress_until_it_ends() {
    let app = spawn().await;
    app.set_faults(json!({"service": "payments", "latency_ms": 300}))
        .await;
    let order = app.order_in("confirmed").clone();
    let job = request_cancel(&app, &order.id, &order.customer_id).await;
    let token = app.agent_token(TENANT, "agt_ops", &["cs_agent"]);
    let path = format!("/v1/admin/jobs/{job}/events");
    let res = app
        .http
        .get(format!("{}{path}", app.api))
        .headers(app.auth(&token, TENANT))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let mut body = String::new();
    let mut res = res;
    let read = async {
        while let Some(chunk) = res.chunk().await.unwrap() {
            body.push_str(&String::from_utf8_lossy(&chunk));
        }
    };
    tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .expect("the stream closes once the job ended");
    let jobs: Vec<Value> = body
        .split("\n\n")
        .filter(|e| e.contains("event: job"))
        .filter_map(|e| e.lines().find_map(|l| l.strip_prefix("data: ")))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert!(jobs.len() >= 2, "{body}");
    let done: Vec<i64> = jobs
        .iter()
        .map(|j| j["progress"]["done"].as_i64().unwrap())
        .collect();
    assert!(done.windows(2).all(|w| w[0] <= w[1]), "{done:?}");
    let last = jobs.last().unwrap();
    assert_eq!(last["status"], "succeeded", "{body}");
    assert_eq!(last["progress"]["unit"], "steps");
    assert!(body.trim_end().ends_with("data: succeeded"), "{body}");

    let other = app.agent_token(OTHER_TENANT, "agt_g", &["admin"]);
    let (status, _) = app.get(&path, app.auth(&other, OTHER_TENANT)).await;
    assert_eq!(status, 404);
    let (status, _) = app.get(&path, Default::default()).await;
    assert_eq!(status, 401);
}
