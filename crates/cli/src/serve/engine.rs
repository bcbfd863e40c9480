//! Triage of one message for the service: the core pipeline (parse, redact, features, score,
//! decide) on bytes from a request, with the active model, which the learner may swap.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use mailtriage_core::model::Model;
use mailtriage_core::privacy::Redactor;
use mailtriage_core::{features, parse, triage, Origin, RawMail};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::store::{now, DecisionRow};

/// The model in force and its version.
pub struct Active {
    pub model: Model,
    pub version: String,
}

/// One head's decision, as the API returns it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HeadOut {
    /// The head (`label`, `queue`, `priority`...).
    pub head: String,
    /// The chosen label.
    pub label: String,
    /// Its calibrated probability.
    pub probability: f32,
    /// The other labels, most probable first.
    pub alternatives: Vec<Alternative>,
    /// True when the probability is below the head's threshold: a human should decide.
    pub review: bool,
    /// The features that moved the decision most, in words.
    pub reasons: Vec<ReasonOut>,
}

/// Another label and its probability.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Alternative {
    pub label: String,
    pub probability: f32,
}

/// A feature behind a decision.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReasonOut {
    /// The feature in words (`subject: 'invoice overdue'`), from redacted text.
    pub feature: String,
    /// How far it moved the top label above the runner-up.
    pub weight: f32,
}

/// What redaction found in the message.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FindingsOut {
    /// Findings per type (`EMAIL_ADDRESS`, `PERSON`...).
    pub counts: std::collections::BTreeMap<String, u32>,
    /// True when confidential markers or the policy's terms were found.
    pub confidential: bool,
    /// The restricted queue the policy names for confidential mail, when it applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
}

/// A decision, as the API returns it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DecisionOut {
    /// The decision's id, for feedback and review.
    pub decision_id: String,
    /// The message's id (its Message-ID, the id given, or its fingerprint).
    pub message_id: String,
    /// The fingerprint of the message's bytes.
    pub fingerprint: String,
    /// Per head.
    pub heads: Vec<HeadOut>,
    /// True when any head wants review.
    pub review: bool,
    /// What redaction found.
    pub findings: FindingsOut,
    /// The model that decided.
    pub model_version: String,
    /// The privacy policy in force.
    pub policy_version: String,
    /// When, RFC 3339 UTC.
    pub created_at: String,
}

/// A message that could not be read: the reason and the detail (redacted).
#[derive(Debug, Clone)]
pub struct Unreadable {
    pub reason: &'static str,
    pub detail: String,
}

/// The service's pipeline.
pub struct Engine {
    active: RwLock<Arc<Active>>,
    pub redactor: Redactor,
    pub policy_version: String,
    pub reasons: usize,
    prefix: String,
    counter: AtomicU64,
}

impl Engine {
    pub fn new(active: Active, redactor: Redactor, policy_version: String, reasons: usize) -> Self {
        let mut seed = [0u8; 6];
        // Ids only need to be unique per store: a random prefix per process and a counter.
        let _ = getrandom::fill(&mut seed);
        Engine {
            active: RwLock::new(Arc::new(active)),
            redactor,
            policy_version,
            reasons,
            prefix: crate::store::audit::hex(&seed),
            counter: AtomicU64::new(0),
        }
    }

    /// The model in force.
    pub fn active(&self) -> Arc<Active> {
        match self.active.read() {
            Ok(a) => Arc::clone(&a),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Puts `active` in force for the requests that follow.
    pub fn swap(&self, active: Active) {
        let new = Arc::new(active);
        match self.active.write() {
            Ok(mut a) => *a = new,
            Err(poisoned) => *poisoned.into_inner() = new,
        }
    }

    fn next_id(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        format!("d{}{n:010x}", self.prefix)
    }

    /// Triage of one message's bytes: the decision to return, the row to store, and the
    /// model that decided (the learner may swap the active one meanwhile).
    pub fn triage(
        &self,
        bytes: Vec<u8>,
        id: Option<String>,
    ) -> Result<(DecisionOut, DecisionRow, Arc<Active>), Unreadable> {
        let decision_id = self.next_id();
        let mut raw = RawMail::new(
            Origin::Api {
                decision: decision_id.clone(),
            },
            bytes,
        );
        raw.id = id;
        let email = parse::parse(raw).map_err(|q| Unreadable {
            reason: q.reason.as_str(),
            detail: self.redactor.redact_unparsed(&q.detail),
        })?;
        let redacted = self.redactor.redact(email);
        let active = self.active();
        let model = &active.model;
        let feats = features::extract(&redacted, &model.features);
        let scores = model.score_features(&feats);
        let decision = triage::decide(
            &redacted,
            &feats,
            model,
            &active.version,
            &scores,
            self.reasons,
        );
        let out = DecisionOut {
            decision_id: decision_id.clone(),
            message_id: decision.id.clone(),
            fingerprint: decision.fingerprint.clone(),
            heads: decision
                .heads
                .iter()
                .map(|h| HeadOut {
                    head: h.head.clone(),
                    label: h.label.clone(),
                    probability: h.probability,
                    alternatives: h
                        .alternatives
                        .iter()
                        .map(|(label, probability)| Alternative {
                            label: label.clone(),
                            probability: *probability,
                        })
                        .collect(),
                    review: h.review,
                    reasons: h
                        .reasons
                        .iter()
                        .map(|r| ReasonOut {
                            feature: r.feature.clone(),
                            weight: r.weight,
                        })
                        .collect(),
                })
                .collect(),
            review: decision.review,
            findings: FindingsOut {
                counts: decision
                    .findings
                    .counts
                    .iter()
                    .map(|(kind, n)| ((*kind).to_string(), *n))
                    .collect(),
                confidential: decision.findings.confidential,
                route: decision.findings.route.clone(),
            },
            model_version: active.version.clone(),
            policy_version: self.policy_version.clone(),
            created_at: now(),
        };
        let row = DecisionRow {
            id: decision_id,
            message_id: out.message_id.clone(),
            fingerprint: out.fingerprint.clone(),
            created_at: out.created_at.clone(),
            model_version: active.version.clone(),
            review: out.review,
            decision: serde_json::to_string(&out).unwrap_or_default(),
            features: feats.entries.iter().map(|f| (f.index, f.value)).collect(),
        };
        Ok((out, row, active))
    }
}
