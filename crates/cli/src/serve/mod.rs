//! `mailtriage serve`: the triage service.
//!
//! Start-up: open the store (migrating it), put a model in force (the `--model` file when it
//! is new to the registry, else the registry's active model), read the validation set the
//! guardrail judges candidates on, replay feedback stored since the active model was made,
//! then serve. See `api.rs` for the routes and `learner.rs` for continuous learning.

pub mod api;
pub mod auth;
pub mod drift;
pub mod engine;
pub mod learner;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context};
use mailtriage_core::model::{file, Model};
use mailtriage_core::{features, model};
use sha2::{Digest, Sha256};

use self::engine::{Active, Engine};
use self::learner::{Feedback, Labelled};
use crate::exit::{Code, Failure};
use crate::labels::{head_fields, label_of};
use crate::run::{parse_size, InputArgs, Run};
use crate::store::{now, AuditEntry, Durability, ModelRow, Op, Store};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The model to serve. Registered in the store when new to it and then made active;
    /// without it, the store's active model is served.
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,
    /// The store: `sqlite:PATH`.
    #[arg(long, default_value = "sqlite:triage.db", value_name = "SPEC")]
    pub store: String,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// How hard commits press data to disk: process (survives kill -9) or power (also
    /// survives a power cut; slower).
    #[arg(long, value_enum, default_value_t = Durability::Process)]
    pub durability: Durability,
    /// Labelled messages the guardrail scores candidate models on (with the labels in a
    /// field named after each head, or see --label-field).
    #[arg(long, value_name = "SRC")]
    pub validation: Option<String>,
    /// Read head H's labels from field F of the validation set, as `H=F`.
    #[arg(long = "label-field", value_name = "H=F")]
    pub label_fields: Vec<String>,
    /// Judge the candidate model every N learned corrections.
    #[arg(long, default_value_t = 50, value_name = "N")]
    pub learn_every: usize,
    /// Promote a candidate only if its accuracy is at most this much below the active
    /// model's, on held-out feedback and on the validation set.
    #[arg(long, default_value_t = 0.01)]
    pub margin: f64,
    /// Share of feedback held out (not learned) to judge candidates.
    #[arg(long, default_value_t = 0.2)]
    pub holdout_share: f64,
    /// Updates per correction.
    #[arg(long, default_value_t = 3)]
    pub epochs: u32,
    /// Largest request body (bytes, or with K, M, G).
    #[arg(long, default_value = "10M", value_parser = parse_size, value_name = "BYTES")]
    pub max_body: usize,
    /// Seconds a request may take before it is answered 408.
    #[arg(long, default_value_t = 10)]
    pub timeout: u64,
    /// Reasons per head in each decision.
    #[arg(long, default_value_t = 5)]
    pub reasons: usize,
    /// Worker threads; 0 uses every core.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    #[command(flatten)]
    pub privacy: crate::privacy::PrivacyArgs,
}

fn fail(code: Code) -> impl Fn(anyhow::Error) -> Failure {
    move |e| Failure::new(code, e)
}

/// The policy's version: a hash of the policy file, or `builtin`.
fn policy_version(args: &crate::privacy::PrivacyArgs) -> Result<String, Failure> {
    match &args.policy {
        None => Ok("builtin".into()),
        Some(p) => {
            let bytes = std::fs::read(p)
                .with_context(|| format!("cannot read the privacy policy {}", p.display()))
                .map_err(fail(Code::Input))?;
            Ok(crate::store::audit::hex(&Sha256::digest(&bytes))[..16].to_string())
        }
    }
}

/// Puts the model in force: `--model` when new to the registry, else the registry's active.
fn active_model(args: &Args, store: &dyn Store, policy: &str) -> Result<(Active, i64), Failure> {
    let models = store.models().map_err(|e| fail(Code::Input)(anyhow!(e)))?;
    if let Some(path) = &args.model {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read the model {}", path.display()))
            .map_err(fail(Code::Input))?;
        let (model, version) = file::from_bytes(&bytes)
            .with_context(|| format!("cannot load the model {}", path.display()))
            .map_err(fail(Code::Input))?;
        if !models.iter().any(|m| m.version == version) {
            let audit = |action: &str| AuditEntry {
                actor: "serve".into(),
                action: action.into(),
                subject: version.clone(),
                detail: serde_json::json!({"file": path.display().to_string()}).to_string(),
                model_version: version.clone(),
                policy_version: policy.into(),
            };
            let row = ModelRow {
                version: version.clone(),
                created_at: model.created_at.clone(),
                parent: model.parent.clone(),
                status: "candidate".into(),
                metrics: serde_json::json!({"registered_from": path.display().to_string()}),
                feedback_upto: 0,
            };
            let write = |op, action: &str| {
                store
                    .write(op, audit(action))
                    .map_err(|e| fail(Code::Output)(anyhow!(e)))
            };
            write(Op::Model { row, bytes }, "model_added")?;
            // Feedback already stored was given on other models' decisions: the new model
            // starts after it.
            let upto = store
                .last_feedback_id()
                .map_err(|e| fail(Code::Input)(anyhow!(e)))?;
            write(
                Op::Activate {
                    version: version.clone(),
                    metrics: serde_json::json!({
                        "registered_from": path.display().to_string(),
                        "feedback_upto": upto,
                    }),
                },
                "promote",
            )?;
            return Ok((Active { model, version }, upto));
        }
    }
    let models = store.models().map_err(|e| fail(Code::Input)(anyhow!(e)))?;
    let Some(row) = models.iter().find(|m| m.status == "active") else {
        return Err(Failure::new(
            Code::Usage,
            anyhow!("the store has no active model: start with --model PATH"),
        ));
    };
    let bytes = store
        .model_bytes(&row.version)
        .map_err(|e| fail(Code::Input)(anyhow!(e)))?
        .ok_or_else(|| {
            Failure::new(
                Code::Input,
                anyhow!("model {} is not in the store", row.version),
            )
        })?;
    let (model, version) = file::from_bytes(&bytes)
        .with_context(|| format!("cannot load the active model {}", row.version))
        .map_err(fail(Code::Input))?;
    // Feedback already judged (in a promoted or a rejected candidate) is not learned again:
    // replay starts after the last correction any model in the registry has seen.
    let upto = models
        .iter()
        .map(|m| {
            m.metrics
                .get("feedback_upto")
                .and_then(serde_json::Value::as_i64)
                .unwrap_or(m.feedback_upto)
                .max(m.feedback_upto)
        })
        .max()
        .unwrap_or(0);
    Ok((Active { model, version }, upto))
}

/// The validation set as features and label indices.
fn validation_set(
    args: &Args,
    model: &Model,
    redactor: &mailtriage_core::privacy::Redactor,
) -> Result<Vec<Labelled>, Failure> {
    let Some(src) = &args.validation else {
        return Ok(Vec::new());
    };
    let fields = head_fields(model, &args.label_fields)?;
    let input = InputArgs {
        inputs: vec![src.clone()],
        threads: 0,
        ordered: false,
        max_message_size: mailtriage_core::ingest::DEFAULT_MAX_MESSAGE_SIZE,
        quarantine: None,
        fail_on_quarantine: false,
        summary: None,
        quiet: true,
        privacy: args.privacy.clone(),
    };
    let run = Run {
        args: &input,
        redactor,
        default_quarantine: None,
    };
    let labels: Vec<Vec<String>> = model.heads.iter().map(|h| h.labels.clone()).collect();
    let config = model.features.clone();
    let mut out: Vec<Labelled> = Vec::new();
    run.execute(
        |redacted, acc: &mut Vec<Labelled>, _| {
            let email = redacted.email();
            let wanted: Vec<Option<usize>> = fields
                .iter()
                .zip(&labels)
                .map(|(f, set)| {
                    let label = label_of(email, f)?;
                    set.iter().position(|l| *l == label)
                })
                .collect();
            if wanted.iter().any(Option::is_some) {
                acc.push((
                    model::sparse(&features::extract(&redacted, &config)),
                    wanted,
                ));
            }
            Ok(())
        },
        |_, batch| {
            out.extend(batch);
            Ok(())
        },
    )?;
    Ok(out)
}

pub fn run(args: &Args) -> Result<ExitCode, Failure> {
    let threads = if args.threads == 0 {
        std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
    } else {
        args.threads
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .map_err(fail(Code::Internal))?;
    let store = Arc::new(
        crate::store::open(&args.store, args.durability)
            .map_err(|e| Failure::new(Code::Input, anyhow!(e)))?,
    );
    let policy = policy_version(&args.privacy)?;
    let (active, upto) = active_model(args, store.as_ref(), &policy)?;
    let redactor = crate::privacy::redactor(&args.privacy)?;
    let validation = validation_set(args, &active.model, &redactor)?;
    let replay: Vec<Feedback> = store
        .feedback_since(upto)
        .map_err(|e| Failure::new(Code::Input, anyhow!(e)))?
        .into_iter()
        .map(|f| Feedback {
            id: f.row.id,
            fingerprint: f.fingerprint,
            labels: f.row.labels,
            features: f.features,
        })
        .collect();
    eprintln!(
        "mailtriage serve: model {} (policy {policy}); {} validation messages; {} corrections to replay",
        active.version,
        validation.len(),
        replay.len()
    );
    let engine = Arc::new(Engine::new(active, redactor, policy, args.reasons));
    let dyn_store: Arc<dyn Store> = store.clone();
    let learner = learner::spawn(
        Arc::clone(&engine),
        Arc::clone(&dyn_store),
        validation,
        learner::Config {
            every: args.learn_every.max(1),
            margin: args.margin,
            holdout_share: args.holdout_share.clamp(0.0, 0.9),
            holdout_size: 2000,
            epochs: args.epochs,
        },
        replay,
    )
    .context("cannot start the learner")
    .map_err(fail(Code::Internal))?;
    let prometheus = metrics_exporter_prometheus::PrometheusBuilder::new()
        .set_buckets_for_metric(
            metrics_exporter_prometheus::Matcher::Full(
                "mailtriage_http_request_duration_seconds".into(),
            ),
            &[
                0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
            ],
        )
        .and_then(metrics_exporter_prometheus::PrometheusBuilder::install_recorder)
        .map_err(|e| eprintln!("mailtriage serve: metrics are off: {e}"))
        .ok();
    let state = Arc::new(api::AppState {
        engine,
        auth: auth::Authorizer::new(Arc::clone(&dyn_store)),
        store: dyn_store,
        learner,
        prometheus: prometheus.clone(),
        drift: drift::Drift::default(),
        ready: AtomicBool::new(false),
    });
    let (router, openapi) = api::router();
    let openapi_json = openapi
        .to_json()
        .context("cannot write the OpenAPI document")
        .map_err(fail(Code::Internal))?;
    let app = router
        .route(
            "/openapi.json",
            axum::routing::get(move || {
                let doc = openapi_json.clone();
                async move {
                    (
                        [(axum::http::header::CONTENT_TYPE, "application/json")],
                        doc,
                    )
                }
            }),
        )
        .fallback(api::not_found)
        .with_state(Arc::clone(&state))
        .layer(axum::middleware::from_fn(api::track))
        .layer(axum::extract::DefaultBodyLimit::max(args.max_body))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(args.timeout.max(1)),
        ));
    let listen = args.listen;
    let served = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        eprintln!(
            "mailtriage serve: listening on http://{}",
            listener.local_addr()?
        );
        if let Some(handle) = prometheus {
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    handle.run_upkeep();
                }
            });
        }
        state.ready.store(true, Ordering::Release);
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown())
            .await
            .context("the server failed")
    });
    store.close();
    eprintln!("mailtriage serve: stopped at {}", now());
    served.map_err(fail(Code::Internal))?;
    Ok(ExitCode::SUCCESS)
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        else {
            let _ = interrupt.await;
            return;
        };
        tokio::select! {
            _ = interrupt => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
