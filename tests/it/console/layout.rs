//! What every console page owes its users whatever it shows: controls with names a screen
//! reader reads, a keyboard path to the content, and no sideways scrolling on a phone.

use serde_json::Value;

use super::browser::Browser;
use crate::helpers::{self, TENANT};
use crate::resilience::request_cancel;

/// The console's pages a signed-in agent reaches from the navigation (and a job's page).
pub fn pages(job: &str) -> Vec<String> {
    let mut pages: Vec<String> = [
        "/console",
        "/console/jobs/dead",
        "/console/queues",
        "/console/workers",
        "/console/exports",
        "/console/kpis",
    ]
    .iter()
    .map(|p| p.to_string())
    .collect();
    pages.push(format!("/console/jobs/{job}"));
    pages
}

/// Controls without an accessible name, as `tag#id` (empty when every one has a name).
const UNNAMED_CONTROLS: &str = r#"
  return [...document.querySelectorAll('input:not([type=hidden]), select, textarea, button, a[href]')]
    .filter(el => {
      if (el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')) return false;
      if (el.closest('label')) return false;
      if (el.id && document.querySelector(`label[for="${el.id}"]`)) return false;
      if (['BUTTON', 'A'].includes(el.tagName) && el.textContent.trim()) return false;
      return true;
    })
    .map(el => `${el.tagName.toLowerCase()}#${el.id}`);
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_has_named_controls_a_keyboard_path_and_fits_a_phone() {
    let app = helpers::spawn().await;
    let order = app.order_in("confirmed").clone();
    let job = request_cancel(&app, &order.id, &order.customer_id).await;
    app.wait_job(&job, 30).await;
    let browser = Browser::start(&app).await;
    browser
        .sign_in(&app.agent_token(TENANT, "agt_ops", &["admin"]))
        .await;
    for page in pages(&job) {
        browser.goto(&page).await;
        browser.wait_for_css("main h1").await;
        let unnamed = browser
            .client
            .execute(UNNAMED_CONTROLS, vec![])
            .await
            .unwrap();
        assert_eq!(
            unnamed,
            Value::Array(vec![]),
            "{page}: controls without a name"
        );

        // the first Tab reaches the skip link, which leads to the content
        let body = browser
            .client
            .find(fantoccini::Locator::Css("body"))
            .await
            .unwrap();
        body.send_keys("\u{e004}").await.unwrap();
        let focused = browser
            .client
            .execute("return document.activeElement.className", vec![])
            .await
            .unwrap();
        assert_eq!(focused, "skip", "{page}: the first Tab stop");

        browser.client.set_window_size(390, 844).await.unwrap();
        browser.goto(&page).await;
        browser.wait_for_css("main h1").await;
        let overflow = browser
            .client
            .execute(
                "return document.documentElement.scrollWidth - window.innerWidth",
                vec![],
            )
            .await
            .unwrap();
        assert!(
            overflow.as_i64().unwrap() <= 1,
            "{page}: {overflow} px wider than a phone"
        );
        browser.client.set_window_size(1280, 900).await.unwrap();
    }
    browser.close().await;
}
