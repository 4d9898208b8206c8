//! Code 39 barcodes for shipping labels: every scanner reads them, they need no check
//! digit, and they cover the upper-case letters and digits of tracking numbers.

/// Wide elements are this many times as wide as narrow ones.
const WIDE: u32 = 3;
/// Blank space before and after the symbol, in narrow units.
pub const QUIET_ZONE: u32 = 10;

/// Code 39's table: 9 elements (bar, space, bar, … bar); bit 8 is the first, 1 = wide.
const TABLE: [(char, u16); 44] = [
    ('0', 0x034),
    ('1', 0x121),
    ('2', 0x061),
    ('3', 0x160),
    ('4', 0x031),
    ('5', 0x130),
    ('6', 0x070),
    ('7', 0x025),
    ('8', 0x124),
    ('9', 0x064),
    ('A', 0x109),
    ('B', 0x049),
    ('C', 0x148),
    ('D', 0x019),
    ('E', 0x118),
    ('F', 0x058),
    ('G', 0x00D),
    ('H', 0x10C),
    ('I', 0x04C),
    ('J', 0x01C),
    ('K', 0x103),
    ('L', 0x043),
    ('M', 0x142),
    ('N', 0x013),
    ('O', 0x112),
    ('P', 0x052),
    ('Q', 0x007),
    ('R', 0x106),
    ('S', 0x046),
    ('T', 0x016),
    ('U', 0x181),
    ('V', 0x0C1),
    ('W', 0x1C0),
    ('X', 0x091),
    ('Y', 0x190),
    ('Z', 0x0D0),
    ('-', 0x085),
    ('.', 0x184),
    (' ', 0x0C4),
    ('$', 0x0A8),
    ('/', 0x0A2),
    ('+', 0x08A),
    ('%', 0x02A),
    ('*', 0x094),
];

/// The bars of `text` as (start, width) in narrow units from the left edge of the quiet
/// zone, and the symbol's total width with both quiet zones; `None` if `text` is empty or
/// has a character Code 39 cannot carry (letters are upper-cased first).
pub fn code39(text: &str) -> Option<(Vec<(u32, u32)>, u32)> {
    let text = text.to_ascii_uppercase();
    if text.is_empty() || text.contains('*') {
        return None;
    }
    let mut bars = Vec::new();
    let mut x = QUIET_ZONE;
    for c in std::iter::once('*')
        .chain(text.chars())
        .chain(std::iter::once('*'))
    {
        let pattern = TABLE.iter().find(|(k, _)| *k == c)?.1;
        for element in 0..9 {
            let wide = pattern & (1 << (8 - element)) != 0;
            let w = if wide { WIDE } else { 1 };
            if element % 2 == 0 {
                bars.push((x, w));
            }
            x += w;
        }
        x += 1; // the narrow gap between characters
    }
    Some((bars, x - 1 + QUIET_ZONE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_character_has_three_wide_elements_of_nine() {
        for (c, pattern) in TABLE {
            assert_eq!(pattern.count_ones(), 3, "{c}");
            assert!(pattern < 1 << 9, "{c}");
        }
    }

    #[test]
    fn encodes_start_text_and_stop() {
        let (bars, width) = code39("a1").unwrap();
        // 4 characters (with start and stop) of 5 bars each
        assert_eq!(bars.len(), 20);
        // each character is 6 narrow + 3 wide units, plus 3 gaps and the quiet zones
        assert_eq!(width, 4 * (6 + 3 * WIDE) + 3 + 2 * QUIET_ZONE);
        assert_eq!(bars[0], (QUIET_ZONE, 1), "start character begins narrow");
        assert!(code39("").is_none());
        assert!(code39("TRK#1").is_none());
        assert!(code39("A*B").is_none());
    }
}
