//! Drift: the share of predictions per label, and the review rate, against the model's
//! training-time figures (the predicted shares on its validation split), as a population
//! stability index per head. PSI under 0.1 is usually read as stable, over 0.25 as a shift
//! worth a look.

use std::sync::Mutex;

use mailtriage_core::model::Model;

use super::engine::DecisionOut;

/// Smallest share used in the index, so that a label never seen does not make it infinite.
const FLOOR: f64 = 1e-4;

#[derive(Default)]
struct Counts {
    /// Per head, predictions per label (by the model's label order).
    labels: Vec<Vec<u64>>,
    review: u64,
    total: u64,
}

/// Counts of what the service decided since it started.
#[derive(Default)]
pub struct Drift {
    counts: Mutex<Counts>,
}

/// The population stability index of `actual` against `expected` shares.
pub fn psi(expected: &[f64], actual: &[f64]) -> f64 {
    expected
        .iter()
        .zip(actual)
        .map(|(&e, &a)| {
            let (e, a) = (e.max(FLOOR), a.max(FLOOR));
            (a - e) * (a / e).ln()
        })
        .sum()
}

/// The predicted share of each label on the model's validation split (column sums of the
/// confusion matrix), if the model has one.
pub fn baseline(model: &Model, head: usize) -> Option<Vec<f64>> {
    let confusion = model
        .heads
        .get(head)?
        .validation
        .as_ref()?
        .get("confusion")?
        .as_array()?;
    let k = confusion.len();
    let mut predicted = vec![0f64; k];
    for row in confusion {
        for (p, v) in row.as_array()?.iter().enumerate() {
            if p < k {
                predicted[p] += v.as_f64()?;
            }
        }
    }
    let n: f64 = predicted.iter().sum();
    (n > 0.0).then(|| predicted.iter().map(|c| c / n).collect())
}

impl Drift {
    /// Counts one decision.
    pub fn record(&self, model: &Model, decision: &DecisionOut) {
        let Ok(mut c) = self.counts.lock() else {
            return;
        };
        if c.labels.len() != model.heads.len() {
            c.labels = model
                .heads
                .iter()
                .map(|h| vec![0; h.labels.len()])
                .collect();
        }
        for (head, (h, out)) in model.heads.iter().zip(&decision.heads).enumerate() {
            if let Some(i) = h.labels.iter().position(|l| *l == out.label) {
                if let Some(slot) = c.labels.get_mut(head).and_then(|v| v.get_mut(i)) {
                    *slot += 1;
                }
            }
        }
        c.total += 1;
        c.review += u64::from(decision.review);
    }

    /// Sets the drift gauges for `model`'s heads.
    pub fn export(&self, model: &Model) {
        let Ok(c) = self.counts.lock() else {
            return;
        };
        if c.total > 0 {
            metrics::gauge!("mailtriage_review_rate").set(c.review as f64 / c.total as f64);
        }
        for (i, head) in model.heads.iter().enumerate() {
            let Some(counts) = c.labels.get(i).filter(|v| v.len() == head.labels.len()) else {
                continue;
            };
            let n: u64 = counts.iter().sum();
            if n == 0 {
                continue;
            }
            let shares: Vec<f64> = counts.iter().map(|&k| k as f64 / n as f64).collect();
            for (label, share) in head.labels.iter().zip(&shares) {
                metrics::gauge!("mailtriage_label_share", "head" => head.name.clone(), "label" => label.clone())
                    .set(*share);
            }
            if let Some(base) = baseline(model, i) {
                for (label, share) in head.labels.iter().zip(&base) {
                    metrics::gauge!("mailtriage_label_share_baseline", "head" => head.name.clone(), "label" => label.clone())
                        .set(*share);
                }
                metrics::gauge!("mailtriage_drift_psi", "head" => head.name.clone())
                    .set(psi(&base, &shares));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::psi;

    #[test]
    fn psi_is_zero_for_the_same_shares_and_grows_with_the_shift() {
        assert!(psi(&[0.5, 0.5], &[0.5, 0.5]).abs() < 1e-12);
        let small = psi(&[0.5, 0.5], &[0.55, 0.45]);
        let large = psi(&[0.5, 0.5], &[0.9, 0.1]);
        assert!(small > 0.0 && small < 0.1, "{small}");
        assert!(large > 0.25, "{large}");
        assert!(psi(&[1.0, 0.0], &[0.0, 1.0]).is_finite());
    }
}
