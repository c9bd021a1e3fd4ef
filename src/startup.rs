//! Builds the HTTP application from [`Settings`]; used by `main` and by the API tests.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use actix_web::dev::{Server, Service};
use actix_web::{web, App, HttpServer};
use anyhow::Context;

use crate::akismet::UsageStats;
use crate::cache::{Cache, LocalCache, RedisCache};
use crate::classifier::{parse_manifest, MANIFEST_FILE, MODEL_FILE};
use crate::keys::Keyring;
use crate::labels::{included_labels, log_id, LabelBook};
use crate::registry::{Registry, RegistryEntry, REGISTRY_DIR};
use crate::retrain::{follow, GateTolerance, Jobs, RetrainContext};
use crate::routes::{
    admin, akismet, comments, error, feedback, health, keys, labels, score, ApiError,
};
use crate::scoring::{shipped_artifact, Scorer};
use crate::settings::Settings;
use crate::signals::SignalPolicy;

/// What the request log says for the route of a request no route matches.
pub const UNMATCHED_ROUTE: &str = "<unmatched>";

/// State shared by all workers and handlers.
pub struct AppState {
    /// Moderator labels and the live scorer (the loaded model plus what labels taught it).
    pub labels: Arc<LabelBook>,
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
    /// Serialises model activations (promotions and rollbacks).
    pub activation: std::sync::Mutex<()>,
    /// Tolerances of the retraining gate.
    pub gate: GateTolerance,
    /// Model versions kept when pruning.
    pub keep_versions: usize,
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
    let local_log = log_id(&settings.data_dir)?;
    Ok(match registry.load_active()? {
        Some((model, manifest, entry)) => (
            configured.with_model(model, manifest.version),
            included_labels(
                entry.labels_log.as_deref(),
                entry.labels_through,
                &local_log,
            ),
            new,
        ),
        None => (configured, 0, new),
    })
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

/// A bound, not yet running HTTP server.
pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    /// Loads the scorer, creates the data directory, binds the listener and builds the server.
    ///
    /// Fails, with a message saying what and where, if any of those fail; binding happens
    /// here (not in `run_until_stopped`) so that `port()` is known, even for port 0.
    pub fn build(settings: Settings) -> anyhow::Result<Application> {
        let scorer = load_scorer(&settings)?;
        std::fs::create_dir_all(&settings.data_dir).with_context(|| {
            format!(
                "cannot create the data directory {}",
                settings.data_dir.display()
            )
        })?;
        let cache = match &settings.redis_url {
            Some(url) => Cache::Redis(
                RedisCache::new(
                    url,
                    &settings.cache_prefix,
                    settings.cache_ttl,
                    settings.redis_timeout,
                )
                .context("cannot set up the Redis cache")?,
            ),
            None => Cache::Local(LocalCache::new(settings.cache_ttl, settings.cache_capacity)),
        };
        let keyring = Keyring::load(&settings.data_dir).context("cannot load the API keys")?;
        if keyring.is_open() {
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
        let registry = Registry::at(
            settings
                .registry_dir
                .clone()
                .unwrap_or_else(|| settings.data_dir.join(REGISTRY_DIR)),
        );
        let (scorer, labels_through, newly_configured) =
            load_active_model(&settings, &registry, scorer)
                .context("cannot set up the model registry")?;
        let (labels, replay) = LabelBook::open_after(
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
        })?;
        let listener = TcpListener::bind(settings.bind)
            .with_context(|| format!("cannot listen on {}", settings.bind))?;
        let address = listener
            .local_addr()
            .context("cannot read the bound address")?;

        tracing::info!(
            %address,
            model_version = labels.live().current().model_version(),
            labels_replayed = replay.records,
            labels_in_force = labels.len(),
            torn_bytes_dropped = replay.torn_bytes,
            workers = settings.workers,
            cache = if settings.redis_url.is_some() { "redis" } else { "in-process" },
            max_body_bytes = settings.max_body_bytes,
            "starting"
        );
        let state = web::Data::new(AppState {
            labels: Arc::new(labels),
            keys: keyring,
            data_dir: settings.data_dir.clone(),
            cache: Arc::new(cache),
            signals: settings.signals,
            max_body_bytes: settings.max_body_bytes,
            akismet_usage: UsageStats::default(),
            akismet_hold_is_spam: settings.akismet_hold_is_spam,
            registry,
            jobs: Jobs::default(),
            activation: std::sync::Mutex::new(()),
            gate: settings.gate,
            keep_versions: settings.keep_versions,
        });
        if let Cache::Redis(redis) = &*state.cache {
            // A deployment with a new model leads; otherwise this replica follows the others.
            if newly_configured {
                redis.announce_model(state.labels.live().current().model_version());
            }
            // Replicas on one Redis follow each other's promotions and rollbacks. The watcher
            // holds the state weakly: the state owns the cache that runs the watcher.
            let follower = Arc::downgrade(&state.clone().into_inner());
            redis.watch_models(move |version| {
                let Some(state) = follower.upgrade() else { return };
                if state.labels.live().current().model_version() == version {
                    return;
                }
                tokio::task::spawn_blocking(move || {
                    match follow(&state.retrain_context(), &version) {
                        Ok(()) => tracing::info!(version, "following another replica's model"),
                        Err(e) => tracing::error!(version, error = %e, "cannot follow another replica's model"),
                    }
                });
            });
        }
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .wrap_fn(|request, service| {
                    let start = Instant::now();
                    let method = request.method().clone();
                    // The route template, never the path itself: a path no route matches
                    // (a 404) is whatever the client typed, e-mail addresses included, and
                    // query strings are where clients put things we should not log.
                    let route = request
                        .match_pattern()
                        .unwrap_or_else(|| UNMATCHED_ROUTE.to_owned());
                    let response = service.call(request);
                    async move {
                        let response = response.await;
                        let (status, error) = match &response {
                            Ok(r) => (r.status(), r.response().error()),
                            Err(e) => (e.as_response_error().status_code(), Some(e)),
                        };
                        // The code, not the message: enough to count failures by kind.
                        let error_code = error
                            .and_then(|e| e.as_error::<ApiError>())
                            .map(ApiError::code);
                        tracing::info!(
                            method = %method,
                            route,
                            status = status.as_u16(),
                            error_code,
                            latency_us = start.elapsed().as_micros() as u64,
                            "request"
                        );
                        response
                    }
                })
                .service(
                    web::resource("/v1/comments/score")
                        .route(web::post().to(score::score))
                        .default_service(error::method_not_allowed("POST")),
                )
                .service(
                    web::resource("/v1/comments/{id}")
                        .route(web::get().to(comments::last_verdict))
                        .default_service(error::method_not_allowed("GET")),
                )
                .service(
                    web::resource("/v1/feedback")
                        .route(web::post().to(feedback::feedback))
                        .default_service(error::method_not_allowed("POST")),
                )
                .service(
                    web::resource("/v1/labels")
                        .route(web::get().to(labels::export))
                        .default_service(error::method_not_allowed("GET")),
                )
                .service(
                    web::resource("/v1/admin/retrain")
                        .route(web::post().to(admin::retrain))
                        .default_service(error::method_not_allowed("POST")),
                )
                .service(
                    web::resource("/v1/admin/jobs/{job_id}")
                        .route(web::get().to(admin::job))
                        .default_service(error::method_not_allowed("GET")),
                )
                .service(
                    web::resource("/v1/admin/models")
                        .route(web::get().to(admin::models))
                        .default_service(error::method_not_allowed("GET")),
                )
                .service(
                    web::resource("/v1/admin/models/{version}/activate")
                        .route(web::post().to(admin::activate))
                        .default_service(error::method_not_allowed("POST")),
                )
                .service(
                    web::resource("/v1/admin/keys")
                        .route(web::get().to(keys::list))
                        .default_service(error::method_not_allowed("GET")),
                )
                .service(
                    web::resource("/1.1/verify-key")
                        .route(web::post().to(akismet::verify_key))
                        .default_service(error::method_not_allowed("POST")),
                )
                .service(
                    web::resource("/1.1/comment-check")
                        .route(web::post().to(akismet::comment_check))
                        .default_service(error::method_not_allowed("POST")),
                )
                .service(
                    web::resource("/1.1/submit-spam")
                        .route(web::post().to(akismet::submit_spam))
                        .default_service(error::method_not_allowed("POST")),
                )
                .service(
                    web::resource("/1.1/submit-ham")
                        .route(web::post().to(akismet::submit_ham))
                        .default_service(error::method_not_allowed("POST")),
                )
                .service(
                    web::resource("/1.2/usage-limit")
                        .route(web::get().to(akismet::usage_limit))
                        .route(web::post().to(akismet::usage_limit))
                        .default_service(error::method_not_allowed("GET, POST")),
                )
                .service(
                    web::resource("/1.2/key-sites")
                        .route(web::get().to(akismet::key_sites))
                        .route(web::post().to(akismet::key_sites))
                        .default_service(error::method_not_allowed("GET, POST")),
                )
                .service(
                    web::resource("/healthz")
                        .route(web::get().to(health::healthz))
                        .default_service(error::method_not_allowed("GET")),
                )
                .service(
                    web::resource("/readyz")
                        .route(web::get().to(health::readyz))
                        .default_service(error::method_not_allowed("GET")),
                )
                .default_service(web::to(error::not_found))
        })
        .workers(settings.workers)
        .listen(listener)
        .context("cannot start the HTTP server")?
        .run();

        Ok(Application {
            port: address.port(),
            server,
        })
    }

    /// The port the server listens on (the real one when the settings asked for port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves requests until the server stops (SIGINT/SIGTERM, or the runtime shuts down).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }

    /// Creates an actix runtime on the current thread and serves requests on it until the
    /// server stops (SIGINT/SIGTERM); for `main`, which has no runtime of its own.
    ///
    /// Fails if the server fails. Must not be called from inside an async runtime.
    pub fn run_blocking(self) -> std::io::Result<()> {
        actix_web::rt::System::new().block_on(self.run_until_stopped())
    }
}
