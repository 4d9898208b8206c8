//! Who is shown a job, and what of its `result` they may see: `jobs.read` shows every job of
//! the tenant, but some results carry what a stronger permission guards — a subject
//! archive's download link opens one customer's personal data, so only `gdpr.export` gets
//! it; an orders export's link opens the tenant's orders, so only `orders.export` (which
//! the exports endpoints require) gets it. Every admin view of a job ([`super::JobOut::admin`]: the job, the listing, the event
//! stream, the control answers) is rendered for a [`Viewer`], so no route can forget it.

use serde_json::{Map, Value};

use crate::api::auth::Agent;
use crate::auth::Permission;

/// Members of one workflow's result that only a permission shows.
struct Guarded {
    kind: &'static str,
    permission: Permission,
    members: &'static [&'static str],
    /// Put in the result instead, with what it takes to see them.
    note: &'static str,
}

const GUARDED: &[Guarded] = &[
    Guarded {
        kind: "export_subject",
        permission: Permission::GdprExport,
        members: &["download_url", "expires_at"],
        note: "download",
    },
    Guarded {
        kind: "export_orders",
        permission: Permission::OrdersExport,
        members: &["download_url", "expires_at"],
        note: "download",
    },
];

/// The permissions of whoever a job view is rendered for (none by default: a view made
/// for no one withholds everything guarded).
#[derive(Debug, Clone, Default)]
pub struct Viewer {
    permissions: Vec<Permission>,
}

impl Viewer {
    pub fn of(agent: &Agent) -> Viewer {
        Viewer {
            permissions: agent.permissions(),
        }
    }

    /// `result` of a job of workflow `kind` as this viewer may see it: each guarded member
    /// `null`, and `{note}: "requires {permission}"` saying why.
    pub(super) fn result(&self, kind: &str, result: Option<Value>) -> Option<Value> {
        let Some(Value::Object(mut members)) = result else {
            return result;
        };
        for g in GUARDED
            .iter()
            .filter(|g| g.kind == kind && !self.permissions.contains(&g.permission))
        {
            withhold(&mut members, g);
        }
        Some(Value::Object(members))
    }
}

fn withhold(members: &mut Map<String, Value>, g: &Guarded) {
    for m in g.members {
        if let Some(v) = members.get_mut(*m) {
            *v = Value::Null;
        }
    }
    let why = format!("requires {}", g.permission.as_str());
    members.insert(g.note.into(), why.into());
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn archive() -> Value {
        json!({"export_id": "x", "bytes": 10, "download_url": "/v1/gdpr/exports/download/t",
               "expires_at": "2026-12-01T00:00:00Z"})
    }

    #[test]
    fn a_subject_archive_link_is_shown_only_with_gdpr_export() {
        let none = Viewer::default();
        let seen = none.result("export_subject", Some(archive())).unwrap();
        assert_eq!(seen["download_url"], Value::Null);
        assert_eq!(seen["expires_at"], Value::Null);
        assert_eq!(seen["download"], "requires gdpr.export");
        assert_eq!(seen["bytes"], 10);
        let dpo = Viewer {
            permissions: vec![Permission::JobsRead, Permission::GdprExport],
        };
        assert_eq!(
            dpo.result("export_subject", Some(archive())),
            Some(archive())
        );
    }

    fn orders_export() -> Value {
        json!({"export_id": "x", "row_count": 3, "download_url": "/v1/exports/download/t",
               "expires_at": "2026-12-01T00:00:00Z"})
    }

    #[test]
    fn an_orders_export_link_is_shown_only_with_orders_export() {
        let cs_agent = Viewer {
            permissions: vec![Permission::OrdersRead, Permission::JobsRead],
        };
        let seen = cs_agent
            .result("export_orders", Some(orders_export()))
            .unwrap();
        assert_eq!(seen["download_url"], Value::Null);
        assert_eq!(seen["expires_at"], Value::Null);
        assert_eq!(seen["download"], "requires orders.export");
        assert_eq!(seen["row_count"], 3);
        let finance = Viewer {
            permissions: vec![Permission::JobsRead, Permission::OrdersExport],
        };
        assert_eq!(
            finance.result("export_orders", Some(orders_export())),
            Some(orders_export())
        );
        // one export's permission does not open the other's link
        let dpo = Viewer {
            permissions: vec![Permission::GdprExport],
        };
        let seen = dpo.result("export_orders", Some(orders_export())).unwrap();
        assert_eq!(seen["download_url"], Value::Null);
    }

    #[test]
    fn other_results_are_shown_as_they_are() {
        let none = Viewer::default();
        let other = json!({"download_url": "/v1/somewhere/t", "count": 2});
        assert_eq!(
            none.result("bulk_update_status", Some(other.clone())),
            Some(other)
        );
        assert_eq!(none.result("export_subject", None), None);
        assert_eq!(none.result("export_orders", None), None);
    }
}
