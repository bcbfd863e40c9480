//! Finding personal data and confidential material in text.
//!
//! One scan for the structured patterns (`patterns.rs`, `scan.rs`: an anchored lazy DFA run
//! only where a pattern may start) finds the structured kinds: addresses, URLs, IPs,
//! card/SSN/IBAN/phone candidates, dates, secrets. Candidates are then validated (Luhn and issuer ranges, SSN ranges, IBAN
//! mod-97, octet ranges, `phonenumber`), and context words nearby raise or lower their score,
//! as Presidio does. A second, word-level pass finds people and places: names the message's
//! own headers give, greetings and signatures, and first-name / surname / place dictionaries
//! taken from real-world lists. Confidentiality markers are matched where the words of that
//! pass start; the policy's own terms, which may be any text, are found with Aho-Corasick.
//! Every step is linear in the text, and nothing allocates per byte.

use super::patterns::{Kind, PATTERNS};
use super::scan::Scanner;
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use serde::Serialize;

use super::checks;
use super::context::ctx;
pub use super::wordset::WordFlags;

/// The kinds of sensitive data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Entity {
    /// An e-mail address.
    #[serde(rename = "EMAIL_ADDRESS")]
    EmailAddress,
    /// A URL (scheme or `www.`).
    #[serde(rename = "URL")]
    Url,
    /// An IPv4 or IPv6 address.
    #[serde(rename = "IP_ADDRESS")]
    IpAddress,
    /// A telephone number.
    #[serde(rename = "PHONE_NUMBER")]
    PhoneNumber,
    /// A payment card number.
    #[serde(rename = "CREDIT_CARD")]
    CreditCard,
    /// A US social security number.
    #[serde(rename = "US_SSN")]
    UsSsn,
    /// An international bank account number.
    #[serde(rename = "IBAN_CODE")]
    IbanCode,
    /// A human-readable date or timestamp.
    #[serde(rename = "DATE_TIME")]
    DateTime,
    /// A person's name.
    #[serde(rename = "PERSON")]
    Person,
    /// A place: a street address, city, country or postcode.
    #[serde(rename = "LOCATION")]
    Location,
    /// A credential: a private key, cloud access key, token or password.
    #[serde(rename = "SECRET")]
    Secret,
    /// A confidentiality marker or a term the policy lists as confidential.
    #[serde(rename = "CONFIDENTIAL")]
    Confidential,
}

impl Entity {
    /// Every kind, in a fixed order.
    pub const ALL: [Entity; 12] = [
        Entity::EmailAddress,
        Entity::Url,
        Entity::IpAddress,
        Entity::PhoneNumber,
        Entity::CreditCard,
        Entity::UsSsn,
        Entity::IbanCode,
        Entity::DateTime,
        Entity::Person,
        Entity::Location,
        Entity::Secret,
        Entity::Confidential,
    ];

    /// The kind's name, as in findings and policy files (`EMAIL_ADDRESS`).
    pub fn as_str(self) -> &'static str {
        match self {
            Entity::EmailAddress => "EMAIL_ADDRESS",
            Entity::Url => "URL",
            Entity::IpAddress => "IP_ADDRESS",
            Entity::PhoneNumber => "PHONE_NUMBER",
            Entity::CreditCard => "CREDIT_CARD",
            Entity::UsSsn => "US_SSN",
            Entity::IbanCode => "IBAN_CODE",
            Entity::DateTime => "DATE_TIME",
            Entity::Person => "PERSON",
            Entity::Location => "LOCATION",
            Entity::Secret => "SECRET",
            Entity::Confidential => "CONFIDENTIAL",
        }
    }

    /// The short tag used in masks and pseudonyms (`EMAIL` in `[EMAIL]`, `<EMAIL_7f3a9c>`).
    pub fn tag(self) -> &'static str {
        match self {
            Entity::EmailAddress => "EMAIL",
            Entity::Url => "URL",
            Entity::IpAddress => "IP",
            Entity::PhoneNumber => "PHONE",
            Entity::CreditCard => "CARD",
            Entity::UsSsn => "SSN",
            Entity::IbanCode => "IBAN",
            Entity::DateTime => "DATE",
            Entity::Person => "PERSON",
            Entity::Location => "LOCATION",
            Entity::Secret => "SECRET",
            Entity::Confidential => "CONFIDENTIAL",
        }
    }

    /// The kind named `name` (`EMAIL_ADDRESS`), if any.
    pub fn parse(name: &str) -> Option<Entity> {
        Entity::ALL.into_iter().find(|e| e.as_str() == name)
    }
}

/// One finding: what, where (byte offsets into the text), how sure, and which detector.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Finding {
    /// The kind.
    #[serde(rename = "type")]
    pub entity: Entity,
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset after the last byte.
    pub end: usize,
    /// Confidence, 0 to 1 (1: a checksum holds).
    pub score: f32,
    /// The detector that made it.
    pub detector: &'static str,
}

/// Real-world word lists for names and places, loaded by the caller (one entry per line).
/// All lists share one table, with the detector's own small lists (titles, words that are
/// not names), so that a word is looked up once for all of them.
#[derive(Debug, Clone)]
pub struct Dictionaries {
    /// Each entry with its [`WordKind`] flags.
    words: WordFlags,
    has_places: bool,
}

/// What a dictionary word is: a set of flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WordKind(u8);

impl WordKind {
    const FIRST_NAME: u8 = 1;
    const SURNAME: u8 = 2;
    const PLACE: u8 = 4;
    /// The first word of a place of several words (`New` of `New York`).
    const PLACE_START: u8 = 8;
    /// Also a common word (its lower case is in the ambiguous list): needs context.
    const AMBIGUOUS: u8 = 16;
    /// A title before a name (`Mr`, `Dr`, `Frau`).
    pub(super) const TITLE: u8 = 32;
    /// A word that is not a name where a name could be (`Team` after `Hi`).
    pub(super) const NOT_NAME: u8 = 64;
    /// The first word of a greeting or a closing (`Hi`, `Best` of `Best regards`).
    pub(super) const PHRASE_START: u8 = 128;

    fn has(self, flag: u8) -> bool {
        self.0 & flag != 0
    }
    /// A first name.
    pub fn first_name(self) -> bool {
        self.has(Self::FIRST_NAME)
    }
    /// A surname.
    pub fn surname(self) -> bool {
        self.has(Self::SURNAME)
    }
    /// A place (a city, country, region).
    pub fn place(self) -> bool {
        self.has(Self::PLACE)
    }
    /// The first word of a place of several words.
    pub fn place_start(self) -> bool {
        self.has(Self::PLACE_START)
    }
    /// Also a common word.
    pub fn ambiguous(self) -> bool {
        self.has(Self::AMBIGUOUS)
    }
    /// A title before a name.
    pub fn title(self) -> bool {
        self.has(Self::TITLE)
    }
    /// A word that is not a name.
    pub fn not_name(self) -> bool {
        self.has(Self::NOT_NAME)
    }
    /// The first word of a greeting or a closing.
    pub fn phrase_start(self) -> bool {
        self.has(Self::PHRASE_START)
    }
}

/// `word` with every letter after its first in lower case, if that changes it and it is one
/// word (`McDonald` -> `Mcdonald`; not `O'Brien`, `Smith-Jones` or `Van Dyke`).
pub(super) fn folded_capitals(word: &str) -> Option<String> {
    let mut chars = word.chars();
    let first = chars.next()?;
    let rest = chars.as_str();
    let one_word = first.is_uppercase() && rest.chars().all(char::is_alphabetic);
    (one_word && rest.chars().any(char::is_uppercase))
        .then(|| format!("{first}{}", rest.to_lowercase()))
}

impl Default for Dictionaries {
    /// No names or places: the small lists only.
    fn default() -> Self {
        Dictionaries::from_lists("", "", "", "")
    }
}

impl Dictionaries {
    /// Builds the table from newline-separated lists (a tab ends an entry: ranked lists
    /// carry their counts after it). Entries shorter than two characters are left out.
    /// `ambiguous` holds common words: entries whose lower case is one of them need context.
    pub fn from_lists(first_names: &str, surnames: &str, places: &str, ambiguous: &str) -> Self {
        fn entries(text: &str) -> impl Iterator<Item = &str> {
            text.lines()
                .map(|l| l.split('\t').next().unwrap_or("").trim())
                .filter(|l| l.chars().nth(1).is_some())
        }
        let common = WordFlags::new(
            entries(ambiguous)
                .map(str::to_lowercase)
                .collect::<Vec<_>>()
                .iter()
                .map(String::as_str),
            1,
        );
        let kind = |word: &str, flag: u8| {
            let ambiguous = if common.contains_lowercase(word) {
                WordKind::AMBIGUOUS
            } else {
                0
            };
            flag | ambiguous
        };
        // A place, and the first word of a place of several words, from one pass.
        let places_and_starts = entries(places).flat_map(|w| {
            let start = w
                .split_once(' ')
                .map(|(start, _)| (start, WordKind::PLACE_START));
            std::iter::once((w, WordKind::PLACE)).chain(start)
        });
        // A name with a capital inside ("McDonald", "DeShawn") is often written with the
        // rest in lower case ("Mcdonald"): that form is listed too.
        let folded: Vec<(String, u8)> = entries(first_names)
            .map(|w| (w, WordKind::FIRST_NAME))
            .chain(entries(surnames).map(|w| (w, WordKind::SURNAME)))
            .filter_map(|(w, flag)| Some((folded_capitals(w)?, flag)))
            .collect();
        let words = entries(first_names)
            .map(|w| (w, WordKind::FIRST_NAME))
            .chain(entries(surnames).map(|w| (w, WordKind::SURNAME)))
            .chain(places_and_starts)
            .chain(folded.iter().map(|(w, flag)| (w.as_str(), *flag)))
            .map(|(w, flag)| (w, kind(w, flag)));
        let mut dict = Dictionaries {
            words: WordFlags::from_words(words),
            has_places: false,
        };
        super::names::add_small_lists(&mut dict.words);
        dict.has_places = entries(places).next().is_some();
        dict
    }

    /// A fingerprint of the table `from_lists` builds from these lists: of the lists, and
    /// of the code that builds it (its source files, printed by `build.rs`: the table holds
    /// the detector's own small lists, and its layout and flags are the code's). A cache of
    /// the table (`to_bytes`) is good for the same fingerprint only.
    pub fn fingerprint(first_names: &str, surnames: &str, places: &str, ambiguous: &str) -> u128 {
        let mut hash = xxhash_rust::xxh3::Xxh3::new();
        hash.update(env!("CARGO_PKG_VERSION").as_bytes());
        hash.update(env!("MAILTRIAGE_TABLE_SOURCE").as_bytes());
        for list in [first_names, surnames, places, ambiguous] {
            // Lengths first: moving an entry from one list to the next changes the print.
            hash.update(&(list.len() as u64).to_le_bytes());
            hash.update(list.as_bytes());
        }
        hash.digest128()
    }

    /// The table as bytes, for a cache file (see `fingerprint`).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![u8::from(self.has_places)];
        self.words.to_bytes(&mut out);
        out
    }

    /// The table `to_bytes` wrote; `None` for bytes it cannot have written.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let (&places, words) = bytes.split_first()?;
        Some(Dictionaries {
            words: WordFlags::from_bytes(words)?,
            has_places: match places {
                0 => false,
                1 => true,
                _ => return None,
            },
        })
    }

    /// A word's identity for `kinds` (its hash).
    pub(super) fn word_id(word: &str) -> u64 {
        WordFlags::id_of(word.as_bytes())
    }

    /// The kinds of many words (`(i, word_id)` pairs), given to `set` as `(i, kind)`. The
    /// first slot of every word is read before any word is probed: the table is megabytes,
    /// so nearly every lookup misses the cache, and a probe's compare-and-branch on the
    /// loaded slot kept the next words' loads from starting early. Read up front, the misses
    /// overlap and the probes find their slots in the cache (the probe's load had 8% of
    /// `redact`'s perf samples on the PII set and on mail bodies; now 2%, and 1% the reads).
    pub(super) fn kinds(&self, ids: &[(usize, u64)], mut set: impl FnMut(usize, WordKind)) {
        let touched = ids
            .iter()
            .fold(0u64, |acc, &(_, id)| acc ^ self.words.touch(id));
        // The reads must happen though their values are not used.
        std::hint::black_box(touched);
        for &(i, id) in ids {
            set(i, WordKind(self.words.get_id(id)));
        }
    }

    /// What `word` (as written) is in the lists; nothing for a word in none.
    pub fn kind(&self, word: &str) -> WordKind {
        WordKind(self.words.get(word))
    }

    /// Whether the lists have any places.
    pub fn has_places(&self) -> bool {
        self.has_places
    }
}

/// Markers of confidential material (matched case-insensitively, as whole phrases).
const MARKERS: &[&str] = &[
    "confidential",
    "strictly confidential",
    "privileged and confidential",
    "attorney-client privileged",
    "attorney client privileged",
    "attorney-client privilege",
    "privileged & confidential",
    "internal only",
    "internal use only",
    "for internal use only",
    "do not forward",
    "do not distribute",
    "not for distribution",
    "not for external distribution",
    "proprietary and confidential",
    "trade secret",
    "under nda",
    "vertraulich",
    "streng vertraulich",
    "confidentiel",
    "confidencial",
];

/// The detector: compiled patterns, marker phrases, the policy's terms and the dictionaries.
/// Build it once and share it between threads.
#[derive(Debug)]
pub struct Detector {
    patterns: Scanner,
    /// The policy's confidential terms (none when it lists none): they may be any text, so
    /// they are searched for; the built-in markers are looked for at word starts instead.
    terms: Option<AhoCorasick>,
    dictionaries: Dictionaries,
}

/// An error building the detector (a bad term list, a pattern that does not compile).
#[derive(Debug, thiserror::Error)]
pub enum DetectorError {
    /// The built-in patterns did not compile (a bug).
    #[error("the PII patterns do not compile: {0}")]
    Patterns(String),
    /// The marker and term lists could not be compiled.
    #[error("the confidential term list cannot be compiled: {0}")]
    Terms(String),
}

impl Detector {
    /// A detector with `terms` (project code names, customer names...) found as
    /// confidential, and `dictionaries` for names and places (may be empty).
    pub fn new(terms: &[String], dictionaries: Dictionaries) -> Result<Self, DetectorError> {
        let patterns = Scanner::new().map_err(DetectorError::Patterns)?;
        let terms: Vec<&str> = terms
            .iter()
            .map(String::as_str)
            .filter(|t| !t.trim().is_empty())
            .collect();
        // A DFA: the terms are searched over every text, and it scans fastest.
        let terms = if terms.is_empty() {
            None
        } else {
            Some(
                AhoCorasickBuilder::new()
                    .kind(Some(AhoCorasickKind::DFA))
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(&terms)
                    .map_err(|e| DetectorError::Terms(e.to_string()))?,
            )
        };
        Ok(Detector {
            patterns,
            terms,
            dictionaries,
        })
    }

    /// The findings in `text`, sorted by position, without overlaps. `known_names` are
    /// names the message itself gives (display names in its headers).
    pub fn find(&self, text: &str, known_names: &[&str]) -> Vec<Finding> {
        // Room for the findings of most texts, so that the list is not moved as it grows.
        let mut found = Vec::with_capacity(16);
        self.structured(text, &mut found);
        let words = super::names::words(text);
        markers(text, &words, &mut found);
        self.terms(text, &mut found);
        super::names::find(text, words, known_names, &self.dictionaries, &mut found);
        resolve(found)
    }

    fn structured(&self, text: &str, out: &mut Vec<Finding>) {
        let mut matches = Vec::with_capacity(16);
        self.patterns.find(text.as_bytes(), &mut matches);
        for m in matches {
            let (start, end) = (m.start, m.end);
            if !text.is_char_boundary(start) || !text.is_char_boundary(end) {
                continue;
            }
            if let Some(f) = classify(text, start, end, PATTERNS[m.pattern].1) {
                out.push(f);
            }
        }
    }

    fn terms(&self, text: &str, out: &mut Vec<Finding>) {
        let Some(terms) = &self.terms else { return };
        for m in terms.find_iter(text) {
            if whole_words(text, m.start(), m.end()) {
                out.push(Finding {
                    entity: Entity::Confidential,
                    start: m.start(),
                    end: m.end(),
                    score: 1.0,
                    detector: "policy_terms",
                });
            }
        }
    }
}

/// Whether `start..end` is whole words: `confidentiality` is not the marker `confidential`.
fn whole_words(text: &str, start: usize, end: usize) -> bool {
    let bytes = text.as_bytes();
    let before = start.checked_sub(1).map(|i| bytes[i]);
    let after = bytes.get(end).copied();
    !before.is_some_and(|b| b.is_ascii_alphanumeric())
        && !after.is_some_and(|b| b.is_ascii_alphanumeric())
}

/// The built-in markers by the length of their first word up to a hyphen or apostrophe (at
/// most 15 bytes: `attorney` of `attorney-client`) and its first letter, longest phrase
/// first: a word can start a marker only if both agree, so most words cost a table look and
/// none a string comparison.
static MARKER_INDEX: std::sync::LazyLock<Vec<Vec<&'static str>>> = std::sync::LazyLock::new(|| {
    let mut index = vec![Vec::new(); 16 * 26];
    for phrase in MARKERS {
        if let Some(slot) = marker_slot(phrase.as_bytes()) {
            index[slot].push(*phrase);
        }
    }
    for list in &mut index {
        list.sort_by_key(|p| std::cmp::Reverse(p.len()));
    }
    index
});

/// Letters that start a built-in marker, one bit each.
const MARKER_LETTERS: u32 = {
    let mut bits = 0u32;
    let mut i = 0;
    while i < MARKERS.len() {
        bits |= 1 << (MARKERS[i].as_bytes()[0] - b'a');
        i += 1;
    }
    bits
};

/// Bit `letter` of entry `len`: some built-in marker starts with that letter and a first
/// part (up to a space, hyphen or apostrophe) of that many bytes. Most words of a text are
/// ruled out by this one look, with no index lookup.
const MARKER_SHAPES: [u32; 16] = {
    let mut shapes = [0u32; 16];
    let mut i = 0;
    while i < MARKERS.len() {
        let phrase = MARKERS[i].as_bytes();
        let mut len = 0;
        while len < phrase.len() && !matches!(phrase[len], b' ' | b'-' | b'\'') {
            len += 1;
        }
        if len < 16 {
            shapes[len] |= 1 << (phrase[0] - b'a');
        }
        i += 1;
    }
    shapes
};

/// The index slot of a word (or a phrase) by its first letter and the length of its first
/// part (up to a space, hyphen or apostrophe).
fn marker_slot(word: &[u8]) -> Option<usize> {
    let letter = word.first()?.to_ascii_lowercase();
    if !letter.is_ascii_lowercase() || MARKER_LETTERS & (1 << (letter - b'a')) == 0 {
        return None;
    }
    let len = word
        .iter()
        .position(|b| matches!(b, b' ' | b'-' | b'\''))
        .unwrap_or(word.len());
    (len < 16).then(|| len * 26 + usize::from(letter - b'a'))
}

/// Confidentiality markers (case-insensitively, whole words), looked for where the words
/// of the text start; the longest wins, and the search goes on after it.
fn markers(text: &str, words: &[super::names::Word], out: &mut Vec<Finding>) {
    let index = &*MARKER_INDEX;
    let bytes = text.as_bytes();
    let mut after = 0;
    for w in words {
        // A word with no hyphen or apostrophe is its own first part: its length and first
        // letter rule out most words at once.
        if !w.hyphen && !w.apostrophe {
            let len = w.end - w.start;
            let letter = bytes[w.start].to_ascii_lowercase();
            let shape = MARKER_SHAPES.get(len).copied().unwrap_or(0);
            if !letter.is_ascii_lowercase() || shape & (1 << (letter - b'a')) == 0 {
                continue;
            }
        }
        let mut start = w.start;
        loop {
            if start >= after {
                if let Some(end) = marker_at(text, start, w.end, index) {
                    after = end;
                    out.push(Finding {
                        entity: Entity::Confidential,
                        start,
                        end,
                        score: 0.9,
                        detector: "markers",
                    });
                }
            }
            // After a hyphen inside the word, a marker may start again
            // (`CONFIDENTIAL-DO NOT FORWARD`).
            if !w.hyphen {
                break;
            }
            match bytes[start..w.end].iter().position(|&b| b == b'-') {
                Some(at) => start += at + 1,
                None => break,
            }
        }
    }
}

/// The end of the longest built-in marker that starts at `start`, in a word that ends at
/// `word_end`.
fn marker_at(text: &str, start: usize, word_end: usize, index: &[Vec<&str>]) -> Option<usize> {
    let slot = marker_slot(&text.as_bytes()[start..word_end])?;
    index[slot].iter().find_map(|p| {
        let end = start + p.len();
        let found = text
            .get(start..end)
            .is_some_and(|t| t.eq_ignore_ascii_case(p))
            && whole_words(text, start, end);
        found.then_some(end)
    })
}

/// Validates a candidate and scores it with its context.
fn classify(text: &str, start: usize, end: usize, kind: Kind) -> Option<Finding> {
    let span = &text[start..end];
    // The context is read once per candidate, and only for the kinds that need it.
    let context = std::cell::OnceCell::new();
    let context =
        |list: u8| *context.get_or_init(|| super::context::flags(text, start)) & list != 0;
    let finding = |entity, start, end, score, detector| {
        Some(Finding {
            entity,
            start,
            end,
            score,
            detector,
        })
    };
    match kind {
        Kind::PrivateKey => finding(Entity::Secret, start, end, 1.0, "private_key"),
        Kind::CloudKey => finding(Entity::Secret, start, end, 0.95, "cloud_key"),
        Kind::Jwt => finding(Entity::Secret, start, end, 0.95, "jwt"),
        Kind::Bearer => {
            let token = span.find([' ', '\t']).map_or(start, |i| start + i);
            let token = token + text[token..end].len() - text[token..end].trim_start().len();
            finding(Entity::Secret, token, end, 0.9, "bearer_token")
        }
        Kind::Password => {
            let value = span.find([':', '=']).map(|i| start + i + 1)?;
            let value = value + text[value..end].len() - text[value..end].trim_start().len();
            finding(Entity::Secret, value, end, 0.85, "password")
        }
        Kind::Url => {
            // A sentence's final punctuation and unbalanced closing brackets are not the URL's.
            let trimmed =
                span.trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '\'', '"', '>']);
            let mut end = start + trimmed.len();
            if span[..trimmed.len()].contains('(') && span[trimmed.len()..].starts_with(')') {
                end += 1;
            }
            (trimmed.len() > 4).then_some(())?;
            finding(Entity::Url, start, end, 0.9, "url")
        }
        Kind::Email => finding(Entity::EmailAddress, start, end, 1.0, "email"),
        Kind::Iban => checks::iban(span).then_some(Finding {
            entity: Entity::IbanCode,
            start,
            end,
            score: 1.0,
            detector: "iban_mod97",
        }),
        Kind::Ssn => (checks::ssn(span)
            && !inside_longer_number(text, start, end)
            && (context(ctx::SSN) || !context(ctx::NOT_PHONE)))
        .then(|| Finding {
            entity: Entity::UsSsn,
            start,
            end,
            score: if context(ctx::SSN_SURE) { 1.0 } else { 0.85 },
            detector: "us_ssn",
        }),
        Kind::Date => {
            // A bare numeric date that is really a version or a price is not a date.
            if span.bytes().all(|b| b.is_ascii_digit() || b == b'.') && !span.contains("..") {
                let parts: Vec<&str> = span.split('.').collect();
                if parts.len() != 3 || parts[2].len() < 2 {
                    return None;
                }
                // Three parts of a longer dotted number (`version 3.13.17.46`, an address)
                // are not a date either.
                let bytes = text.as_bytes();
                let digit_at = |i: usize| bytes.get(i).is_some_and(u8::is_ascii_digit);
                let continues = bytes.get(end) == Some(&b'.') && digit_at(end + 1);
                let continued = start >= 2 && bytes[start - 1] == b'.' && digit_at(start - 2);
                if continues || continued || version_context(text, start) {
                    return None;
                }
            }
            let score = if context(ctx::DATE) { 1.0 } else { 0.8 };
            finding(Entity::DateTime, start, end, score, "date")
        }
        Kind::Ipv4 => {
            if !checks::ipv4(span) || version_context(text, start) {
                return None;
            }
            finding(Entity::IpAddress, start, end, 0.95, "ipv4")
        }
        Kind::Ipv6 => {
            let trimmed = span.trim_end_matches(':');
            let trimmed = if trimmed.ends_with(':') {
                span
            } else {
                trimmed
            };
            if !checks::ipv6(trimmed) {
                return None;
            }
            finding(
                Entity::IpAddress,
                start,
                start + trimmed.len(),
                0.95,
                "ipv6",
            )
        }
        Kind::Number => number(text, start, end, &context),
        Kind::Street => finding(Entity::Location, start, end, 0.85, "address"),
        Kind::CityLine => finding(Entity::Location, start, end, 0.9, "address"),
        Kind::Postcode => finding(Entity::Location, start, end, 0.75, "postcode"),
        Kind::PostcodeTown => finding(Entity::Location, start, end, 0.6, "postcode"),
    }
}

/// A run of digits: a card if Luhn and an issuer agree, else a phone number if it looks
/// like one in its context, else nothing (order numbers, timestamps, amounts).
fn number(text: &str, start: usize, end: usize, context: &dyn Fn(u8) -> bool) -> Option<Finding> {
    let span = &text[start..end];
    // The pattern allows at most 24 digits; a run with more is no card or phone number.
    let mut buf = [0u8; 32];
    let mut count = 0;
    for b in span.bytes().filter(u8::is_ascii_digit) {
        *buf.get_mut(count)? = b - b'0';
        count += 1;
    }
    let digits = &buf[..count];
    let plain = span
        .bytes()
        .all(|b| b.is_ascii_digit() || b == b' ' || b == b'-');
    // A known issuer's range with a valid Luhn checksum; or, where the text speaks of a card,
    // any Luhn-valid number of a card's length (issuers' ranges change; Presidio checks Luhn
    // only).
    let card_like = (12..=19).contains(&digits.len())
        && (checks::card(digits) || (checks::luhn(digits) && context(ctx::CARD)));
    if plain && card_like {
        return Some(Finding {
            entity: Entity::CreditCard,
            start,
            end,
            score: 1.0,
            detector: "card_luhn",
        });
    }
    if !(7..=15).contains(&digits.len()) {
        return None;
    }
    let phone_words = context(ctx::PHONE);
    let other_words = context(ctx::NOT_PHONE);
    let international = span.starts_with('+') || span.starts_with("00");
    let separated = span
        .bytes()
        .any(|b| matches!(b, b' ' | b'-' | b'.' | b'(' | b')' | b'/'));
    // A bare run of digits is a phone number only when the text says so.
    if !separated && !international && !phone_words {
        return None;
    }
    if other_words && !phone_words {
        return None;
    }
    // Dotted groups of 1-3 digits are versions or IPs, not phones.
    if span.contains('.') && span.split('.').all(|p| p.len() <= 3) && !phone_words {
        return None;
    }
    let valid = valid_phone(span, phone_words);
    // A number laid out as a phone number and labelled as one is taken even when its digits
    // are not an assigned range (made-up and mistyped numbers are personal data too).
    // So is one laid out as a North American number, and ten digits that the text calls a
    // phone number, whatever their area code.
    let labelled_ten =
        phone_words && !separated && digits.len() == 10 && digits[0] >= 2 && digits[3] >= 2;
    let laid_out = (phone_words && separated && (8..=15).contains(&digits.len()))
        || nanp_layout(span)
        || labelled_ten;
    if !valid && !laid_out {
        return None;
    }
    // An extension belongs to the number: 555-0100 x204, ext. 12.
    let rest = &text[end..];
    let extension = ["x", " x", " ext. ", " ext ", "ext.", " Ext. "]
        .iter()
        .find_map(|p| {
            let after = rest.strip_prefix(p)?;
            let n = after.bytes().take_while(u8::is_ascii_digit).count();
            (1..=5).contains(&n).then_some(p.len() + n)
        })
        .unwrap_or(0);
    Some(Finding {
        entity: Entity::PhoneNumber,
        start,
        end: end + extension,
        score: match (valid, phone_words) {
            (true, true) => 0.95,
            (true, false) => 0.75,
            _ => 0.7,
        },
        detector: if valid { "phone" } else { "phone_layout" },
    })
}

/// Whether `span` is laid out as a North American number: `NXX-NXX-XXXX` (`-`, `.` or a
/// space between the groups, the same one twice) or `(NXX) NXX-XXXX`, after an optional
/// `+1` or `1` and a separator. The area code need not be assigned.
fn nanp_layout(span: &str) -> bool {
    let b = span.as_bytes();
    let rest = ["+1 ", "+1-", "+1.", "1-", "1 ", "1."]
        .iter()
        .find_map(|p| b.strip_prefix(p.as_bytes()))
        .unwrap_or(b);
    let group = |s: &[u8], n: usize| s.len() >= n && s[..n].iter().all(u8::is_ascii_digit);
    let leads = |s: &[u8]| (b'2'..=b'9').contains(&s[0]);
    let (area, rest) = match rest {
        [b'(', tail @ ..] if group(tail, 3) && tail.get(3) == Some(&b')') => {
            let after = &tail[4..];
            (&tail[..3], after.strip_prefix(b" ").unwrap_or(after))
        }
        _ if group(rest, 3) && matches!(rest.get(3), Some(b'-' | b'.' | b' ')) => {
            (&rest[..3], &rest[3..])
        }
        _ => return false,
    };
    // After `(NXX) ` the exchange follows; after `NXX` its separator, kept for the check below.
    let (sep, rest) = match rest {
        [s @ (b'-' | b'.' | b' '), tail @ ..] if rest.len() == 9 => (Some(*s), tail),
        _ => (None, rest),
    };
    rest.len() == 8
        && group(rest, 3)
        && matches!(rest[3], b'-' | b'.' | b' ')
        && sep.is_none_or(|s| s == rest[3])
        && group(&rest[4..], 4)
        && leads(area)
        && leads(rest)
}

/// Whether `span` is a phone number. International numbers (`+` or `00`) are validated by
/// the `phonenumber` crate against its metadata for their country code (`phone`). National
/// numbers are checked by layout: the North American plan's area and exchange rules for
/// ten-digit numbers, else a trunk prefix 0 with eight to eleven digits in groups.
/// (`phonenumber` is not asked for every region: each would compile its patterns, and a
/// national number would cost the patterns of 250 regions.)
fn valid_phone(span: &str, phone_words: bool) -> bool {
    let digits: Vec<u8> = span.bytes().filter(u8::is_ascii_digit).collect();
    let international = span.starts_with('+') || span.starts_with("00");
    if international {
        // "+44 (0)20 ...": the bracketed trunk 0 is not dialled from abroad.
        let without_trunk;
        let digits = if span.contains("(0)") {
            without_trunk = span
                .replacen("(0)", "", 1)
                .bytes()
                .filter(u8::is_ascii_digit)
                .collect::<Vec<u8>>();
            &without_trunk
        } else {
            &digits
        };
        let body = if span.starts_with("00") {
            &digits[2..]
        } else {
            &digits[..]
        };
        return super::phone::valid_international(body);
    }
    let national = match digits.len() {
        11 if digits[0] == b'1' => &digits[1..],
        _ => &digits[..],
    };
    let nanp = national.len() == 10
        && (b'2'..=b'9').contains(&national[0])
        && national[1] != b'9'
        && (b'2'..=b'9').contains(&national[3])
        && !(national[4] == b'1' && national[5] == b'1');
    if nanp {
        return true;
    }
    let grouped = span
        .bytes()
        .any(|b| matches!(b, b' ' | b'-' | b'.' | b'/' | b')'));
    digits.first() == Some(&b'0') && (9..=12).contains(&digits.len()) && (grouped || phone_words)
}

/// Whether `start..end` is part of a longer run of digits and dashes (`553-56-4954-38`).
fn inside_longer_number(text: &str, start: usize, end: usize) -> bool {
    let b = text.as_bytes();
    let digit_at = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let joined_after = matches!(b.get(end), Some(b'-' | b'/' | b'.')) && digit_at(end + 1);
    let joined_before = start >= 2 && matches!(b[start - 1], b'-' | b'/') && digit_at(start - 2);
    joined_after || joined_before
}

/// `Build 3.5.0.5`, `version 1.2.3.4`, `v2.0.0.1`: four numbers that are a version.
fn version_context(text: &str, at: usize) -> bool {
    let before = text.as_bytes()[at.saturating_sub(12)..at].trim_ascii_end();
    ["build", "version", "ver", "release", "firmware", "v", "v."]
        .iter()
        .any(|w| {
            before.len() >= w.len()
                && before[before.len() - w.len()..].eq_ignore_ascii_case(w.as_bytes())
        })
}

/// Keeps the best of overlapping findings (higher score, then longer, then earlier), sorted
/// by start. Findings that overlap nothing (nearly all) are kept as they are: the choice is
/// only made within each group of findings that overlap one another, which gives the same
/// result as making it over all of them (findings of different groups never clash).
fn resolve(mut found: Vec<Finding>) -> Vec<Finding> {
    found.retain(|f| f.start < f.end);
    // The detectors each give their findings in order: a stable sort merges those runs (and
    // keeps the order of findings that start together, as the choice below expects).
    found.sort_by_key(|f| f.start);
    let mut kept: Vec<Finding> = Vec::with_capacity(found.len());
    let mut from = 0;
    while from < found.len() {
        let mut to = from + 1;
        let mut end = found[from].end;
        while to < found.len() && found[to].start < end {
            end = end.max(found[to].end);
            to += 1;
        }
        if to - from == 1 {
            kept.push(found[from]);
        } else {
            choose(&mut found[from..to], &mut kept);
        }
        from = to;
    }
    kept
}

/// The best findings of a group that overlap one another, appended to `kept` by start.
fn choose(group: &mut [Finding], kept: &mut Vec<Finding>) {
    group.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then((b.end - b.start).cmp(&(a.end - a.start)))
            .then(a.start.cmp(&b.start))
    });
    let first = kept.len();
    for &f in &*group {
        // The group's kept findings are sorted by start: find where f would go and check
        // its neighbours.
        let chosen = &kept[first..];
        let at = chosen.partition_point(|k| k.start < f.start);
        let clashes_before = at > 0 && chosen[at - 1].end > f.start;
        let clashes_after = chosen.get(at).is_some_and(|k| k.start < f.end);
        if !clashes_before && !clashes_after {
            kept.insert(first + at, f);
        }
    }
}

/// Character (code point) offsets of byte offsets, for findings sorted by start.
pub fn char_offsets(text: &str, findings: &[Finding]) -> Vec<(usize, usize)> {
    // In ASCII text (most records) a byte is a character: one check of the whole text
    // instead of a count per finding.
    if text.is_ascii() {
        return findings.iter().map(|f| (f.start, f.end)).collect();
    }
    let mut out = Vec::with_capacity(findings.len());
    let (mut byte, mut chars) = (0usize, 0usize);
    let advance = |to: usize, byte: &mut usize, chars: &mut usize| {
        if to > *byte {
            *chars += text.get(*byte..to).map_or(0, |s| s.chars().count());
            *byte = to;
        }
        *chars
    };
    for f in findings {
        let start = advance(f.start, &mut byte, &mut chars);
        // The end may come after later starts: count it without moving the cursor.
        let end = start + text.get(f.start..f.end).map_or(0, |s| s.chars().count());
        out.push((start, end));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The choice made over all findings at once, best first: what `resolve` must give.
    fn resolve_at_once(mut found: Vec<Finding>) -> Vec<Finding> {
        found.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then((b.end - b.start).cmp(&(a.end - a.start)))
                .then(a.start.cmp(&b.start))
        });
        let mut kept: Vec<Finding> = Vec::new();
        for f in found {
            if f.start < f.end && kept.iter().all(|k| k.end <= f.start || f.end <= k.start) {
                kept.push(f);
            }
        }
        kept.sort_by_key(|f| f.start);
        kept
    }

    proptest! {
        #[test]
        fn choosing_within_groups_is_choosing_over_all(
            spans in proptest::collection::vec((0usize..60, 0usize..12, 0usize..4, 0usize..3), 0..40),
        ) {
            let detectors = ["a", "b", "c"];
            let found: Vec<Finding> = spans
                .iter()
                .map(|&(start, len, score, d)| Finding {
                    entity: Entity::Person,
                    start,
                    end: start + len,
                    #[allow(clippy::cast_precision_loss)] // small numbers
                    score: 0.5 + score as f32 / 8.0,
                    detector: detectors[d],
                })
                .collect();
            prop_assert_eq!(resolve(found.clone()), resolve_at_once(found));
        }
    }
}
