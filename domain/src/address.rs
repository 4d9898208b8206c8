//! Shipping-address rules: which fields a new address needs, how long they may be, which
//! countries exist (ISO 3166-1 alpha-2) and what a postal code looks like in a few of them.
//! [`validate`] lists every bad field at once and returns the address normalized.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ids::OrderId;
use super::order::Address;

/// The input of the `update_address` workflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddressRunInput {
    pub order_id: OrderId,
    /// The new address, validated and normalized.
    pub address: Address,
    /// The version the Orders service must still be at when the change reaches it: the one
    /// the caller's precondition (`If-Match`, body `version`) named; absent without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_version: Option<i64>,
}

/// An address as a client sends it: every field optional here, so that a missing one is
/// reported together with every other problem rather than by the JSON parser alone.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressIn {
    /// Recipient, 1 to 100 characters.
    pub name: Option<String>,
    /// Street and number, 1 to 100 characters.
    pub line1: Option<String>,
    /// Optional second line, at most 100 characters.
    pub line2: Option<String>,
    /// 1 to 60 characters.
    pub city: Option<String>,
    /// Checked against the country's format for DE, NL, US, AT, BE, CH, FR, IT, ES, PL, GB.
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2, e.g. `DE` (case-insensitive).
    pub country: Option<String>,
}

/// One invalid field: its name (`line1`, `postal_code`…) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidField {
    pub field: &'static str,
    pub message: String,
}

/// Every officially assigned ISO 3166-1 alpha-2 code (249), sorted.
pub const COUNTRIES: [&str; 249] = [
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
    "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
    "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
    "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
    "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM",
    "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC",
    "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
    "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG",
    "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
    "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
    "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
    "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW",
];

/// Postal-code shapes per country: `9` a digit, `A` a letter, anything else itself. The
/// first shape is the canonical one a code is rewritten to (NL `1234ab` → `1234 AB`).
const POSTAL_FORMATS: &[(&str, &[&str])] = &[
    ("AT", &["9999"]),
    ("BE", &["9999"]),
    ("CH", &["9999"]),
    ("DE", &["99999"]),
    ("ES", &["99999"]),
    ("FR", &["99999"]),
    ("IT", &["99999"]),
    ("NL", &["9999 AA"]),
    ("PL", &["99-999"]),
    ("US", &["99999", "99999-9999"]),
    (
        "GB",
        &[
            "A9 9AA", "A99 9AA", "AA9 9AA", "AA99 9AA", "A9A 9AA", "AA9A 9AA",
        ],
    ),
];

/// Countries whose formats put a space in the code: a code sent without it is accepted.
const SPACE_OPTIONAL: [&str; 2] = ["NL", "GB"];

/// Checks and normalizes (trims, upper-cases country and postal code, reformats known
/// postal codes). The error lists every bad field.
pub fn validate(input: &AddressIn) -> Result<Address, Vec<InvalidField>> {
    let mut errors = Vec::new();
    let name = text(&mut errors, "name", input.name.as_deref(), 100, true);
    let line1 = text(&mut errors, "line1", input.line1.as_deref(), 100, true);
    let line2 = text(&mut errors, "line2", input.line2.as_deref(), 100, false);
    let city = text(&mut errors, "city", input.city.as_deref(), 60, true);
    let country = match input.country.as_deref().map(str::trim) {
        None | Some("") => {
            errors.push(invalid("country", "required"));
            None
        }
        Some(c) => {
            let c = c.to_ascii_uppercase();
            if COUNTRIES.binary_search(&c.as_str()).is_ok() {
                Some(c)
            } else {
                errors.push(invalid("country", "not an ISO 3166-1 alpha-2 country code"));
                None
            }
        }
    };
    let postal_code = match input.postal_code.as_deref().map(str::trim) {
        None | Some("") => {
            errors.push(invalid("postal_code", "required"));
            None
        }
        Some(p) => match postal_code(p, country.as_deref()) {
            Ok(p) => Some(p),
            Err(message) => {
                errors.push(invalid("postal_code", &message));
                None
            }
        },
    };
    match (name, line1, city, postal_code, country) {
        (Some(name), Some(line1), Some(city), Some(postal_code), Some(country))
            if errors.is_empty() =>
        {
            Ok(Address {
                name,
                line1,
                line2: line2.filter(|l| !l.is_empty()),
                city,
                postal_code,
                country,
            })
        }
        _ => Err(errors),
    }
}

fn invalid(field: &'static str, message: &str) -> InvalidField {
    InvalidField {
        field,
        message: message.to_string(),
    }
}

/// A trimmed text field of at most `max` characters, without control characters.
fn text(
    errors: &mut Vec<InvalidField>,
    field: &'static str,
    value: Option<&str>,
    max: usize,
    required: bool,
) -> Option<String> {
    let v = value.map(str::trim).unwrap_or("");
    if v.is_empty() {
        if required {
            errors.push(invalid(field, "required"));
        }
        return (!required).then(String::new);
    }
    if v.chars().count() > max {
        errors.push(invalid(field, &format!("at most {max} characters")));
        return None;
    }
    if v.chars().any(char::is_control) {
        errors.push(invalid(field, "must not contain control characters"));
        return None;
    }
    Some(v.to_string())
}

/// The postal code in the country's canonical shape, or why it is not one.
fn postal_code(raw: &str, country: Option<&str>) -> Result<String, String> {
    let code = raw.to_ascii_uppercase();
    let known = country.and_then(|c| POSTAL_FORMATS.iter().find(|(k, _)| *k == c));
    let Some((country, formats)) = known else {
        let plain = code.len() <= 12
            && code.chars().any(|c| c.is_ascii_alphanumeric())
            && code
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-');
        return if plain {
            Ok(code)
        } else {
            Err("at most 12 letters, digits, spaces or hyphens".into())
        };
    };
    let squeezed: String = code.chars().filter(|c| *c != ' ').collect();
    for format in *formats {
        if fits(&code, format) {
            return Ok(code);
        }
        if SPACE_OPTIONAL.contains(country) && fits(&squeezed, &format.replace(' ', "")) {
            let cut = squeezed.len() - (format.len() - 1 - format.find(' ').unwrap_or(0));
            return Ok(format!("{} {}", &squeezed[..cut], &squeezed[cut..]));
        }
    }
    Err(format!(
        "not a postal code of {country} (expected {})",
        formats.join(" or ").replace('9', "n").replace('A', "X")
    ))
}

fn fits(code: &str, format: &str) -> bool {
    code.len() == format.len()
        && code.chars().zip(format.chars()).all(|(c, f)| match f {
            '9' => c.is_ascii_digit(),
            'A' => c.is_ascii_uppercase(),
            other => c == other,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(postal: &str, country: &str) -> AddressIn {
        AddressIn {
            name: Some(" Ada Lovelace ".into()),
            line1: Some("1 Analytical Way".into()),
            line2: Some("".into()),
            city: Some("Berlin".into()),
            postal_code: Some(postal.into()),
            country: Some(country.into()),
        }
    }

    #[test]
    fn country_list_is_sorted_unique_and_complete() {
        let mut sorted = COUNTRIES.to_vec();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 249);
        assert_eq!(sorted, COUNTRIES.to_vec());
    }

    #[test]
    fn normalizes_a_good_address() {
        let a = validate(&addr("10115", "de")).unwrap();
        assert_eq!(
            (a.name.as_str(), a.country.as_str()),
            ("Ada Lovelace", "DE")
        );
        assert_eq!(a.line2, None);
        assert_eq!(
            validate(&addr("1012ab", "NL")).unwrap().postal_code,
            "1012 AB"
        );
        assert_eq!(
            validate(&addr("1012 AB", "nl")).unwrap().postal_code,
            "1012 AB"
        );
        assert_eq!(
            validate(&addr("sw1a1aa", "GB")).unwrap().postal_code,
            "SW1A 1AA"
        );
        assert_eq!(
            validate(&addr("94105-1234", "US")).unwrap().postal_code,
            "94105-1234"
        );
        assert_eq!(
            validate(&addr("100-0001", "JP")).unwrap().postal_code,
            "100-0001"
        );
    }

    #[test]
    fn refuses_bad_postal_codes_per_country() {
        for (postal, country) in [
            ("1234", "DE"),
            ("1012", "NL"),
            ("9410", "US"),
            ("ABCDE", "FR"),
        ] {
            let e = validate(&addr(postal, country)).unwrap_err();
            assert_eq!(e.len(), 1, "{postal} {country}");
            assert_eq!(e[0].field, "postal_code");
        }
        assert!(validate(&addr("!!", "JP")).is_err());
    }

    #[test]
    fn lists_every_bad_field() {
        let input = AddressIn {
            name: None,
            line1: Some("x".repeat(101)),
            line2: Some("a\u{7}b".into()),
            city: Some("  ".into()),
            postal_code: Some("123".into()),
            country: Some("XX".into()),
        };
        let fields: Vec<_> = validate(&input)
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            ["name", "line1", "line2", "city", "country"],
            "an unknown country leaves the postal code unchecked against it"
        );
    }
}
