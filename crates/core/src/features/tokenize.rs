//! The tokenizer: text becomes normalised tokens, each with the span it came from.
//!
//! Text is cut at white space into chunks; a chunk that is a URL becomes `url:DOMAIN`, an
//! e-mail address `email:DOMAIN`; anything else splits into runs of letters and digits. Words
//! are lower-cased; numbers become their shape (`12.50` -> `00.00`, `2024-05-22` ->
//! `0000-00-00`) so that prices and dates generalise. ASCII takes a fast path; other scripts
//! are lower-cased per character. Tokens are written into a reused buffer and handed to a
//! callback, so tokenizing allocates nothing per token.

use std::ops::Range;

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A word, lower-cased.
    Word,
    /// A number's shape.
    Number,
    /// A URL's domain, as `url:DOMAIN`.
    Url,
    /// An e-mail address's domain, as `email:DOMAIN`.
    Email,
}

/// Longest token kept, in bytes; longer runs are cut (base64 blobs, hashes).
pub const MAX_TOKEN: usize = 48;

/// Byte classes for the chunk scan: white space ends a chunk; the others are noted on the
/// way, so that a chunk is read once to learn whether it is ASCII and holds an `@`.
const SPACE: u8 = 1;
const HIGH: u8 = 2;
const AT: u8 = 4;

const CLASSES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = if (b as u8).is_ascii_whitespace() {
            SPACE
        } else if b >= 0x80 {
            HIGH
        } else if b == b'@' as usize {
            AT
        } else {
            0
        };
        b += 1;
    }
    table
};

/// Calls `f(kind, normalised, span)` for each token of `text`, in order.
pub fn tokenize(text: &str, mut f: impl FnMut(TokenKind, &str, Range<usize>)) {
    let bytes = text.as_bytes();
    let mut buf = String::with_capacity(64);
    let mut at = 0;
    while at < bytes.len() {
        while at < bytes.len() && CLASSES[bytes[at] as usize] == SPACE {
            at += 1;
        }
        let start = at;
        let mut seen = 0u8;
        while at < bytes.len() {
            let class = CLASSES[bytes[at] as usize];
            if class == SPACE {
                break;
            }
            seen |= class;
            at += 1;
        }
        if start < at {
            chunk(text, start, at, seen, &mut buf, &mut f);
        }
    }
}

fn chunk(
    text: &str,
    start: usize,
    end: usize,
    seen: u8,
    buf: &mut String,
    f: &mut impl FnMut(TokenKind, &str, Range<usize>),
) {
    let piece = &text[start..end];
    // Cheap byte tests first: most chunks are plain words.
    let first = piece
        .bytes()
        .find(|b| !matches!(b, b'<' | b'(' | b'[' | b'"' | b'\''))
        .unwrap_or(b' ');
    let maybe_url = matches!(first, b'h' | b'H' | b'w' | b'W') && piece.len() > 4;
    if let Some(domain) = maybe_url.then(|| url_domain(piece)).flatten() {
        buf.clear();
        buf.push_str("url:");
        push_lower(buf, domain);
        f(TokenKind::Url, buf, start..end);
        return;
    }
    if let Some(domain) = (seen & AT != 0).then(|| email_domain(piece)).flatten() {
        buf.clear();
        buf.push_str("email:");
        push_lower(buf, domain);
        f(TokenKind::Email, buf, start..end);
        return;
    }
    if seen & HIGH == 0 {
        ascii_words(text, start, end, buf, f);
    } else {
        words(text, start, end, buf, f);
    }
}

/// Splits a chunk into runs of alphanumeric characters; a run of digits with `.,:/-` inside
/// stays one number.
fn words(
    text: &str,
    start: usize,
    end: usize,
    buf: &mut String,
    f: &mut impl FnMut(TokenKind, &str, Range<usize>),
) {
    let piece = &text[start..end];
    let mut run: Option<(usize, bool)> = None; // (start, all digits so far)
    let mut chars = piece.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c.is_alphanumeric() {
            match &mut run {
                Some((_, digits)) => *digits &= c.is_ascii_digit(),
                None => run = Some((i, c.is_ascii_digit())),
            }
            continue;
        }
        // Separators inside numbers (12.50, 2024-05-22, 10:30) keep the number whole.
        let inside_number = matches!(run, Some((_, true)))
            && matches!(c, '.' | ',' | ':' | '/' | '-')
            && chars.peek().is_some_and(|(_, n)| n.is_ascii_digit());
        if inside_number {
            continue;
        }
        if let Some((s, digits)) = run.take() {
            emit(text, start + s, start + i, digits, buf, f);
        }
    }
    if let Some((s, digits)) = run {
        emit(text, start + s, end, digits, buf, f);
    }
}

/// [`words`] for ASCII chunks, byte by byte (most mail).
fn ascii_words(
    text: &str,
    start: usize,
    end: usize,
    buf: &mut String,
    f: &mut impl FnMut(TokenKind, &str, Range<usize>),
) {
    let bytes = text.as_bytes();
    let mut run: Option<(usize, bool)> = None;
    let mut i = start;
    while i < end {
        let b = bytes[i];
        if b.is_ascii_alphanumeric() {
            match &mut run {
                Some((_, digits)) => *digits &= b.is_ascii_digit(),
                None => run = Some((i, b.is_ascii_digit())),
            }
        } else {
            let inside_number = matches!(run, Some((_, true)))
                && matches!(b, b'.' | b',' | b':' | b'/' | b'-')
                && i + 1 < end
                && bytes[i + 1].is_ascii_digit();
            if !inside_number {
                if let Some((s, digits)) = run.take() {
                    emit(text, s, i, digits, buf, f);
                }
            }
        }
        i += 1;
    }
    if let Some((s, digits)) = run {
        emit(text, s, end, digits, buf, f);
    }
}

fn emit(
    text: &str,
    start: usize,
    end: usize,
    digits: bool,
    buf: &mut String,
    f: &mut impl FnMut(TokenKind, &str, Range<usize>),
) {
    let token = &text[start..end];
    buf.clear();
    if digits {
        buf.extend(token.bytes().take(MAX_TOKEN).map(|b| {
            if b.is_ascii_digit() {
                '0'
            } else {
                b as char
            }
        }));
        f(TokenKind::Number, buf, start..end);
    } else {
        push_lower(buf, token);
        f(TokenKind::Word, buf, start..end);
    }
}

/// Appends `s` lower-cased, at most [`MAX_TOKEN`] bytes, cut on a character boundary.
fn push_lower(buf: &mut String, s: &str) {
    let limit = buf.len() + MAX_TOKEN;
    if s.is_ascii() {
        let from = buf.len();
        buf.push_str(&s[..s.len().min(MAX_TOKEN)]);
        // Only ASCII was appended, so lower-casing it in place keeps the String valid.
        buf[from..].make_ascii_lowercase();
        return;
    }
    for c in s.chars().flat_map(char::to_lowercase) {
        if buf.len() + c.len_utf8() > limit {
            break;
        }
        buf.push(c);
    }
}

/// The host of `http(s)://host/...` or `www.host/...`, without `www.` and port.
fn url_domain(piece: &str) -> Option<&str> {
    let trimmed = piece.trim_start_matches(['<', '(', '[', '"', '\'']);
    let lower_prefix = |p: &str| {
        trimmed
            .get(..p.len())
            .is_some_and(|h| h.eq_ignore_ascii_case(p))
    };
    let rest = if lower_prefix("https://") {
        &trimmed[8..]
    } else if lower_prefix("http://") {
        &trimmed[7..]
    } else if lower_prefix("www.") {
        trimmed
    } else {
        return None;
    };
    let host_end = rest
        .find(|c: char| {
            matches!(
                c,
                '/' | '?' | '#' | ':' | '>' | ')' | ']' | '"' | '\'' | ','
            )
        })
        .unwrap_or(rest.len());
    let host = rest[..host_end].trim_end_matches('.');
    let host = host
        .get(..4)
        .filter(|h| h.eq_ignore_ascii_case("www."))
        .map_or(host, |_| &host[4..]);
    (!host.is_empty()).then_some(host)
}

/// The domain of `local@domain.tld`, when the chunk is an address.
fn email_domain(piece: &str) -> Option<&str> {
    let piece = piece
        .trim_start_matches(['<', '(', '[', '"', '\'', ':'])
        .trim_end_matches(['>', ')', ']', '"', '\'', ',', '.', ';', ':']);
    let at = piece.find('@')?;
    let (local, domain) = (&piece[..at], &piece[at + 1..]);
    let valid = !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && domain
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    valid.then_some(domain)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(text: &str) -> Vec<(TokenKind, String, String)> {
        let mut out = Vec::new();
        tokenize(text, |k, t, span| {
            out.push((k, t.to_string(), text[span].to_string()));
        });
        out
    }

    fn normalised(text: &str) -> Vec<String> {
        tokens(text).into_iter().map(|(_, t, _)| t).collect()
    }

    #[test]
    fn words_numbers_urls_and_addresses() {
        assert_eq!(
            normalised("Invoice OVERDUE: pay €412.50 by 2024-05-22, see https://Pay.Example.com/x?y=1 or write to Billing@Example.ORG."),
            vec![
                "invoice", "overdue", "pay", "000.00", "by", "0000-00-00", "see",
                "url:pay.example.com", "or", "write", "to", "email:example.org"
            ]
        );
        assert_eq!(
            normalised("www.shop.example/deals"),
            vec!["url:shop.example"]
        );
        assert_eq!(
            normalised("Größe ÜBER straße"),
            vec!["größe", "über", "straße"]
        );
        assert_eq!(
            normalised("10:30 v2 x86_64"),
            vec!["00:00", "v2", "x86", "00"]
        );
    }

    #[test]
    fn spans_point_at_the_source_text() {
        for (_, _, source) in tokens("Hi Maria, the café opens at 9.") {
            assert!(!source.is_empty());
        }
        let t = tokens("  Hello  world ");
        assert_eq!(t[0].2, "Hello");
        assert_eq!(t[1].2, "world");
    }

    #[test]
    fn long_runs_are_cut() {
        let long = "a".repeat(500);
        assert_eq!(normalised(&long)[0].len(), MAX_TOKEN);
        let long_utf8 = "é".repeat(100);
        let t = normalised(&long_utf8);
        assert!(t[0].len() <= MAX_TOKEN);
    }

    proptest::proptest! {
        #[test]
        fn tokens_are_lowercase_bounded_and_spans_valid(text in "\\PC{0,200}") {
            tokenize(&text, |kind, token, span| {
                assert!(token.len() <= MAX_TOKEN + "email:".len());
                assert!(span.start < span.end && span.end <= text.len());
                assert!(text.is_char_boundary(span.start) && text.is_char_boundary(span.end));
                if kind == TokenKind::Word {
                    assert!(!token.is_empty());
                    assert!(!token.bytes().any(|b| b.is_ascii_uppercase()));
                }
            });
        }

        #[test]
        fn tokenizing_is_deterministic(text in "\\PC{0,200}") {
            let a = normalised(&text);
            let b = normalised(&text);
            assert_eq!(a, b);
        }
    }
}
