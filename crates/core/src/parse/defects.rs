//! Defects: what was wrong with a message that could still be read.
//!
//! mail-parser repairs what it can without saying so; triage wants to know (spam is often
//! malformed, and a reviewer wants to see why a message looks odd). Defects come from two
//! places: a scan of the raw header block (line length, raw 8-bit bytes, lines that are not
//! headers), and a walk over the parsed MIME tree (charsets, boundaries, encodings, depth).
//! Both are bounded: the scan reads the header block once, and the walk visits each part once.

use mail_parser::ContentType;
use serde::Serialize;

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
    /// A header that may appear once (From, To, Cc, Subject, Date, Message-ID, Reply-To)
    /// appears more than once; the last one is used.
    DuplicateHeader,
    /// The header block runs to the end of the message: no empty line, no body.
    MissingBodySeparator,
    /// A decoded header (Subject, a display name) still holds bytes that could not be decoded.
    UndecodableHeader,
    /// More MIME parts than are walked; the rest are not described.
    TooManyParts,
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
            DefectKind::DuplicateHeader => "duplicate_header",
            DefectKind::MissingBodySeparator => "missing_body_separator",
            DefectKind::UndecodableHeader => "undecodable_header",
            DefectKind::TooManyParts => "too_many_parts",
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
/// RFC 5322: lines must be no more than 998 characters, line break excluded.
const MAX_LINE: usize = 998;

pub(super) fn push(defects: &mut Vec<Defect>, kind: DefectKind, detail: Option<String>) {
    if defects.len() < MAX_DEFECTS && !defects.iter().any(|d| d.kind == kind && d.detail == detail)
    {
        defects.push(Defect::new(kind, detail));
    }
}

/// What a scan of the raw header block found.
pub(super) struct HeaderScan {
    pub valid_lines: usize,
    pub defects: Vec<Defect>,
    /// A Content-Type line's value starts with `multipart` (a hint only: the full parse,
    /// not the single-part path, will read the message).
    pub multipart: bool,
}

/// Reads the header block (up to the first empty line) once.
pub(super) fn scan_header_block(bytes: &[u8]) -> HeaderScan {
    let mut scan = HeaderScan {
        valid_lines: 0,
        defects: Vec::new(),
        multipart: false,
    };
    let mut longest = 0;
    let mut at = 0;
    let mut line_no = 0;
    let mut seen = [0u32; SINGLE_HEADERS.len()];
    let mut separated = false;
    while at < bytes.len() {
        let end = memchr::memchr(b'\n', &bytes[at..]).map_or(bytes.len(), |i| at + i);
        let line = &bytes[at..end];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        at = end + 1;
        line_no += 1;
        if line.is_empty() {
            separated = true;
            break;
        }
        longest = longest.max(line.len());
        if !line.is_ascii() {
            push(&mut scan.defects, DefectKind::RawEightBitHeader, None);
        }
        if line[0] == b' ' || line[0] == b'\t' {
            continue;
        }
        if let Some(name) = header_name(line) {
            scan.valid_lines += 1;
            if name.eq_ignore_ascii_case(b"content-type") {
                let value = line[name.len()..]
                    .trim_ascii_start()
                    .strip_prefix(b":")
                    .unwrap_or_default()
                    .trim_ascii_start();
                scan.multipart |= value
                    .get(..9)
                    .is_some_and(|v| v.eq_ignore_ascii_case(b"multipart"));
            }
            if let Some(i) = SINGLE_HEADERS
                .iter()
                .position(|h| name.eq_ignore_ascii_case(h.as_bytes()))
            {
                seen[i] += 1;
                if seen[i] == 2 {
                    push(
                        &mut scan.defects,
                        DefectKind::DuplicateHeader,
                        Some(SINGLE_HEADERS[i].to_string()),
                    );
                }
            }
        } else {
            push(
                &mut scan.defects,
                DefectKind::MalformedHeaderLine,
                Some(format!("line {line_no}")),
            );
        }
    }
    if !separated && scan.valid_lines > 0 {
        push(&mut scan.defects, DefectKind::MissingBodySeparator, None);
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

/// Headers RFC 5322 allows once per message (table 3.6).
const SINGLE_HEADERS: [&str; 7] = [
    "From",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "Reply-To",
];

/// The name of a `Name: value` line, the name printable ASCII without spaces (white space
/// before the colon is obsolete syntax, still accepted).
fn header_name(line: &[u8]) -> Option<&[u8]> {
    let colon = memchr::memchr(b':', line)?;
    let name = line[..colon].trim_ascii_end();
    (!name.is_empty() && name.iter().all(|&b| b.is_ascii_graphic())).then_some(name)
}

/// `type/subtype` in lower case.
pub(super) fn type_name(ct: &ContentType<'_>) -> String {
    let sub = ct.subtype();
    // Sized once for `type/subtype`, lower-cased in place.
    let mut name = String::with_capacity(ct.ctype().len() + 1 + sub.map_or(0, str::len));
    name.push_str(ct.ctype());
    if let Some(sub) = sub {
        name.push('/');
        name.push_str(sub);
    }
    name.make_ascii_lowercase();
    name
}

pub(super) fn is_utf8_label(charset: &str) -> bool {
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
    fn utf8_labels_are_recognised() {
        assert!(is_utf8_label("UTF-8"));
        assert!(is_utf8_label("utf8"));
        assert!(!is_utf8_label("x-unknown"));
    }
}
