//! The redaction kernel: `Detector::find` and `Redactor::redact_text` over the texts of the
//! labelled PII set (`../shared/pii/dev.jsonl`, else the golden fixtures' bodies), with the
//! name and place dictionaries of `scripts/fetch-dictionaries.sh` when they are there. The
//! end-to-end figure against Presidio is `scripts/bench-pii.sh`; this one isolates detection
//! from JSON and I/O, in MB of text per second on one core.
//!
//! `cargo bench -p mailtriage-core --bench redact`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mailtriage_core::privacy::{Detector, Dictionaries, Policy, Redactor};

fn texts() -> (String, Vec<String>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dev = root.join("../shared/pii/dev.jsonl");
    if let Ok(data) = std::fs::read_to_string(&dev) {
        let texts = data
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| v.get("text")?.as_str().map(str::to_string))
            .collect();
        return ("pii-dev".into(), texts);
    }
    let golden = root.join("crates/core/tests/golden");
    let mut texts = Vec::new();
    for entry in std::fs::read_dir(golden).into_iter().flatten().flatten() {
        if let Ok(bytes) = std::fs::read(entry.path()) {
            texts.push(String::from_utf8_lossy(&bytes).into_owned());
        }
    }
    ("golden".into(), texts)
}

fn dictionaries() -> Dictionaries {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/dictionaries");
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_default();
    Dictionaries::from_lists(
        &read("first_names.txt"),
        &read("surnames.txt"),
        &read("places.txt"),
        &read("ambiguous.txt"),
    )
}

fn bench(c: &mut Criterion) {
    let (name, texts) = texts();
    let bytes: usize = texts.iter().map(String::len).sum();
    let dict = dictionaries();
    let mut group = c.benchmark_group(format!("redact/{name}"));
    group.throughput(Throughput::Bytes(bytes as u64));
    group.sample_size(20);
    let detector = Detector::new(&[], dict.clone()).expect("the built-in patterns compile");
    group.bench_function("detect (one core)", |b| {
        b.iter(|| {
            texts
                .iter()
                .map(|t| detector.find(t, &[]).len())
                .sum::<usize>()
        });
    });
    let redactor = Redactor::new(Policy::default(), None, dict).expect("the default policy");
    group.bench_function("detect and mask (one core)", |b| {
        b.iter(|| {
            texts
                .iter()
                .map(|t| redactor.redact_text(t, &[]).0.len())
                .sum::<usize>()
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
