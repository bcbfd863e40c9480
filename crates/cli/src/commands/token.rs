//! `mailtriage token`: make, list and revoke the service's API tokens, straight in the store
//! (how the first admin token is made). Every change is audited; the secret is printed once
//! and only its hash is kept.

use std::process::ExitCode;

use anyhow::anyhow;

use crate::exit::{Code, Failure};
use crate::serve::auth::{new_token, token_hash};
use crate::store::{AuditEntry, Durability, Op, Role, Store, Written};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Make a token and print it (once).
    Create {
        /// What it may do: triage, reviewer or admin.
        #[arg(long, value_parser = ["triage", "reviewer", "admin"])]
        role: String,
        /// Who or what it is for.
        #[arg(long, default_value = "")]
        name: String,
        /// The store: `sqlite:PATH`.
        #[arg(long, default_value = "sqlite:triage.db", value_name = "SPEC")]
        store: String,
    },
    /// List the tokens (never their secrets).
    List {
        #[arg(long, default_value = "sqlite:triage.db", value_name = "SPEC")]
        store: String,
    },
    /// Revoke a token by id.
    Revoke {
        id: i64,
        #[arg(long, default_value = "sqlite:triage.db", value_name = "SPEC")]
        store: String,
    },
}

fn open(spec: &str) -> Result<crate::store::sqlite::SqliteStore, Failure> {
    crate::store::open(spec, Durability::Process).map_err(|e| Failure::new(Code::Input, anyhow!(e)))
}

fn audit(action: &str, subject: String, detail: String) -> AuditEntry {
    AuditEntry {
        actor: format!("cli:{}", std::env::var("USER").unwrap_or_default()),
        action: action.into(),
        subject,
        detail,
        model_version: String::new(),
        policy_version: String::new(),
    }
}

pub fn run(args: &Args) -> Result<ExitCode, Failure> {
    match &args.action {
        Action::Create { role, name, store } => {
            let role = Role::parse(role).ok_or_else(|| {
                Failure::new(
                    Code::Usage,
                    anyhow!("role must be triage, reviewer or admin"),
                )
            })?;
            let store = open(store)?;
            let token = new_token()
                .map_err(|e| Failure::new(Code::Internal, anyhow!("no randomness: {e}")))?;
            let written = store
                .write(
                    Op::Token {
                        hash: token_hash(&token),
                        role,
                        name: name.clone(),
                    },
                    audit(
                        "token_create",
                        name.clone(),
                        serde_json::json!({"role": role.as_str()}).to_string(),
                    ),
                )
                .map_err(|e| Failure::new(Code::Output, anyhow!(e)))?;
            let id = match written {
                Written::Id(id) => id,
                Written::Done => 0,
            };
            eprintln!(
                "mailtriage: token {id} ({}) made; it is shown this once:",
                role.as_str()
            );
            println!("{token}");
        }
        Action::List { store } => {
            let store = open(store)?;
            let tokens = store
                .tokens()
                .map_err(|e| Failure::new(Code::Input, anyhow!(e)))?;
            for t in tokens {
                println!(
                    "{}\t{}\t{}\t{}{}",
                    t.id,
                    t.role.as_str(),
                    t.created_at,
                    t.name,
                    if t.revoked { "\trevoked" } else { "" }
                );
            }
        }
        Action::Revoke { id, store } => {
            let store = open(store)?;
            store
                .write(
                    Op::Revoke { id: *id },
                    audit("token_revoke", id.to_string(), "{}".into()),
                )
                .map_err(|e| Failure::new(Code::Usage, anyhow!(e)))?;
            eprintln!("mailtriage: token {id} revoked");
        }
    }
    Ok(ExitCode::SUCCESS)
}
