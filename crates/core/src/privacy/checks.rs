//! Checksums and range rules that turn a candidate into a certain finding or reject it:
//! Luhn and issuer ranges for cards, area/group/serial rules for US SSNs, country length and
//! mod-97 for IBANs, octet ranges for IPv4.

/// The digits of `text`, ignoring spaces and dashes; None if anything else is in it.
pub fn digits(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'0'..=b'9' => out.push(b - b'0'),
            b' ' | b'-' => {}
            _ => return None,
        }
    }
    Some(out)
}

/// The Luhn checksum holds.
pub fn luhn(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, &d) in digits.iter().rev().enumerate() {
        let mut d = u32::from(d);
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    !digits.is_empty() && sum.is_multiple_of(10)
}

fn prefix(digits: &[u8], n: usize) -> u32 {
    digits
        .iter()
        .take(n)
        .fold(0u32, |acc, &d| acc * 10 + u32::from(d))
}

/// A card number of a known issuer (Visa, Mastercard with the 2-series, Amex, Discover,
/// JCB, Diners) with the issuer's length and a valid Luhn checksum.
pub fn card(digits: &[u8]) -> bool {
    let len = digits.len();
    let p1 = prefix(digits, 1);
    let p2 = prefix(digits, 2);
    let p3 = prefix(digits, 3);
    let p4 = prefix(digits, 4);
    let p6 = prefix(digits, 6);
    let issuer = match len {
        13 | 16 | 19 if p1 == 4 => true, // Visa
        16 if (51..=55).contains(&p2) || (2221..=2720).contains(&p4) => true, // Mastercard
        15 if p2 == 34 || p2 == 37 => true, // Amex
        16 | 19
            if p4 == 6011
                || p2 == 65
                || (644..=649).contains(&p3)
                || (622_126..=622_925).contains(&p6) =>
        {
            true // Discover
        }
        16..=19 if (3528..=3589).contains(&p4) => true, // JCB
        15 if p4 == 2131 || p4 == 1800 => true,         // JCB, the older 15-digit range
        14 if p2 == 36 || p2 == 38 || (300..=305).contains(&p3) => true, // Diners
        // Maestro: 12 to 19 digits.
        12..=19
            if matches!(
                p4,
                5018 | 5020 | 5038 | 5893 | 6304 | 6759 | 6761 | 6762 | 6763
            ) || (56..=58).contains(&p2) =>
        {
            true
        }
        _ => false,
    };
    issuer && luhn(digits)
}

/// A US SSN as written `AAA-GG-SSSS` or with spaces: area not 000, 666 or 900-999, group
/// not 00, serial not 0000.
pub fn ssn(text: &str) -> bool {
    let b = text.as_bytes();
    if b.len() != 11 {
        return false;
    }
    let sep = b[3];
    if !(sep == b'-' || sep == b' ') || b[6] != sep {
        return false;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let s = text.get(r)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let (Some(area), Some(group), Some(serial)) = (num(0..3), num(4..6), num(7..11)) else {
        return false;
    };
    area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
}

/// IBAN lengths by country (ISO 13616 registry).
fn iban_length(country: &str) -> Option<usize> {
    Some(match country {
        "NO" => 15,
        "BE" => 16,
        "DK" | "FI" | "FO" | "GL" | "NL" => 18,
        "MK" | "SI" => 19,
        "AT" | "BA" | "EE" | "KZ" | "LT" | "LU" | "XK" => 20,
        "CH" | "CR" | "HR" | "LI" | "LV" => 21,
        "BG" | "BH" | "DE" | "GB" | "GE" | "IE" | "ME" | "RS" | "VA" => 22,
        "AE" | "GI" | "IL" | "IQ" | "TL" => 23,
        "AD" | "CZ" | "ES" | "MD" | "PK" | "RO" | "SA" | "SE" | "SK" | "TN" | "VG" => 24,
        "EG" | "LY" | "PT" | "ST" => 25,
        "IS" | "TR" => 26,
        "FR" | "GR" | "IT" | "MC" | "MR" | "SM" => 27,
        "AL" | "AZ" | "BY" | "CY" | "DO" | "GT" | "HU" | "LB" | "PL" | "SV" => 28,
        "BR" | "PS" | "QA" | "UA" => 29,
        "JO" | "KW" | "MU" => 30,
        "MT" | "SC" => 31,
        "LC" => 32,
        "RU" => 33,
        _ => return None,
    })
}

/// An IBAN, compact or grouped with spaces: the country's length and the mod-97 check.
pub fn iban(text: &str) -> bool {
    let compact: Vec<u8> = text
        .bytes()
        .filter(|b| *b != b' ')
        .map(|b| b.to_ascii_uppercase())
        .collect();
    if compact.len() < 15 || !compact.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    let Ok(country) = std::str::from_utf8(&compact[..2]) else {
        return false;
    };
    if iban_length(country) != Some(compact.len()) || !compact[2..4].iter().all(u8::is_ascii_digit)
    {
        return false;
    }
    // Move the first four characters to the end, letters become 10..35, then mod 97.
    let mut remainder = 0u32;
    for &c in compact[4..].iter().chain(&compact[..4]) {
        let value = if c.is_ascii_digit() {
            u32::from(c - b'0')
        } else {
            u32::from(c - b'A') + 10
        };
        remainder = if value >= 10 {
            (remainder * 100 + value) % 97
        } else {
            (remainder * 10 + value) % 97
        };
    }
    remainder == 1
}

/// Four dot-separated decimal octets, each 0-255 without leading zeros.
pub fn ipv4(text: &str) -> bool {
    let mut parts = 0;
    for part in text.split('.') {
        parts += 1;
        let ok = !part.is_empty()
            && part.len() <= 3
            && part.bytes().all(|b| b.is_ascii_digit())
            && !(part.len() > 1 && part.starts_with('0'))
            && part.parse::<u16>().is_ok_and(|v| v <= 255);
        if !ok {
            return false;
        }
    }
    parts == 4
}

/// An IPv6 address (with at least two colons and a hex digit, so that times like `10:30:00`
/// are not taken for one).
pub fn ipv6(text: &str) -> bool {
    text.bytes().filter(|b| *b == b':').count() >= 2
        && text.bytes().any(|b| b.is_ascii_hexdigit())
        && text.parse::<std::net::Ipv6Addr>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card_text(text: &str) -> bool {
        digits(text).is_some_and(|d| card(&d))
    }

    #[test]
    fn cards_need_an_issuer_a_length_and_luhn() {
        assert!(card_text("4111 1111 1111 1111"));
        assert!(card_text("5500-0000-0000-0004"));
        assert!(card_text("2221000000000009")); // Mastercard 2-series
        assert!(card_text("378282246310005")); // Amex
        assert!(card_text("6011111111111117")); // Discover
        assert!(card_text("3530111333300000")); // JCB
        assert!(card_text("180000000000002")); // JCB, 15 digits
        assert!(card_text("6759649826438453")); // Maestro
        assert!(card_text("630495060000000000")); // Maestro, 18 digits
        assert!(!card_text("4111 1111 1111 1112"), "Luhn fails");
        assert!(!card_text("1234 5678 9012 3452"), "no issuer");
        assert!(!card_text("9400 1000 0000 0000 0000 00"), "tracking number");
        assert!(!card_text("4111-1111-1111-111x"));
    }

    #[test]
    fn ssn_rules_reject_impossible_numbers() {
        assert!(ssn("536-22-1234"));
        assert!(ssn("536 22 1234"));
        assert!(!ssn("000-22-1234"));
        assert!(!ssn("666-22-1234"));
        assert!(!ssn("912-22-1234"));
        assert!(!ssn("536-00-1234"));
        assert!(!ssn("536-22-0000"));
        assert!(!ssn("536-22 1234"), "mixed separators");
        assert!(!ssn("5362-2-1234"));
    }

    #[test]
    fn ibans_check_length_and_mod_97() {
        assert!(iban("DE89370400440532013000"));
        assert!(iban("DE89 3704 0044 0532 0130 00"));
        assert!(iban("GB82 WEST 1234 5698 7654 32"));
        assert!(iban("FR1420041010050500013M02606"));
        assert!(!iban("DE89370400440532013001"), "checksum");
        assert!(!iban("DE8937040044053201300"), "length");
        assert!(!iban("XX89370400440532013000"), "country");
    }

    #[test]
    fn ip_addresses_and_look_alikes() {
        assert!(ipv4("192.168.1.20"));
        assert!(ipv4("8.8.8.8"));
        assert!(!ipv4("256.1.1.1"));
        assert!(!ipv4("1.2.3"));
        assert!(!ipv4("01.2.3.4"));
        assert!(ipv6("2001:db8::1"));
        assert!(ipv6("ee7d:45f4:52d9:a56d:36c9:713c:1d0d:4760"));
        assert!(!ipv6("10:30:00"));
        assert!(!ipv6("2001:db8"));
    }
}
