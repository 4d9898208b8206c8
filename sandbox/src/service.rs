//! The services the sandbox stands in for: each is served under its own path prefix and
//! has its own fault switch and idempotency scope.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    Orders,
    Payments,
    Inventory,
    Fulfillment,
    Billing,
    Notifications,
    Tracking,
    Promotions,
}

impl Service {
    pub const ALL: [Service; 8] = [
        Service::Orders,
        Service::Payments,
        Service::Inventory,
        Service::Fulfillment,
        Service::Billing,
        Service::Notifications,
        Service::Tracking,
        Service::Promotions,
    ];
    /// Lower-case name: the path prefix and the fault-injection key.
    pub fn name(self) -> &'static str {
        match self {
            Service::Orders => "orders",
            Service::Payments => "payments",
            Service::Inventory => "inventory",
            Service::Fulfillment => "fulfillment",
            Service::Billing => "billing",
            Service::Notifications => "notifications",
            Service::Tracking => "tracking",
            Service::Promotions => "promotions",
        }
    }
}
