//! Tests on eight bytes at once, for the loops that look at every byte (the detector's scan's
//! runs, the tokenizer's chunks and words); `blocks` tests 64 at once where a loop needs the
//! classes of many bytes ahead. Each test answers with the high bit of every
//! byte that passes; none of its sums can carry from one byte into the next.

pub(crate) const ONES: u64 = 0x0101_0101_0101_0101;
pub(crate) const HIGH: u64 = ONES * 0x80;
const LOW7: u64 = ONES * 0x7F;

/// The eight bytes of `text` from `at`, zeros past its end.
pub(crate) fn chunk(text: &[u8], at: usize) -> u64 {
    if let Some(bytes) = text[at..].first_chunk::<8>() {
        u64::from_le_bytes(*bytes)
    } else {
        let mut last = [0u8; 8];
        last[..text.len() - at].copy_from_slice(&text[at..]);
        u64::from_le_bytes(last)
    }
}

/// The bytes whose low seven bits are in `lo..=hi` (`lo` at least 1), ASCII or not.
pub(crate) fn low_in_range(w: u64, lo: u8, hi: u8) -> u64 {
    let y = w & LOW7;
    let from_lo = y + ONES * u64::from(0x80 - lo);
    let past_hi = y + ONES * u64::from(0x7F - hi);
    from_lo & !past_hi & HIGH
}

/// The bytes equal to `c`.
pub(crate) fn equal_bytes(w: u64, c: u8) -> u64 {
    let t = w ^ (ONES * u64::from(c));
    !(((t & LOW7) + LOW7) | t) & HIGH
}

/// The ASCII letters and digits.
pub(crate) fn alphanumerics(w: u64) -> u64 {
    ascii_letters(w) | (low_in_range(w, b'0', b'9') & !w)
}

/// A mask whose lowest bit marks the first byte below `n` (`n` at most 0x80): for a search,
/// in three operations. Bits above that byte may be wrong (a borrow), none below it is.
pub(crate) fn first_below(w: u64, n: u8) -> u64 {
    w.wrapping_sub(ONES * u64::from(n)) & !w & HIGH
}

/// A mask whose lowest bit marks the first byte equal to `c`, as [`first_below`].
pub(crate) fn first_equal(w: u64, c: u8) -> u64 {
    first_below(w ^ (ONES * u64::from(c)), 1)
}

/// The ASCII letters: with the lower-case bit set, a letter is 0x61..=0x7A.
pub(crate) fn ascii_letters(w: u64) -> u64 {
    low_in_range(w | (ONES * 0x20), b'a', b'z') & !w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_test_is_the_plain_one_on_every_byte_at_every_place() {
        for b in 0..=255u8 {
            for place in 0..8 {
                let w = (0x5A5A_5A5A_5A5A_5A5A & !(0xFF << (8 * place)))
                    | (u64::from(b) << (8 * place));
                let bit = |m: u64| m >> (8 * place + 7) & 1 == 1;
                assert_eq!(bit(ascii_letters(w)), b.is_ascii_alphabetic(), "{b:#x}");
                assert_eq!(bit(equal_bytes(w, b'@')), b == b'@', "{b:#x}");
                assert_eq!(
                    bit(low_in_range(w, b'0', b'9')),
                    (b & 0x7F).is_ascii_digit()
                );
            }
        }
        for w in [0u64, 0x2040_2121_0a41_2009, 0x8180_4020_1f21_4041, u64::MAX] {
            let first = |m: u64| (m != 0).then(|| m.trailing_zeros() / 8);
            let find = |f: &dyn Fn(u8) -> bool| (0..8).find(|&i| f((w >> (8 * i)) as u8));
            assert_eq!(first(first_below(w, 0x21)), find(&|b| b < 0x21), "{w:#x}");
            assert_eq!(first(first_equal(w, b'@')), find(&|b| b == b'@'), "{w:#x}");
        }
        assert_eq!(chunk(b"abc", 1), u64::from(b'b') | u64::from(b'c') << 8);
    }
}
