//! `POST /v1/feedback`: a moderator's correction of a verdict.
//!
//! The answer comes only after the label is durable (see [`crate::labels`]); a label that
//! could not be written is refused with 503 and never half-applied.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::Value;

use crate::cache::VerdictCache;
use crate::domain::{Comment, Label};
use crate::keys::Role;
use crate::labels::{Correction, Recorded};
use crate::routes::auth::authorize;
use crate::routes::error::ApiError;
use crate::routes::score::{comment_from_value, json_type, parse_json_object, read_json_body};
use crate::startup::AppState;

/// Longest `moderator` name accepted, in bytes.
pub const MAX_MODERATOR_BYTES: usize = 200;
/// Longest `note` accepted, in bytes.
pub const MAX_NOTE_BYTES: usize = 2 * 1024;

/// A correction request, decoded and validated; the comment may still be only a verdict id.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedbackRequest {
    /// The moderator's label.
    pub label: Label,
    /// The verdict being corrected.
    pub verdict_id: Option<String>,
    /// The comment itself, in the score request's shape.
    pub comment: Option<Comment>,
    /// Who labelled it.
    pub moderator: Option<String>,
    /// Free-text note.
    pub note: Option<String>,
}

/// Handles `POST /v1/feedback`.
#[utoipa::path(post, path = "/v1/feedback", tag = "moderation", request_body = crate::routes::openapi::FeedbackBody, responses((status = 200, description = "The label was recorded (fsync'd)", body = Recorded), (status = "4XX", description = "Refused: `{\"error\": code, \"message\": ...}`", body = crate::routes::error::ErrorBody)))]
pub async fn feedback(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let principal = authorize(&request, &state, Role::Moderator)?;
    let body = read_json_body(&request, payload, state.max_body_bytes).await?;
    let request = parse_feedback(&body)?;
    let comment = match (request.comment, &request.verdict_id) {
        (Some(comment), _) => comment,
        (None, Some(verdict_id)) => state
            .cache
            .get_by_id(verdict_id)
            .await
            .filter(|v| &v.verdict_id == verdict_id)
            .and_then(|v| v.comment)
            .ok_or(ApiError::UnknownVerdict)?,
        (None, None) => unreachable!("parse_feedback requires one of them"),
    };
    let correction = Correction {
        comment,
        label: request.label,
        verdict_id: request.verdict_id,
        moderator: request.moderator,
        note: request.note,
        key_id: principal.key_id,
    };
    let recorded = record(&state, correction).await?;
    Ok(HttpResponse::Ok().json(recorded))
}

/// Records a correction off the async runtime and logs it (ids only).
pub async fn record(state: &AppState, correction: Correction) -> Result<Recorded, ApiError> {
    let labels = state.labels.clone();
    let key_id = correction.key_id.clone();
    let recorded = web::block(move || labels.record(correction))
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("label writer task failed: {e}")))?
        .map_err(ApiError::LabelStoreUnavailable)?;
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

/// Decodes and validates a correction body. Messages never quote values.
pub fn parse_feedback(body: &[u8]) -> Result<FeedbackRequest, ApiError> {
    let fields = parse_json_object(body)?;
    let label = match fields.get("label") {
        Some(Value::String(s)) if s == "spam" => Label::Spam,
        Some(Value::String(s)) if s == "ham" => Label::Ham,
        None | Some(Value::Null) => {
            return Err(ApiError::InvalidField(
                "field `label` is required: \"spam\" or \"ham\"".into(),
            ))
        }
        Some(_) => {
            return Err(ApiError::InvalidField(
                "field `label` must be \"spam\" or \"ham\"".into(),
            ))
        }
    };
    let text_field = |name: &str, max: usize| -> Result<Option<String>, ApiError> {
        match fields.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.len() > max => Err(ApiError::InvalidField(format!(
                "field `{name}` is longer than {max} bytes"
            ))),
            Some(Value::String(s)) => Ok(Some(s.clone()).filter(|s| !s.trim().is_empty())),
            Some(other) => Err(ApiError::InvalidField(format!(
                "field `{name}` must be a string, got {}",
                json_type(other)
            ))),
        }
    };
    let verdict_id = text_field("verdict_id", 64)?;
    let moderator = text_field("moderator", MAX_MODERATOR_BYTES)?;
    let note = text_field("note", MAX_NOTE_BYTES)?;
    let comment = match fields.get("comment") {
        None | Some(Value::Null) => None,
        Some(value) => Some(comment_from_value(value, "field `comment`")?),
    };
    if comment.is_none() && verdict_id.is_none() {
        return Err(ApiError::InvalidField(
            "send `verdict_id` (from a score response) or `comment` (the comment itself)".into(),
        ));
    }
    Ok(FeedbackRequest {
        label,
        verdict_id,
        comment,
        moderator,
        note,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feedback_bodies() {
        let long_note = format!(
            r#"{{"label":"spam","verdict_id":"v","note":"{}"}}"#,
            "n".repeat(3000)
        );
        // (body, Ok(label) or Err(code), why)
        let cases: Vec<(&str, Result<Label, &str>, &str)> = vec![
            (
                r#"{"label":"spam","verdict_id":"abc"}"#,
                Ok(Label::Spam),
                "by verdict id",
            ),
            (
                r#"{"label":"ham","comment":{"content":"hi"}}"#,
                Ok(Label::Ham),
                "by comment",
            ),
            (
                r#"{"label":"spam"}"#,
                Err("invalid_field"),
                "neither id nor comment",
            ),
            (r#"{"verdict_id":"abc"}"#, Err("invalid_field"), "no label"),
            (
                r#"{"label":"maybe","verdict_id":"abc"}"#,
                Err("invalid_field"),
                "unknown label",
            ),
            (
                r#"{"label":"spam","comment":{"content":" "}}"#,
                Err("empty_content"),
                "empty comment",
            ),
            (
                r#"{"label":"spam","comment":{"author":"x"}}"#,
                Err("missing_content"),
                "comment without content",
            ),
            (
                r#"{"label":"spam","comment":"secret@example.com"}"#,
                Err("invalid_field"),
                "comment not an object",
            ),
            (
                r#"{"label":"spam","verdict_id":5}"#,
                Err("invalid_field"),
                "id not a string",
            ),
            (&long_note, Err("invalid_field"), "note too long"),
            (r#"{"label":"spam","#, Err("malformed_json"), "truncated"),
        ];
        for (body, want, why) in cases {
            match (parse_feedback(body.as_bytes()), want) {
                (Ok(got), Ok(label)) => assert_eq!(got.label, label, "{why}"),
                (Err(e), Err(code)) => {
                    assert_eq!(e.code(), code, "{why}: {e}");
                    assert!(!e.to_string().contains("secret"), "{why}: echoes a value");
                }
                (got, want) => panic!("{why}: got {got:?}, want {want:?}"),
            }
        }
    }
}
