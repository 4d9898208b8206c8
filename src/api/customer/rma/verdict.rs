//! The verdict on a return or exchange request: order-level reasons (the eligibility
//! function, store credit), per-line errors, and the replacement stock. Each block answers
//! 409 with `blocked_reasons` and `line_errors`, so a UI can mark every line.

use std::collections::{BTreeMap, HashMap};

use chrono::Utc;
use serde_json::json;

use super::Ask;
use crate::db;
use crate::domain::cancel::BlockedReason;
use crate::domain::eligibility::{SelfService, check};
use crate::domain::ids::{OrderId, TenantId};
use crate::domain::order::Order;
use crate::domain::returns::{self, LineAsk, LineError, RmaKind};
use crate::domain::settings::TenantSettings;
use crate::error::{Error, Result};
use crate::state::AppState;

fn self_service(kind: RmaKind) -> SelfService {
    match kind {
        RmaKind::Return => SelfService::Return,
        RmaKind::Exchange => SelfService::Replace,
    }
}

/// Order-level reasons: `eligibility::check` (its code is the answer's code, as
/// `allowed_actions` says), and store credit the tenant does not offer.
pub(super) fn order_reasons(
    ask: &Ask,
    order: &Order,
    settings: &TenantSettings,
) -> Vec<BlockedReason> {
    let mut reasons = Vec::new();
    if let Err(r) = check(self_service(ask.kind), order, settings, Utc::now()) {
        reasons.push(r);
    }
    if ask.preferred_refund.as_deref() == Some("store_credit")
        && !settings.capabilities.store_credit
    {
        reasons.push(BlockedReason {
            code: "return.store_credit_unavailable".into(),
            message: "this shop does not offer store credit; choose card".into(),
        });
    }
    reasons
}

fn not_eligible(kind: RmaKind, reasons: Vec<BlockedReason>, lines: Vec<LineError>) -> Error {
    // the eligibility function's own code when it refused (e.g. `return.disabled`), so the
    // endpoint and `allowed_actions` agree; `{prefix}.not_eligible` for everything else
    let code = reasons
        .iter()
        .map(|r| r.code.as_str())
        .find(|c| !c.ends_with("store_credit_unavailable"))
        .map_or_else(
            || format!("{}.not_eligible", kind.code_prefix()),
            str::to_string,
        );
    let detail = match (reasons.first(), lines.first()) {
        (Some(r), _) => r.message.clone(),
        (None, Some(l)) => format!("line {}: {}", l.line_id, l.message),
        (None, None) => "not eligible".into(),
    };
    let verb = match kind {
        RmaKind::Return => "returned",
        RmaKind::Exchange => "exchanged",
    };
    Error::conflict(&code, detail)
        .with_explain(format!("only delivered lines can be {verb}, within the window, and never more units than were delivered"))
        .with_extra("blocked_reasons", serde_json::to_value(&reasons).unwrap_or_default())
        .with_extra("line_errors", serde_json::to_value(&lines).unwrap_or_default())
}

/// Stock shortfalls of the replacement SKUs: `(unknown skus, [(sku, needed, on hand)])`.
pub type StockVerdict = (Vec<String>, Vec<(String, i32, i64)>);

/// Asks the Inventory service for each replacement SKU's stock (a read, before any change).
pub async fn check_stock(
    state: &AppState,
    tenant: &TenantId,
    need: &BTreeMap<String, i32>,
) -> Result<StockVerdict> {
    let (mut unknown, mut short) = (Vec::new(), Vec::new());
    for (sku, qty) in need {
        match state.upstream.get_stock(tenant, sku).await {
            Ok(None) => unknown.push(sku.clone()),
            Ok(Some(on_hand)) if on_hand < i64::from(*qty) => {
                short.push((sku.clone(), *qty, on_hand))
            }
            Ok(Some(_)) => {}
            Err(e) => {
                tracing::warn!(error = %e, "stock check failed");
                return Err(Error::unavailable(
                    "inventory.unavailable",
                    "stock cannot be checked right now; retry shortly",
                ));
            }
        }
    }
    Ok((unknown, short))
}

fn stock_error(ask: &Ask, order: &Order, (unknown, short): &StockVerdict) -> Option<Error> {
    if !unknown.is_empty() {
        let lines = ask.lines.iter().filter_map(|l| {
            let sku = l.replacement_sku.clone().or_else(|| {
                order
                    .lines
                    .iter()
                    .find(|o| o.id == l.line_id)
                    .map(|o| o.sku.clone())
            })?;
            unknown.contains(&sku).then(|| LineError {
                line_id: l.line_id.clone(),
                code: "replace.unknown_sku".into(),
                message: format!("the shop does not sell {sku}"),
            })
        });
        return Some(not_eligible(ask.kind, vec![], lines.collect()));
    }
    let (sku, _, _) = short.first()?;
    let skus: Vec<_> = short
        .iter()
        .map(|(s, n, h)| json!({"sku": s, "requested": n, "available": h.max(&0)}))
        .collect();
    Some(
        Error::conflict(
            "replace.out_of_stock",
            format!("{sku} is out of stock for this exchange"),
        )
        .with_extra("skus", serde_json::Value::Array(skus))
        .with_next_step("choose another replacement, or return the item instead"),
    )
}

pub(super) async fn held_units(
    conn: &mut sqlx::PgConnection,
    tenant: &TenantId,
    order_id: &OrderId,
) -> Result<HashMap<String, i32>> {
    let held = db::returns::holding_units(conn, tenant, order_id).await?;
    Ok(returns::taken_by_rmas(
        held.iter().map(|(id, l)| (id.as_str(), l.as_slice())),
        None,
    ))
}

/// The 409 for the first thing that blocks the request, if any: order-level reasons, then
/// per-line errors, then the replacement stock.
pub(super) fn verdict(
    ask: &Ask,
    order: &Order,
    settings: &TenantSettings,
    reasons: Vec<BlockedReason>,
    taken: &HashMap<String, i32>,
    stock: Option<&StockVerdict>,
) -> Result<()> {
    if !reasons.is_empty() {
        return Err(not_eligible(ask.kind, reasons, vec![]));
    }
    let asks: Vec<LineAsk<'_>> = ask
        .lines
        .iter()
        .map(|l| LineAsk {
            line_id: &l.line_id,
            qty: l.qty,
        })
        .collect();
    let errors = returns::check_lines(ask.kind, order, &asks, taken, settings, Utc::now());
    if !errors.is_empty() {
        return Err(not_eligible(ask.kind, vec![], errors));
    }
    match stock.and_then(|s| stock_error(ask, order, s)) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
