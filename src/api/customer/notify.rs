//! Shipment-update subscriptions of one order: `POST /v1/customer/orders/{order_id}/notify`
//! sets one channel (PUT-like: the same body twice leaves the same state), `GET` lists them.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::accept::{Admission, Admitted, Answer, Intake, accept};
use crate::api::auth::Customer;
use crate::api::extract::Path;
use crate::api::extract::{Json, invalid};
use crate::api::idempotency::IdempotencyKey;
use crate::api::shared::RequestMeta;
use crate::db;
use crate::db::audit::Entry;
use crate::db::subscriptions::{SubscriptionRow, Which};
use crate::domain::ids::OrderId;
use crate::domain::order::Order;
use crate::domain::subscription::Channel;
use crate::error::Result;
use crate::state::AppState;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotifyIn {
    /// `email`, `sms` or `push`.
    pub channel: String,
    /// true to subscribe, false to unsubscribe.
    pub subscribe: bool,
    /// Email address, E.164 phone number (`+14155550123`) or push token. For `email` it
    /// defaults to the order's email; required for `sms` and `push`. Ignored when
    /// unsubscribing.
    #[serde(default)]
    pub destination: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionOut {
    pub channel: String,
    pub subscribed: bool,
    pub destination: Option<String>,
    /// When it last changed; `null` for a channel never set.
    pub updated_at: Option<DateTime<Utc>>,
}

/// Every channel of the order, each subscribed or not.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionsOut {
    #[schema(value_type = String)]
    pub order_id: OrderId,
    pub subscriptions: Vec<SubscriptionOut>,
}

fn subscriptions_view(order_id: &OrderId, rows: Vec<SubscriptionRow>) -> SubscriptionsOut {
    let subscriptions = Channel::ALL
        .into_iter()
        .map(|c| match rows.iter().find(|r| r.channel == c.as_str()) {
            Some(r) => SubscriptionOut {
                channel: r.channel.clone(),
                subscribed: r.subscribed,
                destination: r.destination.clone(),
                updated_at: Some(r.updated_at),
            },
            None => SubscriptionOut {
                channel: c.as_str().into(),
                subscribed: false,
                destination: None,
                updated_at: None,
            },
        })
        .collect();
    SubscriptionsOut {
        order_id: order_id.clone(),
        subscriptions,
    }
}

/// The shipment-update subscriptions of one of the caller's orders.
#[utoipa::path(get, path = "/v1/customer/orders/{order_id}/notify", tag = "customer",
    params(("order_id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = SubscriptionsOut), (status = 401, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem)))]
pub async fn get_subscriptions(
    State(state): State<AppState>,
    who: Customer,
    Path(order_id): Path<OrderId>,
) -> Result<axum::Json<SubscriptionsOut>> {
    let order = who.own_order(&state, &order_id).await?;
    let mut conn = state.db.acquire().await?;
    let rows = db::subscriptions::list(
        &mut conn,
        &who.tenant_id,
        &order.id,
        &who.customer_id,
        Which::All,
    )
    .await?;
    Ok(axum::Json(subscriptions_view(&order.id, rows)))
}

/// Subscribes or unsubscribes one channel to the shipment updates of one of the caller's
/// orders; answers every channel's state. Idempotent by nature; `Idempotency-Key` is
/// honoured (a retry replays the first answer).
#[utoipa::path(post, path = "/v1/customer/orders/{order_id}/notify", tag = "customer",
    params(("order_id" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    request_body = NotifyIn, security(("bearer" = [])),
    responses((status = 200, body = SubscriptionsOut), (status = 401, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn set_subscription(
    State(state): State<AppState>,
    who: Customer,
    meta: RequestMeta,
    key: IdempotencyKey,
    Path(order_id): Path<OrderId>,
    Json(input): Json<NotifyIn>,
) -> Result<Response> {
    let channel = Channel::parse(&input.channel)
        .ok_or_else(|| invalid("channel", "must be one of email, sms, push"))?;
    let order = who.own_order(&state, &order_id).await?;
    let destination = destination(channel, &input, &order)?;
    let key = key.optional_for(&format!("notify:{order_id}"), &input);
    let intake = SubscriptionIntake {
        order: &order,
        channel,
        subscribe: input.subscribe,
        destination,
    };
    // a subscription starts no run: nothing to wait for
    accept(&state, who.caller(&meta), key, intake).await
}

/// Sets one channel of the order's subscriptions and answers them all.
struct SubscriptionIntake<'a> {
    order: &'a Order,
    channel: Channel,
    subscribe: bool,
    /// `None` unsubscribes.
    destination: Option<String>,
}

impl Intake for SubscriptionIntake<'_> {
    type Answer = SubscriptionsOut;

    async fn admit(self, adm: &mut Admission<'_>) -> Result<Admitted<SubscriptionsOut>> {
        let order = self.order;
        let (tenant, customer) = (&order.tenant_id, &order.customer_id);
        let (channel, destination) = (self.channel.as_str(), self.destination.as_deref());
        db::subscriptions::set(
            adm.conn(),
            tenant,
            &order.id,
            customer,
            channel,
            destination,
        )
        .await?;
        adm.audit(Entry {
            action: if self.subscribe {
                "notifications.subscribed"
            } else {
                "notifications.unsubscribed"
            },
            subject_type: "order",
            subject_id: order.id.as_str(),
            reason: None,
            before: None,
            after: Some(serde_json::json!({ "channel": channel })),
            personal_data_of: Some(&order.customer_id),
        })
        .await?;
        let rows =
            db::subscriptions::list(adm.conn(), tenant, &order.id, customer, Which::All).await?;
        Ok(Admitted::done(
            StatusCode::OK,
            subscriptions_view(&order.id, rows),
        ))
    }
}

impl Answer for SubscriptionsOut {}

/// The destination to store: `None` to unsubscribe; validated per channel.
fn destination(channel: Channel, input: &NotifyIn, order: &Order) -> Result<Option<String>> {
    if !input.subscribe {
        return Ok(None);
    }
    let given = input
        .destination
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty());
    let raw = match (given, channel) {
        (Some(d), _) => d,
        (None, Channel::Email) => order.email.as_str(),
        (None, _) => return Err(invalid("destination", "required for sms and push")),
    };
    channel
        .validate_destination(raw)
        .map(Some)
        .map_err(|message| invalid("destination", message))
}
