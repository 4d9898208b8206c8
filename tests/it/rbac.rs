//! The RBAC matrix, generated from the OpenAPI document and the permissions table: every
//! admin operation names the one permission it requires as its bearer scope, and every role
//! is refused with 403 exactly when its row of the table lacks that permission. A new admin
//! route without a scope fails here, so none can be left unchecked.

use orderdesk::auth::{Permission, Role};
use serde_json::{Value, json};

use crate::helpers::{self, OTHER_TENANT, TENANT, TestApp};

const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

/// Admin operations that take no token at all.
const PUBLIC: [&str; 1] = ["get /v1/admin/health"];

/// One admin operation as the document describes it.
struct Operation {
    method: String,
    path: String,
    /// `None`: any agent may call it.
    permission: Option<Permission>,
    /// A body with every required member of its request schema, so that what the
    /// operation decides on is the caller and the order, not a missing field.
    body: Value,
}

/// The required members of `op`'s JSON request body, each with a plain value of its type.
fn minimal_body(doc: &Value, op: &Value) -> Value {
    let schema = &op["requestBody"]["content"]["application/json"]["schema"];
    let schema = match schema["$ref"].as_str() {
        Some(r) => &doc["components"]["schemas"][r.trim_start_matches("#/components/schemas/")],
        None => schema,
    };
    let mut body = serde_json::Map::new();
    for name in schema["required"].as_array().into_iter().flatten() {
        let name = name.as_str().unwrap();
        let property = &schema["properties"][name];
        // an enum may be a component, or inlined as one `oneOf` member per documented variant
        let property = match property["$ref"].as_str() {
            Some(r) => &doc["components"]["schemas"][r.trim_start_matches("#/components/schemas/")],
            None => property,
        };
        let first_variant = property["oneOf"].get(0).and_then(|v| v["enum"].get(0));
        if let Some(first) = property["enum"].get(0).or(first_variant) {
            body.insert(name.to_string(), first.clone());
            continue;
        }
        let value = match property["type"].as_str() {
            Some("boolean") => json!(false),
            Some("integer") => json!(1),
            _ => json!("matrix"),
        };
        body.insert(name.to_string(), value);
    }
    Value::Object(body)
}

async fn admin_operations(app: &TestApp) -> Vec<Operation> {
    let (status, doc) = app.get("/openapi.json", Default::default()).await;
    assert_eq!(status, 200);
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        if !path.starts_with("/v1/admin/") {
            continue;
        }
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let name = format!("{method} {path}");
            let Some(security) = op["security"].as_array().filter(|s| !s.is_empty()) else {
                assert!(
                    PUBLIC.contains(&name.as_str()),
                    "{name} names no permission"
                );
                continue;
            };
            assert_eq!(security.len(), 1, "{name}: one security requirement");
            let scopes = security[0]["bearer"].as_array().expect("a bearer scheme");
            assert!(scopes.len() <= 1, "{name}: at most one permission");
            let permission = scopes.first().map(|s| {
                let s = s.as_str().unwrap();
                Permission::ALL
                    .iter()
                    .copied()
                    .find(|p| p.as_str() == s)
                    .unwrap_or_else(|| panic!("{name}: {s} is no permission"))
            });
            out.push(Operation {
                method: method.to_string(),
                path: path.clone(),
                permission,
                body: minimal_body(&doc, op),
            });
        }
    }
    out
}

/// `path` with each `{param}` filled: an order id of the tenant's, any other id made up.
fn concrete(path: &str, order_id: &str) -> String {
    helpers::concrete_path(path, |param| match param {
        "order_id" => order_id,
        _ => "01900000-0000-7000-8000-000000000000",
    })
}

async fn call(app: &TestApp, op: &Operation, url: &str, token: &str, tenant: &str) -> (u16, Value) {
    let res = app
        .http
        .request(op.method.to_uppercase().parse().unwrap(), url)
        .headers(app.auth(token, tenant))
        .header("idempotency-key", uuid::Uuid::now_v7().to_string())
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn every_role_is_refused_exactly_what_its_permissions_leave_out() {
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let ops = admin_operations(&app).await;
    assert!(
        ops.len() >= 7,
        "the admin operations were read: {}",
        ops.len()
    );
    // a delivered order: no operation of this matrix can change it
    let order = app.order_in("delivered").id.to_string();
    for op in &ops {
        let url = format!("{}{}", app.api, concrete(&op.path, &order));
        let name = format!("{} {}", op.method, op.path);
        for role in Role::ALL {
            let token = app.agent_token(TENANT, "agt_matrix", &[role.as_str()]);
            let (status, body) = call(&app, op, &url, &token, TENANT).await;
            let refused = status == 403 && body["code"] == "auth.forbidden";
            match op.permission {
                Some(p) if !role.grants(p) => {
                    assert!(refused, "{name} as {role}: {status} {body}");
                    assert_eq!(body["required_permission"], p.as_str(), "{name}");
                }
                _ => assert!(!refused, "{name} as {role} was refused: {body}"),
            }
            assert!(status < 500, "{name} as {role}: {status} {body}");
        }
    }
}

#[tokio::test]
async fn another_tenants_order_is_not_found_on_every_admin_operation_that_names_one() {
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let order = app.order_in("delivered").id.to_string();
    let foreign = app.agent_token(OTHER_TENANT, "agt_foreign", &["admin"]);
    let sudo = app.sudo_token(OTHER_TENANT, "agt_foreign", &["admin"]);
    let mut checked = 0;
    for op in admin_operations(&app).await {
        if !op.path.contains("{order_id}") {
            continue;
        }
        let url = format!("{}{}", app.api, concrete(&op.path, &order));
        let res = app
            .http
            .request(op.method.to_uppercase().parse().unwrap(), &url)
            .headers(app.auth(&foreign, OTHER_TENANT))
            .header("x-admin-auth-sudo", &sudo)
            .header("idempotency-key", uuid::Uuid::now_v7().to_string())
            .json(&op.body)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        assert_eq!(status, 404, "{} {}: {body}", op.method, op.path);
        checked += 1;
    }
    assert!(checked >= 4, "operations on an order: {checked}");
}

#[tokio::test]
async fn an_agent_reads_its_own_roles_and_permissions() {
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let token = app.agent_token(TENANT, "agt_me", &["billing", "auditor"]);
    let (status, me) = app
        .get("/v1/admin/permissions/me", app.auth(&token, TENANT))
        .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["agent_id"], "agt_me");
    assert_eq!(me["tenant_id"], TENANT);
    assert_eq!(me["roles"], json!(["billing", "auditor"]));
    let names: Vec<&str> = me["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    // billing ∪ auditor, in the table's order, nothing more
    assert_eq!(
        names,
        [
            "orders.read",
            "orders.search",
            "orders.refund",
            "payments.read",
            "payments.capture",
            "audit.read",
            "jobs.read"
        ]
    );

    let (status, body) = app
        .get("/v1/admin/permissions/me", Default::default())
        .await;
    assert_eq!(status, 401, "{body}");
    let customer = app.customer_token(TENANT, "cus_0001");
    let (status, body) = app
        .get("/v1/admin/permissions/me", app.auth(&customer, TENANT))
        .await;
    assert_eq!(status, 403, "a customer token is no agent: {body}");
}
