//! `mailtriage parse`: one normalised JSON record per message.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;

use crate::exit::{Code, Failure};
use crate::run::{finish, write_json_line, InputArgs, Output, Run};

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One JSON object per line.
    Jsonl,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub input: InputArgs,
    /// Where to write the records: a file, or - for stdout. Quarantine records go to
    /// PATH.quarantine.jsonl (or ./mailtriage-quarantine.jsonl for stdout) unless
    /// --quarantine says otherwise.
    #[arg(long, short, default_value = "-", value_name = "PATH")]
    pub output: String,
    /// The record format.
    #[arg(long, value_enum, default_value_t = Format::Jsonl)]
    pub format: Format,
}

pub fn run(args: &Args) -> Result<ExitCode, Failure> {
    let mut output = Output::open(&args.output)?;
    let redactor = crate::privacy::redactor(&args.input.privacy)?;
    let run = Run {
        args: &args.input,
        redactor: &redactor,
        default_quarantine: Some(output.default_quarantine.clone()),
    };
    let to_stdout = output.to_stdout;
    let result = run.execute(
        |redacted, (): &mut (), out| write_json_line(out, redacted.email()),
        |records, ()| output.write(records),
    );
    let report = match result {
        Ok(report) => report,
        // A reader that went away (`| head`) is not a failure of ours.
        Err(failure) if to_stdout && is_broken_pipe(&failure.error) => {
            return Ok(ExitCode::SUCCESS)
        }
        Err(failure) => return Err(failure),
    };
    match output.writer.flush() {
        Err(e) if to_stdout && e.kind() == std::io::ErrorKind::BrokenPipe => {
            return Ok(ExitCode::SUCCESS)
        }
        other => other
            .with_context(|| format!("cannot write records to {}", output.name))
            .map_err(|e| Failure::new(Code::Output, e))?,
    }
    Ok(finish(&args.input, &report))
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
