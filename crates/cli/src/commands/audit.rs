//! `mailtriage audit verify`: walk the store's hash-chained audit log and report the first
//! broken link (a changed, removed or reordered row). Exit code 0 when the chain holds, 6
//! when it is broken.

use std::process::ExitCode;

use anyhow::anyhow;

use crate::exit::{Code, Failure};
use crate::store::{Durability, Store};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Check the audit chain from its first row.
    Verify {
        /// The store: `sqlite:PATH`.
        #[arg(long, default_value = "sqlite:triage.db", value_name = "SPEC")]
        store: String,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// The exit code for a broken chain.
pub const BROKEN: u8 = 6;

pub fn run(args: &Args) -> Result<ExitCode, Failure> {
    let Action::Verify { store, json } = &args.action;
    let store = crate::store::open(store, Durability::Process)
        .map_err(|e| Failure::new(Code::Input, anyhow!(e)))?;
    let report = store
        .verify_audit()
        .map_err(|e| Failure::new(Code::Input, anyhow!(e)))?;
    if *json {
        println!("{}", serde_json::to_string(&report).unwrap_or_default());
    } else if let Some((seq, why)) = &report.broken {
        println!(
            "audit chain BROKEN at row {seq}: {why} ({} rows before it verify)",
            report.rows
        );
    } else {
        println!("audit chain verifies: {} rows", report.rows);
    }
    Ok(if report.broken.is_some() {
        ExitCode::from(BROKEN)
    } else {
        ExitCode::SUCCESS
    })
}
