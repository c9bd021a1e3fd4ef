//! commentguard: a self-hosted comment moderation and spam filtering service.
//!
//! A comment flows: HTTP route (or the CLI) → [`service`] → validated [`domain::Comment`]
//! → [`text`] normalisation and features → [`rules`] and [`classifier`] → [`moderation`]
//! policy → verdict.
//!
//! Module map (who owns what, and what each may import):
//!
//! - [`akismet`]: the Akismet protocol's pure half: form decoding, keys in the Host, test
//!   triggers, answer literals. The routes own its HTTP.
//! - [`domain`]: plain types (`Comment`, `Verdict`, `Label`, `Assessment`). No IO.
//! - [`text`]: Unicode normalisation, HTML stripping with link extraction, tokenisation into
//!   namespaced features, telling a body in another language than English and an author
//!   name made of ordinary words (a keyword) from a person's. Pure.
//! - [`classifier`]: the sparse multinomial naive Bayes model: counts, scoring, calibration,
//!   training, and the postcard artifact + JSON manifest. The only module that knows the maths.
//! - [`rules`]: the TOML rule file, its validation, the compiled `RegexSet` and built-in checks.
//!   Pure once loaded.
//! - [`moderation`]: the policy that turns rule hits and a spam probability into a verdict. Pure.
//! - [`cache`]: the `VerdictCache` seam with its in-process and Redis implementations, the
//!   signal counters, and the review history's Redis store. The only module importing
//!   `redis`.
//! - [`import`]: moderation history from other platforms (WordPress dumps, WP-CLI, WXR,
//!   Disqus, labelled JSON Lines): detection and streaming parsers. Pure; `service::import`
//!   records what they yield.
//! - [`upload`]: the `import` command's HTTP/1.1 client (streams a file to a service).
//! - [`database`]: PostgreSQL (`COMMENTGUARD_DATABASE_URL`): the label log replicas share
//!   (ordered positions, LISTEN/NOTIFY followers), the review history, embedded migrations.
//!   The only module importing `tokio_postgres`.
//! - [`keys`]: API keys and roles: the hashed key file and checking a presented key.
//! - [`labels`]: moderator labels: the fsync'd append-only log (or a `SharedLabelLog`),
//!   pins by fingerprint, the spam memory, and learning each label into the live model at once.
//! - [`scoring`]: `Scorer`, the whole in-process pipeline (`score_comment`), and loading the
//!   shipped or on-disk model and rules.
//! - [`fuzzy`]: fuzzy fingerprints of known spam as rule hits (MinHash maths in
//!   [`text::fuzzy`], the shared store in [`cache`]).
//! - [`signals`]: cross-site and flood signals: what to count, and the rule hits counts call
//!   for. Pure; the counting lives in `cache`.
//! - [`corpus`]: reading labelled JSON Lines (the shared eval format).
//! - [`registry`]: promoted models as immutable versions in the data directory, the active
//!   pointer, listing, pruning, and falling back from a corrupt version at start.
//! - [`retrain`]: retraining jobs: corpus + labels, the evaluation gate, promotion.
//! - [`replay`]: the `replay` command: learning from moderators, measured.
//! - [`review`]: the review history behind the moderator console: held and spam verdicts
//!   kept for a retention, the queue's order, filters and paging (pure), and the
//!   `ReviewStore` trait; `review::file` is the file store, and the Redis one lives in
//!   `cache` (which imports `review`, never the other way round).
//! - [`service`]: what the JSON routes, the Akismet routes and the CLI share: assess a
//!   comment (pins, cache, signals, scoring), record a verdict for review, record a label;
//!   `service::decode` turns JSON bodies into domain types. Its errors know no HTTP.
//! - [`state`]: `AppState`, everything handlers share, built once by `state::build`.
//! - [`console`]: the moderator console's page, script and style, embedded at compile time.
//! - [`evaluation`]: metrics (via linfa) and the `eval` command's report.
//! - [`report`]: the `eval --report` page: self-contained HTML (inline SVG) and its JSON.
//! - [`metrics`]: the Prometheus series and their recorder (owned by the app state, not
//!   installed globally); `Metrics::retrain_finished` is the hook for retraining jobs.
//! - [`ratelimit`]: per-key (per-role quota) and per-IP token buckets (`governor`). Pure
//!   decisions; `startup` applies them.
//! - [`settings`]: every setting, from env (`COMMENTGUARD_*`) and an optional TOML file.
//! - [`startup`]: `Application::build(settings)`, used by `main` and the tests; the one
//!   middleware (request id, the caller's key checked once, rate limit, request log,
//!   metrics) and the Redis model follower.
//! - [`telemetry`]: the tracing subscriber, content fingerprints for logs, the panic hook,
//!   and `WarnThrottle`, which keeps a failing dependency from logging a line per request.
//! - `testing` (tests only): the deterministic picker randomised unit tests share.
//! - [`routes`]: HTTP handlers, one file per resource, each registering its own routes in
//!   the route table, which also assembles the OpenAPI document from the handlers'
//!   attributes (a path is written once); the one JSON body reader; the one place errors
//!   become HTTP. Only `routes` and `startup` import `actix_web`; no route file imports
//!   another's handlers, and nothing outside them imports `routes`.

pub mod akismet;
pub mod cache;
pub mod classifier;
pub mod console;
pub mod corpus;
pub mod database;
pub mod domain;
pub mod evaluation;
pub mod fuzzy;
pub mod import;
pub mod keys;
pub mod labels;
pub mod metrics;
pub mod moderation;
pub mod ratelimit;
pub mod registry;
pub mod replay;
pub mod report;
pub mod retrain;
pub mod review;
pub mod routes;
pub mod rules;
pub mod scoring;
pub mod service;
pub mod settings;
pub mod signals;
pub mod startup;
pub mod state;
pub mod telemetry;
#[cfg(test)]
mod testing;
pub mod text;
pub mod upload;
