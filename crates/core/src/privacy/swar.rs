//! Tests on eight bytes at once, for the loops of the detector that look at every byte
//! (the word pass, the scan's starts and runs). Each test answers with the high bit of every
//! byte that passes; none of its sums can carry from one byte into the next.

pub(super) const ONES: u64 = 0x0101_0101_0101_0101;
pub(super) const HIGH: u64 = ONES * 0x80;
const LOW7: u64 = ONES * 0x7F;

/// The eight bytes of `text` from `at`, zeros past its end.
pub(super) fn chunk(text: &[u8], at: usize) -> u64 {
    if let Some(bytes) = text[at..].first_chunk::<8>() {
        u64::from_le_bytes(*bytes)
    } else {
        let mut last = [0u8; 8];
        last[..text.len() - at].copy_from_slice(&text[at..]);
        u64::from_le_bytes(last)
    }
}

/// The bytes whose low seven bits are in `lo..=hi` (`lo` at least 1), ASCII or not.
pub(super) fn low_in_range(w: u64, lo: u8, hi: u8) -> u64 {
    let y = w & LOW7;
    let from_lo = y + ONES * u64::from(0x80 - lo);
    let past_hi = y + ONES * u64::from(0x7F - hi);
    from_lo & !past_hi & HIGH
}

/// The bytes equal to `c`.
pub(super) fn equal_bytes(w: u64, c: u8) -> u64 {
    let t = w ^ (ONES * u64::from(c));
    !(((t & LOW7) + LOW7) | t) & HIGH
}

/// The ASCII letters: with the lower-case bit set, a letter is 0x61..=0x7A.
pub(super) fn ascii_letters(w: u64) -> u64 {
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
        assert_eq!(chunk(b"abc", 1), u64::from(b'b') | u64::from(b'c') << 8);
    }
}
