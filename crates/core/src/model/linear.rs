//! One head of a model: a multiclass linear classifier over hashed features, trained online
//! with AdaGrad on the softmax cross-entropy, with L2 regularisation applied lazily to the
//! weights an example touches.

use serde::{Deserialize, Serialize};

/// A sparse example: `(slot, value)` pairs.
pub type Sparse = [(u32, f32)];

/// How a head learns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LearnRate {
    /// AdaGrad's base learning rate.
    pub learning_rate: f32,
    /// L2 penalty on the weights touched by each update.
    pub l2: f32,
}

impl Default for LearnRate {
    fn default() -> Self {
        LearnRate {
            learning_rate: 0.5,
            l2: 1e-6,
        }
    }
}

/// A multiclass linear head: `classes` scores per slot, plus a bias per class, with the
/// AdaGrad accumulators kept so that training can go on one example at a time.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearHead {
    /// Number of classes.
    pub classes: usize,
    /// Per slot, its row: the `classes` weights, then their `classes` sums of squared
    /// gradients (AdaGrad). One row is one cache line for the usual few classes: the
    /// scoring that comes before an update brings in the accumulators the update needs.
    params: Vec<f32>,
    /// Bias per class.
    pub bias: Vec<f32>,
    /// Sum of squared gradients per bias.
    pub bias_g2: Vec<f32>,
}

const EPSILON: f32 = 1e-8;

/// `n` zeros, written rather than left to the allocator. `vec![0.0; n]` gets fresh memory
/// that the kernel maps to its shared zero page when it is first read: a table that is read
/// before it is written (a slot looked up before it is learned) then takes a second fault
/// per page on the first write, each a copy and a flush of every core's TLB (an
/// inter-processor interrupt, dear in a virtual machine). Writing the zeros first faults each
/// page once: on a `train` of ten messages, the second faults and their flushes were a fifth
/// of the time, and the process's system time fell by a fifth (0.030 s to 0.023 s).
pub(crate) fn written_zeros<T: Copy + Default>(n: usize) -> Vec<T> {
    let mut v = Vec::with_capacity(n);
    v.resize(n, T::default());
    v
}

impl LinearHead {
    /// A zero head for `slots` slots and `classes` classes.
    pub fn new(slots: usize, classes: usize) -> Self {
        LinearHead {
            classes,
            params: written_zeros(slots * classes * 2),
            bias: vec![0.0; classes],
            bias_g2: vec![0.0; classes],
        }
    }

    /// The number of slots.
    pub fn slots(&self) -> usize {
        self.params.len() / (2 * self.classes).max(1)
    }

    /// The weights of `slot`, one per class (none outside the head).
    pub fn weights(&self, slot: usize) -> Option<&[f32]> {
        let k = self.classes;
        self.params.get(slot * 2 * k..slot * 2 * k + k)
    }

    /// The slots with a weight that is not zero, each with its row: the weights, then
    /// their sums of squared gradients.
    pub fn nonzero_rows(&self) -> impl Iterator<Item = (u32, &[f32])> {
        self.nonzero_rows_in(0..self.slots())
    }

    /// [`LinearHead::nonzero_rows`] among the slots `slots` (cut to the table).
    pub fn nonzero_rows_in(
        &self,
        slots: std::ops::Range<usize>,
    ) -> impl Iterator<Item = (u32, &[f32])> {
        let k = self.classes;
        let width = (2 * k).max(1);
        let end = slots.end.min(self.slots());
        let start = slots.start.min(end);
        self.params[start * width..end * width]
            .chunks_exact(width)
            .enumerate()
            .map(move |(i, row)| (start + i, row))
            // `w != 0.0` as bits (sign bit aside): a float compare per weight was most of
            // the scan of a table of 2^20 rows and more.
            .filter(move |(_, row)| row[..k].iter().fold(0, |any, w| any | w.to_bits()) << 1 != 0)
            .map(|(slot, row)| (slot as u32, row))
    }

    /// The weights of `slot` and their sums of squared gradients, to change.
    pub fn row_mut(&mut self, slot: usize) -> Option<(&mut [f32], &mut [f32])> {
        let k = self.classes;
        let row = self.params.get_mut(slot * 2 * k..(slot + 1) * 2 * k)?;
        Some(row.split_at_mut(k))
    }

    /// The raw score of each class.
    pub fn logits(&self, x: &Sparse) -> Vec<f32> {
        self.logits_of(x.iter().copied())
    }

    /// The raw score of each class, from `(slot, value)` pairs however they are held.
    pub fn logits_of(&self, x: impl Iterator<Item = (u32, f32)>) -> Vec<f32> {
        if let [b0, b1] = self.bias[..] {
            // Two classes (spam/ham, the common head): the sums stay in registers instead
            // of going through memory for every feature.
            let (mut s0, mut s1) = (b0, b1);
            for (slot, value) in x {
                let at = slot as usize * 4;
                if let Some(&[w0, w1, _, _]) = self.params.get(at..at + 4) {
                    s0 += w0 * value;
                    s1 += w1 * value;
                }
            }
            return vec![s0, s1];
        }
        let mut out = self.bias.clone();
        for (slot, value) in x {
            if let Some(w) = self.weights(slot as usize) {
                for (o, w) in out.iter_mut().zip(w) {
                    *o += w * value;
                }
            }
        }
        out
    }

    /// One AdaGrad step towards `label`; returns the loss before the step.
    pub fn update(&mut self, x: &Sparse, label: usize, rate: &LearnRate) -> f32 {
        self.update_weighted(x, label, rate, 1.0)
    }

    /// One AdaGrad step with the example's loss scaled by `weight` (class weighting).
    pub fn update_weighted(
        &mut self,
        x: &Sparse,
        label: usize,
        rate: &LearnRate,
        weight: f32,
    ) -> f32 {
        let probabilities = softmax(&self.logits(x), 1.0);
        let loss = -probabilities
            .get(label)
            .copied()
            .unwrap_or(0.0)
            .max(1e-12)
            .ln();
        let gradient: Vec<f32> = probabilities
            .iter()
            .enumerate()
            .map(|(c, p)| weight * (p - f32::from(u8::from(c == label))))
            .collect();
        let step = |w: &mut f32, g2: &mut f32, grad: f32, value: f32| {
            let g = grad * value + rate.l2 * *w;
            *g2 += g * g;
            *w -= rate.learning_rate * g / (g2.sqrt() + EPSILON);
        };
        if let [grad0, grad1] = gradient[..] {
            // Two classes: the row is `[w0, w1, g2_0, g2_1]`. Two entries' rows are
            // stepped at once, four lanes wide (the compiler packs the four `step`s): the
            // square root and the division, most of an update's time, then cost one
            // instruction for four weights instead of two. Each lane is `step`, and a row's
            // updates stay in entry order, so the weights are the same to the bit. Two
            // entries of one slot (hashing can put two features there) go one at a time.
            let mut pairs = x.chunks_exact(2);
            for pair in &mut pairs {
                let [(slot_a, value_a), (slot_b, value_b)] = [pair[0], pair[1]];
                let (at_a, at_b) = (slot_a as usize * 4, slot_b as usize * 4);
                match self
                    .params
                    .get_disjoint_mut([at_a..at_a + 4, at_b..at_b + 4])
                {
                    Ok([row_a, row_b]) => {
                        let grad = [grad0, grad1, grad0, grad1];
                        let value = [value_a, value_a, value_b, value_b];
                        let mut weights = [row_a[0], row_a[1], row_b[0], row_b[1]];
                        let mut sums = [row_a[2], row_a[3], row_b[2], row_b[3]];
                        for i in 0..4 {
                            step(&mut weights[i], &mut sums[i], grad[i], value[i]);
                        }
                        row_a.copy_from_slice(&[weights[0], weights[1], sums[0], sums[1]]);
                        row_b.copy_from_slice(&[weights[2], weights[3], sums[2], sums[3]]);
                    }
                    // The same slot twice, or one outside the table.
                    Err(_) => {
                        for &(slot, value) in pair {
                            self.step_two(slot, value, grad0, grad1, &step);
                        }
                    }
                }
            }
            for &(slot, value) in pairs.remainder() {
                self.step_two(slot, value, grad0, grad1, &step);
            }
        } else {
            for &(slot, value) in x {
                let Some((weights, g2s)) = self.row_mut(slot as usize) else {
                    continue;
                };
                for ((w, g2), &grad) in weights.iter_mut().zip(g2s.iter_mut()).zip(&gradient) {
                    step(w, g2, grad, value);
                }
            }
        }
        for ((b, g2), &g) in self.bias.iter_mut().zip(&mut self.bias_g2).zip(&gradient) {
            *g2 += g * g;
            *b -= rate.learning_rate * g / (g2.sqrt() + EPSILON);
        }
        loss
    }

    /// One entry's AdaGrad step on a two-class row (`step` is the update of one weight).
    fn step_two(
        &mut self,
        slot: u32,
        value: f32,
        grad0: f32,
        grad1: f32,
        step: &impl Fn(&mut f32, &mut f32, f32, f32),
    ) {
        let at = slot as usize * 4;
        if let Some([w0, w1, s0, s1]) = self.params.get_mut(at..at + 4) {
            step(w0, s0, grad0, value);
            step(w1, s1, grad1, value);
        }
    }

    /// A head over only `slots` (row `i` of the result is row `slots[i]` of this one), with
    /// the same biases: training touches only the slots its examples have, and a compact
    /// table of them stays in the caches where the full one does not.
    #[must_use]
    pub fn gather(&self, slots: &[u32]) -> LinearHead {
        let width = 2 * self.classes;
        let mut params = Vec::with_capacity(slots.len() * width);
        for &slot in slots {
            let from = slot as usize * width;
            match self.params.get(from..from + width) {
                Some(row) => params.extend_from_slice(row),
                None => params.extend(std::iter::repeat_n(0.0, width)),
            }
        }
        LinearHead {
            classes: self.classes,
            params,
            bias: self.bias.clone(),
            bias_g2: self.bias_g2.clone(),
        }
    }

    /// Puts the average of `compact` heads, made by [`LinearHead::gather`] with the same
    /// `slots`, in their places, as [`LinearHead::average`] then putting each averaged row
    /// back at its slot would (the same sums in the same order) but without the averaged
    /// copy, on up to
    /// `threads` threads. False, and nothing changed, when the heads differ in shape from
    /// each other or from this one.
    pub fn scatter_average(
        &mut self,
        slots: &[u32],
        compact: &[&LinearHead],
        threads: usize,
    ) -> bool {
        let Some(first) = compact.first() else {
            return false;
        };
        if compact.iter().any(|h| {
            h.classes != self.classes
                || h.params.len() != first.params.len()
                || h.bias.len() != self.bias.len()
                || h.bias_g2.len() != self.bias_g2.len()
        }) {
            return false;
        }
        let n = compact.len() as f32;
        let width = 2 * self.classes;
        let rows = first.params.len() / width.max(1);
        // The rows land at random in a table of every slot, each store waiting on memory:
        // each thread takes one range of slots, looking through the whole list for its own.
        let per_thread = self.slots().div_ceil(threads.max(1)).max(1);
        std::thread::scope(|scope| {
            for (part, table) in self
                .params
                .chunks_mut(per_thread * width.max(1))
                .enumerate()
            {
                let low = part * per_thread;
                scope.spawn(move || {
                    let mut mean = vec![0.0f32; width];
                    for (row, &slot) in slots.iter().enumerate().take(rows) {
                        let Some(at) = (slot as usize).checked_sub(low).filter(|&i| i < per_thread)
                        else {
                            continue;
                        };
                        let from = row * width;
                        mean.fill(0.0);
                        for h in compact {
                            if let Some(values) = h.params.get(from..from + width) {
                                for (m, v) in mean.iter_mut().zip(values) {
                                    *m += v / n;
                                }
                            }
                        }
                        if let Some(place) = table.get_mut(at * width..(at + 1) * width) {
                            place.copy_from_slice(&mean);
                        }
                    }
                });
            }
        });
        for (i, (b, g2)) in self.bias.iter_mut().zip(&mut self.bias_g2).enumerate() {
            *b = compact.iter().fold(0.0, |sum, h| sum + h.bias[i] / n);
            *g2 = compact.iter().fold(0.0, |sum, h| sum + h.bias_g2[i] / n);
        }
        true
    }

    /// Averages heads of the same shape (parameter mixing of shard models).
    pub fn average(heads: &[&LinearHead]) -> Option<LinearHead> {
        let first = heads.first()?;
        if heads
            .iter()
            .any(|h| h.classes != first.classes || h.params.len() != first.params.len())
        {
            return None;
        }
        let n = heads.len() as f32;
        let mean = |pick: fn(&LinearHead) -> &Vec<f32>| -> Vec<f32> {
            let mut out = vec![0.0; pick(first).len()];
            for h in heads {
                for (o, v) in out.iter_mut().zip(pick(h)) {
                    *o += v / n;
                }
            }
            out
        };
        Some(LinearHead {
            classes: first.classes,
            params: mean(|h| &h.params),
            bias: mean(|h| &h.bias),
            bias_g2: mean(|h| &h.bias_g2),
        })
    }
}

/// A two-class head while it is fitted (`train`'s epochs): per row, class 1's weight and
/// its AdaGrad sum only.
///
/// On the softmax of two classes the gradients are `p - y`, which sum to zero over the
/// classes, and the L2 term follows the weight: from equal and opposite weights, a step moves
/// class 0's weight by the opposite of class 1's and its sum by the same amount, up to
/// rounding. So one weight per row is enough, and [`TwoClassFit::write_into`] puts the other
/// back. The fit waits on memory as it scores each example (its rows are spread over a table
/// larger than the caches): half the row is half the lines to wait for, and one square root
/// and division per entry instead of two.
#[derive(Debug, Clone)]
pub struct TwoClassFit {
    /// Per row: class 1's weight, then its sum of squared gradients.
    rows: Vec<[f32; 2]>,
    bias: [f32; 2],
    bias_g2: [f32; 2],
}

impl TwoClassFit {
    /// The fitting form of `head`, if it has two classes.
    pub fn of(head: &LinearHead) -> Option<Self> {
        if head.classes != 2 {
            return None;
        }
        let (&[b0, b1], &[g0, g1]) = (&head.bias[..], &head.bias_g2[..]) else {
            return None;
        };
        Some(TwoClassFit {
            rows: head.params.chunks_exact(4).map(|r| [r[1], r[3]]).collect(),
            bias: [b0, b1],
            bias_g2: [g0, g1],
        })
    }

    /// Puts the fitted rows into `head`, the head this was made from: class 1's weight and
    /// sum as fitted, class 0's moved by the opposite step and the same growth of its sum
    /// (from a fresh head, the negated weight and the same sum).
    pub fn write_into(&self, head: &mut LinearHead) {
        for (row, &[w, sum]) in head.params.chunks_exact_mut(4).zip(&self.rows) {
            row[0] -= w - row[1];
            row[2] += sum - row[3];
            row[1] = w;
            row[3] = sum;
        }
        head.bias = self.bias.to_vec();
        head.bias_g2 = self.bias_g2.to_vec();
    }

    /// The two classes' raw scores (class 0's weights are the negated ones).
    fn logits(&self, x: &Sparse) -> [f32; 2] {
        let [mut s0, mut s1] = self.bias;
        for &(slot, value) in x {
            if let Some(&[w, _]) = self.rows.get(slot as usize) {
                s0 -= w * value;
                s1 += w * value;
            }
        }
        [s0, s1]
    }

    /// One AdaGrad step with the example's loss scaled by `weight`, as
    /// [`LinearHead::update_weighted`] takes on a two-class head; returns the loss before it.
    pub fn update_weighted(
        &mut self,
        x: &Sparse,
        label: usize,
        rate: &LearnRate,
        weight: f32,
    ) -> f32 {
        let p = softmax(&self.logits(x), 1.0);
        let loss = -p.get(label).copied().unwrap_or(0.0).max(1e-12).ln();
        let grad = |c: usize| weight * (p[c] - f32::from(u8::from(c == label)));
        let (grad0, grad1) = (grad(0), grad(1));
        let step = |w: &mut f32, g2: &mut f32, value: f32| {
            let g = grad1 * value + rate.l2 * *w;
            *g2 += g * g;
            *w -= rate.learning_rate * g / (g2.sqrt() + EPSILON);
        };
        // Four entries at once, four lanes wide (the compiler packs the four steps). A row's
        // updates stay in entry order: four entries with a slot twice (hashing can put two
        // features there) go one at a time, as do slots outside the table.
        let mut quads = x.chunks_exact(4);
        for quad in &mut quads {
            let slots = [0, 1, 2, 3].map(|i| quad[i].0 as usize);
            match self.rows.get_disjoint_mut(slots) {
                Ok(rows) => {
                    let mut w = [0, 1, 2, 3].map(|i| rows[i][0]);
                    let mut sums = [0, 1, 2, 3].map(|i| rows[i][1]);
                    for i in 0..4 {
                        step(&mut w[i], &mut sums[i], quad[i].1);
                    }
                    for (i, row) in rows.into_iter().enumerate() {
                        *row = [w[i], sums[i]];
                    }
                }
                Err(_) => {
                    for &(slot, value) in quad {
                        if let Some([w, sum]) = self.rows.get_mut(slot as usize) {
                            step(w, sum, value);
                        }
                    }
                }
            }
        }
        for &(slot, value) in quads.remainder() {
            if let Some([w, sum]) = self.rows.get_mut(slot as usize) {
                step(w, sum, value);
            }
        }
        for ((b, g2), g) in self
            .bias
            .iter_mut()
            .zip(&mut self.bias_g2)
            .zip([grad0, grad1])
        {
            *g2 += g * g;
            *b -= rate.learning_rate * g / (g2.sqrt() + EPSILON);
        }
        loss
    }
}

/// Softmax of `logits / temperature`.
pub fn softmax(logits: &[f32], temperature: f32) -> Vec<f32> {
    let t = temperature.max(1e-3);
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = logits.iter().map(|l| ((l - max) / t).exp()).collect();
    let sum: f32 = exps.iter().sum();
    exps.into_iter().map(|e| e / sum).collect()
}

/// The temperature that minimises the negative log-likelihood of `labels` given `logits`
/// (golden-section search over log T in [0.05, 20]): calibration on a validation split.
pub fn fit_temperature(logits: &[Vec<f32>], labels: &[usize]) -> f32 {
    if logits.is_empty() {
        return 1.0;
    }
    let nll = |log_t: f64| -> f64 {
        let t = log_t.exp() as f32;
        logits
            .iter()
            .zip(labels)
            .map(|(l, &y)| -f64::from(softmax(l, t).get(y).copied().unwrap_or(0.0).max(1e-12)).ln())
            .sum()
    };
    let (mut lo, mut hi) = (0.05f64.ln(), 20f64.ln());
    let ratio = (5f64.sqrt() - 1.0) / 2.0;
    let mut a = hi - ratio * (hi - lo);
    let mut b = lo + ratio * (hi - lo);
    let (mut fa, mut fb) = (nll(a), nll(b));
    for _ in 0..40 {
        if fa < fb {
            hi = b;
            b = a;
            fb = fa;
            a = hi - ratio * (hi - lo);
            fa = nll(a);
        } else {
            lo = a;
            a = b;
            fa = fb;
            b = lo + ratio * (hi - lo);
            fb = nll(b);
        }
    }
    f64::midpoint(lo, hi).exp() as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_a_separable_problem_and_averages() {
        let mut head = LinearHead::new(16, 2);
        let rate = LearnRate::default();
        let a: Vec<(u32, f32)> = vec![(1, 1.0), (2, 0.5)];
        let b: Vec<(u32, f32)> = vec![(3, 1.0), (2, 0.5)];
        for _ in 0..50 {
            head.update(&a, 0, &rate);
            head.update(&b, 1, &rate);
        }
        assert!(softmax(&head.logits(&a), 1.0)[0] > 0.95);
        assert!(softmax(&head.logits(&b), 1.0)[1] > 0.95);
        let zero = LinearHead::new(16, 2);
        let mean = LinearHead::average(&[&head, &zero]).unwrap();
        assert!((mean.params[2] - head.params[2] / 2.0).abs() < 1e-6);
        assert!(LinearHead::average(&[&head, &LinearHead::new(8, 2)]).is_none());
    }

    /// The two-class update one entry at a time, as `step` has it: what the paired update
    /// must match bit for bit.
    fn update_one_at_a_time(
        head: &mut LinearHead,
        x: &Sparse,
        label: usize,
        rate: &LearnRate,
        weight: f32,
    ) {
        let p = softmax(&head.logits(x), 1.0);
        let grad: Vec<f32> = p
            .iter()
            .enumerate()
            .map(|(c, p)| weight * (p - f32::from(u8::from(c == label))))
            .collect();
        for &(slot, value) in x {
            let at = slot as usize * 4;
            let Some(row) = head.params.get_mut(at..at + 4) else {
                continue;
            };
            let (weights, sums) = row.split_at_mut(2);
            for ((w, sum), g) in weights.iter_mut().zip(sums).zip(&grad) {
                let step = g * value + rate.l2 * *w;
                *sum += step * step;
                *w -= rate.learning_rate * step / (sum.sqrt() + EPSILON);
            }
        }
        let bias = head.bias.iter_mut().zip(&mut head.bias_g2).zip(&grad);
        for ((b, sum), g) in bias {
            *sum += g * g;
            *b -= rate.learning_rate * g / (sum.sqrt() + EPSILON);
        }
    }

    /// An example's entries, its label and its weight.
    type Weighted = (Vec<(u32, f32)>, usize, f32);

    /// Up to a dozen examples of up to 24 entries over slots 0 to 9 (a head of 8 slots has
    /// 8 and 9 outside; a slot often comes twice), each with a label of two and a weight.
    fn two_class_examples() -> impl proptest::strategy::Strategy<Value = Vec<Weighted>> {
        proptest::collection::vec(
            (
                proptest::collection::vec((0u32..10, -2.0f32..2.0), 0..24),
                0usize..2,
                0.1f32..3.0,
            ),
            1..12,
        )
    }

    proptest::proptest! {
        /// The compact two-class fit steps four entries at a time, as one at a time would,
        /// bit for bit, also with a slot twice or one outside the table; and class 0's weights
        /// and sums come back as the mirror of class 1's.
        #[test]
        fn two_class_fit_quads_are_one_at_a_time_and_mirrored(
            examples in two_class_examples(),
        ) {
            let rate = LearnRate { learning_rate: 0.5, l2: 1e-3 };
            let head = LinearHead::new(8, 2);
            let mut fit = TwoClassFit::of(&head).unwrap();
            let mut single = fit.clone();
            for (x, label, weight) in &examples {
                fit.update_weighted(x, *label, &rate, *weight);
                fit_one_at_a_time(&mut single, x, *label, &rate, *weight);
            }
            let bits = |f: &TwoClassFit| -> Vec<u32> {
                f.rows.iter().flatten().chain(&f.bias).chain(&f.bias_g2).map(|v| v.to_bits()).collect()
            };
            proptest::prop_assert_eq!(bits(&fit), bits(&single));
            let mut compact = head.clone();
            fit.write_into(&mut compact);
            for row in compact.params.chunks_exact(4) {
                // Bits with the zeros' sign cleared: `0.0` and `-0.0` are the same weight.
                let bits = |v: f32| if v == 0.0 { 0 } else { v.to_bits() };
                proptest::prop_assert_eq!(bits(row[0]), bits(-row[1]));
                proptest::prop_assert_eq!(bits(row[2]), bits(row[3]));
            }
        }

        /// Entries are stepped two at a time; the weights are those of one at a time, also
        /// when an example has a slot twice (in a pair or not) or one outside the table.
        #[test]
        fn paired_two_class_updates_are_one_at_a_time_bit_for_bit(
            examples in two_class_examples(),
        ) {
            let rate = LearnRate { learning_rate: 0.5, l2: 1e-3 };
            let (mut paired, mut single) = (LinearHead::new(8, 2), LinearHead::new(8, 2));
            for (x, label, weight) in &examples {
                paired.update_weighted(x, *label, &rate, *weight);
                update_one_at_a_time(&mut single, x, *label, &rate, *weight);
            }
            let bits = |h: &LinearHead| -> Vec<u32> {
                h.params.iter().chain(&h.bias).chain(&h.bias_g2).map(|v| v.to_bits()).collect()
            };
            proptest::prop_assert_eq!(bits(&paired), bits(&single));
        }
    }

    /// [`TwoClassFit::update_weighted`] one entry at a time: what its quads must match.
    fn fit_one_at_a_time(
        fit: &mut TwoClassFit,
        x: &Sparse,
        label: usize,
        rate: &LearnRate,
        weight: f32,
    ) {
        let p = softmax(&fit.logits(x), 1.0);
        let grad: Vec<f32> = (0..2)
            .map(|c| weight * (p[c] - f32::from(u8::from(c == label))))
            .collect();
        for &(slot, value) in x {
            if let Some([w, sum]) = fit.rows.get_mut(slot as usize) {
                let g = grad[1] * value + rate.l2 * *w;
                *sum += g * g;
                *w -= rate.learning_rate * g / (sum.sqrt() + EPSILON);
            }
        }
        for ((b, sum), g) in fit.bias.iter_mut().zip(&mut fit.bias_g2).zip(grad) {
            *sum += g * g;
            *b -= rate.learning_rate * g / (sum.sqrt() + EPSILON);
        }
    }

    #[test]
    fn a_two_class_fit_from_zero_steps_as_the_full_head() {
        // From zero the two classes' gradients are exactly opposite, so the first step of
        // the compact fit is the full head's to the bit.
        let rate = LearnRate {
            learning_rate: 0.5,
            l2: 1e-3,
        };
        let x = [
            (4, 0.0),
            (1, 0.2),
            (1, 1.4),
            (7, -1.6),
            (7, -0.9),
            (2, -1.7),
        ];
        let mut full = LinearHead::new(8, 2);
        let mut compact = full.clone();
        let mut fit = TwoClassFit::of(&full).unwrap();
        full.update_weighted(&x, 1, &rate, 0.1);
        fit.update_weighted(&x, 1, &rate, 0.1);
        fit.write_into(&mut compact);
        assert_eq!(compact, full);
        assert_ne!(full, LinearHead::new(8, 2));
    }

    #[test]
    fn a_two_class_fit_moves_class_zero_from_where_it_was() {
        let rate = LearnRate::default();
        let mut head = LinearHead::new(2, 2);
        head.params
            .copy_from_slice(&[0.3, -0.1, 0.5, 0.2, -0.25, 0.75, 1.5, 2.0]);
        let start = head.clone();
        // Untouched, the head comes back as it was, to the bit.
        TwoClassFit::of(&head).unwrap().write_into(&mut head);
        assert_eq!(head, start);
        // One step on slot 1: class 1's weight moves by d and class 0's by -d; both sums
        // grow by the same amount; slot 0 stays.
        let mut fit = TwoClassFit::of(&head).unwrap();
        fit.update_weighted(&[(1, 1.0)], 1, &rate, 1.0);
        fit.write_into(&mut head);
        let d = head.params[5] - 0.75;
        assert!(d > 0.0, "class 1's weight rises towards the label");
        assert_eq!(head.params[..4], start.params[..4]);
        assert!((head.params[4] - (-0.25 - d)).abs() < 1e-6);
        assert!((head.params[6] - 1.5 - (head.params[7] - 2.0)).abs() < 1e-6);
        assert!(TwoClassFit::of(&LinearHead::new(2, 3)).is_none());
    }

    #[test]
    fn temperature_fixes_overconfidence() {
        // Logits that are right 75% of the time but claim ~99.99%: T must grow.
        let logits: Vec<Vec<f32>> = (0..100).map(|_| vec![10.0, 0.0]).collect();
        let labels: Vec<usize> = (0..100).map(|i| usize::from(i % 4 == 0)).collect();
        let t = fit_temperature(&logits, &labels);
        let p = softmax(&logits[0], t)[0];
        assert!((p - 0.75).abs() < 0.02, "T {t} gives {p}");
    }

    /// Puts the rows and biases of `compact`, made by [`LinearHead::gather`] with the same
    /// `slots`, back in their places in `head`.
    fn scatter(head: &mut LinearHead, slots: &[u32], compact: &LinearHead) {
        let width = 2 * head.classes;
        for (row, &slot) in compact.params.chunks_exact(width).zip(slots) {
            let to = slot as usize * width;
            head.params[to..to + width].copy_from_slice(row);
        }
        head.bias.clone_from(&compact.bias);
        head.bias_g2.clone_from(&compact.bias_g2);
    }

    #[test]
    fn scatter_average_is_average_then_scatter_bit_for_bit() -> Result<(), &'static str> {
        let rate = LearnRate::default();
        let heads: Vec<LinearHead> = (0..3u32)
            .map(|k| {
                let mut head = LinearHead::new(6, 3);
                for i in 0..20u32 {
                    let x = vec![((i + k) % 6, 1.0), ((i * 7 + k) % 6, 0.3)];
                    head.update(&x, (i % 3) as usize, &rate);
                }
                head
            })
            .collect();
        let compact: Vec<&LinearHead> = heads.iter().collect();
        let slots = [9, 2, 14, 5, 0, 11];
        let mut expected = LinearHead::new(16, 3);
        let mean = LinearHead::average(&compact).ok_or("same shapes")?;
        scatter(&mut expected, &slots, &mean);
        let mut got = LinearHead::new(16, 3);
        assert!(got.scatter_average(&slots, &compact, 1));
        let mut split = LinearHead::new(16, 3);
        assert!(split.scatter_average(&slots, &compact, 3));
        let bits = |h: &LinearHead| -> Vec<u32> {
            h.params
                .iter()
                .chain(&h.bias)
                .chain(&h.bias_g2)
                .map(|v| v.to_bits())
                .collect()
        };
        assert_eq!(bits(&got), bits(&expected));
        assert_eq!(bits(&split), bits(&expected), "the same on three threads");
        assert!(!got.scatter_average(&slots, &[&LinearHead::new(6, 2)], 2));
        assert!(!got.scatter_average(&slots, &[], 2));
        assert_eq!(
            bits(&got),
            bits(&expected),
            "a refused average changes nothing"
        );
        Ok(())
    }
}
