//! `Email` becomes `Redacted`: the only form of a message that features, models, stores and
//! logs may see.
//!
//! [`Redactor`] finds personal data and confidential material ([`detect`], `names`) in
//! every text field of a message (subject, body, forwarded text, display names, addresses,
//! links, attachment names, message ids, defect details) and applies the policy's operator
//! to each finding ([`policy`]): mask, pseudonymise with a keyed HMAC-SHA256, hash, drop or
//! keep. A `Redacted` carries a summary of what was found (counts per type, whether
//! confidential material was seen) but never the values.

pub mod checks;
mod context;
pub mod detect;
mod names;
mod patterns;
mod phone;
pub mod policy;
mod scan;
mod wordset;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::LazyLock;

use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::parse::{Email, Mailbox};
pub use detect::{char_offsets, Detector, DetectorError, Dictionaries, Entity, Finding};
pub use phone::metadata_split as phone_metadata_split;
pub use policy::{Operator, Policy, PolicyError};

/// A message after redaction, with a summary of what was found in it.
#[derive(Debug, Clone)]
pub struct Redacted {
    email: Email,
    findings: FindingsSummary,
    /// Where each finding was, per field, when the redactor records spans.
    spans: Vec<FieldSpans>,
}

/// A finding as reported: the type, where (code points and bytes into the field's text
/// before redaction), how sure, and by what.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Span {
    /// The entity type (`EMAIL_ADDRESS`...).
    #[serde(rename = "type")]
    pub entity: &'static str,
    /// First code point.
    pub start: usize,
    /// After the last code point.
    pub end: usize,
    /// First byte.
    pub bstart: usize,
    /// After the last byte.
    pub bend: usize,
    /// Confidence, 0 to 1.
    pub score: f32,
    /// The detector that made it.
    pub detector: &'static str,
}

/// The spans found in one field of a message (`subject`, `body`, `forwarded[0].text`...).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldSpans {
    /// The field.
    pub field: String,
    /// Its findings, by position.
    pub spans: Vec<Span>,
}

/// The spans of `findings` (sorted by start) in `text`, with code-point offsets.
pub fn spans(text: &str, findings: &[Finding]) -> Vec<Span> {
    findings
        .iter()
        .zip(char_offsets(text, findings))
        .map(|(f, (start, end))| Span {
            entity: f.entity.as_str(),
            start,
            end,
            bstart: f.start,
            bend: f.end,
            score: f.score,
            detector: f.detector,
        })
        .collect()
}

/// The scores the detectors give, as `zmij` writes them: formatting a float was a tenth of
/// `write_spans_json`, and these few values are nearly all it sees.
static SCORE_TEXT: std::sync::LazyLock<Vec<(f32, String)>> = std::sync::LazyLock::new(|| {
    [1.0f32, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.5]
        .into_iter()
        .map(|s| (s, zmij::Buffer::new().format_finite(s).to_owned()))
        .collect()
});

/// Appends `spans(text, findings)` to `out` as a JSON array, byte for byte as `serde_json`
/// writes it. `redact --findings` writes one array per record, and serde's generic path
/// (escaping keys and names that are known to be plain) took a tenth of its time.
pub fn write_spans_json(text: &str, findings: &[Finding], out: &mut Vec<u8>) {
    let mut ints = itoa::Buffer::new();
    let mut floats = zmij::Buffer::new();
    out.push(b'[');
    for (i, (f, (start, end))) in findings
        .iter()
        .zip(char_offsets(text, findings))
        .enumerate()
    {
        let (entity, detector) = (f.entity.as_str(), f.detector);
        // The names are identifiers of this crate: nothing in them needs escaping.
        debug_assert!([entity, detector]
            .iter()
            .all(|s| s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\')));
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"type\":\"");
        out.extend_from_slice(entity.as_bytes());
        for (key, n) in [
            (&b"\",\"start\":"[..], start),
            (b",\"end\":", end),
            (b",\"bstart\":", f.start),
            (b",\"bend\":", f.end),
        ] {
            out.extend_from_slice(key);
            out.extend_from_slice(ints.format(n).as_bytes());
        }
        out.extend_from_slice(b",\"score\":");
        let known = SCORE_TEXT
            .iter()
            .find(|(s, _)| s.to_bits() == f.score.to_bits());
        if let Some((_, written)) = known {
            out.extend_from_slice(written.as_bytes());
        } else if f.score.is_finite() {
            out.extend_from_slice(floats.format_finite(f.score).as_bytes());
        } else {
            out.extend_from_slice(b"null");
        }
        out.extend_from_slice(b",\"detector\":\"");
        out.extend_from_slice(detector.as_bytes());
        out.extend_from_slice(b"\"}");
    }
    out.push(b']');
}

/// What redaction found: counts per entity type, and whether confidential material was seen.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FindingsSummary {
    /// Findings per entity type (`EMAIL_ADDRESS`, `CREDIT_CARD`...), by the kind's name.
    pub counts: BTreeMap<&'static str, u32>,
    /// True when confidential-IP markers or listed terms were found.
    pub confidential: bool,
    /// The restricted queue the policy sends confidential mail to (`[confidential] route`),
    /// when confidential material was found and the policy names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
}

impl FindingsSummary {
    fn add(&mut self, findings: &[Finding]) {
        for f in findings {
            *self.counts.entry(f.entity.as_str()).or_default() += 1;
            if f.entity == Entity::Confidential {
                self.confidential = true;
            }
        }
    }
}

impl Redacted {
    /// The redacted message.
    pub fn email(&self) -> &Email {
        &self.email
    }

    /// What was found.
    pub fn findings(&self) -> &FindingsSummary {
        &self.findings
    }

    /// Where it was found, per text field (empty unless the redactor records spans, see
    /// [`Redactor::recording_spans`]).
    pub fn spans(&self) -> &[FieldSpans] {
        &self.spans
    }
}

/// A redactor that cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum PrivacyError {
    /// The detector could not be built.
    #[error(transparent)]
    Detector(#[from] DetectorError),
    /// The policy pseudonymises but no key was given.
    #[error("the privacy policy pseudonymises {0} but no key was given: set the key's environment variable or pass a key file")]
    NoKey(String),
    /// The key is too short to be a secret.
    #[error("the pseudonym key must be at least 16 bytes")]
    ShortKey,
}

/// Finds and treats sensitive data by a policy. Build once, share between threads.
#[derive(Debug)]
pub struct Redactor {
    detector: Detector,
    policy: Policy,
    key: Option<Vec<u8>>,
    record_spans: bool,
}

/// The default redactor: the default policy, no key, no dictionaries.
static DEFAULT: LazyLock<Option<Redactor>> =
    LazyLock::new(|| Redactor::new(Policy::default(), None, Dictionaries::default()).ok());

/// Redacts a message with the default policy (everything personal masked). Commands build a
/// [`Redactor`] from the user's policy instead.
pub fn redact(email: Email) -> Redacted {
    match DEFAULT.as_ref() {
        Some(redactor) => redactor.redact(email),
        // The built-in patterns always compile (a unit test checks it); if they ever did not,
        // nothing may pass through unredacted: drop the texts.
        None => Redacted {
            email: Email {
                body: crate::parse::Body::default(),
                forwarded: Vec::new(),
                ..email
            },
            findings: FindingsSummary::default(),
            spans: Vec::new(),
        },
    }
}

/// Words that mark a display name as an organisation's, not a person's.
const ORGANISATION_WORDS: &[&str] = &[
    "team",
    "support",
    "billing",
    "service",
    "services",
    "news",
    "newsletter",
    "info",
    "noreply",
    "no-reply",
    "admin",
    "administrator",
    "sales",
    "customer",
    "department",
    "notifications",
    "notification",
    "alerts",
    "alert",
    "security",
    "helpdesk",
    "desk",
    "inc",
    "ltd",
    "llc",
    "gmbh",
    "corp",
    "corporation",
    "company",
    "bank",
    "office",
    "mailer",
    "daemon",
    "postmaster",
    "system",
    "robot",
    "bot",
    "list",
    "digest",
    "store",
    "shop",
    "marketing",
    "hr",
    "it",
    "accounts",
    "accounting",
    "payroll",
    "updates",
    "online",
    "group",
];

impl Redactor {
    /// A redactor for `policy`; `key` is the pseudonym key (needed when the policy
    /// pseudonymises), `dictionaries` the name and place lists (may be empty).
    pub fn new(
        policy: Policy,
        key: Option<Vec<u8>>,
        dictionaries: Dictionaries,
    ) -> Result<Self, PrivacyError> {
        if let Some(k) = &key {
            if k.len() < 16 {
                return Err(PrivacyError::ShortKey);
            }
        }
        if key.is_none() && policy.needs_key() {
            let types: Vec<&str> = policy
                .operators
                .iter()
                .filter(|(_, o)| o.needs_key())
                .map(|(e, _)| e.as_str())
                .collect();
            return Err(PrivacyError::NoKey(types.join(", ")));
        }
        let detector = Detector::new(&policy.terms, dictionaries)?;
        Ok(Redactor {
            detector,
            policy,
            key,
            record_spans: false,
        })
    }

    /// This redactor, also recording where each finding was in every text field of a
    /// message ([`Redacted::spans`]), for `redact --findings`.
    #[must_use]
    pub fn recording_spans(mut self) -> Self {
        self.record_spans = true;
        self
    }

    /// The findings in `text` at or above the policy's score.
    pub fn find(&self, text: &str, known_names: &[&str]) -> Vec<Finding> {
        let mut found = self.detector.find(text, known_names);
        found.retain(|f| f.score >= self.policy.min_score);
        found
    }

    /// `text` with each finding treated by its operator, and the findings.
    pub fn redact_text(&self, text: &str, known_names: &[&str]) -> (String, Vec<Finding>) {
        let found = self.find(text, known_names);
        (self.apply(text, &found), found)
    }

    /// Bytes that could not be parsed (a quarantine record's first bytes), for a human to
    /// look at: redacted, and then every capitalised word masked as `[Word]` too, since with
    /// no headers and no structure a name that no list knows could be anywhere. The shape
    /// (line breaks, punctuation, lower-case words, header names before `:`) is kept.
    pub fn redact_unparsed(&self, text: &str) -> String {
        let (redacted, _) = self.redact_text(text, &[]);
        let mut out = String::with_capacity(redacted.len());
        let mut chars = redacted.char_indices().peekable();
        let mut in_tag = false;
        while let Some((i, c)) = chars.next() {
            if c == '[' || c == '<' {
                in_tag = true;
            } else if c == ']' || c == '>' {
                in_tag = false;
            }
            let word_start = c.is_uppercase()
                && !in_tag
                && redacted[..i]
                    .chars()
                    .next_back()
                    .is_none_or(|p| !p.is_alphanumeric());
            if !word_start {
                out.push(c);
                continue;
            }
            let mut end = i + c.len_utf8();
            while let Some(&(j, d)) = chars.peek() {
                if d.is_alphanumeric() || d == '\'' || d == '-' {
                    end = j + d.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
            // `Subject:` at a line start is a header name, not a name: keep it.
            let header_name = redacted[end..].starts_with(':')
                && redacted[..i].chars().next_back().is_none_or(|p| p == '\n');
            if header_name {
                out.push_str(&redacted[i..end]);
            } else {
                out.push_str("[Word]");
            }
        }
        out
    }

    /// `text` with `findings` (sorted, not overlapping) replaced by their operators.
    pub fn apply(&self, text: &str, findings: &[Finding]) -> String {
        // A mask or pseudonym can be longer than what it replaces (`<PERSON_1a2b3c>` for
        // `Jo`): room for that, so that the text is not moved as it is written.
        let mut out = String::with_capacity(text.len() + 24 * findings.len());
        let mut at = 0;
        for f in findings {
            if f.start < at || f.end > text.len() {
                continue;
            }
            out.push_str(&text[at..f.start]);
            self.replace(f.entity, &text[f.start..f.end], &mut out);
            at = f.end;
        }
        out.push_str(&text[at..]);
        out
    }

    /// Appends the replacement of `value`, a finding of kind `entity`.
    fn replace(&self, entity: Entity, value: &str, out: &mut String) {
        let op = self.policy.operator(entity);
        if op == Operator::Keep {
            out.push_str(value);
            return;
        }
        if op == Operator::Drop {
            return;
        }
        // What of the value the model may keep: an address's domain, a URL's host.
        let (kept_prefix, kept_suffix, secret) = match entity {
            Entity::EmailAddress if self.policy.email_keep_domain => match value.rsplit_once('@') {
                Some((local, domain)) => ("", domain, local),
                None => ("", "", value),
            },
            Entity::Url if self.policy.url_keep_host => split_url(value),
            _ => ("", "", value),
        };
        if secret.is_empty() {
            // A bare host: nothing personal beyond what is kept.
            out.push_str(value);
            return;
        }
        out.push_str(kept_prefix);
        // The token is of the whole value: the same address, the same token.
        // A mask needs no normal form (most findings are masked: no allocation for them).
        let token = match op {
            Operator::Mask => None,
            _ => self.token(op, entity, &normalise(entity, value)),
        };
        if let Some(token) = token {
            out.push_str(&token);
        } else {
            out.push('[');
            out.push_str(entity.tag());
            out.push(']');
        }
        if !kept_suffix.is_empty() {
            if entity == Entity::EmailAddress {
                out.push('@');
            }
            out.push_str(kept_suffix);
        }
    }

    /// The pseudonym (`<EMAIL_7f3a9c>`) or hash (`<EMAIL_h_5d41402a>`) of a normalised value;
    /// None for mask (and for a pseudonym without a key, which `new` refuses).
    fn token(&self, op: Operator, entity: Entity, normal: &str) -> Option<String> {
        let digest: Vec<u8> = match op {
            Operator::Pseudonymise => {
                let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(self.key.as_ref()?).ok()?;
                mac.update(entity.tag().as_bytes());
                mac.update(&[0]);
                mac.update(normal.as_bytes());
                mac.finalize().into_bytes().to_vec()
            }
            Operator::Hash => {
                let mut h = Sha256::new();
                h.update(entity.tag().as_bytes());
                h.update([0]);
                h.update(normal.as_bytes());
                h.finalize().to_vec()
            }
            Operator::Mask | Operator::Keep | Operator::Drop => return None,
        };
        let (infix, bytes) = if op == Operator::Hash {
            ("_h_", 4)
        } else {
            ("_", 3)
        };
        let mut token = format!("<{}{infix}", entity.tag());
        for b in &digest[..bytes] {
            let _ = write!(token, "{b:02x}");
        }
        token.push('>');
        Some(token)
    }

    /// `value`, known to be one `entity` whole, treated by its operator.
    fn whole(&self, entity: Entity, value: &str) -> String {
        let mut out = String::with_capacity(value.len());
        self.replace(entity, value, &mut out);
        out
    }

    /// Redacts every text field of a message; the summary counts what was found.
    pub fn redact(&self, mut email: Email) -> Redacted {
        let mut summary = FindingsSummary::default();
        let h = &email.headers;
        // Names the message gives: display-name words, found again in its text.
        let mut known: Vec<String> = Vec::new();
        for m in h.from.iter().chain(&h.reply_to).chain(&h.to).chain(&h.cc) {
            if let Some(name) = &m.name {
                if !is_organisation(name) {
                    for part in name.split(|c: char| c.is_whitespace() || c == ',' || c == '"') {
                        let part = part.trim_matches(|c: char| !c.is_alphanumeric());
                        if part.chars().count() >= 2
                            && part.chars().next().is_some_and(char::is_uppercase)
                            && !known.iter().any(|k| k == part)
                        {
                            known.push(part.to_string());
                        }
                    }
                }
            }
        }
        let known: Vec<&str> = known.iter().map(String::as_str).collect();
        let mut spans: Vec<FieldSpans> = Vec::new();
        let mut text =
            |field: &dyn Fn() -> String, value: &mut String, summary: &mut FindingsSummary| {
                if value.is_empty() {
                    return;
                }
                // Most fields hold nothing to treat: only then is a new string built.
                let found = self.find(value, &known);
                if !found.is_empty() {
                    summary.add(&found);
                    if self.record_spans {
                        spans.push(FieldSpans {
                            field: field(),
                            spans: self::spans(value, &found),
                        });
                    }
                    *value = self.apply(value, &found);
                }
            };

        let h = &mut email.headers;
        for m in h
            .from
            .iter_mut()
            .chain(h.reply_to.iter_mut())
            .chain(h.to.iter_mut())
            .chain(h.cc.iter_mut())
        {
            self.mailbox(m, &mut summary);
        }
        if let Some(subject) = &mut h.subject {
            text(&|| "subject".into(), subject, &mut summary);
        }
        // Message ids are `local@domain`: the local part may embed an address or a name, so
        // it is treated as an address's would be, without a detector pass per id (a thread's
        // References can hold dozens). They are not counted as findings.
        for id in h
            .message_id
            .iter_mut()
            .chain(h.in_reply_to.iter_mut())
            .chain(h.references.iter_mut())
        {
            if id.contains('@') {
                *id = self.whole(Entity::EmailAddress, id);
            }
        }
        text(&|| "body".into(), &mut email.body.text, &mut summary);
        // Link targets are URLs (or mailto: addresses) whole: one operator, no detector pass.
        for link in &mut email.body.links {
            let (entity, value) = match link.strip_prefix("mailto:") {
                Some(address) => (Entity::EmailAddress, address.to_string()),
                None => (Entity::Url, link.clone()),
            };
            summary.add(&[Finding {
                entity,
                start: 0,
                end: value.len(),
                score: 1.0,
                detector: "link",
            }]);
            *link = self.whole(entity, &value);
        }
        for (i, forwarded) in email.forwarded.iter_mut().enumerate() {
            if let Some(m) = &mut forwarded.from {
                self.mailbox(m, &mut summary);
            }
            if let Some(subject) = &mut forwarded.subject {
                text(&|| format!("forwarded[{i}].subject"), subject, &mut summary);
            }
            text(
                &|| format!("forwarded[{i}].text"),
                &mut forwarded.text,
                &mut summary,
            );
        }
        for (i, attachment) in email.attachments.iter_mut().enumerate() {
            if let Some(name) = &mut attachment.name {
                text(&|| format!("attachments[{i}].name"), name, &mut summary);
            }
        }
        for (i, defect) in email.defects.iter_mut().enumerate() {
            if let Some(detail) = &mut defect.detail {
                text(&|| format!("defects[{i}].detail"), detail, &mut summary);
            }
        }
        Redacted {
            email,
            spans,
            findings: FindingsSummary {
                route: summary
                    .confidential
                    .then(|| self.policy.restricted_route.clone())
                    .flatten(),
                ..summary
            },
        }
    }

    /// A display name (a person's unless it names an organisation) and an address.
    fn mailbox(&self, m: &mut Mailbox, summary: &mut FindingsSummary) {
        if let Some(name) = &mut m.name {
            // A person's display name is treated whole (a surname no list knows must not
            // slip through); an organisation's is searched like any text.
            let found = if is_organisation(name) {
                self.find(name, &[])
            } else if name.chars().any(char::is_alphabetic) {
                vec![Finding {
                    entity: Entity::Person,
                    start: 0,
                    end: name.len(),
                    score: 0.9,
                    detector: "display_name",
                }]
            } else {
                Vec::new()
            };
            if !found.is_empty() {
                *name = self.apply(name, &found);
                summary.add(&found);
            }
        }
        if let Some(address) = &mut m.address {
            if !address.is_empty() {
                let found = [Finding {
                    entity: Entity::EmailAddress,
                    start: 0,
                    end: address.len(),
                    score: 1.0,
                    detector: "header_address",
                }];
                summary.add(&found);
                *address = self.apply(address, &found);
            }
        }
    }
}

fn is_organisation(name: &str) -> bool {
    name.split(|c: char| !c.is_alphanumeric() && c != '-')
        .any(|w| {
            let lower = w.to_lowercase();
            ORGANISATION_WORDS.contains(&lower.as_str())
        })
}

/// `https://host/path` becomes (`https://host/`, an empty suffix, `path`): the scheme and
/// host are kept, the rest is the secret part.
fn split_url(url: &str) -> (&str, &str, &str) {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let host_end = url[after_scheme..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| after_scheme + i);
    // Credentials before the host (user:pass@host) are not kept.
    let host_start = url[after_scheme..host_end]
        .rfind('@')
        .map_or(after_scheme, |i| after_scheme + i + 1);
    if host_start != after_scheme {
        return ("", "", url);
    }
    // A bare IP address is personal data itself: nothing of such a URL is kept.
    let host = url[host_start..host_end].split(':').next().unwrap_or("");
    if checks::ipv4(host) || host.starts_with('[') {
        return ("", "", url);
    }
    let rest = &url[host_end..];
    if rest.len() <= 1 {
        // Nothing but the host: keep it whole.
        return (url, "", "");
    }
    (&url[..=host_end], "", &url[host_end + 1..])
}

/// The form a value is pseudonymised in, so that `Ann@Example.com` and `ann@example.com`,
/// or `+1 415 555 0100` and `(415) 555-0100`, get the same token where they are the same.
fn normalise(entity: Entity, value: &str) -> String {
    match entity {
        Entity::PhoneNumber | Entity::CreditCard | Entity::UsSsn | Entity::IbanCode => value
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_uppercase())
            .collect(),
        _ => value.trim().to_lowercase(),
    }
}

#[cfg(test)]
mod tests;
