//! The packing slip: what is in one parcel (or, before anything shipped, in the whole
//! order), with quantities and a box to tick per line. No prices: it travels in the box.

use super::layout::{
    self, BODY, BOTTOM, LEFT, RIGHT, ROW, TOP, address_block, facts, row_rule, table_header,
};
use super::pdf::{A4, Doc, Weight};
use crate::domain::order::{Order, Shipment};

const SKU_X: f32 = 330.0;
const QTY_RIGHT: f32 = 480.0;
const CHECK_X: f32 = 519.0;

/// One row of the slip.
struct Item<'a> {
    name: &'a str,
    sku: &'a str,
    qty: i32,
}

/// The slip of `shipment`, or of the whole order when `None`.
pub fn render(order: &Order, seller: &str, shipment: Option<&Shipment>) -> Vec<u8> {
    let mut doc = Doc::new(A4, &format!("Packing slip for order {}", order.number));
    layout::heading(&mut doc, seller, "PACKING SLIP");

    let top = TOP - 44.0;
    let after_address = address_block(&mut doc, LEFT, top, "SHIP TO", &order.shipping_address);
    let mut rows = vec![
        ("Order number", order.number.clone()),
        ("Order date", layout::date(order.placed_at)),
    ];
    if let Some(s) = shipment {
        rows.push(("Shipment", s.id.clone()));
        rows.push(("Carrier", s.carrier.clone()));
        rows.push(("Tracking number", s.tracking_number.clone()));
        if let Some(at) = s.shipped_at {
            rows.push(("Shipped on", layout::date(at)));
        }
    } else {
        rows.push(("Shipment", "not yet shipped".into()));
    }
    let after_facts = facts(&mut doc, 330.0, top, &rows);

    let items = items(order, shipment);
    let mut y = after_address.min(after_facts) - 30.0;
    y = items_header(&mut doc, y);
    for item in &items {
        if y < BOTTOM {
            let top = layout::continued(&mut doc, &format!("Packing slip, order {}", order.number));
            y = items_header(&mut doc, top);
        }
        doc.text_fit(
            LEFT + 4.0,
            y,
            Weight::Regular,
            BODY,
            SKU_X - LEFT - 14.0,
            item.name,
        );
        doc.text_fit(
            SKU_X,
            y,
            Weight::Regular,
            BODY,
            QTY_RIGHT - SKU_X - 30.0,
            item.sku,
        );
        doc.text_right(QTY_RIGHT, y, Weight::Bold, BODY, &item.qty.to_string());
        doc.frame(CHECK_X, y - 2.0, 10.0, 10.0, 0.7);
        row_rule(&mut doc, y);
        y -= ROW;
    }
    let units: i32 = items.iter().map(|i| i.qty).sum();
    let parcel = match shipment {
        Some(s) => format!("shipment {}", s.id),
        None => "the whole order".into(),
    };
    layout::footers(
        &mut doc,
        &format!(
            "Order {} · {parcel} · {units} item(s) in {} line(s)",
            order.number,
            items.len()
        ),
    );
    doc.finish()
}

fn items_header(doc: &mut Doc, y: f32) -> f32 {
    table_header(
        doc,
        y,
        &[
            ("ITEM", LEFT + 4.0, false),
            ("SKU", SKU_X, false),
            ("QTY", QTY_RIGHT, true),
            ("PACKED", RIGHT - 4.0, true),
        ],
    )
}

/// The shipment's lines with the order's names and SKUs, or all the order's lines.
fn items<'a>(order: &'a Order, shipment: Option<&'a Shipment>) -> Vec<Item<'a>> {
    match shipment {
        None => order
            .lines
            .iter()
            .map(|l| Item {
                name: &l.name,
                sku: &l.sku,
                qty: l.qty,
            })
            .collect(),
        Some(s) => s
            .lines
            .iter()
            .map(|sl| {
                let line = order.lines.iter().find(|l| l.id == sl.line_id);
                Item {
                    name: line.map_or(sl.line_id.as_str(), |l| l.name.as_str()),
                    sku: line.map_or("", |l| l.sku.as_str()),
                    qty: sl.qty,
                }
            })
            .collect(),
    }
}
