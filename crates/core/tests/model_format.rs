//! Model files written by earlier releases must load, or fail with a message that says what
//! to do. `fixtures/model-format1.mt` was written by format 1 (trained on the golden corpus,
//! 2^18 slots, no pairs); keep it, and add one fixture per new format.
#![allow(clippy::unwrap_used)] // A test that cannot set up should stop loudly.

use std::path::Path;

use mailtriage_core::features::{extract, FeatureConfig};
use mailtriage_core::ingest::{Origin, RawMail};
use mailtriage_core::model::{file, sparse};

#[test]
fn format_1_fixture_loads_and_scores() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let (model, version) = file::load(&root.join("fixtures/model-format1.mt")).unwrap();
    assert_eq!(version, "4b5b3940b02748d0");
    assert_eq!(
        model.features,
        FeatureConfig {
            bits: 18,
            bigrams: false,
            max_body_bytes: 32 * 1024,
            char_ngrams: None
        }
    );
    assert_eq!(model.heads.len(), 1);
    assert_eq!(model.heads[0].labels, vec!["ham", "spam"]);
    assert_eq!(model.training.examples, 56);

    let raw = std::fs::read(root.join("golden/048-spam-obfuscated-html-base64.eml")).unwrap();
    let email =
        mailtriage_core::parse::parse(RawMail::new(Origin::Stdin { offset: 0 }, raw)).unwrap();
    let message = mailtriage_core::privacy::redact(email);
    let features = extract(&message, &model.features);
    let scores = model.score(&sparse(&features));
    assert_eq!(scores.heads[0].probabilities[0].0, "spam");
}
