//! `Features` become `Scores`: one or more heads (spam/ham, queue, priority...), each a
//! calibrated multiclass linear model over the hashed features.
//!
//! Training is online (AdaGrad, several shuffled epochs, seeded and deterministic), so the
//! same code learns from one reviewer's correction at a time; models trained on shards can
//! be averaged ([`Model::merge`]) because feature hashing is the same everywhere.

pub mod file;
pub mod linear;
pub mod train;

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::features::{FeatureConfig, Features};
pub use linear::{LearnRate, LinearHead, Sparse};

/// What the model library refuses.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// Heads, labels or shapes that do not fit together.
    #[error("{0}")]
    Mismatch(String),
    /// A model file that cannot be read.
    #[error("{0}")]
    File(String),
    /// Reading or writing the file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The system's reason.
        #[source]
        source: std::io::Error,
    },
}

/// One head: a label set and its classifier.
#[derive(Debug, Clone, PartialEq)]
pub struct Head {
    /// The head's name (`label`, `queue`, `priority`...).
    pub name: String,
    /// Its classes, in index order.
    pub labels: Vec<String>,
    /// Calibration temperature (1 = none).
    pub temperature: f32,
    /// Below this probability of its top class, a decision goes to review.
    pub threshold: f32,
    /// Validation figures measured when it was trained, as reported.
    pub validation: Option<serde_json::Value>,
    /// The classifier.
    pub linear: LinearHead,
}

/// How a model was trained, kept in its file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Training {
    /// Examples seen (training split).
    pub examples: u64,
    /// xxh3 over the training messages' fingerprints and labels, in order.
    pub data_fingerprint: String,
    /// Passes over the data.
    pub epochs: u32,
    /// Learning rate and L2.
    pub rate: LearnRate,
    /// Seed of the shuffles.
    pub seed: u64,
    /// Corrections learned since (by `learn`).
    #[serde(default)]
    pub corrections: u64,
    /// Weight each class inversely to its frequency in training, so that a rare class is not
    /// drowned by the prior of the training mix (which rarely matches the mail to come).
    #[serde(default)]
    pub balanced: bool,
    /// How the validation split was carved (older files: random).
    #[serde(default)]
    pub validation_split: train::Split,
    /// Independent shuffled runs of the epochs whose weights are averaged (older files: 1).
    /// One online run leans on the order it met the examples in: on the SpamAssassin
    /// hold-out, single runs with other seeds differ by up to two points of accuracy.
    #[serde(default = "one")]
    pub shuffles: u32,
    /// Features that fewer training examples than this have are not learned (older files:
    /// 1, every feature). Most features are seen once: leaving them out more than halves the
    /// rows that the fit waits on and the model's size.
    #[serde(default = "one")]
    pub min_count: u32,
}

fn one() -> u32 {
    1
}

impl Training {
    /// Settings for a fresh training run: nothing seen, nothing learned yet.
    pub fn new(epochs: u32, rate: LearnRate, seed: u64, balanced: bool) -> Self {
        Training {
            examples: 0,
            data_fingerprint: String::new(),
            epochs,
            rate,
            seed,
            corrections: 0,
            balanced,
            validation_split: train::Split::Random,
            shuffles: 1,
            min_count: 1,
        }
    }
}

/// A model: feature settings, heads and their provenance.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// How features are made for it.
    pub features: FeatureConfig,
    /// Its heads.
    pub heads: Vec<Head>,
    /// How it was trained.
    pub training: Training,
    /// When it was written, RFC 3339 UTC.
    pub created_at: String,
    /// The version it was derived from (`learn`, `merge`), if any.
    pub parent: Option<String>,
    /// The learn-cache: keys (`fingerprint head label`) of corrections already learned, so
    /// that a correction given twice is learned once (as rspamd's learn cache does).
    pub learned: BTreeSet<String>,
}

/// One head's probabilities, highest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HeadScores {
    /// The head.
    pub head: String,
    /// `(label, probability)`, highest first.
    pub probabilities: Vec<(String, f32)>,
    /// Index of the top label in the head's label list.
    pub top: usize,
    /// Index of the runner-up, if there are two labels or more.
    pub runner_up: Option<usize>,
}

/// Every head's scores for one message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scores {
    /// Per head, in model order.
    pub heads: Vec<HeadScores>,
}

/// A feature that moved a decision, in words, with how much it moved it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reason {
    /// The feature in words (`subject: 'invoice overdue'`).
    pub feature: String,
    /// Its contribution to the top label's score over the runner-up's.
    pub weight: f32,
}

/// The sparse `(slot, value)` form of features, as the heads read them.
pub fn sparse(features: &Features) -> Vec<(u32, f32)> {
    features
        .entries
        .iter()
        .map(|f| (f.index, f.value))
        .collect()
}

impl Model {
    /// A fresh model with one zero head per `(name, labels)`.
    pub fn new(
        features: FeatureConfig,
        heads: &[(String, Vec<String>)],
        training: Training,
    ) -> Self {
        let slots = features.slots();
        Model {
            heads: heads
                .iter()
                .map(|(name, labels)| Head {
                    name: name.clone(),
                    labels: labels.clone(),
                    temperature: 1.0,
                    threshold: 0.0,
                    validation: None,
                    linear: LinearHead::new(slots, labels.len()),
                })
                .collect(),
            features,
            training,
            created_at: now_rfc3339(),
            parent: None,
            learned: BTreeSet::new(),
        }
    }

    /// Learns one correction for head `head` unless it was learned before; returns whether it
    /// was learned now. `epochs` repeats the update for this correction.
    pub fn learn(
        &mut self,
        fingerprint: &str,
        head: usize,
        label: usize,
        x: &Sparse,
        epochs: u32,
    ) -> bool {
        let Some(h) = self.heads.get_mut(head) else {
            return false;
        };
        let Some(label_name) = h.labels.get(label) else {
            return false;
        };
        let key = format!("{fingerprint} {} {label_name}", h.name);
        if !self.learned.insert(key) {
            return false;
        }
        let rate = self.training.rate.clone();
        for _ in 0..epochs.max(1) {
            h.linear.update(x, label, &rate);
        }
        self.training.corrections += 1;
        true
    }

    /// Scores a message on every head.
    pub fn score(&self, x: &Sparse) -> Scores {
        self.score_with(|head| head.linear.logits(x))
    }

    /// Scores a message's features on every head, without first copying them to a
    /// [`Sparse`] vector.
    pub fn score_features(&self, features: &Features) -> Scores {
        self.score_with(|head| {
            head.linear
                .logits_of(features.entries.iter().map(|f| (f.index, f.value)))
        })
    }

    fn score_with(&self, logits: impl Fn(&Head) -> Vec<f32>) -> Scores {
        Scores {
            heads: self
                .heads
                .iter()
                .map(|head| {
                    let p = linear::softmax(&logits(head), head.temperature);
                    let mut order: Vec<usize> = (0..p.len()).collect();
                    order.sort_by(|&a, &b| p[b].total_cmp(&p[a]).then(a.cmp(&b)));
                    HeadScores {
                        head: head.name.clone(),
                        probabilities: order
                            .iter()
                            .map(|&i| (head.labels[i].clone(), p[i]))
                            .collect(),
                        top: order.first().copied().unwrap_or(0),
                        runner_up: order.get(1).copied(),
                    }
                })
                .collect(),
        }
    }

    /// The `k` features that pushed head `head`'s top label furthest above its runner-up,
    /// largest first (equal ones in the order of the entries).
    pub fn reasons(
        &self,
        features: &Features,
        scores: &Scores,
        head: usize,
        k: usize,
    ) -> Vec<Reason> {
        let (Some(h), Some(s)) = (self.heads.get(head), scores.heads.get(head)) else {
            return Vec::new();
        };
        if k == 0 {
            return Vec::new();
        }
        // The k largest positive contributions, largest first, kept as the entries go by:
        // most entries fall below the k-th and cost one comparison. Among equal ones the
        // earlier entry comes first.
        let mut top: Vec<(f32, usize)> = Vec::with_capacity(k + 1);
        // What an entry must push above to be kept: zero until there are k, then the k-th
        // (which is above zero). One comparison, false for most entries and for a NaN, where
        // a test of the sign and then of the k-th was a branch on the sign that the
        // processor could not predict.
        let mut bar = 0.0f32;
        for (entry, feature) in features.entries.iter().enumerate() {
            let Some(weights) = h.linear.weights(feature.index as usize) else {
                continue;
            };
            let against = s.runner_up.map_or(0.0, |r| weights[r]);
            let push = feature.value * (weights[s.top] - against);
            if push.partial_cmp(&bar) != Some(std::cmp::Ordering::Greater) {
                continue;
            }
            let at = top.partition_point(|&(kept, _)| kept >= push);
            top.insert(at, (push, entry));
            top.truncate(k);
            if top.len() == k {
                bar = top[k - 1].0;
            }
        }
        top.into_iter()
            .map(|(weight, i)| Reason {
                feature: features.describe(&features.entries[i]),
                weight,
            })
            .collect()
    }

    /// Averages models trained on shards of the same data (same features, heads and labels).
    pub fn merge(models: &[Model]) -> Result<Model, ModelError> {
        let first = models
            .first()
            .ok_or_else(|| ModelError::Mismatch("no models to merge".into()))?;
        for m in models {
            if m.features != first.features
                || m.heads.len() != first.heads.len()
                || m.heads
                    .iter()
                    .zip(&first.heads)
                    .any(|(a, b)| a.name != b.name || a.labels != b.labels)
            {
                return Err(ModelError::Mismatch(
                    "models to merge must share feature settings, heads and labels".into(),
                ));
            }
        }
        let mut merged = first.clone();
        for (i, head) in merged.heads.iter_mut().enumerate() {
            let parts: Vec<&LinearHead> = models.iter().map(|m| &m.heads[i].linear).collect();
            head.linear = LinearHead::average(&parts)
                .ok_or_else(|| ModelError::Mismatch("head shapes differ".into()))?;
            head.temperature =
                models.iter().map(|m| m.heads[i].temperature).sum::<f32>() / models.len() as f32;
            head.validation = None;
        }
        merged.training.examples = models.iter().map(|m| m.training.examples).sum();
        merged.training.corrections = models.iter().map(|m| m.training.corrections).sum();
        // The shards' data, in the order given: a different set of shards is different data.
        let mut data = xxhash_rust::xxh3::Xxh3::new();
        for m in models {
            data.update(m.training.data_fingerprint.as_bytes());
        }
        merged.training.data_fingerprint = format!("{:016x}", data.digest());
        // A correction learned by any shard is not to be learned again.
        for m in &models[1..] {
            merged.learned.extend(m.learned.iter().cloned());
        }
        merged.created_at = now_rfc3339();
        merged.parent = Some(format!("merge of {} models", models.len()));
        Ok(merged)
    }
}

/// SplitMix64: a small, seeded, portable generator for shuffles (the same seed gives the
/// same order on every machine).
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Shuffles `items` in place (Fisher-Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next_u64() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

/// The current time as RFC 3339 UTC, from the system clock.
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuffles_are_seeded_and_portable() {
        let mut a: Vec<u32> = (0..10).collect();
        let mut b = a.clone();
        SplitMix64(7).shuffle(&mut a);
        SplitMix64(7).shuffle(&mut b);
        assert_eq!(a, b);
        assert_ne!(a, (0..10).collect::<Vec<_>>());
        // SplitMix64's published first output for seed 0.
        assert_eq!(SplitMix64(0).next_u64(), 0xe220_a839_7b1d_cdaf);
    }

    #[test]
    fn a_correction_is_learned_once() {
        let training = Training::new(1, LearnRate::default(), 1, false);
        let config = FeatureConfig {
            bits: 18,
            ..FeatureConfig::default()
        };
        let mut model = Model::new(
            config,
            &[("label".into(), vec!["ham".into(), "spam".into()])],
            training,
        );
        let x = [(3, 1.0)];
        assert!(model.learn("f1", 0, 1, &x, 2));
        let after_first = model.heads[0].linear.clone();
        assert!(!model.learn("f1", 0, 1, &x, 2), "same correction again");
        assert_eq!(model.heads[0].linear, after_first);
        assert!(
            model.learn("f1", 0, 0, &x, 1),
            "a different label is a new correction"
        );
        assert!(!model.learn("f2", 0, 5, &x, 1), "unknown label index");
        assert_eq!(model.training.corrections, 2);
    }

    #[test]
    fn reasons_are_the_largest_contributions_with_ties_in_entry_order(
    ) -> Result<(), Box<crate::quarantine::Quarantine>> {
        let raw = b"From: Billing <billing@example.com>\nSubject: pay the overdue invoice now\n\n\
            Pay the invoice now: the invoice is overdue, pay it today or pay a fee.\n";
        let email = crate::parse::parse(crate::ingest::RawMail::new(
            crate::ingest::Origin::Stdin { offset: 0 },
            raw.to_vec(),
        ))?;
        let redacted = crate::privacy::redact(email);
        let config = FeatureConfig {
            bits: 18,
            ..FeatureConfig::default()
        };
        let features = crate::features::extract(&redacted, &config);
        let mut model = Model::new(
            config,
            &[("label".into(), vec!["ham".into(), "spam".into()])],
            Training::new(1, LearnRate::default(), 1, false),
        );
        let x: Vec<(u32, f32)> = features
            .entries
            .iter()
            .map(|f| (f.index, f.value))
            .collect();
        assert!(model.learn("m", 0, 1, &x, 3));
        let scores = model.score_features(&features);
        let (top, runner_up) = (scores.heads[0].top, scores.heads[0].runner_up);
        // The definition: every positive contribution, sorted stably, largest first.
        let mut all: Vec<(f32, usize)> = features
            .entries
            .iter()
            .enumerate()
            .filter_map(|(i, f)| {
                let w = model.heads[0].linear.weights(f.index as usize)?;
                let against = runner_up.map_or(0.0, |r| w[r]);
                Some((f.value * (w[top] - against), i))
            })
            .filter(|(c, _)| *c > 0.0)
            .collect();
        all.sort_by(|a, b| b.0.total_cmp(&a.0));
        assert!(all.len() > 5, "{all:?}");
        for k in [0, 1, 3, 5, all.len() + 3] {
            let got: Vec<(String, f32)> = model
                .reasons(&features, &scores, 0, k)
                .into_iter()
                .map(|r| (r.feature, r.weight))
                .collect();
            let want: Vec<(String, f32)> = all
                .iter()
                .take(k)
                .map(|&(c, i)| (features.describe(&features.entries[i]), c))
                .collect();
            assert_eq!(got, want, "k = {k}");
        }
        Ok(())
    }

    #[test]
    fn clock_formats_as_rfc3339() {
        let now = now_rfc3339();
        assert_eq!(now.len(), 20);
        assert!(now.starts_with("20") && now.ends_with('Z'));
    }
}
