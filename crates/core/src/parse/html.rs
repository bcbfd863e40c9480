//! HTML bodies: text for reading and learning, and the link targets behind the text.
//!
//! One pass over the bytes: tags are dropped, block tags (`<p>`, `<div>`, `<tr>`, `<li>`...)
//! end a line and cells (`<td>`, `<th>`) are kept apart by a space, so the words of adjacent
//! cells do not fuse ("Qty1€412.50"); runs of white space fold to one space; `<head>`,
//! `<script>`, `<style>`, `<template>` and comments are skipped whole; character references
//! are decoded (numeric ones, and the named ones of HTML 4). Link targets are read from
//! `<a href>`: in phishing the visible text and the target differ, and the text shows only
//! the former.

use memchr::{memchr, memmem};

use crate::swar::{chunk, first_below, first_equal};

/// Most distinct link targets kept per message.
pub const MAX_LINKS: usize = 64;

/// The text of an HTML body.
pub(super) fn to_text(html: &str) -> String {
    let bytes = html.as_bytes();
    let mut out = Text::with_capacity(html.len() / 2);
    let mut at = 0;
    while at < bytes.len() {
        let Some(lt) = memchr(b'<', &bytes[at..]).map(|i| at + i) else {
            out.push_text(&html[at..]);
            break;
        };
        out.push_text(&html[at..lt]);
        at = skip_markup(bytes, lt, &mut out);
    }
    out.finish()
}

/// Handles the markup starting at `lt` (a `<`) and returns where text resumes.
fn skip_markup(bytes: &[u8], lt: usize, out: &mut Text) -> usize {
    let rest = &bytes[lt + 1..];
    if rest.starts_with(b"!--") {
        return memmem::find(&rest[3..], b"-->").map_or(bytes.len(), |i| lt + 1 + 3 + i + 3);
    }
    let closing = rest.first() == Some(&b'/');
    let name_start = usize::from(closing);
    let name_len = rest[name_start..]
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric())
        .count();
    if name_len == 0 && !matches!(rest.first(), Some(b'!' | b'?' | b'/')) {
        // A `<` that opens no tag ("a < b") is text.
        out.push_text("<");
        return lt + 1;
    }
    let name = &rest[name_start..name_start + name_len];
    let end = memchr(b'>', rest).map_or(bytes.len(), |i| lt + 1 + i + 1);
    match tag_kind(name) {
        Tag::Skipped if !closing => return skip_element(bytes, end, name),
        Tag::Block => out.line_break(),
        Tag::Cell => out.space(),
        Tag::Skipped | Tag::Other => {}
    }
    end
}

/// What a tag does to the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    /// Its element is skipped whole: head, script, style, template, title.
    Skipped,
    /// It ends a line: paragraphs, divisions, headings, list items, rows, breaks...
    Block,
    /// It keeps its neighbours apart by a space: cells, images, form controls.
    Cell,
    Other,
}

/// The kind of the tag named `name` (any case), as one match, which compiles to a switch on
/// the length and a few comparisons: a list of names took a comparison per name for every
/// tag of a message. A test holds the match to the lists of names.
fn tag_kind(name: &[u8]) -> Tag {
    let mut lower = [0u8; 10];
    let Some(lower) = lower.get_mut(..name.len()) else {
        return Tag::Other;
    };
    for (l, b) in lower.iter_mut().zip(name) {
        *l = b.to_ascii_lowercase();
    }
    match &*lower {
        b"head" | b"script" | b"style" | b"template" | b"title" => Tag::Skipped,
        b"address" | b"article" | b"blockquote" | b"br" | b"center" | b"dd" | b"div" | b"dl"
        | b"dt" | b"footer" | b"form" | b"h1" | b"h2" | b"h3" | b"h4" | b"h5" | b"h6"
        | b"header" | b"hr" | b"li" | b"nav" | b"ol" | b"p" | b"pre" | b"section" | b"table"
        | b"tr" | b"ul" => Tag::Block,
        b"button" | b"img" | b"input" | b"label" | b"option" | b"td" | b"th" => Tag::Cell,
        _ => Tag::Other,
    }
}

/// Skips to just after `</name>` (or to the end if it never comes).
fn skip_element(bytes: &[u8], from: usize, name: &[u8]) -> usize {
    let mut at = from;
    while let Some(i) = memmem::find(&bytes[at.min(bytes.len())..], b"</").map(|i| at + i) {
        let candidate = &bytes[i + 2..];
        if candidate.len() >= name.len() && candidate[..name.len()].eq_ignore_ascii_case(name) {
            return memchr(b'>', candidate).map_or(bytes.len(), |j| i + 2 + j + 1);
        }
        at = i + 2;
    }
    bytes.len()
}

/// Text under construction: white space folded, at most one blank line in a row.
struct Text {
    out: String,
    /// A space is owed before the next word.
    pending_space: bool,
    /// Line breaks owed before the next word (capped at two: one blank line).
    pending_breaks: usize,
}

impl Text {
    fn with_capacity(n: usize) -> Self {
        Text {
            out: String::with_capacity(n),
            pending_space: false,
            pending_breaks: 0,
        }
    }

    fn space(&mut self) {
        self.pending_space = true;
    }

    fn line_break(&mut self) {
        self.pending_breaks = (self.pending_breaks + 1).min(2);
    }

    fn push_word_start(&mut self) {
        if self.out.is_empty() {
            self.pending_breaks = 0;
            self.pending_space = false;
            return;
        }
        if self.pending_breaks > 0 {
            for _ in 0..self.pending_breaks {
                self.out.push('\n');
            }
        } else if self.pending_space {
            self.out.push(' ');
        }
        self.pending_breaks = 0;
        self.pending_space = false;
    }

    /// Appends text between tags: white space folds, character references are decoded.
    fn push_text(&mut self, text: &str) {
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b.is_ascii_whitespace() {
                self.space();
                i += 1;
                continue;
            }
            if b == b'&' {
                i += self.push_reference(&bytes[i..]);
                continue;
            }
            // A run of other bytes, up to white space or `&` (both ASCII, so the cut is on a
            // character boundary).
            let end = run_end(bytes, i);
            self.push_word_start();
            self.out.push_str(&text[i..end]);
            i = end;
        }
    }

    /// Appends the character reference at the start of `bytes` (an `&`), or the `&` when
    /// it starts none; returns the bytes it used.
    fn push_reference(&mut self, bytes: &[u8]) -> usize {
        let (decoded, used) = decode_reference(bytes);
        match decoded {
            Some(c) if c.is_whitespace() && c != '\u{a0}' => self.space(),
            Some(c) => {
                self.push_word_start();
                self.out.push(c);
            }
            None => {
                self.push_word_start();
                self.out.push('&');
            }
        }
        used
    }

    fn finish(mut self) -> String {
        if !self.out.is_empty() {
            self.out.push('\n');
        }
        self.out
    }
}

/// Where the run of bytes from `at` that are neither ASCII white space nor `&` ends, eight
/// bytes at a time: text between tags is mostly short words, which a look at every byte
/// took a branch per byte to cross.
fn run_end(bytes: &[u8], mut at: usize) -> usize {
    loop {
        // Past the end the bytes read as zeros, which stop the search.
        let w = chunk(bytes, at);
        let stops = first_below(w, b' ' + 1) | first_equal(w, b'&');
        if stops == 0 {
            at += 8;
            continue;
        }
        let k = at + (stops.trailing_zeros() / 8) as usize;
        match bytes.get(k) {
            None => return bytes.len(),
            Some(b) if b.is_ascii_whitespace() || *b == b'&' => return k,
            // A control byte that is not white space belongs to the run.
            Some(_) => at = k + 1,
        }
    }
}

/// Decodes `&...;` at the start of `bytes`: the character and the bytes used, or `None`
/// and 1 when it is not a reference (the `&` is then literal).
fn decode_reference(bytes: &[u8]) -> (Option<char>, usize) {
    let window = &bytes[..bytes.len().min(34)];
    let Some(semi) = memchr(b';', window) else {
        return (None, 1);
    };
    let body = &window[1..semi];
    let c = if let Some(num) = body.strip_prefix(b"#") {
        let (digits, radix) = match num.first() {
            Some(b'x' | b'X') => (&num[1..], 16),
            _ => (num, 10),
        };
        std::str::from_utf8(digits)
            .ok()
            .and_then(|d| u32::from_str_radix(d, radix).ok())
            .map(|n| char::from_u32(n).unwrap_or('\u{FFFD}'))
    } else {
        named_entity(body)
    };
    match c {
        Some(c) => (Some(c), semi + 1),
        None => (None, 1),
    }
}

/// The HTML 4 entities: Latin-1 (`&nbsp;` to `&yuml;`, in code point order), then the
/// specials and punctuation mail uses.
const LATIN1: [&str; 96] = [
    "nbsp", "iexcl", "cent", "pound", "curren", "yen", "brvbar", "sect", "uml", "copy", "ordf",
    "laquo", "not", "shy", "reg", "macr", "deg", "plusmn", "sup2", "sup3", "acute", "micro",
    "para", "middot", "cedil", "sup1", "ordm", "raquo", "frac14", "frac12", "frac34", "iquest",
    "Agrave", "Aacute", "Acirc", "Atilde", "Auml", "Aring", "AElig", "Ccedil", "Egrave", "Eacute",
    "Ecirc", "Euml", "Igrave", "Iacute", "Icirc", "Iuml", "ETH", "Ntilde", "Ograve", "Oacute",
    "Ocirc", "Otilde", "Ouml", "times", "Oslash", "Ugrave", "Uacute", "Ucirc", "Uuml", "Yacute",
    "THORN", "szlig", "agrave", "aacute", "acirc", "atilde", "auml", "aring", "aelig", "ccedil",
    "egrave", "eacute", "ecirc", "euml", "igrave", "iacute", "icirc", "iuml", "eth", "ntilde",
    "ograve", "oacute", "ocirc", "otilde", "ouml", "divide", "oslash", "ugrave", "uacute", "ucirc",
    "uuml", "yacute", "thorn", "yuml",
];
const SPECIAL: [(&str, char); 37] = [
    ("amp", '&'),
    ("lt", '<'),
    ("gt", '>'),
    ("quot", '"'),
    ("apos", '\''),
    ("euro", '€'),
    ("trade", '™'),
    ("hellip", '…'),
    ("ndash", '–'),
    ("mdash", '—'),
    ("lsquo", '‘'),
    ("rsquo", '’'),
    ("sbquo", '‚'),
    ("ldquo", '“'),
    ("rdquo", '”'),
    ("bdquo", '„'),
    ("bull", '•'),
    ("dagger", '†'),
    ("Dagger", '‡'),
    ("permil", '‰'),
    ("lsaquo", '‹'),
    ("rsaquo", '›'),
    ("oline", '‾'),
    ("frasl", '⁄'),
    ("ensp", '\u{2002}'),
    ("emsp", '\u{2003}'),
    ("thinsp", '\u{2009}'),
    ("zwnj", '\u{200C}'),
    ("zwj", '\u{200D}'),
    ("lrm", '\u{200E}'),
    ("rlm", '\u{200F}'),
    ("OElig", 'Œ'),
    ("oelig", 'œ'),
    ("Scaron", 'Š'),
    ("scaron", 'š'),
    ("Yuml", 'Ÿ'),
    ("fnof", 'ƒ'),
];

fn named_entity(name: &[u8]) -> Option<char> {
    let name = std::str::from_utf8(name).ok()?;
    if let Some((_, c)) = SPECIAL.iter().find(|(n, _)| *n == name) {
        return Some(*c);
    }
    let i = LATIN1.iter().position(|n| *n == name)?;
    char::from_u32(0xA0 + i as u32)
}

/// Appends the targets of `<a href>` links (http, https, mailto, ftp), distinct, in order.
///
/// The anchors are found with memmem, `<a` and `<A` each, rather than by a look at every
/// `<`: HTML mail has a tag every few dozen bytes and few links, and the walk from tag to
/// tag was a tenth of the parse.
pub(super) fn collect_links(html: &str, links: &mut Vec<String>) {
    static FINDERS: std::sync::LazyLock<[memmem::Finder<'static>; 2]> =
        std::sync::LazyLock::new(|| [memmem::Finder::new(b"<a"), memmem::Finder::new(b"<A")]);
    let bytes = html.as_bytes();
    let find = |k: usize, from: usize| {
        bytes
            .get(from..)
            .and_then(|rest| FINDERS[k].find(rest))
            .map(|i| from + i)
    };
    // The next `<a` and `<A` at or after `at`, each looked for again once passed.
    let mut next = [find(0, 0), find(1, 0)];
    let mut at = 0;
    while links.len() < MAX_LINKS {
        for (k, found) in next.iter_mut().enumerate() {
            if found.is_some_and(|i| i < at) {
                *found = find(k, at);
            }
        }
        let Some(i) = next.iter().flatten().min().copied() else {
            break;
        };
        at = i + 1;
        // `<abbr>`, `<area>` and the like are other tags.
        if bytes.get(i + 2).is_some_and(u8::is_ascii_alphanumeric) {
            continue;
        }
        at = push_anchor(html, at, links);
    }
}

/// Reads the `<a ...>` tag whose name starts at `at`: its target joins `links` if it is a
/// new one. Returns where the tag ends (its `>`, or the end of the text).
fn push_anchor(html: &str, at: usize, links: &mut Vec<String>) -> usize {
    let bytes = html.as_bytes();
    let end = memchr(b'>', &bytes[at..]).map_or(bytes.len(), |e| at + e);
    if let Some(target) = href(&html[at..end]) {
        if !links.contains(&target) {
            links.push(target);
        }
    }
    end
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
    fn scripts_styles_comments_and_entities() {
        let text = to_text(
            "<html><head><title>T</title><style>p{x:1}</style></head><body>\
             <script>if (a<div) b();</script><!-- hidden <p> -->\
             <p>caf&eacute; &amp; t&#233; &#x41;&nbsp;&unknown; AT&T a < b</p></body></html>",
        );
        assert_eq!(text, "café & té A\u{a0}&unknown; AT&T a < b\n");
    }

    #[test]
    fn white_space_folds_and_breaks_stay_bounded() {
        let text = to_text("  one\n\n   two<br><br><br><br>three<p></p><div>four</div>");
        assert_eq!(text, "one two\n\nthree\n\nfour\n");
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

    const BLOCK_TAGS: &[&[u8]] = &[
        b"address",
        b"article",
        b"blockquote",
        b"br",
        b"center",
        b"dd",
        b"div",
        b"dl",
        b"dt",
        b"footer",
        b"form",
        b"h1",
        b"h2",
        b"h3",
        b"h4",
        b"h5",
        b"h6",
        b"header",
        b"hr",
        b"li",
        b"nav",
        b"ol",
        b"p",
        b"pre",
        b"section",
        b"table",
        b"tr",
        b"ul",
    ];
    const CELL_TAGS: &[&[u8]] = &[
        b"button", b"img", b"input", b"label", b"option", b"td", b"th",
    ];
    const SKIPPED_TAGS: &[&[u8]] = &[b"head", b"script", b"style", b"template", b"title"];

    #[test]
    fn tags_are_told_apart_as_the_lists_say() {
        for (list, kind) in [
            (SKIPPED_TAGS, Tag::Skipped),
            (BLOCK_TAGS, Tag::Block),
            (CELL_TAGS, Tag::Cell),
        ] {
            for name in list {
                assert_eq!(tag_kind(name), kind, "{name:?}");
                assert_eq!(tag_kind(&name.to_ascii_uppercase()), kind, "{name:?}");
                for other in [&b"x"[..], b"1", b"-"] {
                    assert_eq!(tag_kind(&[name, other].concat()), Tag::Other, "{name:?}");
                }
            }
        }
        for name in [&b""[..], b"a", b"span", b"font", b"blockquotes", b"tbody"] {
            assert_eq!(tag_kind(name), Tag::Other, "{name:?}");
        }
    }

    /// Text between tags as a look at every byte appends it.
    fn push_text_by_definition(t: &mut Text, text: &str) {
        let bytes = text.as_bytes();
        let mut run_start = None;
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b.is_ascii_whitespace() || b == b'&' {
                if let Some(start) = run_start.take() {
                    t.push_word_start();
                    t.out.push_str(&text[start..i]);
                }
                if b == b'&' {
                    i += t.push_reference(&bytes[i..]);
                    continue;
                }
                t.space();
                i += 1;
                continue;
            }
            if run_start.is_none() {
                run_start = Some(i);
            }
            i += 1;
        }
        if let Some(start) = run_start {
            t.push_word_start();
            t.out.push_str(&text[start..]);
        }
    }

    proptest::proptest! {
        #[test]
        fn text_runs_are_the_ones_a_look_at_every_byte_finds(
            segments in proptest::collection::vec(
                "([a-zA-Z0-9.,!]{1,12}|[ \t\r\n\x0b\x0c\x00\x01]{1,3}|&(amp|lt|nbsp|#32|#x41|bogus)?;?|[\u{e9}\u{20ac}])*",
                1..4,
            )
        ) {
            let (mut ours, mut plain) = (Text::with_capacity(0), Text::with_capacity(0));
            for segment in &segments {
                ours.push_text(segment);
                push_text_by_definition(&mut plain, segment);
                ours.line_break();
                plain.line_break();
            }
            proptest::prop_assert_eq!(ours.finish(), plain.finish());
        }
    }

    /// The links as a look at every `<` finds them.
    fn links_by_definition(html: &str) -> Vec<String> {
        let bytes = html.as_bytes();
        let mut links = Vec::new();
        let mut at = 0;
        while links.len() < MAX_LINKS {
            let Some(i) = memchr(b'<', &bytes[at..]).map(|i| at + i) else {
                break;
            };
            at = i + 1;
            let is_anchor = matches!(bytes.get(at), Some(b'a' | b'A'))
                && !bytes.get(at + 1).is_some_and(u8::is_ascii_alphanumeric);
            if !is_anchor {
                continue;
            }
            at = push_anchor(html, at, &mut links);
        }
        links
    }

    proptest::proptest! {
        #[test]
        fn links_are_the_ones_a_look_at_every_tag_finds(
            pieces in proptest::collection::vec(
                proptest::prop_oneof![
                    "<(a|A)( href=(\"|')?(https?|mailto|ftp|javascript):[a-z/.]{0,8}(\"|')?)?>",
                    "<(a|A)[a-z0-9]{0,3}( href=http:[a-z]{1,3})?>?",
                    "<(a|A)(>|<|)",
                    "</?[a-z]{1,4}>",
                    "[a-z <>=\"']{0,10}",
                ],
                0..40,
            )
        ) {
            let html: String = pieces.concat();
            let mut links = Vec::new();
            collect_links(&html, &mut links);
            proptest::prop_assert_eq!(links, links_by_definition(&html));
        }
    }

    #[test]
    fn at_most_max_links_are_kept() {
        use std::fmt::Write as _;
        let mut html = String::new();
        for i in 0..MAX_LINKS + 10 {
            let _ = write!(html, "<a href=\"https://x.example/{i}\">{i}</a>");
        }
        let mut links = Vec::new();
        collect_links(&html, &mut links);
        assert_eq!(links.len(), MAX_LINKS);
        assert_eq!(links, links_by_definition(&html));
    }
}
