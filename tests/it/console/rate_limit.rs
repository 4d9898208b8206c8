//! The console's pages count against the agent's rate limit (`agent_per_minute`) as the admin
//! API does, and a page over it is the console's HTML error page with `Retry-After`.

use reqwest::header::{COOKIE, HeaderMap};
use reqwest::redirect::Policy;

use super::session::cookie_of;
use crate::helpers::{self, TENANT, TestApp};

async fn get(app: &TestApp, path: &str, cookie: &str) -> (u16, HeaderMap, String) {
    let res = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
        .get(format!("{}{path}", app.api))
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap();
    let (status, headers) = (res.status().as_u16(), res.headers().clone());
    (status, headers, res.text().await.unwrap())
}

#[tokio::test]
async fn pages_over_the_agents_limit_get_a_429_page() {
    let mut settings = orderdesk::seed::demo_settings();
    settings.rate_limits.agent_per_minute = 2;
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        settings,
        ..Default::default()
    })
    .await;
    let cookie = cookie_of(&app, &app.agent_token(TENANT, "agt_ops", &["admin"])).await;

    let mut statuses = vec![];
    for _ in 0..3 {
        let (status, headers, page) = get(&app, "/console", &cookie).await;
        statuses.push(status);
        if status == 429 {
            let kind = headers["content-type"].to_str().unwrap();
            assert!(kind.starts_with("text/html"), "{kind}");
            assert!(page.contains("rate_limit.exceeded"), "{page}");
            let wait: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
            assert!((1..=60).contains(&wait), "{wait}");
            assert!(page.contains(&format!("wait {wait} seconds")), "{page}");
            assert_eq!(headers["ratelimit-policy"], r#""default";q=2;w=60"#);
            assert_eq!(headers["cache-control"], "no-store", "a page's own headers");
        }
    }
    assert_eq!(statuses, [200, 200, 429]);

    // the same quota as the agent's API calls with the cookie
    let (status, _, body) = get(&app, "/v1/admin/jobs", &cookie).await;
    assert_eq!(status, 429, "{body}");
    // signing in is not a page: a signed-in agent is still sent on to the console
    let (status, _, _) = get(&app, "/console/sign-in", &cookie).await;
    assert_eq!(status, 303);
}
