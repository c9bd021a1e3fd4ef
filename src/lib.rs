//! commentguard: a self-hosted comment moderation and spam filtering service.
//!
//! A comment flows: HTTP route → validated [`domain::Comment`] → [`text`] normalisation
//! and features → [`rules`] and [`classifier`] → [`moderation`] policy → verdict.
//!
//! Module map (who owns what, and what each may import):
//!
//! - [`domain`]: plain types (`Comment`, `Verdict`, `Label`, `Assessment`). No IO.
//! - [`text`]: Unicode normalisation, HTML stripping with link extraction, tokenisation into
//!   namespaced features. Pure.
//! - [`classifier`]: the sparse multinomial naive Bayes model: counts, scoring, calibration,
//!   training, and the postcard artifact + JSON manifest. The only module that knows the maths.
//! - [`rules`]: the TOML rule file, its validation, the compiled `RegexSet` and built-in checks.
//!   Pure once loaded.
//! - [`moderation`]: the policy that turns rule hits and a spam probability into a verdict. Pure.
//! - [`cache`]: the `VerdictCache` seam and its in-process implementation (the Redis one will
//!   be the only module importing `redis`).
//! - [`scoring`]: `Scorer`, the whole in-process pipeline (`score_comment`), and loading the
//!   shipped or on-disk model and rules.
//! - [`signals`]: cross-site and flood signals: what to count, and the rule hits counts call
//!   for. Pure; the counting lives in `cache`.
//! - [`corpus`]: reading labelled JSON Lines (the shared eval format).
//! - [`evaluation`]: metrics (via linfa) and the `eval` command's report.
//! - [`settings`]: every setting, from env (`COMMENTGUARD_*`) and an optional TOML file.
//! - [`startup`]: `Application::build(settings)`, used by `main` and the tests.
//! - [`telemetry`]: the tracing subscriber.
//! - [`routes`]: HTTP handlers, one file per resource, and the one place errors become HTTP.
//!   Only `routes` and `startup` import `actix_web`.

pub mod cache;
pub mod classifier;
pub mod corpus;
pub mod domain;
pub mod evaluation;
pub mod moderation;
pub mod routes;
pub mod rules;
pub mod scoring;
pub mod settings;
pub mod signals;
pub mod startup;
pub mod telemetry;
pub mod text;
