//! `POST /v1/comments/score`: the happy path and every error code.

use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app, status_and_json};

/// Checks the shape of a 200 score response and returns it.
fn assert_score_shape(body: &Value) {
    let verdict = body["verdict"]
        .as_str()
        .unwrap_or_else(|| panic!("no verdict: {body}"));
    assert!(
        ["approve", "hold", "spam", "discard"].contains(&verdict),
        "verdict {verdict}"
    );
    let p = body["spam_probability"]
        .as_f64()
        .expect("spam_probability is a number");
    assert!((0.0..=1.0).contains(&p), "spam_probability {p}");
    for reason in body["reasons"].as_array().expect("reasons is an array") {
        assert!(
            reason["id"].is_string() && reason["detail"].is_string(),
            "reason {reason}"
        );
    }
    for token in body["tokens"].as_array().expect("tokens is an array") {
        assert!(
            token["token"].is_string() && token["weight"].is_number(),
            "token {token}"
        );
    }
    assert!(
        body["model_version"]
            .as_str()
            .is_some_and(|v| !v.is_empty()),
        "model_version"
    );
    let id = body["verdict_id"].as_str().expect("verdict_id is a string");
    assert_eq!(id.len(), 32, "verdict_id {id}");
    assert!(
        id.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "verdict_id {id}"
    );
    assert_eq!(body["cached"], false);
}

#[tokio::test]
async fn a_comment_gets_a_complete_verdict() {
    let app = spawn_app().await;
    let comment = json!({
        "content": "Thanks for the recipe, I added a little lemon zest and it was great.",
        "author": "Ann",
        "author_email": "ann@example.org",
        "permalink": "https://blog.example.org/lemon-cake",
    });
    let (status, body) = status_and_json(app.post_score(&comment).await).await;
    assert_eq!(status, 200, "body {body}");
    assert_score_shape(&body);

    let (_, again) = status_and_json(app.post_score(&comment).await).await;
    assert_ne!(
        again["verdict_id"], body["verdict_id"],
        "every verdict gets a fresh id"
    );
}

#[tokio::test]
async fn obvious_spam_is_not_approved() {
    let app = spawn_app().await;
    let comment = json!({
        "content": "Check out my channel and subscribe!!! http://spam.example http://spam.example/2 http://x.example",
    });
    let (status, body) = status_and_json(app.post_score(&comment).await).await;
    assert_eq!(status, 200, "body {body}");
    assert_score_shape(&body);
    assert_ne!(body["verdict"], "approve", "body {body}");
}

#[tokio::test]
async fn unknown_fields_and_json_variants_are_accepted() {
    let app = spawn_app().await;
    // (name, content type, body, why)
    let cases: [(&str, &str, Value, &str); 3] = [
        (
            "unknown fields",
            "application/json",
            json!({ "content": "Nice post", "blog_charset": "UTF-8", "extra": { "a": [1, 2] } }),
            "platforms send Akismet-style extras; they are ignored",
        ),
        (
            "+json type with charset",
            "application/vnd.commentguard+json; charset=utf-8",
            json!({ "content": "Nice post" }),
            "any +json type is JSON",
        ),
        (
            "nulls for optional fields",
            "application/json",
            json!({ "content": "Nice post", "author": null, "form_rendered_at": null }),
            "null means absent",
        ),
    ];
    for (name, content_type, body, why) in cases {
        let response = app
            .post_raw(serde_json::to_vec(&body).unwrap(), Some(content_type))
            .await;
        let (status, body) = status_and_json(response).await;
        assert_eq!(status, 200, "{name} ({why}): body {body}");
        assert_score_shape(&body);
    }
}

/// One refused request.
struct Case {
    name: &'static str,
    why: &'static str,
    body: Vec<u8>,
    content_type: Option<&'static str>,
    status: u16,
    code: &'static str,
}

fn json_case(
    name: &'static str,
    why: &'static str,
    body: Value,
    status: u16,
    code: &'static str,
) -> Case {
    Case {
        name,
        why,
        body: serde_json::to_vec(&body).unwrap(),
        content_type: Some("application/json"),
        status,
        code,
    }
}

fn raw_case(
    name: &'static str,
    why: &'static str,
    body: &[u8],
    status: u16,
    code: &'static str,
) -> Case {
    Case {
        name,
        why,
        body: body.to_vec(),
        content_type: Some("application/json"),
        status,
        code,
    }
}

#[tokio::test]
async fn bad_requests_get_their_error_codes() {
    let app = spawn_app().await;
    let limit = app.settings.max_body_bytes;
    let cases = vec![
        raw_case(
            "truncated JSON",
            "syntax error",
            br#"{"content": "hi""#,
            400,
            "malformed_json",
        ),
        raw_case("empty body", "nothing to parse", b"", 400, "malformed_json"),
        raw_case(
            "not UTF-8",
            "0xff 0xfe never occur in UTF-8",
            b"{\"content\":\"\xff\xfe\"}",
            400,
            "invalid_utf8",
        ),
        json_case(
            "no content",
            "content is required",
            json!({ "author": "Ann" }),
            400,
            "missing_content",
        ),
        json_case(
            "null content",
            "null is absent",
            json!({ "content": null }),
            400,
            "missing_content",
        ),
        json_case(
            "blank content",
            "whitespace only",
            json!({ "content": " \n\t " }),
            400,
            "empty_content",
        ),
        json_case(
            "numeric content",
            "content must be a string",
            json!({ "content": 5 }),
            400,
            "invalid_field",
        ),
        json_case(
            "array body",
            "the body must be an object",
            json!(["Nice post"]),
            400,
            "invalid_field",
        ),
        raw_case(
            "number body",
            "the body must be an object",
            b"42",
            400,
            "invalid_field",
        ),
        json_case(
            "numeric author",
            "every field is a string",
            json!({ "content": "hi", "author": 5 }),
            400,
            "invalid_field",
        ),
        json_case(
            "bad timestamp",
            "form_rendered_at is RFC 3339",
            json!({ "content": "hi", "form_rendered_at": "yesterday" }),
            400,
            "invalid_field",
        ),
        json_case(
            "long author",
            "other fields are limited to 2 KiB",
            json!({ "content": "hi", "author": "a".repeat(2 * 1024 + 1) }),
            400,
            "field_too_long",
        ),
        json_case(
            "long content",
            "content is limited to 64 KiB",
            json!({ "content": "a".repeat(65 * 1024) }),
            413,
            "content_too_large",
        ),
        json_case(
            "huge body",
            "bodies are limited to max_body_bytes",
            json!({ "content": "a".repeat(limit) }),
            413,
            "payload_too_large",
        ),
        Case {
            name: "text/plain",
            why: "only JSON is accepted",
            body: br#"{"content":"hi"}"#.to_vec(),
            content_type: Some("text/plain"),
            status: 415,
            code: "unsupported_media_type",
        },
        Case {
            name: "no Content-Type",
            why: "the type must be declared",
            body: br#"{"content":"hi"}"#.to_vec(),
            content_type: None,
            status: 415,
            code: "unsupported_media_type",
        },
        Case {
            name: "form",
            why: "form posts are not JSON",
            body: b"content=hi".to_vec(),
            content_type: Some("application/x-www-form-urlencoded"),
            status: 415,
            code: "unsupported_media_type",
        },
    ];
    for case in cases {
        let label = format!("{} ({})", case.name, case.why);
        let response = app.post_raw(case.body, case.content_type).await;
        assert_error(response, case.status, case.code, &label).await;
    }
}

#[tokio::test]
async fn error_messages_name_the_field_but_never_echo_values() {
    let app = spawn_app().await;
    // (body, code, text the message must contain)
    let cases = [
        (
            json!({ "content": "hi", "author_email": ["jane.secret@example.com"] }),
            "invalid_field",
            "author_email",
        ),
        (
            json!({ "content": "hi", "form_rendered_at": "jane.secret@example.com" }),
            "invalid_field",
            "form_rendered_at",
        ),
        (
            json!({ "content": "hi", "user_agent": "jane.secret".repeat(300) }),
            "field_too_long",
            "user_agent",
        ),
        (
            json!(["jane.secret@example.com"]),
            "invalid_field",
            "object",
        ),
    ];
    for (body, code, mentions) in cases {
        let message = assert_error(app.post_score(&body).await, 400, code, mentions).await;
        assert!(
            message.contains(mentions),
            "{mentions}: message {message:?}"
        );
        assert!(
            !message.contains("secret"),
            "{mentions}: message echoes a value: {message:?}"
        );
    }
}
