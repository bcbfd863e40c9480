//! `mailtriage classify`: a decision per message, from a trained model.
//!
//! Each worker parses, redacts, extracts features, scores and decides; records are JSONL.
//! `--input - --output -` streams, for pipes, Hadoop Streaming and Spark's `RDD.pipe`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use mailtriage_core::model::{self, file};
use mailtriage_core::{features, privacy, triage};

use crate::exit::{Code, Failure};
use crate::run::{finish, write_json_line, InputArgs, Run};

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
    let (model, version) = file::load(&args.model)
        .with_context(|| format!("cannot load the model {}", args.model.display()))
        .map_err(|e| Failure::new(Code::Input, e))?;
    let to_stdout = args.output == "-";
    let mut writer: BufWriter<Box<dyn Write>> = if to_stdout {
        BufWriter::with_capacity(1 << 20, Box::new(std::io::stdout().lock()))
    } else {
        let file = File::create(&args.output)
            .with_context(|| format!("cannot create the output file {}", args.output))
            .map_err(|e| Failure::new(Code::Output, e))?;
        BufWriter::with_capacity(1 << 20, Box::new(file))
    };
    let default_quarantine = if to_stdout {
        PathBuf::from("mailtriage-quarantine.jsonl")
    } else {
        PathBuf::from(format!("{}.quarantine.jsonl", args.output))
    };
    let run = Run {
        args: &args.input,
        default_quarantine: Some(default_quarantine),
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
        |records, ()| {
            writer
                .write_all(records)
                .with_context(|| format!("cannot write decisions to {}", args.output))
        },
    )?;
    writer
        .flush()
        .with_context(|| format!("cannot write decisions to {}", args.output))
        .map_err(|e| Failure::new(Code::Output, e))?;
    Ok(finish(&args.input, &report))
}
