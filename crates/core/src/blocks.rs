//! Classes of 64 bytes at once, as bit masks (bit `k` for the byte at `base + k`), for the
//! loops that look at every byte but act on few: the detector's word pass jumps from one
//! letter to the next, and over each word, and its scan from one possible start to the
//! next, with a bit scan instead of a test per byte.
//!
//! Sixteen bytes are compared at once (`wide`: SSE2 on x86-64, NEON on aarch64, plain code
//! elsewhere), and each comparison gives its sixteen bits with one instruction.

use wide::u8x16;

/// The classes of the 64 bytes from `base` (bytes past the end of the text are zeros: no
/// letter, no line break, not blank).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Block {
    pub(crate) base: usize,
    /// ASCII letters.
    pub(crate) letters: u64,
    /// Bytes of non-ASCII characters (0x80 and above).
    pub(crate) high: u64,
    /// `\n`.
    pub(crate) newline: u64,
    /// Every byte but a space or a tab.
    pub(crate) not_blank: u64,
}

impl Block {
    /// The classes of `bytes[base..]`'s first 64 bytes; `base` is at most `bytes.len()`.
    pub(crate) fn at(bytes: &[u8], base: usize) -> Block {
        let mut padded = [0u8; 64];
        let chunk = first_64(bytes, base, &mut padded);
        Block {
            base,
            letters: bits(chunk, ascii_letters),
            high: bits(chunk, |v| v),
            newline: bits(chunk, |v| v.cmp_eq(u8x16::splat(b'\n'))),
            not_blank: bits(chunk, |v| {
                !(v.cmp_eq(u8x16::splat(b' ')) | v.cmp_eq(u8x16::splat(b'\t')))
            }),
        }
    }

    /// Whether `at` lies past the block.
    pub(crate) fn ends_before(&self, at: usize) -> bool {
        at >= self.base + 64
    }
}

/// The bytes of 64 from `base` where a pattern of the PII scan may start (bytes past the
/// end of the text are zeros, in no class).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Starts {
    /// Word bytes: ASCII letters and digits, and `_`.
    pub(crate) word: u64,
    /// Bytes of `specials` (the scan's few starts that are no word bytes).
    pub(crate) special: u64,
    /// 0xC3, 0xC4 and 0xC5: UTF-8 leads of Latin-1 and Latin Extended-A letters.
    pub(crate) latin_leads: u64,
}

impl Starts {
    /// The starts among `bytes[base..]`'s first 64 bytes; `base` is at most `bytes.len()`.
    pub(crate) fn at(bytes: &[u8], base: usize, specials: &[u8]) -> Starts {
        let mut padded = [0u8; 64];
        let chunk = first_64(bytes, base, &mut padded);
        Starts {
            word: bits(chunk, |v| {
                ascii_letters(v) | within(v, b'0', b'9') | v.cmp_eq(u8x16::splat(b'_'))
            }),
            special: bits(chunk, |v| {
                specials
                    .iter()
                    .fold(u8x16::splat(0), |acc, &c| acc | v.cmp_eq(u8x16::splat(c)))
            }),
            latin_leads: bits(chunk, |v| within(v, 0xC3, 0xC5)),
        }
    }
}

/// The classes the feature tokenizer reads, of the 64 bytes from `base`. Bytes past the end
/// of the text count as white space and as nothing else, so that the last chunk ends there.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TokenWindow {
    /// ASCII white space, as `u8::is_ascii_whitespace` has it (space, `\t`, `\n`, form feed,
    /// `\r`; not the vertical tab).
    pub(crate) space: u64,
    /// ASCII letters and digits.
    pub(crate) alphanumeric: u64,
    /// ASCII letters.
    pub(crate) letters: u64,
    /// ASCII capitals.
    pub(crate) upper: u64,
    /// ASCII digits.
    pub(crate) digits: u64,
    /// The bytes that keep a number whole between digits: `.`, `,`, `:`, `/`, `-`.
    pub(crate) separators: u64,
    /// Bytes that may make their chunk something else than ASCII words: a non-ASCII byte, an
    /// `@`, or the start of `http` or `www.` (any case; a few other bytes too, which only
    /// costs the plain path a chunk).
    pub(crate) unusual: u64,
}

impl TokenWindow {
    /// The classes of `bytes[base..]`'s first 64 bytes; `base` is below `bytes.len()`.
    pub(crate) fn at(bytes: &[u8], base: usize) -> TokenWindow {
        let mut padded = [0u8; 64];
        let chunk = first_64(bytes, base, &mut padded);
        let left = bytes.len() - base;
        let past_end = if left >= 64 { 0 } else { u64::MAX << left };
        let eq = |c: u8| move |v: u8x16| v.cmp_eq(u8x16::splat(c));
        // With the lower-case bit set, `H` reads as `h`; `.` has it already.
        let folded = |c: u8| move |v: u8x16| (v | u8x16::splat(0x20)).cmp_eq(u8x16::splat(c));
        let (h, t, p, w) = (
            bits(chunk, folded(b'h')),
            bits(chunk, folded(b't')),
            bits(chunk, folded(b'p')),
            bits(chunk, folded(b'w')),
        );
        let dot = bits(chunk, eq(b'.'));
        let http = h & (t >> 1) & (t >> 2) & (p >> 3);
        let www = w & (w >> 1) & (w >> 2) & (dot >> 3);
        let letters = bits(chunk, ascii_letters);
        let digits = bits(chunk, |v| within(v, b'0', b'9'));
        TokenWindow {
            space: past_end
                | bits(chunk, |v| {
                    (within(v, b'\t', b'\r') & !v.cmp_eq(u8x16::splat(0x0b))) | eq(b' ')(v)
                }),
            alphanumeric: letters | digits,
            letters,
            upper: bits(chunk, |v| within(v, b'A', b'Z')),
            digits,
            separators: bits(chunk, |v| within(v, b',', b'/') | eq(b':')(v)),
            unusual: http | www | bits(chunk, |v| v | eq(b'@')(v)),
        }
    }
}

/// The bytes of `v` in `lo..=hi` (all ones where they are, zeros elsewhere).
fn within(v: u8x16, lo: u8, hi: u8) -> u8x16 {
    v.max(u8x16::splat(lo)).min(u8x16::splat(hi)).cmp_eq(v)
}

/// The ASCII letters of `v`: with the lower-case bit set, a letter is one of `a..=z`.
fn ascii_letters(v: u8x16) -> u8x16 {
    within(v | u8x16::splat(0x20), b'a', b'z')
}

/// The 64 bytes from `base`, the text's own where it has them, else copied into `padded`
/// after its end.
fn first_64<'a>(bytes: &'a [u8], base: usize, padded: &'a mut [u8; 64]) -> &'a [u8; 64] {
    if let Some(chunk) = bytes[base..].first_chunk::<64>() {
        chunk
    } else {
        let rest = &bytes[base..];
        padded[..rest.len()].copy_from_slice(rest);
        padded
    }
}

/// The mask of the bytes of `chunk` where `test` sets a byte's top bit (sixteen at a time).
fn bits(chunk: &[u8; 64], test: impl Fn(u8x16) -> u8x16) -> u64 {
    let mut mask = 0;
    for (k, lane) in chunk.as_chunks::<16>().0.iter().enumerate() {
        // The top bit of each byte: of a comparison, whether it held.
        #[allow(clippy::cast_sign_loss)] // the sixteen bits of the mask
        let lane_bits = test(u8x16::new(*lane)).move_mask() as u16;
        mask |= u64::from(lane_bits) << (16 * k);
    }
    mask
}

/// The bits `from..from + len` (`from + len` at most 64).
pub(crate) fn span(from: usize, len: usize) -> u64 {
    let ones = if len >= 64 {
        u64::MAX
    } else {
        (1u64 << len) - 1
    };
    ones << from
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_class_is_the_plain_test_of_its_byte_at_every_place() {
        let text: Vec<u8> = (0..=255u8).chain(0..=255u8).collect();
        for base in [0, 1, 63, 200, 470, 511, 512] {
            let block = Block::at(&text, base);
            for k in 0..64 {
                let b = text.get(base + k).copied().unwrap_or(0);
                let bit = |m: u64| m >> k & 1 == 1;
                assert_eq!(bit(block.letters), b.is_ascii_alphabetic(), "{b:#x}");
                assert_eq!(bit(block.high), b >= 0x80, "{b:#x}");
                assert_eq!(bit(block.newline), b == b'\n', "{b:#x}");
                assert_eq!(bit(block.not_blank), b != b' ' && b != b'\t', "{b:#x}");
                let starts = Starts::at(&text, base, b"+(");
                let word = b.is_ascii_alphanumeric() || b == b'_';
                assert_eq!(bit(starts.word), word, "{b:#x}");
                assert_eq!(bit(starts.special), b == b'+' || b == b'(', "{b:#x}");
                assert_eq!(
                    bit(starts.latin_leads),
                    (0xC3..=0xC5).contains(&b),
                    "{b:#x}"
                );
            }
        }
    }

    #[test]
    fn token_classes_are_the_plain_tests_and_the_end_is_white_space() {
        let mut text: Vec<u8> = (0..=255u8).chain(0..=255u8).collect();
        text.extend_from_slice(b"xhttp HTTPS www.x Www. wwwx htt");
        for base in [0, 1, 63, 200, 470, 511, 512, 520, 540] {
            let window = TokenWindow::at(&text, base);
            for k in 0..64 {
                let at = base + k;
                let byte = text.get(at).copied();
                let b = byte.unwrap_or(0);
                let bit = |m: u64| m >> k & 1 == 1;
                let space = byte.is_none_or(|b| b.is_ascii_whitespace());
                assert_eq!(bit(window.space), space, "{byte:?}");
                let inside = |test: bool| byte.is_some() && test;
                assert_eq!(bit(window.alphanumeric), inside(b.is_ascii_alphanumeric()));
                assert_eq!(bit(window.letters), inside(b.is_ascii_alphabetic()));
                assert_eq!(bit(window.upper), inside(b.is_ascii_uppercase()));
                assert_eq!(bit(window.digits), inside(b.is_ascii_digit()));
                let separator = matches!(b, b'.' | b',' | b':' | b'/' | b'-');
                assert_eq!(bit(window.separators), inside(separator));
                let next4 = text.get(at..(at + 4).min(base + 64)).unwrap_or_default();
                let starts =
                    next4.eq_ignore_ascii_case(b"http") || next4.eq_ignore_ascii_case(b"www.");
                if inside(b >= 0x80 || b == b'@') || starts {
                    assert!(bit(window.unusual), "{at}: {byte:?}");
                }
            }
        }
    }

    #[test]
    fn spans_are_the_bits_between() {
        assert_eq!(span(0, 0), 0);
        assert_eq!(span(3, 2), 0b11000);
        assert_eq!(span(0, 64), u64::MAX);
        assert_eq!(span(63, 1), 1 << 63);
    }
}
