//! The client's IP address, resolved once per request by a middleware: the peer address, or —
//! only when configured (`ORDERDESK_TRUST_FORWARDED_FOR`) — the address the trusted reverse
//! proxies recorded in `X-Forwarded-For`. Audit records and guest-lookup limits read it.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;

/// The resolved client address, in the request's extensions (`None`: unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub Option<IpAddr>);

/// Middleware: inserts [`ClientIp`]. The state is the number of trusted proxy hops.
pub async fn resolve(State(hops): State<usize>, mut req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let ip = client_ip(req.headers(), peer, hops);
    req.extensions_mut().insert(ClientIp(ip));
    next.run(req).await
}

/// With `hops` trusted proxies, each appending the address it received from, the client is
/// the `hops`-th entry from the right of `X-Forwarded-For`: entries left of it were written by
/// the client and prove nothing. With 0 hops the header is ignored.
pub fn client_ip(headers: &HeaderMap, peer: Option<IpAddr>, hops: usize) -> Option<IpAddr> {
    if hops == 0 {
        return peer;
    }
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    if entries.is_empty() {
        return peer;
    }
    let entry = entries[entries.len().saturating_sub(hops)];
    parse_entry(entry).or(peer)
}

/// `1.2.3.4`, `1.2.3.4:567`, `::1` or `[::1]:567`.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    const PEER: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 9)));

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn untrusted_header_is_ignored() {
        assert_eq!(client_ip(&xff(&["1.2.3.4"]), PEER, 0), PEER);
    }

    #[test]
    fn trusted_hops_count_from_the_right() {
        let h = xff(&["6.6.6.6, 1.2.3.4", "5.6.7.8"]);
        assert_eq!(client_ip(&h, PEER, 1), ip("5.6.7.8"));
        assert_eq!(client_ip(&h, PEER, 2), ip("1.2.3.4"));
        // fewer entries than proxies: the leftmost is the best there is
        assert_eq!(client_ip(&h, PEER, 5), ip("6.6.6.6"));
    }

    #[test]
    fn ports_brackets_and_garbage() {
        assert_eq!(client_ip(&xff(&["[::1]:80"]), PEER, 1), ip("::1"));
        assert_eq!(client_ip(&xff(&["1.2.3.4:80"]), PEER, 1), ip("1.2.3.4"));
        assert_eq!(client_ip(&xff(&["unknown"]), PEER, 1), PEER);
        assert_eq!(client_ip(&HeaderMap::new(), PEER, 1), PEER);
    }
}
