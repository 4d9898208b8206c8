//! `POST /v1/admin/orders/{order_id}/replay-events`: a job (`replay_events`, queue
//! `events`) re-delivering the order's recorded events, in order and marked
//! `replay: true`, to one webhook or to the events stream.

use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{check_types, done, field};
use crate::api::accept::{Admission, Admitted, Intake, StartRun, accept};
use crate::api::authorized::{Authorized, can};
use crate::api::extract::{Path, Valid, Validate};
use crate::api::idempotency::IdempotencyKey;
use crate::api::jobs::{JobOut, Viewer, admin_location};
use crate::api::shared::RequestMeta;
use crate::db;
use crate::db::audit::Entry;
use crate::domain::ids::OrderId;
use crate::error::{Error, Result};
use crate::events::replay::{ReplayInput, STREAM, WORKFLOW};
use crate::state::AppState;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayIn {
    /// A webhook id of the tenant, or `stream` (the Redis Stream `{prefix}:events`).
    pub target: String,
    /// Only events recorded at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Only events recorded at or before this instant.
    pub to: Option<DateTime<Utc>>,
    /// Only these types; absent or empty: all.
    #[serde(default)]
    pub types: Vec<String>,
}

/// Checks what does not depend on the order; `target` is checked once the order is
/// known to be the tenant's (another tenant's order is a 404 whatever the body).
impl Validate for ReplayIn {
    type Checked = ();

    fn validate(&self) -> Result<()> {
        let mut errors = Vec::new();
        if let (Some(from), Some(to)) = (self.from, self.to)
            && from > to
        {
            errors.push(field("to", "not before `from`".into()));
        }
        check_types(&self.types, &mut errors);
        done(errors)
    }
}

/// `target`: a webhook id (`Some`) or the stream (`None`).
fn target_of(target: &str) -> Result<Option<Uuid>> {
    match Uuid::try_parse(target) {
        Ok(id) => Ok(Some(id)),
        Err(_) if target == STREAM => Ok(None),
        Err(_) => done(vec![field("target", "a webhook id or \"stream\"".into())]).map(|()| None),
    }
}

struct ReplayIntake {
    input: ReplayInput,
    viewer: Viewer,
}

impl Intake for ReplayIntake {
    type Answer = JobOut;

    async fn admit(self, adm: &mut Admission<'_>) -> Result<Admitted<JobOut>> {
        let tenant = adm.caller().tenant_id.clone();
        let order = OrderId::new(self.input.order_id.clone());
        if db::orders::get(adm.conn(), &tenant, &order, None)
            .await?
            .is_none()
        {
            return Err(Error::not_found("order"));
        }
        if let Some(id) = target_of(&self.input.target)?
            && db::webhooks::get(adm.conn(), &tenant, id).await?.is_none()
        {
            return Err(
                Error::unprocessable("replay.unknown_webhook", "no such webhook")
                    .with_errors(vec![field("target", "no webhook of this tenant".into())]),
            );
        }
        let run = adm
            .start_run(StartRun {
                workflow: WORKFLOW,
                subject_id: order.as_str(),
                customer_id: None,
                input: &self.input,
                request: None,
                decided_by: None,
            })
            .await?;
        adm.audit(Entry {
            action: "order.events_replayed",
            subject_type: "order",
            subject_id: order.as_str(),
            reason: None,
            before: None,
            after: Some(json!({ "job_id": run.id, "target": self.input.target })),
            personal_data_of: None,
        })
        .await?;
        let out = JobOut::admin(&run, &self.viewer);
        Ok(Admitted::accepted(
            admin_location(run.id),
            out,
            Some(run.id),
        ))
    }
}

/// Starts a job that re-delivers the order's recorded events, oldest first, each marked
/// `replay: true`, to one webhook or to the events stream (202 with the job). Requires
/// `webhooks.manage`.
#[utoipa::path(post, path = "/v1/admin/orders/{order_id}/replay-events", tag = "admin",
    request_body = ReplayIn, params(("order_id" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    security(("bearer" = ["webhooks.manage"])),
    responses((status = 202, body = JobOut), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn replay_order_events(
    State(state): State<AppState>,
    agent: Authorized<can::WebhooksManage>,
    meta: RequestMeta,
    key: IdempotencyKey,
    Path(order_id): Path<String>,
    Valid { body, .. }: Valid<ReplayIn>,
) -> Result<Response> {
    let key = key.optional_for(&format!("orders.replay_events:{order_id}"), &body);
    let (from, to, types) = (body.from, body.to, body.types);
    let input = ReplayInput {
        order_id,
        target: body.target,
        from,
        to,
        types,
    };
    let viewer = Viewer::of(&agent);
    let intake = ReplayIntake { input, viewer };
    accept(&state, agent.caller(&meta), key, intake).await
}
