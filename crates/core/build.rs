//! Splits the `phonenumber` crate's metadata by country calling code.
//!
//! The crate's default database compiles the patterns of all 250 regions at the first
//! international number a process meets: 0.15 s, a tenth of redacting 23 MB of text. The
//! detector only ever asks about the codes it meets, so this script writes the metadata of
//! each code apart (`OUT_DIR/phone-metadata.json`, one JSON array per code) with an index
//! (`OUT_DIR/phone-codes.rs`), and the detector builds a database for a code when it first
//! needs it. The metadata is read from the very XML file the crate builds its own database
//! from, with the crate's own loader, so both hold the same patterns.
//!
//! If the file cannot be found (a build without `cargo metadata`), the index is empty and the
//! detector uses the crate's default database: slower to start, same answers.
//!
//! It also prints the code that builds the name and place table, for the table's cache.

use std::collections::BTreeMap;
use std::env;
use std::fmt::Write as _;
use std::fs;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    table_source_print();
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let (index, blob) = match metadata_xml().and_then(|xml| split(&xml)) {
        Ok(split) => split,
        Err(why) => {
            println!(
                "cargo:warning=phone metadata not split by country code ({why}); \
                 the detector will load phonenumber's whole database instead"
            );
            (Vec::new(), Vec::new())
        }
    };
    let mut source = String::from(
        "/// Country calling codes with the byte range of their metadata in the blob.\n\
         #[allow(clippy::unreadable_literal)]\n\
         pub(super) const CODES: &[(u16, usize, usize)] = &[\n",
    );
    for (code, start, end) in &index {
        writeln!(source, "    ({code}, {start}, {end}),").expect("a String takes writes");
    }
    source.push_str("];\n");
    fs::write(out.join("phone-codes.rs"), source).expect("OUT_DIR is writable");
    fs::write(out.join("phone-metadata.json"), blob).expect("OUT_DIR is writable");
}

/// A print of the code that builds the name and place table (`MAILTRIAGE_TABLE_SOURCE`), so
/// that a cached table (`Dictionaries::fingerprint`) is never taken for one this code would
/// build differently, even between two builds of one version.
fn table_source_print() {
    let mut print: u64 = 0xcbf2_9ce4_8422_2325; // FNV-1a
    for file in [
        "src/privacy/detect.rs",
        "src/privacy/names.rs",
        "src/privacy/wordset.rs",
    ] {
        println!("cargo:rerun-if-changed={file}");
        for b in fs::read(file).unwrap_or_default() {
            print = (print ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    println!("cargo:rustc-env=MAILTRIAGE_TABLE_SOURCE={print:016x}");
}

/// Where the `phonenumber` crate that this build uses keeps its metadata XML.
fn metadata_xml() -> Result<PathBuf, String> {
    let cargo = env::var_os("CARGO").ok_or("CARGO is not set")?;
    let manifest =
        Path::new(&env::var_os("CARGO_MANIFEST_DIR").ok_or("no manifest dir")?).join("Cargo.toml");
    let output = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--offline",
            "--manifest-path",
        ])
        .arg(&manifest)
        .output()
        .map_err(|e| format!("cannot run cargo metadata: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let meta: serde_json::Value =
        serde_json::from_slice(&output.stdout).map_err(|e| format!("cargo metadata: {e}"))?;
    // The resolved dependencies of this crate name the phonenumber package it builds with.
    let me = env::var("CARGO_PKG_NAME").unwrap_or_default();
    let nodes = meta["resolve"]["nodes"]
        .as_array()
        .ok_or("no resolve graph")?;
    let packages = meta["packages"].as_array().ok_or("no packages")?;
    let id_of = |name: &str| {
        packages
            .iter()
            .find(|p| p["name"] == name && p["source"].is_null())
            .and_then(|p| p["id"].as_str())
    };
    let my_id = id_of(&me).ok_or("this crate is not in cargo metadata")?;
    let phone_id = nodes
        .iter()
        .find(|n| n["id"] == my_id)
        .and_then(|n| n["deps"].as_array())
        .and_then(|deps| deps.iter().find(|d| d["name"] == "phonenumber"))
        .and_then(|d| d["pkg"].as_str())
        .ok_or("phonenumber is not a dependency")?;
    let manifest_path = packages
        .iter()
        .find(|p| p["id"] == phone_id)
        .and_then(|p| p["manifest_path"].as_str())
        .ok_or("phonenumber has no manifest path")?;
    let xml = Path::new(manifest_path)
        .parent()
        .ok_or("odd manifest path")?
        .join("assets/PhoneNumberMetadata.xml");
    if !xml.is_file() {
        return Err(format!("{} is missing", xml.display()));
    }
    println!("cargo:rerun-if-changed={}", xml.display());
    Ok(xml)
}

type Split = (Vec<(u16, usize, usize)>, Vec<u8>);

/// The metadata of `xml` as one JSON array per country code, concatenated, with the index.
fn split(xml: &Path) -> Result<Split, String> {
    let file = fs::File::open(xml).map_err(|e| format!("{}: {e}", xml.display()))?;
    let all = phonenumber::metadata::loader::load(BufReader::new(file))
        .map_err(|e| format!("{}: {e:?}", xml.display()))?;
    let mut by_code: BTreeMap<u16, Vec<_>> = BTreeMap::new();
    for meta in all {
        let code = meta.country_code.ok_or("a region without a country code")?;
        by_code.entry(code).or_default().push(meta);
    }
    let mut index = Vec::new();
    let mut blob = Vec::new();
    for (code, regions) in by_code {
        let start = blob.len();
        let mut regions = serde_json::to_value(&regions).map_err(|e| e.to_string())?;
        rewrite_patterns(&mut regions);
        serde_json::to_writer(&mut blob, &regions).map_err(|e| e.to_string())?;
        index.push((code, start, blob.len()));
    }
    Ok((index, blob))
}

/// The fields of the metadata that hold regular expressions.
const PATTERN_FIELDS: &[&str] = &[
    "national_number",
    "leading_digits",
    "international_prefix",
    "national_prefix_for_parsing",
    "pattern",
];

/// Rewrites the patterns so that they compile cheaply, with the same meaning on what they
/// see. The crate compiles each in verbose mode (whitespace ignored), and the XML's patterns
/// are indented over many lines: 61% of their characters are whitespace, which its syntax
/// check and compiler read through for every pattern. `\d` becomes `[0-9]`: the patterns
/// only ever see ASCII digits (a number's digits are normalised before they are matched),
/// where the two agree, but the regex crate compiles `\d` as Unicode's sixty-odd ranges of
/// decimal digits. Compiling a country's patterns is what a run pays on its first number
/// from there.
fn rewrite_patterns(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Array(items) => items.iter_mut().for_each(rewrite_patterns),
        serde_json::Value::Object(fields) => {
            for (name, field) in fields.iter_mut() {
                if PATTERN_FIELDS.contains(&name.as_str()) {
                    compact_patterns(field);
                } else {
                    rewrite_patterns(field);
                }
            }
        }
        _ => {}
    }
}

/// A pattern field (a string, or a list of them): whitespace out, `\d` as `[0-9]`.
fn compact_patterns(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(s) => {
            s.retain(|c| !c.is_ascii_whitespace());
            *s = s.replace("\\d", "[0-9]");
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(compact_patterns),
        _ => {}
    }
}
