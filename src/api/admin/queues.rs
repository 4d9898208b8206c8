//! Agents' work queues: what waits in each (count, oldest item, SLA breaches) and claiming
//! the next item. A claim is atomic — claims on one queue are serialised, so two agents
//! never get the same item — and expires, after which the item can be claimed again.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::api::accept::{Admission, Admitted, Answer, Intake, accept};
use crate::api::authorized::{Authorized, can};
use crate::api::extract::{Path, PathParams, Valid, Validate};
use crate::api::idempotency::IdempotencyKey;
use crate::api::shared::RequestMeta;
use crate::db;
use crate::db::audit::Entry;
use crate::db::queues::{ClaimedItem, QueueCounts, QueueItem};
use crate::domain::ids::TenantId;
use crate::domain::queues::{DEFAULT_CLAIM_MINUTES, MAX_CLAIM_MINUTES, QueueId};
use crate::domain::settings::QueueSlas;
use crate::error::{Error, FieldError, Result};
use crate::state::AppState;

impl PathParams for QueueId {
    type Raw = String;
    fn from_raw(raw: String) -> Result<Self> {
        QueueId::parse(&raw).ok_or_else(|| Error::not_found("queue"))
    }
}

/// One queue as it stands now.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueOut {
    pub queue_id: QueueId,
    pub count: i64,
    /// Items without a live claim.
    pub unclaimed: i64,
    /// When the oldest item entered the queue.
    pub oldest_at: Option<DateTime<Utc>>,
    pub oldest_age_seconds: Option<i64>,
    /// How long an item may wait before it is a breach (the tenant's setting
    /// `sla_minutes.queues.<queue>`).
    pub sla_minutes: i64,
    /// Items waiting longer than `sla_minutes`.
    pub sla_breaches: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QueuesOut {
    /// Every queue, empty ones included, in a fixed order.
    pub data: Vec<QueueOut>,
}

impl QueuesOut {
    fn of(counts: Vec<QueueCounts>, slas: &QueueSlas, now: DateTime<Utc>) -> Self {
        let data = QueueId::ALL
            .into_iter()
            .map(|q| {
                let c = counts.iter().find(|c| c.queue == q.as_str());
                let oldest_at = c.and_then(|c| c.oldest_at);
                QueueOut {
                    queue_id: q,
                    count: c.map_or(0, |c| c.count),
                    unclaimed: c.map_or(0, |c| c.count - c.claimed),
                    oldest_at,
                    oldest_age_seconds: oldest_at.map(|t| (now - t).num_seconds().max(0)),
                    sla_minutes: slas.of(q),
                    sla_breaches: c.map_or(0, |c| c.sla_breaches),
                }
            })
            .collect();
        QueuesOut { data }
    }
}

async fn queues_of(state: &AppState, tenant_id: &TenantId) -> Result<QueuesOut> {
    let mut conn = state.db.acquire().await?;
    let slas = db::tenants::settings(&mut conn, tenant_id)
        .await?
        .sla_minutes
        .queues;
    let counts = db::queues::counts(&mut conn, tenant_id, &slas).await?;
    Ok(QueuesOut::of(counts, &slas, Utc::now()))
}

/// The work queues: `fraud_review` (orders in fraud review), `cancel_review` (customers'
/// cancel requests waiting for an agent), `cases` (open cases whose newest message is the
/// customer's), `tasks` (open tasks), each with its count, unclaimed items, oldest item and
/// SLA breaches (against the tenant's `sla_minutes.queues` settings). Requires `orders.read`.
#[utoipa::path(get, path = "/v1/admin/queues", tag = "admin",
    security(("bearer" = ["orders.read"])),
    responses((status = 200, body = QueuesOut), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem)))]
pub async fn list_queues(
    State(state): State<AppState>,
    agent: Authorized<can::OrdersRead>,
) -> Result<Json<QueuesOut>> {
    Ok(Json(queues_of(&state, &agent.tenant_id).await?))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimIn {
    /// 1 to 240 (default 15): how long the claim lasts; then the item is back in its queue.
    #[serde(default)]
    pub ttl_minutes: Option<i64>,
    /// Answer the item a claim would take, without claiming it.
    #[serde(default)]
    pub dry_run: bool,
}

impl Validate for ClaimIn {
    /// The claim's length in minutes.
    type Checked = i64;

    fn validate(&self) -> Result<i64> {
        match self.ttl_minutes {
            Some(m) if !(1..=MAX_CLAIM_MINUTES).contains(&m) => {
                Err(Error::validation(vec![FieldError {
                    field: "ttl_minutes".into(),
                    message: format!("from 1 to {MAX_CLAIM_MINUTES}"),
                }]))
            }
            m => Ok(m.unwrap_or(DEFAULT_CLAIM_MINUTES)),
        }
    }
}

/// The item claimed, or `null` when the queue has nothing unclaimed.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClaimOut {
    pub queue_id: QueueId,
    pub item: Option<ClaimedItem>,
}

impl Answer for ClaimOut {}

/// The answer to `dry_run: true`: the item a claim would take now.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClaimDryRunOut {
    pub dry_run: bool,
    pub queue_id: QueueId,
    pub next: Option<QueueItem>,
}

struct ClaimIntake {
    queue: QueueId,
    minutes: i64,
}

impl Intake for ClaimIntake {
    type Answer = ClaimOut;

    async fn admit(self, adm: &mut Admission<'_>) -> Result<Admitted<ClaimOut>> {
        let (queue, tenant) = (self.queue, adm.caller().tenant_id.clone());
        let agent = adm.caller().principal.clone();
        db::queues::lock_queue(adm.conn(), &tenant, queue).await?;
        let item = match db::queues::oldest_unclaimed(adm.conn(), &tenant, queue).await? {
            Some(next) => {
                let claimed =
                    db::queues::claim(adm.conn(), &tenant, queue, next, &agent, self.minutes);
                claimed.await?
            }
            None => None,
        };
        if let Some(item) = &item {
            adm.audit(Entry {
                action: "queue.claim",
                subject_type: queue.as_str(),
                subject_id: &item.item_id,
                reason: None,
                before: None,
                after: Some(json!({ "expires_at": item.expires_at, "order_id": item.order_id })),
                personal_data_of: None,
            })
            .await?;
        }
        Ok(Admitted::done(
            StatusCode::OK,
            ClaimOut {
                queue_id: queue,
                item,
            },
        ))
    }
}

async fn claim_next(
    state: &AppState,
    agent: &Authorized<can::QueuesWork>,
    meta: &RequestMeta,
    key: IdempotencyKey,
    (queue, body, minutes): (QueueId, &ClaimIn, i64),
) -> Result<Response> {
    if body.dry_run {
        let mut conn = state.db.acquire().await?;
        let next = db::queues::oldest_unclaimed(&mut conn, &agent.tenant_id, queue).await?;
        let out = ClaimDryRunOut {
            dry_run: true,
            queue_id: queue,
            next,
        };
        return Ok(Json(out).into_response());
    }
    let key = key.optional_for(&format!("claim:{}", queue.as_str()), body);
    let intake = ClaimIntake { queue, minutes };
    accept(state, agent.caller(meta), key, intake).await
}

/// Claims the queue's oldest item without a live claim for the caller, for `ttl_minutes`
/// (default 15). Always 200: `item` is `null` when nothing is left to claim. Claims on one
/// queue are serialised, so two agents never get the same item; an expired claim's item can
/// be claimed again. Unknown queue → 404 `queue.not_found`. Requires `queues.work`; an
/// `Idempotency-Key` replays the same claim.
#[utoipa::path(post, path = "/v1/admin/queues/{queue_id}/claim", tag = "admin",
    params(("queue_id" = String, Path), ("Idempotency-Key" = Option<String>, Header)), request_body = ClaimIn, security(("bearer" = ["queues.work"])),
    responses((status = 200, body = ClaimOut), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn claim_item(
    State(state): State<AppState>,
    agent: Authorized<can::QueuesWork>,
    meta: RequestMeta,
    key: IdempotencyKey,
    Path(queue): Path<QueueId>,
    Valid { body, checked }: Valid<ClaimIn>,
) -> Result<Response> {
    claim_next(&state, &agent, &meta, key, (queue, &body, checked)).await
}
