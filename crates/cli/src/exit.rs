//! Exit codes a script can act on, and error messages that say what to do.

use std::process::ExitCode;

/// The documented exit codes (see `mailtriage --help`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// A bug or an unexpected failure.
    Internal = 1,
    /// Flags or source specifications that cannot be understood.
    Usage = 2,
    /// An input could not be opened or read.
    Input = 3,
    /// An output could not be written.
    Output = 4,
    /// The run finished, but messages were quarantined and the user asked to fail on that.
    Quarantined = 5,
}

/// A failure: its exit code and the error chain to print.
#[derive(Debug)]
pub struct Failure {
    pub code: Code,
    pub error: anyhow::Error,
}

impl Failure {
    pub fn new(code: Code, error: impl Into<anyhow::Error>) -> Self {
        Failure {
            code,
            error: error.into(),
        }
    }

    /// Prints `mailtriage: error: ...` with its causes and returns the exit code.
    pub fn report(self) -> ExitCode {
        eprintln!("mailtriage: error: {:#}", self.error);
        ExitCode::from(self.code as u8)
    }
}

/// Classifies an error from the core library: a source that cannot be named is a usage
/// error, one that cannot be read an input error.
impl From<mailtriage_core::Error> for Failure {
    fn from(error: mailtriage_core::Error) -> Self {
        let code = match &error {
            mailtriage_core::Error::BadSource { .. } => Code::Usage,
            mailtriage_core::Error::Io { .. } => Code::Input,
        };
        Failure::new(code, error)
    }
}
