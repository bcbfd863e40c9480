//! The tokenizer: text becomes normalised tokens, each with the span it came from.
//!
//! Text is cut at white space into chunks; a chunk that is a URL becomes `url:DOMAIN`, an
//! e-mail address `email:DOMAIN`; anything else splits into runs of letters and digits. Words
//! are lower-cased; numbers become their shape (`12.50` -> `00.00`, `2024-05-22` ->
//! `0000-00-00`) so that prices and dates generalise. The text is read 64 bytes at a time
//! ([`TokenWindow`]): chunks of plain ASCII words (most of mail) are read from the window's
//! bit masks alone; a chunk that may be a link or an address, or holds non-ASCII text, is
//! looked at on its own, eight bytes at a time, and other scripts are lower-cased per
//! character. Tokens are written into a reused buffer and handed to a callback, so
//! tokenizing allocates nothing per token.

use std::ops::Range;

use crate::blocks::TokenWindow;
use crate::swar::{
    alphanumerics, ascii_letters, chunk as eight_bytes, first_below, first_equal, HIGH,
};

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

/// What a chunk holds, noted while its end is looked for, so that it is read once to learn
/// whether it is ASCII and holds an `@`.
const HIGH_SEEN: u8 = 2;
const AT_SEEN: u8 = 4;

/// Calls `f(kind, normalised, span)` for each token of `text`, in order.
pub fn tokenize(text: &str, mut f: impl FnMut(TokenKind, &str, Range<usize>)) {
    let bytes = text.as_bytes();
    let mut buf = String::with_capacity(64);
    let mut at = 0;
    while at < bytes.len() {
        let window = TokenWindow::at(bytes, at);
        at += window_tokens(text, at, &window, &mut buf, &mut f);
    }
}

/// The tokens of the chunks that start in `window` (the 64 bytes from `base`) and end in it;
/// returns how far it read (at least one byte).
///
/// The chunks that end at white space before the next unusual byte are ASCII words, each a
/// run of letters and digits: read from the window's bits, with no look at each chunk (most
/// of mail). A chunk with an unusual byte is read on its own, and the window's bits serve on
/// after it, so that text full of such chunks (accented words, addresses) costs no more than
/// it did before the windows.
fn window_tokens(
    text: &str,
    base: usize,
    window: &TokenWindow,
    buf: &mut String,
    f: &mut impl FnMut(TokenKind, &str, Range<usize>),
) -> usize {
    let mut from = 0u32;
    while from < 64 {
        let ahead = !low_bits(from);
        let unusual = window.unusual & ahead;
        let spaces = window.space & ahead & before_first(unusual);
        if spaces != 0 {
            let end = 64 - spaces.leading_zeros();
            plain(text, base, window, from, end, buf, f);
            from = end;
            continue;
        }
        if unusual == 0 && from > 0 {
            // The chunk at `from` goes past the window: a window of its own reads it.
            break;
        }
        // A chunk with an unusual byte, or one longer than the window.
        let start = base + from as usize;
        let (end, seen) = chunk_end(text.as_bytes(), start);
        chunk(text, start, end, seen, buf, f);
        from = u32::try_from(end - base).unwrap_or(u32::MAX);
    }
    from as usize
}

/// The lowest `n` bits (`n` at most 64).
fn low_bits(n: u32) -> u64 {
    u64::MAX.checked_shr(64 - n).unwrap_or(0)
}

/// Whether bit `k` of `mask` is set (none past 63).
fn bit(mask: u64, k: u32) -> bool {
    mask.checked_shr(k).is_some_and(|m| m & 1 == 1)
}

/// The tokens of bytes `from..to` of `window` (the 64 bytes from `at`), which start a chunk,
/// end in white space and hold only chunks of ASCII words: what [`ascii_words`] gives for
/// each, from the bits.
fn plain(
    text: &str,
    at: usize,
    window: &TokenWindow,
    from: u32,
    to: u32,
    buf: &mut String,
    f: &mut impl FnMut(TokenKind, &str, Range<usize>),
) {
    let alphanumeric = window.alphanumeric & low_bits(to) & !low_bits(from);
    let run_end = |from: u32| from + (!(alphanumeric >> from)).trailing_zeros();
    let holds = |mask: u64, from: u32, to: u32| (mask >> from) & low_bits(to - from) != 0;
    let mut rest = alphanumeric;
    while rest != 0 {
        let start = rest.trailing_zeros();
        let mut end = run_end(start);
        let mut letters = holds(window.letters, start, end);
        // A separator between digits keeps a number whole (12.50, 2024-05-22, 10:30).
        while !letters && bit(window.separators, end) && bit(window.digits, end + 1) {
            let from = end + 1;
            end = run_end(from);
            letters = holds(window.letters, from, end);
        }
        // The runs before the last hold no letter, so no capital either.
        let upper = letters && holds(window.upper, start, end);
        emit(
            text,
            at + start as usize,
            at + end as usize,
            !letters,
            upper,
            buf,
            f,
        );
        rest = alphanumeric & !low_bits(end);
    }
}

/// The bits below the lowest set bit of `mask` (all of them if none is set): the bytes before
/// the first one it marks.
fn before_first(mask: u64) -> u64 {
    (mask & mask.wrapping_neg()).wrapping_sub(1)
}

/// Where the chunk that starts at `at` ends (the next ASCII white space, or the end of the
/// text), and what it holds (`HIGH_SEEN`, `AT_SEEN`), eight bytes at a time: a chunk of mail
/// is mostly one word, and one look. White space is looked for among the bytes up to 0x20
/// (three operations); a control byte found that way is part of the chunk.
fn chunk_end(bytes: &[u8], mut at: usize) -> (usize, u8) {
    let (mut high, mut ats) = (0u64, 0u64);
    let end = loop {
        // Past the end of the text the bytes read as zeros, which end the chunk.
        let w = eight_bytes(bytes, at);
        let low = first_below(w, b' ' + 1);
        let inside = before_first(low);
        high |= w & HIGH & inside;
        ats |= first_equal(w, b'@') & inside;
        if low == 0 {
            at += 8;
            continue;
        }
        let i = at + (low.trailing_zeros() / 8) as usize;
        match bytes.get(i) {
            Some(b) if !b.is_ascii_whitespace() => at = i + 1,
            _ => break i.min(bytes.len()),
        }
    };
    let seen = if high == 0 { 0 } else { HIGH_SEEN } | if ats == 0 { 0 } else { AT_SEEN };
    (end, seen)
}

/// Where the run of ASCII letters and digits from `at` ends, whether it holds a letter, and
/// whether it holds an upper-case one, eight bytes at a time.
fn alphanumeric_run(bytes: &[u8], mut at: usize) -> (usize, bool, bool) {
    let (mut letters, mut upper) = (0u64, 0u64);
    loop {
        // Past the end of the text the bytes read as zeros, which end the run.
        let w = eight_bytes(bytes, at);
        let others = !alphanumerics(w) & HIGH;
        let inside = before_first(others);
        let w_letters = ascii_letters(w) & inside;
        letters |= w_letters;
        // A capital lacks the lower-case bit (0x20), which the shift lines up with the mark.
        upper |= w_letters & !(w << 2);
        if others != 0 {
            at += (others.trailing_zeros() / 8) as usize;
            return (at, letters != 0, upper != 0);
        }
        at += 8;
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
    if let Some(domain) = (seen & AT_SEEN != 0).then(|| email_domain(piece)).flatten() {
        buf.clear();
        buf.push_str("email:");
        push_lower(buf, domain);
        f(TokenKind::Email, buf, start..end);
        return;
    }
    if seen & HIGH_SEEN == 0 {
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
            emit(text, start + s, start + i, digits, true, buf, f);
        }
    }
    if let Some((s, digits)) = run {
        emit(text, start + s, end, digits, true, buf, f);
    }
}

/// [`words`] for ASCII chunks (most mail), a run of letters and digits at a time.
fn ascii_words(
    text: &str,
    start: usize,
    end: usize,
    buf: &mut String,
    f: &mut impl FnMut(TokenKind, &str, Range<usize>),
) {
    let bytes = text.as_bytes();
    let mut i = start;
    while i < end {
        if !bytes[i].is_ascii_alphanumeric() {
            i += 1;
            continue;
        }
        // The chunk ends at white space or the text's end, so no run goes past it.
        let (mut j, mut letters, mut upper) = alphanumeric_run(bytes, i);
        // A separator between digits keeps a number whole (12.50, 2024-05-22, 10:30).
        while !letters
            && j + 1 < end
            && matches!(bytes[j], b'.' | b',' | b':' | b'/' | b'-')
            && bytes[j + 1].is_ascii_digit()
        {
            (j, letters, upper) = alphanumeric_run(bytes, j + 1);
        }
        emit(text, i, j, !letters, upper, buf, f);
        i = j;
    }
}

/// Hands on the token `start..end`: a number's shape, or a word lower-cased (`upper`: it may
/// hold a capital; a word without one is handed on as it is).
fn emit(
    text: &str,
    start: usize,
    end: usize,
    digits: bool,
    upper: bool,
    buf: &mut String,
    f: &mut impl FnMut(TokenKind, &str, Range<usize>),
) {
    let token = &text[start..end];
    if digits {
        buf.clear();
        buf.extend(token.bytes().take(MAX_TOKEN).map(|b| {
            if b.is_ascii_digit() {
                '0'
            } else {
                b as char
            }
        }));
        f(TokenKind::Number, buf, start..end);
    } else if upper {
        buf.clear();
        push_lower(buf, token);
        f(TokenKind::Word, buf, start..end);
    } else {
        // Already as it is normalised (most words of mail): handed on from the text, not
        // copied. ASCII letters and digits only, so any cut is on a character boundary.
        f(
            TokenKind::Word,
            &token[..token.len().min(MAX_TOKEN)],
            start..end,
        );
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

    /// The tokens as the plain definition gives them: chunks cut at ASCII white space a byte
    /// at a time, and the words of every chunk read character by character (the path that
    /// non-ASCII chunks take).
    fn by_definition(text: &str) -> Vec<(TokenKind, String, String)> {
        let mut out = Vec::new();
        let mut buf = String::new();
        let mut push = |k, t: &str, span: Range<usize>| {
            out.push((k, t.to_string(), text[span].to_string()));
        };
        let bytes = text.as_bytes();
        let mut at = 0;
        while at < bytes.len() {
            if bytes[at].is_ascii_whitespace() {
                at += 1;
                continue;
            }
            let start = at;
            while at < bytes.len() && !bytes[at].is_ascii_whitespace() {
                at += 1;
            }
            let at_sign = if text[start..at].contains('@') {
                AT_SEEN
            } else {
                0
            };
            chunk(text, start, at, at_sign | HIGH_SEEN, &mut buf, &mut push);
        }
        out
    }

    #[test]
    fn eight_byte_paths_agree_with_the_definition_at_their_edges() {
        for text in [
            "abcdefgh ABCDEFGH abcdefghi\tABCDEFGHIJKLMNOPQ\r\n12345678 1234567.9",
            "a\x0bb 2024-05-22T10:30 x86_64 12.5a.6 1,000,000. -12- 3:",
            "MixedCASEwordsThatRunLongerThanTheLimitOfFortyEightBytesForSure x",
            "é ab\u{e9}cd Ünïcödé mail@Example.COM https://Example.org/path",
            "\x0c\x0c\u{a0}word\u{a0} end",
        ] {
            assert_eq!(tokens(text), by_definition(text), "{text:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn eight_byte_paths_agree_with_the_definition(
            text in "[a-zA-Z0-9 .,:/@_'<(\\-\t\n\r\x00\x01\x1f\x0b\x0c\u{e9}\u{a0}\u{20ac}]{0,300}"
        ) {
            proptest::prop_assert_eq!(tokens(&text), by_definition(&text));
        }

        /// Text made of the pieces that decide the paths: words of every length and case,
        /// numbers with separators, links and addresses, non-ASCII letters, and every kind
        /// of white space, so that chunks meet the ends of the 64-byte windows everywhere.
        #[test]
        fn window_paths_agree_with_the_definition(
            pieces in proptest::collection::vec(
                proptest::prop_oneof![
                    "[a-z]{1,12}",
                    "[A-Za-z][a-z]{0,6}",
                    "[A-Z0-9]{1,70}",
                    "[0-9]{1,4}([.,:/-][0-9]{1,4}){0,3}[a-z.,]?",
                    "[(<\x22']{0,2}(http|HTTP|Http|https|www|WWW)(://|\\.|s://|:)?[a-z.]{0,12}/?",
                    "[a-z.]{0,8}@[a-z]{0,8}(\\.[a-z]{2,3})?",
                    "[\u{e9}\u{fc}\u{20ac}a-z]{1,6}",
                    "[ \t\n\r\x0b\x0c\x00]{1,3}",
                    "[.,;:!?()/-]{1,2}",
                ],
                0..120,
            )
        ) {
            let text: String = pieces.concat();
            proptest::prop_assert_eq!(tokens(&text), by_definition(&text));
        }

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
