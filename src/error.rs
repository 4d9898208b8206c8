//! The one error type of orderdesk, answered as RFC 9457 `application/problem+json`.
//!
//! Expected failures carry a stable machine `code` (e.g. `order.blocked.already_shipped`);
//! anything unexpected is logged with its cause and answered with a body that leaks nothing.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One invalid field of a request, listed in `errors` of a validation problem.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// An error that becomes a problem+json response.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A client-visible failure with a stable code.
    #[error("{}: {}", .0.code, .0.detail)]
    Problem(Box<Problem>),
    /// Anything unexpected: logged, answered as a bare 500.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// The body of a problem+json answer (before `request_id` is added).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    pub code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explain: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub next_steps: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// Extra members such as `blocked_reasons` or the current state of a resource.
    #[serde(flatten, skip_serializing_if = "serde_json::Map::is_empty")]
    pub extra: serde_json::Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// A problem with `status` and a stable `code`: the body of an [`Error::Problem`], and what a
/// workflow step or run stores as its error.
pub fn problem(status: StatusCode, code: &str, detail: impl Into<String>) -> Problem {
    Problem {
        type_: format!("https://orderdesk.dev/problems/{code}"),
        title: status.canonical_reason().unwrap_or("Error").to_string(),
        status: status.as_u16(),
        detail: detail.into(),
        code: code.to_string(),
        explain: None,
        next_steps: Vec::new(),
        errors: Vec::new(),
        extra: serde_json::Map::new(),
        request_id: None,
    }
}

impl Error {
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Self {
        Error::Problem(Box::new(problem(status, code, detail)))
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "auth.unauthorized", detail)
    }
    pub fn forbidden(code: &str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, detail)
    }
    /// Also used for another customer's or tenant's resource, so existence is never confirmed.
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
    /// 422 `validation.failed` listing every bad field.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; ");
        Self::unprocessable("validation.failed", detail).with_errors(errors)
    }
    pub fn unavailable(code: &str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, code, detail)
    }

    fn map_problem(mut self, f: impl FnOnce(&mut Problem)) -> Self {
        if let Error::Problem(p) = &mut self {
            f(p);
        }
        self
    }
    pub fn with_explain(self, explain: impl Into<String>) -> Self {
        let explain = explain.into();
        self.map_problem(|p| p.explain = Some(explain))
    }
    pub fn with_next_step(self, step: impl Into<String>) -> Self {
        let step = step.into();
        self.map_problem(|p| p.next_steps.push(step))
    }
    pub fn with_errors(self, errors: Vec<FieldError>) -> Self {
        self.map_problem(|p| p.errors = errors)
    }
    pub fn with_extra(self, key: &str, value: Value) -> Self {
        self.map_problem(|p| {
            p.extra.insert(key.to_string(), value);
        })
    }

    /// The stable code, for tests and logs (`internal` for unexpected errors).
    pub fn code(&self) -> &str {
        match self {
            Error::Problem(p) => &p.code,
            Error::Internal(_) => "internal",
        }
    }
    pub fn status(&self) -> StatusCode {
        match self {
            Error::Problem(p) => {
                StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The problem body as JSON, as stored on a failed job.
    pub fn to_problem(&self) -> Problem {
        match self {
            Error::Problem(p) => (**p).clone(),
            Error::Internal(_) => problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "an unexpected error occurred; it has been logged",
            ),
        }
    }
}

impl From<sqlx::Error> for Error {
    /// Postgres out of reach (down, restarting, pool exhausted) is a 503 the client may
    /// retry, not a bug; everything else stays an internal error.
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => {
                tracing::warn!(error = %e, "database unavailable");
                Error::unavailable(
                    "database.unavailable",
                    "the database cannot be reached right now; retry shortly",
                )
            }
            // a NUL character in a text or JSON value: valid JSON, but nothing PostgreSQL can
            // store (22P05 untranslatable_character, 22021 character_not_in_repertoire)
            sqlx::Error::Database(d) if matches!(d.code().as_deref(), Some("22P05" | "22021")) => {
                Error::unprocessable(
                    "validation.unstorable_character",
                    "a text holds a character that cannot be stored (U+0000)",
                )
            }
            // a time PostgreSQL cannot hold (before 4713 BC, or past 294276 AD) or read: a
            // client's value that chrono accepted (22008 datetime_field_overflow, also
            // raised as "date/timestamp out of range"; 22007 invalid_datetime_format)
            sqlx::Error::Database(d) if matches!(d.code().as_deref(), Some("22008" | "22007")) => {
                tracing::info!(error = %d, "a time out of PostgreSQL's range");
                Error::unprocessable(
                    "validation.out_of_range_time",
                    "a date or time is outside the range that can be stored",
                )
            }
            e => Error::Internal(anyhow::Error::new(e)),
        }
    }
}

impl From<redis::RedisError> for Error {
    fn from(e: redis::RedisError) -> Self {
        Error::Internal(anyhow::Error::new(e))
    }
}

/// Marks an internal error so the logging middleware can report its cause.
#[derive(Clone)]
pub struct InternalErrorCause(pub std::sync::Arc<String>);

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let cause = match &self {
            Error::Internal(e) => Some(format!("{e:#}")),
            Error::Problem(_) => None,
        };
        let problem = self.to_problem();
        let status = self.status();
        let mut res = (status, axum::Json(problem)).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if status == StatusCode::UNAUTHORIZED {
            // RFC 6750: a 401 names the scheme the client should authenticate with.
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(cause) = cause {
            res.extensions_mut()
                .insert(InternalErrorCause(std::sync::Arc::new(cause)));
        }
        res
    }
}

impl From<&crate::domain::payments::Refusal> for Problem {
    /// A refused refund or capture, as the API answers it and a job records it.
    fn from(r: &crate::domain::payments::Refusal) -> Self {
        let status = StatusCode::from_u16(r.status()).unwrap_or(StatusCode::CONFLICT);
        let mut p = problem(status, r.code(), r.detail());
        if let Some((name, amount)) = r.limit() {
            p.extra.insert(name.into(), amount.into());
        }
        p
    }
}

impl From<crate::domain::payments::Refusal> for Error {
    fn from(r: crate::domain::payments::Refusal) -> Self {
        Error::Problem(Box::new(Problem::from(&r)))
    }
}

#[cfg(test)]
mod tests {
    use axum::response::IntoResponse;

    use super::*;

    #[test]
    fn an_unreachable_database_is_a_503_and_a_bad_query_a_500() {
        for e in [
            sqlx::Error::PoolTimedOut,
            sqlx::Error::Io(std::io::ErrorKind::ConnectionReset.into()),
        ] {
            let res = Error::from(e).into_response();
            assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        }
        let res = Error::from(sqlx::Error::RowNotFound).into_response();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    /// A database error carrying only an SQLSTATE, as PostgreSQL would answer it.
    #[derive(Debug, thiserror::Error)]
    #[error("sqlstate {0}")]
    struct Sqlstate(&'static str);

    impl sqlx::error::DatabaseError for Sqlstate {
        fn message(&self) -> &str {
            "timestamp out of range"
        }
        fn code(&self) -> Option<std::borrow::Cow<'_, str>> {
            Some(self.0.into())
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> sqlx::error::ErrorKind {
            sqlx::error::ErrorKind::Other
        }
    }

    #[test]
    fn a_time_postgres_cannot_hold_is_a_422_that_echoes_no_sql() {
        for state in ["22008", "22007"] {
            let e = Error::from(sqlx::Error::Database(Box::new(Sqlstate(state))));
            assert_eq!(e.status(), StatusCode::UNPROCESSABLE_ENTITY);
            assert_eq!(e.code(), "validation.out_of_range_time");
            assert!(!e.to_problem().detail.contains("timestamp out of range"));
        }
        let e = Error::from(sqlx::Error::Database(Box::new(Sqlstate("22012"))));
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
