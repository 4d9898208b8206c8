//! Pieces the A4 documents share: margins, the heading, the address block, a column of
//! label/value pairs, table headers and page footers.

use chrono::{DateTime, Utc};

use super::pdf::{Doc, Weight};
use crate::domain::order::{Address, OrderStatus};

pub const LEFT: f32 = 50.0;
pub const RIGHT: f32 = 545.0;
pub const TOP: f32 = 792.0;
/// Lowest baseline of body text; the footer lives below it.
pub const BOTTOM: f32 = 80.0;
pub const BODY: f32 = 10.0;
pub const SMALL: f32 = 8.0;
pub const ROW: f32 = 18.0;
const MUTED: f32 = 0.45;

/// The seller's name on the left and the document's title on the right.
pub fn heading(doc: &mut Doc, seller: &str, title: &str) {
    doc.text_fit(LEFT, TOP, Weight::Bold, 18.0, 300.0, seller);
    doc.text_right(RIGHT, TOP, Weight::Bold, 22.0, title);
    doc.rule(LEFT, RIGHT, TOP - 14.0, 1.0, 0.0);
}

/// Starts a continuation page with `what (continued)`; returns the next free baseline.
pub fn continued(doc: &mut Doc, what: &str) -> f32 {
    doc.add_page();
    doc.text(
        LEFT,
        TOP,
        Weight::Bold,
        BODY,
        &format!("{what} (continued)"),
    );
    TOP - 24.0
}

/// A small upper-case caption, e.g. `SHIP TO`.
pub fn caption(doc: &mut Doc, x: f32, y: f32, text: &str) {
    doc.text(x, y, Weight::Bold, SMALL, text);
}

/// The lines of an address (name first, country last).
pub fn address_lines(a: &Address) -> Vec<String> {
    let mut lines = vec![a.name.clone(), a.line1.clone()];
    if let Some(l2) = a.line2.as_ref().filter(|l| !l.trim().is_empty()) {
        lines.push(l2.clone());
    }
    lines.push(format!("{} {}", a.postal_code, a.city));
    lines.push(country_name(&a.country));
    lines
}

/// Writes `caption` and the address under it from `y`; returns the next free baseline.
pub fn address_block(doc: &mut Doc, x: f32, y: f32, caption_text: &str, a: &Address) -> f32 {
    caption(doc, x, y, caption_text);
    let mut y = y - 15.0;
    for (i, line) in address_lines(a).iter().enumerate() {
        let weight = if i == 0 {
            Weight::Bold
        } else {
            Weight::Regular
        };
        doc.text_fit(x, y, weight, BODY, 240.0, line);
        y -= 13.0;
    }
    y
}

/// Label/value rows, labels at `x` and values right-aligned at [`RIGHT`]; returns the next
/// free baseline.
pub fn facts(doc: &mut Doc, x: f32, y: f32, rows: &[(&str, String)]) -> f32 {
    let mut y = y;
    for (label, value) in rows {
        doc.text(x, y, Weight::Regular, BODY, label);
        doc.text_right(RIGHT, y, Weight::Bold, BODY, value);
        y -= 14.0;
    }
    y
}

/// A shaded header row; `columns` are (text, x, right-aligned). Returns the first row's
/// baseline.
pub fn table_header(doc: &mut Doc, y: f32, columns: &[(&str, f32, bool)]) -> f32 {
    doc.fill(LEFT, y - 6.0, RIGHT - LEFT, ROW, 0.92);
    for (text, x, right) in columns {
        if *right {
            doc.text_right(*x, y, Weight::Bold, SMALL, text);
        } else {
            doc.text(*x, y, Weight::Bold, SMALL, text);
        }
    }
    y - ROW - 2.0
}

/// A thin separator under a table row whose baseline is `y`.
pub fn row_rule(doc: &mut Doc, y: f32) {
    doc.rule(LEFT, RIGHT, y - 6.0, 0.4, 0.8);
}

/// `note` on the left and `Page i of n` on the right of every page's foot.
pub fn footers(doc: &mut Doc, note: &str) {
    let total = doc.page_count();
    for i in 0..total {
        doc.select_page(i);
        doc.rule(LEFT, RIGHT, 52.0, 0.4, MUTED);
        doc.text_fit(LEFT, 38.0, Weight::Regular, SMALL, 380.0, note);
        doc.text_right(
            RIGHT,
            38.0,
            Weight::Regular,
            SMALL,
            &format!("Page {} of {total}", i + 1),
        );
    }
}

/// `5 January 2026`.
pub fn date(t: DateTime<Utc>) -> String {
    t.format("%-d %B %Y").to_string()
}

/// `partially_shipped` → `Partially shipped`.
pub fn status(s: OrderStatus) -> String {
    humanize(s.as_str())
}

/// `in_transit` → `In transit`.
pub fn humanize(code: &str) -> String {
    let text = code.replace('_', " ");
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => text,
    }
}

/// The country's English name for the codes the shops ship to most, else the ISO code.
pub fn country_name(code: &str) -> String {
    let name = match code.to_ascii_uppercase().as_str() {
        "AT" => "Austria",
        "BE" => "Belgium",
        "CH" => "Switzerland",
        "DE" => "Germany",
        "DK" => "Denmark",
        "ES" => "Spain",
        "FR" => "France",
        "GB" => "United Kingdom",
        "GR" => "Greece",
        "IE" => "Ireland",
        "IT" => "Italy",
        "JP" => "Japan",
        "NL" => "Netherlands",
        "PL" => "Poland",
        "SE" => "Sweden",
        "US" => "United States",
        _ => return code.to_string(),
    };
    name.to_string()
}
