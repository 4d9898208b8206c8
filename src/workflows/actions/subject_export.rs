//! The `export_subject` workflow (GDPR subject access): gathers what orderdesk holds about
//! one customer, as the archive shows it (`db::subject_exports`, `db::audit`, the rules in
//! `domain::subject_export`), zips it with its manifest (`exports::archive`), stores it in
//! the exports store and answers its size, sha256, counts and a signed, expiring link. A
//! retried step gathers again and replaces the object: the row records the last one. An
//! archive the customer's erasure overtook is deleted and fails with `export.erased`.

use futures::future::BoxFuture;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::PgConnection;

use super::exports::{encoding, storage};
use crate::db;
use crate::db::audit::AuditRow;
use crate::db::subject_exports::MAX_RECORDS;
use crate::documents::{self, Seller};
use crate::domain::ids::{CustomerId, TenantId};
use crate::domain::order::Order;
use crate::domain::subject_export::{
    FILES, SubjectCounts, SubjectExportRunInput, audit_is_told, order_for_subject,
};
use crate::exports::archive::{self, ArchiveFile};
use crate::exports::{Store, link, store};
use crate::workflows::step::{StepCtx, StepError, with_result};

/// What the manifest says is not in the archive, and why.
const NOT_INCLUDED: &str = "Not included: agents' internal notes and identities, fraud reviews \
     and risk assessments, legal holds, attachment contents (their name, type, size and sha256 \
     are listed), and anything of other customers. Each order is as orderdesk last saw it; the \
     Orders service holds the canonical record.";
/// What the manifest says of a customer whose data was erased.
const ERASED: &str = "This customer's personal data was erased: what remains is anonymised \
     (redacted addresses, email and texts) and is exported as it is.";

/// Everything gathered, as the archive's files (in [`FILES`] order) and their counts.
struct Gathered {
    files: Vec<ArchiveFile>,
    counts: SubjectCounts,
    erased: bool,
}

async fn gather(
    conn: &mut PgConnection,
    tenant: &TenantId,
    customer: &CustomerId,
) -> Result<Gathered, StepError> {
    use db::subject_exports as q;
    let db = StepError::database;
    let orders: Vec<Order> = q::orders(conn, tenant, customer)
        .await
        .map_err(db)?
        .into_iter()
        .map(order_for_subject)
        .collect();
    let requests = q::requests(conn, tenant, customer).await.map_err(db)?;
    let cases = q::support_cases(conn, tenant, customer).await.map_err(db)?;
    let messages = q::support_messages(conn, tenant, customer)
        .await
        .map_err(db)?;
    let subscriptions = q::subscriptions(conn, tenant, customer).await.map_err(db)?;
    let returns = q::returns(conn, tenant, customer).await.map_err(db)?;
    let audit: Vec<Value> = db::audit::about_customer(conn, tenant, customer, MAX_RECORDS)
        .await
        .map_err(db)?
        .into_iter()
        .filter(|r| audit_is_told(&r.action))
        .map(|r| audit_for_subject(r, customer))
        .collect();
    let erased = q::erased(conn, tenant, customer).await.map_err(db)?;
    let seller = Seller {
        name: tenant.to_string(),
        ship_from_country: db::tenants::settings(conn, tenant)
            .await
            .map_err(db)?
            .ship_from_country,
    };
    let documents: Vec<Value> = orders
        .iter()
        .flat_map(|o| documents_of(o, &seller))
        .collect();
    let counts = SubjectCounts {
        orders: orders.len() as u64,
        requests: requests.len() as u64,
        support_cases: cases.len() as u64,
        support_messages: messages.len() as u64,
        attachments: messages
            .iter()
            .filter(|m| !m["attachment"].is_null())
            .count() as u64,
        subscriptions: subscriptions.len() as u64,
        returns: returns.len() as u64,
        documents: documents.len() as u64,
        audit: audit.len() as u64,
    };
    let files = [
        ArchiveFile::of(FILES[0], &orders),
        ArchiveFile::of(FILES[1], &requests),
        ArchiveFile::of(FILES[2], &cases),
        ArchiveFile::of(FILES[3], &messages),
        ArchiveFile::of(FILES[4], &subscriptions),
        ArchiveFile::of(FILES[5], &returns),
        ArchiveFile::of(FILES[6], &documents),
        ArchiveFile::of(FILES[7], &audit),
    ]
    .into_iter()
    .collect::<anyhow::Result<Vec<_>>>()
    .map_err(encoding)?;
    Ok(Gathered {
        files,
        counts,
        erased,
    })
}

/// The documents an order has (invoice, packing slips, labels, customs documents): which,
/// not their PDFs.
fn documents_of(order: &Order, seller: &Seller) -> Vec<Value> {
    documents::documents_of(order, seller)
        .into_iter()
        .map(|doc| {
            json!({
                "order_id": order.id, "order_number": order.number, "kind": doc.kind,
                "shipment_id": doc.shipment_id, "filename": documents::filename(order, &doc),
            })
        })
        .collect()
}

/// An audit record as the subject sees it: what was done, when, to which of their orders,
/// by whom in general terms (`you`, `support`, `support, signed in as you`, `orderdesk`);
/// the reason, IP and before/after only of what the customer did themselves.
fn audit_for_subject(r: AuditRow, customer: &CustomerId) -> Value {
    let own = r.actor_kind == "customer" && r.actor_id == customer.as_str();
    let by = match (r.actor_kind.as_str(), own, r.on_behalf_of.is_some()) {
        ("customer", true, true) => "support, signed in as you",
        ("customer", true, false) => "you",
        ("agent", _, _) => "support",
        _ => "orderdesk",
    };
    let mut out = json!({
        "id": r.id, "at": r.at, "action": r.action, "by": by,
        "subject_type": r.subject_type, "subject_id": r.subject_id,
    });
    if own {
        out["reason"] = json!(r.reason);
        out["ip"] = json!(r.ip);
        out["before"] = json!(r.before);
        out["after"] = json!(r.after);
        out["personal_data_erased"] = json!(r.erased);
    }
    out
}

/// Gathers, zips and stores the archive; finishes its row; answers its manifest and link.
pub fn archive(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: SubjectExportRunInput = ctx.input_as()?;
        let (tenant, customer, id) = (ctx.tenant(), &input.customer_id, input.export_id);
        let mut conn = ctx.state.db.acquire().await.map_err(StepError::database)?;
        let g = gather(&mut conn, tenant, customer).await?;
        let mut notes = vec![NOT_INCLUDED];
        if g.erased {
            notes.push(ERASED);
        }
        let head = json!({
            "export_id": id, "tenant_id": tenant, "customer_id": customer,
            "generated_at": chrono::Utc::now(), "erased": g.erased, "counts": g.counts,
            "notes": notes,
        });
        let bytes = archive::zip(head, &g.files).map_err(encoding)?;
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let size = bytes.len() as i64;
        let key = store::subject_key(tenant, id);
        let store = Store::open(&ctx.state.config.exports).map_err(storage)?;
        let path = store.path(&key);
        store
            .inner
            .put(&path, bytes.into())
            .await
            .map_err(storage)?;
        let counts = serde_json::to_value(&g.counts).map_err(encoding)?;
        let stored = db::subject_exports::Stored {
            object_key: &key,
            bytes: size,
            sha256: &sha256,
            counts: &counts,
        };
        let kept = db::subject_exports::finish(&mut conn, tenant, id, &stored)
            .await
            .map_err(StepError::database)?;
        if !kept {
            store.inner.delete(&path).await.map_err(storage)?;
            return Err(StepError::permanent(
                StatusCode::GONE,
                "export.erased",
                "the customer's data was erased while the archive was being made; it was deleted",
            ));
        }
        let (download_url, expires_at) = link::subject_download_url(&ctx.state.config, tenant, id);
        Ok(with_result(
            json!({
                "export_id": id, "customer_id": customer, "bytes": size, "sha256": sha256,
                "download_url": download_url, "expires_at": expires_at, "counts": counts,
                "erased": g.erased,
            }),
            json!({}),
        ))
    })
}
