//! The `erase_customer` workflow: check for a legal hold, anonymise orderdesk's own data of
//! the customer, delete their subject archives from the exports store, have the Orders
//! service erase its copy, sweep once more (an upstream event may have landed in between),
//! and tell support it is done.

use futures::future::BoxFuture;
use reqwest::StatusCode;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Value, json};
use sqlx::PgConnection;

use super::exports::storage;
use super::notifications as notify;
use crate::db;
use crate::domain::erasure::EraseRunInput;
use crate::domain::ids::{CustomerId, TenantId};
use crate::exports::Store;
use crate::upstream::Notification;
use crate::workflows::step::{StepCtx, StepError, with_result};

/// What an anonymisation pass leaves for the next one: its counts. `anonymise_local` runs
/// twice (before and after the upstream erasure); the second pass finds the first's here.
#[derive(Deserialize)]
struct EarlierPass {
    #[serde(default)]
    anonymised: Option<IgnoredAny>,
}

async fn refuse_if_held(
    conn: &mut PgConnection,
    tenant: &TenantId,
    customer: &CustomerId,
) -> Result<(), StepError> {
    let hold = db::gdpr::active_legal_hold(conn, tenant, customer)
        .await
        .map_err(StepError::database)?;
    if hold.is_some() {
        return Err(StepError::permanent(
            StatusCode::CONFLICT,
            "gdpr.legal_hold",
            "the customer's data is under a legal hold and cannot be erased now",
        ));
    }
    Ok(())
}

/// Fails permanently with `gdpr.legal_hold` while a hold is in force.
pub fn check_legal_hold(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: EraseRunInput = ctx.input_as()?;
        let mut conn = ctx.state.db.acquire().await.map_err(StepError::database)?;
        refuse_if_held(&mut conn, ctx.tenant(), &input.customer_id).await?;
        Ok(json!({ "held": false }))
    })
}

/// `db::gdpr::anonymise_customer` in one transaction, after checking the hold again in it.
/// The first pass reports its counts in the run's result; the sweep only in its output.
pub fn anonymise_local(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: EraseRunInput = ctx.input_as()?;
        let (customer, keep_key) = (&input.customer_id, input.keep_idempotency_key.as_deref());
        let is_sweep = ctx.earlier::<EarlierPass>()?.anonymised.is_some();
        let mut tx = ctx.state.db.begin().await.map_err(StepError::database)?;
        refuse_if_held(&mut tx, ctx.tenant(), customer).await?;
        let n = db::gdpr::anonymise_customer(&mut tx, ctx.tenant(), customer, ctx.run.id, keep_key)
            .await
            .map_err(StepError::database)?;
        tx.commit().await.map_err(StepError::database)?;
        let counts = json!({ "anonymised": n });
        if is_sweep {
            return Ok(counts);
        }
        Ok(with_result(
            json!({
                "orders_anonymised": n.orders,
                "support_messages_erased": n.support_messages,
                "attachments_deleted": n.support_attachments,
                "subscriptions_deleted": n.subscriptions,
            }),
            counts,
        ))
    })
}

/// Deletes the customer's subject archives (GDPR exports made before now) from the exports
/// store and marks their rows erased, so their links answer 410 `export.erased`. Rows are
/// marked first and forgotten once their object is gone: a retry deletes what is left (a
/// missing object counts as deleted). The run's result counts the archives the successful
/// attempt deleted.
pub fn delete_subject_archives(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: EraseRunInput = ctx.input_as()?;
        let tenant = ctx.tenant();
        let mut conn = ctx.state.db.acquire().await.map_err(StepError::database)?;
        let objects = db::subject_exports::erase_of_customer(&mut conn, tenant, &input.customer_id)
            .await
            .map_err(StepError::database)?;
        let store = Store::open(&ctx.state.config.exports).map_err(storage)?;
        for (_, key) in &objects {
            match store.inner.delete(&store.path(key)).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(storage(e)),
            }
        }
        let ids: Vec<_> = objects.iter().map(|(id, _)| *id).collect();
        db::subject_exports::objects_deleted(&mut conn, tenant, &ids)
            .await
            .map_err(StepError::database)?;
        Ok(with_result(
            json!({ "subject_archives_deleted": ids.len() }),
            json!({ "archives": ids }),
        ))
    })
}

/// `POST /v1/customers/{id}/erase` at the Orders service.
pub fn erase_at_orders(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: EraseRunInput = ctx.input_as()?;
        let answer = ctx
            .state
            .upstream
            .erase_customer(ctx.tenant(), &input.customer_id, ctx.idempotency_key)
            .await?;
        Ok(with_result(
            json!({ "upstream_erased": true }),
            json!({ "orders_erased": answer.get("orders_erased") }),
        ))
    })
}

/// Tells the tenant's support inbox the erasure is done (the customer's own address is
/// gone by now). The Notifications API wants an order id: the customer id stands in.
pub fn erasure_completed(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: EraseRunInput = ctx.input_as()?;
        let customer = &input.customer_id;
        let settings = {
            let mut conn = ctx.state.db.acquire().await.map_err(StepError::database)?;
            db::tenants::settings(&mut conn, ctx.tenant())
                .await
                .map_err(StepError::database)?
        };
        let to = settings.support_address(ctx.tenant());
        let message = Notification {
            order_id: customer.as_str(),
            to: &to,
            template: "gdpr_erasure_completed",
            data: json!({
                "customer_id": customer,
                "request_id": input.request_id,
            }),
        };
        notify::send(&ctx, &message, notify::Recipient::Support).await
    })
}
