//! Builds the HTTP application from [`Settings`]; used by `main` and by the API tests.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use std::net::IpAddr;

use actix_web::dev::{Server, Service, ServiceRequest};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::Method;
use actix_web::{web, App, FromRequest, Handler, HttpServer, Resource, Responder};
use anyhow::Context;
use tracing::Instrument;

use crate::akismet::UsageStats;
use crate::cache::{Cache, LocalCache, RedisCache};
use crate::classifier::{parse_manifest, MANIFEST_FILE, MODEL_FILE};
use crate::keys::{KeyCheck, Keyring, Principal};
use crate::labels::{included_labels, log_id, LabelBook};
use crate::metrics::Metrics;
use crate::ratelimit::{self, RateLimiters, Subject, TrustedProxies};
use crate::registry::{Registry, RegistryEntry, REGISTRY_DIR};
use crate::retrain::{follow, GateTolerance, Jobs, RetrainContext};
use crate::review::{FileHistory, ReviewStore};
use crate::routes::auth::presented_key;
use crate::routes::{
    admin, akismet, comments, console, error, feedback, health, keys, labels, metrics, openapi,
    review, score, ApiError,
};
use crate::scoring::{shipped_artifact, Scorer};
use crate::settings::Settings;
use crate::signals::SignalPolicy;
use crate::telemetry::WarnThrottle;

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

/// Every route: its path template and the methods it serves (the `Allow` header of its 405).
///
/// The router registers exactly these (see [`resource`] for the handlers) and the API tests
/// check the OpenAPI document against this table, so a new route is one line here, one arm
/// in [`resource`] and one path in [`crate::routes::openapi::ApiDoc`].
pub const ROUTES: &[(&str, &str)] = &[
    ("/v1/comments/score", "POST"),
    ("/v1/comments/{id}", "GET"),
    ("/v1/feedback", "POST"),
    ("/v1/labels", "GET"),
    ("/v1/review/queue", "GET"),
    ("/v1/review/summary", "GET"),
    ("/v1/admin/keys", "GET"),
    ("/v1/admin/retrain", "POST"),
    ("/v1/admin/jobs/{job_id}", "GET"),
    ("/v1/admin/models", "GET"),
    ("/v1/admin/models/{version}/activate", "POST"),
    ("/1.1/verify-key", "POST"),
    ("/1.1/comment-check", "POST"),
    ("/1.1/submit-spam", "POST"),
    ("/1.1/submit-ham", "POST"),
    ("/1.2/usage-limit", "GET, POST"),
    ("/1.2/key-sites", "GET, POST"),
    ("/healthz", "GET"),
    ("/readyz", "GET"),
    ("/metrics", "GET"),
    ("/openapi.json", "GET"),
];

/// Routes the rate limiter never refuses: the probes and the metrics scrape, which must
/// keep answering precisely when a client is hammering the service.
pub const UNLIMITED_ROUTES: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

/// Header carrying the request id, in responses (and accepted from the client or a proxy).
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// How often histograms are drained and idle rate-limit buckets forgotten.
const UPKEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// The resource serving `path` with the methods in `allow` (an entry of [`ROUTES`]).
fn resource(path: &'static str, allow: &'static str) -> Resource {
    match path {
        "/v1/comments/score" => routed(path, allow, score::score),
        "/v1/comments/{id}" => routed(path, allow, comments::last_verdict),
        "/v1/feedback" => routed(path, allow, feedback::feedback),
        "/v1/labels" => routed(path, allow, labels::export),
        "/v1/review/queue" => routed(path, allow, review::queue),
        "/v1/review/summary" => routed(path, allow, review::summary),
        "/v1/admin/keys" => routed(path, allow, keys::list),
        "/v1/admin/retrain" => routed(path, allow, admin::retrain),
        "/v1/admin/jobs/{job_id}" => routed(path, allow, admin::job),
        "/v1/admin/models" => routed(path, allow, admin::models),
        "/v1/admin/models/{version}/activate" => routed(path, allow, admin::activate),
        "/1.1/verify-key" => routed(path, allow, akismet::verify_key),
        "/1.1/comment-check" => routed(path, allow, akismet::comment_check),
        "/1.1/submit-spam" => routed(path, allow, akismet::submit_spam),
        "/1.1/submit-ham" => routed(path, allow, akismet::submit_ham),
        "/1.2/usage-limit" => routed(path, allow, akismet::usage_limit),
        "/1.2/key-sites" => routed(path, allow, akismet::key_sites),
        "/healthz" => routed(path, allow, health::healthz),
        "/readyz" => routed(path, allow, health::readyz),
        "/metrics" => routed(path, allow, metrics::metrics),
        "/openapi.json" => routed(path, allow, openapi::openapi),
        // A programming error caught by every test that spawns the app.
        _ => panic!("route {path} is in ROUTES but startup::resource has no handler for it"),
    }
}

/// A resource at `path` answering each method in `allow` (comma-separated) with `handler`,
/// and 405 `method_not_allowed` to the others.
fn routed<F, Args>(path: &'static str, allow: &'static str, handler: F) -> Resource
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    let mut resource = web::resource(path);
    for method in allow.split(',') {
        let method = Method::from_bytes(method.trim().as_bytes())
            .unwrap_or_else(|_| panic!("ROUTES has an invalid method for {path}: {allow}"));
        resource = resource.route(web::method(method).to(handler.clone()));
    }
    resource.default_service(error::method_not_allowed(allow))
}

/// The request's id: the one a client or proxy sent in `X-Request-Id` if it is a plain
/// token (1-64 of `[A-Za-z0-9._-]`, so it cannot smuggle anything into the logs), else a
/// fresh random 128-bit one as 32 hex digits.
fn request_id(request: &ServiceRequest) -> String {
    let sent = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|id| {
            (1..=64).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        });
    match sent {
        Some(id) => id.to_owned(),
        None => format!("{:032x}", rand::random::<u128>()),
    }
}

/// Takes a token from the caller's rate-limit bucket: the key's, if the request presents a
/// valid one, else the client IP's. `Err` says which scope refused and for how long.
///
/// Akismet calls carry their key in the form body, which the middleware does not read (the
/// handler streams it with its own limits); the key in the `Host` (`KEY.rest.example`) is
/// used when present, and otherwise the client IP.
fn check_rate(
    request: &ServiceRequest,
    state: &AppState,
) -> Result<(), (&'static str, std::time::Duration)> {
    let path = request.path();
    let key = if path.starts_with("/1.1/") || path.starts_with("/1.2/") {
        request
            .headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .and_then(crate::akismet::key_from_host)
    } else {
        presented_key(request.request())
    };
    let principal = match state.keys.check(key) {
        KeyCheck::Valid(principal) => Some(principal),
        KeyCheck::Open | KeyCheck::Invalid => None,
    };
    let subject = match &principal {
        Some(Principal {
            key_id: Some(key_id),
            role,
            ..
        }) => Subject::Key {
            key_id,
            role: *role,
        },
        // The TCP peer, unless it is a trusted proxy: a forwarded-for header from anyone
        // else is the client's own to forge, and would let it dodge its limit.
        _ => Subject::Ip(
            state.trusted_proxies.client_ip(
                request
                    .peer_addr()
                    .map_or(IpAddr::from([0, 0, 0, 0]), |a| a.ip()),
                request
                    .headers()
                    .get_all("x-forwarded-for")
                    // A line that is not visible ASCII is a garbled entry, as in `client_ip`.
                    .map(|v| v.to_str().unwrap_or("?")),
            ),
        ),
    };
    state
        .rate_limits
        .check(subject)
        .map_err(|wait| (subject.scope(), wait))
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
    state: web::Data<AppState>,
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
        let review: Arc<dyn ReviewStore> = match &cache {
            Cache::Redis(redis) => Arc::new(redis.review(settings.review_retention)),
            Cache::Local(_) => Arc::new(
                FileHistory::open(
                    &settings.data_dir,
                    settings.review_retention,
                    time::OffsetDateTime::now_utc(),
                )
                .with_context(|| {
                    format!(
                        "cannot open the review history in {}",
                        settings.data_dir.display()
                    )
                })?,
            ),
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
            rate_limit_ip = ?settings.rate_limits.ip.map(|l| l.to_string()),
            trusted_proxies = !settings.trusted_proxies.is_empty(),
            shutdown_timeout_secs = settings.shutdown_timeout.as_secs(),
            "starting"
        );
        let metrics = Metrics::new();
        metrics.model_in_use(labels.live().current().model_version());
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
            metrics,
            rate_limits: RateLimiters::new(&settings.rate_limits),
            trusted_proxies: settings.trusted_proxies.clone(),
            review,
            review_warnings: WarnThrottle::default(),
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
        let server_state = state.clone();
        let server = HttpServer::new(move || {
            let state = server_state.clone();
            let mut app = App::new()
                .app_data(state.clone())
                .wrap_fn(move |request, service| {
                    let start = Instant::now();
                    let request_id = request_id(&request);
                    // Every line logged while serving the request, the handler's included,
                    // carries the id (in the span list of the JSON log line).
                    let span = tracing::info_span!("request", request_id = %request_id);
                    let method = request.method().clone();
                    // The route template, never the path itself: a path no route matches
                    // (a 404) is whatever the client typed, e-mail addresses included, and
                    // query strings are where clients put things we should not log.
                    let route = request
                        .match_pattern()
                        .unwrap_or_else(|| UNMATCHED_ROUTE.to_owned());
                    let limited = if UNLIMITED_ROUTES.contains(&route.as_str()) {
                        Ok(())
                    } else {
                        check_rate(&request, &state)
                    };
                    let response = match limited {
                        Ok(()) => Ok(span.in_scope(|| service.call(request))),
                        Err(refusal) => Err((request, refusal)),
                    };
                    let state = state.clone();
                    async move {
                        let mut response = match response {
                            Ok(response) => response.await,
                            Err((request, (scope, wait))) => {
                                state.metrics.rate_limited(scope);
                                let retry_after = ratelimit::retry_after_secs(wait);
                                Ok(request.error_response(ApiError::RateLimited { retry_after }))
                            }
                        };
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
                        state.metrics.request(route, status.as_u16());
                        if let Ok(response) = &mut response {
                            if let Ok(value) = HeaderValue::from_str(&request_id) {
                                response
                                    .headers_mut()
                                    .insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
                            }
                        }
                        response
                    }
                    .instrument(span)
                });
            for &(path, allow) in ROUTES {
                app = app.service(resource(path, allow));
            }
            // The console's page and assets: not part of the JSON API (nor of ROUTES and the
            // OpenAPI document), GET only.
            for asset in crate::console::ASSETS {
                app = app.service(
                    web::resource(asset.path)
                        .route(web::get().to(move || console::serve(asset)))
                        .default_service(error::method_not_allowed("GET")),
                );
            }
            app.default_service(web::to(error::not_found))
        })
        .shutdown_timeout(settings.shutdown_timeout.as_secs())
        .workers(settings.workers)
        .listen(listener)
        .context("cannot start the HTTP server")?
        .run();

        Ok(Application {
            port: address.port(),
            server,
            state,
        })
    }

    /// The port the server listens on (the real one when the settings asked for port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves requests until the server stops (SIGINT/SIGTERM, or the runtime shuts down).
    ///
    /// On SIGTERM or SIGINT the server stops accepting connections and gives requests in
    /// flight up to `shutdown_timeout` to finish. Nothing needs flushing afterwards: labels
    /// are fsync'd before they are acknowledged, keys are written atomically, and logs go
    /// unbuffered to stderr.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        // Upkeep of the metrics histograms and the rate limiter's buckets, so that neither
        // grows with time when nobody scrapes `/metrics`.
        let state = self.state.clone();
        let upkeep = tokio::spawn(async move {
            let mut tick = tokio::time::interval(UPKEEP_INTERVAL);
            loop {
                tick.tick().await;
                state.metrics.upkeep();
                state.rate_limits.upkeep();
            }
        });
        let result = self.server.await;
        upkeep.abort();
        tracing::info!("stopped");
        result
    }

    /// Creates an actix runtime on the current thread and serves requests on it until the
    /// server stops (SIGINT/SIGTERM); for `main`, which has no runtime of its own.
    ///
    /// Fails if the server fails. Must not be called from inside an async runtime.
    pub fn run_blocking(self) -> std::io::Result<()> {
        actix_web::rt::System::new().block_on(self.run_until_stopped())
    }
}
