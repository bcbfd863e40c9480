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
    /// A fact or a value taken whole (a domain, `reply`, `hour:09`): its span in the
    /// message's fact text (see [`Features::describe`]).
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
                .to_lowercase()
        };
        let what = match &feature.name {
            FeatureName::Token(field, r) => slice(*field, r),
            FeatureName::Pair(field, a, b) => format!("{} {}", slice(*field, a), slice(*field, b)),
            FeatureName::Fact(r) => self
                .facts
                .get(r.start as usize..r.end as usize)
                .unwrap_or("?")
                .to_string(),
        };
        format!("{}: '{}'", feature.namespace.label(), what)
    }
}

/// An open-addressing table from feature hash to entry, kept per thread and cleared slot by
/// slot, so that counting a message's tokens neither allocates nor rehashes a map.
struct Table {
    /// 0: empty; else the entry's index + 1.
    slots: Vec<u32>,
    /// Slots filled for the namespace being counted, to clear them afterwards.
    used: Vec<u32>,
}

impl Table {
    fn new() -> Self {
        Table {
            slots: vec![0; 1 << 12],
            used: Vec::with_capacity(1 << 10),
        }
    }

    fn clear(&mut self) {
        for &slot in &self.used {
            self.slots[slot as usize] = 0;
        }
        self.used.clear();
    }
}

/// Builds the entries of one message, namespace by namespace.
struct Builder<'t> {
    bits: u8,
    entries: Vec<Feature>,
    /// Per entry: its full hash (to tell colliding slots of the table apart) and its count.
    hashes: Vec<u64>,
    counts: Vec<u32>,
    facts: String,
    scratch: String,
    table: &'t mut Table,
    namespace: Namespace,
    /// Where the current namespace's entries start.
    start: usize,
}

impl<'t> Builder<'t> {
    /// A builder for about `expected` entries (reserved at once: growing three vectors
    /// entry by entry costs more than a generous first guess).
    fn new(bits: u8, table: &'t mut Table, expected: usize) -> Self {
        table.clear();
        Builder {
            bits,
            entries: Vec::with_capacity(expected),
            hashes: Vec::with_capacity(expected),
            counts: Vec::with_capacity(expected),
            facts: String::new(),
            scratch: String::new(),
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

    /// Counts `hash`; `name` is built only the first time it is seen.
    #[inline]
    fn push(&mut self, hash: u64, name: impl FnOnce(&mut String) -> FeatureName) {
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
            if self.hashes[i] == hash {
                self.counts[i] += 1;
                return;
            }
            at = (at + 1) & mask;
        }
        let i = self.entries.len();
        self.table.slots[at] = i as u32 + 1;
        self.table.used.push(at as u32);
        self.hashes.push(hash);
        self.counts.push(1);
        let sign = if hash & 1 == 0 { 1.0 } else { -1.0 };
        self.entries.push(Feature {
            index: (hash >> (64 - u32::from(self.bits))) as u32,
            value: sign,
            namespace: self.namespace,
            name: name(&mut self.facts),
        });
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
            let mut at = (self.hashes[i] >> 17) as usize & mask;
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

    /// A fact written with `format_args!`, without allocating for it.
    fn fact_fmt(&mut self, args: std::fmt::Arguments<'_>) {
        let mut text = std::mem::take(&mut self.scratch);
        text.clear();
        // Writing into a String cannot fail.
        let _ = text.write_fmt(args);
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

    /// Scales the namespace's entries by `1 + ln(count)` (sign kept) and to unit L2 norm,
    /// and empties the table for the next namespace.
    fn finish(&mut self) {
        let entries = &mut self.entries[self.start..];
        let counts = &self.counts[self.start..];
        let mut norm = 0.0f32;
        for (entry, &count) in entries.iter_mut().zip(counts) {
            if count > 1 {
                entry.value *= 1.0 + (count as f32).ln();
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
        let text = body.to_mut();
        text.push('\n');
        text.push_str(prefix(&forwarded.text, room.saturating_sub(1)));
    }
    let (entries, facts) = TABLE.with_borrow_mut(|table| {
        // Distinct words and pairs run to about a third of the body's bytes on real mail.
        let expected = 128 + body.len() / 3;
        let mut builder = Builder::new(config.bits, table, expected);
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
        bag.fact_fmt(format_args!("list:{list}"));
    }
    for (name, value) in [("precedence", &h.precedence), ("auto", &h.auto_submitted)] {
        if let Some(value) = value {
            bag.fact_fmt(format_args!("{name}:{value}"));
        }
    }
    if let Some(priority) = h.priority {
        bag.fact_fmt(format_args!("priority:{priority:?}"));
    }
    bag.fact_fmt(format_args!("to:{}", bucket(h.to_count)));
    bag.fact_fmt(format_args!("cc:{}", bucket(h.cc_count)));
    bag.fact_fmt(format_args!("links:{}", bucket(email.body.links.len())));
    bag.fact_fmt(format_args!(
        "attachments:{}",
        bucket(email.attachments.len())
    ));
    bag.fact_fmt(format_args!("type:{}", email.body.content_type));
    if email.body.html_only {
        bag.fact("html only");
    }
    for charset in &email.body.charsets {
        bag.fact_fmt(format_args!("charset:{charset}"));
    }
    for defect in &email.defects {
        bag.fact_fmt(format_args!("defect:{}", defect.kind.as_str()));
    }
    // The sender's local hour: the hour field of the RFC 3339 date.
    if let Some(hour) = h.date.as_deref().and_then(|d| d.get(11..13)) {
        bag.fact_fmt(format_args!("hour:{hour}"));
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
        bag.fact_fmt(format_args!("field:{name}"));
    }
    if let Some(mailer) = h.mailer.as_deref().map(mailer_family) {
        bag.fact_fmt(format_args!("mailer:{mailer}"));
    }
    bag.fact_fmt(format_args!("received:{}", bucket(h.received)));
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
