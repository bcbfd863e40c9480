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

fn usage(e: anyhow::Error) -> Failure {
    Failure::new(Code::Usage, e)
}

/// Builds the redactor the flags describe.
pub fn redactor(args: &PrivacyArgs) -> Result<Redactor, Failure> {
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
    Ok(Dictionaries::from_lists(
        &read("first_names.txt", true)?,
        &read("surnames.txt", true)?,
        &read("places.txt", true)?,
        &read("ambiguous.txt", false)?,
    ))
}
