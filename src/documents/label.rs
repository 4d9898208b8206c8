//! The shipping label of a shipment, 4 × 6 inches: carrier, sender, recipient, the
//! tracking number as a Code 39 barcode and in text, and the order it belongs to.

use super::barcode;
use super::layout;
use super::pdf::{Doc, LABEL_4X6, Weight};
use crate::domain::order::{Order, Shipment};

const MARGIN: f32 = 14.0;
const BARCODE_HEIGHT: f32 = 64.0;

pub fn render(order: &Order, seller: &str, shipment: &Shipment) -> Vec<u8> {
    let mut doc = Doc::new(
        LABEL_4X6,
        &format!(
            "Shipping label {} for order {}",
            shipment.tracking_number, order.number
        ),
    );
    let (w, h) = (doc.width(), doc.height());
    let inner = w - 2.0 * MARGIN;

    // carrier band
    doc.fill(MARGIN, h - MARGIN - 40.0, inner, 40.0, 0.0);
    doc.fill(MARGIN + 4.0, h - MARGIN - 36.0, inner - 8.0, 32.0, 1.0);
    doc.text_fit(
        MARGIN + 10.0,
        h - MARGIN - 28.0,
        Weight::Bold,
        20.0,
        150.0,
        &shipment.carrier,
    );
    doc.text_right(
        w - MARGIN - 10.0,
        h - MARGIN - 26.0,
        Weight::Bold,
        10.0,
        "PARCEL",
    );

    let mut y = h - MARGIN - 58.0;
    layout::caption(&mut doc, MARGIN, y, "FROM");
    doc.text_fit(MARGIN + 40.0, y, Weight::Regular, 9.0, inner - 40.0, seller);
    y -= 10.0;
    doc.rule(MARGIN, w - MARGIN, y, 0.8, 0.0);

    y -= 18.0;
    layout::caption(&mut doc, MARGIN, y, "SHIP TO");
    y -= 20.0;
    let lines = layout::address_lines(&order.shipping_address);
    let last = lines.len() - 1;
    for (i, line) in lines.iter().enumerate() {
        let (weight, size) = match i {
            0 => (Weight::Bold, 14.0),
            i if i == last - 1 => (Weight::Bold, 14.0), // postal code and city
            i if i == last => (Weight::Bold, 12.0),
            _ => (Weight::Regular, 12.0),
        };
        doc.text_fit(MARGIN + 8.0, y, weight, size, inner - 8.0, line);
        y -= size + 5.0;
    }
    y -= 4.0;
    doc.rule(MARGIN, w - MARGIN, y, 0.8, 0.0);

    y -= 14.0;
    layout::caption(&mut doc, MARGIN, y, "TRACKING NUMBER");
    y -= 8.0 + BARCODE_HEIGHT;
    draw_barcode(&mut doc, MARGIN, y, inner, &shipment.tracking_number);
    y -= 18.0;
    let tn_width = doc.text_width(Weight::Bold, 14.0, &shipment.tracking_number);
    doc.text(
        w / 2.0 - tn_width / 2.0,
        y,
        Weight::Bold,
        14.0,
        &shipment.tracking_number,
    );

    let units: i32 = shipment.lines.iter().map(|l| l.qty).sum();
    doc.rule(MARGIN, w - MARGIN, MARGIN + 34.0, 0.8, 0.0);
    doc.text_fit(
        MARGIN,
        MARGIN + 20.0,
        Weight::Bold,
        9.0,
        inner,
        &format!("Order {} · {units} item(s)", order.number),
    );
    let shipped = shipment
        .shipped_at
        .map(|t| format!(" · shipped {}", layout::date(t)))
        .unwrap_or_default();
    doc.text_fit(
        MARGIN,
        MARGIN + 6.0,
        Weight::Regular,
        8.0,
        inner,
        &format!("Shipment {}{shipped}", shipment.id),
    );
    doc.finish()
}

/// The Code 39 bars of `text` across `width` from (`x`, `y`); nothing when the text has
/// characters Code 39 cannot carry (the number is printed below it either way).
fn draw_barcode(doc: &mut Doc, x: f32, y: f32, width: f32, text: &str) {
    let Some((bars, units)) = barcode::code39(text) else {
        return;
    };
    // scanners need bars of at least ~0.19 mm (0.54 pt); longer numbers get a smaller
    // module and are centred
    let module = (width / units as f32).min(1.6);
    let left = x + (width - module * units as f32) / 2.0;
    for (start, w) in bars {
        doc.fill(
            left + start as f32 * module,
            y,
            w as f32 * module,
            BARCODE_HEIGHT,
            0.0,
        );
    }
}
