//! `mailtriage thresholds`: set each head's review threshold so that the decisions it makes
//! automatically reach a target precision on labelled validation mail.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, Context};
use mailtriage_core::eval::{coverage, coverage_at, Judged};
use mailtriage_core::features;
use mailtriage_core::model::{self, file, train::argmax};

use crate::exit::{Code, Failure};
use crate::labels::{head_fields, label_of};
use crate::run::{finish, load_model, InputArgs, Run};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub input: InputArgs,
    /// The model.
    #[arg(long, value_name = "PATH")]
    pub model: PathBuf,
    /// Precision that automatic decisions must reach; the rest go to review.
    #[arg(long, default_value_t = 0.99)]
    pub target_precision: f64,
    /// Read head H's labels from field F, as `H=F` (default: the field named after the head).
    #[arg(long = "label-field", value_name = "H=F")]
    pub label_fields: Vec<String>,
    /// Where to write the model with its thresholds (default: replace --model atomically).
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
}

pub fn run(args: &Args) -> Result<ExitCode, Failure> {
    if !(0.0..=1.0).contains(&args.target_precision) {
        return Err(Failure::new(
            Code::Usage,
            anyhow!("--target-precision must be between 0 and 1"),
        ));
    }
    let (mut model, version) = load_model(&args.model)?;
    let fields = head_fields(&model, &args.label_fields)?;
    let redactor = crate::privacy::redactor(&args.input.privacy)?;
    let run = Run {
        args: &args.input,
        redactor: &redactor,
        default_quarantine: None,
    };
    let mut judged: Vec<Vec<Judged>> = vec![Vec::new(); model.heads.len()];
    let report = run.execute(
        |redacted, acc: &mut Vec<Vec<Judged>>, _| {
            let truths: Vec<Option<String>> = fields
                .iter()
                .map(|f| label_of(redacted.email(), f))
                .collect();
            let x = model::sparse(&features::extract(&redacted, &model.features));
            acc.resize(model.heads.len(), Vec::new());
            for (i, head) in model.heads.iter().enumerate() {
                let Some(truth) = truths[i]
                    .as_ref()
                    .and_then(|t| head.labels.iter().position(|l| l == t))
                else {
                    continue;
                };
                let p = model::linear::softmax(&head.linear.logits(&x), head.temperature);
                let predicted = argmax(&p);
                acc[i].push(Judged {
                    confidence: p[predicted],
                    correct: predicted == truth,
                });
            }
            Ok(())
        },
        |_, acc| {
            for (all, part) in judged.iter_mut().zip(acc) {
                all.extend(part);
            }
            Ok(())
        },
    )?;
    for (head, judged) in model.heads.iter_mut().zip(&judged) {
        if judged.is_empty() {
            println!(
                "head {}: no labelled message; threshold left at {:.4}",
                head.name, head.threshold
            );
            continue;
        }
        let curve = coverage(judged);
        if let Some(point) = coverage_at(&curve, args.target_precision) {
            head.threshold = point.threshold;
            println!(
                "head {}: threshold {:.4}: {:.1}% of {} messages decided automatically at precision {:.4}, {:.1}% to review",
                head.name,
                point.threshold,
                point.coverage * 100.0,
                judged.len(),
                point.precision,
                100.0 - point.coverage * 100.0
            );
        } else {
            // Not even the most confident decisions reach the target: review everything.
            head.threshold = 1.0 + f32::EPSILON;
            println!(
                "head {}: no threshold reaches precision {}: every message goes to review",
                head.name, args.target_precision
            );
        }
    }
    model.parent = Some(version);
    let out = args.out.as_ref().unwrap_or(&args.model);
    let new_version = file::save(&model, out)
        .with_context(|| format!("cannot write the model to {}", out.display()))
        .map_err(|e| Failure::new(Code::Output, e))?;
    println!("{} model {new_version}", out.display());
    Ok(finish(&args.input, &report))
}
