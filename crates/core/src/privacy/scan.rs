//! The scan for the structured patterns (`patterns.rs`): an anchored search at each position
//! where one of them may start, instead of one unanchored search over the whole text.
//!
//! An unanchored lazy DFA follows every partial match at once, so its states are sets of
//! partial matches begun at different places. They are many, every thread of every process
//! builds them anew (a sixth of `train`'s time went there), and each match found that way
//! takes a reverse search for its start. Here a match is looked for only where one may
//! start, by an anchored DFA whose states follow one start: few states, and the start is
//! known. Where one may start is told 64 bytes at a time (`blocks::Starts`):
//! - at a word start (after a byte that is not a letter, digit or `_`, as `\b` has it) or at
//!   one of the few other bytes a pattern can begin with (`SPECIAL`: `+`, `(`, `:`, `-`),
//!   if its first three bytes pass the start filter that `build.rs` derives from the
//!   `Start::Prefix` patterns (`the`, `and`, `you` do not; `Jun`, `htt`, `123` do);
//! - e-mail addresses, which may start at any word: where the run of local-part bytes from
//!   the word's start ends at an `@`;
//! - city lines and German street names, which may start at any capitalised word: where the
//!   run of letters, spaces and `,-.` from the word's start ends at a digit.
//!
//! The matches are the ones an unanchored leftmost-first search gives (the first position
//! where some pattern matches, the first-listed pattern there with its preferred length, and
//! on from its end), since every position skipped is one where no pattern can match. A
//! proptest holds the scan to regex-automata's meta engine over generated text.

use std::panic::{RefUnwindSafe, UnwindSafe};

use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::nfa::thompson::pikevm::PikeVM;
use regex_automata::nfa::thompson::NFA;
use regex_automata::util::pool::Pool;
use regex_automata::util::{start, syntax};
use regex_automata::{Anchored, Input, PatternID};

use super::patterns::{is_word, PATTERNS};
use crate::blocks::Starts;
use crate::swar::{ascii_letters, chunk, equal_bytes, low_in_range, HIGH};

include!(concat!(env!("OUT_DIR"), "/start-masks.rs"));

type NewCache = Box<dyn Fn() -> Cache + Send + Sync + UnwindSafe + RefUnwindSafe>;

/// A match of one of the patterns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Match {
    pub(super) start: usize,
    pub(super) end: usize,
    /// Its index in the patterns.
    pub(super) pattern: usize,
}

/// The compiled patterns. Build it once and share it between threads.
pub(super) struct Scanner {
    dfa: DFA,
    /// For a search the DFA cannot finish: one during which its cache was cleared (a text
    /// that needs more states than it has room for), or one it gives up (it does not: the
    /// patterns have no quit bytes, but its API allows it). A `PikeVM` always answers.
    fallback: PikeVM,
    /// The DFA's state caches, one per thread at a time.
    caches: Pool<Cache, NewCache>,
}

impl std::fmt::Debug for Scanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scanner")
            .field("patterns", &self.dfa.pattern_len())
            .finish_non_exhaustive()
    }
}

impl Scanner {
    /// The scanner of `PATTERNS` (the start filter is derived from them, in their order).
    pub(super) fn new() -> Result<Self, String> {
        // Anchored states are far fewer than unanchored ones (which had 32 MiB): room to
        // spare, so that they are not cleared and built again.
        Self::with_cache(DFA::config().cache_capacity(8 << 20))
    }

    /// The scanner with the DFA's cache as `config` says (the tests give it a tiny one).
    fn with_cache(config: regex_automata::hybrid::dfa::Config) -> Result<Self, String> {
        let patterns: Vec<&str> = PATTERNS.iter().map(|p| p.0).collect();
        let nfa = NFA::compiler()
            .syntax(syntax::Config::new().unicode(false).utf8(false))
            .build_many(&patterns)
            .map_err(|e| e.to_string())?;
        let dfa = DFA::builder()
            .configure(config)
            .build_from_nfa(nfa.clone())
            .map_err(|e| e.to_string())?;
        let fallback = PikeVM::new_from_nfa(nfa).map_err(|e| e.to_string())?;
        let for_caches = dfa.clone();
        let caches = Pool::new(Box::new(move || for_caches.create_cache()) as NewCache);
        Ok(Scanner {
            dfa,
            fallback,
            caches,
        })
    }

    /// Appends the matches in `text` to `out`, in order and without overlaps.
    pub(super) fn find(&self, text: &[u8], out: &mut Vec<Match>) {
        let mut cache = self.caches.get();
        let mut runs = Runs::default();
        // No match may start before `resume` (the end of the last one).
        let mut resume = 0;
        let mut i = 0;
        while i < text.len() {
            // The starts of 64 bytes at once; bit `k` is the byte at `i + k`.
            let starts = Starts::at(text, i, &SPECIAL);
            let after_word = (starts.word << 1) | u64::from(i > 0 && is_word(text[i - 1]));
            let mut candidates = (starts.word & !after_word) | starts.special;
            candidates |= starts.latin_leads & after_word;
            while candidates != 0 {
                let at = i + candidates.trailing_zeros() as usize;
                candidates &= candidates - 1;
                if at < resume || !runs.may_start(text, at) {
                    continue;
                }
                if let Some(found) = self.search(text, at, &mut cache) {
                    resume = found.end.max(at + 1);
                    out.push(found);
                }
            }
            i = (i + 64).max(resume);
        }
    }

    /// The match that starts at `at`, if any. The DFA is stepped here byte by byte rather
    /// than through its search routine: most calls end within a few bytes, where the
    /// routine's set-up would cost more than the steps.
    fn search(&self, text: &[u8], at: usize, cache: &mut Cache) -> Option<Match> {
        let mut stepped = || -> Result<Option<(usize, PatternID)>, ()> {
            let dfa = &self.dfa;
            let config = start::Config::new()
                .anchored(Anchored::Yes)
                .look_behind(at.checked_sub(1).map(|i| text[i]));
            let mut id = dfa.start_state(cache, &config).map_err(drop)?;
            // A match ends before the byte that leads into a match state; the last one
            // seen before the DFA dies is the leftmost-first match. Its pattern is read
            // once, at the end (a run of digits enters a match state at every digit): the
            // state's id is still good then unless the cache was cleared meanwhile, which
            // sends the search to the fallback.
            let clears = cache.clear_count();
            let mut found = None;
            let mut i = at;
            while let Some(&b) = text.get(i) {
                id = dfa.next_state(cache, id, b).map_err(drop)?;
                if id.is_tagged() {
                    if id.is_match() {
                        found = Some((i, id));
                    } else if id.is_dead() {
                        break;
                    } else if id.is_quit() {
                        return Err(());
                    }
                }
                i += 1;
            }
            if i == text.len() {
                id = dfa.next_eoi_state(cache, id).map_err(drop)?;
                if id.is_match() {
                    found = Some((i, id));
                }
            }
            if cache.clear_count() != clears {
                return Err(());
            }
            Ok(found.map(|(end, id)| (end, dfa.match_pattern(cache, id, 0))))
        };
        let (end, pattern) = if let Ok(found) = stepped() {
            found?
        } else {
            let input = Input::new(text).range(at..).anchored(Anchored::Yes);
            self.fallback
                .find(&mut self.fallback.create_cache(), input)
                .map(|m| (m.end(), m.pattern()))?
        };
        Some(Match {
            start: at,
            end,
            pattern: pattern.as_usize(),
        })
    }
}

/// Whether an e-mail address's local part may hold `b` (as the e-mail pattern has it:
/// letters, digits and `._%+-`).
fn is_local(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'%' | b'+' | b'-' | b'.')
}

/// The high bit of each byte of `w` that city lines and German street names may hold before
/// their number: letters (ASCII, or any byte of a UTF-8 letter), spaces and `,-.`.
fn capital_run_bytes(w: u64) -> u64 {
    let marks = equal_bytes(w, b' ') | (low_in_range(w, b',', b'.') & !w);
    ascii_letters(w) | (w & HIGH) | marks
}

/// The runs looked at so far in one text, so that no byte is looked at twice however many
/// word starts share its run.
#[derive(Default)]
struct Runs {
    /// Where the next `@` is, once looked for, and where the run of local-part bytes that
    /// ends at it starts (`usize::MAX` for both: there is none).
    next_at: Option<(usize, usize)>,
    capital: Run,
}

/// A run of bytes of one kind, and whether it ends where a pattern needs it to.
#[derive(Default)]
struct Run {
    end: usize,
    fits: bool,
}

impl Run {
    /// Whether the run of `member` bytes from `at` ends at a byte that `ends` takes. `at`
    /// is a member, at or after the last position asked about. `member` marks the members
    /// among eight bytes (as `capital_run_bytes` does).
    fn ends_well(
        &mut self,
        text: &[u8],
        at: usize,
        member: fn(u64) -> u64,
        ends: fn(&u8) -> bool,
    ) -> bool {
        if at >= self.end {
            self.end = run_end(text, at, member);
            self.fits = text.get(self.end).is_some_and(ends);
        }
        self.fits
    }
}

/// Where the run of bytes that `member` marks, from `at`, ends: eight bytes at a time.
fn run_end(text: &[u8], mut at: usize, member: fn(u64) -> u64) -> usize {
    while at < text.len() {
        let others = !member(chunk(text, at)) & HIGH;
        if others != 0 {
            return (at + (others.trailing_zeros() / 8) as usize).min(text.len());
        }
        at += 8;
    }
    text.len()
}

impl Runs {
    /// Whether some pattern may match from `at` (a word start, or a byte of `SPECIAL`, or a
    /// UTF-8 lead byte after a word byte).
    fn may_start(&mut self, text: &[u8], at: usize) -> bool {
        let b = text[at];
        let after_word = at > 0 && is_word(text[at - 1]);
        let prefix = match text.get(at..at + 3) {
            Some(&[b0, b1, b2]) => {
                let row = &ROWS[usize::from(ROW_OF[usize::from(after_word)][usize::from(b0)])];
                let mask = &MASKS[usize::from(row[usize::from(b1)])];
                mask[usize::from(b2 / 64)] >> (b2 % 64) & 1 == 1
            }
            // Too near the end to tell.
            _ => true,
        };
        // A byte outside words must also be followed by the rest of its literal, if it has
        // one (`-----BEGIN`): the three bytes of a dashed line pass the filter at every dash.
        let prefix = prefix
            && SPECIAL
                .iter()
                .position(|&s| s == b)
                .is_none_or(|i| text[at..].starts_with(SPECIAL_LITERALS[i]));
        if prefix {
            return true;
        }
        if !after_word && b.is_ascii_alphanumeric() && self.local_run_to_at(text, at) {
            return true;
        }
        let capital = if after_word {
            (0xC3..=0xC5).contains(&b)
        } else {
            b.is_ascii_uppercase()
        };
        capital
            && self
                .capital
                .ends_well(text, at, capital_run_bytes, u8::is_ascii_digit)
    }

    /// Whether the run of local-part bytes from `at` (one of them) ends at an `@`. It does
    /// when the next `@` comes after `at` and only local-part bytes lie between: when `at` is
    /// at or after the start of the run that ends at that `@`. One memchr and one walk back
    /// per `@` in the text, instead of a walk forward from every word start.
    fn local_run_to_at(&mut self, text: &[u8], at: usize) -> bool {
        let (next, run_start) = match self.next_at {
            Some(found) if found.0 >= at => found,
            _ => {
                let found = match memchr::memchr(b'@', &text[at..]) {
                    Some(n) => {
                        let next = at + n;
                        // The walk stops at the previous `@` at the latest, so that no byte
                        // is walked over twice.
                        let run = text[..next]
                            .iter()
                            .rev()
                            .take_while(|&&b| is_local(b))
                            .count();
                        (next, next - run)
                    }
                    None => (usize::MAX, usize::MAX),
                };
                self.next_at = Some(found);
                found
            }
        };
        next != usize::MAX && at >= run_start
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use regex_automata::meta::Regex;
    use std::sync::LazyLock;

    fn patterns() -> Vec<&'static str> {
        super::super::patterns::PATTERNS
            .iter()
            .map(|p| p.0)
            .collect()
    }

    fn scan(scanner: &Scanner, text: &[u8]) -> Vec<Match> {
        let mut out = Vec::new();
        scanner.find(text, &mut out);
        out
    }

    /// The unanchored leftmost-first search the scan must agree with.
    fn meta(regex: &Regex, text: &[u8]) -> Vec<Match> {
        regex
            .find_iter(text)
            .map(|m| Match {
                start: m.start(),
                end: m.end(),
                pattern: m.pattern().as_usize(),
            })
            .collect()
    }

    /// Built once for all the cases.
    static SCANNER: LazyLock<Scanner> = LazyLock::new(|| Scanner::new().unwrap());
    /// A scanner whose DFA has almost no room: its searches go to the fallback.
    static CRAMPED: LazyLock<Scanner> = LazyLock::new(|| {
        let config = DFA::config()
            .cache_capacity(0)
            .skip_cache_capacity_check(true);
        Scanner::with_cache(config).unwrap()
    });
    static META: LazyLock<Regex> = LazyLock::new(|| {
        Regex::builder()
            .syntax(syntax::Config::new().unicode(false).utf8(false))
            .build_many(&patterns())
            .unwrap()
    });

    #[test]
    fn byte_classes_match_plain_tests() {
        for b in 0..=255u8 {
            let w = u64::from(b) << 24;
            let starts = Starts::at(&[b], 0, &SPECIAL);
            assert_eq!(starts.word == 1, is_word(b), "{b:#x}");
            assert_eq!(starts.latin_leads == 1, (0xC3..=0xC5).contains(&b));
            assert_eq!(starts.special == 1, SPECIAL.contains(&b));
            let capital_run =
                b.is_ascii_alphabetic() || b >= 0x80 || matches!(b, b' ' | b',' | b'-' | b'.');
            assert_eq!(capital_run_bytes(w) >> 31 == 1, capital_run, "{b:#x}");
        }
        assert!(SPECIAL.iter().all(|&b| !is_word(b)));
    }

    #[test]
    fn start_filter_passes_pattern_starts_only() {
        let mut runs = Runs::default();
        for word in [
            "Jun 5",
            "http://x",
            "123 ",
            "password",
            "-----BEGIN",
            "+1 5",
            "::1",
        ] {
            assert!(runs.may_start(word.as_bytes(), 0), "{word:?}");
        }
        // Dashes that do not go on to `-----BEGIN` pass the three-byte filter, not the literal.
        for word in [
            "the",
            "and",
            "you",
            "    ",
            "----------",
            "-----BEGAN",
            ":1:",
        ] {
            let text = format!("{word} x");
            assert!(!Runs::default().may_start(text.as_bytes(), 0), "{word:?}");
        }
    }

    #[test]
    fn every_kind_of_start_is_found() {
        for text in [
            "mail jane.doe+x@example.co.uk now",
            "x:jane@example.com",
            "lives at Hauptstraße 12, Berlin",
            "aÉcole, NY 12345",
            "Springfield, IL 62704-1234",
            "call +44 20 7946 0958 or (555) 123-4567",
            "fe80::1ff:fe23:4567:890a and ::1 and 10.0.0.1",
            "-----BEGIN RSA PRIVATE KEY-----\nabc\n-----END RSA PRIVATE KEY-----",
            "born on 3rd of March 1985, Tuesday, June 5th, 2001 at 10:30 am",
            "12",
            "",
        ] {
            assert_eq!(
                scan(&SCANNER, text.as_bytes()),
                meta(&META, text.as_bytes()),
                "{text:?}"
            );
        }
        assert!(!scan(&SCANNER, b"mail jane.doe+x@example.co.uk now").is_empty());
    }

    /// Pieces of the patterns and of the text around them, so that generated text meets
    /// starts, near-starts and breaks of every kind.
    const PIECES: &[&str] = &[
        " ",
        "\n",
        ",",
        ".",
        "-",
        "+",
        "(",
        ")",
        ":",
        "::",
        "@",
        "/",
        "=",
        "_",
        "'",
        "#",
        "0",
        "7",
        "12",
        "555",
        "1985",
        "4111 1111 1111 1111",
        "a",
        "Z",
        "x",
        "Jun",
        "March",
        "Tue",
        "the",
        "jane",
        "example",
        "com",
        "Mr",
        "Hauptstraße",
        "weg",
        "Rue",
        "de",
        "Street",
        "Ave",
        "Apt",
        "NY",
        "IL",
        "Springfield",
        "É",
        "ü",
        "中",
        "AKIA",
        "eyJ",
        "bearer",
        "Password",
        "is",
        "http://",
        "www.",
        "ftp",
        "GB82",
        "WEST",
        "SW1A",
        "1AA",
        "fe80",
        "-----BEGIN",
        "PRIVATE KEY-----",
        "-----END",
        "ts",
        "T",
        "Z",
        "\u{0}",
        "\u{ff}",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn scan_is_the_unanchored_search(
            pieces in proptest::collection::vec(0..PIECES.len(), 0..60),
            bytes in proptest::collection::vec(any::<u8>(), 0..4),
        ) {
            let mut text: Vec<u8> = pieces.iter().flat_map(|&i| PIECES[i].bytes()).collect();
            // Some invalid UTF-8 too: the scan reads bytes.
            text.extend(&bytes);
            let expected = meta(&META, &text);
            prop_assert_eq!(&scan(&SCANNER, &text), &expected);
            prop_assert_eq!(scan(&CRAMPED, &text), expected);
        }
    }
}
