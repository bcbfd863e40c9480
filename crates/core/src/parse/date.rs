//! Dates that mail-parser's RFC 5322 parser gives up on but that are still dates: the
//! obsolete syntax RFC 5322 section 4.3 says readers must accept (two-digit years, named
//! zones, no seconds) and a few shapes common in the wild (ISO 8601, a missing weekday comma).

/// Reads `raw` as a date and returns it as RFC 3339, or `None` if it is not one.
/// Seconds since 1970 of an RFC 3339 date as [`super::Headers::date`] holds it
/// (`2002-08-22T12:36:23+01:00`), or None when it is not one.
pub fn unix_seconds(rfc3339: &str) -> Option<i64> {
    let b = rfc3339.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> { rfc3339.get(r)?.parse().ok() };
    if b.len() < 19 || b.get(4) != Some(&b'-') || b.get(10) != Some(&b'T') {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    // The zone follows the seconds (and optional fraction): Z or +hh:mm / -hh:mm.
    let zone = rfc3339[19..].trim_start_matches(|c: char| c == '.' || c.is_ascii_digit());
    let offset = match zone.as_bytes().first() {
        None | Some(b'Z' | b'z') => 0,
        Some(&sign @ (b'+' | b'-')) => {
            let hh: i64 = zone.get(1..3)?.parse().ok()?;
            let mm: i64 = zone.get(4..6).or_else(|| zone.get(3..5))?.parse().ok()?;
            let minutes = hh * 60 + mm;
            if sign == b'+' {
                minutes * 60
            } else {
                -minutes * 60
            }
        }
        Some(_) => return None,
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

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
    use super::{parse_lenient, unix_seconds};

    #[test]
    fn rfc3339_dates_become_unix_seconds() {
        assert_eq!(unix_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            unix_seconds("2002-08-22T12:36:23+01:00"),
            Some(1_030_016_183)
        );
        assert_eq!(unix_seconds("2002-08-22T11:36:23Z"), Some(1_030_016_183));
        assert_eq!(unix_seconds("2000-02-29T00:00:00-05:30"), Some(951_802_200));
        assert_eq!(unix_seconds("not a date"), None);
        assert_eq!(unix_seconds("2002-13-01T00:00:00Z"), None);
    }

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
