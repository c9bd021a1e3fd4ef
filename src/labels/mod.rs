//! Moderator labels: the durable log, the index that pins labelled comments, the spam
//! memory, and learning from each label at once.
//!
//! [`LabelBook::record`] is the one way a label enters the service: it decides whether the
//! label is new, a repeat (counted once) or a relabel (which reverses the earlier one),
//! appends it to the log and fsyncs, and only then applies it: the comment is pinned to
//! the label, the spam memory learns its sender and domains, and the live model's counts
//! move (a copy is updated and swapped in, so scoring never waits). At start the log is
//! replayed onto the model loaded from disk, so the same labels always give the same model.
//!
//! Labels pin by a content fingerprint (canonical body, author name, e-mail and URL), not
//! through the verdict cache, so a pin survives restarts, cache expiry and a Redis outage.

mod log;
mod memory;
mod stages;

pub use log::{LabelLog, RecordHead, ReplayReport, LABELS_FILE};
pub use memory::{MemoryKeys, SpamMemory, DOMAIN_WEIGHT};
pub use stages::{Stage, StageClock, StageTotal};

use std::collections::HashMap;
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use xxhash_rust::xxh3::Xxh3;

use crate::classifier::{ExtractedDoc, NbParams};
use crate::domain::{Assessment, Comment, Label, Reason, Verdict};
use crate::rules::RuleHit;
use crate::scoring::{LiveScorer, Scorer};
use crate::text::{canonicalize, NormalizedText};

/// Default number of times one moderator label counts in the model's counts.
///
/// A corpus example counts once; a moderator's label is worth more, both because it is
/// checked by a human and because it is about this site's traffic. Chosen with
/// `commentguard replay` (see README).
pub const DEFAULT_LABEL_WEIGHT: f32 = 2.0;

/// A comment's identity for labels: canonical body, author name, e-mail and URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub u128);

impl Fingerprint {
    /// The fingerprint of `comment`.
    pub fn of(comment: &Comment) -> Self {
        Self::with_canonical_content(comment, &canonicalize(&comment.content))
    }

    /// [`Fingerprint::of`] when the caller already has `canonicalize(&comment.content)`.
    pub fn with_canonical_content(comment: &Comment, content: &str) -> Self {
        let mut h = Xxh3::new();
        let mut field = |value: &str| {
            // A length prefix keeps ("ab", "c") and ("a", "bc") apart.
            h.update(&(value.len() as u64).to_le_bytes());
            h.update(value.as_bytes());
        };
        field(content);
        let canonical = |v: &Option<String>| v.as_deref().map(canonicalize).unwrap_or_default();
        field(&canonical(&comment.author));
        field(&canonical(&comment.author_email).to_lowercase());
        field(&canonical(&comment.author_url));
        Fingerprint(h.digest128())
    }

    /// 32 lowercase hex digits.
    pub fn to_hex(self) -> String {
        format!("{:032x}", self.0)
    }
}

/// One line of the label log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelRecord {
    /// Position in the log, from 1.
    pub seq: u64,
    /// Random id answered to the moderator.
    pub label_id: String,
    /// [`Fingerprint`] of the comment, hex.
    pub fingerprint: String,
    /// The moderator's label.
    pub label: Label,
    /// The label this one replaces, for a relabel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<Label>,
    /// The comment as labelled (needed to learn it again at start and to retrain).
    pub comment: Comment,
    /// The verdict being corrected, when the label came by verdict id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict_id: Option<String>,
    /// Who labelled it, as the client said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moderator: Option<String>,
    /// Free-text note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Public id of the API key that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// Where the label came from when not from a moderator's correction, e.g.
    /// `import:wordpress-dump`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// When it was recorded.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A correction to record.
#[derive(Debug, Clone, PartialEq)]
pub struct Correction {
    /// The comment, validated.
    pub comment: Comment,
    /// The moderator's label.
    pub label: Label,
    /// The verdict being corrected, if known.
    pub verdict_id: Option<String>,
    /// Who labelled it.
    pub moderator: Option<String>,
    /// Free-text note.
    pub note: Option<String>,
    /// Public id of the key that sent it.
    pub key_id: Option<String>,
    /// Where it came from when not from a moderator (an import names its format).
    pub origin: Option<String>,
}

/// What recording a correction did.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Recorded {
    /// The label's id (the earlier one for a repeat).
    pub label_id: String,
    /// Its position in the log.
    pub seq: u64,
    /// The label in force now.
    pub label: Label,
    /// The label this one replaced, for a relabel.
    pub previous: Option<Label>,
    /// True when the comment already had this label: nothing new was recorded or learned.
    pub duplicate: bool,
    /// The comment's fingerprint, hex.
    pub fingerprint: String,
}

impl Recorded {
    /// The answer for a label newly appended as `record`.
    fn new_label(record: &LabelRecord) -> Recorded {
        Recorded {
            label_id: record.label_id.clone(),
            seq: record.seq,
            label: record.label,
            previous: record.previous,
            duplicate: false,
            fingerprint: record.fingerprint.clone(),
        }
    }

    /// The answer for a label already in force (`label_id` at `seq`): nothing recorded.
    fn repeat(label_id: String, seq: u64, label: Label, fingerprint: Fingerprint) -> Recorded {
        Recorded {
            label_id,
            seq,
            label,
            previous: None,
            duplicate: true,
            fingerprint: fingerprint.to_hex(),
        }
    }
}

/// The label a comment is pinned to.
#[derive(Debug, Clone, PartialEq)]
pub struct Pin {
    /// The moderator's label.
    pub label: Label,
    /// Its id.
    pub label_id: String,
    /// Its position in the log.
    pub seq: u64,
    /// The IP a spam label put in the spam memory. The IP is not part of the fingerprint,
    /// so a relabel may come from elsewhere; a relabel to ham must clear this one.
    pub remembered_ip: Option<String>,
}

impl Pin {
    /// The verdict a pinned comment gets.
    pub fn verdict(&self) -> Verdict {
        match self.label {
            Label::Spam => Verdict::Spam,
            Label::Ham => Verdict::Approve,
        }
    }

    /// The reason a pinned verdict gives first.
    pub fn reason(&self) -> Reason {
        Reason {
            id: "moderator.label".into(),
            detail: format!(
                "a moderator labelled this comment {} (label {})",
                match self.label {
                    Label::Spam => "spam",
                    Label::Ham => "not spam",
                },
                self.label_id
            ),
        }
    }
}

/// Labels in force (latest per fingerprint) and the spam memory built from them.
#[derive(Debug, Default)]
struct Index {
    current: HashMap<Fingerprint, Pin>,
    memory: SpamMemory,
}

impl Index {
    fn apply(&mut self, fingerprint: Fingerprint, record: &LabelRecord) {
        let keys = MemoryKeys::of(&record.comment);
        if record.label == Label::Ham {
            let earlier_ip = self
                .current
                .get(&fingerprint)
                .and_then(|pin| pin.remembered_ip.clone())
                .filter(|ip| keys.ip.as_ref() != Some(ip));
            if let Some(ip) = earlier_ip {
                let earlier = MemoryKeys {
                    ip: Some(ip),
                    ..MemoryKeys::default()
                };
                self.memory.apply(&earlier, Label::Ham);
            }
        }
        self.memory.apply(&keys, record.label);
        self.current.insert(
            fingerprint,
            Pin {
                label: record.label,
                label_id: record.label_id.clone(),
                seq: record.seq,
                remembered_ip: (record.label == Label::Spam).then_some(keys.ip).flatten(),
            },
        );
    }
}

/// Name of the file holding the label log's id inside the data directory.
pub const LOG_ID_FILE: &str = "labels.id";

/// The id of the label log in `data_dir`, created on first use. Log positions only mean
/// something within one log: a model trained by a replica with another log has none of
/// this log's labels, whatever its `labels_through` says.
pub fn log_id(data_dir: &Path) -> io::Result<String> {
    let path = data_dir.join(LOG_ID_FILE);
    match std::fs::read_to_string(&path) {
        Ok(id) if !id.trim().is_empty() => return Ok(id.trim().to_owned()),
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let id = format!("{:032x}", rand::random::<u128>());
    let tmp = data_dir.join(format!("{LOG_ID_FILE}.{:016x}.tmp", rand::random::<u64>()));
    {
        use std::io::Write;
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(id.as_bytes())?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, &path)?;
    std::fs::File::open(data_dir)?.sync_all()?;
    Ok(id)
}

/// The labels a model trained on `labels_through` of log `labels_log` already includes
/// from the log `local`: all of them up to that position if it is the same log, else none.
pub fn included_labels(labels_log: Option<&str>, labels_through: u64, local: &str) -> u64 {
    if labels_log == Some(local) {
        labels_through
    } else {
        0
    }
}

/// Applies a record's counts to a model: reverse the replaced label, add the new one.
fn learn(scorer: &mut Scorer, record: &LabelRecord, weight: f32) {
    if let Some(previous) = record.previous {
        scorer.learn(&record.comment, previous, -weight);
    }
    scorer.learn(&record.comment, record.label, weight);
}

/// Labels replayed per batch at start.
const REPLAY_BATCH: usize = 2048;

/// [`learn`] for records in order, in one batch.
fn learn_all(scorer: &mut Scorer, records: &[LabelRecord], weight: f32) {
    scorer.learn_many(&learn_items(records, weight));
}

/// What [`learn_all`] gives the scorer: per record, the replaced label reversed, then the
/// new one.
fn learn_items(records: &[LabelRecord], weight: f32) -> Vec<(&Comment, Label, f32)> {
    let mut items = Vec::with_capacity(records.len() * 2);
    for record in records {
        if let Some(previous) = record.previous {
            items.push((&record.comment, previous, -weight));
        }
        items.push((&record.comment, record.label, weight));
    }
    items
}

/// Features extracted by the first run of a live change, for its second (on the spare),
/// with the model parameters they were extracted for.
type Extracted = OnceLock<(NbParams, Vec<ExtractedDoc>)>;

/// [`learn_all`] as a live change that runs twice: the features are extracted on the
/// first run and counted again on the second, the costlier half done once.
fn learn_all_once(scorer: &mut Scorer, records: &[LabelRecord], weight: f32, cache: &Extracted) {
    let items = learn_items(records, weight);
    let params = *scorer.model().params();
    match cache.get() {
        Some((extracted_for, docs)) if *extracted_for == params => {
            scorer.learn_extracted(&items, docs)
        }
        Some(_) => scorer.learn_many(&items),
        None => {
            let (_, docs) = cache.get_or_init(|| (params, scorer.extract_many(&items)));
            scorer.learn_extracted(&items, docs);
        }
    }
}

impl LabelRecord {
    /// The record `correction` becomes at position `seq`, with a fresh label id.
    pub fn of_correction(
        seq: u64,
        fingerprint: String,
        previous: Option<Label>,
        correction: Correction,
    ) -> LabelRecord {
        LabelRecord {
            seq,
            label_id: format!("{:032x}", rand::random::<u128>()),
            fingerprint,
            label: correction.label,
            previous,
            comment: correction.comment,
            verdict_id: correction.verdict_id,
            moderator: correction.moderator,
            note: correction.note,
            key_id: correction.key_id,
            origin: correction.origin,
            created_at: OffsetDateTime::now_utc(),
        }
    }
}

/// The answer for a label a shared store appended (or found already in force), `wanted`
/// being the label asked for.
fn recorded_of(appended: Appended, fingerprint: Fingerprint, wanted: Label) -> Recorded {
    match appended {
        Appended::Duplicate { label_id, seq } => {
            Recorded::repeat(label_id, seq, wanted, fingerprint)
        }
        Appended::New(record) => Recorded::new_label(&record),
    }
}

/// What [`SharedLabelLog::append`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Appended {
    /// The label was committed as this record (its `seq` given by the store).
    New(Box<LabelRecord>),
    /// The comment already had this label, recorded as `label_id` at `seq`: nothing written.
    Duplicate {
        /// The earlier label's id.
        label_id: String,
        /// Its position.
        seq: u64,
    },
}

/// A label log kept outside the process (PostgreSQL) and shared by replicas. Positions are
/// given by the store and become visible in order (no reader ever sees `n + 1` before `n`).
/// Every call blocks on the store: call it off the async runtime.
pub trait SharedLabelLog: Send + Sync + std::fmt::Debug {
    /// The log's id, the same for every replica on the store (see [`log_id`]).
    fn id(&self) -> &str;
    /// Commits `corrections` in one transaction, in order, each unless its comment (by
    /// fingerprint) already has its label; the relabel (`previous`) is decided by the store,
    /// so two replicas cannot both add one. One answer per correction, in order.
    fn append(&self, corrections: Vec<(Fingerprint, Correction)>) -> io::Result<Vec<Appended>>;
    /// Records from position `seq` on, in order, at most `limit`.
    fn read_from(&self, seq: u64, limit: usize) -> io::Result<Vec<LabelRecord>>;
    /// The labels in force now, one per comment, from position `seq` on, at most `limit`.
    fn read_current_from(&self, seq: u64, limit: usize) -> io::Result<Vec<LabelRecord>>;
    /// Whether the store answered its last call (for `/readyz`).
    fn healthy(&self) -> bool;
}

/// Where the book keeps its labels.
#[derive(Debug)]
enum Log {
    /// The file in the data directory; its lock serialises writers while a label is made
    /// durable and applied.
    File(Mutex<LabelLog>),
    /// A shared store; `folded` is the position up to which every label is applied here,
    /// and its lock serialises applying.
    Shared {
        store: Arc<dyn SharedLabelLog>,
        folded: Mutex<u64>,
        batch: GroupCommit,
    },
}

/// Corrections waiting to be committed together: whichever caller holds `writer` commits
/// everything queued in one transaction and one model update, then answers each waiter.
/// Under load a commit carries many labels; alone, a label is committed at once.
#[derive(Debug, Default)]
struct GroupCommit {
    queue: Mutex<Vec<Waiting>>,
    writer: Mutex<()>,
}

/// A queued correction and where its answer goes.
#[derive(Debug)]
struct Waiting {
    fingerprint: Fingerprint,
    correction: Correction,
    answer: std::sync::mpsc::SyncSender<io::Result<Appended>>,
}

/// The label store and its live effects; see the module docs.
#[derive(Debug)]
pub struct LabelBook {
    log: Log,
    /// This log's id (see [`log_id`]).
    id: String,
    index: RwLock<Index>,
    live: Arc<LiveScorer>,
    weight: f32,
    /// Where the time on labels went (for `/metrics`).
    stages: StageClock,
}

/// A lock was poisoned by a panic in another thread.
fn poisoned<T>(_: T) -> io::Error {
    io::Error::other("label store lock poisoned by an earlier panic")
}

impl LabelBook {
    /// Opens the log in `data_dir`, replays it onto `scorer` (each label counting `weight`
    /// times) and returns the book, whose live scorer starts from the result.
    pub fn open(
        data_dir: &Path,
        scorer: Scorer,
        weight: f32,
    ) -> io::Result<(LabelBook, ReplayReport)> {
        Self::open_after(data_dir, scorer, 0, weight)
    }

    /// Like [`LabelBook::open`] for a model that was trained on every label up to
    /// `labels_through`: only later labels are learned onto it (all of them pin and feed
    /// the spam memory).
    pub fn open_after(
        data_dir: &Path,
        mut scorer: Scorer,
        labels_through: u64,
        weight: f32,
    ) -> io::Result<(LabelBook, ReplayReport)> {
        let mut index = Index::default();
        // Labels to learn are gathered and learned a batch at a time (see
        // `Scorer::learn_many`): the same counts as one by one, on both cores.
        let mut pending: Vec<LabelRecord> = Vec::new();
        let (log, report) = LabelLog::open(data_dir, |record| {
            let Ok(fingerprint) = u128::from_str_radix(&record.fingerprint, 16) else {
                tracing::error!(
                    seq = record.seq,
                    "label with a malformed fingerprint skipped"
                );
                return;
            };
            index.apply(Fingerprint(fingerprint), &record);
            if record.seq > labels_through {
                pending.push(record);
                if pending.len() == REPLAY_BATCH {
                    learn_all(&mut scorer, &pending, weight);
                    pending.clear();
                }
            }
        })?;
        learn_all(&mut scorer, &pending, weight);
        Ok((
            LabelBook {
                log: Log::File(Mutex::new(log)),
                id: log_id(data_dir)?,
                index: RwLock::new(index),
                live: Arc::new(LiveScorer::new(scorer)),
                weight,
                stages: StageClock::default(),
            },
            report,
        ))
    }

    /// The live scorer (the loaded model plus every label learned since).
    pub fn live(&self) -> &Arc<LiveScorer> {
        &self.live
    }

    /// Opens a book on a shared store: pins and the spam memory from the labels in force,
    /// and onto `scorer` (trained on every label up to `labels_through` of this store's
    /// log) every later label, so a replica that starts late reads each comment once and
    /// learns only what its model lacks. Blocks on the store.
    pub fn open_shared(
        store: Arc<dyn SharedLabelLog>,
        mut scorer: Scorer,
        labels_through: u64,
        weight: f32,
    ) -> io::Result<LabelBook> {
        let mut index = Index::default();
        let mut folded = 0;
        let mut seq = 1;
        loop {
            let page = store.read_current_from(seq, REPLAY_BATCH)?;
            let Some(last) = page.last() else { break };
            seq = last.seq + 1;
            for record in &page {
                if let Some(fingerprint) = parse_fingerprint(record) {
                    index.apply(fingerprint, record);
                }
            }
        }
        let mut seq = labels_through + 1;
        loop {
            let page = store.read_from(seq, REPLAY_BATCH)?;
            let Some(last) = page.last() else { break };
            seq = last.seq + 1;
            folded = last.seq;
            // Labels committed after the read of the labels in force pin here too.
            for record in &page {
                if let Some(fingerprint) = parse_fingerprint(record) {
                    let newer = index
                        .current
                        .get(&fingerprint)
                        .is_none_or(|pin| pin.seq < record.seq);
                    if newer {
                        index.apply(fingerprint, record);
                    }
                }
            }
            learn_all(&mut scorer, &page, weight);
        }
        Ok(LabelBook {
            id: store.id().to_owned(),
            log: Log::Shared {
                store,
                folded: Mutex::new(folded.max(labels_through)),
                batch: GroupCommit::default(),
            },
            index: RwLock::new(index),
            live: Arc::new(LiveScorer::new(scorer)),
            weight,
            stages: StageClock::default(),
        })
    }

    /// Records a correction durably, then applies it; see the module docs. Blocks on the
    /// disk or the shared store: call it off the async runtime.
    pub fn record(&self, correction: Correction) -> io::Result<Recorded> {
        let fingerprint = Fingerprint::of(&correction.comment);
        let wanted = correction.label;
        match &self.log {
            Log::File(log) => self.record_in_file(log, fingerprint, correction),
            Log::Shared { store, batch, .. } => {
                let appended =
                    self.commit_grouped(store.as_ref(), batch, fingerprint, correction)?;
                if let Appended::Duplicate { seq, .. } = &appended {
                    // Another replica's label, perhaps not applied here yet.
                    if self.pinned(fingerprint).is_none_or(|pin| pin.seq < *seq) {
                        self.catch_up()?;
                    }
                }
                Ok(recorded_of(appended, fingerprint, wanted))
            }
        }
    }

    fn record_in_file(
        &self,
        log: &Mutex<LabelLog>,
        fingerprint: Fingerprint,
        correction: Correction,
    ) -> io::Result<Recorded> {
        let mut log = log.lock().map_err(poisoned)?;
        let current = self
            .index
            .read()
            .map_err(poisoned)?
            .current
            .get(&fingerprint)
            .cloned();
        if let Some(pin) = current.as_ref().filter(|p| p.label == correction.label) {
            return Ok(Recorded::repeat(
                pin.label_id.clone(),
                pin.seq,
                pin.label,
                fingerprint,
            ));
        }
        let record = LabelRecord::of_correction(
            log.last_seq() + 1,
            fingerprint.to_hex(),
            current.map(|p| p.label),
            correction,
        );
        let started = Instant::now();
        log.append(&record)?;
        self.stages.add(Stage::Commit, started.elapsed(), 1);
        // Durable from here: a crash now is repaired by the replay at start.
        self.apply_all(std::slice::from_ref(&record), Stage::ApplyOwn)?;
        Ok(Recorded::new_label(&record))
    }

    /// Records `corrections` in order as [`LabelBook::record`] would one by one, but with
    /// one fsync and one model update for all of them: an import's path. Either every new
    /// label among them is durable and applied, or (on an error) none is. Repeats, in the
    /// book or earlier in the batch, count once; a later label for the same comment in the
    /// batch relabels it. On a shared store the batch is one transaction. Blocks on the disk or
    /// the store.
    pub fn record_many(&self, corrections: Vec<Correction>) -> io::Result<Vec<Recorded>> {
        match &self.log {
            Log::File(log) => self.record_many_in_file(log, corrections),
            Log::Shared { store, batch, .. } => {
                self.record_many_shared(store.as_ref(), batch, corrections)
            }
        }
    }

    fn record_many_in_file(
        &self,
        log: &Mutex<LabelLog>,
        corrections: Vec<Correction>,
    ) -> io::Result<Vec<Recorded>> {
        let mut log = log.lock().map_err(poisoned)?;
        let mut in_batch: HashMap<Fingerprint, (Label, String, u64)> = HashMap::new();
        let mut records = Vec::new();
        let mut answers = Vec::with_capacity(corrections.len());
        {
            let index = self.index.read().map_err(poisoned)?;
            let mut seq = log.last_seq();
            for correction in corrections {
                let fingerprint = Fingerprint::of(&correction.comment);
                let current = in_batch.get(&fingerprint).cloned().or_else(|| {
                    index
                        .current
                        .get(&fingerprint)
                        .map(|p| (p.label, p.label_id.clone(), p.seq))
                });
                if let Some((label, label_id, at)) =
                    current.as_ref().filter(|c| c.0 == correction.label)
                {
                    answers.push(Recorded::repeat(label_id.clone(), *at, *label, fingerprint));
                    continue;
                }
                seq += 1;
                let record = LabelRecord::of_correction(
                    seq,
                    fingerprint.to_hex(),
                    current.map(|c| c.0),
                    correction,
                );
                in_batch.insert(fingerprint, (record.label, record.label_id.clone(), seq));
                answers.push(Recorded::new_label(&record));
                records.push((fingerprint, record));
            }
        }
        if records.is_empty() {
            return Ok(answers);
        }
        let (fingerprints, records): (Vec<Fingerprint>, Vec<LabelRecord>) =
            records.into_iter().unzip();
        let started = Instant::now();
        log.append_many(&records)?;
        self.stages
            .add(Stage::Commit, started.elapsed(), records.len());
        // Durable from here: a crash now is repaired by the replay at start.
        {
            let mut index = self.index.write().map_err(poisoned)?;
            for (fingerprint, record) in fingerprints.iter().zip(&records) {
                index.apply(*fingerprint, record);
            }
        }
        self.learn_live(records, Stage::ApplyOwn, Instant::now());
        Ok(answers)
    }

    /// [`LabelBook::record_many`] on a shared store: one transaction for the batch (the store
    /// decides repeats and relabels, in order), applied here before the next writer goes.
    fn record_many_shared(
        &self,
        store: &dyn SharedLabelLog,
        batch: &GroupCommit,
        corrections: Vec<Correction>,
    ) -> io::Result<Vec<Recorded>> {
        let keyed: Vec<(Fingerprint, Correction)> = corrections
            .into_iter()
            .map(|c| (Fingerprint::of(&c.comment), c))
            .collect();
        let wanted: Vec<(Fingerprint, Label)> = keyed.iter().map(|(f, c)| (*f, c.label)).collect();
        let appended = {
            let _writer = batch.writer.lock().map_err(poisoned)?;
            self.append_and_fold(store, keyed)?
        };
        let mut behind = false;
        let answers = appended
            .into_iter()
            .zip(wanted)
            .map(|(appended, (fingerprint, label))| {
                if let Appended::Duplicate { seq, .. } = &appended {
                    // Another replica's label, perhaps not applied here yet.
                    behind |= self.pinned(fingerprint).is_none_or(|pin| pin.seq < *seq);
                }
                recorded_of(appended, fingerprint, label)
            })
            .collect();
        if behind {
            self.catch_up()?;
        }
        Ok(answers)
    }

    /// Queues a correction and waits for its answer; see [`GroupCommit`].
    fn commit_grouped(
        &self,
        store: &dyn SharedLabelLog,
        batch: &GroupCommit,
        fingerprint: Fingerprint,
        correction: Correction,
    ) -> io::Result<Appended> {
        let (answer, answered) = std::sync::mpsc::sync_channel(1);
        batch.queue.lock().map_err(poisoned)?.push(Waiting {
            fingerprint,
            correction,
            answer,
        });
        loop {
            if let Ok(result) = answered.try_recv() {
                return result;
            }
            let _writer = batch.writer.lock().map_err(poisoned)?;
            // The previous writer may have taken ours along.
            if let Ok(result) = answered.try_recv() {
                return result;
            }
            let waiting = std::mem::take(&mut *batch.queue.lock().map_err(poisoned)?);
            if !waiting.is_empty() {
                self.commit_batch(store, waiting);
            }
        }
    }

    /// Commits `corrections` in one transaction and applies what is new; the caller holds
    /// the writer lock, so positions are applied in order.
    fn append_and_fold(
        &self,
        store: &dyn SharedLabelLog,
        corrections: Vec<(Fingerprint, Correction)>,
    ) -> io::Result<Vec<Appended>> {
        let (started, count) = (Instant::now(), corrections.len());
        let appended = store.append(corrections)?;
        self.stages.add(Stage::Commit, started.elapsed(), count);
        let new: Vec<LabelRecord> = appended
            .iter()
            .filter_map(|a| match a {
                Appended::New(record) => Some((**record).clone()),
                Appended::Duplicate { .. } => None,
            })
            .collect();
        self.fold(&new)?;
        Ok(appended)
    }

    /// Commits `waiting` in one go, applies what is new, then answers each.
    fn commit_batch(&self, store: &dyn SharedLabelLog, waiting: Vec<Waiting>) {
        let (corrections, answers): (Vec<_>, Vec<_>) = waiting
            .into_iter()
            .map(|w| ((w.fingerprint, w.correction), w.answer))
            .unzip();
        let committed = self.append_and_fold(store, corrections);
        match committed {
            Ok(appended) => {
                for (answer, result) in answers.into_iter().zip(appended) {
                    let _ = answer.send(Ok(result));
                }
            }
            Err(e) => {
                for answer in answers {
                    let _ = answer.send(Err(io::Error::new(e.kind(), e.to_string())));
                }
            }
        }
    }

    /// Applies every label of the shared store up to `records` (which this replica just
    /// committed together, in order), each once: usually just `records`, else the labels
    /// other replicas committed before them are read first.
    fn fold(&self, records: &[LabelRecord]) -> io::Result<()> {
        let Log::Shared { store, folded, .. } = &self.log else {
            return Ok(());
        };
        let (Some(first), Some(last)) = (records.first(), records.last()) else {
            return Ok(());
        };
        let mut folded = folded.lock().map_err(poisoned)?;
        if last.seq <= *folded {
            return Ok(());
        }
        if first.seq > *folded + 1 {
            self.fold_from_store(store.as_ref(), &mut folded, Some(first.seq - 1))?;
        }
        // Every earlier position is committed or was never (a rolled-back writer's gap):
        // writers commit in position order.
        let start = records.partition_point(|r| r.seq <= *folded);
        self.apply_all(&records[start..], Stage::ApplyOwn)?;
        *folded = last.seq;
        Ok(())
    }

    /// Applies every label the shared store has past the last one applied here (other
    /// replicas' labels); answers how many. Called when the store announces new labels and
    /// after any reconnect. A no-op for the file store.
    pub fn catch_up(&self) -> io::Result<usize> {
        let Log::Shared { store, folded, .. } = &self.log else {
            return Ok(0);
        };
        let mut folded = folded.lock().map_err(poisoned)?;
        self.fold_from_store(store.as_ref(), &mut folded, None)
    }

    /// Reads and applies labels after `folded` (through `until`, if given), page by page.
    fn fold_from_store(
        &self,
        store: &dyn SharedLabelLog,
        folded: &mut u64,
        until: Option<u64>,
    ) -> io::Result<usize> {
        let mut applied = 0;
        loop {
            let started = Instant::now();
            let mut page = store.read_from(*folded + 1, REPLAY_BATCH)?;
            if let Some(until) = until {
                page.retain(|r| r.seq <= until);
            }
            let Some(last) = page.last().map(|r| r.seq) else {
                return Ok(applied);
            };
            self.stages.add(Stage::Read, started.elapsed(), page.len());
            self.apply_all(&page, Stage::ApplyFollowed)?;
            applied += page.len();
            *folded = last;
        }
    }

    /// Pins, remembers and learns `records` (in order) in one swap of the live model; the
    /// time counts as `stage`.
    fn apply_all(&self, records: &[LabelRecord], stage: Stage) -> io::Result<()> {
        let started = Instant::now();
        {
            let mut index = self.index.write().map_err(poisoned)?;
            for record in records {
                if let Some(fingerprint) = parse_fingerprint(record) {
                    index.apply(fingerprint, record);
                }
            }
        }
        self.learn_live(records.to_vec(), stage, started);
        Ok(())
    }

    /// Learns `records` (in order) into the live model; the time since `started` counts as
    /// `stage`.
    fn learn_live(&self, records: Vec<LabelRecord>, stage: Stage, started: Instant) {
        if records.is_empty() {
            return;
        }
        let count = records.len();
        let weight = self.weight;
        let extracted = Extracted::new();
        let cost = self.live.apply(Arc::new(move |scorer| {
            learn_all_once(scorer, &records, weight, &extracted)
        }));
        self.stages.add_update(cost, count);
        self.stages.add(stage, started.elapsed(), count);
    }

    /// Where the time on labels went since start, stage by stage.
    pub fn stage_totals(&self) -> Vec<StageTotal> {
        self.stages.totals()
    }

    /// Whether the label store can take corrections now: `ok`, or `degraded` while a shared
    /// store does not answer.
    pub fn health(&self) -> &'static str {
        match &self.log {
            Log::Shared { store, .. } if !store.healthy() => "degraded",
            _ => "ok",
        }
    }

    /// Puts `scorer` (a model trained on every label up to `labels_through`) in service,
    /// after learning every later label onto it. Corrections wait meanwhile, so none is
    /// missed between the replay and the swap. Blocks on the disk or the store.
    pub fn activate(&self, mut scorer: Scorer, labels_through: u64) -> io::Result<()> {
        match &self.log {
            Log::File(log) => {
                let log = log.lock().map_err(poisoned)?;
                let mut seq = labels_through;
                loop {
                    let page = log.read_from(seq + 1, 1024, |_| true)?;
                    let Some(last) = page.last() else { break };
                    seq = last.seq;
                    for record in &page {
                        learn(&mut scorer, record, self.weight);
                    }
                }
                self.live.replace(scorer);
            }
            Log::Shared { store, folded, .. } => {
                // Holding `folded`: nothing is applied to the old model meanwhile.
                let folded = folded.lock().map_err(poisoned)?;
                let mut seq = labels_through;
                while seq < *folded {
                    let mut page = store.read_from(seq + 1, REPLAY_BATCH)?;
                    page.retain(|r| r.seq <= *folded);
                    let Some(last) = page.last() else { break };
                    seq = last.seq;
                    learn_all(&mut scorer, &page, self.weight);
                }
                self.live.replace(scorer);
            }
        }
        Ok(())
    }

    /// Position of the last label applied here (for the file store, the last in the log).
    pub fn last_seq(&self) -> u64 {
        match &self.log {
            Log::File(log) => log.lock().map_or(0, |log| log.last_seq()),
            Log::Shared { folded, .. } => folded.lock().map_or(0, |f| *f),
        }
    }

    /// Records from `seq` on, at most `limit`, that this book has applied.
    fn read_page(&self, seq: u64, limit: usize) -> io::Result<Vec<LabelRecord>> {
        match &self.log {
            Log::File(log) => log
                .lock()
                .map_err(poisoned)?
                .read_from(seq, limit, |_| true),
            Log::Shared { store, .. } => {
                let through = self.last_seq();
                let mut page = store.read_from(seq, limit)?;
                page.retain(|r| r.seq <= through);
                Ok(page)
            }
        }
    }

    /// Position and fingerprint of records from `seq` on, at most `limit`.
    fn read_heads(&self, seq: u64, limit: usize) -> io::Result<Vec<RecordHead>> {
        match &self.log {
            Log::File(log) => log.lock().map_err(poisoned)?.read_heads_from(seq, limit),
            Log::Shared { .. } => Ok(self
                .read_page(seq, limit)?
                .into_iter()
                .map(|r| RecordHead {
                    seq: r.seq,
                    fingerprint: r.fingerprint,
                })
                .collect()),
        }
    }

    /// The labels in force as of log position `through` (the latest label per comment
    /// among the first `through`), in log order, to `each`. Two passes over the log, so
    /// memory holds one fingerprint and position per labelled comment, never the texts.
    /// Blocks on the disk; corrections wait meanwhile only for each page read.
    pub fn for_each_current(
        &self,
        through: u64,
        mut each: impl FnMut(&LabelRecord),
    ) -> io::Result<()> {
        // Keyed by the fingerprint's 16 bytes, not its 32 hex digits: with a million labels
        // this map is the job's largest allocation.
        let key = |hex: &str| u128::from_str_radix(hex, 16).ok();
        let mut latest: HashMap<u128, u64> = HashMap::new();
        self.scan(
            through,
            |from| self.read_heads(from, 1024),
            |head| head.seq,
            |head| {
                if let Some(fingerprint) = key(&head.fingerprint) {
                    latest.insert(fingerprint, head.seq);
                }
            },
        )?;
        self.scan(
            through,
            |from| self.read_page(from, 1024),
            |record| record.seq,
            |record| {
                if key(&record.fingerprint).and_then(|f| latest.get(&f)) == Some(&record.seq) {
                    each(&record);
                }
            },
        )
    }

    /// Every record (read as `T` by `read`) up to `through`, in order, a page at a time;
    /// the log is locked only while a page is read.
    fn scan<T>(
        &self,
        through: u64,
        read: impl Fn(u64) -> io::Result<Vec<T>>,
        seq_of: impl Fn(&T) -> u64,
        mut each: impl FnMut(T),
    ) -> io::Result<()> {
        let mut seq = 0;
        while seq < through {
            let page = read(seq + 1)?;
            let Some(last) = page.last() else { break };
            seq = seq_of(last);
            page.into_iter()
                .filter(|r| seq_of(r) <= through)
                .for_each(&mut each);
        }
        Ok(())
    }

    /// This label log's id.
    pub fn log_id(&self) -> &str {
        &self.id
    }

    /// The weight each label counts in the model.
    pub fn weight(&self) -> f32 {
        self.weight
    }

    /// The label `comment` is pinned to, if a moderator labelled it.
    pub fn pinned(&self, fingerprint: Fingerprint) -> Option<Pin> {
        self.index.read().ok()?.current.get(&fingerprint).cloned()
    }

    /// Scores `comment` with `scorer`, the `signals` found outside the pipeline and the spam
    /// memory; a `pin` (see [`LabelBook::pinned`]) overrides the verdict and says why first.
    pub fn assess(
        &self,
        scorer: &Scorer,
        comment: &Comment,
        pin: Option<&Pin>,
        now: OffsetDateTime,
        signals: Vec<RuleHit>,
    ) -> Assessment {
        let mut assessment = scorer.score_comment_with(comment, now, |text| {
            let mut hits = signals;
            hits.extend(self.memory_hits(comment, text));
            hits
        });
        if let Some(pin) = pin {
            assessment.verdict = pin.verdict();
            assessment.reasons.insert(0, pin.reason());
        }
        assessment
    }

    /// Rule hits from the spam memory for a comment whose body normalised to `text`.
    pub fn memory_hits(&self, comment: &Comment, text: &NormalizedText) -> Vec<RuleHit> {
        let Ok(index) = self.index.read() else {
            return Vec::new();
        };
        if index.memory.is_empty() {
            return Vec::new();
        }
        index.memory.hits(&MemoryKeys::from_text(comment, text))
    }

    /// Number of labels in force (one per labelled comment).
    pub fn len(&self) -> usize {
        self.index.read().map_or(0, |i| i.current.len())
    }

    /// Whether no comment is labelled.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Labels in force with `seq` greater than `after`, oldest first, at most `limit`; and
    /// the cursor for the next page when there may be more. Blocks on the disk or store.
    pub fn export(&self, after: u64, limit: usize) -> io::Result<(Vec<LabelRecord>, Option<u64>)> {
        let is_current = |index: &Index, r: &LabelRecord| {
            parse_fingerprint(r)
                .and_then(|f| index.current.get(&f))
                .is_some_and(|pin| pin.seq == r.seq)
        };
        let want = limit.saturating_add(1);
        let mut page = match &self.log {
            Log::File(log) => {
                let log = log.lock().map_err(poisoned)?;
                let index = self.index.read().map_err(poisoned)?;
                log.read_from(after.saturating_add(1), want, |r| is_current(&index, r))?
            }
            Log::Shared { .. } => {
                let mut out = Vec::new();
                let mut seq = after.saturating_add(1);
                while out.len() < want {
                    let read = self.read_page(seq, REPLAY_BATCH)?;
                    let Some(last) = read.last() else { break };
                    seq = last.seq + 1;
                    let index = self.index.read().map_err(poisoned)?;
                    out.extend(read.into_iter().filter(|r| is_current(&index, r)));
                }
                out.truncate(want);
                out
            }
        };
        let next = if page.len() > limit {
            page.truncate(limit);
            page.last().map(|r| r.seq)
        } else {
            None
        };
        Ok((page, next))
    }
}

/// The record's fingerprint, unless it is malformed (logged and skipped).
fn parse_fingerprint(record: &LabelRecord) -> Option<Fingerprint> {
    let parsed = u128::from_str_radix(&record.fingerprint, 16).ok();
    if parsed.is_none() {
        tracing::error!(
            seq = record.seq,
            "label with a malformed fingerprint skipped"
        );
    }
    parsed.map(Fingerprint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::moderation::Policy;
    use std::io::Write;

    fn scorer() -> Scorer {
        Scorer::load(None, Policy::default()).expect("shipped model")
    }

    fn correction(content: &str, label: Label) -> Correction {
        Correction {
            comment: Comment {
                content: content.into(),
                author: Some("Ann".into()),
                ..Default::default()
            },
            label,
            verdict_id: None,
            moderator: Some("mod".into()),
            note: None,
            key_id: None,
            origin: None,
        }
    }

    fn probability(book: &LabelBook, content: &str) -> f64 {
        let comment = Comment {
            content: content.into(),
            ..Default::default()
        };
        book.live()
            .current()
            .score_comment(&comment, OffsetDateTime::now_utc())
            .spam_probability
    }

    const PROBE: &str = "my grandmother knits lovely woollen scarves every winter";

    #[test]
    fn a_live_change_extracts_once_and_counts_as_learning_in_one_go_does() {
        let record = |seq, text: &str, label, previous| {
            let c = correction(text, label);
            let fingerprint = Fingerprint::of(&c.comment).to_hex();
            LabelRecord::of_correction(seq, fingerprint, previous, c)
        };
        let records = vec![
            record(1, "cheap pills at pills.example", Label::Spam, None),
            record(2, PROBE, Label::Spam, None),
            record(3, PROBE, Label::Ham, Some(Label::Spam)),
        ];
        let mut reference = scorer();
        learn_all(&mut reference, &records, 2.0);
        let cache = Extracted::new();
        let (mut first, mut second) = (scorer(), scorer());
        learn_all_once(&mut first, &records, 2.0, &cache);
        assert!(cache.get().is_some(), "the first run keeps its features");
        learn_all_once(&mut second, &records, 2.0, &cache);
        let now = OffsetDateTime::now_utc();
        let p = |s: &Scorer| {
            s.score_comment(&correction(PROBE, Label::Ham).comment, now)
                .spam_probability
                .to_bits()
        };
        for (copy, which) in [(&first, "first"), (&second, "second")] {
            assert_eq!(
                copy.model().doc_counts(),
                reference.model().doc_counts(),
                "{which}"
            );
            assert_eq!(p(copy), p(&reference), "{which}");
        }
    }

    /// A shared store in memory: positions given in commit order, with a gap after each
    /// label when `gaps` (a writer that rolled back after drawing a position).
    #[derive(Debug, Default)]
    struct MemoryStore {
        records: Mutex<Vec<LabelRecord>>,
        gaps: bool,
    }

    impl SharedLabelLog for MemoryStore {
        fn id(&self) -> &str {
            "memory"
        }

        fn append(&self, corrections: Vec<(Fingerprint, Correction)>) -> io::Result<Vec<Appended>> {
            let mut records = self.records.lock().unwrap();
            let mut answers = Vec::new();
            for (fingerprint, c) in corrections {
                let hex = fingerprint.to_hex();
                let head = records.iter().rev().find(|r| r.fingerprint == hex).cloned();
                if let Some(head) = head.as_ref().filter(|h| h.label == c.label) {
                    answers.push(Appended::Duplicate {
                        label_id: head.label_id.clone(),
                        seq: head.seq,
                    });
                    continue;
                }
                let step = if self.gaps { 2 } else { 1 };
                let record = LabelRecord {
                    seq: records.last().map_or(0, |r| r.seq) + step,
                    label_id: format!("l{}", records.len()),
                    fingerprint: hex,
                    label: c.label,
                    previous: head.map(|h| h.label),
                    comment: c.comment,
                    verdict_id: None,
                    moderator: None,
                    note: None,
                    key_id: None,
                    origin: None,
                    created_at: OffsetDateTime::now_utc(),
                };
                records.push(record.clone());
                answers.push(Appended::New(Box::new(record)));
            }
            Ok(answers)
        }

        fn read_from(&self, seq: u64, limit: usize) -> io::Result<Vec<LabelRecord>> {
            let records = self.records.lock().unwrap();
            Ok(records
                .iter()
                .filter(|r| r.seq >= seq)
                .take(limit)
                .cloned()
                .collect())
        }

        fn read_current_from(&self, seq: u64, limit: usize) -> io::Result<Vec<LabelRecord>> {
            let records = self.records.lock().unwrap();
            let current = records.iter().filter(|r| {
                records
                    .iter()
                    .rev()
                    .find(|o| o.fingerprint == r.fingerprint)
                    == Some(*r)
            });
            Ok(current
                .filter(|r| r.seq >= seq)
                .take(limit)
                .cloned()
                .collect())
        }

        fn healthy(&self) -> bool {
            true
        }
    }

    #[test]
    fn books_on_one_shared_store_apply_each_label_once_in_order_across_gaps() {
        // (gaps in the positions, why)
        for (gaps, why) in [
            (false, "dense positions"),
            (true, "a rolled-back writer's gaps"),
        ] {
            let store = Arc::new(MemoryStore {
                gaps,
                ..Default::default()
            });
            let open = || LabelBook::open_shared(store.clone(), scorer(), 0, 2.0).unwrap();
            let (a, b) = (open(), open());
            let spam = "cheap knitting needles at needle-deals.example, buy now";
            a.record(correction(spam, Label::Spam)).unwrap();
            a.record(correction(
                "another offer from needle-deals.example",
                Label::Spam,
            ))
            .unwrap();
            // B writes before it heard of A's labels: it applies them first, then its own.
            let relabel = b.record(correction(spam, Label::Ham)).unwrap();
            assert_eq!(relabel.previous, Some(Label::Spam), "{why}");
            assert_eq!(b.len(), 2, "{why}");
            assert_eq!(a.catch_up().unwrap(), 1, "{why}: A reads only B's label");
            assert_eq!(a.catch_up().unwrap(), 0, "{why}: nothing is applied twice");
            let repeat = a.record(correction(spam, Label::Ham)).unwrap();
            assert!(repeat.duplicate, "{why}");
            assert_eq!(a.last_seq(), b.last_seq(), "{why}");
            // Same labels, each once: the same model on both and on a book opened now.
            let late = open();
            let (pa, pb, pl) = (
                probability(&a, PROBE),
                probability(&b, PROBE),
                probability(&late, PROBE),
            );
            assert!(
                (pa - pb).abs() < 1e-12 && (pa - pl).abs() < 1e-12,
                "{why}: {pa} {pb} {pl}"
            );
            assert_eq!(
                late.pinned(Fingerprint::of(&correction(spam, Label::Ham).comment))
                    .map(|p| p.label),
                Some(Label::Ham),
                "{why}"
            );
        }
    }

    #[test]
    fn a_relabel_to_ham_from_another_ip_clears_the_remembered_ip() {
        let dir = tempfile::tempdir().unwrap();
        let (book, _) = LabelBook::open(dir.path(), scorer(), 2.0).unwrap();
        let from = |ip: &str, label| {
            let mut c = correction(PROBE, label);
            c.comment.user_ip = Some(ip.into());
            c
        };
        book.record(from("192.0.2.1", Label::Spam)).unwrap();
        let probe = Comment {
            content: "an unrelated comment".into(),
            user_ip: Some("192.0.2.1".into()),
            ..Default::default()
        };
        let hits = |book: &LabelBook| -> Vec<String> {
            let text = crate::text::normalize_content(&probe.content);
            book.memory_hits(&probe, &text)
                .into_iter()
                .map(|h| h.id)
                .collect()
        };
        assert_eq!(hits(&book), ["memory.user_ip"], "the spam label's IP");
        let relabel = book.record(from("198.51.100.7", Label::Ham)).unwrap();
        assert_eq!(relabel.previous, Some(Label::Spam));
        assert!(hits(&book).is_empty(), "cleared by the ham relabel");
        // And at start, replaying the log gives the same memory.
        drop(book);
        let (book, _) = LabelBook::open(dir.path(), scorer(), 2.0).unwrap();
        assert!(hits(&book).is_empty(), "after replay");
    }

    #[test]
    fn repeats_count_once_and_relabels_reverse() {
        let dir = tempfile::tempdir().unwrap();
        let (book, _) = LabelBook::open(dir.path(), scorer(), 2.0).unwrap();
        let before = probability(&book, PROBE);

        let first = book.record(correction(PROBE, Label::Spam)).unwrap();
        assert!(!first.duplicate);
        let after_spam = probability(&book, PROBE);
        assert!(
            after_spam > before,
            "a spam label moves the model: {before} -> {after_spam}"
        );

        let again = book.record(correction(PROBE, Label::Spam)).unwrap();
        assert!(again.duplicate, "same comment, same label");
        assert_eq!(again.label_id, first.label_id);
        assert_eq!(
            probability(&book, PROBE),
            after_spam,
            "a repeat learns nothing"
        );

        let relabel = book.record(correction(PROBE, Label::Ham)).unwrap();
        assert_eq!(relabel.previous, Some(Label::Spam));
        let after_ham = probability(&book, PROBE);
        assert!(
            after_ham < before,
            "spam reversed, ham added: {before} -> {after_ham}"
        );
        assert_eq!(book.len(), 1, "one comment, one label in force");
        assert_eq!(
            book.pinned(Fingerprint::of(&correction(PROBE, Label::Ham).comment))
                .map(|p| p.label),
            Some(Label::Ham)
        );
    }

    #[test]
    fn replay_in_batches_learns_what_one_by_one_learning_does() {
        // 2,600 records (past one replay batch), every tenth a relabel that reverses the
        // label before it, written straight into a log.
        let dir = tempfile::tempdir().unwrap();
        let mut reference = scorer();
        let mut file = std::fs::File::create(dir.path().join(LABELS_FILE)).unwrap();
        for i in 0..2600u64 {
            let comment = Comment {
                content: format!("comment {} about knitting and offers", i / 10 * 10 + i % 7),
                author: Some(format!("author {}", i % 13)),
                ..Default::default()
            };
            let label = if i % 3 == 0 { Label::Spam } else { Label::Ham };
            let record = LabelRecord {
                seq: i + 1,
                label_id: format!("{i:032x}"),
                fingerprint: Fingerprint::of(&comment).to_hex(),
                label,
                previous: (i % 10 == 9).then_some(match label {
                    Label::Spam => Label::Ham,
                    Label::Ham => Label::Spam,
                }),
                comment,
                verdict_id: None,
                moderator: None,
                note: None,
                key_id: None,
                origin: None,
                created_at: OffsetDateTime::UNIX_EPOCH,
            };
            learn(&mut reference, &record, 2.0);
            serde_json::to_writer(&mut file, &record).unwrap();
            file.write_all(b"\n").unwrap();
        }
        drop(file);
        let (book, report) = LabelBook::open(dir.path(), scorer(), 2.0).unwrap();
        assert_eq!(report.records, 2600);
        let replayed = book.live().current();
        assert_eq!(
            replayed.model().doc_counts(),
            reference.model().doc_counts()
        );
        for probe in [
            PROBE,
            "comment 40 about knitting and offers",
            "buy cheap pills now",
        ] {
            let comment = Comment {
                content: probe.into(),
                author: Some("author 3".into()),
                ..Default::default()
            };
            let features = reference.model().features(
                &crate::text::normalize_content(probe),
                crate::classifier::author_fields(&comment),
            );
            let (b, k) = (features.buckets(), features.kinds());
            assert_eq!(
                replayed.model().evidence(b, k).map(f64::to_bits),
                reference.model().evidence(b, k).map(f64::to_bits),
                "{probe}"
            );
        }
    }

    #[test]
    fn replay_at_start_rebuilds_the_same_model_pins_and_memory() {
        let dir = tempfile::tempdir().unwrap();
        let (book, _) = LabelBook::open(dir.path(), scorer(), 2.0).unwrap();
        let mut spam = correction("cheap pills at https://pills.example now", Label::Spam);
        spam.comment.author_email = Some("bot@example.com".into());
        book.record(spam.clone()).unwrap();
        book.record(correction(PROBE, Label::Spam)).unwrap();
        book.record(correction(PROBE, Label::Ham)).unwrap();
        let live = probability(&book, "grandmother scarves pills");
        drop(book);

        let (reopened, report) = LabelBook::open(dir.path(), scorer(), 2.0).unwrap();
        assert_eq!(report.records, 3);
        assert_eq!(probability(&reopened, "grandmother scarves pills"), live);
        assert_eq!(reopened.len(), 2);
        let probe = Comment {
            content: "hello".into(),
            author_email: Some("BOT@example.com".into()),
            ..Default::default()
        };
        let text = crate::text::normalize_content(&probe.content);
        let ids: Vec<_> = reopened
            .memory_hits(&probe, &text)
            .into_iter()
            .map(|h| h.id)
            .collect();
        assert_eq!(ids, ["memory.author_email"]);
    }

    #[test]
    fn a_torn_last_line_is_cut_off_and_appends_continue() {
        let dir = tempfile::tempdir().unwrap();
        let (book, _) = LabelBook::open(dir.path(), scorer(), 2.0).unwrap();
        book.record(correction("first comment", Label::Ham))
            .unwrap();
        drop(book);
        let path = dir.path().join(LABELS_FILE);
        let good = std::fs::read(&path).unwrap();
        // A crash in the middle of writing the second line.
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        file.write_all(br#"{"seq":2,"label_id":"abc","finger"#)
            .unwrap();
        drop(file);

        let (book, report) = LabelBook::open(dir.path(), scorer(), 2.0).unwrap();
        assert_eq!((report.records, report.torn_bytes > 0), (1, true));
        assert_eq!(std::fs::read(&path).unwrap(), good, "the fragment is gone");
        let second = book
            .record(correction("second comment", Label::Spam))
            .unwrap();
        assert_eq!(second.seq, 2);
        drop(book);
        let (_, report) = LabelBook::open(dir.path(), scorer(), 2.0).unwrap();
        assert_eq!(
            (report.records, report.torn_bytes, report.corrupt_lines),
            (2, 0, 0)
        );
    }

    #[test]
    fn a_corrupt_middle_line_is_skipped_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let (book, _) = LabelBook::open(dir.path(), scorer(), 2.0).unwrap();
        book.record(correction("first comment", Label::Ham))
            .unwrap();
        book.record(correction("second comment", Label::Ham))
            .unwrap();
        book.record(correction("third comment", Label::Ham))
            .unwrap();
        drop(book);
        // Damage the second line in place, with bytes that are not even UTF-8.
        let path = dir.path().join(LABELS_FILE);
        let text = std::fs::read(&path).unwrap();
        let lines: Vec<&[u8]> = text.split_inclusive(|&b| b == b'\n').collect();
        let mut damaged = lines[0].to_vec();
        damaged.extend_from_slice(b"\xff\xfe garbage\n");
        damaged.extend_from_slice(lines[2]);
        std::fs::write(&path, damaged).unwrap();

        let (book, report) = LabelBook::open(dir.path(), scorer(), 2.0).unwrap();
        assert_eq!((report.records, report.corrupt_lines), (2, 1));
        let next = book
            .record(correction("fourth comment", Label::Spam))
            .unwrap();
        assert_eq!(next.seq, 4, "a damaged line keeps its position");
        let (page, _) = book.export(0, 10).unwrap();
        let seqs: Vec<u64> = page.iter().map(|r| r.seq).collect();
        assert_eq!(seqs, [1, 3, 4], "reads skip the damaged line");
        let mut current = Vec::new();
        book.for_each_current(4, |r| current.push(r.seq)).unwrap();
        assert_eq!(current, [1, 3, 4]);
        drop(book);
        let (book, report) = LabelBook::open(dir.path(), scorer(), 2.0).unwrap();
        assert_eq!((report.records, report.corrupt_lines), (3, 1));
        assert_eq!(book.len(), 3);
    }

    #[test]
    fn a_line_damaged_outside_position_and_fingerprint_is_skipped_by_both_passes() {
        // Spam, then a relabel to ham whose date is later damaged: the log drops the
        // relabel, so the spam label is the one in force, for the live pins and for
        // retraining alike (a first pass that parsed only position and fingerprint once
        // took the damaged relabel as the latest and so dropped the comment altogether).
        let dir = tempfile::tempdir().unwrap();
        let (book, _) = LabelBook::open(dir.path(), scorer(), 2.0).unwrap();
        book.record(correction(PROBE, Label::Spam)).unwrap();
        book.record(correction(PROBE, Label::Ham)).unwrap();
        book.record(correction("another comment", Label::Spam))
            .unwrap();
        drop(book);
        let path = dir.path().join(LABELS_FILE);
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        let key = "\"created_at\":\"";
        let at = lines[1].find(key).unwrap() + key.len();
        lines[1].replace_range(at..at + 4, "XXXX");
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();

        let (book, report) = LabelBook::open(dir.path(), scorer(), 2.0).unwrap();
        assert_eq!(report.corrupt_lines, 1);
        let pin = book
            .pinned(Fingerprint::of(&correction(PROBE, Label::Spam).comment))
            .unwrap();
        assert_eq!((pin.label, pin.seq), (Label::Spam, 1));
        let mut current = Vec::new();
        book.for_each_current(3, |r| current.push((r.seq, r.label)))
            .unwrap();
        assert_eq!(current, [(1, Label::Spam), (3, Label::Spam)]);
    }

    #[test]
    fn export_pages_show_each_comment_once_at_its_latest_label() {
        let dir = tempfile::tempdir().unwrap();
        let (book, _) = LabelBook::open(dir.path(), scorer(), 2.0).unwrap();
        for i in 0..5 {
            book.record(correction(&format!("comment number {i}"), Label::Ham))
                .unwrap();
        }
        book.record(correction("comment number 1", Label::Spam))
            .unwrap();
        let mut seen = Vec::new();
        let mut cursor = 0;
        loop {
            let (page, next) = book.export(cursor, 2).unwrap();
            assert!(page.len() <= 2);
            seen.extend(page.iter().map(|r| (r.comment.content.clone(), r.label)));
            match next {
                Some(n) => cursor = n,
                None => break,
            }
        }
        assert_eq!(seen.len(), 5, "{seen:?}");
        assert_eq!(
            seen.last().unwrap(),
            &("comment number 1".to_owned(), Label::Spam)
        );
    }
}
