//! Tenant header, principal kind, permissions and sudo tokens.

use jsonwebtoken::Algorithm;
use orderdesk::auth::{MintRequest, Role, mint};
use orderdesk::domain::ids::{CustomerId, TenantId};
use reqwest::StatusCode;
use serde_json::json;

use super::*;

fn agent_token(cfg: &Config, agent: &str, roles: &[Role]) -> String {
    mint(
        cfg,
        &MintRequest::agent(&TenantId::new(TENANT), agent, roles),
    )
    .unwrap()
}

fn sudo_token(cfg: &Config, tenant: &str, agent: &str) -> String {
    mint(
        cfg,
        &MintRequest::agent(&TenantId::new(tenant), agent, &[]).sudo(),
    )
    .unwrap()
}

#[tokio::test]
async fn tenant_header_must_be_present_and_match() {
    let cfg = hs256_config();
    let app = spawn(&cfg).await;
    let token = mint(
        &cfg,
        &MintRequest::customer(&TenantId::new(TENANT), &CustomerId::new("cus_0001")),
    )
    .unwrap();
    let missing = Call {
        bearer: Some(&token),
        tenant: None,
        sudo: None,
    };
    let res = app.call_with("/customer", missing).await;
    problem(res, StatusCode::BAD_REQUEST, "tenant.header_missing").await;

    let other = Call {
        bearer: Some(&token),
        tenant: Some("t_other"),
        sudo: None,
    };
    let res = app.call_with("/customer", other).await;
    problem(res, StatusCode::FORBIDDEN, "tenant.mismatch").await;
}

#[tokio::test]
async fn principals_only_reach_their_own_surface() {
    let cfg = hs256_config();
    let app = spawn(&cfg).await;
    let customer = mint(
        &cfg,
        &MintRequest::customer(&TenantId::new(TENANT), &CustomerId::new("cus_0001")),
    )
    .unwrap();
    let res = app.call("/agent/orders", &customer).await;
    problem(res, StatusCode::FORBIDDEN, "auth.wrong_principal").await;

    let agent = agent_token(&cfg, "agt_alice", &[Role::Admin]);
    let res = app.call("/customer", &agent).await;
    problem(res, StatusCode::FORBIDDEN, "auth.wrong_principal").await;
    let body = ok(app.call("/agent/orders", &agent).await).await;
    assert_eq!(body["principal"], "agent:agt_alice");
}

#[tokio::test]
async fn only_leads_and_admins_may_force_cancel() {
    let cfg = hs256_config();
    let app = spawn(&cfg).await;
    let cs_agent = agent_token(&cfg, "agt_bob", &[Role::CsAgent]);
    ok(app.call("/agent/orders", &cs_agent).await).await;
    let body = problem(
        app.call("/agent/force-cancel", &cs_agent).await,
        StatusCode::FORBIDDEN,
        "auth.forbidden",
    )
    .await;
    assert_eq!(body["required_permission"], "orders.cancel.force");

    for role in [Role::CsLead, Role::Admin] {
        let token = agent_token(&cfg, "agt_carol", &[role]);
        ok(app.call("/agent/force-cancel", &token).await).await;
    }
}

#[tokio::test]
async fn unknown_roles_are_ignored_not_fatal() {
    let app = spawn(&hs256_config()).await;
    let lead = hs256(&agent_claims("agt_dave", &["wizard", "cs_lead"]));
    ok(app.call("/agent/force-cancel", &lead).await).await;
    let only_unknown = hs256(&agent_claims("agt_dave", &["wizard"]));
    let res = app.call("/agent/orders", &only_unknown).await;
    problem(res, StatusCode::FORBIDDEN, "auth.forbidden").await;
}

#[tokio::test]
async fn sudo_is_required_and_must_be_the_bearers_own() {
    let cfg = hs256_config();
    let app = spawn(&cfg).await;
    // Leaked so the request closure can lend it for as long as the test runs.
    let lead: &'static str = agent_token(&cfg, "agt_alice", &[Role::CsLead]).leak();
    let path = "/agent/sudo-force-cancel";
    let with_sudo = |sudo: Option<&'static str>| Call {
        bearer: Some(lead),
        tenant: Some(TENANT),
        sudo,
    };

    let res = app.call_with(path, with_sudo(None)).await;
    problem(res, StatusCode::FORBIDDEN, "auth.sudo_required").await;

    let not_sudo = agent_token(&cfg, "agt_alice", &[Role::CsLead]);
    let another_agent = sudo_token(&cfg, TENANT, "agt_mallory");
    let another_tenant = sudo_token(&cfg, "t_other", "agt_alice");
    let mut expired = agent_claims("agt_alice", &[]);
    expired["sudo"] = json!(true);
    expired["iat"] = json!(now() - 7200);
    expired["exp"] = json!(now() - 7200 + 300);
    let mut too_long = agent_claims("agt_alice", &[]);
    too_long["sudo"] = json!(true);
    too_long["exp"] = json!(now() + 20 * 60);
    let mut no_iat = agent_claims("agt_alice", &[]);
    no_iat["sudo"] = json!(true);
    no_iat.as_object_mut().unwrap().remove("iat");
    let mut valid_claims = agent_claims("agt_alice", &[]);
    valid_claims["sudo"] = json!(true);
    let forged = sign(
        Algorithm::HS256,
        &jsonwebtoken::EncodingKey::from_secret(b"not-the-configured-secret!!"),
        None,
        &valid_claims,
    );
    for (token, why) in [
        (not_sudo, "not a sudo token"),
        (another_agent, "another agent or tenant"),
        (another_tenant, "another agent or tenant"),
        (hs256(&expired), "expired"),
        (hs256(&too_long), "longer than 15 minutes"),
        (hs256(&no_iat), "no iat"),
        ("x.y.z".to_string(), "malformed"),
        (forged, "signature"),
    ] {
        let res = app.call_with(path, with_sudo(Some(token.leak()))).await;
        let body = problem(res, StatusCode::FORBIDDEN, "auth.sudo_required").await;
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.contains(why), "{why}: {detail}");
    }

    let sudo = sudo_token(&cfg, TENANT, "agt_alice").leak();
    let body = ok(app.call_with(path, with_sudo(Some(sudo))).await).await;
    assert_eq!(body, json!({"principal": "agent:agt_alice", "sudo": true}));
}

#[tokio::test]
async fn sudo_does_not_replace_a_permission() {
    let cfg = hs256_config();
    let app = spawn(&cfg).await;
    let cs_agent = agent_token(&cfg, "agt_bob", &[Role::CsAgent]);
    let sudo = sudo_token(&cfg, TENANT, "agt_bob");
    let call = Call {
        bearer: Some(&cs_agent),
        tenant: Some(TENANT),
        sudo: Some(&sudo),
    };
    let res = app.call_with("/agent/sudo-force-cancel", call).await;
    problem(res, StatusCode::FORBIDDEN, "auth.forbidden").await;
}

#[tokio::test]
async fn a_sudo_token_is_no_bearer_token() {
    let cfg = hs256_config();
    let app = spawn(&cfg).await;
    let sudo = mint(
        &cfg,
        &MintRequest::agent(&TenantId::new(TENANT), "agt_alice", &[Role::Admin]).sudo(),
    )
    .unwrap();
    // as the bearer of an ordinary admin call
    let res = app.call("/agent/orders", &sudo).await;
    let body = problem(res, StatusCode::UNAUTHORIZED, "auth.invalid_token").await;
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("X-Admin-Auth-Sudo"), "{detail}");
    // nor as the bearer that it steps up itself
    let both = Call {
        bearer: Some(&sudo),
        tenant: Some(TENANT),
        sudo: Some(&sudo),
    };
    let res = app.call_with("/agent/sudo-force-cancel", both).await;
    problem(res, StatusCode::UNAUTHORIZED, "auth.invalid_token").await;
}

#[tokio::test]
async fn an_ordinary_token_does_not_pass_as_sudo() {
    let cfg = hs256_config();
    let app = spawn(&cfg).await;
    let admin = agent_token(&cfg, "agt_alice", &[Role::Admin]);
    let customer = mint(
        &cfg,
        &MintRequest::customer(&TenantId::new(TENANT), &CustomerId::new("cus_0001")),
    )
    .unwrap();
    for (in_sudo_header, why) in [
        (&admin, "not a sudo token"),
        (&customer, "not a sudo token"),
    ] {
        let call = Call {
            bearer: Some(&admin),
            tenant: Some(TENANT),
            sudo: Some(in_sudo_header),
        };
        let res = app.call_with("/agent/sudo-force-cancel", call).await;
        let body = problem(res, StatusCode::FORBIDDEN, "auth.sudo_required").await;
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.contains(why), "{detail}");
    }
    // and the admin token alone still does what it may
    ok(app.call("/agent/force-cancel", &admin).await).await;
}
