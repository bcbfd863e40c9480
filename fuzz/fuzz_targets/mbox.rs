//! The mbox splitter on arbitrary bytes: never panics, and never invents or loses bytes
//! beyond what the format itself drops (separator lines, the blank line before them, one
//! `>` of quoted `From ` lines).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailtriage_core::ingest::{Item, MboxOrigin, MboxReader};

fuzz_target!(|data: &[u8]| {
    let reader = MboxReader::new(
        Box::new(std::io::Cursor::new(data.to_vec())),
        MboxOrigin::Stdin,
        1 << 16,
    );
    let mut total = 0usize;
    for item in reader {
        match item.expect("reading from memory cannot fail") {
            Item::Mail(m) => total += m.bytes.len(),
            Item::Quarantined(q) => total += q.size as usize,
        }
    }
    assert!(total <= data.len());
});
