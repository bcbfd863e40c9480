//! Messages that could not be read at all.
//!
//! Nothing read from a source may disappear: a message that cannot become an [`crate::Email`]
//! becomes a [`Quarantine`] record instead, carrying where it came from, why it was set aside
//! and its first bytes, so that an operator can find and inspect it.

use serde::Serialize;

use crate::ingest::Origin;

/// How many leading bytes of an unreadable message a quarantine record keeps.
pub const FIRST_BYTES: usize = 256;

/// Why a message was set aside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QuarantineReason {
    /// Zero bytes, or only white space.
    Empty,
    /// No RFC 5322 header could be found.
    NoHeaders,
    /// Larger than the configured maximum message size.
    TooLarge,
    /// A JSONL line that is not a JSON object.
    InvalidJson,
    /// A JSONL object without a usable `raw` or `raw_base64` field.
    MissingRaw,
    /// `raw_base64` that is not valid base64.
    InvalidBase64,
    /// A single file (Maildir or `.eml`) that could not be read.
    Unreadable,
    /// The parser panicked: a bug, kept here so the run goes on and the message is not lost.
    ParserPanic,
}

impl QuarantineReason {
    /// The stable `snake_case` name used in records and summaries.
    pub fn as_str(self) -> &'static str {
        match self {
            QuarantineReason::Empty => "empty",
            QuarantineReason::NoHeaders => "no_headers",
            QuarantineReason::TooLarge => "too_large",
            QuarantineReason::InvalidJson => "invalid_json",
            QuarantineReason::MissingRaw => "missing_raw",
            QuarantineReason::InvalidBase64 => "invalid_base64",
            QuarantineReason::Unreadable => "unreadable",
            QuarantineReason::ParserPanic => "parser_panic",
        }
    }
}

/// A message that could not be read, with its reason.
#[derive(Debug, Clone, Serialize)]
pub struct Quarantine {
    /// Where the message came from.
    pub origin: Origin,
    /// Why it was set aside.
    pub reason: QuarantineReason,
    /// Details in words (the JSON error, the size limit, the I/O error...).
    pub detail: String,
    /// The size in bytes of what was read (for `too_large`, the size seen before skipping).
    pub size: u64,
    /// The first bytes, lossily decoded, for a human to look at.
    pub first_bytes: String,
}

impl Quarantine {
    /// Builds a record, keeping the first [`FIRST_BYTES`] bytes of `bytes`.
    pub fn new(
        origin: Origin,
        reason: QuarantineReason,
        detail: impl Into<String>,
        size: u64,
        bytes: &[u8],
    ) -> Self {
        let head = &bytes[..bytes.len().min(FIRST_BYTES)];
        Quarantine {
            origin,
            reason,
            detail: detail.into(),
            size,
            first_bytes: String::from_utf8_lossy(head).into_owned(),
        }
    }

    /// A `too_large` record: `size` bytes seen against a limit of `limit`.
    pub fn too_large(origin: Origin, limit: usize, size: u64, bytes: &[u8]) -> Self {
        Quarantine::new(
            origin,
            QuarantineReason::TooLarge,
            format!("larger than the {limit}-byte limit (--max-message-size)"),
            size,
            bytes,
        )
    }
}
