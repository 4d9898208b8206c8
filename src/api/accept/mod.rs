//! Accepting work: the one durable transaction behind every mutation that starts a workflow
//! (and every other mutation that must be replayable under an `Idempotency-Key`).
//!
//! [`accept`] owns the sequence end to end: claim the key (or replay its saved answer) →
//! the kind's own rows ([`Intake::admit`], through an [`Admission`] that writes requests,
//! runs with their outbox triggers, and audit records) → save the answer under the key →
//! commit → push the triggers → honour `Prefer: wait`. A handler builds a typed intake and
//! calls it once; it never writes those rows itself.

mod wait;

use std::future::Future;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};

use crate::api::idempotency::{self, Begin, Fresh, IdempotencyKey};
use crate::api::shared::RequestMeta;
use crate::db;
use crate::db::audit::{Actor, Entry};
use crate::db::requests::{NewRequest, OpenedEvent, RequestRow};
use crate::db::runs::RunRow;
use crate::domain::ids::{CustomerId, RequestId, RunId, TenantId};
use crate::domain::order::Order;
use crate::domain::request::RequestStatus;
use crate::error::{Error, Result};
use crate::jobs::{self, NewRun};
use crate::state::AppState;

/// Who asks: the tenant, the principal that scopes idempotency keys and is recorded as a
/// run's `requested_by`, and the audit actor.
#[derive(Debug, Clone)]
pub struct Caller {
    pub tenant_id: TenantId,
    pub principal: String,
    pub actor: Actor,
    /// `Prefer: wait=N`: how long to hold the answer for the run to end.
    pub wait: Option<Duration>,
}

/// The `Idempotency-Key` of a request with the fingerprint of what it asks for.
pub struct Idempotency {
    key: Option<String>,
    fingerprint: String,
}

impl IdempotencyKey {
    /// The key (optional here) for `operation` with `body`: same key and body replay.
    pub fn optional_for(self, operation: &str, body: &impl Serialize) -> Idempotency {
        Idempotency {
            key: self.0,
            fingerprint: idempotency::fingerprint(operation, body),
        }
    }

    /// As [`Self::optional_for`], but a missing key is a 400 (money moves or data goes).
    pub fn required_for(self, operation: &str, body: &impl Serialize) -> Result<Idempotency> {
        self.required_with(idempotency::fingerprint(operation, body))
    }

    /// As [`Self::required_for`], with the fingerprint already made.
    pub fn required_with(self, fingerprint: String) -> Result<Idempotency> {
        let key = self.required()?;
        Ok(Idempotency {
            key: Some(key),
            fingerprint,
        })
    }
}

impl Idempotency {
    /// The key itself, when one was sent.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }
}

/// One kind of mutation: what it writes in the acceptance transaction.
pub trait Intake: Send {
    type Answer: Answer;
    /// Writes this kind's rows (through `adm`) and says what to answer. An error rolls
    /// everything back, the idempotency claim included.
    fn admit(
        self,
        adm: &mut Admission<'_>,
    ) -> impl Future<Output = Result<Admitted<Self::Answer>>> + Send;
}

/// The body of an accepted mutation.
pub trait Answer: Serialize + Send + Sync + Sized {
    /// What a replay under the same `Idempotency-Key` answers instead, when the first answer
    /// held a secret shown once (an API key, a token): saved answers never keep one.
    fn for_replay(&self) -> Option<serde_json::Value> {
        None
    }

    /// The answer once the run it describes has ended (`Prefer: wait`); unchanged by
    /// default, for answers that describe no run.
    fn finished(self, run: &RunRow, db: &PgPool) -> impl Future<Output = Result<Self>> + Send {
        let _ = (run, db);
        async { Ok(self) }
    }
}

/// What [`Intake::admit`] answers.
pub struct Admitted<A> {
    status: StatusCode,
    location: Option<String>,
    answer: A,
    /// The run that `Prefer: wait` waits for.
    wait_for: Option<RunId>,
}

impl<A> Admitted<A> {
    /// 202 with `Location`; `run` is what `Prefer: wait` waits for (none while a request
    /// waits for review).
    pub fn accepted(location: String, answer: A, run: Option<RunId>) -> Self {
        Admitted {
            status: StatusCode::ACCEPTED,
            location: Some(location),
            answer,
            wait_for: run,
        }
    }

    /// A synchronous answer (`201`, `200`): the runs it started go on in the background.
    pub fn done(status: StatusCode, answer: A) -> Self {
        Admitted {
            status,
            location: None,
            answer,
            wait_for: None,
        }
    }
}

/// The open acceptance transaction, as an intake sees it.
pub struct Admission<'a> {
    conn: &'a mut PgConnection,
    state: &'a AppState,
    caller: &'a Caller,
    started: Vec<jobs::Started>,
    /// Requests opened `queued` in this transaction, each with the id its run will take: the
    /// request is written with its run's id (a foreign key checked at commit), so the run's
    /// insert need not update it.
    reserved: Vec<(RequestId, RunId)>,
}

/// A request row to open (see `requests`): one open request per order and kind.
pub struct OpenRequest<'a> {
    pub kind: &'a str,
    /// The order it concerns (for an erasure: the customer, one open per customer).
    pub order_id: &'a str,
    pub customer_id: &'a CustomerId,
    pub status: RequestStatus,
    pub input: serde_json::Value,
    pub decided_by: Option<&'a str>,
    /// The 409 to answer while another request of this kind is open.
    pub already_open: Error,
}

/// A run to start; `request` is moved to `queued` with it.
pub struct StartRun<'a, I> {
    pub workflow: &'a str,
    pub subject_id: &'a str,
    pub customer_id: Option<&'a CustomerId>,
    pub input: &'a I,
    pub request: Option<RequestId>,
    pub decided_by: Option<&'a str>,
}

impl<'a, I> StartRun<'a, I> {
    /// The run that carries out `request` on `order`, visible to the order's customer.
    pub fn for_request(
        workflow: &'a str,
        order: &'a Order,
        input: &'a I,
        request: RequestId,
    ) -> Self {
        StartRun {
            workflow,
            subject_id: order.id.as_str(),
            customer_id: Some(&order.customer_id),
            input,
            request: Some(request),
            decided_by: None,
        }
    }
}

impl Admission<'_> {
    /// The transaction, for the kind's own rows (e.g. `returns`, support messages).
    pub fn conn(&mut self) -> &mut PgConnection {
        self.conn
    }

    pub fn state(&self) -> &AppState {
        self.state
    }

    /// Pushes `run`'s trigger once the transaction committed (a run this intake put back in
    /// its queue; runs it starts with [`Admission::start`] are pushed anyway).
    pub fn dispatch_after_commit(&mut self, run: &RunRow) {
        self.started.push(jobs::Started::from(run));
    }

    pub fn caller(&self) -> &Caller {
        self.caller
    }

    /// Inserts the request with its domain event. An open one whose run already ended is
    /// closed and the insert tried again; one really in progress answers `r.already_open`.
    /// A request opened `queued` names the run that [`Admission::start_run`] must start for
    /// it in this transaction (the commit fails otherwise).
    pub async fn open_request(&mut self, r: OpenRequest<'_>) -> Result<RequestRow> {
        let tenant = &self.caller.tenant_id;
        // `customer.<kind>_requested` when a customer asks, `admin.cancelled` when an agent
        // cancels, `admin.<kind>_requested` otherwise
        let event_type = match (self.caller.actor.kind, r.kind) {
            ("customer", kind) => format!("customer.{kind}_requested"),
            (_, "cancel") => "admin.cancelled".to_string(),
            (_, kind) => format!("admin.{kind}_requested"),
        };
        // an erasure's `order_id` is the customer: no order to file the event under
        let erasure = r.kind == crate::domain::erasure::REQUEST_KIND;
        let run_id = (r.status == RequestStatus::Queued).then(RunId::now_v7);
        let new = NewRequest {
            tenant_id: tenant,
            kind: r.kind,
            order_id: r.order_id,
            customer_id: r.customer_id,
            status: r.status,
            input: &r.input,
            run_id,
            decided_by: r.decided_by,
            event: OpenedEvent {
                type_: &event_type,
                by: &self.caller.principal,
                order_id: (!erasure).then_some(r.order_id),
            },
        };
        let mut row = db::requests::insert(self.conn, &new).await?;
        if row.is_none()
            && db::requests::close_if_run_finished(self.conn, tenant, r.order_id, r.kind).await?
        {
            row = db::requests::insert(self.conn, &new).await?;
        }
        let row = row.ok_or(r.already_open)?;
        if let Some(run_id) = run_id {
            self.reserved.push((row.id, run_id));
        }
        Ok(row)
    }

    /// Writes the run, its steps and its outbox trigger; the trigger is pushed after the
    /// commit.
    pub async fn start_run<I: Serialize + Sync>(&mut self, s: StartRun<'_, I>) -> Result<RunRow> {
        let input = serde_json::to_value(s.input).map_err(anyhow::Error::from)?;
        let new = NewRun {
            tenant_id: self.caller.tenant_id.clone(),
            kind: s.workflow.into(),
            subject_id: Some(s.subject_id.into()),
            customer_id: s.customer_id.cloned(),
            requested_by: self.caller.principal.clone(),
            input,
            correlation_id: self.caller.actor.correlation_id.clone(),
            queue: None,
        };
        let registry = &self.state.workflows;
        let run = match s.request {
            Some(request) => {
                let reserved = self
                    .reserved
                    .iter()
                    .find(|(opened, _)| *opened == request)
                    .map(|(_, run)| *run);
                let carries = jobs::Carries {
                    request,
                    decided_by: s.decided_by,
                    reserved,
                };
                jobs::enqueue_for_request(self.conn, registry, new, carries).await?
            }
            None => jobs::enqueue_for_dispatch(self.conn, registry, new).await?,
        };
        self.started.push(jobs::Started::from(&run));
        Ok(run)
    }

    /// The audit record of this acceptance, by the caller.
    pub async fn audit(&mut self, entry: Entry<'_>) -> Result<()> {
        let (tenant, actor) = (&self.caller.tenant_id, &self.caller.actor);
        db::audit::record(self.conn, tenant, actor, &entry).await?;
        Ok(())
    }
}

/// Accepts `intake` for `caller` in one durable transaction and answers it; see the module
/// documentation for the sequence.
pub async fn accept<K: Intake>(
    state: &AppState,
    caller: Caller,
    key: Idempotency,
    intake: K,
) -> Result<Response> {
    let caller = &caller;
    let mut tx = state.db.begin().await?;
    let fresh = match &key.key {
        Some(k) => {
            let (tenant, principal) = (&caller.tenant_id, &caller.principal);
            match idempotency::begin(&mut tx, tenant, principal, k, &key.fingerprint).await? {
                Begin::Replay(res) => return Ok(res),
                Begin::Fresh(f) => Some(f),
            }
        }
        None => None,
    };
    let mut adm = Admission {
        conn: &mut tx,
        state,
        caller,
        started: Vec::new(),
        reserved: Vec::new(),
    };
    let admitted = intake.admit(&mut adm).await?;
    if let Some((request, _)) = adm
        .reserved
        .iter()
        .find(|(_, run)| !adm.started.iter().any(|s| s.id == *run))
    {
        // an intake's bug: the request would name a run that does not exist
        return Err(anyhow::anyhow!("request {request} was opened queued without its run").into());
    }
    let started = adm.started;
    let res = answer(&mut tx, fresh, &admitted).await?;
    tx.commit().await?;
    for run in started {
        jobs::dispatch(&state.db, &state.queue, &run).await;
    }
    match (admitted.wait_for, caller.wait.filter(|w| !w.is_zero())) {
        (Some(run), Some(wait)) => {
            wait::finished(state, caller, run, wait, admitted.answer, res).await
        }
        _ => Ok(res),
    }
}

/// The response, saved under the key when there is one.
async fn answer<A: Answer>(
    tx: &mut PgConnection,
    fresh: Option<Fresh>,
    a: &Admitted<A>,
) -> Result<Response> {
    let headers: Vec<(String, String)> = a
        .location
        .iter()
        .map(|l| (header::LOCATION.as_str().to_string(), l.clone()))
        .collect();
    if let Some(fresh) = fresh {
        let Some(replay) = a.answer.for_replay() else {
            return fresh.save(tx, a.status, headers, &a.answer).await;
        };
        // saved without the secret; this one answer carries it
        let saved = fresh.save(tx, a.status, headers, &replay).await?;
        let mut res = axum::Json(&a.answer).into_response();
        *res.status_mut() = saved.status();
        for (name, value) in saved.headers() {
            if name != header::CONTENT_LENGTH {
                res.headers_mut().insert(name.clone(), value.clone());
            }
        }
        return Ok(res);
    }
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        if let (Ok(k), Ok(v)) = (HeaderName::try_from(k), HeaderValue::try_from(v)) {
            map.insert(k, v);
        }
    }
    Ok((a.status, map, axum::Json(&a.answer)).into_response())
}

impl crate::api::auth::Customer {
    /// The customer asking for themselves, as [`accept`] takes them.
    pub fn caller(&self, meta: &RequestMeta) -> Caller {
        let mut actor = meta.actor("customer", self.customer_id.as_str(), vec![]);
        actor.on_behalf_of = self.acting_agent.clone();
        Caller {
            tenant_id: self.tenant_id.clone(),
            principal: self.principal(),
            actor,
            wait: meta.wait,
        }
    }
}

impl crate::api::auth::Agent {
    /// The agent acting with their roles, as [`accept`] takes them.
    pub fn caller(&self, meta: &RequestMeta) -> Caller {
        Caller {
            tenant_id: self.tenant_id.clone(),
            principal: self.principal(),
            actor: self.actor(meta),
            wait: meta.wait,
        }
    }

    /// The agent (or API key) as audit records name it.
    pub fn actor(&self, meta: &RequestMeta) -> Actor {
        meta.actor(self.kind(), &self.agent_id, self.role_names())
    }
}

/// The answer to an accepted request: the request to poll and, unless it waits for review,
/// its job (with `Prefer: wait`, the job as it ended, `result` included).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RequestAcceptedOut {
    #[schema(value_type = uuid::Uuid)]
    pub request_id: RequestId,
    /// `pending_review`, or the job's status (`queued` when just accepted).
    pub status: RequestStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job: Option<crate::api::jobs::JobOut>,
}

impl RequestAcceptedOut {
    /// A request waiting for an agent's review: no job yet.
    pub fn pending_review(request_id: RequestId) -> Self {
        RequestAcceptedOut {
            request_id,
            status: RequestStatus::PendingReview,
            job: None,
        }
    }

    /// A request whose run `run` was started (or has ended).
    pub fn with_run(request_id: RequestId, run: &RunRow) -> Self {
        RequestAcceptedOut {
            request_id,
            status: run.status.into(),
            job: Some(crate::api::jobs::JobOut::from_run(run)),
        }
    }
}

impl Admitted<RequestAcceptedOut> {
    /// 202 for a customer's request whose run started: polled at the request.
    pub fn request_started(request_id: RequestId, run: &RunRow) -> Self {
        let answer = RequestAcceptedOut::with_run(request_id, run);
        Admitted::accepted(request_location(request_id), answer, Some(run.id))
    }
}

/// Where a customer polls a request (and its job).
pub fn request_location(request_id: RequestId) -> String {
    format!("/v1/customer/requests/{request_id}")
}

impl Answer for RequestAcceptedOut {
    async fn finished(self, run: &RunRow, _: &PgPool) -> Result<Self> {
        Ok(RequestAcceptedOut::with_run(self.request_id, run))
    }
}
