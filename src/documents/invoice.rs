//! The invoice of an order: seller, buyer, order facts, every line with quantity, unit
//! price and amount, then subtotal, shipping, tax, total, any refund, and Billing's credit
//! notes and adjustments with the balance after them.

use super::layout::{
    self, BODY, BOTTOM, LEFT, RIGHT, ROW, TOP, address_block, facts, row_rule, table_header,
};
use super::pdf::{A4, Doc, Weight};
use super::{InvoiceChange, money};
use crate::domain::order::{Order, Payment};

/// Right edges of the numeric columns and the left edge of the SKU column.
const SKU_X: f32 = 300.0;
const QTY_RIGHT: f32 = 400.0;
const UNIT_RIGHT: f32 = 470.0;
const ITEM_WIDTH: f32 = SKU_X - LEFT - 10.0;
/// Room the totals block needs below the last line.
const TOTALS_HEIGHT: f32 = 110.0;

/// The invoice's number, derived from the order's so it is stable across downloads.
pub fn number(order: &Order) -> String {
    format!("INV-{}", order.number)
}

/// Room each credit note or adjustment, and the balance, take below the totals.
const CHANGE_HEIGHT: f32 = 15.0;

pub fn render(order: &Order, seller: &str, changes: &[InvoiceChange]) -> Vec<u8> {
    let mut doc = Doc::new(
        A4,
        &format!("Invoice {} for order {}", number(order), order.number),
    );
    layout::heading(&mut doc, seller, "INVOICE");

    let top = TOP - 44.0;
    let after_address = address_block(&mut doc, LEFT, top, "BILL TO", &order.shipping_address);
    doc.text(LEFT, after_address, Weight::Regular, BODY, &order.email);
    let after_facts = facts(
        &mut doc,
        330.0,
        top,
        &[
            ("Invoice number", number(order)),
            ("Order number", order.number.clone()),
            ("Invoice date", layout::date(order.placed_at)),
            ("Order status", layout::status(order.status)),
            ("Payment", payment_summary(&order.payments)),
        ],
    );

    let mut y = after_address.min(after_facts) - 30.0;
    y = lines_header(&mut doc, y);
    for line in &order.lines {
        if y < BOTTOM {
            let top = layout::continued(&mut doc, &format!("Invoice {}", number(order)));
            y = lines_header(&mut doc, top);
        }
        let amount = |minor| money::format(minor, &order.currency);
        doc.text_fit(LEFT + 4.0, y, Weight::Regular, BODY, ITEM_WIDTH, &line.name);
        doc.text_fit(
            SKU_X,
            y,
            Weight::Regular,
            BODY,
            QTY_RIGHT - SKU_X - 30.0,
            &line.sku,
        );
        doc.text_right(QTY_RIGHT, y, Weight::Regular, BODY, &line.qty.to_string());
        doc.text_right(
            UNIT_RIGHT,
            y,
            Weight::Regular,
            BODY,
            &amount(line.unit_price_minor),
        );
        doc.text_right(
            RIGHT - 4.0,
            y,
            Weight::Regular,
            BODY,
            &amount(line.total_minor),
        );
        row_rule(&mut doc, y);
        y -= ROW;
    }

    let changes_height = match changes.len() {
        0 => 0.0,
        n => CHANGE_HEIGHT * (n as f32 + 3.0),
    };
    if y - TOTALS_HEIGHT - changes_height < BOTTOM {
        y = layout::continued(&mut doc, &format!("Invoice {}", number(order)));
    }
    let y = totals(&mut doc, order, y - 8.0);
    billing_changes(&mut doc, order, changes, y);
    layout::footers(
        &mut doc,
        &format!(
            "Invoice {} · order {} · all amounts in {}",
            number(order),
            order.number,
            order.currency
        ),
    );
    doc.finish()
}

fn lines_header(doc: &mut Doc, y: f32) -> f32 {
    table_header(
        doc,
        y,
        &[
            ("ITEM", LEFT + 4.0, false),
            ("SKU", SKU_X, false),
            ("QTY", QTY_RIGHT, true),
            ("UNIT PRICE", UNIT_RIGHT, true),
            ("AMOUNT", RIGHT - 4.0, true),
        ],
    )
}

/// Subtotal, shipping, tax, total and any refund; answers where the block ended.
fn totals(doc: &mut Doc, order: &Order, y: f32) -> f32 {
    let label_right = UNIT_RIGHT;
    let value_right = RIGHT - 4.0;
    let amount = |minor| money::format(minor, &order.currency);
    let t = &order.totals;
    let mut y = y;
    for (label, minor) in [
        ("Subtotal", t.subtotal_minor),
        ("Shipping", t.shipping_minor),
        ("Tax", t.tax_minor),
    ] {
        doc.text_right(label_right, y, Weight::Regular, BODY, label);
        doc.text_right(value_right, y, Weight::Regular, BODY, &amount(minor));
        y -= 15.0;
    }
    doc.rule(label_right - 80.0, RIGHT, y + 9.0, 0.8, 0.0);
    y -= 4.0;
    doc.text_right(label_right, y, Weight::Bold, 12.0, "Total");
    doc.text_right(value_right, y, Weight::Bold, 12.0, &amount(t.total_minor));
    let refunded: i64 = order.payments.iter().map(|p| p.refunded_minor).sum();
    if refunded > 0 {
        y -= 17.0;
        doc.text_right(label_right, y, Weight::Regular, BODY, "Refunded");
        doc.text_right(value_right, y, Weight::Regular, BODY, &amount(-refunded));
        y -= 15.0;
        doc.text_right(label_right, y, Weight::Bold, BODY, "Net paid");
        doc.text_right(
            value_right,
            y,
            Weight::Bold,
            BODY,
            &amount(t.total_minor - refunded),
        );
    }
    y
}

/// Each credit note (`Credit note cn_…`, negative) and adjustment (`Adjustment adj_…`), with
/// the line it concerns, then the balance: the total less credit notes plus adjustments.
fn billing_changes(doc: &mut Doc, order: &Order, changes: &[InvoiceChange], y: f32) {
    if changes.is_empty() {
        return;
    }
    let amount = |minor| money::format(minor, &order.currency);
    let mut y = y - 2.0 * CHANGE_HEIGHT;
    let mut balance = order.totals.total_minor;
    for c in changes {
        let (label, signed) = match c.credit {
            true => ("Credit note", -c.amount_minor),
            false => ("Adjustment", c.amount_minor),
        };
        balance += signed;
        let what = match c
            .line_id
            .as_deref()
            .and_then(|id| order.lines.iter().find(|l| l.id == id))
        {
            Some(line) => format!("{label} {} ({})", c.id, line.sku),
            None => format!("{label} {}", c.id),
        };
        doc.text_right(UNIT_RIGHT, y, Weight::Regular, BODY, &what);
        doc.text_right(RIGHT - 4.0, y, Weight::Regular, BODY, &amount(signed));
        y -= CHANGE_HEIGHT;
    }
    doc.rule(UNIT_RIGHT - 80.0, RIGHT, y + 9.0, 0.8, 0.0);
    y -= 4.0;
    doc.text_right(UNIT_RIGHT, y, Weight::Bold, BODY, "Balance");
    doc.text_right(RIGHT - 4.0, y, Weight::Bold, BODY, &amount(balance));
}

/// `Card, paid`, `Card, refunded`…; several payments are joined.
fn payment_summary(payments: &[Payment]) -> String {
    if payments.is_empty() {
        return "None".into();
    }
    payments
        .iter()
        .map(|p| {
            let state = match p.status.as_str() {
                "authorized" => "authorized",
                "captured" => "paid",
                "partially_refunded" => "paid, partly refunded",
                other => other,
            };
            format!(
                "{}, {}",
                layout::humanize(&p.method),
                state.replace('_', " ")
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}
