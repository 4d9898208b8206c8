//! Customs documents of a shipment that leaves the seller's country: the commercial invoice
//! (seller, buyer, each line with its HS code, country of origin, quantity, unit value and
//! total; currency; reason for export) and the postal customs declaration, CN22 up to
//! [`CN22_LIMIT_MINOR`] and CN23 above. Customs data the order line does not carry prints as
//! "not declared": nothing is guessed.

use super::Seller;
use super::layout::{
    self, BODY, BOTTOM, LEFT, RIGHT, ROW, SMALL, TOP, address_block, caption, facts, row_rule,
    table_header,
};
use super::money;
use super::pdf::{A4, Doc, Weight};
use crate::domain::countries;
use crate::domain::order::{Order, Shipment};

/// A shipment worth at most this (minor units of the order's currency: 300.00) travels with a
/// CN22; above it, with a CN23. The UPU sets the CN22 limit at 300 SDR; orderdesk reads it as
/// 300 of the order's currency, which is within a few percent for EUR, USD and GBP.
pub const CN22_LIMIT_MINOR: i64 = 30_000;
/// What a document prints for customs data the order does not carry.
pub const NOT_DECLARED: &str = "not declared";
/// Why the goods leave the country.
const REASON_FOR_EXPORT: &str = "Sale";

/// Whether the order ships to another country than the seller ships from (never when the
/// seller's country is unknown).
pub fn crosses_border(order: &Order, seller: &Seller) -> bool {
    seller
        .ship_from_country
        .as_deref()
        .is_some_and(|from| !countries::same(from, &order.shipping_address.country))
}

/// One line of a shipment as customs see it.
struct Item {
    description: String,
    hs_code: String,
    origin: String,
    qty: i32,
    unit_minor: i64,
    total_minor: i64,
}

/// The shipment's lines with the order's descriptions, customs data and prices.
fn items(order: &Order, shipment: &Shipment) -> Vec<Item> {
    shipment
        .lines
        .iter()
        .map(|sl| {
            let line = order.lines.iter().find(|l| l.id == sl.line_id);
            let declared = |v: Option<&String>| v.cloned().unwrap_or_else(|| NOT_DECLARED.into());
            let unit_minor = line.map_or(0, |l| l.unit_price_minor);
            Item {
                description: line.map_or_else(|| sl.line_id.clone(), |l| l.name.clone()),
                hs_code: declared(line.and_then(|l| l.hs_code.as_ref())),
                origin: declared(line.and_then(|l| l.origin_country.as_ref())),
                qty: sl.qty,
                unit_minor,
                total_minor: unit_minor * i64::from(sl.qty),
            }
        })
        .collect()
}

/// The declared value of the shipment: its lines at the prices paid.
pub fn value_minor(order: &Order, shipment: &Shipment) -> i64 {
    items(order, shipment).iter().map(|i| i.total_minor).sum()
}

/// `CN22` for a shipment worth at most [`CN22_LIMIT_MINOR`], else `CN23`.
pub fn form(value_minor: i64) -> &'static str {
    if value_minor <= CN22_LIMIT_MINOR {
        "CN22"
    } else {
        "CN23"
    }
}

/// The commercial invoice's number, stable across downloads.
pub fn invoice_number(order: &Order, shipment: &Shipment) -> String {
    format!("CI-{}-{}", order.number, shipment.id)
}

fn seller_country(seller: &Seller) -> String {
    seller
        .ship_from_country
        .as_deref()
        .map_or_else(|| NOT_DECLARED.into(), layout::country_name)
}

/// The seller's block: caption, name, country; returns the next free baseline.
fn seller_block(doc: &mut Doc, y: f32, caption_text: &str, seller: &Seller) -> f32 {
    caption(doc, LEFT, y, caption_text);
    doc.text_fit(LEFT, y - 15.0, Weight::Bold, BODY, 240.0, &seller.name);
    doc.text(
        LEFT,
        y - 28.0,
        Weight::Regular,
        BODY,
        &seller_country(seller),
    );
    y - 41.0
}

/// The date the goods left, else the order's date.
fn date_of(order: &Order, shipment: &Shipment) -> String {
    layout::date(shipment.shipped_at.unwrap_or(order.placed_at))
}

const HS_X: f32 = 215.0;
const ORIGIN_X: f32 = 290.0;
const QTY_RIGHT: f32 = 390.0;
const UNIT_RIGHT: f32 = 465.0;

fn invoice_header(doc: &mut Doc, y: f32) -> f32 {
    table_header(
        doc,
        y,
        &[
            ("DESCRIPTION", LEFT + 4.0, false),
            ("HS CODE", HS_X, false),
            ("ORIGIN", ORIGIN_X, false),
            ("QTY", QTY_RIGHT, true),
            ("UNIT VALUE", UNIT_RIGHT, true),
            ("TOTAL", RIGHT - 4.0, true),
        ],
    )
}

/// The commercial invoice of a cross-border `shipment`.
pub fn commercial_invoice(order: &Order, seller: &Seller, shipment: &Shipment) -> Vec<u8> {
    let number = invoice_number(order, shipment);
    let mut doc = Doc::new(A4, &format!("Commercial invoice {number}"));
    layout::heading(&mut doc, &seller.name, "COMMERCIAL INVOICE");
    let top = TOP - 44.0;
    seller_block(&mut doc, top, "EXPORTER (SELLER)", seller);
    let after_buyer = address_block(
        &mut doc,
        LEFT,
        top - 60.0,
        "CONSIGNEE (BUYER)",
        &order.shipping_address,
    );
    let after_facts = facts(
        &mut doc,
        330.0,
        top,
        &[
            ("Invoice number", number.clone()),
            ("Order number", order.number.clone()),
            ("Date", date_of(order, shipment)),
            ("Shipment", shipment.id.clone()),
            ("Tracking number", shipment.tracking_number.clone()),
            ("Currency", order.currency.clone()),
            ("Reason for export", REASON_FOR_EXPORT.into()),
            ("Country of export", seller_country(seller)),
            (
                "Country of destination",
                layout::country_name(&order.shipping_address.country),
            ),
        ],
    );

    let amount = |minor| money::format(minor, &order.currency);
    let items = items(order, shipment);
    let mut y = invoice_header(&mut doc, after_buyer.min(after_facts) - 24.0);
    for item in &items {
        if y < BOTTOM + 20.0 {
            let top = layout::continued(&mut doc, &format!("Commercial invoice {number}"));
            y = invoice_header(&mut doc, top);
        }
        let r = Weight::Regular;
        doc.text_fit(
            LEFT + 4.0,
            y,
            r,
            BODY,
            HS_X - LEFT - 12.0,
            &item.description,
        );
        doc.text_fit(HS_X, y, r, BODY, ORIGIN_X - HS_X - 6.0, &item.hs_code);
        doc.text_fit(ORIGIN_X, y, r, BODY, 70.0, &item.origin);
        doc.text_right(QTY_RIGHT, y, r, BODY, &item.qty.to_string());
        doc.text_right(UNIT_RIGHT, y, r, BODY, &amount(item.unit_minor));
        doc.text_right(RIGHT - 4.0, y, r, BODY, &amount(item.total_minor));
        row_rule(&mut doc, y);
        y -= ROW;
    }
    if y - 90.0 < BOTTOM {
        y = layout::continued(&mut doc, &format!("Commercial invoice {number}"));
    }
    let total: i64 = items.iter().map(|i| i.total_minor).sum();
    let units: i32 = items.iter().map(|i| i.qty).sum();
    doc.text_right(UNIT_RIGHT, y - 8.0, Weight::Bold, 12.0, "Total value");
    doc.text_right(RIGHT - 4.0, y - 8.0, Weight::Bold, 12.0, &amount(total));
    doc.text(
        LEFT,
        y - 8.0,
        Weight::Regular,
        BODY,
        &format!("{units} unit(s) · values in {}", order.currency),
    );
    signature(
        &mut doc,
        y - 40.0,
        "I declare that the information on this invoice is true and correct.",
        "Signature of the exporter",
    );
    layout::footers(
        &mut doc,
        &format!(
            "Commercial invoice {number} · order {} · shipment {}",
            order.number, shipment.id
        ),
    );
    doc.finish()
}

/// The statement, wrapped, and a line to sign and date under it, from `y`.
fn signature(doc: &mut Doc, y: f32, statement: &str, who: &str) {
    let mut y = y;
    for line in wrap(doc, SMALL, RIGHT - LEFT, statement) {
        doc.text(LEFT, y, Weight::Regular, SMALL, &line);
        y -= 11.0;
    }
    doc.rule(LEFT, LEFT + 220.0, y - 24.0, 0.6, 0.0);
    doc.rule(330.0, RIGHT, y - 24.0, 0.6, 0.0);
    caption(doc, LEFT, y - 36.0, who);
    caption(doc, 330.0, y - 36.0, "Date");
}

/// `text` cut into lines of at most `max` points at `size`, between words.
fn wrap(doc: &Doc, size: f32, max: f32, text: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let candidate = if line.is_empty() {
            word.to_string()
        } else {
            format!("{line} {word}")
        };
        if !line.is_empty() && doc.text_width(Weight::Regular, size, &candidate) > max {
            lines.push(std::mem::replace(&mut line, word.to_string()));
        } else {
            line = candidate;
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// The categories of item a CN22/CN23 asks for; a sale is what orderdesk ships.
const CATEGORIES: [(&str, bool); 6] = [
    ("Gift", false),
    ("Documents", false),
    ("Commercial sample", false),
    ("Returned goods", false),
    ("Sale of goods", true),
    ("Other", false),
];

const D_QTY_RIGHT: f32 = 250.0;
const D_WEIGHT_RIGHT: f32 = 325.0;
const D_VALUE_RIGHT: f32 = 405.0;
const D_HS_X: f32 = 415.0;
const D_ORIGIN_X: f32 = 480.0;

fn declaration_header(doc: &mut Doc, y: f32) -> f32 {
    table_header(
        doc,
        y,
        &[
            ("DETAILED DESCRIPTION", LEFT + 4.0, false),
            ("QTY", D_QTY_RIGHT, true),
            ("WEIGHT", D_WEIGHT_RIGHT, true),
            ("VALUE", D_VALUE_RIGHT, true),
            ("HS CODE", D_HS_X, false),
            ("ORIGIN", D_ORIGIN_X, false),
        ],
    )
}

/// The customs declaration of a cross-border `shipment`: CN22 or CN23 by its value.
pub fn declaration(order: &Order, seller: &Seller, shipment: &Shipment) -> Vec<u8> {
    let items = items(order, shipment);
    let total: i64 = items.iter().map(|i| i.total_minor).sum();
    let form = form(total);
    let amount = |minor| money::format(minor, &order.currency);
    let mut doc = Doc::new(
        A4,
        &format!(
            "Customs declaration {form} for shipment {} of order {}",
            shipment.id, order.number
        ),
    );
    layout::heading(
        &mut doc,
        &seller.name,
        &format!("CUSTOMS DECLARATION {form}"),
    );
    let limit = amount(CN22_LIMIT_MINOR);
    doc.text(
        LEFT,
        TOP - 32.0,
        Weight::Regular,
        SMALL,
        &format!(
            "{form}: CN22 for a value up to {limit}, CN23 above. This shipment: {}.",
            amount(total)
        ),
    );
    let top = TOP - 56.0;
    let after_sender = seller_block(&mut doc, top, "FROM (SENDER)", seller);
    let after_addressee = address_block(
        &mut doc,
        330.0,
        top,
        "TO (ADDRESSEE)",
        &order.shipping_address,
    );

    let mut y = after_sender.min(after_addressee) - 16.0;
    caption(&mut doc, LEFT, y, "CATEGORY OF ITEM");
    y -= 16.0;
    for (i, (label, ticked)) in CATEGORIES.iter().enumerate() {
        let x = LEFT + (i % 3) as f32 * 165.0;
        let row_y = y - (i / 3) as f32 * 16.0;
        doc.frame(x, row_y - 2.0, 9.0, 9.0, 0.7);
        if *ticked {
            doc.fill(x + 2.0, row_y, 5.0, 5.0, 0.0);
        }
        doc.text(x + 14.0, row_y, Weight::Regular, BODY, label);
    }
    y -= 44.0;

    y = declaration_header(&mut doc, y);
    for item in &items {
        if y < BOTTOM + 20.0 {
            let top = layout::continued(&mut doc, &format!("Customs declaration {form}"));
            y = declaration_header(&mut doc, top);
        }
        let r = Weight::Regular;
        doc.text_fit(LEFT + 4.0, y, r, BODY, 160.0, &item.description);
        doc.text_right(D_QTY_RIGHT, y, r, BODY, &item.qty.to_string());
        doc.text_right(D_WEIGHT_RIGHT, y, r, SMALL, NOT_DECLARED);
        doc.text_right(D_VALUE_RIGHT, y, r, BODY, &amount(item.total_minor));
        doc.text_fit(D_HS_X, y, r, BODY, D_ORIGIN_X - D_HS_X - 6.0, &item.hs_code);
        doc.text_fit(D_ORIGIN_X, y, r, BODY, RIGHT - D_ORIGIN_X, &item.origin);
        row_rule(&mut doc, y);
        y -= ROW;
    }
    if y - 110.0 < BOTTOM {
        y = layout::continued(&mut doc, &format!("Customs declaration {form}"));
    }
    let after = facts(
        &mut doc,
        330.0,
        y - 8.0,
        &[
            ("Total weight", NOT_DECLARED.into()),
            ("Total value", amount(total)),
            ("Currency", order.currency.clone()),
        ],
    );
    signature(
        &mut doc,
        after - 14.0,
        "I certify that the particulars given in this customs declaration are correct and that \
         this item does not contain any dangerous article prohibited by legislation or by \
         postal or customs regulations.",
        "Sender's signature",
    );
    layout::footers(
        &mut doc,
        &format!(
            "{form} · order {} · shipment {} · tracking {}",
            order.number, shipment.id, shipment.tracking_number
        ),
    );
    doc.finish()
}
