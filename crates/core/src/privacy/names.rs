//! People and places: the word-level pass of the detector.
//!
//! Names come from four places, strongest first: the message's own headers (display names
//! in From, To and Cc found again in the text), greetings ("Hi Maria,") and signatures
//! ("Regards,\nJohn Smith"), titles ("Mr. Okafor"), and a first-name / surname dictionary
//! built from real-world lists, where a first name that is also a common word needs a
//! surname after it. Places are street addresses (patterns for the common layouts),
//! "City, ST 12345" lines and postcodes, and dictionary places, where an ambiguous one needs
//! a preposition before it.

use super::detect::{Dictionaries, Entity, Finding, WordFlags, WordKind};
use crate::blocks::{span, Block};

/// A word: a run of letters (with inner apostrophes and hyphens), or of CJK characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Word {
    pub(super) start: usize,
    pub(super) end: usize,
    /// Starts with an upper-case letter.
    upper: bool,
    /// Chinese, Japanese or Korean script (no case: names are told by position only).
    cjk: bool,
    /// The first word of its line.
    line_start: bool,
    /// Only spaces (no line break, no punctuation) separate it from the word before.
    joined: bool,
    /// Has a hyphen inside (`CONFIDENTIAL-DO`): what follows it may start a phrase too.
    pub(super) hyphen: bool,
    /// Has an ASCII apostrophe inside (`O'Brien`).
    pub(super) apostrophe: bool,
    /// What the dictionaries say of it (looked up for capitalised, CJK and line-starting
    /// words only).
    kind: WordKind,
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF)
}

/// The words of `text`, in order.
///
/// The gaps between words and the letters of each word are crossed with the bit masks of
/// 64 bytes at a time (`blocks`): a bit scan to the next letter or non-ASCII byte, and one
/// test of the gap's masks for a line break (`line_start`) and for anything but spaces and
/// tabs (`joined`), instead of a branch per byte. Non-ASCII characters are decoded.
pub(super) fn words(text: &str) -> Vec<Word> {
    let bytes = text.as_bytes();
    // A word is 32 bytes here, several times the text it covers. Mail has a word about
    // every six bytes: room for that, so that most texts never move the list, but capped
    // (a large first guess would be a fresh mapping to zero on every long message).
    let mut out = Vec::with_capacity((text.len() / 5).min(2048));
    let mut line_start = true;
    let mut joined = false;
    let mut block = Block::at(bytes, 0);
    let mut i = 0;
    while i < bytes.len() {
        // The gap: ASCII bytes that are no letters, up to the next letter or non-ASCII byte.
        loop {
            if block.ends_before(i) {
                block = Block::at(bytes, i);
            }
            let from = i - block.base;
            let ahead = (block.letters | block.high) >> from;
            let len = if ahead == 0 {
                64 - from
            } else {
                ahead.trailing_zeros() as usize
            };
            let gap = span(from, len);
            line_start |= block.newline & gap != 0;
            joined &= block.not_blank & gap == 0;
            i += len;
            if ahead != 0 || i >= bytes.len() {
                break;
            }
        }
        let Some(&b) = bytes.get(i) else { break };
        if b.is_ascii() {
            let word = ascii_word(text, i, line_start, joined, |at| {
                letters_end_in(bytes, at, &mut block)
            });
            i = word.end;
            out.push(word);
            line_start = false;
            joined = true;
            continue;
        }
        let Some(next) = decoded(text, i, &mut out, &mut line_start, &mut joined) else {
            break;
        };
        i = next;
    }
    out
}

/// The first byte at or after `i` that is not an ASCII letter (or the end), from the masks
/// of `block`, moved on as the letters go past it.
fn letters_end_in(bytes: &[u8], mut i: usize, block: &mut Block) -> usize {
    while i < bytes.len() {
        if block.ends_before(i) {
            *block = Block::at(bytes, i);
        }
        let from = i - block.base;
        // Bits shifted in from the top are zeros: past the block, not an answer.
        let others = !block.letters >> from;
        if others != 0 {
            return (i + others.trailing_zeros() as usize).min(bytes.len());
        }
        i = block.base + 64;
    }
    bytes.len()
}

/// Reads the non-ASCII character at `i`: a letter starts a word, pushed onto `out` with the
/// pass's flags, and anything else breaks the join. Returns where the pass goes on.
fn decoded(
    text: &str,
    i: usize,
    out: &mut Vec<Word>,
    line_start: &mut bool,
    joined: &mut bool,
) -> Option<usize> {
    let c = text[i..].chars().next()?;
    if !c.is_alphabetic() {
        *joined = false;
        return Some(i + c.len_utf8());
    }
    let cjk = is_cjk(c);
    let end = word_end(text, i + c.len_utf8(), cjk);
    out.push(Word {
        start: i,
        end,
        upper: c.is_uppercase(),
        cjk,
        line_start: *line_start,
        joined: *joined,
        hyphen: !cjk && text[i..end].contains('-'),
        apostrophe: !cjk && text[i..end].contains('\''),
        kind: WordKind::default(),
    });
    *line_start = false;
    *joined = true;
    Some(end)
}

/// The ASCII word whose first letter is at `start` (its flags as the pass has them there):
/// `letters_end` gives the end of each run of ASCII letters; an apostrophe or hyphen with a
/// letter after it joins two runs, and a non-ASCII letter (Müller) finishes the word decoded.
fn ascii_word(
    text: &str,
    start: usize,
    line_start: bool,
    joined: bool,
    mut letters_end: impl FnMut(usize) -> usize,
) -> Word {
    let bytes = text.as_bytes();
    let (mut hyphen, mut apostrophe) = (false, false);
    let mut at = start + 1;
    loop {
        at = letters_end(at);
        let Some(&d) = bytes.get(at) else { break };
        if matches!(d, b'\'' | b'-') && bytes.get(at + 1).is_some_and(u8::is_ascii_alphabetic) {
            hyphen |= d == b'-';
            apostrophe |= d == b'\'';
            at += 2;
        } else {
            if d >= 0x80 {
                let end = word_end(text, at, false);
                hyphen |= text[at..end].contains('-');
                apostrophe |= text[at..end].contains('\'');
                at = end;
            }
            break;
        }
    }
    Word {
        start,
        end: at,
        upper: bytes[start].is_ascii_uppercase(),
        cjk: false,
        line_start,
        joined,
        hyphen,
        apostrophe,
        kind: WordKind::default(),
    }
}

/// Where a word that goes on at `from` ends: letters of the same kind (CJK or not), with
/// inner apostrophes and hyphens in the others.
fn word_end(text: &str, from: usize, cjk: bool) -> usize {
    let mut end = from;
    let mut chars = text[from..].char_indices().peekable();
    while let Some((j, d)) = chars.next() {
        let inner = !cjk
            && matches!(d, '\'' | '’' | '-')
            && chars.peek().is_some_and(|(_, n)| n.is_alphabetic());
        if (d.is_alphabetic() && is_cjk(d) == cjk) || inner {
            end = from + j + d.len_utf8();
        } else {
            break;
        }
    }
    end
}

const GREETINGS: &[&str] = &[
    "hi",
    "hello",
    "hey",
    "hi there",
    "hello there",
    "hey there",
    "good day",
    "morning",
    "afternoon",
    "evening",
    "dear",
    "greetings",
    "good morning",
    "good afternoon",
    "good evening",
    "hallo",
    "liebe",
    "lieber",
    "sehr geehrte",
    "sehr geehrter",
    "guten tag",
    "bonjour",
    "cher",
    "chère",
    "hola",
    "estimado",
    "estimada",
    "querido",
    "querida",
    "buenos días",
    "ciao",
    "caro",
    "cara",
    "gentile",
    "buongiorno",
    "olá",
    "ola",
    "prezado",
    "prezada",
    "beste",
    "hej",
    "hoi",
    "witam",
    "здравствуйте",
    "привет",
    "уважаемый",
    "уважаемая",
    "γεια σου",
    "αγαπητέ",
    "αγαπητή",
];

const CLOSINGS: &[&str] = &[
    "regards",
    "best regards",
    "kind regards",
    "warm regards",
    "warmest regards",
    "best",
    "thanks",
    "thank you",
    "many thanks",
    "thanks again",
    "cheers",
    "sincerely",
    "yours sincerely",
    "sincerely yours",
    "yours truly",
    "best wishes",
    "all the best",
    "respectfully",
    "take care",
    "with thanks",
    "mit freundlichen grüßen",
    "mit freundlichen grüssen",
    "viele grüße",
    "beste grüße",
    "liebe grüße",
    "grüße",
    "cordialement",
    "bien cordialement",
    "salutations",
    "bien à vous",
    "saludos",
    "un saludo",
    "atentamente",
    "saludos cordiales",
    "cordiali saluti",
    "distinti saluti",
    "saluti",
    "atenciosamente",
    "abraços",
    "met vriendelijke groet",
    "groeten",
    "с уважением",
    "спасибо",
    "με εκτίμηση",
    "ευχαριστώ",
    "敬具",
    "此致",
    "谢谢",
    "よろしくお願いします",
];

/// Greetings that are also plain words at the start of a line ("Morning session"): the name
/// after them must be followed by `,`, `!` or the line's end.
const BARE_GREETINGS: &[&str] = &["morning", "afternoon", "evening"];

/// The greeting and closing phrases as sets, for one lookup per line.
static GREETING_SET: std::sync::LazyLock<WordFlags> =
    std::sync::LazyLock::new(|| WordFlags::new(GREETINGS.iter().copied(), 1));
static CLOSING_SET: std::sync::LazyLock<WordFlags> =
    std::sync::LazyLock::new(|| WordFlags::new(CLOSINGS.iter().copied(), 1));
/// Bytes in the longest greeting or closing phrase.
const LONGEST_PHRASE: usize = 40;

const TITLES: &[&str] = &[
    "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "herr", "frau", "mme", "mlle",
    "monsieur", "madame", "sr", "sra", "señor", "señora", "sig", "sig.ra", "dott", "dott.ssa",
];

/// Words after a greeting that are not names.
const NOT_NAMES: &[&str] = &[
    "team",
    "all",
    "everyone",
    "everybody",
    "there",
    "customer",
    "customers",
    "sir",
    "madam",
    "colleagues",
    "folks",
    "guys",
    "friends",
    "valued",
    "user",
    "member",
    "members",
    "support",
    "hiring",
    "manager",
    "client",
    "partner",
    "partners",
    "admin",
    "again",
    "and",
    "the",
    "dear",
    "world",
    "you",
    "y'all",
    "community",
    "subscriber",
    "applicant",
    "candidate",
    "staff",
    "board",
    "committee",
    "sales",
    "it",
    "hr",
    "mom",
    "dad",
    "guest",
    "owner",
];

/// Words before a place that make it one.
const PLACE_CONTEXT: &[&str] = &[
    "in", "from", "at", "to", "near", "visit", "visiting", "based", "located", "live", "lives",
    "living", "moved", "office", "city", "town", "via", "around", "outside", "downtown", "aus",
    "nach", "bei", "en", "à", "de", "desde", "a", "em", "di", "da", "в", "из",
];

/// Adds the titles, the words that are not names and the first words of greetings and
/// closings to the dictionaries' table, as they may be written (`mr`, `Mr`, `MR`), so that
/// the one lookup of a capitalised or line-starting word answers for them too.
pub(super) fn add_small_lists(table: &mut WordFlags) {
    let first_words: Vec<&str> = GREETINGS
        .iter()
        .chain(CLOSINGS)
        .filter_map(|p| p.split(' ').next())
        .collect();
    for (list, flag) in [
        (TITLES, WordKind::TITLE),
        (NOT_NAMES, WordKind::NOT_NAME),
        (first_words.as_slice(), WordKind::PHRASE_START),
    ] {
        for w in list {
            let mut chars = w.chars();
            let capitalised: String = chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect())
                .unwrap_or_default();
            for form in [w.to_string(), capitalised, w.to_uppercase()] {
                table.insert(&form, flag);
            }
        }
    }
}

/// Words before a place that make it one, as a set.
static PLACE_CONTEXT_SET: std::sync::LazyLock<WordFlags> =
    std::sync::LazyLock::new(|| WordFlags::new(PLACE_CONTEXT.iter().copied(), 1));

/// The people and places of `text`.
pub(super) fn find(
    text: &str,
    mut words: Vec<Word>,
    known: &[&str],
    dict: &Dictionaries,
    out: &mut Vec<Finding>,
) {
    // The lookups of all capitalised words at once (see `Dictionaries::kinds`): they do not
    // depend on each other, so their cache misses in the large table can overlap.
    let looked_up: Vec<(usize, u64)> = words
        .iter()
        .enumerate()
        .filter(|(_, w)| w.upper || w.cjk || w.line_start)
        .map(|(i, w)| (i, Dictionaries::word_id(&text[w.start..w.end])))
        .collect();
    dict.kinds(&looked_up, |i, kind| words[i].kind = kind);
    let words = words;
    let word = |w: &Word| &text[w.start..w.end];
    let push = |out: &mut Vec<Finding>, entity, start, end, score, detector| {
        out.push(Finding {
            entity,
            start,
            end,
            score,
            detector,
        });
    };

    // A person named by the words `from..to`.
    let person = |out: &mut Vec<Finding>, from: usize, to: usize, score: f32, detector| {
        push(
            out,
            Entity::Person,
            words[from].start,
            words[to - 1].end,
            score,
            detector,
        );
    };

    // A particle between names ("van", "de"), or two ("van den", "de la"), with a
    // capitalised name after them.
    let is_particle = |w: &Word| {
        !w.upper
            && matches!(
                word(w),
                "van"
                    | "von"
                    | "de"
                    | "der"
                    | "den"
                    | "da"
                    | "di"
                    | "del"
                    | "la"
                    | "le"
                    | "bin"
                    | "al"
            )
    };
    let name_after = |k: usize| words.get(k).is_some_and(|n| n.upper && n.joined);
    // A run of capitalised words joined by spaces from index `i` (at most `max`), skipping
    // lower-case particles inside a name (van, de, von, da...). Returns the index after it.
    let name_run = |i: usize, max: usize| -> usize {
        let mut j = i;
        let mut taken = 0;
        while j < words.len() && taken < max {
            let w = &words[j];
            if j > i && !w.joined {
                break;
            }
            if w.cjk {
                if j == i {
                    return j + 1;
                }
                break;
            }
            let particle = j > i
                && is_particle(w)
                && (name_after(j + 1)
                    || (words.get(j + 1).is_some_and(|n| n.joined && is_particle(n))
                        && name_after(j + 2)));
            if !(w.upper || particle) || w.kind.not_name() {
                break;
            }
            j += 1;
            // Particles do not count against `max`: "Vincent van den Berg" is two names.
            taken += usize::from(!particle);
        }
        // A trailing particle is not part of the name.
        while j > i && !words[j - 1].upper && !words[j - 1].cjk {
            j -= 1;
        }
        j
    };

    // Greetings and signatures, line by line.
    let mut i = 0;
    while i < words.len() {
        // Most lines start with neither a greeting nor a closing: their first word says so.
        if !words[i].line_start || !words[i].kind.phrase_start() {
            i += 1;
            continue;
        }
        // The phrase can be up to three words ("good morning", "mit freundlichen grüßen").
        for span in [3usize, 2, 1] {
            let Some(last) = words.get(i + span - 1) else {
                continue;
            };
            if (1..span).any(|k| !words[i + k].joined) {
                continue;
            }
            let phrase = &text[words[i].start..last.end];
            // Most lines start with neither: a length check first, then one set lookup.
            if phrase.len() > LONGEST_PHRASE {
                continue;
            }
            let closing = CLOSING_SET.contains_lowercase(phrase);
            if GREETING_SET.contains_lowercase(phrase) {
                let mut j = i + span;
                if words.get(j).is_some_and(|w| w.joined && w.kind.title()) {
                    j += 1;
                }
                if words
                    .get(j)
                    .is_some_and(|w| w.joined || w.start - last.end <= 2)
                {
                    let end = name_run(j, 3);
                    // "Morning Sandra," greets; "Morning Session notes" does not: after a
                    // bare time of day the name must end the greeting.
                    let bare = BARE_GREETINGS
                        .iter()
                        .any(|g| phrase.eq_ignore_ascii_case(g));
                    let closed = || {
                        let after = words.get(end - 1).map_or("", |w| &text[w.end..]);
                        after.starts_with([',', '!', '\n']) || after.is_empty()
                    };
                    if end > j && (!bare || closed()) {
                        person(out, j, end, 0.85, "greeting");
                    }
                }
                break;
            }
            if closing {
                // "Thanks, John" on the same line, else the next line's name.
                let rest = text[last.end..].lines().next().unwrap_or("");
                let j = i + span;
                let same_line = words.get(j).is_some_and(|w| !w.line_start)
                    && rest.trim_start().starts_with(',');
                let start = if same_line {
                    Some(j)
                } else {
                    words.get(j).filter(|w| w.line_start).map(|_| j)
                };
                if let Some(j) = start {
                    let end = name_run(j, 4);
                    // The whole line must be the name (a signature), not a sentence.
                    let line_done = words.get(end).is_none_or(|w| w.line_start);
                    if end > j && (line_done || same_line) {
                        person(out, j, end, 0.85, "signature");
                    }
                }
                break;
            }
        }
        i += 1;
    }

    // Titles, names the headers give, and the dictionaries (kinds looked up above).
    let kind_at = |j: usize| -> WordKind { words[j].kind };
    let mut i = 0;
    while i < words.len() {
        let w = words[i];
        let text_w = word(&w);
        if !w.upper && !w.cjk {
            i += 1;
            continue;
        }
        if w.kind.title() {
            let j = i + 1;
            let next_joined = words
                .get(j)
                .is_some_and(|n| n.upper && (n.joined || text[w.end..n.start].trim() == "."));
            if next_joined {
                let end = name_run(j, 3);
                if end > j {
                    person(out, j, end, 0.85, "title");
                    i = end;
                    continue;
                }
            }
        }
        if known.contains(&text_w) {
            let mut end = i + 1;
            while words
                .get(end)
                .is_some_and(|n| n.joined && known.iter().any(|k| *k == word(n)))
            {
                end += 1;
            }
            push(
                out,
                Entity::Person,
                w.start,
                words[end - 1].end,
                0.9,
                "header_names",
            );
            i = end;
            continue;
        }
        let kind = kind_at(i);
        if kind.first_name() {
            let ambiguous = kind.ambiguous();
            if words.get(i + 1).is_some_and(|n| n.joined && n.upper) {
                let next = kind_at(i + 1);
                if next.surname() || (!ambiguous && !next.place()) {
                    let mut end = i + 2;
                    if words
                        .get(end)
                        .is_some_and(|m| m.joined && m.upper && kind_at(end).surname())
                    {
                        end += 1;
                    }
                    let score = if next.surname() { 0.8 } else { 0.65 };
                    push(
                        out,
                        Entity::Person,
                        w.start,
                        words[end - 1].end,
                        score,
                        "dictionary",
                    );
                    i = end;
                    continue;
                }
            }
            if !ambiguous {
                push(out, Entity::Person, w.start, w.end, 0.6, "dictionary");
                i += 1;
                continue;
            }
        }
        // Places: the longest run of up to three capitalised words in the dictionary.
        if dict.has_places() {
            let mut matched = None;
            let longest = if kind.place_start() { 3 } else { 1 };
            for n in (1..=longest).rev() {
                let Some(last) = words.get(i + n - 1) else {
                    continue;
                };
                if (1..n).any(|k| !words[i + k].joined) {
                    continue;
                }
                let candidate = &text[w.start..last.end];
                let found = if n == 1 { kind } else { dict.kind(candidate) };
                if found.place() {
                    matched = Some((i + n, last.end, found));
                    break;
                }
            }
            if let Some((next, end, found)) = matched {
                let preceded = i > 0 && PLACE_CONTEXT_SET.contains_lowercase(word(&words[i - 1]));
                let ambiguous = found.ambiguous();
                if preceded || !ambiguous {
                    let score = if preceded { 0.8 } else { 0.6 };
                    push(out, Entity::Location, w.start, end, score, "places");
                    i = next;
                    continue;
                }
            }
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::Just;

    fn names(text: &str, known: &[&str], dict: &Dictionaries) -> Vec<(Entity, String)> {
        let mut out = Vec::new();
        find(text, words(text), known, dict, &mut out);
        out.sort_by_key(|f| f.start);
        out.into_iter()
            .map(|f| (f.entity, text[f.start..f.end].to_string()))
            .collect()
    }

    proptest::proptest! {
        #[test]
        fn letters_end_is_the_first_byte_that_is_no_ascii_letter(
            bytes in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::prelude::any::<u8>(),
                    b'a'..=b'z',
                    b'A'..=b'Z',
                    proptest::prelude::Just(b'@'),
                    proptest::prelude::Just(b'['),
                    proptest::prelude::Just(b'`'),
                    proptest::prelude::Just(b'{'),
                ],
                0..150,
            ),
            from in 0usize..150,
        ) {
            let from = from.min(bytes.len());
            let expected = from
                + bytes[from..]
                    .iter()
                    .take_while(|b| b.is_ascii_alphabetic())
                    .count();
            proptest::prop_assert_eq!(letters_end(&bytes, from), expected);
        }
    }

    /// `letters_end_in` from a block of its own.
    fn letters_end(bytes: &[u8], from: usize) -> usize {
        let mut block = Block::at(bytes, from.min(bytes.len()));
        letters_end_in(bytes, from, &mut block)
    }

    /// The word pass as it was written byte by byte: what `words` must give.
    fn words_reference(text: &str) -> Vec<Word> {
        let bytes = text.as_bytes();
        // A word is 32 bytes here, several times the text it covers. Mail has a word about
        // every six bytes: room for that, so that most texts never move the list, but capped
        // (a large first guess would be a fresh mapping to zero on every long message).
        let mut out = Vec::with_capacity((text.len() / 5).min(2048));
        let mut line_start = true;
        let mut joined = false;
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            // ASCII takes a byte path (most mail); other characters are decoded.
            if b.is_ascii() {
                if b.is_ascii_alphabetic() {
                    // The letters a byte at a time.
                    let word = ascii_word(text, i, line_start, joined, |mut at| {
                        while bytes.get(at).is_some_and(u8::is_ascii_alphabetic) {
                            at += 1;
                        }
                        at
                    });
                    i = word.end;
                    out.push(word);
                    line_start = false;
                    joined = true;
                    continue;
                }
                if b == b'\n' {
                    line_start = true;
                    joined = false;
                } else if b != b' ' && b != b'\t' {
                    joined = false;
                }
                i += 1;
                continue;
            }
            let Some(next) = decoded(text, i, &mut out, &mut line_start, &mut joined) else {
                break;
            };
            i = next;
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn words_are_the_byte_by_byte_reading(
            parts in proptest::collection::vec(
                proptest::prop_oneof![
                    Just("word"), Just("Maria"), Just("O'Brien"), Just("CONFIDENTIAL-DO"),
                    Just("x-"), Just("'"), Just("-"), Just(" "), Just("\t"), Just("\n"),
                    Just("\r\n"), Just(","), Just("."), Just("12"), Just("@"), Just("Müller"),
                    Just("ü"), Just("漢字"), Just("’"), Just("abc’d"), Just("Ñ"), Just("é-"),
                    Just("\u{a0}"), Just("—"), Just("\0"),
                    Just("abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmn"),
                    Just("                                                                  "),
                ],
                0..60,
            ),
        ) {
            let text = parts.concat();
            proptest::prop_assert_eq!(words(&text), words_reference(&text));
        }
    }

    #[test]
    fn words_read_the_same_wherever_the_blocks_cut_them() {
        for pad in 0..140 {
            for filler in [" ", "x", "\n", "é"] {
                let text = format!("{}Hi Maria,\nO'Brien  Müller\t漢字 end", filler.repeat(pad));
                assert_eq!(words(&text), words_reference(&text), "{pad} x {filler:?}");
            }
        }
    }

    #[test]
    fn letters_end_stops_at_every_byte_that_is_no_ascii_letter_wherever_it_is() {
        for b in 0..=255u8 {
            for at in 0..17 {
                let mut bytes = b"abcdefghIJKLMNOPqrstuvwxyz".to_vec();
                bytes[at] = b;
                let expected = if b.is_ascii_alphabetic() {
                    bytes.len()
                } else {
                    at
                };
                assert_eq!(letters_end(&bytes, 0), expected, "byte {b:#x} at {at}");
            }
        }
    }

    #[test]
    fn greetings_signatures_titles_and_header_names() {
        let none = Dictionaries::default();
        let found = names(
            "Hi Maria,\n\nMr. Okafor will call. Ask Kowalski.\n\nBest regards,\nJohn Smith\nAccount Manager\n",
            &["Kowalski"],
            &none,
        );
        let people: Vec<&str> = found
            .iter()
            .filter(|(e, _)| *e == Entity::Person)
            .map(|(_, t)| t.as_str())
            .collect();
        assert_eq!(people, vec!["Maria", "Okafor", "Kowalski", "John Smith"]);
        assert!(names("Hi team,\nthanks\n", &[], &none).is_empty());
        // Phrases of three words, and titles and closings as they may be written.
        let found = names(
            "GOOD MORNING DR. Okafor,\n\nMit freundlichen Grüßen\nHans Müller\n",
            &[],
            &none,
        );
        let people: Vec<&str> = found.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(people, vec!["Okafor", "Hans Müller"]);
        assert!(names("Dear Customer,\n", &[], &none).is_empty());
        let cjk = names("Dear 王伟,\n", &[], &none);
        assert_eq!(cjk, vec![(Entity::Person, "王伟".to_string())]);
        // Greetings of two words, and a bare time of day only when the name ends it.
        let people = |text: &str| -> Vec<String> {
            names(text, &[], &none)
                .into_iter()
                .filter(|(e, _)| *e == Entity::Person)
                .map(|(_, t)| t)
                .collect()
        };
        assert_eq!(people("Hi there Tim, thanks\n"), vec!["Tim"]);
        assert_eq!(people("Morning Sandra,\n\nAdding you"), vec!["Sandra"]);
        assert_eq!(people("Evening Jo!\n"), vec!["Jo"]);
        assert!(people("Morning Session notes follow\n").is_empty());
        assert!(people("Afternoon Tea at four\n").is_empty());
        // Particles inside a name, one or two, do not count against its length.
        assert_eq!(
            people("Best,\nVincent van den Berg\nFreight forwarder\n"),
            vec!["Vincent van den Berg"]
        );
        assert_eq!(
            people("Dear Maria de la Cruz Ortega,\n"),
            vec!["Maria de la Cruz Ortega"]
        );
        assert_eq!(people("Hi Anna van,\n"), vec!["Anna"]);
    }

    #[test]
    fn names_with_a_capital_inside_are_found_as_commonly_written() {
        let dict = Dictionaries::from_lists("Charles\nDeShawn\n", "McDonald\nO'Brien\n", "", "");
        let found = names(
            "Ask Charles Mcdonald or Charles McDonald, and Deshawn O'Brien.",
            &[],
            &dict,
        );
        let people: Vec<&str> = found.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(
            people,
            vec!["Charles Mcdonald", "Charles McDonald", "Deshawn O'Brien"]
        );
        assert_eq!(
            super::super::detect::folded_capitals("McDonald").as_deref(),
            Some("Mcdonald")
        );
        assert_eq!(super::super::detect::folded_capitals("Smith"), None);
        assert_eq!(super::super::detect::folded_capitals("O'Brien"), None);
        assert_eq!(super::super::detect::folded_capitals("Van Dyke"), None);
    }

    #[test]
    fn dictionary_names_need_a_surname_when_they_are_also_words() {
        let dict = Dictionaries::from_lists(
            "Will\nGrace\nMaria\n",
            "Smith\nGarcia\n",
            "Paris\nReading\n",
            "will\nreading\n",
        );
        let found = names(
            "I will ask Grace about it. Will Smith and Maria Garcia came.",
            &[],
            &dict,
        );
        let people: Vec<&str> = found
            .iter()
            .filter(|(e, _)| *e == Entity::Person)
            .map(|(_, t)| t.as_str())
            .collect();
        assert_eq!(people, vec!["Grace", "Will Smith", "Maria Garcia"]);
        let places = names(
            "Reading is fun. We met in Reading and flew to Paris.",
            &[],
            &dict,
        );
        let places: Vec<&str> = places.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(places, vec!["Reading", "Paris"]);
    }
}
