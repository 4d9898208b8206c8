//! The HMAC secrets' rules: at least [`MIN_SECRET_BYTES`], and no built-in development
//! secret or placeholder unless [`ALLOW_DEV_SECRETS`] says this is a developer's machine.

use anyhow::bail;

use super::{
    DEV_DATA_KEY, DEV_DOWNLOAD_SECRET, DEV_EVENTS_SECRET, DEV_GUEST_SECRET, DEV_JWT_SECRET,
};

/// `true` lets a process run on the built-in development secrets and on placeholders such
/// as docker-compose.yml's `change-me-…`: for a developer's machine, never for production.
pub const ALLOW_DEV_SECRETS: &str = "ORDERDESK_ALLOW_DEV_SECRETS";
/// RFC 7518 §3.2: an HS256 key is at least as long as the hash's output. The other HMAC-SHA256
/// keys (events, guest tokens, download links) follow the same rule.
pub const MIN_SECRET_BYTES: usize = 32;

const DEV_SECRETS: [&str; 5] = [
    DEV_JWT_SECRET,
    DEV_EVENTS_SECRET,
    DEV_GUEST_SECRET,
    DEV_DOWNLOAD_SECRET,
    DEV_DATA_KEY,
];

/// Whether `value` is one of the built-in development secrets or an obvious placeholder.
pub fn is_development_secret(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    DEV_SECRETS.contains(&value) || lower.contains("change-me") || lower.contains("changeme")
}

/// Reads the secrets of one configuration, remembering every variable that holds a
/// development secret so that one error can name them all.
pub(super) struct Secrets {
    allow_development: bool,
    development: Vec<&'static str>,
}

impl Secrets {
    pub(super) fn new(allow_development: bool) -> Self {
        Secrets {
            allow_development,
            development: vec![],
        }
    }

    /// The secret in `var`, or `dev_default` when it is unset.
    pub(super) fn read(
        &mut self,
        get: impl Fn(&str) -> Option<String>,
        var: &'static str,
        dev_default: &str,
    ) -> anyhow::Result<Vec<u8>> {
        let value = get(var).unwrap_or_else(|| dev_default.into());
        if is_development_secret(&value) {
            self.development.push(var);
        } else if value.len() < MIN_SECRET_BYTES {
            bail!(
                "{var} must be at least {MIN_SECRET_BYTES} bytes (RFC 7518 §3.2), got {}",
                value.len()
            );
        }
        Ok(value.into_bytes())
    }

    /// Fails naming every variable read with a development secret, unless they are allowed.
    pub(super) fn refuse_development(&self) -> anyhow::Result<()> {
        if self.development.is_empty() || self.allow_development {
            return Ok(());
        }
        bail!(
            "refusing to start with a built-in development secret or a placeholder in {}: set \
             each to a random value of at least {MIN_SECRET_BYTES} bytes (e.g. `openssl rand \
             -base64 48`), or {ALLOW_DEV_SECRETS}=true on a developer's machine",
            self.development.join(", ")
        )
    }
}

/// A boolean variable: `true`/`yes`/`1` or `false`/`no`/`0`; unset is false.
pub(super) fn flag(get: impl Fn(&str) -> Option<String>, var: &str) -> anyhow::Result<bool> {
    let Some(v) = get(var) else {
        return Ok(false);
    };
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" => Ok(true),
        "false" | "no" | "0" => Ok(false),
        _ => bail!("{var} must be true or false, got {v:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_and_placeholder_secrets_are_development_secrets() {
        for s in DEV_SECRETS {
            assert!(is_development_secret(s), "{s}");
        }
        assert!(is_development_secret("change-me-to-a-long-random-secret"));
        assert!(is_development_secret(
            "CHANGEME-please-0123456789abcdef0123"
        ));
        assert!(!is_development_secret(
            "q3J0bGx2c2VjcmV0LXJhbmRvbS0xMjM0NTY3ODkw"
        ));
    }
}
