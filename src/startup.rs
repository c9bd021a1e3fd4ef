//! Builds the HTTP application from [`Settings`]; used by `main` and by the API tests.
//!
//! [`Application::build`] builds the state ([`crate::state::build`]), the route table
//! ([`crate::routes::table`]) and the server; [`handle_request`] is the one middleware
//! (request id, caller, body deadline, rate limit, request log, metrics);
//! [`ConnectionLimit`] caps the connections one client IP holds open;
//! [`follow_other_replicas`] keeps a replica on the model version the others promote.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::net::{IpAddr, TcpListener};
use std::num::NonZeroU32;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{self, Server, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, App, HttpMessage, HttpServer};
use anyhow::Context;
use tracing::Instrument;

use crate::cache::Cache;
use crate::ratelimit::{self, Subject, TrustedProxies};
use crate::retrain::{follow, follow_active, JOB_HEARTBEAT};
use crate::routes::auth::{presented_key, Caller};
use crate::routes::body::BodyDeadline;
use crate::routes::openapi::ApiDocument;
use crate::routes::{console, error, ApiError, RouteTable};
use crate::settings::Settings;
use crate::state::{self, AppState};
use crate::telemetry::WarnThrottle;

/// What the request log says for the route of a request no route matches.
pub const UNMATCHED_ROUTE: &str = "<unmatched>";

/// Header carrying the request id, in responses (and accepted from the client or a proxy).
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// File descriptors kept back from connections for everything else the process opens
/// (listener, Redis, label log, review history, key file, runtime internals).
const RESERVED_FILES: u64 = 100;

/// actix's own per-worker connection limit, kept when the open-file limit allows more.
const ACTIX_MAX_CONNECTIONS: usize = 25_000;

/// How often histograms are drained and idle rate-limit buckets forgotten.
const UPKEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// A bound, not yet running HTTP server.
pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
}

impl Application {
    /// Builds the state, binds the listener and builds the server.
    ///
    /// Fails, with a message saying what and where, if any of those fail; binding happens
    /// here (not in `run_until_stopped`) so that `port()` is known, even for port 0.
    pub fn build(settings: Settings) -> anyhow::Result<Application> {
        let (state, startup) = state::build(&settings)?;
        let listener = TcpListener::bind(settings.bind)
            .with_context(|| format!("cannot listen on {}", settings.bind))?;
        let address = listener
            .local_addr()
            .context("cannot read the bound address")?;
        tracing::info!(
            %address,
            model_version = state.model_version(),
            labels_replayed = startup.replay.records,
            labels_in_force = state.labels.len(),
            torn_bytes_dropped = startup.replay.torn_bytes,
            workers = settings.workers,
            cache = if settings.redis_url.is_some() { "redis" } else { "in-process" },
            max_body_bytes = settings.max_body_bytes,
            rate_limit_ip = ?settings.rate_limits.ip.map(|l| l.to_string()),
            trusted_proxies = !settings.trusted_proxies.is_empty(),
            shutdown_timeout_secs = settings.shutdown_timeout.as_secs(),
            body_timeout_ms = settings.body_timeout.as_millis() as u64,
            max_connections_per_ip = settings.max_connections_per_ip.map(NonZeroU32::get),
            open_file_limit = open_file_limit(),
            "starting"
        );
        let state = web::Data::new(state);
        follow_other_replicas(&state, startup.newly_configured);
        if let Some(store) = &state.shared_labels {
            store.follow(&state.labels);
        }
        let routes = web::Data::new(crate::routes::table());
        let document = serde_json::to_string(&routes.openapi())
            .context("cannot render the OpenAPI document")?;
        let document = web::Data::new(ApiDocument(document));
        let server_state = state.clone();
        let body_timeout = web::Data::new(BodyTimeout(settings.body_timeout));
        let connections = Arc::new(ConnectionLimit::new(
            settings.max_connections_per_ip,
            settings.trusted_proxies.clone(),
        ));
        let connection_state = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(server_state.clone())
                .app_data(routes.clone())
                .app_data(document.clone())
                .app_data(body_timeout.clone())
                .wrap(from_fn(handle_request))
                .configure(|config| routes.configure(config))
                .configure(console::configure)
                .default_service(web::to(error::not_found))
        })
        .on_connect(move |io, extensions| {
            on_connect(&connections, &connection_state, io, extensions)
        })
        .shutdown_timeout(settings.shutdown_timeout.as_secs())
        .max_connections(max_connections_per_worker(
            open_file_limit(),
            settings.workers,
        ))
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

/// How long a request body may take to arrive (`COMMENTGUARD_BODY_TIMEOUT_SECS`); app data
/// read by the middleware.
#[derive(Debug, Clone, Copy)]
pub struct BodyTimeout(pub Duration);

/// Open connections per client IP, so that one client cannot take every file descriptor
/// (and with them `/healthz`) by opening connections and never finishing a request. Counted
/// by TCP peer before any request is read; trusted proxies carry many clients and are not
/// capped.
#[derive(Debug)]
pub struct ConnectionLimit {
    cap: Option<NonZeroU32>,
    trusted: TrustedProxies,
    open: Mutex<HashMap<IpAddr, u32>>,
    warnings: WarnThrottle,
}

/// What [`ConnectionLimit::admit`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Admitted and counted against this IP; [`ConnectionLimit::release`] it when closed.
    Counted(IpAddr),
    /// Admitted, not counted (no cap, or a trusted proxy).
    Uncounted,
    /// Over the cap: answer and close.
    Refused,
}

impl ConnectionLimit {
    /// A limit of `cap` connections per IP (`None`: no limit), trusted proxies excepted.
    pub fn new(cap: Option<NonZeroU32>, trusted: TrustedProxies) -> ConnectionLimit {
        ConnectionLimit {
            cap,
            trusted,
            open: Mutex::new(HashMap::new()),
            warnings: WarnThrottle::default(),
        }
    }

    /// Counts a new connection from `peer`, unless its IP is at the cap.
    pub fn admit(&self, peer: IpAddr) -> Admission {
        let peer = peer.to_canonical();
        let Some(cap) = self.cap else {
            return Admission::Uncounted;
        };
        if self.trusted.trusts(peer) {
            return Admission::Uncounted;
        }
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(peer).or_insert(0);
        if *count >= cap.get() {
            return Admission::Refused;
        }
        *count += 1;
        Admission::Counted(peer)
    }

    /// Forgets a connection [`admit`](Self::admit) counted; an IP with none left is removed,
    /// so the map holds only IPs with open connections.
    pub fn release(&self, peer: IpAddr) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&peer) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&peer);
            }
        }
    }
}

/// A connection's place in the [`ConnectionLimit`], kept in the connection's data: dropped
/// with the connection, which releases it.
struct ConnectionSlot {
    admission: Admission,
    limit: Arc<ConnectionLimit>,
    state: web::Data<AppState>,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        if let Admission::Counted(peer) = self.admission {
            self.limit.release(peer);
        }
        self.state.metrics.connection_closed();
    }
}

/// Called by actix for every new connection, before anything is read from it: counts it
/// against its IP. One over the cap is marked; the middleware answers its request
/// `429 too_many_connections` without serving it, and actix closes it. (Shutting the socket
/// down here would free it sooner but reset it under a request already sent, losing the
/// answer; one that sends nothing is closed by actix's 5 s header timeout.)
fn on_connect(
    limit: &Arc<ConnectionLimit>,
    state: &web::Data<AppState>,
    io: &dyn std::any::Any,
    extensions: &mut actix_web::dev::Extensions,
) {
    let Some(stream) = io.downcast_ref::<actix_web::rt::net::TcpStream>() else {
        return;
    };
    let Ok(peer) = stream.peer_addr() else {
        return;
    };
    let admission = limit.admit(peer.ip());
    let refused = admission == Admission::Refused;
    state.metrics.connection_opened(refused);
    if refused {
        if let Some(held_back) = limit.warnings.allow_now() {
            tracing::warn!(
                cap = limit.cap.map(NonZeroU32::get),
                refused_since_last_warning = held_back,
                "refusing connections: a client address is over its open-connection cap"
            );
        }
    }
    extensions.insert(ConnectionSlot {
        admission,
        limit: limit.clone(),
        state: state.clone(),
    });
}

/// The process's soft open-file limit, from `/proc/self/limits` (Linux); `None` elsewhere.
fn open_file_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Connections each worker may hold: the open-file limit, less [`RESERVED_FILES`], shared
/// between the workers. At that many, actix stops accepting and new connections wait in the
/// kernel's backlog; without it, a burst of connections runs the process out of descriptors
/// and actix pauses accepting for half a second at each failure, `/healthz` included.
fn max_connections_per_worker(open_files: Option<u64>, workers: usize) -> usize {
    let Some(open_files) = open_files else {
        return ACTIX_MAX_CONNECTIONS;
    };
    let usable = open_files
        .saturating_sub(RESERVED_FILES)
        .max(workers as u64);
    let per_worker = usable / workers.max(1) as u64;
    usize::try_from(per_worker).map_or(ACTIX_MAX_CONNECTIONS, |n| n.min(ACTIX_MAX_CONNECTIONS))
}

/// Replicas on one Redis follow each other's promotions and rollbacks; a deployment with a
/// new model leads (announces it) instead. The watcher holds the state weakly: the state
/// owns the cache that runs the watcher.
pub fn follow_other_replicas(state: &web::Data<AppState>, newly_configured: bool) {
    if state.registry.is_shared() {
        poll_active_model(Arc::downgrade(&state.clone().into_inner()));
    }
    if state.jobs.is_shared() {
        beat_for_running_jobs(Arc::downgrade(&state.clone().into_inner()));
    }
    let Cache::Redis(redis) = &*state.cache else {
        return;
    };
    if newly_configured {
        redis.announce_model(&state.model_version());
    }
    let follower = Arc::downgrade(&state.clone().into_inner());
    redis.watch_models(move |version| {
        let Some(state) = follower.upgrade() else {
            return;
        };
        if state.model_version() == version {
            return;
        }
        tokio::task::spawn_blocking(move || match follow(&state.retrain_context(), &version) {
            Ok(()) => tracing::info!(version, "following another replica's model"),
            Err(e) => tracing::error!(version, error = %e, "cannot follow another replica's model"),
        });
    });
}

/// Touches the shared records of the jobs this replica runs every [`JOB_HEARTBEAT`], from a
/// thread of its own (the store blocks), until the state is gone: a job whose replica dies
/// stops being touched, and other replicas report it failed.
fn beat_for_running_jobs(follower: std::sync::Weak<AppState>) {
    let spawned = std::thread::Builder::new()
        .name("job-heartbeat".into())
        .spawn(move || loop {
            std::thread::sleep(JOB_HEARTBEAT);
            let Some(state) = follower.upgrade() else {
                return;
            };
            let running: Vec<String> = state
                .jobs
                .running_id()
                .into_iter()
                .chain(state.imports.running_id())
                .collect();
            if let Err(e) = state.jobs.touch_shared(&running) {
                tracing::debug!(error = %e, "cannot mark the running jobs alive");
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the job heartbeat");
    }
}

/// How often a replica on a shared registry (PostgreSQL) reads the active pointer: the
/// database is the truth, and this is how a promotion or rollback on another replica
/// reaches this one without Redis (with Redis, its announcement usually comes first).
const ACTIVE_MODEL_POLL: Duration = Duration::from_millis(500);

/// How often a replica drops its local copies of versions the shared registry no longer
/// holds (pruned through another replica); also after each version it follows.
const STALE_COPIES_EVERY: Duration = Duration::from_secs(60);

/// Follows the shared registry's active pointer from a thread of its own (loading a model
/// blocks), until the state is gone; and keeps the local copies to what the registry holds.
fn poll_active_model(follower: std::sync::Weak<AppState>) {
    let spawned = std::thread::Builder::new()
        .name("model-follower".into())
        .spawn(move || {
            // A version that failed to load is not retried until the pointer moves on.
            let mut failed: Option<String> = None;
            let mut tidied = std::time::Instant::now();
            loop {
                std::thread::sleep(ACTIVE_MODEL_POLL);
                let Some(state) = follower.upgrade() else {
                    return;
                };
                if tidied.elapsed() >= STALE_COPIES_EVERY {
                    drop_stale_copies(&state);
                    tidied = std::time::Instant::now();
                }
                // Unlocked first: the usual answer (no change) takes no lock.
                let active = match state.registry.active() {
                    Ok(Some(active)) => active,
                    Ok(None) => continue,
                    Err(e) => {
                        tracing::debug!(error = %e, "cannot read the active model version");
                        continue;
                    }
                };
                if active == state.model_version() || failed.as_ref() == Some(&active) {
                    continue;
                }
                match follow_active(&state.retrain_context()) {
                    Ok(Some(version)) => {
                        tracing::info!(version, "following the model version another replica activated");
                        state.metrics.model_in_use(&version);
                        failed = None;
                        drop_stale_copies(&state);
                        tidied = std::time::Instant::now();
                    }
                    Ok(None) => {}
                    Err(e) => {
                        tracing::error!(version = active, error = %e, "cannot follow another replica's model");
                        // The database's failures pass; a version that does not load stays so.
                        if !matches!(e, crate::registry::RegistryError::Store(_)) {
                            failed = Some(active);
                        }
                    }
                }
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start following the shared model registry");
    }
}

/// Drops the local copies of versions the shared registry no longer holds; logs what it did.
fn drop_stale_copies(state: &AppState) {
    match state.registry.drop_stale_copies(&state.model_version()) {
        Ok(dropped) if !dropped.is_empty() => {
            tracing::info!(?dropped, "local copies of deleted model versions removed");
        }
        Ok(_) => {}
        Err(e) => tracing::debug!(error = %e, "cannot tidy the local model copies"),
    }
}

/// The one middleware: gives the request an id (and every line logged while serving it
/// the id's span), checks its key once and puts the [`Caller`] into the request, applies
/// the rate limit, then logs and counts the answer by route template and status.
pub async fn handle_request(
    state: web::Data<AppState>,
    routes: web::Data<RouteTable>,
    body_timeout: web::Data<BodyTimeout>,
    mut request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let start = Instant::now();
    let body = share_body(&mut request);
    if body.is_some() {
        // The body readers give up on it at this deadline (actix times out headers only).
        request
            .extensions_mut()
            .insert(BodyDeadline::from_now(body_timeout.0));
    }
    let request_id = request_id(&request);
    let span = tracing::info_span!("request", request_id = %request_id);
    let method = request.method().clone();
    // The route template, never the path itself: a path no route matches (a 404) is
    // whatever the client typed, e-mail addresses included, and query strings are where
    // clients put things we should not log.
    let route = request
        .match_pattern()
        .unwrap_or_else(|| UNMATCHED_ROUTE.to_owned());
    let rate_limited = routes.get(&route).is_none_or(|r| r.rate_limited());
    let caller = caller(&request, &state);
    let limited = if refused_connection(&request) {
        Err(ApiError::TooManyConnections)
    } else if rate_limited {
        check_rate(&request, &state, &caller).map_err(|(scope, wait)| {
            state.metrics.rate_limited(scope);
            let retry_after = ratelimit::retry_after_secs(wait);
            ApiError::RateLimited { retry_after }
        })
    } else {
        Ok(())
    };
    request.extensions_mut().insert(caller);
    let response = match limited {
        Ok(()) => next
            .call(request)
            .instrument(span.clone())
            .await
            .map(ServiceResponse::map_into_boxed_body),
        Err(error) => Ok(request.error_response(error)),
    };
    let mut response = response.map(|response| keep_unfinished_body(response, body));
    span.in_scope(|| log_request(&state, &method, route, &response, start));
    if let Ok(response) = &mut response {
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            response
                .headers_mut()
                .insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
        }
    }
    response
}

/// The request body, shared between the handler, which reads it through this as its
/// payload, and the middleware, which keeps it alive past the answer when the handler did
/// not read it to the end (gave up at the deadline, refused it as too large, or ignored it).
/// While actix's end of a body is alive after the answer, actix closes the connection;
/// dropped, it drains a chunked body to its end, which a client dripping bytes never reaches.
#[derive(Clone)]
struct SharedBody {
    payload: Rc<RefCell<dev::Payload>>,
    finished: Rc<Cell<bool>>,
}

impl futures_util::Stream for SharedBody {
    type Item = Result<web::Bytes, actix_web::error::PayloadError>;

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<Option<Self::Item>> {
        let poll = Pin::new(&mut *self.payload.borrow_mut()).poll_next(cx);
        if matches!(poll, Poll::Ready(None)) {
            self.finished.set(true);
        }
        poll
    }
}

/// Gives the handler a [`SharedBody`] as its payload; `None` for a request with no body.
fn share_body(request: &mut ServiceRequest) -> Option<SharedBody> {
    let payload = request.take_payload();
    if matches!(payload, dev::Payload::None) {
        return None;
    }
    let shared = SharedBody {
        payload: Rc::new(RefCell::new(payload)),
        finished: Rc::new(Cell::new(false)),
    };
    request.set_payload(dev::Payload::Stream {
        payload: Box::pin(shared.clone()),
    });
    Some(shared)
}

/// Moves a request body not read to its end into the response body, where it lives until
/// the answer has been sent and actix has decided to close the connection.
fn keep_unfinished_body(
    response: ServiceResponse<BoxBody>,
    body: Option<SharedBody>,
) -> ServiceResponse<BoxBody> {
    match body {
        Some(unfinished) if !unfinished.finished.get() => response.map_body(|_, body| {
            BoxBody::new(WithUnfinishedBody {
                body,
                _unfinished: unfinished,
            })
        }),
        _ => response,
    }
}

/// A response body that holds the request's unfinished body until it has been sent.
struct WithUnfinishedBody {
    body: BoxBody,
    _unfinished: SharedBody,
}

impl MessageBody for WithUnfinishedBody {
    type Error = <BoxBody as MessageBody>::Error;

    fn size(&self) -> actix_web::body::BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<Option<Result<web::Bytes, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_next(cx)
    }
}

/// Whether the request came on a connection over its IP's cap: answered, not served.
fn refused_connection(request: &ServiceRequest) -> bool {
    request
        .conn_data::<ConnectionSlot>()
        .is_some_and(|slot| slot.admission == Admission::Refused)
}

/// The request log line and the request metrics: the error code, never the message (enough
/// to count failures by kind).
fn log_request(
    state: &AppState,
    method: &actix_web::http::Method,
    route: String,
    response: &Result<ServiceResponse<BoxBody>, actix_web::Error>,
    start: Instant,
) {
    let (status, error) = match response {
        Ok(r) => (r.status(), r.response().error()),
        Err(e) => (e.as_response_error().status_code(), Some(e)),
    };
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

/// The caller, from the key in the headers. Akismet calls carry their key in the form body,
/// which the middleware does not read (the handler streams it with its own limits); the key
/// in the `Host` (`KEY.rest.example`) is used when present.
fn caller(request: &ServiceRequest, state: &AppState) -> Caller {
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
    Caller::check(&state.keys, key)
}

/// Takes a token from the caller's rate-limit bucket: the key's, if the request presents a
/// valid one, else the client IP's. `Err` says which scope refused and for how long.
fn check_rate(
    request: &ServiceRequest,
    state: &AppState,
    caller: &Caller,
) -> Result<(), (&'static str, std::time::Duration)> {
    let subject = match caller.key_principal() {
        Some(crate::keys::Principal {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_per_worker_stay_within_the_open_file_limit() {
        // (open-file limit, workers, connections per worker, why)
        let cases = [
            (
                Some(1024),
                2,
                462,
                "the usual default, less the reserve, halved",
            ),
            (
                Some(65_536),
                2,
                25_000,
                "actix's own limit when files are plenty",
            ),
            (
                Some(50),
                2,
                1,
                "a tiny limit still lets each worker take one",
            ),
            (None, 4, 25_000, "unknown limit: actix's default"),
        ];
        for (files, workers, expected, why) in cases {
            assert_eq!(
                max_connections_per_worker(files, workers),
                expected,
                "{why}"
            );
        }
        assert!(open_file_limit().is_some(), "read on Linux");
    }

    #[test]
    fn the_connection_cap_counts_per_ip_and_spares_trusted_proxies() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let limit = ConnectionLimit::new(
            NonZeroU32::new(2),
            TrustedProxies::parse("10.0.0.0/8").unwrap(),
        );
        let client = ip("192.0.2.1");
        // (peer, expected, why)
        let cases = [
            (client, Admission::Counted(client), "first"),
            (client, Admission::Counted(client), "second, at the cap"),
            (client, Admission::Refused, "third, over it"),
            (
                ip("192.0.2.2"),
                Admission::Counted(ip("192.0.2.2")),
                "another IP has its own count",
            ),
            (
                ip("10.1.2.3"),
                Admission::Uncounted,
                "a trusted proxy is not capped",
            ),
            (
                ip("::ffff:192.0.2.1"),
                Admission::Refused,
                "an IPv4-mapped address is the same IP",
            ),
        ];
        for (peer, expected, why) in cases {
            assert_eq!(limit.admit(peer), expected, "{why}");
        }
        limit.release(client);
        assert_eq!(
            limit.admit(client),
            Admission::Counted(client),
            "a slot freed"
        );
        limit.release(client);
        limit.release(client);
        limit.release(ip("192.0.2.2"));
        assert!(
            limit.open.lock().unwrap().is_empty(),
            "IPs with nothing open are forgotten"
        );

        let uncapped = ConnectionLimit::new(None, TrustedProxies::default());
        assert_eq!(uncapped.admit(client), Admission::Uncounted, "no cap");
    }
}
