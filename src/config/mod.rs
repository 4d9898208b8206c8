//! Typed configuration: built-in defaults, then the environment; validated at start with a
//! message that names the offending variable.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context, bail};

mod secrets;
pub use secrets::{ALLOW_DEV_SECRETS, MIN_SECRET_BYTES, is_development_secret};
use secrets::{Secrets, flag};
mod operations;
pub mod webhooks;
pub use operations::{DEFAULT_METRICS_ADDR, Operations};
mod exports;
pub use exports::{DEFAULT_EXPORTS_STORE, DEFAULT_PART_ROWS, Exports};

/// The canonical services orderdesk calls; each may have its own base URL.
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
    /// Lower-case name: the path prefix under the sandbox and the fault-injection key.
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

/// How incoming JWTs are verified. The algorithm is fixed here, never read from a token.
#[derive(Debug, Clone)]
pub enum JwtKeys {
    /// HS256 with a shared secret (also used to mint tokens with `orderdesk token`).
    Hs256 { secret: Vec<u8> },
    /// RS256 or ES256 with a PEM public key.
    PublicKeyPem {
        alg: jsonwebtoken::Algorithm,
        pem: Vec<u8>,
    },
    /// RS256/ES256 keys fetched from a JWKS URL; a `kid` is looked up only among these.
    Jwks { url: String },
}

#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub redis_url: String,
    /// Prefix of every Redis key orderdesk and its queues use (one per test, one per env).
    pub redis_prefix: String,
    pub upstream: HashMap<Service, String>,
    pub jwt: JwtKeys,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub events_secret: Vec<u8>,
    /// Signs the customers' document download links (`documents::signing`).
    pub download_secret: Vec<u8>,
    /// Seals secrets orderdesk must keep readable (webhook signing secrets) at rest.
    pub data_key: Vec<u8>,
    /// How long a document download link stays valid.
    pub download_link_ttl: Duration,
    /// The API's public base URL (e.g. `https://api.shop.example`): download links are
    /// absolute when it is set, paths on the API's own origin when not.
    pub public_url: Option<String>,
    /// Lifetime of the step-up tokens that destructive admin endpoints require.
    pub sudo_ttl: Duration,
    /// Where the sandbox sends its domain events (orderdesk's ingest endpoint).
    pub events_ingest_url: Option<String>,
    pub upstream_timeout: Duration,
    /// How long a worker holds a run before the sweeper may re-drive it.
    pub lease: Duration,
    pub workflows_file: String,
    /// HMAC key of the guest-lookup tokens printed on order confirmations.
    pub guest_secret: Vec<u8>,
    /// How many reverse proxies in front of the api append to `X-Forwarded-For`; 0 (the
    /// default) ignores the header and takes the peer address as the client's.
    pub forwarded_for_hops: usize,
    /// After SIGTERM or Ctrl-C: how long open requests and in-flight steps may take before
    /// they are cut (and a worker's runs handed back). Below the orchestrator's kill timeout.
    pub shutdown_grace: Duration,
    /// Metrics listener, run retention, limits on traffic without a valid token.
    pub ops: Operations,
    /// Exports for finance: object store, part size, link lifetime.
    pub exports: Exports,
    pub webhooks: webhooks::Webhooks,
}

pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/orderdesk";
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";
pub const DEFAULT_SANDBOX_ADDR: &str = "127.0.0.1:8081";
pub const DEFAULT_API_ADDR: &str = "127.0.0.1:8080";
/// Development-only defaults: `dev` and tests use them; every other process refuses them
/// unless [`ALLOW_DEV_SECRETS`] is true.
pub const DEV_JWT_SECRET: &str = "orderdesk-dev-secret-change-me";
pub const DEV_EVENTS_SECRET: &str = "orderdesk-dev-events-secret";
pub const DEV_GUEST_SECRET: &str = "orderdesk-dev-guest-secret";
pub const DEV_DOWNLOAD_SECRET: &str = "orderdesk-dev-download-secret";
pub const DEV_DATA_KEY: &str = "orderdesk-dev-data-key";
pub const DEFAULT_ISSUER: &str = "orderdesk";
pub const DEFAULT_AUDIENCE: &str = "orderdesk-api";

impl Config {
    /// Reads the process environment, as production: see [`Config::from_lookup`].
    pub fn from_env() -> anyhow::Result<Config> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads the process environment of `dev` and the operator tools, which accept the
    /// development secrets as if [`ALLOW_DEV_SECRETS`] were true.
    pub fn from_env_allowing_dev_secrets() -> anyhow::Result<Config> {
        Self::from_lookup(|k| match k {
            ALLOW_DEV_SECRETS => Some("true".into()),
            _ => std::env::var(k).ok(),
        })
    }

    /// Reads configuration through `get` (the environment, or a map in tests). A built-in
    /// development secret or a placeholder is refused unless [`ALLOW_DEV_SECRETS`] is true.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> anyhow::Result<Config> {
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let database_url = get("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.into());
        if !database_url.starts_with("postgres://") && !database_url.starts_with("postgresql://") {
            bail!("DATABASE_URL must be a postgres:// URL, got {database_url:?}");
        }
        let redis_url = get("REDIS_URL").unwrap_or_else(|| DEFAULT_REDIS_URL.into());
        redis::Client::open(redis_url.as_str())
            .with_context(|| format!("REDIS_URL is not a valid Redis URL: {redis_url:?}"))?;
        let redis_prefix = get("ORDERDESK_REDIS_PREFIX").unwrap_or_else(|| "orderdesk".into());

        let base = get("ORDERDESK_UPSTREAM_URL")
            .unwrap_or_else(|| format!("http://{DEFAULT_SANDBOX_ADDR}"));
        let mut upstream = HashMap::new();
        for s in Service::ALL {
            let var = format!("ORDERDESK_UPSTREAM_{}_URL", s.name().to_uppercase());
            let url =
                get(&var).unwrap_or_else(|| format!("{}/{}", base.trim_end_matches('/'), s.name()));
            reqwest::Url::parse(&url).with_context(|| {
                format!("{var} (or ORDERDESK_UPSTREAM_URL) is not a URL: {url:?}")
            })?;
            upstream.insert(s, url.trim_end_matches('/').to_string());
        }

        let mut secrets = Secrets::new(flag(get, ALLOW_DEV_SECRETS)?);
        let jwt = if let Some(url) = get("ORDERDESK_JWKS_URL") {
            reqwest::Url::parse(&url)
                .with_context(|| format!("ORDERDESK_JWKS_URL is not a URL: {url:?}"))?;
            JwtKeys::Jwks { url }
        } else if let Some(pem) = get("ORDERDESK_JWT_PUBLIC_KEY") {
            let pem = pem.into_bytes();
            let alg = if jsonwebtoken::DecodingKey::from_rsa_pem(&pem).is_ok() {
                jsonwebtoken::Algorithm::RS256
            } else if jsonwebtoken::DecodingKey::from_ec_pem(&pem).is_ok() {
                jsonwebtoken::Algorithm::ES256
            } else {
                bail!(
                    "ORDERDESK_JWT_PUBLIC_KEY is neither an RSA nor an EC public key in PEM form"
                );
            };
            JwtKeys::PublicKeyPem { alg, pem }
        } else {
            JwtKeys::Hs256 {
                secret: secrets.read(get, "ORDERDESK_JWT_SECRET", DEV_JWT_SECRET)?,
            }
        };
        let events_secret = secrets.read(get, "ORDERDESK_EVENTS_SECRET", DEV_EVENTS_SECRET)?;
        let guest_secret = secrets.read(get, "ORDERDESK_GUEST_SECRET", DEV_GUEST_SECRET)?;
        let download_secret =
            secrets.read(get, "ORDERDESK_DOWNLOAD_SECRET", DEV_DOWNLOAD_SECRET)?;
        let data_key = secrets.read(get, "ORDERDESK_DATA_KEY", DEV_DATA_KEY)?;
        secrets.refuse_development()?;
        let forwarded_for_hops = match get("ORDERDESK_TRUST_FORWARDED_FOR") {
            None => 0,
            Some(v) => match v.trim().to_ascii_lowercase().as_str() {
                "false" | "no" | "0" => 0,
                "true" | "yes" => 1,
                n => n.parse::<usize>().ok().filter(|n| *n <= 8).with_context(|| {
                    format!(
                        "ORDERDESK_TRUST_FORWARDED_FOR must be true, false or a number of proxies (0..=8), got {v:?}"
                    )
                })?,
            },
        };
        let public_url = get("ORDERDESK_PUBLIC_URL")
            .map(|url| {
                reqwest::Url::parse(&url)
                    .with_context(|| format!("ORDERDESK_PUBLIC_URL is not a URL: {url:?}"))?;
                Ok::<_, anyhow::Error>(url.trim_end_matches('/').to_string())
            })
            .transpose()?;
        let secs = |var: &str, default: u64| -> anyhow::Result<Duration> {
            match get(var) {
                None => Ok(Duration::from_secs(default)),
                Some(v) => v
                    .parse::<u64>()
                    .map(Duration::from_secs)
                    .with_context(|| format!("{var} must be a whole number of seconds, got {v:?}")),
            }
        };
        let download_link_ttl = secs("ORDERDESK_DOWNLOAD_TTL_SECS", 15 * 60)?;
        if download_link_ttl.is_zero() || download_link_ttl > Duration::from_secs(7 * 24 * 3600) {
            bail!("ORDERDESK_DOWNLOAD_TTL_SECS must be between 1 second and 7 days");
        }
        Ok(Config {
            database_url,
            redis_url,
            redis_prefix,
            upstream,
            jwt,
            jwt_issuer: get("ORDERDESK_JWT_ISSUER").unwrap_or_else(|| DEFAULT_ISSUER.into()),
            jwt_audience: get("ORDERDESK_JWT_AUDIENCE").unwrap_or_else(|| DEFAULT_AUDIENCE.into()),
            events_secret,
            download_secret,
            data_key,
            download_link_ttl,
            public_url,
            sudo_ttl: secs("ORDERDESK_SUDO_TTL_SECS", 300)?,
            events_ingest_url: get("ORDERDESK_EVENTS_INGEST_URL"),
            upstream_timeout: secs("ORDERDESK_UPSTREAM_TIMEOUT_SECS", 5)?,
            // a dead worker's runs resume once its leases lapse (the sweeper looks every
            // 250 ms): 4 s keeps that under 5 s, while a live worker extends a long step's
            // lease every third of it
            lease: secs("ORDERDESK_LEASE_SECS", 4)?,
            workflows_file: get("ORDERDESK_WORKFLOWS").unwrap_or_else(|| "workflows.toml".into()),
            guest_secret,
            forwarded_for_hops,
            shutdown_grace: secs("ORDERDESK_SHUTDOWN_GRACE_SECS", 8)?,
            ops: Operations::from_lookup(get)?,
            exports: Exports::from_lookup(get)?,
            webhooks: webhooks::Webhooks::from_lookup(get)?,
        })
    }

    pub fn upstream_url(&self, s: Service) -> &str {
        &self.upstream[&s]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `pairs` on a developer's machine (development secrets allowed).
    fn with(pairs: &[(&str, &str)]) -> anyhow::Result<Config> {
        let mut all = vec![(ALLOW_DEV_SECRETS, "true")];
        all.extend_from_slice(pairs);
        as_production(&all)
    }

    fn as_production(pairs: &[(&str, &str)]) -> anyhow::Result<Config> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    const STRONG: &str = "0123456789abcdef0123456789abcdef";
    const PRODUCTION_SECRETS: [(&str, &str); 5] = [
        ("ORDERDESK_JWT_SECRET", STRONG),
        ("ORDERDESK_EVENTS_SECRET", STRONG),
        ("ORDERDESK_GUEST_SECRET", STRONG),
        ("ORDERDESK_DOWNLOAD_SECRET", STRONG),
        ("ORDERDESK_DATA_KEY", STRONG),
    ];

    #[test]
    fn production_refuses_every_development_secret_by_name() {
        let e = as_production(&[]).unwrap_err().to_string();
        for (var, _) in PRODUCTION_SECRETS {
            assert!(e.contains(var), "{e}");
        }
        assert!(e.contains(ALLOW_DEV_SECRETS), "says how to allow them: {e}");
        // one development secret among real ones is named alone
        let mut pairs = PRODUCTION_SECRETS.to_vec();
        pairs[1].1 = DEV_EVENTS_SECRET;
        let e = as_production(&pairs).unwrap_err().to_string();
        assert!(e.contains("ORDERDESK_EVENTS_SECRET"), "{e}");
        assert!(!e.contains("ORDERDESK_JWT_SECRET"), "{e}");
    }

    #[test]
    fn production_refuses_compose_placeholders() {
        let mut pairs = PRODUCTION_SECRETS.to_vec();
        pairs[0].1 = "change-me-to-a-long-random-secret";
        let e = as_production(&pairs).unwrap_err().to_string();
        assert!(e.contains("ORDERDESK_JWT_SECRET"), "{e}");
        assert!(as_production(&[&pairs[..], &[(ALLOW_DEV_SECRETS, "true")]].concat()).is_ok());
    }

    #[test]
    fn production_accepts_strong_secrets_and_a_public_key_without_jwt_secret() {
        let c = as_production(&PRODUCTION_SECRETS).unwrap();
        assert!(matches!(c.jwt, JwtKeys::Hs256 { ref secret } if secret == STRONG.as_bytes()));
        let pem = include_str!("../../tests/fixtures/jwt_es256_public.pem");
        let c = as_production(&[
            ("ORDERDESK_JWT_PUBLIC_KEY", pem),
            ("ORDERDESK_EVENTS_SECRET", STRONG),
            ("ORDERDESK_GUEST_SECRET", STRONG),
            ("ORDERDESK_DOWNLOAD_SECRET", STRONG),
            ("ORDERDESK_DATA_KEY", STRONG),
        ])
        .unwrap();
        assert!(matches!(c.jwt, JwtKeys::PublicKeyPem { .. }));
    }

    #[test]
    fn secrets_shorter_than_32_bytes_are_refused_even_on_a_developer_machine() {
        for (var, _) in PRODUCTION_SECRETS {
            let e = with(&[(var, &STRONG[..31])]).unwrap_err().to_string();
            assert!(e.contains(var) && e.contains("32 bytes"), "{e}");
            assert!(with(&[(var, STRONG)]).is_ok(), "{var}");
        }
    }

    #[test]
    fn allow_dev_secrets_must_be_a_boolean() {
        let e = as_production(&[(ALLOW_DEV_SECRETS, "maybe")])
            .unwrap_err()
            .to_string();
        assert!(e.contains(ALLOW_DEV_SECRETS), "{e}");
        assert!(as_production(&[(ALLOW_DEV_SECRETS, "false")]).is_err());
    }

    #[test]
    fn defaults_are_valid_on_a_developer_machine() {
        let c = with(&[]).unwrap();
        assert_eq!(
            c.upstream_url(Service::Payments),
            "http://127.0.0.1:8081/payments"
        );
    }

    #[test]
    fn per_service_override_wins() {
        let c = with(&[(
            "ORDERDESK_UPSTREAM_PAYMENTS_URL",
            "http://pay.internal:9000/",
        )])
        .unwrap();
        assert_eq!(
            c.upstream_url(Service::Payments),
            "http://pay.internal:9000"
        );
        assert_eq!(
            c.upstream_url(Service::Orders),
            "http://127.0.0.1:8081/orders"
        );
    }

    #[test]
    fn bad_values_name_the_variable() {
        let e = with(&[("DATABASE_URL", "mysql://x")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("DATABASE_URL"), "{e}");
        let e = with(&[("ORDERDESK_JWT_SECRET", "short")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("ORDERDESK_JWT_SECRET"), "{e}");
        let e = with(&[("ORDERDESK_UPSTREAM_ORDERS_URL", "::nope")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("ORDERDESK_UPSTREAM_ORDERS_URL"), "{e}");
        let e = with(&[("ORDERDESK_DOWNLOAD_SECRET", "short")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("ORDERDESK_DOWNLOAD_SECRET"), "{e}");
        let e = with(&[("ORDERDESK_DOWNLOAD_TTL_SECS", "0")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("ORDERDESK_DOWNLOAD_TTL_SECS"), "{e}");
        let e = with(&[("ORDERDESK_PUBLIC_URL", "not a url")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("ORDERDESK_PUBLIC_URL"), "{e}");
        let e = with(&[("ORDERDESK_LEASE_SECS", "ten")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("ORDERDESK_LEASE_SECS"), "{e}");
        let e = with(&[("ORDERDESK_SHUTDOWN_GRACE_SECS", "-1")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("ORDERDESK_SHUTDOWN_GRACE_SECS"), "{e}");
        let e = with(&[("ORDERDESK_GUEST_SECRET", "short")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("ORDERDESK_GUEST_SECRET"), "{e}");
        let e = with(&[("ORDERDESK_TRUST_FORWARDED_FOR", "sometimes")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("ORDERDESK_TRUST_FORWARDED_FOR"), "{e}");
    }

    #[test]
    fn forwarded_for_is_ignored_unless_trusted() {
        assert_eq!(with(&[]).unwrap().forwarded_for_hops, 0);
        let hops = |v| {
            with(&[("ORDERDESK_TRUST_FORWARDED_FOR", v)])
                .unwrap()
                .forwarded_for_hops
        };
        assert_eq!(hops("false"), 0);
        assert_eq!(hops("true"), 1);
        assert_eq!(hops("2"), 2);
    }
}
