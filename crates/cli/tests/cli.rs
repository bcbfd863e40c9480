//! End-to-end tests of the `mailtriage` binary over real mail: the golden fixtures written
//! out as mbox, Maildir, JSONL and `.eml` trees, plus broken input.
#![allow(clippy::unwrap_used)] // A test that cannot set up should stop loudly.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Output, Stdio};

use common::{bin, golden, json_lines as records};
use serde_json::Value;

/// mboxrd: quote `^>*From ` lines, end each message with a newline and a blank line.
fn write_mbox(path: &Path, messages: &[(String, Vec<u8>)]) {
    let mut out = Vec::new();
    for (_, bytes) in messages {
        out.extend_from_slice(b"From mailtriage@localhost Thu Jan  1 00:00:00 1970\n");
        for line in bytes.split_inclusive(|&b| b == b'\n') {
            let quotes = line.iter().take_while(|&&b| b == b'>').count();
            if line[quotes..].starts_with(b"From ") {
                out.push(b'>');
            }
            out.extend_from_slice(line);
        }
        if !bytes.ends_with(b"\n") {
            out.push(b'\n');
        }
        out.push(b'\n');
    }
    std::fs::write(path, out).unwrap();
}

fn write_jsonl(path: &Path, messages: &[(String, Vec<u8>)]) {
    use base64::Engine;
    let mut out = String::new();
    for (id, bytes) in messages {
        let record = match std::str::from_utf8(bytes) {
            Ok(text) => serde_json::json!({"id": id, "raw": text, "label": "ham"}),
            Err(_) => serde_json::json!({
                "id": id,
                "raw_base64": base64::engine::general_purpose::STANDARD.encode(bytes),
                "label": "ham"
            }),
        };
        out.push_str(&record.to_string());
        out.push('\n');
    }
    std::fs::write(path, out).unwrap();
}

fn write_maildir(root: &Path, messages: &[(String, Vec<u8>)]) {
    for (i, (id, bytes)) in messages.iter().enumerate() {
        let folder = if i % 2 == 0 { "cur" } else { "new" };
        let dir = root.join("Support").join(folder);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::create_dir_all(root.join("Support/tmp")).unwrap();
        std::fs::write(dir.join(format!("{id}:2,S")), bytes).unwrap();
    }
}

fn write_eml_tree(root: &Path, messages: &[(String, Vec<u8>)]) {
    for (i, (id, bytes)) in messages.iter().enumerate() {
        let dir = root.join(format!("batch{}", i % 3));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{id}.eml")), bytes).unwrap();
    }
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().unwrap()
}

/// A record without what depends on the source (its location, id, folder, passed fields),
/// keyed by fingerprint.
fn normalised(records: Vec<Value>) -> BTreeMap<String, Value> {
    records
        .into_iter()
        .map(|mut r| {
            let obj = r.as_object_mut().unwrap();
            for key in ["source", "id", "folder", "fields"] {
                obj.remove(key);
            }
            (obj["fingerprint"].as_str().unwrap().to_string(), r)
        })
        .collect()
}

fn fingerprint_of(bytes: &[u8]) -> String {
    mailtriage_core::parse::fingerprint(bytes)
}

fn strip_sizes(record: &mut Value) {
    record.as_object_mut().unwrap().remove("size");
    for attachment in record["attachments"].as_array_mut().unwrap() {
        attachment.as_object_mut().unwrap().remove("size");
    }
}

#[test]
fn every_source_kind_gives_identical_records() {
    let messages = golden();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_mbox(&d.join("all.mbox"), &messages);
    write_jsonl(&d.join("all.jsonl"), &messages);
    write_maildir(&d.join("maildir"), &messages);
    write_eml_tree(&d.join("emls"), &messages);

    let sources = [
        format!("mbox:{}", d.join("all.mbox").display()),
        d.join("all.jsonl").display().to_string(),
        d.join("maildir").display().to_string(),
        format!("eml:{}", d.join("emls").display()),
    ];
    let mut outputs = Vec::new();
    for source in &sources {
        let out = run(&["parse", "--input", source, "--ordered", "--quiet"]);
        assert!(
            out.status.success(),
            "{source}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let recs = records(&out.stdout);
        assert_eq!(recs.len(), messages.len(), "{source}");
        outputs.push((source, normalised(recs)));
    }
    // mbox cannot say that a message lacks its final line break: the writer adds one, so
    // such a message is one byte longer from an mbox. Everything else must be identical.
    let unterminated: Vec<String> = messages
        .iter()
        .filter(|(_, b)| !b.ends_with(b"\n"))
        .map(|(_, b)| fingerprint_of(b))
        .collect();
    assert!(
        !unterminated.is_empty(),
        "the fixtures should include a message cut mid-line"
    );
    let (first_source, first) = &outputs[0];
    for (source, other) in &outputs[1..] {
        assert_eq!(first.len(), other.len());
        for (fp, record) in first {
            let (mut a, mut b) = (record.clone(), other[fp].clone());
            if unterminated.contains(fp) {
                strip_sizes(&mut a);
                strip_sizes(&mut b);
            }
            assert_eq!(a, b, "{first_source} vs {source}, message {fp}");
        }
    }

    // Source-specific fields: JSONL passes its extra fields through, Maildir keeps folders.
    let jsonl = records(&run(&["parse", "-i", &sources[1], "--quiet", "--ordered"]).stdout);
    assert_eq!(jsonl[0]["fields"]["label"], "ham");
    assert_eq!(jsonl[0]["id"], messages[0].0.as_str());
    let maildir = records(&run(&["parse", "-i", &sources[2], "--quiet"]).stdout);
    assert!(maildir.iter().all(|r| r["folder"] == "Support"));
    assert_eq!(maildir[0]["source"]["kind"], "maildir");
    let mbox = records(&run(&["parse", "-i", &sources[0], "--quiet", "--ordered"]).stdout);
    assert_eq!(mbox[0]["source"]["offset"], 0);
    assert!(mbox[1]["source"]["offset"].as_u64().unwrap() > 0);
}

#[test]
fn ordered_output_follows_input_order_across_threads() {
    let messages = golden();
    let mut many = Vec::new();
    for round in 0..20 {
        for (id, bytes) in &messages {
            many.push((format!("{round}-{id}"), bytes.clone()));
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.jsonl");
    write_jsonl(&path, &many);
    let out = run(&[
        "parse",
        "-i",
        path.to_str().unwrap(),
        "--ordered",
        "--threads",
        "4",
        "-q",
    ]);
    assert!(out.status.success());
    let ids: Vec<String> = records(&out.stdout)
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    let expected: Vec<String> = many.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(ids, expected);
}

#[test]
fn bad_input_is_quarantined_and_the_summary_adds_up() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("mixed.jsonl");
    std::fs::write(
        &input,
        "{\"id\":\"ok\",\"raw\":\"From: a@example.com\\nSubject: hi\\n\\nbody\\n\"}\n\
         this line is not json\n\
         {\"id\":\"no-raw\"}\n\
         {\"id\":\"empty\",\"raw\":\"\"}\n\
         {\"id\":\"junk\",\"raw_base64\":\"AAECAwQ=\"}\n\
         {\"id\":\"big\",\"raw\":\"Subject: x\\n\\n"
            .to_string()
            + &"y".repeat(5000)
            + "\"}\n",
    )
    .unwrap();
    let output = dir.path().join("out.jsonl");
    let summary = dir.path().join("summary.json");
    let out = run(&[
        "parse",
        "-i",
        input.to_str().unwrap(),
        "-o",
        output.to_str().unwrap(),
        "--summary",
        summary.to_str().unwrap(),
        "--max-message-size",
        "2K",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("read 6, parsed 1"), "{stderr}");
    let s: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    assert_eq!(s["read"], 6);
    assert_eq!(s["parsed"], 1);
    assert_eq!(s["quarantined"], 5);
    let reasons = &s["quarantine_reasons"];
    for (reason, n) in [
        ("invalid_json", 1),
        ("missing_raw", 1),
        ("empty", 1),
        ("no_headers", 1),
        ("too_large", 1),
    ] {
        assert_eq!(reasons[reason], n, "{reason}: {reasons}");
    }
    let qpath = dir.path().join("out.jsonl.quarantine.jsonl");
    let quarantined = records(&std::fs::read(&qpath).unwrap());
    assert_eq!(quarantined.len(), 5);
    for q in &quarantined {
        assert!(
            q["reason"].is_string() && q["origin"]["line"].is_u64() && q["first_bytes"].is_string()
        );
    }
    assert_eq!(records(&std::fs::read(&output).unwrap()).len(), 1);

    let strict = run(&[
        "parse",
        "-i",
        input.to_str().unwrap(),
        "-o",
        "/dev/null",
        "-q",
        "--fail-on-quarantine",
        "--quarantine",
        qpath.to_str().unwrap(),
    ]);
    assert_eq!(strict.status.code(), Some(5));
}

#[test]
fn exit_codes_and_errors_say_what_to_do() {
    let missing = run(&["parse", "-i", "/nonexistent/mail.mbox"]);
    assert_eq!(missing.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read /nonexistent/mail.mbox"));

    let bad_prefix = run(&["parse", "-i", "maildir:"]);
    assert_eq!(bad_prefix.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad_prefix.stderr).contains("maildir:PATH"));

    let dir = tempfile::tempdir().unwrap();
    let odd = dir.path().join("odd.bin");
    std::fs::write(&odd, b"\x00\x01\x02").unwrap();
    let undetectable = run(&["parse", "-i", odd.to_str().unwrap()]);
    assert_eq!(undetectable.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&undetectable.stderr).contains("prefix"));

    let eml = dir.path().join("one.eml");
    std::fs::write(&eml, b"From: a@example.com\nSubject: x\n\nhi\n").unwrap();
    let unwritable = run(&[
        "parse",
        "-i",
        eml.to_str().unwrap(),
        "-o",
        "/nonexistent/dir/out.jsonl",
    ]);
    assert_eq!(unwritable.status.code(), Some(4));

    let usage = run(&["parse"]);
    assert_eq!(usage.status.code(), Some(2));
}

fn run_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = bin()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

#[test]
fn stdin_carries_jsonl_mbox_or_one_message() {
    let one = b"From: a@example.com\nSubject: single\n\nhello\n";
    let out = run_stdin(&["parse", "-i", "-", "-q"], one);
    let recs = records(&out.stdout);
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["headers"]["subject"], "single");
    assert_eq!(recs[0]["source"]["kind"], "stdin");

    let mbox = b"From x Mon Jan  1 00:00:00 2024\nSubject: a\n\n1\n\nFrom y Mon Jan  1 00:00:00 2024\nSubject: b\n\n2\n";
    assert_eq!(
        records(&run_stdin(&["parse", "-i", "-", "-q"], mbox).stdout).len(),
        2
    );

    let jsonl = b"{\"id\":\"j1\",\"raw\":\"Subject: j\\n\\nx\"}\n{\"id\":\"j2\",\"raw\":\"Subject: k\\n\\ny\"}\n";
    let recs = records(&run_stdin(&["parse", "-i", "-", "-o", "-", "-q"], jsonl).stdout);
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[1]["id"], "j2");
}

#[test]
fn stats_profiles_a_corpus_in_text_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("golden.mbox");
    let messages = golden();
    write_mbox(&path, &messages);
    let out = run(&["stats", "-i", path.to_str().unwrap(), "-q"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for section in [
        "messages",
        "sizes",
        "content types",
        "charsets",
        "defects",
        "parts per message",
        "attachment types",
    ] {
        assert!(text.contains(section), "missing `{section}` in:\n{text}");
    }
    let out = run(&["stats", "-i", path.to_str().unwrap(), "-q", "--json"]);
    let profile: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(profile["read"], messages.len());
    assert_eq!(
        profile["parsed"].as_u64().unwrap() + profile["quarantined"].as_u64().unwrap(),
        messages.len() as u64
    );
    assert!(profile["charsets"]["iso-8859-1"].as_u64().unwrap() >= 1);
    assert!(
        profile["attachment_types"]["application/pdf"]
            .as_u64()
            .unwrap()
            >= 1
    );
    assert!(profile["defects"]["truncated_multipart"].as_u64().unwrap() >= 1);
    assert!(profile["sizes"]["p50"].as_u64().unwrap() > 0);
}
