//! Documents rendered from the seeded demo orders: which exist, and what their PDFs say.

use super::*;
use crate::documents::pdf::tests::assert_well_formed;
use crate::domain::order::OrderLine;

fn orders() -> Vec<Order> {
    crate::seed::demo_orders(&crate::domain::ids::TenantId::new("acme"), 4, 24)
}

fn order_in(status: OrderStatus) -> Order {
    orders().into_iter().find(|o| o.status == status).unwrap()
}

/// Whether `text` is drawn in `pdf`: as a literal string when ASCII, else as the hex
/// string `pdf-writer` writes for other bytes.
fn shows(pdf: &[u8], text: &str) -> bool {
    let bytes = metrics::win_ansi(text);
    let needle = if bytes.is_ascii() {
        format!("({text})")
    } else {
        format!("<{}>", hex::encode_upper(&bytes))
    };
    String::from_utf8_lossy(pdf).contains(&needle)
}

#[test]
fn each_order_lists_its_documents() {
    let confirmed = order_in(OrderStatus::Confirmed);
    let slip_of_order = DocumentRef {
        kind: DocumentKind::PackingSlip,
        shipment_id: None,
    };
    assert_eq!(
        documents_of(&confirmed),
        vec![DocumentRef::invoice(), slip_of_order.clone()]
    );

    let shipped = order_in(OrderStatus::Shipped);
    let shipment = shipped.shipments[0].id.clone();
    assert_eq!(
        documents_of(&shipped),
        vec![
            DocumentRef::invoice(),
            DocumentRef {
                kind: DocumentKind::PackingSlip,
                shipment_id: Some(shipment.clone()),
            },
            DocumentRef::label(&shipment),
        ]
    );
    assert!(!has_document(&shipped, &slip_of_order));

    let cancelled = order_in(OrderStatus::Cancelled);
    assert_eq!(documents_of(&cancelled), vec![DocumentRef::invoice()]);
}

#[test]
fn only_existing_documents_render() {
    let shipped = order_in(OrderStatus::Shipped);
    let confirmed = order_in(OrderStatus::Confirmed);
    assert!(render(&shipped, "Acme", &DocumentRef::label("shp_other")).is_none());
    // another order's shipment is not this order's
    assert!(
        render(
            &confirmed,
            "Acme",
            &DocumentRef::label(&shipped.shipments[0].id)
        )
        .is_none()
    );
    let unlabelled = DocumentRef {
        kind: DocumentKind::ShippingLabel,
        shipment_id: None,
    };
    assert!(render(&shipped, "Acme", &unlabelled).is_none());
}

#[test]
fn invoice_carries_order_lines_and_totals() {
    let order = order_in(OrderStatus::Delivered);
    let pdf = render(&order, "Acme Goods", &DocumentRef::invoice()).unwrap();
    assert_well_formed(&pdf);
    assert!(shows(&pdf, "INVOICE"));
    assert!(shows(&pdf, "Acme Goods"));
    assert!(shows(&pdf, &order.number));
    assert!(shows(&pdf, &format!("INV-{}", order.number)));
    assert!(shows(&pdf, &layout::date(order.placed_at)));
    assert!(shows(&pdf, &order.shipping_address.name));
    for line in &order.lines {
        assert!(shows(&pdf, &line.name), "{}", line.name);
        assert!(shows(
            &pdf,
            &money::format(line.total_minor, &order.currency)
        ));
    }
    let total = money::format(order.totals.total_minor, &order.currency);
    assert!(shows(&pdf, &total), "{total}");
    assert!(shows(&pdf, "Page 1 of 1"));
}

#[test]
fn refunds_show_on_the_invoice() {
    let order = order_in(OrderStatus::Cancelled);
    let pdf = render(&order, "Acme", &DocumentRef::invoice()).unwrap();
    assert!(shows(&pdf, "Refunded"));
    assert!(shows(
        &pdf,
        &money::format(-order.totals.total_minor, &order.currency)
    ));
}

fn long_order(lines: usize) -> Order {
    let mut order = order_in(OrderStatus::Confirmed);
    order.lines = (1..=lines)
        .map(|i| OrderLine {
            id: format!("lin_{i}"),
            sku: format!("SKU-{i}"),
            name: format!("Product number {i}"),
            qty: 1,
            unit_price_minor: 100,
            total_minor: 100,
        })
        .collect();
    order
}

#[test]
fn long_orders_continue_on_more_pages() {
    let order = long_order(90);
    let pdf = render(&order, "Acme", &DocumentRef::invoice()).unwrap();
    assert_well_formed(&pdf);
    let text = String::from_utf8_lossy(&pdf);
    let pages: usize = text
        .split("/Count ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(pages >= 3, "{pages} pages");
    assert!(shows(&pdf, "Product number 1"));
    assert!(shows(&pdf, "Product number 90"));
    assert!(shows(&pdf, &format!("Page {pages} of {pages}")));
}

#[test]
fn packing_slip_lists_the_parcel_without_prices() {
    let mut order = order_in(OrderStatus::PartiallyShipped);
    order.lines.push(OrderLine {
        id: "lin_later".into(),
        sku: "SKU-LATER".into(),
        name: "Shipped later".into(),
        qty: 1,
        unit_price_minor: 100,
        total_minor: 100,
    });
    let shipment = &order.shipments[0];
    let doc = DocumentRef {
        kind: DocumentKind::PackingSlip,
        shipment_id: Some(shipment.id.clone()),
    };
    let pdf = render(&order, "Acme", &doc).unwrap();
    assert_well_formed(&pdf);
    assert!(shows(&pdf, "PACKING SLIP"));
    assert!(shows(&pdf, &order.number));
    assert!(shows(&pdf, &shipment.tracking_number));
    assert!(shows(&pdf, &order.lines[0].name));
    assert!(!shows(&pdf, "Shipped later"), "not in this parcel");
    let price = money::format(order.lines[0].unit_price_minor, &order.currency);
    assert!(!shows(&pdf, &price), "a slip has no prices");
}

#[test]
fn label_carries_carrier_recipient_and_tracking_number() {
    let order = order_in(OrderStatus::Shipped);
    let shipment = &order.shipments[0];
    let pdf = render(&order, "Acme", &DocumentRef::label(&shipment.id)).unwrap();
    assert_well_formed(&pdf);
    assert!(shows(&pdf, &shipment.carrier));
    assert!(shows(&pdf, &shipment.tracking_number));
    assert!(shows(&pdf, &order.shipping_address.name));
    let units: i32 = shipment.lines.iter().map(|l| l.qty).sum();
    assert!(shows(
        &pdf,
        &format!("Order {} · {units} item(s)", order.number)
    ));
}

#[test]
fn filenames_are_safe() {
    let mut order = order_in(OrderStatus::Shipped);
    assert_eq!(
        filename(&order, &DocumentRef::invoice()),
        format!("invoice-{}.pdf", order.number)
    );
    order.number = "A/B \"1\"".into();
    assert_eq!(
        filename(&order, &DocumentRef::label("shp_1")),
        "label-A_B__1_-shp_1.pdf"
    );
}

/// Writes the documents of a dozen demo orders and a two-page invoice to
/// `$TMPDIR/orderdesk-documents/` for a look with a PDF viewer or `pdftoppm`:
/// `cargo test --lib documents::tests::write_samples -- --ignored`.
#[test]
#[ignore]
fn write_samples() {
    let dir = std::env::temp_dir().join("orderdesk-documents");
    std::fs::create_dir_all(&dir).unwrap();
    for order in orders().iter().take(12) {
        for doc in documents_of(order) {
            let pdf = render(order, "Acme Goods", &doc).unwrap();
            std::fs::write(dir.join(filename(order, &doc)), pdf).unwrap();
        }
    }
    let mut long = long_order(60);
    long.lines[0].name = "A product whose name is much too long for its column".into();
    let pdf = render(&long, "Acme Goods", &DocumentRef::invoice()).unwrap();
    std::fs::write(dir.join("invoice-long.pdf"), pdf).unwrap();
}

#[test]
fn the_invoice_shows_credit_notes_adjustments_and_the_balance_after_them() {
    let order = order_in(OrderStatus::Delivered);
    let line = &order.lines[0];
    let changes = [
        InvoiceChange {
            id: "cn_1".into(),
            credit: true,
            line_id: Some(line.id.clone()),
            amount_minor: 400,
        },
        InvoiceChange {
            id: "adj_1".into(),
            credit: false,
            line_id: None,
            amount_minor: 150,
        },
    ];
    let pdf = render_with(&order, "Acme", &DocumentRef::invoice(), &changes).unwrap();
    assert_well_formed(&pdf);
    assert!(shows(&pdf, &format!("Credit note cn_1 ({})", line.sku)));
    assert!(shows(&pdf, "Adjustment adj_1"));
    assert!(shows(&pdf, &money::format(-400, &order.currency)));
    assert!(shows(&pdf, "Balance"));
    let balance = order.totals.total_minor - 400 + 150;
    assert!(shows(&pdf, &money::format(balance, &order.currency)));
    // without changes: no balance line
    let plain = render(&order, "Acme", &DocumentRef::invoice()).unwrap();
    assert!(!shows(&plain, "Balance"));
}
