//! Where `classify`'s time goes, stage by stage, on one core and in one process: each stage
//! of the pipeline is run over every message of a source, several rounds, and the fastest
//! round's time per message is printed. No threads, no I/O but the source's, so that a
//! change to one stage can be measured to a few percent where whole-process runs vary more.
//!
//! ```text
//! cargo run --release -p mailtriage-core --example stages -- \
//!     data/spamassassin/test.jsonl target/bench-triage/model.mt data/dictionaries
//! ```
//!
//! The model is any `mailtriage train` output (`scripts/bench-triage.sh` leaves one at
//! `target/bench-triage/model.mt`); the dictionaries folder is `scripts/fetch-dictionaries.sh`'s.
//! This binary uses the system allocator, not the CLI's mimalloc: its figures are a little
//! higher than the CLI's share of the same stage.

use std::error::Error;
use std::path::Path;
use std::time::Instant;

use mailtriage_core::ingest::{Item, SourceSpec};
use mailtriage_core::privacy::{Dictionaries, Policy, Redactor};
use mailtriage_core::{features, model, parse, triage, Email, RawMail};

/// Rounds per stage; the fastest counts (the others met other work on the machine).
const ROUNDS: usize = 9;

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [source, model_path, dictionaries] = args.as_slice() else {
        return Err("usage: stages SOURCE MODEL DICTIONARIES_DIR".into());
    };
    let dir = Path::new(dictionaries);
    let read = |name: &str| std::fs::read_to_string(dir.join(name));
    let dictionaries = Dictionaries::from_lists(
        &read("first_names.txt")?,
        &read("surnames.txt")?,
        &read("places.txt")?,
        &read("ambiguous.txt").unwrap_or_default(),
    );
    let redactor = Redactor::new(Policy::default(), None, dictionaries)?;
    let (model, version) = model::file::load(Path::new(model_path))?;
    let spec = SourceSpec::parse(source)?;

    let mut raws: Vec<RawMail> = Vec::new();
    for item in spec.open(1 << 27)? {
        if let Item::Mail(raw) = item? {
            raws.push(raw);
        }
    }
    let emails: Vec<Email> = raws
        .iter()
        .filter_map(|raw| parse::parse(raw.clone()).ok())
        .collect();
    let redacted: Vec<_> = emails.iter().map(|e| redactor.redact(e.clone())).collect();
    let n = raws.len();
    if n == 0 || emails.len() != n {
        return Err(format!("{source}: {n} messages, {} parsed", emails.len()).into());
    }

    // Each stage's input is made before its clock starts (parse and redact take theirs by
    // value: a fresh copy per round); `sink` keeps the work from being optimised away.
    let mut sink = 0usize;
    let mut best = |stage: &mut dyn FnMut() -> (f64, usize)| {
        (0..ROUNDS)
            .map(|_| {
                let (seconds, work) = stage();
                sink += work;
                seconds
            })
            .fold(f64::MAX, f64::min)
    };
    let mut stages: Vec<(&str, f64)> = Vec::new();
    stages.push((
        "read (source to RawMail)",
        best(&mut || {
            let t = Instant::now();
            let read = spec.open(1 << 27).map_or(0, Iterator::count);
            (t.elapsed().as_secs_f64(), read)
        }),
    ));
    stages.push((
        "parse (RawMail to Email)",
        best(&mut || {
            let copies = raws.clone();
            let t = Instant::now();
            let size: usize = copies
                .into_iter()
                .map(|raw| parse::parse(raw).map_or(0, |e| e.size))
                .sum();
            (t.elapsed().as_secs_f64(), size)
        }),
    ));
    stages.push((
        "redact (Email to Redacted)",
        best(&mut || {
            let copies = emails.clone();
            let t = Instant::now();
            let text: usize = copies
                .into_iter()
                .map(|e| redactor.redact(e).email().body.text.len())
                .sum();
            (t.elapsed().as_secs_f64(), text)
        }),
    ));
    stages.push((
        "features (Redacted to Features)",
        best(&mut || {
            let t = Instant::now();
            let entries: usize = redacted
                .iter()
                .map(|r| features::extract(r, &model.features).entries.len())
                .sum();
            (t.elapsed().as_secs_f64(), entries)
        }),
    ));
    let extracted: Vec<_> = redacted
        .iter()
        .map(|r| features::extract(r, &model.features))
        .collect();
    stages.push((
        "score, decide, decision JSON",
        best(&mut || {
            let mut out = Vec::with_capacity(1 << 10);
            let t = Instant::now();
            let bytes: usize = redacted
                .iter()
                .zip(&extracted)
                .map(|(r, f)| {
                    let scores = model.score_features(f);
                    let decision = triage::decide(r, f, &model, &version, &scores, 5);
                    out.clear();
                    serde_json::to_writer(&mut out, &decision).map_or(0, |()| out.len())
                })
                .sum();
            (t.elapsed().as_secs_f64(), bytes)
        }),
    ));

    println!("{n} messages from {source}, one core, fastest of {ROUNDS} rounds (us per message)");
    let per_message = |seconds: f64| seconds * 1e6 / n as f64;
    for (name, seconds) in &stages {
        println!("  {name:<34}{:>6.1}", per_message(*seconds));
    }
    let total: f64 = stages.iter().map(|(_, s)| per_message(*s)).sum();
    println!("  {:<34}{total:>6.1}  ({sink})", "total");
    Ok(())
}
