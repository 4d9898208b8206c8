//! The request log: the newest calls each service received, as they arrived on the wire
//! (raw path and query, and the headers a caller is judged by: tenant, `Idempotency-Key`,
//! W3C `traceparent`), read back at `GET /sandbox/requests`. Held in memory per process,
//! like the faults, so a test sees exactly the calls its own sandbox received.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{Value, json};

use super::SandboxState;
use crate::service::Service;

/// Calls kept; older ones are forgotten.
const CAPACITY: usize = 1000;

/// One call as it arrived.
#[derive(Debug, Clone, Serialize)]
pub struct SeenRequest {
    pub service: &'static str,
    pub method: String,
    /// The path below the service's prefix, still percent-encoded.
    pub path: String,
    pub query: Option<String>,
    pub tenant: Option<String>,
    pub idempotency_key: Option<String>,
    pub traceparent: Option<String>,
    pub correlation_id: Option<String>,
}

impl SeenRequest {
    fn of(service: Service, req: &Request) -> SeenRequest {
        let header = |name: &str| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        SeenRequest {
            service: service.name(),
            method: req.method().to_string(),
            path: req.uri().path().to_string(),
            query: req.uri().query().map(str::to_string),
            tenant: header("x-tenant-id"),
            idempotency_key: header("idempotency-key"),
            traceparent: header("traceparent"),
            correlation_id: header("x-correlation-id"),
        }
    }
}

/// The newest [`CAPACITY`] calls, oldest first.
#[derive(Clone, Default)]
pub struct RequestLog(Arc<Mutex<VecDeque<SeenRequest>>>);

impl RequestLog {
    fn push(&self, seen: SeenRequest) {
        if let Ok(mut log) = self.0.lock() {
            if log.len() == CAPACITY {
                log.pop_front();
            }
            log.push_back(seen);
        }
    }
    fn snapshot(&self) -> Vec<SeenRequest> {
        self.0
            .lock()
            .map(|log| log.iter().cloned().collect())
            .unwrap_or_default()
    }
    fn clear(&self) {
        if let Ok(mut log) = self.0.lock() {
            log.clear();
        }
    }
}

/// The middleware on each service's routes (outside fault injection, so that a call
/// answered by an injected fault is logged too).
pub async fn record(
    State((log, service)): State<(RequestLog, Service)>,
    req: Request,
    next: Next,
) -> Response {
    log.push(SeenRequest::of(service, &req));
    next.run(req).await
}

pub fn routes() -> Router<SandboxState> {
    Router::new().route("/requests", get(list_requests).delete(clear_requests))
}

/// `GET /sandbox/requests`: `{"data":[{"service","method","path","query","tenant",
/// "idempotency_key","traceparent"}]}`, oldest first, of every tenant.
async fn list_requests(State(s): State<SandboxState>) -> Json<Value> {
    Json(json!({ "data": s.requests.snapshot() }))
}

/// `DELETE /sandbox/requests`: forgets every call logged so far.
async fn clear_requests(State(s): State<SandboxState>) -> Json<Value> {
    s.requests.clear();
    Json(json!({ "data": [] }))
}
