//! The library's error type: what went wrong with a source as a whole.
//!
//! A message that cannot be read is *not* an error: it becomes a [`crate::Quarantine`] record
//! and the run goes on. An [`Error`] is for what stops a run: a source that cannot be opened
//! or read, a specification that names no source.

use std::path::PathBuf;

/// What stops a run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A source path could not be opened, listed or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file or folder involved.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// The source specification could not be understood.
    #[error("invalid source `{spec}`: {reason}")]
    BadSource {
        /// What the user gave.
        spec: String,
        /// Why it was refused, and what to give instead.
        reason: String,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
