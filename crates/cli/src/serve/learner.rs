//! Continuous learning with a guardrail.
//!
//! Feedback updates a candidate model online (a copy of the active one). A share of the
//! feedback, picked by message fingerprint, is not learned but held out. Every N learned
//! corrections the candidate and the active model are scored on the recent held-out
//! feedback and on the validation set given at start-up; the candidate is promoted only if it
//! is no worse than the active model by more than the margin on both. Otherwise it is kept in
//! the registry as `rejected` for a human to look at, and learning starts again from the
//! active model. Every promotion and rejection is audited.

use std::collections::{BTreeMap, VecDeque};
use std::sync::mpsc;
use std::sync::Arc;

use mailtriage_core::model::{file, train, Model};
use serde_json::json;

use super::engine::{Active, Engine};
use crate::store::{now, AuditEntry, ModelRow, Op, Store};

/// A labelled example: sparse features and the label index per head (if labelled).
pub type Labelled = (Vec<(u32, f32)>, Vec<Option<usize>>);

/// How the learner works.
#[derive(Debug, Clone)]
pub struct Config {
    /// Evaluate the candidate every this many learned corrections.
    pub every: usize,
    /// How much worse than the active model (in accuracy) a candidate may be and still be
    /// promoted.
    pub margin: f64,
    /// Share of feedback held out to judge candidates.
    pub holdout_share: f64,
    /// How many recent held-out corrections are kept.
    pub holdout_size: usize,
    /// Updates per correction.
    pub epochs: u32,
}

/// A correction as the learner receives it.
pub struct Feedback {
    pub id: i64,
    pub fingerprint: String,
    pub labels: BTreeMap<String, String>,
    pub features: Vec<(u32, f32)>,
}

enum Msg {
    Feedback(Feedback),
    /// The active model was changed by hand: start again from it.
    Reset,
}

/// The handle the API uses to hand feedback to the learner.
#[derive(Clone)]
pub struct Learner {
    tx: mpsc::Sender<Msg>,
}

impl Learner {
    /// Queues a correction (already stored); learning happens on the learner's thread.
    pub fn send(&self, feedback: Feedback) {
        let _ = self.tx.send(Msg::Feedback(feedback));
    }

    /// Drops the candidate's updates and starts again from the active model (after a
    /// promotion or rollback by hand).
    pub fn reset(&self) {
        let _ = self.tx.send(Msg::Reset);
    }
}

/// Share of labelled examples whose top label is right, averaged over heads with labels;
/// `None` when nothing is labelled.
pub fn accuracy(model: &Model, examples: &[Labelled]) -> Option<f64> {
    let mut per_head = vec![(0u64, 0u64); model.heads.len()];
    for (x, labels) in examples {
        let scores = model.score(x);
        for (h, label) in labels.iter().enumerate() {
            if let (Some(label), Some(s)) = (label, scores.heads.get(h)) {
                per_head[h].1 += 1;
                per_head[h].0 += u64::from(s.top == *label);
            }
        }
    }
    let measured: Vec<f64> = per_head
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(right, n)| *right as f64 / *n as f64)
        .collect();
    (!measured.is_empty()).then(|| measured.iter().sum::<f64>() / measured.len() as f64)
}

/// The label index per head of `labels` (by head name) for `model`; unknown labels are none.
pub fn label_indices(model: &Model, labels: &BTreeMap<String, String>) -> Vec<Option<usize>> {
    model
        .heads
        .iter()
        .map(|h| {
            labels
                .get(&h.name)
                .and_then(|l| h.labels.iter().position(|x| x == l))
        })
        .collect()
}

struct State {
    engine: Arc<Engine>,
    store: Arc<dyn Store>,
    validation: Vec<Labelled>,
    config: Config,
    candidate: Model,
    holdout: VecDeque<Labelled>,
    /// Held-out corrections received since the last judgement (dropped with a rejected
    /// candidate: they came with the same feedback).
    held_since: usize,
    learned: usize,
    last_feedback: i64,
}

/// Starts the learner thread; `replay` is feedback stored but not yet in the active model.
pub fn spawn(
    engine: Arc<Engine>,
    store: Arc<dyn Store>,
    validation: Vec<Labelled>,
    config: Config,
    replay: Vec<Feedback>,
) -> std::io::Result<Learner> {
    let (tx, rx) = mpsc::channel::<Msg>();
    let candidate = engine.active().model.clone();
    let mut state = State {
        engine,
        store,
        validation,
        config,
        candidate,
        holdout: VecDeque::new(),
        held_since: 0,
        learned: 0,
        last_feedback: 0,
    };
    std::thread::Builder::new()
        .name("learner".into())
        .spawn(move || {
            for f in replay {
                state.take(f);
            }
            while let Ok(msg) = rx.recv() {
                match msg {
                    Msg::Feedback(f) => state.take(f),
                    Msg::Reset => {
                        state.candidate = state.engine.active().model.clone();
                        state.learned = 0;
                    }
                }
            }
        })?;
    Ok(Learner { tx })
}

impl State {
    fn take(&mut self, f: Feedback) {
        self.last_feedback = self.last_feedback.max(f.id);
        let labels = label_indices(&self.candidate, &f.labels);
        if train::is_validation(&f.fingerprint, self.config.holdout_share) {
            self.holdout.push_back((f.features, labels));
            self.held_since += 1;
            while self.holdout.len() > self.config.holdout_size {
                self.holdout.pop_front();
            }
            metrics::counter!("mailtriage_learning_events_total", "event" => "held_out")
                .increment(1);
            return;
        }
        let mut any = false;
        for (head, label) in labels.iter().enumerate() {
            if let Some(label) = label {
                any |= self.candidate.learn(
                    &f.fingerprint,
                    head,
                    *label,
                    &f.features,
                    self.config.epochs,
                );
            }
        }
        if !any {
            metrics::counter!("mailtriage_learning_events_total", "event" => "skipped")
                .increment(1);
            return;
        }
        metrics::counter!("mailtriage_learning_events_total", "event" => "learned").increment(1);
        self.learned += 1;
        if self.learned >= self.config.every {
            self.learned = 0;
            self.evaluate();
        }
    }

    /// Scores the candidate against the active model and promotes or rejects it.
    fn evaluate(&mut self) {
        let active = self.engine.active();
        let holdout: Vec<Labelled> = self.holdout.iter().cloned().collect();
        let figures = |m: &Model| (accuracy(m, &holdout), accuracy(m, &self.validation));
        let (active_hold, active_val) = figures(&active.model);
        let (cand_hold, cand_val) = figures(&self.candidate);
        let margin = self.config.margin;
        let holds = |cand: Option<f64>, act: Option<f64>| match (cand, act) {
            (Some(c), Some(a)) => c >= a - margin,
            _ => true,
        };
        let judged = cand_hold.is_some() || cand_val.is_some();
        let promote = judged && holds(cand_hold, active_hold) && holds(cand_val, active_val);
        let held_since = std::mem::take(&mut self.held_since);
        let mut candidate = self.candidate.clone();
        candidate.parent = Some(active.version.clone());
        candidate.created_at = now();
        let (bytes, version) = file::to_bytes(&candidate);
        let metrics = json!({
            "holdout": {"n": holdout.len(), "candidate": cand_hold, "active": active_hold},
            "validation": {"n": self.validation.len(), "candidate": cand_val, "active": active_val},
            "margin": margin,
            "feedback_upto": self.last_feedback,
            "decided_by": "guardrail",
            "outcome": if promote { "promoted" } else if judged { "rejected" } else { "not judged: no held-out feedback and no validation set" },
        });
        let status = if promote { "candidate" } else { "rejected" };
        let audit = |action: &str| AuditEntry {
            actor: "learner".into(),
            action: action.into(),
            subject: version.clone(),
            detail: metrics.to_string(),
            model_version: active.version.clone(),
            policy_version: self.engine.policy_version.clone(),
        };
        let row = ModelRow {
            version: version.clone(),
            created_at: candidate.created_at.clone(),
            parent: candidate.parent.clone(),
            status: status.into(),
            metrics: metrics.clone(),
            feedback_upto: self.last_feedback,
        };
        if let Err(e) = self
            .store
            .write(Op::Model { row, bytes }, audit("model_added"))
        {
            eprintln!("mailtriage serve: cannot store candidate model {version}: {e}");
            return;
        }
        if promote {
            match self.store.write(
                Op::Activate {
                    version: version.clone(),
                    metrics: metrics.clone(),
                },
                audit("promote"),
            ) {
                Ok(_) => {
                    self.engine.swap(Active {
                        model: candidate,
                        version: version.clone(),
                    });
                    metrics::counter!("mailtriage_learning_events_total", "event" => "promoted")
                        .increment(1);
                }
                Err(e) => eprintln!("mailtriage serve: cannot promote {version}: {e}"),
            }
        } else {
            let _ = self.store.write(
                Op::SetStatus {
                    version: version.clone(),
                    status: "rejected".into(),
                    metrics: metrics.clone(),
                },
                audit("reject"),
            );
            metrics::counter!("mailtriage_learning_events_total", "event" => "rejected")
                .increment(1);
            // Learning goes on from the model in force, without the refused updates, and
            // the feedback held out beside them no longer judges later candidates.
            self.candidate = active.model.clone();
            for _ in 0..held_since.min(self.holdout.len()) {
                self.holdout.pop_back();
            }
        }
    }
}
