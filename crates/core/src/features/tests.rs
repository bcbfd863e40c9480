use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::features::tokenize::{tokenize, TokenKind};
use crate::ingest::{Origin, RawMail};

fn redacted(raw: &str) -> Redacted {
    let email = crate::parse::parse(RawMail::new(
        Origin::Stdin { offset: 0 },
        raw.as_bytes().to_vec(),
    ))
    .expect("test message parses");
    crate::privacy::redact(email)
}

const MAIL: &str = "From: \"Billing Team\" <billing@mail.example.com>\nTo: a@example.org, b@example.org\n\
Subject: Invoice overdue: pay now!\nDate: Tue, 2 Jan 2024 09:15:00 +0100\nMessage-ID: <1@x>\n\
Content-Type: text/html\n\n<p>Your invoice is overdue. <a href=\"https://pay.example.net/x\">Pay</a></p>\n";

fn by_namespace<'a>(features: &'a Features<'_>) -> BTreeMap<Namespace, Vec<&'a Feature>> {
    let mut map: BTreeMap<Namespace, Vec<&Feature>> = BTreeMap::new();
    for f in &features.entries {
        map.entry(f.namespace).or_default().push(f);
    }
    map
}

/// `pair_hash` of the two pinned token hashes below, under the subject seed (computed
/// independently in Python from the definition).
const PINNED_PAIR: u64 = 0x5638_b08c_eff8_c80c;

#[test]
fn hashing_is_pinned_across_versions() {
    // A saved model's weights are only meaningful if these never change. The values were
    // checked against the reference implementation (Python's `xxhash.xxh3_64_intdigest`).
    assert_eq!(
        xxh3_64_with_seed(b"invoice", Namespace::Subject.seed()),
        0x7905_60c7_606a_c2ab
    );
    assert_eq!(
        xxh3_64_with_seed(b"invoice", Namespace::Body.seed()),
        0x367f_11ac_3741_dc8d
    );
    assert_ne!(pair_hash(1, 2, 3), pair_hash(2, 1, 3));
    assert_eq!(
        pair_hash(
            0x7905_60c7_606a_c2ab,
            0x367f_11ac_3741_dc8d,
            Namespace::Subject.seed()
        ),
        PINNED_PAIR
    );
}

#[test]
fn namespaces_are_unit_length_and_indices_in_range() {
    let config = FeatureConfig::default();
    let message = redacted(MAIL);
    let features = extract(&message, &config);
    for (ns, entries) in by_namespace(&features) {
        let norm: f32 = entries.iter().map(|f| f.value * f.value).sum();
        assert!((norm - 1.0).abs() < 1e-4, "{ns:?} norm {norm}");
        assert!(entries.iter().all(|f| (f.index as usize) < config.slots()));
    }
}

#[test]
fn features_are_named_in_words() {
    let message = redacted(MAIL);
    let features = extract(&message, &FeatureConfig::default());
    let names: Vec<String> = features
        .entries
        .iter()
        .map(|f| features.describe(f))
        .collect();
    for expected in [
        "subject: 'invoice overdue'",
        "subject: 'pay'",
        "body: 'overdue'",
        "sender domain: 'mail.example.com'",
        "sender domain: 'example.com'",
        "sender name: 'billing'",
        "link domain: 'pay.example.net'",
        "header: 'to:2-5'",
        "header: 'hour:09'",
        "header: 'html only'",
        "header: 'subject has !'",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "missing {expected} in {names:?}"
        );
    }
}

#[test]
fn repeated_tokens_count_logarithmically() {
    let (once_mail, many_mail) = (
        redacted("Subject: x\n\nfree\n"),
        redacted("Subject: x\n\nfree free free free\n"),
    );
    let once = extract(
        &once_mail,
        &FeatureConfig {
            bigrams: false,
            ..FeatureConfig::default()
        },
    );
    let many = extract(
        &many_mail,
        &FeatureConfig {
            bigrams: false,
            ..FeatureConfig::default()
        },
    );
    let body = |f: &Features| {
        f.entries
            .iter()
            .filter(|e| e.namespace == Namespace::Body)
            .count()
    };
    assert_eq!(body(&once), 1);
    assert_eq!(body(&many), 1);
}

fn with_chars(min: u8, max: u8) -> FeatureConfig {
    FeatureConfig {
        char_ngrams: Some(CharNgrams { min, max }),
        ..FeatureConfig::default()
    }
}

/// The texts of a namespace's features, sorted.
fn names_in(features: &Features<'_>, namespace: Namespace) -> Vec<String> {
    let mut names: Vec<String> = features
        .entries
        .iter()
        .filter(|f| f.namespace == namespace)
        .map(|f| features.describe(f))
        .collect();
    names.sort();
    names
}

/// A namespace's `(slot, value)` pairs, sorted by slot.
fn slots_in(features: &Features<'_>, namespace: Namespace) -> Vec<(u32, u32)> {
    let mut slots: Vec<(u32, u32)> = features
        .entries
        .iter()
        .filter(|f| f.namespace == namespace)
        .map(|f| (f.index, f.value.to_bits()))
        .collect();
    slots.sort_unstable();
    slots
}

#[test]
fn char_ngram_hashing_is_pinned_across_versions() {
    // Checked against Python's `xxhash.xxh3_64_intdigest(b"<fr", seed)`.
    assert_eq!(
        xxh3_64_with_seed(b"<fr", Namespace::BodyChars.seed()),
        0x8ca1_22f8_ee31_2845
    );
    assert_eq!(
        xxh3_64_with_seed(b"<fr", Namespace::SubjectChars.seed()),
        0x4cd2_618a_3ee8_2275
    );
    assert_eq!(
        xxh3_64_with_seed("öße>".as_bytes(), Namespace::BodyChars.seed()),
        0x4829_75e5_7feb_6c3d
    );
}

#[test]
fn a_word_gives_its_framed_character_ngrams() {
    let message = redacted("Subject: Free\n\nx\n");
    let features = extract(&message, &with_chars(3, 5));
    let expected: Vec<String> = {
        let mut v: Vec<String> = [
            "<fr", "fre", "ree", "ee>", "<fre", "free", "ree>", "<free", "free>",
        ]
        .iter()
        .map(|g| format!("subject characters: '{g}'"))
        .collect();
        v.sort();
        v
    };
    assert_eq!(names_in(&features, Namespace::SubjectChars), expected);
    // Lengths are counted in characters, and n-grams are cut on character boundaries.
    let message = redacted("Subject: x\n\nGröße\n");
    let features = extract(&message, &with_chars(4, 4));
    let names = names_in(&features, Namespace::BodyChars);
    for gram in ["<grö", "größ", "röße", "öße>"] {
        assert!(
            names.contains(&format!("body characters: '{gram}'")),
            "{gram} in {names:?}"
        );
    }
    assert_eq!(names.len(), 4);
}

#[test]
fn the_same_word_gives_the_same_character_features() {
    let config = with_chars(2, 4);
    let a_mail = redacted("Subject: FREE\n\nplain text here\n");
    let b_mail = redacted("From: b@example.org\nSubject: free free\n\nother words entirely\n");
    let (a, b) = (extract(&a_mail, &config), extract(&b_mail, &config));
    let a_slots = slots_in(&a, Namespace::SubjectChars);
    assert!(!a_slots.is_empty());
    assert_eq!(a_slots, slots_in(&b, Namespace::SubjectChars));
    // The body's character namespace has a seed of its own.
    let c_mail = redacted("Subject: x\n\nfree\n");
    let c = extract(&c_mail, &config);
    let c_slots = slots_in(&c, Namespace::BodyChars);
    assert_eq!(c_slots.len(), a_slots.len());
    assert_ne!(c_slots, a_slots);
}

#[test]
fn numbers_links_and_addresses_have_no_character_ngrams() {
    let message = redacted("Subject: 12.50 https://pay.example.com/x a@example.org\n\nx\n");
    let features = extract(&message, &with_chars(3, 5));
    assert!(names_in(&features, Namespace::SubjectChars).is_empty());
    assert!(!names_in(&features, Namespace::Subject).is_empty());
}

#[test]
fn character_ngrams_add_namespaces_and_change_nothing_else() {
    let message = redacted(MAIL);
    let off = extract(&message, &FeatureConfig::default());
    assert!(off
        .entries
        .iter()
        .all(|f| !matches!(f.namespace, Namespace::SubjectChars | Namespace::BodyChars)));
    for (min, max) in [(2, 4), (3, 5), (4, 6), (5, 5)] {
        let on = extract(&message, &with_chars(min, max));
        assert!(on.entries.len() > off.entries.len());
        assert_eq!(on.entries[..off.entries.len()], off.entries[..]);
        assert!(on.entries[off.entries.len()..]
            .iter()
            .all(|f| matches!(f.namespace, Namespace::SubjectChars | Namespace::BodyChars)));
        for (ns, entries) in by_namespace(&on) {
            let norm: f32 = entries.iter().map(|f| f.value * f.value).sum();
            assert!((norm - 1.0).abs() < 1e-4, "{ns:?} norm {norm}");
        }
    }
}

#[test]
fn character_ngram_settings_are_checked_parsed_and_saved() {
    let parsed = |s: &str| s.parse::<CharNgrams>();
    assert_eq!(parsed("3-5"), Ok(CharNgrams { min: 3, max: 5 }));
    assert_eq!(parsed(" 4 "), Ok(CharNgrams { min: 4, max: 4 }));
    for bad in ["1-3", "5-3", "2-9", "three", "3-", "-", "300"] {
        assert!(parsed(bad).is_err(), "{bad}");
    }
    assert_eq!(CharNgrams { min: 3, max: 5 }.to_string(), "3-5");
    assert!(with_chars(3, 5).validate().is_ok());
    assert!(with_chars(6, 3).validate().is_err());

    // Off is not written at all (so that older builds read the file); a setting written
    // before the field existed reads as off; on round-trips.
    let off = serde_json::to_string(&FeatureConfig::default()).unwrap();
    assert_eq!(off, r#"{"bits":20,"bigrams":true,"max_body_bytes":32768}"#);
    let old: FeatureConfig = serde_json::from_str(&off).unwrap();
    assert_eq!(old, FeatureConfig::default());
    let on = serde_json::to_string(&with_chars(3, 5)).unwrap();
    assert!(on.contains(r#""char_ngrams":{"min":3,"max":5}"#), "{on}");
    assert_eq!(
        serde_json::from_str::<FeatureConfig>(&on).unwrap(),
        with_chars(3, 5)
    );
}

/// Character n-gram features as the definition says, written plainly (a `String` per
/// n-gram, a map to count them): `(slot, text, value)`, sorted.
fn reference_chars(text: &str, n: CharNgrams, namespace: Namespace) -> Vec<(u32, String, f32)> {
    let mut counts: BTreeMap<u64, (u32, String)> = BTreeMap::new();
    tokenize(text, |kind, token, _| {
        if kind != TokenKind::Word {
            return;
        }
        let framed: Vec<char> = format!("<{token}>").chars().collect();
        for len in n.min as usize..=n.max as usize {
            for first in 0..framed.len().saturating_sub(len - 1) {
                if len == framed.len() {
                    continue;
                }
                let gram: String = framed[first..first + len].iter().collect();
                let hash = xxh3_64_with_seed(gram.as_bytes(), namespace.seed());
                counts.entry(hash).or_insert((0, gram)).0 += 1;
            }
        }
    });
    let values: Vec<(u32, String, f32)> = counts
        .into_iter()
        .map(|(hash, (count, gram))| {
            let sign = if hash & 1 == 0 { 1.0 } else { -1.0 };
            let index = (hash >> (64 - 20)) as u32;
            (index, gram, sign * (1.0 + (count as f32).ln()))
        })
        .collect();
    let norm = values.iter().map(|(_, _, v)| v * v).sum::<f32>().sqrt();
    let mut out: Vec<(u32, String, f32)> = values
        .into_iter()
        .map(|(i, g, v)| (i, g, v / norm))
        .collect();
    out.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    out
}

/// The body's character n-gram features of `message` as `(slot, text, value)`, sorted.
fn body_chars(features: &Features<'_>) -> Vec<(u32, String, f32)> {
    let mut out: Vec<(u32, String, f32)> = features
        .entries
        .iter()
        .filter(|f| f.namespace == Namespace::BodyChars)
        .map(|f| {
            let name = features.describe(f);
            let text = name
                .strip_prefix("body characters: '")
                .and_then(|t| t.strip_suffix('\''))
                .unwrap()
                .to_string();
            (f.index, text, f.value)
        })
        .collect();
    out.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    out
}

fn same_features(got: &[(u32, String, f32)], want: &[(u32, String, f32)]) -> bool {
    got.len() == want.len()
        && got
            .iter()
            .zip(want)
            .all(|(g, w)| g.0 == w.0 && g.1 == w.1 && (g.2 - w.2).abs() < 1e-5)
}

#[test]
fn character_ngrams_match_their_plain_definition() {
    let text = "Free FREE free offer!! Größe größe GRÖSSE v1agra v1agra 12.50 a an ann anna \
                https://x.example.com banana bananas ananas";
    let message = redacted(&format!("Subject: x\n\n{text}\n"));
    for (min, max) in [(2, 4), (3, 5), (4, 6), (2, 8), (5, 5)] {
        let n = CharNgrams { min, max };
        let features = extract(&message, &with_chars(min, max));
        let (got, want) = (
            body_chars(&features),
            reference_chars(&features.body, n, Namespace::BodyChars),
        );
        assert!(same_features(&got, &want), "{min}-{max}: {got:?}\n{want:?}");
    }
}

proptest! {
    #[test]
    fn character_ngrams_match_their_plain_definition_on_any_text(
        text in "([a-zA-Z0-9éßİ]{1,7}[ .,]{1,2}){0,60}",
        min in 2u8..=5,
        extra in 0u8..=3,
    ) {
        let n = CharNgrams { min, max: min + extra };
        let message = redacted(&format!("Subject: x\n\n{text}\n"));
        let features = extract(&message, &with_chars(n.min, n.max));
        let (got, want) = (
            body_chars(&features),
            reference_chars(&features.body, n, Namespace::BodyChars),
        );
        prop_assert!(same_features(&got, &want), "{:?}\n{:?}", got, want);
    }

    #[test]
    fn extraction_is_deterministic_and_bounded(subject in "\\PC{0,80}", text in "\\PC{0,400}") {
        let raw = format!("From: a@example.com\nSubject: {}\n\n{}\n", subject.replace(['\r', '\n'], " "), text);
        let message = redacted(&raw);
        for config in [FeatureConfig::default(), with_chars(2, 6)] {
            let a = extract(&message, &config);
            let b = extract(&message, &config);
            prop_assert_eq!(&a.entries, &b.entries);
            for f in &a.entries {
                prop_assert!((f.index as usize) < config.slots());
                prop_assert!(f.value.is_finite() && f.value.abs() <= 1.0 + 1e-6);
                prop_assert!(!a.describe(f).contains('?') || raw.contains('?'));
            }
        }
    }
}

/// Writes one line per message of `data/spamassassin/eml` (file, entry count, xxh3 of every
/// entry's namespace, slot, value bits and description) to `$MAILTRIAGE_FEATURE_DUMP`, under
/// the default settings: two builds' dumps compared line by line show whether a change to
/// extraction moved any feature. `MAILTRIAGE_FEATURE_DUMP=/tmp/a.tsv cargo test -p
/// mailtriage-core --release feature_dump -- --ignored`
#[test]
#[ignore = "needs the corpus (scripts/fetch-corpus.sh) and writes a file"]
fn feature_dump() {
    fn collect(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                collect(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let out = std::env::var("MAILTRIAGE_FEATURE_DUMP").unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/spamassassin/eml");
    let mut files = Vec::new();
    collect(&root, &mut files);
    files.sort();
    let config = FeatureConfig::default();
    let mut dump = String::new();
    for path in files {
        let raw = std::fs::read(&path).unwrap();
        let Ok(email) = crate::parse::parse(RawMail::new(Origin::Stdin { offset: 0 }, raw)) else {
            continue;
        };
        let message = crate::privacy::redact(email);
        let features = extract(&message, &config);
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        for f in &features.entries {
            hasher.update(
                format!(
                    "{:?}\t{}\t{:08x}\t{}\n",
                    f.namespace,
                    f.index,
                    f.value.to_bits(),
                    features.describe(f)
                )
                .as_bytes(),
            );
        }
        let _ = writeln!(
            dump,
            "{}\t{}\t{:016x}",
            path.strip_prefix(&root).unwrap().display(),
            features.entries.len(),
            hasher.digest()
        );
    }
    std::fs::write(out, dump).unwrap();
}

/// Times extraction over `data/spamassassin/eml` with and without character n-grams (one
/// core, parsed and redacted beforehand), and counts the entries.
/// `cargo test -p mailtriage-core --release extraction_speed -- --ignored --nocapture`
#[test]
#[ignore = "needs the corpus (scripts/fetch-corpus.sh); a measurement, not a check"]
fn extraction_speed() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/spamassassin/eml");
    let mut messages = Vec::new();
    for group in std::fs::read_dir(&root).unwrap().flatten() {
        for file in std::fs::read_dir(group.path()).unwrap().flatten() {
            let raw = std::fs::read(file.path()).unwrap();
            if let Ok(email) = crate::parse::parse(RawMail::new(Origin::Stdin { offset: 0 }, raw)) {
                messages.push(crate::privacy::redact(email));
            }
        }
    }
    let mut configs = vec![("off".to_string(), FeatureConfig::default())];
    for (min, max) in [(2, 4), (3, 5), (4, 6), (3, 6)] {
        configs.push((format!("{min}-{max}"), with_chars(min, max)));
    }
    for (name, config) in configs {
        let mut best = f64::MAX;
        let mut entries = 0;
        for _ in 0..5 {
            let started = std::time::Instant::now();
            entries = messages
                .iter()
                .map(|m| extract(m, &config).entries.len())
                .sum::<usize>();
            best = best.min(started.elapsed().as_secs_f64());
        }
        println!(
            "{name:>4}: {:.1} ms for {} messages ({:.1} us each), {:.0} entries each",
            best * 1e3,
            messages.len(),
            best * 1e6 / messages.len() as f64,
            entries as f64 / messages.len() as f64
        );
    }
}
