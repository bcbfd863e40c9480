//! Read-only maps from words to a byte of flags, for the name and place dictionaries and the
//! small word lists of the detectors.
//!
//! The dictionaries hold some 300,000 entries and are looked up for every capitalised word,
//! so a lookup must cost one cache miss at most. A `HashMap<String, u8>` costs an allocation
//! per entry when it is built, `SipHash` per lookup, and a miss for the bucket, another for
//! the key's heap text. Here a word is known by its 64-bit xxh3 hash (fixed seed): each slot
//! of an open-addressing table is one `u64`, the hash's upper 56 bits and the word's flags in
//! the low byte, so a lookup is one hash and one cache line. Two different words share 56
//! bits of hash and the index bits with a probability of about 2^-56 per pair: for the
//! 300,000 entries, a false hit about once in 10^11 lookups, far below any detector's error.

use xxhash_rust::xxh3::xxh3_64;

/// The part of a slot that identifies the word (the low byte holds its flags).
const ID: u64 = !0xFF;

/// The identity of `word` in a slot: its hash's upper 56 bits, never zero (zero is an empty
/// slot).
fn id(word: &[u8]) -> u64 {
    let id = xxh3_64(word) & ID;
    if id == 0 {
        0x100
    } else {
        id
    }
}

/// Words, each with a non-zero byte of flags, in an open-addressing table (linear probing).
#[derive(Debug, Clone, Default)]
pub struct WordFlags {
    /// `id | flags` per slot, 0 when empty; a power of two in size, at most three quarters
    /// full.
    slots: Vec<u64>,
    len: usize,
}

impl WordFlags {
    /// The map of `words`, each with `flags` (non-zero).
    pub fn new<'a>(words: impl IntoIterator<Item = &'a str>, flags: u8) -> Self {
        let mut map = WordFlags::default();
        for w in words {
            map.insert(w, flags);
        }
        map
    }

    /// The map of many words at once, each with its flags (a word listed twice gets the
    /// union of its flags). Faster than inserting one by one for large lists: the table is
    /// sized once, and the words go in grouped by the part of the table they land in (a
    /// counting sort on their home slot's upper bits), so the writes walk the table instead
    /// of missing the cache on every word.
    pub fn from_words<'a>(words: impl IntoIterator<Item = (&'a str, u8)>) -> Self {
        let entries: Vec<u64> = words
            .into_iter()
            .filter(|&(_, flags)| flags != 0)
            .map(|(w, flags)| id(w.as_bytes()) | u64::from(flags))
            .collect();
        // Sized for every entry: a word listed twice only leaves the table emptier.
        let mut size = 64;
        while entries.len() * 4 > size * 3 {
            size *= 2;
        }
        let mut map = WordFlags {
            slots: vec![0; size],
            len: 0,
        };
        // Buckets of 256 slots (2 KiB of table each).
        let buckets = (size / 256).max(1);
        #[allow(clippy::cast_possible_truncation)] // a mask of the table's size
        let bucket = |entry: u64| ((entry >> 8) as usize & (size - 1)) * buckets / size;
        let mut starts = vec![0usize; buckets + 1];
        for &e in &entries {
            starts[bucket(e) + 1] += 1;
        }
        for b in 0..buckets {
            starts[b + 1] += starts[b];
        }
        let mut ordered = vec![0u64; entries.len()];
        for &e in &entries {
            let at = &mut starts[bucket(e)];
            ordered[*at] = e;
            *at += 1;
        }
        for e in ordered {
            let at = map.probe(e & ID);
            if map.slots[at] == 0 {
                map.len += 1;
            }
            map.slots[at] |= e;
        }
        map
    }

    /// The table as bytes (little-endian words: the entry count, then the slots), for a
    /// cache file.
    pub fn to_bytes(&self, out: &mut Vec<u8>) {
        out.reserve(8 * (1 + self.slots.len()));
        out.extend_from_slice(&(self.len as u64).to_le_bytes());
        for slot in &self.slots {
            out.extend_from_slice(&slot.to_le_bytes());
        }
    }

    /// The table `to_bytes` wrote; `None` for bytes it cannot have written.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let (len, slots) = bytes.split_first_chunk::<8>()?;
        let len = usize::try_from(u64::from_le_bytes(*len)).ok()?;
        let (words, rest) = slots.as_chunks::<8>();
        if !rest.is_empty() {
            return None;
        }
        let slots: Vec<u64> = words.iter().map(|w| u64::from_le_bytes(*w)).collect();
        // A probe needs a power-of-two size and a free slot to stop at.
        let sized = slots.is_empty() || slots.len().is_power_of_two();
        let counted = slots.iter().filter(|&&s| s != 0).count() == len;
        (sized && counted && len < slots.len().max(1)).then_some(WordFlags { slots, len })
    }

    /// The number of distinct words.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the map has no words.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The slot where a probe for `id` starts (the table is not empty): its identity's low
    /// bits pick it.
    fn home(&self, id: u64) -> usize {
        #[allow(clippy::cast_possible_truncation)] // a mask of the table's size
        let home = (id >> 8) as usize & (self.slots.len() - 1);
        home
    }

    /// The slot where the word of identity `id` is, or the empty slot where it would go.
    fn probe(&self, id: u64) -> usize {
        let mask = self.slots.len() - 1;
        // The table is never full, so the walk ends.
        let mut i = self.home(id);
        loop {
            let slot = self.slots[i];
            if slot == 0 || slot & ID == id {
                return i;
            }
            i = (i + 1) & mask;
        }
    }

    /// The flags of the word whose bytes are `word`: 0 when it is not in the map.
    pub fn get_bytes(&self, word: &[u8]) -> u8 {
        self.get_id(id(word))
    }

    /// The identity of `word` in a table (for `touch` and `get_id`).
    pub(crate) fn id_of(word: &[u8]) -> u64 {
        id(word)
    }

    /// The first slot that a lookup of `id` reads, read to bring it into the cache.
    pub(crate) fn touch(&self, id: u64) -> u64 {
        if self.slots.is_empty() {
            return 0;
        }
        self.slots[self.home(id)]
    }

    /// The flags of the word whose identity is `id` (from `id_of`): what `get_bytes` gives.
    pub(crate) fn get_id(&self, id: u64) -> u8 {
        if self.slots.is_empty() {
            return 0;
        }
        #[allow(clippy::cast_possible_truncation)] // the low byte
        let flags = self.slots[self.probe(id)] as u8;
        flags
    }

    /// The flags of `word`, as written: 0 when it is not in the map.
    pub fn get(&self, word: &str) -> u8 {
        self.get_bytes(word.as_bytes())
    }

    /// Whether `word` is in the map.
    pub fn contains(&self, word: &str) -> bool {
        self.get(word) != 0
    }

    /// The flags of `word` lower-cased (for maps of lower-case words). An ASCII word (nearly
    /// all) is lower-cased on the stack.
    pub fn get_lowercase(&self, word: &str) -> u8 {
        let mut buf = [0u8; 48];
        if word.is_ascii() && word.len() <= buf.len() {
            let lower = &mut buf[..word.len()];
            for (l, b) in lower.iter_mut().zip(word.bytes()) {
                *l = b.to_ascii_lowercase();
            }
            return self.get_bytes(lower);
        }
        self.get(&word.to_lowercase())
    }

    /// Whether `word`, lower-cased, is in the map.
    pub fn contains_lowercase(&self, word: &str) -> bool {
        self.get_lowercase(word) != 0
    }

    /// Adds `word` with `flags` (or-ed into its flags if it is there). Zero flags add
    /// nothing: a word is in the map when it has a flag.
    pub fn insert(&mut self, word: &str, flags: u8) {
        if flags == 0 {
            return;
        }
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.grow();
        }
        let id = id(word.as_bytes());
        let at = self.probe(id);
        if self.slots[at] == 0 {
            self.len += 1;
            self.slots[at] = id;
        }
        self.slots[at] |= u64::from(flags);
    }

    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(64);
        let old = std::mem::replace(&mut self.slots, vec![0; size]);
        for slot in old.into_iter().filter(|&s| s != 0) {
            let at = self.probe(slot & ID);
            self.slots[at] = slot;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::WordFlags;

    #[test]
    fn bytes_give_the_same_table_back() {
        let words: Vec<String> = (0..5_000).map(|i| format!("w{i}")).collect();
        let map = WordFlags::from_words(words.iter().map(|w| (w.as_str(), 3)));
        let mut bytes = Vec::new();
        map.to_bytes(&mut bytes);
        let back = WordFlags::from_bytes(&bytes).expect("its own bytes");
        assert_eq!((back.len, &back.slots), (map.len, &map.slots));
        assert!(words.iter().all(|w| back.get(w) == 3));
        assert!(!back.contains("w5000"));
        let mut empty = Vec::new();
        WordFlags::default().to_bytes(&mut empty);
        assert!(WordFlags::from_bytes(&empty).is_some_and(|m| m.is_empty()));
        // Truncated, miscounted or oddly sized bytes are refused, not trusted.
        assert!(WordFlags::from_bytes(&bytes[..bytes.len() - 3]).is_none());
        assert!(WordFlags::from_bytes(&bytes[..bytes.len() - 8]).is_none());
        assert!(WordFlags::from_bytes(&bytes[..4]).is_none());
        let mut miscounted = bytes.clone();
        miscounted[0] ^= 1;
        assert!(WordFlags::from_bytes(&miscounted).is_none());
    }

    #[test]
    fn finds_what_was_inserted_and_nothing_else() {
        let words: Vec<String> = (0..10_000).map(|i| format!("w{i}")).collect();
        let mut map = WordFlags::new(words.iter().map(String::as_str).chain(["w1", "w2"]), 1);
        assert_eq!(map.len(), 10_000);
        assert!(words.iter().all(|w| map.contains(w)));
        assert!(!map.contains("w10000"));
        assert!(!map.contains(""));
        map.insert("w1", 4);
        assert_eq!(map.get("w1"), 5);
        assert_eq!(map.get("w9999"), 1);
        map.insert("w3", 0);
        assert_eq!(map.get("w3"), 1);
        // By identity, as `Dictionaries::kinds` looks words up: the same answers.
        for w in words
            .iter()
            .map(String::as_str)
            .chain(["w10000", "", "Zürich"])
        {
            let id = WordFlags::id_of(w.as_bytes());
            assert_eq!(map.get_id(id), map.get(w), "{w}");
        }
        assert_eq!(WordFlags::default().get_id(WordFlags::id_of(b"w1")), 0);
        assert_eq!(WordFlags::default().touch(WordFlags::id_of(b"w1")), 0);
        assert!(!WordFlags::default().contains("w1"));
        assert!(WordFlags::default().is_empty());
        let accents = WordFlags::new(["Müller", "Zürich"], 2);
        assert!(accents.contains("Zürich") && !accents.contains("Zurich"));
        let lower = WordFlags::new(["reading", "zürich"], 1);
        assert!(lower.contains_lowercase("Reading") && lower.contains_lowercase("ZÜRICH"));
        assert!(!lower.contains_lowercase("Paris"));
    }

    #[test]
    fn built_at_once_is_built_one_by_one() {
        let words: Vec<String> = (0..5_000).map(|i| format!("w{}", i % 4_000)).collect();
        let flagged = words
            .iter()
            .enumerate()
            .map(|(i, w)| (w.as_str(), [1u8, 2, 4, 0][i % 4]));
        let at_once = WordFlags::from_words(flagged.clone());
        let mut one_by_one = WordFlags::default();
        for (w, flags) in flagged {
            one_by_one.insert(w, flags);
        }
        assert_eq!(at_once.len(), one_by_one.len());
        for i in 0..4_100 {
            let w = format!("w{i}");
            assert_eq!(at_once.get(&w), one_by_one.get(&w), "{w}");
        }
        assert!(WordFlags::from_words([]).is_empty());
        assert_eq!(WordFlags::from_words([("a", 0)]).get("a"), 0);
    }
}
