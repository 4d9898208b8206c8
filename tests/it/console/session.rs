//! Signing in to the console, and what its cookie may do: open the pages and the admin API
//! of its own tenant, never a mutation without the session's CSRF token, nothing once the
//! session or its credential ended.

use reqwest::header::{COOKIE, HeaderMap, HeaderValue, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use serde_json::{Value, json};

use crate::helpers::{self, OTHER_TENANT, TENANT, TestApp};
use crate::resilience::request_cancel;

/// A signed-in session as a browser holds it.
pub struct Session {
    pub cookie: String,
    pub csrf: String,
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// Posts the sign-in form; the answer's status, its `Set-Cookie` and `Location`.
async fn post_sign_in(
    app: &TestApp,
    credential: &str,
    next: &str,
) -> (u16, Option<String>, Option<String>, String) {
    let res = no_redirects()
        .post(format!("{}/console/sign-in", app.api))
        .form(&[("credential", credential), ("next", next)])
        .send()
        .await
        .unwrap();
    let header = |name| {
        res.headers()
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_string)
    };
    let (cookie, location) = (header(SET_COOKIE), header(LOCATION));
    (
        res.status().as_u16(),
        cookie,
        location,
        res.text().await.unwrap(),
    )
}

/// The session cookie of signing in with `credential`, without reading a page (its agent may
/// see none).
pub async fn cookie_of(app: &TestApp, credential: &str) -> String {
    let (status, set_cookie, _, body) = post_sign_in(app, credential, "/console").await;
    assert_eq!(status, 303, "{body}");
    set_cookie.unwrap().split(';').next().unwrap().to_string()
}

pub async fn sign_in(app: &TestApp, credential: &str) -> Session {
    let cookie = cookie_of(app, credential).await;
    let (_, page) = get_page(app, "/console", Some(&cookie)).await;
    let csrf = page
        .split("name=\"csrf-token\" content=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page carries its CSRF token")
        .to_string();
    Session { cookie, csrf }
}

pub async fn get_page(app: &TestApp, path: &str, cookie: Option<&str>) -> (u16, String) {
    let mut req = no_redirects().get(format!("{}{path}", app.api));
    if let Some(c) = cookie {
        req = req.header(COOKIE, c);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let location = res
        .headers()
        .get(LOCATION)
        .map(|v| v.to_str().unwrap().to_string());
    let body = res.text().await.unwrap();
    (status, location.unwrap_or(body))
}

/// An admin API call carried by the session's cookie (and its CSRF token when `csrf`).
pub async fn api_as(
    app: &TestApp,
    s: &Session,
    method: &str,
    path: &str,
    csrf: bool,
    key: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let mut h = HeaderMap::new();
    h.insert(COOKIE, s.cookie.parse().unwrap());
    if csrf {
        h.insert("x-csrf-token", s.csrf.parse().unwrap());
    }
    if let Some(k) = key {
        h.insert("idempotency-key", k.parse().unwrap());
    }
    let req = match method {
        "GET" => app.http.get(format!("{}{path}", app.api)),
        _ => app.http.post(format!("{}{path}", app.api)).json(&body),
    };
    let res = req.headers(h).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn signing_in_gives_a_strict_http_only_cookie_that_opens_pages_and_the_api() {
    let app = helpers::spawn().await;
    let order = app.order_in("confirmed").clone();
    let job = request_cancel(&app, &order.id, &order.customer_id).await;
    let token = app.agent_token(TENANT, "agt_ops", &["admin"]);

    let (status, cookie, location, _) =
        post_sign_in(&app, &token, &format!("/console/jobs/{job}")).await;
    assert_eq!(status, 303);
    assert_eq!(
        location.as_deref(),
        Some(format!("/console/jobs/{job}").as_str())
    );
    let cookie = cookie.unwrap();
    // `__Host-`: no sibling domain or plain-HTTP answer can set a cookie of this name
    assert!(cookie.starts_with("__Host-orderdesk_console="), "{cookie}");
    assert!(!cookie.to_ascii_lowercase().contains("domain="), "{cookie}");
    for attr in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attr), "{cookie} lacks {attr}");
    }
    assert!(!cookie.contains(&token), "the cookie is not the credential");
    let session = sign_in(&app, &token).await;
    let (status, page) = get_page(&app, "/console", Some(&session.cookie)).await;
    assert_eq!(status, 200);
    assert!(page.contains(job.as_str()), "the job is listed: {page}");
    assert!(page.contains("agent:agt_ops"), "{page}");
    let (status, page) =
        get_page(&app, &format!("/console/jobs/{job}"), Some(&session.cookie)).await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("cancel_order") || page.contains(&job),
        "{page}"
    );

    // the cookie alone reads the admin API; no X-Tenant-ID is needed, a wrong one is refused
    let (status, listed) = api_as(
        &app,
        &session,
        "GET",
        "/v1/admin/jobs",
        false,
        None,
        Value::Null,
    )
    .await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["data"][0]["id"], job.as_str());
    let res = app
        .http
        .get(format!("{}/v1/admin/jobs", app.api))
        .header(COOKIE, &session.cookie)
        .header("x-tenant-id", OTHER_TENANT)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // the credential is kept sealed, never as it was pasted
    let stored: Vec<(Vec<u8>,)> = sqlx::query_as("SELECT credential FROM console_sessions")
        .fetch_all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(stored.len(), 2);
    for (sealed,) in stored {
        assert!(!String::from_utf8_lossy(&sealed).contains(&token[..20]));
    }
}

#[tokio::test]
async fn a_stranger_is_sent_to_sign_in_and_back_to_the_page_asked_for() {
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let (status, location) = get_page(
        &app,
        "/console/jobs/0190a0b0-0000-7000-8000-000000000000?x=1",
        None,
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(
        location,
        "/console/sign-in?next=%2Fconsole%2Fjobs%2F0190a0b0%2D0000%2D7000%2D8000%2D000000000000%3Fx%3D1"
    );
    let (status, _) = get_page(&app, "/console", Some("__Host-orderdesk_console=forged")).await;
    assert_eq!(status, 303, "a forged cookie is no session");
    // a sign-in never sends the browser off the console
    let token = app.agent_token(TENANT, "agt_ops", &["admin"]);
    let (_, _, location, _) = post_sign_in(&app, &token, "https://evil.example/console").await;
    assert_eq!(location.as_deref(), Some("/console"));
    // the API without a cookie or token is the API's 401
    let (status, body) = app.get("/v1/admin/jobs", HeaderMap::new()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("auth.missing_token"))
    );
}

#[tokio::test]
async fn customers_and_bad_credentials_do_not_sign_in() {
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let customer = app.customer_token(TENANT, "cus_0001");
    let (status, cookie, _, page) = post_sign_in(&app, &customer, "/console").await;
    assert_eq!(status, 403);
    assert!(cookie.is_none());
    assert!(page.contains("the console is for agents"), "{page}");
    let (status, cookie, _, page) = post_sign_in(&app, "not-a-token", "/console").await;
    assert_eq!(status, 401);
    assert!(cookie.is_none());
    assert!(page.contains("role=\"alert\""), "{page}");
    let (status, _, _, _) = post_sign_in(&app, "  ", "/console").await;
    assert_eq!(status, 422);
    // a sudo token is for a step-up, never a session
    let sudo = app.sudo_token(TENANT, "agt_ops", &["admin"]);
    let (status, cookie, _, _) = post_sign_in(&app, &sudo, "/console").await;
    assert_eq!((status, cookie), (401, None));
    // a form posted from another site is refused
    let res = no_redirects()
        .post(format!("{}/console/sign-in", app.api))
        .header("origin", "https://evil.example")
        .form(&[(
            "credential",
            app.agent_token(TENANT, "agt_ops", &["admin"]).as_str(),
        )])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(res.headers().get(SET_COOKIE).is_none());
}

#[tokio::test]
async fn a_cookie_changes_nothing_without_its_csrf_token_and_sees_no_other_tenant() {
    let app = helpers::spawn().await;
    let order = app.order_in("confirmed").clone();
    let job = request_cancel(&app, &order.id, &order.customer_id).await;
    let ours = sign_in(&app, &app.agent_token(TENANT, "agt_ops", &["admin"])).await;
    let path = format!("/v1/admin/jobs/{job}/cancel");
    let body = json!({"reason": "from the console"});
    let (status, refused) =
        api_as(&app, &ours, "POST", &path, false, Some("c-1"), body.clone()).await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (403, Some("auth.csrf_failed")),
        "{refused}"
    );
    let forged = Session {
        cookie: ours.cookie.clone(),
        csrf: "x".repeat(43),
    };
    let (status, _) = api_as(
        &app,
        &forged,
        "POST",
        &path,
        true,
        Some("c-1"),
        body.clone(),
    )
    .await;
    assert_eq!(status, 403);
    // with it, the API's own rules answer: cancelled at once while no worker holds it (200),
    // asked of its worker (202), or too late (409)
    let (status, answer) =
        api_as(&app, &ours, "POST", &path, true, Some("c-1"), body.clone()).await;
    assert!([200, 202, 409].contains(&status), "{status} {answer}");

    let theirs = sign_in(&app, &app.agent_token(OTHER_TENANT, "agt_g", &["admin"])).await;
    let (status, _) = get_page(&app, &format!("/console/jobs/{job}"), Some(&theirs.cookie)).await;
    assert_eq!(status, 404);
    let (_, page) = get_page(&app, "/console", Some(&theirs.cookie)).await;
    assert!(
        !page.contains(job.as_str()),
        "another tenant's job is listed"
    );
    let (status, _) = api_as(
        &app,
        &theirs,
        "GET",
        &format!("/v1/admin/jobs/{job}"),
        false,
        None,
        Value::Null,
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = api_as(&app, &theirs, "POST", &path, true, Some("c-2"), body).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn signing_out_or_revoking_the_key_ends_the_session() {
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let admin = app.agent_token(TENANT, "agt_admin", &["admin"]);
    let session = sign_in(&app, &admin).await;
    let res = no_redirects()
        .post(format!("{}/console/sign-out", app.api))
        .header(COOKIE, &session.cookie)
        .form(&[("csrf_token", "wrong")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "a sign-out needs the CSRF token");
    let res = no_redirects()
        .post(format!("{}/console/sign-out", app.api))
        .header(COOKIE, &session.cookie)
        .form(&[("csrf_token", session.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert!(
        res.headers()[SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let (status, _) = get_page(&app, "/console", Some(&session.cookie)).await;
    assert_eq!(status, 303);
    let (status, body) = api_as(
        &app,
        &session,
        "GET",
        "/v1/admin/jobs",
        false,
        None,
        Value::Null,
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("auth.session_ended"))
    );

    let (status, made) = app
        .admin_post(
            &admin,
            "/v1/admin/keys",
            Some("k-1"),
            None,
            json!({"name": "console", "scopes": ["jobs.read"]}),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    let by_key = sign_in(&app, made["key"].as_str().unwrap()).await;
    let (status, _) = get_page(&app, "/console", Some(&by_key.cookie)).await;
    assert_eq!(status, 200);
    let revoke = format!("/v1/admin/keys/{}/revoke", made["id"].as_str().unwrap());
    let (status, _) = app.admin_post(&admin, &revoke, None, None, json!({})).await;
    assert_eq!(status, 200);
    let (status, body) = api_as(
        &app,
        &by_key,
        "GET",
        "/v1/admin/jobs",
        false,
        None,
        Value::Null,
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("auth.key_revoked"))
    );
    let (status, _) = get_page(&app, "/console", Some(&by_key.cookie)).await;
    assert_eq!(status, 303);
}

#[tokio::test]
async fn a_step_up_given_to_the_console_serves_the_actions_that_need_sudo() {
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let admin = app.agent_token(TENANT, "agt_admin", &["admin"]);
    let session = sign_in(&app, &admin).await;
    let order = app.order_in("confirmed").id.to_string();
    let place = format!("/v1/admin/orders/{order}/legal-hold");
    let (status, placed) = api_as(
        &app,
        &session,
        "POST",
        &place,
        true,
        Some("lh-1"),
        json!({"reason": "litigation"}),
    )
    .await;
    assert!(status < 300, "{status} {placed}");
    let remove = format!("/v1/admin/orders/{order}/legal-hold/remove");
    let body = json!({"reason": "settled"});
    let (status, refused) = api_as(
        &app,
        &session,
        "POST",
        &remove,
        true,
        Some("lh-2"),
        body.clone(),
    )
    .await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (403, Some("auth.sudo_required")),
        "{refused}"
    );

    let step_up = |token: String, csrf: String| {
        let app_url = app.api.clone();
        let cookie = session.cookie.clone();
        async move {
            no_redirects()
                .post(format!("{app_url}/console/sudo"))
                .header(COOKIE, cookie)
                .header("x-csrf-token", csrf)
                .form(&[("token", token)])
                .send()
                .await
                .unwrap()
        }
    };
    let someone_else = app.sudo_token(TENANT, "agt_other", &["admin"]);
    let res = step_up(someone_else, session.csrf.clone()).await;
    assert_eq!(res.status(), 403, "another agent's step-up");
    let mine = app.sudo_token(TENANT, "agt_admin", &["admin"]);
    let res = step_up(mine.clone(), "wrong".into()).await;
    assert_eq!(res.status(), 403, "without the CSRF token");
    let res = step_up(mine, session.csrf.clone()).await;
    assert_eq!(res.status(), 204);
    let (status, removed) = api_as(&app, &session, "POST", &remove, true, Some("lh-2"), body).await;
    assert!(status < 300, "{status} {removed}");
}

/// What a browser cannot have meant — a query string that cannot be read, a job link with a
/// malformed id, a form that is not a form — is answered with the console's HTML error page
/// carrying the API's code, never a JSON problem.
#[tokio::test]
async fn unreadable_links_and_forms_get_the_consoles_error_page() {
    let app = helpers::spawn().await;
    let s = sign_in(&app, &app.agent_token(TENANT, "agt_ops", &["admin"])).await;
    let client = no_redirects();
    let cases = [
        ("/console?limit=many", 400, "request.invalid_query"),
        (
            "/console/kpis?window=1h&window=24h",
            400,
            "request.invalid_query",
        ),
        ("/console/exports?limit=-x", 400, "request.invalid_query"),
        ("/console/jobs/not-a-job", 404, "job.not_found"),
    ];
    for (path, status, code) in cases {
        let res = client
            .get(format!("{}{path}", app.api))
            .header(COOKIE, &s.cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), status, "{path}");
        let kind = res.headers()["content-type"].to_str().unwrap().to_string();
        assert!(kind.starts_with("text/html"), "{path}: {kind}");
        let page = res.text().await.unwrap();
        assert!(page.contains(code), "{path}: {page}");
    }
    let res = client
        .post(format!("{}/console/sign-in", app.api))
        .json(&json!({"credential": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 400);
    let kind = res.headers()["content-type"].to_str().unwrap().to_string();
    assert!(kind.starts_with("text/html"), "{kind}");
    assert!(res.text().await.unwrap().contains("request.invalid_form"));
}
