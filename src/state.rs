//! The state every worker and handler shares, built once from [`Settings`] by [`build`].
//!
//! Building it does all the start-up IO (the model, the registry, the label log, the keys,
//! the cache and the review history), so that a misconfiguration stops the process before
//! it listens, with a message saying what and where.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::Context;

use crate::akismet::UsageStats;
use crate::cache::{
    Cache, LocalCache, MemoryBudget, RedisCache, StoreMemory, REVIEW_MEMORY_PER_JSON_BYTE,
};
use crate::classifier::{parse_manifest, MANIFEST_FILE, MODEL_FILE};
use crate::database::{Database, PgJobs, PgKeys, PgLabels, PgModels, PgReview};
use crate::keys::{KeyFile, Keyring};
use crate::labels::{included_labels, log_id, LabelBook, ReplayReport, SharedLabelLog};
use crate::metrics::Metrics;
use crate::ratelimit::{RateLimiters, TrustedProxies};
use crate::registry::{Registry, RegistryEntry, REGISTRY_DIR};
use crate::retrain::{GateTolerance, Jobs, RetrainContext};
use crate::review::{FileHistory, ReviewStore};
use crate::scoring::{shipped_artifact, Scorer};
use crate::settings::Settings;
use crate::signals::SignalPolicy;
use crate::telemetry::WarnThrottle;
use crate::text::fuzzy::Signature;

/// State shared by all workers and handlers.
pub struct AppState {
    /// Moderator labels and the live scorer (the loaded model plus what labels taught it).
    pub labels: Arc<LabelBook>,
    /// The shared label store, when labels live in PostgreSQL (to follow other replicas).
    pub shared_labels: Option<Arc<PgLabels>>,
    /// The API keys.
    pub keys: Keyring,
    /// Where the service keeps its state (labels, keys).
    pub data_dir: PathBuf,
    /// Verdicts already given, by content and by comment id; and the signal counters.
    pub cache: Arc<Cache>,
    /// Thresholds of the cross-site and flood signals.
    pub signals: SignalPolicy,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Akismet calls per key, month and site, for `/1.2/usage-limit` and `/1.2/key-sites`.
    pub akismet_usage: UsageStats,
    /// Whether Akismet's comment-check answers `true` for a held comment.
    pub akismet_hold_is_spam: bool,
    /// Promoted model versions.
    pub registry: Registry,
    /// Retraining jobs.
    pub jobs: Jobs,
    /// Import jobs (at most one running).
    pub imports: crate::service::import::ImportJobs,
    /// Serialises model activations (promotions and rollbacks).
    pub activation: Mutex<()>,
    /// Tolerances of the retraining gate.
    pub gate: GateTolerance,
    /// Model versions kept when pruning.
    pub keep_versions: usize,
    /// Prometheus metrics, rendered by `GET /metrics`.
    pub metrics: Metrics,
    /// Rate-limit buckets per key and per client IP.
    pub rate_limits: RateLimiters,
    /// Proxies whose `X-Forwarded-For` names the client IP.
    pub trusted_proxies: TrustedProxies,
    /// Held and spam verdicts kept for the moderator console.
    pub review: Arc<dyn ReviewStore>,
    /// Keeps a failing review history from logging a line per request.
    pub review_warnings: WarnThrottle,
    /// The in-process review history (none with Redis), for its memory use.
    review_memory: Option<Arc<FileHistory>>,
    /// The stores' budgets, for `/metrics`.
    budget: MemoryBudget,
}

impl AppState {
    /// What a retraining job or an activation needs.
    pub fn retrain_context(&self) -> RetrainContext<'_> {
        RetrainContext {
            registry: &self.registry,
            labels: &self.labels,
            tolerance: self.gate,
            keep_versions: self.keep_versions,
            activation: &self.activation,
            cache: &self.cache,
        }
    }

    /// Budget and use of every in-process store that grows with traffic, for `/metrics`.
    pub fn memory(&self) -> Vec<StoreMemory> {
        let mut stores = self.cache.memory();
        if let Some(review) = &self.review_memory {
            stores.push(StoreMemory {
                store: "review",
                budget: self.budget.review,
                used: (review.bytes_in_memory() as f64 * REVIEW_MEMORY_PER_JSON_BYTE) as u64,
            });
        }
        stores
    }

    /// The version of the model serving now.
    pub fn model_version(&self) -> String {
        self.labels.live().current().model_version().to_owned()
    }
}

/// What start-up found, for the `starting` log line and for following other replicas.
#[derive(Debug, Clone)]
pub struct Startup {
    /// Labels replayed from the log (and torn bytes dropped from its end).
    pub replay: ReplayReport,
    /// Whether the configured model was new here (and so made active: other replicas should
    /// hear of it).
    pub newly_configured: bool,
}

/// Builds the state: loads the scorer, opens the data directory, the cache, the review
/// history, the keys, the registry and the label log.
pub fn build(settings: &Settings) -> anyhow::Result<(AppState, Startup)> {
    let scorer = load_scorer(settings)?;
    std::fs::create_dir_all(&settings.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {}",
            settings.data_dir.display()
        )
    })?;
    let budget = MemoryBudget::split(settings.memory_budget_mb);
    if settings.deprecated_cache_capacity.is_some() {
        tracing::warn!(
            "COMMENTGUARD_CACHE_CAPACITY is deprecated and ignored: the in-process cache is \
             bounded in bytes by COMMENTGUARD_MEMORY_BUDGET_MB"
        );
    }
    let cache = open_cache(settings, budget)?;
    let database = open_database(settings)?;
    let (review, review_memory) = open_review(settings, &cache, database.as_ref(), budget)?;
    let keys = open_keys(settings, database.as_ref())?;
    let registry_root = settings
        .registry_dir
        .clone()
        .unwrap_or_else(|| settings.data_dir.join(REGISTRY_DIR));
    let registry = match &database {
        Some(database) => {
            Registry::shared(registry_root, Arc::new(PgModels::new(database.clone())))
        }
        None => Registry::at(registry_root),
    };
    let (jobs, imports) = match &database {
        Some(database) => {
            let shared = Arc::new(PgJobs::new(database.clone()));
            (
                Jobs::shared(shared.clone()),
                crate::service::import::ImportJobs::shared(shared),
            )
        }
        None => Default::default(),
    };
    let shared_labels = match &database {
        Some(database) => Some(Arc::new(
            PgLabels::new(database.clone())
                .context("cannot read the label log's id in PostgreSQL")?,
        )),
        None => None,
    };
    let local_log = match &shared_labels {
        Some(store) => store.id().to_owned(),
        None => log_id(&settings.data_dir)?,
    };
    let (scorer, labels_through, newly_configured) =
        load_active_model(settings, &registry, scorer, &local_log)
            .context("cannot set up the model registry")?;
    let (labels, replay) = match &shared_labels {
        Some(store) => (
            LabelBook::open_shared(store.clone(), scorer, labels_through, settings.label_weight)
                .context("cannot read the labels in PostgreSQL")?,
            ReplayReport::default(),
        ),
        None => LabelBook::open_after(
            &settings.data_dir,
            scorer,
            labels_through,
            settings.label_weight,
        )
        .with_context(|| {
            format!(
                "cannot open the label log in {}",
                settings.data_dir.display()
            )
        })?,
    };
    // The active model counts labels through `labels_through` in its shared counts only;
    // their site layers come from the log (later labels were replayed into both).
    let mut layered = Ok(());
    if labels_through > 0 {
        // Before serving: no label can be written meanwhile.
        labels.live().update(|scorer| {
            layered = crate::retrain::learn_site_layers(&labels, scorer, labels_through);
        });
    }
    layered.context("cannot rebuild the per-site layers from the label log")?;
    // Indexed and parsed now, so that the first request does not wait for them.
    crate::fuzzy::shipped_index();
    crate::text::load_word_list();
    let metrics = Metrics::new();
    metrics.model_in_use(labels.live().current().model_version());
    let labels = Arc::new(labels);
    let log = labels.clone();
    cache
        .share_labelled_spam(Arc::new(move |keep| labelled_spam(&log, keep)))
        .context("cannot read the label log")?;
    let state = AppState {
        labels,
        shared_labels,
        keys,
        data_dir: settings.data_dir.clone(),
        cache: Arc::new(cache),
        signals: settings.signals,
        max_body_bytes: settings.max_body_bytes,
        akismet_usage: UsageStats::default(),
        akismet_hold_is_spam: settings.akismet_hold_is_spam,
        registry,
        jobs,
        imports,
        activation: Mutex::new(()),
        gate: settings.gate,
        keep_versions: settings.keep_versions,
        metrics,
        rate_limits: RateLimiters::new(&settings.rate_limits),
        trusted_proxies: settings.trusted_proxies.clone(),
        review,
        review_warnings: WarnThrottle::default(),
        review_memory,
        budget,
    };
    Ok((
        state,
        Startup {
            replay,
            newly_configured,
        },
    ))
}

/// Loads the model and rules `settings` name (or the embedded ones), with the policy.
pub fn load_scorer(settings: &Settings) -> anyhow::Result<Scorer> {
    Scorer::load(settings.models_dir.as_deref(), settings.policy).with_context(|| {
        match &settings.models_dir {
            Some(dir) => format!("cannot load the model and rules from {}", dir.display()),
            None => "cannot load the embedded model and rules".to_owned(),
        }
    })
}

/// The fingerprints of the newest `keep` spam labels in force, oldest first: what the fuzzy
/// store is given at start (in process it starts empty) and again whenever Redis, which keeps
/// nothing on disk, has lost them.
fn labelled_spam(labels: &LabelBook, keep: usize) -> std::io::Result<Vec<Signature>> {
    let mut signatures = std::collections::VecDeque::new();
    let mut after = 0;
    loop {
        let (page, next) = labels.export(after, 1000)?;
        for record in page
            .iter()
            .filter(|r| r.label == crate::domain::Label::Spam)
        {
            let canonical = crate::text::canonicalize(&record.comment.content);
            if let Some(signature) = crate::fuzzy::signature_of(&canonical) {
                if signatures.len() == keep {
                    signatures.pop_front();
                }
                signatures.push_back(signature);
            }
        }
        match next {
            Some(seq) => after = seq,
            None => break,
        }
    }
    Ok(signatures.into())
}

/// The PostgreSQL label store when a database URL is set (connected and migrated).
fn open_database(settings: &Settings) -> anyhow::Result<Option<Arc<Database>>> {
    settings
        .database_url
        .as_deref()
        .map(Database::open)
        .transpose()
}

/// Redis when a URL is set, else the in-process cache within `budget`.
fn open_cache(settings: &Settings, budget: MemoryBudget) -> anyhow::Result<Cache> {
    Ok(match &settings.redis_url {
        Some(url) => Cache::Redis(
            RedisCache::new(
                url,
                settings.redis_cluster,
                &settings.cache_prefix,
                settings.cache_ttl,
                settings.redis_timeout,
            )
            .context("cannot set up the Redis cache")?,
        ),
        None => Cache::Local(LocalCache::new(settings.cache_ttl, budget)),
    })
}

/// The review history, and the same again when it is the in-process file store.
type OpenedReview = (Arc<dyn ReviewStore>, Option<Arc<FileHistory>>);

/// The review history lives in PostgreSQL when there is one, else where the cache does:
/// replicas on one database or one Redis share one queue. The file store (in process) is
/// returned a second time, to report its memory.
fn open_review(
    settings: &Settings,
    cache: &Cache,
    database: Option<&Arc<Database>>,
    budget: MemoryBudget,
) -> anyhow::Result<OpenedReview> {
    if let Some(database) = database {
        let review = PgReview::new(database.clone(), settings.review_retention);
        return Ok((Arc::new(review), None));
    }
    Ok(match cache {
        Cache::Redis(redis) => (Arc::new(redis.review(settings.review_retention)), None),
        Cache::Local(_) => {
            let file = Arc::new(
                FileHistory::open_within(
                    &settings.data_dir,
                    settings.review_retention,
                    time::OffsetDateTime::now_utc(),
                    (budget.review as f64 / REVIEW_MEMORY_PER_JSON_BYTE) as usize,
                )
                .with_context(|| {
                    format!(
                        "cannot open the review history in {}",
                        settings.data_dir.display()
                    )
                })?,
            );
            (file.clone(), Some(file))
        }
    })
}

/// The keyring (in PostgreSQL when there is a database); with no key at all, only a loopback address may be served (open local
/// mode), since every endpoint would be open to whoever reaches it.
fn open_keys(settings: &Settings, database: Option<&Arc<Database>>) -> anyhow::Result<Keyring> {
    let keys = match database {
        Some(database) => {
            let file_keys = KeyFile::in_dir(&settings.data_dir)
                .read()
                .unwrap_or_default();
            if !file_keys.is_empty() {
                tracing::warn!(
                    keys = file_keys.len(),
                    "keys.json in the data directory is not used: keys live in PostgreSQL \
                     (`commentguard migrate-store --to postgres` copies them there)"
                );
            }
            Keyring::load_shared(Arc::new(PgKeys::new(database.clone())))
                .context("cannot load the API keys from PostgreSQL")?
        }
        None => Keyring::load(&settings.data_dir).context("cannot load the API keys")?,
    };
    if keys.is_open() {
        if !settings.bind.ip().is_loopback() {
            anyhow::bail!(
                "no API key exists, so every endpoint would be open to anyone who can reach \
                 {}; create a key first (`commentguard keys create --role admin`) or bind \
                 to a loopback address such as 127.0.0.1",
                settings.bind
            );
        }
        tracing::warn!(
            "no API key exists: open local mode, every endpoint is open on the loopback \
             interface; `commentguard keys create --role admin` turns keys on"
        );
    }
    Ok(keys)
}

/// Registers the configured model (shipped or from `models_dir`) and returns the scorer for
/// the active version, the log position its training included, and whether the configured
/// model was new (and so made active here: other replicas should hear of it).
///
/// A configured model seen for the first time becomes active (a deployment with a new model
/// means to serve it); otherwise the registry's active version serves, so promotions and
/// rollbacks survive restarts.
fn load_active_model(
    settings: &Settings,
    registry: &Registry,
    configured: Scorer,
    local_log: &str,
) -> anyhow::Result<(Scorer, u64, bool)> {
    let (model_bytes, manifest_bytes) = match &settings.models_dir {
        None => {
            let (model, manifest) = shipped_artifact();
            (model.to_vec(), manifest.to_vec())
        }
        Some(dir) => (
            std::fs::read(dir.join(MODEL_FILE))?,
            std::fs::read(dir.join(MANIFEST_FILE))?,
        ),
    };
    let manifest = parse_manifest(&manifest_bytes)?;
    let version = configured.model_version().to_owned();
    let new = registry.list()?.iter().all(|v| v.entry.version != version);
    let (spam, ham) = configured.model().doc_counts();
    registry.register_bytes(
        &model_bytes,
        &manifest_bytes,
        &RegistryEntry {
            version: version.clone(),
            parent: None,
            created_at: manifest.created_at,
            corpus_docs: spam + ham,
            label_docs: 0,
            labels_through: 0,
            labels_log: None,
            holdout: None,
            triggered_by: if settings.models_dir.is_some() {
                "models_dir"
            } else {
                "shipped"
            }
            .into(),
            forced: false,
        },
    )?;
    if new || registry.active()?.is_none() {
        registry.set_active(&version)?;
    }
    Ok(match registry.load_active()? {
        Some((model, manifest, entry)) => (
            configured.with_model(model, manifest.version),
            included_labels(entry.labels_log.as_deref(), entry.labels_through, local_log),
            new,
        ),
        None => (configured, 0, new),
    })
}
