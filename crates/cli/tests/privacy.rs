//! End-to-end privacy: mail seeded with known personal data goes through every command, and
//! no raw value may appear in any output, model file, quarantine file or log; pseudonyms are
//! stable across processes with one key and differ with another.
#![allow(clippy::unwrap_used)] // A test that cannot set up should stop loudly.

mod common;

use std::fmt::Write as _;
use std::path::Path;

use common::{bin, golden, json_lines, ok, run_ok};

/// The seeded values, as written in the mail. Each must vanish from every output.
const SECRETS: &[&str] = &[
    "Ximena Okonkwo-Lindqvist",
    "Okonkwo",
    "Lindqvist",
    "ximena.okonkwo@privatemail.example",
    "ximena.okonkwo",
    "4111 1111 1111 1111",
    "4111111111111111",
    "536-22-1234",
    "DE89 3704 0044 0532 0130 00",
    "+1 415 555 2671",
    "415 555 2671",
    "203.0.113.77",
    "AKIAIOSFODNN7EXAMPLE",
    "hunter2-Correct-Horse",
    "/u/ximena/reset",
];

fn seeded(n: usize, spam: bool) -> String {
    let subject = if spam {
        "WIN A PRIZE now, Ximena"
    } else {
        "Re: my account"
    };
    format!(
        "From: \"Ximena Okonkwo-Lindqvist\" <ximena.okonkwo@privatemail.example>\n\
         To: \"Support Team\" <support@bank.example>\n\
         Subject: {subject} {n}\n\
         Date: Tue, 2 Jan 2024 09:15:00 +0100\n\
         Message-ID: <{n}.seed@privatemail.example>\n\n\
         Hi Support,\n\nmy card 4111 1111 1111 1111 was charged twice. SSN 536-22-1234,\n\
         IBAN DE89 3704 0044 0532 0130 00, phone +1 415 555 2671, last login from 203.0.113.77.\n\
         Key AKIAIOSFODNN7EXAMPLE, password: hunter2-Correct-Horse\n\
         Reset link: https://bank.example/u/ximena/reset\n\n\
         Regards,\nXimena Okonkwo-Lindqvist\n"
    )
}

fn write_jsonl(path: &Path) {
    let mut out = String::new();
    for (name, bytes) in golden() {
        let label = if name.contains("spam") || name.contains("phishing") {
            "spam"
        } else {
            "ham"
        };
        if let Ok(text) = std::str::from_utf8(&bytes) {
            out.push_str(&serde_json::json!({"id": name, "raw": text, "label": label}).to_string());
            out.push('\n');
        }
    }
    for n in 0..12 {
        let spam = n % 2 == 0;
        let record = serde_json::json!({
            "id": format!("seeded-{n}"),
            "raw": seeded(n, spam),
            "label": if spam { "spam" } else { "ham" },
        });
        out.push_str(&record.to_string());
        out.push('\n');
    }
    // Not a message (no header): quarantined, and its first bytes must be redacted too.
    out.push_str(
        &serde_json::json!({"id": "broken", "raw": "card 4111 1111 1111 1111 for Ximena Okonkwo-Lindqvist, ssn 536-22-1234", "label": "ham"})
            .to_string(),
    );
    out.push('\n');
    std::fs::write(path, out).unwrap();
}

/// Every raw value, and its lower-case form (features are lower-cased), absent from `bytes`.
fn assert_clean(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let lower = text.to_lowercase();
    for secret in SECRETS {
        assert!(
            !text.contains(secret) && !lower.contains(&secret.to_lowercase()),
            "`{secret}` leaked into {what}"
        );
    }
}

#[test]
fn no_raw_value_reaches_any_output() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = d.join("mail.jsonl");
    write_jsonl(&data);
    let p = |name: &str| d.join(name).to_str().unwrap().to_string();
    let mut logs: Vec<(String, Vec<u8>)> = Vec::new();
    let mut run = |name: &str, args: &[&str]| {
        let out = bin().args(args).output().unwrap();
        assert!(
            out.status.success() || out.status.code() == Some(5),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        logs.push((format!("{name} stdout"), out.stdout));
        logs.push((format!("{name} stderr"), out.stderr));
    };
    run(
        "parse",
        &["parse", "-i", &p("mail.jsonl"), "-o", &p("parsed.jsonl")],
    );
    run("stats", &["stats", "-i", &p("mail.jsonl"), "--json"]);
    run(
        "train",
        &[
            "train",
            "-i",
            &p("mail.jsonl"),
            "--label-field",
            "label",
            "--bits",
            "18",
            "--out",
            &p("m.mt"),
        ],
    );
    run(
        "classify",
        &[
            "classify",
            "--model",
            &p("m.mt"),
            "-i",
            &p("mail.jsonl"),
            "-o",
            &p("d.jsonl"),
        ],
    );
    run(
        "classify parquet",
        &[
            "classify",
            "--model",
            &p("m.mt"),
            "-i",
            &p("mail.jsonl"),
            "-o",
            &p("d.parquet"),
            "--format",
            "parquet",
        ],
    );
    run(
        "eval",
        &[
            "eval",
            "--model",
            &p("m.mt"),
            "-i",
            &p("mail.jsonl"),
            "--label-field",
            "label",
            "--json",
            "--report",
            &p("r.html"),
        ],
    );
    run(
        "thresholds",
        &[
            "thresholds",
            "--model",
            &p("m.mt"),
            "-i",
            &p("mail.jsonl"),
            "--label-field",
            "label=label",
            "--target-precision",
            "0.9",
            "--out",
            &p("t.mt"),
        ],
    );
    run(
        "learn",
        &[
            "learn",
            "--model",
            &p("m.mt"),
            "--feedback",
            &p("mail.jsonl"),
            "--label-field",
            "label=label",
            "--out",
            &p("l.mt"),
        ],
    );
    run(
        "redact",
        &[
            "redact",
            "-i",
            &p("mail.jsonl"),
            "-o",
            &p("red.jsonl"),
            "--findings",
            &p("f.jsonl"),
        ],
    );
    run(
        "redact mbox",
        &[
            "redact",
            "-i",
            &p("mail.jsonl"),
            "-o",
            &p("red.mbox"),
            "--format",
            "mbox",
        ],
    );

    for (what, bytes) in &logs {
        assert_clean(what, bytes);
    }
    let mut files = 0;
    for entry in std::fs::read_dir(d).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap() == "mail.jsonl" {
            continue;
        }
        assert_clean(&path.display().to_string(), &std::fs::read(&path).unwrap());
        files += 1;
    }
    // Decisions, models, reports, quarantine files and redacted copies were all checked.
    assert!(files >= 12, "only {files} outputs");
    let quarantine = std::fs::read_to_string(d.join("d.jsonl.quarantine.jsonl")).unwrap();
    assert!(quarantine.contains("[CARD]"), "{quarantine}");
    // And the seeded messages were found, not just missed: the findings say so.
    let findings = std::fs::read_to_string(d.join("f.jsonl")).unwrap();
    for kind in [
        "CREDIT_CARD",
        "US_SSN",
        "IBAN_CODE",
        "PHONE_NUMBER",
        "IP_ADDRESS",
        "SECRET",
        "PERSON",
        "EMAIL_ADDRESS",
    ] {
        assert!(findings.contains(kind), "{kind} not found");
    }
}

#[test]
fn pseudonyms_are_stable_across_processes_and_keyed() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "[operators]\nEMAIL_ADDRESS = \"pseudonymise\"\nPERSON = \"pseudonymise\"\n[email]\nkeep_domain = false\n",
    )
    .unwrap();
    let key_file = dir.path().join("key");
    std::fs::write(&key_file, "another secret key, 32 bytes long\n").unwrap();
    let text = "Dear Ximena, write to ximena.okonkwo@privatemail.example";
    let with_env = |key: &str| {
        let out = ok(bin()
            .args([
                "redact",
                "-q",
                "--policy",
                policy.to_str().unwrap(),
                "--text",
                text,
            ])
            .env("MAILTRIAGE_PSEUDONYM_KEY", key));
        String::from_utf8(out.stdout).unwrap()
    };
    let one = with_env("first secret key, at least 16 bytes");
    let again = with_env("first secret key, at least 16 bytes");
    assert_eq!(one, again, "the same key gives the same pseudonyms");
    assert!(one.contains("<PERSON_") && one.contains("<EMAIL_"), "{one}");
    assert!(!one.contains("Ximena") && !one.contains("okonkwo"), "{one}");
    let other = with_env("a different key, also 16+ bytes");
    assert_ne!(one, other, "another key gives other pseudonyms");
    let from_file = run_ok([
        "redact",
        "-q",
        "--policy",
        policy.to_str().unwrap(),
        "--key-file",
        key_file.to_str().unwrap(),
        "--text",
        text,
    ]);
    assert_ne!(String::from_utf8(from_file.stdout).unwrap(), one);

    // No key: refused, and the message says where a key comes from, never what it is.
    let refused = bin()
        .args([
            "redact",
            "--policy",
            policy.to_str().unwrap(),
            "--text",
            text,
        ])
        .env_remove("MAILTRIAGE_PSEUDONYM_KEY")
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("no key"));
}

#[test]
fn message_findings_give_spans_per_field() {
    let dir = tempfile::tempdir().unwrap();
    let body = "Hi,\nmy card is 4111 1111 1111 1111, thanks.\n";
    let eml = dir.path().join("m.eml");
    std::fs::write(
        &eml,
        format!("From: a@example.com\nSubject: call +44 20 7946 0958\n\n{body}"),
    )
    .unwrap();
    let findings = dir.path().join("f.jsonl");
    let out = common::bin()
        .args(["redact", "-q", "-i", &format!("eml:{}", eml.display())])
        .args(["--findings", findings.to_str().unwrap(), "-o", "-"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&findings).unwrap().trim()).unwrap();
    let field = |name: &str| {
        line["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["field"] == name)
            .unwrap_or_else(|| panic!("no {name} in {line}"))["spans"][0]
            .clone()
    };
    let card = field("body");
    assert_eq!(card["type"], "CREDIT_CARD");
    let (b, e) = (
        card["bstart"].as_u64().unwrap() as usize,
        card["bend"].as_u64().unwrap() as usize,
    );
    assert_eq!(&body[b..e], "4111 1111 1111 1111");
    assert_eq!(field("subject")["type"], "PHONE_NUMBER");
    assert_eq!(line["findings"]["counts"]["CREDIT_CARD"], 1);
}

#[test]
fn text_field_records_come_out_redacted_in_order_with_their_spans() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    // More records than one block (2048 lines), so that blocks are reused and reordered
    // across threads; a blank line, a line that is not JSON and one without the field among
    // them.
    let mut lines = String::new();
    for i in 0..5000 {
        match i {
            100 => lines.push('\n'),
            2500 => lines.push_str("not json\n"),
            4000 => lines.push_str("{\"id\": 4000, \"other\": \"x\"}\n"),
            _ => {
                let _ = writeln!(
                    lines,
                    "{{\"id\": {i}, \"text\": \"Call me on +1 415 555 0{:03} or mail r{i}@example.org\\n\", \"extra\": [1, 2]}}",
                    i % 1000
                );
            }
        }
    }
    std::fs::write(&input, lines).unwrap();
    let output = dir.path().join("out.jsonl");
    let findings = dir.path().join("findings.jsonl");
    let out = ok(bin().args([
        "redact",
        "--input",
        &format!("jsonl:{}", input.display()),
        "--text-field",
        "text",
        "--output",
        output.to_str().unwrap(),
        "--findings",
        findings.to_str().unwrap(),
        "--threads",
        "2",
    ]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 2501: not a JSON object"), "{stderr}");
    assert!(
        stderr.contains("line 4001: no text field `text`"),
        "{stderr}"
    );
    assert!(stderr.contains("(2 skipped)"), "{stderr}");

    let records = json_lines(&std::fs::read(&output).unwrap());
    let spans = json_lines(&std::fs::read(&findings).unwrap());
    assert_eq!(records.len(), 4997);
    assert_eq!(spans.len(), 4997);
    let expected: Vec<u64> = (0..5000)
        .filter(|i| ![100, 2500, 4000].contains(i))
        .collect();
    let ids: Vec<u64> = records.iter().map(|r| r["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, expected, "records come out in input order");
    let span_ids: Vec<u64> = spans.iter().map(|r| r["id"].as_u64().unwrap()).collect();
    assert_eq!(span_ids, expected);
    for (record, found) in records.iter().zip(&spans) {
        let text = record["text"].as_str().unwrap();
        // The default policy keeps an address's domain, never its local part.
        let local = format!("r{}@", record["id"]);
        assert!(
            !text.contains("415 555") && !text.contains(&local),
            "{text}"
        );
        assert_eq!(text, "Call me on [PHONE] or mail [EMAIL]@example.org\n");
        let types: Vec<&str> = found["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["type"].as_str().unwrap())
            .collect();
        assert_eq!(types, ["PHONE_NUMBER", "EMAIL_ADDRESS"], "{found}");
        // Offsets are into the original text: the phone number starts after "Call me on ".
        assert_eq!(found["findings"][0]["start"], 11);
        assert_eq!(found["findings"][0]["bstart"], 11);
    }

    // Without --findings, the same redacted records.
    let again = dir.path().join("again.jsonl");
    run_ok([
        "redact",
        "-q",
        "--input",
        &format!("jsonl:{}", input.display()),
        "--text-field",
        "text",
        "--output",
        again.to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read(&again).unwrap(),
        std::fs::read(&output).unwrap()
    );
}

/// The dictionaries' table is cached in their folder: a later start reads it back and finds
/// the same names; a damaged cache is rebuilt, and changed lists are never answered from the
/// cache of the old ones.
#[test]
fn the_dictionary_table_is_cached_and_never_stale() {
    let dir = tempfile::tempdir().unwrap();
    let dicts = dir.path();
    let write_lists = |places: &str| {
        std::fs::write(dicts.join("first_names.txt"), "Maria\nJohn\n").unwrap();
        std::fs::write(dicts.join("surnames.txt"), "Quenby\n").unwrap();
        std::fs::write(dicts.join("places.txt"), places).unwrap();
    };
    let text = "Then Maria Quenby flew to Lisbon, and on to Porto.";
    let redact = || {
        let out = run_ok([
            "redact",
            "-q",
            "--dictionaries",
            dicts.to_str().unwrap(),
            "--text",
            text,
        ]);
        String::from_utf8(out.stdout).unwrap()
    };
    let cache = dicts.join("table.cache");
    write_lists("Lisbon\nSan Francisco\n");
    let built = redact();
    assert!(
        built.contains("[PERSON]") && !built.contains("Lisbon"),
        "{built}"
    );
    assert!(built.contains("Porto"), "{built}");
    let written = std::fs::read(&cache).expect("the first start writes the cache");
    assert_eq!(redact(), built, "read back from the cache");

    // Damaged: refused and rebuilt whole.
    std::fs::write(&cache, &written[..written.len() / 2]).unwrap();
    assert_eq!(redact(), built);
    assert_eq!(std::fs::read(&cache).unwrap(), written);

    // Other lists: a new table, not the cached one.
    write_lists("Lisbon\nSan Francisco\nPorto\n");
    let changed = redact();
    assert!(!changed.contains("Porto"), "{changed}");
    assert_ne!(std::fs::read(&cache).unwrap(), written);
}
