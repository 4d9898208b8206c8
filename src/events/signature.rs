//! `X-Orderdesk-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
//! The timestamp is signed with the body so a captured request cannot be replayed later.

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const HEADER: &str = "x-orderdesk-signature";

/// How far a signature's timestamp may be from now, either way.
pub const TOLERANCE_SECS: i64 = 300;

fn mac(secret: &[u8], t: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    m.update(t.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m
}

/// The header value for `body` signed at unix time `t`.
pub fn sign(secret: &[u8], t: i64, body: &[u8]) -> String {
    format!(
        "t={t},v1={}",
        hex::encode(mac(secret, t, body).finalize().into_bytes())
    )
}

#[derive(Debug, PartialEq, Eq)]
pub enum SignatureError {
    Malformed,
    Stale,
    Mismatch,
}

/// Checks `header` against `body` at unix time `now`, in constant time.
pub fn verify(secret: &[u8], header: &str, body: &[u8], now: i64) -> Result<(), SignatureError> {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => v1 = hex::decode(v).ok(),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return Err(SignatureError::Malformed);
    };
    // `abs_diff` cannot overflow, whatever `t` the sender put in the header.
    if now.abs_diff(t) > TOLERANCE_SECS.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    mac(secret, t, body)
        .verify_slice(&v1)
        .map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejections() {
        let h = sign(b"secret-secret-secret", 1000, b"{}");
        assert_eq!(verify(b"secret-secret-secret", &h, b"{}", 1010), Ok(()));
        assert_eq!(
            verify(b"secret-secret-secret", &h, b"{ }", 1010),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"other-secret-other", &h, b"{}", 1010),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"secret-secret-secret", &h, b"{}", 1000 + 301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(b"secret-secret-secret", "v1=zz", b"{}", 1000),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn extreme_timestamps_are_stale_not_a_panic() {
        for t in [i64::MIN, i64::MAX] {
            let h = format!("t={t},v1=00");
            assert_eq!(
                verify(b"secret-secret-secret", &h, b"{}", 1_700_000_000),
                Err(SignatureError::Stale)
            );
        }
        let h = "t=-9223372036854775808,v1=00";
        assert_eq!(
            verify(b"secret-secret-secret", h, b"{}", i64::MAX),
            Err(SignatureError::Stale)
        );
    }
}
