//! The in-process cache: bounded, with expiry, for a single process without Redis.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{CacheHealth, CacheKey, CachedVerdict, VerdictCache};
use crate::signals::{SignalCounts, SignalKeys, FLOOD_WINDOW_SECS};

/// A bounded in-memory verdict cache. When full, the oldest entries go first.
#[derive(Debug)]
pub struct LocalCache {
    ttl: Duration,
    capacity: usize,
    inner: Mutex<Inner>,
    counters: Mutex<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    counts: HashMap<String, (u64, Instant)>,
    sites: HashMap<String, (HashSet<String>, Instant)>,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<String, (CachedVerdict, Instant)>,
    /// Insertion order with each insertion's expiry, for eviction. A key re-inserted later
    /// appears again; its older mention no longer matches the stored expiry and is skipped.
    order: VecDeque<(String, Instant)>,
}

impl LocalCache {
    /// A cache keeping at most `capacity` entries (keys and ids together) for `ttl` each.
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        LocalCache {
            ttl,
            capacity: capacity.max(1),
            inner: Mutex::new(Inner::default()),
            counters: Mutex::new(Counters::default()),
        }
    }

    fn lookup(&self, key: &str) -> Option<CachedVerdict> {
        // A poisoned lock only means another request panicked mid-insert; the map is still
        // a valid map, so keep serving from it.
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        match inner.entries.get(key) {
            Some((value, expires)) if *expires > Instant::now() => Some(value.clone()),
            Some(_) => {
                inner.entries.remove(key);
                None
            }
            None => None,
        }
    }

    fn insert(&self, keys: impl IntoIterator<Item = String>, value: &CachedVerdict) {
        let expires = Instant::now() + self.ttl;
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        for key in keys {
            inner.order.push_back((key.clone(), expires));
            inner.entries.insert(key, (value.clone(), expires));
        }
        // Evict the oldest live entries past capacity, and drop stale mentions from the front
        // so the order queue stays proportional to the map.
        while inner.entries.len() > self.capacity || inner.order.len() > 2 * self.capacity {
            let Some((oldest, at)) = inner.order.pop_front() else {
                break;
            };
            let live = inner.entries.get(&oldest).is_some_and(|(_, e)| *e == at);
            if live && inner.entries.len() > self.capacity {
                inner.entries.remove(&oldest);
            } else if live {
                // Still wanted: put it back and stop, the queue is short enough now.
                inner.order.push_front((oldest, at));
                break;
            }
        }
    }
}

impl VerdictCache for LocalCache {
    async fn get(&self, key: &CacheKey) -> Option<CachedVerdict> {
        self.lookup(&format!("k:{}", key.as_str()))
    }

    async fn put(&self, key: CacheKey, ids: Vec<String>, verdict: CachedVerdict) {
        let keys = std::iter::once(format!("k:{}", key.as_str()))
            .chain(ids.into_iter().map(|id| format!("i:{id}")));
        self.insert(keys, &verdict);
    }

    async fn get_by_id(&self, id: &str) -> Option<CachedVerdict> {
        self.lookup(&format!("i:{id}"))
    }

    async fn count(&self, keys: &SignalKeys, window: Duration) -> Option<SignalCounts> {
        let now = Instant::now();
        let mut c = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        // Counters are best-effort: past capacity, expired ones go, and if that is not
        // enough, all of them (a local process has no network view to protect anyway).
        if c.counts.len() + c.sites.len() > self.capacity {
            c.counts.retain(|_, (_, until)| *until > now);
            c.sites.retain(|_, (_, until)| *until > now);
            if c.counts.len() + c.sites.len() > self.capacity {
                *c = Counters::default();
            }
        }
        let mut bump = |key: String, life: Duration| {
            let entry = c.counts.entry(key).or_insert((0, now + life));
            if entry.1 <= now {
                *entry = (0, now + life);
            }
            entry.0 += 1;
            entry.0
        };
        let repeats = bump(format!("fp:{}", keys.content), window);
        let ip_recent = match &keys.ip {
            Some(ip) => bump(format!("ip:{ip}"), Duration::from_secs(FLOOD_WINDOW_SECS)),
            None => 0,
        };
        let sites = {
            let entry = c
                .sites
                .entry(keys.content.clone())
                .or_insert_with(|| (HashSet::new(), now + window));
            if entry.1 <= now {
                *entry = (HashSet::new(), now + window);
            }
            if let Some(site) = &keys.site {
                entry.0.insert(site.clone());
            }
            entry.0.len() as u64
        };
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

    fn verdict(id: &str) -> CachedVerdict {
        CachedVerdict {
            comment: None,
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

    #[tokio::test]
    async fn stores_by_key_and_by_id() {
        let cache = LocalCache::new(Duration::from_secs(60), 10);
        cache
            .put(key("a"), vec!["post-1".into(), "v1".into()], verdict("v1"))
            .await;
        assert_eq!(
            cache.get(&key("a")).await.map(|v| v.verdict_id),
            Some("v1".into())
        );
        assert_eq!(
            cache.get_by_id("post-1").await.map(|v| v.verdict_id),
            Some("v1".into())
        );
        assert_eq!(
            cache.get_by_id("v1").await.map(|v| v.verdict_id),
            Some("v1".into())
        );
        assert!(cache.get(&key("b")).await.is_none());
        assert!(cache.get_by_id("nope").await.is_none());
    }

    #[tokio::test]
    async fn entries_expire() {
        let cache = LocalCache::new(Duration::from_millis(30), 10);
        cache.put(key("a"), vec![], verdict("v1")).await;
        assert!(cache.get(&key("a")).await.is_some());
        std::thread::sleep(Duration::from_millis(60));
        assert!(cache.get(&key("a")).await.is_none());
    }

    #[tokio::test]
    async fn capacity_is_a_bound_and_the_oldest_go_first() {
        let cache = LocalCache::new(Duration::from_secs(60), 5);
        for i in 0..20 {
            cache
                .put(key(&i.to_string()), vec![], verdict(&i.to_string()))
                .await;
            // Re-inserting a key must not let the queue grow without bound.
            cache.put(key("0"), vec![], verdict("0")).await;
        }
        let (entries, order) = {
            let inner = cache.inner.lock().unwrap();
            (inner.entries.len(), inner.order.len())
        };
        assert!(entries <= 5, "{entries}");
        assert!(order <= 10, "{order}");
        assert!(cache.get(&key("19")).await.is_some(), "the newest stays");
        assert!(cache.get(&key("1")).await.is_none(), "an old one went");
    }
}
