//! Documents rendered from the seeded demo orders: which exist, and what their PDFs say.

use super::*;
use crate::documents::customs;
use crate::documents::pdf::tests::{assert_well_formed, page_count, shows};
use crate::domain::order::{Address, OrderLine};

fn orders() -> Vec<Order> {
    crate::seed::demo_orders(&crate::domain::ids::TenantId::new("acme"), 4, 24)
}

/// A seller whose country is not known: no customs documents.
fn domestic() -> Seller {
    Seller::named("Acme")
}

fn order_in(status: OrderStatus) -> Order {
    orders().into_iter().find(|o| o.status == status).unwrap()
}

#[test]
fn each_order_lists_its_documents() {
    let confirmed = order_in(OrderStatus::Confirmed);
    let slip_of_order = DocumentRef {
        kind: DocumentKind::PackingSlip,
        shipment_id: None,
    };
    assert_eq!(
        documents_of(&confirmed, &domestic()),
        vec![DocumentRef::invoice(), slip_of_order.clone()]
    );

    let shipped = order_in(OrderStatus::Shipped);
    let shipment = shipped.shipments[0].id.clone();
    assert_eq!(
        documents_of(&shipped, &domestic()),
        vec![
            DocumentRef::invoice(),
            DocumentRef {
                kind: DocumentKind::PackingSlip,
                shipment_id: Some(shipment.clone()),
            },
            DocumentRef::label(&shipment),
        ]
    );
    assert!(!has_document(&shipped, &domestic(), &slip_of_order));

    let cancelled = order_in(OrderStatus::Cancelled);
    assert_eq!(
        documents_of(&cancelled, &domestic()),
        vec![DocumentRef::invoice()]
    );
}

#[test]
fn only_existing_documents_render() {
    let shipped = order_in(OrderStatus::Shipped);
    let confirmed = order_in(OrderStatus::Confirmed);
    assert!(
        render(
            &shipped,
            &Seller::named("Acme"),
            &DocumentRef::label("shp_other")
        )
        .is_none()
    );
    // another order's shipment is not this order's
    assert!(
        render(
            &confirmed,
            &Seller::named("Acme"),
            &DocumentRef::label(&shipped.shipments[0].id)
        )
        .is_none()
    );
    let unlabelled = DocumentRef {
        kind: DocumentKind::ShippingLabel,
        shipment_id: None,
    };
    assert!(render(&shipped, &Seller::named("Acme"), &unlabelled).is_none());
}

#[test]
fn invoice_carries_order_lines_and_totals() {
    let order = order_in(OrderStatus::Delivered);
    let pdf = render(
        &order,
        &Seller::named("Acme Goods"),
        &DocumentRef::invoice(),
    )
    .unwrap();
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
    let pdf = render(&order, &Seller::named("Acme"), &DocumentRef::invoice()).unwrap();
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
            hs_code: None,
            origin_country: None,
        })
        .collect();
    order
}

#[test]
fn long_orders_continue_on_more_pages() {
    let order = long_order(90);
    let pdf = render(&order, &Seller::named("Acme"), &DocumentRef::invoice()).unwrap();
    assert_well_formed(&pdf);
    let pages = page_count(&pdf);
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
        hs_code: None,
        origin_country: None,
    });
    let shipment = &order.shipments[0];
    let doc = DocumentRef {
        kind: DocumentKind::PackingSlip,
        shipment_id: Some(shipment.id.clone()),
    };
    let pdf = render(&order, &Seller::named("Acme"), &doc).unwrap();
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
    let pdf = render(
        &order,
        &Seller::named("Acme"),
        &DocumentRef::label(&shipment.id),
    )
    .unwrap();
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

/// A shipped demo order, shipping to `address`.
fn shipped_to(address: Address) -> Order {
    let mut order = order_in(OrderStatus::Shipped);
    order.shipping_address = address;
    order
}

fn tokyo() -> Address {
    Address {
        name: "山田 太郎".into(),
        line1: "東京都千代田区丸の内1-1".into(),
        line2: None,
        city: "東京".into(),
        postal_code: "100-0005".into(),
        country: "JP".into(),
    }
}

fn athens() -> Address {
    Address {
        name: "Γιώργος Παπαδάκης".into(),
        line1: "Λεωφόρος Βασιλίσσης Σοφίας 12".into(),
        line2: None,
        city: "Αθήνα".into(),
        postal_code: "106 74".into(),
        country: "GR".into(),
    }
}

#[test]
fn every_document_prints_addresses_as_written() {
    for address in [tokyo(), athens()] {
        let order = shipped_to(address.clone());
        for doc in documents_of(&order, &domestic()) {
            let pdf = render(&order, &Seller::named("Ακμή 商店"), &doc).unwrap();
            assert_well_formed(&pdf);
            for text in [&address.name, &address.line1, &address.city, "Ακμή 商店"] {
                assert!(shows(&pdf, text), "{text} on the {}", doc.kind.as_str());
            }
        }
    }
    let pdf = render(
        &shipped_to(athens()),
        &Seller::named("Acme"),
        &DocumentRef::invoice(),
    )
    .unwrap();
    assert!(shows(&pdf, "Λεωφόρος Βασιλίσσης Σοφίας"));
    assert!(shows(&pdf, "Greece"));
}

/// The size and render time of a typical invoice (`-- --nocapture` prints them); it
/// embeds subsets of two faces, a few kilobytes each.
#[test]
fn a_typical_invoice_is_small_and_quick() {
    let order = shipped_to(tokyo());
    let _warm = render(
        &order,
        &Seller::named("Acme Goods"),
        &DocumentRef::invoice(),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let runs = 20;
    let mut size = 0;
    for _ in 0..runs {
        size = render(
            &order,
            &Seller::named("Acme Goods"),
            &DocumentRef::invoice(),
        )
        .unwrap()
        .len();
    }
    let each = started.elapsed() / runs;
    eprintln!("typical invoice (Latin + CJK): {size} bytes, {each:?} to render (debug build)");
    assert!(size < 60_000, "{size} bytes");
}

/// A seller shipping from Germany.
fn german(name: &str) -> Seller {
    Seller {
        name: name.into(),
        ship_from_country: Some("DE".into()),
    }
}

fn customs_docs(shipment: &str) -> [DocumentRef; 2] {
    [
        DocumentKind::CommercialInvoice,
        DocumentKind::CustomsDeclaration,
    ]
    .map(|kind| DocumentRef {
        kind,
        shipment_id: Some(shipment.into()),
    })
}

#[test]
fn only_cross_border_shipments_get_customs_documents() {
    let order = shipped_to(tokyo());
    let shipment = order.shipments[0].id.clone();
    let docs = documents_of(&order, &german("Acme"));
    assert_eq!(docs.len(), 5, "{docs:?}");
    assert_eq!(docs[3..], customs_docs(&shipment));
    // domestic, lower case or not; and a seller whose country is not known
    let mut domestic_order = order.clone();
    domestic_order.shipping_address.country = "de".into();
    assert_eq!(documents_of(&domestic_order, &german("Acme")).len(), 3);
    assert_eq!(documents_of(&order, &Seller::named("Acme")).len(), 3);
    for doc in customs_docs(&shipment) {
        assert!(render(&domestic_order, &german("Acme"), &doc).is_none());
        assert!(render(&order, &german("Acme"), &doc).is_some());
    }
    // nothing shipped: nothing to declare yet
    let confirmed = order_in(OrderStatus::Confirmed);
    assert_eq!(documents_of(&confirmed, &german("Acme")).len(), 2);
}

#[test]
fn commercial_invoice_declares_each_line() {
    let mut order = shipped_to(tokyo());
    order.lines[0].hs_code = Some("6109.10".into());
    order.lines[0].origin_country = Some("PT".into());
    if let Some(line) = order.lines.get_mut(1) {
        line.hs_code = None;
        line.origin_country = None;
    }
    let shipment = order.shipments[0].clone();
    let [invoice, _] = customs_docs(&shipment.id);
    let pdf = render(&order, &german("Acme Goods"), &invoice).unwrap();
    assert_well_formed(&pdf);
    for text in [
        "COMMERCIAL INVOICE",
        "Acme Goods",
        "Germany",
        "東京都千代田区丸の内1-1",
        "山田 太郎",
        "Japan",
        "6109.10",
        "PT",
        "Sale",
        &order.currency,
        &order.number,
        &shipment.tracking_number,
    ] {
        assert!(shows(&pdf, text), "{text}");
    }
    for line in &order.lines {
        assert!(shows(&pdf, &line.name), "{}", line.name);
        let total = money::format(line.total_minor, &order.currency);
        assert!(shows(&pdf, &total), "{total}");
    }
    if order.lines.len() > 1 {
        assert!(shows(&pdf, "not declared"), "a line without customs data");
    }
    let value = customs::value_minor(&order, &shipment);
    assert!(shows(&pdf, &money::format(value, &order.currency)));
}

#[test]
fn the_declaration_is_a_cn22_up_to_the_limit_and_a_cn23_above() {
    let mut order = shipped_to(athens());
    let shipment = order.shipments[0].id.clone();
    let [_, declaration] = customs_docs(&shipment);
    let seller = german("Acme");
    for (unit, form) in [(100, "CN22"), (customs::CN22_LIMIT_MINOR + 1, "CN23")] {
        for line in &mut order.lines {
            line.unit_price_minor = unit;
            line.total_minor = unit * i64::from(line.qty);
            line.hs_code = Some("4820.10".into());
            line.origin_country = Some("JP".into());
        }
        let value = customs::value_minor(&order, &order.shipments[0]);
        assert_eq!(customs::form(value), form);
        let pdf = render(&order, &seller, &declaration).unwrap();
        assert_well_formed(&pdf);
        for text in [
            &format!("CUSTOMS DECLARATION {form}"),
            "Sale of goods",
            "4820.10",
            "Λεωφόρος Βασιλίσσης Σοφίας 12",
            "Αθήνα",
            "Greece",
            "Sender's signature",
            "not declared",
            &money::format(value, &order.currency),
        ] {
            assert!(shows(&pdf, text), "{form}: {text}");
        }
    }
    assert_eq!(customs::form(customs::CN22_LIMIT_MINOR), "CN22");
}

/// Writes the documents of a dozen demo orders, of orders shipped to Tokyo and Athens, and a
/// two-page invoice to
/// `$TMPDIR/orderdesk-documents/` for a look with a PDF viewer or `pdftoppm`:
/// `cargo test --lib documents::tests::write_samples -- --ignored`.
#[test]
#[ignore]
fn write_samples() {
    let dir = std::env::temp_dir().join("orderdesk-documents");
    std::fs::create_dir_all(&dir).unwrap();
    let seller = german("Acme Goods");
    for order in orders().iter().take(12) {
        for doc in documents_of(order, &seller) {
            let pdf = render(order, &seller, &doc).unwrap();
            std::fs::write(dir.join(filename(order, &doc)), pdf).unwrap();
        }
    }
    for (city, address) in [("tokyo", tokyo()), ("athens", athens())] {
        let order = shipped_to(address);
        for doc in documents_of(&order, &seller) {
            let pdf = render(&order, &seller, &doc).unwrap();
            std::fs::write(dir.join(format!("{city}-{}", filename(&order, &doc))), pdf).unwrap();
        }
    }
    let mut long = long_order(60);
    long.lines[0].name = "A product whose name is much too long for its column".into();
    let pdf = render(&long, &Seller::named("Acme Goods"), &DocumentRef::invoice()).unwrap();
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
    let pdf = render_with(&order, &domestic(), &DocumentRef::invoice(), &changes).unwrap();
    assert_well_formed(&pdf);
    assert!(shows(&pdf, &format!("Credit note cn_1 ({})", line.sku)));
    assert!(shows(&pdf, "Adjustment adj_1"));
    assert!(shows(&pdf, &money::format(-400, &order.currency)));
    assert!(shows(&pdf, "Balance"));
    let balance = order.totals.total_minor - 400 + 150;
    assert!(shows(&pdf, &money::format(balance, &order.currency)));
    // without changes: no balance line
    let plain = render(&order, &domestic(), &DocumentRef::invoice()).unwrap();
    assert!(!shows(&plain, "Balance"));
}
