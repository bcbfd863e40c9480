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

pub mod tokenize;

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
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
}

impl Default for FeatureConfig {
    fn default() -> Self {
        FeatureConfig {
            bits: 20,
            bigrams: true,
            max_body_bytes: 32 * 1024,
        }
    }
}

impl FeatureConfig {
    /// Checks the settings; the error says what is allowed.
    pub fn validate(&self) -> Result<(), String> {
        if !(18..=24).contains(&self.bits) {
            return Err(format!("feature bits must be 18 to 24, not {}", self.bits));
        }
        Ok(())
    }

    /// The number of slots.
    pub fn slots(&self) -> usize {
        1 << self.bits
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
    /// A fact or a value taken whole (a domain, `reply`, `hour:09`).
    Fact(String),
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

/// A message's features.
#[derive(Debug, Clone, Default)]
pub struct Features {
    /// The entries, namespace by namespace; an index may repeat across namespaces.
    pub entries: Vec<Feature>,
    /// The body text the body features were read from (for naming them).
    body: String,
    subject: String,
    sender_name: String,
}

impl Features {
    /// Names entry `i` in words, as `namespace: 'text'`.
    pub fn describe(&self, feature: &Feature) -> String {
        let field_text = |field: Field| match field {
            Field::Subject => self.subject.as_str(),
            Field::Body => self.body.as_str(),
            Field::SenderName => self.sender_name.as_str(),
        };
        let slice = |field: Field, r: &Range<u32>| {
            field_text(field)
                .get(r.start as usize..r.end as usize)
                .unwrap_or("?")
                .to_lowercase()
        };
        let what = match &feature.name {
            FeatureName::Token(field, r) => slice(*field, r),
            FeatureName::Pair(field, a, b) => format!("{} {}", slice(*field, a), slice(*field, b)),
            FeatureName::Fact(text) => text.clone(),
        };
        format!("{}: '{}'", feature.namespace.label(), what)
    }
}

/// A hasher for keys that are already xxh3 hashes: it passes them through.
#[derive(Default)]
struct PassThrough(u64);

impl std::hash::Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are hashed here; fold anything else in for completeness.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type HashIndex = HashMap<u64, u32, BuildHasherDefault<PassThrough>>;

/// Counts one namespace's hashed items in order of first appearance, then scales them.
struct Bag<'a> {
    namespace: Namespace,
    bits: u8,
    out: &'a mut Vec<Feature>,
    start: usize,
    counts: Vec<u32>,
    seen: &'a mut HashIndex,
}

impl<'a> Bag<'a> {
    fn new(
        namespace: Namespace,
        bits: u8,
        out: &'a mut Vec<Feature>,
        seen: &'a mut HashIndex,
    ) -> Self {
        seen.clear();
        let start = out.len();
        Bag {
            namespace,
            bits,
            out,
            start,
            counts: Vec::new(),
            seen,
        }
    }

    /// Counts `hash`; `name` is built only the first time it is seen.
    fn push(&mut self, hash: u64, name: impl FnOnce() -> FeatureName) {
        let next = self.counts.len() as u32;
        let slot = *self.seen.entry(hash).or_insert(next);
        if slot == next {
            self.counts.push(1);
            let sign = if hash & 1 == 0 { 1.0 } else { -1.0 };
            self.out.push(Feature {
                index: (hash >> (64 - u32::from(self.bits))) as u32,
                value: sign,
                namespace: self.namespace,
                name: name(),
            });
        } else {
            self.counts[slot as usize] += 1;
        }
    }

    fn fact(&mut self, text: &str) {
        let hash = xxh3_64_with_seed(text.as_bytes(), self.namespace.seed());
        self.push(hash, || FeatureName::Fact(text.to_string()));
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
                    self.push(pair, || FeatureName::Pair(field, prev_span, second));
                }
                previous = Some((hash, span.clone()));
            }
            self.push(hash, || FeatureName::Token(field, span));
        });
    }

    /// Scales each entry by `1 + ln(count)` (its sign kept) and the namespace to unit L2 norm.
    fn finish(self) {
        let entries = &mut self.out[self.start..];
        let mut norm = 0.0f32;
        for (entry, &count) in entries.iter_mut().zip(&self.counts) {
            entry.value *= 1.0 + (count as f32).ln();
            norm += entry.value * entry.value;
        }
        let norm = norm.sqrt();
        if norm > 0.0 {
            for entry in entries {
                entry.value /= norm;
            }
        }
    }
}

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

/// Extracts the features of a redacted message.
pub fn extract(message: &Redacted, config: &FeatureConfig) -> Features {
    let email = message.email();
    let h = &email.headers;
    let subject = h.subject.clone().unwrap_or_default();
    let sender_name = h
        .from
        .as_ref()
        .and_then(|m| m.name.clone())
        .unwrap_or_default();
    let mut body = prefix(&email.body.text, config.max_body_bytes).to_string();
    for forwarded in &email.forwarded {
        if body.len() >= config.max_body_bytes {
            break;
        }
        body.push('\n');
        body.push_str(prefix(&forwarded.text, config.max_body_bytes - body.len()));
    }

    let mut entries = Vec::with_capacity(256);
    SEEN.with_borrow_mut(|seen| {
        fill(
            message,
            config,
            &subject,
            &sender_name,
            &body,
            &mut entries,
            seen,
        );
    });
    Features {
        entries,
        body,
        subject,
        sender_name,
    }
}

thread_local! {
    /// The counting map, kept per thread so that it is not grown anew for every message.
    static SEEN: std::cell::RefCell<HashIndex> = std::cell::RefCell::new(HashIndex::with_capacity_and_hasher(4096, BuildHasherDefault::default()));
}

/// Fills `entries` namespace by namespace.
fn fill(
    message: &Redacted,
    config: &FeatureConfig,
    subject: &str,
    sender_name: &str,
    body: &str,
    entries: &mut Vec<Feature>,
    seen: &mut HashIndex,
) {
    let bits = config.bits;
    let email = message.email();
    let h = &email.headers;

    let mut bag = Bag::new(Namespace::Subject, bits, entries, seen);
    bag.text(Field::Subject, subject, config.bigrams);
    bag.finish();

    let mut bag = Bag::new(Namespace::Body, bits, entries, seen);
    bag.text(Field::Body, body, config.bigrams);
    bag.finish();

    let mut bag = Bag::new(Namespace::SenderName, bits, entries, seen);
    bag.text(Field::SenderName, sender_name, false);
    bag.finish();

    let mut bag = Bag::new(Namespace::SenderDomain, bits, entries, seen);
    if let Some(domain) = h
        .from
        .as_ref()
        .and_then(|m| m.address.as_deref())
        .and_then(domain_of)
    {
        if let Some(parent) = parent_domain(&domain) {
            if parent != domain {
                bag.fact(parent);
            }
        }
        bag.fact(&domain);
    } else {
        bag.fact("(none)");
    }
    bag.finish();

    let mut bag = Bag::new(Namespace::Attachment, bits, entries, seen);
    for attachment in &email.attachments {
        bag.fact(&attachment.content_type);
        if let Some(ext) = attachment
            .name
            .as_deref()
            .and_then(|n| n.rsplit_once('.'))
            .map(|(_, e)| e.to_ascii_lowercase())
            .filter(|e| e.len() <= 8)
        {
            bag.fact(&format!(".{ext}"));
        }
    }
    bag.finish();

    let mut bag = Bag::new(Namespace::LinkDomain, bits, entries, seen);
    for link in &email.body.links {
        let host = link
            .split_once("://")
            .map_or(link.as_str(), |(_, rest)| rest)
            .split(['/', '?', '#', ':'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        if !host.is_empty() {
            bag.fact(&host);
        }
    }
    bag.finish();

    let mut bag = Bag::new(Namespace::Header, bits, entries, seen);
    header_facts(message, subject, &mut bag);
    bag.finish();
}

/// Facts about the headers and structure, each a token of the header namespace.
fn header_facts(message: &Redacted, subject: &str, bag: &mut Bag<'_>) {
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
        bag.fact(&format!("list:{list}"));
    }
    for (name, value) in [("precedence", &h.precedence), ("auto", &h.auto_submitted)] {
        if let Some(value) = value {
            bag.fact(&format!("{name}:{value}"));
        }
    }
    if let Some(priority) = h.priority {
        bag.fact(&format!("priority:{priority:?}"));
    }
    bag.fact(&format!("to:{}", bucket(h.to_count)));
    bag.fact(&format!("cc:{}", bucket(h.cc_count)));
    bag.fact(&format!("links:{}", bucket(email.body.links.len())));
    bag.fact(&format!("attachments:{}", bucket(email.attachments.len())));
    bag.fact(&format!("type:{}", email.body.content_type));
    if email.body.html_only {
        bag.fact("html only");
    }
    for charset in &email.body.charsets {
        bag.fact(&format!("charset:{charset}"));
    }
    for defect in &email.defects {
        bag.fact(&format!("defect:{}", defect.kind.as_str()));
    }
    // The sender's local hour: the hour field of the RFC 3339 date.
    if let Some(hour) = h.date.as_deref().and_then(|d| d.get(11..13)) {
        bag.fact(&format!("hour:{hour}"));
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
