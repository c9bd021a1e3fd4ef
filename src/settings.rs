//! Every setting of the service, read from `COMMENTGUARD_*` environment variables and an
//! optional TOML file.
//!
//! Precedence, highest first: command-line flags (applied by `main`), environment variables,
//! the config file, a setting's alias variables (`REDIS_URL`), built-in defaults. The config
//! file is named by `--config` or `COMMENTGUARD_CONFIG`; its keys are the setting names,
//! flat, e.g. `spam_threshold = 0.92`. Unknown keys in the file are an error so that typos
//! do not go unnoticed. A variable or key set to the empty string counts as unset, so
//! `COMMENTGUARD_MODELS_DIR=` in a compose file means "use the embedded model".
//!
//! The settings are listed once, in the `settings_table!` invocation below: it yields
//! [`SETTINGS`] (key, environment variables, default, meaning), which [`help`], the config
//! file check and [`markdown_table`] read, and the parsing of each value. The user-facing
//! table is in `docs/configuration.md`; a unit test keeps it equal to [`markdown_table`].
//!
//! The log filter is the usual `RUST_LOG` (see [`crate::telemetry`]), not a setting here.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::moderation::Policy;
use crate::ratelimit::TrustedProxies;

/// Environment variable naming the optional TOML config file.
pub const CONFIG_ENV: &str = "COMMENTGUARD_CONFIG";

/// Prefix of every setting's environment variable.
const ENV_PREFIX: &str = "COMMENTGUARD_";

/// One setting as users see it: what `serve --help` and `docs/configuration.md` list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    /// Key in the config file; the environment variable is `COMMENTGUARD_<KEY>`.
    pub key: &'static str,
    /// Further environment variables, read only when neither `COMMENTGUARD_<KEY>` nor the
    /// config file sets the setting.
    pub aliases: &'static [&'static str],
    /// The default, as shown to users.
    pub default: ShownDefault,
    /// What the setting does, in one line.
    pub doc: &'static str,
}

/// A setting's default as shown to users.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShownDefault {
    /// A value the setting accepts; setting it explicitly changes nothing (a test checks).
    Value(&'static str),
    /// Prose, for defaults that are no single value (unset, the number of CPUs, ...).
    Described(&'static str),
}

impl ShownDefault {
    /// The text shown to users.
    pub fn text(self) -> &'static str {
        match self {
            ShownDefault::Value(text) | ShownDefault::Described(text) => text,
        }
    }
}

/// Expands the one table of settings into [`SETTINGS`], [`KEYS`] and `Values`, whose `read`
/// parses every setting from its sources. Each row is
/// `key: Type { default, doc, parse, expects[, aliases] }`: `parse` turns a trimmed,
/// non-empty value into `Option<Type>` (`None` is invalid, and the error says it expected
/// `expects`).
macro_rules! settings_table {
    ($(
        $key:ident: $ty:ty {
            default: $shown:ident($default:literal),
            doc: $doc:literal,
            parse: $parse:expr,
            expects: $expects:expr
            $(, aliases: [$($alias:literal),*])?
            $(,)?
        }
    ),* $(,)?) => {
        /// Every setting, in the order `serve --help` and `docs/configuration.md` list them.
        pub const SETTINGS: &[Setting] = &[$(
            Setting {
                key: stringify!($key),
                aliases: &[$($($alias),*)?],
                default: ShownDefault::$shown($default),
                doc: $doc,
            },
        )*];

        /// Every key the config file may contain; each is also `COMMENTGUARD_<KEY>`.
        pub const KEYS: &[&str] = &[$(stringify!($key)),*];

        /// Each setting parsed from the highest-precedence source that sets it; `None`
        /// where no source does.
        struct Values {
            $($key: Option<$ty>,)*
        }

        impl Values {
            fn read<E: Fn(&str) -> Option<String>>(
                sources: &Sources<'_, E>,
            ) -> Result<Values, SettingsError> {
                Ok(Values {
                    $($key: sources.get(
                        stringify!($key),
                        &[$($($alias),*)?],
                        $expects,
                        $parse,
                    )?,)*
                })
            }
        }
    };
}

const FRACTION: &str = "a number between 0 and 1";
const RATE: &str = "`off` or a positive whole number of requests per second";

settings_table! {
    bind: SocketAddr {
        default: Value("127.0.0.1:8080"),
        doc: "address and port to listen on",
        parse: parsed,
        expects: "an IP address and port such as 127.0.0.1:8080",
    },
    // Any non-empty string is a path; whether it exists is checked when it is used.
    models_dir: PathBuf {
        default: Described("unset: the embedded model"),
        doc: "directory with a trained model and rules",
        parse: parsed,
        expects: "a path",
    },
    data_dir: PathBuf {
        default: Value("data"),
        doc: "where labels and keys are kept (created if missing)",
        parse: parsed,
        expects: "a path",
    },
    hold_threshold: f64 {
        default: Value("0.35"),
        doc: "spam probability from which a comment is held",
        parse: in_range(0.0..=1.0),
        expects: FRACTION,
    },
    spam_threshold: f64 {
        default: Value("0.75"),
        doc: "spam probability from which a comment is spam",
        parse: in_range(0.0..=1.0),
        expects: FRACTION,
    },
    discard_threshold: f64 {
        default: Value("0.99"),
        doc: "spam probability from which a comment is discarded",
        parse: in_range(0.0..=1.0),
        expects: FRACTION,
    },
    max_body_bytes: usize {
        default: Value("524288"),
        doc: "largest request body, in bytes",
        parse: positive,
        expects: "a positive number of bytes",
    },
    workers: usize {
        default: Described("number of CPUs"),
        doc: "HTTP worker threads",
        parse: positive,
        expects: "a positive whole number",
    },
    log_format: LogFormat {
        default: Value("json"),
        doc: "`json` or `pretty`",
        parse: parsed,
        expects: "`json` or `pretty`",
    },
    cache_ttl_secs: u64 {
        default: Value("604800"),
        doc: "how long a cached verdict is served",
        parse: positive,
        expects: "a positive number of seconds",
    },
    memory_budget_mb: u64 {
        default: Value("64"),
        doc: "MiB for the in-process verdicts, ids, counters, review history and fuzzy fingerprints",
        parse: in_range(1..=1_048_576),
        expects: "a whole number of MiB from 1 to 1048576",
    },
    // Accepted so that old configurations still start; `memory_budget_mb` bounds the cache.
    cache_capacity: usize {
        default: Described("deprecated, ignored: see memory_budget_mb"),
        doc: "(deprecated) was the entries of the in-process cache",
        parse: positive,
        expects: "a positive whole number",
    },
    redis_url: String {
        default: Described("unset: in-process cache"),
        doc: "Redis (6.2 or newer) for the shared cache",
        parse: redis_url,
        expects: "a redis:// or unix:// URL, or comma-separated redis:// seed nodes of a cluster (TLS is not built in)",
        // The conventional name most hosting platforms set.
        aliases: ["REDIS_URL"],
    },
    database_url: String {
        default: Described("unset: labels, keys and models in the data directory"),
        doc: "PostgreSQL for what every replica shares: labels, keys, models, jobs",
        parse: database_url,
        expects: "a postgres:// or postgresql:// URL (TLS is not built in)",
    },
    redis_cluster: bool {
        default: Value("false"),
        doc: "`redis_url` is a Redis Cluster: one or more comma-separated seed node URLs",
        parse: parsed,
        expects: "`true` or `false`",
    },
    redis_timeout_ms: u64 {
        default: Value("25"),
        doc: "longest a Redis call may take before it counts as a miss",
        parse: positive,
        expects: "a positive number of milliseconds",
    },
    cache_prefix: String {
        default: Value("cg"),
        doc: "prefix of every Redis key",
        parse: cache_prefix,
        expects: "1-32 characters of [A-Za-z0-9_-]",
    },
    signal_max_sites: u64 {
        default: Value("3"),
        doc: "more sites with the same comment is spam",
        parse: positive,
        expects: "a positive whole number",
    },
    signal_max_repeats: u64 {
        default: Value("5"),
        doc: "more repeats of a comment adds a spam weight",
        parse: positive,
        expects: "a positive whole number",
    },
    signal_window_secs: u64 {
        default: Value("3600"),
        doc: "window of the cross-site and repeat counts",
        parse: positive,
        expects: "a positive number of seconds",
    },
    flood_max_per_15s: u64 {
        default: Value("3"),
        doc: "more comments from one IP in 15 s are held",
        parse: positive,
        expects: "a positive whole number",
    },
    label_weight: f32 {
        default: Value("2"),
        doc: "corpus examples one moderator label counts as",
        parse: in_range(0.0..=100.0),
        expects: "a number from 0 to 100",
    },
    akismet_hold_is_spam: bool {
        default: Value("true"),
        doc: "Akismet comment-check answers true for held comments",
        parse: parsed,
        expects: "`true` or `false`",
    },
    retrain_f1_tolerance: f64 {
        default: Value("0.005"),
        doc: "largest holdout F1 drop a retrained model may show",
        parse: in_range(0.0..=1.0),
        expects: FRACTION,
    },
    retrain_fpr_tolerance: f64 {
        default: Value("0.002"),
        doc: "largest holdout false-positive-rate rise allowed",
        parse: in_range(0.0..=1.0),
        expects: FRACTION,
    },
    keep_model_versions: usize {
        default: Value("10"),
        doc: "model versions kept in the registry",
        parse: positive,
        expects: "a positive whole number",
    },
    registry_dir: PathBuf {
        default: Described("DATA_DIR/models"),
        doc: "model registry; share it between replicas",
        parse: parsed,
        expects: "a path",
    },
    // `None` is `off`.
    rate_limit: Option<NonZeroU32> {
        default: Value("1000"),
        doc: "requests per second per key (per IP without one); `off`",
        parse: rate,
        expects: RATE,
    },
    rate_burst: NonZeroU32 {
        default: Described("twice rate_limit"),
        doc: "requests allowed at once",
        parse: parsed,
        expects: "a positive whole number of requests",
    },
    rate_limit_site: Option<NonZeroU32> {
        default: Described("rate_limit"),
        doc: "per site key; `off`; burst twice the rate",
        parse: rate,
        expects: RATE,
    },
    rate_limit_moderator: Option<NonZeroU32> {
        default: Described("rate_limit"),
        doc: "per moderator key; `off`; burst twice the rate",
        parse: rate,
        expects: RATE,
    },
    rate_limit_admin: Option<NonZeroU32> {
        default: Described("rate_limit"),
        doc: "per admin key; `off`; burst twice the rate",
        parse: rate,
        expects: RATE,
    },
    trusted_proxies: TrustedProxies {
        default: Described("none"),
        doc: "proxies (IPs, CIDRs) whose X-Forwarded-For names the client",
        parse: TrustedProxies::parse,
        expects: "a comma-separated list of IP addresses and CIDR networks",
    },
    body_timeout_secs: u64 {
        default: Value("10"),
        doc: "a request body not all in by then gets 408 and a closed connection",
        parse: in_range(1..=3600),
        expects: "a whole number of seconds from 1 to 3600",
    },
    // `None` is `off`; trusted proxies are never capped.
    max_connections_per_ip: Option<NonZeroU32> {
        default: Value("256"),
        doc: "open connections per client IP (not trusted proxies); `off` or 0",
        parse: off_or_count,
        expects: "`off`, 0 or a positive whole number of connections",
    },
    shutdown_timeout_secs: u64 {
        default: Value("10"),
        doc: "after SIGTERM, how long in-flight requests get",
        parse: in_range(0..=3600),
        expects: "a whole number of seconds from 0 to 3600",
    },
    review_retention_days: u64 {
        default: Value("14"),
        doc: "days held/spam verdicts stay in the review console",
        parse: in_range(1..=3650),
        expects: "a whole number of days from 1 to 3650",
    },
}

/// The settings as `serve --help` lists them: variable, default, meaning.
pub fn help() -> String {
    let mut out = format!(
        "Settings (environment variable, or the key in lower case in the --config / {CONFIG_ENV} \
         TOML file; flags override both; an empty value counts as unset):\n"
    );
    for setting in SETTINGS {
        let aliases: String = setting
            .aliases
            .iter()
            .map(|alias| format!(" (or {alias})"))
            .collect();
        out.push_str(&format!(
            "  {:<36} {}{aliases} [default: {}]\n",
            env_var(setting.key),
            setting.doc,
            setting.default.text(),
        ));
    }
    out.push_str("  RUST_LOG                             log filter [default: info]\n");
    out
}

/// The settings as the Markdown table of `docs/configuration.md`: key, variable, default,
/// meaning.
pub fn markdown_table() -> String {
    let mut out = String::from(
        "| key | environment variable | default | meaning |\n\
         |-----|----------------------|---------|---------|\n",
    );
    for setting in SETTINGS {
        let vars: Vec<String> = std::iter::once(env_var(setting.key))
            .chain(setting.aliases.iter().map(|alias| alias.to_string()))
            .map(|var| format!("`{var}`"))
            .collect();
        let default = match setting.default {
            ShownDefault::Value(value) => format!("`{value}`"),
            ShownDefault::Described(text) => text.to_owned(),
        };
        out.push_str(&format!(
            "| `{}` | {} | {default} | {} |\n",
            setting.key,
            vars.join(" or "),
            setting.doc,
        ));
    }
    out
}

/// The environment variable of setting `key`: `COMMENTGUARD_<KEY>`.
pub fn env_var(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.to_ascii_uppercase())
}

/// Default graceful-shutdown bound: in-flight requests get this long after SIGTERM.
pub const DEFAULT_SHUTDOWN_TIMEOUT_SECS: u64 = 10;

/// Default deadline for a request body to arrive, in seconds.
pub const DEFAULT_BODY_TIMEOUT_SECS: u64 = 10;

/// Default cap on the connections one client IP holds open: far above what a platform
/// sends without a proxy, far below the usual open-file limit of 1,024.
pub const DEFAULT_MAX_CONNECTIONS_PER_IP: u32 = 256;

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
    /// Total MiB of the in-process stores that grow with traffic (see
    /// [`crate::cache::MemoryBudget`] for the split).
    pub memory_budget_mb: u64,
    /// The deprecated `cache_capacity`, when set: ignored but for a warning at start.
    pub deprecated_cache_capacity: Option<usize>,
    /// Redis for the verdict cache; `None` keeps verdicts in process.
    pub redis_url: Option<String>,
    /// PostgreSQL for what replicas share (labels, keys, models, jobs); `None` keeps them in
    /// the data directory.
    pub database_url: Option<String>,
    /// Whether `redis_url` names the seed nodes of a Redis Cluster.
    pub redis_cluster: bool,
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
    /// How long a request body may take to arrive, counted from the end of its headers;
    /// whole seconds from the environment, any duration in tests.
    pub body_timeout: std::time::Duration,
    /// Connections one client IP may hold open (trusted proxies excepted); `None` is no cap.
    pub max_connections_per_ip: Option<NonZeroU32>,
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
            memory_budget_mb: crate::cache::DEFAULT_MEMORY_BUDGET_MB,
            deprecated_cache_capacity: None,
            redis_url: None,
            database_url: None,
            redis_cluster: false,
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
            body_timeout: std::time::Duration::from_secs(DEFAULT_BODY_TIMEOUT_SECS),
            max_connections_per_ip: NonZeroU32::new(DEFAULT_MAX_CONNECTIONS_PER_IP),
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
            Some((origin, text)) => Some((origin, parse_file(origin, text)?)),
        };
        Values::read(&Sources { env, file })?.into_settings(Settings::default())
    }
}

/// The config file's table, once every key in it is known to be a setting.
fn parse_file(origin: &str, text: &str) -> Result<toml::Table, SettingsError> {
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
    Ok(table)
}

impl Values {
    /// The settings: each value that is set, the default of each that is not.
    fn into_settings(self, defaults: Settings) -> Result<Settings, SettingsError> {
        use std::time::Duration;
        let policy = Policy {
            hold_threshold: self
                .hold_threshold
                .unwrap_or(defaults.policy.hold_threshold),
            spam_threshold: self
                .spam_threshold
                .unwrap_or(defaults.policy.spam_threshold),
            discard_threshold: self
                .discard_threshold
                .unwrap_or(defaults.policy.discard_threshold),
        };
        policy.validate().map_err(SettingsError::Policy)?;
        let signals = crate::signals::SignalPolicy {
            max_sites: self.signal_max_sites.unwrap_or(defaults.signals.max_sites),
            max_repeats: self
                .signal_max_repeats
                .unwrap_or(defaults.signals.max_repeats),
            window_secs: self
                .signal_window_secs
                .unwrap_or(defaults.signals.window_secs),
            max_ip_per_15s: self
                .flood_max_per_15s
                .unwrap_or(defaults.signals.max_ip_per_15s),
        };
        let gate = crate::retrain::GateTolerance {
            f1_drop: self.retrain_f1_tolerance.unwrap_or(defaults.gate.f1_drop),
            fpr_rise: self.retrain_fpr_tolerance.unwrap_or(defaults.gate.fpr_rise),
        };
        Ok(Settings {
            rate_limits: self.rate_limits(),
            bind: self.bind.unwrap_or(defaults.bind),
            models_dir: self.models_dir,
            data_dir: self.data_dir.unwrap_or(defaults.data_dir),
            policy,
            max_body_bytes: self.max_body_bytes.unwrap_or(defaults.max_body_bytes),
            workers: self.workers.unwrap_or(defaults.workers),
            log_format: self.log_format.unwrap_or(defaults.log_format),
            cache_ttl: self
                .cache_ttl_secs
                .map_or(defaults.cache_ttl, Duration::from_secs),
            memory_budget_mb: self.memory_budget_mb.unwrap_or(defaults.memory_budget_mb),
            deprecated_cache_capacity: self.cache_capacity,
            redis_url: self.redis_url,
            database_url: self.database_url,
            redis_cluster: self.redis_cluster.unwrap_or(defaults.redis_cluster),
            redis_timeout: self
                .redis_timeout_ms
                .map_or(defaults.redis_timeout, Duration::from_millis),
            cache_prefix: self.cache_prefix.unwrap_or(defaults.cache_prefix),
            signals,
            label_weight: self.label_weight.unwrap_or(defaults.label_weight),
            akismet_hold_is_spam: self
                .akismet_hold_is_spam
                .unwrap_or(defaults.akismet_hold_is_spam),
            gate,
            keep_versions: self.keep_model_versions.unwrap_or(defaults.keep_versions),
            registry_dir: self.registry_dir,
            trusted_proxies: self.trusted_proxies.unwrap_or(defaults.trusted_proxies),
            body_timeout: self
                .body_timeout_secs
                .map_or(defaults.body_timeout, Duration::from_secs),
            max_connections_per_ip: self
                .max_connections_per_ip
                .unwrap_or(defaults.max_connections_per_ip),
            shutdown_timeout: self
                .shutdown_timeout_secs
                .map_or(defaults.shutdown_timeout, Duration::from_secs),
            review_retention: self
                .review_retention_days
                .map_or(defaults.review_retention, |days| {
                    Duration::from_secs(days * 86_400)
                }),
        })
    }

    /// `rate_limit` with `rate_burst` limits per IP and is every role's default; a role's
    /// own rate gets a burst of twice that rate.
    fn rate_limits(&self) -> crate::ratelimit::RateLimitSettings {
        use crate::ratelimit::{Limit, DEFAULT_PER_SECOND};
        let per_second = self
            .rate_limit
            .unwrap_or(NonZeroU32::new(DEFAULT_PER_SECOND));
        let default = per_second.map(|per_second| Limit {
            per_second,
            burst: self
                .rate_burst
                .unwrap_or(Limit::with_default_burst(per_second).burst),
        });
        let role = |rate: Option<Option<NonZeroU32>>| match rate {
            None => default,
            Some(rate) => rate.map(Limit::with_default_burst),
        };
        crate::ratelimit::RateLimitSettings {
            ip: default,
            site: role(self.rate_limit_site),
            moderator: role(self.rate_limit_moderator),
            admin: role(self.rate_limit_admin),
        }
    }
}

/// Any value `T` parses from.
fn parsed<T: FromStr>(v: &str) -> Option<T> {
    v.parse().ok()
}

/// A whole number of at least 1.
fn positive<T: FromStr + PartialOrd + From<u8>>(v: &str) -> Option<T> {
    v.parse().ok().filter(|n| *n >= T::from(1))
}

/// A number within `range`; NaN is not.
fn in_range<T: FromStr + PartialOrd>(range: RangeInclusive<T>) -> impl Fn(&str) -> Option<T> {
    move |v| v.parse().ok().filter(|n| range.contains(n))
}

/// `off` (`Some(None)`) or a positive number of requests per second.
fn rate(v: &str) -> Option<Option<NonZeroU32>> {
    if v.eq_ignore_ascii_case("off") {
        Some(None)
    } else {
        v.parse().ok().map(Some)
    }
}

/// `off` or 0 (`Some(None)`), or a positive count.
fn off_or_count(v: &str) -> Option<Option<NonZeroU32>> {
    if v.eq_ignore_ascii_case("off") {
        Some(None)
    } else {
        v.parse::<u32>().ok().map(NonZeroU32::new)
    }
}

/// A Redis URL the client can use: plain TCP or a Unix socket. `rediss://` (TLS) is refused
/// here rather than at the first connection: the client is built without TLS, to keep a TLS
/// stack out of the binary; a TLS-terminating sidecar serves that case.
fn redis_url(v: &str) -> Option<String> {
    // Several, comma-separated, are the seed nodes of a cluster (`redis_cluster`).
    v.split(',')
        .map(str::trim)
        .all(|v| {
            v.starts_with("redis://") || v.starts_with("unix://") || v.starts_with("redis+unix://")
        })
        .then(|| v.to_owned())
}

/// A PostgreSQL URL; the rest of it is checked when the store connects at start.
fn database_url(v: &str) -> Option<String> {
    (v.starts_with("postgres://") || v.starts_with("postgresql://")).then(|| v.to_owned())
}

/// At most 32 characters that need no escaping in a Redis key; the caller has dropped
/// empty values already.
fn cache_prefix(v: &str) -> Option<String> {
    (v.len() <= 32
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
    .then(|| v.to_owned())
}

/// The environment and the parsed config file, in precedence order.
struct Sources<'a, E> {
    env: E,
    file: Option<(&'a str, toml::Table)>,
}

impl<E: Fn(&str) -> Option<String>> Sources<'_, E> {
    /// The value of setting `key` from the highest-precedence source that sets it, parsed;
    /// `None` if no source sets it. `aliases` are environment variables below the file.
    fn get<T>(
        &self,
        key: &str,
        aliases: &[&str],
        expected: &'static str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<Option<T>, SettingsError> {
        if let Some(value) = self.env_value(&env_var(key), expected, &parse)? {
            return Ok(Some(value));
        }
        if let Some(value) = self.file_value(key, expected, &parse)? {
            return Ok(Some(value));
        }
        for alias in aliases {
            if let Some(value) = self.env_value(alias, expected, &parse)? {
                return Ok(Some(value));
            }
        }
        Ok(None)
    }

    fn env_value<T>(
        &self,
        var: &str,
        expected: &'static str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<Option<T>, SettingsError> {
        let Some(value) = (self.env)(var).filter(|v| !v.trim().is_empty()) else {
            return Ok(None);
        };
        parse(value.trim())
            .map(Some)
            .ok_or_else(|| SettingsError::Invalid {
                setting: var.to_owned(),
                expected,
                got: format!("{:?}", without_passwords(&value)),
            })
    }

    fn file_value<T>(
        &self,
        key: &str,
        expected: &'static str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<Option<T>, SettingsError> {
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

/// `value` with every password replaced by `***`: the one in a URL's `user:password@` and
/// any `password=…` (a query parameter or a libpq key), so that an error about a Redis or
/// PostgreSQL setting never prints a credential into a log or a terminal.
fn without_passwords(value: &str) -> String {
    let urls: Vec<String> = value.split(',').map(url_without_password).collect();
    let mut out = String::with_capacity(value.len());
    let mut rest = urls.join(",");
    while let Some(at) = rest.find("password=") {
        let start = at + "password=".len();
        let end = rest[start..]
            .find(|c: char| c == '&' || c.is_whitespace())
            .map_or(rest.len(), |n| start + n);
        out.push_str(&rest[..start]);
        out.push_str("***");
        rest = rest[end..].to_owned();
    }
    out.push_str(&rest);
    out
}

/// One URL with the password of its `user:password@` part replaced by `***`.
fn url_without_password(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|n| n + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let Some(at) = authority.rfind('@') else {
        return url.to_owned();
    };
    let Some(colon) = authority[..at].find(':') else {
        return url.to_owned();
    };
    format!(
        "{}{}:***{}",
        &url[..scheme_end],
        &authority[..colon],
        &rest[at..]
    )
}

/// Renders a TOML scalar as the user wrote it (passwords left out), for error messages.
struct Quoted<'a>(&'a toml::Value);

impl fmt::Debug for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            toml::Value::String(s) => write!(f, "{:?}", without_passwords(s)),
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
                name: "TLS Redis URL, which the client is built without",
                env: &[("COMMENTGUARD_REDIS_URL", "rediss://cache.internal:6380")],
                file: None,
                error: r#"COMMENTGUARD_REDIS_URL: expected a redis:// or unix:// URL, or comma-separated redis:// seed nodes of a cluster (TLS is not built in), got "rediss://cache.internal:6380""#,
            },
            Case {
                name: "a cluster seed list with one TLS node",
                env: &[("COMMENTGUARD_REDIS_URL", "redis://a:7000,rediss://b:7001")],
                file: None,
                error: r#"COMMENTGUARD_REDIS_URL: expected a redis:// or unix:// URL, or comma-separated redis:// seed nodes of a cluster (TLS is not built in), got "redis://a:7000,rediss://b:7001""#,
            },
            Case {
                name: "a database URL that is not PostgreSQL's",
                env: &[("COMMENTGUARD_DATABASE_URL", "mysql://db.internal/labels")],
                file: None,
                error: r#"COMMENTGUARD_DATABASE_URL: expected a postgres:// or postgresql:// URL (TLS is not built in), got "mysql://db.internal/labels""#,
            },
            Case {
                name: "a URL's password is not echoed",
                env: &[("COMMENTGUARD_DATABASE_URL", "mysql://cg:s3cret@db.internal/labels")],
                file: None,
                error: r#"COMMENTGUARD_DATABASE_URL: expected a postgres:// or postgresql:// URL (TLS is not built in), got "mysql://cg:***@db.internal/labels""#,
            },
            Case {
                name: "nor a password parameter, nor one in a cluster seed",
                env: &[("COMMENTGUARD_REDIS_URL", "redis://:pw1@a:7000,rediss://b:7001/?password=pw2&db=1")],
                file: None,
                error: r#"COMMENTGUARD_REDIS_URL: expected a redis:// or unix:// URL, or comma-separated redis:// seed nodes of a cluster (TLS is not built in), got "redis://:***@a:7000,rediss://b:7001/?password=***&db=1""#,
            },
            Case {
                name: "nor a libpq password in the config file",
                env: &[],
                file: Some("database_url = \"host=db password=s3cret user=cg\""),
                error: r#"config file: database_url: expected a postgres:// or postgresql:// URL (TLS is not built in), got "host=db password=*** user=cg""#,
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
    fn every_setting_is_in_help_and_the_docs() {
        let help = help();
        for setting in SETTINGS {
            for var in std::iter::once(env_var(setting.key))
                .chain(setting.aliases.iter().map(|a| a.to_string()))
            {
                assert!(help.contains(&var), "{var} not in --help");
            }
        }
        let docs = include_str!("../docs/configuration.md");
        assert!(
            docs.contains(&markdown_table()),
            "docs/configuration.md is stale; its table must be exactly settings::markdown_table():\n{}",
            markdown_table()
        );
    }

    #[test]
    fn shown_defaults_are_the_defaults() {
        for setting in SETTINGS {
            let ShownDefault::Value(value) = setting.default else {
                continue;
            };
            let var = env_var(setting.key);
            let explicit = Settings::from_sources(env(&[(var.as_str(), value)]), None)
                .unwrap_or_else(|err| panic!("{}: shown default: {err}", setting.key));
            assert_eq!(
                explicit,
                Settings::default(),
                "{}: the shown default {value} is not the default",
                setting.key
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

    #[test]
    fn connection_limits_parse() {
        // (variable, value, body timeout secs or error, connection cap, why)
        let cap = |n: u32| NonZeroU32::new(n);
        let cases = [
            (
                "COMMENTGUARD_MAX_CONNECTIONS_PER_IP",
                "off",
                Ok(10),
                None,
                "off disables the cap",
            ),
            (
                "COMMENTGUARD_MAX_CONNECTIONS_PER_IP",
                "0",
                Ok(10),
                None,
                "0 disables it too",
            ),
            (
                "COMMENTGUARD_MAX_CONNECTIONS_PER_IP",
                "50",
                Ok(10),
                cap(50),
                "a count",
            ),
            (
                "COMMENTGUARD_MAX_CONNECTIONS_PER_IP",
                "-1",
                Err(()),
                None,
                "not a count",
            ),
            (
                "COMMENTGUARD_BODY_TIMEOUT_SECS",
                "3",
                Ok(3),
                cap(256),
                "seconds",
            ),
            (
                "COMMENTGUARD_BODY_TIMEOUT_SECS",
                "0",
                Err(()),
                None,
                "no deadline is no defence",
            ),
        ];
        for (var, value, timeout, connections, why) in cases {
            let result = Settings::from_sources(env(&[(var, value)]), None);
            match timeout {
                Ok(secs) => {
                    let s = result.expect(why);
                    assert_eq!(s.body_timeout.as_secs(), secs, "{why}");
                    assert_eq!(s.max_connections_per_ip, connections, "{why}");
                }
                Err(()) => assert!(result.is_err(), "{why}"),
            }
        }
    }
}
