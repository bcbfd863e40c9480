//! End-to-end: train on labelled fixtures in each way labels are kept, then classify.
#![allow(clippy::unwrap_used)] // A test that cannot set up should stop loudly.

mod common;

use std::path::{Path, PathBuf};

use common::{bin, json_lines as decisions, ok, run_ok};
use serde_json::Value;

use common::{labelled, Row};

fn write_jsonl(path: &Path, rows: &[(String, Vec<u8>, &str)]) {
    use base64::Engine;
    let mut out = String::new();
    for (id, bytes, label) in rows {
        let mut record = serde_json::json!({"id": id, "label": label, "queue": if label == &"spam" { "junk" } else { "inbox" }});
        match std::str::from_utf8(bytes) {
            Ok(text) => record["raw"] = text.into(),
            Err(_) => {
                record["raw_base64"] = base64::engine::general_purpose::STANDARD
                    .encode(bytes)
                    .into();
            }
        }
        out.push_str(&record.to_string());
        out.push('\n');
    }
    std::fs::write(path, out).unwrap();
}

/// The labelled fixtures written to `DIR/d.jsonl` and a small model trained on them
/// (`--bits 18 --validation 0`, plus `extra`) at `DIR/m.mt`.
fn trained(dir: &Path, extra: &[&str]) -> (Vec<Row>, PathBuf, PathBuf) {
    let rows = labelled();
    let data = dir.join("d.jsonl");
    write_jsonl(&data, &rows);
    let model = dir.join("m.mt");
    let mut args = vec![
        "train",
        "-i",
        data.to_str().unwrap(),
        "--bits",
        "18",
        "--validation",
        "0",
        "-q",
    ];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--out", model.to_str().unwrap()]);
    run_ok(&args);
    (rows, data, model)
}

/// The decisions of `model` on `data`, in input order.
fn classify_in_order(model: &Path, data: &Path) -> Vec<Value> {
    let out = ok(bin().args([
        "classify",
        "--model",
        model.to_str().unwrap(),
        "-i",
        data.to_str().unwrap(),
        "-q",
        "--ordered",
    ]));
    decisions(&out.stdout)
}

#[test]
fn train_on_fields_then_classify_with_reasons() {
    let rows = labelled();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("train.jsonl");
    write_jsonl(&data, &rows);
    let model = dir.path().join("m.mt");
    let out = ok(bin()
        .args([
            "train",
            "-i",
            data.to_str().unwrap(),
            "--label-field",
            "label",
            "--label-field",
            "queue",
        ])
        .args([
            "--bits",
            "18",
            "--epochs",
            "8",
            "--validation",
            "0",
            "-q",
            "--out",
        ])
        .arg(&model));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("trained on {} messages", rows.len())),
        "{text}"
    );

    let decisions = classify_in_order(&model, &data);
    assert_eq!(decisions.len(), rows.len());
    // Trained on the same messages: it must reproduce their labels.
    for (d, (id, _, label)) in decisions.iter().zip(&rows) {
        assert_eq!(d["id"], id.as_str());
        let heads = d["heads"].as_array().unwrap();
        assert_eq!(heads.len(), 2);
        assert_eq!(heads[0]["head"], "label");
        assert_eq!(heads[0]["label"], *label, "{id}");
        assert_eq!(
            heads[1]["label"],
            if *label == "spam" { "junk" } else { "inbox" }
        );
        let p = heads[0]["probability"].as_f64().unwrap();
        assert!(p > 0.5 && p <= 1.0);
        assert_eq!(heads[0]["alternatives"].as_array().unwrap().len(), 1);
        assert!(!heads[0]["reasons"].as_array().unwrap().is_empty());
        assert!(d["model_version"].as_str().unwrap().len() == 16);
    }
}

#[test]
fn classify_streams_stdin_to_stdout() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let (rows, data, model) = trained(dir.path(), &["--label-field", "label"]);
    let mut child = bin()
        .args([
            "classify",
            "--model",
            model.to_str().unwrap(),
            "--input",
            "-",
            "--output",
            "-",
            "-q",
            "--ordered",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let input = std::fs::read(&data).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success());
    let got = decisions(&out.stdout);
    assert_eq!(got.len(), rows.len());
    assert_eq!(got[0]["id"], rows[0].0.as_str());
}

#[test]
fn labels_from_sources_and_from_maildir_folders() {
    let rows = labelled();
    let dir = tempfile::tempdir().unwrap();
    let (spam, ham): (Vec<_>, Vec<_>) = rows.iter().partition(|r| r.2 == "spam");
    // One source per label.
    let spam_dir = dir.path().join("spam");
    let ham_dir = dir.path().join("ham");
    for (d, set) in [(&spam_dir, &spam), (&ham_dir, &ham)] {
        std::fs::create_dir_all(d).unwrap();
        for (id, bytes, _) in set {
            std::fs::write(d.join(format!("{id}.eml")), bytes).unwrap();
        }
    }
    let model = dir.path().join("by-source.mt");
    ok(bin()
        .args([
            "train",
            "--head",
            "verdict",
            "-q",
            "--bits",
            "18",
            "--validation",
            "0",
        ])
        .arg(format!("--label=spam=eml:{}", spam_dir.display()))
        .arg(format!("--label=ham=eml:{}", ham_dir.display()))
        .arg("--out")
        .arg(&model));
    let out = bin()
        .args(["classify", "--model", model.to_str().unwrap(), "-q", "-i"])
        .arg(format!("eml:{}", spam_dir.display()))
        .output()
        .unwrap();
    let spam_decisions = decisions(&out.stdout);
    assert_eq!(spam_decisions.len(), spam.len());
    assert!(spam_decisions
        .iter()
        .all(|d| d["heads"][0]["head"] == "verdict" && d["heads"][0]["label"] == "spam"));

    // Maildir folders as labels.
    let maildir = dir.path().join("Mail");
    for (id, bytes, label) in &rows {
        let cur = maildir
            .join(if *label == "spam" { ".Junk" } else { "Support" })
            .join("cur");
        std::fs::create_dir_all(&cur).unwrap();
        std::fs::write(cur.join(format!("{id}:2,S")), bytes).unwrap();
    }
    let model = dir.path().join("by-folder.mt");
    ok(bin()
        .args([
            "train",
            "-q",
            "--bits",
            "18",
            "--validation",
            "0",
            "--label-field",
            "folder",
            "-i",
        ])
        .arg(format!("maildir:{}", maildir.display()))
        .arg("--out")
        .arg(&model));
    let out = bin()
        .args(["classify", "--model", model.to_str().unwrap(), "-q", "-i"])
        .arg(format!("maildir:{}", maildir.display()))
        .output()
        .unwrap();
    for d in decisions(&out.stdout) {
        let label = d["heads"][0]["label"].as_str().unwrap();
        assert!(label == "Junk" || label == "Support");
        assert_eq!(d["heads"][0]["head"], "folder");
    }
}

#[test]
fn training_without_labels_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("x.jsonl");
    std::fs::write(&data, "{\"id\":\"1\",\"raw\":\"Subject: a\\n\\nb\\n\"}\n").unwrap();
    let out = bin()
        .args([
            "train",
            "-i",
            data.to_str().unwrap(),
            "--out",
            "/tmp/never.mt",
            "-q",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--label-field"));
    let out = bin()
        .args([
            "train",
            "-i",
            data.to_str().unwrap(),
            "--label-field",
            "label",
            "--out",
            "/tmp/never.mt",
            "-q",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no labelled message"));
}

#[test]
fn eval_reports_metrics_coverage_and_html() {
    let dir = tempfile::tempdir().unwrap();
    let (rows, data, model) = trained(dir.path(), &["--label-field", "label"]);
    let report = dir.path().join("r.html");
    let out = ok(bin()
        .args([
            "eval",
            "--model",
            model.to_str().unwrap(),
            "-i",
            data.to_str().unwrap(),
            "--label-field",
            "label",
            "--json",
            "-q",
            "--report",
        ])
        .arg(&report));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let head = &json["heads"][0];
    assert_eq!(head["head"], "label");
    assert_eq!(head["n"], rows.len());
    assert!(head["accuracy"].as_f64().unwrap() > 0.9);
    assert!(head["ece"].as_f64().unwrap() >= 0.0);
    assert_eq!(head["coverage"].as_array().unwrap().len(), 3);
    assert_eq!(head["confusion"].as_array().unwrap().len(), 2);
    let html = std::fs::read_to_string(&report).unwrap();
    for part in [
        "<svg",
        "Confusion matrix",
        "Precision against coverage",
        "Reliability diagram",
    ] {
        assert!(html.contains(part), "report lacks {part}");
    }

    let text = bin()
        .args([
            "eval",
            "--model",
            model.to_str().unwrap(),
            "-i",
            data.to_str().unwrap(),
            "--label-field",
            "label",
            "-q",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("macro-F1") && text.contains("confusion") && text.contains("precision:"),
        "{text}"
    );

    let wrong_head = bin()
        .args([
            "eval",
            "--model",
            model.to_str().unwrap(),
            "-i",
            data.to_str().unwrap(),
            "--label-field",
            "queue",
            "--head",
            "nope",
            "-q",
        ])
        .output()
        .unwrap();
    assert_eq!(wrong_head.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&wrong_head.stderr).contains("its heads: label"));
}

#[test]
fn learn_applies_each_correction_once_and_thresholds_set_review() {
    let dir = tempfile::tempdir().unwrap();
    let (rows, data, model) = trained(dir.path(), &["--label-field", "label", "--epochs", "1"]);
    // Corrections: every message relabelled the other way round, so learning must move them.
    let flipped: Vec<(String, Vec<u8>, &str)> = rows
        .iter()
        .take(5)
        .map(|(id, b, l)| {
            (
                id.clone(),
                b.clone(),
                if *l == "spam" { "ham" } else { "spam" },
            )
        })
        .collect();
    let feedback = dir.path().join("corrections.jsonl");
    write_jsonl(&feedback, &flipped);
    let m2 = dir.path().join("m2.mt");
    let out = ok(bin()
        .args([
            "learn",
            "--model",
            model.to_str().unwrap(),
            "--feedback",
            feedback.to_str().unwrap(),
            "--epochs",
            "20",
            "-q",
            "--out",
        ])
        .arg(&m2));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("learned 5 correction(s), 0 already learned")
    );
    let classify = |m: &Path| {
        let out = bin()
            .args([
                "classify",
                "--model",
                m.to_str().unwrap(),
                "-i",
                feedback.to_str().unwrap(),
                "-q",
                "--ordered",
            ])
            .output()
            .unwrap();
        decisions(&out.stdout)
            .iter()
            .map(|d| d["heads"][0]["label"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let wanted: Vec<String> = flipped.iter().map(|r| r.2.to_string()).collect();
    assert_eq!(classify(&m2), wanted, "the corrections were learned");

    // The same corrections again: nothing is learned, the weights do not move.
    let m3 = dir.path().join("m3.mt");
    let out = bin()
        .args([
            "learn",
            "--model",
            m2.to_str().unwrap(),
            "--feedback",
            feedback.to_str().unwrap(),
            "-q",
            "--out",
        ])
        .arg(&m3)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("learned 0 correction(s), 5 already learned")
    );

    // Thresholds: with an unreachable target every message goes to review.
    ok(bin().args([
        "thresholds",
        "--model",
        m3.to_str().unwrap(),
        "-i",
        data.to_str().unwrap(),
        "--target-precision",
        "1.0",
        "-q",
    ]));
    let out = bin()
        .args([
            "classify",
            "--model",
            m3.to_str().unwrap(),
            "-i",
            data.to_str().unwrap(),
            "-q",
        ])
        .output()
        .unwrap();
    let all = decisions(&out.stdout);
    let reviewed = all.iter().filter(|d| d["review"] == true).count();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(reviewed > 0, "{text}");
}

#[test]
fn classify_writes_parquet_that_reads_back() {
    use arrow_array::{Array, StringArray};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    let dir = tempfile::tempdir().unwrap();
    let (rows, data, model) = trained(
        dir.path(),
        &["--label-field", "label", "--label-field", "queue"],
    );
    let parquet = dir.path().join("decisions.parquet");
    ok(bin()
        .args([
            "classify",
            "--model",
            model.to_str().unwrap(),
            "-i",
            data.to_str().unwrap(),
            "--format",
            "parquet",
            "-q",
            "-o",
        ])
        .arg(&parquet));
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&parquet).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let mut n = 0;
    let mut ids = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        let names: Vec<String> = batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        for column in [
            "id",
            "review",
            "model_version",
            "label_label",
            "label_probability",
            "queue_label",
            "queue_reasons",
        ] {
            assert!(
                names.iter().any(|n| n == column),
                "missing {column} in {names:?}"
            );
        }
        let id = batch
            .column_by_name("id")
            .unwrap()
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        ids.extend((0..id.len()).map(|i| id.value(i).to_string()));
        n += batch.num_rows();
    }
    assert_eq!(n, rows.len());
    ids.sort();
    let mut expected: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
    expected.sort();
    assert_eq!(ids, expected);
}

#[test]
fn shard_models_merge_into_one_that_classifies_every_shard() {
    // Scale-out: a model per half of the data, averaged by `merge`. The merged model must
    // know what both shards learned: it classifies the whole set at least as well as
    // either shard model alone, and it records its parents' versions.
    let dir = tempfile::tempdir().unwrap();
    let rows = labelled();
    let (left, right): (Vec<_>, Vec<_>) = rows
        .iter()
        .cloned()
        .enumerate()
        .partition(|(i, _)| i % 2 == 0);
    let mut shard_models = Vec::new();
    for (name, shard) in [("a", left), ("b", right)] {
        let shard: Vec<Row> = shard.into_iter().map(|(_, r)| r).collect();
        let data = dir.path().join(format!("{name}.jsonl"));
        write_jsonl(&data, &shard);
        let model = dir.path().join(format!("{name}.mt"));
        run_ok([
            "train",
            "-i",
            data.to_str().unwrap(),
            "--label-field",
            "label",
            "--bits",
            "18",
            "--validation",
            "0",
            "-q",
            "--out",
            model.to_str().unwrap(),
        ]);
        shard_models.push(model);
    }
    let all = dir.path().join("all.jsonl");
    write_jsonl(&all, &rows);
    let merged = dir.path().join("merged.mt");
    let out = run_ok([
        "merge",
        shard_models[0].to_str().unwrap(),
        shard_models[1].to_str().unwrap(),
        "--out",
        merged.to_str().unwrap(),
    ]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("merged 2 models"), "{said}");

    let accuracy = |model: &Path| -> f64 {
        let out = run_ok([
            "eval",
            "--model",
            model.to_str().unwrap(),
            "-i",
            all.to_str().unwrap(),
            "--label-field",
            "label",
            "--json",
            "-q",
        ]);
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        report["heads"][0]["accuracy"].as_f64().unwrap()
    };
    let merged_accuracy = accuracy(&merged);
    for shard in &shard_models {
        assert!(
            merged_accuracy >= accuracy(shard),
            "merged {merged_accuracy} below a shard"
        );
    }
    assert!(merged_accuracy > 0.9, "{merged_accuracy}");

    // Models with other labels cannot be averaged: a usage-level error, not a crash.
    let other = dir.path().join("other.mt");
    run_ok([
        "train",
        "-i",
        all.to_str().unwrap(),
        "--label-field",
        "queue",
        "--bits",
        "18",
        "--validation",
        "0",
        "-q",
        "--out",
        other.to_str().unwrap(),
    ]);
    let refused = bin()
        .args([
            "merge",
            merged.to_str().unwrap(),
            other.to_str().unwrap(),
            "--out",
        ])
        .arg(dir.path().join("x.mt"))
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("cannot merge"));
}

#[test]
fn shuffles_give_the_same_model_on_any_number_of_threads() {
    let decide = |threads: &str| {
        let dir = tempfile::tempdir().unwrap();
        let (_, data, model) = trained(
            dir.path(),
            &[
                "--label-field",
                "label",
                "--shuffles",
                "3",
                "--epochs",
                "2",
                "--threads",
                threads,
            ],
        );
        classify_in_order(&model, &data)
            .into_iter()
            .map(|d| d["heads"].clone())
            .collect::<Vec<Value>>()
    };
    let one = decide("1");
    assert!(!one.is_empty());
    assert_eq!(one, decide("2"), "same data, seed and shuffles: same model");
    let out = bin()
        .args(["train", "-i", "x.jsonl", "--out", "m.mt", "--shuffles", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "--shuffles 0 is a usage error");
}
