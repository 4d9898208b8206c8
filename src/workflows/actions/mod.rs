//! Actions: the Rust functions that `workflows.toml` names. THE one registration list is
//! [`ACTIONS`]; adding a step = one function (in its own file) + one line here + one TOML
//! block.
//!
//! What an action is called with and may return is in [`crate::workflows::step`].

mod address;
mod adjustments;
pub(crate) mod bulk;
mod captures;
mod diagnostic;
mod edits;
mod events;
mod exchanges;
mod exports;
mod fraud;
mod fulfillment;
mod fulfillments;
mod gdpr;
mod inventory;
mod notifications;
mod orders;
mod payments;
mod refunds;
mod reorder;
mod return_refund;
mod return_review;
mod returns;
mod subject_export;
mod support;
mod transitions;

use crate::workflows::step::ActionFn;

pub use bulk::TENANT_IN_FLIGHT;

/// THE registration list: action name → function.
pub const ACTIONS: &[(&str, ActionFn)] = &[
    // diagnostics (benchmarks, tests of retries and compensation)
    ("noop", diagnostic::noop),
    ("fail", diagnostic::fail),
    ("flaky", diagnostic::flaky),
    ("sleep", diagnostic::sleep),
    // replay_events
    ("events.replay", events::replay),
    // bulk_update_status
    ("bulk.select_items", bulk::select_items),
    (bulk::PROCESS_ITEMS, bulk::process_items),
    // cancel_order
    (
        "orders.check_cancel_eligibility",
        orders::check_cancel_eligibility,
    ),
    ("orders.cancel", orders::cancel),
    ("orders.reinstate", orders::reinstate),
    ("orders.refresh_view", orders::refresh_view),
    ("inventory.release", inventory::release),
    ("inventory.reserve", inventory::reserve),
    ("payments.refund", payments::refund),
    (
        "notifications.order_cancelled",
        notifications::order_cancelled,
    ),
    // return_order, exchange_order
    // create_fulfillment, ship_fulfillment, cancel_fulfillment, reschedule_fulfillment
    ("fulfillments.create", fulfillments::create),
    ("fulfillments.uncreate", fulfillments::uncreate),
    ("fulfillments.record", fulfillments::record),
    ("fulfillments.ship", fulfillments::ship),
    (
        "fulfillments.record_shipment",
        fulfillments::record_shipment,
    ),
    ("fulfillments.cancel", fulfillments::cancel),
    ("fulfillments.reschedule", fulfillments::reschedule),
    ("returns.check_eligibility", returns::check_eligibility),
    ("returns.create_rma", returns::create_rma),
    ("returns.notify_customer", returns::notify_customer),
    ("returns.finish", returns::finish),
    ("returns.approve", return_review::approve),
    ("returns.inspect", return_review::inspect),
    ("returns.notify_approved", return_review::notify_approved),
    ("returns.notify_inspected", return_review::notify_inspected),
    (
        "exchanges.reserve_replacement",
        exchanges::reserve_replacement,
    ),
    (
        "exchanges.release_replacement",
        exchanges::release_replacement,
    ),
    // reorder
    ("reorder.plan", reorder::plan),
    ("orders.create_cart", reorder::create_cart),
    // update_address
    ("orders.update_address", address::update_at_orders),
    ("orders.revert_address", address::revert_at_orders),
    ("fulfillment.update_address", address::update_at_fulfillment),
    ("notifications.address_changed", address::notify_changed),
    // notify_support
    ("notifications.support_message", support::support_message),
    // notify_shipment_update
    (
        "notifications.shipment_update_email",
        notifications::shipment_update_email,
    ),
    (
        "notifications.shipment_update_sms",
        notifications::shipment_update_sms,
    ),
    (
        "notifications.shipment_update_push",
        notifications::shipment_update_push,
    ),
    // erase_customer
    ("gdpr.check_legal_hold", gdpr::check_legal_hold),
    ("gdpr.anonymise_local", gdpr::anonymise_local),
    (
        "gdpr.delete_subject_archives",
        gdpr::delete_subject_archives,
    ),
    ("orders.erase_customer", gdpr::erase_at_orders),
    ("notifications.erasure_completed", gdpr::erasure_completed),
    // hold_order, release_order, confirm_order, close_order, reopen_order
    ("orders.check_transition", transitions::check_transition),
    ("orders.hold", transitions::hold),
    ("orders.release", transitions::release),
    ("orders.confirm", transitions::confirm),
    ("orders.close", transitions::close),
    ("orders.reopen", transitions::reopen),
    ("holds.after_place", transitions::after_place),
    ("holds.mark_released", transitions::mark_released),
    ("holds.after_release", transitions::after_release),
    // export_orders
    ("exports.plan", exports::plan),
    ("exports.write_parts", exports::write_parts),
    ("exports.assemble", exports::assemble),
    // export_subject (GDPR subject access)
    ("gdpr.export_subject", subject_export::archive),
    // flag_fraud, unflag_fraud
    ("fraud.check", fraud::check_fraud),
    ("fraud.set_state", fraud::set_state),
    // refund_payment
    ("payments.check_refundable", refunds::check_refundable),
    ("payments.refund_payment", refunds::refund_at_payments),
    ("notifications.refund_issued", refunds::notify_refunded),
    // capture_payment
    ("payments.check_capturable", captures::check_capturable),
    ("payments.capture", captures::capture_at_payments),
    // link_settlement
    ("payments.link_settlement", captures::link_settlement),
    // refund_return (with payments.check_refundable and payments.refund_payment)
    (
        "billing.grant_store_credit",
        return_refund::grant_store_credit,
    ),
    ("returns.record_refund", return_refund::record_refund),
    ("returns.notify_refunded", return_refund::notify_refunded),
    // adjust_price
    ("billing.adjust_invoice", adjustments::adjust_invoice),
    ("notifications.price_adjusted", adjustments::notify_adjusted),
    // edit_order (applying a quote)
    ("orders.apply_edit", edits::apply_at_orders),
    ("orders.revert_edit", edits::revert_at_orders),
    ("billing.reprice_invoice", edits::reprice_invoice),
    ("billing.restore_invoice", edits::restore_invoice),
    ("payments.settle_difference", edits::settle_difference),
    ("payments.reverse_settlement", edits::reverse_settlement),
    ("inventory.adjust_for_edit", edits::adjust_inventory),
    ("inventory.undo_edit_adjustment", edits::undo_inventory),
    ("notifications.order_edited", edits::notify_edited),
    // resync_fulfillment
    (
        "fulfillment.refresh_shipments",
        fulfillment::refresh_shipments,
    ),
];

pub fn find(name: &str) -> Option<ActionFn> {
    ACTIONS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

pub fn names() -> impl Iterator<Item = &'static str> {
    ACTIONS.iter().map(|(n, _)| *n)
}

#[cfg(test)]
mod tests {
    #[test]
    fn action_names_are_unique() {
        let mut names: Vec<_> = super::names().collect();
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), n);
    }
}
