//! Amounts in minor units printed for people: `€1,234.56`, `¥1,200`, `12.345 KWD`.

/// Digits after the decimal point of an ISO 4217 currency (2 unless listed).
pub fn exponent(currency: &str) -> u32 {
    match currency {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX"
        | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        _ => 2,
    }
}

fn symbol(currency: &str) -> Option<&'static str> {
    match currency {
        "EUR" => Some("€"),
        "USD" => Some("$"),
        "GBP" => Some("£"),
        "JPY" => Some("¥"),
        _ => None,
    }
}

/// `minor` units of `currency` with thousands separators, a sign and the currency's
/// symbol (or its code after the number when it has no common symbol).
pub fn format(minor: i64, currency: &str) -> String {
    let exp = exponent(currency);
    let abs = minor.unsigned_abs();
    let scale = 10u64.pow(exp);
    let whole = group_thousands(abs / scale);
    let number = if exp == 0 {
        whole
    } else {
        format!("{whole}.{:0width$}", abs % scale, width = exp as usize)
    };
    let sign = if minor < 0 { "-" } else { "" };
    match symbol(currency) {
        Some(sym) => format!("{sign}{sym}{number}"),
        None => format!("{sign}{number} {currency}"),
    }
}

fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_by_currency() {
        assert_eq!(format(2499, "EUR"), "€24.99");
        assert_eq!(format(123_456_789, "USD"), "$1,234,567.89");
        assert_eq!(format(5, "GBP"), "£0.05");
        assert_eq!(format(0, "EUR"), "€0.00");
        assert_eq!(format(-1500, "EUR"), "-€15.00");
        assert_eq!(format(1200, "JPY"), "¥1,200");
        assert_eq!(format(12_345, "KWD"), "12.345 KWD");
        assert_eq!(format(100_000, "CHF"), "1,000.00 CHF");
        assert_eq!(format(i64::MIN, "EUR"), "-€92,233,720,368,547,758.08");
    }
}
