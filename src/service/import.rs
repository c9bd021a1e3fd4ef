//! Importing moderation history: records from [`crate::import`]'s parsers go into the label
//! book in batches, through the same durable path as a moderator's correction
//! ([`LabelBook::record_many`]: the label log, fsync'd, pins, spam memory, online learning),
//! each label marked with its origin (`import:wordpress-dump`, …).
//!
//! Semantics, for the HTTP job and the offline command alike: labels are written in batches
//! of [`BATCH`] records, each batch durable (one fsync) before it is counted as committed.
//! Bad input stops the import at the first error, with its line or byte offset; the batches
//! before it stay committed (they are valid labels, and importing the corrected file again
//! skips them as duplicates), the unfinished batch is dropped, and the job says how many
//! were committed. A file smaller than one batch is therefore all or nothing. Importing the
//! same file twice adds nothing: a comment already labelled the same way (same fingerprint,
//! as pins use) is counted as a duplicate.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use time::OffsetDateTime;

use crate::domain::Label;
use crate::import::{self, BadInput, Format, Record, SkipReason, Stop};
use crate::labels::{Correction, LabelBook, Recorded};
use crate::retrain::{share_job, JobState, SharedJobs};

/// Least time between two writes of a running import's counts to the shared store.
const SHARE_EVERY: Duration = Duration::from_secs(1);

/// Records per committed batch.
pub const BATCH: usize = 1000;

/// An import's counts so far.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ImportCounts {
    /// Bytes of the file received (compressed, for a gzip file).
    pub bytes_received: u64,
    /// Records read (comments, imported or not).
    pub records_read: u64,
    /// New spam labels.
    pub imported_spam: u64,
    /// New ham labels.
    pub imported_ham: u64,
    /// Of the new labels, those that changed an earlier label of the same comment.
    pub relabelled: u64,
    /// Comments that already had the same label (a file imported twice adds nothing).
    pub duplicates: u64,
    /// Records not imported, by reason (`pending`, `trash`, `pingback`, …).
    #[schema(value_type = BTreeMap<String, u64>)]
    pub skipped: BTreeMap<SkipReason, u64>,
    /// Labelled records made durable (new labels and duplicates alike).
    pub committed: u64,
}

/// Why an import stopped before the end of its file.
#[derive(Debug)]
pub enum ImportFailure {
    /// The file is bad at a position.
    Input(Box<BadInput>),
    /// The label store could not write; the batches before stay committed.
    Store(io::Error),
}

impl std::fmt::Display for ImportFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImportFailure::Input(e) => write!(f, "{e}"),
            ImportFailure::Store(e) => write!(f, "the label store cannot write: {e}"),
        }
    }
}

/// What an import needs besides its input.
#[derive(Debug, Clone, Default)]
pub struct ImportRequest {
    /// The named format; detected when absent.
    pub format: Option<Format>,
    /// The site (normalised), when given.
    pub site: Option<String>,
    /// The key that asked, for the labels' `key_id`.
    pub key_id: Option<String>,
}

/// Reads `input` to its end into `labels`; see the module docs. `progress` sees the counts
/// after each committed batch (and at the end), `recorded` each label recorded with its
/// comment's text (for the fuzzy fingerprints, which live outside the book); `on_format`
/// is told the format once it is known. Blocks on the disk.
pub fn import_into(
    labels: &LabelBook,
    input: impl Read,
    request: &ImportRequest,
    on_format: &mut dyn FnMut(Format),
    progress: &mut dyn FnMut(&ImportCounts),
    recorded: &mut dyn FnMut(&Recorded, &str),
) -> Result<ImportCounts, (ImportCounts, ImportFailure)> {
    let mut counts = ImportCounts::default();
    let opened = match import::open(input, request.format) {
        Ok(opened) => opened,
        Err(e) => return Err((counts, ImportFailure::Input(Box::new(e)))),
    };
    let format = opened.format;
    on_format(format);
    let origin = format.origin();
    let mut batch: Vec<Correction> = Vec::with_capacity(BATCH);
    let mut store_error = None;
    let mut commit = |batch: &mut Vec<Correction>, counts: &mut ImportCounts| -> Result<(), Stop> {
        if batch.is_empty() {
            return Ok(());
        }
        let contents: Vec<String> = batch.iter().map(|c| c.comment.content.clone()).collect();
        let answers = labels.record_many(std::mem::take(batch)).map_err(|e| {
            let message = e.to_string();
            store_error = Some(e);
            Stop::Sink(anyhow::anyhow!(message))
        })?;
        count_recorded(counts, &answers, &contents, recorded);
        tracing::debug!(
            records_read = counts.records_read,
            committed = counts.committed,
            imported_spam = counts.imported_spam,
            imported_ham = counts.imported_ham,
            duplicates = counts.duplicates,
            "import batch committed"
        );
        progress(counts);
        Ok(())
    };
    let result = {
        let mut sink = |record: Record| -> Result<(), Stop> {
            counts.records_read += 1;
            match record {
                Record::Skipped(reason) => *counts.skipped.entry(reason).or_default() += 1,
                Record::Labelled(comment, label) => {
                    batch.push(Correction {
                        comment: *comment,
                        label,
                        verdict_id: None,
                        moderator: None,
                        note: None,
                        key_id: request.key_id.clone(),
                        origin: Some(origin.clone()),
                    });
                    if batch.len() == BATCH {
                        commit(&mut batch, &mut counts)?;
                    }
                }
            }
            Ok(())
        };
        opened.parse(request.site.as_deref(), &mut sink)
    };
    let result = result.and_then(|()| commit(&mut batch, &mut counts));
    match result {
        Ok(()) => Ok(counts),
        Err(Stop::Input(e)) => Err((counts, ImportFailure::Input(Box::new(e)))),
        Err(Stop::Sink(e)) => {
            let error = store_error.unwrap_or_else(|| io::Error::other(e.to_string()));
            Err((counts, ImportFailure::Store(error)))
        }
    }
}

fn count_recorded(
    counts: &mut ImportCounts,
    answers: &[Recorded],
    contents: &[String],
    recorded: &mut dyn FnMut(&Recorded, &str),
) {
    for (answer, content) in answers.iter().zip(contents) {
        counts.committed += 1;
        if answer.duplicate {
            counts.duplicates += 1;
            continue;
        }
        match answer.label {
            Label::Spam => counts.imported_spam += 1,
            Label::Ham => counts.imported_ham += 1,
        }
        if answer.previous.is_some() {
            counts.relabelled += 1;
        }
        recorded(answer, content);
    }
}

/// An import job as `GET /v1/admin/jobs/{job_id}` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ImportJob {
    /// Its id.
    pub job_id: String,
    /// Always `import` (retraining jobs have no `kind`).
    pub kind: &'static str,
    /// `running`, `succeeded` or `failed`.
    #[schema(value_type = String)]
    pub state: JobState,
    /// The site named in the request.
    pub site: Option<String>,
    /// The format named or detected.
    pub format: Option<Format>,
    /// Who asked: a key id or `open-mode`.
    pub triggered_by: String,
    /// The counts so far.
    #[serde(flatten)]
    pub counts: ImportCounts,
    /// What stopped it, when failed: code, message, line and byte offset.
    pub error: Option<BadInput>,
    /// When it was accepted.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// Seconds from start to end.
    pub duration_secs: Option<f64>,
}

/// The import jobs of this process: at most one runs at a time.
#[derive(Debug, Default)]
pub struct ImportJobs {
    records: Mutex<HashMap<String, (ImportJob, Option<Instant>)>>,
    running: AtomicBool,
    shared: Option<Arc<dyn SharedJobs>>,
    /// When the running job's record was last written to `shared`.
    shared_at: Mutex<Option<Instant>>,
}

impl ImportJobs {
    /// Import jobs whose records are also written to `shared` for the other replicas.
    pub fn shared(shared: Arc<dyn SharedJobs>) -> Self {
        ImportJobs {
            shared: Some(shared),
            ..ImportJobs::default()
        }
    }

    /// Writes a job's record to the shared store, if any. Blocks: call it off the async
    /// runtime.
    pub fn share(&self, job_id: &str) {
        if self.shared.is_none() {
            return;
        }
        if let Some(job) = self.get(job_id) {
            *self.shared_at.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
            share_job(self.shared.as_ref(), job_id, &job);
        }
    }

    /// Like [`ImportJobs::share`], at most once per [`SHARE_EVERY`] (for progress).
    pub fn share_now_and_then(&self, job_id: &str) {
        let due = self
            .shared_at
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_none_or(|at| at.elapsed() >= SHARE_EVERY);
        if due {
            self.share(job_id);
        }
    }

    /// Accepts a job unless one is running; returns its id.
    pub fn try_start(
        &self,
        site: Option<String>,
        format: Option<Format>,
        triggered_by: String,
    ) -> Option<String> {
        if self.running.swap(true, Ordering::AcqRel) {
            return None;
        }
        let job_id = format!("import-{:016x}", rand::random::<u64>());
        let job = ImportJob {
            job_id: job_id.clone(),
            kind: "import",
            state: JobState::Running,
            site,
            format,
            triggered_by,
            counts: ImportCounts::default(),
            error: None,
            created_at: OffsetDateTime::now_utc(),
            duration_secs: None,
        };
        self.lock()
            .insert(job_id.clone(), (job, Some(Instant::now())));
        Some(job_id)
    }

    /// The id of the job this replica is running, if any.
    pub fn running_id(&self) -> Option<String> {
        self.lock()
            .values()
            .find(|(job, _)| job.state == JobState::Running)
            .map(|(job, _)| job.job_id.clone())
    }

    /// A job's record.
    pub fn get(&self, job_id: &str) -> Option<ImportJob> {
        self.lock().get(job_id).map(|(job, _)| job.clone())
    }

    /// Changes a running job's record.
    pub fn update(&self, job_id: &str, change: impl FnOnce(&mut ImportJob)) {
        if let Some((job, _)) = self.lock().get_mut(job_id) {
            change(job);
        }
    }

    /// Ends a job with `outcome` (counts, and the failure if any); frees the slot.
    pub fn finish(&self, job_id: &str, counts: ImportCounts, failure: Option<&ImportFailure>) {
        if let Some((job, started)) = self.lock().get_mut(job_id) {
            let received = job.counts.bytes_received;
            job.counts = ImportCounts {
                bytes_received: received.max(counts.bytes_received),
                ..counts
            };
            job.duration_secs = started.take().map(|s| s.elapsed().as_secs_f64());
            job.state = match failure {
                None => JobState::Succeeded,
                Some(_) => JobState::Failed,
            };
            job.error = failure.map(failure_detail);
        }
        // Shared before the slot is freed, so the final record is never overwritten.
        self.share(job_id);
        self.running.store(false, Ordering::Release);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (ImportJob, Option<Instant>)>> {
        self.records.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A failure as the job shows it.
pub fn failure_detail(failure: &ImportFailure) -> BadInput {
    match failure {
        ImportFailure::Input(e) => (**e).clone(),
        ImportFailure::Store(e) => BadInput {
            code: "label_store_unavailable",
            message: format!("the label store cannot write: {e}"),
            line: None,
            offset: None,
        },
    }
}

/// The request body as the parser's input: chunks arrive through a bounded channel from the
/// task reading the upload, so at most a few chunks are ever held, however large the file.
#[derive(Debug)]
pub struct ChannelReader {
    chunks: tokio::sync::mpsc::Receiver<io::Result<bytes::Bytes>>,
    current: bytes::Bytes,
}

impl ChannelReader {
    /// Reads what `chunks` receives, to its close (the end of the body) or an error.
    pub fn new(chunks: tokio::sync::mpsc::Receiver<io::Result<bytes::Bytes>>) -> Self {
        ChannelReader {
            chunks,
            current: bytes::Bytes::new(),
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.chunks.blocking_recv() {
                Some(Ok(chunk)) => self.current = chunk,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        bytes::Buf::advance(&mut self.current, n);
        Ok(n)
    }
}
