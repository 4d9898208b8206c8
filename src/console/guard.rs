//! Who a console page is for: the agent of the session's cookie, or a redirect to the
//! sign-in page that comes back to where the stranger wanted to go.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::api::auth::{Agent, agent_of, authenticate, session_cookie};
use crate::auth::sessions::Session;
use crate::auth::{Claims, Permission};
use crate::error::Error;
use crate::state::AppState;

/// The signed-in agent of a console page.
pub struct SignedIn {
    pub agent: Agent,
    pub session: Session,
    /// What the session's credential verified into (a step-up is checked against it).
    pub claims: Claims,
}

impl SignedIn {
    /// 403 as a page unless the agent may do `permission` — the API's own check.
    pub fn require(&self, permission: Permission) -> Result<(), super::PageError> {
        self.agent
            .require(permission)
            .map_err(super::PageError::from)
    }
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        // the pages' rate limit (`limit`) verified the cookie already: reuse what it found
        if let Some(session) = parts.extensions.get::<Session>().cloned()
            && let Ok(claims) = authenticate(parts, state).await
        {
            let agent = agent_of(&claims).map_err(|e| super::PageError::from(e).into_response())?;
            let claims = Claims::clone(&claims);
            return Ok(SignedIn {
                agent,
                session,
                claims,
            });
        }
        let to_sign_in = || sign_in_redirect(parts.uri.path_and_query().map(|p| p.as_str()));
        let Some(secret) = session_cookie(&parts.headers) else {
            return Err(to_sign_in());
        };
        match state.auth.verify_session(secret).await {
            Ok((claims, session)) => match agent_of(&claims) {
                Ok(agent) => Ok(SignedIn {
                    agent,
                    session,
                    claims,
                }),
                Err(e) => Err(super::PageError::from(e).into_response()),
            },
            Err(Error::Internal(e)) => {
                Err(super::PageError::from(Error::Internal(e)).into_response())
            }
            Err(_) => Err(to_sign_in()),
        }
    }
}

/// 303 to `/console/sign-in?next=…`.
pub(super) fn sign_in_redirect(next: Option<&str>) -> Response {
    let mut location = "/console/sign-in".to_string();
    if let Some(next) = next.filter(|n| super::sign_in::is_console_path(n)) {
        location.push_str("?next=");
        location.push_str(
            &percent_encoding::utf8_percent_encode(next, percent_encoding::NON_ALPHANUMERIC)
                .to_string(),
        );
    }
    see_other(&location)
}

pub(super) fn see_other(location: &str) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        res.headers_mut().insert(header::LOCATION, value);
    }
    res
}
