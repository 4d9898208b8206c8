//! The OpenAPI document and the router agree: every documented operation is routed, and
//! what it answers without a token is documented, as `application/problem+json`.

use serde_json::Value;

use crate::helpers;

const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

/// A concrete URL for a templated path: every `{param}` becomes a plausible value.
fn concrete(path: &str) -> String {
    helpers::concrete_path(path, |_| "x1")
}

#[tokio::test]
async fn every_documented_operation_is_routed_and_answers_what_it_documents() {
    // more operations than the default per-address limit of requests without a token
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        extra_env: vec![("ORDERDESK_ANONYMOUS_PER_MINUTE".into(), "0".into())],
        ..Default::default()
    })
    .await;
    let (status, doc) = app.get("/openapi.json", Default::default()).await;
    assert_eq!(status, 200);
    let paths = doc["paths"].as_object().expect("paths");
    assert!(
        paths.contains_key("/v1/admin/health"),
        "admin health is documented"
    );
    let mut checked = 0;
    for (path, item) in paths {
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let responses = op["responses"].as_object().expect("responses");
            let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
            if secured {
                for status in ["401", "403", "503"] {
                    assert!(
                        responses.contains_key(status),
                        "{method} {path} documents {status}"
                    );
                }
            }
            for (status, response) in responses {
                let content = response["content"].as_object();
                let is_problem_ref = |c: &Value| {
                    c["schema"]["$ref"]
                        .as_str()
                        .is_some_and(|r| r.ends_with("/Problem"))
                };
                if let Some(content) = content.filter(|_| status.starts_with(['4', '5'])) {
                    for (kind, c) in content {
                        assert!(
                            !(is_problem_ref(c) && kind != "application/problem+json"),
                            "{method} {path} {status}: a Problem is served as {kind}"
                        );
                    }
                }
            }
            // No token: an authenticated operation answers 401, any other something it
            // documents — and never the router's 404 for an unknown route.
            let url = format!("{}{}", app.api, concrete(path));
            let res = app
                .http
                .request(method.to_uppercase().parse().unwrap(), &url)
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .unwrap();
            let got = res.status().as_u16().to_string();
            let content_type = res
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_string());
            let body: Value = res.json().await.unwrap_or(Value::Null);
            assert_ne!(
                body["code"], "route.not_found",
                "{method} {path} is documented but not routed"
            );
            assert!(
                responses.contains_key(&got),
                "{method} {path} answered an undocumented {got}: {body}"
            );
            if got.starts_with(['4', '5']) && got != "503" {
                assert_eq!(
                    content_type.as_deref(),
                    Some("application/problem+json"),
                    "{method} {path} {got}"
                );
            }
            if secured {
                assert_eq!(got, "401", "{method} {path} without a token");
            }
            checked += 1;
        }
    }
    assert!(checked >= 35, "walked {checked} operations");
}
