//! `mailtriage classify`: a decision per message, from a trained model.
//!
//! Each worker parses, redacts, extracts features, scores and decides; records are JSONL.
//! `--input - --output -` streams, for pipes, Hadoop Streaming and Spark's `RDD.pipe`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use mailtriage_core::model;
use mailtriage_core::{features, privacy, triage};

use crate::exit::{Code, Failure};
use crate::run::{finish, load_model, write_json_line, InputArgs, Output, Run};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub input: InputArgs,
    /// The model file (from `mailtriage train`).
    #[arg(long, value_name = "PATH")]
    pub model: PathBuf,
    /// Where to write decisions: a file, or - for stdout.
    #[arg(long, short, default_value = "-", value_name = "PATH")]
    pub output: String,
    /// How many reasons to give per head.
    #[arg(long, default_value_t = 5)]
    pub reasons: usize,
}

pub fn run(args: &Args) -> Result<ExitCode, Failure> {
    let (model, version) = load_model(&args.model)?;
    let mut output = Output::open(&args.output)?;
    let run = Run {
        args: &args.input,
        default_quarantine: Some(output.default_quarantine.clone()),
    };
    let report = run.execute(
        |email, (): &mut (), out| {
            let redacted = privacy::redact(email);
            let features = features::extract(&redacted, &model.features);
            let scores = model.score(&model::sparse(&features));
            let decision = triage::decide(
                &redacted,
                &features,
                &model,
                &version,
                &scores,
                args.reasons,
            );
            write_json_line(out, &decision)
        },
        |records, ()| output.write(records),
    )?;
    output
        .writer
        .flush()
        .with_context(|| format!("cannot write decisions to {}", output.name))
        .map_err(|e| Failure::new(Code::Output, e))?;
    Ok(finish(&args.input, &report))
}
