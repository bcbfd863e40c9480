//! Calibration and coverage, from `(confidence, correct)` pairs: the top label's calibrated
//! probability, and whether it was right.

use serde::Serialize;

/// One decision as judged against the truth.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Judged {
    /// The probability given to the chosen label.
    pub confidence: f32,
    /// Whether the chosen label was the true one.
    pub correct: bool,
}

/// A reliability bin: decisions whose confidence fell in `[from, to)`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bin {
    /// Lower edge.
    pub from: f64,
    /// Upper edge.
    pub to: f64,
    /// Decisions in the bin.
    pub count: u64,
    /// Their mean confidence.
    pub confidence: f64,
    /// Their accuracy.
    pub accuracy: f64,
}

/// `bins` equal-width reliability bins over [0, 1], and the expected calibration error
/// (the count-weighted mean gap between confidence and accuracy).
pub fn reliability(judged: &[Judged], bins: usize) -> (Vec<Bin>, f64) {
    let bins = bins.max(1);
    let mut sums = vec![(0u64, 0f64, 0u64); bins];
    for j in judged {
        let b = ((f64::from(j.confidence) * bins as f64) as usize).min(bins - 1);
        sums[b].0 += 1;
        sums[b].1 += f64::from(j.confidence);
        sums[b].2 += u64::from(j.correct);
    }
    let n = judged.len().max(1) as f64;
    let mut ece = 0.0;
    let out = sums
        .into_iter()
        .enumerate()
        .map(|(i, (count, conf, correct))| {
            let (confidence, accuracy) = if count == 0 {
                (0.0, 0.0)
            } else {
                (conf / count as f64, correct as f64 / count as f64)
            };
            ece += count as f64 / n * (confidence - accuracy).abs();
            Bin {
                from: i as f64 / bins as f64,
                to: (i + 1) as f64 / bins as f64,
                count,
                confidence,
                accuracy,
            }
        })
        .collect();
    (out, ece)
}

/// A point of the precision-coverage curve: deciding automatically every message whose
/// confidence is at least `threshold` covers `coverage` of the mail at `precision`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoveragePoint {
    /// Confidence threshold.
    pub threshold: f32,
    /// Share of messages decided automatically.
    pub coverage: f64,
    /// Share of those that were right.
    pub precision: f64,
}

/// The precision-coverage curve, most confident first (one point per distinct confidence).
pub fn coverage(judged: &[Judged]) -> Vec<CoveragePoint> {
    let mut sorted: Vec<Judged> = judged.to_vec();
    sorted.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    let n = sorted.len().max(1) as f64;
    let mut points = Vec::new();
    let mut correct = 0u64;
    for (i, j) in sorted.iter().enumerate() {
        correct += u64::from(j.correct);
        let last_of_tie = sorted
            .get(i + 1)
            .is_none_or(|next| next.confidence.to_bits() != j.confidence.to_bits());
        if last_of_tie {
            points.push(CoveragePoint {
                threshold: j.confidence,
                coverage: (i + 1) as f64 / n,
                precision: correct as f64 / (i + 1) as f64,
            });
        }
    }
    points
}

/// The largest coverage whose precision is at least `target`, with its threshold (None
/// when not even the most confident decisions reach it).
pub fn coverage_at(curve: &[CoveragePoint], target: f64) -> Option<&CoveragePoint> {
    curve
        .iter()
        .filter(|p| p.precision >= target)
        .max_by(|a, b| a.coverage.total_cmp(&b.coverage))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn j(confidence: f32, correct: bool) -> Judged {
        Judged {
            confidence,
            correct,
        }
    }

    #[test]
    fn ece_is_zero_when_calibrated_and_large_when_not() {
        let calibrated: Vec<Judged> = (0..100).map(|i| j(0.75, i % 4 != 0)).collect();
        let (bins, ece) = reliability(&calibrated, 10);
        assert!(ece < 1e-9, "{ece}");
        assert_eq!(bins[7].count, 100);
        let overconfident: Vec<Judged> = (0..100).map(|i| j(0.99, i % 2 == 0)).collect();
        assert!((reliability(&overconfident, 10).1 - 0.49).abs() < 1e-6);
    }

    #[test]
    fn coverage_finds_the_largest_share_at_a_precision() {
        // 90 right at high confidence, then 10 at lower confidence of which half are wrong.
        let mut judged: Vec<Judged> = (0..90).map(|_| j(0.99, true)).collect();
        judged.extend((0..10).map(|i| j(0.6, i % 2 == 0)));
        let curve = coverage(&judged);
        assert_eq!(curve.len(), 2);
        let Some(at99) = coverage_at(&curve, 0.99) else {
            panic!("no point at 99% precision: {curve:?}");
        };
        assert!((at99.coverage - 0.9).abs() < 1e-12);
        assert!((at99.threshold - 0.99).abs() < 1e-6);
        let Some(at95) = coverage_at(&curve, 0.95) else {
            panic!("no point at 95% precision: {curve:?}");
        };
        assert!(
            (at95.coverage - 1.0).abs() < 1e-12,
            "95% of all 100 are right"
        );
        assert!(coverage_at(&coverage(&[j(0.9, false)]), 0.5).is_none());
    }
}
