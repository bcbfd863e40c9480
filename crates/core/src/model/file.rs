//! The model file: versioned, self-describing, checksummed, written atomically.
//!
//! ```text
//! "MAILTRIAGE-MODEL\n"      magic, 17 bytes
//! u32 LE                    format version (FORMAT)
//! u64 LE, then JSON         metadata: features, training, heads (names, labels,
//!                           temperature, threshold, validation), created_at, parent
//! per head:                 f32 LE bias[k], bias_g2[k]; u32 LE row count n; then n rows of
//!                           u32 LE slot, f32 LE weights[k], f32 LE g2[k]  (only non-zero rows)
//! u64 LE                    xxh3 of everything above: the model's version id
//! ```
//!
//! Only rows a model has learned are stored, so a file is a fraction of the dense weights
//! and loads in milliseconds. The checksum catches truncation and corruption, and names the
//! model version that decisions and the audit trail record.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

use super::{Head, LinearHead, Model, ModelError, Training};
use crate::features::FeatureConfig;

const MAGIC: &[u8] = b"MAILTRIAGE-MODEL\n";
/// The format this build writes and reads.
pub const FORMAT: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Meta {
    format: u32,
    mailtriage: String,
    created_at: String,
    parent: Option<String>,
    features: FeatureConfig,
    training: Training,
    heads: Vec<HeadMeta>,
    #[serde(default)]
    learned: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct HeadMeta {
    name: String,
    labels: Vec<String>,
    temperature: f32,
    threshold: f32,
    validation: Option<serde_json::Value>,
}

/// The model as bytes, and its version id (the checksum, in hex).
pub fn to_bytes(model: &Model) -> (Vec<u8>, String) {
    let meta = Meta {
        format: FORMAT,
        mailtriage: env!("CARGO_PKG_VERSION").to_string(),
        created_at: model.created_at.clone(),
        parent: model.parent.clone(),
        features: model.features.clone(),
        training: model.training.clone(),
        heads: model
            .heads
            .iter()
            .map(|h| HeadMeta {
                name: h.name.clone(),
                labels: h.labels.clone(),
                temperature: h.temperature,
                threshold: h.threshold,
                validation: h.validation.clone(),
            })
            .collect(),
        learned: model.learned.iter().cloned().collect(),
    };
    let json = serde_json::to_vec(&meta).unwrap_or_default();
    let mut out = Vec::with_capacity(1 << 20);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT.to_le_bytes());
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    for head in &model.heads {
        let lin = &head.linear;
        for v in lin.bias.iter().chain(&lin.bias_g2) {
            out.extend_from_slice(&v.to_le_bytes());
        }
        // The table is scanned and its rows encoded in parts, one per core, then the parts
        // are joined in order: on one thread this took some 20 ms at the end of a
        // 3,000-message `train` while the other cores waited (12 ms on two).
        let (count, parts) = encoded_rows(lin);
        out.reserve(4 + parts.iter().map(Vec::len).sum::<usize>() + 8);
        out.extend_from_slice(&count.to_le_bytes());
        for part in parts {
            out.extend_from_slice(&part);
        }
    }
    let sum = xxh3_64(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    (out, format!("{sum:016x}"))
}

/// The nonzero rows of `lin` as the file has them (each its slot, then its values), in
/// slot order, encoded in parts on up to one thread per core, with their number.
fn encoded_rows(lin: &LinearHead) -> (u32, Vec<Vec<u8>>) {
    let slots = lin.slots();
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    // A part per core, but none under 64 Ki slots: a small table is not worth a thread.
    let per_part = slots.div_ceil(cores).max(1 << 16);
    let encode = |from: usize| {
        let mut bytes = Vec::new();
        let mut count = 0u32;
        for (slot, row) in lin.nonzero_rows_in(from..from + per_part) {
            bytes.extend_from_slice(&slot.to_le_bytes());
            for v in row {
                bytes.extend_from_slice(&v.to_le_bytes());
            }
            count += 1;
        }
        (count, bytes)
    };
    let starts: Vec<usize> = (0..slots).step_by(per_part).collect();
    let parts: Vec<(u32, Vec<u8>)> = if starts.len() <= 1 {
        starts.into_iter().map(encode).collect()
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = starts
                .into_iter()
                .map(|from| scope.spawn(move || encode(from)))
                .collect();
            handles
                .into_iter()
                // A part only panics on a bug: its panic goes on here.
                .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        })
    };
    let count = parts.iter().map(|(n, _)| n).sum();
    (count, parts.into_iter().map(|(_, bytes)| bytes).collect())
}

/// Writes the model atomically (a temporary file in the same folder, then a rename), so a
/// reader never sees half a model. Returns its version id.
pub fn save(model: &Model, path: &Path) -> Result<String, ModelError> {
    let (bytes, version) = to_bytes(model);
    let io = |source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("model"),
        std::process::id()
    ));
    let mut file = std::fs::File::create(&tmp).map_err(io)?;
    file.write_all(&bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(io)?;
    Ok(version)
}

/// Reads a model file; a file from another format version fails with a message that says
/// what to do.
pub fn load(path: &Path) -> Result<(Model, String), ModelError> {
    let bytes = std::fs::read(path).map_err(|source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    from_bytes(&bytes).map_err(|e| match e {
        ModelError::File(msg) => ModelError::File(format!("{}: {msg}", path.display())),
        other => other,
    })
}

/// Reads a model from bytes; returns it with its version id.
pub fn from_bytes(bytes: &[u8]) -> Result<(Model, String), ModelError> {
    let bad = |msg: &str| ModelError::File(msg.to_string());
    if !bytes.starts_with(MAGIC) {
        return Err(bad(
            "not a mailtriage model file (no MAILTRIAGE-MODEL header)",
        ));
    }
    let mut r = Reader {
        bytes,
        at: MAGIC.len(),
    };
    let format = r.u32()?;
    if format != FORMAT {
        return Err(ModelError::File(if format > FORMAT {
            format!(
                "model file format {format} is newer than this mailtriage reads ({FORMAT}): \
                 upgrade mailtriage"
            )
        } else {
            format!(
                "model file format {format} is older than this mailtriage reads ({FORMAT}): \
                 retrain it with `mailtriage train`"
            )
        }));
    }
    if bytes.len() < r.at + 8 {
        return Err(bad("model file is truncated"));
    }
    let (body, tail) = bytes.split_at(bytes.len() - 8);
    let mut sum = [0u8; 8];
    sum.copy_from_slice(tail);
    let sum = u64::from_le_bytes(sum);
    if xxh3_64(body) != sum {
        return Err(bad(
            "model file is corrupt or truncated (checksum mismatch)",
        ));
    }
    let meta_len = r.u64()? as usize;
    let meta: Meta = serde_json::from_slice(r.take(meta_len)?)
        .map_err(|e| ModelError::File(format!("model metadata is not valid: {e}")))?;
    meta.features.validate().map_err(ModelError::File)?;
    let slots = meta.features.slots();
    let mut heads = Vec::with_capacity(meta.heads.len());
    for hm in meta.heads {
        let k = hm.labels.len();
        if k == 0 {
            return Err(bad("a model head has no labels"));
        }
        let mut linear = LinearHead::new(slots, k);
        for v in &mut linear.bias {
            *v = r.f32()?;
        }
        for v in &mut linear.bias_g2 {
            *v = r.f32()?;
        }
        let rows = r.u32()? as usize;
        // The rows are read as one block, a row at a time: a bounds check per value was
        // most of loading a model.
        let row_bytes = 4 * (1 + 2 * k);
        let block = r.take(
            rows.checked_mul(row_bytes)
                .ok_or_else(|| bad("model file is truncated"))?,
        )?;
        for row in block.chunks_exact(row_bytes) {
            let (slot, values) = row.split_at(4);
            let slot = u32::from_le_bytes([slot[0], slot[1], slot[2], slot[3]]) as usize;
            let Some((weights, g2)) = linear.row_mut(slot) else {
                return Err(bad("model row outside the feature space"));
            };
            for (v, b) in weights.iter_mut().chain(g2).zip(values.chunks_exact(4)) {
                *v = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
        }
        heads.push(Head {
            name: hm.name,
            labels: hm.labels,
            temperature: hm.temperature,
            threshold: hm.threshold,
            validation: hm.validation,
            linear,
        });
    }
    if r.at != body.len() {
        return Err(bad("model file has trailing bytes"));
    }
    Ok((
        Model {
            features: meta.features,
            heads,
            training: meta.training,
            created_at: meta.created_at,
            parent: meta.parent,
            learned: meta.learned.into_iter().collect(),
        },
        format!("{sum:016x}"),
    ))
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ModelError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| ModelError::File("model file is truncated".into()))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], ModelError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32, ModelError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, ModelError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    fn f32(&mut self) -> Result<f32, ModelError> {
        Ok(f32::from_le_bytes(self.array()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::LearnRate;

    /// The rows encoded in parts are the rows encoded one after the other, in slot order,
    /// wherever the parts are cut (rows at both ends of the table and around 64 Ki slots).
    #[test]
    fn rows_encoded_in_parts_are_the_rows_in_order() {
        let slots = 1 << 19;
        let mut head = LinearHead::new(slots, 2);
        for (i, slot) in [0, 1, 65_535, 65_536, 65_537, 131_071, 300_000, slots - 1]
            .into_iter()
            .enumerate()
        {
            let Some((w, g)) = head.row_mut(slot) else {
                panic!("slot {slot} is outside the table");
            };
            w[i % 2] = i as f32 + 0.5;
            g[0] = 2.0;
        }
        let mut expected = Vec::new();
        let mut n = 0u32;
        for (slot, row) in head.nonzero_rows() {
            expected.extend_from_slice(&slot.to_le_bytes());
            for v in row {
                expected.extend_from_slice(&v.to_le_bytes());
            }
            n += 1;
        }
        let (count, parts) = encoded_rows(&head);
        assert_eq!((count, n), (8, 8));
        assert_eq!(parts.concat(), expected);
    }

    fn small_model() -> Model {
        let training = Training {
            examples: 2,
            data_fingerprint: "0".into(),
            epochs: 1,
            rate: LearnRate::default(),
            seed: 1,
            corrections: 0,
            balanced: false,
            validation_split: crate::model::train::Split::Random,
            shuffles: 1,
            min_count: 1,
        };
        let mut m = Model::new(
            FeatureConfig {
                bits: 18,
                ..FeatureConfig::default()
            },
            &[("label".into(), vec!["ham".into(), "spam".into()])],
            training,
        );
        m.heads[0]
            .linear
            .update(&[(5, 1.0), (9, 0.5)], 1, &LearnRate::default());
        m
    }

    #[test]
    fn round_trip_is_exact_and_atomic() {
        let model = small_model();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.mt");
        let version = save(&model, &path).unwrap();
        let (loaded, loaded_version) = load(&path).unwrap();
        assert_eq!(loaded, model);
        assert_eq!(version, loaded_version);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );
    }

    #[test]
    fn character_ngram_settings_round_trip() -> Result<(), ModelError> {
        let mut model = small_model();
        model.features.char_ngrams = Some(crate::features::CharNgrams { min: 3, max: 5 });
        let (bytes, version) = to_bytes(&model);
        let (loaded, loaded_version) = from_bytes(&bytes)?;
        assert_eq!(loaded, model);
        assert_eq!(loaded.features.char_ngrams, model.features.char_ngrams);
        assert_eq!(version, loaded_version);
        // Lengths this build would not make are refused, not read.
        model.features.char_ngrams = Some(crate::features::CharNgrams { min: 3, max: 50 });
        let err = from_bytes(&to_bytes(&model).0).unwrap_err().to_string();
        assert!(err.contains("character n-grams"), "{err}");
        Ok(())
    }

    #[test]
    fn without_character_ngrams_the_metadata_is_as_before() {
        // Older builds refuse unknown fields: a model without character n-grams must not
        // name them.
        let (bytes, _) = to_bytes(&small_model());
        let meta = &bytes[MAGIC.len() + 12..];
        let text = String::from_utf8_lossy(meta);
        assert!(text.contains(r#""features":{"bits":18,"bigrams":true,"max_body_bytes":32768}"#));
        assert!(!text.contains("char_ngrams"));
    }

    #[test]
    fn a_format_1_file_from_before_character_ngrams_loads_without_them() -> Result<(), ModelError> {
        let bytes = include_bytes!("../../tests/fixtures/model-format1.mt");
        let (model, version) = from_bytes(bytes)?;
        assert_eq!(version, "4b5b3940b02748d0");
        assert_eq!(model.features.char_ngrams, None);
        assert_eq!(
            model.features,
            FeatureConfig {
                bits: 18,
                bigrams: false,
                ..FeatureConfig::default()
            }
        );
        Ok(())
    }

    #[test]
    fn bad_files_fail_with_reasons() {
        let (bytes, _) = to_bytes(&small_model());
        let err = |b: &[u8]| from_bytes(b).unwrap_err().to_string();
        assert!(err(b"hello").contains("not a mailtriage model"));
        assert!(err(&bytes[..bytes.len() - 3]).contains("corrupt or truncated"));
        let mut newer = bytes.clone();
        newer[MAGIC.len()..MAGIC.len() + 4].copy_from_slice(&2u32.to_le_bytes());
        assert!(err(&newer).contains("newer than this mailtriage reads"));
        let mut older = bytes.clone();
        older[MAGIC.len()..MAGIC.len() + 4].copy_from_slice(&0u32.to_le_bytes());
        assert!(err(&older).contains("retrain"));
        let mut flipped = bytes;
        let last = flipped.len() - 20;
        flipped[last] ^= 1;
        assert!(err(&flipped).contains("checksum"));
    }

    #[test]
    fn rows_outside_the_table_or_past_the_end_fail_with_reasons() {
        let model = small_model();
        let (bytes, _) = to_bytes(&model);
        let err = |b: &[u8]| from_bytes(b).unwrap_err().to_string();
        // Past the checksum: the file is sealed again after each change.
        let reseal = |mut b: Vec<u8>| {
            b.truncate(b.len() - 8);
            let sum = xxh3_64(&b);
            b.extend_from_slice(&sum.to_le_bytes());
            b
        };
        let meta_at = MAGIC.len() + 4;
        let mut meta_len = [0u8; 8];
        meta_len.copy_from_slice(&bytes[meta_at..meta_at + 8]);
        let classes = model.heads[0].labels.len();
        let rows_at = meta_at + 8 + u64::from_le_bytes(meta_len) as usize + 8 * classes;
        assert_eq!(bytes[rows_at..rows_at + 4], 2u32.to_le_bytes(), "two rows");
        let mut outside = bytes.clone();
        outside[rows_at + 4..rows_at + 8].copy_from_slice(&(1u32 << 18).to_le_bytes());
        assert!(err(&reseal(outside)).contains("outside the feature space"));
        let mut overrun = bytes;
        overrun[rows_at..rows_at + 4].copy_from_slice(&3u32.to_le_bytes());
        assert!(err(&reseal(overrun)).contains("truncated"));
    }
}
