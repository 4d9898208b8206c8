//! The console's jobs pages: the list's live progress over one event stream, the search,
//! the job page (steps and their upstream keys, a bulk job's items, its audit records), its
//! cancel button, the dead jobs' bulk retry, and who may see none of it.

use std::time::Duration;

use fantoccini::Locator;
use reqwest::header::COOKIE;
use serde_json::{Value, json};

use super::browser::Browser;
use super::session::{cookie_of, get_page, sign_in};
use crate::helpers::{self, OTHER_TENANT, TENANT, TestApp};
use crate::resilience::request_cancel;

const BULK: &str = "/v1/admin/orders/bulk/update-status";

/// Starts a bulk hold of the confirmed orders; the job's id.
async fn start_bulk_hold(app: &TestApp) -> String {
    let token = app.agent_token(TENANT, "agt_lead", &["cs_lead"]);
    let body = json!({"filter": {"status": {"in": ["confirmed"]}}, "action": "hold",
                      "reason": "warehouse audit", "duration_minutes": 60});
    let (status, job) = app
        .admin_post(&token, BULK, Some("console-bulk-1"), None, body)
        .await;
    assert_eq!(status, 202, "{job}");
    job["id"].as_str().unwrap().to_string()
}

/// `[progress value, status text]` of the job's row or block, read in the page.
async fn shown(browser: &Browser, job: &str) -> Option<(f64, String)> {
    let script = r#"const el = document.querySelector(`[data-job="${arguments[0]}"]`);
        if (!el) return null;
        return [el.querySelector("progress").value, el.querySelector("[data-field=status]").textContent];"#;
    let v = browser
        .client
        .execute(script, vec![json!(job)])
        .await
        .ok()?;
    Some((v[0].as_f64()?, v[1].as_str()?.to_string()))
}

async fn click(browser: &Browser, css: &str) {
    browser
        .client
        .find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// The page's confirm() answers yes (a WebDriver alert would need a round trip each).
async fn confirm_yes(browser: &Browser) {
    browser
        .client
        .execute("window.confirm = () => true;", vec![])
        .await
        .unwrap();
}

/// A bulk job's progress bar and status on the list follow the job to 100 % and
/// `succeeded` through the page's one event stream, without a reload; its page then lists
/// its items and the audit records it caused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_jobs_progress_reaches_100_percent_on_the_list_without_a_reload() {
    let app = helpers::spawn().await;
    let browser = Browser::start(&app).await;
    browser
        .sign_in(&app.agent_token(TENANT, "agt_ops", &["admin"]))
        .await;
    // each item's hold waits at the orders service, so the job runs while the page is open
    app.set_faults(json!({"service": "orders", "latency_ms": 1000}))
        .await;
    let job = start_bulk_hold(&app).await;
    browser.goto("/console?kind=bulk_update_status").await;
    let row = format!("tr[data-job='{job}']");
    browser.wait_for_css(&row).await;
    let stream = browser
        .client
        .find(Locator::Css("#jobs"))
        .await
        .unwrap()
        .attr("data-live-stream")
        .await
        .unwrap()
        .expect("the page streams its unfinished jobs");
    assert!(
        stream.starts_with("/v1/admin/jobs/events?ids=") && stream.contains(&job),
        "{stream}"
    );
    let (_, first) = shown(&browser, &job).await.unwrap();
    assert!(
        first == "queued" || first == "running",
        "the job ran on when the page opened: {first}"
    );
    browser
        .client
        .execute("window.__marker = 1;", vec![])
        .await
        .unwrap();
    browser
        .eventually("the bulk job at 100 % and succeeded", || async {
            shown(&browser, &job).await == Some((100.0, "succeeded".to_string()))
        })
        .await;
    let marker = browser
        .client
        .execute("return window.__marker === 1;", vec![])
        .await
        .unwrap();
    assert_eq!(marker, json!(true), "the page was never reloaded");
    let label = browser.text_of(&format!("{row} .label")).await;
    assert!(label.contains("items"), "{label}");
    browser.screenshot("jobs").await;
    app.clear_faults().await;

    // the job page: its items and the audit records it caused (each order's hold)
    browser.goto(&format!("/console/jobs/{job}")).await;
    browser.wait_for_css("#items").await;
    let confirmed = app
        .orders
        .iter()
        .filter(|o| o.status.as_str() == "confirmed")
        .count();
    let items = browser
        .client
        .find_all(Locator::Css("table[aria-labelledby=items] tbody tr"))
        .await
        .unwrap();
    assert_eq!(items.len(), confirmed);
    let audit = browser.text_of("table[aria-labelledby=audit]").await;
    assert!(audit.contains("orders.bulk_hold"), "{audit}");
    assert!(audit.contains("order.hold"), "{audit}");

    // on a phone the page does not scroll sideways (wide tables scroll in their own box)
    browser.client.set_window_size(390, 844).await.unwrap();
    for path in [format!("/console/jobs/{job}"), "/console".to_string()] {
        browser.goto(&path).await;
        browser.wait_for_css("main h1").await;
        let fits = browser
            .client
            .execute(
                "return document.documentElement.scrollWidth <= window.innerWidth;",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(fits, json!(true), "{path} is wider than a phone");
    }
    browser.screenshot("jobs-phone").await;
    browser.close().await;
}

/// A running job, cancelled with its page's button, ends `cancelled` on that page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_job_is_cancelled_from_its_page() {
    let app = helpers::spawn().await;
    let browser = Browser::start(&app).await;
    browser
        .sign_in(&app.agent_token(TENANT, "agt_ops", &["admin"]))
        .await;
    app.set_faults(json!({"service": "payments", "latency_ms": 3000}))
        .await;
    let order = app.order_in("confirmed").clone();
    let job = request_cancel(&app, &order.id, &order.customer_id).await;
    browser.goto(&format!("/console/jobs/{job}")).await;
    browser.wait_for_css("button[data-api$='/cancel']").await;
    let (_, status) = shown(&browser, &job).await.unwrap();
    assert!(status == "queued" || status == "running", "{status}");
    let keys = browser.text_of("table[aria-labelledby=steps]").await;
    assert!(keys.contains(&format!("{job}:cancel_at_orders")), "{keys}");
    confirm_yes(&browser).await;
    click(&browser, "button[data-api$='/cancel']").await;
    browser
        .eventually("the job cancelled", || async {
            browser.try_text("[data-field=status]").await.as_deref() == Some("cancelled")
        })
        .await;
    // the page reloads once the job ended: the control is gone, the steps are final
    browser
        .eventually("the ended job's page", || async {
            browser.try_text("[data-field=status]").await.as_deref() == Some("cancelled")
                && browser
                    .client
                    .find(Locator::Css("button[data-api$='/cancel']"))
                    .await
                    .is_err()
        })
        .await;
    browser.screenshot("job").await;
    assert_eq!(app.wait_job(&job, 10).await["status"], "cancelled");
    app.clear_faults().await;
    browser.close().await;
}

/// Two compensated cancellations are listed dead under their kind and retried together
/// with the kind's button; both then succeed and the page shows no dead jobs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_jobs_are_retried_in_bulk_from_the_page() {
    let app = helpers::spawn().await;
    app.set_faults(json!({"service": "payments", "error_rate": 1.0, "error_status": 422}))
        .await;
    let orders: Vec<_> = app
        .orders
        .iter()
        .filter(|o| o.status.as_str() == "confirmed")
        .take(2)
        .cloned()
        .collect();
    let mut jobs = vec![];
    for o in &orders {
        jobs.push(request_cancel(&app, &o.id, &o.customer_id).await);
    }
    for job in &jobs {
        assert_eq!(app.wait_job(job, 30).await["status"], "compensated");
    }
    app.clear_faults().await;

    let browser = Browser::start(&app).await;
    browser
        .sign_in(&app.agent_token(TENANT, "agt_ops", &["admin"]))
        .await;
    browser.goto("/console/jobs/dead").await;
    let row = "tr[data-kind=cancel_order]";
    browser.wait_for_css(row).await;
    assert_eq!(browser.text_of(&format!("{row} td.num")).await, "2");
    confirm_yes(&browser).await;
    click(&browser, &format!("{row} button[data-api]")).await;
    browser
        .eventually("no dead jobs left", || async {
            browser.try_text("#no-dead").await.is_some()
        })
        .await;
    for job in &jobs {
        assert_eq!(app.wait_job(job, 30).await["status"], "succeeded");
    }
    browser.close().await;
}

/// The body of an event stream opened with the session's cookie, read until it closes.
async fn read_stream(app: &TestApp, cookie: &str, path: &str) -> (u16, String) {
    let res = app
        .http
        .get(format!("{}{path}", app.api))
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let mut res = res;
    let mut body = String::new();
    let read = async {
        while let Ok(Some(chunk)) = res.chunk().await {
            body.push_str(&String::from_utf8_lossy(&chunk));
        }
    };
    tokio::time::timeout(Duration::from_secs(20), read)
        .await
        .expect("the stream closes once its jobs ended");
    (status, body)
}

/// Searching by an order finds the bulk jobs the order was an item of, beside its own runs.
#[tokio::test]
async fn an_orders_search_finds_the_bulk_job_it_was_an_item_of() {
    let app = helpers::spawn().await;
    let bulk = start_bulk_hold(&app).await;
    let ended = app.wait_job(&bulk, 30).await;
    assert_eq!(ended["status"], "succeeded", "{ended}");
    let token = app.agent_token(TENANT, "agt_ops", &["admin"]);
    let (status, items) = app
        .get(
            &format!("/v1/admin/jobs/{bulk}/items"),
            app.auth(&token, TENANT),
        )
        .await;
    assert_eq!(status, 200, "{items}");
    let order = items["data"][0]["subject_id"].as_str().unwrap().to_string();
    let ours = sign_in(&app, &token).await;
    let (status, page) = get_page(&app, &format!("/console?q={order}"), Some(&ours.cookie)).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(&format!("data-job=\"{bulk}\"")), "{page}");
    // another tenant's agent searching the same order id finds nothing
    let theirs = sign_in(&app, &app.agent_token(OTHER_TENANT, "agt_x", &["admin"])).await;
    let (_, page) = get_page(&app, &format!("/console?q={order}"), Some(&theirs.cookie)).await;
    assert!(!page.contains(&format!("data-job=\"{bulk}\"")));
    assert!(page.contains("No jobs match."));
}

/// The search finds a job by its id, its order's id, its request's id and its correlation
/// id; the page's stream sends every job once and ends. An agent of another tenant finds
/// none of it: the job page is a 404 page, the list and the search do not name it, and
/// the stream sends nothing of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_are_found_by_their_ids_and_never_shown_to_another_tenant() {
    let app = helpers::spawn().await;
    let order = app.order_in("confirmed").clone();
    let token = app.customer_token(TENANT, &order.customer_id);
    let mut h = app.auth(&token, TENANT);
    h.insert("idempotency-key", "console-search-1".parse().unwrap());
    let res = app
        .post(
            &format!("/v1/customer/orders/{}/cancel-request", order.id),
            h,
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 202);
    let accepted: Value = res.json().await.unwrap();
    let job = accepted["job"]["id"].as_str().unwrap().to_string();
    let request = accepted["request_id"].as_str().unwrap().to_string();
    let ended = app.wait_job(&job, 30).await;
    assert_eq!(ended["status"], "succeeded", "{ended}");
    let correlation = ended["correlation_id"].as_str().map(str::to_string);

    let ours = sign_in(&app, &app.agent_token(TENANT, "agt_ops", &["admin"])).await;
    let mut terms = vec![job.clone(), order.id.to_string(), request.clone()];
    terms.extend(correlation);
    for term in &terms {
        let (status, page) = get_page(
            &app,
            &format!("/console?q={}", urlencode(term)),
            Some(&ours.cookie),
        )
        .await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains(&format!("data-job=\"{job}\"")), "{term}");
    }
    let (_, none) = get_page(&app, "/console?q=no-such-thing", Some(&ours.cookie)).await;
    assert!(none.contains("No jobs match."));
    let (status, _) = get_page(
        &app,
        &format!("/console?q={}", "x".repeat(201)),
        Some(&ours.cookie),
    )
    .await;
    assert_eq!(status, 422);
    let (status, page) = get_page(&app, &format!("/console/jobs/{job}"), Some(&ours.cookie)).await;
    assert_eq!(status, 200);
    assert!(
        page.contains(&format!("{job}:cancel_at_orders")),
        "the step's upstream key"
    );
    assert!(
        page.contains("order.cancel_requested"),
        "the audit records it caused: {page}"
    );

    // one stream for two jobs: each once (they ended), then `end` naming both
    let other_job = start_bulk_hold(&app).await;
    app.wait_job(&other_job, 30).await;
    let (status, body) = read_stream(
        &app,
        &ours.cookie,
        &format!("/v1/admin/jobs/events?ids={job},{other_job}"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body.matches("event: job").count(), 2, "{body}");
    assert!(body.contains("event: end"), "{body}");
    let (status, _) = read_stream(&app, &ours.cookie, "/v1/admin/jobs/events?ids=nope").await;
    assert_eq!(status, 422);
    let many: Vec<String> = (0..51).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let (status, _) = read_stream(
        &app,
        &ours.cookie,
        &format!("/v1/admin/jobs/events?ids={}", many.join(",")),
    )
    .await;
    assert_eq!(status, 422);

    let theirs = sign_in(&app, &app.agent_token(OTHER_TENANT, "agt_g", &["admin"])).await;
    let (status, page) =
        get_page(&app, &format!("/console/jobs/{job}"), Some(&theirs.cookie)).await;
    assert_eq!(status, 404);
    assert!(page.contains("job.not_found"), "{page}");
    for path in [
        "/console".to_string(),
        format!("/console?q={job}"),
        format!("/console?q={}", order.id),
        format!("/console?q={request}"),
        "/console/jobs/dead".to_string(),
    ] {
        let (status, page) = get_page(&app, &path, Some(&theirs.cookie)).await;
        assert_eq!(status, 200, "{path}");
        // (the search echoes its term; no row, link or stream names the job)
        assert!(
            !page.contains(&format!("data-job=\"{job}\"")),
            "{path} lists it"
        );
        assert!(
            !page.contains(&format!("/console/jobs/{job}")),
            "{path} links it"
        );
        assert!(!page.contains(&format!("ids={job}")), "{path} streams it");
    }
    let (status, body) = read_stream(
        &app,
        &theirs.cookie,
        &format!("/v1/admin/jobs/events?ids={job}"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        !body.contains("event: job") && !body.contains(&job),
        "{body}"
    );
    assert!(body.contains("event: end"), "{body}");
}

/// An auditor (no `jobs.read`) gets a 403 page for each jobs page.
#[tokio::test]
async fn an_agent_without_jobs_read_gets_a_403_page() {
    let app = helpers::spawn().await;
    let cookie = cookie_of(&app, &app.agent_token(TENANT, "agt_aud", &["auditor"])).await;
    let id = uuid::Uuid::new_v4();
    for path in [
        "/console".to_string(),
        "/console?q=x".to_string(),
        "/console/jobs/dead".to_string(),
        format!("/console/jobs/{id}"),
    ] {
        let (status, page) = get_page(&app, &path, Some(&cookie)).await;
        assert_eq!(status, 403, "{path}: {page}");
        assert!(
            page.contains("jobs.read") || page.contains("forbidden"),
            "{page}"
        );
    }
}

fn urlencode(s: &str) -> String {
    percent_encoding_like(s)
}

/// Enough of percent-encoding for ids (letters, digits, `-`, `_`, `.` pass).
fn percent_encoding_like(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
