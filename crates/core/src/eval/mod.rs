//! Measuring a head: accuracy, macro-F1, per-class precision/recall/F1 and the confusion
//! matrix, from pairs of (true, predicted) label indices; and, from the confidence of each
//! decision, calibration (ECE, reliability) and coverage: how much mail can be decided
//! automatically at a given precision, the rest going to review.

mod confidence;

pub use confidence::{coverage, coverage_at, reliability, Bin, CoveragePoint, Judged};

use serde::Serialize;

/// One class's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassMetrics {
    /// The label.
    pub label: String,
    /// Of the messages predicted as this label, the share that were.
    pub precision: f64,
    /// Of the messages that were this label, the share predicted as it.
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
    /// Messages that were this label.
    pub support: u64,
}

/// A head's figures over a labelled set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    /// Messages measured.
    pub n: u64,
    /// Share predicted right.
    pub accuracy: f64,
    /// Unweighted mean of the per-class F1.
    pub macro_f1: f64,
    /// Per class, in label order.
    pub classes: Vec<ClassMetrics>,
    /// `confusion[true][predicted]`.
    pub confusion: Vec<Vec<u64>>,
}

/// Computes the figures; `pairs` are `(true, predicted)` indices into `labels`.
pub fn metrics(labels: &[String], pairs: &[(usize, usize)]) -> Metrics {
    let k = labels.len();
    let mut confusion = vec![vec![0u64; k]; k];
    for &(t, p) in pairs {
        if t < k && p < k {
            confusion[t][p] += 1;
        }
    }
    let n: u64 = confusion.iter().flatten().sum();
    let correct: u64 = (0..k).map(|i| confusion[i][i]).sum();
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let classes: Vec<ClassMetrics> = (0..k)
        .map(|c| {
            let tp = confusion[c][c];
            let predicted: u64 = (0..k).map(|t| confusion[t][c]).sum();
            let support: u64 = confusion[c].iter().sum();
            let precision = ratio(tp, predicted);
            let recall = ratio(tp, support);
            let f1 = if precision + recall == 0.0 {
                0.0
            } else {
                2.0 * precision * recall / (precision + recall)
            };
            ClassMetrics {
                label: labels[c].clone(),
                precision,
                recall,
                f1,
                support,
            }
        })
        .collect();
    let present: Vec<&ClassMetrics> = classes.iter().filter(|c| c.support > 0).collect();
    let macro_f1 = if present.is_empty() {
        0.0
    } else {
        present.iter().map(|c| c.f1).sum::<f64>() / present.len() as f64
    };
    Metrics {
        n,
        accuracy: ratio(correct, n),
        macro_f1,
        classes,
        confusion,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_match_a_hand_count() {
        let labels = vec!["ham".to_string(), "spam".to_string()];
        // 8 ham (7 right), 4 spam (3 right).
        let mut pairs = vec![(0, 0); 7];
        pairs.push((0, 1));
        pairs.extend(vec![(1, 1); 3]);
        pairs.push((1, 0));
        let m = metrics(&labels, &pairs);
        assert_eq!(m.n, 12);
        assert!((m.accuracy - 10.0 / 12.0).abs() < 1e-12);
        assert_eq!(m.confusion, vec![vec![7, 1], vec![1, 3]]);
        let spam = &m.classes[1];
        assert!((spam.precision - 0.75).abs() < 1e-12);
        assert!((spam.recall - 0.75).abs() < 1e-12);
        let ham_f1 = 2.0 * (7.0 / 8.0) * (7.0 / 8.0) / (7.0 / 4.0);
        assert!((m.macro_f1 - f64::midpoint(ham_f1, 0.75)).abs() < 1e-12);
    }
}
