//! Hostile shapes the issue names: a truncated mbox, a 50 MB attachment, a 1 MB header line
//! and 500 levels of nested multipart. Each must parse (or be quarantined) through the real
//! binary within bounded memory; the binary reports its own peak RSS in `--summary`.
//! No timing is asserted: a hang would show as a test that never ends.
#![allow(clippy::unwrap_used)] // A test that cannot set up should stop loudly.

mod common;

use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

fn parse_with_summary(input: &str, dir: &Path, extra: &[&str]) -> (Vec<Value>, Value) {
    let summary = dir.join("summary.json");
    let out = common::bin()
        .args(["parse", "-i", input, "-q", "--summary"])
        .arg(&summary)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records = common::json_lines(&out.stdout);
    let summary: Value = serde_json::from_str(&std::fs::read_to_string(summary).unwrap()).unwrap();
    assert_eq!(
        summary["read"].as_u64(),
        Some(summary["parsed"].as_u64().unwrap() + summary["quarantined"].as_u64().unwrap())
    );
    (records, summary)
}

fn peak_mb(summary: &Value) -> u64 {
    summary["peak_rss_bytes"].as_u64().unwrap_or(0) >> 20
}

fn defect_kinds(record: &Value) -> Vec<String> {
    record["defects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["kind"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn truncated_mbox_keeps_every_message_it_has() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.mbox");
    let mut data = Vec::new();
    for i in 0..50 {
        data.extend_from_slice(
            format!(
                "From a@x Mon Jan  1 00:00:00 2024\nFrom: a{i}@example.com\nSubject: m{i}\n\
                 Content-Type: multipart/mixed; boundary=\"b{i}\"\n\n--b{i}\n\
                 Content-Type: text/plain\n\nbody {i}\n--b{i}--\n\n"
            )
            .as_bytes(),
        );
    }
    // Cut the last message in the middle of its only part.
    let cut = data.len() - 20;
    data.truncate(cut);
    std::fs::write(&path, &data).unwrap();
    let (records, summary) = parse_with_summary(path.to_str().unwrap(), dir.path(), &["--ordered"]);
    assert_eq!(summary["read"], 50);
    assert_eq!(records.len(), 50);
    assert!(defect_kinds(&records[49]).contains(&"truncated_multipart".to_string()));
    assert!(defect_kinds(&records[48])
        .iter()
        .all(|k| k != "truncated_multipart"));
}

#[test]
fn fifty_megabyte_attachment_is_described_not_kept() {
    use base64::Engine;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.eml");
    let payload: Vec<u8> = (0..50u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let encoded = base64::engine::general_purpose::STANDARD.encode(&payload);
    drop(payload);
    let mut mail = b"From: a@example.com\nSubject: big\nContent-Type: multipart/mixed; boundary=\"B\"\n\n--B\nContent-Type: text/plain\n\nsee attached\n--B\nContent-Type: application/octet-stream; name=\"dump.bin\"\nContent-Transfer-Encoding: base64\n\n".to_vec();
    for line in encoded.as_bytes().chunks(76) {
        mail.extend_from_slice(line);
        mail.push(b'\n');
    }
    mail.extend_from_slice(b"--B--\n");
    let size_mb = mail.len() >> 20;
    std::fs::write(&path, &mail).unwrap();
    drop((mail, encoded));
    let (records, summary) =
        parse_with_summary(&format!("eml:{}", path.display()), dir.path(), &[]);
    assert_eq!(records.len(), 1);
    let attachment = &records[0]["attachments"][0];
    assert_eq!(attachment["name"], "dump.bin");
    assert_eq!(attachment["size"], 50u64 << 20);
    assert_eq!(records[0]["body"]["text"], "see attached");
    // The raw message (68 MB) and its decoded attachment are held once each, by one worker.
    let peak = peak_mb(&summary);
    assert!(
        peak < 6 * size_mb as u64,
        "peak {peak} MB for a {size_mb} MB message"
    );

    // Over the size limit, the same message is quarantined, not read into memory.
    let (records, summary) = parse_with_summary(
        &format!("eml:{}", path.display()),
        dir.path(),
        &["--max-message-size", "16M"],
    );
    assert!(records.is_empty());
    assert_eq!(summary["quarantine_reasons"]["too_large"], 1);
    assert!(
        peak_mb(&summary) < 64,
        "peak {} MB while skipping",
        peak_mb(&summary)
    );
}

#[test]
fn one_megabyte_header_line_is_a_defect_not_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.eml");
    let mut mail = b"From: a@example.com\nSubject: ".to_vec();
    mail.extend(std::iter::repeat_n(b'x', 1 << 20));
    mail.extend_from_slice(b"\nX-Also-Long: ");
    mail.extend(std::iter::repeat_n(b'y', 1 << 20));
    mail.extend_from_slice(b"\n\nbody after the long headers\n");
    std::fs::write(&path, &mail).unwrap();
    let (records, summary) =
        parse_with_summary(&format!("eml:{}", path.display()), dir.path(), &[]);
    assert_eq!(records.len(), 1);
    assert_eq!(
        records[0]["headers"]["subject"].as_str().unwrap().len(),
        1 << 20
    );
    assert_eq!(records[0]["body"]["text"], "body after the long headers\n");
    assert!(defect_kinds(&records[0]).contains(&"long_header_line".to_string()));
    assert!(peak_mb(&summary) < 200, "peak {} MB", peak_mb(&summary));
}

#[test]
fn five_hundred_levels_of_nested_multipart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deep.eml");
    let depth = 500;
    let mut mail = String::from("From: a@example.com\nSubject: deep\n");
    for level in 0..depth {
        let _ = write!(
            mail,
            "Content-Type: multipart/mixed; boundary=\"L{level}\"\n\n--L{level}\n"
        );
    }
    mail.push_str("Content-Type: text/plain\n\nthe innermost text\n");
    for level in (0..depth).rev() {
        let _ = writeln!(mail, "--L{level}--");
    }
    std::fs::write(&path, &mail).unwrap();
    let (records, summary) =
        parse_with_summary(&format!("eml:{}", path.display()), dir.path(), &[]);
    assert_eq!(records.len(), 1);
    let record = &records[0];
    assert!(record["body"]["text"]
        .as_str()
        .unwrap()
        .contains("the innermost text"));
    assert!(record["body"]["depth"].as_u64().unwrap() > 32);
    assert!(defect_kinds(record).contains(&"deep_nesting".to_string()));
    assert!(peak_mb(&summary) < 200, "peak {} MB", peak_mb(&summary));
}
