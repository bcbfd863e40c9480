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
//!
//! The crate parses each number; whether the parsed number is valid is then asked here, by
//! the crate's own rule on the crate's own patterns ([`Validator`]), because the crate's
//! `is_valid` looks up every pattern in its regex cache by the pattern's text (a hash of up
//! to two kilobytes of pattern, under a mutex) and, for a code of several regions, runs the
//! region's patterns twice: about 4 µs a number, where this takes a fraction of that. The
//! parser is told the region the crate's rule gives, so that it does not look for it the
//! same slow way. Tests hold the answers to the crate's default database on every region's
//! examples of every type, variants of them, and random digits after every code.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{LazyLock, OnceLock};

use phonenumber::metadata::{loader, Database, Descriptor, Metadata};
use regex_automata::meta::Regex;
use regex_automata::util::syntax;
use regex_automata::{Anchored, Input};
use regex_cache::{CachedRegex, RegexCache};

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

/// One validator per code in `CODES`, made from its database on first use.
static VALIDATORS: LazyLock<Vec<OnceLock<Validator>>> =
    LazyLock::new(|| CODES.iter().map(|_| OnceLock::new()).collect());

/// The slot in `CODES` of the country code that starts `digits`, if one does.
fn slot_for(digits: &[u8]) -> Option<usize> {
    // No code starts with 0 (the crate refuses such numbers too).
    if digits.first() == Some(&b'0') {
        return None;
    }
    (1..=3.min(digits.len())).find_map(|len| {
        let code = digits[..len]
            .iter()
            .fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
        CODES.binary_search_by_key(&code, |c| c.0).ok()
    })
}

/// The database for the country code that starts `digits`, if one does.
#[cfg(test)]
fn database_for(digits: &[u8]) -> Option<&'static Database> {
    database_at(slot_for(digits)?)
}

/// The database of the code in slot `slot` of `CODES`.
fn database_at(slot: usize) -> Option<&'static Database> {
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

/// One pattern of the crate's metadata, compiled here the first time it is needed.
struct Pattern {
    /// The crate's pattern: its text, and the answer should the copy here not compile.
    cached: &'static CachedRegex,
    /// The lengths a national number must have to match, if the descriptor lists them.
    lengths: &'static [u16],
    compiled: OnceLock<Option<Regex>>,
}

impl Pattern {
    fn new(cached: &'static CachedRegex, lengths: &'static [u16]) -> Self {
        Pattern {
            cached,
            lengths,
            compiled: OnceLock::new(),
        }
    }

    fn descriptor(d: &'static Descriptor) -> Self {
        Pattern::new(d.national_number(), d.possible_length())
    }

    /// Whether `value` has the listed length and a match of the pattern starts at its first
    /// byte: the crate's `Descriptor::is_match` (`find`, then a match that starts at 0).
    fn starts(&self, value: &str) -> bool {
        let len = u16::try_from(value.len()).unwrap_or(u16::MAX);
        if !self.lengths.is_empty() && !self.lengths.contains(&len) {
            return false;
        }
        let compiled = self.compiled.get_or_init(|| {
            // As the crate compiles them: in verbose mode.
            Regex::builder()
                .syntax(syntax::Config::new().ignore_whitespace(true))
                .build(self.cached.as_str())
                .ok()
        });
        match compiled {
            Some(regex) => regex.is_match(Input::new(value).anchored(Anchored::Yes)),
            None => self.cached.find(value).is_some_and(|m| m.start() == 0),
        }
    }
}

/// A region's patterns, for the crate's rule of validity.
struct Region {
    /// Its id (`GB`), as the crate's parser takes it.
    id: &'static str,
    /// Its international dialling prefix.
    idd: Option<Pattern>,
    leading_digits: Option<Pattern>,
    general: Pattern,
    /// Every type the crate's `number_type` tries; a number of any of them is valid.
    types: Vec<Pattern>,
}

impl Region {
    fn new(meta: &'static Metadata) -> Self {
        let d = meta.descriptors();
        let types = [
            d.premium_rate(),
            d.toll_free(),
            d.shared_cost(),
            d.voip(),
            d.personal_number(),
            d.pager(),
            d.uan(),
            d.voicemail(),
            d.fixed_line(),
            d.mobile(),
        ];
        Region {
            id: meta.id(),
            idd: meta
                .international_prefix()
                .map(|pattern| Pattern::new(pattern, &[])),
            leading_digits: meta
                .leading_digits()
                .map(|pattern| Pattern::new(pattern, &[])),
            general: Pattern::descriptor(d.general()),
            types: types
                .into_iter()
                .flatten()
                .map(Pattern::descriptor)
                .collect(),
        }
    }

    /// The crate's `number_type(..) != Unknown`.
    fn has_type(&self, national: &str) -> bool {
        self.general.starts(national) && self.types.iter().any(|t| t.starts(national))
    }
}

/// A code's regions in the crate's order (the main region first) and its rule: a code of
/// one region is that region's; else the number is the first region's whose leading digits
/// start it, or which has a type for it (`source_for`); valid if that region has a type for
/// it (`is_valid_with`, which for a region found by its type asks the same again).
struct Validator {
    regions: Vec<Region>,
    single: bool,
}

impl Validator {
    fn new(db: &'static Database, code: u16) -> Self {
        let ids = db.region(&code).unwrap_or_default();
        if let [id] = ids[..] {
            let meta = if id == "001" {
                db.by_code(&code).and_then(|m| m.into_iter().next())
            } else {
                id.parse::<phonenumber::country::Id>()
                    .ok()
                    .and_then(|_| db.by_id(id))
            };
            return Validator {
                regions: meta.map(Region::new).into_iter().collect(),
                single: true,
            };
        }
        Validator {
            regions: ids
                .into_iter()
                .filter_map(|id| db.by_id(id))
                .map(Region::new)
                .collect(),
            single: false,
        }
    }

    /// The crate's `source_for`: the region a national number belongs to, by its index.
    fn source(&self, national: &str) -> Option<usize> {
        if self.single {
            return (!self.regions.is_empty()).then_some(0);
        }
        self.regions
            .iter()
            .position(|region| match &region.leading_digits {
                Some(leading) => leading.starts(national),
                None => region.has_type(national),
            })
    }

    /// The crate's `is_valid_with` on a parsed number's national number.
    fn valid(&self, national: &str) -> bool {
        self.source(national).is_some_and(|i| {
            let region = &self.regions[i];
            // A region that `source` found by its type has one.
            (!self.single && region.leading_digits.is_none()) || region.has_type(national)
        })
    }

    /// Whether `+digits` is surely invalid before any parse (`after_code`: the digits after
    /// the country code): for a code of several regions, when they do not start with 0 and
    /// no region takes them. The crate's parser would then find no region either, keep them
    /// as the national number, and its validity check would find no region for that. Most
    /// such numbers are invalid ones, which the parser would walk every region for.
    fn rules_out(&self, after_code: &str) -> bool {
        !self.single && !after_code.starts_with('0') && self.source(after_code).is_none()
    }

    /// The region to give the crate's parser for `+digits` (`after_code`: the digits after
    /// the country code), so that it need not look for it itself: it would run `source_for`
    /// on its slower lookups. The one `source_for` gives, for a code of several regions,
    /// unless that region's international prefix starts the digits (given a region, the
    /// parser strips such a prefix, which it does not without one). With that region the
    /// parser takes the metadata `source_for` would have given it, and so parses alike.
    fn parse_region(&self, digits: &str, after_code: &str) -> Option<phonenumber::country::Id> {
        if self.single {
            return None;
        }
        let region = &self.regions[self.source(after_code.trim_start_matches('0'))?];
        if region.idd.as_ref().is_some_and(|idd| idd.starts(digits)) {
            return None;
        }
        region.id.parse().ok()
    }
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
            && slot_for(digits).is_some_and(|slot| {
                database_at(slot).is_some_and(|db| {
                    let code = CODES[slot].0;
                    let validator = VALIDATORS[slot].get_or_init(|| Validator::new(db, code));
                    let code_len = code.to_string().len();
                    let digits = &text[1..];
                    let after_code = &digits[code_len..];
                    if validator.rules_out(after_code) {
                        return false;
                    }
                    let region = validator.parse_region(digits, after_code);
                    phonenumber::parse_with(db, region, &text).is_ok_and(|n| {
                        if n.country().code() == code {
                            validator.valid(&n.national().to_string())
                        } else {
                            phonenumber::is_valid_with(db, &n)
                        }
                    })
                })
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
            // Every type the validity rule tries.
            let examples = [
                Some(d.general()),
                d.fixed_line(),
                d.mobile(),
                d.toll_free(),
                d.voip(),
                d.premium_rate(),
                d.shared_cost(),
                d.personal_number(),
                d.pager(),
                d.uan(),
                d.voicemail(),
            ];
            for example in examples.into_iter().flatten().filter_map(|x| x.example()) {
                let number = format!("{}{example}", meta.country_code()).into_bytes();
                let mut changed = number.clone();
                let last = changed.len() - 1;
                changed[last] = b'0' + (changed[last] - b'0' + 3) % 10;
                let mut longer = number.clone();
                longer.push(b'7');
                // A trunk prefix written after the code (`+44 020...`): the parser's
                // national-prefix stripping and the region found without leading zeros.
                let trunk = format!("{}0{example}", meta.country_code()).into_bytes();
                cases.extend([
                    number.clone(),
                    changed,
                    longer,
                    number[..number.len() - 1].to_vec(),
                    trunk,
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

    /// And on arbitrary digits after every code: mostly invalid numbers, which walk every
    /// region of their code, and numbers with leading zeros after it.
    #[test]
    fn answers_are_the_default_databases_on_random_digits() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |n: u64| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) % n
        };
        let mut checked = 0;
        for (code, ..) in CODES {
            for _ in 0..12 {
                let mut digits = code.to_string();
                let len = 4 + next(11);
                // A leading zero now and then, as a written trunk prefix.
                if next(4) == 0 {
                    digits.push('0');
                }
                for _ in 0..len {
                    digits.push(char::from(b'0' + next(10) as u8));
                }
                let text = format!("+{digits}");
                let expected =
                    phonenumber::parse(None, &text).is_ok_and(|n| phonenumber::is_valid(&n));
                assert_eq!(valid_international(digits.as_bytes()), expected, "{text}");
                checked += 1;
            }
        }
        assert!(checked > 2000, "{checked} numbers");
    }
}
