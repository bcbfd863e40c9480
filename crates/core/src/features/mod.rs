//! `Redacted` becomes `Features`: a sparse vector of hashed features, and enough about each
//! entry to name it in words ("subject: 'invoice overdue'", "sender domain: example.com").
//!
//! Features live in namespaces (subject, body, sender, attachments, links, header facts).
//! Each token (or pair of adjacent tokens) is hashed with xxh3 and a fixed per-namespace
//! seed: the same text gives the same features on every machine and in every version, which
//! model files and shard merging rely on. The top bits of the hash pick one of 2^bits slots,
//! the lowest bit a sign (so collisions cancel rather than add up). Within a namespace a
//! feature's value is `1 + ln(count)`, and the namespace is scaled to unit L2 norm, so a long
//! body does not drown the subject.
//!
//! Optionally ([`FeatureConfig::char_ngrams`]), the words of the subject and body also give
//! their character n-grams, as fastText's subwords: the word is framed by `<` and `>`, and
//! every run of `min` to `max` characters of the framed word is a feature of the subject's
//! or the body's character namespace (the framed word itself is left out: it is the word's
//! own feature). Misspelt and obfuscated words (`v1agra`, `unsubscribeing`) and new words
//! then share most of their features with words the model has seen.

pub mod tokenize;

use std::borrow::Cow;
use std::fmt::Write as _;
use std::ops::Range;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::privacy::Redacted;
use tokenize::{tokenize, TokenKind};

/// How features are made; saved in every model file, since a model only works with the
/// settings it was trained with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureConfig {
    /// log2 of the number of slots (18 to 24).
    pub bits: u8,
    /// Add pairs of adjacent tokens in the subject and body.
    pub bigrams: bool,
    /// Body text beyond this many bytes is not read (a long body adds little but time).
    pub max_body_bytes: usize,
    /// Character n-grams of the subject's and body's words, or none. Files written before
    /// the setting existed have none; a model without them writes no such field, so that
    /// older builds still read its file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub char_ngrams: Option<CharNgrams>,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        FeatureConfig {
            bits: 20,
            bigrams: true,
            max_body_bytes: 32 * 1024,
            char_ngrams: None,
        }
    }
}

impl FeatureConfig {
    /// Checks the settings; the error says what is allowed.
    pub fn validate(&self) -> Result<(), String> {
        if !(18..=24).contains(&self.bits) {
            return Err(format!("feature bits must be 18 to 24, not {}", self.bits));
        }
        if let Some(n) = self.char_ngrams {
            n.validate()?;
        }
        Ok(())
    }

    /// The number of slots.
    pub fn slots(&self) -> usize {
        1 << self.bits
    }
}

/// The lengths of the character n-grams taken from each word, in characters, counting the
/// `<` and `>` that frame the word: `3-5` reads `<free>` as `<fr`, `fre`, `ree`, `ee>`,
/// `<fre`, `free`, `ree>` and `<free`, `free>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CharNgrams {
    /// The shortest n-gram.
    pub min: u8,
    /// The longest n-gram.
    pub max: u8,
}

impl CharNgrams {
    /// The longest n-gram allowed: longer ones are nearly whole words, which the word
    /// features already are.
    pub const LONGEST: u8 = 8;

    /// Checks the lengths; the error says what is allowed.
    pub fn validate(self) -> Result<(), String> {
        if self.min < 2 || self.max > Self::LONGEST || self.min > self.max {
            return Err(format!(
                "character n-grams must be N-M with 2 <= N <= M <= {}, not {self}",
                Self::LONGEST
            ));
        }
        Ok(())
    }
}

impl std::fmt::Display for CharNgrams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.min == self.max {
            write!(f, "{}", self.min)
        } else {
            write!(f, "{}-{}", self.min, self.max)
        }
    }
}

impl std::str::FromStr for CharNgrams {
    type Err = String;

    /// `N-M` (lengths N to M) or `N` (length N only), checked.
    fn from_str(s: &str) -> Result<Self, String> {
        let number = |t: &str| {
            t.trim()
                .parse::<u8>()
                .map_err(|_| format!("character n-grams: `{s}` is not N-M or N (as in 3-5)"))
        };
        let n = if let Some((min, max)) = s.split_once('-') {
            CharNgrams {
                min: number(min)?,
                max: number(max)?,
            }
        } else {
            let n = number(s)?;
            CharNgrams { min: n, max: n }
        };
        n.validate()?;
        Ok(n)
    }
}

/// Where a feature comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Namespace {
    /// Words and word pairs of the subject.
    Subject,
    /// Words and word pairs of the body (and forwarded messages' text).
    Body,
    /// The sender's domain and its parent domain.
    SenderDomain,
    /// Words of the sender's display name.
    SenderName,
    /// Attachment types and file extensions.
    Attachment,
    /// Domains of HTML link targets.
    LinkDomain,
    /// Facts from the headers and structure: reply, forward, list mail, recipients, hour...
    Header,
    /// Character n-grams of the subject's words.
    SubjectChars,
    /// Character n-grams of the body's words.
    BodyChars,
}

impl Namespace {
    /// The namespace's fixed hash seed. Never change one: saved models depend on it.
    fn seed(self) -> u64 {
        match self {
            Namespace::Subject => 0x5ab1_ec70_0000_0001,
            Namespace::Body => 0xb0d7_0000_0000_0002,
            Namespace::SenderDomain => 0x5e4d_d0a1_0000_0003,
            Namespace::SenderName => 0x5e4d_4a3e_0000_0004,
            Namespace::Attachment => 0xa77a_c400_0000_0005,
            Namespace::LinkDomain => 0x1140_d0a1_0000_0006,
            Namespace::Header => 0x4ead_e400_0000_0007,
            Namespace::SubjectChars => 0x5ab1_c4a2_0000_0008,
            Namespace::BodyChars => 0xb0d7_c4a2_0000_0009,
        }
    }

    /// The namespace in words, for explanations.
    pub fn label(self) -> &'static str {
        match self {
            Namespace::Subject => "subject",
            Namespace::Body => "body",
            Namespace::SenderDomain => "sender domain",
            Namespace::SenderName => "sender name",
            Namespace::Attachment => "attachment",
            Namespace::LinkDomain => "link domain",
            Namespace::Header => "header",
            Namespace::SubjectChars => "subject characters",
            Namespace::BodyChars => "body characters",
        }
    }
}

/// Seed mixed in for pairs of tokens, so a pair never hashes like a single token.
const PAIR_SEED: u64 = 0x9a12_0000_0000_00b1;

/// The hash of two adjacent tokens from their own hashes: order matters, and the `SplitMix64`
/// finaliser spreads the bits. Fixed forever, like the seeds.
fn pair_hash(first: u64, second: u64, seed: u64) -> u64 {
    let mut x = first.rotate_left(23) ^ second ^ seed ^ PAIR_SEED;
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The text a feature was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The decoded subject.
    Subject,
    /// The body text as read for features.
    Body,
    /// The sender's display name.
    SenderName,
}

/// What a feature is, in terms that can be put into words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeatureName {
    /// One token of a text field.
    Token(Field, Range<u32>),
    /// Two adjacent tokens of a text field.
    Pair(Field, Range<u32>, Range<u32>),
    /// A fact or a value taken whole (a domain, `reply`, `hour:09`), or a character n-gram
    /// (`<fre`): its span in the message's fact text (see [`Features::describe`]).
    Fact(Range<u32>),
}

/// One entry of the sparse vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Feature {
    /// Slot index.
    pub index: u32,
    /// Signed, scaled value.
    pub value: f32,
    /// Its namespace.
    pub namespace: Namespace,
    /// What it is.
    pub name: FeatureName,
}

/// A message's features; they borrow the message's text, to name themselves.
#[derive(Debug, Clone, Default)]
pub struct Features<'a> {
    /// The entries, namespace by namespace; an index may repeat across namespaces.
    pub entries: Vec<Feature>,
    /// The body text the body features were read from (borrowed unless forwarded
    /// messages' text was appended).
    body: Cow<'a, str>,
    subject: &'a str,
    sender_name: &'a str,
    /// The texts of the facts, one after another (each fact names its span).
    facts: String,
}

impl Features<'_> {
    /// Names entry `i` in words, as `namespace: 'text'`.
    pub fn describe(&self, feature: &Feature) -> String {
        let field_text = |field: Field| match field {
            Field::Subject => self.subject,
            Field::Body => &self.body,
            Field::SenderName => self.sender_name,
        };
        let slice = |field: Field, r: &Range<u32>| {
            field_text(field)
                .get(r.start as usize..r.end as usize)
                .unwrap_or("?")
        };
        // Written into one string: a decision names several features, and the formatting
        // machinery with a string per part cost more than the rest of naming them.
        let label = feature.namespace.label();
        let mut out = String::with_capacity(label.len() + 40);
        out.push_str(label);
        out.push_str(": '");
        match &feature.name {
            FeatureName::Token(field, r) => push_lowercase(&mut out, slice(*field, r)),
            FeatureName::Pair(field, a, b) => {
                push_lowercase(&mut out, slice(*field, a));
                out.push(' ');
                push_lowercase(&mut out, slice(*field, b));
            }
            FeatureName::Fact(r) => out.push_str(
                self.facts
                    .get(r.start as usize..r.end as usize)
                    .unwrap_or("?"),
            ),
        }
        out.push('\'');
        out
    }
}

/// Appends `text` lower-cased, as `str::to_lowercase` has it (ASCII without a new string).
fn push_lowercase(out: &mut String, text: &str) {
    if text.is_ascii() {
        out.extend(text.bytes().map(|b| char::from(b.to_ascii_lowercase())));
    } else {
        out.push_str(&text.to_lowercase());
    }
}

/// An open-addressing table from feature hash to entry, kept per thread and cleared slot by
/// slot, so that counting a message's tokens neither allocates nor rehashes a map.
struct Table {
    /// 0: empty; else the entry's index + 1.
    slots: Vec<u32>,
    /// Slots filled for the namespace being counted, to clear them afterwards.
    used: Vec<u32>,
    /// The words met so far in a character n-gram namespace.
    words: Words,
}

impl Table {
    fn new() -> Self {
        Table {
            slots: vec![0; 1 << 12],
            used: Vec::with_capacity(1 << 10),
            words: Words::new(),
        }
    }

    fn clear(&mut self) {
        for &slot in &self.used {
            self.slots[slot as usize] = 0;
        }
        self.used.clear();
    }
}

/// The words whose character n-grams were counted in the namespace being built, each with
/// its n-grams' entries, so that a word met again (most of a body's words are repeats)
/// counts them again without hashing and probing for each. Kept per thread in [`Table`],
/// and cleared word by word.
struct Words {
    /// 0: empty; else the word's index + 1.
    slots: Vec<u32>,
    used: Vec<u32>,
    /// Per word: its hash, and where its n-grams' entry indices lie in `grams`.
    hashes: Vec<u64>,
    ranges: Vec<(u32, u32)>,
    /// The entry index of each n-gram of each word, word after word.
    grams: Vec<u32>,
}

impl Words {
    fn new() -> Self {
        Words {
            slots: vec![0; 1 << 10],
            used: Vec::new(),
            hashes: Vec::new(),
            ranges: Vec::new(),
            grams: Vec::new(),
        }
    }

    fn clear(&mut self) {
        for &slot in &self.used {
            self.slots[slot as usize] = 0;
        }
        self.used.clear();
        self.hashes.clear();
        self.ranges.clear();
        self.grams.clear();
    }

    /// The word with this hash: `Ok(its index)`, or `Err(the slot it would take)`.
    fn find(&mut self, hash: u64) -> Result<usize, usize> {
        if 2 * (self.hashes.len() + 1) > self.slots.len() {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut at = (hash >> 17) as usize & mask;
        loop {
            let slot = self.slots[at];
            if slot == 0 {
                return Err(at);
            }
            let i = slot as usize - 1;
            if self.hashes[i] == hash {
                return Ok(i);
            }
            at = (at + 1) & mask;
        }
    }

    /// Adds a word at the slot [`Words::find`] gave, its n-grams being `grams[from..]`.
    fn insert(&mut self, at: usize, hash: u64, from: usize) {
        self.slots[at] = self.hashes.len() as u32 + 1;
        self.used.push(at as u32);
        self.hashes.push(hash);
        self.ranges.push((from as u32, self.grams.len() as u32));
    }

    #[cold]
    fn grow(&mut self) {
        let size = self.slots.len() * 2;
        self.slots.clear();
        self.slots.resize(size, 0);
        self.used.clear();
        let mask = size - 1;
        for (i, hash) in self.hashes.iter().enumerate() {
            let mut at = (hash >> 17) as usize & mask;
            while self.slots[at] != 0 {
                at = (at + 1) & mask;
            }
            self.slots[at] = i as u32 + 1;
            self.used.push(at as u32);
        }
    }
}

/// Builds the entries of one message, namespace by namespace.
struct Builder<'t> {
    bits: u8,
    entries: Vec<Feature>,
    /// Per entry: its full hash (to tell colliding slots of the table apart) and its count,
    /// side by side: a probe that finds its entry counts it in the same cache line.
    seen: Vec<(u64, u32)>,
    facts: String,
    scratch: String,
    table: &'t mut Table,
    namespace: Namespace,
    /// Where the current namespace's entries start.
    start: usize,
}

impl<'t> Builder<'t> {
    /// A builder for about `expected` entries and `fact_bytes` of fact text (reserved at
    /// once: growing the vectors entry by entry costs more than a generous first guess).
    fn new(bits: u8, table: &'t mut Table, expected: usize, fact_bytes: usize) -> Self {
        table.clear();
        Builder {
            bits,
            entries: Vec::with_capacity(expected),
            seen: Vec::with_capacity(expected),
            facts: String::with_capacity(fact_bytes),
            // Room for a fact written in pieces (`field:` and a name), not grown per message.
            scratch: String::with_capacity(64),
            table,
            namespace: Namespace::Subject,
            start: 0,
        }
    }

    /// Starts counting a namespace.
    fn begin(&mut self, namespace: Namespace) {
        self.namespace = namespace;
        self.start = self.entries.len();
    }

    /// Counts `hash`; `name` is built only the first time it is seen. Returns its entry.
    #[inline]
    fn push(&mut self, hash: u64, name: impl FnOnce(&mut String) -> FeatureName) -> usize {
        // Keep the table at most half full, so that probes stay short.
        if 2 * (self.entries.len() - self.start + 1) > self.table.slots.len() {
            self.grow();
        }
        let mask = self.table.slots.len() - 1;
        // The top bits pick the slot and the lowest the sign: probe with the middle ones.
        let mut at = (hash >> 17) as usize & mask;
        loop {
            let slot = self.table.slots[at];
            if slot == 0 {
                break;
            }
            let i = slot as usize - 1;
            let (known, count) = &mut self.seen[i];
            if *known == hash {
                *count += 1;
                return i;
            }
            at = (at + 1) & mask;
        }
        let i = self.entries.len();
        self.table.slots[at] = i as u32 + 1;
        self.table.used.push(at as u32);
        self.seen.push((hash, 1));
        let sign = if hash & 1 == 0 { 1.0 } else { -1.0 };
        self.entries.push(Feature {
            index: (hash >> (64 - u32::from(self.bits))) as u32,
            value: sign,
            namespace: self.namespace,
            name: name(&mut self.facts),
        });
        i
    }

    /// Doubles the table and puts the current namespace's entries back in.
    #[cold]
    fn grow(&mut self) {
        let size = self.table.slots.len() * 2;
        self.table.slots.clear();
        self.table.slots.resize(size, 0);
        self.table.used.clear();
        let mask = size - 1;
        for i in self.start..self.entries.len() {
            let mut at = (self.seen[i].0 >> 17) as usize & mask;
            while self.table.slots[at] != 0 {
                at = (at + 1) & mask;
            }
            self.table.slots[at] = i as u32 + 1;
            self.table.used.push(at as u32);
        }
    }

    fn fact(&mut self, text: &str) {
        let hash = xxh3_64_with_seed(text.as_bytes(), self.namespace.seed());
        self.push(hash, |facts| {
            let start = facts.len() as u32;
            facts.push_str(text);
            FeatureName::Fact(start..facts.len() as u32)
        });
    }

    /// A fact made of `parts` joined (`field:` and a name): put together without the
    /// formatting machinery, which cost more than the rest of a fact.
    fn fact_parts(&mut self, parts: &[&str]) {
        self.fact_in_scratch(|text| parts.iter().for_each(|part| text.push_str(part)));
    }

    /// A fact written with `format_args!`, without allocating for it.
    fn fact_fmt(&mut self, args: std::fmt::Arguments<'_>) {
        // Writing into a String cannot fail.
        self.fact_in_scratch(|text| {
            let _ = text.write_fmt(args);
        });
    }

    /// A fact written by `write` into the reused scratch string.
    fn fact_in_scratch(&mut self, write: impl FnOnce(&mut String)) {
        let mut text = std::mem::take(&mut self.scratch);
        text.clear();
        write(&mut text);
        self.fact(&text);
        self.scratch = text;
    }

    /// Tokens of a text field, and pairs of adjacent tokens when `pairs` is set.
    fn text(&mut self, field: Field, text: &str, pairs: bool) {
        let seed = self.namespace.seed();
        let mut previous: Option<(u64, Range<u32>)> = None;
        tokenize(text, |_kind: TokenKind, token, span| {
            let span = span.start as u32..span.end as u32;
            let hash = xxh3_64_with_seed(token.as_bytes(), seed);
            if pairs {
                if let Some((prev_hash, prev_span)) = previous.take() {
                    let pair = pair_hash(prev_hash, hash, seed);
                    let second = span.clone();
                    self.push(pair, |_| FeatureName::Pair(field, prev_span, second));
                }
                previous = Some((hash, span.clone()));
            }
            self.push(hash, |_| FeatureName::Token(field, span));
        });
    }

    /// Character n-grams of the words of a text field (numbers, URLs and addresses have
    /// none): each word is framed as `<word>` in a buffer reused for every word, and each
    /// run of `n.min` to `n.max` characters of it, but the whole framed word, is hashed
    /// where it lies; its text is copied only the first time the message has it. A word met
    /// before in the field counts its n-grams' entries again, from [`Words`].
    fn chars(&mut self, text: &str, n: CharNgrams) {
        let seed = self.namespace.seed();
        let (min, max) = (usize::from(n.min), usize::from(n.max));
        let mut framed = String::with_capacity(tokenize::MAX_TOKEN + 2);
        // The byte offset of each character of the framed word, and its end.
        let mut starts = [0u8; tokenize::MAX_TOKEN + 3];
        self.table.words.clear();
        tokenize(text, |kind: TokenKind, token, _| {
            if kind != TokenKind::Word || token.len() > tokenize::MAX_TOKEN {
                return;
            }
            let word = xxh3_64_with_seed(token.as_bytes(), seed);
            let at = match self.table.words.find(word) {
                Ok(known) => {
                    let (from, to) = self.table.words.ranges[known];
                    for k in from..to {
                        self.seen[self.table.words.grams[k as usize] as usize].1 += 1;
                    }
                    return;
                }
                Err(at) => at,
            };
            let from = self.table.words.grams.len();
            framed.clear();
            framed.push('<');
            framed.push_str(token);
            framed.push('>');
            let mut count = 0;
            for (i, &b) in framed.as_bytes().iter().enumerate() {
                // Not a UTF-8 continuation byte: a character starts here.
                if b & 0xc0 != 0x80 {
                    starts[count] = i as u8;
                    count += 1;
                }
            }
            starts[count] = framed.len() as u8;
            for first in 0..count {
                for len in min..=max.min(count - first) {
                    if len == count {
                        continue;
                    }
                    let gram =
                        &framed[usize::from(starts[first])..usize::from(starts[first + len])];
                    let hash = xxh3_64_with_seed(gram.as_bytes(), seed);
                    let entry = self.push(hash, |facts| {
                        let start = facts.len() as u32;
                        facts.push_str(gram);
                        FeatureName::Fact(start..facts.len() as u32)
                    });
                    self.table.words.grams.push(entry as u32);
                }
            }
            self.table.words.insert(at, word, from);
        });
        self.table.words.clear();
    }

    /// Scales the namespace's entries by `1 + ln(count)` (sign kept) and to unit L2 norm,
    /// and empties the table for the next namespace.
    fn finish(&mut self) {
        let entries = &mut self.entries[self.start..];
        let seen = &self.seen[self.start..];
        let mut norm = 0.0f32;
        let scales = &*COUNT_SCALES;
        for (entry, &(_, count)) in entries.iter_mut().zip(seen) {
            if count > 1 {
                entry.value *= scales
                    .get(count as usize)
                    .copied()
                    .unwrap_or_else(|| count_scale(count));
            }
            norm += entry.value * entry.value;
        }
        let norm = norm.sqrt();
        if norm > 0.0 {
            for entry in entries {
                entry.value /= norm;
            }
        }
        self.table.clear();
    }
}

/// A count's scale, `1 + ln(count)`.
fn count_scale(count: u32) -> f32 {
    1.0 + (count as f32).ln()
}

/// [`count_scale`] of the counts most features have, worked out once: the same values to the
/// bit, without a logarithm for every feature seen more than once.
static COUNT_SCALES: std::sync::LazyLock<Vec<f32>> =
    std::sync::LazyLock::new(|| (0..256).map(count_scale).collect());

/// Cuts `text` to at most `max` bytes on a character boundary.
fn prefix(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn bucket(n: usize) -> &'static str {
    match n {
        0 => "0",
        1 => "1",
        2..=5 => "2-5",
        6..=20 => "6-20",
        _ => "21+",
    }
}

/// The registered domain's likely parent: the last two labels (`mail.example.com` ->
/// `example.com`).
fn parent_domain(domain: &str) -> Option<&str> {
    let mut dots = domain.rmatch_indices('.');
    dots.next()?;
    dots.next().map(|(i, _)| &domain[i + 1..])
}

fn domain_of(address: &str) -> Option<String> {
    let (_, domain) = address.rsplit_once('@')?;
    let domain = domain.trim().trim_end_matches('>').to_ascii_lowercase();
    (!domain.is_empty()).then_some(domain)
}

fn starts_with_any(subject: &str, prefixes: &[&str]) -> bool {
    let lower = subject.trim_start().to_ascii_lowercase();
    prefixes.iter().any(|p| lower.starts_with(p))
}

/// A mailer's family without its version: `Microsoft Outlook Express 6.00.2600` ->
/// `microsoft outlook express`, `Mutt/1.4i` -> `mutt`.
fn mailer_family(mailer: &str) -> String {
    let end = mailer
        .find(|c: char| c.is_ascii_digit() || matches!(c, '(' | '[' | ';' | '/' | ','))
        .unwrap_or(mailer.len());
    let words: Vec<&str> = mailer[..end].split_whitespace().take(4).collect();
    let family = words.join(" ").to_lowercase();
    if family.is_empty() {
        "(other)".to_string()
    } else {
        family
    }
}

/// Extracts the features of a redacted message.
pub fn extract<'a>(message: &'a Redacted, config: &FeatureConfig) -> Features<'a> {
    let email = message.email();
    let h = &email.headers;
    let subject = h.subject.as_deref().unwrap_or_default();
    let sender_name = h
        .from
        .as_ref()
        .and_then(|m| m.name.as_deref())
        .unwrap_or_default();
    let mut body = Cow::Borrowed(prefix(&email.body.text, config.max_body_bytes));
    for forwarded in &email.forwarded {
        if body.len() >= config.max_body_bytes {
            break;
        }
        let room = config.max_body_bytes - body.len();
        if let Cow::Borrowed(first) = body {
            // Sized once for what the forwarded texts add (up to the cap), not moved as
            // each is appended.
            let added: usize = email.forwarded.iter().map(|f| f.text.len() + 1).sum();
            let mut owned = String::with_capacity(first.len() + added.min(room));
            owned.push_str(first);
            body = Cow::Owned(owned);
        }
        let text = body.to_mut();
        text.push('\n');
        text.push_str(prefix(&forwarded.text, room.saturating_sub(1)));
    }
    let (entries, facts) = TABLE.with_borrow_mut(|table| {
        // Distinct words and pairs run to about a third of the body's bytes on real mail;
        // character n-grams add up to one entry per byte of text (three in four on the
        // SpamAssassin corpus), each with its text (four bytes or so) among the facts.
        let chars = if config.char_ngrams.is_some() {
            subject.len() + body.len()
        } else {
            0
        };
        let expected = 128 + body.len() / 3 + chars;
        // The header facts' texts (sender domain, mailer, content types...) take a few
        // hundred bytes: room for them at once instead of growing from nothing (seven
        // moves a message).
        let mut builder = Builder::new(config.bits, table, expected, 512 + 4 * chars);
        fill(message, config, subject, sender_name, &body, &mut builder);
        (builder.entries, builder.facts)
    });
    Features {
        entries,
        body,
        subject,
        sender_name,
        facts,
    }
}

thread_local! {
    /// The counting table, kept per thread so that it is not allocated for every message.
    static TABLE: std::cell::RefCell<Table> = std::cell::RefCell::new(Table::new());
}

/// Fills the builder namespace by namespace.
fn fill(
    message: &Redacted,
    config: &FeatureConfig,
    subject: &str,
    sender_name: &str,
    body: &str,
    b: &mut Builder<'_>,
) {
    let email = message.email();
    let h = &email.headers;

    b.begin(Namespace::Subject);
    b.text(Field::Subject, subject, config.bigrams);
    b.finish();

    b.begin(Namespace::Body);
    b.text(Field::Body, body, config.bigrams);
    b.finish();

    b.begin(Namespace::SenderName);
    b.text(Field::SenderName, sender_name, false);
    b.finish();

    b.begin(Namespace::SenderDomain);
    if let Some(domain) = h
        .from
        .as_ref()
        .and_then(|m| m.address.as_deref())
        .and_then(domain_of)
    {
        if let Some(parent) = parent_domain(&domain) {
            if parent != domain {
                b.fact(parent);
            }
        }
        b.fact(&domain);
    } else {
        b.fact("(none)");
    }
    b.finish();

    b.begin(Namespace::Attachment);
    for attachment in &email.attachments {
        b.fact(&attachment.content_type);
        if let Some(ext) = attachment
            .name
            .as_deref()
            .and_then(|n| n.rsplit_once('.'))
            .map(|(_, e)| e)
            .filter(|e| e.len() <= 8)
        {
            b.fact_fmt(format_args!(".{}", ext.to_ascii_lowercase()));
        }
    }
    b.finish();

    b.begin(Namespace::LinkDomain);
    for link in &email.body.links {
        let host = link
            .split_once("://")
            .map_or(link.as_str(), |(_, rest)| rest)
            .split(['/', '?', '#', ':'])
            .next()
            .unwrap_or("");
        if !host.is_empty() {
            if host.bytes().any(|c| c.is_ascii_uppercase()) {
                b.fact(&host.to_ascii_lowercase());
            } else {
                b.fact(host);
            }
        }
    }
    b.finish();

    b.begin(Namespace::Header);
    header_facts(message, subject, b);
    b.finish();

    if let Some(n) = config.char_ngrams {
        b.begin(Namespace::SubjectChars);
        b.chars(subject, n);
        b.finish();

        b.begin(Namespace::BodyChars);
        b.chars(body, n);
        b.finish();
    }
}

/// Facts about the headers and structure, each a token of the header namespace.
fn header_facts(message: &Redacted, subject: &str, bag: &mut Builder<'_>) {
    let email = message.email();
    let h = &email.headers;
    if !h.in_reply_to.is_empty() || starts_with_any(subject, &["re:", "aw:", "sv:", "antw:"]) {
        bag.fact("reply");
    }
    if !email.forwarded.is_empty() || starts_with_any(subject, &["fwd:", "fw:", "wg:", "tr:"]) {
        bag.fact("forward");
    }
    if let Some(list) = &h.list_id {
        bag.fact("list");
        bag.fact_parts(&["list:", list]);
    }
    for (name, value) in [("precedence", &h.precedence), ("auto", &h.auto_submitted)] {
        if let Some(value) = value {
            bag.fact_parts(&[name, ":", value]);
        }
    }
    if let Some(priority) = h.priority {
        bag.fact_fmt(format_args!("priority:{priority:?}"));
    }
    bag.fact_parts(&["to:", bucket(h.to_count)]);
    bag.fact_parts(&["cc:", bucket(h.cc_count)]);
    bag.fact_parts(&["links:", bucket(email.body.links.len())]);
    bag.fact_parts(&["attachments:", bucket(email.attachments.len())]);
    bag.fact_parts(&["type:", &email.body.content_type]);
    if email.body.html_only {
        bag.fact("html only");
    }
    for charset in &email.body.charsets {
        bag.fact_parts(&["charset:", charset]);
    }
    for defect in &email.defects {
        bag.fact_parts(&["defect:", defect.kind.as_str()]);
    }
    // The sender's local hour: the hour field of the RFC 3339 date.
    if let Some(hour) = h.date.as_deref().and_then(|d| d.get(11..13)) {
        bag.fact_parts(&["hour:", hour]);
    }
    if let (Some(from), Some(reply)) = (
        h.from
            .as_ref()
            .and_then(|m| m.address.as_deref())
            .and_then(domain_of),
        h.reply_to
            .as_ref()
            .and_then(|m| m.address.as_deref())
            .and_then(domain_of),
    ) {
        if from != reply {
            bag.fact("reply-to elsewhere");
        }
    }
    for name in &h.field_names {
        bag.fact_parts(&["field:", name]);
    }
    if let Some(mailer) = h.mailer.as_deref().map(mailer_family) {
        bag.fact_parts(&["mailer:", &mailer]);
    }
    bag.fact_parts(&["received:", bucket(h.received)]);
    let letters: Vec<char> = subject.chars().filter(|c| c.is_alphabetic()).collect();
    if letters.len() >= 8 && letters.iter().all(|c| !c.is_lowercase()) {
        bag.fact("subject in capitals");
    }
    if subject.contains('!') {
        bag.fact("subject has !");
    }
    if subject.contains('$') || subject.contains('€') {
        bag.fact("subject has currency");
    }
}

#[cfg(test)]
mod tests;
