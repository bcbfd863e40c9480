//! `mailtriage learn`: update a model online from reviewers' corrections.
//!
//! Corrections are messages with the right label per head, in any source (typically JSONL
//! with `raw` and a field named after each head, such as `"label": "spam"`). Each correction
//! is learned once: the model carries a learn-cache of `fingerprint head label` keys, so the
//! same correction given again, in this file or a later one, changes nothing.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use mailtriage_core::features;
use mailtriage_core::model::{self, file};

use crate::exit::{Code, Failure};
use crate::labels::{head_fields, label_of};
use crate::run::{finish, load_model, InputArgs, Run};

/// One correction: fingerprint, label index per head, features.
type Correction = (String, Vec<Option<usize>>, Vec<(u32, f32)>);

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The model to update.
    #[arg(long, value_name = "PATH")]
    pub model: PathBuf,
    /// The corrections: a source of messages with the right label in a field named after
    /// each head (see --label-field).
    #[arg(long, value_name = "SRC")]
    pub feedback: String,
    /// Where to write the updated model (may be the same path: it is replaced atomically).
    #[arg(long, value_name = "PATH")]
    pub out: PathBuf,
    /// Read head H's labels from field F, as `H=F` (default: the field named after the head).
    #[arg(long = "label-field", value_name = "H=F")]
    pub label_fields: Vec<String>,
    /// Updates per correction.
    #[arg(long, default_value_t = 3)]
    pub epochs: u32,
    /// Print nothing on stderr but errors.
    #[arg(long, short)]
    pub quiet: bool,
    /// The same privacy settings the model was trained with (its features depend on them).
    #[command(flatten)]
    pub privacy: crate::privacy::PrivacyArgs,
}

pub fn run(args: &Args) -> Result<ExitCode, Failure> {
    let (mut model, version) = load_model(&args.model)?;
    let fields = head_fields(&model, &args.label_fields)?;
    let input = InputArgs {
        inputs: vec![args.feedback.clone()],
        threads: 0,
        // Corrections are learned in the order given, as a reviewer made them.
        ordered: true,
        max_message_size: mailtriage_core::ingest::DEFAULT_MAX_MESSAGE_SIZE,
        quarantine: Some(args.out.with_extension("quarantine.jsonl")),
        fail_on_quarantine: false,
        summary: None,
        quiet: args.quiet,
        privacy: args.privacy.clone(),
    };
    let redactor = crate::privacy::redactor(&input.privacy)?;
    let run = Run {
        args: &input,
        redactor: &redactor,
        default_quarantine: None,
    };
    let config = model.features.clone();
    let labels: Vec<Vec<String>> = model.heads.iter().map(|h| h.labels.clone()).collect();
    let mut corrections: Vec<Correction> = Vec::new();
    let mut unknown = 0u64;
    let report = run.execute(
        |redacted, acc: &mut Vec<(Correction, u64)>, _| {
            let email = redacted.email();
            let mut missing = 0;
            let wanted: Vec<Option<usize>> = fields
                .iter()
                .zip(&labels)
                .map(|(f, set)| {
                    let label = label_of(email, f)?;
                    let found = set.iter().position(|l| *l == label);
                    missing += u64::from(found.is_none());
                    found
                })
                .collect();
            let fingerprint = email.fingerprint.clone();
            let x = model::sparse(&features::extract(&redacted, &config));
            acc.push(((fingerprint, wanted, x), missing));
            Ok(())
        },
        |_, batch| {
            for (correction, missing) in batch {
                unknown += missing;
                corrections.push(correction);
            }
            Ok(())
        },
    )?;
    let (mut learned, mut repeated) = (0u64, 0u64);
    for (fingerprint, wanted, x) in &corrections {
        for (head, label) in wanted.iter().enumerate() {
            if let Some(label) = label {
                if model.learn(fingerprint, head, *label, x, args.epochs) {
                    learned += 1;
                } else {
                    repeated += 1;
                }
            }
        }
    }
    model.parent = Some(version.clone());
    model.created_at = mailtriage_core::model::now_rfc3339();
    let new_version = file::save(&model, &args.out)
        .with_context(|| format!("cannot write the model to {}", args.out.display()))
        .map_err(|e| Failure::new(Code::Output, e))?;
    println!(
        "learned {learned} correction(s), {repeated} already learned, {unknown} with a label the model does not know; \
         {} model {new_version} (from {version})",
        args.out.display()
    );
    Ok(finish(&input, &report))
}
