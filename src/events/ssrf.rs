//! The SSRF guard of outgoing webhooks: a target must be `http(s)` and every address its
//! host resolves to public (no loopback, private, link-local — the cloud metadata address
//! 169.254.169.254 among them —, unique-local, unspecified, multicast or documentation
//! range), unless `host:port` is in `ORDERDESK_WEBHOOK_ALLOW_HOSTS`. Checked when a
//! webhook is created or changed and before every delivery, which then connects to the
//! addresses checked (no second resolution) and follows no redirect.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::Url;

/// Why a target is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refused {
    #[error("not an absolute http(s) URL")]
    NotHttp,
    #[error("the host does not resolve")]
    Unresolvable,
    /// The address is kept for logs, never shown: the caller would learn what an internal
    /// name resolves to.
    #[error("the host resolves to a non-public address")]
    NonPublic(IpAddr),
}

/// A checked target: the URL and the addresses to connect to.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: Url,
    pub host: String,
    pub addrs: Vec<SocketAddr>,
}

/// Whether `ip` is an address a webhook must never reach.
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => forbidden_v4(v4),
            None => forbidden_v6(v6),
        },
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || o[0] == 0
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // 100.64.0.0/10 carrier-grade NAT
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // 198.18.0.0/15 benchmarking
        || o[0] >= 240
}

fn forbidden_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // fc00::/7 unique local
        || (s[0] & 0xffc0) == 0xfe80 // fe80::/10 link local
        || (s[0] & 0xffc0) == 0xfec0 // fec0::/10 site local (deprecated)
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x64 && s[1] == 0xff9b) // NAT64 can reach IPv4 private space
        || ip.to_ipv4().is_some_and(forbidden_v4) // IPv4-compatible ::a.b.c.d
}

/// The URL parsed and its host's addresses, every one of them allowed.
pub async fn check(url: &str, allow_hosts: &[String]) -> Result<Target, Refused> {
    let url = Url::parse(url).map_err(|_| Refused::NotHttp)?;
    if !matches!(url.scheme(), "http" | "https") || !url.username().is_empty() {
        return Err(Refused::NotHttp);
    }
    let host = url.host_str().ok_or(Refused::NotHttp)?.to_ascii_lowercase();
    let port = url.port_or_known_default().ok_or(Refused::NotHttp)?;
    let bare = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let addrs: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((bare.as_str(), port))
            .await
            .map_err(|_| Refused::Unresolvable)?
            .collect(),
    };
    if addrs.is_empty() {
        return Err(Refused::Unresolvable);
    }
    let allowed = allow_hosts.contains(&format!("{host}:{port}"));
    if !allowed && let Some(bad) = addrs.iter().find(|a| is_forbidden(a.ip())) {
        tracing::info!(%host, ip = %bad.ip(), "webhook target refused: a non-public address");
        return Err(Refused::NonPublic(bad.ip()));
    }
    Ok(Target {
        url,
        host: bare,
        addrs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_addresses() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            assert!(is_forbidden(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "1.1.1.1", "2606:4700::1111"] {
            assert!(!is_forbidden(ip.parse().unwrap()), "{ip}");
        }
    }

    #[tokio::test]
    async fn a_refusal_names_no_address() {
        let refused = check("http://localhost:8080/hook", &[]).await.unwrap_err();
        assert!(matches!(refused, Refused::NonPublic(_)), "{refused:?}");
        let shown = refused.to_string();
        assert!(!shown.contains("127.") && !shown.contains("::1"), "{shown}");
    }
}
