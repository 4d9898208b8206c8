//! Runs a mutation at most once per `Idempotency-Key` (service, tenant, key).
//!
//! The key's advisory lock is taken at the start of the mutation's transaction, so a
//! second call with the same key waits for the first to commit, then finds its stored
//! answer and replays it. The answer is stored in the same transaction as the effect, so a
//! response lost after the commit (a dropped connection, or fault injection) is replayed as
//! the success it was. Client errors (4xx) are stored too, after rolling back to a
//! savepoint so that they never leave a partial effect.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};

use super::events::{Emitter, OrderEvent};
use super::store;
use crate::error::{Error, Result};
use crate::service::Service;
use crate::wire::Order;

/// Header set on a replayed answer.
pub const REPLAYED: &str = "idempotent-replayed";

/// What a mutation answers, and the event to send once it is committed.
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
    pub event: Option<OrderEvent>,
}

impl Answer {
    pub fn new(status: StatusCode, body: &impl Serialize) -> Result<Answer> {
        let body = serde_json::to_value(body).map_err(anyhow::Error::from)?;
        Ok(Answer {
            status,
            body,
            event: None,
        })
    }
    /// The event of type `kind` to send, with the order as it is after the change.
    pub fn with_event(mut self, kind: &'static str, order: &Order) -> Answer {
        self.event = Some(OrderEvent {
            kind,
            order: order.clone(),
        });
        self
    }
}

/// Either the stored answer of an earlier call with the same key, or a fresh mutation.
pub enum Claim {
    Replay(Response),
    Fresh(Mutation),
}

/// A mutation in progress: its transaction (holding the key's lock) and who made it.
pub struct Mutation {
    tx: Transaction<'static, Postgres>,
    service: Service,
    tenant: String,
    key: Option<String>,
}

/// Opens the mutation's transaction; with a key, waits for the key's lock and replays the
/// stored answer if there is one.
pub async fn begin(
    db: &PgPool,
    service: Service,
    tenant: &str,
    key: Option<String>,
) -> Result<Claim> {
    let mut tx = db.begin().await?;
    if let Some(key) = &key {
        store::idempotency::lock_key(&mut tx, service, tenant, key).await?;
        if let Some((status, body)) =
            store::idempotency::find(&mut tx, service, tenant, key).await?
        {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return Ok(Claim::Replay(respond(status, body, true)));
        }
    }
    sqlx::query("SAVEPOINT effect").execute(&mut *tx).await?;
    Ok(Claim::Fresh(Mutation {
        tx,
        service,
        tenant: tenant.to_string(),
        key,
    }))
}

impl Mutation {
    pub fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    /// Appends an effect to the ledger, in this transaction, under this call's key.
    pub async fn effect(&mut self, order_id: &str, kind: &str, detail: Value) -> Result<()> {
        let effect = store::effects::NewEffect {
            tenant: &self.tenant,
            order_id,
            service: self.service,
            kind,
            key: self.key.as_deref(),
            detail,
        };
        store::effects::record(&mut self.tx, effect).await?;
        Ok(())
    }

    /// Stores the answer under the key (if any), commits, sends the event, and answers.
    /// An unexpected error rolls everything back and stores nothing, so a retry runs anew.
    pub async fn finish(mut self, outcome: Result<Answer>, events: &Emitter) -> Result<Response> {
        let answer = match outcome {
            Ok(answer) => answer,
            Err(Error::Problem(problem)) if (400..500).contains(&problem.status) => {
                sqlx::query("ROLLBACK TO SAVEPOINT effect")
                    .execute(&mut *self.tx)
                    .await?;
                let status =
                    StatusCode::from_u16(problem.status).unwrap_or(StatusCode::BAD_REQUEST);
                Answer::new(status, &problem)?
            }
            Err(e) => return Err(e),
        };
        if let Some(key) = &self.key {
            let status = answer.status.as_u16();
            store::idempotency::store(
                &mut self.tx,
                self.service,
                &self.tenant,
                key,
                status,
                &answer.body,
            )
            .await?;
        }
        self.tx.commit().await?;
        if let Some(event) = answer.event {
            events.emit(event);
        }
        Ok(respond(answer.status, answer.body, false))
    }
}

fn respond(status: StatusCode, body: Value, replayed: bool) -> Response {
    let mut res = (status, Json(body)).into_response();
    if status.is_client_error() || status.is_server_error() {
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
    }
    if replayed {
        res.headers_mut()
            .insert(REPLAYED, HeaderValue::from_static("true"));
    }
    res
}
