//! `mailtriage train`: learn a model from labelled mail.
//!
//! Labels come from where users keep them: a JSONL field (`--label-field queue`), the
//! Maildir folder (`--label-field folder`), or one source per label (`--label spam=SRC`).
//! Each `--label-field` is a head of its own. Messages are parsed, redacted and turned into
//! features on every core; the model is then fitted on them, sorted by fingerprint so that
//! the same data gives the same model whatever order the sources were read in.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, Context};
use mailtriage_core::features::{self, CharNgrams, FeatureConfig};
use mailtriage_core::model::train::{fit_on, Example, Split};
use mailtriage_core::model::{self, file, LearnRate, Model, Training};
use mailtriage_core::parse::date::unix_seconds;

use crate::exit::{Code, Failure};
use crate::labels::label_of;
use crate::run::{finish, InputArgs, Run};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub input: InputArgs,
    /// A label field: a JSONL field name, or `folder` for the Maildir folder. Repeat for
    /// several heads (each named after its field).
    #[arg(long = "label-field", value_name = "F")]
    pub label_fields: Vec<String>,
    /// A whole source carries one label: `--label spam=mbox:spam.mbox`. Repeatable; these
    /// sources replace --input, and train the head named by --head (default `label`).
    #[arg(long = "label", value_name = "LABEL=SRC")]
    pub labels: Vec<String>,
    /// The head's name for --label sources, or a new name for the first --label-field.
    #[arg(long)]
    pub head: Option<String>,
    /// Where to write the model.
    #[arg(long, value_name = "PATH")]
    pub out: PathBuf,
    /// Passes over the training data (in each shuffle).
    #[arg(long, default_value_t = 3)]
    pub epochs: u32,
    /// log2 of the feature slots (18 to 24).
    #[arg(long, default_value_t = 20)]
    pub bits: u8,
    /// Leave out pairs of adjacent words.
    #[arg(long)]
    pub no_bigrams: bool,
    /// Character n-grams of the subject's and body's words, each framed as `<word>` (as
    /// fastText's subwords): `3-5` for lengths 3 to 5, `4` for length 4 only, `off` for none.
    #[arg(long, value_name = "N-M|N|off", default_value = "off", value_parser = char_ngrams)]
    pub char_ngrams: CharNgramsArg,
    /// AdaGrad's learning rate.
    #[arg(long, default_value_t = 0.5)]
    pub learning_rate: f32,
    /// L2 penalty.
    #[arg(long, default_value_t = 1e-6)]
    pub l2: f32,
    /// Seed of the shuffles.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Independent shuffled runs of the epochs, on up to --threads threads, whose weights
    /// are averaged (the model is the same on any number of threads): one online run leans
    /// on the order it met the examples in.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub shuffles: u32,
    /// Features that fewer training messages than this have are not learned: most are seen
    /// once, and `2` leaves out more than half the rows the fit works on (a smaller model,
    /// a faster fit). The default learns every feature: on validation splits of the older
    /// groups, `2` called more ham spam.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub min_count: u32,
    /// Share of the training data held out to validate and calibrate.
    #[arg(long, default_value_t = 0.1)]
    pub validation: f64,
    /// How the validation share is chosen: `random` (by fingerprint) or `newest` (the
    /// most recently sent of each label, by Date: it shows what drift to newer mail does).
    #[arg(long, value_enum, default_value_t = SplitArg::Random)]
    pub validation_split: SplitArg,
    /// Class weights: `none` keeps the training priors; `balanced` weighs each class
    /// inversely to its frequency, for mail to come whose mix differs from the training
    /// mix (it raises recall of rare classes at some cost in their precision).
    #[arg(long, value_enum, default_value_t = ClassWeight::None)]
    pub class_weight: ClassWeight,
}

/// `--char-ngrams`: lengths, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CharNgramsArg(pub Option<CharNgrams>);

fn char_ngrams(s: &str) -> Result<CharNgramsArg, String> {
    if s.eq_ignore_ascii_case("off") {
        return Ok(CharNgramsArg(None));
    }
    s.parse().map(|n| CharNgramsArg(Some(n)))
}

/// How the validation split is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SplitArg {
    /// A fixed share of fingerprints.
    Random,
    /// The newest of each label, by Date.
    Newest,
}

impl From<SplitArg> for Split {
    fn from(s: SplitArg) -> Split {
        match s {
            SplitArg::Random => Split::Random,
            SplitArg::Newest => Split::Newest,
        }
    }
}

/// How classes are weighted in training.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ClassWeight {
    /// Inversely to their frequency.
    Balanced,
    /// All alike.
    None,
}

/// One message as training reads it: features, labels per head, fingerprint.
struct Labelled {
    x: Vec<(u32, f32)>,
    labels: Vec<Option<String>>,
    fingerprint: String,
    sent: Option<i64>,
}

pub fn run(args: &Args) -> Result<ExitCode, Failure> {
    let usage = |msg: String| Failure::new(Code::Usage, anyhow!(msg));
    let config = FeatureConfig {
        bits: args.bits,
        bigrams: !args.no_bigrams,
        char_ngrams: args.char_ngrams.0,
        ..FeatureConfig::default()
    };
    config.validate().map_err(usage)?;
    if args.label_fields.is_empty() && args.labels.is_empty() {
        return Err(usage(
            "say where the labels are: --label-field FIELD (a JSONL field, or `folder`) or \
             --label LABEL=SRC"
                .into(),
        ));
    }
    if !args.labels.is_empty() && (!args.label_fields.is_empty() || !args.input.inputs.is_empty()) {
        return Err(usage(
            "--label LABEL=SRC names its own sources: give it without --input and --label-field"
                .into(),
        ));
    }
    let mut head_names: Vec<String> = if args.labels.is_empty() {
        args.label_fields.clone()
    } else {
        vec!["label".into()]
    };
    if let Some(name) = &args.head {
        head_names[0].clone_from(name);
    }

    // Read every source: parse, redact and extract on the workers.
    let mut rows: Vec<Labelled> = Vec::new();
    let mut unlabelled = 0u64;
    let mut reports = Vec::new();
    let redactor = crate::privacy::redactor(&args.input.privacy)?;
    let mut read_source = |input: &InputArgs, fixed: Option<&str>| -> Result<(), Failure> {
        let run = Run {
            args: input,
            redactor: &redactor,
            default_quarantine: Some(args.out.with_extension("quarantine.jsonl")),
        };
        let fields = &args.label_fields;
        let report = run.execute(
            |redacted, acc: &mut Vec<Labelled>, _| {
                let email = redacted.email();
                let labels: Vec<Option<String>> = match fixed {
                    Some(label) => vec![Some(label.to_string())],
                    None => fields.iter().map(|f| label_of(email, f)).collect(),
                };
                let fingerprint = email.fingerprint.clone();
                let sent = email.headers.date.as_deref().and_then(unix_seconds);
                let x = model::sparse(&features::extract(&redacted, &config));
                acc.push(Labelled {
                    x,
                    labels,
                    fingerprint,
                    sent,
                });
                Ok(())
            },
            |_, batch| {
                for row in batch {
                    if row.labels.iter().all(Option::is_none) {
                        unlabelled += 1;
                    } else {
                        rows.push(row);
                    }
                }
                Ok(())
            },
        )?;
        reports.push(report);
        Ok(())
    };
    if args.labels.is_empty() {
        read_source(&args.input, None)?;
    } else {
        for pair in &args.labels {
            let (label, source) = pair
                .split_once('=')
                .filter(|(l, s)| !l.is_empty() && !s.is_empty())
                .ok_or_else(|| {
                    usage(format!(
                        "`--label {pair}`: give it as LABEL=SRC, as in spam=mbox:spam.mbox"
                    ))
                })?;
            let input = InputArgs {
                inputs: vec![source.to_string()],
                ..args.input.clone()
            };
            read_source(&input, Some(label))?;
        }
    }
    if rows.is_empty() {
        return Err(Failure::new(
            Code::Input,
            anyhow!("no labelled message found: check --label-field (fields present in the input?) or --label"),
        ));
    }

    // The same data gives the same model, whatever order it was read in.
    rows.sort_by(|a, b| {
        a.fingerprint
            .cmp(&b.fingerprint)
            .then_with(|| a.labels.cmp(&b.labels))
    });
    let label_sets: Vec<Vec<String>> = (0..head_names.len())
        .map(|h| {
            rows.iter()
                .filter_map(|r| r.labels[h].clone())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect()
        })
        .collect();
    for (name, labels) in head_names.iter().zip(&label_sets) {
        if labels.len() < 2 {
            return Err(Failure::new(
                Code::Input,
                anyhow!(
                    "head `{name}` has {} label(s) in the data; a classifier needs two or more",
                    labels.len()
                ),
            ));
        }
    }
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    let examples: Vec<Example> = rows
        .into_iter()
        .map(|r| {
            hasher.update(r.fingerprint.as_bytes());
            let labels = r
                .labels
                .iter()
                .zip(&label_sets)
                .map(|(l, set)| {
                    l.as_ref().and_then(|l| {
                        hasher.update(l.as_bytes());
                        set.iter().position(|s| s == l)
                    })
                })
                .collect();
            Example {
                x: r.x,
                labels,
                fingerprint: r.fingerprint,
                sent: r.sent,
            }
        })
        .collect();
    let rate = LearnRate {
        learning_rate: args.learning_rate,
        l2: args.l2,
    };
    let balanced = args.class_weight == ClassWeight::Balanced;
    let training = Training {
        examples: examples.len() as u64,
        data_fingerprint: format!("{:016x}", hasher.digest()),
        validation_split: args.validation_split.into(),
        shuffles: args.shuffles,
        min_count: args.min_count,
        ..Training::new(args.epochs, rate, args.seed, balanced)
    };
    let heads: Vec<(String, Vec<String>)> = head_names.into_iter().zip(label_sets).collect();
    let mut model = Model::new(config, &heads, training);
    let quiet = args.input.quiet;
    let started = std::time::Instant::now();
    let fit_report = fit_on(
        &mut model,
        examples,
        args.validation,
        args.validation_split.into(),
        args.input.threads,
        |epoch| {
            if !quiet {
                eprintln!("mailtriage: epoch {epoch}/{} done", args.epochs);
            }
        },
    );
    let fit_seconds = started.elapsed().as_secs_f64();
    let version = file::save(&model, &args.out)
        .with_context(|| format!("cannot write the model to {}", args.out.display()))
        .map_err(|e| Failure::new(Code::Output, e))?;

    println!(
        "trained on {} messages ({} held out for validation, {} without a label skipped) in {:.2} s: {} model {}",
        fit_report.trained,
        fit_report.validation,
        unlabelled,
        fit_seconds,
        args.out.display(),
        version
    );
    for (head, metrics) in model.heads.iter().zip(&fit_report.heads) {
        match metrics {
            None => println!("head {}: no labelled validation message", head.name),
            Some(m) => {
                println!(
                    "head {}: validation accuracy {:.4}, macro-F1 {:.4}, temperature {:.3} (n = {})",
                    head.name, m.accuracy, m.macro_f1, head.temperature, m.n
                );
                for c in &m.classes {
                    println!(
                        "  {:<20} precision {:.4}  recall {:.4}  F1 {:.4}  support {}",
                        c.label, c.precision, c.recall, c.f1, c.support
                    );
                }
            }
        }
    }
    let last = reports
        .last()
        .ok_or_else(|| Failure::new(Code::Internal, anyhow!("no run report")))?;
    Ok(finish(&args.input, last))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn char_ngrams_flag_reads_ranges_single_lengths_and_off() {
        let n = |min, max| CharNgramsArg(Some(CharNgrams { min, max }));
        assert_eq!(char_ngrams("3-5"), Ok(n(3, 5)));
        assert_eq!(char_ngrams("4"), Ok(n(4, 4)));
        assert_eq!(char_ngrams("OFF"), Ok(CharNgramsArg(None)));
        for bad in ["5-3", "1-4", "3-9", "x", "3-", ""] {
            assert!(char_ngrams(bad).is_err(), "{bad}");
        }
    }
}
