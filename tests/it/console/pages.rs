//! The console in a real browser: signing in, a job's live page, and its buttons.

use serde_json::json;

use super::browser::Browser;
use crate::helpers::{self, TENANT};
use crate::resilience::request_cancel;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_signs_in_and_lands_on_the_page_asked_for() {
    let app = helpers::spawn().await;
    let order = app.order_in("confirmed").clone();
    let job = request_cancel(&app, &order.id, &order.customer_id).await;
    app.wait_job(&job, 30).await;
    let browser = Browser::start(&app).await;
    browser.goto(&format!("/console/jobs/{job}")).await;
    browser.wait_for_css("#credential").await;
    assert!(browser.path().await.starts_with("/console/sign-in?next="));
    browser.screenshot("sign-in").await;
    let token = app.agent_token(TENANT, "agt_ops", &["admin"]);
    browser.type_into("#credential", &token).await;
    browser.click("form button[type=submit]").await;
    browser.wait_for_css("dl.facts").await;
    assert_eq!(browser.path().await, format!("/console/jobs/{job}"));
    assert_eq!(browser.text_of("[data-field=status]").await, "succeeded");
    browser.close().await;
}

/// A compensated job, retried with the page's button, ends `succeeded` on the same page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_job_is_retried_from_its_page_and_succeeds() {
    let app = helpers::spawn().await;
    app.set_faults(json!({"service": "payments", "error_rate": 1.0, "error_status": 422}))
        .await;
    let order = app.order_in("confirmed").clone();
    let job = request_cancel(&app, &order.id, &order.customer_id).await;
    assert_eq!(app.wait_job(&job, 30).await["status"], "compensated");
    app.clear_faults().await;

    let browser = Browser::start(&app).await;
    browser
        .sign_in(&app.agent_token(TENANT, "agt_ops", &["admin"]))
        .await;
    browser.goto(&format!("/console/jobs/{job}")).await;
    assert_eq!(browser.text_of("[data-field=status]").await, "compensated");
    browser.click("button[data-api$='/retry']").await;
    browser
        .eventually("the retried job succeeded", || async {
            browser.try_text("[data-field=status]").await.as_deref() == Some("succeeded")
        })
        .await;
    browser.screenshot("job").await;
    let ended = app.wait_job(&job, 5).await;
    assert_eq!(
        (ended["status"].as_str(), ended["retries"].as_i64()),
        (Some("succeeded"), Some(1))
    );
    browser.close().await;
}

/// A button whose API call needs sudo: the page asks for a step-up token in its dialog, keeps
/// it, and sends the same call again (same Idempotency-Key), which then succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_asks_for_a_step_up_when_the_api_needs_one() {
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let lead = app.agent_token(TENANT, "agt_lead", &["cs_lead"]);
    let order = app.order_in("confirmed").id.to_string();
    let (status, placed) = app
        .admin_post(
            &lead,
            &format!("/v1/admin/orders/{order}/legal-hold"),
            Some("lh-1"),
            None,
            json!({"reason": "litigation"}),
        )
        .await;
    assert_eq!(status, 201, "{placed}");

    let browser = Browser::start(&app).await;
    browser.sign_in(&lead).await;
    // what a button does (console.js `callApi`), started from the page
    let remove = format!("/v1/admin/orders/{order}/legal-hold/remove");
    browser
        .client
        .execute(
            "window.__answer = null; callApi('POST', arguments[0], {reason: 'case settled'}, 'lh-rm-1').then(a => { window.__answer = a; }); return true;",
            vec![json!(remove)],
        )
        .await
        .unwrap();
    browser.wait_for_css("dialog#step-up[open]").await;
    browser.screenshot("step-up").await;
    let sudo = app.sudo_token(TENANT, "agt_lead", &["cs_lead"]);
    browser.type_into("#sudo-token", &sudo).await;
    browser.click("#step-up-form button[value=confirm]").await;
    browser
        .eventually("the action's answer", || async {
            let answer = browser
                .client
                .execute("return window.__answer", vec![])
                .await
                .unwrap();
            !answer.is_null()
        })
        .await;
    let answer = browser
        .client
        .execute("return window.__answer", vec![])
        .await
        .unwrap();
    assert_eq!(answer["ok"], true, "{answer}");
    assert_eq!(
        answer["data"]["legal_hold"]["released_by"], "agent:agt_lead",
        "{answer}"
    );
    browser.close().await;
}
