//! Signing in (a pasted token or API key becomes a session cookie), signing out, and the
//! step-up a page asks for when the API would.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::html;
use serde::Deserialize;

use super::SignedIn;
use super::extract::{PageForm, PageQuery};
use super::guard::see_other;
use super::layout::{PageError, bare};
use crate::api::auth::session_cookie;
use crate::auth::sessions::{self, COOKIE, CSRF_HEADER};
use crate::error::{Error, Result};
use crate::state::AppState;

/// Where a sign-in may send the browser back to: a console page of this origin.
pub(super) fn is_console_path(next: &str) -> bool {
    (next == "/console" || next.starts_with("/console/") || next.starts_with("/console?"))
        && !next.contains("//")
        && !next.contains('\\')
        && !next.starts_with("/console/sign-")
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    credential: String,
    #[serde(default)]
    next: String,
}

pub async fn form(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageQuery(q): PageQuery<NextQuery>,
) -> Response {
    let next = q.next.filter(|n| is_console_path(n));
    if let Some(secret) = session_cookie(&headers)
        && state.auth.verify_session(secret).await.is_ok()
    {
        return see_other(next.as_deref().unwrap_or("/console"));
    }
    sign_in_page(StatusCode::OK, next.as_deref(), None)
}

fn sign_in_page(status: StatusCode, next: Option<&str>, error: Option<&str>) -> Response {
    let body = bare(
        "Sign in",
        html! {
            p { "Paste an agent token or an API key of your tenant. The console keeps a session for up to 8 hours, never longer than what you signed in with." }
            form method="post" action="/console/sign-in" {
                label for="credential" { "Token or API key" }
                textarea #credential name="credential" rows="5" required autocomplete="off" autofocus
                    aria-describedby=[error.map(|_| "sign-in-error")] {}
                input type="hidden" name="next" value=(next.unwrap_or("/console"));
                @if let Some(error) = error {
                    p.error #sign-in-error role="alert" { (error) }
                }
                button type="submit" { "Sign in" }
            }
        },
    );
    (status, body).into_response()
}

/// A form posted from another origin is refused (with SameSite=Strict, a second guard).
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_host = origin.split_once("://").map(|(_, rest)| rest);
    host.is_some() && origin_host == host
}

pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageForm(form): PageForm<SignInForm>,
) -> Response {
    let next = Some(form.next.as_str()).filter(|n| is_console_path(n));
    if !same_origin(&headers) {
        return sign_in_page(
            StatusCode::FORBIDDEN,
            next,
            Some("The form was sent from another site."),
        );
    }
    let credential = form.credential.trim();
    if credential.is_empty() || credential.len() > 8192 {
        return sign_in_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            next,
            Some("Paste a token or an API key (at most 8 KiB)."),
        );
    }
    match state.auth.sign_in(credential).await {
        Ok((_, opened)) => {
            let mut res = see_other(next.unwrap_or("/console"));
            let cookie = format!(
                "{COOKIE}={}; Path=/; Max-Age={}; HttpOnly; Secure; SameSite=Strict",
                opened.cookie_secret,
                opened.max_age.as_secs()
            );
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                res.headers_mut().insert(header::SET_COOKIE, value);
            }
            res
        }
        Err(Error::Problem(p)) => {
            let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::UNAUTHORIZED);
            sign_in_page(status, next, Some(&format!("Not signed in: {}", p.detail)))
        }
        Err(e) => PageError::from(e).into_response(),
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf_token: String,
}

pub async fn sign_out(
    State(state): State<AppState>,
    who: SignedIn,
    PageForm(form): PageForm<CsrfForm>,
) -> std::result::Result<Response, PageError> {
    if !sessions::csrf_matches(&who.session, &form.csrf_token) {
        return Err(PageError::from(csrf_failed()));
    }
    state.auth.sign_out(&who.session).await?;
    let mut res = see_other("/console/sign-in");
    let expired = format!("{COOKIE}=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict");
    if let Ok(value) = HeaderValue::from_str(&expired) {
        res.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(res)
}

#[derive(Deserialize)]
pub struct StepUpForm {
    #[serde(default)]
    token: String,
}

/// `POST /console/sudo` from the step-up dialog: 204 once the token is kept, else the
/// API's problem (`auth.sudo_required` saying why).
pub async fn step_up(
    State(state): State<AppState>,
    headers: HeaderMap,
    who: SignedIn,
    PageForm(form): PageForm<StepUpForm>,
) -> Result<StatusCode> {
    let presented = headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !sessions::csrf_matches(&who.session, presented) {
        return Err(csrf_failed());
    }
    state
        .auth
        .keep_sudo(&who.session, &who.claims, form.token.trim())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

fn csrf_failed() -> Error {
    Error::forbidden(
        "auth.csrf_failed",
        "the form did not carry this session's CSRF token",
    )
    .with_next_step("reload the console page and try again")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_console_pages_are_places_to_return_to() {
        for ok in ["/console", "/console/jobs/1", "/console?status=failed"] {
            assert!(is_console_path(ok), "{ok}");
        }
        for bad in [
            "https://evil.example/console",
            "//evil.example/console",
            "/console//evil",
            "/consoles",
            "/v1/admin/jobs",
            "/console/sign-out",
            "/console\\x",
        ] {
            assert!(!is_console_path(bad), "{bad}");
        }
    }

    #[test]
    fn a_form_from_another_origin_is_refused() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "localhost:8081".parse().unwrap());
        assert!(
            same_origin(&h),
            "no Origin: a same-origin navigation of an old browser"
        );
        h.insert(header::ORIGIN, "http://localhost:8081".parse().unwrap());
        assert!(same_origin(&h));
        h.insert(header::ORIGIN, "https://evil.example".parse().unwrap());
        assert!(!same_origin(&h));
        h.insert(header::ORIGIN, "null".parse().unwrap());
        assert!(!same_origin(&h));
    }
}
