//! The in-process cache, for a single process without Redis: every store bounded in bytes
//! (see [`super::budget`]), with expiry, and eviction one entry at a time, never all at once.
//!
//! Three `moka` caches, each weighed in approximate bytes:
//! - verdicts by content key, each stored once (the comment with it: the bulk of the bytes);
//! - ids (a platform id in its site, a verdict id), each pointing at a content key, so a
//!   verdict is not copied per id;
//! - the repeat, cross-site and flood counters, each living for its own window.
//!
//! Verdicts and ids go least recently used first: the verdict a platform rechecks or a
//! moderator looks up is a recent one. Counters use moka's default (TinyLFU): a content or
//! an IP seen often, what the signals are about, outlives a flood of one-off comments, and a
//! new key is admitted once it is seen more often than the entry it would replace.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use moka::policy::{EvictionPolicy, Expiry};
use moka::sync::Cache as Moka;

use super::budget::{heap, verdict_bytes, weight, MemoryBudget, StoreMemory, CACHE_ENTRY_OVERHEAD};
use super::fuzzy::LocalFuzzy;
use super::{CacheHealth, CacheKey, CachedVerdict, CommentId, VerdictCache};
use crate::signals::{SignalCounts, SignalKeys, FLOOD_WINDOW_SECS};

/// Most distinct sites counted per content: enough for any cross-site threshold, and the
/// set (and its entry's weight) stays small when one text is sent for many sites.
pub const MAX_SITES_COUNTED: usize = 64;

/// A verdict cache in process memory, bounded in bytes.
pub struct LocalCache {
    budget: MemoryBudget,
    verdicts: Moka<Arc<str>, Arc<CachedVerdict>>,
    ids: Moka<CommentId, Arc<str>>,
    counters: Moka<String, Counter>,
    /// Fuzzy fingerprints of labelled spam and recent comments.
    pub(super) fuzzy: LocalFuzzy,
}

impl std::fmt::Debug for LocalCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalCache")
            .field("budget", &self.budget)
            .field("verdicts", &self.verdicts.entry_count())
            .field("ids", &self.ids.entry_count())
            .field("counters", &self.counters.entry_count())
            .finish()
    }
}

/// One counter and how long it counts (from its first count).
#[derive(Clone)]
struct Counter {
    life: Duration,
    state: Arc<CounterState>,
}

enum CounterState {
    /// Submissions of a content, or from an IP.
    Count(AtomicU64),
    /// Sites a content was sent for, at most [`MAX_SITES_COUNTED`].
    Sites(Mutex<HashSet<String>>),
}

impl Counter {
    fn bytes(&self, key: &str) -> usize {
        let own = match &*self.state {
            CounterState::Count(_) => 0,
            CounterState::Sites(sites) => {
                let sites = sites.lock().unwrap_or_else(|e| e.into_inner());
                // The hash table: a slot per bucket plus a control byte, at 7/8 load.
                let buckets = (sites.len() * 8 / 7 + 1).next_power_of_two().max(4);
                heap(buckets * (std::mem::size_of::<String>() + 1) + 16)
                    + sites.iter().map(|s| heap(s.len())).sum::<usize>()
            }
        };
        CACHE_ENTRY_OVERHEAD
            + heap(std::mem::size_of::<String>() + 16)
            + heap(key.len())
            + heap(std::mem::size_of::<CounterState>() + 16)
            + own
    }
}

/// A counter expires its own window after it was created (an update does not extend it).
struct CounterLife;

impl Expiry<String, Counter> for CounterLife {
    fn expire_after_create(&self, _: &String, counter: &Counter, _: Instant) -> Option<Duration> {
        Some(counter.life)
    }
}

impl LocalCache {
    /// A cache whose verdicts and ids live `ttl`, within `budget`'s verdict, id and counter
    /// shares.
    pub fn new(ttl: Duration, budget: MemoryBudget) -> Self {
        let verdicts = Moka::builder()
            .max_capacity(budget.verdicts)
            .weigher(|key: &Arc<str>, v: &Arc<CachedVerdict>| {
                weight(CACHE_ENTRY_OVERHEAD + heap(key.len() + 16) + verdict_bytes(v))
            })
            .time_to_live(ttl)
            .eviction_policy(EvictionPolicy::lru())
            .build();
        let ids = Moka::builder()
            .max_capacity(budget.ids)
            .weigher(|id: &CommentId, _: &Arc<str>| {
                weight(CACHE_ENTRY_OVERHEAD + id.approx_bytes())
            })
            .time_to_live(ttl)
            .eviction_policy(EvictionPolicy::lru())
            .build();
        let counters = Moka::builder()
            .max_capacity(budget.counters)
            .weigher(|key: &String, c: &Counter| weight(c.bytes(key)))
            .expire_after(CounterLife)
            .build();
        LocalCache {
            budget,
            verdicts,
            ids,
            counters,
            fuzzy: LocalFuzzy::new(budget.fuzzy),
        }
    }

    /// Each store's budget and approximate use, after applying pending evictions.
    pub fn memory(&self) -> Vec<StoreMemory> {
        self.verdicts.run_pending_tasks();
        self.ids.run_pending_tasks();
        self.counters.run_pending_tasks();
        vec![
            StoreMemory {
                store: "verdicts",
                budget: self.budget.verdicts,
                used: self.verdicts.weighted_size(),
            },
            StoreMemory {
                store: "ids",
                budget: self.budget.ids,
                used: self.ids.weighted_size(),
            },
            StoreMemory {
                store: "counters",
                budget: self.budget.counters,
                used: self.counters.weighted_size(),
            },
            StoreMemory {
                store: "fuzzy",
                budget: self.budget.fuzzy,
                used: self.fuzzy.used(),
            },
        ]
    }

    /// Adds one to the count under `key`, which counts for `life` from its first count.
    fn bump(&self, key: String, life: Duration) -> u64 {
        let counter = self.counters.get_with(key, || Counter {
            life,
            state: Arc::new(CounterState::Count(AtomicU64::new(0))),
        });
        match &*counter.state {
            CounterState::Count(n) => n.fetch_add(1, Ordering::Relaxed) + 1,
            CounterState::Sites(_) => 0,
        }
    }

    /// Adds `site` to the sites of a content (`key`) and returns how many it has.
    fn add_site(&self, key: String, site: Option<&str>, life: Duration) -> u64 {
        let counter = self.counters.get_with(key.clone(), || Counter {
            life,
            state: Arc::new(CounterState::Sites(Mutex::new(HashSet::new()))),
        });
        let CounterState::Sites(sites) = &*counter.state else {
            return 0;
        };
        let (count, grew) = {
            let mut sites = sites.lock().unwrap_or_else(|e| e.into_inner());
            let grew = match site {
                Some(site) if sites.len() < MAX_SITES_COUNTED => sites.insert(site.to_owned()),
                _ => false,
            };
            (sites.len() as u64, grew)
        };
        if grew {
            // Inserted again so that the entry is weighed with its new site.
            self.counters.insert(key, counter);
        }
        count
    }
}

impl VerdictCache for LocalCache {
    async fn get(&self, key: &CacheKey) -> Option<CachedVerdict> {
        self.verdicts.get(key.as_str()).map(|v| (*v).clone())
    }

    async fn put(&self, key: CacheKey, ids: Vec<CommentId>, verdict: CachedVerdict) {
        let key: Arc<str> = Arc::from(key.as_str());
        // A recheck re-puts the verdict already stored: keep that one (and its expiry).
        let same = self
            .verdicts
            .get(&*key)
            .is_some_and(|stored| stored.verdict_id == verdict.verdict_id);
        if !same {
            self.verdicts.insert(key.clone(), Arc::new(verdict));
        }
        for id in ids {
            self.ids.insert(id, key.clone());
        }
    }

    async fn get_by_id(&self, id: &CommentId) -> Option<CachedVerdict> {
        let key = self.ids.get(id)?;
        let verdict = self.verdicts.get(&*key)?;
        id.admits(&verdict).then(|| (*verdict).clone())
    }

    async fn count(&self, keys: &SignalKeys, window: Duration) -> Option<SignalCounts> {
        let repeats = self.bump(format!("fp:{}", keys.content), window);
        let ip_recent = match &keys.ip {
            Some(ip) => self.bump(format!("ip:{ip}"), Duration::from_secs(FLOOD_WINDOW_SECS)),
            None => 0,
        };
        let sites = self.add_site(format!("s:{}", keys.content), keys.site.as_deref(), window);
        Some(SignalCounts {
            repeats,
            sites,
            ip_recent,
        })
    }

    fn health(&self) -> CacheHealth {
        CacheHealth::Ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Assessment, Comment, Verdict};

    fn verdict(id: &str, content_bytes: usize) -> CachedVerdict {
        CachedVerdict {
            comment: Some(Comment {
                content: "x".repeat(content_bytes),
                ..Default::default()
            }),
            assessment: Assessment {
                verdict: Verdict::Approve,
                spam_probability: 0.1,
                reasons: vec![],
                tokens: vec![],
                model_version: "m".into(),
            },
            verdict_id: id.into(),
        }
    }

    fn key(text: &str) -> CacheKey {
        CacheKey::new(
            "m",
            &Comment {
                content: text.into(),
                ..Default::default()
            },
        )
    }

    fn platform(site: &str, id: &str) -> CommentId {
        CommentId::platform(Some(site), id)
    }

    /// A budget of `mb` MiB for every store.
    fn budget(bytes: u64) -> MemoryBudget {
        MemoryBudget {
            verdicts: bytes,
            ids: bytes,
            counters: bytes,
            review: bytes,
            fuzzy: bytes,
        }
    }

    fn signal_keys(content: &str, ip: Option<&str>, site: Option<&str>) -> SignalKeys {
        SignalKeys {
            content: content.into(),
            ip: ip.map(Into::into),
            site: site.map(Into::into),
        }
    }

    #[tokio::test]
    async fn stores_by_key_and_by_id_in_its_site() {
        let cache = LocalCache::new(Duration::from_secs(60), MemoryBudget::default());
        let ids = vec![
            platform("https://a.example", "42"),
            CommentId::Verdict("v1".into()),
        ];
        cache.put(key("a"), ids, verdict("v1", 10)).await;
        let id_of = |v: Option<CachedVerdict>| v.map(|v| v.verdict_id);
        assert_eq!(id_of(cache.get(&key("a")).await), Some("v1".into()));
        for (name, id, want) in [
            (
                "its own site, spelt differently",
                platform("HTTPS://A.example/", "42"),
                Some("v1"),
            ),
            (
                "the verdict id",
                CommentId::Verdict("v1".into()),
                Some("v1"),
            ),
            (
                "another site's comment 42",
                platform("https://b.example", "42"),
                None,
            ),
            ("no site", CommentId::platform(None, "42"), None),
            (
                "a platform id is no verdict id",
                CommentId::Verdict("42".into()),
                None,
            ),
            ("unknown", CommentId::Verdict("nope".into()), None),
        ] {
            assert_eq!(id_of(cache.get_by_id(&id).await).as_deref(), want, "{name}");
        }
        assert!(cache.get(&key("b")).await.is_none());
    }

    #[tokio::test]
    async fn a_verdict_id_answers_only_its_own_verdict() {
        // The same comment scored again after its verdict expired gets a new verdict under
        // the same key: the old verdict id must not answer the new verdict.
        let cache = LocalCache::new(Duration::from_secs(60), MemoryBudget::default());
        let old = CommentId::Verdict("v1".into());
        cache
            .put(key("a"), vec![old.clone()], verdict("v1", 10))
            .await;
        cache
            .put(
                key("a"),
                vec![CommentId::Verdict("v2".into())],
                verdict("v2", 10),
            )
            .await;
        assert!(cache.get_by_id(&old).await.is_none());
    }

    #[tokio::test]
    async fn entries_expire() {
        let cache = LocalCache::new(Duration::from_millis(30), MemoryBudget::default());
        cache
            .put(
                key("a"),
                vec![CommentId::Verdict("v1".into())],
                verdict("v1", 10),
            )
            .await;
        assert!(cache.get(&key("a")).await.is_some());
        std::thread::sleep(Duration::from_millis(60));
        assert!(cache.get(&key("a")).await.is_none());
        assert!(cache
            .get_by_id(&CommentId::Verdict("v1".into()))
            .await
            .is_none());
    }

    #[tokio::test]
    async fn large_comments_stay_within_the_byte_budget_and_go_oldest_first() {
        const BUDGET: u64 = 1024 * 1024;
        let cache = LocalCache::new(Duration::from_secs(60), budget(BUDGET));
        // 100 comments of 60 KB: about six times the budget.
        for i in 0..100 {
            let ids = vec![platform("https://a.example", &i.to_string())];
            cache
                .put(key(&i.to_string()), ids, verdict(&i.to_string(), 60_000))
                .await;
        }
        let used = |cache: &LocalCache| -> Vec<(&'static str, u64)> {
            cache.memory().iter().map(|m| (m.store, m.used)).collect()
        };
        for (store, bytes) in used(&cache) {
            assert!(
                bytes <= BUDGET,
                "{store}: {bytes} bytes over a budget of {BUDGET}"
            );
        }
        let kept = cache.verdicts.entry_count();
        assert!(
            (10..=17).contains(&kept),
            "about 16 of 60 KB fit in 1 MiB, kept {kept}"
        );
        assert!(cache.get(&key("99")).await.is_some(), "the newest stays");
        assert!(cache.get(&key("0")).await.is_none(), "the oldest went");
        assert!(
            cache
                .get_by_id(&platform("https://a.example", "99"))
                .await
                .is_some(),
            "the newest is found by its id"
        );
    }

    #[tokio::test]
    async fn the_id_index_is_bounded_and_evicts_one_entry_at_a_time() {
        // Room for about 500 ids (each about 500 bytes with the cache's bookkeeping).
        const BUDGET: u64 = 256 * 1024;
        let cache = LocalCache::new(Duration::from_secs(60), budget(BUDGET));
        cache.put(key("kept"), vec![], verdict("v", 10)).await;
        let mut least = u64::MAX;
        for i in 0..5_000 {
            let ids = vec![platform("https://a.example", &format!("comment-{i}"))];
            cache.put(key("kept"), ids, verdict("v", 10)).await;
            if i % 100 == 99 {
                cache.ids.run_pending_tasks();
                least = least.min(cache.ids.entry_count());
            }
        }
        cache.ids.run_pending_tasks();
        assert!(cache.ids.weighted_size() <= BUDGET);
        assert!(
            least >= 100,
            "the index never emptied: at least {least} ids at every check"
        );
        assert!(cache
            .get_by_id(&platform("https://a.example", "comment-4999"))
            .await
            .is_some());
    }

    #[tokio::test]
    async fn counters_of_repeated_content_survive_a_flood_of_one_offs() {
        // Room for about 500 counters; 20,000 distinct comments (each with three counters)
        // go through while one spam text and one IP keep coming back.
        const BUDGET: u64 = 256 * 1024;
        let cache = LocalCache::new(Duration::from_secs(60), budget(BUDGET));
        let window = Duration::from_secs(60);
        let mut seen = Vec::new();
        for i in 0..20_000 {
            let ip = format!("10.0.{}.{}", i / 250, i % 250);
            let one_off = signal_keys(
                &format!("one-off-{i}"),
                Some(&ip),
                Some("https://a.example"),
            );
            cache.count(&one_off, window).await;
            if i % 200 == 0 {
                let site = format!("https://s{}.example", i / 200 % 5);
                let spam = signal_keys("spam", Some("192.0.2.9"), Some(&site));
                seen.push(cache.count(&spam, window).await.unwrap());
            }
        }
        // Admission may turn away a key's first counts while it is rare (moka admits a new
        // key once it is seen more often than the entry it would replace); once counted, a
        // repeated key is never reset by the one-offs.
        let settled = &seen[10..];
        for pair in settled.windows(2) {
            assert_eq!(pair[1].repeats, pair[0].repeats + 1, "{:?}", pair);
            assert_eq!(pair[1].ip_recent, pair[0].ip_recent + 1, "{:?}", pair);
        }
        let last = seen.last().unwrap();
        assert!(
            last.repeats >= 90 && last.ip_recent >= 90,
            "{last:?} of 100"
        );
        assert_eq!(last.sites, 5);
        cache.counters.run_pending_tasks();
        assert!(cache.counters.weighted_size() <= BUDGET);
        assert!(
            cache.counters.entry_count() > 100,
            "one-offs are kept too while there is room"
        );
    }

    #[tokio::test]
    async fn counters_expire_with_their_own_window() {
        let cache = LocalCache::new(Duration::from_secs(60), MemoryBudget::default());
        let keys = signal_keys("text", None, Some("https://a.example"));
        cache.count(&keys, Duration::from_millis(30)).await;
        let again = cache.count(&keys, Duration::from_millis(30)).await.unwrap();
        assert_eq!((again.repeats, again.sites), (2, 1));
        std::thread::sleep(Duration::from_millis(60));
        let after = cache.count(&keys, Duration::from_millis(30)).await.unwrap();
        assert_eq!(
            (after.repeats, after.sites),
            (1, 1),
            "a new window starts from one"
        );
    }

    #[tokio::test]
    async fn the_sites_of_one_text_are_counted_up_to_a_cap() {
        let cache = LocalCache::new(Duration::from_secs(60), MemoryBudget::default());
        let mut sites = 0;
        for i in 0..200 {
            let keys = signal_keys("text", None, Some(&format!("https://s{i}.example")));
            sites = cache
                .count(&keys, Duration::from_secs(60))
                .await
                .unwrap()
                .sites;
        }
        assert_eq!(sites, MAX_SITES_COUNTED as u64);
    }
}
