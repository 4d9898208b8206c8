//! The lines of an import, from whatever byte stream carries them (the request's body or an
//! object in storage): split as the chunks arrive, each parsed and checked on the spot, so
//! only the parsed lines are kept, never the bytes. Bounded in bytes, lines and line length.

use std::collections::HashSet;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::super::bulk::{cancel_choice, needs_sudo, permission_of};
use super::super::transitions::MAX_HOLD_MINUTES;
use crate::api::auth::Agent;
use crate::api::cancellation::validate_note;
use crate::db;
use crate::domain::bulk::{BULK_ACTIONS, MAX_IMPORT_LINES};
use crate::domain::transitions::OrderAction;
use crate::error::{Error, Result};
use crate::state::AppState;

/// The longest line.
const MAX_LINE_BYTES: usize = 4 * 1024;

/// One line of an import.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ImportLine {
    pub order_id: String,
    pub action: OrderAction,
    pub reason: String,
    #[serde(default)]
    pub duration_minutes: Option<i64>,
    /// Cancel only, and required there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund: Option<bool>,
    /// Cancel only, and required there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restock: Option<bool>,
}

/// A line that cannot be applied.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LineError {
    /// 1-based, counting blank lines.
    pub line: usize,
    pub code: String,
    pub message: String,
}

/// The bytes of an import and how their end is answered.
pub(super) struct ByteSource<S> {
    pub stream: S,
    /// Bytes past which the import is refused with `too_large` (the stream may also end
    /// in an error of its own, answered as it is).
    pub limit: usize,
    pub too_large: fn() -> Error,
    /// After a refusal, read the rest and drop it: a client uploading its body gets the
    /// answer instead of a connection closed under it. An object is simply left unread.
    pub drain: bool,
}

/// Every line checked: the good ones with their numbers, and the errors by line.
pub(super) struct CheckedLines {
    pub good: Vec<(usize, ImportLine)>,
    pub errors: Vec<LineError>,
}

/// Reads NDJSON from `src` and checks every line: its JSON and members, its change, the
/// caller's right to make it (`sudo`: whether a valid sudo token came, as cancel lines need),
/// no order twice, then that each order is the tenant's. 422 past [`MAX_IMPORT_LINES`]
/// non-blank lines or [`MAX_LINE_BYTES`] in a line.
pub(super) async fn check_lines<S>(
    state: &AppState,
    agent: &Agent,
    sudo: bool,
    src: ByteSource<S>,
) -> Result<CheckedLines>
where
    S: Stream<Item = Result<Bytes>> + Unpin,
{
    let mut reader = LineReader {
        agent,
        sudo,
        buf: Vec::new(),
        number: 0,
        kept: 0,
        seen: HashSet::new(),
        good: Vec::new(),
        errors: Vec::new(),
    };
    let (mut stream, mut read) = (src.stream, 0usize);
    // the first refusal ends the checking; the rest is drained or left
    let mut refused: Option<Error> = None;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        read += chunk.len();
        if read > src.limit {
            return Err((src.too_large)());
        }
        if refused.is_some() {
            continue;
        }
        if let Err(e) = reader.feed(&chunk) {
            refused = Some(e);
            if !src.drain {
                break;
            }
        }
    }
    if let Some(e) = refused {
        return Err(e);
    }
    let CheckedLines {
        mut good,
        mut errors,
    } = reader.finish()?;
    let ids: Vec<String> = good.iter().map(|(_, l)| l.order_id.clone()).collect();
    let mut conn = state.db.acquire().await?;
    let known = db::search::existing_ids(&mut conn, &agent.tenant_id, &ids).await?;
    good.retain(|(n, l)| {
        let ours = known.contains(&l.order_id);
        if !ours {
            errors.push(line_error(*n, "order.not_found", "no such order".into()));
        }
        ours
    });
    errors.sort_by_key(|e| e.line);
    Ok(CheckedLines { good, errors })
}

/// Splits chunks into lines and checks each as it completes.
struct LineReader<'a> {
    agent: &'a Agent,
    sudo: bool,
    /// The line not yet ended.
    buf: Vec<u8>,
    /// Lines ended so far, blank ones included.
    number: usize,
    /// Non-blank lines so far.
    kept: usize,
    seen: HashSet<String>,
    good: Vec<(usize, ImportLine)>,
    errors: Vec<LineError>,
}

impl LineReader<'_> {
    fn feed(&mut self, chunk: &[u8]) -> Result<()> {
        let mut rest = chunk;
        while let Some(pos) = rest.iter().position(|b| *b == b'\n') {
            self.buf.extend_from_slice(&rest[..pos]);
            rest = &rest[pos + 1..];
            self.number += 1;
            self.bounded(self.number)?;
            let line = std::mem::take(&mut self.buf);
            self.line(&line, self.number)?;
        }
        self.buf.extend_from_slice(rest);
        self.bounded(self.number + 1)
    }

    /// 422 when line `n`, read so far, is already too long.
    fn bounded(&self, n: usize) -> Result<()> {
        if self.buf.len() <= MAX_LINE_BYTES {
            return Ok(());
        }
        let detail = format!("line {n} is longer than {MAX_LINE_BYTES} bytes");
        Err(Error::unprocessable("import.line_too_long", detail))
    }

    /// The last line (without a newline) checked; the good lines and the errors so far.
    fn finish(mut self) -> Result<CheckedLines> {
        if !self.buf.is_empty() {
            let line = std::mem::take(&mut self.buf);
            self.line(&line, self.number + 1)?;
        }
        Ok(CheckedLines {
            good: self.good,
            errors: self.errors,
        })
    }

    /// Checks line `n`: a blank one is skipped, a bad one becomes an error; 422 past
    /// [`MAX_IMPORT_LINES`].
    fn line(&mut self, bytes: &[u8], n: usize) -> Result<()> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        if self.kept == MAX_IMPORT_LINES {
            let detail = format!("at most {MAX_IMPORT_LINES} lines");
            return Err(Error::unprocessable("import.too_many_lines", detail));
        }
        self.kept += 1;
        let line: ImportLine = match serde_json::from_slice(bytes) {
            Ok(l) => l,
            Err(e) => {
                let e = line_error(n, "import.invalid_line", e.to_string());
                self.errors.push(e);
                return Ok(());
            }
        };
        if let Some((code, message)) = line_problem(&line, self.agent, self.sudo) {
            self.errors.push(line_error(n, &code, message));
        } else if !self.seen.insert(line.order_id.clone()) {
            let message = "an earlier line names this order".into();
            self.errors
                .push(line_error(n, "import.duplicate_order", message));
        } else {
            self.good.push((n, line));
        }
        Ok(())
    }
}

fn line_error(line: usize, code: &str, message: String) -> LineError {
    LineError {
        line,
        code: code.into(),
        message,
    }
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
