//! The pure mailtriage pipeline.
//!
//! Every stage is a type and a function from the previous one:
//!
//! ```text
//! source ──► RawMail ──► Email ──► Redacted ──► Features ──► Scores ──► Decision
//! ```
//!
//! This crate holds no networking, no database and no async runtime: those live at the edges
//! (`crates/cli`). What is here so far: [`ingest`] (bytes from mbox, Maildir, `.eml` trees,
//! JSONL and stdin into [`RawMail`]), [`parse`] (`RawMail` into [`Email`] with its defects, or a
//! [`Quarantine`] record), [`pipeline`] (running a stage on all cores over a bounded stream) and
//! [`report`] (the corpus profile behind `mailtriage stats`).
#![warn(missing_docs)]

mod blocks;
pub mod error;
pub mod eval;
pub mod features;
pub mod ingest;
pub mod model;
pub mod parse;
pub mod pipeline;
pub mod privacy;
pub mod quarantine;
pub mod report;
mod swar;
pub mod triage;

pub use error::{Error, Result};
pub use ingest::{Origin, RawMail, SourceSpec};
pub use parse::{Defect, DefectKind, Email};
pub use quarantine::{Quarantine, QuarantineReason};
