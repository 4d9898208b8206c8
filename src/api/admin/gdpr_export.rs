//! GDPR subject access: `POST /v1/admin/gdpr/export` accepts an archive of everything
//! orderdesk holds about one customer of the tenant as a job of the `export_subject`
//! workflow (queue `exports`); `GET /v1/admin/gdpr/exports/{id}` shows it (`status`);
//! `GET /v1/gdpr/exports/download/{token}` serves the finished zip to whoever holds its
//! signed, expiring link, with no bearer token, until the customer's erasure deletes it.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::exports::download::{ExportLink, StoredFile, objects};
use crate::api::accept::{Admission, Admitted, Answer, Intake, StartRun, accept};
use crate::api::authorized::{Authorized, can};
use crate::api::cancellation::validate_note;
use crate::api::extract::{Valid, Validate};
use crate::api::idempotency::IdempotencyKey;
use crate::api::jobs::{JobOut, admin_location};
use crate::api::shared::RequestMeta;
use crate::db;
use crate::db::audit::Entry;
use crate::db::runs::RunRow;
use crate::db::subject_exports::{NewSubjectExport, SubjectExportRow};
use crate::domain::ids::{CustomerId, SubjectExportId};
use crate::domain::subject_export::{SubjectExportRequest, SubjectExportRunInput};
use crate::error::{Error, FieldError, Result};
use crate::exports::Store;
use crate::exports::link::SubjectExportClaims;
use crate::state::AppState;

mod status;
pub use status::{__path_get_subject_export, SubjectExportOut, get_subject_export};

const WORKFLOW: &str = "export_subject";

impl Validate for SubjectExportRequest {
    type Checked = CustomerId;

    /// Both members checked, every bad one listed.
    fn validate(&self) -> Result<CustomerId> {
        let customer = CustomerId::parse(&self.customer_id);
        let mut errors = Vec::new();
        if let Err(e) = &customer {
            errors.push(FieldError {
                field: e.field.into(),
                message: e.rule.into(),
            });
        }
        if let Err(Error::Problem(p)) = validate_note("reason", Some(&self.reason), true) {
            errors.extend(p.errors);
        }
        match customer {
            Ok(c) if errors.is_empty() => Ok(c),
            _ => Err(Error::validation(errors)),
        }
    }
}

/// The answer to an accepted subject export: the archive's id and its job.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubjectExportAcceptedOut {
    #[schema(value_type = uuid::Uuid)]
    pub export_id: SubjectExportId,
    #[schema(value_type = String)]
    pub customer_id: CustomerId,
    /// The job; its `result` (once succeeded): `{export_id, customer_id, bytes, sha256,
    /// download_url, expires_at, counts: {orders, requests, …}, erased}`.
    pub job: JobOut,
}

impl Answer for SubjectExportAcceptedOut {
    async fn finished(self, run: &RunRow, _: &sqlx::PgPool) -> Result<Self> {
        Ok(SubjectExportAcceptedOut {
            job: JobOut::from_run(run),
            ..self
        })
    }
}

/// The archive's row and run, and the audit record with the reason.
struct SubjectExportIntake {
    customer: CustomerId,
    reason: String,
}

impl Intake for SubjectExportIntake {
    type Answer = SubjectExportAcceptedOut;

    async fn admit(self, adm: &mut Admission<'_>) -> Result<Admitted<SubjectExportAcceptedOut>> {
        let caller = adm.caller().clone();
        let (tenant, customer) = (&caller.tenant_id, &self.customer);
        if !db::subject_exports::customer_known(adm.conn(), tenant, customer).await? {
            return Err(Error::not_found("customer"));
        }
        let export_id = SubjectExportId::now_v7();
        let input = SubjectExportRunInput {
            export_id,
            customer_id: customer.clone(),
        };
        let subject = export_id.to_string();
        let run = adm
            .start_run(StartRun {
                workflow: WORKFLOW,
                subject_id: &subject,
                customer_id: None,
                input: &input,
                request: None,
                decided_by: None,
            })
            .await?;
        let new = NewSubjectExport {
            id: export_id,
            tenant_id: tenant,
            customer_id: customer,
            run_id: run.id,
            requested_by: &caller.principal,
        };
        db::subject_exports::insert(adm.conn(), &new).await?;
        adm.audit(Entry {
            action: "gdpr.export_requested",
            subject_type: "customer",
            subject_id: customer.as_str(),
            reason: Some(&self.reason),
            before: None,
            after: Some(json!({ "export_id": export_id, "job_id": run.id })),
            personal_data_of: Some(customer),
        })
        .await?;
        let answer = SubjectExportAcceptedOut {
            export_id,
            customer_id: customer.clone(),
            job: JobOut::from_run(&run),
        };
        Ok(Admitted::accepted(
            admin_location(run.id),
            answer,
            Some(run.id),
        ))
    }
}

/// Starts an archive of everything orderdesk holds about one customer of the tenant (README,
/// "GDPR subject export"): 202 with the job, whose result has the zip's size, sha256,
/// counts and a signed, expiring download link; `Prefer: wait=N` answers the finished job.
/// 404 `customer.not_found` for a customer the tenant does not know. Requires `gdpr.export`
/// (admin); audited with the reason; `Idempotency-Key` replays.
#[utoipa::path(post, path = "/v1/admin/gdpr/export", tag = "admin",
    params(("Idempotency-Key" = Option<String>, Header), ("Prefer" = Option<String>, Header, description = "wait=N (≤ 30)")),
    request_body = SubjectExportRequest, security(("bearer" = ["gdpr.export"])),
    responses((status = 202, body = SubjectExportAcceptedOut), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn export_subject(
    State(state): State<AppState>,
    agent: Authorized<can::GdprExport>,
    meta: RequestMeta,
    key: IdempotencyKey,
    Valid { body, checked }: Valid<SubjectExportRequest>,
) -> Result<Response> {
    let key = key.optional_for("gdpr.export", &body);
    let reason = body.reason.trim().to_string();
    let intake = SubjectExportIntake {
        customer: checked,
        reason,
    };
    accept(&state, agent.caller(&meta), key, intake).await
}

/// A subject's archive, as the download route answers it (for the OpenAPI document).
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct SubjectArchive(#[allow(dead_code)] Vec<u8>);

/// Downloads the zip a subject export's `download_url` points to (no bearer token: the link
/// is the permission). The `Repr-Digest` header carries its sha256. Once the customer's
/// erasure deleted the archive, 410 `export.erased`.
#[utoipa::path(get, path = "/v1/gdpr/exports/download/{token}", tag = "admin",
    params(("token" = String, Path, description = "the last segment of a subject export's `download_url`")),
    responses((status = 200, content_type = "application/zip", body = SubjectArchive),
              (status = 400, body = crate::error::Problem, description = "`export.link_malformed`"),
              (status = 403, body = crate::error::Problem, description = "`export.link_invalid`"),
              (status = 404, body = crate::error::Problem, description = "the archive is gone or not finished"),
              (status = 410, body = crate::error::Problem, description = "`export.link_expired`, or `export.erased`")))]
pub async fn download_subject_export(
    State(state): State<AppState>,
    ExportLink(claims): ExportLink<SubjectExportClaims>,
) -> Result<Response> {
    let mut conn = state.db.acquire().await?;
    let export = downloadable(&mut conn, &claims).await?;
    let store = Store::open(&state.config.exports).map_err(Error::Internal)?;
    let file = StoredFile {
        content_type: "application/zip",
        filename: format!("subject-{}.zip", export.id),
        bytes: export.bytes,
        sha256: export.sha256.as_deref(),
    };
    file.response(objects(store, export.object_key.into_iter().collect()))
}

/// The archive a link names, if it is stored: 404 while it is not (not finished, or none),
/// 410 `export.erased` once the customer's erasure deleted it (a link to it stays dead).
async fn downloadable(
    conn: &mut sqlx::PgConnection,
    claims: &SubjectExportClaims,
) -> Result<SubjectExportRow> {
    let export = db::subject_exports::get(conn, &claims.tenant_id, claims.export_id)
        .await?
        .ok_or_else(|| Error::not_found("export"))?;
    if export.erased_at.is_some() {
        let gone = Error::new(
            StatusCode::GONE,
            "export.erased",
            "the customer's personal data was erased, and this archive with it",
        );
        return Err(gone.with_next_step("an export made now holds what remains (anonymised)"));
    }
    if export.finished_at.is_none() {
        return Err(Error::not_found("export"));
    }
    Ok(export)
}
