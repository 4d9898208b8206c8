//! `GET /v1/admin/jobs/{id}/items`: the items of a long job with their outcomes (succeeded,
//! failed or skipped with a code), as JSON pages or the whole list as a CSV download.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::jobs_read;
use crate::api::authorized::{Authorized, can};
use crate::api::extract::{Path, ValidQuery, Validate, invalid};
use crate::api::shared::{RequestMeta, bounded_limit};
use crate::db;
use crate::db::runs::items::ItemRow;
use crate::domain::ids::RunId;
use crate::error::{Error, Result};
use crate::state::AppState;

pub(crate) const STATUSES: [&str; 6] = [
    "pending",
    "running",
    "succeeded",
    "failed",
    "skipped",
    "cancelled",
];
/// Items of one CSV download (a bulk job has at most 10,000).
const CSV_MAX: i64 = 10_000;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ItemsQuery {
    /// One of pending, running, succeeded, failed, skipped, cancelled.
    pub status: Option<String>,
    /// The `next_after` of the previous page.
    pub after: Option<i32>,
    /// 1 to 500, default 100 (JSON pages).
    pub limit: Option<i64>,
    /// `json` (default) or `csv`: every item (of the status) as one download.
    pub format: Option<String>,
}

pub struct ItemsListing {
    status: Option<&'static str>,
    after: i32,
    pub(crate) limit: i64,
    csv: bool,
}

impl Validate for ItemsQuery {
    type Checked = ItemsListing;

    fn validate(&self) -> Result<ItemsListing> {
        let status = match self.status.as_deref() {
            None => None,
            Some(s) => Some(
                STATUSES
                    .into_iter()
                    .find(|x| *x == s)
                    .ok_or_else(|| invalid("status", format!("one of {}", STATUSES.join(", "))))?,
            ),
        };
        let csv = match self.format.as_deref() {
            None | Some("json") => false,
            Some("csv") => true,
            Some(_) => return Err(invalid("format", "json or csv")),
        };
        let limit = if csv {
            CSV_MAX
        } else {
            bounded_limit(self.limit, 100, 500)?
        };
        Ok(ItemsListing {
            status,
            after: self.after.unwrap_or(-1),
            limit,
            csv,
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ItemsOut {
    pub data: Vec<ItemRow>,
    /// Pass as `after` for the next page; absent on the last.
    pub next_after: Option<i32>,
}

/// The items of a long job (a bulk job's orders) in order, with their outcomes; `format=csv`
/// downloads them all. Requires `jobs.read`.
#[utoipa::path(get, path = "/v1/admin/jobs/{job_id}/items", tag = "admin", params(("job_id" = Uuid, Path), ItemsQuery),
    security(("bearer" = ["jobs.read"])),
    responses((status = 200, body = ItemsOut), (status = 400, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn list_job_items(
    State(state): State<AppState>,
    agent: Authorized<can::JobsRead>,
    meta: RequestMeta,
    Path(id): Path<RunId>,
    ValidQuery(q): ValidQuery<ItemsQuery>,
) -> Result<Response> {
    let items = read_items(&state, &agent, &meta, id, &q).await?;
    Ok(render(id, items, &q))
}

/// The page of items (one more than asked, to know whether more follow), access-logged.
/// The console's job page shows its items through it too.
pub(crate) async fn read_items(
    state: &AppState,
    agent: &crate::api::auth::Agent,
    meta: &RequestMeta,
    id: RunId,
    q: &ItemsListing,
) -> Result<Vec<ItemRow>> {
    let mut tx = state.db.begin().await?;
    let tenant = &agent.tenant_id;
    let run = db::runs::get(&mut tx, tenant, id).await?;
    let run = run.ok_or_else(|| Error::not_found("job"))?;
    let items = db::runs::items::list(&mut tx, tenant, id, q.status, q.after, q.limit + 1).await?;
    jobs_read(&mut tx, agent, meta, std::slice::from_ref(&run)).await?;
    tx.commit().await?;
    Ok(items)
}

fn render(id: RunId, mut items: Vec<ItemRow>, q: &ItemsListing) -> Response {
    let more = items.len() as i64 > q.limit;
    items.truncate(q.limit as usize);
    if !q.csv {
        let next_after = more.then(|| items.last().map(|i| i.idx)).flatten();
        return Json(ItemsOut {
            data: items,
            next_after,
        })
        .into_response();
    }
    let mut out = String::from("idx,order_id,status,code,detail,child_job_id\n");
    for i in &items {
        let cells = [
            i.idx.to_string(),
            i.subject_id.clone(),
            i.status.clone(),
            i.code.clone().unwrap_or_default(),
            i.detail.clone().unwrap_or_default(),
            i.child_run_id.map(|c| c.to_string()).unwrap_or_default(),
        ];
        let row: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
        out.push_str(&row.join(","));
        out.push('\n');
    }
    let disposition = format!("attachment; filename=\"job-{id}-items.csv\"");
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        out,
    )
        .into_response()
}

/// A CSV field (RFC 4180), with a leading `=`, `+`, `-`, `@`, tab or carriage return
/// neutralised so a spreadsheet never runs it as a formula.
fn csv_cell(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::csv_cell;

    #[test]
    fn a_cell_a_spreadsheet_would_run_is_neutralised() {
        for (raw, cell) in [
            ("=1+2", "'=1+2"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\t=1", "'\t=1"),
            ("\r=1", "\"'\r=1\""),
            ("plain", "plain"),
            ("a,b", "\"a,b\""),
        ] {
            assert_eq!(csv_cell(raw), cell, "{raw:?}");
        }
    }
}
