//! Sources: bytes from outside become [`RawMail`], each knowing where it came from.
//!
//! A source is given as `mbox:PATH`, `maildir:PATH`, `eml:PATH`, `jsonl:PATH` or `-` (stdin);
//! without a prefix the kind is detected from the path ([`SourceSpec::detect`]). Every source
//! is an iterator of [`Item`]s: a message read, or a [`Quarantine`] record for one that could
//! not be (a JSONL line that is not JSON, a file over the size limit). Sources stream: an mbox
//! of many GB is read in chunks, never whole.

mod dirs;
mod jsonl;
mod mbox;

use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use dirs::{EmlTree, MaildirTree};
pub use jsonl::JsonlReader;
pub use mbox::MboxReader;

use crate::quarantine::Quarantine;
use crate::{Error, Result};

/// Extra JSONL fields passed through untouched (labels, groups, tenant ids...).
pub type Fields = serde_json::Map<String, serde_json::Value>;

/// The default largest message accepted: larger ones are quarantined as `too_large`.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 128 * 1024 * 1024;

/// Where a message came from: enough to find it again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Origin {
    /// A message in an mbox file, at the byte offset of its `From ` separator line.
    Mbox {
        /// The mbox file.
        path: PathBuf,
        /// Byte offset of the message's separator line (or of the message, if it has none).
        offset: u64,
    },
    /// A file in a Maildir folder.
    Maildir {
        /// The Maildir root given by the user.
        root: PathBuf,
        /// The folder, relative to the root (`INBOX` for the root itself, `Archive/2024`...).
        folder: String,
        /// The file name inside `cur/` or `new/`.
        file: String,
    },
    /// A `.eml` file.
    Eml {
        /// The file.
        path: PathBuf,
    },
    /// A line of a JSONL file (1-based).
    Jsonl {
        /// The JSONL file, or `-` for stdin.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
    },
    /// Standard input read as one message, at a byte offset when stdin carried an mbox.
    Stdin {
        /// Byte offset in the stream.
        offset: u64,
    },
    /// A message posted to the service, by the decision id it was given.
    Api {
        /// The decision id.
        decision: String,
    },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Mbox { path, offset } => write!(f, "{}@{offset}", path.display()),
            Origin::Maildir { root, folder, file } => {
                write!(f, "{} [{folder}] {file}", root.display())
            }
            Origin::Eml { path } => write!(f, "{}", path.display()),
            Origin::Jsonl { path, line } => write!(f, "{}:{line}", path.display()),
            Origin::Stdin { offset } => write!(f, "stdin@{offset}"),
            Origin::Api { decision } => write!(f, "api:{decision}"),
        }
    }
}

/// A message as bytes, before any parsing.
#[derive(Debug, Clone)]
pub struct RawMail {
    /// Where it came from.
    pub origin: Origin,
    /// An id given by the source (a JSONL `id`, a Maildir unique name, an `.eml` relative path).
    pub id: Option<String>,
    /// The Maildir folder or other grouping the user keeps mail in, for training on folders.
    pub folder: Option<String>,
    /// Fields passed through from the source (JSONL fields other than `id`, `raw`, `raw_base64`).
    pub fields: Option<Fields>,
    /// The message, byte-exact as stored (mbox `>From ` quoting undone).
    pub bytes: Vec<u8>,
}

impl RawMail {
    /// A message with only its bytes and origin.
    pub fn new(origin: Origin, bytes: Vec<u8>) -> Self {
        RawMail {
            origin,
            id: None,
            folder: None,
            fields: None,
            bytes,
        }
    }
}

/// What a source yields: a message, or the record of one that could not be read.
#[derive(Debug)]
pub enum Item {
    /// A message read whole.
    Mail(RawMail),
    /// A message that could not be read, with its reason.
    Quarantined(Quarantine),
}

impl Item {
    /// Bytes this item occupies in memory (for batching by size).
    pub fn weight(&self) -> usize {
        match self {
            Item::Mail(m) => m.bytes.len(),
            Item::Quarantined(q) => q.first_bytes.len(),
        }
    }
}

/// The kind of a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// One mbox file (mboxo or mboxrd).
    Mbox,
    /// A Maildir root, with nested folders.
    Maildir,
    /// A folder tree of `.eml` files, or one `.eml` file.
    Eml,
    /// JSONL with `raw` or `raw_base64`.
    Jsonl,
    /// Standard input; the format is detected from its first bytes.
    Stdin,
}

/// A source as the user named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSpec {
    /// Its kind.
    pub kind: SourceKind,
    /// Its path (empty for stdin).
    pub path: PathBuf,
}

impl SourceSpec {
    /// Parses `mbox:PATH`, `maildir:PATH`, `eml:PATH`, `jsonl:PATH`, `-`, or a bare path whose
    /// kind is then detected.
    pub fn parse(spec: &str) -> Result<Self> {
        if spec == "-" || spec == "stdin:" || spec == "stdin:-" {
            return Ok(SourceSpec {
                kind: SourceKind::Stdin,
                path: PathBuf::new(),
            });
        }
        let prefixed = [
            ("mbox:", SourceKind::Mbox),
            ("maildir:", SourceKind::Maildir),
            ("eml:", SourceKind::Eml),
            ("jsonl:", SourceKind::Jsonl),
        ];
        for (prefix, kind) in prefixed {
            if let Some(path) = spec.strip_prefix(prefix) {
                if path.is_empty() {
                    return Err(Error::BadSource {
                        spec: spec.into(),
                        reason: format!("`{prefix}` needs a path after it, as in `{prefix}PATH`"),
                    });
                }
                if kind == SourceKind::Jsonl && path == "-" {
                    return Ok(SourceSpec {
                        kind,
                        path: PathBuf::from("-"),
                    });
                }
                return Ok(SourceSpec {
                    kind,
                    path: PathBuf::from(path),
                });
            }
        }
        Self::detect(Path::new(spec))
    }

    /// Detects the kind of a bare path: a folder with `cur/` or `new/` (at its root or in
    /// sub-folders) is a Maildir, any other folder an `.eml` tree; a file ending in `.jsonl`,
    /// `.ndjson` or `.json` is JSONL, `.eml` a single message, and a file that starts with
    /// `From ` (or ends in `.mbox`/`.mbx`) an mbox.
    pub fn detect(path: &Path) -> Result<Self> {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        let kind = if meta.is_dir() {
            if dirs::looks_like_maildir(path) {
                SourceKind::Maildir
            } else {
                SourceKind::Eml
            }
        } else {
            let ext = path
                .extension()
                .and_then(|e| e.to_str())
                .map(str::to_ascii_lowercase);
            match ext.as_deref() {
                Some("jsonl" | "ndjson" | "json") => SourceKind::Jsonl,
                Some("eml") => SourceKind::Eml,
                Some("mbox" | "mbx") => SourceKind::Mbox,
                _ => {
                    let mut head = [0u8; 5];
                    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
                    let n = read_up_to(&mut file, &mut head).map_err(|e| Error::io(path, e))?;
                    if &head[..n] == b"From " {
                        SourceKind::Mbox
                    } else {
                        return Err(Error::BadSource {
                            spec: path.display().to_string(),
                            reason: "cannot tell what kind of source this is; name it with a \
                                     prefix: mbox:PATH, maildir:PATH, eml:PATH or jsonl:PATH"
                                .into(),
                        });
                    }
                }
            }
        };
        Ok(SourceSpec {
            kind,
            path: path.to_path_buf(),
        })
    }

    /// Opens the source as a stream of items.
    pub fn open(&self, max_message_size: usize) -> Result<Source> {
        let path = &self.path;
        let open_file = || File::open(path).map_err(|e| Error::io(path, e));
        Ok(match self.kind {
            SourceKind::Mbox => Source::Mbox(MboxReader::new(
                Box::new(open_file()?),
                MboxOrigin::File(path.clone()),
                max_message_size,
            )),
            SourceKind::Jsonl if path.as_os_str() == "-" => Source::Jsonl(JsonlReader::new(
                Box::new(BufReader::with_capacity(1 << 20, std::io::stdin())),
                path.clone(),
                max_message_size,
            )),
            SourceKind::Jsonl => Source::Jsonl(JsonlReader::new(
                Box::new(BufReader::with_capacity(1 << 20, open_file()?)),
                path.clone(),
                max_message_size,
            )),
            SourceKind::Maildir => Source::Maildir(MaildirTree::open(path, max_message_size)?),
            SourceKind::Eml => Source::Eml(EmlTree::open(path, max_message_size)?),
            SourceKind::Stdin => open_stream(Box::new(std::io::stdin()), max_message_size)
                .map_err(|e| Error::io("-", e))?,
        })
    }
}

/// How an mbox reader names the origin of its messages.
#[derive(Debug, Clone)]
pub enum MboxOrigin {
    /// A file.
    File(PathBuf),
    /// Standard input.
    Stdin,
}

/// An open source: an iterator of [`Item`]s, or an [`Error`] that ends it.
pub enum Source {
    /// An mbox file or stream.
    Mbox(MboxReader),
    /// A Maildir tree.
    Maildir(MaildirTree),
    /// A tree of `.eml` files.
    Eml(EmlTree),
    /// A JSONL file or stream.
    Jsonl(JsonlReader),
    /// One message read whole from a stream.
    Single(Option<Item>),
}

impl Iterator for Source {
    type Item = Result<Item>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Source::Mbox(r) => r.next(),
            Source::Maildir(r) => r.next(),
            Source::Eml(r) => r.next(),
            Source::Jsonl(r) => r.next(),
            Source::Single(item) => item.take().map(Ok),
        }
    }
}

/// Opens a byte stream (stdin, a pipe) whose format is told by its first bytes: `{` starts
/// JSONL, `From ` an mbox, anything else is one message.
pub fn open_stream(
    reader: Box<dyn Read + Send>,
    max_message_size: usize,
) -> std::io::Result<Source> {
    let mut reader = BufReader::with_capacity(1 << 20, reader);
    let head = reader.fill_buf()?;
    let first = head.iter().find(|b| !b.is_ascii_whitespace()).copied();
    if first == Some(b'{') {
        return Ok(Source::Jsonl(JsonlReader::new(
            Box::new(reader),
            PathBuf::from("-"),
            max_message_size,
        )));
    }
    if head.starts_with(b"From ") {
        return Ok(Source::Mbox(MboxReader::new(
            Box::new(reader),
            MboxOrigin::Stdin,
            max_message_size,
        )));
    }
    let origin = Origin::Stdin { offset: 0 };
    let mut bytes = Vec::new();
    let limit = max_message_size as u64 + 1;
    reader.by_ref().take(limit).read_to_end(&mut bytes)?;
    let item = if bytes.len() > max_message_size {
        // Count the rest without keeping it, so that the record says how large it was.
        let rest = std::io::copy(&mut reader, &mut std::io::sink())?;
        Item::Quarantined(Quarantine::too_large(
            origin,
            max_message_size,
            bytes.len() as u64 + rest,
            &bytes,
        ))
    } else {
        Item::Mail(RawMail::new(origin, bytes))
    };
    Ok(Source::Single(Some(item)))
}

/// Drops a leading `From ` line: an mbox separator, or the envelope line that `.eml` files
/// saved from an mbox keep at their top.
pub fn strip_from_line(bytes: &[u8]) -> &[u8] {
    if bytes.starts_with(b"From ") {
        match memchr::memchr(b'\n', bytes) {
            Some(eol) => &bytes[eol + 1..],
            None => &[],
        }
    } else {
        bytes
    }
}

/// Reads until `buf` is full or the reader ends; returns how many bytes were read.
fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match reader.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_lines_are_stripped_only_when_present() {
        assert_eq!(
            strip_from_line(b"From a@b Mon\nSubject: x\n"),
            b"Subject: x\n"
        );
        assert_eq!(strip_from_line(b"From: a@b\n"), b"From: a@b\n");
        assert_eq!(strip_from_line(b"From nobody"), b"");
    }

    #[test]
    fn prefixes_name_the_kind() {
        let s = SourceSpec::parse("mbox:/x/y").unwrap();
        assert_eq!(s.kind, SourceKind::Mbox);
        assert_eq!(s.path, PathBuf::from("/x/y"));
        assert_eq!(SourceSpec::parse("-").unwrap().kind, SourceKind::Stdin);
        assert_eq!(
            SourceSpec::parse("jsonl:-").unwrap().kind,
            SourceKind::Jsonl
        );
        assert!(matches!(
            SourceSpec::parse("maildir:"),
            Err(Error::BadSource { .. })
        ));
    }

    #[test]
    fn bare_paths_are_detected() {
        let dir = tempfile::tempdir().unwrap();
        let mbox = dir.path().join("archive");
        std::fs::write(
            &mbox,
            b"From a@b Mon Jan  1 00:00:00 2024\nSubject: x\n\nhi\n",
        )
        .unwrap();
        assert_eq!(
            SourceSpec::parse(mbox.to_str().unwrap()).unwrap().kind,
            SourceKind::Mbox
        );
        let jsonl = dir.path().join("m.jsonl");
        std::fs::write(&jsonl, b"{}\n").unwrap();
        assert_eq!(
            SourceSpec::parse(jsonl.to_str().unwrap()).unwrap().kind,
            SourceKind::Jsonl
        );
        let md = dir.path().join("md");
        std::fs::create_dir_all(md.join("Inbox/cur")).unwrap();
        assert_eq!(
            SourceSpec::parse(md.to_str().unwrap()).unwrap().kind,
            SourceKind::Maildir
        );
        let emls = dir.path().join("emls");
        std::fs::create_dir_all(&emls).unwrap();
        assert_eq!(
            SourceSpec::parse(emls.to_str().unwrap()).unwrap().kind,
            SourceKind::Eml
        );
        let odd = dir.path().join("odd.bin");
        std::fs::write(&odd, b"\x00\x01").unwrap();
        assert!(matches!(
            SourceSpec::parse(odd.to_str().unwrap()),
            Err(Error::BadSource { .. })
        ));
        assert!(matches!(
            SourceSpec::parse(dir.path().join("missing").to_str().unwrap()),
            Err(Error::Io { .. })
        ));
    }
}
