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
//! If the file cannot be found (neither in cargo's registry nor by `cargo metadata`), the
//! index is empty and the detector uses the crate's default database: slower to start (a
//! build warning says so), same answers.
//!
//! It also prints the code that builds the name and place table, for the table's cache, and
//! derives the structured patterns' start filter (`start_filter`).

use std::collections::BTreeMap;
use std::env;
use std::fmt::Write as _;
use std::fs;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::Command;

#[allow(dead_code)] // the detector's half of the file (`Kind`) is not used here
#[path = "src/privacy/patterns.rs"]
mod patterns;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    table_source_print();
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    start_filter(&out);
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

/// Where the `phonenumber` crate that this build uses keeps its metadata XML: in cargo's
/// registry, by the version the lock file pins, or else where `cargo metadata` says.
fn metadata_xml() -> Result<PathBuf, String> {
    registry_metadata_xml().or_else(|registry| {
        metadata_xml_by_cargo_metadata().map_err(|cargo| format!("{registry}; {cargo}"))
    })
}

/// The XML in cargo's registry, for the one `phonenumber` version of the workspace's lock
/// file. `cargo metadata --offline` cannot stand in for this on a fresh machine: it resolves
/// every package of the workspace, dev-dependencies included, and a release build has not
/// downloaded those (the build then fell back to the whole database, 0.15 s per process).
fn registry_metadata_xml() -> Result<PathBuf, String> {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").ok_or("no manifest dir")?);
    let lock = manifest_dir
        .ancestors()
        .map(|dir| dir.join("Cargo.lock"))
        .find(|lock| lock.is_file())
        .ok_or("no Cargo.lock above the crate")?;
    println!("cargo:rerun-if-changed={}", lock.display());
    let text = fs::read_to_string(&lock).map_err(|e| format!("{}: {e}", lock.display()))?;
    let versions: Vec<&str> = text
        .split("[[package]]")
        .filter(|package| {
            package
                .lines()
                .any(|l| l.trim() == r#"name = "phonenumber""#)
        })
        .filter_map(|package| {
            package.lines().find_map(|l| {
                l.trim()
                    .strip_prefix("version = \"")
                    .and_then(|v| v.strip_suffix('"'))
            })
        })
        .collect();
    let [version] = versions[..] else {
        return Err(format!(
            "{} holds {} phonenumber versions, not one",
            lock.display(),
            versions.len()
        ));
    };
    let home = env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")))
        .ok_or("neither CARGO_HOME nor HOME is set")?;
    let sources = home.join("registry").join("src");
    let registries = fs::read_dir(&sources).map_err(|e| format!("{}: {e}", sources.display()))?;
    let xml = registries
        .filter_map(Result::ok)
        .map(|registry| {
            registry
                .path()
                .join(format!("phonenumber-{version}"))
                .join("assets/PhoneNumberMetadata.xml")
        })
        .find(|xml| xml.is_file())
        .ok_or_else(|| format!("phonenumber-{version} is not in {}", sources.display()))?;
    println!("cargo:rerun-if-changed={}", xml.display());
    Ok(xml)
}

/// The XML where `cargo metadata` says the crate is (vendored or path sources).
fn metadata_xml_by_cargo_metadata() -> Result<PathBuf, String> {
    let cargo = env::var_os("CARGO").ok_or("CARGO is not set")?;
    let manifest =
        Path::new(&env::var_os("CARGO_MANIFEST_DIR").ok_or("no manifest dir")?).join("Cargo.toml");
    // Only the target's dependencies: offline, cargo cannot resolve those of other platforms
    // (android_system_properties...), which a fresh machine has never downloaded.
    let target = env::var("TARGET").map_err(|_| "TARGET is not set")?;
    let output = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--offline",
            "--filter-platform",
            &target,
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

/// Derives the scan's start filter from the patterns (`src/privacy/scan.rs` reads it).
///
/// For the `Start::Prefix` patterns, an anchored lazy DFA is driven over every first, second
/// and third byte, after a word byte and after anything else: a position can start a match
/// only if its first three bytes leave the DFA alive. The result is a mask of third bytes per
/// (context, first, second) byte, written to `start-masks.rs`: the masks, a mask number per
/// second byte in rows (one per distinct row), the row per context and first byte, the bytes
/// outside words that can start a match, and for each of those the literal that every match
/// from it begins with. The first bytes of the other patterns are checked against what the
/// scan looks at for them, so that an edit of a pattern cannot slip past the filter unseen.
fn start_filter(out: &Path) {
    use patterns::{is_word, Start, PATTERNS};
    use regex_automata::hybrid::dfa::{Cache, DFA};
    use regex_automata::hybrid::LazyStateID;
    use regex_automata::util::{start, syntax};
    use regex_automata::Anchored;

    println!("cargo:rerun-if-changed=src/privacy/patterns.rs");
    let dfa_of = |rule: Start| {
        let pats: Vec<&str> = PATTERNS
            .iter()
            .filter(|p| p.2 == rule)
            .map(|p| p.0)
            .collect();
        // Room for every state the walk below meets: a cleared cache would make the state
        // ids held across steps stale (checked at the end).
        let dfa = DFA::builder()
            .syntax(syntax::Config::new().unicode(false).utf8(false))
            .configure(DFA::config().cache_capacity(256 << 20))
            .build_many(&pats)
            .expect("the patterns compile");
        let cache = dfa.create_cache();
        (dfa, cache)
    };
    // The start states after a word byte (context 1) and after anything else (context 0:
    // the text's start, a space, a line break...).
    let starts = |dfa: &DFA, cache: &mut Cache, context: usize| -> Vec<LazyStateID> {
        let behind: &[Option<u8>] = if context == 1 {
            &[Some(b'a')]
        } else {
            &[None, Some(b' '), Some(b'\n'), Some(b'\r')]
        };
        behind
            .iter()
            .map(|&b| {
                let config = start::Config::new().anchored(Anchored::Yes).look_behind(b);
                dfa.start_state(cache, &config).expect("a start state")
            })
            .collect()
    };
    let step = |dfa: &DFA, cache: &mut Cache, id: LazyStateID, b: u8| {
        dfa.next_state(cache, id, b).expect("no quit bytes")
    };
    let first_bytes = |rule: Start, context: usize| -> Vec<u8> {
        let (dfa, mut cache) = dfa_of(rule);
        let starts = starts(&dfa, &mut cache, context);
        (0..=255u8)
            .filter(|&b| {
                starts
                    .iter()
                    .any(|&s| !step(&dfa, &mut cache, s, b).is_dead())
            })
            .collect()
    };
    let shown =
        |bytes: &[u8]| format!("{:?}", bytes.iter().map(|&b| b as char).collect::<String>());

    // What the scan assumes of the other patterns' first bytes.
    let local = first_bytes(Start::LocalPart, 0);
    assert!(
        local.iter().all(u8::is_ascii_alphanumeric) && first_bytes(Start::LocalPart, 1).is_empty(),
        "a Start::LocalPart pattern must start with \\b and a letter or digit (starts: {})",
        shown(&local)
    );
    let capital = first_bytes(Start::CapitalRun, 0);
    let capital_after_word = first_bytes(Start::CapitalRun, 1);
    assert!(
        capital.iter().all(u8::is_ascii_uppercase)
            && capital_after_word.iter().all(|b| (0xC3..=0xC5).contains(b)),
        "a Start::CapitalRun pattern must start with \\b and a capital (starts: {} and, after a \
         word byte, {})",
        shown(&capital),
        shown(&capital_after_word)
    );
    let after_word = first_bytes(Start::Prefix, 1);
    assert!(
        !after_word.iter().any(|&b| is_word(b)),
        "a Start::Prefix pattern that starts with a letter or digit must start with \\b \
         (starts after a word byte: {})",
        shown(&after_word)
    );
    let mut special: Vec<u8> = first_bytes(Start::Prefix, 0)
        .into_iter()
        .chain(after_word)
        .filter(|&b| !is_word(b))
        .collect();
    special.sort_unstable();
    special.dedup();

    // The masks of third bytes, by context and first two bytes.
    let (dfa, mut cache) = dfa_of(Start::Prefix);
    let mut masks: Vec<[u64; 4]> = vec![[0; 4]];
    let mut pairs = vec![0u8; 2 * 65536];
    for context in 0..2 {
        for s in starts(&dfa, &mut cache, context) {
            for b0 in 0..=255u8 {
                let q1 = step(&dfa, &mut cache, s, b0);
                if q1.is_dead() {
                    continue;
                }
                for b1 in 0..=255u8 {
                    let q2 = step(&dfa, &mut cache, q1, b1);
                    if q2.is_dead() {
                        continue;
                    }
                    // A match state (a match ended before this byte) takes any third byte.
                    let mut mask = [0u64; 4];
                    for b2 in 0..=255u8 {
                        let q3 = step(&dfa, &mut cache, q2, b2);
                        if q1.is_match() || q2.is_match() || !q3.is_dead() {
                            mask[usize::from(b2 / 64)] |= 1 << (b2 % 64);
                        }
                    }
                    let slot = context * 65536 + usize::from(b0) * 256 + usize::from(b1);
                    let old = masks[usize::from(pairs[slot])];
                    let joined: [u64; 4] = std::array::from_fn(|i| old[i] | mask[i]);
                    let id = masks.iter().position(|m| *m == joined).unwrap_or_else(|| {
                        masks.push(joined);
                        masks.len() - 1
                    });
                    pairs[slot] = u8::try_from(id).expect("at most 255 distinct masks");
                }
            }
        }
    }
    // The bytes that every match starting with a special byte goes on with, as long as there
    // is one way on (`-----BEGIN` for `-`): a separator line of dashes passes the three-byte
    // filter at each dash, and each would cost a DFA run.
    let literals: Vec<Vec<u8>> = special
        .iter()
        .map(|&b| {
            let begins: Vec<LazyStateID> = (0..2)
                .flat_map(|context| starts(&dfa, &mut cache, context))
                .collect();
            let mut states: Vec<LazyStateID> = begins
                .into_iter()
                .map(|s| step(&dfa, &mut cache, s, b))
                .filter(|q| !q.is_dead())
                .collect();
            let mut literal = vec![b];
            while literal.len() < 16 {
                // A match may end here (at the text's end, or before any byte that follows).
                let ends = states.iter().any(|&q| {
                    q.is_match()
                        || dfa
                            .next_eoi_state(&mut cache, q)
                            .expect("no quit bytes")
                            .is_match()
                });
                if ends {
                    break;
                }
                let mut ways: Vec<(u8, Vec<LazyStateID>)> = (0..=255u8)
                    .filter_map(|c| {
                        let live: Vec<LazyStateID> = states
                            .iter()
                            .map(|&q| step(&dfa, &mut cache, q, c))
                            .filter(|q| !q.is_dead())
                            .collect();
                        (!live.is_empty()).then_some((c, live))
                    })
                    .take(2)
                    .collect();
                if ways.len() != 1 {
                    break;
                }
                let Some((c, live)) = ways.pop() else { break };
                literal.push(c);
                states = live;
            }
            literal
        })
        .collect();
    assert_eq!(
        cache.clear_count(),
        0,
        "the start filter's DFA ran out of room"
    );
    let mut source = String::from(
        "/// Masks of third bytes (bit `b` of the 256 set: `b` may come third); the first, 0,\n\
         /// takes none.\n\
         #[allow(clippy::unreadable_literal)]\n",
    );
    writeln!(source, "const MASKS: [[u64; 4]; {}] = [", masks.len())
        .expect("a String takes writes");
    for m in &masks {
        writeln!(
            source,
            "    [{:#x}, {:#x}, {:#x}, {:#x}],",
            m[0], m[1], m[2], m[3]
        )
        .expect("a String takes writes");
    }
    // The 512 rows of second bytes (by context and first byte) are few distinct ones: kept
    // once each, the table is 13 KiB instead of 128 and stays in the processor's cache.
    let mut rows: Vec<&[u8]> = Vec::new();
    let mut row_of = [[0u8; 256]; 2];
    for (slot, row) in pairs.chunks(256).enumerate() {
        let id = rows.iter().position(|r| *r == row).unwrap_or_else(|| {
            rows.push(row);
            rows.len() - 1
        });
        row_of[slot / 256][slot % 256] = u8::try_from(id).expect("at most 256 distinct rows");
    }
    source.push_str(
        "];\n/// The row of `ROWS` per context (0: after a byte outside words or at the text's \
         start,\n/// 1: after a word byte) and first byte.\n",
    );
    writeln!(source, "static ROW_OF: [[u8; 256]; 2] = {row_of:?};").expect("a String takes writes");
    source.push_str(
        "/// The mask number (into `MASKS`) per second byte, one row per distinct row.\n",
    );
    writeln!(source, "static ROWS: [[u8; 256]; {}] = [", rows.len())
        .expect("a String takes writes");
    for row in &rows {
        writeln!(source, "    {row:?},").expect("a String takes writes");
    }
    source.push_str("];\n/// The bytes outside words that may start a `Start::Prefix` pattern.\n");
    writeln!(
        source,
        "const SPECIAL: [u8; {}] = {special:?};",
        special.len()
    )
    .expect("a String takes writes");
    source.push_str(
        "/// The bytes that every match starting with `SPECIAL[i]` begins with (that byte at \
         least).\n",
    );
    writeln!(
        source,
        "const SPECIAL_LITERALS: [&[u8]; {}] = [{}];",
        literals.len(),
        literals
            .iter()
            .map(|l| format!("b\"{}\"", l.escape_ascii()))
            .collect::<Vec<_>>()
            .join(", ")
    )
    .expect("a String takes writes");
    fs::write(out.join("start-masks.rs"), source).expect("OUT_DIR is writable");
}
