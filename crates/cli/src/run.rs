//! What every command that reads mail shares: the input flags, the source chain, the
//! parallel run with its progress bar, the quarantine file and the closing summary.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mailtriage_core::ingest::{Item, Source, SourceKind, SourceSpec, DEFAULT_MAX_MESSAGE_SIZE};
use mailtriage_core::parse;
use mailtriage_core::pipeline::{self, Options};
use mailtriage_core::privacy::{Redacted, Redactor};
use mailtriage_core::report::Summary;
use serde::Serialize;

use crate::exit::{Code, Failure};

/// Flags shared by the commands that read mail.
#[derive(Debug, Clone, clap::Args)]
pub struct InputArgs {
    /// A source: mbox:PATH, maildir:PATH, eml:PATH (a folder tree or one file), jsonl:PATH,
    /// or - for stdin (JSONL, mbox or one message, told by its first bytes). A bare path is
    /// detected. Repeat the flag to read several sources in turn.
    #[arg(long = "input", short = 'i', value_name = "SRC")]
    pub inputs: Vec<String>,
    /// Worker threads; 0 uses every core.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub threads: usize,
    /// Keep the input order in the output (costs a little throughput).
    #[arg(long)]
    pub ordered: bool,
    /// Messages larger than this are quarantined as too large (bytes, or with K, M, G;
    /// default 128M).
    #[arg(long, default_value_t = DEFAULT_MAX_MESSAGE_SIZE, value_parser = parse_size, value_name = "BYTES")]
    pub max_message_size: usize,
    /// Where to write quarantine records (JSONL), created only if a message is quarantined.
    #[arg(long, value_name = "PATH")]
    pub quarantine: Option<PathBuf>,
    /// Exit with code 5 when any message was quarantined.
    #[arg(long)]
    pub fail_on_quarantine: bool,
    /// Write the run's summary as JSON to this file.
    #[arg(long, value_name = "PATH")]
    pub summary: Option<PathBuf>,
    /// Print nothing on stderr but errors: no progress bar, no summary.
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub privacy: crate::privacy::PrivacyArgs,
}

/// `128M`, `4K`, `1G` or plain bytes.
pub fn parse_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let (digits, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => text.split_at(i),
        None => (text, ""),
    };
    let n: usize = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a size: give bytes, or a number with K, M or G"))?;
    let scale: usize = match unit.to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => 1 << 10,
        "M" | "MB" | "MIB" => 1 << 20,
        "G" | "GB" | "GIB" => 1 << 30,
        _ => return Err(format!("unknown size unit `{unit}`: use K, M or G")),
    };
    // mail-parser addresses a message's parts with 32-bit offsets.
    n.checked_mul(scale)
        .filter(|&size| u32::try_from(size).is_ok())
        .ok_or_else(|| format!("`{text}` is too large: the limit is 4G"))
}

/// The sources given by `--input`, read one after another.
struct Inputs {
    specs: VecDeque<SourceSpec>,
    current: Option<Source>,
    max_message_size: usize,
}

impl Iterator for Inputs {
    type Item = mailtriage_core::Result<Item>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.current.as_mut().and_then(Iterator::next) {
                return Some(item);
            }
            let spec = self.specs.pop_front()?;
            match spec.open(self.max_message_size) {
                Ok(source) => self.current = Some(source),
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

fn inputs(args: &InputArgs) -> Result<Inputs, Failure> {
    if args.inputs.is_empty() {
        return Err(Failure::new(
            Code::Usage,
            anyhow::anyhow!(
                "no input: give --input SRC (mbox:PATH, maildir:PATH, eml:PATH, jsonl:PATH or -)"
            ),
        ));
    }
    let specs = args
        .inputs
        .iter()
        .map(|s| SourceSpec::parse(s))
        .collect::<Result<VecDeque<_>, _>>()?;
    if specs.iter().filter(|s| s.kind == SourceKind::Stdin).count() > 1 {
        return Err(Failure::new(
            Code::Usage,
            anyhow::anyhow!("stdin (`-`) can be given only once as --input"),
        ));
    }
    Ok(Inputs {
        specs,
        current: None,
        max_message_size: args.max_message_size,
    })
}

/// What a worker hands back for one batch.
pub struct Batch<A> {
    records: Vec<u8>,
    quarantined: Vec<u8>,
    summary: Summary,
    acc: A,
}

/// Why a run stopped early.
enum RunError {
    Source(mailtriage_core::Error),
    Output(anyhow::Error),
    Internal(anyhow::Error),
}

impl From<mailtriage_core::Error> for RunError {
    fn from(e: mailtriage_core::Error) -> Self {
        RunError::Source(e)
    }
}

impl From<RunError> for Failure {
    fn from(e: RunError) -> Self {
        match e {
            RunError::Source(e) => e.into(),
            RunError::Output(e) => Failure::new(Code::Output, e),
            RunError::Internal(e) => Failure::new(Code::Internal, e),
        }
    }
}

/// Quarantine records go to a file that exists only if something was quarantined.
struct QuarantineFile {
    path: Option<PathBuf>,
    file: Option<BufWriter<File>>,
}

impl QuarantineFile {
    fn write(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        let Some(path) = &self.path else {
            return Ok(());
        };
        if self.file.is_none() {
            let file = File::create(path)
                .with_context(|| format!("cannot create the quarantine file {}", path.display()))?;
            self.file = Some(BufWriter::new(file));
        }
        if let Some(file) = &mut self.file {
            file.write_all(bytes)
                .with_context(|| format!("cannot write to {}", path.display()))?;
        }
        Ok(())
    }

    fn finish(&mut self) -> anyhow::Result<()> {
        if let (Some(file), Some(path)) = (&mut self.file, &self.path) {
            file.flush()
                .with_context(|| format!("cannot write to {}", path.display()))?;
        }
        Ok(())
    }
}

/// How a run went: the counts, and what it cost.
#[derive(Debug, Serialize)]
pub struct RunReport {
    #[serde(flatten)]
    pub summary: Summary,
    pub seconds: f64,
    pub messages_per_second: f64,
    pub mb_per_second: f64,
    pub threads: usize,
    pub peak_rss_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quarantine_file: Option<PathBuf>,
}

/// A run of the parse stage over `--input`, on all cores.
pub struct Run<'a> {
    pub args: &'a InputArgs,
    /// Every message is redacted by it before `per_email` sees it, and quarantine records
    /// before they are written.
    pub redactor: &'a Redactor,
    /// Where quarantine records go when `--quarantine` is not given (None: nowhere).
    pub default_quarantine: Option<PathBuf>,
}

impl Run<'_> {
    /// Parses every input message on the worker threads, calling `per_email` there (it may
    /// append output bytes), and `sink` on this thread with each batch's bytes and
    /// accumulator. Quarantine records are written here; the summary is returned.
    pub fn execute<A, F, S>(&self, per_email: F, mut sink: S) -> Result<RunReport, Failure>
    where
        A: Default + Send,
        F: Fn(Redacted, &mut A, &mut Vec<u8>) -> serde_json::Result<()> + Sync,
        S: FnMut(&[u8], A) -> anyhow::Result<()>,
    {
        let args = self.args;
        let source = inputs(args)?;
        let opts = Options {
            threads: if args.threads == 0 {
                Options::default().threads
            } else {
                args.threads
            },
            ordered: args.ordered,
            ..Options::default()
        };
        let mut quarantine = QuarantineFile {
            path: args
                .quarantine
                .clone()
                .or_else(|| self.default_quarantine.clone()),
            file: None,
        };
        let progress = progress_bar(args.quiet);
        let started = Instant::now();
        let mut summary = Summary::default();

        let work = |batch: Vec<Item>| -> serde_json::Result<Batch<A>> {
            let mut out = Batch {
                records: Vec::new(),
                quarantined: Vec::new(),
                summary: Summary::default(),
                acc: A::default(),
            };
            // Stage by stage over the batch rather than message by message: the code and
            // tables of each stage (the MIME parser, the detector's automata and word lists,
            // the tokenizer and the model) stay in the caches for a whole batch instead of
            // evicting each other at every message. Classify of the test split x8 on two
            // cores went from 3.09 s to 2.69 s (medians of six, the same decisions). The
            // batch is bounded in messages and bytes, so its parsed forms are too.
            let parsed: Vec<_> = batch
                .into_iter()
                .map(|item| match item {
                    Item::Mail(raw) => parse::parse(raw),
                    Item::Quarantined(q) => Err(Box::new(q)),
                })
                .collect();
            let redacted: Vec<_> = parsed
                .into_iter()
                .map(|parsed| {
                    parsed.map(|email| {
                        out.summary.add_email(&email);
                        self.redactor.redact(email)
                    })
                })
                .collect();
            for redacted in redacted {
                match redacted {
                    Ok(redacted) => per_email(redacted, &mut out.acc, &mut out.records)?,
                    Err(record) => {
                        let mut record = *record;
                        out.summary.add_quarantine(&record);
                        // What a human may look at is redacted like everything else.
                        record.first_bytes = self.redactor.redact_unparsed(&record.first_bytes);
                        record.detail = self.redactor.redact_unparsed(&record.detail);
                        write_json_line(&mut out.quarantined, &record)?;
                    }
                }
            }
            Ok(out)
        };
        let result = pipeline::run(source, &opts, work, |batch| -> Result<(), RunError> {
            let batch = batch.map_err(|e| {
                RunError::Internal(anyhow::Error::new(e).context("cannot serialise a record"))
            })?;
            quarantine
                .write(&batch.quarantined)
                .map_err(RunError::Output)?;
            progress.inc(batch.summary.read);
            if !progress.is_hidden() {
                let rate = progress.position() as f64 / started.elapsed().as_secs_f64().max(1e-3);
                progress.set_message(format!("{rate:.0} messages/s"));
            }
            summary.merge(&batch.summary);
            sink(&batch.records, batch.acc).map_err(RunError::Output)
        });
        progress.finish_and_clear();
        result?;
        quarantine
            .finish()
            .map_err(|e| Failure::new(Code::Output, e))?;

        if !summary.adds_up() {
            return Err(Failure::new(
                Code::Internal,
                anyhow::anyhow!(
                    "the counts do not add up (read {}, parsed {}, quarantined {}): a bug, please report it",
                    summary.read,
                    summary.parsed,
                    summary.quarantined
                ),
            ));
        }
        let seconds = started.elapsed().as_secs_f64().max(1e-9);
        let report = RunReport {
            messages_per_second: summary.read as f64 / seconds,
            mb_per_second: summary.bytes as f64 / 1e6 / seconds,
            seconds,
            threads: opts.threads,
            peak_rss_bytes: peak_rss_bytes(),
            quarantine_file: quarantine
                .file
                .is_some()
                .then(|| quarantine.path.clone())
                .flatten(),
            summary,
        };
        if let Some(path) = &args.summary {
            write_summary(path, &report).map_err(|e| Failure::new(Code::Output, e))?;
        }
        Ok(report)
    }
}

/// Where records go: a buffered file or stdout, and the quarantine file that goes with it
/// (`PATH.quarantine.jsonl`, or `./mailtriage-quarantine.jsonl` for stdout).
pub struct Output {
    pub writer: BufWriter<Box<dyn Write>>,
    pub name: String,
    pub to_stdout: bool,
    pub default_quarantine: PathBuf,
}

impl Output {
    /// Opens `path`, or stdout for `-`.
    pub fn open(path: &str) -> Result<Self, Failure> {
        let to_stdout = path == "-";
        let writer: BufWriter<Box<dyn Write>> = if to_stdout {
            BufWriter::with_capacity(1 << 20, Box::new(std::io::stdout().lock()))
        } else {
            let file = File::create(path)
                .with_context(|| format!("cannot create the output file {path}"))
                .map_err(|e| Failure::new(Code::Output, e))?;
            BufWriter::with_capacity(1 << 20, Box::new(file))
        };
        Ok(Output {
            writer,
            name: if to_stdout {
                "stdout".into()
            } else {
                path.to_string()
            },
            to_stdout,
            default_quarantine: if to_stdout {
                PathBuf::from("mailtriage-quarantine.jsonl")
            } else {
                PathBuf::from(format!("{path}.quarantine.jsonl"))
            },
        })
    }

    /// Writes one batch of records.
    pub fn write(&mut self, records: &[u8]) -> anyhow::Result<()> {
        self.writer
            .write_all(records)
            .with_context(|| format!("cannot write records to {}", self.name))
    }
}

/// Loads a model file and builds the redactor at the same time, on two threads: each takes
/// several milliseconds (the model's table; the name and place table and the detector's
/// patterns), which a process started per batch (a Spark partition's pipe) pays every time.
/// A model that cannot be loaded is reported before a redactor that cannot be built, as
/// when they were made one after the other.
pub fn load_model_and_redactor(
    path: &Path,
    privacy: &crate::privacy::PrivacyArgs,
) -> Result<((mailtriage_core::model::Model, String), Redactor), Failure> {
    let (model, redactor) = std::thread::scope(|scope| {
        let model = scope.spawn(|| load_model(path));
        let redactor = crate::privacy::redactor(privacy);
        // Loading only panics on a bug: its panic goes on here.
        let model = model
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e));
        (model, redactor)
    });
    Ok((model?, redactor?))
}

/// Loads a model file; a failure is an input error that names the file.
pub fn load_model(path: &Path) -> Result<(mailtriage_core::model::Model, String), Failure> {
    mailtriage_core::model::file::load(path)
        .with_context(|| format!("cannot load the model {}", path.display()))
        .map_err(|e| Failure::new(Code::Input, e))
}

/// Appends `value` as one JSON line.
pub fn write_json_line(out: &mut Vec<u8>, value: &impl Serialize) -> serde_json::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.push(b'\n');
    Ok(())
}

fn write_summary(path: &Path, report: &RunReport) -> anyhow::Result<()> {
    let mut json = serde_json::to_vec_pretty(report)?;
    json.push(b'\n');
    std::fs::write(path, json)
        .with_context(|| format!("cannot write the summary to {}", path.display()))
}

/// The closing lines on stderr, and the exit code the counts call for.
pub fn finish(args: &InputArgs, report: &RunReport) -> std::process::ExitCode {
    let s = &report.summary;
    if !args.quiet {
        eprintln!(
            "mailtriage: read {}, parsed {} ({} with defects), quarantined {}; {:.1} MB in {:.2} s ({:.0} messages/s, {:.1} MB/s, {} threads)",
            s.read,
            s.parsed,
            s.with_defects,
            s.quarantined,
            s.bytes as f64 / 1e6,
            report.seconds,
            report.messages_per_second,
            report.mb_per_second,
            report.threads,
        );
        if let Some(path) = &report.quarantine_file {
            let reasons: Vec<String> = s
                .quarantine_reasons
                .iter()
                .map(|(r, n)| format!("{r} {n}"))
                .collect();
            eprintln!(
                "mailtriage: quarantine records ({}) written to {}",
                reasons.join(", "),
                path.display()
            );
        }
    }
    if args.fail_on_quarantine && s.quarantined > 0 {
        std::process::ExitCode::from(Code::Quarantined as u8)
    } else {
        std::process::ExitCode::SUCCESS
    }
}

fn progress_bar(quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} {human_pos} messages  {msg}  {elapsed_precise}")
    {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// The process's peak resident memory, where the system tells it (Linux).
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_take_suffixes() {
        assert_eq!(parse_size("1024"), Ok(1024));
        assert_eq!(parse_size("4K"), Ok(4096));
        assert_eq!(parse_size("128M"), Ok(128 << 20));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert!(parse_size("12X").is_err());
        assert!(parse_size("M").is_err());
        assert!(parse_size("5G").is_err());
    }
}
