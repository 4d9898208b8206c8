//! The plumbing every upstream call shares: one connection pool, each service's base URL,
//! URLs whose ids stay one path segment, the headers (`X-Tenant-ID`, `Idempotency-Key`,
//! W3C `traceparent`), the one quick retry of a refused connection, and reading the answer
//! (mapped to retryable or permanent errors by `error.rs`). The workflow engine's step retry
//! policy is the real retry loop; this client only retries a refused connection once.

use crate::domain::ids::TenantId;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use backon::{ConstantBuilder, Retryable};
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::{UpstreamError, classify, transport_error};
use crate::config::{Config, Service};
use crate::error::problem;

tokio::task_local! {
    /// The correlation id a workflow step's upstream calls send as `X-Correlation-ID`: the
    /// engine sets it around each action from the run (empty: none).
    pub static CORRELATION_ID: String;
}

/// One HTTP client for every service. Cheap to clone (a pool and a map behind `Arc`s).
#[derive(Clone)]
pub(super) struct Client {
    http: reqwest::Client,
    bases: Arc<HashMap<Service, Url>>,
}

impl Client {
    pub(super) fn new(cfg: &Config) -> anyhow::Result<Client> {
        let http = reqwest::Client::builder()
            .connect_timeout(cfg.upstream_timeout.min(Duration::from_secs(2)))
            .timeout(cfg.upstream_timeout)
            .pool_max_idle_per_host(64)
            .user_agent(concat!("orderdesk/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("cannot build the upstream HTTP client")?;
        let mut bases = HashMap::new();
        for s in Service::ALL {
            let url = Url::parse(cfg.upstream_url(s))
                .with_context(|| format!("the {} base URL is not a URL", s.name()))?;
            anyhow::ensure!(
                !url.cannot_be_a_base(),
                "the {} base URL cannot have paths under it: {url}",
                s.name()
            );
            bases.insert(s, url);
        }
        Ok(Client {
            http,
            bases: Arc::new(bases),
        })
    }

    /// One GET of `service`'s base URL, bounded by `timeout`: how long the answer took and
    /// its status, or why none came. What a health probe needs; no tenant, no retry.
    pub(super) async fn probe(
        &self,
        service: Service,
        timeout: Duration,
    ) -> Result<(Duration, StatusCode), String> {
        let url = self.bases[&service].clone();
        let started = std::time::Instant::now();
        match self.http.get(url).timeout(timeout).send().await {
            Ok(res) => Ok((started.elapsed(), res.status())),
            Err(e) if e.is_timeout() => Err("timed out".into()),
            Err(_) => Err("unreachable".into()),
        }
    }

    /// `segments` under `service`'s base URL. Each segment is percent-encoded on its own, so
    /// an id holding `/`, `?`, `#` or `%` stays one segment of this path; an empty, `.` or
    /// `..` id — which a URL cannot carry as a segment — is refused before any call.
    pub(super) fn url(&self, service: Service, segments: &[&str]) -> Result<Url, UpstreamError> {
        if let Some(bad) = segments.iter().find(|s| matches!(**s, "" | "." | "..")) {
            return Err(UpstreamError::Permanent(Box::new(problem(
                StatusCode::BAD_REQUEST,
                "upstream.invalid_id",
                format!(
                    "{bad:?} cannot name a resource of the {} service",
                    service.name()
                ),
            ))));
        }
        let mut url = self.bases[&service].clone();
        url.path_segments_mut()
            .expect("checked at start: every base URL can be a base")
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    /// [`Client::url`] with a query string; names and values are form-encoded.
    pub(super) fn url_with_query(
        &self,
        service: Service,
        segments: &[&str],
        query: &[(&str, &str)],
    ) -> Result<Url, UpstreamError> {
        let mut url = self.url(service, segments)?;
        url.query_pairs_mut().extend_pairs(query);
        Ok(url)
    }

    /// A read.
    pub(super) async fn get<T: DeserializeOwned>(
        &self,
        tenant: &TenantId,
        url: Url,
    ) -> Result<T, UpstreamError> {
        self.send::<T, ()>(Method::GET, tenant, url, None, None)
            .await
    }

    /// A read that needs a body (a preview): it changes nothing, so it carries no key.
    pub(super) async fn post_read<T: DeserializeOwned, B: Serialize + Sync + ?Sized>(
        &self,
        tenant: &TenantId,
        url: Url,
        body: &B,
    ) -> Result<T, UpstreamError> {
        self.send(Method::POST, tenant, url, None, Some(body)).await
    }

    /// A change of canonical state: always under an `Idempotency-Key`, so a retry after a
    /// lost answer is answered from the service's memory instead of acting twice.
    pub(super) async fn post<T: DeserializeOwned, B: Serialize + Sync + ?Sized>(
        &self,
        tenant: &TenantId,
        url: Url,
        idempotency_key: &str,
        body: &B,
    ) -> Result<T, UpstreamError> {
        self.send(Method::POST, tenant, url, Some(idempotency_key), Some(body))
            .await
    }

    async fn send<T: DeserializeOwned, B: Serialize + Sync + ?Sized>(
        &self,
        method: Method,
        tenant: &TenantId,
        url: Url,
        idempotency_key: Option<&str>,
        body: Option<&B>,
    ) -> Result<T, UpstreamError> {
        let result = self
            .send_once(method, tenant, &url, idempotency_key, body)
            .await;
        match self.service_of(&url) {
            Some(service) => result.map_err(|e| e.named_for(service)),
            None => result,
        }
    }

    /// The service whose base URL `url` is under (the longest base that is a prefix).
    fn service_of(&self, url: &Url) -> Option<Service> {
        self.bases
            .iter()
            .filter(|(_, base)| url.as_str().starts_with(base.as_str()))
            .max_by_key(|(_, base)| base.as_str().len())
            .map(|(service, _)| *service)
    }

    async fn send_once<T: DeserializeOwned, B: Serialize + Sync + ?Sized>(
        &self,
        method: Method,
        tenant: &TenantId,
        url: &Url,
        idempotency_key: Option<&str>,
        body: Option<&B>,
    ) -> Result<T, UpstreamError> {
        let mut headers = HeaderMap::new();
        crate::telemetry::inject_trace_context(&mut headers);
        let correlation = CORRELATION_ID.try_with(|id| HeaderValue::from_str(id).ok());
        if let Ok(Some(id)) = correlation.map(|v| v.filter(|v| !v.is_empty())) {
            headers.insert("x-correlation-id", id);
        }
        let send = || async {
            let mut req = self
                .http
                .request(method.clone(), url.clone())
                .headers(headers.clone())
                .header("X-Tenant-ID", tenant.as_str());
            if let Some(key) = idempotency_key {
                req = req.header("Idempotency-Key", key);
            }
            if let Some(body) = body {
                req = req.json(body);
            }
            req.send().await
        };
        // A refused connection never reached the service, so one quick retry is safe even
        // for a mutation; anything else is left to the step's retry policy.
        let res = send
            .retry(
                ConstantBuilder::default()
                    .with_delay(Duration::from_millis(50))
                    .with_max_times(1),
            )
            .when(|e: &reqwest::Error| e.is_connect())
            .await
            .map_err(|e| transport_error(url.as_str(), &e))?;
        let status = res.status();
        let bytes = res
            .bytes()
            .await
            .map_err(|e| transport_error(url.as_str(), &e))?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|e| {
                tracing::warn!(%method, %url, error = %e, "upstream answered an unexpected body");
                UpstreamError::Permanent(Box::new(problem(
                    StatusCode::BAD_GATEWAY,
                    "upstream.bad_response",
                    "an upstream service answered with a body orderdesk does not understand",
                )))
            });
        }
        Err(classify(status, &bytes, &method, url.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(base: &str) -> Client {
        let cfg = Config::from_lookup(|k| match k {
            "ORDERDESK_UPSTREAM_URL" => Some(base.to_string()),
            crate::config::ALLOW_DEV_SECRETS => Some("true".into()),
            _ => None,
        })
        .unwrap();
        Client::new(&cfg).unwrap()
    }

    #[test]
    fn an_id_stays_one_path_segment_whatever_it_holds() {
        let c = client("http://up.test:81/base/");
        let url = c
            .url(Service::Orders, &["v1", "orders", "a/b?c#d%e f", "cancel"])
            .unwrap();
        assert_eq!(
            url.as_str(),
            "http://up.test:81/base/orders/v1/orders/a%2Fb%3Fc%23d%25e%20f/cancel"
        );
        assert_eq!(url.query(), None);
        assert_eq!(url.fragment(), None);
        let plain = c.url(Service::Payments, &["v1", "payments", "pay_1"]);
        assert_eq!(
            plain.unwrap().as_str(),
            "http://up.test:81/base/payments/v1/payments/pay_1"
        );
    }

    #[test]
    fn an_error_names_the_service_whose_url_failed() {
        let c = client("http://up.test:81/base/");
        for service in Service::ALL {
            let url = c.url(service, &["v1", "x"]).unwrap();
            assert_eq!(c.service_of(&url), Some(service), "{url}");
            let e = classify(StatusCode::BAD_GATEWAY, b"{}", &Method::GET, url.as_str())
                .named_for(service);
            assert_eq!(e.problem().extra["service"], service.name());
        }
        let elsewhere = Url::parse("http://elsewhere.test/v1").unwrap();
        assert_eq!(c.service_of(&elsewhere), None);
    }

    #[test]
    fn a_base_without_a_path_gets_no_empty_segment() {
        let cfg = Config::from_lookup(|k| match k {
            "ORDERDESK_UPSTREAM_TRACKING_URL" => Some("http://tracking.test".into()),
            crate::config::ALLOW_DEV_SECRETS => Some("true".into()),
            _ => None,
        })
        .unwrap();
        let url = Client::new(&cfg)
            .unwrap()
            .url(Service::Tracking, &["v1", "trackings", "1Z 9"])
            .unwrap();
        assert_eq!(url.as_str(), "http://tracking.test/v1/trackings/1Z%209");
    }

    #[test]
    fn query_values_cannot_add_parameters() {
        let c = client("http://up.test");
        let url = c
            .url_with_query(
                Service::Billing,
                &["v1", "invoices"],
                &[("order_id", "o&x=1#f")],
            )
            .unwrap();
        assert_eq!(url.query(), Some("order_id=o%26x%3D1%23f"));
        let pairs: Vec<_> = url.query_pairs().collect();
        assert_eq!(pairs.len(), 1);
        assert_eq!(pairs[0].1, "o&x=1#f");
    }

    #[test]
    fn ids_a_url_cannot_carry_are_refused_before_any_call() {
        let c = client("http://up.test");
        for id in ["", ".", ".."] {
            let e = c.url(Service::Orders, &["v1", "orders", id]).unwrap_err();
            assert!(!e.is_retryable(), "{id:?}");
            assert_eq!(e.problem().code, "upstream.invalid_id");
        }
    }
}
