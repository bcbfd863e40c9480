//! Defects: what was wrong with a message that could still be read.
//!
//! mail-parser repairs what it can without saying so; triage wants to know (spam is often
//! malformed, and a reviewer wants to see why a message looks odd). Defects come from two
//! places: a scan of the raw header block (line length, raw 8-bit bytes, lines that are not
//! headers), and a walk over the parsed MIME tree (charsets, boundaries, encodings, depth).
//! Both are bounded: the scan reads the header block once, and the walk visits each part once.

use std::collections::BTreeSet;

use mail_parser::decoders::charsets::map::charset_decoder;
use mail_parser::{ContentType, Message, MimeHeaders, PartType};
use memchr::memmem;
use serde::Serialize;

use super::headers::clip;
use super::{Attachment, Body};

/// The kinds of defect recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DefectKind {
    /// No From header, or one without an address.
    MissingFrom,
    /// No Date header.
    MissingDate,
    /// A Date header that could not be read as a date.
    BadDate,
    /// No Message-ID header.
    MissingMessageId,
    /// A header line over 998 bytes (RFC 5322's limit).
    LongHeaderLine,
    /// Raw 8-bit bytes in the header block, not RFC 2047 encoded.
    RawEightBitHeader,
    /// A line in the header block that is neither a header nor a continuation.
    MalformedHeaderLine,
    /// A charset that no decoder knows; the text was read as UTF-8 (lossily).
    UnknownCharset,
    /// Text with bytes that could not be decoded in its charset.
    UndecodableText,
    /// A base64 or quoted-printable part that could not be decoded; kept as raw text.
    EncodingProblem,
    /// A multipart whose closing boundary never comes: the message was cut short.
    TruncatedMultipart,
    /// A multipart content type without a boundary parameter.
    MissingBoundary,
    /// A multipart whose boundary is declared but never used.
    BoundaryNotFound,
    /// MIME nesting deeper than [`DEEP_NESTING`] levels.
    DeepNesting,
}

impl DefectKind {
    /// The stable `snake_case` name used in records and summaries.
    pub fn as_str(self) -> &'static str {
        match self {
            DefectKind::MissingFrom => "missing_from",
            DefectKind::MissingDate => "missing_date",
            DefectKind::BadDate => "bad_date",
            DefectKind::MissingMessageId => "missing_message_id",
            DefectKind::LongHeaderLine => "long_header_line",
            DefectKind::RawEightBitHeader => "raw_eight_bit_header",
            DefectKind::MalformedHeaderLine => "malformed_header_line",
            DefectKind::UnknownCharset => "unknown_charset",
            DefectKind::UndecodableText => "undecodable_text",
            DefectKind::EncodingProblem => "encoding_problem",
            DefectKind::TruncatedMultipart => "truncated_multipart",
            DefectKind::MissingBoundary => "missing_boundary",
            DefectKind::BoundaryNotFound => "boundary_not_found",
            DefectKind::DeepNesting => "deep_nesting",
        }
    }
}

/// One defect, with a short detail where it helps (the charset, the line length...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Defect {
    /// What kind of defect.
    pub kind: DefectKind,
    /// A short detail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Defect {
    pub(super) fn new(kind: DefectKind, detail: Option<String>) -> Self {
        Defect { kind, detail }
    }
}

/// Nesting deeper than this is recorded as a defect.
pub const DEEP_NESTING: usize = 32;
/// At most this many defects are kept per message, so a hostile message cannot bloat output.
const MAX_DEFECTS: usize = 32;
/// At most this many multipart boundaries are checked for their closing delimiter.
const MAX_BOUNDARY_CHECKS: usize = 64;
/// RFC 5322: lines must be no more than 998 characters, line break excluded.
const MAX_LINE: usize = 998;

fn push(defects: &mut Vec<Defect>, kind: DefectKind, detail: Option<String>) {
    if defects.len() < MAX_DEFECTS && !defects.iter().any(|d| d.kind == kind && d.detail == detail)
    {
        defects.push(Defect::new(kind, detail));
    }
}

/// Skips an mbox envelope line (`From sender date`) that .eml files saved from mbox keep.
pub(super) fn strip_envelope_line(bytes: &[u8]) -> &[u8] {
    if bytes.starts_with(b"From ") {
        match memchr::memchr(b'\n', bytes) {
            Some(eol) => &bytes[eol + 1..],
            None => &[],
        }
    } else {
        bytes
    }
}

/// What a scan of the raw header block found.
pub(super) struct HeaderScan {
    pub valid_lines: usize,
    pub defects: Vec<Defect>,
}

/// Reads the header block (up to the first empty line) once.
pub(super) fn scan_header_block(bytes: &[u8]) -> HeaderScan {
    let mut scan = HeaderScan {
        valid_lines: 0,
        defects: Vec::new(),
    };
    let mut longest = 0;
    let mut at = 0;
    let mut line_no = 0;
    while at < bytes.len() {
        let end = memchr::memchr(b'\n', &bytes[at..]).map_or(bytes.len(), |i| at + i);
        let line = &bytes[at..end];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        at = end + 1;
        line_no += 1;
        if line.is_empty() {
            break;
        }
        longest = longest.max(line.len());
        if !line.is_ascii() {
            push(&mut scan.defects, DefectKind::RawEightBitHeader, None);
        }
        if line[0] == b' ' || line[0] == b'\t' {
            continue;
        }
        if is_header_line(line) {
            scan.valid_lines += 1;
        } else {
            push(
                &mut scan.defects,
                DefectKind::MalformedHeaderLine,
                Some(format!("line {line_no}")),
            );
        }
    }
    if longest > MAX_LINE {
        push(
            &mut scan.defects,
            DefectKind::LongHeaderLine,
            Some(format!("{longest} bytes")),
        );
    }
    scan
}

/// `Name: value`, the name printable ASCII without spaces (white space before the colon is
/// obsolete syntax, still accepted).
fn is_header_line(line: &[u8]) -> bool {
    let Some(colon) = memchr::memchr(b':', line) else {
        return false;
    };
    let name = line[..colon].trim_ascii_end();
    !name.is_empty() && name.iter().all(|&b| b.is_ascii_graphic())
}

/// `type/subtype` in lower case.
pub(super) fn type_name(ct: &ContentType<'_>) -> String {
    let mut name = ct.ctype().to_ascii_lowercase();
    if let Some(sub) = ct.subtype() {
        name.push('/');
        name.push_str(&sub.to_ascii_lowercase());
    }
    name
}

fn is_utf8_label(charset: &str) -> bool {
    let folded: String = charset
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase();
    matches!(
        folded.as_str(),
        "utf8" | "unicode11utf8" | "unicode20utf8" | "xunicode20utf8"
    )
}

/// One MIME part to visit: which message level it belongs to, and where in the tree.
struct Visit<'m, 'x> {
    message: &'m Message<'x>,
    part: u32,
    depth: usize,
    nesting: usize,
}

/// Walks the MIME tree once: counts parts, lists attachments and charsets, records defects.
pub(super) fn walk_parts(
    root: &Message<'_>,
    raw: &[u8],
    body: &mut Body,
    attachments: &mut Vec<Attachment>,
    defects: &mut Vec<Defect>,
) {
    let mut charsets = BTreeSet::new();
    let mut boundary_checks = 0;
    let mut max_depth = 0;
    let mut undecodable = false;
    let mut stack = vec![Visit {
        message: root,
        part: 0,
        depth: 1,
        nesting: 0,
    }];
    while let Some(visit) = stack.pop() {
        let Some(part) = visit.message.parts.get(visit.part as usize) else {
            continue;
        };
        body.parts += 1;
        max_depth = max_depth.max(visit.depth);
        let content_type = part.content_type();
        let declared = content_type.map(type_name);
        let is_attachment = visit.part != 0 && visit.message.attachments.contains(&visit.part);
        // An empty part (headers only) is flagged by mail-parser, but nothing failed to decode.
        if part.is_encoding_problem && part.body.len() > 0 {
            push(
                defects,
                DefectKind::EncodingProblem,
                declared.clone().or_else(|| Some("text/plain".into())),
            );
        }
        if let Some(ct) = content_type {
            if ct.ctype().eq_ignore_ascii_case("multipart") {
                match (ct.attribute("boundary"), &part.body) {
                    (None, _) => push(defects, DefectKind::MissingBoundary, declared.clone()),
                    (Some(_), body) if !matches!(body, PartType::Multipart(_)) => {
                        push(defects, DefectKind::BoundaryNotFound, declared.clone());
                    }
                    (Some(boundary), _) if boundary_checks < MAX_BOUNDARY_CHECKS => {
                        boundary_checks += 1;
                        let level_raw = visit.message.raw_message();
                        let haystack = if level_raw.is_empty() { raw } else { level_raw };
                        let closing = [b"--", boundary.as_bytes(), b"--"].concat();
                        if memmem::find(haystack, &closing).is_none() {
                            push(defects, DefectKind::TruncatedMultipart, declared.clone());
                        }
                    }
                    _ => {}
                }
            }
        }
        match &part.body {
            PartType::Text(text) | PartType::Html(text) => {
                let is_html = matches!(part.body, PartType::Html(_));
                if is_html {
                    body.html_parts += 1;
                } else {
                    body.text_parts += 1;
                }
                if let Some(charset) = content_type.and_then(|c| c.attribute("charset")) {
                    let charset = clip(charset.trim(), 40).to_ascii_lowercase();
                    if charset_decoder(charset.as_bytes()).is_none() && !is_utf8_label(&charset) {
                        push(defects, DefectKind::UnknownCharset, Some(charset.clone()));
                    }
                    if charsets.len() < 16 {
                        charsets.insert(charset);
                    }
                }
                if !undecodable && text.contains('\u{FFFD}') {
                    undecodable = true;
                    push(defects, DefectKind::UndecodableText, declared.clone());
                }
                if is_attachment {
                    attachments.push(attachment(part, declared, visit.nesting, None));
                }
            }
            PartType::Binary(_) | PartType::InlineBinary(_) => {
                // The root of a multipart that has no usable boundary is the body, read as
                // text by `broken_multipart_text`, not an attachment.
                let broken_root = visit.part == 0
                    && content_type.is_some_and(|ct| ct.ctype().eq_ignore_ascii_case("multipart"));
                if !broken_root {
                    attachments.push(attachment(part, declared, visit.nesting, None));
                }
            }
            PartType::Message(nested) => {
                let subject = nested.subject().map(|s| clip(s, 200));
                attachments.push(attachment(
                    part,
                    declared.or_else(|| Some("message/rfc822".into())),
                    visit.nesting,
                    subject,
                ));
                stack.push(Visit {
                    message: nested,
                    part: 0,
                    depth: visit.depth + 1,
                    nesting: visit.nesting + 1,
                });
            }
            PartType::Multipart(children) => {
                // Reversed so that the stack visits children in document order.
                stack.extend(children.iter().rev().map(|&child| Visit {
                    message: visit.message,
                    part: child,
                    depth: visit.depth + 1,
                    nesting: visit.nesting,
                }));
            }
        }
    }
    body.depth = max_depth;
    body.charsets = charsets.into_iter().collect();
    if max_depth > DEEP_NESTING {
        push(
            defects,
            DefectKind::DeepNesting,
            Some(format!("{max_depth} levels")),
        );
    }
}

fn attachment(
    part: &mail_parser::MessagePart<'_>,
    content_type: Option<String>,
    nesting: usize,
    fallback_name: Option<String>,
) -> Attachment {
    let inline = matches!(part.body, PartType::InlineBinary(_))
        || part
            .content_disposition()
            .is_some_and(ContentType::is_inline);
    Attachment {
        name: part
            .attachment_name()
            .map(|n| clip(n, 200))
            .or(fallback_name),
        content_type: content_type.unwrap_or_else(|| "application/octet-stream".into()),
        size: part.body.len(),
        inline,
        nesting,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_scan_finds_line_defects() {
        let long = format!("Subject: {}\n", "x".repeat(1200));
        let raw = format!(
            "From: a@x\nthis is not a header\n{long}X-Raw: caf\u{e9}\n\nbody: not scanned\n"
        );
        let scan = scan_header_block(raw.as_bytes());
        let kinds: Vec<_> = scan.defects.iter().map(|d| d.kind).collect();
        assert_eq!(
            kinds,
            vec![
                DefectKind::MalformedHeaderLine,
                DefectKind::RawEightBitHeader,
                DefectKind::LongHeaderLine
            ]
        );
        assert_eq!(scan.valid_lines, 3);
    }

    #[test]
    fn envelope_line_is_stripped_only_when_present() {
        assert_eq!(
            strip_envelope_line(b"From a@b Mon\nSubject: x\n"),
            b"Subject: x\n"
        );
        assert_eq!(strip_envelope_line(b"From: a@b\n"), b"From: a@b\n");
    }

    #[test]
    fn utf8_labels_are_recognised() {
        assert!(is_utf8_label("UTF-8"));
        assert!(is_utf8_label("utf8"));
        assert!(!is_utf8_label("x-unknown"));
    }
}
