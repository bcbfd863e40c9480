//! `mailtriage eval`: how good a model is on labelled mail.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, Context};
use mailtriage_core::eval::{self, coverage, coverage_at, reliability, Judged, Metrics};
use mailtriage_core::features;
use mailtriage_core::model::{self, train::argmax};
use serde::Serialize;

use crate::exit::{Code, Failure};
use crate::labels::label_of;
use crate::run::{finish, load_model, InputArgs, Run};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub input: InputArgs,
    /// The model file.
    #[arg(long, value_name = "PATH")]
    pub model: PathBuf,
    /// Where the true labels are: a JSONL field, or `folder`. Repeat to evaluate several
    /// heads; each field is matched to the head of the same name (or, for a single field,
    /// to --head or the model's first head).
    #[arg(long = "label-field", value_name = "F", required = true)]
    pub label_fields: Vec<String>,
    /// The head to evaluate with a single --label-field.
    #[arg(long)]
    pub head: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Also write a self-contained HTML report with plots.
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
}

/// Precisions at which coverage is reported.
pub const TARGETS: [f64; 3] = [0.95, 0.99, 0.999];

/// One head's evaluation, as printed with `--json`.
#[derive(Debug, Serialize)]
pub struct HeadReport {
    pub head: String,
    pub label_field: String,
    #[serde(flatten)]
    pub metrics: Metrics,
    pub ece: f64,
    pub reliability: Vec<eval::Bin>,
    pub coverage: Vec<CoverageAt>,
    pub curve: Vec<eval::CoveragePoint>,
    pub unknown_labels: u64,
    pub unlabelled: u64,
}

#[derive(Debug, Serialize)]
pub struct CoverageAt {
    pub target_precision: f64,
    pub coverage: f64,
    pub threshold: Option<f32>,
    pub precision: Option<f64>,
}

/// Per message and evaluated head: truth (None when unlabelled, Some(None) when the label is
/// unknown to the model), prediction and confidence.
type Outcome = (Option<Option<usize>>, usize, f32);

pub fn run(args: &Args) -> Result<ExitCode, Failure> {
    let (model, version) = load_model(&args.model)?;
    let heads: Vec<usize> = args
        .label_fields
        .iter()
        .map(|field| {
            let wanted = if args.label_fields.len() == 1 {
                args.head.as_deref().unwrap_or(field)
            } else {
                field
            };
            model
                .heads
                .iter()
                .position(|h| h.name == wanted)
                .or_else(|| (args.label_fields.len() == 1 && args.head.is_none()).then_some(0))
                .ok_or_else(|| {
                    let names: Vec<&str> = model.heads.iter().map(|h| h.name.as_str()).collect();
                    Failure::new(
                        Code::Usage,
                        anyhow!(
                            "the model has no head `{wanted}`; its heads: {}",
                            names.join(", ")
                        ),
                    )
                })
        })
        .collect::<Result<_, _>>()?;
    let redactor = crate::privacy::redactor(&args.input.privacy)?;
    let run = Run {
        args: &args.input,
        redactor: &redactor,
        default_quarantine: None,
    };
    let mut outcomes: Vec<Vec<Outcome>> = vec![Vec::new(); heads.len()];
    let report = run.execute(
        |redacted, acc: &mut Vec<Vec<Outcome>>, _| {
            let truths: Vec<Option<String>> = args
                .label_fields
                .iter()
                .map(|f| label_of(redacted.email(), f))
                .collect();
            let x = model::sparse(&features::extract(&redacted, &model.features));
            acc.resize(heads.len(), Vec::new());
            for (i, &h) in heads.iter().enumerate() {
                let head = &model.heads[h];
                let p = model::linear::softmax(&head.linear.logits(&x), head.temperature);
                let predicted = argmax(&p);
                let truth = truths[i]
                    .as_ref()
                    .map(|t| head.labels.iter().position(|l| l == t));
                acc[i].push((truth, predicted, p[predicted]));
            }
            Ok(())
        },
        |_, acc| {
            for (all, part) in outcomes.iter_mut().zip(acc) {
                all.extend(part);
            }
            Ok(())
        },
    )?;

    let reports: Vec<HeadReport> = heads
        .iter()
        .zip(&args.label_fields)
        .zip(&outcomes)
        .map(|((&h, field), outcomes)| head_report(&model.heads[h], field, outcomes))
        .collect();
    if reports.iter().all(|r| r.metrics.n == 0) {
        return Err(Failure::new(
            Code::Input,
            anyhow!(
                "no message had a label the model knows in {}",
                args.label_fields.join(", ")
            ),
        ));
    }
    if let Some(path) = &args.report {
        let html = crate::report::html(&args.model, &version, &reports);
        std::fs::write(path, html)
            .with_context(|| format!("cannot write the report to {}", path.display()))
            .map_err(|e| Failure::new(Code::Output, e))?;
    }
    if args.json {
        let json =
            serde_json::json!({"model": args.model, "model_version": version, "heads": reports});
        println!(
            "{}",
            serde_json::to_string_pretty(&json).map_err(|e| Failure::new(Code::Internal, e))?
        );
    } else {
        print!("{}", text(&version, &reports));
    }
    Ok(finish(&args.input, &report))
}

fn head_report(head: &model::Head, field: &str, outcomes: &[Outcome]) -> HeadReport {
    let mut pairs = Vec::new();
    let mut judged = Vec::new();
    let (mut unknown, mut unlabelled) = (0, 0);
    for &(truth, predicted, confidence) in outcomes {
        match truth {
            None => unlabelled += 1,
            Some(None) => unknown += 1,
            Some(Some(t)) => {
                pairs.push((t, predicted));
                judged.push(Judged {
                    confidence,
                    correct: t == predicted,
                });
            }
        }
    }
    let metrics = eval::metrics(&head.labels, &pairs);
    let (bins, ece) = reliability(&judged, 10);
    let curve = coverage(&judged);
    let coverage = TARGETS
        .iter()
        .map(|&target| {
            let point = coverage_at(&curve, target);
            CoverageAt {
                target_precision: target,
                coverage: point.map_or(0.0, |p| p.coverage),
                threshold: point.map(|p| p.threshold),
                precision: point.map(|p| p.precision),
            }
        })
        .collect();
    // At most ~200 points are kept for the report; the figures above use the full curve.
    let step = (curve.len() / 200).max(1);
    let curve = curve
        .iter()
        .enumerate()
        .filter(|(i, _)| i % step == 0 || *i + 1 == curve.len())
        .map(|(_, p)| p.clone())
        .collect();
    HeadReport {
        head: head.name.clone(),
        label_field: field.to_string(),
        metrics,
        ece,
        reliability: bins,
        coverage,
        curve,
        unknown_labels: unknown,
        unlabelled,
    }
}

fn text(version: &str, reports: &[HeadReport]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "model {version}");
    for r in reports {
        let m = &r.metrics;
        let _ = writeln!(
            out,
            "\nhead {} (labels from `{}`): {} messages",
            r.head, r.label_field, m.n
        );
        let _ = writeln!(
            out,
            "  accuracy {:.4}   macro-F1 {:.4}   calibration error (ECE) {:.4}",
            m.accuracy, m.macro_f1, r.ece
        );
        let _ = writeln!(
            out,
            "  {:<20} {:>9} {:>9} {:>9} {:>9}",
            "label", "precision", "recall", "F1", "support"
        );
        for c in &m.classes {
            let _ = writeln!(
                out,
                "  {:<20} {:>9.4} {:>9.4} {:>9.4} {:>9}",
                c.label, c.precision, c.recall, c.f1, c.support
            );
        }
        let _ = writeln!(out, "  confusion (rows: true label, columns: predicted)");
        let width = m
            .classes
            .iter()
            .map(|c| c.label.len())
            .max()
            .unwrap_or(5)
            .max(7);
        let _ = write!(out, "  {:<width$}", "");
        for c in &m.classes {
            let _ = write!(out, " {:>width$}", c.label);
        }
        let _ = writeln!(out);
        for (c, row) in m.classes.iter().zip(&m.confusion) {
            let _ = write!(out, "  {:<width$}", c.label);
            for v in row {
                let _ = write!(out, " {v:>width$}");
            }
            let _ = writeln!(out);
        }
        for c in &r.coverage {
            match c.threshold {
                Some(t) => {
                    let _ = writeln!(
                        out,
                        "  at {:.1}% precision: {:.1}% of mail decided automatically (confidence >= {:.4}), {:.1}% to review",
                        c.target_precision * 100.0,
                        c.coverage * 100.0,
                        t,
                        100.0 - c.coverage * 100.0
                    );
                }
                None => {
                    let _ = writeln!(
                        out,
                        "  at {:.1}% precision: nothing can be decided automatically",
                        c.target_precision * 100.0
                    );
                }
            }
        }
        if r.unknown_labels > 0 || r.unlabelled > 0 {
            let _ = writeln!(
                out,
                "  not counted: {} with a label the model does not know, {} without a label",
                r.unknown_labels, r.unlabelled
            );
        }
    }
    out
}
