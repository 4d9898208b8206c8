//! Which self-service actions an order allows now, and why not. ONE function per action
//! serves both the action's endpoint (which refuses with the reason's code) and
//! `allowed_actions` on the order (which a UI draws its buttons from), so they never disagree.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::cancel::{BlockedReason, Canceller, plan_cancel};
use super::order::{Order, OrderStatus};
use super::settings::TenantSettings;

/// The self-service actions of the customer API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SelfService {
    Cancel,
    Return,
    Replace,
    Reorder,
    UpdateAddress,
    ApplyCoupon,
}

impl SelfService {
    pub const ALL: [SelfService; 6] = [
        SelfService::Cancel,
        SelfService::Return,
        SelfService::Replace,
        SelfService::Reorder,
        SelfService::UpdateAddress,
        SelfService::ApplyCoupon,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            SelfService::Cancel => "cancel",
            SelfService::Return => "return",
            SelfService::Replace => "replace",
            SelfService::Reorder => "reorder",
            SelfService::UpdateAddress => "update_address",
            SelfService::ApplyCoupon => "apply_coupon",
        }
    }
}

/// One entry of `allowed_actions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ActionVerdict {
    pub allowed: bool,
    /// When not allowed: the code the action itself answers with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<BlockedReason>,
}

fn blocked(code: &str, message: &str) -> Result<(), BlockedReason> {
    Err(BlockedReason {
        code: code.into(),
        message: message.into(),
    })
}

/// Whether the customer may take `action` on `order` now; the error is the reason.
pub fn check(
    action: SelfService,
    order: &Order,
    settings: &TenantSettings,
    now: DateTime<Utc>,
) -> Result<(), BlockedReason> {
    match action {
        SelfService::Cancel => {
            match plan_cancel(order, settings, Canceller::Customer, true, true, now)
                .blocked_reasons
                .into_iter()
                .next()
            {
                Some(r) => Err(r),
                None => Ok(()),
            }
        }
        SelfService::Return => delivered_within_window(
            order,
            settings,
            now,
            "return",
            settings.capabilities.returns_enabled,
        ),
        SelfService::Replace => delivered_within_window(
            order,
            settings,
            now,
            "replace",
            settings.capabilities.exchanges_enabled,
        ),
        SelfService::Reorder => {
            if !settings.capabilities.reorder_enabled {
                return blocked("reorder.disabled", "reordering is not offered by this shop");
            }
            Ok(())
        }
        SelfService::UpdateAddress => {
            if !matches!(
                order.status,
                OrderStatus::Pending | OrderStatus::Confirmed | OrderStatus::OnHold
            ) || !order.shipments.is_empty()
            {
                return blocked(
                    "address.already_shipped",
                    "the address cannot change once the order has shipped or ended",
                );
            }
            if now > order.placed_at + Duration::minutes(settings.address_change_window_minutes) {
                return blocked(
                    "address.change_window_expired",
                    "the window for changing the address has passed",
                );
            }
            Ok(())
        }
        SelfService::ApplyCoupon => {
            if !settings.capabilities.coupons_enabled {
                return blocked("coupon.disabled", "coupons are not offered by this shop");
            }
            if !matches!(order.status, OrderStatus::Pending | OrderStatus::Confirmed) {
                return blocked(
                    "coupon.order_not_open",
                    "coupons apply only to orders not yet shipped",
                );
            }
            Ok(())
        }
    }
}

/// Delivered lines, within the return window counted from the latest delivery.
fn delivered_within_window(
    order: &Order,
    settings: &TenantSettings,
    now: DateTime<Utc>,
    what: &str,
    enabled: bool,
) -> Result<(), BlockedReason> {
    let code = format!("{what}.not_eligible");
    if !enabled {
        return blocked(&format!("{what}.disabled"), "this shop does not offer it");
    }
    let delivered_at = order.shipments.iter().filter_map(|s| s.delivered_at).max();
    let Some(delivered_at) = delivered_at else {
        return blocked(&code, "nothing of this order has been delivered yet");
    };
    if now > delivered_at + settings.return_window() {
        return blocked(&code, "the return window has closed");
    }
    Ok(())
}

/// Every self-service action with its verdict, for `allowed_actions`.
pub fn allowed_actions(
    order: &Order,
    settings: &TenantSettings,
    now: DateTime<Utc>,
) -> BTreeMap<&'static str, ActionVerdict> {
    SelfService::ALL
        .into_iter()
        .map(|a| {
            let verdict = match check(a, order, settings, now) {
                Ok(()) => ActionVerdict {
                    allowed: true,
                    reason: None,
                },
                Err(r) => ActionVerdict {
                    allowed: false,
                    reason: Some(r),
                },
            };
            (a.as_str(), verdict)
        })
        .collect()
}
