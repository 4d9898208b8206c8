use serde_json::json;

use super::*;
use crate::demo::demo_orders;
use crate::ids::TenantId;

fn order() -> Order {
    let mut o = demo_orders(&TenantId::new("t"), 1, 1).remove(0);
    o.status = OrderStatus::Confirmed;
    o.shipments.clear();
    o.lines = vec![line("l1", "SKU-A", 2, 1000), line("l2", "SKU-B", 1, 500)];
    o.totals = Totals {
        subtotal_minor: 2500,
        shipping_minor: 499,
        tax_minor: 500,
        total_minor: 3499,
    };
    o.payments.truncate(1);
    o.payments[0].amount_minor = 3499;
    o.payments[0].refunded_minor = 0;
    o.payments[0].status = "captured".into();
    o.payments[0].captures.clear();
    o
}

fn line(id: &str, sku: &str, qty: i32, price: i64) -> OrderLine {
    OrderLine {
        id: id.into(),
        sku: sku.into(),
        name: sku.into(),
        qty,
        unit_price_minor: price,
        total_minor: price * i64::from(qty),
        hs_code: None,
        origin_country: None,
    }
}

fn op(op: &str, path: &str, value: Option<Value>) -> PatchOp {
    PatchOp {
        op: op.into(),
        path: path.into(),
        value,
    }
}

fn catalog() -> HashMap<String, CatalogItem> {
    let item = |sku: &str, price, discontinued| CatalogItem {
        sku: sku.into(),
        name: format!("{sku} name"),
        currency: order().currency,
        price_minor: price,
        discontinued,
    };
    HashMap::from([
        ("SKU-C".into(), item("SKU-C", 750, false)),
        ("SKU-OLD".into(), item("SKU-OLD", 100, true)),
    ])
}

fn priced(ops: &[PatchOp]) -> Result<Priced, Vec<OpError>> {
    let changes = parse(ops)?;
    price(&order(), &changes, &catalog(), "q")
}

#[test]
fn the_allowed_operations_parse() {
    let ops = [
        op("replace", "/lines/0/quantity", Some(json!(3))),
        op("remove", "/lines/1", None),
        op(
            "add",
            "/lines/-",
            Some(json!({"sku": "SKU-C", "quantity": 2})),
        ),
        op("replace", "/shipping_method", Some(json!("express"))),
    ];
    let changes = parse(&ops).unwrap();
    assert_eq!(changes[0], Change::Quantity { index: 0, qty: 3 });
    assert_eq!(changes[1], Change::Remove { index: 1 });
    assert_eq!(changes[3], Change::ShippingMethod(ShippingMethod::Express));
}

#[test]
fn anything_else_is_refused_naming_the_op_and_what_is_allowed() {
    let ops = [
        op("replace", "/lines/0/quantity", Some(json!(3))),
        op("move", "/lines/0", None),
        op("replace", "/lines/0/unit_price_minor", Some(json!(1))),
        op("replace", "/lines/01/quantity", Some(json!(1))),
        op("replace", "/lines/0/quantity", Some(json!(0))),
        op("replace", "/lines/0/quantity", Some(json!(1000))),
        op(
            "add",
            "/lines/-",
            Some(json!({"sku": "X", "quantity": 1, "price": 1})),
        ),
    ];
    let errors = parse(&ops).unwrap_err();
    let at: Vec<usize> = errors.iter().map(|e| e.index).collect();
    assert_eq!(at, vec![1, 2, 3, 4, 5, 6]);
    assert!(errors[0].message.contains("move /lines/0"), "{errors:?}");
    assert!(errors[0].message.contains("replace /shipping_address"));
    assert_eq!(errors[0].field(), "changes[1]");
}

#[test]
fn the_number_of_operations_is_bounded() {
    assert!(parse(&[]).is_err());
    let many = vec![op("replace", "/shipping_method", Some(json!("standard"))); MAX_OPS + 1];
    assert!(parse(&many).is_err());
    assert!(parse(&many[..MAX_OPS]).is_ok());
}

#[test]
fn an_address_is_validated_like_a_customer_change() {
    let bad = op(
        "replace",
        "/shipping_address",
        Some(json!({"name": "A", "line1": "B", "city": "C", "postal_code": "1", "country": "DE"})),
    );
    let errors = parse(&[bad]).unwrap_err();
    assert!(errors[0].message.contains("postal_code"), "{errors:?}");
    let good = op(
        "replace",
        "/shipping_address",
        Some(
            json!({"name": "A", "line1": "B", "city": "C", "postal_code": "10115", "country": "de"}),
        ),
    );
    let p = priced(&[good]).unwrap();
    assert_eq!(p.preview.shipping_address.country, "DE");
    assert_eq!(p.delta.settle, Settle::None);
}

#[test]
fn more_units_are_charged_with_tax_and_reserved() {
    let p = priced(&[op("replace", "/lines/0/quantity", Some(json!(3)))]).unwrap();
    // subtotal 3500, tax at 500/2500 = 20 % → 700, shipping as before
    assert_eq!(p.preview.totals.subtotal_minor, 3500);
    assert_eq!(p.preview.totals.tax_minor, 700);
    assert_eq!(p.preview.totals.total_minor, 3500 + 499 + 700);
    assert_eq!(p.delta.total_minor, 1200);
    assert_eq!(
        (p.delta.settle, p.delta.amount_minor),
        (Settle::Charge, 1200)
    );
    assert_eq!(
        p.delta.reserve,
        vec![StockMove {
            sku: "SKU-A".into(),
            qty: 1
        }]
    );
    assert!(p.delta.release.is_empty());
}

#[test]
fn a_removed_line_is_refunded_from_a_payment_and_released() {
    let p = priced(&[op("remove", "/lines/1", None)]).unwrap();
    assert_eq!(p.delta.total_minor, -600);
    assert_eq!(
        (p.delta.settle, p.delta.amount_minor),
        (Settle::Refund, 600)
    );
    assert_eq!(
        p.delta.payment_id.as_deref(),
        Some(order().payments[0].id.as_str())
    );
    assert_eq!(
        p.delta.release,
        vec![StockMove {
            sku: "SKU-B".into(),
            qty: 1
        }]
    );
}

#[test]
fn indices_follow_earlier_operations_and_out_of_range_is_refused() {
    // after removing line 0, the old line 1 is at 0 and there is no line 1
    let ops = [
        op("remove", "/lines/0", None),
        op("replace", "/lines/0/quantity", Some(json!(4))),
        op("replace", "/lines/1/quantity", Some(json!(4))),
    ];
    let errors = priced(&ops).unwrap_err();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].index, 2);
    let p = priced(&ops[..2]).unwrap();
    assert_eq!(p.preview.lines[0].sku, "SKU-B");
    assert_eq!(p.preview.lines[0].qty, 4);
}

#[test]
fn added_skus_come_from_the_catalog_and_shipping_from_the_table() {
    let ops = [
        op(
            "add",
            "/lines/-",
            Some(json!({"sku": "SKU-C", "quantity": 2})),
        ),
        op("replace", "/shipping_method", Some(json!("overnight"))),
    ];
    let p = priced(&ops).unwrap();
    let added = p.preview.lines.last().unwrap();
    assert_eq!(
        (added.id.as_str(), added.unit_price_minor, added.total_minor),
        ("q_1", 750, 1500)
    );
    assert_eq!(p.preview.totals.shipping_minor, 2499);
    assert_eq!(p.delta.shipping_minor, 2000);
    for sku in ["SKU-OLD", "SKU-NONE"] {
        let add = op("add", "/lines/-", Some(json!({"sku": sku, "quantity": 1})));
        let errors = priced(&[add]).unwrap_err();
        assert!(errors[0].message.contains(sku), "{errors:?}");
    }
}

#[test]
fn an_order_keeps_a_line() {
    let ops = [
        op("remove", "/lines/0", None),
        op("remove", "/lines/0", None),
    ];
    let errors = priced(&ops).unwrap_err();
    assert!(errors[0].message.contains("at least one line"));
}

#[test]
fn a_refund_larger_than_any_payment_names_none() {
    let mut o = order();
    o.payments[0].refunded_minor = 3400;
    let changes = parse(&[op("remove", "/lines/1", None)]).unwrap();
    let p = price(&o, &changes, &catalog(), "q").unwrap();
    assert_eq!(p.delta.settle, Settle::Refund);
    assert_eq!(p.delta.payment_id, None);
}

#[test]
fn rounding_is_half_up() {
    assert_eq!(mul_div_round(5, 1, 2), 3);
    assert_eq!(mul_div_round(4, 1, 3), 1);
    assert_eq!(mul_div_round(100, 0, 0), 0);
}
