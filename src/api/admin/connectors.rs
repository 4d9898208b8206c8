//! The upstream services as connectors: each one's health and latency (probed now) and when
//! it last delivered, and a re-sync of one order into the read model as a run — from the
//! Orders service (the whole order) or from the Fulfillment service (its shipments).

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::api::accept::{Admission, Admitted, Answer, Intake, StartRun, accept};
use crate::api::authorized::{Authorized, can};
use crate::api::extract::{Path, Valid, Validate};
use crate::api::idempotency::IdempotencyKey;
use crate::api::jobs::{JobOut, admin_location};
use crate::api::shared::RequestMeta;
use crate::config::Service;
use crate::db;
use crate::db::audit::Entry;
use crate::db::runs::RunRow;
use crate::domain::ids::OrderId;
use crate::domain::order::Order;
use crate::error::{Error, FieldError, Result};
use crate::state::AppState;
use crate::upstream::Probe;

/// The workflow that re-syncs an order from `service` into the read model, if it can.
fn resync_workflow(service: Service) -> Option<&'static str> {
    match service {
        Service::Orders => Some("resync_order"),
        Service::Fulfillment => Some("resync_fulfillment"),
        _ => None,
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectorOut {
    /// The service: `orders`, `payments`, `inventory`, `fulfillment`, `billing`,
    /// `notifications`, `tracking`, `promotions`.
    pub id: &'static str,
    #[serde(flatten)]
    pub probe: Probe,
    pub checked_at: DateTime<Utc>,
    /// When it last delivered to this tenant: the newest event received from the Orders
    /// service; `null` for services that send none.
    pub last_sync_at: Option<DateTime<Utc>>,
    /// Whether `POST /v1/admin/connectors/{id}/run` can re-sync from it (`orders`,
    /// `fulfillment`).
    pub resync: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectorListOut {
    pub data: Vec<ConnectorOut>,
}

/// Every connector, probed now (within two seconds each, all at once). Requires `jobs.read`.
#[utoipa::path(get, path = "/v1/admin/connectors", tag = "admin", security(("bearer" = ["jobs.read"])),
    responses((status = 200, body = ConnectorListOut), (status = 403, body = crate::error::Problem)))]
pub async fn list_connectors(
    State(state): State<AppState>,
    agent: Authorized<can::JobsRead>,
) -> Result<Json<ConnectorListOut>> {
    let probes = futures::future::join_all(Service::ALL.map(|s| state.upstream.probe(s))).await;
    let mut conn = state.db.acquire().await?;
    let last_event = db::orders::last_event_received(&mut conn, &agent.tenant_id).await?;
    let data = Service::ALL
        .into_iter()
        .zip(probes)
        .map(|(service, probe)| ConnectorOut {
            id: service.name(),
            probe,
            checked_at: Utc::now(),
            last_sync_at: (service == Service::Orders).then_some(last_event).flatten(),
            resync: resync_workflow(service).is_some(),
        })
        .collect();
    Ok(Json(ConnectorListOut { data }))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectorRunIn {
    /// The order to read again.
    pub order_id: String,
}

impl Validate for ConnectorRunIn {
    type Checked = OrderId;

    fn validate(&self) -> Result<OrderId> {
        OrderId::parse(&self.order_id).map_err(|e| {
            Error::validation(vec![FieldError {
                field: "order_id".into(),
                message: e.rule.to_string(),
            }])
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectorRunOut {
    pub connector: String,
    #[schema(value_type = String)]
    pub order_id: OrderId,
    pub job: JobOut,
}

impl Answer for ConnectorRunOut {
    async fn finished(self, run: &RunRow, _: &sqlx::PgPool) -> Result<Self> {
        Ok(ConnectorRunOut {
            job: JobOut::from_run(run),
            ..self
        })
    }
}

struct ResyncIntake<'a> {
    order: &'a Order,
    service: Service,
    workflow: &'static str,
}

impl Intake for ResyncIntake<'_> {
    type Answer = ConnectorRunOut;

    async fn admit(self, adm: &mut Admission<'_>) -> Result<Admitted<ConnectorRunOut>> {
        let (order, connector) = (self.order, self.service.name());
        let input = json!({ "order_id": order.id });
        let run = adm
            .start_run(StartRun {
                workflow: self.workflow,
                subject_id: order.id.as_str(),
                customer_id: None,
                input: &input,
                request: None,
                decided_by: None,
            })
            .await?;
        adm.audit(Entry {
            action: "connector.run",
            subject_type: "order",
            subject_id: order.id.as_str(),
            reason: None,
            before: None,
            after: Some(json!({ "connector": connector, "run_id": run.id })),
            personal_data_of: None,
        })
        .await?;
        let answer = ConnectorRunOut {
            connector: connector.into(),
            order_id: order.id.clone(),
            job: JobOut::from_run(&run),
        };
        Ok(Admitted::accepted(
            admin_location(run.id),
            answer,
            Some(run.id),
        ))
    }
}

/// The connector `id` and its re-sync workflow: 404 for no such connector, 422 for one that
/// cannot re-sync.
fn resyncable(id: &str) -> Result<(Service, &'static str)> {
    let service = Service::ALL
        .into_iter()
        .find(|s| s.name() == id)
        .ok_or_else(|| Error::not_found("connector"))?;
    let workflow = resync_workflow(service).ok_or_else(|| {
        Error::unprocessable(
            "connector.resync_unsupported",
            "only the orders (an order) and fulfillment (its shipments) connectors re-sync \
             into the read model",
        )
    })?;
    Ok((service, workflow))
}

/// Re-syncs one order from the connector into the read model, as a run (202 with the job):
/// `orders` reads the whole order from the Orders service, `fulfillment` its shipments from
/// the Fulfillment service; any other connector is 422 `connector.resync_unsupported`.
/// Requires `reconcile` and `Idempotency-Key`.
#[utoipa::path(post, path = "/v1/admin/connectors/{connector_id}/run", tag = "admin",
    params(("connector_id" = String, Path), ("Idempotency-Key" = String, Header)), request_body = ConnectorRunIn,
    security(("bearer" = ["reconcile"])),
    responses((status = 202, body = ConnectorRunOut), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn run_connector(
    State(state): State<AppState>,
    agent: Authorized<can::Reconcile>,
    meta: RequestMeta,
    key: IdempotencyKey,
    Path(connector_id): Path<String>,
    Valid { body, checked }: Valid<ConnectorRunIn>,
) -> Result<Response> {
    let (service, workflow) = resyncable(&connector_id)?;
    let order = agent.tenant_order(&state, &checked).await?;
    let key = key.required_for(&format!("connector:{connector_id}"), &body)?;
    let (order, caller) = (&order, agent.caller(&meta));
    let intake = ResyncIntake {
        order,
        service,
        workflow,
    };
    accept(&state, caller, key, intake).await
}
