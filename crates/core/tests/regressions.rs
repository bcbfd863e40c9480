//! Inputs that once broke the parser, each named after what it broke. Every one must parse
//! (or be quarantined) and stay small; they run in the ordinary test suite.

use std::path::{Path, PathBuf};

use mailtriage_core::ingest::{Origin, RawMail};

fn parse(name: &str) -> Result<mailtriage_core::Email, Box<mailtriage_core::Quarantine>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/regressions")
        .join(name);
    let bytes = std::fs::read(&path).expect("regression input is readable");
    mailtriage_core::parse::parse(RawMail::new(
        Origin::Eml {
            path: PathBuf::from(name),
        },
        bytes,
    ))
}

/// Found by the `parse` fuzz target: chained message/rfc822 parts that make mail-parser's
/// part ids point back at an ancestor. The MIME walk followed the cycle and grew without
/// bound (24 GB from 2 KB of input). Each part is now visited once.
#[test]
fn cyclic_part_ids_from_nested_messages_are_walked_once() {
    let email = parse("fuzz-oom-cyclic-nested-message.eml").expect("parses");
    assert!(email.body.parts < 100, "{} parts", email.body.parts);
    assert!(email.attachments.len() < 100);
    assert!(email.forwarded.len() <= 16);
}
