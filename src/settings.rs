//! Every setting of the service, read from `COMMENTGUARD_*` environment variables and an
//! optional TOML file.
//!
//! Precedence, highest first: command-line flags (applied by `main`), environment variables,
//! the config file, built-in defaults. The config file is named by `--config` or
//! `COMMENTGUARD_CONFIG`; its keys are the setting names below, flat, e.g.
//! `spam_threshold = 0.92`. Unknown keys in the file are an error so that typos do not go
//! unnoticed. A variable or key set to the empty string counts as unset, so
//! `COMMENTGUARD_MODELS_DIR=` in a compose file means "use the embedded model".
//!
//! | key                 | environment variable              | default                |
//! |---------------------|-----------------------------------|------------------------|
//! | `bind`              | `COMMENTGUARD_BIND`               | `127.0.0.1:8080`       |
//! | `models_dir`        | `COMMENTGUARD_MODELS_DIR`         | unset: embedded model  |
//! | `data_dir`          | `COMMENTGUARD_DATA_DIR`           | `data`                 |
//! | `hold_threshold`    | `COMMENTGUARD_HOLD_THRESHOLD`     | [`Policy::default`]    |
//! | `spam_threshold`    | `COMMENTGUARD_SPAM_THRESHOLD`     | [`Policy::default`]    |
//! | `discard_threshold` | `COMMENTGUARD_DISCARD_THRESHOLD`  | [`Policy::default`]    |
//! | `max_body_bytes`    | `COMMENTGUARD_MAX_BODY_BYTES`     | 524288 (512 KiB)       |
//! | `workers`           | `COMMENTGUARD_WORKERS`            | number of CPUs         |
//! | `log_format`        | `COMMENTGUARD_LOG_FORMAT`         | `json`                 |
//! | `cache_ttl_secs`    | `COMMENTGUARD_CACHE_TTL_SECS`     | 604800 (7 days)        |
//! | `cache_capacity`    | `COMMENTGUARD_CACHE_CAPACITY`     | 100000 entries         |
//! | `redis_url`         | `COMMENTGUARD_REDIS_URL` or `REDIS_URL` | unset: in-process cache |
//! | `redis_timeout_ms`  | `COMMENTGUARD_REDIS_TIMEOUT_MS`   | 25                     |
//! | `cache_prefix`      | `COMMENTGUARD_CACHE_PREFIX`       | `cg`                   |
//! | `signal_max_sites`  | `COMMENTGUARD_SIGNAL_MAX_SITES`   | 3: more sites is spam  |
//! | `signal_max_repeats`| `COMMENTGUARD_SIGNAL_MAX_REPEATS` | 5: more adds a weight  |
//! | `signal_window_secs`| `COMMENTGUARD_SIGNAL_WINDOW_SECS` | 3600                   |
//! | `flood_max_per_15s` | `COMMENTGUARD_FLOOD_MAX_PER_15S`  | 3: more is held        |
//! | `label_weight`      | `COMMENTGUARD_LABEL_WEIGHT`       | see [`crate::labels`]  |
//! | `akismet_hold_is_spam` | `COMMENTGUARD_AKISMET_HOLD_IS_SPAM` | `true`          |
//! | `rate_limit`        | `COMMENTGUARD_RATE_LIMIT`         | 1000 (per s), or `off` |
//! | `rate_burst`        | `COMMENTGUARD_RATE_BURST`         | twice `rate_limit`     |
//! | `rate_limit_site`   | `COMMENTGUARD_RATE_LIMIT_SITE`    | `rate_limit`           |
//! | `rate_limit_moderator` | `COMMENTGUARD_RATE_LIMIT_MODERATOR` | `rate_limit`     |
//! | `rate_limit_admin`  | `COMMENTGUARD_RATE_LIMIT_ADMIN`   | `rate_limit`           |
//! | `trusted_proxies`   | `COMMENTGUARD_TRUSTED_PROXIES`    | none: the TCP peer is the client |
//! | `shutdown_timeout_secs` | `COMMENTGUARD_SHUTDOWN_TIMEOUT_SECS` | 10            |
//! | `review_retention_days` | `COMMENTGUARD_REVIEW_RETENTION_DAYS` | 14            |
//!
//! The log filter is the usual `RUST_LOG` (see [`crate::telemetry`]), not a setting here.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::moderation::Policy;

/// Environment variable naming the optional TOML config file.
pub const CONFIG_ENV: &str = "COMMENTGUARD_CONFIG";

/// Prefix of every setting's environment variable.
const ENV_PREFIX: &str = "COMMENTGUARD_";

/// Every key the config file may contain; each is also `COMMENTGUARD_<KEY>` in the environment.
pub const KEYS: [&str; 32] = [
    "bind",
    "models_dir",
    "data_dir",
    "hold_threshold",
    "spam_threshold",
    "discard_threshold",
    "max_body_bytes",
    "workers",
    "log_format",
    "cache_ttl_secs",
    "cache_capacity",
    "redis_url",
    "redis_timeout_ms",
    "cache_prefix",
    "signal_max_sites",
    "signal_max_repeats",
    "signal_window_secs",
    "flood_max_per_15s",
    "label_weight",
    "akismet_hold_is_spam",
    "retrain_f1_tolerance",
    "retrain_fpr_tolerance",
    "keep_model_versions",
    "registry_dir",
    "rate_limit",
    "rate_burst",
    "rate_limit_site",
    "rate_limit_moderator",
    "rate_limit_admin",
    "trusted_proxies",
    "shutdown_timeout_secs",
    "review_retention_days",
];

/// Every setting's default and meaning, in [`KEYS`] order: the `serve --help` listing.
pub const DOCS: [(&str, &str, &str); 32] = [
    ("bind", "127.0.0.1:8080", "address and port to listen on"),
    (
        "models_dir",
        "unset: the embedded model",
        "directory with a trained model and rules",
    ),
    (
        "data_dir",
        "data",
        "where labels and keys are kept (created if missing)",
    ),
    (
        "hold_threshold",
        "0.35",
        "spam probability from which a comment is held",
    ),
    (
        "spam_threshold",
        "0.75",
        "spam probability from which a comment is spam",
    ),
    (
        "discard_threshold",
        "0.99",
        "spam probability from which a comment is discarded",
    ),
    ("max_body_bytes", "524288", "largest request body, in bytes"),
    ("workers", "number of CPUs", "HTTP worker threads"),
    ("log_format", "json", "`json` or `pretty`"),
    (
        "cache_ttl_secs",
        "604800",
        "how long a cached verdict is served",
    ),
    (
        "cache_capacity",
        "100000",
        "entries of the in-process verdict cache",
    ),
    (
        "redis_url",
        "unset: in-process cache",
        "Redis for the shared cache (or REDIS_URL)",
    ),
    (
        "redis_timeout_ms",
        "25",
        "longest a Redis call may take before it counts as a miss",
    ),
    ("cache_prefix", "cg", "prefix of every Redis key"),
    (
        "signal_max_sites",
        "3",
        "more sites with the same comment is spam",
    ),
    (
        "signal_max_repeats",
        "5",
        "more repeats of a comment adds a spam weight",
    ),
    (
        "signal_window_secs",
        "3600",
        "window of the cross-site and repeat counts",
    ),
    (
        "flood_max_per_15s",
        "3",
        "more comments from one IP in 15 s are held",
    ),
    (
        "label_weight",
        "2",
        "corpus examples one moderator label counts as",
    ),
    (
        "akismet_hold_is_spam",
        "true",
        "Akismet comment-check answers true for held comments",
    ),
    (
        "retrain_f1_tolerance",
        "0.005",
        "largest holdout F1 drop a retrained model may show",
    ),
    (
        "retrain_fpr_tolerance",
        "0.002",
        "largest holdout false-positive-rate rise allowed",
    ),
    (
        "keep_model_versions",
        "10",
        "model versions kept in the registry",
    ),
    (
        "registry_dir",
        "DATA_DIR/models",
        "model registry; share it between replicas",
    ),
    (
        "rate_limit",
        "1000",
        "requests per second per key (per IP without one); `off`",
    ),
    ("rate_burst", "twice rate_limit", "requests allowed at once"),
    (
        "rate_limit_site",
        "rate_limit",
        "per site key; `off`; burst twice the rate",
    ),
    (
        "rate_limit_moderator",
        "rate_limit",
        "per moderator key; `off`; burst twice the rate",
    ),
    (
        "rate_limit_admin",
        "rate_limit",
        "per admin key; `off`; burst twice the rate",
    ),
    (
        "trusted_proxies",
        "none",
        "proxies (IPs, CIDRs) whose X-Forwarded-For names the client",
    ),
    (
        "shutdown_timeout_secs",
        "10",
        "after SIGTERM, how long in-flight requests get",
    ),
    (
        "review_retention_days",
        "14",
        "days held/spam verdicts stay in the review console",
    ),
];

/// The settings as `serve --help` lists them: variable, default, meaning.
pub fn help() -> String {
    let mut out = format!(
        "Settings (environment variable, or the key in lower case in the --config / {CONFIG_ENV} \
         TOML file; flags override both; an empty value counts as unset):\n"
    );
    for (key, default, what) in DOCS {
        out.push_str(&format!(
            "  {:<36} {what} [default: {default}]\n",
            env_var(key)
        ));
    }
    out.push_str("  RUST_LOG                             log filter [default: info]\n");
    out
}

/// The environment variable of setting `key`: `COMMENTGUARD_<KEY>`.
pub fn env_var(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.to_ascii_uppercase())
}

/// Default graceful-shutdown bound: in-flight requests get this long after SIGTERM.
pub const DEFAULT_SHUTDOWN_TIMEOUT_SECS: u64 = 10;

/// Default request body limit: generous for a 64 KiB comment plus metadata and JSON escaping.
pub const DEFAULT_MAX_BODY_BYTES: usize = 512 * 1024;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One JSON object per line, for log collectors.
    #[default]
    Json,
    /// Multi-line human-readable output, for development.
    Pretty,
}

impl FromStr for LogFormat {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("json") {
            Ok(LogFormat::Json)
        } else if s.eq_ignore_ascii_case("pretty") {
            Ok(LogFormat::Pretty)
        } else {
            Err(())
        }
    }
}

/// The resolved configuration of one process.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Address the HTTP server listens on; port 0 picks a free port (tests do this).
    pub bind: SocketAddr,
    /// Directory with a trained model and rules; `None` uses the ones embedded in the binary.
    pub models_dir: Option<PathBuf>,
    /// Directory for state the service writes (created at start-up if missing).
    pub data_dir: PathBuf,
    /// Spam-probability thresholds of the moderation policy; 0 ≤ hold ≤ spam ≤ discard ≤ 1.
    pub policy: Policy,
    /// Largest request body accepted, in bytes; larger bodies get `413 payload_too_large`.
    pub max_body_bytes: usize,
    /// Number of HTTP worker threads.
    pub workers: usize,
    /// Format of log lines.
    pub log_format: LogFormat,
    /// How long a cached verdict is served.
    pub cache_ttl: std::time::Duration,
    /// Most entries the in-process verdict cache keeps.
    pub cache_capacity: usize,
    /// Redis for the verdict cache; `None` keeps verdicts in process.
    pub redis_url: Option<String>,
    /// Longest any Redis call may take before it counts as a miss.
    pub redis_timeout: std::time::Duration,
    /// Prefix of every Redis key, so several deployments can share one Redis.
    pub cache_prefix: String,
    /// Thresholds of the cross-site and flood signals.
    pub signals: crate::signals::SignalPolicy,
    /// How many corpus examples one moderator label counts as in the live model.
    pub label_weight: f32,
    /// Whether the Akismet comment-check answers `true` for a held comment (it then lands
    /// in the platform's reviewable spam queue instead of being published unseen).
    pub akismet_hold_is_spam: bool,
    /// How much worse a retrained candidate may look and still be promoted.
    pub gate: crate::retrain::GateTolerance,
    /// Model versions the registry keeps (the active one always).
    pub keep_versions: usize,
    /// Where promoted models live; replicas on one Redis share it. Default `DATA_DIR/models`.
    pub registry_dir: Option<PathBuf>,
    /// Requests per second per key (per role) and per client IP; `None` entries are unlimited.
    pub rate_limits: crate::ratelimit::RateLimitSettings,
    /// Reverse proxies whose `X-Forwarded-For` says which client IP a request counts against.
    pub trusted_proxies: crate::ratelimit::TrustedProxies,
    /// After SIGTERM, how long in-flight requests get to finish before the workers stop.
    pub shutdown_timeout: std::time::Duration,
    /// How long held and spam verdicts (comment included: personal data) stay in the review
    /// history; whole days from the environment, any duration in tests.
    pub review_retention: std::time::Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 8080)),
            models_dir: None,
            data_dir: PathBuf::from("data"),
            policy: Policy::default(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            // Falling back to one worker is safe; the count is only a throughput knob.
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            log_format: LogFormat::Json,
            cache_ttl: crate::cache::DEFAULT_TTL,
            cache_capacity: crate::cache::DEFAULT_CAPACITY,
            redis_url: None,
            redis_timeout: std::time::Duration::from_millis(25),
            cache_prefix: "cg".to_owned(),
            signals: crate::signals::SignalPolicy::default(),
            label_weight: crate::labels::DEFAULT_LABEL_WEIGHT,
            akismet_hold_is_spam: true,
            gate: crate::retrain::GateTolerance::default(),
            keep_versions: 10,
            registry_dir: None,
            rate_limits: crate::ratelimit::RateLimitSettings::default(),
            trusted_proxies: crate::ratelimit::TrustedProxies::default(),
            shutdown_timeout: std::time::Duration::from_secs(DEFAULT_SHUTDOWN_TIMEOUT_SECS),
            review_retention: crate::review::DEFAULT_RETENTION,
        }
    }
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A setting has a value that does not parse or is out of range.
    #[error("{setting}: expected {expected}, got {got}")]
    Invalid {
        /// Where the value came from: the environment variable, or `<file>: <key>`.
        setting: String,
        /// What a valid value looks like.
        expected: &'static str,
        /// The offending value, quoted, or its TOML type when it is not a scalar.
        got: String,
    },
    /// The thresholds are individually valid but together break [`Policy::validate`]
    /// (e.g. hold above spam).
    #[error(
        "COMMENTGUARD_HOLD_THRESHOLD, COMMENTGUARD_SPAM_THRESHOLD, \
         COMMENTGUARD_DISCARD_THRESHOLD: {0}"
    )]
    Policy(String),
    /// The config file has a key that is not a setting.
    #[error("{origin}: unknown setting `{key}` (known settings: {})", KEYS.join(", "))]
    UnknownKey {
        /// The config file.
        origin: String,
        /// The unknown key.
        key: String,
    },
    /// The config file is not valid TOML.
    // The causes below are part of the message rather than `#[source]`s so that the error
    // prints in full, once, however it is formatted.
    #[error("{origin}: not valid TOML: {cause}")]
    Toml {
        /// The config file.
        origin: String,
        /// The parser's error, with line and column.
        cause: toml::de::Error,
    },
    /// The config file could not be read.
    #[error("cannot read config file {}: {cause}", path.display())]
    ReadFile {
        /// The config file.
        path: PathBuf,
        /// The IO error.
        cause: std::io::Error,
    },
}

impl Settings {
    /// Loads settings from the process environment and the config file named by `config`
    /// (or, when `None`, by `COMMENTGUARD_CONFIG`).
    pub fn load(config: Option<&Path>) -> Result<Settings, SettingsError> {
        // Non-UTF-8 values are kept (lossily) rather than dropped so that they fail loudly
        // in parsing instead of silently falling back to a default.
        let env = |name: &str| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned());
        let path = match config {
            Some(path) => Some(path.to_path_buf()),
            None => env(CONFIG_ENV)
                .filter(|v| !v.trim().is_empty())
                .map(PathBuf::from),
        };
        let Some(path) = path else {
            return Self::resolve(env, None);
        };
        let text = std::fs::read_to_string(&path).map_err(|cause| SettingsError::ReadFile {
            path: path.clone(),
            cause,
        })?;
        Self::resolve(env, Some((&path.display().to_string(), &text)))
    }

    /// Resolves settings from an environment lookup and the text of an optional TOML file,
    /// without touching the process environment (this is what the unit tests call).
    pub fn from_sources(
        env: impl Fn(&str) -> Option<String>,
        file: Option<&str>,
    ) -> Result<Settings, SettingsError> {
        Self::resolve(env, file.map(|text| ("config file", text)))
    }

    /// `file` is `(origin, text)`; the origin names the file in error messages.
    fn resolve(
        env: impl Fn(&str) -> Option<String>,
        file: Option<(&str, &str)>,
    ) -> Result<Settings, SettingsError> {
        let file = match file {
            None => None,
            Some((origin, text)) => {
                let table = text
                    .parse::<toml::Table>()
                    .map_err(|cause| SettingsError::Toml {
                        origin: origin.to_owned(),
                        cause,
                    })?;
                if let Some(key) = table.keys().find(|k| !KEYS.contains(&k.as_str())) {
                    return Err(SettingsError::UnknownKey {
                        origin: origin.to_owned(),
                        key: key.clone(),
                    });
                }
                Some((origin, table))
            }
        };
        let sources = Sources { env, file };
        let defaults = Settings::default();

        const THRESHOLD: &str = "a number between 0 and 1";
        let threshold = |v: &str| v.parse::<f64>().ok().filter(|p| (0.0..=1.0).contains(p));
        let positive = |v: &str| v.parse::<usize>().ok().filter(|n| *n > 0);
        let policy = Policy {
            hold_threshold: sources
                .get("hold_threshold", THRESHOLD, threshold)?
                .unwrap_or(defaults.policy.hold_threshold),
            spam_threshold: sources
                .get("spam_threshold", THRESHOLD, threshold)?
                .unwrap_or(defaults.policy.spam_threshold),
            discard_threshold: sources
                .get("discard_threshold", THRESHOLD, threshold)?
                .unwrap_or(defaults.policy.discard_threshold),
        };
        policy.validate().map_err(SettingsError::Policy)?;
        let rate_limits = rate_limits(&sources)?;

        Ok(Settings {
            bind: sources
                .get(
                    "bind",
                    "an IP address and port such as 127.0.0.1:8080",
                    |v| v.parse().ok(),
                )?
                .unwrap_or(defaults.bind),
            // Any non-empty string is a path; whether it exists is checked when it is used.
            models_dir: sources.get("models_dir", "a path", |v| Some(PathBuf::from(v)))?,
            data_dir: sources
                .get("data_dir", "a path", |v| Some(PathBuf::from(v)))?
                .unwrap_or(defaults.data_dir),
            policy,
            max_body_bytes: sources
                .get("max_body_bytes", "a positive number of bytes", positive)?
                .unwrap_or(defaults.max_body_bytes),
            workers: sources
                .get("workers", "a positive whole number", positive)?
                .unwrap_or(defaults.workers),
            log_format: sources
                .get("log_format", "`json` or `pretty`", |v| v.parse().ok())?
                .unwrap_or(defaults.log_format),
            cache_ttl: sources
                .get("cache_ttl_secs", "a positive number of seconds", positive)?
                .map(|secs: usize| std::time::Duration::from_secs(secs as u64))
                .unwrap_or(defaults.cache_ttl),
            cache_capacity: sources
                .get("cache_capacity", "a positive whole number", positive)?
                .unwrap_or(defaults.cache_capacity),
            redis_url: match sources.get("redis_url", "a redis:// URL", redis_url)? {
                Some(url) => Some(url),
                // The conventional name most hosting platforms set.
                None => match (sources.env)("REDIS_URL").filter(|v| !v.trim().is_empty()) {
                    Some(v) => Some(redis_url(v.trim()).ok_or_else(|| SettingsError::Invalid {
                        setting: "REDIS_URL".to_owned(),
                        expected: "a redis:// URL",
                        got: format!("{v:?}"),
                    })?),
                    None => None,
                },
            },
            redis_timeout: sources
                .get(
                    "redis_timeout_ms",
                    "a positive number of milliseconds",
                    positive,
                )?
                .map(|ms: usize| std::time::Duration::from_millis(ms as u64))
                .unwrap_or(defaults.redis_timeout),
            cache_prefix: sources
                .get("cache_prefix", "1-32 characters of [A-Za-z0-9_-]", |v| {
                    (v.len() <= 32
                        && v.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
                    .then(|| v.to_owned())
                })?
                .unwrap_or(defaults.cache_prefix),
            signals: crate::signals::SignalPolicy {
                max_sites: sources
                    .get("signal_max_sites", "a positive whole number", positive)?
                    .map_or(defaults.signals.max_sites, |n: usize| n as u64),
                max_repeats: sources
                    .get("signal_max_repeats", "a positive whole number", positive)?
                    .map_or(defaults.signals.max_repeats, |n: usize| n as u64),
                window_secs: sources
                    .get(
                        "signal_window_secs",
                        "a positive number of seconds",
                        positive,
                    )?
                    .map_or(defaults.signals.window_secs, |n: usize| n as u64),
                max_ip_per_15s: sources
                    .get("flood_max_per_15s", "a positive whole number", positive)?
                    .map_or(defaults.signals.max_ip_per_15s, |n: usize| n as u64),
            },
            label_weight: sources
                .get("label_weight", "a number from 0 to 100", |v| {
                    v.parse::<f32>().ok().filter(|w| (0.0..=100.0).contains(w))
                })?
                .unwrap_or(defaults.label_weight),
            akismet_hold_is_spam: sources
                .get("akismet_hold_is_spam", "`true` or `false`", |v| {
                    v.parse::<bool>().ok()
                })?
                .unwrap_or(defaults.akismet_hold_is_spam),
            gate: crate::retrain::GateTolerance {
                f1_drop: sources
                    .get("retrain_f1_tolerance", THRESHOLD, threshold)?
                    .unwrap_or(defaults.gate.f1_drop),
                fpr_rise: sources
                    .get("retrain_fpr_tolerance", THRESHOLD, threshold)?
                    .unwrap_or(defaults.gate.fpr_rise),
            },
            keep_versions: sources
                .get("keep_model_versions", "a positive whole number", positive)?
                .unwrap_or(defaults.keep_versions),
            registry_dir: sources.get("registry_dir", "a path", |v| Some(PathBuf::from(v)))?,
            rate_limits,
            trusted_proxies: sources
                .get(
                    "trusted_proxies",
                    "a comma-separated list of IP addresses and CIDR networks",
                    crate::ratelimit::TrustedProxies::parse,
                )?
                .unwrap_or_default(),
            shutdown_timeout: sources
                .get(
                    "shutdown_timeout_secs",
                    "a whole number of seconds from 0 to 3600",
                    |v| v.parse::<u64>().ok().filter(|s| *s <= 3600),
                )?
                .map_or(defaults.shutdown_timeout, std::time::Duration::from_secs),
            review_retention: sources
                .get(
                    "review_retention_days",
                    "a whole number of days from 1 to 3650",
                    |v| v.parse::<u64>().ok().filter(|d| (1..=3650).contains(d)),
                )?
                .map_or(defaults.review_retention, |days| {
                    std::time::Duration::from_secs(days * 86_400)
                }),
        })
    }
}

/// `rate_limit` (`off` or requests per second) with `rate_burst`, and the per-role
/// overrides, each `off` or requests per second with a burst of twice that.
fn rate_limits<E: Fn(&str) -> Option<String>>(
    sources: &Sources<'_, E>,
) -> Result<crate::ratelimit::RateLimitSettings, SettingsError> {
    use crate::ratelimit::{Limit, DEFAULT_PER_SECOND};
    use std::num::NonZeroU32;
    const RATE: &str = "`off` or a positive whole number of requests per second";
    // `Some(None)` is `off`.
    let rate = |v: &str| {
        if v.eq_ignore_ascii_case("off") {
            Some(None)
        } else {
            v.parse::<NonZeroU32>().ok().map(Some)
        }
    };
    let per_second = sources
        .get("rate_limit", RATE, rate)?
        .unwrap_or(NonZeroU32::new(DEFAULT_PER_SECOND));
    let burst = sources.get(
        "rate_burst",
        "a positive whole number of requests",
        |v: &str| v.parse::<NonZeroU32>().ok(),
    )?;
    let default = per_second.map(|per_second| Limit {
        per_second,
        burst: burst.unwrap_or(Limit::with_default_burst(per_second).burst),
    });
    let role = |key: &str| -> Result<Option<Limit>, SettingsError> {
        Ok(match sources.get(key, RATE, rate)? {
            None => default,
            Some(rate) => rate.map(Limit::with_default_burst),
        })
    };
    Ok(crate::ratelimit::RateLimitSettings {
        ip: default,
        site: role("rate_limit_site")?,
        moderator: role("rate_limit_moderator")?,
        admin: role("rate_limit_admin")?,
    })
}

fn redis_url(v: &str) -> Option<String> {
    (v.starts_with("redis://")
        || v.starts_with("rediss://")
        || v.starts_with("unix://")
        || v.starts_with("redis+unix://"))
    .then(|| v.to_owned())
}

/// The environment and the parsed config file, in precedence order.
struct Sources<'a, E> {
    env: E,
    file: Option<(&'a str, toml::Table)>,
}

impl<E: Fn(&str) -> Option<String>> Sources<'_, E> {
    /// The value of setting `key` from the highest-precedence source that sets it, parsed;
    /// `None` if no source sets it.
    fn get<T>(
        &self,
        key: &str,
        expected: &'static str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<Option<T>, SettingsError> {
        let var = env_var(key);
        if let Some(value) = (self.env)(&var).filter(|v| !v.trim().is_empty()) {
            return parse(value.trim())
                .map(Some)
                .ok_or_else(|| SettingsError::Invalid {
                    setting: var,
                    expected,
                    got: format!("{value:?}"),
                });
        }
        let Some((origin, table)) = &self.file else {
            return Ok(None);
        };
        let Some(value) = table.get(key) else {
            return Ok(None);
        };
        let invalid = |got: String| SettingsError::Invalid {
            setting: format!("{origin}: {key}"),
            expected,
            got,
        };
        // TOML values are typed, but numbers written as strings ("0.9") are accepted too:
        // every scalar goes through the same parser as the environment variable.
        let text = match value {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Datetime(d) => d.to_string(),
            toml::Value::Array(_) => return Err(invalid("an array".into())),
            toml::Value::Table(_) => return Err(invalid("a table".into())),
        };
        if text.trim().is_empty() {
            return Ok(None);
        }
        parse(text.trim())
            .map(Some)
            .ok_or_else(|| invalid(format!("{:?}", Quoted(value))))
    }
}

/// Renders a TOML scalar as the user wrote it, for error messages.
struct Quoted<'a>(&'a toml::Value);

impl fmt::Debug for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            toml::Value::String(s) => write!(f, "{s:?}"),
            toml::Value::Integer(i) => write!(f, "{i}"),
            toml::Value::Float(x) => write!(f, "{x}"),
            toml::Value::Boolean(b) => write!(f, "{b}"),
            toml::Value::Datetime(d) => write!(f, "{d}"),
            toml::Value::Array(_) => f.write_str("an array"),
            toml::Value::Table(_) => f.write_str("a table"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let s = Settings::from_sources(env(&[]), None).unwrap();
        assert_eq!(s, Settings::default());
        assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(s.models_dir, None);
        assert_eq!(s.data_dir, PathBuf::from("data"));
        assert_eq!(s.policy, Policy::default());
        assert_eq!(s.max_body_bytes, 512 * 1024);
        assert!(s.workers >= 1);
        assert_eq!(s.log_format, LogFormat::Json);
    }

    #[test]
    fn env_sets_every_setting() {
        let s = Settings::from_sources(
            env(&[
                ("COMMENTGUARD_BIND", "0.0.0.0:9000"),
                ("COMMENTGUARD_MODELS_DIR", "/srv/models"),
                ("COMMENTGUARD_DATA_DIR", "/var/lib/cg"),
                ("COMMENTGUARD_HOLD_THRESHOLD", "0.4"),
                ("COMMENTGUARD_SPAM_THRESHOLD", " 0.8 "),
                ("COMMENTGUARD_DISCARD_THRESHOLD", "1"),
                ("COMMENTGUARD_MAX_BODY_BYTES", "1024"),
                ("COMMENTGUARD_WORKERS", "3"),
                ("COMMENTGUARD_LOG_FORMAT", "pretty"),
                ("COMMENTGUARD_REVIEW_RETENTION_DAYS", "3"),
            ]),
            None,
        )
        .unwrap();
        assert_eq!(
            s.review_retention,
            std::time::Duration::from_secs(3 * 86_400)
        );
        assert_eq!(s.bind.to_string(), "0.0.0.0:9000");
        assert_eq!(s.models_dir, Some(PathBuf::from("/srv/models")));
        assert_eq!(s.data_dir, PathBuf::from("/var/lib/cg"));
        assert_eq!(
            s.policy,
            Policy {
                hold_threshold: 0.4,
                spam_threshold: 0.8,
                discard_threshold: 1.0
            }
        );
        assert_eq!(s.max_body_bytes, 1024);
        assert_eq!(s.workers, 3);
        assert_eq!(s.log_format, LogFormat::Pretty);
    }

    #[test]
    fn file_overrides_defaults_and_env_overrides_file() {
        let file = r#"
            bind = "127.0.0.1:0"
            spam_threshold = 0.85
            hold_threshold = "0.3"   # strings are parsed like env values
            workers = 2
            models_dir = "/from/file"
        "#;
        let s = Settings::from_sources(
            env(&[
                ("COMMENTGUARD_WORKERS", "7"),
                ("COMMENTGUARD_MODELS_DIR", ""),
            ]),
            Some(file),
        )
        .unwrap();
        assert_eq!(s.bind.port(), 0);
        assert_eq!(s.policy.spam_threshold, 0.85);
        assert_eq!(s.policy.hold_threshold, 0.3);
        assert_eq!(
            s.policy.discard_threshold,
            Policy::default().discard_threshold
        );
        assert_eq!(s.workers, 7, "env beats file");
        // An empty env value is "unset", so the file's value stands.
        assert_eq!(s.models_dir, Some(PathBuf::from("/from/file")));
    }

    /// An invalid configuration and the exact error it must produce.
    struct Case {
        name: &'static str,
        env: &'static [(&'static str, &'static str)],
        file: Option<&'static str>,
        error: &'static str,
    }

    #[test]
    fn invalid_values_name_the_setting() {
        let cases = [
            Case {
                name: "threshold not a number",
                env: &[("COMMENTGUARD_SPAM_THRESHOLD", "abc")],
                file: None,
                error: r#"COMMENTGUARD_SPAM_THRESHOLD: expected a number between 0 and 1, got "abc""#,
            },
            Case {
                name: "threshold out of range",
                env: &[("COMMENTGUARD_HOLD_THRESHOLD", "1.5")],
                file: None,
                error: r#"COMMENTGUARD_HOLD_THRESHOLD: expected a number between 0 and 1, got "1.5""#,
            },
            Case {
                name: "NaN is not in range",
                env: &[("COMMENTGUARD_DISCARD_THRESHOLD", "NaN")],
                file: None,
                error: r#"COMMENTGUARD_DISCARD_THRESHOLD: expected a number between 0 and 1, got "NaN""#,
            },
            Case {
                name: "zero retention",
                env: &[("COMMENTGUARD_REVIEW_RETENTION_DAYS", "0")],
                file: None,
                error: r#"COMMENTGUARD_REVIEW_RETENTION_DAYS: expected a whole number of days from 1 to 3650, got "0""#,
            },
            Case {
                name: "trusted proxy that is a host name",
                env: &[("COMMENTGUARD_TRUSTED_PROXIES", "10.0.0.0/8, proxy.internal")],
                file: None,
                error: r#"COMMENTGUARD_TRUSTED_PROXIES: expected a comma-separated list of IP addresses and CIDR networks, got "10.0.0.0/8, proxy.internal""#,
            },
            Case {
                name: "zero workers",
                env: &[("COMMENTGUARD_WORKERS", "0")],
                file: None,
                error: r#"COMMENTGUARD_WORKERS: expected a positive whole number, got "0""#,
            },
            Case {
                name: "bind without port",
                env: &[("COMMENTGUARD_BIND", "localhost")],
                file: None,
                error: r#"COMMENTGUARD_BIND: expected an IP address and port such as 127.0.0.1:8080, got "localhost""#,
            },
            Case {
                name: "unknown log format",
                env: &[("COMMENTGUARD_LOG_FORMAT", "xml")],
                file: None,
                error: r#"COMMENTGUARD_LOG_FORMAT: expected `json` or `pretty`, got "xml""#,
            },
            Case {
                name: "negative body limit in file",
                env: &[],
                file: Some("max_body_bytes = -1"),
                error: "config file: max_body_bytes: expected a positive number of bytes, got -1",
            },
            Case {
                name: "table where a scalar belongs",
                env: &[],
                file: Some("[workers]\nn = 1"),
                error: "config file: workers: expected a positive whole number, got a table",
            },
            Case {
                name: "rate limit not a number",
                env: &[("COMMENTGUARD_RATE_LIMIT", "fast")],
                file: None,
                error: r#"COMMENTGUARD_RATE_LIMIT: expected `off` or a positive whole number of requests per second, got "fast""#,
            },
            Case {
                name: "zero rate limit",
                env: &[("COMMENTGUARD_RATE_LIMIT", "0")],
                file: None,
                error: r#"COMMENTGUARD_RATE_LIMIT: expected `off` or a positive whole number of requests per second, got "0""#,
            },
            Case {
                name: "zero burst",
                env: &[("COMMENTGUARD_RATE_BURST", "0")],
                file: None,
                error: r#"COMMENTGUARD_RATE_BURST: expected a positive whole number of requests, got "0""#,
            },
            Case {
                name: "role override in the file",
                env: &[],
                file: Some("rate_limit_admin = -5"),
                error: "config file: rate_limit_admin: expected `off` or a positive whole number of requests per second, got -5",
            },
            Case {
                name: "shutdown timeout too long",
                env: &[("COMMENTGUARD_SHUTDOWN_TIMEOUT_SECS", "86400")],
                file: None,
                error: r#"COMMENTGUARD_SHUTDOWN_TIMEOUT_SECS: expected a whole number of seconds from 0 to 3600, got "86400""#,
            },
            Case {
                name: "thresholds out of order",
                env: &[
                    ("COMMENTGUARD_HOLD_THRESHOLD", "0.95"),
                    ("COMMENTGUARD_SPAM_THRESHOLD", "0.9"),
                    ("COMMENTGUARD_DISCARD_THRESHOLD", "0.99"),
                ],
                file: None,
                error: "COMMENTGUARD_HOLD_THRESHOLD, COMMENTGUARD_SPAM_THRESHOLD, \
                        COMMENTGUARD_DISCARD_THRESHOLD: thresholds must satisfy \
                        hold ≤ spam ≤ discard, got 0.95 / 0.9 / 0.99",
            },
        ];
        for case in cases {
            let err = Settings::from_sources(env(case.env), case.file).expect_err(case.name);
            assert_eq!(err.to_string(), case.error, "case: {}", case.name);
        }
    }

    #[test]
    fn trusted_proxies_come_from_the_environment_or_the_file() {
        let none = Settings::from_sources(env(&[]), None).unwrap();
        assert!(none.trusted_proxies.is_empty());
        let from_file =
            Settings::from_sources(env(&[]), Some(r#"trusted_proxies = "10.0.0.0/8, ::1""#))
                .unwrap();
        let from_env = Settings::from_sources(
            env(&[("COMMENTGUARD_TRUSTED_PROXIES", "10.0.0.0/8,::1")]),
            None,
        )
        .unwrap();
        assert_eq!(from_file.trusted_proxies, from_env.trusted_proxies);
        assert!(!from_env.trusted_proxies.is_empty());
    }

    #[test]
    fn rate_limits_and_their_overrides() {
        use crate::ratelimit::{Limit, RateLimitSettings};
        use std::num::NonZeroU32;
        let limit = |per_second, burst| {
            Some(Limit {
                per_second: NonZeroU32::new(per_second).unwrap(),
                burst: NonZeroU32::new(burst).unwrap(),
            })
        };
        let s = Settings::from_sources(env(&[]), None).unwrap();
        assert_eq!(s.rate_limits.ip, limit(1000, 2000));
        assert_eq!(s.shutdown_timeout, std::time::Duration::from_secs(10));

        let s = Settings::from_sources(
            env(&[
                ("COMMENTGUARD_RATE_LIMIT", "50"),
                ("COMMENTGUARD_RATE_BURST", "60"),
                ("COMMENTGUARD_RATE_LIMIT_ADMIN", "OFF"),
                ("COMMENTGUARD_SHUTDOWN_TIMEOUT_SECS", "0"),
            ]),
            Some("rate_limit_moderator = 5"),
        )
        .unwrap();
        assert_eq!(
            s.rate_limits,
            RateLimitSettings {
                ip: limit(50, 60),
                site: limit(50, 60),
                moderator: limit(5, 10),
                admin: None,
            }
        );
        assert_eq!(s.shutdown_timeout, std::time::Duration::ZERO);

        let s = Settings::from_sources(env(&[("COMMENTGUARD_RATE_LIMIT", "off")]), None).unwrap();
        assert_eq!(
            s.rate_limits,
            RateLimitSettings {
                ip: None,
                site: None,
                moderator: None,
                admin: None
            }
        );
    }

    #[test]
    fn every_setting_is_documented_in_help_and_readme() {
        let keys: Vec<&str> = DOCS.iter().map(|d| d.0).collect();
        assert_eq!(
            keys, KEYS,
            "DOCS and KEYS list the same settings in the same order"
        );
        let policy = Policy::default();
        for (key, value) in [
            ("hold_threshold", policy.hold_threshold),
            ("spam_threshold", policy.spam_threshold),
            ("discard_threshold", policy.discard_threshold),
            (
                "label_weight",
                f64::from(crate::labels::DEFAULT_LABEL_WEIGHT),
            ),
        ] {
            let documented = DOCS.iter().find(|d| d.0 == key).unwrap().1;
            assert_eq!(
                documented.parse::<f64>().unwrap(),
                value,
                "{key}: help is stale"
            );
        }
        let help = help();
        let readme = include_str!("../README.md");
        for key in KEYS {
            let var = env_var(key);
            assert!(help.contains(&var), "{var} not in --help");
            assert!(
                readme.contains(&format!("`{var}`")),
                "{var} not in the README"
            );
        }
    }

    #[test]
    fn file_errors_are_reported() {
        let err = Settings::from_sources(env(&[]), Some("spam_treshold = 0.9")).unwrap_err();
        assert!(matches!(&err, SettingsError::UnknownKey { key, .. } if key == "spam_treshold"));
        let err = Settings::from_sources(env(&[]), Some("bind = ")).unwrap_err();
        assert!(matches!(err, SettingsError::Toml { .. }), "{err}");
    }

    #[test]
    fn load_reads_the_named_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("commentguard.toml");
        std::fs::write(
            &path,
            "data_dir = \"/tmp/cg-data\"\nlog_format = \"pretty\"\n",
        )
        .unwrap();
        // `load` reads the real environment; only assert on keys CI will not set.
        let s = Settings::load(Some(&path)).unwrap();
        assert_eq!(s.log_format, LogFormat::Pretty);

        let err = Settings::load(Some(&dir.path().join("missing.toml"))).unwrap_err();
        assert!(matches!(err, SettingsError::ReadFile { .. }), "{err}");
    }
}
