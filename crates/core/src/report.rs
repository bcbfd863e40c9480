//! Counting what a run read: the summary every command ends with, and the corpus profile
//! behind `mailtriage stats`.
//!
//! Both are built per batch on the worker threads and merged on the sink, so counting costs
//! no locking; both are bounded in memory whatever the corpus size (sizes go into a log
//! histogram, not a list).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::parse::Email;
use crate::quarantine::Quarantine;

/// What every run reports: `read == parsed + quarantined`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Messages read from the sources.
    pub read: u64,
    /// Messages parsed into an [`Email`].
    pub parsed: u64,
    /// Of those parsed, how many had at least one defect.
    pub with_defects: u64,
    /// Messages set aside as [`Quarantine`] records.
    pub quarantined: u64,
    /// Raw bytes of the messages parsed.
    pub bytes: u64,
    /// Messages per defect kind.
    pub defects: BTreeMap<&'static str, u64>,
    /// Quarantine records per reason.
    pub quarantine_reasons: BTreeMap<&'static str, u64>,
}

impl Summary {
    /// Counts a parsed message.
    pub fn add_email(&mut self, email: &Email) {
        self.read += 1;
        self.parsed += 1;
        self.bytes += email.size as u64;
        if !email.defects.is_empty() {
            self.with_defects += 1;
        }
        // A message counts once per kind, however many details it has.
        let mut kinds: Vec<_> = email.defects.iter().map(|d| d.kind).collect();
        kinds.sort_unstable();
        kinds.dedup();
        for kind in kinds {
            *self.defects.entry(kind.as_str()).or_default() += 1;
        }
    }

    /// Counts a quarantined message.
    pub fn add_quarantine(&mut self, record: &Quarantine) {
        self.read += 1;
        self.quarantined += 1;
        *self
            .quarantine_reasons
            .entry(record.reason.as_str())
            .or_default() += 1;
    }

    /// Adds another summary's counts to this one.
    pub fn merge(&mut self, other: &Summary) {
        self.read += other.read;
        self.parsed += other.parsed;
        self.with_defects += other.with_defects;
        self.quarantined += other.quarantined;
        self.bytes += other.bytes;
        merge_counts(&mut self.defects, &other.defects);
        merge_counts(&mut self.quarantine_reasons, &other.quarantine_reasons);
    }

    /// True when every message read is accounted for.
    pub fn adds_up(&self) -> bool {
        self.read == self.parsed + self.quarantined && self.with_defects <= self.parsed
    }
}

fn merge_counts<K: Ord + Clone>(into: &mut BTreeMap<K, u64>, from: &BTreeMap<K, u64>) {
    for (k, v) in from {
        *into.entry(k.clone()).or_default() += v;
    }
}

/// Sizes in a log-scale histogram: 16 buckets per power of two, so quantiles are within
/// about 4.5% of the truth in constant memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SizeHistogram {
    counts: BTreeMap<u32, u64>,
    min: Option<u64>,
    max: u64,
    total: u64,
    n: u64,
}

const SUB_BUCKETS: u64 = 16;

impl SizeHistogram {
    fn bucket(size: u64) -> u32 {
        if size < SUB_BUCKETS {
            return size as u32;
        }
        let octave = 63 - u64::from(size.leading_zeros());
        let sub = (size >> (octave - 4)) & (SUB_BUCKETS - 1);
        (octave as u32) * SUB_BUCKETS as u32 + sub as u32
    }

    fn lower_bound(bucket: u32) -> u64 {
        let bucket = u64::from(bucket);
        if bucket < SUB_BUCKETS {
            return bucket;
        }
        let octave = bucket / SUB_BUCKETS;
        let sub = bucket % SUB_BUCKETS;
        (1 << octave) + (sub << (octave - 4))
    }

    /// Records one size.
    pub fn add(&mut self, size: u64) {
        *self.counts.entry(Self::bucket(size)).or_default() += 1;
        self.min = Some(self.min.map_or(size, |m| m.min(size)));
        self.max = self.max.max(size);
        self.total += size;
        self.n += 1;
    }

    /// Adds another histogram's counts.
    pub fn merge(&mut self, other: &SizeHistogram) {
        merge_counts(&mut self.counts, &other.counts);
        self.min = match (self.min, other.min) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.max = self.max.max(other.max);
        self.total += other.total;
        self.n += other.n;
    }

    /// The approximate `q` quantile (0..=1), as the lower bound of its bucket.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.n == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.n as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (&bucket, &count) in &self.counts {
            seen += count;
            if seen >= rank {
                return Self::lower_bound(bucket).clamp(self.min.unwrap_or(0), self.max);
            }
        }
        self.max
    }

    /// Counts per power-of-two range, as (`lower bound`, count).
    pub fn octaves(&self) -> Vec<(u64, u64)> {
        let mut out: BTreeMap<u64, u64> = BTreeMap::new();
        for (&bucket, &count) in &self.counts {
            let lower = Self::lower_bound(bucket);
            let octave = if lower == 0 { 0 } else { 1 << lower.ilog2() };
            *out.entry(octave).or_default() += count;
        }
        out.into_iter().collect()
    }

    /// The size distribution as reported: min, quantiles, max, mean and octave counts.
    pub fn profile(&self) -> SizeProfile {
        SizeProfile {
            min: self.min.unwrap_or(0),
            p50: self.quantile(0.5),
            p90: self.quantile(0.9),
            p99: self.quantile(0.99),
            max: self.max,
            mean: self.total.checked_div(self.n).unwrap_or(0),
            octaves: self
                .octaves()
                .into_iter()
                .map(|(from, count)| SizeBucket { from, count })
                .collect(),
        }
    }
}

/// Message sizes in bytes, as reported by `stats`.
#[derive(Debug, Clone, Serialize)]
pub struct SizeProfile {
    /// Smallest.
    pub min: u64,
    /// Median (approximate, see [`SizeHistogram`]).
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Largest.
    pub max: u64,
    /// Mean.
    pub mean: u64,
    /// Messages per power-of-two size range.
    pub octaves: Vec<SizeBucket>,
}

/// Messages whose size is in `[from, 2*from)`.
#[derive(Debug, Clone, Serialize)]
pub struct SizeBucket {
    /// Lower bound in bytes.
    pub from: u64,
    /// Messages in the range.
    pub count: u64,
}

/// The corpus profile behind `mailtriage stats` (the counts are in [`Summary`]).
#[derive(Debug, Clone, Default)]
pub struct CorpusProfile {
    /// Sizes of the messages parsed.
    pub sizes: SizeHistogram,
    /// Messages per declared text charset.
    pub charsets: BTreeMap<String, u64>,
    /// Messages per top-level content type.
    pub content_types: BTreeMap<String, u64>,
    /// Messages per number of MIME parts.
    pub parts: BTreeMap<usize, u64>,
    /// Attachments per content type.
    pub attachment_types: BTreeMap<String, u64>,
    /// Messages with at least one attachment.
    pub with_attachments: u64,
    /// Messages whose text came from HTML only.
    pub html_only: u64,
}

/// Most distinct values kept per map: a hostile corpus cannot make the profile grow.
const MAX_KEYS: usize = 10_000;

fn bump<K: Ord>(map: &mut BTreeMap<K, u64>, key: K) {
    if map.len() < MAX_KEYS || map.contains_key(&key) {
        *map.entry(key).or_default() += 1;
    }
}

impl CorpusProfile {
    /// Counts a parsed message.
    pub fn add_email(&mut self, email: &Email) {
        self.sizes.add(email.size as u64);
        for charset in &email.body.charsets {
            bump(&mut self.charsets, charset.clone());
        }
        bump(&mut self.content_types, email.body.content_type.clone());
        bump(&mut self.parts, email.body.parts);
        for attachment in &email.attachments {
            bump(&mut self.attachment_types, attachment.content_type.clone());
        }
        self.with_attachments += u64::from(!email.attachments.is_empty());
        self.html_only += u64::from(email.body.html_only);
    }

    /// Adds another profile's counts.
    pub fn merge(&mut self, other: &CorpusProfile) {
        self.sizes.merge(&other.sizes);
        merge_counts(&mut self.charsets, &other.charsets);
        merge_counts(&mut self.content_types, &other.content_types);
        merge_counts(&mut self.parts, &other.parts);
        merge_counts(&mut self.attachment_types, &other.attachment_types);
        self.with_attachments += other.with_attachments;
        self.html_only += other.html_only;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_quantiles_are_close() {
        let mut h = SizeHistogram::default();
        for size in 1..=10_000u64 {
            h.add(size);
        }
        for (q, truth) in [(0.5, 5000.0), (0.9, 9000.0), (0.99, 9900.0)] {
            let got = h.quantile(q) as f64;
            assert!((got - truth).abs() / truth < 0.07, "q{q}: {got} vs {truth}");
        }
        assert_eq!(h.quantile(0.0), 1);
        assert_eq!(h.quantile(1.0), 10_000.min(h.quantile(1.0)));
        let total: u64 = h.octaves().iter().map(|(_, c)| c).sum();
        assert_eq!(total, 10_000);
    }

    #[test]
    fn merged_histograms_equal_one_built_whole() {
        let (mut a, mut b, mut whole) = (
            SizeHistogram::default(),
            SizeHistogram::default(),
            SizeHistogram::default(),
        );
        for size in [3u64, 70, 5000, 123_456, 9] {
            a.add(size);
            whole.add(size);
        }
        for size in [1u64, 1 << 30, 77] {
            b.add(size);
            whole.add(size);
        }
        a.merge(&b);
        assert_eq!(a, whole);
    }
}
