use chrono::Duration;

use super::*;

fn order_in(status: OrderStatus) -> Order {
    crate::demo::demo_orders(&crate::ids::TenantId::new("t"), 4, 24)
        .into_iter()
        .find(|o| o.status == status)
        .expect("the demo data has every status")
}

fn ids(entries: &[FaqEntry]) -> Vec<&'static str> {
    entries.iter().map(|e| e.id).collect()
}

fn settings() -> TenantSettings {
    TenantSettings::default()
}

#[test]
fn shipped_past_its_eta_is_late_and_no_longer_cancellable() {
    let o = order_in(OrderStatus::Shipped);
    let eta = o.shipments[0].eta.unwrap();
    let faq = entries(&o, &settings(), eta + Duration::days(2));
    assert_eq!(
        ids(&faq),
        ["delivery_late", "cancel_not_possible", "contact_support"]
    );
    assert!(faq[0].answer.contains(&o.shipments[0].tracking_number));
    assert!(faq[1].answer.contains("return it instead"));

    let before_eta = entries(&o, &settings(), eta - Duration::hours(1));
    assert_eq!(before_eta[0].id, "delivery_eta");
}

#[test]
fn delivered_order_has_its_return_window_open_then_closed() {
    let o = order_in(OrderStatus::Delivered);
    let delivered = o.shipments[0].delivered_at.unwrap();
    let open = entries(&o, &settings(), delivered + Duration::days(3));
    assert!(ids(&open).contains(&"return_window_open"), "{open:?}");
    let closed = entries(&o, &settings(), delivered + Duration::days(31));
    assert!(ids(&closed).contains(&"return_window_closed"), "{closed:?}");
    assert!(!ids(&closed).contains(&"delivery_late"));

    let mut no_returns = settings();
    no_returns.capabilities.returns_enabled = false;
    let faq = entries(&o, &no_returns, delivered + Duration::days(3));
    assert!(ids(&faq).contains(&"returns_not_offered"));
}

#[test]
fn fresh_order_can_be_cancelled_and_readdressed() {
    let o = order_in(OrderStatus::Confirmed);
    let faq = entries(&o, &settings(), o.placed_at + Duration::minutes(5));
    assert_eq!(
        ids(&faq),
        [
            "not_shipped_yet",
            "cancel_possible",
            "address_change_possible",
            "contact_support"
        ]
    );
    let mut short = settings();
    short.cancel_window_minutes = 10;
    let later = entries(&o, &short, o.placed_at + Duration::hours(2));
    let cancel = later
        .iter()
        .find(|e| e.id == "cancel_not_possible")
        .unwrap();
    assert!(cancel.answer.contains("window closed"), "{cancel:?}");
    assert!(!ids(&later).contains(&"address_change_possible"));
}

#[test]
fn on_hold_explains_and_blocks_self_cancel() {
    let o = order_in(OrderStatus::OnHold);
    let faq = entries(&o, &settings(), o.placed_at + Duration::minutes(5));
    assert_eq!(faq[0].id, "on_hold");
    let cancel = faq.iter().find(|e| e.id == "cancel_not_possible").unwrap();
    assert!(cancel.answer.contains("on hold"));
}

#[test]
fn cancelled_order_talks_about_the_refund_only() {
    let o = order_in(OrderStatus::Cancelled);
    let faq = entries(&o, &settings(), o.placed_at + Duration::days(1));
    assert_eq!(ids(&faq), ["refund_issued", "contact_support"]);
    assert!(faq[0].answer.contains(&o.currency));

    let mut pending = o.clone();
    pending.payments[0].status = "captured".into();
    pending.payments[0].refunded_minor = 0;
    let faq = entries(&pending, &settings(), o.placed_at + Duration::days(1));
    assert_eq!(ids(&faq), ["refund_in_progress", "contact_support"]);
}
