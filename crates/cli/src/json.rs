//! A JSON string writer for the long texts of `redact`'s output.
//!
//! `serde_json` looks each byte up in an escape table; mail is nearly all bytes that need no
//! escape, so this checks eight at a time and copies the runs between escapes whole. The
//! output is byte for byte what `serde_json` writes (the tests compare the two).

/// The digits of a `\u00XX` escape (lower case, as `serde_json` writes them).
const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `s` to `out` as a JSON string, quoted and escaped as `serde_json` does.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut run = 0; // where the bytes not yet copied start
    let mut i = 0;
    while i < bytes.len() {
        // Eight bytes with nothing to escape are skipped at once.
        if let Some(chunk) = bytes[i..].first_chunk::<8>() {
            if !needs_escape(u64::from_le_bytes(*chunk)) {
                i += 8;
                continue;
            }
        }
        let b = bytes[i];
        if let Some(escape) = escape(b) {
            out.extend_from_slice(&bytes[run..i]);
            out.extend_from_slice(escape.as_bytes());
            run = i + 1;
        } else if b < 0x20 {
            out.extend_from_slice(&bytes[run..i]);
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xF)]);
            run = i + 1;
        }
        i += 1;
    }
    out.extend_from_slice(&bytes[run..]);
    out.push(b'"');
}

/// The short escape of a byte, as `serde_json` writes it.
fn escape(b: u8) -> Option<&'static str> {
    Some(match b {
        b'"' => "\\\"",
        b'\\' => "\\\\",
        b'\n' => "\\n",
        b'\r' => "\\r",
        b'\t' => "\\t",
        0x08 => "\\b",
        0x0C => "\\f",
        _ => return None,
    })
}

/// Whether any of the eight bytes of `w` is a control byte, a quote or a backslash (exact:
/// the tests for a zero byte and for a byte below 0x20 have no false answers as a whole).
fn needs_escape(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_in = |v: u64| v.wrapping_sub(ONES) & !v & HIGH != 0;
    let below_space = w.wrapping_sub(ONES * 0x20) & !w & HIGH != 0;
    below_space || zero_in(w ^ (ONES * u64::from(b'"'))) || zero_in(w ^ (ONES * u64::from(b'\\')))
}

#[cfg(test)]
mod tests {
    use super::write_str;

    fn ours(s: &str) -> String {
        let mut out = Vec::new();
        write_str(&mut out, s);
        String::from_utf8(out).expect("the writer keeps UTF-8")
    }

    #[test]
    fn every_ascii_byte_at_every_place_of_a_chunk_is_written_as_serde_does() {
        for c in (0u8..0x80).map(char::from) {
            for at in 0..19 {
                let mut s: String = "abcdefghijklmnopqrs".chars().take(at).collect();
                s.push(c);
                s.push_str("tuvwxyz0123456789");
                assert_eq!(
                    ours(&s),
                    serde_json::to_string(&s).unwrap(),
                    "{c:?} at {at}"
                );
            }
        }
    }

    #[test]
    fn mixed_text_is_written_as_serde_does() {
        let samples = [
            "",
            "\"",
            "plain words only, nothing to escape at all here",
            "Grüße an [EMAIL]@example.com\r\n\tTabs\\back\u{7f}slash \u{1}\u{1f}",
            "日本語のテキスト \"引用\" と改行\n",
            "\u{8}\u{c}\u{b}\0end",
        ];
        for s in samples {
            assert_eq!(ours(s), serde_json::to_string(s).unwrap(), "{s:?}");
        }
        let long = samples.concat().repeat(50);
        assert_eq!(ours(&long), serde_json::to_string(&long).unwrap());
    }
}
