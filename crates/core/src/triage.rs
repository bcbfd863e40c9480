//! `Scores` become a `Decision`: the label per head, how sure, whether a human should look,
//! and why, with the model version so that an audit can replay it.

use serde::Serialize;

use crate::features::Features;
use crate::model::{Model, Reason, Scores};
use crate::privacy::{FindingsSummary, Redacted};

/// One head's decision.
#[derive(Debug, Clone, Serialize)]
pub struct HeadDecision {
    /// The head.
    pub head: String,
    /// The chosen label.
    pub label: String,
    /// Its calibrated probability.
    pub probability: f32,
    /// The other labels with their probabilities, highest first.
    pub alternatives: Vec<(String, f32)>,
    /// True when the probability is below the head's threshold: a human should decide.
    pub review: bool,
    /// The features that moved the decision most.
    pub reasons: Vec<Reason>,
}

/// The decision for one message.
#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    /// The message id.
    pub id: String,
    /// The message fingerprint (learn-cache and audit key).
    pub fingerprint: String,
    /// Per head.
    pub heads: Vec<HeadDecision>,
    /// True when any head wants review.
    pub review: bool,
    /// What redaction found.
    pub findings: FindingsSummary,
    /// The model's version id.
    pub model_version: String,
}

/// Decides from scores: the top label per head, review below the head's threshold, and the
/// `reasons` strongest features.
pub fn decide(
    message: &Redacted,
    features: &Features,
    model: &Model,
    model_version: &str,
    scores: &Scores,
    reasons: usize,
) -> Decision {
    let heads: Vec<HeadDecision> = scores
        .heads
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let (label, probability) = s.probabilities.first().cloned().unwrap_or_default();
            let threshold = model.heads.get(i).map_or(0.0, |h| h.threshold);
            HeadDecision {
                head: s.head.clone(),
                label,
                probability,
                alternatives: s.probabilities.iter().skip(1).cloned().collect(),
                review: probability < threshold,
                reasons: model.reasons(features, scores, i, reasons),
            }
        })
        .collect();
    let email = message.email();
    Decision {
        id: email.id.clone(),
        fingerprint: email.fingerprint.clone(),
        review: heads.iter().any(|h| h.review),
        heads,
        findings: message.findings().clone(),
        model_version: model_version.to_string(),
    }
}
