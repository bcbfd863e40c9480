//! A read-only set of words for the name and place dictionaries.
//!
//! The dictionaries hold some 300,000 entries and are looked up for every capitalised word.
//! A `HashSet<String>` costs an allocation per entry when it is built (a quarter of a second
//! at start-up, longer than redacting a megabyte) and `SipHash` per lookup. Here the entries
//! live in one buffer and an open-addressing table of their positions is probed with xxh3,
//! so building is one pass over the file and a lookup is one hash and, nearly always, one
//! comparison.

use xxhash_rust::xxh3::xxh3_64;

/// An entry number and the high 32 bits of its hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slot {
    entry: u32,
    tag: u32,
}

/// An empty slot of the table.
const EMPTY: Slot = Slot {
    entry: u32::MAX,
    tag: 0,
};

/// The table index bits and the tag of `word`.
fn hash(word: &[u8]) -> (usize, u32) {
    let h = xxh3_64(word);
    #[allow(clippy::cast_possible_truncation)] // the halves of a 64-bit hash
    (h as u32 as usize, (h >> 32) as u32)
}

/// Words in one buffer, found through an open-addressing table.
#[derive(Debug, Clone, Default)]
pub struct WordSet {
    /// The entries, one after another.
    text: String,
    /// Where each entry starts in `text` and ends, by entry number.
    spans: Vec<(u32, u32)>,
    /// Entry numbers by hash (linear probing), each with the high half of its hash so that
    /// a miss (most lookups) rarely touches the entries; a power of two in size, at most
    /// half full.
    slots: Vec<Slot>,
}

impl WordSet {
    /// The set of `words` (duplicates kept once).
    pub fn new<'a>(words: impl IntoIterator<Item = &'a str>) -> Self {
        let mut set = WordSet::default();
        for w in words {
            set.insert(w);
        }
        set
    }

    /// The number of distinct entries.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether the set has no entries.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Entry number `n`.
    pub fn entry(&self, n: u32) -> &str {
        let (start, end) = self.spans[n as usize];
        &self.text[start as usize..end as usize]
    }

    /// The slot where `word` is, or the empty slot where it would go.
    fn probe(&self, word: &[u8]) -> usize {
        let mask = self.slots.len() - 1;
        let (index, tag) = hash(word);
        // The table is at most half full, so the walk ends at an empty slot.
        let mut i = index & mask;
        loop {
            let slot = self.slots[i];
            if slot == EMPTY || (slot.tag == tag && self.entry(slot.entry).as_bytes() == word) {
                return i;
            }
            i = (i + 1) & mask;
        }
    }

    /// Whether `word` is in the set.
    pub fn contains(&self, word: &str) -> bool {
        self.get(word).is_some()
    }

    /// The number of `word`'s entry (entries are numbered from 0 in the order added).
    pub fn get(&self, word: &str) -> Option<u32> {
        self.get_bytes(word.as_bytes())
    }

    /// The number of the entry whose bytes are `word`.
    pub fn get_bytes(&self, word: &[u8]) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let slot = self.slots[self.probe(word)];
        (slot != EMPTY).then_some(slot.entry)
    }

    /// Whether `word`, lower-cased, is in the set (of lower-case entries). An ASCII word
    /// (nearly all) is lower-cased on the stack.
    pub fn contains_lowercase(&self, word: &str) -> bool {
        let mut buf = [0u8; 48];
        if word.is_ascii() && word.len() <= buf.len() {
            let lower = &mut buf[..word.len()];
            for (l, b) in lower.iter_mut().zip(word.bytes()) {
                *l = b.to_ascii_lowercase();
            }
            return self.get_bytes(lower).is_some();
        }
        self.contains(&word.to_lowercase())
    }

    /// Adds `word` and returns its entry number (the old one if it was there). Entries past
    /// 4 GiB of text in all are not kept (no dictionary is near): `None`.
    pub fn insert(&mut self, word: &str) -> Option<u32> {
        if (self.spans.len() + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let at = self.probe(word.as_bytes());
        if self.slots[at] != EMPTY {
            return Some(self.slots[at].entry);
        }
        let (Ok(start), Ok(end), Ok(n)) = (
            u32::try_from(self.text.len()),
            u32::try_from(self.text.len() + word.len()),
            u32::try_from(self.spans.len()),
        ) else {
            return None;
        };
        self.text.push_str(word);
        self.spans.push((start, end));
        self.slots[at] = Slot {
            entry: n,
            tag: hash(word.as_bytes()).1,
        };
        Some(n)
    }

    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(64);
        self.slots = vec![EMPTY; size];
        let mask = size - 1;
        for n in 0..self.spans.len() {
            #[allow(clippy::cast_possible_truncation)] // entry numbers fit in u32 (see insert)
            let n = n as u32;
            let (index, tag) = hash(self.entry(n).as_bytes());
            let mut i = index & mask;
            while self.slots[i] != EMPTY {
                i = (i + 1) & mask;
            }
            self.slots[i] = Slot { entry: n, tag };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::WordSet;

    #[test]
    fn finds_what_was_inserted_and_nothing_else() {
        let words: Vec<String> = (0..10_000).map(|i| format!("w{i}")).collect();
        let set = WordSet::new(words.iter().map(String::as_str).chain(["w1", "w2"]));
        assert_eq!(set.len(), 10_000);
        assert!(words.iter().all(|w| set.contains(w)));
        assert!(!set.contains("w10000"));
        assert!(!set.contains(""));
        assert_eq!(set.get("w0"), Some(0));
        assert_eq!(set.get("w9999"), Some(9999));
        assert!(!WordSet::default().contains("w1"));
        assert!(WordSet::default().is_empty());
        let accents = WordSet::new(["Müller", "Zürich"]);
        assert!(accents.contains("Zürich") && !accents.contains("Zurich"));
        let lower = WordSet::new(["reading", "zürich"]);
        assert!(lower.contains_lowercase("Reading") && lower.contains_lowercase("ZÜRICH"));
        assert!(!lower.contains_lowercase("Paris"));
    }
}
