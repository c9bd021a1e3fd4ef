//! Prometheus metrics: what the service counts and times, and their text rendering for
//! `GET /metrics`.
//!
//! One [`Metrics`] lives in the application state. It owns its own `PrometheusRecorder` and
//! records through it directly rather than through a process-wide recorder and the `metrics`
//! macros: no global mutable state, and two applications in one process (the API tests run
//! dozens) each count only their own requests.
//!
//! Hot-path cost: series with a fixed label set (verdicts, cache outcomes, the score
//! histogram) are registered once and kept as handles, so recording them is one atomic
//! operation. Series whose labels come from the request (route and status, rule ids) are
//! looked up in the recorder's sharded registry per call: one small allocation and a hash.
//!
//! Series, all prefixed `commentguard_`:
//!
//! | name | type | labels |
//! |---|---|---|
//! | `http_requests_total` | counter | `route` (template), `status` |
//! | `score_duration_seconds` | histogram | |
//! | `verdicts_total` | counter | `verdict`, `cached` |
//! | `rule_hits_total` | counter | `rule` |
//! | `cache_requests_total` | counter | `outcome` (`hit`, `miss`) |
//! | `cache_errors_total` | counter | |
//! | `labels_recorded_total` | counter | `label` |
//! | `model_info` | gauge | `version` (1 for the live model) |
//! | `retrain_jobs_total` | counter | `outcome` |
//! | `retrain_duration_seconds` | histogram | |
//! | `rate_limited_total` | counter | `scope` (`key`, `ip`) |
//! | `review_history_errors_total` | counter | |
//! | `memory_budget_bytes` | gauge | `store` (`verdicts`, `ids`, `counters`, `review`, `fuzzy`) |
//! | `memory_used_bytes` | gauge | `store` |
//! | `connections_refused_total` | counter | |
//! | `open_connections` | gauge | |
//! | `label_stage_microseconds_total` | counter | `stage` (see [`crate::labels::Stage`]) |
//! | `label_stage_batches_total` | counter | `stage` |
//! | `label_stage_labels_total` | counter | `stage` |
//!
//! Besides the series, [`Metrics`] keeps verdicts per UTC day ([`DailyVerdicts`], the same
//! count as `verdicts_total`, cached ones included) for the moderator console's chart: in
//! process, since the process started, the last [`KEEP_DAYS`] days.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::Serialize;
use time::{Date, OffsetDateTime};

use ::metrics::{Counter, Gauge, Histogram, Key, Label, Metadata, Recorder, Unit};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

use crate::domain::{Assessment, Verdict};

/// Metadata every series is registered with (the Prometheus exporter ignores it).
static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), ::metrics::Level::INFO, Some(module_path!()));

/// Requests by route template and status.
pub const HTTP_REQUESTS: &str = "commentguard_http_requests_total";
/// Time to assess one comment (cache look-up included), in seconds.
pub const SCORE_DURATION: &str = "commentguard_score_duration_seconds";
/// Verdicts given, by verdict and whether they came from the cache.
pub const VERDICTS: &str = "commentguard_verdicts_total";
/// Rule hits of freshly scored comments, by rule id.
pub const RULE_HITS: &str = "commentguard_rule_hits_total";
/// Verdict cache look-ups by outcome.
pub const CACHE_REQUESTS: &str = "commentguard_cache_requests_total";
/// Verdict cache calls that failed (Redis down or slow) and counted as misses.
pub const CACHE_ERRORS: &str = "commentguard_cache_errors_total";
/// Moderator labels recorded, by label.
pub const LABELS_RECORDED: &str = "commentguard_labels_recorded_total";
/// 1 for the model version in use.
pub const MODEL_INFO: &str = "commentguard_model_info";
/// Retraining jobs finished, by outcome.
pub const RETRAIN_JOBS: &str = "commentguard_retrain_jobs_total";
/// Duration of retraining jobs, in seconds.
pub const RETRAIN_DURATION: &str = "commentguard_retrain_duration_seconds";
/// Requests refused by the rate limiter, by what was limited.
pub const RATE_LIMITED: &str = "commentguard_rate_limited_total";

/// Verdicts that could not be written to the review history (scoring went on without it).
pub const REVIEW_HISTORY_ERRORS: &str = "commentguard_review_history_errors_total";

/// Bytes each in-process store may use (see [`crate::cache::MemoryBudget`]).
pub const MEMORY_BUDGET: &str = "commentguard_memory_budget_bytes";
/// Approximate bytes each in-process store uses.
pub const MEMORY_USED: &str = "commentguard_memory_used_bytes";
/// Connections closed at accept because their client IP had too many open.
pub const CONNECTIONS_REFUSED: &str = "commentguard_connections_refused_total";
/// Connections open now (those refused at accept included until they close).
pub const OPEN_CONNECTIONS: &str = "commentguard_open_connections";

/// Time spent on labels since start, by stage, in microseconds.
pub const LABEL_STAGE_MICROS: &str = "commentguard_label_stage_microseconds_total";
/// Batches of labels each stage handled.
pub const LABEL_STAGE_BATCHES: &str = "commentguard_label_stage_batches_total";
/// Labels each stage handled.
pub const LABEL_STAGE_LABELS: &str = "commentguard_label_stage_labels_total";

/// Days of verdict counts kept for the console's chart.
pub const KEEP_DAYS: usize = 62;

/// Score latency buckets: a fresh score takes ~100 µs-1 ms, a Redis round trip adds ~0.2 ms,
/// and the Redis timeout caps a slow cache at tens of milliseconds.
const SCORE_BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

/// Retraining takes seconds to many minutes.
const RETRAIN_BUCKETS: [f64; 8] = [1.0, 5.0, 15.0, 30.0, 60.0, 300.0, 900.0, 3600.0];

/// The service's metrics and their Prometheus recorder.
pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    score_duration: Histogram,
    /// Indexed by [`verdict_index`], then cached (1) or not (0).
    verdicts: [[Counter; 2]; 4],
    cache_hits: Counter,
    cache_misses: Counter,
    cache_errors: Counter,
    retrain_duration: Histogram,
    review_history_errors: Counter,
    connections_refused: Counter,
    open_connections: Gauge,
    /// Verdicts per UTC day.
    daily: Mutex<DailyVerdicts>,
    /// The model version `model_info` reports as live, to zero it when the model changes.
    model: Mutex<Option<(String, Gauge)>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A recorder with the service's histogram buckets and every series described, and the
    /// fixed-label series registered (so they render as 0 before the first request).
    pub fn new() -> Metrics {
        let recorder = bucketed_recorder();
        let handle = recorder.handle();
        describe_all(&recorder);
        let verdicts = register_verdicts(&recorder);
        // Registered now so the names exist before the first job (retraining is added
        // elsewhere; it calls `retrain_finished`).
        for outcome in ["success", "failure"] {
            counter(&recorder, RETRAIN_JOBS, &[("outcome", outcome)]).increment(0);
        }
        for scope in ["key", "ip"] {
            counter(&recorder, RATE_LIMITED, &[("scope", scope)]).increment(0);
        }
        Metrics {
            score_duration: recorder
                .register_histogram(&Key::from_static_name(SCORE_DURATION), &METADATA),
            verdicts,
            connections_refused: counter(&recorder, CONNECTIONS_REFUSED, &[]),
            open_connections: recorder
                .register_gauge(&Key::from_static_name(OPEN_CONNECTIONS), &METADATA),
            cache_hits: counter(&recorder, CACHE_REQUESTS, &[("outcome", "hit")]),
            cache_misses: counter(&recorder, CACHE_REQUESTS, &[("outcome", "miss")]),
            cache_errors: counter(&recorder, CACHE_ERRORS, &[]),
            retrain_duration: recorder
                .register_histogram(&Key::from_static_name(RETRAIN_DURATION), &METADATA),
            review_history_errors: counter(&recorder, REVIEW_HISTORY_ERRORS, &[]),
            daily: Mutex::new(DailyVerdicts::default()),
            model: Mutex::new(None),
            recorder,
            handle,
        }
    }

    /// Counts one HTTP request by its route template (never the path) and status.
    pub fn request(&self, route: String, status: u16) {
        let labels = vec![
            Label::new("route", route),
            Label::new("status", status.to_string()),
        ];
        self.recorder
            .register_counter(&Key::from_parts(HTTP_REQUESTS, labels), &METADATA)
            .increment(1);
    }

    /// Records one assessment: its verdict, whether it came from the cache, how long it
    /// took, and (fresh ones only, a cached verdict's rules were counted when it was made)
    /// the rules that fired.
    pub fn scored(&self, assessment: &Assessment, cached: bool, seconds: f64) {
        self.score_duration.record(seconds);
        self.verdicts[verdict_index(assessment.verdict)][usize::from(cached)].increment(1);
        if let Ok(mut daily) = self.daily.lock() {
            daily.add(OffsetDateTime::now_utc().date(), assessment.verdict);
        }
        if cached {
            self.cache_hits.increment(1);
            return;
        }
        self.cache_misses.increment(1);
        for reason in &assessment.reasons {
            // The classifier's own reason is on every verdict; it is not a rule.
            if reason.id != "classifier" {
                let key = Key::from_parts(RULE_HITS, vec![Label::new("rule", reason.id.clone())]);
                self.recorder.register_counter(&key, &METADATA).increment(1);
            }
        }
    }

    /// Verdicts per day for the `days` days up to `today`, oldest first.
    pub fn verdicts_per_day(&self, days: usize, today: Date) -> Vec<DayCount> {
        self.daily
            .lock()
            .map(|d| d.last(days, today))
            .unwrap_or_default()
    }

    /// Counts one moderator label (`spam` or `ham`).
    pub fn label_recorded(&self, label: &'static str) {
        let key = Key::from_parts(LABELS_RECORDED, vec![Label::new("label", label)]);
        self.recorder.register_counter(&key, &METADATA).increment(1);
    }

    /// Counts one request refused by the rate limiter; `scope` is `key` or `ip`.
    pub fn rate_limited(&self, scope: &'static str) {
        let key = Key::from_parts(RATE_LIMITED, vec![Label::new("scope", scope)]);
        self.recorder.register_counter(&key, &METADATA).increment(1);
    }

    /// Counts one connection opened; `refused` if it was closed at once (over its IP's cap).
    pub fn connection_opened(&self, refused: bool) {
        self.open_connections.increment(1.0);
        if refused {
            self.connections_refused.increment(1);
        }
    }

    /// Counts one connection closed.
    pub fn connection_closed(&self) {
        self.open_connections.decrement(1.0);
    }

    /// Records a finished retraining job: `outcome` (e.g. `success`, `failure`; a small fixed
    /// set, it becomes a label) and how long it ran.
    pub fn retrain_finished(&self, outcome: &'static str, seconds: f64) {
        let key = Key::from_parts(RETRAIN_JOBS, vec![Label::new("outcome", outcome)]);
        self.recorder.register_counter(&key, &METADATA).increment(1);
        self.retrain_duration.record(seconds);
    }

    /// Sets `model_info{version}` to 1 for `version` (and to 0 for the previous one).
    pub fn model_in_use(&self, version: &str) {
        let mut model = self.model.lock().unwrap_or_else(|e| e.into_inner());
        if model.as_ref().is_some_and(|(v, _)| v == version) {
            return;
        }
        if let Some((_, previous)) = model.take() {
            previous.set(0.0);
        }
        let key = Key::from_parts(MODEL_INFO, vec![Label::new("version", version.to_owned())]);
        let gauge = self.recorder.register_gauge(&key, &METADATA);
        gauge.set(1.0);
        *model = Some((version.to_owned(), gauge));
    }

    /// The Prometheus text exposition of every series, after bringing the values kept
    /// elsewhere up to date: the live model, the cache's and the review history's error
    /// counts (the history counts its own: its writes finish after the request).
    pub fn render(&self, model_version: &str, cache_errors: u64, review_errors: u64) -> String {
        self.model_in_use(model_version);
        self.cache_errors.absolute(cache_errors);
        self.review_history_errors.absolute(review_errors);
        self.handle.render()
    }

    /// Drains histogram samples into their buckets; call every few seconds so that memory
    /// stays bounded when nobody scrapes `/metrics`.
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }
}

// The label stages, set at every scrape from the label book's own totals.
impl Metrics {
    /// Sets the `label_stage_*` counters to `totals`.
    pub fn label_stages(&self, totals: &[crate::labels::StageTotal]) {
        for total in totals {
            for (name, value) in [
                (LABEL_STAGE_MICROS, total.micros),
                (LABEL_STAGE_BATCHES, total.batches),
                (LABEL_STAGE_LABELS, total.labels),
            ] {
                let key = Key::from_parts(name, vec![Label::new("stage", total.stage)]);
                self.recorder
                    .register_counter(&key, &METADATA)
                    .absolute(value);
            }
        }
    }
}

// The memory series, apart from `Metrics::new`: set at every scrape from the stores.
impl Metrics {
    /// Sets `memory_budget_bytes` and `memory_used_bytes` for each in-process store (none
    /// with Redis, which keeps the stores itself).
    pub fn memory(&self, stores: &[crate::cache::StoreMemory]) {
        self.recorder.describe_gauge(
            MEMORY_BUDGET.into(),
            Some(Unit::Bytes),
            "Bytes an in-process store may use".into(),
        );
        self.recorder.describe_gauge(
            MEMORY_USED.into(),
            Some(Unit::Bytes),
            "Approximate bytes an in-process store uses".into(),
        );
        for store in stores {
            for (name, value) in [(MEMORY_BUDGET, store.budget), (MEMORY_USED, store.used)] {
                let key = Key::from_parts(name, vec![Label::new("store", store.store)]);
                self.recorder
                    .register_gauge(&key, &METADATA)
                    .set(value as f64);
            }
        }
    }
}

/// Verdicts per UTC day, the last [`KEEP_DAYS`] days.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct DailyVerdicts {
    /// Indexed by [`verdict_index`].
    days: BTreeMap<Date, [u64; 4]>,
}

/// One day of verdicts.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DayCount {
    /// The UTC day, `YYYY-MM-DD`.
    pub date: String,
    /// Approved.
    pub approve: u64,
    /// Held.
    pub hold: u64,
    /// Spam.
    pub spam: u64,
    /// Discarded.
    pub discard: u64,
}

impl DailyVerdicts {
    /// Counts one `verdict` on `day`; forgets days beyond [`KEEP_DAYS`].
    pub fn add(&mut self, day: Date, verdict: Verdict) {
        self.days.entry(day).or_default()[verdict_index(verdict)] += 1;
        while self.days.len() > KEEP_DAYS {
            self.days.pop_first();
        }
    }

    /// The `days` days up to and including `today`, oldest first, zero for days without any.
    pub fn last(&self, days: usize, today: Date) -> Vec<DayCount> {
        let mut out: Vec<DayCount> = std::iter::successors(Some(today), |d| d.previous_day())
            .take(days.min(KEEP_DAYS))
            .map(|day| {
                let [approve, hold, spam, discard] =
                    self.days.get(&day).copied().unwrap_or_default();
                DayCount {
                    date: day.to_string(),
                    approve,
                    hold,
                    spam,
                    discard,
                }
            })
            .collect();
        out.reverse();
        out
    }
}

/// What kind of series a name is, for its description.
#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// Every series: name, kind and help text. Histograms are in seconds.
const DESCRIPTIONS: [(&str, Kind, &str); 17] = [
    (
        HTTP_REQUESTS,
        Kind::Counter,
        "HTTP requests by route template and status",
    ),
    (
        SCORE_DURATION,
        Kind::Histogram,
        "Time to assess one comment, cache included",
    ),
    (
        VERDICTS,
        Kind::Counter,
        "Verdicts given, by verdict and cache",
    ),
    (
        RULE_HITS,
        Kind::Counter,
        "Rule hits of freshly scored comments, by rule id",
    ),
    (
        CACHE_REQUESTS,
        Kind::Counter,
        "Verdict cache look-ups by outcome",
    ),
    (
        CACHE_ERRORS,
        Kind::Counter,
        "Verdict cache calls that failed (counted as misses)",
    ),
    (
        LABELS_RECORDED,
        Kind::Counter,
        "Moderator labels recorded, by label",
    ),
    (MODEL_INFO, Kind::Gauge, "1 for the model version in use"),
    (
        CONNECTIONS_REFUSED,
        Kind::Counter,
        "Connections closed at accept: their client IP had too many open",
    ),
    (OPEN_CONNECTIONS, Kind::Gauge, "Connections open now"),
    (
        RETRAIN_JOBS,
        Kind::Counter,
        "Retraining jobs finished, by outcome",
    ),
    (
        RETRAIN_DURATION,
        Kind::Histogram,
        "Duration of retraining jobs",
    ),
    (
        RATE_LIMITED,
        Kind::Counter,
        "Requests refused by the rate limiter",
    ),
    (
        REVIEW_HISTORY_ERRORS,
        Kind::Counter,
        "Verdicts that could not be written to the review history",
    ),
    (
        LABEL_STAGE_MICROS,
        Kind::Counter,
        "Time spent on labels since start, by stage, in microseconds",
    ),
    (
        LABEL_STAGE_BATCHES,
        Kind::Counter,
        "Batches of labels each stage handled",
    ),
    (
        LABEL_STAGE_LABELS,
        Kind::Counter,
        "Labels each stage handled",
    ),
];

/// A recorder with the service's own histogram buckets.
fn bucketed_recorder() -> PrometheusRecorder {
    PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(SCORE_DURATION.into()), &SCORE_BUCKETS)
        .and_then(|b| {
            b.set_buckets_for_metric(Matcher::Full(RETRAIN_DURATION.into()), &RETRAIN_BUCKETS)
        })
        // Cannot fail: exact names and non-empty constant buckets. Were it to, histograms
        // would render as summaries, still a working exporter.
        .unwrap_or_else(|_| PrometheusBuilder::new())
        .build_recorder()
}

/// Gives every series of [`DESCRIPTIONS`] its `# HELP` and `# TYPE`.
fn describe_all(recorder: &PrometheusRecorder) {
    for (name, kind, help) in DESCRIPTIONS {
        let key = name.into();
        match kind {
            Kind::Counter => recorder.describe_counter(key, None, help.into()),
            Kind::Gauge => recorder.describe_gauge(key, None, help.into()),
            Kind::Histogram => recorder.describe_histogram(key, Some(Unit::Seconds), help.into()),
        }
    }
}

/// The counter `name` with fixed `labels`, registered in `recorder`.
fn counter(
    recorder: &PrometheusRecorder,
    name: &'static str,
    labels: &[(&'static str, &'static str)],
) -> Counter {
    let labels: Vec<Label> = labels.iter().map(|&(k, v)| Label::new(k, v)).collect();
    recorder.register_counter(&Key::from_parts(name, labels), &METADATA)
}

/// `verdicts_total` for every verdict, fresh and cached, laid out as [`Metrics::verdicts`].
fn register_verdicts(recorder: &PrometheusRecorder) -> [[Counter; 2]; 4] {
    ["approve", "hold", "spam", "discard"].map(|verdict| {
        [
            counter(
                recorder,
                VERDICTS,
                &[("verdict", verdict), ("cached", "false")],
            ),
            counter(
                recorder,
                VERDICTS,
                &[("verdict", verdict), ("cached", "true")],
            ),
        ]
    })
}

/// Position of a verdict in [`Metrics::verdicts`].
fn verdict_index(verdict: Verdict) -> usize {
    match verdict {
        Verdict::Approve => 0,
        Verdict::Hold => 1,
        Verdict::Spam => 2,
        Verdict::Discard => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Reason;

    fn assessment(verdict: Verdict, rules: &[&str]) -> Assessment {
        Assessment {
            verdict,
            spam_probability: 0.9,
            reasons: rules
                .iter()
                .map(|id| Reason {
                    id: (*id).to_owned(),
                    detail: String::new(),
                })
                .collect(),
            tokens: Vec::new(),
            model_version: "nb-test".to_owned(),
        }
    }

    #[test]
    fn every_series_renders_with_its_labels() {
        let metrics = Metrics::new();
        metrics.request("/v1/comments/score".to_owned(), 200);
        metrics.request("/v1/comments/score".to_owned(), 200);
        metrics.scored(
            &assessment(Verdict::Spam, &["links.too_many", "classifier"]),
            false,
            0.0003,
        );
        metrics.scored(
            &assessment(Verdict::Spam, &["links.too_many"]),
            true,
            0.0001,
        );
        metrics.label_recorded("spam");
        metrics.retrain_finished("success", 12.0);
        metrics.rate_limited("ip");
        metrics.connection_opened(false);
        metrics.connection_opened(true);
        metrics.connection_opened(false);
        metrics.connection_closed();
        metrics.upkeep();
        let text = metrics.render("nb-1", 3, 0);
        for line in [
            r#"commentguard_http_requests_total{route="/v1/comments/score",status="200"} 2"#,
            r#"commentguard_verdicts_total{verdict="spam",cached="false"} 1"#,
            r#"commentguard_verdicts_total{verdict="spam",cached="true"} 1"#,
            r#"commentguard_verdicts_total{verdict="approve",cached="false"} 0"#,
            r#"commentguard_rule_hits_total{rule="links.too_many"} 1"#,
            r#"commentguard_cache_requests_total{outcome="hit"} 1"#,
            r#"commentguard_cache_requests_total{outcome="miss"} 1"#,
            "commentguard_cache_errors_total 3",
            r#"commentguard_labels_recorded_total{label="spam"} 1"#,
            r#"commentguard_model_info{version="nb-1"} 1"#,
            r#"commentguard_retrain_jobs_total{outcome="success"} 1"#,
            r#"commentguard_retrain_jobs_total{outcome="failure"} 0"#,
            "commentguard_retrain_duration_seconds_count 1",
            r#"commentguard_score_duration_seconds_bucket{le="0.00025"} 1"#,
            "commentguard_score_duration_seconds_count 2",
            r#"commentguard_rate_limited_total{scope="ip"} 1"#,
            "commentguard_connections_refused_total 1",
            "commentguard_open_connections 2",
            "# TYPE commentguard_score_duration_seconds histogram",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        assert!(!text.contains(r#"rule="classifier""#), "{text}");

        // A new model: the old version drops to 0.
        let text = metrics.render("nb-2", 3, 0);
        assert!(
            text.contains(r#"commentguard_model_info{version="nb-1"} 0"#),
            "{text}"
        );
        assert!(
            text.contains(r#"commentguard_model_info{version="nb-2"} 1"#),
            "{text}"
        );
    }

    #[test]
    fn each_store_renders_its_memory_budget_and_use() {
        let metrics = Metrics::new();
        let store = |store, budget, used| crate::cache::StoreMemory {
            store,
            budget,
            used,
        };
        metrics.memory(&[store("verdicts", 100, 40), store("ids", 10, 0)]);
        metrics.memory(&[store("verdicts", 100, 60), store("ids", 10, 3)]);
        let text = metrics.render("nb-1", 0, 0);
        for line in [
            r#"commentguard_memory_budget_bytes{store="verdicts"} 100"#,
            r#"commentguard_memory_used_bytes{store="verdicts"} 60"#,
            r#"commentguard_memory_budget_bytes{store="ids"} 10"#,
            r#"commentguard_memory_used_bytes{store="ids"} 3"#,
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
    }

    #[test]
    fn verdicts_are_counted_per_day_with_empty_days_as_zero() {
        let day = |d: u8| Date::from_calendar_date(2026, time::Month::March, d).unwrap();
        let mut daily = DailyVerdicts::default();
        daily.add(day(1), Verdict::Hold);
        daily.add(day(3), Verdict::Spam);
        daily.add(day(3), Verdict::Spam);
        daily.add(day(3), Verdict::Approve);
        let last = daily.last(3, day(3));
        assert_eq!(
            last.iter().map(|d| d.date.as_str()).collect::<Vec<_>>(),
            ["2026-03-01", "2026-03-02", "2026-03-03"]
        );
        assert_eq!(
            (last[0].hold, last[1].hold, last[2].spam, last[2].approve),
            (1, 0, 2, 1)
        );
        // Old days are forgotten.
        for d in 0..(KEEP_DAYS as i64 + 5) {
            daily.add(day(1) + time::Duration::days(d), Verdict::Approve);
        }
        assert_eq!(daily.days.len(), KEEP_DAYS);
        assert_eq!(daily.last(1000, day(3)).len(), KEEP_DAYS);
        // Through Metrics: today's bucket.
        let metrics = Metrics::new();
        metrics.scored(&assessment(Verdict::Hold, &[]), false, 0.001);
        let today = OffsetDateTime::now_utc().date();
        assert_eq!(metrics.verdicts_per_day(1, today)[0].hold, 1);
    }

    #[test]
    fn two_instances_count_separately() {
        let (a, b) = (Metrics::new(), Metrics::new());
        a.request("/healthz".to_owned(), 200);
        assert!(a.render("m", 0, 0).contains(r#"route="/healthz""#));
        assert!(!b.render("m", 0, 0).contains(r#"route="/healthz""#));
    }
}
