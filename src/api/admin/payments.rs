//! An order's payments as the Payments service says they are now (an explicit live read):
//! captures, refunds, settlement, and what can still be refunded once the refunds still
//! running are counted. Also how the refund and capture endpoints find a payment: through
//! the read model's orders, so another tenant's payment is a 404.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use super::order_expand::UpstreamFailure;
use crate::api::auth::Agent;
use crate::api::authorized::{Authorized, can};
use crate::api::extract::Path;
use crate::db;
use crate::domain::ids::{OrderId, PaymentId, TenantId};
use crate::domain::order::{Order, Payment};
use crate::domain::payments::refundable_now;
use crate::error::{Error, Result};
use crate::state::AppState;

impl Agent {
    /// A payment of the agent's tenant and the order holding it (read model), or 404
    /// `payment.not_found`.
    pub async fn tenant_payment(
        &self,
        state: &AppState,
        payment_id: &PaymentId,
    ) -> Result<(Order, Payment)> {
        let mut conn = state.db.acquire().await?;
        db::payments::order_with_payment(&mut conn, &self.tenant_id, payment_id)
            .await?
            .and_then(|order| {
                let payment = payment_of(&order, payment_id)?;
                Some((order, payment))
            })
            .ok_or_else(|| Error::not_found("payment"))
    }
}

/// Payment `payment_id` of `order` as the read model has it now, under the payment's lock
/// (held until the accepting transaction ends): what a refund, capture or settlement link
/// is judged on, so two of them at once are judged one after the other.
pub async fn locked_payment(
    conn: &mut sqlx::PgConnection,
    order: &Order,
    payment_id: &PaymentId,
) -> Result<Payment> {
    let tenant = &order.tenant_id;
    db::payments::lock_payment(&mut *conn, tenant, payment_id).await?;
    let now = db::orders::get(&mut *conn, tenant, &order.id, None).await?;
    now.as_ref()
        .and_then(|o| payment_of(o, payment_id))
        .ok_or_else(|| Error::not_found("payment"))
}

/// Payment `payment_id` of `order`.
pub fn payment_of(order: &Order, payment_id: &PaymentId) -> Option<Payment> {
    let id = payment_id.as_str();
    order.payments.iter().find(|p| p.id == id).cloned()
}

/// One payment of the order.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderPaymentOut {
    /// The payment with its refunds, captures and settlement: as the Payments service says
    /// now, or (with `error`) as the read model last had it.
    #[serde(flatten)]
    pub payment: Payment,
    /// `payments` (live) or `read_model` (the Payments service did not answer).
    pub source: &'static str,
    /// The money taken: the captures, or the whole amount of a payment captured when taken.
    pub captured_minor: i64,
    /// What a refund may still ask for: captured, less refunded, less the refunds accepted
    /// whose jobs have not ended.
    pub refundable_minor: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<UpstreamFailure>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderPaymentsOut {
    #[schema(value_type = String)]
    pub order_id: OrderId,
    pub data: Vec<OrderPaymentOut>,
}

/// `payment` as the Payments service says now (the read model's copy when it cannot say).
async fn live(state: &AppState, tenant: &TenantId, known: &Payment) -> Result<OrderPaymentOut> {
    let (payment, source, error) = match state.upstream.get_payment(tenant, &known.id).await {
        Ok(p) => (p, "payments", None),
        Err(e) => (known.clone(), "read_model", Some(UpstreamFailure::from(&e))),
    };
    let refund_ids: Vec<String> = payment.refunds.iter().map(|r| r.id.clone()).collect();
    let id = PaymentId::new(payment.id.as_str());
    let mut conn = state.db.acquire().await?;
    let accepted = db::payments::accepted_refunds(&mut conn, tenant, &id, &refund_ids).await?;
    Ok(OrderPaymentOut {
        captured_minor: payment.captured_minor(),
        refundable_minor: refundable_now(&payment, &accepted),
        payment,
        source,
        error,
    })
}

/// The order's payments, each read live from the Payments service (asked at once): its
/// captures, refunds, settlement and `refundable_minor`. A payment the service cannot
/// answer for is the read model's copy with `source: read_model` and the `error`, never a
/// 5xx for the whole read. Requires `payments.read`.
#[utoipa::path(get, path = "/v1/admin/orders/{order_id}/payments", tag = "admin",
    params(("order_id" = String, Path)), security(("bearer" = ["payments.read"])),
    responses((status = 200, body = OrderPaymentsOut), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn list_order_payments(
    State(state): State<AppState>,
    agent: Authorized<can::PaymentsRead>,
    Path(order_id): Path<OrderId>,
) -> Result<Json<OrderPaymentsOut>> {
    let order = agent.tenant_order(&state, &order_id).await?;
    let tenant = &agent.tenant_id;
    let reads = order.payments.iter().map(|p| live(&state, tenant, p));
    let data = futures::future::try_join_all(reads).await?;
    Ok(Json(OrderPaymentsOut { order_id, data }))
}
