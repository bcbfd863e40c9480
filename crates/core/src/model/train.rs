//! Fitting a model: shuffled AdaGrad epochs over in-memory examples, a validation split
//! carved from the training data by fingerprint (stable across runs and machines), and
//! temperature calibration on that split.

use serde::Serialize;

use super::linear::TwoClassFit;
use super::{linear, LinearHead, Model, SplitMix64};
use crate::eval::{metrics, Metrics};

/// One training message: its sparse features and, per head, its label index if it has one.
#[derive(Debug, Clone)]
pub struct Example {
    /// `(slot, value)` pairs.
    pub x: Vec<(u32, f32)>,
    /// Per head, the label index (None: no label for that head).
    pub labels: Vec<Option<usize>>,
    /// The message's fingerprint (hex), which decides its split.
    pub fingerprint: String,
    /// When it was sent (seconds since 1970), for the newest-first split.
    pub sent: Option<i64>,
}

/// How the validation split is carved from the training data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    /// A fixed share of fingerprints: stable, and like the training data.
    #[default]
    Random,
    /// The newest share of each label of the first head, by Date: it measures what drift
    /// does to a model, since the mail to come is newer than the mail it learned from.
    /// Messages without a date count as the oldest.
    Newest,
}

/// Which examples are held out: `share` of them, chosen by `split`.
pub fn validation_mask(examples: &[Example], share: f64, split: Split) -> Vec<bool> {
    match split {
        Split::Random => examples
            .iter()
            .map(|e| is_validation(&e.fingerprint, share))
            .collect(),
        Split::Newest => {
            let mut mask = vec![false; examples.len()];
            let mut groups: std::collections::BTreeMap<Option<usize>, Vec<usize>> =
                std::collections::BTreeMap::new();
            for (i, e) in examples.iter().enumerate() {
                groups
                    .entry(e.labels.first().copied().flatten())
                    .or_default()
                    .push(i);
            }
            for mut members in groups.into_values() {
                members.sort_by(|&a, &b| {
                    let (a, b) = (&examples[a], &examples[b]);
                    a.sent
                        .unwrap_or(i64::MIN)
                        .cmp(&b.sent.unwrap_or(i64::MIN))
                        .then_with(|| a.fingerprint.cmp(&b.fingerprint))
                });
                let held = (members.len() as f64 * share).round() as usize;
                for &i in &members[members.len() - held.min(members.len())..] {
                    mask[i] = true;
                }
            }
            mask
        }
    }
}

/// Whether a message belongs to the validation split: a fixed share of fingerprints.
pub fn is_validation(fingerprint: &str, share: f64) -> bool {
    let h = xxhash_rust::xxh3::xxh3_64(fingerprint.as_bytes());
    (h as f64 / u64::MAX as f64) < share
}

/// How a fit went, per head.
#[derive(Debug, Clone, Serialize)]
pub struct FitReport {
    /// Examples trained on.
    pub trained: usize,
    /// Examples held out for validation.
    pub validation: usize,
    /// Per head: its validation figures (None when the split had no labelled example).
    pub heads: Vec<Option<Metrics>>,
}

/// Trains `model` on `examples` for `model.training.epochs` shuffled passes, holding out a
/// `validation_share` of them (chosen by `split`); calibrates each head's temperature on the held-out part and
/// records its validation figures in the head.
pub fn fit(
    model: &mut Model,
    examples: &[Example],
    validation_share: f64,
    split: Split,
    on_epoch: impl FnMut(u32),
) -> FitReport {
    fit_on(
        model,
        examples.to_vec(),
        validation_share,
        split,
        0,
        on_epoch,
    )
}

/// [`fit`] on examples it may change (their slots are renumbered in place for the fit, so
/// that no copy is made), with the shuffles spread over at most `threads` threads (0: one
/// per core). The model is the same whatever the number.
pub fn fit_on(
    model: &mut Model,
    examples: Vec<Example>,
    validation_share: f64,
    split: Split,
    threads: usize,
    mut on_epoch: impl FnMut(u32),
) -> FitReport {
    let mask = validation_mask(&examples, validation_share, split);
    let mut validation: Vec<Example> = Vec::new();
    let mut train: Vec<Example> = Vec::new();
    for (example, held) in examples.into_iter().zip(mask) {
        if held {
            validation.push(example);
        } else {
            train.push(example);
        }
    }
    let weights = class_weights(model, &train);
    let shuffles = model.training.shuffles.max(1);
    let slots = model.heads.first().map_or(0, |h| h.linear.slots());
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let threads = if threads == 0 { cores } else { threads };
    let used = renumber(&mut train, slots, threads, model.training.min_count);
    let start: Vec<LinearHead> = model.heads.iter().map(|h| h.linear.gather(&used)).collect();
    let train = &train;
    let runs: Vec<Vec<LinearHead>> = if shuffles == 1 {
        vec![run_epochs(
            start,
            train,
            &weights,
            model,
            model.training.seed,
            &mut on_epoch,
        )]
    } else {
        // Shuffles are independent until they are averaged: spread over the threads, and
        // averaged in the order of their seeds, so that the number of threads changes
        // nothing. Progress is told when every shuffle has done its epochs. A thread takes
        // the next shuffle when it is done with one, rather than a fixed share: on a shared
        // machine one core may run slower, and a fixed share left the other idle for the
        // last shuffle.
        let workers = threads.min(shuffles as usize);
        let seeds: Vec<u64> = (0..u64::from(shuffles))
            .map(|k| shuffle_seed(model.training.seed, k))
            .collect();
        let next = std::sync::atomic::AtomicUsize::new(0);
        let model_ref: &Model = model;
        let mut done: Vec<(usize, Vec<LinearHead>)> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    let (seeds, start, weights, next) = (&seeds, &start, &weights, &next);
                    scope.spawn(move || {
                        let mut runs = Vec::new();
                        loop {
                            let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some(&seed) = seeds.get(k) else {
                                break runs;
                            };
                            let heads =
                                run_epochs(start.clone(), train, weights, model_ref, seed, |_| {});
                            runs.push((k, heads));
                        }
                    })
                })
                .collect();
            handles
                .into_iter()
                // A worker only panics on a bug; its panic goes on here rather than a
                // model averaged over fewer runs than it says.
                .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        });
        done.sort_by_key(|(k, _)| *k);
        (1..=model.training.epochs).for_each(&mut on_epoch);
        done.into_iter().map(|(_, heads)| heads).collect()
    };
    for (h, head) in model.heads.iter_mut().enumerate() {
        let fitted: Vec<&LinearHead> = runs.iter().filter_map(|r| r.get(h)).collect();
        head.linear.scatter_average(&used, &fitted, threads);
    }
    model.training.examples = train.len() as u64;
    let mut reports = Vec::new();
    for (h, head) in model.heads.iter_mut().enumerate() {
        let labelled: Vec<(&Example, usize)> = validation
            .iter()
            .filter_map(|e| e.labels.get(h).copied().flatten().map(|l| (e, l)))
            .collect();
        if labelled.is_empty() {
            reports.push(None);
            continue;
        }
        let logits: Vec<Vec<f32>> = labelled
            .iter()
            .map(|(e, _)| head.linear.logits(&e.x))
            .collect();
        let truth: Vec<usize> = labelled.iter().map(|(_, l)| *l).collect();
        head.temperature = linear::fit_temperature(&logits, &truth);
        let pairs: Vec<(usize, usize)> = logits
            .iter()
            .zip(&truth)
            .map(|(l, &t)| (t, argmax(l)))
            .collect();
        let m = metrics(&head.labels, &pairs);
        head.validation = serde_json::to_value(&m).ok();
        reports.push(Some(m));
    }
    FitReport {
        trained: train.len(),
        validation: validation.len(),
        heads: reports,
    }
}

/// Renumbers the slots of `train` into a compact table of the slots they use, most
/// frequent first, and returns that table's slots (compact index -> slot); entries beyond
/// `slots` are dropped, as the full table would skip them, and so are the entries of slots
/// that fewer than `min_count` examples have (their weights stay as they were). Training is
/// then the same arithmetic on the same weights, but over a table of the slots in use (a few
/// hundred thousand rows rather than 2^20 and more), whose frequent rows share cache lines:
/// the updates wait on memory much less.
fn renumber(train: &mut [Example], slots: usize, threads: usize, min_count: u32) -> Vec<u32> {
    // Both passes look up a table of every slot at random, and wait on memory: the
    // examples are split over the threads. Each counting thread holds a table of every slot
    // (64 MiB at 2^24 slots), so at most four count.
    let part = train.len().div_ceil(threads.clamp(1, 4)).max(1);
    let mut counts = std::thread::scope(|scope| {
        let counting: Vec<_> = train
            .chunks(part)
            .map(|examples| scope.spawn(move || slot_counts(examples, slots)))
            .collect();
        counting
            .into_iter()
            // A thread only panics on a bug: its panic goes on here.
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .reduce(|mut total, counts| {
                for (t, c) in total.iter_mut().zip(counts) {
                    *t += c;
                }
                total
            })
            .unwrap_or_else(|| vec![0; slots])
    });
    // The most frequent come first: the slots kept are the first `kept` places.
    let kept = counts.iter().filter(|&&c| c >= min_count.max(1)).count();
    let mut used = by_frequency(&mut counts);
    used.truncate(kept);
    let places = &counts;
    std::thread::scope(|scope| {
        for examples in train.chunks_mut(part) {
            scope.spawn(move || {
                for example in examples {
                    example.x.retain(|(slot, _)| (*slot as usize) < slots);
                    for (slot, _) in &mut example.x {
                        *slot = places[*slot as usize];
                    }
                    example.x.retain(|&(place, _)| (place as usize) < kept);
                }
            });
        }
    });
    used
}

/// How many of `examples` have each slot.
fn slot_counts(examples: &[Example], slots: usize) -> Vec<u32> {
    let mut counts = linear::written_zeros::<u32>(slots);
    for example in examples {
        for &(slot, _) in &example.x {
            if let Some(c) = counts.get_mut(slot as usize) {
                *c += 1;
            }
        }
    }
    counts
}

/// The slots whose count is not zero, most frequent first and in slot order among equals;
/// `counts` becomes the map from slot to place in that list (kept for the used slots only).
/// A counting sort: a comparison sort of a few hundred thousand slots was most of the
/// time `train` spent on one core between reading and fitting.
fn by_frequency(counts: &mut [u32]) -> Vec<u32> {
    let top = counts.iter().copied().max().unwrap_or(0) as usize;
    // How many slots have each count, then where the first of them goes: after all the
    // slots with a higher count.
    let mut next = vec![0u32; top + 1];
    for &c in counts.iter() {
        next[c as usize] += 1;
    }
    let mut place = 0u32;
    for n in next.iter_mut().skip(1).rev() {
        let slots_with_count = *n;
        *n = place;
        place += slots_with_count;
    }
    let mut used = vec![0u32; place as usize];
    // Slots are visited in order, so equal counts keep slot order.
    for (slot, c) in counts.iter_mut().enumerate() {
        if *c > 0 {
            let at = &mut next[*c as usize];
            used[*at as usize] = slot as u32;
            *c = *at;
            *at += 1;
        }
    }
    used
}

/// The seed of shuffle `k`: the model's seed itself for the first, so that one shuffle is
/// the plain online fit; the others spread by SplitMix64's increment.
fn shuffle_seed(seed: u64, k: u64) -> u64 {
    seed.wrapping_add(k.wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

/// `model.training.epochs` passes over `train` in orders drawn from `seed`, starting from
/// `heads`; returns the heads as they end.
fn run_epochs(
    mut heads: Vec<LinearHead>,
    train: &[Example],
    weights: &[Vec<f32>],
    model: &Model,
    seed: u64,
    mut on_epoch: impl FnMut(u32),
) -> Vec<LinearHead> {
    let mut order: Vec<usize> = (0..train.len()).collect();
    let mut rng = SplitMix64(seed);
    let rate = &model.training.rate;
    // Two-class heads are fitted in their compact form, and put back at the end.
    let mut two: Vec<Option<TwoClassFit>> = heads.iter().map(TwoClassFit::of).collect();
    for epoch in 0..model.training.epochs {
        rng.shuffle(&mut order);
        for &i in &order {
            let Some(example) = train.get(i) else {
                continue;
            };
            let heads = heads.iter_mut().zip(&mut two);
            for (((head, two), label), w) in heads.zip(&example.labels).zip(weights) {
                if let Some(label) = *label {
                    match two {
                        Some(two) => two.update_weighted(&example.x, label, rate, w[label]),
                        None => head.update_weighted(&example.x, label, rate, w[label]),
                    };
                }
            }
        }
        on_epoch(epoch + 1);
    }
    for (head, two) in heads.iter_mut().zip(&two) {
        if let Some(two) = two {
            two.write_into(head);
        }
    }
    heads
}

/// Per head and class: `n / (classes * count)` when balancing, else 1.
fn class_weights(model: &Model, train: &[Example]) -> Vec<Vec<f32>> {
    model
        .heads
        .iter()
        .enumerate()
        .map(|(h, head)| {
            let k = head.labels.len();
            if !model.training.balanced {
                return vec![1.0; k];
            }
            let mut counts = vec![0usize; k];
            for e in train {
                if let Some(Some(l)) = e.labels.get(h) {
                    if let Some(c) = counts.get_mut(*l) {
                        *c += 1;
                    }
                }
            }
            let n: usize = counts.iter().sum();
            counts
                .iter()
                .map(|&c| {
                    if c == 0 {
                        1.0
                    } else {
                        n as f32 / (k as f32 * c as f32)
                    }
                })
                .collect()
        })
        .collect()
}

/// Index of the largest value (the first, on ties).
pub fn argmax(values: &[f32]) -> usize {
    values
        .iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, &v)| {
            if v > best.1 {
                (i, v)
            } else {
                best
            }
        })
        .0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::FeatureConfig;
    use crate::model::{LearnRate, Training};

    /// `n` examples of two classes, each with a feature of its own and some shared noise.
    fn separable(n: usize) -> Vec<Example> {
        (0..n)
            .map(|i| {
                let label = i % 2;
                Example {
                    x: vec![(label as u32 * 7 + 1, 1.0), ((i % 13) as u32 + 100, 0.3)],
                    labels: vec![Some(label)],
                    fingerprint: format!("{i:032x}"),
                    sent: None,
                }
            })
            .collect()
    }

    /// A fresh two-class model (`a`, `b`) over 2^18 slots, trained `epochs` epochs in
    /// `shuffles` shuffles from `seed`.
    fn two_class(epochs: u32, seed: u64, shuffles: u32) -> Model {
        let heads = [("label".to_string(), vec!["a".to_string(), "b".to_string()])];
        let config = FeatureConfig {
            bits: 18,
            ..FeatureConfig::default()
        };
        let mut training = Training::new(epochs, LearnRate::default(), seed, false);
        training.shuffles = shuffles;
        Model::new(config, &heads, training)
    }

    #[test]
    fn features_of_fewer_examples_than_min_count_are_not_learned() {
        // Slot 500 is in one training example only, slot 501 in two.
        let mut examples = separable(100);
        examples[3].x.push((500, 0.5));
        examples[4].x.push((501, 0.5));
        examples[6].x.push((501, 0.5));
        let weight = |min_count: u32, slot: usize| {
            let mut model = two_class(2, 1, 1);
            model.training.min_count = min_count;
            fit(&mut model, &examples, 0.0, Split::Random, |_| {});
            model.heads[0].linear.weights(slot).unwrap().to_vec()
        };
        assert_eq!(weight(2, 500), [0.0, 0.0], "seen once: not learned");
        assert_ne!(weight(2, 501), [0.0, 0.0], "seen twice: learned");
        assert_ne!(weight(1, 500), [0.0, 0.0], "min_count 1 learns everything");
        assert_ne!(weight(2, 1), [0.0, 0.0]);
    }

    #[test]
    fn shuffles_are_averaged_runs_of_their_own_seeds() {
        let examples = separable(300);
        let single = |seed: u64| {
            let mut m = two_class(2, seed, 1);
            fit(&mut m, &examples, 0.1, Split::Random, |_| {});
            m
        };
        let mut averaged = two_class(2, 9, 3);
        let mut told = Vec::new();
        fit(&mut averaged, &examples, 0.1, Split::Random, |e| {
            told.push(e);
        });
        assert_eq!(told, [1, 2], "every epoch is told once");
        let runs: Vec<Model> = (0..3).map(|k| single(shuffle_seed(9, k))).collect();
        assert_eq!(runs[0].heads[0].linear, single(9).heads[0].linear);
        assert_ne!(runs[0].heads[0].linear, runs[1].heads[0].linear);
        let mean =
            LinearHead::average(&runs.iter().map(|m| &m.heads[0].linear).collect::<Vec<_>>())
                .unwrap();
        assert_eq!(averaged.heads[0].linear, mean);
    }

    #[test]
    fn the_model_is_the_same_on_any_number_of_threads() {
        let examples = separable(200);
        let fitted: Vec<Model> = [1, 2, 3]
            .into_iter()
            .map(|threads| {
                let mut m = two_class(2, 3, 5);
                fit_on(
                    &mut m,
                    examples.clone(),
                    0.1,
                    Split::Random,
                    threads,
                    |_| {},
                );
                m
            })
            .collect();
        assert_eq!(fitted[0].heads, fitted[1].heads);
        assert_eq!(fitted[0].heads, fitted[2].heads);
    }

    #[test]
    fn the_compact_table_gives_the_same_weights_as_the_full_one() {
        let examples = separable(300);
        let fresh = two_class(3, 5, 2);
        let mut fitted = fresh.clone();
        fit(&mut fitted, &examples, 0.1, Split::Random, |_| {});
        // The same runs by hand, over the whole table with the slots as they are.
        let mask = validation_mask(&examples, 0.1, Split::Random);
        let train: Vec<Example> = examples
            .iter()
            .zip(&mask)
            .filter(|(_, held)| !**held)
            .map(|(e, _)| e.clone())
            .collect();
        let weights = class_weights(&fresh, &train);
        let runs: Vec<LinearHead> = (0..2)
            .map(|k| {
                let start = vec![fresh.heads[0].linear.clone()];
                run_epochs(start, &train, &weights, &fresh, shuffle_seed(5, k), |_| {}).remove(0)
            })
            .collect();
        let mean = LinearHead::average(&runs.iter().collect::<Vec<_>>()).unwrap();
        assert_eq!(fitted.heads[0].linear, mean);
        assert_ne!(mean, fresh.heads[0].linear, "it learned something");
    }

    #[test]
    fn fit_learns_holds_out_and_is_deterministic() {
        let examples = separable(400);
        let training = Training::new(3, LearnRate::default(), 42, false);
        let heads = [("label".to_string(), vec!["a".to_string(), "b".to_string()])];
        let config = FeatureConfig {
            bits: 18,
            ..FeatureConfig::default()
        };
        let mut one = Model::new(config.clone(), &heads, training.clone());
        let mut two = Model::new(config, &heads, training);
        let mut epochs = 0;
        let report = fit(&mut one, &examples, 0.2, Split::Random, |e| epochs = e);
        fit(&mut two, &examples, 0.2, Split::Random, |_| {});
        assert_eq!(epochs, 3);
        assert!(
            report.validation > 40 && report.validation < 120,
            "{}",
            report.validation
        );
        assert_eq!(report.trained + report.validation, 400);
        assert!(report.heads[0].as_ref().unwrap().accuracy > 0.99);
        assert_eq!(
            one.heads[0].linear, two.heads[0].linear,
            "same seed, same model"
        );
    }

    #[test]
    fn newest_split_holds_out_the_latest_of_each_label() {
        // Ten of each label, sent at times 0..20; a fifth of each is held out: the two
        // newest of each label, whatever the fingerprints say. Undated ones count as oldest.
        let mut examples: Vec<Example> = (0..20i64)
            .map(|i| Example {
                x: vec![(1, 1.0)],
                labels: vec![Some((i % 2) as usize)],
                fingerprint: format!("{:032x}", 97 * i),
                sent: Some(i),
            })
            .collect();
        examples[19].sent = None;
        let mask = validation_mask(&examples, 0.2, Split::Newest);
        let held: Vec<usize> = (0..20).filter(|&i| mask[i]).collect();
        assert_eq!(held, vec![15, 16, 17, 18]);
    }

    #[test]
    fn balanced_weights_favour_the_rare_class_on_ambiguous_input() {
        // Nine majority examples to one minority example share feature 1; each class also
        // has a feature of its own. On feature 1 alone, the unweighted model follows the
        // prior; the balanced one moves towards the rare class.
        let examples: Vec<Example> = (0..1000)
            .map(|i| {
                let label = usize::from(i % 10 == 0);
                Example {
                    x: vec![(1, 0.7), (10 + label as u32, 0.7)],
                    labels: vec![Some(label)],
                    fingerprint: format!("{i:032x}"),
                    sent: None,
                }
            })
            .collect();
        let p_rare = |balanced: bool| {
            let training = Training {
                examples: 0,
                data_fingerprint: String::new(),
                epochs: 2,
                rate: LearnRate::default(),
                seed: 1,
                corrections: 0,
                balanced,
                validation_split: Split::Random,
                shuffles: 1,
                min_count: 1,
            };
            let config = FeatureConfig {
                bits: 18,
                ..FeatureConfig::default()
            };
            let heads = [(
                "label".to_string(),
                vec!["common".to_string(), "rare".to_string()],
            )];
            let mut model = Model::new(config, &heads, training);
            fit(&mut model, &examples, 0.0, Split::Random, |_| {});
            linear::softmax(&model.heads[0].linear.logits(&[(1, 1.0)]), 1.0)[1]
        };
        assert!(
            p_rare(true) > p_rare(false) + 0.1,
            "{} vs {}",
            p_rare(true),
            p_rare(false)
        );
    }

    #[test]
    fn shard_models_merge_into_one_that_still_classifies() {
        let examples = separable(600);
        let training = Training::new(2, LearnRate::default(), 3, false);
        let heads = [("label".to_string(), vec!["a".to_string(), "b".to_string()])];
        let config = FeatureConfig {
            bits: 18,
            ..FeatureConfig::default()
        };
        let (left, right) = examples.split_at(300);
        let mut shards = Vec::new();
        for shard in [left, right] {
            let mut m = Model::new(config.clone(), &heads, training.clone());
            fit(&mut m, shard, 0.0, Split::Random, |_| {});
            shards.push(m);
        }
        let merged = Model::merge(&shards).unwrap();
        assert_eq!(merged.training.examples, 600);
        assert!(merged.parent.as_deref().unwrap().contains("merge of 2"));
        for (label, x) in [(0, vec![(1, 1.0)]), (1, vec![(8, 1.0)])] {
            assert_eq!(merged.score(&x).heads[0].top, label);
        }
        // Models that do not share labels cannot be merged.
        let other = Model::new(
            config,
            &[("label".to_string(), vec!["x".to_string(), "y".to_string()])],
            training,
        );
        assert!(Model::merge(&[shards[0].clone(), other]).is_err());
    }

    proptest::proptest! {
        /// The counting sort orders the used slots as sorting them by count (highest
        /// first), then slot, does; the counts become each used slot's place.
        #[test]
        fn slots_by_frequency_are_sorted_by_count_then_slot(
            counts in proptest::collection::vec(
                proptest::prop_oneof![4 => proptest::strategy::Just(0u32), 4 => 1u32..4, 1 => 0u32..5000],
                0..400,
            )
        ) {
            let mut sorted: Vec<u32> = (0..counts.len() as u32).filter(|&s| counts[s as usize] > 0).collect();
            sorted.sort_by(|&a, &b| counts[b as usize].cmp(&counts[a as usize]).then(a.cmp(&b)));
            let mut places = counts.clone();
            let used = by_frequency(&mut places);
            proptest::prop_assert_eq!(&used, &sorted);
            for (place, &slot) in used.iter().enumerate() {
                proptest::prop_assert_eq!(places[slot as usize] as usize, place);
            }
        }
    }
}
