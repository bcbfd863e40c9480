//! `mailtriage stats`: a profile of a corpus.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::ExitCode;

use mailtriage_core::report::{CorpusProfile, SizeProfile, Summary};
use serde::Serialize;

use crate::exit::{Code, Failure};
use crate::run::{finish, InputArgs, Run, RunReport};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub input: InputArgs,
    /// Print the profile as JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// The profile as printed with `--json`.
#[derive(Serialize)]
struct Profile<'a> {
    #[serde(flatten)]
    summary: &'a Summary,
    sizes: SizeProfile,
    html_only: u64,
    with_attachments: u64,
    content_types: &'a BTreeMap<String, u64>,
    charsets: &'a BTreeMap<String, u64>,
    parts: &'a BTreeMap<usize, u64>,
    attachment_types: &'a BTreeMap<String, u64>,
}

pub fn run(args: &Args) -> Result<ExitCode, Failure> {
    let mut profile = CorpusProfile::default();
    let redactor = crate::privacy::redactor(&args.input.privacy)?;
    let run = Run {
        args: &args.input,
        redactor: &redactor,
        default_quarantine: None,
    };
    let report = run.execute(
        |redacted, acc: &mut CorpusProfile, _| {
            acc.add_email(redacted.email());
            Ok(())
        },
        |_, acc| {
            profile.merge(&acc);
            Ok(())
        },
    )?;
    let view = Profile {
        summary: &report.summary,
        sizes: profile.sizes.profile(),
        html_only: profile.html_only,
        with_attachments: profile.with_attachments,
        content_types: &profile.content_types,
        charsets: &profile.charsets,
        parts: &profile.parts,
        attachment_types: &profile.attachment_types,
    };
    let text = if args.json {
        let mut json =
            serde_json::to_string_pretty(&view).map_err(|e| Failure::new(Code::Internal, e))?;
        json.push('\n');
        json
    } else {
        render(&view, &report)
    };
    print!("{text}");
    Ok(finish(&args.input, &report))
}

fn render(p: &Profile<'_>, report: &RunReport) -> String {
    let s = p.summary;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "messages      {} read: {} parsed ({} with defects), {} quarantined",
        s.read, s.parsed, s.with_defects, s.quarantined
    );
    let _ = writeln!(
        out,
        "bytes         {} ({:.0} messages/s)",
        human_bytes(s.bytes),
        report.messages_per_second
    );
    let _ = writeln!(
        out,
        "html only     {}    with attachments {}",
        p.html_only, p.with_attachments
    );
    let z = &p.sizes;
    let _ = writeln!(
        out,
        "\nsizes         min {}, median {}, p90 {}, p99 {}, max {}, mean {}",
        human_bytes(z.min),
        human_bytes(z.p50),
        human_bytes(z.p90),
        human_bytes(z.p99),
        human_bytes(z.max),
        human_bytes(z.mean)
    );
    for bucket in &z.octaves {
        let _ = writeln!(
            out,
            "  {:>9} - {:<9} {:>9}",
            human_bytes(bucket.from),
            human_bytes(bucket.from.saturating_mul(2)),
            bucket.count
        );
    }
    section(&mut out, "content types", p.content_types.iter(), s.parsed);
    section(&mut out, "charsets", p.charsets.iter(), s.parsed);
    section(&mut out, "defects", s.defects.iter(), s.parsed);
    section(&mut out, "parts per message", p.parts.iter(), s.parsed);
    section(&mut out, "attachment types", p.attachment_types.iter(), 0);
    section(
        &mut out,
        "quarantine reasons",
        s.quarantine_reasons.iter(),
        s.read,
    );
    out
}

/// A titled table, largest counts first; `of` gives a share column when non-zero.
fn section<'a, K: std::fmt::Display>(
    out: &mut String,
    title: &str,
    rows: impl Iterator<Item = (K, &'a u64)>,
    of: u64,
) {
    let mut rows: Vec<(String, u64)> = rows.map(|(k, v)| (k.to_string(), *v)).collect();
    if rows.is_empty() {
        return;
    }
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let _ = writeln!(out, "\n{title}");
    for (key, count) in rows {
        if of > 0 {
            let share = 100.0 * count as f64 / of as f64;
            let _ = writeln!(out, "  {key:<40} {count:>9} {share:>6.1}%");
        } else {
            let _ = writeln!(out, "  {key:<40} {count:>9}");
        }
    }
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
