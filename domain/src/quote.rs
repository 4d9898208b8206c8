//! Order edits by quote: the bounded set of JSON Patch operations an agent may stage on an
//! order ([`parse`]), the order as it would be after them and what it costs ([`price`]),
//! and the input of the `edit_order` workflow that applies a quote. Pure: the caller reads
//! the catalog entries of added SKUs.
//!
//! Pricing rules, in one place:
//! - a line's unit price stays what was paid; an added SKU is priced from the catalog in the
//!   order's currency (a discontinued or unknown SKU is refused);
//! - shipping is the [`ShippingMethod`] table's price once a method is chosen, otherwise what
//!   the order pays now;
//! - tax is the order's current effective rate (`tax / subtotal`) on the new subtotal,
//!   rounded half up; an order without a subtotal keeps no tax;
//! - the difference of totals is charged (a new payment) or refunded (from the order's
//!   payment with enough left to refund).

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::address::{self, AddressIn};
use super::ids::OrderId;
use super::order::{Address, Order, OrderLine, OrderStatus, Totals};
use super::reorder::CatalogItem;

/// The workflow that applies a quote.
pub const EDIT_WORKFLOW: &str = "edit_order";
/// Most operations one quote may stage.
pub const MAX_OPS: usize = 50;
/// Most lines an edited order may have.
pub const MAX_LINES: usize = 100;
/// Largest quantity of one line.
pub const MAX_QTY: i32 = 999;
/// How long a quote can be applied after it was made (or last changed).
pub const TTL_MINUTES: i64 = 30;

/// The operations a quote takes, as the 422 of any other lists them.
pub const ALLOWED: [&str; 5] = [
    "replace /lines/{i}/quantity (value: 1 to 999)",
    "remove /lines/{i}",
    "add /lines/- (value: {\"sku\", \"quantity\"})",
    "replace /shipping_method (value: standard, express or overnight)",
    "replace /shipping_address (value: a whole address)",
];

/// One JSON Patch (RFC 6902) operation as sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchOp {
    /// `add`, `remove` or `replace`.
    pub op: String,
    /// A JSON Pointer into the order, e.g. `/lines/0/quantity`.
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub value: Option<Value>,
}

/// How the order ships, and what it costs (in minor units of the order's currency).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShippingMethod {
    Standard,
    Express,
    Overnight,
}

impl ShippingMethod {
    pub const ALL: [ShippingMethod; 3] = [
        ShippingMethod::Standard,
        ShippingMethod::Express,
        ShippingMethod::Overnight,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ShippingMethod::Standard => "standard",
            ShippingMethod::Express => "express",
            ShippingMethod::Overnight => "overnight",
        }
    }

    /// The price table: 4.99, 12.99, 24.99.
    pub fn price_minor(self) -> i64 {
        match self {
            ShippingMethod::Standard => 499,
            ShippingMethod::Express => 1299,
            ShippingMethod::Overnight => 2499,
        }
    }

    pub fn parse(s: &str) -> Option<ShippingMethod> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// One staged change, parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Quantity { index: usize, qty: i32 },
    Remove { index: usize },
    Add { sku: String, qty: i32 },
    ShippingMethod(ShippingMethod),
    ShippingAddress(Address),
}

/// Why operation `index` of the list is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpError {
    pub index: usize,
    pub message: String,
}

impl OpError {
    /// The field a validation error names: `changes[2]`.
    pub fn field(&self) -> String {
        format!("changes[{}]", self.index)
    }
}

fn op_error(index: usize, message: impl Into<String>) -> OpError {
    OpError {
        index,
        message: message.into(),
    }
}

/// Parses every operation; the error lists each bad one (with what is allowed).
pub fn parse(ops: &[PatchOp]) -> Result<Vec<Change>, Vec<OpError>> {
    if ops.is_empty() || ops.len() > MAX_OPS {
        return Err(vec![OpError {
            index: 0,
            message: format!("from 1 to {MAX_OPS} operations"),
        }]);
    }
    let mut changes = Vec::new();
    let mut errors = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        match parse_one(op) {
            Ok(c) => changes.push(c),
            Err(message) => errors.push(op_error(i, message)),
        }
    }
    match errors.is_empty() {
        true => Ok(changes),
        false => Err(errors),
    }
}

fn unsupported(op: &PatchOp) -> String {
    format!(
        "`{} {}` is not supported; allowed: {}",
        op.op,
        op.path,
        ALLOWED.join("; ")
    )
}

fn quantity(v: Option<&Value>) -> Result<i32, String> {
    match v.and_then(Value::as_i64) {
        Some(q) if (1..=MAX_QTY as i64).contains(&q) => Ok(q as i32),
        _ => Err(format!("quantity: a whole number from 1 to {MAX_QTY}")),
    }
}

fn line_index(segment: &str) -> Option<usize> {
    // JSON Pointer array indices: no sign, no leading zero
    let ok = !segment.is_empty()
        && segment.len() <= 4
        && segment.bytes().all(|b| b.is_ascii_digit())
        && (segment == "0" || !segment.starts_with('0'));
    ok.then(|| segment.parse().ok()).flatten()
}

fn parse_one(op: &PatchOp) -> Result<Change, String> {
    let segments: Vec<&str> = op.path.strip_prefix('/').unwrap_or("").split('/').collect();
    match (op.op.as_str(), segments.as_slice()) {
        ("replace", ["lines", i, "quantity"]) => {
            let index = line_index(i).ok_or_else(|| unsupported(op))?;
            Ok(Change::Quantity {
                index,
                qty: quantity(op.value.as_ref())?,
            })
        }
        ("remove", ["lines", i]) => Ok(Change::Remove {
            index: line_index(i).ok_or_else(|| unsupported(op))?,
        }),
        ("add", ["lines", "-"]) => {
            let v = op.value.as_ref();
            let sku = v.and_then(|v| v.get("sku")).and_then(Value::as_str);
            let sku = match sku.map(str::trim) {
                Some(s) if (1..=64).contains(&s.len()) => s.to_string(),
                _ => return Err("value.sku: 1 to 64 characters".into()),
            };
            let extra = v
                .and_then(Value::as_object)
                .is_some_and(|o| o.keys().any(|k| k != "sku" && k != "quantity"));
            if extra {
                return Err("value: only `sku` and `quantity`".into());
            }
            let qty = quantity(v.and_then(|v| v.get("quantity")))?;
            Ok(Change::Add { sku, qty })
        }
        ("replace", ["shipping_method"]) => op
            .value
            .as_ref()
            .and_then(Value::as_str)
            .and_then(ShippingMethod::parse)
            .map(Change::ShippingMethod)
            .ok_or_else(|| "value: standard, express or overnight".into()),
        ("replace", ["shipping_address"]) => {
            let given: AddressIn = op
                .value
                .clone()
                .and_then(|v| serde_json::from_value(v).ok())
                .ok_or(
                    "value: an address object (name, line1, line2, city, postal_code, country)",
                )?;
            address::validate(&given)
                .map(Change::ShippingAddress)
                .map_err(|bad| {
                    let parts: Vec<String> = bad
                        .iter()
                        .map(|f| format!("value.{}: {}", f.field, f.message))
                        .collect();
                    parts.join("; ")
                })
        }
        _ => Err(unsupported(op)),
    }
}

/// The order as it would be after the quote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Preview {
    #[schema(value_type = String)]
    pub order_id: OrderId,
    pub currency: String,
    pub lines: Vec<OrderLine>,
    /// The method chosen by the quote; absent when it chose none (the order ships as before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_method: Option<ShippingMethod>,
    pub shipping_address: Address,
    pub totals: Totals,
}

/// Units of one SKU to reserve or release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StockMove {
    pub sku: String,
    pub qty: i32,
}

/// What the money difference needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Settle {
    /// Same total: no money moves.
    None,
    /// A new payment of `amount_minor`.
    Charge,
    /// A refund of `amount_minor` from `payment_id`.
    Refund,
}

/// The difference between the order now and as quoted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Delta {
    /// New minus old, each (negative: the order gets cheaper).
    pub subtotal_minor: i64,
    pub shipping_minor: i64,
    pub tax_minor: i64,
    pub total_minor: i64,
    pub settle: Settle,
    /// What is charged or refunded (0 when nothing).
    pub amount_minor: i64,
    /// The payment a refund comes from; absent for a charge, or when no payment has enough
    /// left to refund (then the quote cannot be applied).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<String>,
    pub reserve: Vec<StockMove>,
    pub release: Vec<StockMove>,
}

impl Delta {
    /// Whether applying moves money (and so needs a sudo token).
    pub fn moves_money(&self) -> bool {
        self.settle != Settle::None
    }
}

/// The order as quoted and the difference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Priced {
    pub preview: Preview,
    pub delta: Delta,
}

/// Whether an order in `status` can still be edited (nothing has left the warehouse).
pub fn editable(order: &Order) -> bool {
    matches!(
        order.status,
        OrderStatus::Pending | OrderStatus::Confirmed | OrderStatus::OnHold
    ) && order.shipments.is_empty()
}

/// The SKUs `changes` add: the catalog entries [`price`] needs.
pub fn added_skus(changes: &[Change]) -> Vec<String> {
    let mut skus: Vec<String> = changes
        .iter()
        .filter_map(|c| match c {
            Change::Add { sku, .. } => Some(sku.clone()),
            _ => None,
        })
        .collect();
    skus.sort_unstable();
    skus.dedup();
    skus
}

/// Applies `changes` in order (indices refer to the lines as earlier operations left them,
/// as in JSON Patch) and prices the result. `catalog` holds the added SKUs' entries (absent:
/// not sold in the order's currency); added lines get ids `{line_prefix}_{n}`.
pub fn price(
    order: &Order,
    changes: &[Change],
    catalog: &HashMap<String, CatalogItem>,
    line_prefix: &str,
) -> Result<Priced, Vec<OpError>> {
    let mut lines = order.lines.clone();
    let mut method = None;
    let mut address = order.shipping_address.clone();
    let mut errors = Vec::new();
    let mut added = 0;
    for (i, change) in changes.iter().enumerate() {
        let out_of_range = |index: usize, n: usize| {
            op_error(
                i,
                format!("line {index} does not exist (the order has {n} lines there)"),
            )
        };
        match change {
            Change::Quantity { index, qty } => match lines.get_mut(*index) {
                Some(l) => {
                    l.qty = *qty;
                    l.total_minor = l.unit_price_minor * i64::from(*qty);
                }
                None => errors.push(out_of_range(*index, lines.len())),
            },
            Change::Remove { index } if *index < lines.len() => {
                lines.remove(*index);
            }
            Change::Remove { index } => errors.push(out_of_range(*index, lines.len())),
            Change::Add { sku, qty } => match catalog.get(sku) {
                Some(item) if !item.discontinued && item.currency == order.currency => {
                    added += 1;
                    lines.push(OrderLine {
                        id: format!("{line_prefix}_{added}"),
                        sku: sku.clone(),
                        name: item.name.clone(),
                        qty: *qty,
                        unit_price_minor: item.price_minor,
                        total_minor: item.price_minor * i64::from(*qty),
                        // the catalog carries no customs data: the Orders service fills it in
                        hs_code: None,
                        origin_country: None,
                    });
                }
                _ => errors.push(op_error(
                    i,
                    format!("sku {sku} is not sold in {} now", order.currency),
                )),
            },
            Change::ShippingMethod(m) => method = Some(*m),
            Change::ShippingAddress(a) => address = a.clone(),
        }
    }
    if errors.is_empty() && lines.is_empty() {
        errors.push(op_error(
            changes.len() - 1,
            "an order keeps at least one line",
        ));
    }
    if lines.len() > MAX_LINES {
        errors.push(op_error(
            changes.len() - 1,
            format!("at most {MAX_LINES} lines"),
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let totals = totals(order, &lines, method);
    let delta = delta(order, &lines, &totals);
    let preview = Preview {
        order_id: order.id.clone(),
        currency: order.currency.clone(),
        lines,
        shipping_method: method,
        shipping_address: address,
        totals,
    };
    Ok(Priced { preview, delta })
}

/// `value * num / den`, rounded half up (all non-negative here).
fn mul_div_round(value: i64, num: i64, den: i64) -> i64 {
    if den <= 0 {
        return 0;
    }
    let (v, n, d) = (i128::from(value), i128::from(num), i128::from(den));
    ((v * n * 2 + d) / (d * 2)) as i64
}

fn totals(order: &Order, lines: &[OrderLine], method: Option<ShippingMethod>) -> Totals {
    let subtotal: i64 = lines.iter().map(|l| l.total_minor).sum();
    let shipping = method.map_or(order.totals.shipping_minor, ShippingMethod::price_minor);
    let old = &order.totals;
    let tax = mul_div_round(subtotal, old.tax_minor, old.subtotal_minor);
    Totals {
        subtotal_minor: subtotal,
        shipping_minor: shipping,
        tax_minor: tax,
        total_minor: subtotal + shipping + tax,
    }
}

fn units(lines: &[OrderLine]) -> BTreeMap<&str, i64> {
    let mut by_sku = BTreeMap::new();
    for l in lines {
        *by_sku.entry(l.sku.as_str()).or_insert(0) += i64::from(l.qty);
    }
    by_sku
}

fn delta(order: &Order, lines: &[OrderLine], new: &Totals) -> Delta {
    let old = &order.totals;
    let diff = new.total_minor - old.total_minor;
    let (settle, amount) = match diff {
        0 => (Settle::None, 0),
        d if d > 0 => (Settle::Charge, d),
        d => (Settle::Refund, -d),
    };
    let payment_id = (settle == Settle::Refund)
        .then(|| {
            order
                .payments
                .iter()
                .find(|p| p.refundable_minor() >= amount)
                .map(|p| p.id.clone())
        })
        .flatten();
    let (before, after) = (units(&order.lines), units(lines));
    let (mut reserve, mut release) = (Vec::new(), Vec::new());
    let skus: std::collections::BTreeSet<&str> =
        before.keys().chain(after.keys()).copied().collect();
    for sku in skus {
        let d = after.get(sku).unwrap_or(&0) - before.get(sku).unwrap_or(&0);
        let m = |qty: i64| StockMove {
            sku: sku.to_string(),
            qty: qty as i32,
        };
        match d {
            d if d > 0 => reserve.push(m(d)),
            d if d < 0 => release.push(m(-d)),
            _ => {}
        }
    }
    Delta {
        subtotal_minor: new.subtotal_minor - old.subtotal_minor,
        shipping_minor: new.shipping_minor - old.shipping_minor,
        tax_minor: new.tax_minor - old.tax_minor,
        total_minor: diff,
        settle,
        amount_minor: amount,
        payment_id,
        reserve,
        release,
    }
}

/// The input of the `edit_order` workflow: the quote as applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EditRunInput {
    pub quote_id: String,
    pub order_id: OrderId,
    /// The version the Orders service must still be at (the quote's).
    pub expected_version: i64,
    pub lines: Vec<OrderLine>,
    pub totals: Totals,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_method: Option<ShippingMethod>,
    pub shipping_address: Address,
    pub settle: Settle,
    pub amount_minor: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<String>,
    pub reserve: Vec<StockMove>,
    pub release: Vec<StockMove>,
    /// Conditions of the workflow's steps.
    pub moves_money: bool,
    pub moves_stock: bool,
    pub reason: String,
}

impl EditRunInput {
    pub fn new(quote_id: &str, version: i64, priced: Priced, reason: String) -> Self {
        let Priced { preview, delta } = priced;
        EditRunInput {
            quote_id: quote_id.to_string(),
            order_id: preview.order_id,
            expected_version: version,
            lines: preview.lines,
            totals: preview.totals,
            shipping_method: preview.shipping_method,
            shipping_address: preview.shipping_address,
            moves_money: delta.moves_money(),
            moves_stock: !(delta.reserve.is_empty() && delta.release.is_empty()),
            settle: delta.settle,
            amount_minor: delta.amount_minor,
            payment_id: delta.payment_id,
            reserve: delta.reserve,
            release: delta.release,
            reason,
        }
    }
}

#[cfg(test)]
#[path = "quote_tests.rs"]
mod tests;
