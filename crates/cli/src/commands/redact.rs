//! `mailtriage redact`: find personal data and confidential material, and mask or
//! pseudonymise it by the policy.
//!
//! Three ways in:
//! - `--text "..."`: one text, for a quick look; the redacted text on stdout, the findings
//!   (types and offsets, never values) on stderr.
//! - `--input SRC`: messages from any source; each is parsed and redacted in every field.
//!   `--format jsonl` writes the redacted record (as `parse` does), `text` its subject and
//!   body, `mbox` a redacted RFC 5322 message per input message (plain text, the headers
//!   triage reads). `--findings FILE` gets, per message, the counts per type
//!   (`findings`) and the spans per text field (`fields`: `[{"field": "body", "spans":
//!   [...]}]`, offsets into the field's decoded text before redaction; header addresses and
//!   display names are treated whole and counted only).
//! - `--input jsonl:FILE --text-field F`: JSONL records whose field F is plain text (notes,
//!   tickets, datasets); writes `{"id", F}` redacted, and with `--findings FILE` the spans,
//!   as `{"id", "findings": [{"type", "start", "end", "bstart", "bend", "score",
//!   "detector"}]}` (code point and byte offsets into the original text).

use std::borrow::Cow;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, Context};
use mailtriage_core::privacy::{spans, write_spans_json, Redactor};
use mailtriage_core::Email;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::exit::{Code, Failure};
use crate::run::{finish, write_json_line, InputArgs, Output, Run};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub input: InputArgs,
    /// Redact this text and print it (findings on stderr).
    #[arg(long, value_name = "TEXT", conflicts_with = "inputs")]
    pub text: Option<String>,
    /// With a JSONL input: the field that holds plain text to redact (the records are not
    /// messages).
    #[arg(long, value_name = "F")]
    pub text_field: Option<String>,
    /// Where to write the redacted output, or - for stdout.
    #[arg(long, short, default_value = "-", value_name = "PATH")]
    pub output: String,
    /// What to write for messages.
    #[arg(long, value_enum, default_value_t = Format::Jsonl)]
    pub format: Format,
    /// Where to write the findings (JSONL), one line per message or record.
    #[arg(long, value_name = "PATH")]
    pub findings: Option<PathBuf>,
}

/// Output formats for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The redacted record, as `parse` writes it.
    Jsonl,
    /// Subject and body text, messages separated by a form feed line.
    Text,
    /// One redacted RFC 5322 message per input message (mboxrd).
    Mbox,
}

pub fn run(args: &Args) -> Result<ExitCode, Failure> {
    let mut redactor = crate::privacy::redactor(&args.input.privacy)?;
    if args.findings.is_some() {
        redactor = redactor.recording_spans();
    }
    if let Some(text) = &args.text {
        let (redacted, found) = redactor.redact_text(text, &[]);
        println!("{redacted}");
        if !args.input.quiet {
            for s in spans(text, &found) {
                eprintln!(
                    "{:<14} chars {}..{}  score {:.2}  by {}",
                    s.entity, s.start, s.end, s.score, s.detector
                );
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    if args.input.inputs.is_empty() {
        return Err(Failure::new(
            Code::Usage,
            anyhow!("say what to redact: --text \"...\" or --input SRC"),
        ));
    }
    if let Some(field) = &args.text_field {
        return text_records(args, &redactor, field);
    }
    messages(args, &redactor)
}

/// The findings file, if one was asked for.
fn open_findings(path: Option<&PathBuf>) -> Result<Option<BufWriter<File>>, Failure> {
    path.map(|p| {
        File::create(p)
            .map(BufWriter::new)
            .with_context(|| format!("cannot create the findings file {}", p.display()))
            .map_err(|e| Failure::new(Code::Output, e))
    })
    .transpose()
}

/// Flushes the output and the findings file.
fn flush_all(output: &mut Output, findings: Option<BufWriter<File>>) -> Result<(), Failure> {
    output
        .writer
        .flush()
        .with_context(|| format!("cannot write to {}", output.name))
        .map_err(|e| Failure::new(Code::Output, e))?;
    if let Some(mut f) = findings {
        f.flush()
            .context("cannot write the findings file")
            .map_err(|e| Failure::new(Code::Output, e))?;
    }
    Ok(())
}

/// Messages: parse, redact every field, write in the chosen format.
fn messages(args: &Args, redactor: &Redactor) -> Result<ExitCode, Failure> {
    let mut output = Output::open(&args.output)?;
    let mut findings = open_findings(args.findings.as_ref())?;
    let run = Run {
        args: &args.input,
        redactor,
        default_quarantine: Some(output.default_quarantine.clone()),
    };
    let format = args.format;
    let report = run.execute(
        |redacted, acc: &mut Vec<u8>, out| {
            let email = redacted.email();
            match format {
                Format::Jsonl => write_json_line(out, email)?,
                Format::Text => {
                    out.extend_from_slice(
                        email.headers.subject.as_deref().unwrap_or("").as_bytes(),
                    );
                    out.extend_from_slice(b"\n\n");
                    out.extend_from_slice(email.body.text.as_bytes());
                    out.extend_from_slice(b"\n\x0c\n");
                }
                Format::Mbox => write_mbox(out, email),
            }
            write_json_line(
                acc,
                &serde_json::json!({"id": email.id, "findings": redacted.findings(), "fields": redacted.spans()}),
            )
        },
        |records, found: Vec<u8>| {
            if let Some(f) = &mut findings {
                f.write_all(&found)?;
            }
            output.write(records)
        },
    )?;
    flush_all(&mut output, findings)?;
    Ok(finish(&args.input, &report))
}

/// A redacted message as RFC 5322 text in an mboxrd entry: the headers triage reads and the
/// text body (attachments are described in a header, not carried).
fn write_mbox(out: &mut Vec<u8>, email: &Email) {
    let h = &email.headers;
    let mailbox = |m: &mailtriage_core::parse::Mailbox| match (&m.name, &m.address) {
        (Some(n), Some(a)) => format!("\"{}\" <{a}>", n.replace('"', "'")),
        (None, Some(a)) => format!("<{a}>"),
        (Some(n), None) => format!("\"{}\"", n.replace('"', "'")),
        (None, None) => String::new(),
    };
    let one_line = |s: &str| s.replace(['\r', '\n'], " ");
    let mut text = String::from("From mailtriage-redacted Thu Jan  1 00:00:00 1970\n");
    if let Some(from) = &h.from {
        let _ = writeln!(text, "From: {}", one_line(&mailbox(from)));
    }
    for (name, list) in [("To", &h.to), ("Cc", &h.cc)] {
        if !list.is_empty() {
            let joined: Vec<String> = list.iter().map(mailbox).collect();
            let _ = writeln!(text, "{name}: {}", one_line(&joined.join(", ")));
        }
    }
    if let Some(subject) = &h.subject {
        let _ = writeln!(text, "Subject: {}", one_line(subject));
    }
    if let Some(date) = &h.date {
        let _ = writeln!(text, "Date: {date}");
    }
    if let Some(id) = &h.message_id {
        let _ = writeln!(text, "Message-ID: <{}>", one_line(id));
    }
    if !email.attachments.is_empty() {
        let kinds: Vec<&str> = email
            .attachments
            .iter()
            .map(|a| a.content_type.as_str())
            .collect();
        let _ = writeln!(
            text,
            "X-Mailtriage-Attachments: {}",
            one_line(&kinds.join(", "))
        );
    }
    text.push_str("X-Mailtriage-Redacted: yes\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n");
    // mboxrd: a body line that starts with ">*From " gets one more '>'.
    for line in email.body.text.lines() {
        let bare = line.trim_start_matches('>');
        if bare.starts_with("From ") {
            text.push('>');
        }
        text.push_str(line);
        text.push('\n');
    }
    text.push('\n');
    out.extend_from_slice(text.as_bytes());
}

/// Records read per block: enough to keep every core busy, few enough to bound memory.
const CHUNK: usize = 2048;

/// A block of input lines and what the worker made of them. Blocks go round between the
/// reader and the workers and are reused, so that the buffers are allocated once: a fresh
/// buffer per record, freed on another thread, kept the allocator handing pages back to the
/// system and faulting them in again (a tenth of the time went to zeroing pages).
#[derive(Default)]
struct Block {
    /// Its place in the input.
    seq: u64,
    /// The record number of its first line.
    first: u64,
    /// The lines, each ending in a newline.
    lines: String,
    /// The redacted records.
    out: Vec<u8>,
    /// The findings lines (when asked for).
    found: Vec<u8>,
    /// Why records were skipped.
    errors: Vec<String>,
    /// Bytes of text redacted.
    bytes: u64,
}

impl Block {
    fn clear(&mut self) {
        self.lines.clear();
        self.out.clear();
        self.found.clear();
        self.errors.clear();
        self.bytes = 0;
    }
}

/// JSONL records whose `field` is plain text, redacted on every core in input order.
fn text_records(args: &Args, redactor: &Redactor, field: &str) -> Result<ExitCode, Failure> {
    let [source] = args.input.inputs.as_slice() else {
        return Err(Failure::new(
            Code::Usage,
            anyhow!("--text-field reads one JSONL source (jsonl:FILE or -)"),
        ));
    };
    let path = source.strip_prefix("jsonl:").unwrap_or(source);
    let mut reader: Box<dyn BufRead> = if path == "-" {
        Box::new(BufReader::new(std::io::stdin()))
    } else {
        Box::new(BufReader::new(
            File::open(path)
                .with_context(|| format!("cannot open {path}"))
                .map_err(|e| Failure::new(Code::Input, e))?,
        ))
    };
    let mut output = Output::open(&args.output)?;
    let mut findings = open_findings(args.findings.as_ref())?;
    let with_findings = findings.is_some();
    let threads = if args.input.threads == 0 {
        std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
    } else {
        args.input.threads
    };
    let started = std::time::Instant::now();
    let (mut records, mut bytes, mut bad) = (0u64, 0u64, 0u64);
    // Long-lived workers (a thread keeps its regex caches warm), fed blocks of lines through
    // a bounded channel; blocks come back tagged and are written in input order.
    let outcome: Result<(), Failure> = std::thread::scope(|scope| {
        let (work_tx, work_rx) = std::sync::mpsc::sync_channel::<Block>(threads * 2);
        let work_rx = std::sync::Arc::new(std::sync::Mutex::new(work_rx));
        let (done_tx, done_rx) = std::sync::mpsc::channel::<Block>();
        for _ in 0..threads {
            let work_rx = std::sync::Arc::clone(&work_rx);
            let done_tx = done_tx.clone();
            scope.spawn(move || loop {
                let next = work_rx.lock().map(|rx| rx.recv());
                let Ok(Ok(mut block)) = next else { break };
                let lines = std::mem::take(&mut block.lines);
                for (number, line) in (block.first..).zip(lines.lines()) {
                    if line.trim().is_empty() {
                        continue;
                    }
                    let found = with_findings.then_some(&mut block.found);
                    match one_record(redactor, field, number, line, &mut block.out, found) {
                        Ok(size) => block.bytes += size as u64,
                        Err(why) => block.errors.push(why),
                    }
                }
                block.lines = lines;
                if done_tx.send(block).is_err() {
                    break;
                }
            });
        }
        drop(done_tx);
        let mut pending: std::collections::BTreeMap<u64, Block> = std::collections::BTreeMap::new();
        let mut free: Vec<Block> = Vec::new();
        let (mut sent, mut next_out) = (0u64, 0u64);
        let mut reading = true;
        while reading || next_out < sent {
            // Keep at most 2 blocks per worker in flight: memory stays bounded.
            while reading && sent - next_out < (threads as u64) * 2 {
                let mut block = free.pop().unwrap_or_default();
                block.seq = sent;
                block.first = records + 1;
                for _ in 0..CHUNK {
                    let n = reader
                        .read_line(&mut block.lines)
                        .with_context(|| format!("cannot read {path}"))
                        .map_err(|e| Failure::new(Code::Input, e))?;
                    if n == 0 {
                        reading = false;
                        break;
                    }
                    records += 1;
                    if !block.lines.ends_with('\n') {
                        block.lines.push('\n');
                    }
                }
                if block.lines.is_empty() {
                    free.push(block);
                    break;
                }
                if work_tx.send(block).is_err() {
                    return Err(Failure::new(
                        Code::Internal,
                        anyhow!("the redaction workers stopped"),
                    ));
                }
                sent += 1;
            }
            if next_out == sent {
                continue;
            }
            let block = done_rx.recv().map_err(|_| {
                Failure::new(Code::Internal, anyhow!("the redaction workers stopped"))
            })?;
            pending.insert(block.seq, block);
            while let Some(mut block) = pending.remove(&next_out) {
                bytes += block.bytes;
                bad += block.errors.len() as u64;
                if !args.input.quiet {
                    for why in &block.errors {
                        eprintln!("mailtriage: {path}: {why}");
                    }
                }
                output
                    .write(&block.out)
                    .map_err(|e| Failure::new(Code::Output, e))?;
                if let Some(f) = &mut findings {
                    f.write_all(&block.found)
                        .context("cannot write the findings file")
                        .map_err(|e| Failure::new(Code::Output, e))?;
                }
                block.clear();
                free.push(block);
                next_out += 1;
            }
        }
        drop(work_tx);
        Ok(())
    });
    outcome?;
    flush_all(&mut output, findings)?;
    let seconds = started.elapsed().as_secs_f64().max(1e-9);
    if !args.input.quiet {
        eprintln!(
            "mailtriage: redacted {} records ({} skipped), {:.1} MB of text in {:.2} s ({:.1} MB/s, {threads} threads)",
            records - bad,
            bad,
            bytes as f64 / 1e6,
            seconds,
            bytes as f64 / 1e6 / seconds
        );
    }
    Ok(if bad > 0 && args.input.fail_on_quarantine {
        ExitCode::from(Code::Quarantined as u8)
    } else {
        ExitCode::SUCCESS
    })
}

/// What `redact --text-field` reads of a record: the text field (a string, borrowed when it
/// has no escapes) and the id as it was written. Read in one pass over the line: the other
/// values are skipped, not kept, and the text is not scanned twice.
struct Record<'a> {
    text: Option<Cow<'a, str>>,
    id: Option<&'a RawValue>,
}

/// Reads a `Record` whose text is in `field`.
struct RecordSeed<'f> {
    field: &'f str,
}

impl<'de> DeserializeSeed<'de> for RecordSeed<'_> {
    type Value = Record<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Record<'de>, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RecordSeed<'_> {
    type Value = Record<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a map")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Record<'de>, A::Error> {
        let mut record = Record {
            text: None,
            id: None,
        };
        // As in a JSON object read into a map, a repeated key keeps its last value.
        while let Some(key) = map.next_key::<Key<'de>>()? {
            if key.0 == self.field {
                record.text = map.next_value::<Text<'de>>()?.0;
            } else if key.0 == "id" {
                record.id = Some(map.next_value()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(record)
    }
}

/// A key, borrowed from the line unless it has escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(StrVisitor).map(Key)
    }
}

/// A value that is a string (borrowed unless it has escapes), or anything else (`None`:
/// a record whose text field is a number has no text).
struct Text<'a>(Option<Cow<'a, str>>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TextVisitor).map(Text)
    }
}

/// A string as `StrVisitor` reads it; any other JSON value is read through and is `None`.
struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Option<Cow<'de, str>>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        StrVisitor.visit_borrowed_str(v).map(Some)
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        StrVisitor.visit_str(v).map(Some)
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
        StrVisitor.visit_string(v).map(Some)
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

struct StrVisitor;

impl<'de> Visitor<'de> for StrVisitor {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

/// One record: its redacted line appended to `out`, its findings line to `found` (when
/// asked for); the size of its text, or why it was skipped (then nothing is appended).
fn one_record(
    redactor: &Redactor,
    field: &str,
    number: u64,
    line: &str,
    out: &mut Vec<u8>,
    found_out: Option<&mut Vec<u8>>,
) -> Result<usize, String> {
    let mut json = serde_json::Deserializer::from_str(line);
    let record = RecordSeed { field }
        .deserialize(&mut json)
        .and_then(|record| json.end().map(|()| record))
        .map_err(|e| format!("line {number}: not a JSON object ({e})"))?;
    let text = record
        .text
        .ok_or_else(|| format!("line {number}: no text field `{field}`"))?;
    let number_id = number.to_string();
    let id = record.id.map_or(number_id.as_str(), RawValue::get);
    let (redacted, found) = redactor.redact_text(&text, &[]);
    out.extend_from_slice(b"{\"id\":");
    out.extend_from_slice(id.as_bytes());
    out.push(b',');
    crate::json::write_str(out, field);
    out.push(b':');
    crate::json::write_str(out, &redacted);
    out.extend_from_slice(b"}\n");
    if let Some(found_line) = found_out {
        found_line.extend_from_slice(b"{\"id\":");
        found_line.extend_from_slice(id.as_bytes());
        found_line.extend_from_slice(b",\"findings\":");
        write_spans_json(&text, &found, found_line);
        found_line.extend_from_slice(b"}\n");
    }
    Ok(text.len())
}
