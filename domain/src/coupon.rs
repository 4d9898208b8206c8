//! Coupon codes as customers type them, and the reasons a coupon does not apply.

/// Longest coupon code accepted.
pub const MAX_CODE_LEN: usize = 32;

/// Why the Promotions service says a coupon does not apply: these codes are passed on to
/// the customer as they are (422).
pub const REASONS: [&str; 4] = [
    "coupon.unknown",
    "coupon.expired",
    "coupon.minimum_not_met",
    "coupon.not_applicable",
];

/// The code upper-cased, if it is 1 to 32 characters of `A-Z`, `0-9`, `_` and `-`
/// (case-insensitive, surrounding spaces ignored); otherwise why not.
pub fn normalize_code(raw: &str) -> Result<String, String> {
    let code = raw.trim().to_ascii_uppercase();
    if code.is_empty() {
        return Err("required".into());
    }
    if code.len() > MAX_CODE_LEN {
        return Err(format!("at most {MAX_CODE_LEN} characters"));
    }
    if !code
        .bytes()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    {
        return Err("only letters A-Z, digits, '_' and '-'".into());
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_bounded_and_case_insensitive() {
        assert_eq!(normalize_code(" welcome10 ").unwrap(), "WELCOME10");
        assert_eq!(normalize_code("big_50-x").unwrap(), "BIG_50-X");
        assert!(normalize_code("").is_err());
        assert!(normalize_code("   ").is_err());
        assert!(normalize_code(&"A".repeat(33)).is_err());
        assert!(normalize_code(&"A".repeat(32)).is_ok());
        for bad in ["TEN OFF", "10%", "ÄPFEL", "a.b"] {
            assert!(normalize_code(bad).is_err(), "{bad}");
        }
    }
}
