//! Parsing: [`RawMail`] becomes an [`Email`], or a [`Quarantine`] record.
//!
//! MIME is mail-parser's work (multipart, nested `message/rfc822`, base64, quoted-printable,
//! RFC 2047 words, 41 charsets, HTML-only bodies turned into text); for a message of one text
//! part, `single` decodes the body itself into the same result, faster. This module picks what
//! triage needs out of its result into owned, plain types, and records the defects it meets
//! on the way ([`defects`]). Parsing is lenient but never silent, and it never panics: the
//! call is guarded with `catch_unwind` as a last line, and a panic becomes a quarantine record.

pub mod date;
pub mod defects;
mod headers;
mod html;
mod mime;
mod single;

use std::panic::{catch_unwind, AssertUnwindSafe};

use mail_parser::{HeaderName, MessageParser};
use serde::Serialize;

pub use defects::{Defect, DefectKind};
pub use headers::{Headers, Mailbox, Priority};
pub use mime::Forwarded;

use crate::ingest::{Fields, Origin, RawMail};
use crate::quarantine::{Quarantine, QuarantineReason};

/// A parsed message: the headers triage needs, the body as text, attachments as metadata.
#[derive(Debug, Clone, Serialize)]
pub struct Email {
    /// The source's id for the message, else its fingerprint.
    pub id: String,
    /// xxh3-128 of the raw bytes (trailing line breaks ignored), in hex: the same message
    /// has the same fingerprint whichever source it was read from.
    pub fingerprint: String,
    /// Where the message came from.
    #[serde(rename = "source")]
    pub origin: Origin,
    /// The Maildir folder it was kept in, when the source has folders.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub folder: Option<String>,
    /// Fields passed through from the source (labels...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<Fields>,
    /// Size of the raw message in bytes.
    pub size: usize,
    /// The headers triage reads.
    pub headers: Headers,
    /// The body as plain text, and the shape of the MIME tree.
    pub body: Body,
    /// Attachments, as metadata only.
    pub attachments: Vec<Attachment>,
    /// Messages attached to this one (forwards, digest entries), with their text.
    pub forwarded: Vec<Forwarded>,
    /// What was wrong with the message, in the order found.
    pub defects: Vec<Defect>,
}

/// The readable body and a summary of the MIME structure.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Body {
    /// The text body parts, joined; HTML parts are turned into text.
    pub text: String,
    /// True when the text came from HTML only (no text/plain alternative).
    pub html_only: bool,
    /// The top-level content type, `type/subtype`, lower case.
    pub content_type: String,
    /// Number of MIME parts, containers included.
    pub parts: usize,
    /// Depth of the deepest part (1 for a single-part message).
    pub depth: usize,
    /// Number of text/plain parts.
    pub text_parts: usize,
    /// Number of text/html parts.
    pub html_parts: usize,
    /// The distinct charsets declared on text parts, lower case.
    pub charsets: Vec<String>,
    /// Targets of HTML links (`<a href>`: http, https, mailto, ftp), distinct, in order, at
    /// most 64: in phishing they differ from the text shown.
    pub links: Vec<String>,
}

/// An attachment, described but not kept.
#[derive(Debug, Clone, Serialize)]
pub struct Attachment {
    /// The file name, when one is given.
    pub name: Option<String>,
    /// `type/subtype`, lower case.
    pub content_type: String,
    /// Decoded size in bytes.
    pub size: usize,
    /// True for parts shown inline (images in HTML, inline disposition).
    pub inline: bool,
    /// 0 for the message's own attachments, 1 inside a forwarded message, and so on.
    pub nesting: usize,
}

/// Parses a message, never panicking: unreadable input becomes a [`Quarantine`] record.
pub fn parse(raw: RawMail) -> Result<Email, Box<Quarantine>> {
    let outcome = catch_unwind(AssertUnwindSafe(|| parse_bytes(&raw.bytes)));
    let parsed = match outcome {
        Ok(Ok(parsed)) => parsed,
        Ok(Err((reason, detail))) => return Err(Box::new(quarantine(&raw, reason, detail))),
        Err(panic) => {
            let detail = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            return Err(Box::new(quarantine(
                &raw,
                QuarantineReason::ParserPanic,
                format!("the parser panicked: {detail}"),
            )));
        }
    };
    let fingerprint = fingerprint(&raw.bytes);
    Ok(Email {
        id: raw.id.unwrap_or_else(|| fingerprint.clone()),
        fingerprint,
        origin: raw.origin,
        folder: raw.folder,
        fields: raw.fields,
        size: raw.bytes.len(),
        headers: parsed.headers,
        body: parsed.body,
        attachments: parsed.attachments,
        forwarded: parsed.forwarded,
        defects: parsed.defects,
    })
}

fn quarantine(raw: &RawMail, reason: QuarantineReason, detail: String) -> Quarantine {
    Quarantine::new(
        raw.origin.clone(),
        reason,
        detail,
        raw.bytes.len() as u64,
        &raw.bytes,
    )
}

/// The hex xxh3-128 of a message, ignoring trailing line breaks (an mbox may add one).
pub fn fingerprint(bytes: &[u8]) -> String {
    let end = bytes
        .iter()
        .rposition(|&b| b != b'\n' && b != b'\r')
        .map_or(0, |i| i + 1);
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&bytes[..end]))
}

struct Parsed {
    headers: Headers,
    body: Body,
    attachments: Vec<Attachment>,
    forwarded: Vec<Forwarded>,
    defects: Vec<Defect>,
}

type Refusal = (QuarantineReason, String);

fn parse_bytes(bytes: &[u8]) -> Result<Parsed, Refusal> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err((QuarantineReason::Empty, "the message has no content".into()));
    }
    let bytes = crate::ingest::strip_from_line(bytes);
    let scan = defects::scan_header_block(bytes);
    if scan.valid_lines == 0 {
        return Err((
            QuarantineReason::NoHeaders,
            "no `Name: value` header line before the body".into(),
        ));
    }
    // Most mail is one text part, which `single` reads without mail-parser's byte-at-a-time
    // body decoding; the message is the same either way. A multipart message goes straight
    // to the full parse, rather than having its headers parsed twice.
    let single = (!scan.multipart)
        .then(|| single::parse(parser(), bytes))
        .flatten();
    let Some(message) = single.or_else(|| parser().parse(bytes)) else {
        return Err((
            QuarantineReason::NoHeaders,
            "mail-parser found no header".into(),
        ));
    };
    let mut defects = scan.defects;
    let headers = headers::extract(&message, &mut defects);
    let structure = mime::read_structure(&message, bytes, &mut defects);
    Ok(Parsed {
        headers,
        body: structure.body,
        attachments: structure.attachments,
        forwarded: structure.forwarded,
        defects,
    })
}

/// One parser for the process, set to decode only the headers triage reads; the rest stay
/// raw text (mail-parser's default parses every known header, Received lines included, which
/// cost a sixth of the parse time on real mail for nothing we use).
fn parser() -> &'static MessageParser {
    static PARSER: std::sync::LazyLock<MessageParser> = std::sync::LazyLock::new(|| {
        MessageParser::new()
            .with_mime_headers()
            .header_date(HeaderName::Date)
            .header_text(HeaderName::Subject)
            .header_address(HeaderName::From)
            .header_address(HeaderName::ReplyTo)
            .header_address(HeaderName::To)
            .header_address(HeaderName::Cc)
            .header_id(HeaderName::MessageId)
            .header_id(HeaderName::InReplyTo)
            .header_id(HeaderName::References)
            // Other headers are not decoded at all; `header_raw` still finds them by offset.
            .default_header_ignore()
    });
    &PARSER
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(bytes: &[u8]) -> RawMail {
        RawMail::new(Origin::Stdin { offset: 0 }, bytes.to_vec())
    }

    #[test]
    fn a_plain_message_parses_with_its_headers() {
        let email = parse(raw(b"From envelope@x Mon Jan  1 00:00:00 2024\nFrom: \"Ann Lee\" <ann@example.com>\nTo: a@x, b@x\nCc: c@x\nSubject: =?UTF-8?B?SGVsbG8gd29ybGQ=?=\nDate: Tue, 2 Jan 2024 10:00:00 +0100\nMessage-ID: <1@x>\n\nHello\n")).unwrap();
        assert_eq!(email.headers.subject.as_deref(), Some("Hello world"));
        let from = email.headers.from.as_ref().unwrap();
        assert_eq!(from.name.as_deref(), Some("Ann Lee"));
        assert_eq!(from.address.as_deref(), Some("ann@example.com"));
        assert_eq!((email.headers.to_count, email.headers.cc_count), (2, 1));
        assert_eq!(
            email.headers.date.as_deref(),
            Some("2024-01-02T10:00:00+01:00")
        );
        assert_eq!(email.body.text, "Hello\n");
        assert!(email.defects.is_empty(), "{:?}", email.defects);
        assert_eq!(email.id, email.fingerprint);
    }

    #[test]
    fn unreadable_input_is_quarantined_with_a_reason() {
        let reason = |b: &[u8]| parse(raw(b)).unwrap_err().reason;
        assert_eq!(reason(b""), QuarantineReason::Empty);
        assert_eq!(reason(b" \r\n\n"), QuarantineReason::Empty);
        assert_eq!(
            reason(b"\x00\x01\x02 binary junk\nmore"),
            QuarantineReason::NoHeaders
        );
    }

    #[test]
    fn fingerprint_ignores_trailing_line_breaks_only() {
        assert_eq!(fingerprint(b"a\nb\n"), fingerprint(b"a\nb"));
        assert_eq!(fingerprint(b"a\nb\r\n\n"), fingerprint(b"a\nb"));
        assert_ne!(fingerprint(b"a\nb "), fingerprint(b"a\nb"));
    }
}
