//! The parse entry point on arbitrary bytes: it must return an Email or a quarantine record,
//! never panic, and an Email must serialise.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailtriage_core::ingest::{Origin, RawMail};

fuzz_target!(|data: &[u8]| {
    let raw = RawMail::new(Origin::Stdin { offset: 0 }, data.to_vec());
    // `parse` guards mail-parser with catch_unwind; a panic that reaches here is in our code.
    // ParserPanic records are a bug too, so treat them as crashes for the fuzzer.
    match mailtriage_core::parse::parse(raw) {
        Ok(email) => {
            let _ = serde_json_len(&email);
        }
        Err(q) => assert!(
            q.reason != mailtriage_core::QuarantineReason::ParserPanic,
            "parser panicked: {}",
            q.detail
        ),
    }
});

fn serde_json_len(email: &mailtriage_core::Email) -> usize {
    format!("{email:?}").len()
}
