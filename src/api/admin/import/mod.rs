//! `POST /v1/admin/orders/import`: order corrections as NDJSON, one status change per line
//! (`{"order_id", "action", "reason", "duration_minutes"?, "refund"?, "restock"?}`; a cancel
//! line is the order's force-cancel, with its sudo token), from the request's body or from
//! an object of the tenant's in storage ([`source`]), read as a stream (bounded in size and
//! lines; never held whole) and checked line by line ([`lines`]). A dry run (or an import
//! with bad lines) answers each error with its line number; a good import becomes a long
//! job (`import_orders`) whose items are the lines, carried out as a bulk job's are.

mod lines;
mod source;

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use super::bulk::{cancel_choice, requester_of};
use crate::api::accept::{Admission, Admitted, Intake, StartRun, accept};
use crate::api::auth::{Agent, Sudo};
use crate::api::authorized::{Authorized, can};
use crate::api::extract::{ValidQuery, Validate};
use crate::api::idempotency::IdempotencyKey;
use crate::api::jobs::{JobOut, Viewer, admin_location};
use crate::api::shared::RequestMeta;
use crate::db;
use crate::db::audit::Entry;
use crate::domain::bulk::{ImportInput, ImportSource, ItemChange};
use crate::domain::transitions::OrderAction;
use crate::error::{Error, Result};
use crate::state::AppState;
pub use lines::LineError;
use lines::{CheckedLines, ImportLine, check_lines};
pub use source::{ImportFrom, ImportFromIn, ImportSourceIn};
use source::{body_bytes, object_bytes};

/// The largest import body (the route's own limit).
pub const IMPORT_BODY_LIMIT: usize = 8 * 1024 * 1024;
/// Errors listed in one answer (the count says how many there were).
const MAX_LISTED_ERRORS: usize = 1_000;
pub const IMPORT_WORKFLOW: &str = "import_orders";

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// Check every line and answer the errors; change nothing.
    pub dry_run: Option<bool>,
}

impl Validate for ImportQuery {
    type Checked = bool;
    fn validate(&self) -> Result<bool> {
        Ok(self.dry_run.unwrap_or(false))
    }
}

/// What checking an import found.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportCheckOut {
    pub dry_run: bool,
    /// Non-blank lines.
    pub lines: usize,
    pub valid: usize,
    pub error_count: usize,
    /// The first 1,000 errors, by line.
    pub errors: Vec<LineError>,
}

/// An import's lines as checked, and where they were read from.
struct Checked {
    lines: CheckedLines,
    source: Option<ImportSource>,
}

impl ImportFrom {
    /// Reads and checks the lines, from the body or from the tenant's object.
    async fn check(self, state: &AppState, agent: &Agent, sudo: bool) -> Result<Checked> {
        let (lines, source) = match self {
            ImportFrom::Body(body) => (
                check_lines(state, agent, sudo, body_bytes(body)).await?,
                None,
            ),
            ImportFrom::Object(source) => {
                let bytes = object_bytes(state, &agent.tenant_id, &source).await?;
                (check_lines(state, agent, sudo, bytes).await?, Some(source))
            }
        };
        Ok(Checked { lines, source })
    }
}

struct ImportIntake {
    lines: Vec<(usize, ImportLine)>,
    input: ImportInput,
    viewer: Viewer,
}

impl Intake for ImportIntake {
    type Answer = JobOut;

    async fn admit(self, adm: &mut Admission<'_>) -> Result<Admitted<JobOut>> {
        let run = adm
            .start_run(StartRun {
                workflow: IMPORT_WORKFLOW,
                subject_id: "orders",
                customer_id: None,
                input: &self.input,
                request: None,
                decided_by: None,
            })
            .await?;
        let subjects: Vec<String> = self.lines.iter().map(|(_, l)| l.order_id.clone()).collect();
        let inputs: Vec<Value> = self.lines.iter().map(|(_, l)| change_of(l)).collect();
        let tenant = adm.caller().tenant_id.clone();
        db::runs::items::insert(adm.conn(), run.id, &tenant, &subjects, &inputs).await?;
        let actions: BTreeSet<&str> = self.lines.iter().map(|(_, l)| l.action.as_str()).collect();
        adm.audit(Entry {
            action: "orders.import",
            subject_type: "job",
            subject_id: &run.id.to_string(),
            reason: None,
            before: None,
            after: Some(json!({ "lines": self.lines.len(), "actions": actions,
                                "source": self.input.source })),
            personal_data_of: None,
        })
        .await?;
        let run = db::runs::get(adm.conn(), &tenant, run.id)
            .await?
            .unwrap_or(run);
        let out = JobOut::admin(&run, &self.viewer);
        Ok(Admitted::accepted(
            admin_location(run.id),
            out,
            Some(run.id),
        ))
    }
}

fn change_of(line: &ImportLine) -> Value {
    json!(ItemChange {
        action: line.action,
        reason: line.reason.trim().to_string(),
        duration_minutes: line.duration_minutes.map(|m| m as u32),
        cancel: cancel_choice(line.action, line.refund, line.restock)
            .ok()
            .flatten(),
    })
}

/// Applies order corrections given as NDJSON, one per line:
/// `{"order_id", "action": hold|release|confirm|close|reopen|cancel, "reason",
/// "duration_minutes"?, "refund"?, "restock"?}`, at most 10,000 lines and 8 MiB. The lines
/// are the body (`application/x-ndjson`), or an object of the tenant's in the exports store
/// named by `{"source": {"object": "<key>"}}` (`application/json`): the object
/// `{tenant}/imports/<key>` (422 `import.object_not_found`, `import.object_too_large`; 503
/// `import.storage_unavailable`). Any other content type is 415.
/// `?dry_run=true` checks every line and answers the errors with their line numbers;
/// otherwise an import with any bad line is 422 `import.invalid_lines` (the same list), and
/// a good one 202 with a job whose items are the lines. Requires `orders.bulk` and each
/// line's action's own permission; a cancel line (`refund` and `restock` required) is the
/// order's force-cancel: it needs `orders.cancel.force`, a sudo token in
/// `X-Admin-Auth-Sudo` (`auth.sudo_required` on the line otherwise) and makes
/// `Idempotency-Key` required.
#[utoipa::path(post, path = "/v1/admin/orders/import", tag = "admin",
    params(ImportQuery, ("Idempotency-Key" = Option<String>, Header), ("X-Admin-Auth-Sudo" = Option<String>, Header)),
    request_body(description = "the lines, or a pointer to an object holding them",
        content((String = "application/x-ndjson"), (ImportFromIn = "application/json"))),
    security(("bearer" = ["orders.bulk"])),
    responses((status = 202, body = JobOut), (status = 200, body = ImportCheckOut), (status = 400, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 413, body = crate::error::Problem),
              (status = 415, body = crate::error::Problem), (status = 422, body = crate::error::Problem),
              (status = 503, body = crate::error::Problem, description = "`import.storage_unavailable`")))]
pub async fn import_orders(
    State(state): State<AppState>,
    agent: Authorized<can::OrdersBulk>,
    meta: RequestMeta,
    key: IdempotencyKey,
    ValidQuery(dry_run): ValidQuery<ImportQuery>,
    sudo: Result<Sudo>,
    from: ImportFrom,
) -> Result<Response> {
    let checked = from.check(&state, &agent, sudo.is_ok()).await?;
    if dry_run || !checked.lines.errors.is_empty() {
        return Ok(answer_checked(dry_run, checked.lines));
    }
    start(&state, &agent, &meta, key, checked).await
}

/// What an `Idempotency-Key` fingerprints: the lines, and for an import read from an
/// object the pointer too, so the same key with changed content is refused, not replayed.
#[derive(Serialize)]
#[serde(untagged)]
enum Fingerprint<'a> {
    Body(&'a [&'a ImportLine]),
    Object {
        source: &'a ImportSource,
        lines: &'a [&'a ImportLine],
    },
}

/// Accepts the checked lines as an `import_orders` job.
async fn start(
    state: &AppState,
    agent: &Agent,
    meta: &RequestMeta,
    key: IdempotencyKey,
    checked: Checked,
) -> Result<Response> {
    let Checked { lines, source } = checked;
    let lines = lines.good;
    let read: Vec<&ImportLine> = lines.iter().map(|(_, l)| l).collect();
    let fingerprint = match &source {
        None => Fingerprint::Body(&read),
        Some(source) => Fingerprint::Object {
            source,
            lines: &read,
        },
    };
    // a cancel line moves money: then the key is required
    let key = match lines.iter().any(|(_, l)| l.action == OrderAction::Cancel) {
        true => key.required_for("orders.import", &fingerprint)?,
        false => key.optional_for("orders.import", &fingerprint),
    };
    let input = ImportInput {
        lines: lines.len(),
        requester: requester_of(agent),
        source,
    };
    accept(
        state,
        agent.caller(meta),
        key,
        ImportIntake {
            lines,
            input,
            viewer: Viewer::of(agent),
        },
    )
    .await
}

/// The dry run's answer (200), or the refusal of an import with bad lines (422).
fn answer_checked(dry_run: bool, lines: CheckedLines) -> Response {
    let (valid, errors) = (lines.good.len(), lines.errors);
    let error_count = errors.len();
    let listed: Vec<LineError> = errors.into_iter().take(MAX_LISTED_ERRORS).collect();
    let out = ImportCheckOut {
        dry_run,
        lines: valid + error_count,
        valid,
        error_count,
        errors: listed,
    };
    if dry_run {
        return Json(out).into_response();
    }
    let first = out.errors.first().map(|e| e.line).unwrap_or(0);
    Error::unprocessable(
        "import.invalid_lines",
        format!(
            "{error_count} line(s) cannot be applied (the first: line {first}); nothing was done"
        ),
    )
    .with_extra("errors", json!(out.errors))
    .into_response()
}
