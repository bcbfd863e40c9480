//! The MIME tree: the readable text, attachments as metadata, forwarded messages, and the
//! structural defects found on the way. One walk visits each part once.

use std::collections::{BTreeSet, HashSet};

use mail_parser::decoders::charsets::map::charset_decoder;
use mail_parser::{ContentType, Message, MessagePart, MimeHeaders, PartType};
use memchr::memmem;
use serde::Serialize;

use super::defects::{self, Defect, DefectKind, DEEP_NESTING};
use super::headers::{self, clip, Mailbox};
use super::html;
use super::{Attachment, Body};

/// U+FFFD, the replacement character, in UTF-8: the mark of bytes that did not decode.
const REPLACEMENT: &[u8] = "\u{FFFD}".as_bytes();

/// Most forwarded messages described per message.
const MAX_FORWARDED: usize = 16;
/// At most this many MIME parts are visited per message.
const MAX_PARTS: usize = 10_000;
/// At most this many multipart boundaries are checked for their closing delimiter.
const MAX_BOUNDARY_CHECKS: usize = 64;

/// A message attached to this one (a forward, a digest entry, a bounced original).
#[derive(Debug, Clone, Serialize)]
pub struct Forwarded {
    /// Its Subject.
    pub subject: Option<String>,
    /// Its first From mailbox.
    pub from: Option<Mailbox>,
    /// Its Date, RFC 3339.
    pub date: Option<String>,
    /// Its text body, HTML converted, as for the outer message.
    pub text: String,
    /// 1 when attached to this message, 2 inside such an attachment, and so on.
    pub nesting: usize,
}

/// What the walk found.
pub(super) struct Structure {
    pub body: Body,
    pub attachments: Vec<Attachment>,
    pub forwarded: Vec<Forwarded>,
}

/// The text body parts joined by a blank line; HTML is turned into text.
pub(super) fn body_text(message: &Message<'_>) -> String {
    let mut text = String::new();
    for &id in &message.text_body {
        let Some(part) = message.parts.get(id as usize) else {
            continue;
        };
        let Some(part_text) = part_text(part) else {
            continue;
        };
        if text.is_empty() {
            // The first text (most mail has one): taken as it is, not copied.
            text = part_text;
            continue;
        }
        text.push_str("\n\n");
        text.push_str(&part_text);
    }
    if message.text_body.is_empty() {
        return broken_multipart_text(message);
    }
    text
}

fn part_text(part: &MessagePart<'_>) -> Option<String> {
    match &part.body {
        PartType::Text(text) => {
            let flowed = part.content_type().and_then(|ct| {
                let format = ct.attribute("format")?;
                format.eq_ignore_ascii_case("flowed").then(|| {
                    ct.attribute("delsp")
                        .is_some_and(|d| d.eq_ignore_ascii_case("yes"))
                })
            });
            Some(match flowed {
                Some(delsp) => unflow(text, delsp),
                None => lf_line_ends(text),
            })
        }
        PartType::Html(html) => Some(html::to_text(html)),
        _ => None,
    }
}

/// Text with CRLF line ends turned into LF, so that text reads the same from every sender.
fn lf_line_ends(text: &str) -> String {
    if memchr::memchr(b'\r', text.as_bytes()).is_none() {
        return text.to_string();
    }
    text.replace("\r\n", "\n")
}

/// RFC 3676 format=flowed: a line ending in a space continues on the next line (at the same
/// quote depth); a leading space is stuffing. Joining them gives back the sender's paragraphs.
fn unflow(text: &str, delsp: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut soft_before = false;
    let mut depth_before = 0;
    for (i, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let depth = line.bytes().take_while(|&b| b == b'>').count();
        let content = &line[depth..];
        let content = content.strip_prefix(' ').unwrap_or(content);
        let continues = soft_before && depth == depth_before;
        if !continues {
            if i > 0 {
                out.push('\n');
            }
            if depth > 0 {
                out.push_str(&line[..depth]);
                out.push(' ');
            }
        }
        // The signature separator "-- " is not a soft break.
        let soft = content.ends_with(' ') && content != "-- ";
        out.push_str(if soft && delsp {
            &content[..content.len() - 1]
        } else {
            content
        });
        soft_before = soft;
        depth_before = depth;
    }
    out
}

/// A multipart whose boundary is missing, or never used, is left by mail-parser as one
/// opaque part outside the text body; its content is still what the sender wrote, so triage
/// reads it as text rather than losing it (the defect says what happened).
fn broken_multipart_text(message: &Message<'_>) -> String {
    let root = message.root_part();
    if !root.content_type().is_some_and(is_multipart) {
        return String::new();
    }
    match &root.body {
        PartType::Text(text) | PartType::Html(text) => text.to_string(),
        PartType::Binary(bytes) | PartType::InlineBinary(bytes) => {
            String::from_utf8_lossy(bytes).into_owned()
        }
        _ => String::new(),
    }
}

fn is_multipart(ct: &ContentType<'_>) -> bool {
    ct.ctype().eq_ignore_ascii_case("multipart")
}

fn is_text_plain(ct: Option<&ContentType<'_>>) -> bool {
    ct.is_none_or(|ct| {
        ct.ctype().eq_ignore_ascii_case("text")
            && ct.subtype().is_none_or(|s| s.eq_ignore_ascii_case("plain"))
    })
}

/// One MIME part to visit: which message level it belongs to, and where in the tree.
struct Visit<'m, 'x> {
    message: &'m Message<'x>,
    part: u32,
    depth: usize,
    nesting: usize,
}

/// Walks the MIME tree once: text, parts, attachments, forwards, charsets, links, defects.
pub(super) fn read_structure(
    root: &Message<'_>,
    raw: &[u8],
    defects: &mut Vec<Defect>,
) -> Structure {
    let mut body = Body {
        text: body_text(root),
        html_only: !root.text_body.is_empty()
            && root.text_body.iter().all(|&id| {
                matches!(
                    root.parts.get(id as usize).map(|p| &p.body),
                    Some(PartType::Html(_))
                )
            }),
        content_type: root
            .root_part()
            .content_type()
            .map_or_else(|| "text/plain".to_string(), defects::type_name),
        ..Body::default()
    };
    let mut attachments = Vec::new();
    let mut forwarded = Vec::new();
    let mut charsets = BTreeSet::new();
    let mut boundary_checks = 0;
    let mut undecodable = false;
    let mut stack = vec![Visit {
        message: root,
        part: 0,
        depth: 1,
        nesting: 0,
    }];
    // mail-parser's part ids should form a tree, but crafted input can make a container list
    // itself or an ancestor: each part is visited once, and the walk has a hard budget.
    let mut visited = HashSet::new();
    while let Some(visit) = stack.pop() {
        let level = std::ptr::from_ref(visit.message) as usize;
        if !visited.insert((level, visit.part)) {
            continue;
        }
        if visited.len() > MAX_PARTS {
            defects::push(
                defects,
                DefectKind::TooManyParts,
                Some(format!("over {MAX_PARTS}")),
            );
            break;
        }
        let Some(part) = visit.message.parts.get(visit.part as usize) else {
            continue;
        };
        body.parts += 1;
        body.depth = body.depth.max(visit.depth);
        let content_type = part.content_type();
        let declared = content_type.map(defects::type_name);
        let is_attachment = visit.part != 0 && visit.message.attachments.contains(&visit.part);
        // An empty part (headers only) is flagged by mail-parser, but nothing failed to decode.
        if part.is_encoding_problem && part.body.len() > 0 {
            defects::push(
                defects,
                DefectKind::EncodingProblem,
                declared.clone().or_else(|| Some("text/plain".into())),
            );
        }
        if let Some(ct) = content_type.filter(|ct| is_multipart(ct)) {
            match (ct.attribute("boundary"), &part.body) {
                (None, _) => defects::push(defects, DefectKind::MissingBoundary, declared.clone()),
                (Some(_), body) if !matches!(body, PartType::Multipart(_)) => {
                    defects::push(defects, DefectKind::BoundaryNotFound, declared.clone());
                }
                (Some(boundary), _) if boundary_checks < MAX_BOUNDARY_CHECKS => {
                    boundary_checks += 1;
                    let level_raw = visit.message.raw_message();
                    let haystack = if level_raw.is_empty() { raw } else { level_raw };
                    let closing = [b"--", boundary.as_bytes(), b"--"].concat();
                    if memmem::find(haystack, &closing).is_none() {
                        defects::push(defects, DefectKind::TruncatedMultipart, declared.clone());
                    }
                }
                _ => {}
            }
        }
        match &part.body {
            PartType::Text(text) | PartType::Html(text) => {
                let is_html = matches!(part.body, PartType::Html(_));
                if is_html {
                    body.html_parts += 1;
                    html::collect_links(text, &mut body.links);
                } else if is_text_plain(content_type) && !part.is_encoding_problem {
                    body.text_parts += 1;
                }
                if let Some(charset) = content_type.and_then(|c| c.attribute("charset")) {
                    let charset = clip(charset.trim(), 40).to_ascii_lowercase();
                    if charset_decoder(charset.as_bytes()).is_none()
                        && !defects::is_utf8_label(&charset)
                    {
                        defects::push(defects, DefectKind::UnknownCharset, Some(charset.clone()));
                    }
                    if charsets.len() < 16 {
                        charsets.insert(charset);
                    }
                }
                // memmem looks for the rarest of the three bytes; `str::contains` looked for
                // the last, 0xBD, which is common inside other scripts' characters.
                if !undecodable && memmem::find(text.as_bytes(), REPLACEMENT).is_some() {
                    undecodable = true;
                    defects::push(defects, DefectKind::UndecodableText, declared.clone());
                }
                if is_attachment {
                    attachments.push(attachment(part, declared, visit.nesting, None));
                }
            }
            PartType::Binary(_) | PartType::InlineBinary(_) => {
                // The root of a multipart that has no usable boundary is the body, read as
                // text by `broken_multipart_text`, not an attachment.
                let broken_root = visit.part == 0 && content_type.is_some_and(is_multipart);
                if !broken_root {
                    attachments.push(attachment(part, declared, visit.nesting, None));
                }
            }
            PartType::Message(nested) => {
                let subject = nested.subject().map(|s| clip(s, 200));
                if forwarded.len() < MAX_FORWARDED {
                    forwarded.push(Forwarded {
                        subject: subject.clone(),
                        from: nested.from().and_then(|a| a.first()).map(headers::mailbox),
                        date: nested
                            .date()
                            .filter(|d| d.is_valid())
                            .map(mail_parser::DateTime::to_rfc3339),
                        text: body_text(nested),
                        nesting: visit.nesting + 1,
                    });
                }
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
    body.charsets = charsets.into_iter().collect();
    if body.depth > DEEP_NESTING {
        defects::push(
            defects,
            DefectKind::DeepNesting,
            Some(format!("{} levels", body.depth)),
        );
    }
    Structure {
        body,
        attachments,
        forwarded,
    }
}

fn attachment(
    part: &MessagePart<'_>,
    content_type: Option<String>,
    nesting: usize,
    fallback_name: Option<String>,
) -> Attachment {
    let disposition = part.content_disposition();
    let inline = disposition.map_or(part.content_id().is_some(), ContentType::is_inline);
    // A nested message's body holds the whole outer buffer; its own extent is in the offsets.
    let size = match &part.body {
        PartType::Message(_) if part.offset_end > part.offset_body => {
            (part.offset_end - part.offset_body) as usize
        }
        body => body.len(),
    };
    Attachment {
        name: part
            .attachment_name()
            .map(|n| clip(n, 200))
            .or(fallback_name),
        content_type: content_type.unwrap_or_else(|| "application/octet-stream".into()),
        size,
        inline,
        nesting,
    }
}

#[cfg(test)]
mod tests {
    use super::unflow;

    #[test]
    fn flowed_text_is_unwrapped_at_soft_breaks_only() {
        let text = "This is a long \r\nparagraph that \r\nflows.\r\nHard break.\r\n> quoted \r\n> on.\r\n-- \r\nsig\r\n";
        assert_eq!(
            unflow(text, false),
            "This is a long paragraph that flows.\nHard break.\n> quoted on.\n-- \nsig\n"
        );
        assert_eq!(unflow("a \r\nb\r\n", true), "ab\n");
        assert_eq!(unflow(" From stuffed\r\n", false), "From stuffed\n");
    }
}
