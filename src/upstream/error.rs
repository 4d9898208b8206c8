//! How an upstream call fails, classified as `docs/upstream-contract.md` says: permanent
//! (retrying cannot help) or retryable, keeping the service's problem `code` and never the
//! URL, which names internal hosts.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::config::Service;
use crate::error::{Problem, problem};

/// Why an upstream call failed, classified as the contract says.
#[derive(Debug, Clone, thiserror::Error)]
pub enum UpstreamError {
    /// 404, 409, 422 (and other 4xx): retrying cannot help. Keeps the upstream's `code`.
    #[error("permanent upstream error {}: {}", .0.code, .0.detail)]
    Permanent(Box<Problem>),
    /// 408, 429, 5xx, timeouts and transport errors.
    #[error("retryable upstream error {}: {}", .0.code, .0.detail)]
    Retryable(Box<Problem>),
}

impl UpstreamError {
    pub fn problem(&self) -> &Problem {
        match self {
            UpstreamError::Permanent(p) | UpstreamError::Retryable(p) => p,
        }
    }
    pub fn is_retryable(&self) -> bool {
        matches!(self, UpstreamError::Retryable(_))
    }
    /// A permanent 404: the service does not know the resource.
    pub fn is_not_found(&self) -> bool {
        matches!(self, UpstreamError::Permanent(p) if p.status == StatusCode::NOT_FOUND.as_u16())
    }
    /// The error with the name of the service that failed in its problem's `service`
    /// member, so a step's stored error says which upstream it was (the console's KPI page
    /// counts failures by it). Replaces a `service` member the upstream itself sent.
    pub(super) fn named_for(mut self, service: Service) -> UpstreamError {
        let (UpstreamError::Permanent(p) | UpstreamError::Retryable(p)) = &mut self;
        p.extra.insert(SERVICE.into(), Value::from(service.name()));
        self
    }
}

/// The member of an upstream error's problem that names the service.
pub const SERVICE: &str = "service";

/// What callers see (stored on the step and the run) is a code and a sentence; the URL and
/// reqwest's text, which name internal hosts, go to the log only.
pub(super) fn transport_error(url: &str, e: &reqwest::Error) -> UpstreamError {
    let (code, detail) = if e.is_timeout() {
        (
            "upstream.timeout",
            "an upstream service did not answer in time",
        )
    } else {
        (
            "upstream.unreachable",
            "an upstream service could not be reached",
        )
    };
    tracing::warn!(url, error = %format!("{e:#}"), code, "upstream call failed");
    UpstreamError::Retryable(Box::new(problem(StatusCode::BAD_GATEWAY, code, detail)))
}

/// Maps a non-2xx answer per the contract, keeping the upstream's problem `code`.
pub(super) fn classify(
    status: StatusCode,
    body: &[u8],
    method: &Method,
    url: &str,
) -> UpstreamError {
    let upstream: Option<Value> = serde_json::from_slice(body).ok();
    let field = |k: &str| {
        upstream
            .as_ref()
            .and_then(|v| v.get(k))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let code = field("code").unwrap_or_else(|| format!("upstream.http_{}", status.as_u16()));
    let detail = field("detail").unwrap_or_else(|| {
        tracing::warn!(%method, url, %status, "upstream answered an error without a problem body");
        format!("an upstream service answered {status}")
    });
    let mut p = problem(status, &code, detail);
    if let Some(Value::Object(map)) = upstream {
        for (k, v) in map {
            if !matches!(
                k.as_str(),
                "type" | "title" | "status" | "detail" | "code" | "request_id"
            ) {
                p.extra.insert(k, v);
            }
        }
    }
    let retryable = status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error();
    if retryable {
        UpstreamError::Retryable(Box::new(p))
    } else {
        UpstreamError::Permanent(Box::new(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_classes_follow_the_contract() {
        let body = br#"{"status":409,"code":"order.not_cancellable","detail":"shipped"}"#;
        let e = classify(StatusCode::CONFLICT, body, &Method::POST, "u");
        assert!(!e.is_retryable());
        assert_eq!(e.problem().code, "order.not_cancellable");
        for s in [404, 422] {
            let e = classify(StatusCode::from_u16(s).unwrap(), b"", &Method::GET, "u");
            assert!(!e.is_retryable(), "{s}");
        }
        for s in [408, 429, 500, 502, 503] {
            let e = classify(
                StatusCode::from_u16(s).unwrap(),
                b"not json",
                &Method::GET,
                "u",
            );
            assert!(e.is_retryable(), "{s}");
            assert_eq!(e.problem().code, format!("upstream.http_{s}"));
        }
    }

    #[test]
    fn an_answer_without_a_problem_body_does_not_name_the_url() {
        let url = "http://payments.internal:9000/v1/payments/p1/refunds";
        let e = classify(StatusCode::BAD_GATEWAY, b"<html>", &Method::POST, url);
        let detail = &e.problem().detail;
        assert!(
            detail.contains("502") && !detail.contains("payments.internal"),
            "{detail}"
        );
    }
}
