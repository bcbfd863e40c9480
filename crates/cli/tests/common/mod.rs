//! What the end-to-end tests share: the binary, the golden fixtures, JSON lines.
#![allow(dead_code)] // Each test file uses its own part of this.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// The `mailtriage` binary under test.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mailtriage"))
}

/// Runs `mailtriage ARGS`, asserting success (the failure shows stderr).
pub fn run_ok<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    ok(bin().args(args))
}

/// Runs a prepared command, asserting success (the failure shows stderr).
pub fn ok(command: &mut Command) -> Output {
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A labelled fixture: name, bytes, label.
pub type Row = (String, Vec<u8>, &'static str);

/// The golden fixtures with a label: the spam- and phishing-shaped ones are `spam`.
pub fn labelled() -> Vec<Row> {
    golden()
        .into_iter()
        .map(|(name, bytes)| {
            let label = if name.contains("spam") || name.contains("phishing") {
                "spam"
            } else {
                "ham"
            };
            (name, bytes, label)
        })
        .collect()
}

/// The golden `.eml` fixtures of the core crate as `(name without .eml, bytes)`, by name.
pub fn golden() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/tests/golden");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
            (stem, std::fs::read(&p).unwrap())
        })
        .collect()
}

/// One JSON value per non-empty line.
pub fn json_lines(bytes: &[u8]) -> Vec<Value> {
    bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect()
}
