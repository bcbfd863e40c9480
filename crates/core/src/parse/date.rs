//! Dates that mail-parser's RFC 5322 parser gives up on but that are still dates: the
//! obsolete syntax RFC 5322 section 4.3 says readers must accept (two-digit years, named
//! zones, no seconds) and a few shapes common in the wild (ISO 8601, a missing weekday comma).

/// Reads `raw` as a date and returns it as RFC 3339, or `None` if it is not one.
pub(super) fn parse_lenient(raw: &str) -> Option<String> {
    let cleaned: String = raw
        .split('(')
        .next()
        .unwrap_or(raw)
        .chars()
        .map(|c| if c == ',' { ' ' } else { c })
        .collect();
    let words: Vec<&str> = cleaned.split_whitespace().collect();
    parse_iso(&words).or_else(|| parse_rfc_words(&words))
}

/// `22 May 24 10:05 EDT`, `Wed 22 May 2024 10:05:00 +0200`, `May 22 2024 10:05:00 GMT`.
fn parse_rfc_words(words: &[&str]) -> Option<String> {
    let words: Vec<&str> = words.iter().copied().skip_while(|w| weekday(w)).collect();
    let (day, month, rest) = match words.as_slice() {
        [d, m, rest @ ..] if d.parse::<u32>().is_ok() => (d.parse().ok()?, month(m)?, rest),
        [m, d, rest @ ..] => (d.parse().ok()?, month(m)?, rest),
        _ => return None,
    };
    let [year, time, zone @ ..] = rest else {
        return None;
    };
    let year = full_year(year.parse().ok()?);
    let (hour, minute, second) = clock(time)?;
    let offset = zone.first().map_or(Some(0), |z| zone_minutes(z))?;
    format(year, month, day, hour, minute, second, offset)
}

/// `2024-05-22T10:05:00+02:00`, `2024-05-22 10:05:00`, `2024-05-22 10:05 +0200`.
fn parse_iso(words: &[&str]) -> Option<String> {
    let first = words.first()?;
    let (date, time_in_first) = match first.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (*first, None),
    };
    let mut parts = date.split('-');
    let year: u32 = parts.next()?.parse().ok()?;
    let month: u32 = parts.next()?.parse().ok()?;
    let day: u32 = parts.next()?.parse().ok()?;
    if parts.next().is_some() || year < 1000 {
        return None;
    }
    let (time, zone) = match time_in_first {
        Some(t) => {
            let split = t.find(['+', '-', 'Z', 'z']).unwrap_or(t.len());
            (t[..split].to_string(), Some(t[split..].to_string()))
        }
        None => (
            (*words.get(1)?).to_string(),
            words.get(2).map(|z| (*z).to_string()),
        ),
    };
    let (hour, minute, second) = clock(&time)?;
    let offset = match zone.as_deref() {
        None | Some("") => 0,
        Some(z) => zone_minutes(z)?,
    };
    format(year, month, day, hour, minute, second, offset)
}

fn weekday(word: &str) -> bool {
    let w = word.to_ascii_lowercase();
    ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .any(|d| w.starts_with(d))
}

fn month(word: &str) -> Option<u32> {
    let w = word.to_ascii_lowercase();
    let names = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let prefix = w.get(..3)?;
    names
        .iter()
        .position(|m| *m == prefix)
        .map(|i| i as u32 + 1)
}

/// RFC 5322 4.3: two-digit years below 50 are 20xx, others 19xx; three-digit years add 1900.
fn full_year(year: u32) -> u32 {
    match year {
        0..=49 => 2000 + year,
        50..=999 => 1900 + year,
        _ => year,
    }
}

fn clock(time: &str) -> Option<(u32, u32, u32)> {
    let mut parts = time.split(':');
    let hour = parts.next()?.parse().ok()?;
    let minute = parts.next()?.parse().ok()?;
    let second = match parts.next() {
        Some(s) => s.split('.').next()?.parse().ok()?,
        None => 0,
    };
    if parts.next().is_some() {
        return None;
    }
    Some((hour, minute, second))
}

/// `+0200`, `-04:00`, `Z`, and the named zones of RFC 5322 4.3 (military letters other than
/// Z carry no reliable meaning and are read as +0000, as the RFC says).
fn zone_minutes(zone: &str) -> Option<i32> {
    let named = match zone.to_ascii_uppercase().as_str() {
        "UT" | "UTC" | "GMT" | "Z" => Some(0),
        "EDT" => Some(-4 * 60),
        "EST" | "CDT" => Some(-5 * 60),
        "CST" | "MDT" => Some(-6 * 60),
        "MST" | "PDT" => Some(-7 * 60),
        "PST" => Some(-8 * 60),
        z if z.len() == 1 && z.chars().all(|c| c.is_ascii_alphabetic()) => Some(0),
        _ => None,
    };
    if named.is_some() {
        return named;
    }
    let (sign, digits) = match zone.as_bytes().first()? {
        b'+' => (1, &zone[1..]),
        b'-' => (-1, &zone[1..]),
        _ => return None,
    };
    let digits: String = digits.chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let hours: i32 = digits[..2].parse().ok()?;
    let minutes: i32 = digits[2..].parse().ok()?;
    (hours <= 23 && minutes <= 59).then_some(sign * (hours * 60 + minutes))
}

fn format(
    year: u32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    offset: i32,
) -> Option<String> {
    let valid = (1900..=3000).contains(&year)
        && (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && hour <= 23
        && minute <= 59
        && second <= 60;
    if !valid {
        return None;
    }
    let stamp = format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}");
    Some(if offset == 0 {
        format!("{stamp}Z")
    } else {
        let sign = if offset < 0 { '-' } else { '+' };
        let offset = offset.unsigned_abs();
        format!("{stamp}{sign}{:02}:{:02}", offset / 60, offset % 60)
    })
}

#[cfg(test)]
mod tests {
    use super::parse_lenient;

    #[test]
    fn obsolete_and_wild_dates() {
        let cases = [
            ("22 May 24 10:05 EDT", Some("2024-05-22T10:05:00-04:00")),
            (
                "Wed, 22 May 2024 10:05:00 +0200 (CEST)",
                Some("2024-05-22T10:05:00+02:00"),
            ),
            ("Wed May 22 2024 10:05:00 GMT", Some("2024-05-22T10:05:00Z")),
            ("3 Jan 99 23:59:59 PST", Some("1999-01-03T23:59:59-08:00")),
            (
                "2024-05-22T10:05:00+02:00",
                Some("2024-05-22T10:05:00+02:00"),
            ),
            ("2024-05-22 10:05:00", Some("2024-05-22T10:05:00Z")),
            ("yesterday afternoon", None),
            ("32 May 2024 10:00", None),
            ("22 Foo 2024 10:00", None),
            ("", None),
        ];
        for (raw, want) in cases {
            assert_eq!(parse_lenient(raw).as_deref(), want, "{raw}");
        }
    }
}
