//! `mailtriage classify`: a decision per message, from a trained model.
//!
//! Each worker parses, redacts, extracts features, scores and decides; decisions are JSONL
//! (`--format jsonl`) or Parquet (`--format parquet`).
//! `--input - --output -` streams, for pipes, Hadoop Streaming and Spark's `RDD.pipe`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use mailtriage_core::model;
use mailtriage_core::{features, privacy, triage};

use crate::exit::{Code, Failure};
use crate::parquet_out::DecisionWriter;
use crate::run::{finish, load_model_and_redactor, write_json_line, InputArgs, Output, Run};

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
    /// The decision format.
    #[arg(long, value_enum, default_value_t = Format::Jsonl)]
    pub format: Format,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One JSON decision per line.
    Jsonl,
    /// A Parquet file, one row per message, flat columns per head.
    Parquet,
}

pub fn run(args: &Args) -> Result<ExitCode, Failure> {
    let ((model, version), redactor) = load_model_and_redactor(&args.model, &args.input.privacy)?;
    let decide = |redacted: privacy::Redacted| {
        let features = features::extract(&redacted, &model.features);
        let scores = model.score_features(&features);
        triage::decide(
            &redacted,
            &features,
            &model,
            &version,
            &scores,
            args.reasons,
        )
    };
    if args.format == Format::Parquet {
        return parquet(args, &model, &redactor, decide);
    }
    let mut output = Output::open(&args.output)?;
    let run = Run {
        args: &args.input,
        redactor: &redactor,
        default_quarantine: Some(output.default_quarantine.clone()),
    };
    let report = run.execute(
        |redacted, (): &mut (), out| write_json_line(out, &decide(redacted)),
        |records, ()| output.write(records),
    )?;
    output
        .writer
        .flush()
        .with_context(|| format!("cannot write decisions to {}", output.name))
        .map_err(|e| Failure::new(Code::Output, e))?;
    Ok(finish(&args.input, &report))
}

fn parquet(
    args: &Args,
    model: &model::Model,
    redactor: &privacy::Redactor,
    decide: impl Fn(privacy::Redacted) -> triage::Decision + Sync,
) -> Result<ExitCode, Failure> {
    let output_error = |e| Failure::new(Code::Output, e);
    let (out, default_quarantine): (Box<dyn Write + Send>, PathBuf) = if args.output == "-" {
        (
            Box::new(BufWriter::with_capacity(1 << 20, std::io::stdout())),
            PathBuf::from("mailtriage-quarantine.jsonl"),
        )
    } else {
        let file = File::create(&args.output)
            .with_context(|| format!("cannot create the output file {}", args.output))
            .map_err(output_error)?;
        (
            Box::new(BufWriter::with_capacity(1 << 20, file)),
            PathBuf::from(format!("{}.quarantine.jsonl", args.output)),
        )
    };
    let heads: Vec<String> = model.heads.iter().map(|h| h.name.clone()).collect();
    let mut writer = DecisionWriter::new(out, &heads).map_err(output_error)?;
    let run = Run {
        args: &args.input,
        redactor,
        default_quarantine: Some(default_quarantine),
    };
    let report = run.execute(
        |redacted, acc: &mut Vec<triage::Decision>, _| {
            acc.push(decide(redacted));
            Ok(())
        },
        |_, decisions| writer.write(&decisions),
    )?;
    writer.finish().map_err(output_error)?;
    Ok(finish(&args.input, &report))
}
