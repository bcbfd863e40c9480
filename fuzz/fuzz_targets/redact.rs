//! The redactor on arbitrary text: finding, redacting and masking unparsed bytes must never
//! panic, findings must be in bounds and ordered, and a parsed message must redact whole.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use mailtriage_core::ingest::{Origin, RawMail};
use mailtriage_core::privacy::{Dictionaries, Policy, Redactor};

static REDACTOR: LazyLock<Redactor> = LazyLock::new(|| {
    let dictionaries = Dictionaries::from_lists("Maria\nJohn\n", "Smith\n", "Paris\n", "");
    Redactor::new(Policy::default(), None, dictionaries).expect("the default redactor builds")
});

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let found = REDACTOR.find(&text, &["Maria"]);
    for pair in found.windows(2) {
        assert!(pair[0].end <= pair[1].start, "overlapping findings");
    }
    for f in &found {
        assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
    }
    let _ = REDACTOR.redact_text(&text, &[]);
    let _ = REDACTOR.redact_unparsed(&text);
    if let Ok(email) = mailtriage_core::parse::parse(RawMail::new(Origin::Stdin { offset: 0 }, data.to_vec())) {
        let _ = REDACTOR.redact(email);
    }
});
