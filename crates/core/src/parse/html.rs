//! HTML bodies: text for reading and learning, and the link targets behind the text.
//!
//! mail-parser's converter drops tags without leaving white space, so the words of adjacent
//! table cells or `<div>`s fuse ("Qty1€412.50"). A pre-pass marks where blocks and cells
//! start (a line break before block tags, a space before cells) and mail-parser's converter,
//! which keeps entity decoding and skips style, script and comments, does the rest. Link
//! targets are read from `<a href>`: in phishing the visible text and the target differ, and
//! the converted text shows only the former.

use memchr::memchr;

/// Most distinct link targets kept per message.
pub const MAX_LINKS: usize = 64;

const BLOCK_TAGS: &[&str] = &[
    "address",
    "article",
    "blockquote",
    "center",
    "dd",
    "div",
    "dl",
    "dt",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "table",
    "title",
    "tr",
    "ul",
];
const CELL_TAGS: &[&str] = &["button", "img", "input", "label", "option", "td", "th"];

/// The text of an HTML body.
pub(super) fn to_text(html: &str) -> String {
    let marked = mark_boundaries(html);
    let text = mail_parser::decoders::html::html_to_text(&marked);
    // Block marks stack up (`</p><div><p>`): keep at most one blank line in a row.
    let mut out = String::with_capacity(text.len());
    let mut newlines = 0;
    for c in text.trim_start_matches(['\n', '\r', ' ']).chars() {
        if c == '\n' {
            newlines += 1;
            if newlines > 2 {
                continue;
            }
        } else {
            newlines = 0;
        }
        out.push(c);
    }
    out
}

/// The tag name starting at `at` (just after `<` or `</`), lower case, empty if none.
fn tag_name(bytes: &[u8], at: usize) -> String {
    bytes[at..]
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric())
        .take(16)
        .map(|b| b.to_ascii_lowercase() as char)
        .collect()
}

fn mark_boundaries(html: &str) -> String {
    let bytes = html.as_bytes();
    let mut out = String::with_capacity(html.len() + html.len() / 16);
    let mut copied = 0;
    let mut at = 0;
    let mut raw_text: Option<String> = None;
    while let Some(i) = memchr(b'<', &bytes[at..]).map(|i| at + i) {
        at = i + 1;
        let closing = bytes.get(at) == Some(&b'/');
        let name = tag_name(bytes, at + usize::from(closing));
        // Inside <script> and <style>, `<` is not a tag: mark nothing until they close.
        if let Some(open) = &raw_text {
            if closing && *open == name {
                raw_text = None;
            }
            continue;
        }
        if !closing && (name == "script" || name == "style") {
            raw_text = Some(name);
            continue;
        }
        let mark = if BLOCK_TAGS.contains(&name.as_str()) {
            "<br>"
        } else if CELL_TAGS.contains(&name.as_str()) {
            " "
        } else {
            continue;
        };
        out.push_str(&html[copied..i]);
        out.push_str(mark);
        copied = i;
    }
    out.push_str(&html[copied..]);
    out
}

/// Appends the targets of `<a href>` links (http, https, mailto, ftp), distinct, in order.
pub(super) fn collect_links(html: &str, links: &mut Vec<String>) {
    let bytes = html.as_bytes();
    let mut at = 0;
    while links.len() < MAX_LINKS {
        let Some(i) = memchr(b'<', &bytes[at..]).map(|i| at + i) else {
            break;
        };
        at = i + 1;
        if tag_name(bytes, at) != "a" {
            continue;
        }
        let end = memchr(b'>', &bytes[at..]).map_or(bytes.len(), |e| at + e);
        if let Some(target) = href(&html[at..end]) {
            if !links.contains(&target) {
                links.push(target);
            }
        }
        at = end;
    }
}

/// The `href` value in the inside of an `<a ...>` tag.
fn href(tag: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    let value_start = loop {
        let pos = from + lower[from..].find("href")?;
        let rest = lower[pos + 4..].trim_start();
        if let Some(after_eq) = rest.strip_prefix('=') {
            break tag.len() - after_eq.trim_start().len();
        }
        from = pos + 4;
    };
    let value = &tag[value_start..];
    let value = match value.as_bytes().first() {
        Some(&q @ (b'"' | b'\'')) => value[1..].split(q as char).next().unwrap_or(""),
        _ => value.split([' ', '\t', '\n', '\r']).next().unwrap_or(""),
    };
    let value = value.trim().replace("&amp;", "&");
    let scheme = value.split(':').next().unwrap_or("").to_ascii_lowercase();
    matches!(scheme.as_str(), "http" | "https" | "mailto" | "ftp").then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_and_blocks_do_not_fuse() {
        let text = to_text(
            "<table><tr><td>Item</td><td>Qty</td></tr><tr><td>Pens</td><td>12</td></tr></table>\
             <div>one</div><div>two</div>",
        );
        assert!(text.contains("Item Qty"), "{text:?}");
        assert!(text.contains("Pens 12"), "{text:?}");
        assert!(!text.contains("onetwo"), "{text:?}");
    }

    #[test]
    fn scripts_styles_and_entities() {
        let text = to_text(
            "<style>p{x:1}</style><script>if (a<div) b();</script><p>caf&eacute; &amp; t&#233;</p>",
        );
        assert_eq!(text.trim(), "café & té");
    }

    #[test]
    fn link_targets_are_collected_once_and_filtered() {
        let mut links = Vec::new();
        collect_links(
            "<a href=\"https://good.example/x?a=1&amp;b=2\">good</a> <A HREF='http://evil.example'>x</A>\
             <a href=https://good.example/x?a=1&amp;b=2>again</a><a href=\"javascript:void(0)\">no</a>\
             <abbr title=x>not a link</abbr><a name=top>anchor</a>",
            &mut links,
        );
        assert_eq!(
            links,
            vec!["https://good.example/x?a=1&b=2", "http://evil.example"]
        );
    }
}
