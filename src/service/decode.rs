//! Request bodies decoded into domain types: UTF-8, JSON syntax, an object, then serde's
//! derived structs, with every failure given a stable code ([`DecodeError::code`]).
//!
//! The JSON routes and the `score` command share it, so both refuse the same input with the
//! same code. Messages name the field but never quote a value: request bodies carry names
//! and e-mail addresses, and an error message ends up in clients' logs.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::domain::{Comment, CommentError, Label};
use crate::retrain::DEFAULT_HOLDOUT;

/// Longest `moderator` name accepted, in bytes.
pub const MAX_MODERATOR_BYTES: usize = 200;
/// Longest `note` accepted, in bytes.
pub const MAX_NOTE_BYTES: usize = 2 * 1024;
/// Longest `verdict_id` accepted, in bytes (ids we issue are 32).
pub const MAX_VERDICT_ID_BYTES: usize = 64;
/// Range of the retraining holdout share.
pub const HOLDOUT_RANGE: std::ops::RangeInclusive<f64> = 0.05..=0.5;

/// Why a body could not be decoded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    /// The body is not UTF-8.
    #[error("request body is not valid UTF-8 (invalid byte at offset {offset})")]
    InvalidUtf8 {
        /// Offset of the first invalid byte.
        offset: usize,
    },
    /// The body is not JSON; serde_json's message gives line and column, no values.
    #[error("request body is not valid JSON: {0}")]
    MalformedJson(String),
    /// Not an object, or a field of the wrong type, value or size.
    #[error("{0}")]
    InvalidField(String),
    /// A comment without `content`.
    #[error("field `content` is required")]
    MissingContent,
    /// A comment over its size limits, or with nothing to score.
    #[error("{0}")]
    Comment(#[from] CommentError),
}

impl DecodeError {
    /// The stable machine-readable code (the same as the HTTP API's).
    pub fn code(&self) -> &'static str {
        match self {
            DecodeError::InvalidUtf8 { .. } => "invalid_utf8",
            DecodeError::MalformedJson(_) => "malformed_json",
            DecodeError::InvalidField(_) => "invalid_field",
            DecodeError::MissingContent => "missing_content",
            DecodeError::Comment(CommentError::EmptyContent) => "empty_content",
            DecodeError::Comment(CommentError::ContentTooLong(_)) => "content_too_large",
            DecodeError::Comment(CommentError::FieldTooLong(_)) => "field_too_long",
        }
    }
}

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

/// The wire shape of `POST /v1/feedback`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct FeedbackBody {
    /// The moderator's label.
    pub label: Label,
    /// The verdict being corrected (from a score answer); or send `comment`.
    pub verdict_id: Option<String>,
    /// The comment itself, as in the score request; validated like one.
    #[schema(value_type = Option<Comment>)]
    pub comment: Option<Value>,
    /// Who labelled it.
    pub moderator: Option<String>,
    /// Free-text note.
    pub note: Option<String>,
}

/// A retraining request: `{"force": bool, "holdout": 0.05..0.5}`, both optional.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct RetrainBody {
    /// Promote even if the candidate fails the evaluation gate.
    #[serde(default)]
    pub force: Option<bool>,
    /// Share of the corpus held out to evaluate both models.
    #[serde(default)]
    pub holdout: Option<f64>,
}

/// Decodes and validates a score request body: UTF-8, JSON syntax, an object, the
/// [`Comment`] schema, then the size limits.
pub fn parse_comment(body: &[u8]) -> Result<Comment, DecodeError> {
    comment_from_value(&parse_value(body)?, "request body")
}

/// Decodes and validates a correction body.
pub fn parse_feedback(body: &[u8]) -> Result<FeedbackRequest, DecodeError> {
    let value = parse_value(body)?;
    expect_object(&value, "request body")?;
    let wire: FeedbackBody = from_value(&value)?;
    let comment = match &wire.comment {
        None => None,
        Some(value) => Some(comment_from_value(value, "field `comment`")?),
    };
    let verdict_id = bounded("verdict_id", wire.verdict_id, MAX_VERDICT_ID_BYTES)?;
    if comment.is_none() && verdict_id.is_none() {
        return Err(DecodeError::InvalidField(
            "send `verdict_id` (from a score response) or `comment` (the comment itself)".into(),
        ));
    }
    Ok(FeedbackRequest {
        label: wire.label,
        verdict_id,
        comment,
        moderator: bounded("moderator", wire.moderator, MAX_MODERATOR_BYTES)?,
        note: bounded("note", wire.note, MAX_NOTE_BYTES)?,
    })
}

/// Decodes an optional retrain body into `(force, holdout)`; an empty body means defaults.
pub fn parse_retrain(body: &[u8]) -> Result<(bool, f64), DecodeError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok((false, DEFAULT_HOLDOUT));
    }
    let value = parse_value(body)?;
    expect_object(&value, "request body")?;
    let wire: RetrainBody = from_value(&value)?;
    let holdout = wire.holdout.unwrap_or(DEFAULT_HOLDOUT);
    if !HOLDOUT_RANGE.contains(&holdout) {
        return Err(DecodeError::InvalidField(format!(
            "field `holdout` must be between {} and {}",
            HOLDOUT_RANGE.start(),
            HOLDOUT_RANGE.end()
        )));
    }
    Ok((wire.force.unwrap_or(false), holdout))
}

/// Validates a JSON value as a [`Comment`] (`what` names it in messages: the request body,
/// or the `comment` field of a correction).
pub fn comment_from_value(value: &Value, what: &str) -> Result<Comment, DecodeError> {
    let fields = expect_object(value, what)?;
    match fields.get("content") {
        None | Some(Value::Null) => return Err(DecodeError::MissingContent),
        Some(Value::String(_)) => {}
        Some(other) => {
            return Err(DecodeError::InvalidField(format!(
                "field `content` must be a string, got {}",
                json_type(other)
            )))
        }
    }
    let comment: Comment = from_value(value)?;
    comment.validate()?;
    Ok(comment)
}

/// UTF-8, then JSON syntax. Parsing to a `Value` first separates syntax errors from schema
/// errors, and lets arrays be refused (serde's derived structs accept them positionally).
fn parse_value(body: &[u8]) -> Result<Value, DecodeError> {
    let text = std::str::from_utf8(body).map_err(|e| DecodeError::InvalidUtf8 {
        offset: e.valid_up_to(),
    })?;
    serde_json::from_str(text).map_err(|e| DecodeError::MalformedJson(e.to_string()))
}

fn expect_object<'v>(value: &'v Value, what: &str) -> Result<&'v Map<String, Value>, DecodeError> {
    match value {
        Value::Object(fields) => Ok(fields),
        other => Err(DecodeError::InvalidField(format!(
            "{what} must be a JSON object, got {}",
            json_type(other)
        ))),
    }
}

/// Deserialises `T` from `value`, naming the failing field (via `serde_path_to_error`)
/// and what it should be, but not the value it had.
fn from_value<T: DeserializeOwned>(value: &Value) -> Result<T, DecodeError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let found = value_at(value, e.path()).map(json_type);
        DecodeError::InvalidField(describe(&path, &e.into_inner().to_string(), found))
    })
}

/// The message for a field that failed with serde's `message`.
fn describe(path: &str, message: &str, found: Option<&str>) -> String {
    // A missing field is reported at its parent, with the name in the message: serde's
    // own words for it quote nothing from the input.
    if let Some(name) = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.strip_suffix('`'))
    {
        return match path {
            "." => format!("field `{name}` is required"),
            parent => format!("field `{parent}.{name}` is required"),
        };
    }
    match (expected_part(message), found) {
        (Some(expected), Some(found)) => {
            format!("field `{path}` must be {expected}, got {found}")
        }
        _ => format!("field `{path}` has an invalid value"),
    }
}

/// The value at a path serde reported, for its JSON type.
fn value_at<'v>(mut value: &'v Value, path: &serde_path_to_error::Path) -> Option<&'v Value> {
    use serde_path_to_error::Segment;
    for segment in path.iter() {
        value = match (segment, value) {
            (Segment::Map { key }, Value::Object(fields)) => fields.get(key)?,
            (Segment::Seq { index }, Value::Array(items)) => items.get(*index)?,
            _ => return None,
        };
    }
    Some(value)
}

/// The `expected ...` half of serde's "invalid type/value" and "unknown variant" messages,
/// which comes from the target type, never from the input. Other (custom) messages may
/// quote input: `None`.
fn expected_part(message: &str) -> Option<&str> {
    let known = ["invalid type: ", "invalid value: ", "unknown variant "];
    if !known.iter().any(|prefix| message.starts_with(prefix)) {
        return None;
    }
    // The last occurrence: the input-derived half comes first and might contain the marker.
    message
        .rsplit_once(", expected ")
        .map(|(_, expected)| expected)
}

/// An optional text field held to `max` bytes; blank counts as absent.
fn bounded(name: &str, value: Option<String>, max: usize) -> Result<Option<String>, DecodeError> {
    match value {
        Some(s) if s.len() > max => Err(DecodeError::InvalidField(format!(
            "field `{name}` is longer than {max} bytes"
        ))),
        other => Ok(other.filter(|s| !s.trim().is_empty())),
    }
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
    fn parse_errors_have_codes_and_never_echo_values() {
        let long = "a".repeat(3000);
        let field_too_long = format!(r#"{{"content":"hi","author":"{long}"}}"#);
        let content_too_large = format!(r#"{{"content":"{}"}}"#, "b".repeat(70_000));
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
            (
                content_too_large.as_bytes(),
                "content_too_large",
                "content over 64 KiB",
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
        // (body, message, why)
        let cases = [
            (
                r#"{"content":"hi","author":5}"#,
                "field `author` must be a string, got a number",
                "a type error names the field and both types",
            ),
            (
                r#"{"content":"hi","form_rendered_at":"not a date"}"#,
                "field `form_rendered_at` has an invalid value",
                "a custom error may quote the input, so it is not repeated",
            ),
        ];
        for (body, message, why) in cases {
            let err = parse_comment(body.as_bytes()).unwrap_err();
            assert_eq!(err.to_string(), message, "{why}");
        }
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
    fn feedback_bodies() {
        let long_note = format!(
            r#"{{"label":"spam","verdict_id":"v","note":"{}"}}"#,
            "n".repeat(3000)
        );
        // (body, Ok(label) or Err((code, message part)), why)
        type Case<'a> = (&'a str, Result<Label, (&'a str, &'a str)>, &'a str);
        let cases: Vec<Case> = vec![
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
                Err(("invalid_field", "send `verdict_id`")),
                "neither id nor comment",
            ),
            (
                r#"{"verdict_id":"abc"}"#,
                Err(("invalid_field", "field `label` is required")),
                "no label",
            ),
            (
                r#"{"label":"maybe","verdict_id":"abc"}"#,
                Err(("invalid_field", "field `label` must be `spam` or `ham`")),
                "unknown label: the message lists the labels, not the value",
            ),
            (
                r#"{"label":"spam","comment":{"content":" "}}"#,
                Err(("empty_content", "")),
                "empty comment",
            ),
            (
                r#"{"label":"spam","comment":{"author":"x"}}"#,
                Err(("missing_content", "")),
                "comment without content",
            ),
            (
                r#"{"label":"spam","comment":"secret@example.com"}"#,
                Err(("invalid_field", "field `comment` must be a JSON object")),
                "comment not an object",
            ),
            (
                r#"{"label":"spam","verdict_id":5}"#,
                Err(("invalid_field", "field `verdict_id` must be a string")),
                "id not a string",
            ),
            (
                &long_note,
                Err(("invalid_field", "field `note` is longer")),
                "note too long",
            ),
            (
                r#"{"label":"spam","#,
                Err(("malformed_json", "")),
                "truncated",
            ),
            (
                r#"[{"label":"spam"}]"#,
                Err(("invalid_field", "must be a JSON object")),
                "an array",
            ),
        ];
        for (body, want, why) in cases {
            match (parse_feedback(body.as_bytes()), want) {
                (Ok(got), Ok(label)) => assert_eq!(got.label, label, "{why}"),
                (Err(e), Err((code, part))) => {
                    assert_eq!(e.code(), code, "{why}: {e}");
                    assert!(e.to_string().contains(part), "{why}: {e}");
                    assert!(!e.to_string().contains("secret"), "{why}: echoes a value");
                    assert!(!e.to_string().contains("maybe"), "{why}: echoes a value");
                }
                (got, want) => panic!("{why}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn blank_feedback_fields_count_as_absent() {
        let got = parse_feedback(br#"{"label":"ham","verdict_id":"v","moderator":"  ","note":""}"#)
            .unwrap();
        assert_eq!((got.moderator, got.note), (None, None));
    }

    #[test]
    fn retrain_bodies() {
        // (body, Ok((force, holdout)) or Err(code), why)
        type Case = (
            &'static str,
            Result<(bool, f64), &'static str>,
            &'static str,
        );
        let cases: Vec<Case> = vec![
            ("", Ok((false, DEFAULT_HOLDOUT)), "no body"),
            ("  \n", Ok((false, DEFAULT_HOLDOUT)), "blank body"),
            ("{}", Ok((false, DEFAULT_HOLDOUT)), "empty object"),
            (r#"{"force":true,"holdout":0.3}"#, Ok((true, 0.3)), "both"),
            (
                r#"{"force":null}"#,
                Ok((false, DEFAULT_HOLDOUT)),
                "null is absent",
            ),
            (
                r#"{"holdout":0.9}"#,
                Err("invalid_field"),
                "holdout too large",
            ),
            (
                r#"{"force":"yes"}"#,
                Err("invalid_field"),
                "force not a boolean",
            ),
            ("[1]", Err("invalid_field"), "not an object"),
            ("{", Err("malformed_json"), "truncated"),
        ];
        for (body, want, why) in cases {
            match (parse_retrain(body.as_bytes()), want) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{why}"),
                (Err(e), Err(code)) => assert_eq!(e.code(), code, "{why}"),
                (got, want) => panic!("{why}: got {got:?}, want {want:?}"),
            }
        }
    }
}
