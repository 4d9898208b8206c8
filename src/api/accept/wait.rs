//! `Prefer: wait=N` after an acceptance: hold the answer until the run ends (200 with the
//! finished answer) or the wait runs out (the 202 as accepted). Each waiting call holds a
//! connection now and then and a task throughout, so a principal may have only
//! [`MAX_WAITS_PER_PRINCIPAL`] of them at once in a process; past that the preference is
//! not honoured (RFC 7240 lets a server ignore it) and the 202 goes out at once.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::Response;

use super::{Answer, Caller};
use crate::db;
use crate::domain::ids::{RunId, TenantId};
use crate::error::Result;
use crate::state::AppState;

/// Waiting calls one principal of one tenant may hold in one process.
pub const MAX_WAITS_PER_PRINCIPAL: usize = 4;

static WAITING: LazyLock<Mutex<HashMap<(TenantId, String), usize>>> =
    LazyLock::new(Default::default);

/// A place among a principal's waiting calls, given back on drop.
struct Place((TenantId, String));

impl Place {
    fn take(caller: &Caller) -> Option<Place> {
        let key = (caller.tenant_id.clone(), caller.principal.clone());
        let mut waiting = WAITING.lock().unwrap_or_else(|e| e.into_inner());
        let n = waiting.entry(key.clone()).or_default();
        if *n >= MAX_WAITS_PER_PRINCIPAL {
            return None;
        }
        *n += 1;
        Some(Place(key))
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut waiting = WAITING.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = waiting.get_mut(&self.0) {
            *n -= 1;
            if *n == 0 {
                waiting.remove(&self.0);
            }
        }
    }
}

pub(super) async fn finished<A: Answer>(
    state: &AppState,
    caller: &Caller,
    run_id: RunId,
    wait: Duration,
    answer: A,
    accepted: Response,
) -> Result<Response> {
    let Some(_place) = Place::take(caller) else {
        return Ok(accepted);
    };
    let run = db::runs::wait_finished(&state.db, &caller.tenant_id, run_id, wait).await?;
    let Some(run) = run.filter(|r| r.status().is_terminal()) else {
        return Ok(accepted);
    };
    let answer = answer.finished(&run, &state.db).await?;
    let body = serde_json::to_vec(&answer).map_err(anyhow::Error::from)?;
    let (parts, _) = accepted.into_parts();
    let mut res = Response::from_parts(parts, Body::from(body));
    *res.status_mut() = StatusCode::OK;
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::audit::Actor;

    fn caller(principal: &str) -> Caller {
        Caller {
            tenant_id: TenantId::new("t_wait_places"),
            principal: principal.into(),
            actor: Actor::default(),
            wait: None,
        }
    }

    #[test]
    fn a_principal_holds_a_bounded_number_of_places() {
        let alice = caller("customer:alice");
        let places: Vec<Place> = (0..MAX_WAITS_PER_PRINCIPAL)
            .map(|_| Place::take(&alice).expect("a place"))
            .collect();
        assert!(Place::take(&alice).is_none(), "one more than the bound");
        assert!(
            Place::take(&caller("customer:bob")).is_some(),
            "others unaffected"
        );
        drop(places);
        assert!(Place::take(&alice).is_some(), "places come back on drop");
    }
}
