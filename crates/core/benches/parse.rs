//! The parse kernel: mail-parser alone against our whole `parse` (mail-parser, header
//! extraction, defect scan, HTML to text, owned records), over the SpamAssassin corpus when
//! `scripts/fetch-corpus.sh` has been run, else over the golden fixtures.
//!
//! Also feature extraction alone, over the parsed corpus.
//!
//! `cargo bench -p mailtriage-core --bench parse`
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use mailtriage_core::ingest::{Origin, RawMail};
use mailtriage_core::parse;

fn corpus() -> (String, Vec<Vec<u8>>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let eml = root.join("data/spamassassin/eml");
    let (name, dir) = if eml.is_dir() {
        ("spamassassin", eml)
    } else {
        ("golden", root.join("crates/core/tests/golden"))
    };
    let mut files = Vec::new();
    collect(&dir, &mut files);
    files.sort();
    let messages = files.iter().filter_map(|p| std::fs::read(p).ok()).collect();
    (name.to_string(), messages)
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "eml") {
            out.push(path);
        }
    }
}

fn bench(c: &mut Criterion) {
    let (name, messages) = corpus();
    let bytes: usize = messages.iter().map(Vec::len).sum();
    let mut group = c.benchmark_group(format!("parse/{name}"));
    group.throughput(Throughput::Elements(messages.len() as u64));
    group.sample_size(20);
    eprintln!("{} messages, {bytes} bytes", messages.len());

    group.bench_function("mail-parser alone (text bodies)", |b| {
        let parser = mail_parser::MessageParser::default();
        b.iter(|| {
            let mut chars = 0;
            for m in &messages {
                if let Some(msg) = parser.parse(m) {
                    for i in 0..msg.text_body_count() {
                        chars += msg.body_text(i).map_or(0, |t| t.len());
                    }
                }
            }
            chars
        });
    });
    group.bench_function("mailtriage parse (one core)", |b| {
        b.iter_batched(
            || {
                messages
                    .iter()
                    .map(|m| RawMail::new(Origin::Stdin { offset: 0 }, m.clone()))
                    .collect::<Vec<_>>()
            },
            |raws| {
                raws.into_iter()
                    .filter_map(|r| parse::parse(r).ok())
                    .map(|e| e.body.text.len())
                    .sum::<usize>()
            },
            BatchSize::LargeInput,
        );
    });
    let redacted: Vec<_> = messages
        .iter()
        .filter_map(|m| parse::parse(RawMail::new(Origin::Stdin { offset: 0 }, m.clone())).ok())
        .map(mailtriage_core::privacy::redact)
        .collect();
    let config = mailtriage_core::features::FeatureConfig::default();
    group.bench_function("features (extract only)", |b| {
        b.iter(|| {
            redacted
                .iter()
                .map(|r| mailtriage_core::features::extract(r, &config).entries.len())
                .sum::<usize>()
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
