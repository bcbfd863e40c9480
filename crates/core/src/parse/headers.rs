//! The headers that triage reads, taken from mail-parser's message into owned values.

use std::borrow::Cow;
use std::sync::OnceLock;

use mail_parser::decoders::charsets::map::charset_decoder;
use mail_parser::parsers::MessageStream;
use mail_parser::{Address, HeaderName, HeaderValue, Message};
use serde::Serialize;

use super::defects::{Defect, DefectKind};

/// A display name and address, as written in From, To, Cc or Reply-To.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mailbox {
    /// The display name, decoded.
    pub name: Option<String>,
    /// The address, when there is one.
    pub address: Option<String>,
}

/// The sender's stated urgency, from Importance, X-Priority, Priority or X-MSMail-Priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Importance: high, X-Priority: 1 or 2, Priority: urgent.
    High,
    /// Stated as normal.
    Normal,
    /// Importance: low, X-Priority: 4 or 5, Priority: non-urgent.
    Low,
}

/// The headers triage needs.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Headers {
    /// The first From mailbox.
    pub from: Option<Mailbox>,
    /// The first Reply-To mailbox.
    pub reply_to: Option<Mailbox>,
    /// The To recipients.
    pub to: Vec<Mailbox>,
    /// The Cc recipients.
    pub cc: Vec<Mailbox>,
    /// How many To recipients (groups counted by their members).
    pub to_count: usize,
    /// How many Cc recipients.
    pub cc_count: usize,
    /// The decoded Subject.
    pub subject: Option<String>,
    /// The Date, as RFC 3339, when it could be read.
    pub date: Option<String>,
    /// The Message-ID, without angle brackets.
    pub message_id: Option<String>,
    /// In-Reply-To ids.
    pub in_reply_to: Vec<String>,
    /// References ids, oldest first.
    pub references: Vec<String>,
    /// The List-Id (`<list.example.com>` part, without brackets).
    pub list_id: Option<String>,
    /// Auto-Submitted (`auto-replied`, `auto-generated`...), lower case.
    pub auto_submitted: Option<String>,
    /// Precedence (`bulk`, `list`, `junk`), lower case.
    pub precedence: Option<String>,
    /// The stated priority.
    pub priority: Option<Priority>,
    /// The sending program: X-Mailer, else User-Agent (at most 80 characters).
    pub mailer: Option<String>,
    /// How many Received headers: the hops the message says it took.
    pub received: usize,
    /// The names of the top-level header fields, lower case, each once, in order of first
    /// appearance (at most 64): which fields a sender writes tells its software apart.
    /// The names mail-parser knows are shared strings; only the others (X- fields and the
    /// like) are a string of their own.
    pub field_names: Vec<Cow<'static, str>>,
}

/// Upper bound on recipients kept per header; the counts stay exact.
const MAX_RECIPIENTS: usize = 1000;

pub(super) fn extract(message: &Message<'_>, defects: &mut Vec<Defect>) -> Headers {
    // Raw 8-bit header bytes that are not UTF-8 are legacy 8-bit text (Latin-1 and friends):
    // read them as windows-1252 rather than as replacement characters.
    let legacy = defects
        .iter()
        .any(|d| d.kind == DefectKind::RawEightBitHeader);
    let fields = Fields::of(message);
    let redecoded = |name: HeaderName<'static>, parse: Reparse| {
        if legacy {
            redecode_legacy(message, &name, parse)
        } else {
            None
        }
    };
    let from_value = redecoded(HeaderName::From, Reparse::Address);
    let from_value = from_value.as_ref().or_else(|| fields.value(Field::From));
    let from = from_value
        .and_then(HeaderValue::as_address)
        .and_then(Address::first)
        .map(mailbox);
    if from.as_ref().is_none_or(|m| m.address.is_none()) {
        defects.push(Defect::new(DefectKind::MissingFrom, None));
    }
    let date = match fields.value(Field::Date) {
        None => {
            defects.push(Defect::new(DefectKind::MissingDate, None));
            None
        }
        Some(HeaderValue::DateTime(d)) if d.is_valid() => Some(d.to_rfc3339()),
        Some(_) => {
            let raw = fields.raw(Field::Date).unwrap_or("").trim();
            let lenient = super::date::parse_lenient(raw);
            if lenient.is_none() {
                defects.push(Defect::new(DefectKind::BadDate, Some(clip(raw, 80))));
            }
            lenient
        }
    };
    let message_id = fields
        .value(Field::MessageId)
        .and_then(HeaderValue::as_text)
        .map(compact_id);
    if message_id.is_none() {
        defects.push(Defect::new(DefectKind::MissingMessageId, None));
    }
    let subject_value = redecoded(HeaderName::Subject, Reparse::Text);
    let subject = match &subject_value {
        Some(value) => value.as_text().map(str::to_string),
        None => fields
            .value(Field::Subject)
            .and_then(HeaderValue::as_text)
            .map(str::to_string),
    };
    let to_value = redecoded(HeaderName::To, Reparse::Address);
    let cc_value = redecoded(HeaderName::Cc, Reparse::Address);
    let (to, to_count) = mailboxes(
        to_value
            .as_ref()
            .and_then(HeaderValue::as_address)
            .or_else(|| fields.value(Field::To).and_then(HeaderValue::as_address)),
    );
    let (cc, cc_count) = mailboxes(
        cc_value
            .as_ref()
            .and_then(HeaderValue::as_address)
            .or_else(|| fields.value(Field::Cc).and_then(HeaderValue::as_address)),
    );
    let root = &message.root_part().headers;
    let headers = Headers {
        from,
        reply_to: fields
            .value(Field::ReplyTo)
            .and_then(HeaderValue::as_address)
            .and_then(Address::first)
            .map(mailbox),
        to,
        cc,
        to_count,
        cc_count,
        subject,
        date,
        message_id,
        in_reply_to: ids(fields
            .value(Field::InReplyTo)
            .unwrap_or(&HeaderValue::Empty)),
        references: ids(fields
            .value(Field::References)
            .unwrap_or(&HeaderValue::Empty)),
        list_id: fields.raw(Field::ListId).map(list_id),
        auto_submitted: raw_lower(fields.raw(Field::AutoSubmitted)),
        precedence: raw_lower(fields.raw(Field::Precedence)),
        priority: priority(&fields),
        mailer: raw_text(fields.raw(Field::Mailer))
            .or_else(|| raw_text(fields.raw(Field::UserAgent))),
        received: fields.received,
        field_names: field_names(root),
    };
    let names = headers
        .from
        .iter()
        .chain(&headers.to)
        .chain(&headers.cc)
        .filter_map(|m| m.name.as_deref());
    if headers
        .subject
        .iter()
        .map(String::as_str)
        .chain(names)
        .any(|text| text.contains('\u{FFFD}'))
    {
        defects.push(Defect::new(DefectKind::UndecodableHeader, None));
    }
    headers
}

/// How to read a header again.
#[derive(Clone, Copy)]
enum Reparse {
    Address,
    Text,
}

/// Parses a header again from its raw bytes read as windows-1252, when they are not UTF-8.
fn redecode_legacy(
    message: &Message<'_>,
    name: &HeaderName<'static>,
    parse: Reparse,
) -> Option<HeaderValue<'static>> {
    let header = message
        .root_part()
        .headers
        .iter()
        .rev()
        .find(|h| h.name == *name)?;
    let raw = message
        .raw_message()
        .get(header.offset_start as usize..header.offset_end as usize)?;
    if std::str::from_utf8(raw).is_ok() {
        return None;
    }
    let decode = charset_decoder(b"windows-1252")?;
    let text = decode(raw);
    let mut stream = MessageStream::new(text.as_bytes());
    let value = match parse {
        Reparse::Address => stream.parse_address(),
        Reparse::Text => stream.parse_unstructured(),
    };
    Some(value.into_owned())
}

/// Message ids with the white space obsolete syntax allows around `@` and dots removed.
fn compact_id(id: &str) -> String {
    // Sized once: collecting a filter grows the string from nothing, a move per doubling.
    let mut compact = String::with_capacity(id.len());
    compact.extend(id.chars().filter(|c| !c.is_whitespace()));
    compact
}

pub(super) fn mailbox(addr: &mail_parser::Addr<'_>) -> Mailbox {
    Mailbox {
        name: addr
            .name()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string),
        address: addr.address().map(without_route),
    }
}

/// An obsolete source route (`@relay.example:user@example.org`) is dropped (RFC 5322 4.4).
fn without_route(address: &str) -> String {
    match (address.starts_with('@'), address.rfind(':')) {
        (true, Some(colon)) => address[colon + 1..].to_string(),
        _ => address.to_string(),
    }
}

fn mailboxes(address: Option<&Address<'_>>) -> (Vec<Mailbox>, usize) {
    let Some(address) = address else {
        return (Vec::new(), 0);
    };
    let count = address.iter().count();
    let kept = address.iter().take(MAX_RECIPIENTS).map(mailbox).collect();
    (kept, count)
}

fn ids(value: &HeaderValue<'_>) -> Vec<String> {
    match value {
        HeaderValue::Text(id) => vec![compact_id(id)],
        HeaderValue::TextList(ids) => ids.iter().map(|id| compact_id(id)).collect(),
        _ => Vec::new(),
    }
}

/// `"Description" <id.example.com>` becomes `id.example.com`.
fn list_id(raw: &str) -> String {
    let raw = raw.trim();
    match (raw.rfind('<'), raw.rfind('>')) {
        (Some(open), Some(close)) if open < close => raw[open + 1..close].trim().to_string(),
        _ => raw.to_string(),
    }
}

fn raw_lower(raw: Option<&str>) -> Option<String> {
    let raw = raw?.trim();
    (!raw.is_empty()).then(|| clip(raw, 80).to_ascii_lowercase())
}

fn raw_text(raw: Option<&str>) -> Option<String> {
    let raw = raw?.trim();
    (!raw.is_empty()).then(|| clip(raw, 80))
}

/// The top-level fields triage reads.
#[derive(Clone, Copy)]
enum Field {
    From,
    Date,
    Subject,
    To,
    Cc,
    ReplyTo,
    MessageId,
    InReplyTo,
    References,
    ListId,
    AutoSubmitted,
    Precedence,
    Importance,
    XPriority,
    Priority,
    MsMailPriority,
    Mailer,
    UserAgent,
}

/// How many [`Field`]s there are.
const FIELDS: usize = 18;

/// The fields mail-parser has a name for, as triage asked for them by that name.
const KNOWN_FIELDS: [(HeaderName<'static>, Field); 11] = [
    (HeaderName::From, Field::From),
    (HeaderName::Date, Field::Date),
    (HeaderName::Subject, Field::Subject),
    (HeaderName::To, Field::To),
    (HeaderName::Cc, Field::Cc),
    (HeaderName::ReplyTo, Field::ReplyTo),
    (HeaderName::MessageId, Field::MessageId),
    (HeaderName::InReplyTo, Field::InReplyTo),
    (HeaderName::References, Field::References),
    (HeaderName::ListId, Field::ListId),
    (HeaderName::AutoSubmitted, Field::AutoSubmitted),
];

/// The fields triage asks for by their text (mail-parser may know some of them too).
const NAMED_FIELDS: [(&str, Field); 7] = [
    ("Precedence", Field::Precedence),
    ("Importance", Field::Importance),
    ("X-Priority", Field::XPriority),
    ("Priority", Field::Priority),
    ("X-MSMail-Priority", Field::MsMailPriority),
    ("X-Mailer", Field::Mailer),
    ("User-Agent", Field::UserAgent),
];

/// The top-level fields triage reads, each the last of its name (as mail-parser's
/// `Message::header`, `header_raw`, `subject()`, `to()`... find them), and how many Received
/// fields there are: found in one pass over the fields, where asking for each by name walked
/// them all again, comparing names.
struct Fields<'m, 'x> {
    last: [Option<&'m mail_parser::Header<'x>>; FIELDS],
    raw_message: &'m [u8],
    received: usize,
}

impl<'m, 'x> Fields<'m, 'x> {
    /// A field is matched as mail-parser's names compare: one it knows by its id, any other
    /// by its name in any case.
    fn of(message: &'m Message<'x>) -> Self {
        /// The field of each id mail-parser knows (`FIELDS` for none of ours), and the names
        /// it does not know, with their field.
        type Slots = ([u8; 256], Vec<(&'static str, usize)>);
        static SLOTS: std::sync::LazyLock<Slots> = std::sync::LazyLock::new(|| {
            let mut by_id = [FIELDS as u8; 256];
            let mut others = Vec::new();
            for (name, field) in &KNOWN_FIELDS {
                by_id[usize::from(name.id())] = *field as u8;
            }
            for &(text, field) in &NAMED_FIELDS {
                let name = HeaderName::from(text);
                if name.is_other() {
                    others.push((text, field as usize));
                } else {
                    by_id[usize::from(name.id())] = field as u8;
                }
            }
            (by_id, others)
        });
        let (by_id, others) = &*SLOTS;
        let mut fields = Fields {
            last: [None; FIELDS],
            raw_message: message.raw_message(),
            received: 0,
        };
        for header in message.root_part().headers.iter().rev() {
            let slot = if header.name.is_other() {
                let name = header.name.as_str();
                others
                    .iter()
                    .find(|(wanted, _)| wanted.eq_ignore_ascii_case(name))
                    .map(|&(_, k)| k)
            } else {
                if header.name == HeaderName::Received {
                    fields.received += 1;
                }
                Some(usize::from(by_id[usize::from(header.name.id())]))
            };
            if let Some(last) = slot.and_then(|k| fields.last.get_mut(k)) {
                last.get_or_insert(header);
            }
        }
        fields
    }

    /// The field's parsed value (`Message::header`).
    fn value(&self, field: Field) -> Option<&'m HeaderValue<'x>> {
        self.last[field as usize].map(|h| &h.value)
    }

    /// The field's raw text (`Message::header_raw`: none if it is not UTF-8).
    fn raw(&self, field: Field) -> Option<&'m str> {
        let header = self.last[field as usize]?;
        let range = header.offset_start as usize..header.offset_end as usize;
        self.raw_message
            .get(range)
            .and_then(|raw| std::str::from_utf8(raw).ok())
    }
}

/// Upper bound on the field names kept: a message with thousands of made-up fields is
/// described by its first ones.
const MAX_FIELD_NAMES: usize = 64;

/// The lower-case name of a field mail-parser knows, by its id: made once per process, so
/// that a message's twenty-odd field names are not as many new strings (they were a quarter
/// of the allocations of a parse). There are fewer than 256 ids, of a few bytes each.
fn known_name(name: &HeaderName<'_>) -> &'static str {
    static NAMES: [OnceLock<&'static str>; 256] = [const { OnceLock::new() }; 256];
    NAMES[usize::from(name.id())]
        .get_or_init(|| Box::leak(name.as_static_str().to_ascii_lowercase().into_boxed_str()))
}

fn field_names(headers: &[mail_parser::Header<'_>]) -> Vec<Cow<'static, str>> {
    let mut names: Vec<Cow<'static, str>> = Vec::with_capacity(headers.len().min(MAX_FIELD_NAMES));
    // The fields mail-parser knows are told apart by their id, one bit each; only the
    // others (X- fields and the like) are compared with the other names kept so far.
    let mut known = [0u64; 4];
    let mut others: Vec<usize> = Vec::new();
    for header in headers {
        if names.len() == MAX_FIELD_NAMES {
            break;
        }
        let name = header.name.as_str();
        if name.len() > 64 {
            continue;
        }
        if header.name.is_other() {
            if others.iter().any(|&i| names[i].eq_ignore_ascii_case(name)) {
                continue;
            }
            others.push(names.len());
            names.push(Cow::Owned(name.to_ascii_lowercase()));
        } else {
            // A known field never has the name of an other one: mail-parser reads every
            // spelling of a known name as that field.
            let id = usize::from(header.name.id());
            let (word, bit) = (id / 64, 1u64 << (id % 64));
            if known[word] & bit != 0 {
                continue;
            }
            known[word] |= bit;
            names.push(Cow::Borrowed(known_name(&header.name)));
        }
    }
    names
}

fn priority(fields: &Fields<'_, '_>) -> Option<Priority> {
    let word = |field: Field| fields.raw(field).map(|v| v.trim().to_ascii_lowercase());
    if let Some(v) = word(Field::Importance) {
        return match v.as_str() {
            "high" => Some(Priority::High),
            "low" => Some(Priority::Low),
            "normal" => Some(Priority::Normal),
            _ => None,
        };
    }
    if let Some(v) = word(Field::XPriority) {
        // "1 (Highest)", "3 (Normal)", "5"...
        return match v.bytes().find(u8::is_ascii_digit) {
            Some(b'1' | b'2') => Some(Priority::High),
            Some(b'3') => Some(Priority::Normal),
            Some(b'4' | b'5') => Some(Priority::Low),
            _ => None,
        };
    }
    for field in [Field::Priority, Field::MsMailPriority] {
        if let Some(v) = word(field) {
            return match v.as_str() {
                "urgent" | "high" => Some(Priority::High),
                "non-urgent" | "low" => Some(Priority::Low),
                "normal" => Some(Priority::Normal),
                _ => None,
            };
        }
    }
    None
}

/// At most `max` characters, cut on a character boundary.
pub(super) fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => s[..i].to_string(),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_ids_lose_their_description() {
        assert_eq!(
            list_id(" \"Dev list\" <dev.lists.example.org>"),
            "dev.lists.example.org"
        );
        assert_eq!(list_id("plain-id"), "plain-id");
    }

    #[test]
    fn priority_headers_are_read_in_order_of_precedence() {
        let msg = |h: &str| {
            let raw = format!("From: a@x\n{h}\n\nbody\n");
            let m = mail_parser::MessageParser::default()
                .parse(raw.as_bytes())
                .map(|m| priority(&Fields::of(&m)));
            m.flatten()
        };
        assert_eq!(msg("Importance: High"), Some(Priority::High));
        assert_eq!(msg("X-Priority: 1 (Highest)"), Some(Priority::High));
        assert_eq!(msg("X-Priority: 5"), Some(Priority::Low));
        assert_eq!(msg("Priority: non-urgent"), Some(Priority::Low));
        assert_eq!(msg("X-Mailer: x"), None);
    }
}
