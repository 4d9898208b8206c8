//! Shipment-update subscriptions: the channels and the shape each channel's destination
//! must have (an email address, an E.164 phone number, a push token).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Email,
    Sms,
    Push,
}

impl Channel {
    pub const ALL: [Channel; 3] = [Channel::Email, Channel::Sms, Channel::Push];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Push => "push",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The destination normalised (email lower-cased in its domain, whitespace trimmed), or
    /// why it has the wrong shape for this channel.
    pub fn validate_destination(self, destination: &str) -> Result<String, &'static str> {
        let d = destination.trim();
        match self {
            Channel::Email => {
                valid_email(d).ok_or("must be an email address such as ada@example.com")
            }
            Channel::Sms => valid_e164(d)
                .then(|| d.to_string())
                .ok_or("must be a phone number in E.164 form, such as +14155550123"),
            Channel::Push => valid_push_token(d)
                .then(|| d.to_string())
                .ok_or("must be a push token: 16 to 512 letters, digits, ':', '-', '_' or '.'"),
        }
    }
}

/// A pragmatic shape check (the address is proven by delivering to it, not by a regex):
/// one `@`, a non-empty local part, a dotted domain of letters, digits and hyphens.
fn valid_email(s: &str) -> Option<String> {
    if s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let (local, domain) = s.split_once('@')?;
    if local.is_empty()
        || local.len() > 64
        || domain.contains('@')
        || local.contains(['<', '>', '"', ','])
    {
        return None;
    }
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if labels.len() < 2 || !labels.iter().all(label_ok) {
        return None;
    }
    Some(format!("{local}@{}", domain.to_ascii_lowercase()))
}

/// `+`, a non-zero country-code digit, then 7 to 14 more digits (E.164: at most 15 digits).
fn valid_e164(s: &str) -> bool {
    let Some(digits) = s.strip_prefix('+') else {
        return false;
    };
    (8..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

/// APNs tokens are 64 hex characters, FCM tokens about 150 of `[A-Za-z0-9:_-]`.
fn valid_push_token(s: &str) -> bool {
    (16..=512).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_are_checked_per_channel() {
        assert_eq!(
            Channel::Email
                .validate_destination(" Ada@Example.COM ")
                .unwrap(),
            "Ada@example.com"
        );
        for bad in [
            "ada",
            "ada@",
            "@x.com",
            "a b@x.com",
            "ada@localhost",
            "a@b@c.com",
            "a@-x.com",
        ] {
            assert!(Channel::Email.validate_destination(bad).is_err(), "{bad}");
        }
        assert!(Channel::Sms.validate_destination("+14155550123").is_ok());
        for bad in [
            "14155550123",
            "+0123456789",
            "+1 415 555",
            "+1234567",
            "+1234567890123456",
        ] {
            assert!(Channel::Sms.validate_destination(bad).is_err(), "{bad}");
        }
        assert!(Channel::Push.validate_destination(&"a1".repeat(32)).is_ok());
        assert!(Channel::Push.validate_destination("short").is_err());
        assert!(
            Channel::Push
                .validate_destination(&format!("{}<script>", "a".repeat(20)))
                .is_err()
        );
        assert_eq!(Channel::parse("sms"), Some(Channel::Sms));
        assert_eq!(Channel::parse("fax"), None);
    }
}
