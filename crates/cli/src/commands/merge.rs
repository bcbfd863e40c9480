//! `mailtriage merge`: one model from models trained on shards of the data.
//!
//! Scale-out trains a model per shard (one per Spark partition, one per machine) with the
//! same settings, then averages their parameters here. The shards must share feature
//! settings, heads and labels; the merged model records its parents' versions.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, Context};
use mailtriage_core::model::{file, Model};

use crate::exit::{Code, Failure};
use crate::run::load_model;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shard models to merge (two or more).
    #[arg(value_name = "MODEL", required = true, num_args = 2..)]
    pub models: Vec<PathBuf>,
    /// Where to write the merged model.
    #[arg(long, value_name = "PATH")]
    pub out: PathBuf,
}

pub fn run(args: &Args) -> Result<ExitCode, Failure> {
    let mut models: Vec<Model> = Vec::with_capacity(args.models.len());
    let mut versions = Vec::with_capacity(args.models.len());
    for path in &args.models {
        let (model, version) = load_model(path)?;
        models.push(model);
        versions.push(version);
    }
    let mut merged = Model::merge(&models)
        .map_err(|e| Failure::new(Code::Input, anyhow!(e).context("cannot merge these models")))?;
    merged.parent = Some(format!("merge of {}", versions.join(", ")));
    let version = file::save(&merged, &args.out)
        .with_context(|| format!("cannot write the model to {}", args.out.display()))
        .map_err(|e| Failure::new(Code::Output, e))?;
    println!(
        "merged {} models ({} training examples in all): {} model {version}",
        models.len(),
        merged.training.examples,
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
