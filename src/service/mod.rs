//! The service layer: what the JSON routes, the Akismet routes and the CLI share. Assess a
//! comment (pins, cache, signals, scoring), record a verdict for review, record a label.
//!
//! Nothing here knows HTTP: errors are [`ServiceError`] (and [`DecodeError`] for bodies),
//! which `routes::error` maps to status codes in one place.

pub mod decode;
pub mod import;

use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

use serde::Serialize;
use time::OffsetDateTime;

use crate::cache::{CacheKey, CachedVerdict, CommentId, Lookup, VerdictCache};
use crate::domain::{Assessment, Comment, Label};
use crate::keys::normalize_site;
use crate::labels::{Correction, Fingerprint, Recorded};
use crate::review::{needs_review, ReviewItem};
use crate::signals::{signal_hits, SignalKeys};
use crate::state::AppState;
use crate::telemetry::fingerprint;
use crate::text::canonicalize;

pub use decode::DecodeError;

/// What can go wrong in a service operation, apart from decoding.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The label could not be made durable; it was not recorded.
    #[error("the label store cannot write: {0}")]
    LabelStoreUnavailable(#[source] std::io::Error),
    /// A bug or a failed background task; the chain is for the log only.
    #[error("internal error: {0:#}")]
    Internal(anyhow::Error),
}

/// A verdict as the API answers it: the assessment plus an id for this verdict.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ScoreResponse {
    /// Verdict, probability, reasons, tokens and model version.
    #[serde(flatten)]
    pub assessment: Assessment,
    /// Fresh random 128-bit id of this verdict, 32 lowercase hex digits.
    pub verdict_id: String,
    /// Whether the verdict was served from the cache (a recheck of a comment already scored
    /// under the same model).
    pub cached: bool,
}

impl ScoreResponse {
    /// Wraps a freshly computed assessment with a new verdict id.
    pub fn fresh(assessment: Assessment) -> Self {
        ScoreResponse {
            assessment,
            verdict_id: new_verdict_id(),
            cached: false,
        }
    }
}

/// A new random verdict id: 128 bits as 32 lowercase hex digits.
pub fn new_verdict_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// Whether a scoring call may leave traces that change later verdicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Traces {
    /// A real submission: it counts towards the cross-site and flood signals and its
    /// verdict is cached for rechecks.
    Leave,
    /// A test call (Akismet's `is_test`): scored afresh, counted nowhere, cached nowhere.
    None,
}

/// Scores a validated comment the way every scoring route does: a moderator's label pins
/// it; else a cached verdict for the same comment and model; else a fresh score with the
/// cross-site signals and the spam memory, cached for rechecks. Logs the outcome (ids,
/// hashes and sizes only).
pub async fn assess_comment(
    state: &AppState,
    comment: &Comment,
    traces: Traces,
) -> Result<ScoreResponse, ServiceError> {
    let start = Instant::now();
    let scorer = state.labels.live().current();
    let content_xxh3 = fingerprint(&comment.content);
    // Canonicalised once for the label fingerprint, the cache key and the signal counters.
    let canonical = canonicalize(&comment.content);
    let pin = state
        .labels
        .pinned(Fingerprint::with_canonical_content(comment, &canonical));
    let key = CacheKey::with_canonical_content(scorer.model_version(), comment, &canonical);
    // One look-up: the cached verdict, or (only for a new submission, so a retry is not a
    // repeat) the cross-site and flood counts after counting this one. A pinned comment
    // skips the cached verdict: the label may be newer than it.
    let window = Duration::from_secs(state.signals.window_secs);
    let signal_keys = SignalKeys::with_canonical_content(comment, &canonical);
    let lookup = match (&pin, traces) {
        (None, Traces::Leave) => state.cache.lookup(&key, &signal_keys, window).await,
        _ => Lookup::Miss(None),
    };
    let response = match lookup {
        Lookup::Hit(hit) => {
            // A recheck may carry the platform's id for the first time: index it too.
            if let Some(id) = &comment.id {
                let id = CommentId::platform(comment.site.as_deref(), id);
                state.cache.put(key, vec![id], hit.clone()).await;
            }
            ScoreResponse {
                assessment: hit.assessment,
                verdict_id: hit.verdict_id,
                cached: true,
            }
        }
        Lookup::Miss(counts) => {
            let mut signals = counts
                .map(|c| signal_hits(&state.signals, &c))
                .unwrap_or_default();
            // Fuzzy fingerprints: known spam and near-duplicates across sites. Counted
            // (recorded) only where the exact counters counted this submission.
            if let Some(signature) = crate::fuzzy::signature_of(&canonical) {
                let record = traces == Traces::Leave && pin.is_none();
                let shared = state
                    .cache
                    .fuzzy_check(&signature, signal_keys.site.as_deref(), window, record)
                    .await;
                let more =
                    crate::fuzzy::fuzzy_hits(&state.signals, &signature, shared.as_ref(), &signals);
                signals.extend(more);
            }
            let assessment = score_without_panicking(&content_xxh3, || {
                state.labels.assess(
                    &scorer,
                    comment,
                    pin.as_ref(),
                    OffsetDateTime::now_utc(),
                    signals,
                )
            })?;
            let response = ScoreResponse::fresh(assessment);
            if traces == Traces::Leave {
                let ids = comment
                    .id
                    .iter()
                    .map(|id| CommentId::platform(comment.site.as_deref(), id))
                    .chain([CommentId::Verdict(response.verdict_id.clone())])
                    .collect();
                let stored = CachedVerdict {
                    assessment: response.assessment.clone(),
                    verdict_id: response.verdict_id.clone(),
                    comment: Some(comment.clone()),
                };
                state.cache.put(key, ids, stored).await;
            }
            response
        }
    };
    state.metrics.scored(
        &response.assessment,
        response.cached,
        start.elapsed().as_secs_f64(),
    );
    log_scored(comment, &response, &content_xxh3);
    Ok(response)
}

/// The log line of a verdict: ids, sizes and hashes only, never the content or the e-mail
/// address. The platform's id is arbitrary client text (some platforms put names or
/// e-mail addresses in it), so it gets what the content gets: a fingerprint, which lets an
/// operator find the line for an id they already have, and a length.
fn log_scored(comment: &Comment, response: &ScoreResponse, content_xxh3: &str) {
    let platform_id_xxh3 = comment.id.as_deref().map(fingerprint);
    tracing::info!(
        verdict_id = %response.verdict_id,
        platform_id_xxh3,
        platform_id_bytes = comment.id.as_ref().map(String::len),
        verdict = %response.assessment.verdict,
        cached = response.cached,
        spam_probability = response.assessment.spam_probability,
        content_bytes = comment.content.len(),
        content_xxh3 = %content_xxh3,
        "comment scored"
    );
}

/// Runs `score`, turning a panic into an opaque [`ServiceError::Internal`] that names the
/// content only by its hash `content_xxh3`.
///
/// Scoring must not panic, but if a bug makes it panic on some input, that request gets a
/// 500 instead of taking the worker thread (and every connection on it) down. The scorer is
/// immutable, so nothing is left half-updated. The panic payload may quote the content, so
/// it is dropped unread; the panic hook (see [`crate::telemetry::install_panic_hook`]) logs
/// where it happened.
pub fn score_without_panicking<T>(
    content_xxh3: &str,
    score: impl FnOnce() -> T,
) -> Result<T, ServiceError> {
    panic::catch_unwind(AssertUnwindSafe(score)).map_err(|_| {
        ServiceError::Internal(anyhow::anyhow!(
            "the scorer panicked on content_xxh3 {content_xxh3}"
        ))
    })
}

/// Records a fresh held, spam or discard verdict in the review history (see
/// [`crate::review`]) without waiting on its store. A store that fails (Redis down, disk
/// full) costs the console an entry, never the platform its answer or its latency: the
/// failure is counted (`review_history_errors_total`) and logged (ids only).
pub fn record_for_review(state: &AppState, comment: &Comment, response: &ScoreResponse) {
    // A cached verdict was recorded when it was first given.
    if response.cached || !needs_review(response.assessment.verdict) {
        return;
    }
    let now = OffsetDateTime::now_utc();
    let item = ReviewItem::new(&response.verdict_id, now, &response.assessment, comment);
    if let Err(e) = state.review.record(item, now) {
        if let Some(held_back) = state
            .review_warnings
            .allow(now.unix_timestamp().max(0) as u64)
        {
            tracing::warn!(
                verdict_id = %response.verdict_id,
                error = %e,
                similar_since_last_warning = held_back,
                "verdict not recorded in the review history"
            );
        }
    }
}

/// The comment a verdict was given for, while its verdict is still cached; with `site`,
/// only a comment of that site (a site key reaches no other site's verdicts).
pub async fn comment_of_verdict(
    state: &AppState,
    verdict_id: &str,
    site: Option<&str>,
) -> Option<Comment> {
    state
        .cache
        .get_by_id(&CommentId::Verdict(verdict_id.to_owned()))
        .await
        .and_then(|v| v.comment)
        .filter(|comment| match site {
            None => true,
            Some(own) => comment.site.as_deref().and_then(normalize_site).as_deref() == Some(own),
        })
}

/// Records a correction durably (off the async runtime: it fsyncs), learns it, and logs it
/// (ids only). Answers only once the label is on disk.
pub async fn record_label(
    state: &AppState,
    correction: Correction,
) -> Result<Recorded, ServiceError> {
    let labels = state.labels.clone();
    let key_id = correction.key_id.clone();
    let comment_content = correction.comment.content.clone();
    let recorded = tokio::task::spawn_blocking(move || labels.record(correction))
        .await
        .map_err(|e| ServiceError::Internal(anyhow::anyhow!("label writer task failed: {e}")))?
        .map_err(ServiceError::LabelStoreUnavailable)?;
    share_fingerprint(state, &recorded, &comment_content);
    state.metrics.label_recorded(match recorded.label {
        Label::Spam => "spam",
        Label::Ham => "ham",
    });
    tracing::info!(
        label_id = %recorded.label_id,
        seq = recorded.seq,
        label = ?recorded.label,
        previous = ?recorded.previous,
        duplicate = recorded.duplicate,
        fingerprint = %recorded.fingerprint,
        key_id,
        "label recorded"
    );
    Ok(recorded)
}

/// Shares the fuzzy fingerprint of a newly labelled comment with every replica: spam is
/// remembered, a relabel to ham forgets it.
pub fn share_fingerprint(state: &AppState, recorded: &Recorded, content: &str) {
    if recorded.duplicate {
        return;
    }
    let Some(signature) = crate::fuzzy::signature_of(&canonicalize(content)) else {
        return;
    };
    match recorded.label {
        Label::Spam => state.cache.remember_spam(&signature),
        Label::Ham => state.cache.forget_spam(&signature),
    }
}

/// Runs blocking work (file reads, registry listing) off the async runtime.
pub async fn blocking<T: Send + 'static>(
    what: &'static str,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ServiceError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ServiceError::Internal(anyhow::anyhow!("{what} task failed: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_while_scoring_is_an_opaque_error() {
        let content = "Great post! jane.secret@example.com";
        let content_xxh3 = fingerprint(content);
        let err = score_without_panicking(&content_xxh3, || -> Assessment {
            // Like a string-slicing panic, whose message quotes the string.
            panic!("byte index 3 is out of bounds of `{content}`")
        })
        .unwrap_err();
        let ServiceError::Internal(cause) = &err else {
            panic!("not an internal error: {err:?}")
        };
        let logged = format!("{cause:#}");
        assert!(
            logged.contains(&content_xxh3),
            "the log names the content by its hash: {logged}"
        );
        for text in [logged, format!("{err:?}"), err.to_string()] {
            for part in [
                "secret",
                "example.com",
                "Great post",
                "byte index",
                "bounds",
            ] {
                assert!(!text.contains(part), "{part:?} leaked into {text}");
            }
        }
    }

    #[test]
    fn no_panic_no_error() {
        assert_eq!(score_without_panicking("0", || 7).unwrap(), 7);
    }

    #[test]
    fn verdict_ids_are_32_lowercase_hex_and_fresh() {
        let a = new_verdict_id();
        assert_eq!(a.len(), 32);
        assert!(a
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert_ne!(a, new_verdict_id());
    }
}
