//! `POST /v1/comments/score`: score one comment.
//!
//! The body is read and decoded here rather than by actix extractors so that every failure
//! gets one of our error codes (see [`ApiError`]) instead of actix's plain-text errors.

use std::panic::{self, AssertUnwindSafe};

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use std::time::Duration;

use crate::cache::{CacheKey, CachedVerdict, Lookup, VerdictCache};
use crate::domain::{Assessment, Comment};
use crate::keys::Role;
use crate::labels::Fingerprint;
use crate::review::{needs_review, ReviewItem};
use crate::routes::auth::{authorize, scope_to_site};
use crate::routes::error::ApiError;
use crate::signals::{signal_hits, SignalKeys};
use crate::startup::AppState;
use crate::telemetry::fingerprint;
use crate::text::canonicalize;

/// The 200 answer: the assessment plus an id for this verdict.
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

/// Handles `POST /v1/comments/score`.
#[utoipa::path(post, path = "/v1/comments/score", tag = "scoring", request_body = Comment, responses((status = 200, description = "The verdict", body = ScoreResponse), (status = "4XX", description = "Refused: `{\"error\": code, \"message\": ...}`", body = crate::routes::error::ErrorBody)))]
pub async fn score(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let principal = authorize(&request, &state, Role::Site)?;
    let body = read_json_body(&request, payload, state.max_body_bytes).await?;
    let mut comment = parse_comment(&body)?;
    scope_to_site(&principal, &mut comment)?;
    let response = assess_comment(&state, &comment, Traces::Leave).await?;
    record_for_review(&state, &comment, &response);
    let json = serde_json::to_vec(&response)
        .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("serialising verdict")))?;
    Ok(HttpResponse::Ok()
        .content_type(header::ContentType::json())
        .body(json))
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
) -> Result<ScoreResponse, ApiError> {
    let start = std::time::Instant::now();
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
                state.cache.put(key, vec![id.clone()], hit.clone()).await;
            }
            ScoreResponse {
                assessment: hit.assessment,
                verdict_id: hit.verdict_id,
                cached: true,
            }
        }
        Lookup::Miss(counts) => {
            let signals = counts
                .map(|c| signal_hits(&state.signals, &c))
                .unwrap_or_default();
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
            let ids = comment
                .id
                .iter()
                .cloned()
                .chain([response.verdict_id.clone()])
                .collect();
            let stored = CachedVerdict {
                assessment: response.assessment.clone(),
                verdict_id: response.verdict_id.clone(),
                comment: Some(comment.clone()),
            };
            if traces == Traces::Leave {
                state.cache.put(key, ids, stored).await;
            }
            response
        }
    };
    // The platform's id is arbitrary client text (up to 2 KiB; some platforms put names or
    // e-mail addresses in it), so it gets what the content gets: a fingerprint, which lets an
    // operator find the line for an id they already have, and a length. A sanitised prefix
    // would be more readable but can still carry a name.
    state.metrics.scored(
        &response.assessment,
        response.cached,
        start.elapsed().as_secs_f64(),
    );
    let platform_id_xxh3 = comment.id.as_deref().map(fingerprint);
    // Ids, sizes and hashes only: the content and the e-mail address must never be logged.
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
    Ok(response)
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

/// Checks the media type and size limit of a JSON request and reads its body.
pub async fn read_json_body(
    request: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, ApiError> {
    let headers = request.headers();
    let header_str = |name| headers.get(name).and_then(|v| v.to_str().ok());
    check_media_type(
        header_str(header::CONTENT_TYPE),
        header_str(header::CONTENT_ENCODING),
    )?;
    // Refuse a declared oversize body before reading any of it.
    let declared = header_str(header::CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    match payload.to_bytes_limited(limit).await {
        Ok(Ok(body)) => Ok(body),
        Ok(Err(e)) => Err(ApiError::InvalidBody(e.to_string())),
        Err(_) => Err(ApiError::PayloadTooLarge { limit }),
    }
}

/// Runs `score`, turning a panic into an opaque [`ApiError::Internal`] that names the
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
) -> Result<T, ApiError> {
    panic::catch_unwind(AssertUnwindSafe(score)).map_err(|_| {
        ApiError::Internal(anyhow::anyhow!(
            "the scorer panicked on content_xxh3 {content_xxh3}"
        ))
    })
}

/// Accepts `application/json` and any `*/*+json` type, optionally with `charset=utf-8`;
/// refuses a missing type, other types, other charsets and compressed bodies.
pub fn check_media_type(
    content_type: Option<&str>,
    content_encoding: Option<&str>,
) -> Result<(), ApiError> {
    const NOT_JSON: &str = "Content-Type must be application/json (or a +json type)";
    let Some(content_type) = content_type else {
        return Err(ApiError::UnsupportedMediaType(NOT_JSON));
    };
    let mut parts = content_type.split(';');
    let essence = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
    let is_json = essence == "application/json"
        || essence
            .split_once('/')
            .is_some_and(|(kind, sub)| !kind.is_empty() && sub.len() > 5 && sub.ends_with("+json"));
    if !is_json {
        return Err(ApiError::UnsupportedMediaType(NOT_JSON));
    }
    // JSON on the wire is UTF-8 (RFC 8259); a declared legacy charset means the bytes are
    // not what we would decode.
    for param in parts {
        if let Some((name, value)) = param.split_once('=') {
            let value = value.trim().trim_matches('"');
            if name.trim().eq_ignore_ascii_case("charset")
                && !value.eq_ignore_ascii_case("utf-8")
                && !value.eq_ignore_ascii_case("utf8")
            {
                return Err(ApiError::UnsupportedMediaType("JSON bodies must be UTF-8"));
            }
        }
    }
    // Built without actix's compression features, so a compressed body would reach us as
    // binary; say so instead of answering invalid_utf8.
    if content_encoding.is_some_and(|e| !e.trim().eq_ignore_ascii_case("identity")) {
        return Err(ApiError::UnsupportedMediaType(
            "compressed request bodies are not supported; omit Content-Encoding",
        ));
    }
    Ok(())
}

/// Decodes and validates a score request body: UTF-8, JSON syntax, an object, the
/// [`Comment`] schema, then the size limits. The `score` CLI command uses it too, so both
/// refuse the same inputs with the same codes.
pub fn parse_comment(body: &[u8]) -> Result<Comment, ApiError> {
    let text = std::str::from_utf8(body).map_err(|e| ApiError::InvalidUtf8 {
        offset: e.valid_up_to(),
    })?;
    // Parsing to a `Value` first separates syntax errors from schema errors, and rejects
    // arrays, which serde's derived struct impl would otherwise accept positionally.
    let value: Value =
        serde_json::from_str(text).map_err(|e| ApiError::MalformedJson(e.to_string()))?;
    comment_from_value(&value, "request body")
}

/// Decodes a request body that must be a JSON object: UTF-8, JSON syntax, then an object.
/// The correction and retrain routes share it, so each failure has the same code everywhere.
pub fn parse_json_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let text = std::str::from_utf8(body).map_err(|e| ApiError::InvalidUtf8 {
        offset: e.valid_up_to(),
    })?;
    match serde_json::from_str(text).map_err(|e| ApiError::MalformedJson(e.to_string()))? {
        Value::Object(fields) => Ok(fields),
        other => Err(ApiError::InvalidField(format!(
            "request body must be a JSON object, got {}",
            json_type(&other)
        ))),
    }
}

/// Validates a JSON value as a [`Comment`] (`what` names it in messages: the request body,
/// or the `comment` field of a correction).
pub fn comment_from_value(value: &Value, what: &str) -> Result<Comment, ApiError> {
    let Value::Object(fields) = value else {
        return Err(ApiError::InvalidField(format!(
            "{what} must be a JSON object, got {}",
            json_type(value)
        )));
    };
    match fields.get("content") {
        None | Some(Value::Null) => return Err(ApiError::MissingContent),
        Some(Value::String(_)) => {}
        Some(other) => {
            return Err(ApiError::InvalidField(format!(
                "field `content` must be a string, got {}",
                json_type(other)
            )))
        }
    }
    let comment = Comment::deserialize(value).map_err(|_| locate_invalid_field(fields))?;
    comment.validate()?;
    Ok(comment)
}

/// Finds which field made deserialisation fail and describes it without its value.
///
/// serde's messages name the value (`invalid type: string "jane@example.com", expected ...`)
/// but not the field, the opposite of what we may send back; so each field is retried alone.
/// Only the error path pays for this.
fn locate_invalid_field(fields: &Map<String, Value>) -> ApiError {
    for (key, value) in fields {
        let probe = Value::Object(Map::from_iter([
            ("content".to_owned(), Value::String("probe".to_owned())),
            (key.clone(), value.clone()),
        ]));
        if let Err(e) = Comment::deserialize(&probe) {
            // `key` is safe to echo: only fields of the schema can fail, unknown ones are
            // ignored.
            let message = match expected_part(&e.to_string()) {
                Some(expected) => {
                    format!("field `{key}` must be {expected}, got {}", json_type(value))
                }
                None => format!("field `{key}` has an invalid value"),
            };
            return ApiError::InvalidField(message);
        }
    }
    ApiError::InvalidField("request body does not match the comment schema".to_owned())
}

/// The `expected ...` half of serde's "invalid type/value" messages, which comes from the
/// target type, never from the input. Other (custom) messages may quote input: `None`.
fn expected_part(message: &str) -> Option<&str> {
    if !(message.starts_with("invalid type: ") || message.starts_with("invalid value: ")) {
        return None;
    }
    // The last occurrence: the input-derived half comes first and might contain the marker.
    message
        .rsplit_once(", expected ")
        .map(|(_, expected)| expected)
}

/// JSON type name of a value, for messages that must not include the value itself.
pub fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types() {
        // (content type, content encoding, accepted?, why)
        let cases = [
            (Some("application/json"), None, true, "the canonical type"),
            (
                Some("Application/JSON; charset=UTF-8"),
                None,
                true,
                "case and utf-8 charset",
            ),
            (
                Some("application/vnd.commentguard+json"),
                None,
                true,
                "a +json type",
            ),
            (
                Some("application/json"),
                Some("identity"),
                true,
                "identity is no encoding",
            ),
            (None, None, false, "absent"),
            (Some("text/plain"), None, false, "not JSON"),
            (
                Some("application/x-www-form-urlencoded"),
                None,
                false,
                "a form",
            ),
            (
                Some("application/+json"),
                None,
                false,
                "no subtype before +json",
            ),
            (
                Some("application/json; charset=latin1"),
                None,
                false,
                "JSON is UTF-8",
            ),
            (
                Some("application/json"),
                Some("gzip"),
                false,
                "no decompression",
            ),
        ];
        for (ct, ce, ok, why) in cases {
            let result = check_media_type(ct, ce);
            assert_eq!(result.is_ok(), ok, "{ct:?} {ce:?}: {why}");
            if let Err(e) = result {
                assert_eq!(e.code(), "unsupported_media_type");
            }
        }
    }

    #[test]
    fn parse_errors_have_codes_and_never_echo_values() {
        let long = "a".repeat(3000);
        let field_too_long = format!(r#"{{"content":"hi","author":"{long}"}}"#);
        // (body, code, why)
        let cases: Vec<(&[u8], &str, &str)> = vec![
            (
                b"{\"content\":\"\xff\xfe\"}",
                "invalid_utf8",
                "bytes that are not UTF-8",
            ),
            (b"{\"content\": ", "malformed_json", "truncated"),
            (
                b"{\"content\":\"a\"} x",
                "malformed_json",
                "trailing characters",
            ),
            (
                b"[\"secret@example.com\"]",
                "invalid_field",
                "an array, not an object",
            ),
            (
                b"\"just a string\"",
                "invalid_field",
                "a string, not an object",
            ),
            (b"{\"author\":\"x\"}", "missing_content", "no content"),
            (b"{\"content\":null}", "missing_content", "null content"),
            (b"{\"content\":5}", "invalid_field", "content is a number"),
            (
                b"{\"content\":\"hi\",\"author_email\":[\"secret@example.com\"]}",
                "invalid_field",
                "wrong type",
            ),
            (
                b"{\"content\":\"hi\",\"form_rendered_at\":\"secret@example.com\"}",
                "invalid_field",
                "bad timestamp",
            ),
            (
                b"{\"content\":\"hi\",\"author\":5}",
                "invalid_field",
                "author is a number",
            ),
            (
                b"{\"content\":\"  \\n\"}",
                "empty_content",
                "whitespace only",
            ),
            (
                field_too_long.as_bytes(),
                "field_too_long",
                "author over 2 KiB",
            ),
        ];
        for (body, code, why) in cases {
            let err = parse_comment(body).expect_err(why);
            assert_eq!(err.code(), code, "{why}: {err}");
            assert!(
                !err.to_string().contains("secret"),
                "{why}: echoes a value: {err}"
            );
        }
    }

    #[test]
    fn invalid_field_messages_name_the_field() {
        let err = parse_comment(br#"{"content":"hi","author":5}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "field `author` must be a string, got a number"
        );
        let err =
            parse_comment(br#"{"content":"hi","form_rendered_at":"not a date"}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "field `form_rendered_at` has an invalid value"
        );
    }

    #[test]
    fn valid_body_parses_and_ignores_unknown_fields() {
        let comment = parse_comment(
            br#"{"content":"Nice post","author":"Ann","extra":{"nested":[1,2]},
                "form_rendered_at":"2024-05-01T10:00:00Z"}"#,
        )
        .unwrap();
        assert_eq!(comment.content, "Nice post");
        assert_eq!(comment.author.as_deref(), Some("Ann"));
        assert!(comment.form_rendered_at.is_some());
    }

    #[test]
    fn a_panic_while_scoring_is_an_opaque_500() {
        use actix_web::body::MessageBody;
        use actix_web::ResponseError;

        let content = "Great post! jane.secret@example.com";
        let content_xxh3 = fingerprint(content);
        let err = score_without_panicking(&content_xxh3, || -> Assessment {
            // Like a string-slicing panic, whose message quotes the string.
            panic!("byte index 3 is out of bounds of `{content}`")
        })
        .unwrap_err();
        let ApiError::Internal(cause) = &err else {
            panic!("not an internal error: {err:?}")
        };
        // What `error_response` logs.
        let logged = format!("{cause:#}");
        assert!(
            logged.contains(&content_xxh3),
            "the log names the content by its hash: {logged}"
        );

        let response = err.error_response();
        assert_eq!(response.status().as_u16(), 500);
        let body = response.into_body().try_into_bytes().unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({ "error": "internal_error", "message": "internal server error" })
        );
        // Neither the client nor the log line of the error (its whole chain) gets any of the
        // panic message.
        for text in [body.to_string(), logged, format!("{err:?}")] {
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
