//! Typed ids of what crosses layers: tenants, customers, orders, requests and runs. Each is
//! its own type, so the compiler refuses a tenant where an order id belongs:
//!
//! ```compile_fail
//! use orderdesk_domain::ids::{OrderId, TenantId};
//! fn cancel(_order: &OrderId) {}
//! cancel(&TenantId::new("demo"));
//! ```
//!
//! On the wire and in the database each is exactly its inner value (`serde(transparent)`,
//! `sqlx(transparent)`): JSON bodies, stored run inputs and queued triggers keep their shape.
//! Deserializing does not check formats, because stored data and upstream answers are
//! trusted as they are; input from a client goes through `parse`, which applies the rule
//! the API has always applied to that id.

use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// Why a client's text is not an id: the id's name and the rule it breaks, ready for a
/// validation error that names the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdError {
    /// The id's usual field name, e.g. `order_id`.
    pub field: &'static str,
    /// What a valid one looks like.
    pub rule: &'static str,
}

impl fmt::Display for IdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.rule)
    }
}

impl std::error::Error for IdError {}

/// An id that is text chosen elsewhere (a tenant's name, an upstream's order id).
macro_rules! text_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
        #[serde(transparent)]
        #[cfg_attr(feature = "sqlx", derive(sqlx::Type), sqlx(transparent))]
        pub struct $name(String);

        impl $name {
            /// Wraps an id from a trusted source (a verified token, a row, an upstream
            /// answer) without checking it; client input goes through `parse` where the
            /// id has one.
            pub fn new(id: impl Into<String>) -> Self {
                $name(id.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        /// Like [`Self::new`]: unchecked, for trusted text.
        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                $name(id.to_string())
            }
        }

        /// Like [`Self::new`]: unchecked, for trusted text.
        impl From<String> for $name {
            fn from(id: String) -> Self {
                $name(id)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

/// An id that orderdesk makes itself: a time-ordered UUID (v7).
macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
        )]
        #[serde(transparent)]
        #[cfg_attr(feature = "sqlx", derive(sqlx::Type), sqlx(transparent))]
        pub struct $name(Uuid);

        impl $name {
            /// A new id, ordered by creation time.
            pub fn now_v7() -> Self {
                $name(Uuid::now_v7())
            }

            pub fn from_uuid(id: Uuid) -> Self {
                $name(id)
            }

            pub fn as_uuid(&self) -> Uuid {
                self.0
            }

            /// A client's text as an id: any UUID spelling `uuid` accepts.
            pub fn parse(s: &str) -> Result<Self, IdError> {
                Uuid::parse_str(s).map($name).map_err(|_| IdError {
                    field: $field,
                    rule: "a UUID",
                })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                $name(id)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }
    };
}

text_id!(
    /// A tenant (a shop) of orderdesk, e.g. `demo`: the `tenant` claim of every token and the
    /// `tenant_id` of every row.
    TenantId
);

text_id!(
    /// A customer of a tenant, e.g. `cus_0001`, as the identity provider and the Orders
    /// service name them.
    CustomerId
);

text_id!(
    /// An order as the Orders service names it, e.g. `ord_000001`.
    OrderId
);

text_id!(
    /// A fulfilment (units of an order picked at a warehouse), e.g. `ful_…`: orderdesk names
    /// it when it asks the Fulfillment service for it, so a repeat finds the same one.
    FulfillmentId
);

text_id!(
    /// A shipment as the Fulfillment service names it, e.g. `shp_…`.
    ShipmentId
);

text_id!(
    /// A payment as the Payments service names it, e.g. `pay_000001`.
    PaymentId
);

text_id!(
    /// A quote of an order edit, made by orderdesk: `qt_` and 32 hex digits.
    QuoteId
);

uuid_id!(
    /// A customer's or agent's request (cancel, return, erasure…), polled at
    /// `/v1/customer/requests/{id}`.
    RequestId,
    "request_id"
);

uuid_id!(
    /// One run of a workflow; the API shows it as a job (`/v1/admin/jobs/{id}`).
    RunId,
    "job_id"
);

uuid_id!(
    /// An export of orders for finance (`/v1/admin/exports/{id}`).
    ExportId,
    "export_id"
);

uuid_id!(
    /// The archive of one customer's data (`POST /v1/admin/gdpr/export`).
    SubjectExportId,
    "export_id"
);

/// Longest tenant name a client may send in `X-Tenant-ID` where no token names it.
pub const MAX_TENANT_LEN: usize = 64;
/// Longest order id a client may name.
pub const MAX_ORDER_ID_LEN: usize = 100;

impl TenantId {
    /// A tenant named by a client without a token (the guest lookup's `X-Tenant-ID`): at most
    /// 64 letters, digits, `.`, `_` or `-`. Surrounding spaces are the caller's to trim.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let ok = (1..=MAX_TENANT_LEN).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
        if ok {
            Ok(TenantId::new(s))
        } else {
            Err(IdError {
                field: "tenant_id",
                rule: "at most 64 letters, digits, '.', '_' or '-'",
            })
        }
    }
}

impl OrderId {
    /// An order id named by a client (a path segment): 1 to 100 letters, digits, `_`, `-`,
    /// `.` or `:`.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let ok = (1..=MAX_ORDER_ID_LEN).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-.:".contains(&b));
        if ok {
            Ok(OrderId::new(s))
        } else {
            Err(IdError {
                field: "order_id",
                rule: "1 to 100 letters, digits, '_', '-', '.' or ':'",
            })
        }
    }
}

impl PaymentId {
    /// A payment id named by a client (a path segment): the rules of [`OrderId::parse`].
    pub fn parse(s: &str) -> Result<Self, IdError> {
        OrderId::parse(s)
            .map(|id| PaymentId::new(id.as_str()))
            .map_err(|_| IdError {
                field: "payment_id",
                rule: "1 to 100 letters, digits, '_', '-', '.' or ':'",
            })
    }
}

impl QuoteId {
    /// A new id, ordered by creation time.
    pub fn now_v7() -> Self {
        QuoteId(format!("qt_{}", Uuid::now_v7().simple()))
    }

    /// A quote id named by a client (a path segment): `qt_` and 1 to 64 letters or digits.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let ok = s.strip_prefix("qt_").is_some_and(|rest| {
            (1..=64).contains(&rest.len()) && rest.bytes().all(|b| b.is_ascii_alphanumeric())
        });
        if ok {
            Ok(QuoteId::new(s))
        } else {
            Err(IdError {
                field: "quote_id",
                rule: "qt_ and 1 to 64 letters or digits",
            })
        }
    }
}

impl CustomerId {
    /// A customer id named by a client (a body member): 1 to 100 letters, digits, `_`, `-`,
    /// `.`, `:` or `@`.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let ok = (1..=MAX_ORDER_ID_LEN).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-.:@".contains(&b));
        if ok {
            Ok(CustomerId::new(s))
        } else {
            Err(IdError {
                field: "customer_id",
                rule: "1 to 100 letters, digits, '_', '-', '.', ':' or '@'",
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn order_ids_are_short_and_plain() {
        for good in ["ord_000001", "a", "A-1.b:c_2", &"9".repeat(100)] {
            assert_eq!(OrderId::parse(good).unwrap().as_str(), good);
        }
        for bad in ["", "bad id!", "x/y", "ord%20", "örder", &"9".repeat(101)] {
            let e = OrderId::parse(bad).unwrap_err();
            assert_eq!(e.field, "order_id", "{bad:?}");
        }
    }

    #[test]
    fn customer_ids_from_clients_are_short_and_plain() {
        for good in ["cus_0001", "auth0:abc@x", &"c".repeat(100)] {
            assert_eq!(CustomerId::parse(good).unwrap().as_str(), good);
        }
        for bad in ["", "cus 1", "a/b", "c%20", &"c".repeat(101)] {
            let e = CustomerId::parse(bad).unwrap_err();
            assert_eq!(e.field, "customer_id", "{bad:?}");
        }
    }

    #[test]
    fn tenant_names_from_clients_are_short_and_plain() {
        for good in ["demo", "acme.eu", "t_1-2", &"t".repeat(64)] {
            assert_eq!(TenantId::parse(good).unwrap().as_str(), good);
        }
        for bad in ["", " demo", "de mo", "a:b", "a/b", &"t".repeat(65)] {
            assert_eq!(
                TenantId::parse(bad).unwrap_err().field,
                "tenant_id",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn uuid_ids_parse_any_uuid_spelling_and_nothing_else() {
        let run = RunId::now_v7();
        assert_eq!(RunId::parse(&run.to_string()), Ok(run));
        assert_eq!(RunId::parse(&run.as_uuid().simple().to_string()), Ok(run));
        assert_eq!(RunId::parse("x1").unwrap_err().field, "job_id");
        assert_eq!(RequestId::parse("").unwrap_err().field, "request_id");
        assert!(RunId::now_v7() > run, "v7 ids grow with time");
    }

    #[test]
    fn ids_serialize_as_their_inner_value() {
        let order = OrderId::new("ord_1");
        assert_eq!(serde_json::to_value(&order).unwrap(), json!("ord_1"));
        let back: OrderId = serde_json::from_value(json!("ord_1")).unwrap();
        assert_eq!(back, order);
        let run = RunId::now_v7();
        assert_eq!(
            serde_json::to_value(run).unwrap(),
            json!(run.as_uuid().to_string())
        );
        // a queued trigger `{"run_id": "…"}` keeps its shape
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct Trigger {
            run_id: RunId,
        }
        let t = Trigger { run_id: run };
        let text = serde_json::to_string(&t).unwrap();
        assert_eq!(text, format!(r#"{{"run_id":"{run}"}}"#));
        assert_eq!(serde_json::from_str::<Trigger>(&text).unwrap(), t);
    }

    #[test]
    fn deserializing_trusts_stored_ids() {
        // an upstream's or a row's id is kept as it is, even outside the client rule
        let odd: OrderId = serde_json::from_value(json!("has space")).unwrap();
        assert_eq!(odd, "has space");
        assert!(serde_json::from_value::<RunId>(json!("not a uuid")).is_err());
    }

    #[test]
    fn schemas_are_a_string_and_a_uuid() {
        use utoipa::PartialSchema;
        let text = serde_json::to_value(OrderId::schema()).unwrap();
        assert_eq!(text["type"], "string", "{text}");
        let uuid = serde_json::to_value(RunId::schema()).unwrap();
        assert_eq!(
            (&uuid["type"], &uuid["format"]),
            (&json!("string"), &json!("uuid"))
        );
    }

    #[test]
    fn display_is_the_bare_value() {
        assert_eq!(TenantId::new("demo").to_string(), "demo");
        let id = Uuid::now_v7();
        assert_eq!(RequestId::from(id).to_string(), id.to_string());
    }
}
