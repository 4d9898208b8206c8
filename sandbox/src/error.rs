//! The sandbox's error answer: `application/problem+json` with `status`, `code` and `detail`,
//! plus the members the contract names for some errors (`errors`, `line_errors`, …).
//! An unexpected failure is answered as a bare 500; its cause is logged by the router.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One invalid field of a request, listed in `errors` of a validation problem.
#[derive(Debug, Clone, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A client-visible failure with a stable code.
    #[error("{}: {}", .0.code, .0.detail)]
    Problem(Box<Problem>),
    /// Anything unexpected: logged, answered as a bare 500.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    pub code: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, Value>,
}

impl Error {
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Self {
        Error::Problem(Box::new(Problem {
            type_: format!("https://orderdesk.dev/problems/{code}"),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail: detail.into(),
            code: code.to_string(),
            errors: Vec::new(),
            extra: serde_json::Map::new(),
        }))
    }
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            &format!("{what}.not_found"),
            format!("no such {what}"),
        )
    }
    pub fn bad_request(code: &str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }
    pub fn conflict(code: &str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, detail)
    }
    pub fn unprocessable(code: &str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
    }
    pub fn unavailable(code: &str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, code, detail)
    }
    /// 422 `validation.failed` listing every bad field.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; ");
        let mut e = Self::unprocessable("validation.failed", detail);
        if let Error::Problem(p) = &mut e {
            p.errors = errors;
        }
        e
    }
    pub fn with_extra(mut self, key: &str, value: Value) -> Self {
        if let Error::Problem(p) = &mut self {
            p.extra.insert(key.to_string(), value);
        }
        self
    }
    fn status(&self) -> StatusCode {
        match self {
            Error::Problem(p) => {
                StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Internal(anyhow::Error::new(e))
    }
}

/// Marks an internal error's response so the router's logging layer can report its cause.
#[derive(Clone)]
pub struct InternalErrorCause(pub std::sync::Arc<String>);

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        let (problem, cause) = match self {
            Error::Problem(p) => (*p, None),
            Error::Internal(e) => match Error::new(status, "internal", "unexpected error") {
                Error::Problem(p) => (*p, Some(format!("{e:#}"))),
                Error::Internal(_) => unreachable!("Error::new builds a problem"),
            },
        };
        let mut res = (status, axum::Json(problem)).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(cause) = cause {
            res.extensions_mut()
                .insert(InternalErrorCause(std::sync::Arc::new(cause)));
        }
        res
    }
}
