use chrono::{Duration, TimeZone};

use super::*;
use crate::order::Refund;

fn order_in(status: OrderStatus) -> Order {
    crate::demo::demo_orders(&crate::ids::TenantId::new("t"), 4, 24)
        .into_iter()
        .find(|o| o.status == status)
        .expect("the demo data has every status")
}

fn event(kind: &str, at: DateTime<Utc>, status: &str) -> EventRecord {
    EventRecord {
        kind: kind.into(),
        occurred_at: at,
        status: Some(status.into()),
    }
}

fn kinds(entries: &[TimelineEntry]) -> Vec<&str> {
    entries.iter().map(|e| e.kind).collect()
}

#[test]
fn delivered_order_reads_placed_shipped_delivered() {
    let o = order_in(OrderStatus::Delivered);
    let t = build(&o, &[]);
    assert_eq!(
        kinds(&t),
        ["order.placed", "shipment.shipped", "shipment.delivered"]
    );
    assert_eq!(
        t[1].title,
        format!("Shipped with {}", o.shipments[0].carrier)
    );
    assert!(
        t[1].detail
            .as_deref()
            .unwrap()
            .contains(&o.shipments[0].tracking_number)
    );
    assert!(t.windows(2).all(|w| w[0].at <= w[1].at));
}

#[test]
fn events_add_status_changes_and_refunds_come_from_the_document() {
    let mut o = order_in(OrderStatus::Confirmed);
    let t0 = o.placed_at;
    let refund_at = t0 + Duration::hours(3);
    o.payments[0].refunds.push(Refund {
        id: "ref_1".into(),
        amount_minor: 1250,
        reason: Some("internal note".into()),
        created_at: refund_at,
    });
    o.status = OrderStatus::Cancelled;
    let events = [
        event("order.updated", t0 + Duration::minutes(1), "confirmed"),
        event("order.updated", t0 + Duration::minutes(2), "confirmed"),
        event("order.held", t0 + Duration::hours(1), "on_hold"),
        event("order.released", t0 + Duration::hours(2), "confirmed"),
        event("payment.refunded", refund_at, "confirmed"),
        event("order.cancelled", t0 + Duration::hours(4), "cancelled"),
        event("fraud.flagged", t0 + Duration::hours(5), "cancelled"),
    ];
    let t = build(&o, &events);
    assert_eq!(
        kinds(&t),
        [
            "order.placed",
            "order.confirmed",
            "order.on_hold",
            "order.hold_released",
            "payment.refunded",
            "order.cancelled",
        ],
        "one confirmation, one refund, no internal event: {t:?}"
    );
    let refund = &t[4];
    assert_eq!(
        refund.title,
        format!("Refund of 12.50 {} issued", o.currency)
    );
    assert!(
        !refund.title.contains("internal"),
        "refund reasons stay internal"
    );
}

#[test]
fn ended_orders_without_events_still_show_their_status_last() {
    let o = order_in(OrderStatus::Closed);
    let t = build(&o, &[]);
    assert_eq!(t.last().unwrap().kind, "order.closed");
    assert!(t.last().unwrap().at >= t[t.len() - 2].at);
    let c = order_in(OrderStatus::Cancelled);
    assert_eq!(kinds(&build(&c, &[])), ["order.placed", "order.cancelled"]);
    // with its event, the cancellation appears once, at the event's time
    let at = c.placed_at + Duration::hours(1);
    let t = build(&c, &[event("order.cancelled", at, "cancelled")]);
    assert_eq!(kinds(&t), ["order.placed", "order.cancelled"]);
    assert_eq!(t[1].at, at);
}

#[test]
fn entries_of_one_instant_keep_their_natural_order() {
    let mut o = order_in(OrderStatus::Delivered);
    let at = Utc.with_ymd_and_hms(2026, 2, 1, 12, 0, 0).unwrap();
    o.placed_at = at;
    o.shipments[0].shipped_at = Some(at);
    o.shipments[0].delivered_at = Some(at);
    assert_eq!(
        kinds(&build(&o, &[])),
        ["order.placed", "shipment.shipped", "shipment.delivered"]
    );
}

#[test]
fn event_titles_hide_unknown_types() {
    let at = Utc::now();
    assert_eq!(
        event("shipment.updated", at, "delivered").title(),
        Some("Delivered")
    );
    assert_eq!(
        event("order.cancelled", at, "cancelled").title(),
        Some("Order cancelled")
    );
    assert_eq!(event("risk.scored", at, "confirmed").title(), None);
    for kind in CUSTOMER_VISIBLE_EVENTS {
        assert!(event(kind, at, "confirmed").title().is_some(), "{kind}");
    }
}

#[test]
fn money_uses_the_currency_decimals() {
    assert_eq!(format_money(1234, "EUR"), "12.34 EUR");
    assert_eq!(format_money(5, "USD"), "0.05 USD");
    assert_eq!(format_money(1234, "JPY"), "1234 JPY");
    assert_eq!(format_money(1234, "KWD"), "1.234 KWD");
    assert_eq!(format_money(-250, "GBP"), "-2.50 GBP");
}

#[test]
fn entries_after_a_position_resume_where_a_page_ended() {
    let o = order_in(OrderStatus::Delivered);
    let all = build(&o, &[]);
    assert!(all.len() >= 3, "{:?}", kinds(&all));
    let first_two = entries_after(all.clone(), None, 2);
    assert_eq!(kinds(&first_two), kinds(&all[..2]));
    let rest = entries_after(all.clone(), Some(&first_two[1].position()), 10);
    assert_eq!(kinds(&rest), kinds(&all[2..]));
}
