//! The Redis verdict cache: shared by replicas, bounded in time, never fatal.
//!
//! With `ConnectionManager` defaults a dead Redis makes every command wait about half a
//! second in a reconnect cycle before failing. Here every call is cut off after `timeout`
//! (25 ms by default) and counts as a miss; after `FAILURES_TO_OPEN` failures in a row the
//! breaker opens and Redis is not asked at all until a background probe gets an answer
//! again. The connection, its reconnects, the probe and the writes live on a small runtime
//! of the cache's own (the manager spawns reconnects where it was created), so nothing
//! depends on an HTTP worker's runtime; reads are awaited directly by the request (a
//! channel send and a reply, no thread hop), writes are handed over and not awaited.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster_async::ClusterConnection;
use redis::AsyncCommands;
use tokio::runtime::{Handle, Runtime};

use super::fuzzy::{
    now_ms, site_tag, FuzzyFindings, KNOWN_SPAM_TTL, MAX_KNOWN_SHARED, MAX_RECENT_SHARED,
};
use super::{CacheHealth, CacheKey, CachedVerdict, CommentId, LabelledSpam, Lookup, VerdictCache};
use crate::review::{HistoryError, ItemsFuture, ReviewItem, ReviewStore, MAX_BYTES, MAX_ITEMS};
use crate::signals::{SignalCounts, SignalKeys, FLOOD_WINDOW_SECS};
use crate::text::fuzzy::{Signature, BUCKET_CAP, HASHES, MATCH_THRESHOLD};

/// Look-up and, on a miss only, the signal counters, in one round trip (a recheck must not
/// count as a repeat, and a miss should not wait for two answers).
/// KEYS: verdict, content count, content sites, IP count (optional).
/// ARGV: window seconds, site ('' for none), flood window seconds, '1' to count without
/// looking up.
/// Returns {1, verdict} on a hit, {0, repeats, sites, ip count} on a miss.
const LOOKUP_SCRIPT: &str = r#"
if ARGV[4] ~= '1' then
  local v = redis.call('GET', KEYS[1])
  if v then return {1, v} end
end
local n = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[1], 'NX')
if ARGV[2] ~= '' then redis.call('SADD', KEYS[3], ARGV[2]) end
redis.call('EXPIRE', KEYS[3], ARGV[1], 'NX')
local s = redis.call('SCARD', KEYS[3])
local ip = 0
if KEYS[4] then
  ip = redis.call('INCR', KEYS[4])
  redis.call('EXPIRE', KEYS[4], ARGV[3], 'NX')
end
return {0, n, s, ip}
"#;

/// [`LOOKUP_SCRIPT`]'s counting of one content, alone (Redis Cluster: its two keys share the
/// content's hash tag). KEYS: content count, content sites. ARGV: window seconds, site.
const CONTENT_COUNT_SCRIPT: &str = r#"
local n = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1], 'NX')
if ARGV[2] ~= '' then redis.call('SADD', KEYS[2], ARGV[2]) end
redis.call('EXPIRE', KEYS[2], ARGV[1], 'NX')
return {n, redis.call('SCARD', KEYS[2])}
"#;

/// [`LOOKUP_SCRIPT`]'s IP counter, alone. KEYS: IP count. ARGV: flood window seconds.
const IP_COUNT_SCRIPT: &str = r#"
local n = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1], 'NX')
return n
"#;

/// How often a replica re-reads the active model key besides pub/sub.
pub const MODEL_RECHECK: Duration = Duration::from_secs(1);
/// Consecutive failures that open the breaker.
const FAILURES_TO_OPEN: u32 = 3;
/// How often the background probe pings a Redis the breaker has given up on.
const PROBE_EVERY: Duration = Duration::from_millis(200);

/// Why the Redis cache could not be set up (a bad URL; an unreachable server is not an error).
#[derive(Debug, thiserror::Error)]
pub enum RedisSetupError {
    /// The URL does not parse.
    #[error("redis url: {0}")]
    Url(String),
    /// The cache's runtime could not start.
    #[error("cannot start the cache runtime: {0}")]
    Runtime(std::io::Error),
}

/// One Redis or a Redis Cluster, behind one connection type.
#[derive(Clone)]
enum Conn {
    /// One node, reconnecting by itself.
    Single(ConnectionManager),
    /// A cluster: each command goes to the node of its keys' slot.
    Cluster(ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(
        &'a mut self,
        cmd: &'a redis::Cmd,
    ) -> redis::RedisFuture<'a, redis::Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

struct Shared {
    manager: Conn,
    /// Redis Cluster: multi-slot look-ups and writes are split per slot.
    cluster: bool,
    prefix: String,
    ttl: Duration,
    timeout: Duration,
    failures: AtomicU32,
    open: AtomicBool,
    errors: AtomicU64,
}

/// Verdicts in Redis, with bounded calls and a circuit breaker.
pub struct RedisCache {
    shared: Arc<Shared>,
    client: redis::Client,
    /// Highest model announcement generation this replica has made or followed: older
    /// announcements (a stale key read, a late message) are ignored.
    model_generation: Arc<AtomicU64>,
    handle: Handle,
    /// The cache's runtime; shut down without blocking when the cache goes (dropping a
    /// runtime from inside another one's async context would panic).
    runtime: Option<Runtime>,
}

impl Drop for RedisCache {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl std::fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCache")
            .field("prefix", &self.shared.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisCache {
    /// Connects lazily to `url` (with `cluster`, a comma-separated list of seed nodes of a
    /// Redis Cluster): a Redis that is down now only makes the cache degraded.
    pub fn new(
        url: &str,
        cluster: bool,
        prefix: &str,
        ttl: Duration,
        timeout: Duration,
    ) -> Result<Self, RedisSetupError> {
        let urls: Vec<&str> = url
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .collect();
        if urls.len() > 1 && !cluster {
            return Err(RedisSetupError::Url(
                "several URLs are the seed nodes of a Redis Cluster: set COMMENTGUARD_REDIS_CLUSTER=true".into(),
            ));
        }
        let first = urls.first().copied().unwrap_or_default();
        // Pub/sub goes to one node: a cluster forwards every message to all of them.
        let client = redis::Client::open(first).map_err(|e| RedisSetupError::Url(e.to_string()))?;
        let pubsub_client = client.clone();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("commentguard-redis")
            .enable_all()
            .build()
            .map_err(RedisSetupError::Runtime)?;
        let manager = if cluster {
            let nodes = redis::cluster::ClusterClient::builder(urls)
                .connection_timeout(timeout * 4)
                .response_timeout(timeout)
                .retries(1)
                .build()
                .map_err(|e| RedisSetupError::Url(e.to_string()))?;
            let _inside = runtime.enter();
            Conn::Cluster(
                nodes.get_pending_async_connection_with_config(
                    redis::cluster::ClusterConfig::new()
                        .set_connection_timeout(timeout * 4)
                        .set_response_timeout(timeout),
                ),
            )
        } else {
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(timeout * 4))
                .set_response_timeout(Some(timeout))
                .set_number_of_retries(1)
                .set_min_delay(Duration::from_millis(10))
                .set_max_delay(Duration::from_millis(100));
            let _inside = runtime.enter();
            Conn::Single(
                ConnectionManager::new_lazy_with_config(client, config)
                    .map_err(|e| RedisSetupError::Url(e.to_string()))?,
            )
        };
        let shared = Arc::new(Shared {
            manager,
            cluster,
            prefix: prefix.to_string(),
            ttl,
            timeout,
            failures: AtomicU32::new(0),
            open: AtomicBool::new(false),
            errors: AtomicU64::new(0),
        });
        // Connect now, from the cache's runtime, so the connection's driver task lives there.
        let first = shared.clone();
        runtime.spawn(async move {
            let mut manager = first.manager.clone();
            let _ = redis::cmd("PING").query_async::<String>(&mut manager).await;
        });
        runtime.spawn(probe(shared.clone()));
        Ok(RedisCache {
            handle: runtime.handle().clone(),
            shared,
            client: pubsub_client,
            model_generation: Arc::new(AtomicU64::new(0)),
            runtime: Some(runtime),
        })
    }

    /// Redis errors and timeouts since start.
    pub fn errors(&self) -> u64 {
        self.shared.errors.load(Ordering::Relaxed)
    }

    /// Runs `op` within the timeout; `None` on error, timeout or an open breaker.
    async fn call<T, F>(&self, op: impl FnOnce(Conn) -> F) -> Option<T>
    where
        F: std::future::Future<Output = redis::RedisResult<T>> + Send,
    {
        if self.shared.open.load(Ordering::Relaxed) {
            return None;
        }
        match tokio::time::timeout(self.shared.timeout, op(self.shared.manager.clone())).await {
            Ok(Ok(value)) => {
                self.shared.failures.store(0, Ordering::Relaxed);
                Some(value)
            }
            _ => {
                self.shared.record_failure();
                None
            }
        }
    }

    fn model_key(&self) -> String {
        format!("{}:model:active", self.shared.prefix)
    }

    fn model_channel(&self) -> String {
        format!("{}:model", self.shared.prefix)
    }

    /// Tells every replica that `version` is now the active model: a new generation
    /// (INCR), then the `current model` key (read after every reconnect, since pub/sub
    /// messages sent during an outage are lost) and a pub/sub message (so replicas switch
    /// at once), both as `GENERATION VERSION`. Replicas follow only generations newer than
    /// any they have seen, so a stale read never undoes a promotion. Not awaited: with Redis
    /// down the others keep their model until the next announcement.
    pub fn announce_model(&self, version: &str) {
        let (key, channel, version) = (self.model_key(), self.model_channel(), version.to_owned());
        let generation_key = format!("{key}:generation");
        let seen = self.model_generation.clone();
        let mut manager = self.shared.manager.clone();
        self.handle.spawn(async move {
            let result: redis::RedisResult<()> = async {
                let generation: u64 = manager.incr(&generation_key, 1u64).await?;
                seen.fetch_max(generation, Ordering::SeqCst);
                let value = format!("{generation} {version}");
                redis::pipe()
                    .set(&key, &value)
                    .publish(&channel, &value)
                    .query_async::<()>(&mut manager)
                    .await
            }
            .await;
            if let Err(e) = result {
                tracing::warn!(error = %e, version, "could not announce the active model to other replicas");
            }
        });
    }

    /// Calls `on_version` with each newer active model version announced by any replica:
    /// from pub/sub messages, and from the key after every (re)connect and every
    /// [`MODEL_RECHECK`] in case a subscription silently died. `on_version` must return
    /// quickly (hand real work off).
    pub fn watch_models(&self, on_version: impl Fn(String) + Send + Sync + 'static) {
        let client = self.client.clone();
        let (key, channel) = (self.model_key(), self.model_channel());
        let manager = self.shared.manager.clone();
        let seen = self.model_generation.clone();
        let accept = move |value: &str| -> Option<String> {
            let (generation, version) = value.split_once(' ')?;
            let generation: u64 = generation.parse().ok()?;
            (seen.fetch_max(generation, Ordering::SeqCst) < generation).then(|| version.to_owned())
        };
        self.handle.spawn(async move {
            let read_key = |mut manager: Conn, key: String| async move {
                manager.get::<_, Option<String>>(&key).await.ok().flatten()
            };
            let connect = |client: redis::Client, channel: String| async move {
                let mut pubsub = client.get_async_pubsub().await.ok()?;
                pubsub.subscribe(&channel).await.ok()?;
                Some(pubsub)
            };
            loop {
                // Bounded: a Redis that drops packets must not stall the watcher for the
                // operating system's connect timeout.
                let pubsub = tokio::time::timeout(MODEL_RECHECK * 2, connect(client.clone(), channel.clone()))
                    .await
                    .ok()
                    .flatten();
                let Some(mut pubsub) = pubsub else {
                    tokio::time::sleep(MODEL_RECHECK).await;
                    continue;
                };
                // Subscribed first, then the key: nothing announced in between is missed.
                if let Some(v) = read_key(manager.clone(), key.clone()).await.as_deref().and_then(&accept) {
                    on_version(v);
                }
                let mut messages = pubsub.on_message();
                let mut recheck = tokio::time::interval(MODEL_RECHECK);
                loop {
                    tokio::select! {
                        message = futures_util::StreamExt::next(&mut messages) => match message {
                            Some(m) => {
                                if let Some(v) = m.get_payload::<String>().ok().as_deref().and_then(&accept) {
                                    on_version(v);
                                }
                            }
                            // The connection dropped: reconnect and read the key again.
                            None => break,
                        },
                        _ = recheck.tick() => {
                            if let Some(v) = read_key(manager.clone(), key.clone()).await.as_deref().and_then(&accept) {
                                on_version(v);
                            }
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
    }

    fn key(&self, key: &CacheKey) -> String {
        format!("{}:v:{}", self.shared.prefix, key.as_str())
    }

    /// A platform id lives under `id2:<xxh3-64 of the site scope>:<id>`, so every site has
    /// its own comment 42; a verdict id (random, global) under `id:<id>`. Entries of the old
    /// shape `id:<platform id>` are never misread: a verdict id look-up answers only the
    /// verdict carrying that id ([`CommentId::admits`]).
    fn id_key(&self, id: &CommentId) -> String {
        let prefix = &self.shared.prefix;
        match id {
            CommentId::Platform { site, id } => {
                let scope = xxhash_rust::xxh3::xxh3_64(site.as_bytes());
                format!("{prefix}:id2:{scope:016x}:{id}")
            }
            CommentId::Verdict(id) => format!("{prefix}:id:{id}"),
        }
    }
}

impl Shared {
    fn record_failure(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        if self.failures.fetch_add(1, Ordering::Relaxed) + 1 >= FAILURES_TO_OPEN
            && !self.open.swap(true, Ordering::Relaxed)
        {
            tracing::warn!("redis failing; cache bypassed until it answers again");
        }
    }
}

/// Pings Redis while the breaker is open and closes it on the first answer.
async fn probe(shared: Arc<Shared>) {
    loop {
        tokio::time::sleep(PROBE_EVERY).await;
        if !shared.open.load(Ordering::Relaxed) {
            continue;
        }
        let mut manager = shared.manager.clone();
        let ping = tokio::time::timeout(
            shared.timeout * 4,
            redis::cmd("PING").query_async::<String>(&mut manager),
        )
        .await;
        if matches!(ping, Ok(Ok(_))) {
            shared.failures.store(0, Ordering::Relaxed);
            shared.open.store(false, Ordering::Relaxed);
            tracing::info!("redis answers again; cache back in use");
        }
    }
}

impl RedisCache {
    /// The verdict stored at a Redis key; unreadable JSON counts as a miss.
    async fn get_verdict(&self, key: String) -> Option<CachedVerdict> {
        let bytes = self
            .call(|mut m| async move { m.get::<_, Option<Vec<u8>>>(key).await })
            .await
            .flatten()?;
        serde_json::from_slice(&bytes).ok()
    }
}

impl VerdictCache for RedisCache {
    async fn get(&self, key: &CacheKey) -> Option<CachedVerdict> {
        self.get_verdict(self.key(key)).await
    }

    async fn put(&self, key: CacheKey, ids: Vec<CommentId>, verdict: CachedVerdict) {
        let Ok(value) = serde_json::to_vec(&verdict) else {
            return;
        };
        let keys: Vec<String> = std::iter::once(self.key(&key))
            .chain(ids.iter().map(|id| self.id_key(id)))
            .collect();
        if self.shared.open.load(Ordering::Relaxed) {
            return;
        }
        let shared = self.shared.clone();
        // Not awaited: the answer does not wait for the write.
        self.handle.spawn(async move {
            let ttl_ms = shared.ttl.as_millis().min(u64::MAX as u128) as u64;
            let set = |k: &String| {
                let mut cmd = redis::cmd("SET");
                cmd.arg(k).arg(&value).arg("PX").arg(ttl_ms);
                cmd
            };
            let written = if shared.cluster {
                // Each key in its own slot: one command each, sent together.
                let writes = keys.iter().map(|k| {
                    let (cmd, mut manager) = (set(k), shared.manager.clone());
                    async move { cmd.query_async::<()>(&mut manager).await }
                });
                tokio::time::timeout(shared.timeout, async {
                    futures_util::future::join_all(writes)
                        .await
                        .into_iter()
                        .collect::<redis::RedisResult<Vec<()>>>()
                        .map(|_| ())
                })
                .await
            } else {
                let mut pipe = redis::pipe();
                for k in &keys {
                    pipe.add_command(set(k)).ignore();
                }
                let mut manager = shared.manager.clone();
                tokio::time::timeout(shared.timeout, pipe.query_async::<()>(&mut manager)).await
            };
            match written {
                Ok(Ok(())) => shared.failures.store(0, Ordering::Relaxed),
                _ => shared.record_failure(),
            }
        });
    }

    async fn get_by_id(&self, id: &CommentId) -> Option<CachedVerdict> {
        self.get_verdict(self.id_key(id))
            .await
            .filter(|verdict| id.admits(verdict))
    }

    async fn count(&self, keys: &SignalKeys, window: Duration) -> Option<SignalCounts> {
        match self.run_lookup_script(None, keys, window).await {
            Lookup::Miss(counts) => counts,
            Lookup::Hit(_) => None,
        }
    }

    async fn lookup(&self, key: &CacheKey, signals: &SignalKeys, window: Duration) -> Lookup {
        self.run_lookup_script(Some(key), signals, window).await
    }

    fn health(&self) -> CacheHealth {
        if self.shared.open.load(Ordering::Relaxed) {
            CacheHealth::Degraded
        } else {
            CacheHealth::Ok
        }
    }
}

impl RedisCache {
    /// Runs [`LOOKUP_SCRIPT`]: with a key, a look-up that counts only on a miss; without,
    /// just the counting.
    async fn run_lookup_script(
        &self,
        key: Option<&CacheKey>,
        signals: &SignalKeys,
        window: Duration,
    ) -> Lookup {
        if self.shared.cluster {
            return self.lookup_per_slot(key, signals, window).await;
        }
        let prefix = &self.shared.prefix;
        let mut cmd = redis::cmd("EVAL");
        let ip_key = signals.ip.as_ref().map(|ip| format!("{prefix}:ip:{ip}"));
        let verdict_key = key
            .map(|k| self.key(k))
            .unwrap_or_else(|| format!("{prefix}:v:-"));
        cmd.arg(LOOKUP_SCRIPT)
            .arg(if ip_key.is_some() { 4 } else { 3 })
            .arg(verdict_key)
            .arg(format!("{{{prefix}:fp:{}}}:n", signals.content))
            .arg(format!("{{{prefix}:fp:{}}}:s", signals.content));
        if let Some(ip_key) = &ip_key {
            cmd.arg(ip_key);
        }
        cmd.arg(window.as_secs().max(1))
            .arg(signals.site.as_deref().unwrap_or(""))
            .arg(FLOOD_WINDOW_SECS)
            .arg(if key.is_some() { "0" } else { "1" });
        let reply = self
            .call(move |mut m| async move { cmd.query_async::<Vec<redis::Value>>(&mut m).await })
            .await;
        let Some(reply) = reply else {
            return Lookup::Miss(None);
        };
        let int = |v: Option<&redis::Value>| match v {
            Some(redis::Value::Int(n)) => u64::try_from(*n).unwrap_or(0),
            _ => 0,
        };
        match (int(reply.first()), reply.get(1)) {
            (1, Some(redis::Value::BulkString(bytes))) => match serde_json::from_slice(bytes) {
                Ok(verdict) => Lookup::Hit(verdict),
                // An unreadable entry is a miss; it is overwritten after scoring.
                Err(_) => Lookup::Miss(None),
            },
            _ => Lookup::Miss(Some(SignalCounts {
                repeats: int(reply.get(1)),
                sites: int(reply.get(2)),
                ip_recent: int(reply.get(3)),
            })),
        }
    }
}

impl RedisCache {
    /// [`RedisCache::run_lookup_script`] on Redis Cluster, one slot per call: the verdict,
    /// then on a miss the content counters and the IP counter (two calls, sent together).
    async fn lookup_per_slot(
        &self,
        key: Option<&CacheKey>,
        signals: &SignalKeys,
        window: Duration,
    ) -> Lookup {
        if let Some(key) = key {
            let verdict_key = self.key(key);
            let found = self
                .call(|mut m| async move { m.get::<_, Option<Vec<u8>>>(verdict_key).await })
                .await;
            match found {
                None => return Lookup::Miss(None),
                Some(Some(bytes)) => {
                    if let Ok(verdict) = serde_json::from_slice(&bytes) {
                        return Lookup::Hit(verdict);
                    }
                }
                Some(None) => {}
            }
        }
        let prefix = &self.shared.prefix;
        let mut content = redis::cmd("EVAL");
        content
            .arg(CONTENT_COUNT_SCRIPT)
            .arg(2)
            .arg(format!("{{{prefix}:fp:{}}}:n", signals.content))
            .arg(format!("{{{prefix}:fp:{}}}:s", signals.content))
            .arg(window.as_secs().max(1))
            .arg(signals.site.as_deref().unwrap_or(""));
        let ip = signals.ip.as_ref().map(|ip| {
            let mut cmd = redis::cmd("EVAL");
            cmd.arg(IP_COUNT_SCRIPT)
                .arg(1)
                .arg(format!("{prefix}:ip:{ip}"))
                .arg(FLOOD_WINDOW_SECS);
            cmd
        });
        let counted = self
            .call(move |m| async move {
                let mut on_content = m.clone();
                let content =
                    async move { content.query_async::<(u64, u64)>(&mut on_content).await };
                let ip = async move {
                    match ip {
                        Some(cmd) => cmd.query_async::<u64>(&mut m.clone()).await,
                        None => Ok(0),
                    }
                };
                let ((repeats, sites), ip_recent) = tokio::try_join!(content, ip)?;
                Ok(SignalCounts {
                    repeats,
                    sites,
                    ip_recent,
                })
            })
            .await;
        Lookup::Miss(counted)
    }
}

/// Shortest time a review history read may take: it returns many entries, unlike the
/// verdict look-ups the cache timeout is tuned for.
const REVIEW_READ_TIMEOUT_FLOOR: Duration = Duration::from_millis(500);

/// The review history's Redis store (see [`crate::review`]): each entry a key of its own
/// that expires with the retention, and a sorted set of ids by time, trimmed by score on
/// every write and read, and to [`MAX_ITEMS`] (deleting the oldest entries) on every write.
/// Shares the cache's connection and circuit breaker.
pub struct RedisReview {
    shared: Arc<Shared>,
    retention: Duration,
    /// The cache's runtime, which runs the writes.
    handle: Handle,
    /// Entries not stored, counted where the write fails (not awaited by anyone).
    failures: Arc<AtomicU64>,
    /// Writes time out one after another until the breaker opens, and again after each
    /// probe closes it: one warning per period, not one per entry.
    warnings: Arc<crate::telemetry::WarnThrottle>,
}

/// Keeps the newest ARGV[1] ids of the index KEYS[1] and deletes the entries (keys ARGV[2]
/// followed by the id) of the others: trimming only the index would leave them stored, out
/// of sight, until they expire, so a spam wave could fill Redis.
const TRIM_INDEX_SCRIPT: &str = r#"
local over = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[1])
if over > 0 then
  local ids = redis.call('ZRANGE', KEYS[1], 0, over - 1)
  for _, id in ipairs(ids) do redis.call('DEL', ARGV[2] .. id) end
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, over - 1)
end
return over
"#;

/// Entries fetched per `MGET` of a history read.
const REVIEW_MGET_CHUNK: usize = 500;

impl RedisCache {
    /// The review history in this Redis, keeping entries for `retention`.
    pub fn review(&self, retention: Duration) -> RedisReview {
        RedisReview {
            shared: self.shared.clone(),
            retention,
            handle: self.handle.clone(),
            failures: Arc::new(AtomicU64::new(0)),
            warnings: Arc::default(),
        }
    }
}

/// Milliseconds since the epoch.
fn unix_ms(at: time::OffsetDateTime) -> i64 {
    (at.unix_timestamp_nanos() / 1_000_000) as i64
}

impl RedisReview {
    /// The history's keys share the hash tag `{PREFIX:rv}`: its pipelines and trim script
    /// touch the index and entries together, which Redis Cluster allows within one slot.
    fn index_key(&self) -> String {
        format!("{{{}:rv}}:idx", self.shared.prefix)
    }

    fn item_key(&self, verdict_id: &str) -> String {
        format!("{{{}:rv}}:i:{verdict_id}", self.shared.prefix)
    }

    /// Runs `pipe` within `timeout`; a failure counts towards the breaker.
    async fn run<T: redis::FromRedisValue>(
        &self,
        pipe: redis::Pipeline,
        timeout: Duration,
    ) -> Result<T, HistoryError> {
        if self.shared.open.load(Ordering::Relaxed) {
            return Err(HistoryError::Redis);
        }
        let mut manager = self.shared.manager.clone();
        match tokio::time::timeout(timeout, pipe.query_async::<T>(&mut manager)).await {
            Ok(Ok(value)) => {
                self.shared.failures.store(0, Ordering::Relaxed);
                Ok(value)
            }
            _ => {
                self.shared.record_failure();
                Err(HistoryError::Redis)
            }
        }
    }

    /// Stores the entry `json` for `verdict_id`, scored at `scored_at`; expires it when the
    /// retention ends and trims the index. Not awaited, like the cache's writes: the scoring
    /// route calls this and must not wait up to the timeout for Redis. Fails at once only
    /// when the breaker is open; a later failure is counted in [`ReviewStore::errors`].
    fn write(
        &self,
        verdict_id: &str,
        scored_at: time::OffsetDateTime,
        json: Vec<u8>,
        now: time::OffsetDateTime,
    ) -> Result<(), HistoryError> {
        let retention_ms = self.retention.as_millis().min(i64::MAX as u128) as i64;
        let left_ms = retention_ms - (unix_ms(now) - unix_ms(scored_at));
        if left_ms <= 0 {
            return Ok(());
        }
        let index = self.index_key();
        let mut pipe = redis::pipe();
        pipe.cmd("SET")
            .arg(self.item_key(verdict_id))
            .arg(json)
            .arg("PX")
            .arg(left_ms)
            .ignore()
            .cmd("ZADD")
            .arg(&index)
            .arg(unix_ms(scored_at))
            .arg(verdict_id)
            .ignore()
            .cmd("ZREMRANGEBYSCORE")
            .arg(&index)
            .arg("-inf")
            .arg(format!("({}", unix_ms(now) - retention_ms))
            .ignore()
            .cmd("EVAL")
            .arg(TRIM_INDEX_SCRIPT)
            .arg(1)
            .arg(&index)
            .arg(MAX_ITEMS)
            .arg(self.item_key(""))
            .ignore()
            // The index itself goes when nothing was recorded for a whole retention.
            .cmd("PEXPIRE")
            .arg(&index)
            .arg(retention_ms)
            .ignore();
        if self.shared.open.load(Ordering::Relaxed) {
            return Err(HistoryError::Redis);
        }
        let shared = self.shared.clone();
        let failures = self.failures.clone();
        let warnings = self.warnings.clone();
        let verdict_id = verdict_id.to_owned();
        self.handle.spawn(async move {
            let mut manager = shared.manager.clone();
            match tokio::time::timeout(shared.timeout, pipe.query_async::<()>(&mut manager)).await {
                Ok(Ok(())) => shared.failures.store(0, Ordering::Relaxed),
                _ => {
                    shared.record_failure();
                    failures.fetch_add(1, Ordering::Relaxed);
                    if let Some(held_back) = warnings.allow_now() {
                        tracing::warn!(
                            %verdict_id,
                            similar_since_last_warning = held_back,
                            "verdict not recorded in the review history"
                        );
                    }
                }
            }
        });
        Ok(())
    }

    /// The stored entries unexpired at `now`, newest first, as JSON.
    async fn read(&self, now: time::OffsetDateTime) -> Result<Vec<Vec<u8>>, HistoryError> {
        let retention_ms = self.retention.as_millis().min(i64::MAX as u128) as i64;
        let oldest = unix_ms(now) - retention_ms;
        let index = self.index_key();
        let timeout = (self.shared.timeout * 20).max(REVIEW_READ_TIMEOUT_FLOOR);
        let mut pipe = redis::pipe();
        pipe.cmd("ZREMRANGEBYSCORE")
            .arg(&index)
            .arg("-inf")
            .arg(format!("({oldest}"))
            .ignore()
            .cmd("ZREVRANGEBYSCORE")
            .arg(&index)
            .arg("+inf")
            .arg(oldest)
            .arg("LIMIT")
            .arg(0)
            .arg(MAX_ITEMS);
        let (ids,): (Vec<String>,) = self.run(pipe, timeout).await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // In chunks, newest first, up to the file store's byte budget: 20,000 entries of up
        // to a request body each must not all be in memory (and one reply) at once.
        let mut entries = Vec::new();
        let mut bytes = 0usize;
        for chunk in ids.chunks(REVIEW_MGET_CHUNK) {
            let mut pipe = redis::pipe();
            pipe.cmd("MGET")
                .arg(chunk.iter().map(|id| self.item_key(id)).collect::<Vec<_>>());
            let (values,): (Vec<Option<Vec<u8>>>,) = self.run(pipe, timeout).await?;
            for value in values.into_iter().flatten() {
                bytes += value.len();
                if bytes > MAX_BYTES {
                    return Ok(entries);
                }
                entries.push(value);
            }
        }
        Ok(entries)
    }
}

impl ReviewStore for RedisReview {
    /// Hands the write to the cache's runtime.
    fn record(&self, item: ReviewItem, now: time::OffsetDateTime) -> Result<(), HistoryError> {
        let result = serde_json::to_vec(&item)
            .map_err(HistoryError::from)
            .and_then(|json| self.write(&item.verdict_id, item.scored_at, json, now));
        if result.is_err() {
            self.failures.fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    fn items(&self, now: time::OffsetDateTime) -> ItemsFuture<'_> {
        Box::pin(async move {
            // An entry that does not decode (written by another version) is skipped.
            Ok(self
                .read(now)
                .await?
                .iter()
                .filter_map(|json| serde_json::from_slice(json).ok())
                .collect())
        })
    }

    fn errors(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    fn retention(&self) -> Duration {
        self.retention
    }

    fn kind(&self) -> &'static str {
        "redis"
    }
}

/// Fuzzy fingerprints (see [`super::fuzzy`]): every key of the store carries one hash tag,
/// `{PREFIX:fz}`, so the pipelines and the script below, which touch many of them, run on
/// Redis Cluster too (the whole store lives on one shard, bounded by [`MAX_KNOWN_SHARED`]
/// and [`MAX_RECENT_SHARED`]). Band buckets are sorted sets of entry ids by time; an entry
/// is `PREFIX ks:ID` (labelled spam: the signature) or `PREFIX rs:ID` (recent: the site
/// tag, 16 hex digits, then the signature).
///
/// Most entries of each kind one fuzzy look-up compares with: the newest first, as many as
/// a band bucket keeps, and far more than the repeat and site thresholds a near-duplicate
/// signal needs.
const FUZZY_CANDIDATES: usize = BUCKET_CAP;

/// A ZUNION ... WITHSCORES reply: ids and their times (ms).
type Scored = Vec<(String, f64)>;

/// One record in this many trims the recent band buckets it adds to (see
/// [`RedisCache::fuzzy_check`]).
const TRIM_EVERY: u32 = 4;

/// Remembers a labelled spam signature.
/// KEYS: 16 labelled-spam band buckets, the labelled-spam index.
/// ARGV: signature, entry id, now ms, ttl ms, bucket cap, most entries, key prefix.
const FUZZY_REMEMBER_SCRIPT: &str = r#"
local sig, id, now, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local cap, most, prefix = tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7]
redis.call('SET', prefix .. 'ks:' .. id, sig, 'PX', ttl)
for k = 1, #KEYS - 1 do
  redis.call('ZADD', KEYS[k], now, id)
  local over = redis.call('ZCARD', KEYS[k]) - cap
  if over > 0 then redis.call('ZREMRANGEBYRANK', KEYS[k], 0, over - 1) end
  redis.call('PEXPIRE', KEYS[k], ttl)
end
local index = KEYS[#KEYS]
redis.call('ZADD', index, now, id)
local over = redis.call('ZCARD', index) - most
if over > 0 then
  for _, old in ipairs(redis.call('ZRANGE', index, 0, over - 1)) do
    redis.call('DEL', prefix .. 'ks:' .. old)
  end
  redis.call('ZREMRANGEBYRANK', index, 0, over - 1)
end
redis.call('PEXPIRE', index, ttl)
return 1
"#;

/// The ids of a ZUNION ... WITHSCORES reply scored above `above`, highest score first, at
/// most [`FUZZY_CANDIDATES`].
fn best_scored(mut ids: Scored, above: f64) -> Vec<String> {
    ids.retain(|(_, score)| *score > above);
    ids.sort_unstable_by(|a, b| b.1.total_cmp(&a.1));
    ids.truncate(FUZZY_CANDIDATES);
    ids.into_iter().map(|(id, _)| id).collect()
}

/// What the fetched entries say about `signature` from the site tagged `tag`
/// (16 hex digits): the closest labelled spam, and the recent near-duplicates (this one
/// counted) with their distinct sites.
fn compare_fuzzy<'a>(
    signature: &Signature,
    tag: &[u8],
    known: impl Iterator<Item = &'a Vec<u8>>,
    recent: impl Iterator<Item = &'a Vec<u8>>,
) -> FuzzyFindings {
    let need = (MATCH_THRESHOLD * HASHES as f64).ceil() as usize;
    let best = known
        .filter_map(|v| Signature::from_bytes(v))
        .map(|other| signature.equal_minima(&other))
        .max()
        .unwrap_or(0);
    const NO_SITE: &[u8] = b"0000000000000000";
    let mut sites: Vec<&[u8]> = Vec::new();
    if tag != NO_SITE {
        sites.push(tag);
    }
    let mut repeats = 1;
    for v in recent {
        let Some((site, other)) = v.split_at_checked(tag.len()) else {
            continue;
        };
        let Some(other) = Signature::from_bytes(other) else {
            continue;
        };
        if signature.equal_minima(&other) >= need {
            repeats += 1;
            if site != NO_SITE && !sites.contains(&site) {
                sites.push(site);
            }
        }
    }
    FuzzyFindings {
        known_similarity: best as f64 / HASHES as f64,
        near_repeats: repeats,
        near_sites: sites.len() as u64,
    }
}

/// Fingerprints per pipeline when the labelled spam is shared at start.
const SEED_BATCH: usize = 500;
/// Longest one such pipeline may take.
const SEED_TIMEOUT: Duration = Duration::from_secs(5);
/// How often a replica checks that Redis still holds the labelled spam fingerprints: at
/// most this long after a Redis restart they are missing.
const SEED_CHECK: Duration = Duration::from_secs(5);

/// The loop of [`RedisCache::share_labelled_spam`]: shares at start, then every
/// [`SEED_CHECK`] sets the marker if absent and shares again when that succeeds.
async fn keep_labelled_spam_shared(mut manager: Conn, prefix: String, read: LabelledSpam) {
    let marker = format!("{prefix}ks:shared");
    let (mut at_start, mut failing) = (true, false);
    loop {
        let mut set = redis::cmd("SET");
        set.arg(&marker).arg(1).arg("NX");
        let lost = tokio::time::timeout(
            SEED_TIMEOUT,
            set.query_async::<Option<String>>(&mut manager),
        )
        .await;
        let lost = matches!(lost, Ok(Ok(Some(_))));
        if at_start || lost {
            if lost && !at_start && !failing {
                tracing::info!("Redis lost the labelled spam fingerprints; sharing them again");
            }
            match seed(&mut manager, &prefix, read.clone()).await {
                Ok(fingerprints) => {
                    failing = false;
                    tracing::info!(
                        fingerprints,
                        "labelled spam fingerprints shared through Redis"
                    );
                }
                Err(why) => {
                    // Once per run of failures: the retry at every check would repeat it.
                    if !std::mem::replace(&mut failing, true) {
                        tracing::warn!(
                            error = %why,
                            "cannot share the labelled spam fingerprints through Redis; \
                             new labels still are, and this is retried"
                        );
                    }
                    let mut del = redis::cmd("DEL");
                    del.arg(&marker);
                    let _ = tokio::time::timeout(SEED_TIMEOUT, del.query_async::<()>(&mut manager))
                        .await;
                }
            }
        }
        at_start = false;
        tokio::time::sleep(SEED_CHECK).await;
    }
}

/// Reads the labelled spam fingerprints (off the runtime) and sends them in pipelines of
/// [`SEED_BATCH`], one after the other; how many were sent, or why not all.
async fn seed(manager: &mut Conn, prefix: &str, read: LabelledSpam) -> Result<usize, String> {
    let signatures = match tokio::task::spawn_blocking(move || read(MAX_KNOWN_SHARED)).await {
        Ok(Ok(signatures)) => signatures,
        Ok(Err(e)) => return Err(format!("cannot read the label log: {e}")),
        Err(e) => return Err(format!("the label log reader failed: {e}")),
    };
    for batch in signatures.chunks(SEED_BATCH) {
        let mut pipe = redis::pipe();
        for signature in batch {
            pipe.add_command(remember_spam_cmd(prefix, signature, now_ms()))
                .ignore();
        }
        let sent = tokio::time::timeout(SEED_TIMEOUT, pipe.query_async::<()>(manager)).await;
        if !matches!(sent, Ok(Ok(()))) {
            return Err("Redis did not take them".to_owned());
        }
    }
    Ok(signatures.len())
}

/// The keys of `signature`'s band buckets of `kind` (`k` labelled spam, `r` recent).
fn band_bucket_keys(prefix: &str, kind: &str, signature: &Signature) -> Vec<String> {
    signature
        .band_keys()
        .iter()
        .map(|band| format!("{prefix}{kind}:{band:016x}"))
        .collect()
}

/// The script call that remembers one labelled spam fingerprint as of `now` (ms).
fn remember_spam_cmd(prefix: &str, signature: &Signature, now: u64) -> redis::Cmd {
    let mut cmd = redis::cmd("EVAL");
    let known = band_bucket_keys(prefix, "k", signature);
    cmd.arg(FUZZY_REMEMBER_SCRIPT)
        .arg(known.len() + 1)
        .arg(known)
        .arg(format!("{prefix}kidx"))
        .arg(signature.to_bytes())
        .arg(format!("{:016x}", signature.id()))
        .arg(now)
        .arg(KNOWN_SPAM_TTL.as_millis() as u64)
        .arg(BUCKET_CAP)
        .arg(MAX_KNOWN_SHARED)
        .arg(prefix);
    cmd
}

impl RedisCache {
    /// `{PREFIX:fz}:`, the start of every fuzzy key (one hash slot).
    fn fuzzy_prefix(&self) -> String {
        format!("{{{}:fz}}:", self.shared.prefix)
    }

    fn band_bucket_keys(&self, kind: &str, signature: &Signature) -> Vec<String> {
        band_bucket_keys(&self.fuzzy_prefix(), kind, signature)
    }

    /// See [`super::Cache::fuzzy_check`].
    pub async fn fuzzy_check(
        &self,
        signature: &Signature,
        site: Option<&str>,
        window: Duration,
        record: bool,
    ) -> Option<FuzzyFindings> {
        let prefix = self.fuzzy_prefix();
        let known = self.band_bucket_keys("k", signature);
        let recent = self.band_bucket_keys("r", signature);
        let now = now_ms();
        let window_ms = window.as_millis().max(1) as u64;
        let tag = format!("{:016x}", site_tag(site));
        // Plain commands, no script, and few of them: Redis runs every replica's commands on
        // one thread. The same work as one Lua script (a few dozen calls, each id turned
        // into a Lua string, 64 minima compared per candidate) cost it 0.6-1.1 ms per
        // comment; one command per band bucket still cost ~0.25 ms. Here one ZUNION per
        // kind reads the distinct ids of all the bands at once, and the comparing is done
        // by the replica.
        //
        // Labelled spam is summed over the bands (AGGREGATE SUM of the entry's time in each
        // bucket sharing it), so an entry sharing more bands, which shares more minima,
        // comes first whatever its age: the times of 90 days differ by far less than one
        // band's worth. Recent comments take their time (MAX), for the window.
        let mut read = redis::pipe();
        for (buckets, aggregate) in [(&known, "SUM"), (&recent, "MAX")] {
            read.cmd("ZUNION")
                .arg(buckets.len())
                .arg(buckets)
                .arg("AGGREGATE")
                .arg(aggregate)
                .arg("WITHSCORES");
        }
        let (known_ids, recent_ids): (Scored, Scored) = self
            .call(move |mut m| async move { read.query_async(&mut m).await })
            .await?;
        let known_ids = best_scored(known_ids, 0.0);
        let recent_ids = best_scored(recent_ids, now.saturating_sub(window_ms) as f64);
        // Then the candidates' entries and, for a new submission, this one recorded: after
        // the read, so that a comment is not its own near-duplicate. Not when the newest
        // candidates already fill the look-up (a wave of one text): another entry would
        // not change what a look-up finds, and the wave's entries are renewed as the
        // oldest expire.
        let record = record && recent_ids.len() < FUZZY_CANDIDATES;
        let mut second = redis::pipe();
        let fetch = !(known_ids.is_empty() && recent_ids.is_empty());
        if fetch {
            let keys = known_ids
                .iter()
                .map(|id| format!("{prefix}ks:{id}"))
                .chain(recent_ids.iter().map(|id| format!("{prefix}rs:{id}")));
            second.cmd("MGET").arg(keys.collect::<Vec<_>>());
        }
        if record {
            let id = format!("{:016x}", rand::random::<u64>());
            let mut entry = tag.clone().into_bytes();
            entry.extend(signature.to_bytes());
            second
                .cmd("SET")
                .arg(format!("{prefix}rs:{id}"))
                .arg(entry)
                .arg("PX")
                .arg(window_ms)
                .ignore();
            // Buckets are trimmed to their newest BUCKET_CAP ids by one record in
            // TRIM_EVERY (at random: any replica's record of any comment sharing the
            // bucket may do it), so a busy bucket holds a few ids more at most. Entries
            // older than the window are skipped by the read above, pushed out by newer
            // ones, and go with the bucket once it has seen nothing for a window.
            let trim = rand::random::<u32>().is_multiple_of(TRIM_EVERY);
            for bucket in &recent {
                second
                    .cmd("ZADD")
                    .arg(bucket)
                    .arg(now)
                    .arg(&id)
                    .ignore()
                    .cmd("PEXPIRE")
                    .arg(bucket)
                    .arg(window_ms)
                    .ignore();
                if trim {
                    second
                        .cmd("ZREMRANGEBYRANK")
                        .arg(bucket)
                        .arg(0)
                        .arg(-(BUCKET_CAP as i64) - 1)
                        .ignore();
                }
            }
            let index = format!("{prefix}ridx");
            second
                .cmd("ZADD")
                .arg(&index)
                .arg(now)
                .arg(&id)
                .ignore()
                .cmd("EVAL")
                .arg(TRIM_INDEX_SCRIPT)
                .arg(1)
                .arg(&index)
                .arg(MAX_RECENT_SHARED)
                .arg(format!("{prefix}rs:"))
                .ignore()
                .cmd("PEXPIRE")
                .arg(&index)
                .arg(window_ms)
                .ignore();
        }
        let entries: Vec<Option<Vec<u8>>> = match (fetch, record) {
            (false, false) => Vec::new(),
            (false, true) => {
                self.call(move |mut m| async move { second.query_async::<()>(&mut m).await })
                    .await?;
                Vec::new()
            }
            (true, _) => {
                let (entries,): (Vec<Option<Vec<u8>>>,) = self
                    .call(move |mut m| async move { second.query_async(&mut m).await })
                    .await?;
                entries
            }
        };
        let (known, recent) = entries.split_at(known_ids.len().min(entries.len()));
        Some(compare_fuzzy(
            signature,
            tag.as_bytes(),
            known.iter().flatten(),
            recent.iter().flatten(),
        ))
    }

    /// See [`super::Cache::remember_spam`]. Not awaited.
    pub fn remember_spam(&self, signature: &Signature) {
        self.spawn_write(remember_spam_cmd(&self.fuzzy_prefix(), signature, now_ms()));
    }

    /// See [`super::Cache::share_labelled_spam`]: on the cache's runtime, not awaited. A
    /// marker key goes with the fingerprints; every [`SEED_CHECK`] the replica sets it if
    /// absent, and when that succeeds Redis has lost it (a restart, a flush) along with the
    /// fingerprints, so this replica, the first to notice, sends them again. Start-up and
    /// background work, not a request's: failures are logged and do not count towards the
    /// breaker; a failed send removes the marker so that the next check tries again.
    pub fn share_labelled_spam(&self, read: LabelledSpam) {
        let (manager, prefix) = (self.shared.manager.clone(), self.fuzzy_prefix());
        self.handle
            .spawn(keep_labelled_spam_shared(manager, prefix, read));
    }

    /// See [`super::Cache::forget_spam`]: the entry goes; its ids left in the buckets point
    /// at nothing and are pushed out by newer ones. Not awaited.
    pub fn forget_spam(&self, signature: &Signature) {
        let mut cmd = redis::cmd("DEL");
        cmd.arg(format!("{}ks:{:016x}", self.fuzzy_prefix(), signature.id()));
        self.spawn_write(cmd);
    }

    /// Runs `cmd` on the cache's runtime within the timeout, not awaited.
    fn spawn_write(&self, cmd: redis::Cmd) {
        if self.shared.open.load(Ordering::Relaxed) {
            return;
        }
        let shared = self.shared.clone();
        self.handle.spawn(async move {
            let mut manager = shared.manager.clone();
            match tokio::time::timeout(
                shared.timeout,
                cmd.query_async::<redis::Value>(&mut manager),
            )
            .await
            {
                Ok(Ok(_)) => shared.failures.store(0, Ordering::Relaxed),
                _ => shared.record_failure(),
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = "I like the valuable info you provide in your articles. I will \
        bookmark your blog and check again here regularly. Good luck for the next!";
    const SPUN: &str = "I like the valuable information you provide in your articles. I will \
        bookmark your weblog and check again here regularly. Good luck for the next!";
    const OTHER: &str = "The second chart mislabels its axis: the release dates run right to \
        left, so the trend reads backwards until you notice.";

    fn recent_entry(site: &str, text: &str) -> Vec<u8> {
        let mut entry = site.as_bytes().to_vec();
        entry.extend(Signature::of(text).unwrap().to_bytes());
        entry
    }

    #[test]
    fn fetched_entries_are_compared_here() {
        let me = Signature::of(SPUN).unwrap();
        let (a, b) = ("00000000000000aa", "00000000000000bb");
        let known = [
            Signature::of(TEMPLATE).unwrap().to_bytes(),
            b"short".to_vec(),
        ];
        let recent = [
            recent_entry(b, TEMPLATE),
            recent_entry(b, SPUN),
            recent_entry("0000000000000000", SPUN),
            recent_entry(b, OTHER),
            b"0000000000000000 truncated".to_vec(),
        ];
        let found = compare_fuzzy(&me, a.as_bytes(), known.iter(), recent.iter());
        assert!(found.known_similarity >= MATCH_THRESHOLD, "{found:?}");
        // (case, repeats or sites, why)
        let cases = [
            (
                "repeats",
                found.near_repeats,
                4,
                "itself and three near copies, not the unrelated or the malformed entry",
            ),
            (
                "sites",
                found.near_sites,
                2,
                "its own site and b; an entry without a site adds none",
            ),
        ];
        for (case, got, want, why) in cases {
            assert_eq!(got, want, "{case}: {why}");
        }
        let alone = compare_fuzzy(&me, b"0000000000000000", [].iter(), [].iter());
        assert_eq!(
            (alone.known_similarity, alone.near_repeats, alone.near_sites),
            (0.0, 1, 0),
            "nothing fetched: only itself, and no site"
        );
    }

    #[test]
    fn candidates_are_the_best_scored_within_the_window() {
        let ids = (0..100)
            .map(|i| (format!("{i:016x}"), f64::from(i)))
            .collect();
        let got = best_scored(ids, 49.0);
        assert_eq!(
            got.len(),
            FUZZY_CANDIDATES.min(50),
            "capped, and older ones left out"
        );
        assert_eq!(got[0], format!("{:016x}", 99), "newest first");
        assert!(got
            .iter()
            .all(|id| u64::from_str_radix(id, 16).unwrap() > 49));
        // Labelled spam, summed over the bands: an entry 89 days old sharing two bands ranks
        // above one labelled now sharing one.
        let now = 1.8e12;
        let old = now - 89.0 * 86_400_000.0;
        let summed = vec![
            ("new-one-band".to_owned(), now),
            ("old-two-bands".to_owned(), 2.0 * old),
        ];
        assert_eq!(best_scored(summed, 0.0)[0], "old-two-bands");
    }
}
