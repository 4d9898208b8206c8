//! `GET /v1/admin/gdpr/exports/{export_id}`: one subject archive of the tenant — where it
//! stands, what it holds, and a link signed now — for `gdpr.export` only, access-logged
//! (it opens one customer's personal data).

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::api::admin::access_log::{self, Read};
use crate::api::authorized::{Authorized, can};
use crate::api::extract::{Path, Strict};
use crate::api::shared::RequestMeta;
use crate::db;
use crate::db::subject_exports::SubjectExportRow;
use crate::domain::ids::{CustomerId, RunId, SubjectExportId};
use crate::error::{Error, Result};
use crate::exports::link;
use crate::state::AppState;

/// A subject archive: its status, what it holds and, while it is in the store, a fresh link.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubjectExportOut {
    #[schema(value_type = uuid::Uuid)]
    pub export_id: SubjectExportId,
    #[schema(value_type = String)]
    pub customer_id: CustomerId,
    /// `succeeded` once stored, `erased` once the customer's erasure deleted it, else its
    /// job's status (`queued`, `running`, `failed`…).
    pub status: String,
    #[schema(value_type = uuid::Uuid)]
    pub job_id: RunId,
    pub requested_by: String,
    /// Records per kind in the archive (as the job's result has them), once stored.
    #[schema(value_type = Option<crate::domain::subject_export::SubjectCounts>)]
    pub counts: Option<serde_json::Value>,
    pub bytes: Option<i64>,
    /// Lower-case hex, of the zip.
    pub sha256: Option<String>,
    /// A link signed now (no bearer token needed) until `expires_at`; `null` unless the
    /// archive is stored and not erased.
    pub download_url: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub erased_at: Option<DateTime<Utc>>,
}

impl SubjectExportOut {
    fn of(state: &AppState, e: SubjectExportRow) -> SubjectExportOut {
        let downloadable = e.finished_at.is_some() && e.erased_at.is_none();
        let link =
            downloadable.then(|| link::subject_download_url(&state.config, &e.tenant_id, e.id));
        let (download_url, expires_at) = link.unzip();
        SubjectExportOut {
            export_id: e.id,
            customer_id: e.customer_id,
            status: e.status,
            job_id: e.run_id,
            requested_by: e.requested_by,
            counts: e.counts,
            bytes: e.bytes,
            sha256: e.sha256,
            download_url,
            expires_at,
            created_at: e.created_at,
            finished_at: e.finished_at,
            erased_at: e.erased_at,
        }
    }
}

/// One subject archive of the tenant (README, "GDPR subject export"): its status, counts,
/// bytes, sha256 and, while it is stored, a download link signed now — the way to a fresh
/// link once the job's has expired. Requires `gdpr.export`; the read is access-logged
/// (`gdpr.export_viewed`). A malformed id is 422; another tenant's archive is 404.
#[utoipa::path(get, path = "/v1/admin/gdpr/exports/{export_id}", tag = "admin",
    params(("export_id" = Uuid, Path)), security(("bearer" = ["gdpr.export"])),
    responses((status = 200, body = SubjectExportOut), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)))]
pub async fn get_subject_export(
    State(state): State<AppState>,
    agent: Authorized<can::GdprExport>,
    meta: RequestMeta,
    Path(Strict(id)): Path<Strict<SubjectExportId>>,
) -> Result<Json<SubjectExportOut>> {
    let mut tx = state.db.begin().await?;
    let export = db::subject_exports::get(&mut tx, &agent.tenant_id, id)
        .await?
        .ok_or_else(|| Error::not_found("export"))?;
    let read = Read {
        action: "gdpr.export_viewed",
        subject_type: "customer",
        subject_id: export.customer_id.as_str(),
        shown: json!({ "export_id": id }),
    };
    access_log::record(&mut tx, &agent, &meta, read).await?;
    tx.commit().await?;
    Ok(Json(SubjectExportOut::of(&state, export)))
}
