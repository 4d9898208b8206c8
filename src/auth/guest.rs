//! The verification token printed on an order confirmation, which lets a buyer without an
//! account look the order up:
//! `base64url(HMAC-SHA256(secret, tenant ‖ 0x00 ‖ order_number ‖ 0x00 ‖ lowercase(email))[..16])`.
//!
//! Pure functions: no I/O, so the same code mints (CLI, confirmation e-mails) and verifies.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Bytes of the HMAC kept in a token: 128 bits, 22 base64url characters.
pub const TOKEN_BYTES: usize = 16;

/// The order number and e-mail as the token binds them: trimmed, the e-mail lower-cased.
fn normalise(order_number: &str, email: &str) -> (String, String) {
    (order_number.trim().to_string(), email.trim().to_lowercase())
}

fn tag(secret: &[u8], tenant: &str, order_number: &str, email: &str) -> [u8; TOKEN_BYTES] {
    let (number, email) = normalise(order_number, email);
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(tenant.as_bytes());
    mac.update(&[0]);
    mac.update(number.as_bytes());
    mac.update(&[0]);
    mac.update(email.as_bytes());
    let full = mac.finalize().into_bytes();
    let mut out = [0u8; TOKEN_BYTES];
    out.copy_from_slice(&full[..TOKEN_BYTES]);
    out
}

/// The confirmation token of an order, as printed on its confirmation.
pub fn confirmation_token(secret: &[u8], tenant: &str, order_number: &str, email: &str) -> String {
    URL_SAFE_NO_PAD.encode(tag(secret, tenant, order_number, email))
}

/// Whether `token` is the confirmation token of (tenant, order number, e-mail). Always
/// computes the HMAC and compares in constant time, whatever `token` looks like.
pub fn verify_confirmation_token(
    secret: &[u8],
    tenant: &str,
    order_number: &str,
    email: &str,
    token: &str,
) -> bool {
    let expected = tag(secret, tenant, order_number, email);
    let given = URL_SAFE_NO_PAD.decode(token.trim()).unwrap_or_default();
    constant_time_eq(&expected, &given)
}

/// Compares in time that does not depend on where the two differ (`subtle`); slices of
/// different lengths are unequal at once, so only the lengths may show.
pub fn constant_time_eq(expected: &[u8], given: &[u8]) -> bool {
    expected.ct_eq(given).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"orderdesk-dev-guest-secret";

    #[test]
    fn token_is_22_url_safe_chars_and_verifies() {
        let t = confirmation_token(SECRET, "acme", "100001", "cus_0001@example.test");
        assert_eq!(t.len(), 22);
        assert!(
            t.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert!(verify_confirmation_token(
            SECRET,
            "acme",
            "100001",
            "cus_0001@example.test",
            &t
        ));
    }

    #[test]
    fn email_case_and_spaces_do_not_matter() {
        let t = confirmation_token(SECRET, "acme", "100001", "Cus_0001@Example.TEST");
        assert!(verify_confirmation_token(
            SECRET,
            "acme",
            " 100001 ",
            " cus_0001@example.test ",
            &t
        ));
    }

    #[test]
    fn every_input_is_bound() {
        let t = confirmation_token(SECRET, "acme", "100001", "a@example.test");
        for (secret, tenant, number, email) in [
            (
                &b"another-secret-of-16b"[..],
                "acme",
                "100001",
                "a@example.test",
            ),
            (SECRET, "globex", "100001", "a@example.test"),
            (SECRET, "acme", "100002", "a@example.test"),
            (SECRET, "acme", "100001", "b@example.test"),
            // the separators keep fields apart: "acme1" + "00001" is not "acme" + "100001"
            (SECRET, "acme1", "00001", "a@example.test"),
        ] {
            assert!(!verify_confirmation_token(
                secret, tenant, number, email, &t
            ));
        }
    }

    #[test]
    fn garbage_tokens_are_refused() {
        let t = confirmation_token(SECRET, "acme", "100001", "a@example.test");
        for bad in [
            "",
            "!!!",
            "AAAA",
            &t[..21],
            &format!("{t}A"),
            &t.to_uppercase(),
        ] {
            assert!(
                !verify_confirmation_token(SECRET, "acme", "100001", "a@example.test", bad),
                "{bad}"
            );
        }
    }

    #[test]
    fn constant_time_eq_compares_length_too() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"abc", b"abc\0"));
    }
}
