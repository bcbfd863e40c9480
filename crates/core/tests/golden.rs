//! The golden corpus: every `tests/golden/NNN-name.eml` parses to exactly `NNN-name.json`.
//!
//! The fixtures are real-world shapes (see `golden/README.md`). To accept a deliberate change
//! of output, run `UPDATE_GOLDEN=1 cargo test -p mailtriage-core --test golden` and review
//! the diff of the `.json` files before committing it.
#![allow(clippy::unwrap_used)] // A test that cannot set up should stop loudly.

use std::path::{Path, PathBuf};

use mailtriage_core::ingest::{Origin, RawMail};

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    files
}

fn render(path: &Path) -> String {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let mut raw = RawMail::new(
        Origin::Eml {
            path: PathBuf::from(&name),
        },
        std::fs::read(path).unwrap(),
    );
    raw.id = Some(name.trim_end_matches(".eml").to_string());
    let value = match mailtriage_core::parse::parse(raw) {
        Ok(email) => serde_json::to_value(&email).unwrap(),
        Err(quarantine) => serde_json::json!({ "quarantine": *quarantine }),
    };
    let mut text = serde_json::to_string_pretty(&value).unwrap();
    text.push('\n');
    text
}

#[test]
fn golden_corpus_parses_to_expected_json() {
    let files = fixtures();
    assert!(
        files.len() >= 30,
        "the golden corpus needs at least 30 fixtures"
    );
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    for eml in &files {
        let expected_path = eml.with_extension("json");
        let got = render(eml);
        if update {
            std::fs::write(&expected_path, &got).unwrap();
            continue;
        }
        match std::fs::read_to_string(&expected_path) {
            Ok(expected) if expected == got => {}
            Ok(_) => failures.push(format!("{} differs from its .json", eml.display())),
            Err(_) => failures.push(format!("{} has no expected .json", eml.display())),
        }
    }
    assert!(
        failures.is_empty(),
        "golden mismatches (UPDATE_GOLDEN=1 to accept, then review the diff):\n{}",
        failures.join("\n")
    );
}
