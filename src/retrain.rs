//! Retraining jobs: train a candidate on the shipped corpus plus every moderator label,
//! gate it against the model in service, and register and activate it.
//!
//! The gate compares like with like on data neither model trained on: a deterministic
//! holdout of the shipped corpus (by a hash of each text), which moderators cannot label.
//! The *candidate* is trained on the rest of the corpus plus every label in force; the
//! *current* figures come from the same recipe trained on the rest of the corpus plus the
//! labels the model in service was trained on. So the gate measures exactly what the new
//! labels (and the current hyper-parameters) change on trusted data: contradictory labels
//! show up as lost F1 or new false positives and the candidate is rejected. A candidate
//! that passes (or is forced) is then trained on the whole corpus plus every label, and
//! that model is registered and activated.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;
use time::OffsetDateTime;
use xxhash_rust::xxh3::xxh3_64;

use crate::cache::Cache;
use crate::classifier::{
    source_weights, write_model, Calibration, ClassCounts, CvMetrics, ExtractedDoc, Manifest,
    NbModel, TrainOptions, Trainer,
};
use crate::corpus::{shipped_corpus, LabelledComment};
use crate::domain::{Comment, Label};
use crate::evaluation::{evaluate, EvalReport};
use crate::labels::{included_labels, LabelBook};
use crate::registry::{Registry, RegistryEntry, RegistryError};
use crate::scoring::{shared_weight, Scorer};

/// Default share of the corpus held out for the gate.
pub const DEFAULT_HOLDOUT: f64 = 0.2;

/// How much worse a candidate may look and still pass the gate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GateTolerance {
    /// Largest F1 drop allowed.
    pub f1_drop: f64,
    /// Largest false-positive-rate rise allowed.
    pub fpr_rise: f64,
}

impl Default for GateTolerance {
    fn default() -> Self {
        GateTolerance {
            f1_drop: 0.005,
            fpr_rise: 0.002,
        }
    }
}

/// What a retraining request asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct RetrainRequest {
    /// Promote even if the gate fails (recorded in the job and the registry).
    pub force: bool,
    /// Share of the corpus held out for the gate (0.05 to 0.5).
    pub holdout: f64,
    /// Who asked: a key id or `open-mode`.
    pub triggered_by: String,
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Accepted, not started.
    Queued,
    /// Training or evaluating.
    Running,
    /// Promoted.
    Succeeded,
    /// The gate refused the candidate.
    Rejected,
    /// An error stopped it.
    Failed,
}

/// A job as `GET /v1/admin/jobs/{id}` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobRecord {
    /// Its id.
    pub job_id: String,
    /// Where it is.
    pub state: JobState,
    /// What it is doing now.
    pub stage: String,
    /// 0 to 1.
    pub progress: f64,
    /// Whether the gate was skipped by request.
    pub force: bool,
    /// Share of the corpus held out.
    pub holdout: f64,
    /// Who asked.
    pub triggered_by: String,
    /// The version in service when it started.
    pub current_version: String,
    /// Corpus comments used.
    pub corpus_docs: u64,
    /// Moderator labels used.
    pub label_docs: u64,
    /// The candidate's figures on the holdout.
    pub candidate: Option<EvalReport>,
    /// The current recipe's figures on the same holdout.
    pub current: Option<EvalReport>,
    /// Why the gate passed or failed, in words.
    pub gate: Option<String>,
    /// The new version, when promoted.
    pub model_version: Option<String>,
    /// What went wrong, when failed.
    pub error: Option<String>,
    /// When it was accepted.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Seconds from start to end.
    pub duration_secs: Option<f64>,
    /// Seconds each finished stage took, in order.
    pub timings: Vec<StageTiming>,
}

/// How long one stage of a job took.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StageTiming {
    /// The stage, as `stage` named it.
    pub stage: String,
    /// Its wall time.
    pub secs: f64,
}

/// How often a replica tells the shared store that the jobs it runs are alive.
pub const JOB_HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(5);
/// A shared job still queued or running whose record nobody has written or touched for this
/// long is reported failed: the replica running it was killed or lost its database before
/// it could say so (six missed heartbeats).
pub const JOB_ABANDONED_AFTER: std::time::Duration = std::time::Duration::from_secs(30);

/// Where job records are shared with other replicas (PostgreSQL), so that any replica
/// answers `GET /v1/admin/jobs/{id}` for a job another one runs.
pub trait SharedJobs: Send + Sync + std::fmt::Debug {
    /// Stores a job's record, replacing the one stored before.
    fn put(&self, job_id: &str, record: &serde_json::Value) -> std::io::Result<()>;
    /// A job's record as last stored, by whichever replica runs it, and how long ago it
    /// was last written or touched.
    fn get(
        &self,
        job_id: &str,
    ) -> std::io::Result<Option<(serde_json::Value, std::time::Duration)>>;
    /// Marks `job_ids` as alive: their replica still runs them.
    fn touch(&self, job_ids: &[String]) -> std::io::Result<()>;
    /// Claims the right to retrain across every replica of the store: `None` while another
    /// holds it. The claim lasts until the returned value is dropped, or the replica holding
    /// it dies (the store must then free it by itself).
    fn claim_retrain(&self) -> std::io::Result<Option<RetrainClaim>>;
}

/// What a store's claim is held by: dropping it frees the claim.
pub trait ClaimHolder: Send + Sync {
    /// Whether the claim still stands. A store can lose it while a job runs (a database
    /// restart closes the connection holding it), and another replica may then take it.
    /// Blocks: call it off the async runtime.
    fn is_held(&self) -> bool;
}

/// The right to retrain, held by one replica at a time (see [`SharedJobs::claim_retrain`]);
/// dropping it gives it up.
pub struct RetrainClaim {
    holder: Box<dyn ClaimHolder>,
}

impl RetrainClaim {
    /// A claim that lasts as long as `holder` (whose drop frees it).
    pub fn new(holder: impl ClaimHolder + 'static) -> Self {
        RetrainClaim {
            holder: Box::new(holder),
        }
    }

    /// Whether the store still holds the claim for this replica (see [`ClaimHolder`]).
    pub fn is_held(&self) -> bool {
        self.holder.is_held()
    }
}

impl std::fmt::Debug for RetrainClaim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RetrainClaim")
    }
}

/// Why a retraining job was not started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A job is running, on this replica or another.
    #[error("a retraining job is already running")]
    Running,
    /// The shared store could not say whether another replica runs one.
    #[error("cannot claim the retraining: {0}")]
    Store(std::io::Error),
}

/// `record` as shared, or marked failed when it was left unfinished and untouched for
/// [`JOB_ABANDONED_AFTER`]: its replica stopped without saying so, and no one else will.
pub fn unless_abandoned(
    mut record: serde_json::Value,
    quiet: std::time::Duration,
) -> serde_json::Value {
    let unfinished = matches!(
        record.get("state").and_then(serde_json::Value::as_str),
        Some("queued" | "running")
    );
    if !unfinished || quiet < JOB_ABANDONED_AFTER {
        return record;
    }
    let message = format!(
        "abandoned: the replica running this job stopped answering {} s ago",
        quiet.as_secs()
    );
    record["state"] = "failed".into();
    record["abandoned"] = true.into();
    // An import's error is an object with a code, a retrain's a sentence.
    record["error"] = if record.get("kind").and_then(serde_json::Value::as_str) == Some("import") {
        serde_json::json!({ "code": "job_abandoned", "message": message })
    } else {
        message.into()
    };
    record
}

/// Writes `record` to the shared store, if any. A failure costs other replicas a view of
/// the job, not the job: it is logged, not returned.
pub fn share_job(shared: Option<&Arc<dyn SharedJobs>>, job_id: &str, record: &impl Serialize) {
    let Some(shared) = shared else {
        return;
    };
    let written = serde_json::to_value(record)
        .map_err(std::io::Error::other)
        .and_then(|json| shared.put(job_id, &json));
    if let Err(e) = written {
        tracing::warn!(job_id, error = %e, "cannot share the job's state in the database");
    }
}

/// Jobs of this process: at most one runs at a time, and with a shared store at most one
/// across every replica.
#[derive(Debug, Default)]
pub struct Jobs {
    records: Mutex<HashMap<String, JobRecord>>,
    running: AtomicBool,
    shared: Option<Arc<dyn SharedJobs>>,
    /// The shared store's claim, held while this replica's job runs.
    claim: Mutex<Option<RetrainClaim>>,
}

impl Jobs {
    /// Jobs whose records are also written to `shared` for the other replicas.
    pub fn shared(shared: Arc<dyn SharedJobs>) -> Self {
        Jobs {
            shared: Some(shared),
            ..Jobs::default()
        }
    }

    /// A job's record as shared by whichever replica runs it (`None` without a shared
    /// store). Blocks: call it off the async runtime.
    pub fn get_shared(&self, job_id: &str) -> std::io::Result<Option<serde_json::Value>> {
        match &self.shared {
            Some(shared) => Ok(shared
                .get(job_id)?
                .map(|(record, quiet)| unless_abandoned(record, quiet))),
            None => Ok(None),
        }
    }

    /// Whether job records are shared with other replicas.
    pub fn is_shared(&self) -> bool {
        self.shared.is_some()
    }

    /// The id of the job this replica is running, if any.
    pub fn running_id(&self) -> Option<String> {
        self.lock()
            .values()
            .find(|r| matches!(r.state, JobState::Queued | JobState::Running))
            .map(|r| r.job_id.clone())
    }

    /// Tells the shared store `job_ids` are alive (see [`JOB_HEARTBEAT`]). Blocks.
    pub fn touch_shared(&self, job_ids: &[String]) -> std::io::Result<()> {
        match &self.shared {
            Some(shared) if !job_ids.is_empty() => shared.touch(job_ids),
            _ => Ok(()),
        }
    }

    /// Writes a job's current record to the shared store. Blocks.
    pub fn share(&self, job_id: &str) {
        if let Some(record) = self.get(job_id) {
            share_job(self.shared.as_ref(), job_id, &record);
        }
    }

    /// Accepts a job unless one is running here or, with a shared store, on any replica;
    /// returns its id. Blocks (the shared store): call it off the async runtime.
    pub fn try_start(
        &self,
        request: &RetrainRequest,
        current_version: &str,
    ) -> Result<String, StartError> {
        if self.running.swap(true, Ordering::AcqRel) {
            return Err(StartError::Running);
        }
        if let Some(shared) = &self.shared {
            // Two replicas retraining at once would train on the same labels and promote
            // one after the other: the work done twice, and the first promotion undone.
            match shared.claim_retrain() {
                Ok(Some(claim)) => *self.lock_claim() = Some(claim),
                claimed => {
                    self.running.store(false, Ordering::Release);
                    return Err(match claimed {
                        Err(e) => StartError::Store(e),
                        _ => StartError::Running,
                    });
                }
            }
        }
        let job_id = format!("job-{:016x}", rand::random::<u64>());
        let record = JobRecord {
            job_id: job_id.clone(),
            state: JobState::Queued,
            stage: "queued".into(),
            progress: 0.0,
            force: request.force,
            holdout: request.holdout,
            triggered_by: request.triggered_by.clone(),
            current_version: current_version.to_owned(),
            corpus_docs: 0,
            label_docs: 0,
            candidate: None,
            current: None,
            gate: None,
            model_version: None,
            error: None,
            created_at: OffsetDateTime::now_utc(),
            duration_secs: None,
            timings: Vec::new(),
        };
        self.lock().insert(job_id.clone(), record);
        Ok(job_id)
    }

    /// A job's record.
    pub fn get(&self, job_id: &str) -> Option<JobRecord> {
        self.lock().get(job_id).cloned()
    }

    /// Changes a job's record, and shares the new one. Blocks (the shared store).
    fn update(&self, job_id: &str, change: impl FnOnce(&mut JobRecord)) {
        let changed = self.lock().get_mut(job_id).map(|record| {
            change(record);
            record.clone()
        });
        if let Some(record) = changed {
            share_job(self.shared.as_ref(), job_id, &record);
        }
    }

    fn finish(&self, job_id: &str, change: impl FnOnce(&mut JobRecord)) {
        // The turn is given up before the record says finished: whoever sees the job end
        // may ask for the next one at once, here or on another replica.
        self.lock_claim().take();
        self.running.store(false, Ordering::Release);
        self.update(job_id, change);
    }

    /// Before a job registers its model, with a shared store: makes sure this replica still
    /// holds the claim, claiming it again if the store lost it (a database restart frees
    /// it; answers `true` then), and fails if another replica holds it by now. Blocks (the
    /// shared store).
    fn confirm_claim(&self) -> anyhow::Result<bool> {
        let Some(shared) = &self.shared else {
            return Ok(false);
        };
        let mut claim = self.lock_claim();
        if claim.as_ref().is_some_and(RetrainClaim::is_held) {
            return Ok(false);
        }
        // The lost claim is given up first: its holder's connection is gone or going.
        claim.take();
        match shared.claim_retrain() {
            Ok(Some(again)) => {
                tracing::warn!("the retraining claim was lost while the job ran; claimed again");
                *claim = Some(again);
                Ok(true)
            }
            Ok(None) => Err(anyhow::anyhow!(
                "the retraining claim was lost while the job ran (did the database restart?) \
                 and another replica holds it now; this job's model is not promoted"
            )),
            Err(e) => Err(anyhow::Error::new(e).context("cannot confirm the retraining claim")),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, JobRecord>> {
        self.records.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_claim(&self) -> std::sync::MutexGuard<'_, Option<RetrainClaim>> {
        self.claim.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Everything a job needs.
pub struct RetrainContext<'a> {
    /// The registry to write to.
    pub registry: &'a Registry,
    /// Labels and the live scorer.
    pub labels: &'a LabelBook,
    /// Gate tolerances.
    pub tolerance: GateTolerance,
    /// Versions kept when pruning.
    pub keep_versions: usize,
    /// Serialises activations (jobs and rollbacks).
    pub activation: &'a Mutex<()>,
    /// Where promotions are announced to other replicas.
    pub cache: &'a Cache,
}

/// Whether a corpus row is in the holdout: a fixed hash of its text, so every job (and every
/// replica) draws the same one.
fn in_holdout(text: &str, share: f64) -> bool {
    (xxh3_64(text.as_bytes()) % 10_000) < (share * 10_000.0) as u64
}

/// Runs job `job_id` to the end, recording progress in `jobs`. Blocks: run it off the
/// async runtime.
pub fn run_job(ctx: &RetrainContext<'_>, jobs: &Jobs, job_id: &str, request: &RetrainRequest) {
    let started = Instant::now();
    // A bug that panics must fail the job, not leave it running forever (which would refuse
    // every later retraining with 409).
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        train_gate_promote(ctx, jobs, job_id, request)
    }))
    .unwrap_or_else(|_| Err(anyhow::anyhow!("the retraining job panicked")));
    let secs = started.elapsed().as_secs_f64();
    jobs.finish(job_id, |job| {
        if job.state == JobState::Running {
            let earlier: f64 = job.timings.iter().map(|t| t.secs).sum();
            let stage = std::mem::take(&mut job.stage);
            job.timings.push(StageTiming {
                stage,
                secs: (secs - earlier).max(0.0),
            });
        }
        job.duration_secs = Some(secs);
        job.progress = 1.0;
        match result {
            Ok(Some(version)) => {
                job.state = JobState::Succeeded;
                job.stage = "promoted".into();
                job.model_version = Some(version);
            }
            Ok(None) => {
                job.state = JobState::Rejected;
                job.stage = "rejected by the gate".into();
            }
            Err(e) => {
                job.state = JobState::Failed;
                job.stage = "failed".into();
                job.error = Some(format!("{e:#}"));
            }
        }
    });
    if let Some(job) = jobs.get(job_id) {
        tracing::info!(
            job_id,
            state = ?job.state,
            model_version = job.model_version.as_deref(),
            duration_secs = secs,
            candidate_f1 = job.candidate.as_ref().map(|r| r.f1),
            current_f1 = job.current.as_ref().map(|r| r.f1),
            "retraining job finished"
        );
    }
}

/// `Ok(Some(version))` promoted, `Ok(None)` rejected.
fn train_gate_promote(
    ctx: &RetrainContext<'_>,
    jobs: &Jobs,
    job_id: &str,
    request: &RetrainRequest,
) -> anyhow::Result<Option<String>> {
    let mut stage = StageClock::new(jobs, job_id);
    stage.enter("starting", 0.05);
    let baseline = Baseline::read(ctx);

    // One streaming pass over everything: each group's counts, plus a bounded sample of its
    // documents for calibration. Memory is a few models and the samples, whatever the
    // number of labels; every document is extracted once per job.
    stage.enter("reading the corpus", 0.1);
    let corpus = CorpusSplit::count(&baseline.trainer, request.holdout);
    stage.enter("reading labels", 0.2);
    let labels = LabelSplit::count(ctx, &baseline, request.holdout)?;
    let (corpus_docs, label_docs) = (corpus.docs(), labels.docs());
    jobs.update(job_id, |job| {
        job.corpus_docs = corpus_docs;
        job.label_docs = label_docs;
    });

    stage.enter(
        "training the candidate, the current recipe and the final model",
        0.4,
    );
    let trained = train_all(&baseline, &corpus, &labels);
    let candidate_report = trained.candidate;
    let current_report = trained.current?;
    let gate = Gate::judge(
        &candidate_report,
        &current_report,
        ctx.tolerance,
        request.force,
    );
    jobs.update(job_id, |job| {
        job.candidate = Some(candidate_report.clone());
        job.current = Some(current_report);
        job.gate = Some(gate.verdict);
    });
    if !gate.passed && !request.force {
        return Ok(None);
    }

    let model = trained.final_model?;
    stage.enter("registering", 0.9);
    if jobs.confirm_claim()? {
        // While the claim was lost another replica may have retrained, promoted and let it
        // go: this job's model, trained from the one before, must not replace that one.
        let active = ctx.registry.active()?;
        if let Some(active) = active.filter(|v| *v != baseline.version) {
            anyhow::bail!(
                "the retraining claim was lost while the job ran and {active} was promoted \
                 meanwhile; this job's model, trained from {}, is not promoted",
                baseline.version
            );
        }
    }
    let (staged, manifest) = write_final_model(ctx, &model, baseline.through)?;
    let entry = RegistryEntry {
        version: manifest.version.clone(),
        parent: Some(baseline.version),
        created_at: manifest.created_at.clone(),
        corpus_docs,
        label_docs,
        labels_through: baseline.through,
        labels_log: Some(baseline.log_id),
        holdout: Some(candidate_report),
        triggered_by: request.triggered_by.clone(),
        forced: !gate.passed,
    };
    ctx.registry.register(&staged, &entry)?;
    stage.enter("activating", 0.95);
    activate(ctx, &manifest.version)?;
    if let Err(e) = ctx.registry.prune(ctx.keep_versions) {
        tracing::warn!(error = %e, "pruning old model versions failed");
    }
    Ok(Some(manifest.version))
}

/// Moves a job from stage to stage. Each move ends the stage before it, so the record shows
/// where a job's time went.
struct StageClock<'a> {
    jobs: &'a Jobs,
    job_id: &'a str,
    started: Instant,
}

impl<'a> StageClock<'a> {
    fn new(jobs: &'a Jobs, job_id: &'a str) -> Self {
        StageClock {
            jobs,
            job_id,
            started: Instant::now(),
        }
    }

    fn enter(&mut self, name: &str, progress: f64) {
        let secs = self.started.elapsed().as_secs_f64();
        self.started = Instant::now();
        self.jobs.update(self.job_id, |job| {
            // A queued job has no stage yet whose time to record.
            if job.state == JobState::Running {
                let stage = std::mem::take(&mut job.stage);
                job.timings.push(StageTiming { stage, secs });
            }
            job.state = JobState::Running;
            job.stage = name.to_owned();
            job.progress = progress;
        })
    }
}

/// The model in service when a job starts, and what the job's models are trained with.
struct Baseline {
    /// Its rules and policy score both gate models, so only the models differ.
    live: Arc<Scorer>,
    /// The version in service, the new model's parent.
    version: String,
    /// This replica's label log.
    log_id: String,
    /// The last label of this log the model in service learned (0 if from another log).
    trained_through: u64,
    /// The last label the job learns.
    through: u64,
    /// Keeps the hyper-parameters in service.
    trainer: Trainer,
    /// A moderator label's weight against a corpus comment.
    weight: f32,
}

impl Baseline {
    fn read(ctx: &RetrainContext<'_>) -> Baseline {
        let live = ctx.labels.live().current();
        let version = live.model_version().to_owned();
        let entry = ctx.registry.load(&version).ok().map(|(_, _, e)| e);
        let log_id = ctx.labels.log_id().to_owned();
        let trained_through = entry.as_ref().map_or(0, |e| {
            included_labels(e.labels_log.as_deref(), e.labels_through, &log_id)
        });
        let through = ctx.labels.last_seq();
        let trainer = Trainer::new(TrainOptions {
            params: *live.model().params(),
            ..TrainOptions::default()
        });
        Baseline {
            live,
            version,
            log_id,
            trained_through,
            through,
            trainer,
            weight: ctx.labels.weight(),
        }
    }
}

/// The shipped corpus, split into the gate's holdout and the rest.
struct CorpusSplit {
    /// The rows the gate evaluates on.
    holdout: Vec<LabelledComment>,
    holdout_group: Group,
    rest: Group,
}

impl CorpusSplit {
    fn count(trainer: &Trainer, share: f64) -> CorpusSplit {
        let corpus = shipped_corpus();
        let weights = source_weights(corpus.iter().map(|r| (r.source.as_deref(), r.label)));
        let (holdout, rest): (Vec<_>, Vec<_>) = corpus
            .into_iter()
            .zip(weights)
            .partition(|(row, _)| in_holdout(&row.text, share));
        let rest = Group::count(
            trainer,
            rest.iter().map(|(r, w)| (r.to_comment(), r.label, *w)),
        );
        let holdout_group = Group::count(
            trainer,
            holdout.iter().map(|(r, w)| (r.to_comment(), r.label, *w)),
        );
        let holdout = holdout.into_iter().map(|(row, _)| row).collect();
        CorpusSplit {
            holdout,
            holdout_group,
            rest,
        }
    }

    fn docs(&self) -> u64 {
        (self.rest.docs + self.holdout_group.docs) as u64
    }
}

/// The moderator labels in force, split by which models may learn them.
struct LabelSplit {
    /// Learned by the model in service: both gate models train on them.
    old: Group,
    /// Since then: what the gate judges.
    new: Group,
    /// On holdout texts. Either gate model training on them would train on the test, so
    /// they join the final training only.
    holdout: Group,
}

impl LabelSplit {
    fn count(
        ctx: &RetrainContext<'_>,
        baseline: &Baseline,
        share: f64,
    ) -> std::io::Result<LabelSplit> {
        let trainer = &baseline.trainer;
        let mut old = GroupBuilder::new(trainer);
        let mut new = GroupBuilder::new(trainer);
        let mut holdout = GroupBuilder::new(trainer);
        ctx.labels.for_each_current(baseline.through, |record| {
            // As online: a label of a site teaches the shared model a share of its weight.
            let weight = shared_weight(&record.comment, baseline.weight);
            let doc = (record.comment.clone(), record.label, weight);
            if in_holdout(&record.comment.content, share) {
                holdout.push(doc);
            } else if record.seq <= baseline.trained_through {
                old.push(doc);
            } else {
                new.push(doc);
            }
        })?;
        Ok(LabelSplit {
            old: old.finish(),
            new: new.finish(),
            holdout: holdout.finish(),
        })
    }

    fn docs(&self) -> u64 {
        (self.old.docs + self.new.docs + self.holdout.docs) as u64
    }
}

/// What the job's trainings produced.
struct Trained {
    /// The candidate's figures on the holdout.
    candidate: EvalReport,
    /// The current recipe's figures on the holdout.
    current: anyhow::Result<EvalReport>,
    /// Trained on everything: what is promoted if the gate passes.
    final_model: anyhow::Result<NbModel>,
}

/// Trains the candidate, the current recipe and the final model, and evaluates the first
/// two on the holdout.
fn train_all(baseline: &Baseline, corpus: &CorpusSplit, labels: &LabelSplit) -> Trained {
    // The three trainings are independent. The final one (everything) is built alongside
    // the two the gate compares, and thrown away if the gate refuses: on two cores that
    // costs little and saves a training's time on every promotion.
    let trainer = &baseline.trainer;
    let everything: [&Group; 5] = [
        &corpus.rest,
        &corpus.holdout_group,
        &labels.old,
        &labels.new,
        &labels.holdout,
    ];
    std::thread::scope(|scope| {
        let current = scope.spawn(|| {
            let model = build(trainer, &[&corpus.rest, &labels.old]);
            evaluate(&baseline.live.with_model(model, "current"), &corpus.holdout)
        });
        let final_model = scope.spawn(|| build(trainer, &everything));
        let model = build(trainer, &[&corpus.rest, &labels.old, &labels.new]);
        let candidate = evaluate(
            &baseline.live.with_model(model, "candidate"),
            &corpus.holdout,
        );
        Trained {
            candidate,
            current: current
                .join()
                .map_err(|_| anyhow::anyhow!("training the current recipe panicked")),
            final_model: final_model
                .join()
                .map_err(|_| anyhow::anyhow!("training the final model panicked")),
        }
    })
}

/// The gate's decision on a candidate.
struct Gate {
    /// Within both tolerances.
    passed: bool,
    /// Why it passed or failed, in words.
    verdict: String,
}

impl Gate {
    fn judge(
        candidate: &EvalReport,
        current: &EvalReport,
        tolerance: GateTolerance,
        force: bool,
    ) -> Gate {
        let f1_ok = candidate.f1 >= current.f1 - tolerance.f1_drop;
        let fpr_ok = candidate.fpr <= current.fpr + tolerance.fpr_rise;
        let verdict = format!(
            "F1 {:.4} vs {:.4} (may drop {}): {}; false-positive rate {:.4} vs {:.4} (may rise {}): {}{}",
            candidate.f1,
            current.f1,
            tolerance.f1_drop,
            if f1_ok { "ok" } else { "too low" },
            candidate.fpr,
            current.fpr,
            tolerance.fpr_rise,
            if fpr_ok { "ok" } else { "too high" },
            if force && !(f1_ok && fpr_ok) { "; forced" } else { "" },
        );
        Gate {
            passed: f1_ok && fpr_ok,
            verdict,
        }
    }
}

/// Writes the model to promote into a fresh staging directory, for the registry to take.
fn write_final_model(
    ctx: &RetrainContext<'_>,
    model: &NbModel,
    through: u64,
) -> anyhow::Result<(PathBuf, Manifest)> {
    let staged = ctx.registry.staging_dir()?;
    let manifest = write_model(
        model,
        &staged,
        format!("corpus:shipped+labels:{through}"),
        vec![
            "fixtures/corpus (embedded)".into(),
            format!("labels.jsonl through {through}"),
        ],
        CvMetrics::default(),
    )?;
    Ok((staged, manifest))
}

/// Documents per calibration sample of one group: enough for a 12-parameter logistic
/// fit, and what bounds a job's memory (about 2 KB of features per document).
pub const SAMPLE_PER_GROUP: usize = 20_000;
/// Documents extracted per batch (split across the two cores).
const BATCH: usize = 2048;

/// One part of a training set (corpus minus holdout, holdout, older labels, newer labels),
/// counted: its counts, and a uniform sample of its documents for calibration.
struct Group {
    counts: ClassCounts,
    sample: Vec<ExtractedDoc>,
    docs: usize,
}

/// Counts a group as documents stream in, a batch at a time.
struct GroupBuilder<'t> {
    trainer: &'t Trainer,
    batch: Vec<(Comment, Label, f32)>,
    group: Group,
    rng: rand::rngs::StdRng,
}

impl<'t> GroupBuilder<'t> {
    fn new(trainer: &'t Trainer) -> Self {
        use rand::SeedableRng;
        GroupBuilder {
            trainer,
            batch: Vec::with_capacity(BATCH),
            group: Group {
                counts: ClassCounts::new(&trainer.options.params),
                sample: Vec::new(),
                docs: 0,
            },
            // Fixed seed: the same labels give the same model.
            rng: rand::rngs::StdRng::seed_from_u64(0x5eed),
        }
    }

    fn push(&mut self, doc: (Comment, Label, f32)) {
        self.batch.push(doc);
        if self.batch.len() == BATCH {
            self.flush();
        }
    }

    fn flush(&mut self) {
        let docs = self.trainer.extract_many(&self.batch);
        self.batch.clear();
        self.group.counts.add(
            docs.iter()
                .map(|d| (d.buckets.as_slice(), d.label, d.weight)),
        );
        for doc in docs {
            // Reservoir sampling (algorithm R): every document equally likely to be kept.
            self.group.docs += 1;
            if self.group.sample.len() < SAMPLE_PER_GROUP {
                self.group.sample.push(doc);
            } else {
                use rand::Rng;
                let slot = self.rng.random_range(0..self.group.docs);
                if slot < SAMPLE_PER_GROUP {
                    self.group.sample[slot] = doc;
                }
            }
        }
    }

    fn finish(mut self) -> Group {
        self.flush();
        self.group
    }
}

impl Group {
    fn count(trainer: &Trainer, docs: impl Iterator<Item = (Comment, Label, f32)>) -> Group {
        let mut builder = GroupBuilder::new(trainer);
        docs.for_each(|d| builder.push(d));
        builder.finish()
    }
}

/// A calibrated model of several groups: their counts added, the calibration fitted on
/// out-of-fold evidence of their samples (each sampled document scored by the combined
/// model minus its fold of the sample, so by a model that did not see it).
fn build(trainer: &Trainer, groups: &[&Group]) -> NbModel {
    let mut model = NbModel::new(trainer.options.params);
    model.add_counts(groups.iter().map(|g| &g.counts));
    let sample: Vec<&ExtractedDoc> = groups.iter().flat_map(|g| &g.sample).collect();
    let evidence = trainer.out_of_fold_evidence(&model, &sample);
    model.set_calibration(Calibration::fit(&evidence));
    model
}

/// Makes a registered version the one in service: loads and checks it, records it as
/// active, swaps it in with every later label learned on top, and announces it to the
/// other replicas.
pub fn activate(ctx: &RetrainContext<'_>, version: &str) -> Result<(), RegistryError> {
    let _guard = ctx.activation.lock().unwrap_or_else(|p| p.into_inner());
    activate_locked(ctx, version, true)?;
    ctx.cache.announce_model(version);
    Ok(())
}

/// Follows another replica's announcement: activates `version` unless it already serves.
/// A shared registry's pointer is the other replica's to write: following a promotion
/// must not undo a rollback made meanwhile.
pub fn follow(ctx: &RetrainContext<'_>, version: &str) -> Result<(), RegistryError> {
    let _guard = ctx.activation.lock().unwrap_or_else(|p| p.into_inner());
    if ctx.labels.live().current().model_version() == version {
        return Ok(());
    }
    activate_locked(ctx, version, !ctx.registry.is_shared())
}

/// Serves the shared registry's active version if another replica changed it; answers the
/// version now served when it changed. The pointer is read under the activation lock, so a
/// promotion of this replica's own is never mistaken for a change to undo.
pub fn follow_active(ctx: &RetrainContext<'_>) -> Result<Option<String>, RegistryError> {
    let _guard = ctx.activation.lock().unwrap_or_else(|p| p.into_inner());
    let Some(active) = ctx.registry.active()? else {
        return Ok(None);
    };
    if ctx.labels.live().current().model_version() == active {
        return Ok(None);
    }
    activate_locked(ctx, &active, false)?;
    Ok(Some(active))
}

/// Loads `version` and serves it; `record` also makes it the registry's active version.
fn activate_locked(
    ctx: &RetrainContext<'_>,
    version: &str,
    record: bool,
) -> Result<(), RegistryError> {
    let (model, manifest, entry) = ctx.registry.load(version)?;
    let live = ctx.labels.live().current();
    let mut scorer: Scorer = live
        .with_model(model, manifest.version)
        .without_site_layers();
    let through = included_labels(
        entry.labels_log.as_deref(),
        entry.labels_through,
        ctx.labels.log_id(),
    );
    // The new model counts labels through `through` in its shared counts; their site
    // layers are rebuilt here, and `activate` learns every later label into both.
    learn_site_layers(ctx.labels, &mut scorer, through)
        .and_then(|()| ctx.labels.activate(scorer, through))
        .map_err(|source| RegistryError::Io {
            path: ctx.registry.version_dir(version),
            source,
        })?;
    // Recorded only once it serves, so `ACTIVE` never names a model that is not in service.
    if record {
        ctx.registry.set_active(version)?;
    }
    tracing::info!(version, labels_through = through, "model version activated");
    Ok(())
}

/// Labels learned into their sites' layers per batch.
const SITE_LAYER_BATCH: usize = 4096;

/// Learns the labels in force through log position `through` into their sites' layers
/// only (the shared model of a model trained on them counts them already). Only labelled
/// comments with a site are held, a batch at a time.
pub fn learn_site_layers(
    labels: &LabelBook,
    scorer: &mut Scorer,
    through: u64,
) -> std::io::Result<()> {
    if through == 0 {
        return Ok(());
    }
    let weight = labels.weight();
    let mut batch: Vec<(Comment, Label)> = Vec::new();
    let flush = |scorer: &mut Scorer, batch: &mut Vec<(Comment, Label)>| {
        let items: Vec<(&Comment, Label, f32)> =
            batch.iter().map(|(c, l)| (c, *l, weight)).collect();
        scorer.learn_site_layers(&items);
        batch.clear();
    };
    labels.for_each_current(through, |record| {
        if record.comment.site.is_some() {
            batch.push((record.comment.clone(), record.label));
            if batch.len() == SITE_LAYER_BATCH {
                flush(scorer, &mut batch);
            }
        }
    })?;
    flush(scorer, &mut batch);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::atomic::AtomicU32;
    use std::time::Duration;

    /// A store with one claim: `holder` is the id of whoever holds it (0: nobody), and a
    /// claim given to `id` stands while `holder` is `id`.
    #[derive(Debug, Default)]
    struct OneClaim {
        holder: Arc<AtomicU32>,
        next_id: AtomicU32,
    }

    struct Held {
        id: u32,
        holder: Arc<AtomicU32>,
    }

    impl ClaimHolder for Held {
        fn is_held(&self) -> bool {
            self.holder.load(Ordering::SeqCst) == self.id
        }
    }

    impl Drop for Held {
        fn drop(&mut self) {
            let _ = self
                .holder
                .compare_exchange(self.id, 0, Ordering::SeqCst, Ordering::SeqCst);
        }
    }

    impl SharedJobs for OneClaim {
        fn put(&self, _: &str, _: &serde_json::Value) -> std::io::Result<()> {
            Ok(())
        }
        fn get(&self, _: &str) -> std::io::Result<Option<(serde_json::Value, Duration)>> {
            Ok(None)
        }
        fn touch(&self, _: &[String]) -> std::io::Result<()> {
            Ok(())
        }
        fn claim_retrain(&self) -> std::io::Result<Option<RetrainClaim>> {
            let id = self.next_id.fetch_add(1, Ordering::SeqCst) + 1;
            let free = self
                .holder
                .compare_exchange(0, id, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok();
            Ok(free.then(|| {
                RetrainClaim::new(Held {
                    id,
                    holder: self.holder.clone(),
                })
            }))
        }
    }

    #[test]
    fn a_job_confirms_its_claim_before_it_promotes() {
        /// What happens to the store's claim while the job runs.
        type Meanwhile = fn(&AtomicU32);
        // (case, meanwhile, what confirming answers: Some(reclaimed) or None for an error, why)
        let cases: [(&str, Meanwhile, Option<bool>, &str); 3] = [
            ("kept", |_| {}, Some(false), "still held: nothing to do"),
            (
                "lost_and_free",
                |holder| holder.store(0, Ordering::SeqCst),
                Some(true),
                "lost with nobody else retraining: claimed again",
            ),
            (
                "lost_and_taken",
                |holder| holder.store(999, Ordering::SeqCst),
                None,
                "another replica holds it: the job must not promote",
            ),
        ];
        for (case, meanwhile, want, why) in cases {
            let store = Arc::new(OneClaim::default());
            let jobs = Jobs::shared(store.clone());
            let request = RetrainRequest {
                force: false,
                holdout: 0.1,
                triggered_by: "test".into(),
            };
            jobs.try_start(&request, "nb-current").expect("starts");
            meanwhile(&store.holder);
            let got = jobs.confirm_claim();
            assert_eq!(got.as_ref().ok().copied(), want, "{case}: {why}: {got:?}");
            if want == Some(true) {
                assert!(jobs
                    .lock_claim()
                    .as_ref()
                    .is_some_and(RetrainClaim::is_held));
            }
        }
        assert_eq!(
            Jobs::default().confirm_claim().ok(),
            Some(false),
            "no shared store"
        );
    }

    #[test]
    fn shared_jobs_left_unfinished_and_untouched_are_reported_abandoned() {
        let quiet = JOB_ABANDONED_AFTER + Duration::from_secs(1);
        // (record, untouched for, state reported, why)
        let cases = [
            (
                json!({"state": "running"}),
                quiet,
                "failed",
                "running and silent: its replica died",
            ),
            (
                json!({"state": "queued"}),
                quiet,
                "failed",
                "queued and silent, the same",
            ),
            (
                json!({"state": "running"}),
                Duration::from_secs(5),
                "running",
                "touched lately",
            ),
            (
                json!({"state": "succeeded"}),
                quiet * 100,
                "succeeded",
                "finished jobs stay as they ended",
            ),
            (
                json!({"state": "rejected"}),
                quiet,
                "rejected",
                "so do rejected ones",
            ),
        ];
        for (record, untouched, want, why) in cases {
            let got = unless_abandoned(record, untouched);
            assert_eq!(got["state"], want, "{why}");
            assert_eq!(got["abandoned"] == true, want == "failed", "{why}");
        }
        let import = unless_abandoned(json!({"kind": "import", "state": "running"}), quiet);
        assert_eq!(
            import["error"]["code"], "job_abandoned",
            "an import's error has a code"
        );
        let retrain = unless_abandoned(json!({"state": "running"}), quiet);
        assert!(
            retrain["error"].as_str().unwrap().starts_with("abandoned"),
            "a sentence"
        );
    }
}
