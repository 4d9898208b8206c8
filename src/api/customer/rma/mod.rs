//! What `return-request` and `replace-request` share: line validation, the eligibility
//! verdict (order, lines, store credit, replacement stock), the dry-run plan, and accepting
//! the request (`accept.rs`: request row + `returns` row + run + audit + idempotency in one
//! transaction).

mod accept;
mod verdict;

use std::collections::{BTreeMap, HashSet};

use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::auth::Customer;
use crate::api::idempotency::IdempotencyKey;
use crate::api::jobs::JobOut;
use crate::api::shared::RequestMeta;
use crate::db;
use crate::db::returns::StoredLine;
use crate::domain::cancel::BlockedReason;
use crate::domain::ids::{OrderId, RequestId};
use crate::domain::order::{Money, Order};
use crate::domain::returns::{self, LineAsk, REASONS, RmaKind, RmaLine, RmaRunInput};
use crate::domain::settings::TenantSettings;
use crate::error::{Error, FieldError, Result};
use crate::state::AppState;

pub use accept::workflow;

pub const MAX_LINES: usize = 50;
pub const MAX_COMMENT: usize = 500;

/// One line as the customer asks for it (shape-validated by [`validate_lines`]).
#[derive(Debug, Clone)]
pub struct LineAskIn {
    pub line_id: String,
    pub qty: i32,
    pub reason: String,
    pub comment: Option<String>,
    pub replacement_sku: Option<String>,
}

/// A return or exchange request, after shape validation.
#[derive(Debug, Clone)]
pub struct Ask {
    pub kind: RmaKind,
    pub method: String,
    pub preferred_refund: Option<String>,
    pub lines: Vec<LineAskIn>,
    /// Answer the plan without changing anything.
    pub dry_run: bool,
}

impl Ask {
    /// A return or exchange of `lines`, after the shape checks of every field (422 listing
    /// each bad one); `preferred_refund` is a return's.
    pub fn checked(
        kind: RmaKind,
        lines: Vec<LineAskIn>,
        method: &str,
        preferred_refund: Option<&str>,
        dry_run: bool,
    ) -> Result<Ask> {
        let mut errors = Vec::new();
        validate_lines(&lines, &mut errors);
        if let Some(refund) = preferred_refund {
            one_of(&mut errors, "preferred_refund", refund, &returns::REFUNDS);
        }
        one_of(&mut errors, "method", method, &returns::METHODS);
        fail_on(errors)?;
        Ok(Ask {
            kind,
            method: method.to_string(),
            preferred_refund: preferred_refund.map(str::to_string),
            lines,
            dry_run,
        })
    }
}

/// A line of an RMA as the customer sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RmaLineOut {
    pub line_id: String,
    pub sku: String,
    pub name: String,
    pub qty: i32,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replacement_sku: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

impl From<&StoredLine> for RmaLineOut {
    fn from(l: &StoredLine) -> Self {
        RmaLineOut {
            line_id: l.line.line_id.clone(),
            sku: l.sku.clone(),
            name: l.name.clone(),
            qty: l.line.qty,
            reason: l.line.reason.clone(),
            replacement_sku: l.line.replacement_sku.clone(),
            comment: l.comment.clone(),
        }
    }
}

/// The answer to an accepted return or exchange.
#[derive(Debug, Serialize, ToSchema)]
pub struct RmaAcceptedOut {
    pub rma_id: String,
    #[schema(value_type = uuid::Uuid)]
    pub request_id: RequestId,
    /// `return` or `exchange`.
    pub kind: RmaKind,
    /// `requested`; `failed` if the job ended without an RMA (with `Prefer: wait`).
    pub status: String,
    pub instructions: String,
    /// Set once the Returns API made the label (poll `GET /v1/customer/returns/{rma_id}`).
    pub label_url: Option<String>,
    pub lines: Vec<RmaLineOut>,
    /// Returns only: what the refund is expected to be (unit prices × quantities).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_refund: Option<Money>,
    pub job: JobOut,
}

/// What a request would do, answered to `dry_run: true` with no side effect.
#[derive(Debug, Serialize, ToSchema)]
pub struct RmaPlanOut {
    pub dry_run: bool,
    pub kind: RmaKind,
    pub lines: Vec<RmaLineOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_refund: Option<Money>,
    pub instructions: String,
    /// Exchanges: replacement units that would be reserved, per SKU.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub replacement_stock: BTreeMap<String, i32>,
    /// The workflow steps that would run, in order.
    pub steps: Vec<String>,
}

fn field(errors: &mut Vec<FieldError>, field: String, message: &str) {
    errors.push(FieldError {
        field,
        message: message.into(),
    });
}

/// Shape checks of the lines (count, ids, quantities, reasons, comment and SKU lengths).
fn validate_lines(lines: &[LineAskIn], errors: &mut Vec<FieldError>) {
    if lines.is_empty() || lines.len() > MAX_LINES {
        field(errors, "lines".into(), "1 to 50 lines");
    }
    let mut seen = HashSet::new();
    for (i, l) in lines.iter().enumerate().take(MAX_LINES) {
        let at = |f: &str| format!("lines[{i}].{f}");
        if l.line_id.trim().is_empty() || l.line_id.len() > 64 {
            field(errors, at("line_id"), "1 to 64 characters");
        } else if !seen.insert(l.line_id.as_str()) {
            field(errors, at("line_id"), "listed twice: give each line once");
        }
        if !(1..=returns::MAX_QTY).contains(&l.qty) {
            let msg = format!("from 1 to {}", returns::MAX_QTY);
            field(errors, at("qty"), &msg);
        }
        if !REASONS.contains(&l.reason.as_str()) {
            let msg = format!("one of {}", REASONS.join(", "));
            field(errors, at("reason"), &msg);
        }
        if l.comment
            .as_deref()
            .is_some_and(|c| c.chars().count() > MAX_COMMENT)
        {
            field(errors, at("comment"), "at most 500 characters");
        }
        let sku_ok = |s: &str| {
            (1..=64).contains(&s.len())
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        };
        if l.replacement_sku.as_deref().is_some_and(|s| !sku_ok(s)) {
            field(
                errors,
                at("replacement_sku"),
                "1 to 64 letters, digits, '-', '_' or '.'",
            );
        }
    }
}

/// The lines with what the customer sees of them, the refund and the run input.
pub(super) struct Plan {
    stored: Vec<StoredLine>,
    expected_refund: Option<Money>,
    input: RmaRunInput,
}

fn plan(ask: &Ask, order: &Order) -> Plan {
    let stored: Vec<StoredLine> = ask
        .lines
        .iter()
        .map(|l| {
            let ol = order.lines.iter().find(|o| o.id == l.line_id);
            StoredLine {
                line: RmaLine {
                    line_id: l.line_id.clone(),
                    qty: l.qty,
                    reason: l.reason.clone(),
                    replacement_sku: match ask.kind {
                        RmaKind::Return => None,
                        RmaKind::Exchange => l
                            .replacement_sku
                            .clone()
                            .or_else(|| ol.map(|o| o.sku.clone())),
                    },
                },
                sku: ol.map(|o| o.sku.clone()).unwrap_or_default(),
                name: ol.map(|o| o.name.clone()).unwrap_or_default(),
                comment: l.comment.clone(),
            }
        })
        .collect();
    let rma_lines: Vec<RmaLine> = stored.iter().map(|s| s.line.clone()).collect();
    let asks: Vec<LineAsk<'_>> = ask
        .lines
        .iter()
        .map(|l| LineAsk {
            line_id: &l.line_id,
            qty: l.qty,
        })
        .collect();
    let expected_refund = (ask.kind == RmaKind::Return).then(|| Money {
        amount_minor: returns::expected_refund_minor(order, &asks),
        currency: order.currency.clone(),
    });
    let replacement_stock = match ask.kind {
        RmaKind::Return => BTreeMap::new(),
        RmaKind::Exchange => returns::replacement_stock(order, &rma_lines),
    };
    let input = RmaRunInput {
        order_id: order.id.clone(),
        // set when accepted
        rma_id: String::new(),
        request_id: RequestId::from_uuid(uuid::Uuid::nil()),
        kind: ask.kind,
        method: ask.method.clone(),
        preferred_refund: ask.preferred_refund.clone(),
        lines: rma_lines,
        replacement_stock,
    };
    Plan {
        stored,
        expected_refund,
        input,
    }
}

/// Everything between the validated body and the answer: eligibility, dry run, or
/// acceptance (see `accept.rs`).
pub async fn request(
    state: &AppState,
    who: &Customer,
    meta: &RequestMeta,
    key: IdempotencyKey,
    order_id: &OrderId,
    ask: Ask,
    hash: String,
) -> Result<Response> {
    let order = who.own_order(state, order_id).await?;
    let settings = {
        let mut conn = state.db.acquire().await?;
        db::tenants::settings(&mut conn, &who.tenant_id).await?
    };
    let reasons = verdict::order_reasons(&ask, &order, &settings);
    let plan = plan(&ask, &order);
    let need = &plan.input.replacement_stock;
    // a read before the transaction; its verdict is applied after the idempotency check,
    // so a replay is never refused for stock that its own first call reserved
    let stock = if reasons.is_empty() && !need.is_empty() {
        Some(verdict::check_stock(state, &who.tenant_id, need).await?)
    } else {
        None
    };
    if ask.dry_run {
        return dry_run(
            state,
            &ask,
            &order,
            &settings,
            reasons,
            stock.as_ref(),
            plan,
        )
        .await;
    }
    let key = key.required_with(hash)?;
    let intake = accept::RmaIntake {
        order: &order,
        ask: &ask,
        settings: &settings,
        reasons,
        stock: stock.as_ref(),
        plan,
    };
    crate::api::accept::accept(state, who.caller(meta), key, intake).await
}

/// The plan and the verdict on it now, with no side effect.
async fn dry_run(
    state: &AppState,
    ask: &Ask,
    order: &Order,
    settings: &TenantSettings,
    reasons: Vec<BlockedReason>,
    stock: Option<&verdict::StockVerdict>,
    plan: Plan,
) -> Result<Response> {
    let mut conn = state.db.acquire().await?;
    let taken = verdict::held_units(&mut conn, &order.tenant_id, &order.id).await?;
    verdict::verdict(ask, order, settings, reasons, &taken, stock)?;
    Ok(axum::Json(RmaPlanOut {
        dry_run: true,
        kind: ask.kind,
        lines: plan.stored.iter().map(RmaLineOut::from).collect(),
        expected_refund: plan.expected_refund,
        instructions: returns::instructions(ask.kind, &ask.method),
        steps: state
            .workflows
            .planned_steps(workflow(ask.kind), &plan.input),
        replacement_stock: plan.input.replacement_stock,
    })
    .into_response())
}

/// A validation problem if `errors` is not empty.
fn fail_on(errors: Vec<FieldError>) -> Result<()> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::validation(errors))
    }
}

/// A field error unless `value` is one of `allowed`.
fn one_of(errors: &mut Vec<FieldError>, name: &str, value: &str, allowed: &[&str]) {
    if !allowed.contains(&value) {
        field(
            errors,
            name.into(),
            &format!("one of {}", allowed.join(", ")),
        );
    }
}
