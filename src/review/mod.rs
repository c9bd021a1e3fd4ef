//! The review history: the verdicts that need a human (hold, spam, discard), kept for a
//! retention period so the moderator console can show them, then deleted.
//!
//! Each entry holds the comment as submitted (author, e-mail address, IP: personal data),
//! the reasons and strongest tokens. Entries older than the retention are never returned and
//! are deleted: in Redis each entry expires on its own and the index is trimmed by score on
//! every write; the file store drops them from memory and its writer thread rewrites the file
//! (at most, and while anything expired, at least, once a minute). Either store also keeps
//! at most [`MAX_ITEMS`] entries, and the file store at most
//! [`MAX_BYTES`] of them (the oldest go first), so a spam wave cannot grow it without bound.
//!
//! Whether an entry was already corrected is not stored here: the label book is the truth
//! (a correction may come through `/v1/feedback`, the console or Akismet's submit-spam), so
//! the queue route asks it per entry.
//!
//! The ordering, filtering and paging of the queue are pure functions ([`page`]); the stores
//! only keep entries.

use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::cache::RedisReview;
use crate::domain::{Assessment, Comment, Label, Reason, TokenWeight, Verdict};
use crate::keys::normalize_site;
use crate::telemetry::WarnThrottle;
use crate::text::{domain_of, normalize_content};

/// Default retention of the review history: 14 days.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(14 * 24 * 3600);
/// Most entries either store keeps; the oldest are dropped first.
pub const MAX_ITEMS: usize = 20_000;
/// Most bytes (as JSON) of entries the file store keeps in memory; the oldest are dropped
/// first. A wave of 64 KiB spam comments must not take the process's memory with it: with
/// this budget `serve` stays within its 64 MB resident target (its peak is 40 MB in ordinary use).
pub const MAX_BYTES: usize = 16 * 1024 * 1024;
/// Queue page size when the request names none.
pub const DEFAULT_PAGE: usize = 50;
/// Largest queue page.
pub const MAX_PAGE: usize = 200;
/// File of the file store, in the data directory.
pub const HISTORY_FILE: &str = "review-history.jsonl";
/// Most link domains kept per entry.
const MAX_DOMAINS: usize = 20;
/// The file store rewrites its file (dropping expired entries) at most this often.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// Whether a verdict goes into the review history.
pub fn needs_review(verdict: Verdict) -> bool {
    verdict != Verdict::Approve
}

/// One verdict in the review history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReviewItem {
    /// The verdict id answered to the platform.
    pub verdict_id: String,
    /// When it was scored.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub scored_at: OffsetDateTime,
    /// `hold`, `spam` or `discard`.
    pub verdict: Verdict,
    /// The classifier's spam probability.
    pub spam_probability: f64,
    /// Why, strongest first.
    pub reasons: Vec<Reason>,
    /// Strongest tokens each way (> 0 spammy).
    pub tokens: Vec<TokenWeight>,
    /// Model version that scored it.
    pub model_version: String,
    /// Hosts of the links in the body and of the author URL, deduplicated.
    pub link_domains: Vec<String>,
    /// The comment as submitted.
    pub comment: Comment,
}

impl ReviewItem {
    /// The entry for `comment`, scored at `scored_at` with `assessment` under `verdict_id`.
    pub fn new(
        verdict_id: &str,
        scored_at: OffsetDateTime,
        assessment: &Assessment,
        comment: &Comment,
    ) -> ReviewItem {
        let mut link_domains: Vec<String> = Vec::new();
        let from_body = normalize_content(&comment.content)
            .links
            .into_iter()
            .map(|l| l.domain);
        let from_author = comment.author_url.as_deref().map(domain_of);
        for domain in from_body.chain(from_author) {
            if !domain.is_empty()
                && !link_domains.contains(&domain)
                && link_domains.len() < MAX_DOMAINS
            {
                link_domains.push(domain);
            }
        }
        ReviewItem {
            verdict_id: verdict_id.to_owned(),
            scored_at,
            verdict: assessment.verdict,
            spam_probability: assessment.spam_probability,
            reasons: assessment.reasons.clone(),
            tokens: assessment.tokens.clone(),
            model_version: assessment.model_version.clone(),
            link_domains,
            comment: comment.clone(),
        }
    }

    /// Whether it is older than `retention` at `now`.
    pub fn expired(&self, now: OffsetDateTime, retention: Duration) -> bool {
        now - self.scored_at >= retention
    }

    /// Its place in the queue: held first, then spam and discard; newest first; then by id.
    fn sort_key(&self) -> SortKey {
        SortKey {
            rank: rank(self.verdict),
            newest: -(self.scored_at.unix_timestamp_nanos() / 1000) as i64,
            verdict_id: self.verdict_id.clone(),
        }
    }
}

/// Held comments come before spam: they wait for a decision, spam is already out of sight.
fn rank(verdict: Verdict) -> u8 {
    match verdict {
        Verdict::Hold => 0,
        _ => 1,
    }
}

/// Order of the queue; also what a cursor names (the last entry of the previous page).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct SortKey {
    rank: u8,
    /// Negated microseconds since the epoch, so that ascending order is newest first.
    newest: i64,
    verdict_id: String,
}

impl SortKey {
    fn to_cursor(&self) -> String {
        format!("{}.{}.{}", self.rank, -self.newest, self.verdict_id)
    }

    fn from_cursor(cursor: &str) -> Option<SortKey> {
        let mut parts = cursor.splitn(3, '.');
        let rank = parts.next()?.parse::<u8>().ok().filter(|r| *r <= 1)?;
        let micros = parts.next()?.parse::<i64>().ok()?;
        // Negated below: i64::MIN has no negation (a panic in a debug build).
        let newest = micros.checked_neg()?;
        let verdict_id = parts.next()?;
        if verdict_id.is_empty()
            || verdict_id.len() > 64
            || !verdict_id.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return None;
        }
        Some(SortKey {
            rank,
            newest,
            verdict_id: verdict_id.to_owned(),
        })
    }
}

/// Which entries the queue shows, by correction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Status {
    /// Not corrected yet (the default: the work left).
    #[default]
    Pending,
    /// Already corrected by a moderator.
    Labelled,
    /// Both.
    All,
}

/// A decoded `GET /v1/review/queue` query.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueueQuery {
    /// Only this site (compared as [`normalize_site`] spells it).
    pub site: Option<String>,
    /// Only this verdict.
    pub verdict: Option<Verdict>,
    /// Pending, labelled or all.
    pub status: Status,
    /// Resume after this entry (the previous page's `next_cursor`).
    cursor: Option<SortKey>,
    /// Page size.
    pub limit: usize,
}

/// Decodes the queue's query parameters (already percent-decoded). Messages never quote
/// values. Unknown parameters are ignored.
pub fn parse_queue_query(pairs: &[(String, String)]) -> Result<QueueQuery, String> {
    let mut query = QueueQuery {
        limit: DEFAULT_PAGE,
        ..QueueQuery::default()
    };
    for (name, value) in pairs {
        let value = value.trim();
        match name.as_str() {
            "site" if value.is_empty() => {}
            "site" if value.len() > crate::domain::MAX_FIELD_BYTES => {
                return Err("`site` is too long".into())
            }
            "site" => query.site = Some(value.to_owned()),
            "verdict" => {
                query.verdict = match value {
                    "" | "any" => None,
                    "hold" => Some(Verdict::Hold),
                    "spam" => Some(Verdict::Spam),
                    "discard" => Some(Verdict::Discard),
                    _ => return Err("`verdict` must be hold, spam, discard or any".into()),
                }
            }
            "status" => {
                query.status = match value {
                    "" | "pending" => Status::Pending,
                    "labelled" => Status::Labelled,
                    "all" => Status::All,
                    _ => return Err("`status` must be pending, labelled or all".into()),
                }
            }
            "cursor" if value.is_empty() => {}
            "cursor" => {
                query.cursor = Some(SortKey::from_cursor(value).ok_or_else(|| {
                    "`cursor` must be a `next_cursor` from an earlier page".to_owned()
                })?)
            }
            "limit" => {
                query.limit = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_PAGE).contains(n))
                    .ok_or_else(|| format!("`limit` must be between 1 and {MAX_PAGE}"))?
            }
            _ => {}
        }
    }
    Ok(query)
}

/// One queue row: the entry and the label in force for its comment, if any.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct QueueItem {
    /// The history entry.
    #[serde(flatten)]
    pub item: ReviewItem,
    /// The moderator's label for this comment, once corrected.
    pub label: Option<Label>,
}

/// One page of the queue.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct QueuePage {
    /// The rows: held first, then spam and discard, newest first.
    pub items: Vec<QueueItem>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
    /// Every site in the history, for the site filter.
    pub sites: Vec<String>,
    /// Days entries are kept.
    pub retention_days: f64,
}

/// The page `query` asks for out of every unexpired entry, each with its label (`label_of`).
pub fn page(
    items: Vec<ReviewItem>,
    query: &QueueQuery,
    retention: Duration,
    label_of: impl Fn(&ReviewItem) -> Option<Label>,
) -> QueuePage {
    let want_site = query
        .site
        .as_deref()
        .map(|s| normalize_site(s).unwrap_or_else(|| s.to_owned()));
    let site_of = |item: &ReviewItem| {
        item.comment
            .site
            .as_deref()
            .map(|s| normalize_site(s).unwrap_or_else(|| s.to_owned()))
    };
    let mut sites: Vec<String> = items.iter().filter_map(site_of).collect();
    sites.sort();
    sites.dedup();
    let mut rows: Vec<(SortKey, QueueItem)> = items
        .into_iter()
        .filter(|item| query.verdict.is_none_or(|v| v == item.verdict))
        .filter(|item| want_site.is_none() || site_of(item) == want_site)
        .filter(|item| query.cursor.as_ref().is_none_or(|c| item.sort_key() > *c))
        .filter_map(|item| {
            let label = label_of(&item);
            let keep = match query.status {
                Status::Pending => label.is_none(),
                Status::Labelled => label.is_some(),
                Status::All => true,
            };
            keep.then(|| (item.sort_key(), QueueItem { item, label }))
        })
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    let next_cursor = (rows.len() > query.limit).then(|| rows[query.limit - 1].0.to_cursor());
    rows.truncate(query.limit);
    QueuePage {
        items: rows.into_iter().map(|(_, row)| row).collect(),
        next_cursor,
        sites,
        retention_days: retention.as_secs_f64() / 86_400.0,
    }
}

/// Why the history could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// The file store failed.
    #[error("review history file: {0}")]
    Io(#[from] std::io::Error),
    /// Redis did not answer in time, or the breaker is open.
    #[error("review history in Redis is unavailable")]
    Redis,
    /// An entry could not be encoded.
    #[error("review history entry: {0}")]
    Encode(#[from] serde_json::Error),
}

/// The history the service runs with: in Redis when configured, else in the data directory.
pub enum ReviewHistory {
    /// A JSON Lines file in the data directory, mirrored in memory.
    File(FileHistory),
    /// Redis, shared by replicas.
    Redis(RedisReview),
}

impl std::fmt::Debug for ReviewHistory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ReviewHistory::File(_) => "ReviewHistory::File",
            ReviewHistory::Redis(_) => "ReviewHistory::Redis",
        })
    }
}

impl ReviewHistory {
    /// Records `item` (an entry older than the retention is dropped on the way) without
    /// waiting on a disk or on Redis: the scoring routes call it, and their latency budget is
    /// far below one write's. The file store updates its memory at once and leaves the disk
    /// to its writer thread; the Redis store hands the write to the cache's runtime. Failures,
    /// now or later, are counted in [`ReviewHistory::errors`].
    pub fn record(&self, item: ReviewItem, now: OffsetDateTime) -> Result<(), HistoryError> {
        let result = match self {
            ReviewHistory::File(file) => file.record(item, now),
            ReviewHistory::Redis(redis) => serde_json::to_vec(&item)
                .map_err(HistoryError::from)
                .and_then(|json| redis.record(&item.verdict_id, item.scored_at, json, now)),
        };
        if result.is_err() {
            self.failures().fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    /// Verdicts the history failed to store since the service started.
    pub fn errors(&self) -> u64 {
        self.failures().load(Ordering::Relaxed)
    }

    fn failures(&self) -> &AtomicU64 {
        match self {
            ReviewHistory::File(file) => &file.inner.failures,
            ReviewHistory::Redis(redis) => redis.failures(),
        }
    }

    /// Every unexpired entry at `now`, newest first (at most [`MAX_ITEMS`]).
    pub async fn items(&self, now: OffsetDateTime) -> Result<Vec<ReviewItem>, HistoryError> {
        match self {
            ReviewHistory::File(file) => {
                let file = file.clone_handle();
                tokio::task::spawn_blocking(move || file.items(now))
                    .await
                    .map_err(|e| HistoryError::Io(std::io::Error::other(e)))?
            }
            // An entry that does not decode (written by another version) is skipped.
            ReviewHistory::Redis(redis) => Ok(redis
                .items(now)
                .await?
                .iter()
                .filter_map(|json| serde_json::from_slice(json).ok())
                .collect()),
        }
    }

    /// The retention.
    pub fn retention(&self) -> Duration {
        match self {
            ReviewHistory::File(file) => file.inner.retention,
            ReviewHistory::Redis(redis) => redis.retention(),
        }
    }
}

/// Most lines waiting for the file store's writer thread, and most bytes of them: a stalled
/// disk must not cost more memory than this (bodies may be 512 KiB each). An entry whose line
/// does not fit is in memory already and reaches the file with the next rewrite.
const WRITE_QUEUE: usize = 4096;
/// See [`WRITE_QUEUE`].
const WRITE_QUEUE_BYTES: usize = 8 * 1024 * 1024;

/// The file store: entries in memory, appended to a JSON Lines file by a writer thread of
/// its own, the file rewritten without expired entries at most once a minute (and at least
/// once a minute while any entry has left memory, even if nothing new is recorded).
pub struct FileHistory {
    inner: Arc<FileInner>,
    writes: SyncSender<FileWrite>,
}

/// Work for the writer thread.
enum FileWrite {
    /// Append the line of entry `seq`, recorded at `now`.
    Append {
        seq: u64,
        line: Vec<u8>,
        now: OffsetDateTime,
    },
    /// Answer once every earlier write is done (the writer waits until the answer is taken).
    #[cfg(test)]
    Flush(SyncSender<()>),
}

struct FileInner {
    path: PathBuf,
    retention: Duration,
    max_items: usize,
    max_bytes: usize,
    prune_every: Duration,
    state: Mutex<FileState>,
    failures: AtomicU64,
    /// A full disk fails every write: one warning per period, not one per entry.
    warnings: WarnThrottle,
    /// Bytes of the lines queued for the writer thread.
    queued_bytes: AtomicUsize,
}

struct FileState {
    /// Oldest first, each with its size as a JSON line.
    items: VecDeque<(Arc<ReviewItem>, usize)>,
    /// Sum of the sizes.
    bytes: usize,
    /// Number of the last entry pushed (entries are numbered from 1).
    seq: u64,
    /// When the file was last rewritten.
    pruned_at: OffsetDateTime,
    /// Whether the file holds entries memory no longer does, or lacks some it does.
    stale: bool,
}

impl FileHistory {
    /// Opens (or creates) the history in `data_dir`, dropping entries expired at `now`.
    /// Unreadable lines (a torn last write) are skipped.
    pub fn open(
        data_dir: &Path,
        retention: Duration,
        now: OffsetDateTime,
    ) -> std::io::Result<FileHistory> {
        Self::open_limited(data_dir, retention, now, MAX_ITEMS, MAX_BYTES, PRUNE_EVERY)
    }

    /// [`FileHistory::open`] keeping at most `max_items` entries and `max_bytes` of them,
    /// rewriting the file at most (and, while stale, at least) every `prune_every`.
    fn open_limited(
        data_dir: &Path,
        retention: Duration,
        now: OffsetDateTime,
        max_items: usize,
        max_bytes: usize,
        prune_every: Duration,
    ) -> std::io::Result<FileHistory> {
        let path = data_dir.join(HISTORY_FILE);
        let mut state = FileState {
            items: VecDeque::new(),
            bytes: 0,
            seq: 0,
            pruned_at: OffsetDateTime::UNIX_EPOCH,
            stale: false,
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                for line in text.lines() {
                    if let Ok(item) = serde_json::from_str::<ReviewItem>(line) {
                        if !item.expired(now, retention) {
                            state.push(Arc::new(item), line.len() + 1);
                        }
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let inner = FileInner {
            path,
            retention,
            max_items,
            max_bytes,
            prune_every,
            state: Mutex::new(state),
            failures: AtomicU64::new(0),
            warnings: WarnThrottle::default(),
            queued_bytes: AtomicUsize::new(0),
        };
        // Rewrite now, so that what expired while the service was down leaves the disk too.
        let written_through = {
            let mut state = inner.state.lock().map_err(|_| poisoned())?;
            inner.drop_expired(&mut state, now);
            let items: Vec<Arc<ReviewItem>> = state.items.iter().map(|(i, _)| i.clone()).collect();
            inner.rewrite(&items)?;
            state.stale = false;
            state.seq
        };
        let inner = Arc::new(inner);
        let (writes, queued) = std::sync::mpsc::sync_channel(WRITE_QUEUE);
        let writer = inner.clone();
        // Ends when the last handle (and so the sender) is dropped.
        std::thread::Builder::new()
            .name("review-history".into())
            .spawn(move || writer.write_loop(&queued, written_through))?;
        Ok(FileHistory { inner, writes })
    }

    fn clone_handle(&self) -> FileHistory {
        FileHistory {
            inner: self.inner.clone(),
            writes: self.writes.clone(),
        }
    }

    /// Keeps `item` in memory and queues its line for the writer thread; drops what has
    /// expired at `now`. Never waits on the disk.
    pub fn record(&self, item: ReviewItem, now: OffsetDateTime) -> Result<(), HistoryError> {
        let inner = &self.inner;
        if item.expired(now, inner.retention) {
            return Ok(());
        }
        // Encoded before taking the lock: other requests wait on it.
        let mut line = serde_json::to_vec(&item)?;
        line.push(b'\n');
        let mut state = inner.state.lock().map_err(|_| poisoned())?;
        state.push(Arc::new(item), line.len());
        let seq = state.seq;
        inner.drop_expired(&mut state, now);
        let size = line.len();
        if inner.queued_bytes.fetch_add(size, Ordering::Relaxed) + size > WRITE_QUEUE_BYTES {
            inner.queued_bytes.fetch_sub(size, Ordering::Relaxed);
            state.stale = true;
            return Ok(());
        }
        // Sent under the lock, so that lines reach the writer in the order of `seq`.
        match self.writes.try_send(FileWrite::Append { seq, line, now }) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => {
                inner.queued_bytes.fetch_sub(size, Ordering::Relaxed);
                state.stale = true;
                Ok(())
            }
            Err(TrySendError::Disconnected(_)) => Err(HistoryError::Io(std::io::Error::other(
                "the review history's writer thread has stopped",
            ))),
        }
    }

    /// Every unexpired entry at `now`, newest first.
    pub fn items(&self, now: OffsetDateTime) -> Result<Vec<ReviewItem>, HistoryError> {
        let inner = &self.inner;
        // Copied outside the lock: recording must not wait for a large copy.
        let shared: Vec<Arc<ReviewItem>> = {
            let mut state = inner.state.lock().map_err(|_| poisoned())?;
            inner.drop_expired(&mut state, now);
            state
                .items
                .iter()
                .rev()
                .map(|(item, _)| item.clone())
                .collect()
        };
        Ok(shared.iter().map(|item| ReviewItem::clone(item)).collect())
    }

    /// Waits until the writer thread has done every write queued so far.
    #[cfg(test)]
    fn flush(&self) {
        let (done, wait) = std::sync::mpsc::sync_channel(0);
        self.writes.send(FileWrite::Flush(done)).unwrap();
        wait.recv().unwrap();
    }
}

impl FileState {
    fn push(&mut self, item: Arc<ReviewItem>, size: usize) {
        self.items.push_back((item, size));
        self.bytes += size;
        self.seq += 1;
    }

    fn pop_oldest(&mut self) {
        if let Some((_, size)) = self.items.pop_front() {
            self.bytes -= size;
        }
    }
}

impl FileInner {
    /// Drops expired and surplus entries from memory (marking the file stale if any went).
    fn drop_expired(&self, state: &mut FileState, now: OffsetDateTime) {
        let before = state.items.len();
        // Entries arrive in time order, so the expired ones are at the front.
        while state
            .items
            .front()
            .is_some_and(|(i, _)| i.expired(now, self.retention))
            || state.items.len() > self.max_items
            || state.bytes > self.max_bytes
        {
            state.pop_oldest();
        }
        state.stale |= state.items.len() != before;
    }

    /// The writer thread: appends queued lines and rewrites the file when it is stale and a
    /// minute has passed; with nothing queued for a minute, checks for expired entries
    /// anyway, so that they leave the disk even when nothing new is recorded. Lines of
    /// entries up to `written_through` are in the file already.
    fn write_loop(&self, queued: &Receiver<FileWrite>, mut written_through: u64) {
        let mut file: Option<std::fs::File> = None;
        loop {
            let now = match queued.recv_timeout(self.prune_every) {
                Ok(FileWrite::Append { seq, line, now }) => {
                    self.queued_bytes.fetch_sub(line.len(), Ordering::Relaxed);
                    // An entry a rewrite wrote already must not be there twice.
                    if seq > written_through {
                        if let Err(e) = self.append(&mut file, &line) {
                            file = None;
                            self.failed(&e);
                            // The next rewrite writes it from memory.
                            if let Ok(mut state) = self.state.lock() {
                                state.stale = true;
                            }
                        }
                    }
                    now
                }
                #[cfg(test)]
                Ok(FileWrite::Flush(done)) => {
                    let _ = done.send(());
                    continue;
                }
                Err(RecvTimeoutError::Timeout) => OffsetDateTime::now_utc(),
                Err(RecvTimeoutError::Disconnected) => return,
            };
            match self.prune(now) {
                Ok(Some(through)) => {
                    written_through = through;
                    // The open handle points at the replaced file.
                    file = None;
                }
                Ok(None) => {}
                Err(e) => self.failed(&e),
            }
        }
    }

    fn append(&self, file: &mut Option<std::fs::File>, line: &[u8]) -> std::io::Result<()> {
        if file.is_none() {
            *file = Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.path)?,
            );
        }
        match file {
            Some(file) => file.write_all(line),
            None => Ok(()),
        }
    }

    fn failed(&self, error: &std::io::Error) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        if let Some(held_back) = self.warnings.allow_now() {
            // The error names the file, never an entry.
            tracing::warn!(
                error = %error,
                similar_since_last_warning = held_back,
                "review history file not written"
            );
        }
    }

    /// Rewrites the file if it is stale and was last rewritten a minute or more before
    /// `now`; answers the number of the last entry the new file holds.
    fn prune(&self, now: OffsetDateTime) -> std::io::Result<Option<u64>> {
        let (items, through) = {
            let mut state = self.state.lock().map_err(|_| poisoned())?;
            self.drop_expired(&mut state, now);
            if !state.stale || now - state.pruned_at < self.prune_every {
                return Ok(None);
            }
            state.stale = false;
            state.pruned_at = now;
            let items: Vec<Arc<ReviewItem>> = state.items.iter().map(|(i, _)| i.clone()).collect();
            (items, state.seq)
        };
        // Written outside the lock: recording goes on meanwhile, and its lines (numbered
        // after `through`) are appended to the new file once it is in place.
        match self.rewrite(&items) {
            Ok(()) => Ok(Some(through)),
            Err(e) => {
                if let Ok(mut state) = self.state.lock() {
                    state.stale = true;
                }
                Err(e)
            }
        }
    }

    /// Replaces the file with `items`: written aside and synced, then renamed over it, so
    /// that a crash leaves the old file or the new one, never a truncated one.
    fn rewrite(&self, items: &[Arc<ReviewItem>]) -> std::io::Result<()> {
        let staged = self.path.with_extension("jsonl.tmp");
        let mut out = std::io::BufWriter::new(std::fs::File::create(&staged)?);
        for item in items {
            serde_json::to_writer(&mut out, &**item)?;
            out.write_all(b"\n")?;
        }
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&staged, &self.path)?;
        // The rename is durable only once the directory is synced.
        if let Some(dir) = self.path.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    }
}

fn poisoned() -> std::io::Error {
    std::io::Error::other("review history lock poisoned by an earlier panic")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, verdict: Verdict, at: OffsetDateTime, site: Option<&str>) -> ReviewItem {
        let assessment = Assessment {
            verdict,
            spam_probability: 0.6,
            reasons: vec![],
            tokens: vec![],
            model_version: "nb-test".into(),
        };
        let comment = Comment {
            content: format!("comment {id} see https://www.Spam.example/x and http://b.example"),
            author_url: Some("https://author.example/me".into()),
            site: site.map(str::to_owned),
            ..Default::default()
        };
        ReviewItem::new(id, at, &assessment, &comment)
    }

    fn pairs(query: &str) -> Vec<(String, String)> {
        query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_owned(), v.to_owned())
            })
            .collect()
    }

    /// 2026-05-01 12:00 UTC.
    fn t0() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_777_636_800).unwrap()
    }
    const DAY: Duration = Duration::from_secs(86_400);

    #[test]
    fn link_domains_come_from_the_body_and_the_author_url() {
        let i = item("a", Verdict::Hold, t0(), None);
        assert_eq!(
            i.link_domains,
            ["spam.example", "b.example", "author.example"]
        );
        assert!(needs_review(Verdict::Hold) && needs_review(Verdict::Discard));
        assert!(!needs_review(Verdict::Approve));
    }

    #[test]
    fn held_first_then_spam_newest_first_and_cursors_resume() {
        let items = vec![
            item("s1", Verdict::Spam, t0() + Duration::from_secs(50), None),
            item("h1", Verdict::Hold, t0(), None),
            item("h2", Verdict::Hold, t0() + Duration::from_secs(10), None),
            item("d1", Verdict::Discard, t0() + Duration::from_secs(5), None),
        ];
        let mut query = parse_queue_query(&pairs("limit=3")).unwrap();
        let first = page(items.clone(), &query, DAY, |_| None);
        let ids: Vec<&str> = first
            .items
            .iter()
            .map(|r| r.item.verdict_id.as_str())
            .collect();
        assert_eq!(ids, ["h2", "h1", "s1"]);
        let cursor = first.next_cursor.expect("a next page");
        query = parse_queue_query(&pairs(&format!("limit=3&cursor={cursor}"))).unwrap();
        let second = page(items.clone(), &query, DAY, |_| None);
        let ids: Vec<&str> = second
            .items
            .iter()
            .map(|r| r.item.verdict_id.as_str())
            .collect();
        assert_eq!(ids, ["d1"]);
        assert_eq!(second.next_cursor, None);
        // Exactly a page: no next cursor.
        let query = parse_queue_query(&pairs("limit=4")).unwrap();
        assert_eq!(page(items, &query, DAY, |_| None).next_cursor, None);
    }

    #[test]
    fn filters_by_site_verdict_and_label() {
        let items = vec![
            item("a", Verdict::Hold, t0(), Some("https://Blog.example.com/")),
            item("b", Verdict::Spam, t0(), Some("https://other.example")),
            item("c", Verdict::Hold, t0(), None),
        ];
        let ids = |q: &str, labelled: &[&str]| -> Vec<String> {
            let query = parse_queue_query(&pairs(q)).unwrap();
            page(items.clone(), &query, DAY, |i| {
                labelled
                    .contains(&i.verdict_id.as_str())
                    .then_some(Label::Spam)
            })
            .items
            .into_iter()
            .map(|r| r.item.verdict_id)
            .collect()
        };
        assert_eq!(ids("site=https://blog.example.com", &[]), ["a"]);
        assert_eq!(ids("verdict=spam", &[]), ["b"]);
        assert_eq!(ids("", &["a"]), ["c", "b"], "pending by default");
        assert_eq!(ids("status=labelled", &["a"]), ["a"]);
        assert_eq!(ids("status=all", &["a"]).len(), 3);
        let sites = page(
            items,
            &QueueQuery {
                limit: 1,
                ..Default::default()
            },
            DAY,
            |_| None,
        )
        .sites;
        assert_eq!(sites, ["https://blog.example.com", "https://other.example"]);
    }

    #[test]
    fn bad_queries_are_refused_without_echoing() {
        for q in [
            "verdict=approve",
            "status=done",
            "limit=0",
            "limit=201",
            "limit=x",
            "cursor=2.1.abc",
            "cursor=0.x.abc",
            "cursor=0.1.<script>",
            "cursor=0.1",
        ] {
            let err = parse_queue_query(&pairs(q)).expect_err(q);
            assert!(!err.contains("<script>"), "{q}: {err}");
        }
        assert!(parse_queue_query(&pairs("other=1&site=&cursor=")).is_ok());
    }

    #[test]
    fn the_file_store_forgets_after_the_retention_and_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let retention = Duration::from_secs(3600);
        let store = FileHistory::open(dir.path(), retention, t0()).unwrap();
        store
            .record(item("old", Verdict::Hold, t0(), None), t0())
            .unwrap();
        let later = t0() + Duration::from_secs(1800);
        store
            .record(item("new", Verdict::Spam, later, None), later)
            .unwrap();
        let ids = |items: Vec<ReviewItem>| -> Vec<String> {
            items.into_iter().map(|i| i.verdict_id).collect()
        };
        assert_eq!(ids(store.items(later).unwrap()), ["new", "old"]);
        // Reopened: both still there.
        store.flush();
        let store = FileHistory::open(dir.path(), retention, later).unwrap();
        assert_eq!(ids(store.items(later).unwrap()), ["new", "old"]);
        // An hour after the first: it is gone from reads, and from the file on the next write.
        let expiry = t0() + retention;
        assert_eq!(ids(store.items(expiry).unwrap()), ["new"]);
        store
            .record(item("newest", Verdict::Hold, expiry, None), expiry)
            .unwrap();
        store.flush();
        let text = std::fs::read_to_string(dir.path().join(HISTORY_FILE)).unwrap();
        assert!(!text.contains("\"old\""), "expired entry still on disk");
        assert_eq!(text.lines().count(), 2);
        // An entry recorded already expired is not kept.
        let way_later = expiry + retention * 2;
        store
            .record(item("late", Verdict::Hold, t0(), None), way_later)
            .unwrap();
        assert!(store.items(way_later).unwrap().is_empty());
        // Reopened after everything expired: the file is emptied at start.
        FileHistory::open(dir.path(), retention, way_later).unwrap();
        let text = std::fs::read_to_string(dir.path().join(HISTORY_FILE)).unwrap();
        assert!(text.is_empty(), "{text}");
    }

    #[test]
    fn the_file_store_keeps_at_most_its_count_and_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let size = serde_json::to_vec(&item("a0", Verdict::Hold, t0(), None))
            .unwrap()
            .len()
            + 1;
        // Room for 3 entries by count, 2 by bytes.
        let store =
            FileHistory::open_limited(dir.path(), DAY, t0(), 3, size * 2 + 1, PRUNE_EVERY).unwrap();
        for n in 0..4 {
            let at = t0() + Duration::from_secs(n);
            store
                .record(item(&format!("a{n}"), Verdict::Hold, at, None), at)
                .unwrap();
        }
        let ids: Vec<String> = store
            .items(t0())
            .unwrap()
            .into_iter()
            .map(|i| i.verdict_id)
            .collect();
        assert_eq!(ids, ["a3", "a2"]);
        store.flush();
        let store =
            FileHistory::open_limited(dir.path(), DAY, t0(), 1, usize::MAX, PRUNE_EVERY).unwrap();
        assert_eq!(
            store.items(t0()).unwrap().len(),
            1,
            "limits apply when reopening"
        );
    }

    #[test]
    fn a_torn_last_line_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileHistory::open(dir.path(), DAY, t0()).unwrap();
        store
            .record(item("a", Verdict::Hold, t0(), None), t0())
            .unwrap();
        store.flush();
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join(HISTORY_FILE))
            .unwrap();
        file.write_all(b"{\"verdict_id\":\"torn").unwrap();
        let store = FileHistory::open(dir.path(), DAY, t0()).unwrap();
        assert_eq!(store.items(t0()).unwrap().len(), 1);
    }

    #[test]
    fn a_cursor_at_the_edge_of_i64_is_refused_not_a_panic() {
        for q in [
            "cursor=0.-9223372036854775808.abc",
            "cursor=1.9223372036854775808.abc",
        ] {
            assert!(parse_queue_query(&pairs(q)).is_err(), "{q}");
        }
        // The largest negatable value is still a cursor (it pages past everything).
        assert!(parse_queue_query(&pairs("cursor=0.-9223372036854775807.abc")).is_ok());
    }

    #[test]
    fn expired_entries_leave_the_file_even_when_nothing_new_is_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let retention = Duration::from_secs(2);
        let now = OffsetDateTime::now_utc();
        let store = FileHistory::open_limited(
            dir.path(),
            retention,
            now,
            MAX_ITEMS,
            MAX_BYTES,
            Duration::from_millis(50),
        )
        .unwrap();
        store
            .record(item("gone", Verdict::Hold, now, None), now)
            .unwrap();
        store.flush();
        let path = dir.path().join(HISTORY_FILE);
        assert!(std::fs::read_to_string(&path).unwrap().contains("\"gone\""));
        // No read and no write: the writer thread's own check must delete it. Generous for a
        // loaded CI machine; it normally takes well under a second.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while std::fs::read_to_string(&path).unwrap().contains("\"gone\"") {
            assert!(
                std::time::Instant::now() < deadline,
                "expired entry still on disk"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        drop(store);
    }

    #[test]
    fn concurrent_records_reach_the_file_once_while_it_is_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        // Room for fewer entries than are recorded, so entries leave memory and the file is
        // rewritten (every millisecond at most) while other threads record. In real time:
        // the writer's idle checks use the clock.
        let t0 = OffsetDateTime::now_utc;
        let store = FileHistory::open_limited(
            dir.path(),
            DAY,
            t0(),
            150,
            MAX_BYTES,
            Duration::from_millis(1),
        )
        .unwrap();
        std::thread::scope(|scope| {
            for t in 0..4 {
                let store = &store;
                scope.spawn(move || {
                    for n in 0..100 {
                        let at = t0() + Duration::from_millis(n);
                        store
                            .record(item(&format!("t{t}n{n}"), Verdict::Hold, at, None), at)
                            .unwrap();
                    }
                });
            }
        });
        store.flush();
        let text = std::fs::read_to_string(dir.path().join(HISTORY_FILE)).unwrap();
        let mut on_disk: Vec<String> = text
            .lines()
            .map(|l| serde_json::from_str::<ReviewItem>(l).unwrap().verdict_id)
            .collect();
        let lines = on_disk.len();
        on_disk.sort();
        on_disk.dedup();
        assert_eq!(on_disk.len(), lines, "an entry written twice");
        let in_memory = store.items(t0() + Duration::from_secs(1)).unwrap();
        assert_eq!(in_memory.len(), 150);
        for kept in in_memory {
            assert!(
                on_disk.binary_search(&kept.verdict_id).is_ok(),
                "{} lost",
                kept.verdict_id
            );
        }
    }

    #[test]
    fn a_failing_disk_costs_no_answer_and_is_counted() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileHistory::open(dir.path(), DAY, t0()).unwrap();
        // A directory where the file should be: every append fails.
        let path = dir.path().join(HISTORY_FILE);
        std::fs::remove_file(&path).unwrap();
        std::fs::create_dir(&path).unwrap();
        store
            .record(item("a", Verdict::Hold, t0(), None), t0())
            .unwrap();
        store.flush();
        assert_eq!(store.items(t0()).unwrap().len(), 1, "still shown");
        assert!(store.inner.failures.load(Ordering::Relaxed) >= 1);
    }

    #[test]
    fn a_stalled_disk_queues_a_bounded_number_of_bytes_and_loses_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileHistory::open(dir.path(), DAY, t0()).unwrap();
        // The writer thread stops at this until the test takes the answer: a stalled disk.
        let (done, stalled) = std::sync::mpsc::sync_channel(0);
        store.writes.send(FileWrite::Flush(done)).unwrap();
        // 60 × 200 KiB: past the write queue's budget, within the memory budget.
        let big = "x".repeat(200 * 1024);
        const ENTRIES: usize = 60;
        assert!(ENTRIES * big.len() > WRITE_QUEUE_BYTES && ENTRIES * big.len() < MAX_BYTES);
        for n in 0..ENTRIES {
            let mut entry = item(&format!("b{n}"), Verdict::Hold, t0(), None);
            entry.comment.content = big.clone();
            store.record(entry, t0()).unwrap();
            assert!(store.inner.queued_bytes.load(Ordering::Relaxed) <= WRITE_QUEUE_BYTES);
        }
        stalled.recv().unwrap();
        store.flush();
        // What did not fit in the queue came with the rewrite.
        let text = std::fs::read_to_string(dir.path().join(HISTORY_FILE)).unwrap();
        assert_eq!(text.lines().count(), ENTRIES);
        assert_eq!(store.inner.queued_bytes.load(Ordering::Relaxed), 0);
    }
}
