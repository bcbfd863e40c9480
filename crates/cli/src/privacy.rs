//! The privacy flags every reading command shares, and the redactor they build.
//!
//! The pseudonym key comes from `--key-file` or the `MAILTRIAGE_PSEUDONYM_KEY` environment
//! variable, never from the policy file, and is never printed. Name and place dictionaries
//! come from `--dictionaries DIR` (or `MAILTRIAGE_DICTIONARIES`), as written by
//! `scripts/fetch-dictionaries.sh`.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context};
use mailtriage_core::privacy::{Dictionaries, Policy, Redactor};

use crate::exit::{Code, Failure};

/// The environment variable that holds the pseudonym key.
pub const KEY_ENV: &str = "MAILTRIAGE_PSEUDONYM_KEY";
/// The environment variable that names the dictionaries folder.
pub const DICTIONARIES_ENV: &str = "MAILTRIAGE_DICTIONARIES";

#[derive(Debug, Clone, Default, clap::Args)]
pub struct PrivacyArgs {
    /// The privacy policy (TOML): the operator per type (mask, pseudonymise, hash, drop,
    /// keep), confidential terms. Default: everything personal masked.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// A file holding the pseudonym key (at least 16 bytes); else the
    /// `MAILTRIAGE_PSEUDONYM_KEY` environment variable.
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<PathBuf>,
    /// Folder of name and place lists (`first_names.txt`, `surnames.txt`, `places.txt`,
    /// `ambiguous.txt`), as written by `scripts/fetch-dictionaries.sh`; else
    /// `MAILTRIAGE_DICTIONARIES`. Without them, names are found from headers, greetings,
    /// signatures and titles only.
    #[arg(long, value_name = "DIR")]
    pub dictionaries: Option<PathBuf>,
}

/// What a build without the split phone metadata says at start (the benchmark scripts look
/// for it: their figures would be the fallback's).
const UNSPLIT_WARNING: &str = "mailtriage: warning: this build holds phonenumber's metadata \
     unsplit (its build.rs found no metadata XML; the build's warning says why): every process \
     spends about 0.15 s loading it";

fn usage(e: anyhow::Error) -> Failure {
    Failure::new(Code::Usage, e)
}

/// Builds the redactor the flags describe.
pub fn redactor(args: &PrivacyArgs) -> Result<Redactor, Failure> {
    if !mailtriage_core::privacy::phone_metadata_split() {
        eprintln!("{UNSPLIT_WARNING}");
    }
    let policy = match &args.policy {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the privacy policy {}", path.display()))
                .map_err(|e| Failure::new(Code::Input, e))?;
            Policy::from_toml(&text)
                .with_context(|| format!("in {}", path.display()))
                .map_err(usage)?
        }
        None => Policy::default(),
    };
    let key = match &args.key_file {
        Some(path) => {
            let bytes = std::fs::read(path)
                .with_context(|| format!("cannot read the key file {}", path.display()))
                .map_err(|e| Failure::new(Code::Input, e))?;
            // A trailing newline is the editor's, not the key's.
            let end = bytes
                .iter()
                .rposition(|b| !b.is_ascii_whitespace())
                .map_or(0, |i| i + 1);
            Some(bytes[..end].to_vec())
        }
        None => std::env::var_os(KEY_ENV)
            .filter(|v| !v.is_empty())
            .map(|v| v.to_string_lossy().into_owned().into_bytes()),
    };
    let dir = args
        .dictionaries
        .clone()
        .or_else(|| std::env::var_os(DICTIONARIES_ENV).map(PathBuf::from));
    let dictionaries = match dir {
        Some(dir) => load_dictionaries(&dir).map_err(|e| Failure::new(Code::Input, e))?,
        None => Dictionaries::default(),
    };
    Redactor::new(policy, key, dictionaries).map_err(|e| usage(anyhow!(e)))
}

fn load_dictionaries(dir: &Path) -> anyhow::Result<Dictionaries> {
    let read = |name: &str, required: bool| -> anyhow::Result<String> {
        let path = dir.join(name);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(text),
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
            Err(e) => Err(anyhow!(e).context(format!(
                "cannot read the dictionary {} (run scripts/fetch-dictionaries.sh to make it)",
                path.display()
            ))),
        }
    };
    let lists = [
        read("first_names.txt", true)?,
        read("surnames.txt", true)?,
        read("places.txt", true)?,
        read("ambiguous.txt", false)?,
    ];
    let [first, surnames, places, ambiguous] = lists.each_ref().map(String::as_str);
    let print = Dictionaries::fingerprint(first, surnames, places, ambiguous);
    let cache = dir.join(TABLE_CACHE);
    if let Some(cached) = read_table(&cache, print) {
        return Ok(cached);
    }
    let dictionaries = Dictionaries::from_lists(first, surnames, places, ambiguous);
    // A cache is an optimisation: a folder we may not write to only makes the next start slower.
    let _ = write_table(&cache, print, &dictionaries);
    Ok(dictionaries)
}

/// The file, in the dictionaries folder, that keeps the table built from its lists: building
/// it takes 60-80 ms at every start (480,000 entries), reading it back a few.
pub const TABLE_CACHE: &str = "table.cache";
/// What a table cache starts with: a tag, then the 16-byte fingerprint of what it was built
/// from (`Dictionaries::fingerprint`).
const TABLE_TAG: &[u8; 8] = b"MTWORDS1";

/// The table cached at `path`, if it is one built from lists with this fingerprint.
fn read_table(path: &Path, print: u128) -> Option<Dictionaries> {
    let bytes = std::fs::read(path).ok()?;
    let rest = bytes.strip_prefix(TABLE_TAG)?;
    let (stored, table) = rest.split_first_chunk::<16>()?;
    if u128::from_le_bytes(*stored) != print {
        return None;
    }
    Dictionaries::from_bytes(table)
}

/// Writes the table cache whole or not at all (a temporary file renamed over it), so that a
/// concurrent start never reads half a file.
fn write_table(path: &Path, print: u128, table: &Dictionaries) -> std::io::Result<()> {
    let mut bytes = TABLE_TAG.to_vec();
    bytes.extend_from_slice(&print.to_le_bytes());
    bytes.extend_from_slice(&table.to_bytes());
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, &bytes)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}
