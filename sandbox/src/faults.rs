//! Fault injection: per-service latency, errors before any effect, and responses lost after
//! the effect. Set through `/sandbox/faults`; held in memory, so each sandbox process has
//! its own and a restart clears them.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::SandboxState;
use super::extract::Body;
use crate::error::{Error, FieldError, Result};
use crate::service::Service;

/// Upper bound of `latency_ms`, so a typo cannot hang a test run.
pub const MAX_LATENCY_MS: u64 = 60_000;

/// The faults of one service.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Faults {
    /// Probability of answering 503 `sandbox.injected_error` before any effect.
    pub error_rate: f64,
    /// Delay before handling each call.
    pub latency_ms: u64,
    /// Probability of doing the effect, then answering 503 `sandbox.lost_response`.
    pub lost_response_rate: f64,
    /// Status of injected errors: 503 (default, retryable) or a 4xx to drill a permanent
    /// failure (e.g. 422, which the caller must not retry).
    pub error_status: u16,
}

/// The faults in force, by service name.
#[derive(Clone, Default)]
pub struct FaultBoard(Arc<RwLock<BTreeMap<&'static str, Faults>>>);

impl FaultBoard {
    fn get(&self, service: Service) -> Option<Faults> {
        self.0.read().ok()?.get(service.name()).copied()
    }
    fn snapshot(&self) -> BTreeMap<&'static str, Faults> {
        self.0.read().map(|m| m.clone()).unwrap_or_default()
    }
    fn set(&self, services: &[Service], faults: Faults) {
        if let Ok(mut m) = self.0.write() {
            for s in services {
                m.insert(s.name(), faults);
            }
        }
    }
    fn clear(&self) {
        if let Ok(mut m) = self.0.write() {
            m.clear();
        }
    }
}

/// The middleware on each service's routes (never on `/sandbox/*`).
pub async fn inject(
    State((board, service)): State<(FaultBoard, Service)>,
    req: Request,
    next: Next,
) -> Response {
    let Some(faults) = board.get(service) else {
        return next.run(req).await;
    };
    if faults.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.latency_ms)).await;
    }
    if rand::random::<f64>() < faults.error_rate {
        let status = axum::http::StatusCode::from_u16(faults.error_status)
            .unwrap_or(axum::http::StatusCode::SERVICE_UNAVAILABLE);
        return Error::new(
            status,
            "sandbox.injected_error",
            "fault injected before the call ran",
        )
        .into_response();
    }
    let res = next.run(req).await;
    if rand::random::<f64>() < faults.lost_response_rate {
        return Error::unavailable(
            "sandbox.lost_response",
            "fault injected: the call ran but its response was dropped",
        )
        .into_response();
    }
    res
}

pub fn routes() -> Router<SandboxState> {
    Router::new().route(
        "/faults",
        get(get_faults).post(set_faults).delete(clear_faults),
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultsIn {
    service: Option<String>,
    error_rate: Option<f64>,
    latency_ms: Option<i64>,
    lost_response_rate: Option<f64>,
    error_status: Option<u16>,
}

/// `GET /sandbox/faults`: the faults in force, by service.
async fn get_faults(State(s): State<SandboxState>) -> Json<BTreeMap<&'static str, Faults>> {
    Json(s.faults.snapshot())
}

/// `POST /sandbox/faults`: sets one service's faults (`"*"` = every service); fields left
/// out are zero.
async fn set_faults(
    State(s): State<SandboxState>,
    Body(input): Body<FaultsIn>,
) -> Result<Json<BTreeMap<&'static str, Faults>>> {
    let (services, faults) = validate(input)?;
    s.faults.set(&services, faults);
    Ok(Json(s.faults.snapshot()))
}

/// `DELETE /sandbox/faults`: clears every fault.
async fn clear_faults(State(s): State<SandboxState>) -> Json<BTreeMap<&'static str, Faults>> {
    s.faults.clear();
    Json(s.faults.snapshot())
}

fn validate(input: FaultsIn) -> Result<(Vec<Service>, Faults)> {
    let mut errors = Vec::new();
    let mut bad = |field: &str, message: String| {
        errors.push(FieldError {
            field: field.into(),
            message,
        })
    };
    let services = match input.service.as_deref() {
        Some("*") => Service::ALL.to_vec(),
        Some(name) => match Service::ALL.into_iter().find(|s| s.name() == name) {
            Some(s) => vec![s],
            None => {
                let known: Vec<_> = Service::ALL.iter().map(|s| s.name()).collect();
                bad(
                    "service",
                    format!("unknown service {name:?}; one of {known:?} or \"*\""),
                );
                vec![]
            }
        },
        None => {
            bad("service", "required: a service name or \"*\"".into());
            vec![]
        }
    };
    let mut rate = |field: &str, value: Option<f64>| {
        let v = value.unwrap_or(0.0);
        if !(0.0..=1.0).contains(&v) {
            bad(field, format!("must be between 0 and 1, got {v}"));
        }
        v
    };
    let error_rate = rate("error_rate", input.error_rate);
    let lost_response_rate = rate("lost_response_rate", input.lost_response_rate);
    let latency = input.latency_ms.unwrap_or(0);
    if !(0..=MAX_LATENCY_MS as i64).contains(&latency) {
        bad(
            "latency_ms",
            format!("must be between 0 and {MAX_LATENCY_MS}, got {latency}"),
        );
    }
    let error_status = input.error_status.unwrap_or(503);
    if !(400..=599).contains(&error_status) {
        bad(
            "error_status",
            format!("must be an HTTP error status (400 to 599), got {error_status}"),
        );
    }
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    let faults = Faults {
        error_rate,
        latency_ms: latency as u64,
        lost_response_rate,
        error_status,
    };
    Ok((services, faults))
}
