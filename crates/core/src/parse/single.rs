//! The common shape of mail, one text part, without mail-parser's byte-at-a-time body
//! decoding.
//!
//! Nine messages in ten of the SpamAssassin corpus are a single text/plain or text/html part
//! (or have no Content-Type at all), sent as-is or quoted-printable. mail-parser decodes such a
//! body one byte at a time: its quoted-printable decoder pushes every byte, and its
//! single-byte charset tables (`us-ascii` and `iso-8859-1` included) push every byte as a
//! `char`. That was a third of its time on the corpus. Here the same [`Message`] is built
//! from mail-parser's own parse of the headers, with the body decoded a run at a time: the
//! quoted-printable decoder copies the runs between `=` and line ends, and an ASCII body in
//! a charset that maps ASCII to itself is taken as it is.
//!
//! Anything else (multipart, base64, a disposition of `attachment`, a header block whose end
//! is not a plain empty line, a body mail-parser would call an encoding problem) gives
//! `None`, and the full parse runs. A proptest holds the result to mail-parser's full parse
//! (equal `Message`s) over generated messages, and an ignored test does so over a corpus
//! (`scripts/check-corpus.sh` runs it on all 6,046 SpamAssassin messages).

use std::borrow::Cow;
use std::sync::OnceLock;

use mail_parser::decoders::charsets::map::charset_decoder;
use mail_parser::{
    Encoding, GetHeader, HeaderName, HeaderValue, Message, MessageParser, MessagePart, PartType,
};

/// Charset labels (as mail-parser folds them: lower case, `-` as `_`) that mail-parser
/// decodes with a table of one character per byte mapping ASCII to itself, so that an
/// ASCII body decodes to the same text byte for byte. A test checks each of them against
/// mail-parser's decoder.
const ASCII_TRANSPARENT: [&str; 14] = [
    "us_ascii",
    "ascii",
    "iso_8859_1",
    "iso8859_1",
    "iso88591",
    "latin1",
    "l1",
    "cp1252",
    "windows_1252",
    "iso_8859_15",
    "iso8859_15",
    "iso885915",
    "latin_9",
    "l9",
];

/// The message as `parser.parse(bytes)` gives it, when it is a single text part this module
/// reads; `None` otherwise.
pub(super) fn parse<'x>(parser: &MessageParser, bytes: &'x [u8]) -> Option<Message<'x>> {
    let mut message = parser.parse_headers(bytes)?;
    let [root] = message.parts.as_slice() else {
        return None;
    };
    let body_start = body_start(bytes, root)?;
    let content_type = root
        .headers
        .header_value(&HeaderName::ContentType)
        .and_then(HeaderValue::as_content_type);
    // mail-parser's own test (case-sensitive, as it is there): only these are inline text.
    let is_html = match content_type {
        None => false,
        Some(ct) if ct.ctype() == "text" => match ct.subtype() {
            Some("plain") => false,
            Some("html") => true,
            _ => return None,
        },
        Some(_) => return None,
    };
    let attachment = root
        .headers
        .header_value(&HeaderName::ContentDisposition)
        .and_then(HeaderValue::as_content_type)
        .is_some_and(mail_parser::ContentType::is_attachment);
    if attachment {
        return None;
    }
    let body = &bytes[body_start..];
    let (encoding, decoded): (Encoding, Cow<'x, [u8]>) = match root
        .headers
        .header_value(&HeaderName::ContentTransferEncoding)
    {
        Some(HeaderValue::Text(e)) if e.eq_ignore_ascii_case("base64") => return None,
        Some(HeaderValue::Text(e)) if e.eq_ignore_ascii_case("quoted-printable") => (
            Encoding::QuotedPrintable,
            Cow::Owned(quoted_printable(body)?),
        ),
        _ => (Encoding::None, Cow::Borrowed(body)),
    };
    let charset = content_type.and_then(|ct| ct.attribute("charset"));
    let text = decode_text(decoded, charset);
    message.parts[0] = MessagePart {
        headers: std::mem::take(&mut message.parts[0].headers),
        is_encoding_problem: false,
        body: if is_html {
            PartType::Html(text)
        } else {
            PartType::Text(text)
        },
        encoding,
        offset_header: 0,
        offset_body: u32::try_from(body_start).ok()?,
        offset_end: u32::try_from(bytes.len()).ok()?,
    };
    message.text_body = vec![0];
    message.html_body = vec![0];
    message.attachments = Vec::new();
    Some(message)
}

/// Where the body starts, as mail-parser's header loop finds it: after the last header's
/// value comes white space and a line feed. Anything else there (a line without a name,
/// the end of the input) is left to the full parse.
fn body_start(bytes: &[u8], root: &MessagePart<'_>) -> Option<usize> {
    let mut at = root.headers.last()?.offset_end as usize;
    loop {
        match bytes.get(at)? {
            b'\n' => return Some(at + 1),
            b if b.is_ascii_whitespace() => at += 1,
            _ => return None,
        }
    }
}

/// The body's text as mail-parser decodes it: with the charset's decoder when it has one,
/// else as UTF-8 with replacement characters.
fn decode_text<'x>(bytes: Cow<'x, [u8]>, charset: Option<&str>) -> Cow<'x, str> {
    let decoder = charset.and_then(|c| charset_decoder(c.as_bytes()));
    let Some(decoder) = decoder else {
        return utf8(bytes);
    };
    match charset.and_then(transparent_table) {
        // ASCII is valid UTF-8, and these decoders map it to itself.
        Some(_) if bytes.is_ascii() => utf8(bytes),
        Some(high) => Cow::Owned(by_table(&bytes, high)),
        None => Cow::Owned(decoder(&bytes)),
    }
}

/// For a charset of [`ASCII_TRANSPARENT`], what its decoder makes of each byte from 0x80
/// up, asked of the decoder once per process; `None` for other charsets.
fn transparent_table(charset: &str) -> Option<&'static [char]> {
    static TABLES: [OnceLock<Option<Vec<char>>>; ASCII_TRANSPARENT.len()] =
        [const { OnceLock::new() }; ASCII_TRANSPARENT.len()];
    let i = ASCII_TRANSPARENT
        .iter()
        .position(|label| same_label(label, charset))?;
    TABLES[i]
        .get_or_init(|| {
            let decoder = charset_decoder(ASCII_TRANSPARENT[i].as_bytes())?;
            let high: Vec<u8> = (0x80..=0xFF).collect();
            let chars: Vec<char> = decoder(&high).chars().collect();
            // One character per byte, or the table would not be the decoder.
            (chars.len() == high.len()).then_some(chars)
        })
        .as_deref()
}

/// `bytes` decoded by a one-character-per-byte table that maps ASCII to itself (`high`
/// for the bytes from 0x80): ASCII runs are copied, eight bytes at a time where they can.
fn by_table(bytes: &[u8], high: &[char]) -> String {
    let mut out = String::with_capacity(bytes.len() + bytes.len() / 4);
    let mut at = 0;
    while at < bytes.len() {
        let mut end = at;
        while let Some(eight) = bytes.get(end..end + 8) {
            if eight.is_ascii() {
                end += 8;
            } else {
                break;
            }
        }
        end += bytes[end..].iter().take_while(|b| b.is_ascii()).count();
        // Only ASCII bytes are in the run, so it is UTF-8.
        out.push_str(std::str::from_utf8(&bytes[at..end]).unwrap_or_default());
        if let Some(&b) = bytes.get(end) {
            out.push(high[usize::from(b - 0x80)]);
        }
        at = end + 1;
    }
    out
}

/// The bytes as UTF-8, invalid sequences replaced (`from_utf8_lossy` reads valid text a
/// good deal slower than `from_utf8`, so it is kept for the text that needs it).
fn utf8(bytes: Cow<'_, [u8]>) -> Cow<'_, str> {
    match bytes {
        Cow::Borrowed(b) => {
            std::str::from_utf8(b).map_or_else(|_| String::from_utf8_lossy(b), Cow::Borrowed)
        }
        Cow::Owned(v) => Cow::Owned(
            String::from_utf8(v)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
        ),
    }
}

/// Whether `charset`, folded as mail-parser folds it (lower case, `-` as `_`), is `label`.
fn same_label(label: &str, charset: &str) -> bool {
    label.len() == charset.len()
        && label.bytes().zip(charset.bytes()).all(|(l, c)| {
            let folded = if c == b'-' {
                b'_'
            } else {
                c.to_ascii_lowercase()
            };
            l == folded
        })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Qp {
    /// Plain text.
    Plain,
    /// After `=`.
    Equals,
    /// After `=` and one hex digit, of this value.
    Hex(u8),
}

/// mail-parser's quoted-printable decoding of a whole part (no boundary after it), a run
/// at a time; `None` where mail-parser gives up (an `=` after `=` or `=X`), as the full parse
/// then recovers the part in its own way. As there: a line feed ends a line as `\n` until a
/// `\r` has been seen, and as `\r\n` after; `\r` itself is dropped; white space at the end
/// of a hard line break goes; `=` then white space waits for the line feed of a soft break;
/// a bad escape is kept as written.
fn quoted_printable(body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(body.len());
    let mut state = Qp::Plain;
    // White space at the end of `out`, pushed as plain text since the last other byte.
    let mut trailing = 0usize;
    let mut crlf: &[u8] = b"\n";
    let mut at = 0;
    while at < body.len() {
        if state == Qp::Plain {
            let end =
                memchr::memchr3(b'=', b'\n', b'\r', &body[at..]).map_or(body.len(), |n| at + n);
            if end > at {
                let run = &body[at..end];
                out.extend_from_slice(run);
                let ws = run
                    .iter()
                    .rev()
                    .take_while(|b| b.is_ascii_whitespace())
                    .count();
                trailing = if ws == run.len() { trailing + ws } else { ws };
                at = end;
                continue;
            }
        }
        let ch = body[at];
        if state == Qp::Plain && ch == b'=' {
            // The common escapes at once: `=XX`, and the soft breaks `=\n` and `=\r\n`.
            if let Some(&[h1, h2]) = body.get(at + 1..at + 3) {
                if let (Some(h1), Some(h2)) = (hex(h1), hex(h2)) {
                    out.push((h1 << 4) | h2);
                    trailing = 0;
                    at += 3;
                    continue;
                }
                if [h1, h2] == *b"\r\n" {
                    crlf = b"\r\n";
                    trailing = 0;
                    at += 3;
                    continue;
                }
            }
            if body.get(at + 1) == Some(&b'\n') {
                trailing = 0;
                at += 2;
                continue;
            }
        }
        match ch {
            b'=' if state == Qp::Plain => state = Qp::Equals,
            b'=' => return None,
            b'\n' => {
                if state == Qp::Equals {
                    state = Qp::Plain;
                } else {
                    out.truncate(out.len().saturating_sub(trailing));
                    out.extend_from_slice(crlf);
                }
                trailing = 0;
            }
            b'\r' => crlf = b"\r\n",
            _ => match state {
                // Not reached: plain bytes are taken as runs above.
                Qp::Plain => {}
                Qp::Equals => {
                    if let Some(h) = hex(ch) {
                        state = Qp::Hex(h);
                    } else if !ch.is_ascii_whitespace() {
                        state = Qp::Plain;
                        out.extend_from_slice(&[b'=', ch]);
                        trailing = 0;
                    }
                }
                Qp::Hex(hex1) => {
                    state = Qp::Plain;
                    if let Some(h2) = hex(ch) {
                        out.push((hex1 << 4) | h2);
                    } else {
                        // The byte before this one, whatever it was (a `\r` or `\n` between
                        // the digits included), as mail-parser keeps it.
                        out.extend_from_slice(&[b'=', body[at - 1], ch]);
                    }
                    trailing = 0;
                }
            },
        }
        at += 1;
    }
    Some(out)
}

/// The value of a hex digit, either case.
fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
