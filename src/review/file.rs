//! The review history's file store: entries in memory, mirrored in a JSON Lines file in the
//! data directory by a writer thread of its own, so that recording never waits on the disk.

use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use time::OffsetDateTime;

use super::{HistoryError, ItemsFuture, ReviewItem, ReviewStore, MAX_BYTES, MAX_ITEMS};
use crate::telemetry::WarnThrottle;

/// File of the file store, in the data directory.
pub const HISTORY_FILE: &str = "review-history.jsonl";
/// The file store rewrites its file (dropping expired entries) at most this often.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

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

    /// [`FileHistory::open`] keeping at most `max_bytes` of entries in memory (and at most
    /// [`MAX_ITEMS`]): the service gives it its share of the memory budget.
    pub fn open_within(
        data_dir: &Path,
        retention: Duration,
        now: OffsetDateTime,
        max_bytes: usize,
    ) -> std::io::Result<FileHistory> {
        Self::open_limited(data_dir, retention, now, MAX_ITEMS, max_bytes, PRUNE_EVERY)
    }

    /// Bytes (as JSON lines) of the entries held in memory.
    pub fn bytes_in_memory(&self) -> usize {
        self.inner.state.lock().map_or(0, |state| state.bytes)
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
    fn keep(&self, item: ReviewItem, now: OffsetDateTime) -> Result<(), HistoryError> {
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

    /// Every unexpired entry at `now`, newest first, copied on the calling thread
    /// ([`ReviewStore::items`] moves the copy off the async runtime).
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

impl ReviewStore for FileHistory {
    /// Updates memory at once and leaves the disk to the writer thread.
    fn record(&self, item: ReviewItem, now: OffsetDateTime) -> Result<(), HistoryError> {
        let result = self.keep(item, now);
        if result.is_err() {
            self.inner.failures.fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    fn items(&self, now: OffsetDateTime) -> ItemsFuture<'_> {
        let file = self.clone_handle();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || file.items(now))
                .await
                .map_err(|e| HistoryError::Io(std::io::Error::other(e)))?
        })
    }

    fn errors(&self) -> u64 {
        self.inner.failures.load(Ordering::Relaxed)
    }

    fn retention(&self) -> Duration {
        self.inner.retention
    }

    fn kind(&self) -> &'static str {
        "file"
    }
}

fn poisoned() -> std::io::Error {
    std::io::Error::other("review history lock poisoned by an earlier panic")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Verdict;
    use crate::review::tests::{item, t0, DAY};

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
