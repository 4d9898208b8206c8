//! `POST /v1/admin/orders/import`: order corrections as NDJSON, one status change per line
//! (`{"order_id", "action", "reason", "duration_minutes"?, "refund"?, "restock"?}`; a cancel
//! line is the order's force-cancel, with its sudo token), read as a stream (bounded in
//! size and lines; the body is never held whole). Every line is checked, and a dry run (or
//! a body with bad lines) answers each error with its line number; a good body becomes a
//! long job (`import_orders`) whose items are the lines, carried out as a bulk job's are.

use std::collections::{BTreeSet, HashSet};

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use super::bulk::{cancel_choice, needs_sudo, permission_of, requester_of};
use super::transitions::MAX_HOLD_MINUTES;
use crate::api::accept::{Admission, Admitted, Intake, StartRun, accept};
use crate::api::auth::{Agent, Sudo};
use crate::api::authorized::{Authorized, can};
use crate::api::cancellation::validate_note;
use crate::api::extract::{ValidQuery, Validate};
use crate::api::idempotency::IdempotencyKey;
use crate::api::jobs::{JobOut, Viewer, admin_location};
use crate::api::shared::RequestMeta;
use crate::db;
use crate::db::audit::Entry;
use crate::domain::bulk::{BULK_ACTIONS, ImportInput, ItemChange, MAX_IMPORT_LINES};
use crate::domain::transitions::OrderAction;
use crate::error::{Error, Result};
use crate::state::AppState;

/// The largest import body (the route's own limit).
pub const IMPORT_BODY_LIMIT: usize = 8 * 1024 * 1024;
/// The longest line.
const MAX_LINE_BYTES: usize = 4 * 1024;
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

/// One line of an import.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportLine {
    order_id: String,
    action: OrderAction,
    reason: String,
    #[serde(default)]
    duration_minutes: Option<i64>,
    /// Cancel only, and required there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refund: Option<bool>,
    /// Cancel only, and required there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    restock: Option<bool>,
}

/// A line that cannot be applied.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LineError {
    /// 1-based, counting blank lines.
    pub line: usize,
    pub code: String,
    pub message: String,
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

/// The lines of an NDJSON body, read chunk by chunk: (line number, bytes) of the non-blank
/// ones. 422 past [`MAX_IMPORT_LINES`] lines or [`MAX_LINE_BYTES`] in a line; 413 past the
/// route's body limit.
async fn read_lines(body: Body) -> Result<Vec<(usize, Vec<u8>)>> {
    let mut stream = body.into_data_stream();
    let (mut buf, mut out, mut number) = (Vec::new(), Vec::new(), 0usize);
    // the first refusal; the rest of the body is still read (and dropped), so the client
    // gets the answer instead of a connection closed under its upload
    let mut refused: Option<Error> = None;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| too_large())?;
        if refused.is_some() {
            continue;
        }
        buf.extend_from_slice(&chunk);
        while let Some(pos) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=pos).collect();
            number += 1;
            if let Err(e) = take_line(line, number, &mut out) {
                refused.get_or_insert(e);
            }
        }
        if buf.len() > MAX_LINE_BYTES {
            let detail = format!("line {} is longer than {MAX_LINE_BYTES} bytes", number + 1);
            refused.get_or_insert(Error::unprocessable("import.line_too_long", detail));
        }
    }
    if let Some(e) = refused {
        return Err(e);
    }
    if !buf.is_empty() {
        take_line(buf, number + 1, &mut out)?;
    }
    Ok(out)
}

/// Keeps a non-blank line with its number; 422 past [`MAX_IMPORT_LINES`].
fn take_line(line: Vec<u8>, number: usize, out: &mut Vec<(usize, Vec<u8>)>) -> Result<()> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    if out.len() == MAX_IMPORT_LINES {
        let detail = format!("at most {MAX_IMPORT_LINES} lines");
        return Err(Error::unprocessable("import.too_many_lines", detail));
    }
    out.push((number, line));
    Ok(())
}

fn too_large() -> Error {
    Error::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "request.too_large",
        format!("an import is at most {IMPORT_BODY_LIMIT} bytes"),
    )
}

/// Every line parsed and checked; the good ones with their line numbers. `sudo` says
/// whether the caller sent a valid sudo token (cancel lines need one).
async fn check_lines(
    state: &AppState,
    agent: &Agent,
    sudo: bool,
    raw: Vec<(usize, Vec<u8>)>,
) -> Result<(Vec<(usize, ImportLine)>, Vec<LineError>)> {
    let (mut good, mut errors, mut seen) = (Vec::new(), Vec::new(), HashSet::new());
    let err = |line, code: &str, message: String| LineError {
        line,
        code: code.into(),
        message,
    };
    for (n, bytes) in raw {
        let line: ImportLine = match serde_json::from_slice(&bytes) {
            Ok(l) => l,
            Err(e) => {
                errors.push(err(n, "import.invalid_line", e.to_string()));
                continue;
            }
        };
        if let Some(problem) = line_problem(&line, agent, sudo) {
            errors.push(err(n, &problem.0, problem.1));
        } else if !seen.insert(line.order_id.clone()) {
            errors.push(err(
                n,
                "import.duplicate_order",
                "an earlier line names this order".into(),
            ));
        } else {
            good.push((n, line));
        }
    }
    let ids: Vec<String> = good.iter().map(|(_, l)| l.order_id.clone()).collect();
    let mut conn = state.db.acquire().await?;
    let known = db::search::existing_ids(&mut conn, &agent.tenant_id, &ids).await?;
    let (good, unknown): (Vec<_>, Vec<_>) = good
        .into_iter()
        .partition(|(_, l)| known.contains(&l.order_id));
    for (n, _) in unknown {
        errors.push(err(n, "order.not_found", "no such order".into()));
    }
    errors.sort_by_key(|e| e.line);
    Ok((good, errors))
}

/// What is wrong with a parsed line, as (code, message).
fn line_problem(line: &ImportLine, agent: &Agent, sudo: bool) -> Option<(String, String)> {
    if !BULK_ACTIONS.contains(&line.action) {
        let allowed: Vec<&str> = BULK_ACTIONS.iter().map(|a| a.as_str()).collect();
        return Some((
            "bulk.unsupported_action".into(),
            format!("one of {}", allowed.join(", ")),
        ));
    }
    if let Err(e) = validate_note("reason", Some(&line.reason), true) {
        return Some(("validation.failed".into(), e.to_problem().detail));
    }
    match line.duration_minutes {
        Some(_) if line.action != OrderAction::Hold => {
            return Some((
                "validation.failed".into(),
                "only a hold has a duration".into(),
            ));
        }
        Some(m) if !(1..=MAX_HOLD_MINUTES).contains(&m) => {
            return Some((
                "validation.failed".into(),
                format!("duration_minutes from 1 to {MAX_HOLD_MINUTES}"),
            ));
        }
        _ => {}
    }
    if let Err(e) = cancel_choice(line.action, line.refund, line.restock) {
        return Some((
            "validation.failed".into(),
            format!("{}: {}", e.field, e.message),
        ));
    }
    let needed = permission_of(line.action);
    if !agent.can(needed) {
        return Some((
            "auth.forbidden".into(),
            format!("needs the permission `{needed}`"),
        ));
    }
    (needs_sudo(line.action) && !sudo).then(|| {
        (
            "auth.sudo_required".into(),
            "a cancel line needs a valid sudo token in X-Admin-Auth-Sudo".into(),
        )
    })
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
            after: Some(json!({ "lines": self.lines.len(), "actions": actions })),
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

/// Applies order corrections given as NDJSON (`application/x-ndjson`), one per line:
/// `{"order_id", "action": hold|release|confirm|close|reopen|cancel, "reason",
/// "duration_minutes"?, "refund"?, "restock"?}`, at most 10,000 lines and 8 MiB.
/// `?dry_run=true` checks every line and answers the errors with their line numbers;
/// otherwise a body with any bad line is 422 `import.invalid_lines` (the same list), and a
/// good one 202 with a job whose items are the lines. Requires `orders.bulk` and each line's
/// action's own permission; a cancel line (`refund` and `restock` required) is the order's
/// force-cancel: it needs `orders.cancel.force`, a sudo token in `X-Admin-Auth-Sudo`
/// (`auth.sudo_required` on the line otherwise) and makes `Idempotency-Key` required.
#[utoipa::path(post, path = "/v1/admin/orders/import", tag = "admin",
    params(ImportQuery, ("Idempotency-Key" = Option<String>, Header), ("X-Admin-Auth-Sudo" = Option<String>, Header)),
    request_body(content = String, content_type = "application/x-ndjson"), security(("bearer" = ["orders.bulk"])),
    responses((status = 202, body = JobOut), (status = 200, body = ImportCheckOut), (status = 400, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem),
              (status = 413, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn import_orders(
    State(state): State<AppState>,
    agent: Authorized<can::OrdersBulk>,
    meta: RequestMeta,
    key: IdempotencyKey,
    ValidQuery(dry_run): ValidQuery<ImportQuery>,
    sudo: Result<Sudo>,
    body: Body,
) -> Result<Response> {
    let raw = read_lines(body).await?;
    let (lines, errors) = check_lines(&state, &agent, sudo.is_ok(), raw).await?;
    if dry_run || !errors.is_empty() {
        return Ok(checked(dry_run, lines.len(), errors));
    }
    start(&state, &agent, &meta, key, lines).await
}

/// Accepts the checked lines as an `import_orders` job.
async fn start(
    state: &AppState,
    agent: &Agent,
    meta: &RequestMeta,
    key: IdempotencyKey,
    lines: Vec<(usize, ImportLine)>,
) -> Result<Response> {
    let fingerprint: Vec<&ImportLine> = lines.iter().map(|(_, l)| l).collect();
    // a cancel line moves money: then the key is required
    let key = match lines.iter().any(|(_, l)| l.action == OrderAction::Cancel) {
        true => key.required_for("orders.import", &fingerprint)?,
        false => key.optional_for("orders.import", &fingerprint),
    };
    let input = ImportInput {
        lines: lines.len(),
        requester: requester_of(agent),
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

/// The dry run's answer (200), or the refusal of a body with bad lines (422).
fn checked(dry_run: bool, valid: usize, errors: Vec<LineError>) -> Response {
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
