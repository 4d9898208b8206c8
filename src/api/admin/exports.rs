//! Exports of orders for finance: `POST /v1/admin/orders/exports` accepts one as a job of
//! the `export_orders` workflow; `GET /v1/admin/exports` and `/v1/admin/exports/{id}` list
//! and show them (status, parts so far, rows so far, a fresh download link once finished);
//! `GET /v1/exports/download/{token}` streams a finished export to whoever holds its signed,
//! expiring link, with no bearer token.

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::accept::{Admission, Admitted, Answer, Intake, StartRun, accept};
use crate::api::admin::search::refused;
use crate::api::authorized::{Authorized, can};
use crate::api::extract::{Path, Valid, ValidQuery, Validate};
use crate::api::idempotency::IdempotencyKey;
use crate::api::jobs::{JobOut, admin_location};
use crate::api::shared::{Listing, RequestMeta, bounded_limit, decode_cursor, page_of};
use crate::db;
use crate::db::audit::Entry;
use crate::db::exports::{ExportRow, NewExport, PartRow};
use crate::db::runs::RunRow;
use crate::domain::exports::{Column, ExportRequest, ExportRunInput, ExportSpec};
use crate::domain::ids::{ExportId, RunId, TenantId};
use crate::error::{Error, Result};
use crate::state::AppState;

pub(crate) mod download;
pub use download::{__path_download_export, download_export};

impl Validate for ExportRequest {
    type Checked = ExportSpec;

    fn validate(&self) -> Result<ExportSpec> {
        ExportSpec::parse(self).map_err(refused)
    }
}

/// The answer to an accepted export: the export to poll and its job.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportAcceptedOut {
    #[schema(value_type = uuid::Uuid)]
    pub export_id: ExportId,
    /// `GET` it for the status, the parts so far and, once finished, the download link.
    pub location: String,
    /// The job; its `result` (once succeeded) is the manifest: `{export_id, format,
    /// row_count, bytes, sha256, download_url, expires_at, parts: [{n, rows, bytes, sha256}]}`.
    pub job: JobOut,
}

impl Answer for ExportAcceptedOut {
    async fn finished(self, run: &RunRow, _: &sqlx::PgPool) -> Result<Self> {
        Ok(ExportAcceptedOut {
            job: JobOut::from_run(run),
            ..self
        })
    }
}

/// The export row and its run, written in the acceptance transaction.
struct ExportIntake {
    spec: ExportSpec,
    body: ExportRequest,
}

impl Intake for ExportIntake {
    type Answer = ExportAcceptedOut;

    async fn admit(self, adm: &mut Admission<'_>) -> Result<Admitted<ExportAcceptedOut>> {
        let export_id = ExportId::now_v7();
        let input = ExportRunInput {
            export_id,
            filter: self.body.filter.clone(),
            text: self.body.text.clone(),
            format: self.spec.format,
            compression: self.spec.compression,
            columns: self.spec.columns.clone(),
            part_rows: adm.state().config.exports.part_rows,
        };
        let subject = export_id.to_string();
        let run = adm
            .start_run(StartRun {
                workflow: "export_orders",
                subject_id: &subject,
                customer_id: None,
                input: &input,
                request: None,
                decided_by: None,
            })
            .await?;
        let caller = adm.caller().clone();
        let new = NewExport {
            id: export_id,
            tenant_id: &caller.tenant_id,
            run_id: run.id,
            format: self.spec.format.as_str(),
            compression: self.spec.compression.as_str(),
            columns: Column::names(&self.spec.columns)
                .into_iter()
                .map(String::from)
                .collect(),
            requested_by: &caller.principal,
        };
        db::exports::insert(adm.conn(), &new).await?;
        // the filter may name a customer or an address: kept out of the record
        let after = serde_json::json!({
            "format": input.format, "columns": input.columns, "job_id": run.id,
        });
        adm.audit(Entry {
            action: "orders.export_requested",
            subject_type: "export",
            subject_id: &subject,
            reason: None,
            before: None,
            after: Some(after),
            personal_data_of: None,
        })
        .await?;
        let answer = ExportAcceptedOut {
            export_id,
            location: format!("/v1/admin/exports/{export_id}"),
            job: JobOut::from_run(&run),
        };
        Ok(Admitted::accepted(
            admin_location(run.id),
            answer,
            Some(run.id),
        ))
    }
}

/// Starts an export of the tenant's orders that match `filter` (the search language) as
/// CSV, NDJSON or Parquet (README, "Exports"): 202 with the job; `Prefer: wait=N` answers
/// the finished job. Unknown columns, formats or filter fields are 422 naming them, with
/// the names that exist in `allowed`. Requires `orders.export`; `Idempotency-Key` replays.
#[utoipa::path(post, path = "/v1/admin/orders/exports", tag = "admin",
    params(("Idempotency-Key" = Option<String>, Header)), request_body = ExportRequest, security(("bearer" = ["orders.export"])),
    responses((status = 202, body = ExportAcceptedOut), (status = 403, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn create_export(
    State(state): State<AppState>,
    agent: Authorized<can::OrdersExport>,
    meta: RequestMeta,
    key: IdempotencyKey,
    Valid { body, checked }: Valid<ExportRequest>,
) -> Result<Response> {
    let key = key.optional_for("orders.export", &body);
    let intake = ExportIntake {
        spec: checked,
        body,
    };
    accept(&state, agent.caller(&meta), key, intake).await
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PartOut {
    pub n: i32,
    pub rows: i64,
    pub bytes: i64,
    /// Lower-case hex.
    pub sha256: String,
}

impl From<&PartRow> for PartOut {
    fn from(p: &PartRow) -> Self {
        PartOut {
            n: p.n,
            rows: p.rows,
            bytes: p.bytes,
            sha256: p.sha256.clone(),
        }
    }
}

/// An export: its status (its job's), progress and, once finished, what it holds.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportOut {
    #[schema(value_type = uuid::Uuid)]
    pub id: ExportId,
    /// `queued`, `running`, `succeeded`, `failed`…: the job's status.
    pub status: String,
    #[schema(value_type = uuid::Uuid)]
    pub job_id: RunId,
    pub format: String,
    pub compression: String,
    pub columns: Vec<String>,
    /// The orders that matched when the export started (after its first step).
    pub total_rows: Option<i64>,
    /// Rows in the parts closed so far.
    pub rows_so_far: i64,
    pub parts_closed: i64,
    /// Once finished: the rows, bytes and sha256 of the downloadable file.
    pub row_count: Option<i64>,
    pub bytes: Option<i64>,
    pub sha256: Option<String>,
    /// Once finished, a link signed now (no bearer token needed), valid until `expires_at`.
    pub download_url: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub requested_by: String,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// In `GET /v1/admin/exports/{id}` only: the closed parts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parts: Option<Vec<PartOut>>,
}

impl ExportOut {
    pub(crate) fn of(state: &AppState, e: &ExportRow, parts: Option<&[PartRow]>) -> ExportOut {
        let link = e
            .finished_at
            .map(|_| crate::exports::link::download_url(&state.config, &e.tenant_id, e.id));
        let (download_url, expires_at) = link.unzip();
        ExportOut {
            id: e.id,
            status: e.status.clone(),
            job_id: e.run_id,
            format: e.format.clone(),
            compression: e.compression.clone(),
            columns: e.columns.clone(),
            total_rows: e.total_rows,
            rows_so_far: e.rows_so_far,
            parts_closed: e.parts_closed,
            row_count: e.row_count,
            bytes: e.bytes,
            sha256: e.sha256.clone(),
            download_url,
            expires_at,
            requested_by: e.requested_by.clone(),
            created_at: e.created_at,
            finished_at: e.finished_at,
            parts: parts.map(|ps| ps.iter().map(PartOut::from).collect()),
        }
    }
}

/// One export of the tenant, with its closed parts. Requires `orders.export`.
#[utoipa::path(get, path = "/v1/admin/exports/{export_id}", tag = "admin", params(("export_id" = Uuid, Path)),
    security(("bearer" = ["orders.export"])),
    responses((status = 200, body = ExportOut), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn get_export(
    State(state): State<AppState>,
    agent: Authorized<can::OrdersExport>,
    Path(id): Path<ExportId>,
) -> Result<Json<ExportOut>> {
    let mut conn = state.db.acquire().await?;
    let export = db::exports::get(&mut conn, &agent.tenant_id, id)
        .await?
        .ok_or_else(|| Error::not_found("export"))?;
    let parts = db::exports::parts(&mut conn, &agent.tenant_id, id).await?;
    Ok(Json(ExportOut::of(&state, &export, Some(&parts))))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListExportsQuery {
    /// 1 to 100, default 20.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

impl Validate for ListExportsQuery {
    type Checked = Listing<Option<(DateTime<Utc>, uuid::Uuid)>>;

    fn validate(&self) -> Result<Self::Checked> {
        let limit = bounded_limit(self.limit, 20, 100)?;
        let before = self.cursor.as_deref().map(decode_cursor).transpose()?;
        Ok(Listing {
            filter: before,
            limit,
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExportListOut {
    pub data: Vec<ExportOut>,
    pub next_cursor: Option<String>,
}

/// The tenant's exports, newest first. Requires `orders.export`.
#[utoipa::path(get, path = "/v1/admin/exports", tag = "admin", params(ListExportsQuery),
    security(("bearer" = ["orders.export"])),
    responses((status = 200, body = ExportListOut), (status = 400, body = crate::error::Problem), (status = 403, body = crate::error::Problem)))]
pub async fn list_exports(
    State(state): State<AppState>,
    agent: Authorized<can::OrdersExport>,
    ValidQuery(Listing { filter, limit }): ValidQuery<ListExportsQuery>,
) -> Result<Json<ExportListOut>> {
    Ok(Json(
        exports_page(&state, &agent.tenant_id, filter, limit).await?,
    ))
}

/// One page of the tenant's exports, newest first, before `before` (the listing's cursor);
/// the console's exports page shows the same.
pub(crate) async fn exports_page(
    state: &AppState,
    tenant: &TenantId,
    before: Option<(DateTime<Utc>, uuid::Uuid)>,
    limit: i64,
) -> Result<ExportListOut> {
    let mut conn = state.db.acquire().await?;
    let rows = db::exports::list(&mut conn, tenant, before, limit + 1).await?;
    let (rows, next_cursor) = page_of(rows, limit, |e| (e.created_at, e.id.as_uuid()));
    let data = rows.iter().map(|e| ExportOut::of(state, e, None)).collect();
    Ok(ExportListOut { data, next_cursor })
}
