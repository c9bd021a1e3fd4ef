//! The verdict cache: a platform's retries and rechecks of the same comment get the same
//! answer, and `GET /v1/comments/{id}` finds the last verdict for a comment.
//!
//! [`VerdictCache`] is the seam: the in-process [`LocalCache`] (the embedded default needs
//! no Redis) and [`RedisCache`], shared by replicas; `redis.rs` is the only code that
//! imports `redis`.
//!
//! A comment's id is the platform's id *within its site* ([`CommentId::Platform`]): every
//! WordPress blog numbers its comments from 1, so the platform's id alone would let one
//! site's comment 42 replace another's. Verdict ids are random 128-bit and stay global.
//!
//! The in-process stores are bounded in bytes, not entries ([`MemoryBudget`]): a spammer
//! chooses the size of what the platform forwards.
//!
//! A key is the model version plus a 128-bit xxh3 fingerprint of every normalised field that
//! can change a verdict, so a new model never serves an old model's verdicts. The time a
//! form took to fill in is left out on purpose: a retry a minute later must not flip a
//! verdict because the clock moved.

mod budget;
mod fuzzy;
mod local;
mod redis;

pub use self::redis::{RedisCache, RedisReview, RedisSetupError};
pub use budget::{
    MemoryBudget, StoreMemory, DEFAULT_MEMORY_BUDGET_MB, REVIEW_MEMORY_PER_JSON_BYTE,
};
pub use fuzzy::{FuzzyFindings, KNOWN_SPAM_TTL, MAX_KNOWN_SHARED, MAX_RECENT_SHARED};
pub use local::LocalCache;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::Xxh3;

use crate::domain::{Assessment, Comment};
use crate::keys::normalize_site;
use crate::signals::{SignalCounts, SignalKeys};
use crate::text::canonicalize;
use crate::text::fuzzy::Signature;

/// Default time a cached verdict lives: a week, the window in which platforms recheck.
pub const DEFAULT_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// The scope of a platform's comment ids: the site as [`normalize_site`] spells it (or, for
/// a site that is no http(s) URL, trimmed and lower-cased, so two such sites stay apart);
/// the empty string for a comment without a site.
pub fn site_scope(site: Option<&str>) -> String {
    match site.map(str::trim).filter(|s| !s.is_empty()) {
        None => String::new(),
        Some(site) => normalize_site(site).unwrap_or_else(|| site.to_lowercase()),
    }
}

/// What a verdict is looked up by besides its content: a platform's comment id within a
/// site, or a verdict id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CommentId {
    /// The platform's id of a comment, within a site scope (see [`site_scope`]).
    Platform {
        /// The site scope; empty for comments without a site.
        site: String,
        /// The platform's id, as sent.
        id: String,
    },
    /// A verdict id (random 128-bit, so global). A look-up answers only the verdict that
    /// carries this id, never a later verdict stored under the same comment.
    Verdict(String),
}

impl CommentId {
    /// The platform's comment `id` on `site` (any spelling; it is scoped by [`site_scope`]).
    pub fn platform(site: Option<&str>, id: &str) -> Self {
        CommentId::Platform {
            site: site_scope(site),
            id: id.to_owned(),
        }
    }

    /// Whether `verdict` may be answered for this id: a verdict id must be its own.
    pub fn admits(&self, verdict: &CachedVerdict) -> bool {
        match self {
            CommentId::Platform { .. } => true,
            CommentId::Verdict(id) => verdict.verdict_id == *id,
        }
    }

    /// Approximate bytes this id takes in memory (the in-process index's weigher): the
    /// key's own `Arc` in the cache and its strings.
    fn approx_bytes(&self) -> usize {
        use budget::heap;
        heap(std::mem::size_of::<Self>() + 16)
            + match self {
                CommentId::Platform { site, id } => heap(site.len()) + heap(id.len()),
                CommentId::Verdict(id) => heap(id.len()),
            }
    }
}

/// Identifies a comment's verdict under one model version.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey(String);

impl CacheKey {
    /// The key for `comment` scored by model `model_version`.
    pub fn new(model_version: &str, comment: &Comment) -> Self {
        Self::with_canonical_content(model_version, comment, &canonicalize(&comment.content))
    }

    /// [`CacheKey::new`] when the caller already has `canonicalize(&comment.content)`.
    pub fn with_canonical_content(model_version: &str, comment: &Comment, content: &str) -> Self {
        let mut h = Xxh3::new();
        h.update(&(content.len() as u64).to_le_bytes());
        h.update(content.as_bytes());
        let mut field = |value: Option<&str>| {
            // A length prefix keeps ("ab", "c") and ("a", "bc") apart.
            let canonical = value.map(canonicalize).unwrap_or_default();
            h.update(&(canonical.len() as u64).to_le_bytes());
            h.update(canonical.as_bytes());
        };
        field(comment.author.as_deref());
        field(
            comment
                .author_email
                .as_deref()
                .map(str::to_lowercase)
                .as_deref(),
        );
        field(comment.author_url.as_deref());
        field(comment.user_ip.as_deref());
        field(comment.user_agent.as_deref());
        field(comment.referrer.as_deref());
        // The site too: the same text on another site is a new submission to judge (and to
        // count for the cross-site signals), not a recheck.
        field(comment.site.as_deref().map(str::to_lowercase).as_deref());
        // Only whether the honeypot was filled matters to a verdict, not what it says.
        field(Some(
            if comment
                .honeypot
                .as_deref()
                .is_some_and(|h| !h.trim().is_empty())
            {
                "1"
            } else {
                "0"
            },
        ));
        CacheKey(format!("{model_version}:{:032x}", h.digest128()))
    }

    /// The key as text (model version, colon, 32 hex digits).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What the cache stores: the verdict as answered, and the id it was answered with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CachedVerdict {
    /// The assessment as first answered.
    pub assessment: Assessment,
    /// The verdict id first answered.
    pub verdict_id: String,
    /// The comment as submitted, so a moderator can correct the verdict by its id alone.
    /// Personal data: it lives as long as the cache entry (`cache_ttl_secs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<Comment>,
}

/// How the cache is doing, for `/readyz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheHealth {
    /// Working.
    Ok,
    /// Failing; requests are scored without it.
    Degraded,
}

/// A store of verdicts by content key and by comment id. Implementations never fail a
/// request: an error is a miss.
pub trait VerdictCache: Send + Sync + 'static {
    /// The verdict stored under `key`, if any and not expired.
    fn get(&self, key: &CacheKey) -> impl Future<Output = Option<CachedVerdict>> + Send;
    /// Stores `verdict` under `key`, and under each id in `ids` (the platform's comment id in
    /// its site, the verdict id) for [`VerdictCache::get_by_id`].
    fn put(
        &self,
        key: CacheKey,
        ids: Vec<CommentId>,
        verdict: CachedVerdict,
    ) -> impl Future<Output = ()> + Send;
    /// The last verdict stored for a platform comment id in its site, or the verdict with a
    /// verdict id (see [`CommentId::admits`]).
    fn get_by_id(&self, id: &CommentId) -> impl Future<Output = Option<CachedVerdict>> + Send;
    /// Counts this comment into the cross-site and flood counters (content per `window`, IP
    /// per 15 s) and returns the counts; `None` when the counters cannot be reached.
    fn count(
        &self,
        keys: &SignalKeys,
        window: Duration,
    ) -> impl Future<Output = Option<SignalCounts>> + Send;
    /// The cached verdict for `key`, or on a miss the signal counts after counting this
    /// submission (a recheck is not counted). Implementations may do both in one round trip.
    fn lookup(
        &self,
        key: &CacheKey,
        signals: &SignalKeys,
        window: Duration,
    ) -> impl Future<Output = Lookup> + Send {
        async move {
            match self.get(key).await {
                Some(hit) => Lookup::Hit(hit),
                None => Lookup::Miss(self.count(signals, window).await),
            }
        }
    }
    /// Current health.
    fn health(&self) -> CacheHealth;
}

/// What [`VerdictCache::lookup`] found.
// A hit is the common case under rechecks; boxing it would add an allocation per request.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    /// A verdict already given for this comment.
    Hit(CachedVerdict),
    /// None; the signal counts after counting it (`None` when the counters are unreachable).
    Miss(Option<SignalCounts>),
}

/// The cache the service runs with: Redis when configured, else in-process.
// One per process, built at start and never moved on a hot path: boxing the larger variant
// would only add an indirection to every look-up.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Cache {
    /// In-process, for a single replica without Redis.
    Local(LocalCache),
    /// Shared through Redis.
    Redis(RedisCache),
}

impl Cache {
    /// Tells other replicas which model version is active (nothing to tell in-process).
    pub fn announce_model(&self, version: &str) {
        if let Cache::Redis(r) = self {
            r.announce_model(version);
        }
    }

    /// The in-process stores' budgets and use, for `/metrics` (none with Redis: it keeps
    /// verdicts, ids and counters itself).
    pub fn memory(&self) -> Vec<StoreMemory> {
        match self {
            Cache::Local(c) => c.memory(),
            Cache::Redis(_) => Vec::new(),
        }
    }

    /// Compares a comment's fuzzy `signature` with the labelled spam and with the comments
    /// of the last `window` (near-duplicates and their sites), and with `record` counts it
    /// among the recent ones; `None` when the store cannot be reached.
    pub async fn fuzzy_check(
        &self,
        signature: &Signature,
        site: Option<&str>,
        window: Duration,
        record: bool,
    ) -> Option<FuzzyFindings> {
        match self {
            Cache::Local(c) => c.fuzzy.check(signature, site, window, record),
            Cache::Redis(r) => r.fuzzy_check(signature, site, window, record).await,
        }
    }

    /// Remembers the fingerprint of a comment a moderator labelled spam, for every replica.
    pub fn remember_spam(&self, signature: &Signature) {
        match self {
            Cache::Local(c) => c.fuzzy.remember_spam(signature),
            Cache::Redis(r) => r.remember_spam(signature),
        }
    }

    /// Shares the fingerprints of the spam labels in force, as `read(keep)` gives the
    /// newest `keep` of them. In process they go straight into the store, once (a failed
    /// read is returned). Through Redis, in the background: at start, since labels imported
    /// while no service ran were never sent; and again whenever Redis has lost them (it
    /// keeps nothing on disk), for every replica, without waiting for one to restart.
    pub fn share_labelled_spam(&self, read: LabelledSpam) -> std::io::Result<()> {
        match self {
            Cache::Local(c) => {
                read(usize::MAX)?
                    .iter()
                    .for_each(|s| c.fuzzy.remember_spam(s));
                Ok(())
            }
            Cache::Redis(r) => {
                r.share_labelled_spam(read);
                Ok(())
            }
        }
    }

    /// Forgets it again when the comment is relabelled ham.
    pub fn forget_spam(&self, signature: &Signature) {
        match self {
            Cache::Local(c) => c.fuzzy.forget_spam(signature),
            Cache::Redis(r) => r.forget_spam(signature),
        }
    }

    /// Redis errors and timeouts since start (always 0 in-process).
    pub fn errors(&self) -> u64 {
        match self {
            Cache::Local(_) => 0,
            Cache::Redis(r) => r.errors(),
        }
    }
}

/// Reads the fingerprints of the newest `keep` spam labels in force (see
/// [`Cache::share_labelled_spam`]). Blocks.
pub type LabelledSpam = Arc<dyn Fn(usize) -> std::io::Result<Vec<Signature>> + Send + Sync>;

impl VerdictCache for Cache {
    async fn get(&self, key: &CacheKey) -> Option<CachedVerdict> {
        match self {
            Cache::Local(c) => c.get(key).await,
            Cache::Redis(c) => c.get(key).await,
        }
    }

    async fn put(&self, key: CacheKey, ids: Vec<CommentId>, verdict: CachedVerdict) {
        match self {
            Cache::Local(c) => c.put(key, ids, verdict).await,
            Cache::Redis(c) => c.put(key, ids, verdict).await,
        }
    }

    async fn get_by_id(&self, id: &CommentId) -> Option<CachedVerdict> {
        match self {
            Cache::Local(c) => c.get_by_id(id).await,
            Cache::Redis(c) => c.get_by_id(id).await,
        }
    }

    async fn count(&self, keys: &SignalKeys, window: Duration) -> Option<SignalCounts> {
        match self {
            Cache::Local(c) => c.count(keys, window).await,
            Cache::Redis(c) => c.count(keys, window).await,
        }
    }

    async fn lookup(&self, key: &CacheKey, signals: &SignalKeys, window: Duration) -> Lookup {
        match self {
            Cache::Local(c) => c.lookup(key, signals, window).await,
            Cache::Redis(c) => c.lookup(key, signals, window).await,
        }
    }

    fn health(&self) -> CacheHealth {
        match self {
            Cache::Local(c) => c.health(),
            Cache::Redis(c) => c.health(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comment(content: &str) -> Comment {
        Comment {
            content: content.into(),
            ..Default::default()
        }
    }

    #[test]
    fn keys_see_through_invisible_characters_and_width() {
        assert_eq!(
            CacheKey::new("m1", &comment("sub\u{200B}scribe")),
            CacheKey::new("m1", &comment("subscribe"))
        );
        assert_eq!(
            CacheKey::new("m1", &comment("ｓｐａｍ")),
            CacheKey::new("m1", &comment("spam"))
        );
    }

    #[test]
    fn keys_differ_by_model_and_by_each_field() {
        let base = Comment {
            content: "hi".into(),
            author: Some("ann".into()),
            ..Default::default()
        };
        let key = CacheKey::new("m1", &base);
        assert_ne!(key, CacheKey::new("m2", &base), "a new model must miss");
        let variants = [
            Comment {
                author: Some("bob".into()),
                ..base.clone()
            },
            Comment {
                author: None,
                content: "hiann".into(),
                ..base.clone()
            },
            Comment {
                user_ip: Some("192.0.2.1".into()),
                ..base.clone()
            },
            Comment {
                honeypot: Some("x".into()),
                ..base.clone()
            },
        ];
        for v in variants {
            assert_ne!(key, CacheKey::new("m1", &v), "{v:?}");
        }
        assert_eq!(
            key,
            CacheKey::new(
                "m1",
                &Comment {
                    form_rendered_at: Some(time::OffsetDateTime::UNIX_EPOCH),
                    ..base
                }
            )
        );
    }
}
