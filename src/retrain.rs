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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use serde::Serialize;
use time::OffsetDateTime;
use xxhash_rust::xxh3::xxh3_64;

use crate::cache::Cache;
use crate::classifier::{write_model, CvMetrics, ExtractedDoc, TrainOptions, Trainer};
use crate::corpus::{shipped_corpus, LabelledComment};
use crate::evaluation::{evaluate, EvalReport};
use crate::labels::LabelBook;
use crate::registry::{Registry, RegistryEntry, RegistryError};
use crate::scoring::Scorer;

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
}

/// Jobs of this process: at most one runs at a time.
#[derive(Debug, Default)]
pub struct Jobs {
    records: Mutex<HashMap<String, JobRecord>>,
    running: AtomicBool,
}

impl Jobs {
    /// Accepts a job unless one is running; returns its id.
    pub fn try_start(&self, request: &RetrainRequest, current_version: &str) -> Option<String> {
        if self.running.swap(true, Ordering::AcqRel) {
            return None;
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
        };
        self.lock().insert(job_id.clone(), record);
        Some(job_id)
    }

    /// A job's record.
    pub fn get(&self, job_id: &str) -> Option<JobRecord> {
        self.lock().get(job_id).cloned()
    }

    fn update(&self, job_id: &str, change: impl FnOnce(&mut JobRecord)) {
        if let Some(record) = self.lock().get_mut(job_id) {
            change(record);
        }
    }

    fn finish(&self, job_id: &str, change: impl FnOnce(&mut JobRecord)) {
        self.update(job_id, change);
        self.running.store(false, Ordering::Release);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, JobRecord>> {
        self.records.lock().unwrap_or_else(|p| p.into_inner())
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
fn in_holdout(row: &LabelledComment, share: f64) -> bool {
    (xxh3_64(row.text.as_bytes()) % 10_000) < (share * 10_000.0) as u64
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
    let stage = |name: &str, progress: f64| {
        jobs.update(job_id, |job| {
            job.state = JobState::Running;
            job.stage = name.to_owned();
            job.progress = progress;
        })
    };
    stage("reading labels", 0.05);
    let live = ctx.labels.live().current();
    let current_version = live.model_version().to_owned();
    let current_entry = ctx.registry.load(&current_version).ok().map(|(_, _, e)| e);
    let current_through = current_entry.as_ref().map_or(0, |e| e.labels_through);
    let through = ctx.labels.last_seq();
    let trainer = Trainer::new(TrainOptions {
        params: *live.model().params(),
        ..TrainOptions::default()
    });
    let weight = ctx.labels.weight();
    // Labels with their log position, so the current recipe can take the older ones only.
    let mut records = Vec::new();
    ctx.labels.for_each_current(through, |record| {
        records.push((record.seq, record.comment.clone(), record.label));
    })?;
    let (first, second) = records.split_at(records.len() / 2);
    let extract = |part: &[(u64, crate::domain::Comment, crate::domain::Label)]| {
        part.iter()
            .map(|(seq, comment, label)| (*seq, trainer.extract_comment(comment, *label, weight)))
            .collect::<Vec<_>>()
    };
    let labels: Vec<(u64, ExtractedDoc)> = std::thread::scope(|scope| {
        let other = scope.spawn(|| extract(second));
        let mut labels = extract(first);
        labels.extend(
            other
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p)),
        );
        labels
    });
    drop(records);

    stage("reading the corpus", 0.15);
    let corpus = shipped_corpus();
    let (holdout, rest): (Vec<_>, Vec<_>) = corpus
        .into_iter()
        .partition(|row| in_holdout(row, request.holdout));
    let rest_docs = extract_in_parallel(&trainer, &rest);
    jobs.update(job_id, |job| {
        job.corpus_docs = (rest.len() + holdout.len()) as u64;
        job.label_docs = labels.len() as u64;
    });

    stage("training the candidate", 0.3);
    let with = |take: &dyn Fn(u64) -> bool| -> Vec<ExtractedDoc> {
        rest_docs
            .iter()
            .cloned()
            .chain(
                labels
                    .iter()
                    .filter(|(s, _)| take(*s))
                    .map(|(_, d)| d.clone()),
            )
            .collect()
    };
    // The two trainings are independent: one per core.
    let (candidate_report, current_report) = std::thread::scope(|scope| {
        let current = scope.spawn(|| {
            let model = trainer.fit(&with(&|s| s <= current_through));
            evaluate(&live.with_model(model, "current"), &holdout)
        });
        let candidate = live.with_model(trainer.fit(&with(&|_| true)), "candidate");
        let candidate_report = evaluate(&candidate, &holdout);
        stage("evaluating the current recipe", 0.55);
        (candidate_report, current.join())
    });
    let current_report =
        current_report.map_err(|_| anyhow::anyhow!("training the current recipe panicked"))?;

    let f1_ok = candidate_report.f1 >= current_report.f1 - ctx.tolerance.f1_drop;
    let fpr_ok = candidate_report.fpr <= current_report.fpr + ctx.tolerance.fpr_rise;
    let verdict = format!(
        "F1 {:.4} vs {:.4} (may drop {}): {}; false-positive rate {:.4} vs {:.4} (may rise {}): {}{}",
        candidate_report.f1,
        current_report.f1,
        ctx.tolerance.f1_drop,
        if f1_ok { "ok" } else { "too low" },
        candidate_report.fpr,
        current_report.fpr,
        ctx.tolerance.fpr_rise,
        if fpr_ok { "ok" } else { "too high" },
        if request.force && !(f1_ok && fpr_ok) { "; forced" } else { "" },
    );
    let passed = f1_ok && fpr_ok;
    jobs.update(job_id, |job| {
        job.candidate = Some(candidate_report.clone());
        job.current = Some(current_report);
        job.gate = Some(verdict);
    });
    if !passed && !request.force {
        return Ok(None);
    }

    stage("training on everything", 0.7);
    let corpus_docs = (rest_docs.len() + holdout.len()) as u64;
    let label_docs = labels.len() as u64;
    let holdout_docs = extract_in_parallel(&trainer, &holdout);
    let all: Vec<&ExtractedDoc> = rest_docs
        .iter()
        .chain(&holdout_docs)
        .chain(labels.iter().map(|(_, d)| d))
        .collect();
    let model = trainer.fit(&all);
    stage("registering", 0.9);
    let staged = ctx.registry.staging_dir()?;
    let manifest = write_model(
        &model,
        &staged,
        format!("corpus:shipped+labels:{through}"),
        vec![
            "fixtures/corpus (embedded)".into(),
            format!("labels.jsonl through {through}"),
        ],
        CvMetrics::default(),
    )?;
    let entry = RegistryEntry {
        version: manifest.version.clone(),
        parent: Some(current_version),
        created_at: manifest.created_at.clone(),
        corpus_docs,
        label_docs,
        labels_through: through,
        holdout: Some(candidate_report),
        triggered_by: request.triggered_by.clone(),
        forced: !passed,
    };
    ctx.registry.register(&staged, &entry)?;
    activate(ctx, &manifest.version)?;
    if let Err(e) = ctx.registry.prune(ctx.keep_versions) {
        tracing::warn!(error = %e, "pruning old model versions failed");
    }
    Ok(Some(manifest.version))
}

/// Extracts features of corpus rows on two threads (the machine's cores; extraction is most
/// of a retraining's time).
fn extract_in_parallel(trainer: &Trainer, rows: &[LabelledComment]) -> Vec<ExtractedDoc> {
    let (first, second) = rows.split_at(rows.len() / 2);
    std::thread::scope(|scope| {
        let other = scope.spawn(|| {
            second
                .iter()
                .map(|r| trainer.extract(r))
                .collect::<Vec<_>>()
        });
        let mut docs: Vec<ExtractedDoc> = first.iter().map(|r| trainer.extract(r)).collect();
        // A panic here is a bug; `run_job` turns it into a failed job.
        docs.extend(
            other
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p)),
        );
        docs
    })
}

/// Makes a registered version the one in service: loads and checks it, records it as
/// active, swaps it in with every later label learned on top, and announces it to the
/// other replicas.
pub fn activate(ctx: &RetrainContext<'_>, version: &str) -> Result<(), RegistryError> {
    let _guard = ctx.activation.lock().unwrap_or_else(|p| p.into_inner());
    activate_locked(ctx, version)?;
    ctx.cache.announce_model(version);
    Ok(())
}

/// Follows another replica's announcement: activates `version` unless it already serves.
pub fn follow(ctx: &RetrainContext<'_>, version: &str) -> Result<(), RegistryError> {
    let _guard = ctx.activation.lock().unwrap_or_else(|p| p.into_inner());
    if ctx.labels.live().current().model_version() == version {
        return Ok(());
    }
    activate_locked(ctx, version)
}

fn activate_locked(ctx: &RetrainContext<'_>, version: &str) -> Result<(), RegistryError> {
    let (model, manifest, entry) = ctx.registry.load(version)?;
    let live = ctx.labels.live().current();
    let scorer: Scorer = live.with_model(model, manifest.version);
    ctx.registry.set_active(version)?;
    ctx.labels
        .activate(scorer, entry.labels_through)
        .map_err(|source| RegistryError::Io {
            path: ctx.registry.version_dir(version),
            source,
        })?;
    tracing::info!(
        version,
        labels_through = entry.labels_through,
        "model version activated"
    );
    Ok(())
}
