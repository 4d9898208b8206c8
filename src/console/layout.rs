//! The page shell every console page shares (navigation, the CSRF token for the script,
//! the step-up dialog) and the page an error becomes.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

use super::SignedIn;
use crate::error::Error;

/// The sections of the navigation, in its order: (path, label).
const NAV: &[(&str, &str)] = &[
    ("/console", "Jobs"),
    ("/console/jobs/dead", "Dead jobs"),
    ("/console/queues", "Queues"),
    ("/console/workers", "Workers"),
    ("/console/exports", "Exports"),
    ("/console/kpis", "KPIs"),
];

/// A whole page for the signed-in agent; `active` is the navigation path it belongs to.
pub fn page(who: &SignedIn, title: &str, active: &str, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title, Some(&who.session.csrf_token)))
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    nav aria-label="Console sections" {
                        span.brand { "orderdesk" }
                        ul {
                            @for (path, label) in NAV {
                                li {
                                    @if *path == active {
                                        a href=(path) aria-current="page" { (label) }
                                    } @else {
                                        a href=(path) { (label) }
                                    }
                                }
                            }
                        }
                    }
                    div.who {
                        span { (who.agent.principal()) " · " (who.agent.tenant_id.as_str()) }
                        form method="post" action="/console/sign-out" {
                            input type="hidden" name="csrf_token" value=(who.session.csrf_token);
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main #main {
                    h1 { (title) }
                    div #notice role="status" aria-live="polite" {}
                    (content)
                }
                (step_up_dialog())
            }
        }
    }
}

/// The document head; a signed-in page also gets the session's CSRF token and the script
/// that uses it.
fn head(title: &str, csrf_token: Option<&str>) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            @if let Some(token) = csrf_token {
                meta name="csrf-token" content=(token);
            }
            title { (title) " · orderdesk console" }
            link rel="stylesheet" href=(super::assets::href("console.css"));
            @if csrf_token.is_some() {
                script src=(super::assets::href("console.js")) defer {}
            }
        }
    }
}

/// Asked for when the API answers `auth.sudo_required`: the agent pastes a step-up token,
/// the console keeps it in the session until it expires, and the action is sent again.
fn step_up_dialog() -> Markup {
    html! {
        dialog #step-up aria-labelledby="step-up-title" {
            form #step-up-form method="dialog" {
                h2 #step-up-title { "Confirm it is you" }
                p { "This action needs a step-up (sudo) token. Paste one to go on; the console keeps it until it expires." }
                label for="sudo-token" { "Sudo token" }
                textarea #sudo-token name="token" rows="3" required autocomplete="off" {}
                p.error #step-up-error role="alert" {}
                div.actions {
                    button type="submit" value="confirm" { "Confirm" }
                    button.secondary type="button" #step-up-cancel { "Cancel" }
                }
            }
        }
    }
}

/// A page without the navigation, for those not signed in.
pub fn bare(title: &str, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title, None))
            body {
                main #main.narrow {
                    h1 { (title) }
                    (content)
                }
            }
        }
    }
}

/// An [`Error`] answered as a page: the problem's title, detail and code, never more (an
/// internal error shows only its request-independent title, as the API does).
pub struct PageError(Error);

impl From<Error> for PageError {
    fn from(e: Error) -> PageError {
        PageError(e)
    }
}

impl From<sqlx::Error> for PageError {
    fn from(e: sqlx::Error) -> PageError {
        PageError(Error::from(e))
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        let problem = self.0.to_problem();
        let body = bare(
            &problem.title,
            html! {
                p.error { (problem.detail) }
                @for step in &problem.next_steps {
                    p { (step) }
                }
                p { "Code: " code { (self.0.code()) } }
                p { a href="/console" { "Back to the console" } }
            },
        );
        let mut res = (status, body).into_response();
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            // the problem_details middleware logs the cause; keep it attached for that
            if let Error::Internal(cause) = self.0 {
                res.extensions_mut()
                    .insert(crate::error::InternalErrorCause(std::sync::Arc::new(
                        format!("{cause:#}"),
                    )));
            }
        }
        res
    }
}
