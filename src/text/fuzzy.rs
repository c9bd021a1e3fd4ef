//! Fuzzy fingerprints: MinHash over word shingles, so spun variants of one spam template
//! ("I have been surfing online more than three hours today" / "I've been surfing online
//! more than 3 hours these days") are recognised as the same text.
//!
//! A [`Signature`] is the minimum of [`HASHES`] hash functions over the text's word
//! bigrams; the share of equal minima estimates the Jaccard similarity of the two bigram
//! sets. For look-ups the first `BANDS × ROWS` minima are cut into bands
//! ([`Signature::band_keys`]): two texts with Jaccard similarity `J` share at least one band
//! with probability `1 - (1 - J^ROWS)^BANDS` (0.94 at 0.4, 0.99 at 0.5, 0.30 at 0.1), and
//! only texts sharing a band are compared by the full signature. [`FuzzyIndex`] is the
//! bounded in-memory form of such an index. Pure: no IO, seeds fixed so that every replica,
//! every version of the shipped artifact and Redis agree.

use std::collections::{HashMap, VecDeque};

use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

/// Hash functions (minima) per signature.
pub const HASHES: usize = 64;
/// Bands used for look-ups.
pub const BANDS: usize = 16;
/// Minima per band.
pub const ROWS: usize = 2;
/// Fewer words than this: no signature (short texts are too alike to tell apart).
pub const MIN_WORDS: usize = 8;
/// Words looked at, at most: bounds the cost of a 64 KiB comment.
pub const MAX_WORDS: usize = 2000;
/// Estimated Jaccard similarity from which two texts count as the same text, chosen on
/// the blog spam and ham sets (docs/fuzzy.md).
pub const MATCH_THRESHOLD: f64 = 0.4;
/// Bytes of a signature in [`Signature::to_bytes`].
pub const SIGNATURE_BYTES: usize = HASHES * 4;
/// Ids one band bucket keeps (the newest): a spam wave of one template fills its buckets,
/// and every later variant still finds the template in any of them.
pub const BUCKET_CAP: usize = 32;

/// Seed of the word hash; fixed, as every stored signature depends on it.
const WORD_SEED: u64 = 0x636f_6d6d_656e_7467;
/// FNV-1a's 64-bit prime: the per-character step of the word hash.
const WORD_PRIME: u64 = 0x0000_0100_0000_01B3;
/// Odd multiplier that orders a bigram's two words ("a b" and "b a" differ).
const PAIR_MULTIPLIER: u64 = 0x9E37_79B9_7F4A_7C15;
/// Lanes updated together: two SSE2 registers of i32.
const LANES: usize = 8;

/// The murmur3 64-bit finaliser: every input bit reaches every output bit.
const fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 33)).wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    z = (z ^ (z >> 33)).wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    z ^ (z >> 33)
}

/// A text's MinHash signature.
#[derive(Clone, PartialEq, Eq)]
pub struct Signature([u32; HASHES]);

impl std::fmt::Debug for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signature({:016x})", self.id())
    }
}

/// Calls `each` with the hash of every word of `text` (lower-cased runs of letters and
/// digits; apostrophes inside a word are dropped, so "I've" and "Ive" are one word), up to
/// [`MAX_WORDS`]. The hash is built character by character, so no word is copied.
fn for_each_word(text: &str, mut each: impl FnMut(u64)) {
    let bytes = text.as_bytes();
    let mut state = WORD_SEED;
    let mut in_word = false;
    let mut words = 0;
    let mut at = 0;
    while at < bytes.len() {
        let byte = bytes[at];
        // An apostrophe neither starts nor ends a word; it only does not split one.
        let splits = if byte.is_ascii() {
            at += 1;
            if byte.is_ascii_alphanumeric() {
                state = (state ^ u64::from(byte.to_ascii_lowercase())).wrapping_mul(WORD_PRIME);
                in_word = true;
                false
            } else {
                byte != b'\''
            }
        } else {
            let c = text[at..]
                .chars()
                .next()
                .unwrap_or(char::REPLACEMENT_CHARACTER);
            at += c.len_utf8();
            if c.is_alphanumeric() {
                for lower in c.to_lowercase() {
                    state = (state ^ u64::from(lower)).wrapping_mul(WORD_PRIME);
                }
                in_word = true;
                false
            } else {
                c != '\u{2019}'
            }
        };
        if splits && in_word {
            each(mix64(state));
            words += 1;
            if words == MAX_WORDS {
                return;
            }
            state = WORD_SEED;
            in_word = false;
        }
    }
    if in_word {
        each(mix64(state));
    }
}

/// Lowers `mins` to the minima of the [`HASHES`] values `low + i·step` (i = 0..HASHES,
/// wrapping): Kirsch–Mitzenmacher double hashing, one shingle hash standing in for 64 hash
/// functions. Compared as i32, as SSE2 has a signed compare and no unsigned one (any fixed
/// order makes a MinHash); chunks of [`LANES`] with one scalar base each, so it vectorises.
#[inline(always)]
fn lower_minima(mins: &mut [i32; HASHES], low: i32, step: i32) {
    let offsets: [i32; LANES] = std::array::from_fn(|lane| step.wrapping_mul(lane as i32));
    let stride = step.wrapping_mul(LANES as i32);
    let mut base = low;
    for chunk in mins.chunks_exact_mut(LANES) {
        for (min, offset) in chunk.iter_mut().zip(offsets) {
            *min = (*min).min(base.wrapping_add(offset));
        }
        base = base.wrapping_add(stride);
    }
}

impl Signature {
    /// The signature of `text` (plain text: strip markup first), or `None` for a text of
    /// fewer than [`MIN_WORDS`] words.
    pub fn of(text: &str) -> Option<Signature> {
        let mut mins = [i32::MAX; HASHES];
        let mut previous = None;
        let mut words = 0usize;
        for_each_word(text, |word| {
            words += 1;
            if let Some(prev) = previous {
                // The bigram's hash: an ordered mix of its two words' hashes; its halves
                // are the two hashes the 64 values are derived from (the step odd).
                let shingle = mix64(u64::wrapping_mul(prev, PAIR_MULTIPLIER) ^ word);
                lower_minima(&mut mins, shingle as i32, (shingle >> 32) as i32 | 1);
            }
            previous = Some(word);
        });
        (words >= MIN_WORDS).then(|| Signature(mins.map(|min| min as u32)))
    }

    /// Estimated Jaccard similarity of the two texts' bigram sets: the share of equal minima.
    pub fn similarity(&self, other: &Signature) -> f64 {
        self.equal_minima(other) as f64 / HASHES as f64
    }

    /// How many minima the two signatures share.
    pub fn equal_minima(&self, other: &Signature) -> usize {
        self.0.iter().zip(&other.0).filter(|(a, b)| a == b).count()
    }

    /// One key per band (the band's number is part of the key, so equal minima in
    /// different bands do not collide).
    pub fn band_keys(&self) -> [u64; BANDS] {
        std::array::from_fn(|band| {
            let rows = &self.0[band * ROWS..(band + 1) * ROWS];
            let mut bytes = [0u8; ROWS * 4];
            for (chunk, min) in bytes.chunks_exact_mut(4).zip(rows) {
                chunk.copy_from_slice(&min.to_le_bytes());
            }
            xxh3_64_with_seed(&bytes, band as u64)
        })
    }

    /// A stable id: xxh3-64 of the bytes.
    pub fn id(&self) -> u64 {
        xxh3_64(&self.to_bytes())
    }

    /// [`SIGNATURE_BYTES`] little-endian bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.iter().flat_map(|m| m.to_le_bytes()).collect()
    }

    /// Reads [`Signature::to_bytes`]; `None` for any other length.
    pub fn from_bytes(bytes: &[u8]) -> Option<Signature> {
        if bytes.len() != SIGNATURE_BYTES {
            return None;
        }
        let mut mins = [0u32; HASHES];
        for (min, chunk) in mins.iter_mut().zip(bytes.chunks_exact(4)) {
            *min = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        }
        Some(Signature(mins))
    }
}

/// The closest entry a look-up found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Nearest {
    /// Estimated Jaccard similarity.
    pub similarity: f64,
    /// The entry's tag (a site, a source: whatever the caller stored with it).
    pub tag: u64,
}

/// What a look-up found among the entries sharing a band with the probe.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Neighbours {
    /// The most similar entry, if any shares a band.
    pub nearest: Option<Nearest>,
    /// Entries at or above [`MATCH_THRESHOLD`].
    pub matches: u64,
    /// Distinct tags among them.
    pub tags: Vec<u64>,
}

struct Entry {
    signature: Signature,
    tag: u64,
    added_ms: u64,
}

/// Approximate bytes one entry takes: the signature, the entry in the map and the queue,
/// and its id in each band bucket (allocator headers included).
pub const INDEX_ENTRY_BYTES: usize = SIGNATURE_BYTES + 64 + 24 + BANDS * 24;

/// A bounded in-memory index of signatures by band: at most `max_entries`, each kept for
/// `ttl_ms` (0: until pushed out), the oldest leaving first. Time is passed in, so the
/// index stays pure.
pub struct FuzzyIndex {
    entries: HashMap<u64, Entry>,
    order: VecDeque<u64>,
    buckets: HashMap<u64, VecDeque<u64>>,
    max_entries: usize,
    ttl_ms: u64,
}

impl std::fmt::Debug for FuzzyIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FuzzyIndex")
            .field("entries", &self.entries.len())
            .field("max_entries", &self.max_entries)
            .finish_non_exhaustive()
    }
}

impl FuzzyIndex {
    /// An empty index of at most `max_entries`, each kept `ttl_ms` (0: no expiry).
    pub fn new(max_entries: usize, ttl_ms: u64) -> Self {
        FuzzyIndex {
            entries: HashMap::new(),
            order: VecDeque::new(),
            buckets: HashMap::new(),
            max_entries: max_entries.max(1),
            ttl_ms,
        }
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Changes how long entries are kept (the signal window is a setting of each call).
    pub fn set_ttl(&mut self, ttl_ms: u64) {
        self.ttl_ms = ttl_ms;
    }

    /// Approximate bytes held.
    pub fn approx_bytes(&self) -> usize {
        self.entries.len() * INDEX_ENTRY_BYTES
    }

    /// Adds `signature` under `id` with `tag` at `now_ms`; an id already present is
    /// replaced. Pushes out expired entries and, past the bound, the oldest.
    pub fn insert(&mut self, id: u64, signature: Signature, tag: u64, now_ms: u64) {
        self.remove(id);
        for key in signature.band_keys() {
            let bucket = self.buckets.entry(key).or_default();
            bucket.push_back(id);
            if bucket.len() > BUCKET_CAP {
                bucket.pop_front();
            }
        }
        self.entries.insert(
            id,
            Entry {
                signature,
                tag,
                added_ms: now_ms,
            },
        );
        self.order.push_back(id);
        self.expire(now_ms);
        while self.entries.len() > self.max_entries {
            match self.order.pop_front() {
                Some(oldest) => self.remove(oldest),
                None => break,
            }
        }
    }

    /// Removes the entry `id`, if present.
    pub fn remove(&mut self, id: u64) {
        let Some(entry) = self.entries.remove(&id) else {
            return;
        };
        for key in entry.signature.band_keys() {
            if let Some(bucket) = self.buckets.get_mut(&key) {
                // An id is in a bucket at most once (insert removes it first), and what is
                // removed is mostly the oldest entry, at the bucket's front: the search
                // stops there instead of going over the whole bucket as `retain` would.
                if let Some(at) = bucket.iter().position(|&other| other == id) {
                    bucket.remove(at);
                }
                if bucket.is_empty() {
                    self.buckets.remove(&key);
                }
            }
        }
        // The queue keeps its stale id until it reaches the front: removal stays O(bands).
    }

    /// Drops entries older than the ttl at `now_ms`.
    pub fn expire(&mut self, now_ms: u64) {
        while let Some(&oldest) = self.order.front() {
            match self.entries.get(&oldest) {
                None => {}
                Some(e) if self.expired(e, now_ms) => self.remove(oldest),
                Some(_) => break,
            }
            self.order.pop_front();
        }
        // Removed ids wait in the queue until they reach its front; keep it bounded.
        if self.order.len() > 2 * self.max_entries {
            let entries = &self.entries;
            self.order.retain(|id| entries.contains_key(id));
        }
    }

    fn expired(&self, entry: &Entry, now_ms: u64) -> bool {
        self.ttl_ms > 0 && now_ms.saturating_sub(entry.added_ms) >= self.ttl_ms
    }

    /// The entries sharing a band with `signature` (unexpired at `now_ms`), compared by the
    /// full signature.
    pub fn neighbours(&self, signature: &Signature, now_ms: u64) -> Neighbours {
        // Sorted and deduplicated first: in a spam wave one template fills every band.
        let mut candidates: Vec<u64> = signature
            .band_keys()
            .iter()
            .filter_map(|key| self.buckets.get(key))
            .flatten()
            .copied()
            .collect();
        candidates.sort_unstable();
        candidates.dedup();
        let mut found = Neighbours::default();
        for id in candidates {
            let Some(entry) = self.entries.get(&id) else {
                continue;
            };
            if self.expired(entry, now_ms) {
                continue;
            }
            let similarity = signature.similarity(&entry.signature);
            if found.nearest.is_none_or(|n| similarity > n.similarity) {
                found.nearest = Some(Nearest {
                    similarity,
                    tag: entry.tag,
                });
            }
            if similarity >= MATCH_THRESHOLD {
                found.matches += 1;
                if !found.tags.contains(&entry.tag) {
                    found.tags.push(entry.tag);
                }
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = "I have been surfing online more than three hours today, yet I never \
        found any interesting article like yours. It is pretty worth enough for me. In my \
        opinion, if all webmasters and bloggers made good content as you did, the internet \
        will be a lot more useful than ever before.";

    fn sig(text: &str) -> Signature {
        Signature::of(text).expect("long enough to fingerprint")
    }

    #[test]
    fn spun_variants_match_and_unrelated_texts_do_not() {
        // (name, text, matches TEMPLATE?, why)
        let cases = [
            ("identical", TEMPLATE, true, "the same text"),
            (
                "spun",
                "I've been surfing online more than 3 hours these days, but I by no means \
                 found any interesting article like yours. It is lovely value enough for me. \
                 In my opinion, if all webmasters and bloggers made good content as you did, \
                 the internet shall be a lot more useful than ever before.",
                true,
                "a spun variant of one template (real pair from the blog spam set)",
            ),
            (
                "case_and_markup_space",
                "I HAVE BEEN SURFING ONLINE more than three hours today,   yet I never found \
                 any interesting article like yours! it is pretty worth enough for me. in my \
                 opinion if all webmasters and bloggers made good content as you did the \
                 internet will be a lot more useful than ever before",
                true,
                "case and punctuation do not make a new text",
            ),
            (
                "link_appended",
                "I have been surfing online more than three hours today, yet I never found \
                 any interesting article like yours. It is pretty worth enough for me. In my \
                 opinion, if all webmasters and bloggers made good content as you did, the \
                 internet will be a lot more useful than ever before. http://cheap-pills.example/buy",
                true,
                "a link added to a known template",
            ),
            (
                "unrelated_praise",
                "Thanks for the detailed write-up on configuring Jekyll collections, the \
                 part about front matter defaults saved me an afternoon of debugging.",
                false,
                "genuine praise shares a few words, not the text",
            ),
            (
                "unrelated_question",
                "Does this approach still work with the latest release of the theme, or do \
                 I need to change the include paths in my layout files first?",
                false,
                "a question about the post",
            ),
        ];
        let template = sig(TEMPLATE);
        for (name, text, want, why) in cases {
            let s = sig(text);
            let similarity = template.similarity(&s);
            assert_eq!(
                similarity >= MATCH_THRESHOLD,
                want,
                "{name}: {why} ({similarity})"
            );
        }
    }

    #[test]
    fn short_texts_do_not_fingerprint() {
        // (name, text, why)
        let cases = [
            ("empty", "", "nothing to fingerprint"),
            (
                "praise",
                "Great post, thanks!",
                "too short to tell one author from another",
            ),
            (
                "seven_words",
                "one two three four five six seven",
                "one word short",
            ),
            (
                "markup_only",
                "<<< --- !!! ??? ... ,,, ;;;",
                "no words at all",
            ),
        ];
        for (name, text, why) in cases {
            assert!(Signature::of(text).is_none(), "{name}: {why}");
        }
        assert!(Signature::of("one two three four five six seven eight").is_some());
    }

    #[test]
    fn signatures_are_stable_and_round_trip() {
        let s = sig(TEMPLATE);
        assert_eq!(Signature::from_bytes(&s.to_bytes()), Some(s.clone()));
        assert_eq!(Signature::from_bytes(&[0u8; 12]), None);
        // Fixed seeds: a stored signature stays comparable across builds and replicas.
        assert_eq!(sig(TEMPLATE).id(), s.id());
        assert_eq!(s.similarity(&s), 1.0);
    }

    #[test]
    fn the_index_finds_near_duplicates_by_band_and_stays_bounded() {
        let mut index = FuzzyIndex::new(3, 1000);
        let spun = sig(
            "I've been surfing online more than 3 hours these days, but I by no \
            means found any interesting article like yours. It is lovely value enough for me. \
            In my opinion, if all webmasters and bloggers made good content as you did, the \
            internet shall be a lot more useful than ever before.",
        );
        index.insert(1, sig(TEMPLATE), 7, 0);
        let found = index.neighbours(&spun, 10);
        assert_eq!(found.matches, 1);
        assert_eq!(found.tags, [7]);
        assert!(found.nearest.unwrap().similarity >= MATCH_THRESHOLD);
        assert_eq!(
            index.neighbours(&spun, 1000).matches,
            0,
            "expired with its ttl"
        );
        for (id, text) in [
            (2, "alpha beta gamma delta epsilon zeta eta theta iota"),
            (3, "kappa lambda mu nu xi omicron pi rho sigma tau"),
            (4, "upsilon phi chi psi omega one two three four five"),
        ] {
            index.insert(id, sig(text), 0, 20);
        }
        assert_eq!(index.len(), 3, "bounded: the oldest went first");
        assert_eq!(index.neighbours(&sig(TEMPLATE), 20).matches, 0);
        index.remove(3);
        assert_eq!(index.len(), 2);
        assert_eq!(index.approx_bytes(), 2 * INDEX_ENTRY_BYTES);
    }
}
