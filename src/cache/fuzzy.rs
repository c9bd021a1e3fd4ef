//! Where fuzzy fingerprints are kept so that every replica and every site shares them: the
//! labelled spam (what moderators marked spam) and the recent comments (for the cross-site
//! "repeated content" signal, near-duplicates included). In process here; in Redis see
//! `redis.rs`. The maths is in [`crate::text::fuzzy`].

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::text::fuzzy::{FuzzyIndex, Signature, INDEX_ENTRY_BYTES};

/// How long a labelled spam fingerprint is kept (Redis; in process the label log is
/// replayed at start and the byte budget bounds it).
pub const KNOWN_SPAM_TTL: Duration = Duration::from_secs(90 * 24 * 3600);
/// Most labelled spam fingerprints kept in Redis (about 1.5 KB each there).
pub const MAX_KNOWN_SHARED: usize = 50_000;
/// Most recent-comment fingerprints kept in Redis (about 1.5 KB each there).
pub const MAX_RECENT_SHARED: usize = 50_000;

/// What the shared fingerprints say about one comment.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FuzzyFindings {
    /// Estimated similarity of the closest labelled spam sharing a band (0 when none).
    pub known_similarity: f64,
    /// Near-duplicates of this text within the window, this one included.
    pub near_repeats: u64,
    /// Distinct sites among them, this one's included.
    pub near_sites: u64,
}

/// A site as the recent-comments store tags it: xxh3-64 of the lower-cased site, 0 for
/// none.
pub fn site_tag(site: Option<&str>) -> u64 {
    site.map_or(0, |s| xxhash_rust::xxh3::xxh3_64(s.as_bytes()).max(1))
}

/// Milliseconds since the epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The in-process fingerprints, within a byte budget split evenly between the two indexes.
pub struct LocalFuzzy {
    known: Mutex<FuzzyIndex>,
    recent: Mutex<FuzzyIndex>,
}

impl std::fmt::Debug for LocalFuzzy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalFuzzy").finish_non_exhaustive()
    }
}

impl LocalFuzzy {
    /// Stores of about `budget` bytes together.
    pub fn new(budget: u64) -> Self {
        let half = ((budget / 2) as usize / INDEX_ENTRY_BYTES).max(1);
        LocalFuzzy {
            known: Mutex::new(FuzzyIndex::new(half, 0)),
            recent: Mutex::new(FuzzyIndex::new(half, 0)),
        }
    }

    /// Approximate bytes held.
    pub fn used(&self) -> u64 {
        let bytes = |m: &Mutex<FuzzyIndex>| m.lock().map_or(0, |i| i.approx_bytes());
        (bytes(&self.known) + bytes(&self.recent)) as u64
    }

    /// Remembers a labelled spam fingerprint.
    pub fn remember_spam(&self, signature: &Signature) {
        if let Ok(mut known) = self.known.lock() {
            known.insert(signature.id(), signature.clone(), 0, now_ms());
        }
    }

    /// Forgets a fingerprint a moderator relabelled ham.
    pub fn forget_spam(&self, signature: &Signature) {
        if let Ok(mut known) = self.known.lock() {
            known.remove(signature.id());
        }
    }

    /// Compares `signature` with the labelled spam and the comments of the last `window`,
    /// then (with `record`) adds it to the recent ones, tagged with its site.
    pub fn check(
        &self,
        signature: &Signature,
        site: Option<&str>,
        window: Duration,
        record: bool,
    ) -> Option<FuzzyFindings> {
        let now = now_ms();
        let known = self.known.lock().ok()?.neighbours(signature, now);
        let mut recent = self.recent.lock().ok()?;
        recent.set_ttl(window.as_millis() as u64);
        let near = recent.neighbours(signature, now);
        let tag = site_tag(site);
        let mut sites = near.tags.iter().filter(|&&t| t != 0 && t != tag).count() as u64;
        sites += u64::from(tag != 0);
        if record {
            recent.insert(rand::random(), signature.clone(), tag, now);
        }
        Some(FuzzyFindings {
            known_similarity: known.nearest.map_or(0.0, |n| n.similarity),
            near_repeats: near.matches + 1,
            near_sites: sites,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPAM: &str = "I like the valuable info you provide in your articles. I will bookmark \
        your blog and check again here regularly. I am quite sure I will learn lots of new stuff \
        right here! Good luck for the next!";
    const SPUN: &str = "I like the valuable information you provide in your articles. I will \
        bookmark your weblog and check again here regularly. I am quite certain I will learn \
        lots of new stuff right here! Good luck for the next!";

    #[test]
    fn labelled_spam_is_found_by_a_variant_and_forgotten_on_ham() {
        let store = LocalFuzzy::new(1 << 20);
        let (spam, spun) = (Signature::of(SPAM).unwrap(), Signature::of(SPUN).unwrap());
        let window = Duration::from_secs(60);
        assert_eq!(
            store
                .check(&spun, None, window, false)
                .unwrap()
                .known_similarity,
            0.0
        );
        store.remember_spam(&spam);
        let found = store.check(&spun, None, window, false).unwrap();
        assert!(
            found.known_similarity >= crate::text::fuzzy::MATCH_THRESHOLD,
            "{found:?}"
        );
        store.forget_spam(&spam);
        assert_eq!(
            store
                .check(&spun, None, window, false)
                .unwrap()
                .known_similarity,
            0.0
        );
    }

    #[test]
    fn near_duplicates_count_across_sites_within_the_window() {
        let store = LocalFuzzy::new(1 << 20);
        let (spam, spun) = (Signature::of(SPAM).unwrap(), Signature::of(SPUN).unwrap());
        let window = Duration::from_secs(60);
        // (signature, site, repeats after it, sites after it, why)
        let steps = [
            (&spam, Some("a.example"), 1, 1, "first sighting"),
            (&spun, Some("b.example"), 2, 2, "a variant on another site"),
            (&spun, Some("b.example"), 3, 2, "again on the same site"),
            (&spam, None, 4, 2, "no site adds no site"),
        ];
        for (signature, site, repeats, sites, why) in steps {
            let found = store.check(signature, site, window, true).unwrap();
            assert_eq!(
                (found.near_repeats, found.near_sites),
                (repeats, sites),
                "{why}"
            );
        }
        let probe = store
            .check(&spam, Some("c.example"), window, false)
            .unwrap();
        assert_eq!(
            probe.near_repeats, 5,
            "a look-up without record leaves no trace"
        );
        assert_eq!(
            store
                .check(&spam, None, window, false)
                .unwrap()
                .near_repeats,
            5
        );
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(
            store
                .check(&spam, None, Duration::from_millis(1), false)
                .unwrap()
                .near_repeats,
            1,
            "older than the window"
        );
    }

    #[test]
    fn the_store_stays_within_its_budget() {
        let store = LocalFuzzy::new(20 * INDEX_ENTRY_BYTES as u64);
        for i in 0..100 {
            let text = format!("{i} one two three four five six seven eight {i}");
            store.check(
                &Signature::of(&text).unwrap(),
                None,
                Duration::from_secs(60),
                true,
            );
            store.remember_spam(&Signature::of(&format!("spam {text}")).unwrap());
        }
        assert!(
            store.used() <= 20 * INDEX_ENTRY_BYTES as u64,
            "{}",
            store.used()
        );
    }
}
