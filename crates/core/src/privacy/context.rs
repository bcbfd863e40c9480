//! Context words: what the words just before a candidate number or date say about it
//! ("phone", "order", "card", "date of birth"...), as Presidio's context enhancement does.
//!
//! Every candidate number and date asks, so the lookup is made cheap. The window (the 40
//! bytes before the candidate) is lower-cased on the stack and cut into runs of ASCII letters
//! and digits. A run is looked up in one table for all lists only when its first two bytes
//! start some list word (most runs are digits or words of no list). The lists' few phrases
//! (`date of birth`, `ts=`, a signature's `\nm:`, `téléphone`) are found as substrings,
//! checked where a run ends: a phrase is cut around its first run, and can only be where a
//! run ends with that part.

use super::wordset::WordFlags;

/// The context lists, one bit each.
pub(super) mod ctx {
    pub const PHONE: u8 = 1;
    pub const NOT_PHONE: u8 = 2;
    pub const CARD: u8 = 4;
    pub const DATE: u8 = 8;
    pub const SSN: u8 = 16;
    pub const SSN_SURE: u8 = 32;
}

/// How many bytes before a candidate are read.
const WINDOW: usize = 40;

/// Words that say a nearby number is a phone number.
const PHONE_CONTEXT: &[&str] = &[
    "phone",
    "tel",
    "telephone",
    "mobile",
    "cell",
    "call",
    "fax",
    "whatsapp",
    "sms",
    "text me",
    "reach me",
    "contact",
    "direct",
    "office",
    "landline",
    "telefon",
    "handy",
    "téléphone",
    "portable",
    "teléfono",
    "móvil",
    "ext",
    "dial",
    "desk",
    "work",
    "home",
    "ph",
    "mob",
    "tlf",
    "telefono",
    "telefone",
    "cellulare",
    "numéro",
    "nummer",
    // Signature labels: "M: 0612 345 678", "T: ...", "P: ...", "C: ..." at a line's start.
    "\nm:",
    "\nt:",
    "\np:",
    "\nc:",
    "\nh:",
    "\nf:",
];

/// Words that say a nearby number is not personal (orders, tickets, versions...).
const NOT_PHONE_CONTEXT: &[&str] = &[
    "order",
    "invoice",
    "ticket",
    "tracking",
    "ref",
    "reference",
    "case",
    "part",
    "sku",
    "serial",
    "build",
    "version",
    "account",
    "po",
    "id",
    "item",
    "model",
    "shipment",
    "confirmation",
    "transaction",
    "receipt",
    "code",
    "pin",
    "otp",
    "ts=",
    "epoch",
    "timestamp",
    "card",
    "gift",
    "iban",
    "bic",
    "swift",
    "routing",
];

/// Words that say a nearby number is a payment card.
const CARD_CONTEXT: &[&str] = &[
    "card",
    "cc",
    "credit",
    "debit",
    "visa",
    "mastercard",
    "amex",
    "jcb",
    "maestro",
    "discover",
    "kreditkarte",
    "karte",
    "carte",
    "tarjeta",
    "carta",
    "cartão",
    "pan",
];

/// Words before a date that make it personal.
const DATE_CONTEXT: &[&str] = &[
    "born",
    "birth",
    "birthday",
    "dob",
    "d.o.b",
    "date of birth",
    "geboren",
    "né",
    "née",
    "nacido",
    "nacida",
];

/// Every list with its bit.
const LISTS: [(&[&str], u8); 6] = [
    (PHONE_CONTEXT, ctx::PHONE),
    (NOT_PHONE_CONTEXT, ctx::NOT_PHONE),
    (CARD_CONTEXT, ctx::CARD),
    (DATE_CONTEXT, ctx::DATE),
    (
        &["ssn", "social", "security", "sozialversicherungsnummer"],
        ctx::SSN,
    ),
    (&["ssn", "social security", "social"], ctx::SSN_SURE),
];

/// The index of each byte that is an ASCII letter or digit (letters 0-25 in either case,
/// digits 26-35), else `NONE`: one load per byte of the window.
const CLASS: [u8; 256] = {
    let mut table = [NONE; 256];
    let mut b = 0;
    while b < 26 {
        table[b'a' as usize + b] = b as u8;
        table[b'A' as usize + b] = b as u8;
        b += 1;
    }
    let mut d = 0;
    while d < 10 {
        table[b'0' as usize + d] = 26 + d as u8;
        d += 1;
    }
    table
};

/// Not a letter or digit.
const NONE: u8 = 0xFF;

/// The index of an ASCII letter or digit.
fn class(b: u8) -> Option<usize> {
    let c = CLASS[usize::from(b)];
    (c != NONE).then_some(usize::from(c))
}

/// The second index of a run for the start filter: its second byte's, or 36 for a run of
/// one byte.
fn second_class(run: &[u8]) -> usize {
    run.get(1).and_then(|&b| class(b)).unwrap_or(36)
}

/// A phrase cut around its first run of ASCII letters and digits: `lead` (bytes that are
/// none), `run`, and `rest` (empty, or starting with a byte that is none).
#[derive(Debug)]
struct Phrase {
    lead: &'static [u8],
    run: &'static [u8],
    rest: &'static [u8],
    flags: u8,
}

#[derive(Debug)]
struct ContextWords {
    /// The plain words (ASCII letters and digits only), with the bits of their lists.
    words: WordFlags,
    /// Bit `j` of entry `i`: some plain word starts with a byte of index `i`, then one of
    /// index `j` (36: the word is that one byte).
    starts: [u64; 36],
    /// The phrases by the index of their run's last byte.
    phrases: Vec<Vec<Phrase>>,
}

static CONTEXT_WORDS: std::sync::LazyLock<ContextWords> = std::sync::LazyLock::new(|| {
    let mut words = WordFlags::default();
    let mut starts = [0u64; 36];
    let mut phrases: Vec<Vec<Phrase>> = (0..36).map(|_| Vec::new()).collect();
    for (list, flags) in LISTS {
        for word in list {
            let bytes = word.as_bytes();
            if let Some(first) = bytes.first().and_then(|&b| class(b)) {
                if bytes.iter().all(|&b| class(b).is_some()) {
                    words.insert(word, flags);
                    starts[first] |= 1 << second_class(bytes);
                    continue;
                }
            }
            // Every entry has a letter or digit (a test checks the lists).
            let Some(from) = bytes.iter().position(|&b| class(b).is_some()) else {
                continue;
            };
            let to = bytes[from..]
                .iter()
                .position(|&b| class(b).is_none())
                .map_or(bytes.len(), |n| from + n);
            let last = class(bytes[to - 1]).unwrap_or(0);
            phrases[last].push(Phrase {
                lead: &bytes[..from],
                run: &bytes[from..to],
                rest: &bytes[to..],
                flags,
            });
        }
    }
    ContextWords {
        words,
        starts,
        phrases,
    }
});

/// The context lists (`ctx` bits) with a word (case-insensitively, as a whole run of letters
/// and digits) or a phrase (as a substring) in the 40 bytes before `at`. Allocates nothing.
pub(super) fn flags(text: &str, at: usize) -> u8 {
    let lists = &*CONTEXT_WORDS;
    let mut from = at.saturating_sub(WINDOW);
    while !text.is_char_boundary(from) {
        from += 1;
    }
    let window = &text.as_bytes()[from..at];
    let mut lower = [0u8; WINDOW];
    let lower = &mut lower[..window.len()];
    for (l, b) in lower.iter_mut().zip(window) {
        *l = b.to_ascii_lowercase();
    }
    let lower: &[u8] = lower;
    let mut flags = 0;
    let mut i = 0;
    while i < lower.len() {
        let Some(first) = class(lower[i]) else {
            i += 1;
            continue;
        };
        let start = i;
        i += 1;
        while i < lower.len() && CLASS[usize::from(lower[i])] != NONE {
            i += 1;
        }
        let run = &lower[start..i];
        if lists.starts[first] >> second_class(run) & 1 != 0 {
            flags |= lists.words.get_bytes(run);
        }
        // A phrase's rest starts with the byte after the run (or it has none): most runs are
        // followed by a byte that starts no rest, and cost no comparison.
        let next = lower.get(i).copied();
        let last = usize::from(CLASS[usize::from(lower[i - 1])]);
        for p in &lists.phrases[last] {
            let rest_fits = match p.rest.first() {
                None => true,
                Some(&b) => next == Some(b) && lower[i..].starts_with(p.rest),
            };
            if rest_fits
                && run.ends_with(p.run)
                && (p.lead.is_empty()
                    || (run.len() == p.run.len() && lower[..start].ends_with(p.lead)))
            {
                flags |= p.flags;
            }
        }
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The lists' definition, read plainly: every whole run of letters and digits of the
    /// lower-cased window that is a plain list word, and every phrase found anywhere in it.
    fn reference(text: &str, at: usize) -> u8 {
        let mut from = at.saturating_sub(WINDOW);
        while !text.is_char_boundary(from) {
            from += 1;
        }
        let lower = text.as_bytes()[from..at].to_ascii_lowercase();
        let mut flags = 0;
        for (list, f) in LISTS {
            for word in list {
                let w = word.as_bytes();
                let hit = if w.iter().all(u8::is_ascii_alphanumeric) {
                    lower
                        .split(|b| !b.is_ascii_alphanumeric())
                        .any(|run| run == w)
                } else {
                    lower.windows(w.len()).any(|s| s == w)
                };
                if hit {
                    flags |= f;
                }
            }
        }
        flags
    }

    #[test]
    fn every_list_entry_has_a_letter_or_digit_to_be_found_by() {
        for (list, _) in LISTS {
            for word in list {
                assert!(word.bytes().any(|b| class(b).is_some()), "{word:?}");
            }
        }
    }

    #[test]
    fn words_and_phrases_are_found_where_the_lists_say() {
        let cases = [
            ("call me on ", ctx::PHONE),
            ("Order no. ", ctx::NOT_PHONE),
            ("my date of birth: ", ctx::DATE),
            ("D.O.B. ", ctx::DATE),
            ("Jane Doe\nM: ", ctx::PHONE),
            ("Téléphone : ", ctx::PHONE),
            ("née le ", ctx::DATE),
            ("ts=", ctx::NOT_PHONE),
            ("social security no ", ctx::SSN | ctx::SSN_SURE),
            ("calling ", 0),
            ("telephones ", 0),
            ("xM: ", 0),
        ];
        for (text, want) in cases {
            assert_eq!(flags(text, text.len()), want, "{text:?}");
            assert_eq!(reference(text, text.len()), want, "{text:?}");
        }
        // Only the 40 bytes before the candidate count.
        let far = format!("phone {}", "x".repeat(40));
        assert_eq!(flags(&far, far.len()), 0);
    }

    proptest! {
        #[test]
        fn the_fast_lookup_is_the_plain_reading(
            parts in proptest::collection::vec(prop_oneof![
                Just("phone"), Just("tel"), Just("ph"), Just("Card"), Just("text me"),
                Just("reach"), Just(" me"), Just("date of birth"), Just("of birth"),
                Just("d.o.b"), Just(".o.b"), Just("ts="), Just("counts="), Just("\n"),
                Just("m:"), Just("T:"), Just("téléphone"), Just("né"), Just("née"),
                Just("ée"), Just("social security"), Just("ssn"), Just("cartão"),
                Just("x"), Just(" "), Just("-"), Just("."), Just("0"), Just("12"),
                Just("é"), Just("ü"), Just("phones"), Just("iban"), Just("ext"),
            ], 0..24),
        ) {
            let text: String = parts.concat();
            for at in (0..=text.len()).filter(|&i| text.is_char_boundary(i)) {
                prop_assert_eq!(flags(&text, at), reference(&text, at), "{:?} at {}", text, at);
            }
        }
    }
}
