//! `expand=` of the admin order view: what an agent inspecting an order asks for beside its
//! document. An expansion that shows what a dedicated endpoint guards needs that endpoint's
//! permission (`audit`, `payments`, `reconciliation`), and `audit` is access-recorded as
//! the audit trail is. Payments and reconciliation ask the upstreams (read-only,
//! `UpstreamReader`); an upstream failure is shown in the expansion, never failing the read.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::order_audit;
use crate::api::auth::Agent;
use crate::api::extract::Validate;
use crate::api::shared::RequestMeta;
use crate::auth::Permission;
use crate::db;
use crate::db::audit::{AuditFilter, AuditPage, AuditRow};
use crate::db::raw_events::RawEvent;
use crate::domain::fulfillment::FulfillmentView;
use crate::domain::ids::TenantId;
use crate::domain::order::{Order, Payment};
use crate::domain::reconcile::{self, Difference, VersionStanding};
use crate::domain::timeline::{self, TimelineEntry};
use crate::error::{Error, FieldError, Result};
use crate::state::AppState;
use crate::upstream::UpstreamError;

/// Audit records `expand=audit` shows (the newest); `/audit` pages through all of them.
const AUDIT_IN_VIEW: i64 = 50;
/// Recorded upstream events `expand=raw_events` shows (the newest).
const RAW_EVENTS_IN_VIEW: i64 = 100;
/// Events the timeline of `expand=events` reads at most, as the customer's timeline does.
const TIMELINE_EVENTS: i64 = 500;

/// The expansions, in the order `allowed` lists them.
const KNOWN: [&str; 6] = [
    "payments",
    "fulfillment",
    "audit",
    "events",
    "raw_events",
    "reconciliation",
];

/// The expansions that need more than `orders.read`: the permission of the endpoint that
/// answers the same data (`/payments`, `/audit`, `/reconciliation`).
const GUARDED: [(&str, Permission); 3] = [
    ("payments", Permission::PaymentsRead),
    ("audit", Permission::AuditRead),
    ("reconciliation", Permission::Reconcile),
];

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GetOrderQuery {
    /// Comma-separated, any of `payments`, `fulfillment`, `audit`, `events`, `raw_events`,
    /// `reconciliation`; repeats are ignored, an unknown name is 422 `expand.unknown`.
    /// `payments` needs `payments.read`, `audit` `audit.read`, `reconciliation`
    /// `reconcile` (403 `auth.forbidden` naming it otherwise).
    pub expand: Option<String>,
}

/// The expansions asked for: each a name of [`KNOWN`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expansions(BTreeSet<&'static str>);

impl Expansions {
    fn has(&self, name: &str) -> bool {
        self.0.contains(name)
    }

    /// The names asked for, in [`KNOWN`]'s order: what the access record lists.
    pub fn names(&self) -> Vec<&'static str> {
        KNOWN.into_iter().filter(|k| self.has(k)).collect()
    }

    /// 403 `auth.forbidden`, as the expansion's own endpoint answers, when `agent` lacks the
    /// permission of an expansion asked for ([`GUARDED`]).
    pub fn require(&self, agent: &Agent) -> Result<()> {
        GUARDED
            .iter()
            .filter(|(name, _)| self.has(name))
            .try_for_each(|(_, permission)| agent.require(*permission))
    }
}

impl Validate for GetOrderQuery {
    type Checked = Expansions;

    fn validate(&self) -> Result<Expansions> {
        let mut known = BTreeSet::new();
        let mut unknown = Vec::new();
        let parts = self
            .expand
            .as_deref()
            .unwrap_or("")
            .split(',')
            .map(str::trim);
        for part in parts.filter(|p| !p.is_empty()) {
            match KNOWN.iter().find(|k| **k == part) {
                Some(k) => {
                    known.insert(*k);
                }
                None => unknown.push(part.to_string()),
            }
        }
        if unknown.is_empty() {
            return Ok(Expansions(known));
        }
        let detail = format!(
            "unknown expansion(s) {}; known: {}",
            unknown.join(", "),
            KNOWN.join(", ")
        );
        let errors = unknown
            .iter()
            .map(|u| FieldError {
                field: "expand".into(),
                message: format!("unknown expansion {u:?}"),
            })
            .collect();
        Err(Error::unprocessable("expand.unknown", detail)
            .with_errors(errors)
            .with_extra("unknown", serde_json::json!(unknown))
            .with_extra("allowed", serde_json::json!(KNOWN)))
    }
}

/// An upstream call that failed, as the expansion shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UpstreamFailure {
    /// e.g. `upstream.timeout`, `upstream.unreachable`, or the service's own code.
    pub code: String,
    pub detail: String,
}

impl From<&UpstreamError> for UpstreamFailure {
    fn from(e: &UpstreamError) -> Self {
        let p = e.problem();
        UpstreamFailure {
            code: p.code.clone(),
            detail: p.detail.clone(),
        }
    }
}

/// One payment as the Payments service says it is now.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UpstreamPayment {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment: Option<Payment>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<UpstreamFailure>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PaymentsOut {
    /// As the read model holds them (inside the order document).
    pub payments: Vec<Payment>,
    /// Each payment read from the Payments service now.
    pub upstream: Vec<UpstreamPayment>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditPageOut {
    /// The order's newest audit records, newest first.
    pub data: Vec<AuditRow>,
    /// Older records exist: `GET /v1/admin/orders/{order_id}/audit` pages through them.
    pub has_more: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RawEventsOut {
    /// The newest recorded upstream events, newest first, with their payloads.
    pub data: Vec<RawEvent>,
    pub has_more: bool,
}

/// The read model against the Orders service now. With `error` set the service could not
/// be asked, and only `read_model_version` is known.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReconciliationOut {
    pub read_model_version: i64,
    pub upstream_version: Option<i64>,
    pub version: Option<VersionStanding>,
    /// The top-level fields of the document that differ.
    pub differences: Vec<Difference>,
    pub error: Option<UpstreamFailure>,
}

/// Each expansion asked for under its name; absent when not asked for.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct OrderExpansions {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payments: Option<PaymentsOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fulfillment: Option<FulfillmentView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit: Option<AuditPageOut>,
    /// The order's timeline, oldest first, as the customer's timeline builds it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<TimelineEntry>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw_events: Option<RawEventsOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reconciliation: Option<ReconciliationOut>,
}

/// Reads every expansion in `asked` for `order` of `agent`'s tenant (its permissions checked
/// by [`Expansions::require`]): the database's first, then the upstreams' at the same time.
pub async fn read(
    state: &AppState,
    agent: &Agent,
    meta: &RequestMeta,
    order: &Order,
    asked: &Expansions,
) -> Result<OrderExpansions> {
    let mut out = from_database(state, agent, meta, order, asked).await?;
    let tenant = &agent.tenant_id;
    out.fulfillment = asked.has("fulfillment").then(|| FulfillmentView::of(order));
    let (payments, reconciliation) = tokio::join!(
        async {
            match asked.has("payments") {
                true => Some(payments(state, tenant, order).await),
                false => None,
            }
        },
        async {
            match asked.has("reconciliation") {
                true => Some(reconciliation(state, tenant, order).await),
                false => None,
            }
        },
    );
    out.payments = payments;
    out.reconciliation = reconciliation;
    Ok(out)
}

async fn from_database(
    state: &AppState,
    agent: &Agent,
    meta: &RequestMeta,
    order: &Order,
    asked: &Expansions,
) -> Result<OrderExpansions> {
    let mut out = OrderExpansions::default();
    if asked.has("audit") {
        // the records and their access record (`order.audit_viewed`) in a transaction of
        // their own, as the audit trail reads them
        let filter = AuditFilter {
            page: AuditPage::Newest {
                limit: AUDIT_IN_VIEW + 1,
            },
            ..AuditFilter::default()
        };
        let (data, has_more) =
            order_audit::read_recorded(state, agent, meta, &order.id, &filter).await?;
        out.audit = Some(AuditPageOut { data, has_more });
    }
    if !(asked.has("events") || asked.has("raw_events")) {
        return Ok(out);
    }
    let tenant = &agent.tenant_id;
    let mut conn = state.db.acquire().await?;
    if asked.has("events") {
        let read = db::orders::get_for_read(&mut conn, tenant, &order.id, None, TIMELINE_EVENTS)
            .await?
            .ok_or_else(|| Error::not_found("order"))?;
        out.events = Some(timeline::build(&read.order, &read.events));
    }
    if asked.has("raw_events") {
        let fetch = RAW_EVENTS_IN_VIEW + 1;
        let mut data =
            db::raw_events::newest_for_order(&mut conn, tenant, &order.id, fetch).await?;
        let has_more = data.len() as i64 > RAW_EVENTS_IN_VIEW;
        data.truncate(RAW_EVENTS_IN_VIEW as usize);
        out.raw_events = Some(RawEventsOut { data, has_more });
    }
    Ok(out)
}

/// The read model's payments, and each as the Payments service says now (asked at once).
async fn payments(state: &AppState, tenant: &TenantId, order: &Order) -> PaymentsOut {
    let asks = order.payments.iter().map(|p| async move {
        match state.upstream.get_payment(tenant, &p.id).await {
            Ok(payment) => UpstreamPayment {
                id: p.id.clone(),
                payment: Some(payment),
                error: None,
            },
            Err(e) => UpstreamPayment {
                id: p.id.clone(),
                payment: None,
                error: Some(UpstreamFailure::from(&e)),
            },
        }
    });
    PaymentsOut {
        payments: order.payments.clone(),
        upstream: futures::future::join_all(asks).await,
    }
}

async fn reconciliation(state: &AppState, tenant: &TenantId, order: &Order) -> ReconciliationOut {
    match state.upstream.get_order(tenant, &order.id).await {
        Ok(upstream) => {
            let c = reconcile::compare(order, &upstream);
            ReconciliationOut {
                read_model_version: c.read_model_version,
                upstream_version: Some(c.upstream_version),
                version: Some(c.version),
                differences: c.differences,
                error: None,
            }
        }
        Err(e) => ReconciliationOut {
            read_model_version: order.version,
            upstream_version: None,
            version: None,
            differences: vec![],
            error: Some(UpstreamFailure::from(&e)),
        },
    }
}
