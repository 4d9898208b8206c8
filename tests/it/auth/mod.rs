//! Auth extractors over real HTTP: a tiny router whose state is just an `Arc<Verifier>`,
//! served on 127.0.0.1:0, called with reqwest; tokens forged with jsonwebtoken or by hand.

mod jwks;
mod rbac;
mod tokens;

use std::collections::HashMap;
use std::sync::Arc;

use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use orderdesk::api::auth::{Agent, Customer, Sudo};
use orderdesk::auth::{Permission, Verifier};
use orderdesk::config::Config;
use reqwest::StatusCode;
use serde_json::{Value, json};

pub const TENANT: &str = "t_acme";

pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub fn config_with(pairs: &[(&str, String)]) -> Config {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    Config::from_lookup(|k| match k {
        orderdesk::config::ALLOW_DEV_SECRETS => Some("true".into()),
        _ => map.get(k).cloned(),
    })
    .expect("test config")
}

/// The built-in defaults: HS256 with the development secret.
pub fn hs256_config() -> Config {
    config_with(&[])
}

/// RS256 with the public key of `tests/fixtures/jwt_rs256_*.pem`.
pub fn rs256_config() -> Config {
    let pem = String::from_utf8(fixture("jwt_rs256_public.pem")).unwrap();
    config_with(&[("ORDERDESK_JWT_PUBLIC_KEY", pem)])
}

pub fn es256_config() -> Config {
    let pem = String::from_utf8(fixture("jwt_es256_public.pem")).unwrap();
    config_with(&[("ORDERDESK_JWT_PUBLIC_KEY", pem)])
}

pub fn rsa_signing_key() -> EncodingKey {
    EncodingKey::from_rsa_pem(&fixture("jwt_rs256_private.pem")).unwrap()
}

pub fn ec_signing_key() -> EncodingKey {
    EncodingKey::from_ec_pem(&fixture("jwt_es256_private.pem")).unwrap()
}

pub fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

/// Valid claims for the default issuer and audience, alive for ten minutes.
pub fn customer_claims(customer: &str) -> Value {
    json!({
        "sub": customer, "kind": "customer", "tenant": TENANT,
        "iss": "orderdesk", "aud": "orderdesk-api", "iat": now(), "exp": now() + 600,
    })
}

pub fn agent_claims(agent: &str, roles: &[&str]) -> Value {
    let mut c = customer_claims(agent);
    c["kind"] = json!("agent");
    c["roles"] = json!(roles);
    c
}

pub fn sign(alg: Algorithm, key: &EncodingKey, kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_string);
    jsonwebtoken::encode(&header, claims, key).expect("signing a test token")
}

/// Signed with the development HS256 secret, as the default config expects.
pub fn hs256(claims: &Value) -> String {
    let key = EncodingKey::from_secret(orderdesk::config::DEV_JWT_SECRET.as_bytes());
    sign(Algorithm::HS256, &key, None, claims)
}

pub fn b64(json: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(json).unwrap())
}

/// A running test server.
pub struct App {
    base: String,
    http: reqwest::Client,
}

/// Serves the extractor routes with a verifier built from `cfg`.
pub async fn spawn(cfg: &Config) -> App {
    let verifier = Arc::new(Verifier::new(cfg).await.expect("verifier"));
    let router = Router::new()
        .route("/customer", get(as_customer))
        .route("/agent/orders", get(read_orders))
        .route("/agent/force-cancel", post(force_cancel))
        .route("/agent/sudo-force-cancel", post(sudo_force_cancel))
        .with_state(verifier);
    App {
        base: serve(router).await,
        http: reqwest::Client::new(),
    }
}

/// Serves `router` on a free port and returns its base URL.
pub async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

async fn as_customer(c: Customer) -> Json<Value> {
    Json(json!({
        "principal": c.principal(), "tenant": c.tenant_id, "scope_order_id": c.scope_order_id,
    }))
}

async fn read_orders(a: Agent) -> orderdesk::error::Result<Json<Value>> {
    a.require(Permission::OrdersRead)?;
    Ok(Json(json!({ "principal": a.principal() })))
}

async fn force_cancel(a: Agent) -> orderdesk::error::Result<Json<Value>> {
    a.require(Permission::OrdersCancelForce)?;
    Ok(Json(json!({ "principal": a.principal() })))
}

async fn sudo_force_cancel(s: Sudo) -> orderdesk::error::Result<Json<Value>> {
    s.agent.require(Permission::OrdersCancelForce)?;
    Ok(Json(
        json!({ "principal": s.agent.principal(), "sudo": true }),
    ))
}

/// One request: bearer token, `X-Tenant-ID` and `X-Admin-Auth-Sudo` when given.
pub struct Call<'a> {
    pub bearer: Option<&'a str>,
    pub tenant: Option<&'a str>,
    pub sudo: Option<&'a str>,
}

impl App {
    /// GET/POST `path` with `token` as bearer and the test tenant.
    pub async fn call(&self, path: &str, token: &str) -> reqwest::Response {
        self.call_with(
            path,
            Call {
                bearer: Some(token),
                tenant: Some(TENANT),
                sudo: None,
            },
        )
        .await
    }

    pub async fn call_with(&self, path: &str, call: Call<'_>) -> reqwest::Response {
        let url = format!("{}{path}", self.base);
        let mut req = if path.starts_with("/customer") || path == "/agent/orders" {
            self.http.get(url)
        } else {
            self.http.post(url)
        };
        if let Some(token) = call.bearer {
            req = req.bearer_auth(token);
        }
        if let Some(tenant) = call.tenant {
            req = req.header("X-Tenant-ID", tenant);
        }
        if let Some(sudo) = call.sudo {
            req = req.header("X-Admin-Auth-Sudo", sudo);
        }
        req.send().await.expect("request")
    }
}

/// Asserts a 200 and returns the body.
pub async fn ok(res: reqwest::Response) -> Value {
    let status = res.status();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// Asserts a problem+json answer with this status and code, and returns the body.
pub async fn problem(res: reqwest::Response, status: StatusCode, code: &str) -> Value {
    let got = res.status();
    let headers = res.headers().clone();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    assert_eq!((got, body["code"].as_str()), (status, Some(code)), "{body}");
    assert_eq!(headers["content-type"], "application/problem+json");
    if status == StatusCode::UNAUTHORIZED {
        assert_eq!(headers["www-authenticate"], "Bearer");
    } else {
        assert!(headers.get("www-authenticate").is_none());
    }
    body
}
