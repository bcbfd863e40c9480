//! International phone numbers validated by the `phonenumber` crate, one country code at a
//! time.
//!
//! The crate's default database checks the patterns of every region when it is first used:
//! 0.15 s per process, more than the rest of redacting several megabytes. `build.rs` splits
//! the crate's metadata by country calling code, and a code's database is built the first
//! time a number with that code is asked about (a few milliseconds; the North American plan,
//! with 25 regions, is the largest). A number's code is found as the crate finds it: the
//! shortest of its first one to three digits that is an assigned code (codes are prefix-free),
//! and that code's database holds all the regions the crate would consult for it, so the
//! answers are the crate's.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{LazyLock, OnceLock};

use phonenumber::metadata::loader;
use phonenumber::metadata::Database;
use regex_cache::RegexCache;

include!(concat!(env!("OUT_DIR"), "/phone-codes.rs"));

/// The metadata of every code, one JSON array after another (ranges in `CODES`).
static METADATA: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/phone-metadata.json"));

/// One database per code in `CODES`, built on first use (`None`: its metadata did not load,
/// which the tests rule out).
static DATABASES: LazyLock<Vec<OnceLock<Option<Database>>>> =
    LazyLock::new(|| CODES.iter().map(|_| OnceLock::new()).collect());

/// Whether this build holds phonenumber's metadata split by country code. A build whose
/// `build.rs` could not find the metadata uses the crate's whole database instead: the same
/// answers, but 0.15 s of one thread at the first international number of every process,
/// which a user should hear about rather than find in a profile.
pub fn metadata_split() -> bool {
    !CODES.is_empty()
}

/// The database for the country code that starts `digits`, if one does.
fn database_for(digits: &[u8]) -> Option<&'static Database> {
    // No code starts with 0 (the crate refuses such numbers too).
    if digits.first() == Some(&b'0') {
        return None;
    }
    let slot = (1..=3.min(digits.len())).find_map(|len| {
        let code = digits[..len]
            .iter()
            .fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
        CODES.binary_search_by_key(&code, |c| c.0).ok()
    })?;
    DATABASES[slot]
        .get_or_init(|| {
            let (_, start, end) = CODES[slot];
            let regions: Vec<loader::Metadata> =
                serde_json::from_slice(METADATA.get(start..end)?).ok()?;
            let patterns = regions.iter().map(patterns).sum::<usize>();
            let db = Database::from(regions).ok()?;
            // The crate compiles patterns on use into a cache of 100 per database; the 25
            // regions of +1 have more, and a full cache recompiles a pattern on every
            // number that needs it. Room for all of them: each is compiled once.
            *db.cache().lock().ok()? = RegexCache::new(patterns.max(100));
            Some(db)
        })
        .as_ref()
}

/// How many patterns a region's metadata has (an upper bound on what its database compiles).
fn patterns(meta: &loader::Metadata) -> usize {
    let descriptors = [
        &meta.general,
        &meta.fixed_line,
        &meta.mobile,
        &meta.toll_free,
        &meta.premium_rate,
        &meta.shared_cost,
        &meta.personal_number,
        &meta.voip,
        &meta.pager,
        &meta.uan,
        &meta.emergency,
        &meta.voicemail,
        &meta.short_code,
        &meta.standard_rate,
        &meta.carrier,
        &meta.no_international,
    ];
    let formats = meta.formats.iter().chain(&meta.international_formats);
    descriptors.iter().filter(|d| d.is_some()).count()
        + formats.map(|f| 1 + f.leading_digits.len()).sum::<usize>()
        + [
            &meta.international_prefix,
            &meta.national_prefix_for_parsing,
            &meta.leading_digits,
        ]
        .iter()
        .filter(|p| p.is_some())
        .count()
}

thread_local! {
    /// Verdicts by digits, per thread (bounded: cleared when full): mail repeats numbers.
    static MEMO: RefCell<HashMap<Vec<u8>, bool>> = RefCell::new(HashMap::new());
}

/// Whether `+digits` is a valid phone number by the crate's metadata (`digits`: ASCII
/// digits after the `+`).
pub(super) fn valid_international(digits: &[u8]) -> bool {
    if let Some(known) = MEMO.with_borrow(|m| m.get(digits).copied()) {
        return known;
    }
    let text = format!("+{}", String::from_utf8_lossy(digits));
    let valid = if CODES.is_empty() {
        // The build could not split the metadata: the crate's whole database.
        phonenumber::parse(None, &text).is_ok_and(|n| phonenumber::is_valid(&n))
    } else {
        digits.iter().all(u8::is_ascii_digit)
            && database_for(digits).is_some_and(|db| {
                phonenumber::parse_with(db, None, &text)
                    .is_ok_and(|n| phonenumber::is_valid_with(db, &n))
            })
    };
    MEMO.with_borrow_mut(|m| {
        if m.len() >= 8192 {
            m.clear();
        }
        m.insert(digits.to_vec(), valid);
    });
    valid
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The split covers the crate's metadata: the build found it.
    #[test]
    fn the_metadata_is_split_by_country_code() {
        assert!(CODES.len() > 200, "{} codes", CODES.len());
        for (slot, (code, ..)) in CODES.iter().enumerate() {
            let digits = code.to_string();
            assert!(
                DATABASES[slot].get().is_some() || database_for(digits.as_bytes()).is_some(),
                "code {code} does not load"
            );
        }
    }

    /// The regex cache of a code's database holds all its patterns: +1 has 25 regions,
    /// more patterns than the crate's cache of 100, which recompiled them in turn.
    #[test]
    fn a_codes_cache_holds_all_its_patterns() {
        let db = database_for(b"14155552671").expect("+1 loads");
        let cache = db.cache();
        let capacity = cache.lock().unwrap().capacity();
        let (_, start, end) = CODES[0];
        let regions: Vec<loader::Metadata> = serde_json::from_slice(&METADATA[start..end]).unwrap();
        assert_eq!(regions.len(), 25);
        assert!(capacity >= regions.iter().map(patterns).sum::<usize>());
        assert!(capacity > 200, "{capacity}");
    }

    /// Per-code databases answer as the crate's default one: on every region's example
    /// numbers, and on the same numbers with a digit changed, dropped or added.
    #[test]
    fn answers_are_the_default_databases() {
        let default = |digits: &[u8]| {
            let text = format!("+{}", String::from_utf8_lossy(digits));
            phonenumber::parse(None, &text).is_ok_and(|n| phonenumber::is_valid(&n))
        };
        let mut cases: Vec<Vec<u8>> = Vec::new();
        for meta in phonenumber::metadata::DATABASE.iter() {
            let d = meta.descriptors();
            let examples = [
                Some(d.general()),
                d.fixed_line(),
                d.mobile(),
                d.toll_free(),
                d.voip(),
            ];
            for example in examples.into_iter().flatten().filter_map(|x| x.example()) {
                let number = format!("{}{example}", meta.country_code()).into_bytes();
                let mut changed = number.clone();
                let last = changed.len() - 1;
                changed[last] = b'0' + (changed[last] - b'0' + 3) % 10;
                let mut longer = number.clone();
                longer.push(b'7');
                cases.extend([
                    number.clone(),
                    changed,
                    longer,
                    number[..number.len() - 1].to_vec(),
                ]);
            }
        }
        cases.extend([
            b"0044207946".to_vec(),
            b"999123456789".to_vec(),
            b"1".to_vec(),
        ]);
        assert!(cases.len() > 1000, "{} cases", cases.len());
        let mut valid = 0;
        for digits in &cases {
            let expected = default(digits);
            valid += usize::from(expected);
            assert_eq!(
                valid_international(digits),
                expected,
                "+{}",
                String::from_utf8_lossy(digits)
            );
        }
        // Both kinds of answer were checked.
        assert!(valid > 300 && valid < cases.len() - 300, "{valid} valid");
    }
}
