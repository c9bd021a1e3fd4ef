//! `POST /v1/comments/score`: the happy path and every error code.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use commentguard::telemetry::fingerprint;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{assert_error, captured_logs, spawn_app, status_and_json};

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
    assert!(body["cached"].is_boolean(), "cached");
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

    let other = json!({"content": "A different comment gets its own verdict."});
    let (_, again) = status_and_json(app.post_score(&other).await).await;
    assert_ne!(
        again["verdict_id"], body["verdict_id"],
        "every fresh verdict gets a fresh id"
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

#[tokio::test]
async fn a_cut_off_body_is_invalid_body() {
    let app = spawn_app().await;
    let port = app.port;
    // reqwest cannot send fewer bytes than it declares, so this is raw HTTP/1.1: the head
    // promises 100 bytes, 15 follow, then the client closes its sending half (as an upload
    // cut off by a dropped connection would) and waits for the answer.
    let response = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("cannot connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let body = br#"{"content":"cut"#;
        let head = "POST /v1/comments/score HTTP/1.1\r\nHost: 127.0.0.1\r\n\
                    Content-Type: application/json\r\nContent-Length: 100\r\n\r\n";
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(body).unwrap();
        stream.shutdown(Shutdown::Write).unwrap();
        let mut response = Vec::new();
        stream
            .read_to_end(&mut response)
            .expect("no answer to a cut-off body");
        String::from_utf8(response).expect("the answer is not UTF-8")
    })
    .await
    .unwrap();

    let (head, body) = response
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"));
    assert!(
        head.starts_with("HTTP/1.1 400 "),
        "status line; response {response:?}"
    );
    let body: Value = serde_json::from_str(body)
        .unwrap_or_else(|e| panic!("body is not JSON ({e}): {response:?}"));
    assert_eq!(body["error"], "invalid_body", "response {response:?}");
}

/// Waits up to 10 s for a captured log line containing `needle`, and parses it.
async fn wait_for_log_line(needle: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(line) = captured_logs().lines().find(|line| line.contains(needle)) {
            return serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("log line is not JSON ({e}): {line}"));
        }
        assert!(
            Instant::now() < deadline,
            "no log line contains {needle:?}; logs:\n{}",
            captured_logs()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn personal_data_never_reaches_the_logs() {
    let app = spawn_app().await;
    // Unique to this test, so that lines logged by tests running alongside cannot match.
    let hex = format!("{:032x}", rand::random::<u128>());
    let marker = format!("marker-{hex}");
    let local_part = format!("jane.{:016x}", rand::random::<u64>());
    let email = format!("{local_part}@example.org");

    // Every field a platform sends, each carrying the marker or the e-mail address.
    let comment = json!({
        "content": format!("Lovely post {marker}, write to me at {email} or http://{hex}.example"),
        "author": format!("Jane {marker}"),
        "author_email": email,
        "author_url": format!("https://{hex}.example/about"),
        "user_ip": "203.0.113.7",
        "user_agent": format!("Mozilla/5.0 {marker}"),
        "referrer": format!("https://blog.example/?ref={marker}"),
        "permalink": format!("https://blog.example/{marker}"),
        "id": format!("{marker}-{email}"),
    });
    let (status, body) = status_and_json(app.post_score(&comment).await).await;
    assert_eq!(status, 200, "body {body}");
    let verdict_id = body["verdict_id"].as_str().unwrap();

    // Refused requests carrying the same data: a path no route matches, a field with the
    // wrong type, and JSON that does not parse.
    let response = app
        .request(Method::GET, &format!("/users/{email}/{marker}"))
        .await;
    assert_error(response, 404, "not_found", "path with an e-mail").await;
    let wrong_type = json!({ "content": marker, "author_email": [email] });
    assert_error(
        app.post_score(&wrong_type).await,
        400,
        "invalid_field",
        "wrong type",
    )
    .await;
    let malformed = format!(r#"{{"content": "{marker} {email}""#);
    let response = app.post_raw(malformed, Some("application/json")).await;
    assert_error(response, 400, "malformed_json", "malformed").await;

    // A moderator's correction of it, by id and with the comment itself, and the export.
    for body in [
        json!({"label": "spam", "verdict_id": verdict_id, "moderator": marker, "note": email}),
        json!({"label": "ham", "comment": comment}),
    ] {
        let (status, answer) = app.feedback(&body).await;
        assert_eq!(status, 200, "{answer}");
    }
    let response = app.request(Method::GET, "/v1/labels").await;
    assert_eq!(response.status().as_u16(), 200);

    // The same comment through the Akismet API.
    let form = [
        ("api_key", "benchbench12".to_owned()),
        ("blog", "https://blog.example".to_owned()),
        ("user_ip", "203.0.113.7".to_owned()),
        ("comment_author", format!("Jane {marker}")),
        ("comment_author_email", email.clone()),
        (
            "comment_content",
            format!("Lovely post {marker}, write to me at {email}"),
        ),
    ];
    let body: String = form
        .iter()
        .map(|(k, v)| format!("{k}={}", v.replace('@', "%40").replace(' ', "+")))
        .collect::<Vec<_>>()
        .join("&");
    let response = app
        .client
        .post(format!("{}/1.1/comment-check", app.address))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    // Nor do the metrics or the API document repeat any of it.
    for path in ["/metrics", "/openapi.json"] {
        let text = app.request(Method::GET, path).await.text().await.unwrap();
        for needle in [hex.as_str(), local_part.as_str(), "203.0.113.7"] {
            assert!(!text.contains(needle), "{path} contains {needle:?}");
        }
    }

    // The capture works: the verdict was logged, naming the platform id by its hash.
    let scored = wait_for_log_line(verdict_id).await;
    assert_eq!(scored["message"], "comment scored", "{scored}");
    assert_eq!(
        scored["platform_id_xxh3"],
        fingerprint(comment["id"].as_str().unwrap()),
        "{scored}"
    );
    // The request log names route templates, never paths (this holds for every test's
    // requests, which all share the capture).
    let logs = captured_logs();
    let requests: Vec<Value> = logs
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|event| event["message"] == "request")
        .collect();
    assert!(
        requests
            .iter()
            .any(|r| r["route"] == "<unmatched>" && r["status"] == 404),
        "no request line for the 404: {requests:#?}"
    );
    for request in &requests {
        let route = request["route"].as_str().unwrap_or_default();
        assert!(
            (commentguard::routes::table().get(route).is_some()
                || commentguard::console::ASSETS
                    .iter()
                    .any(|asset| asset.path == route)
                || route == "<unmatched>")
                && request.get("path").is_none(),
            "request line without a known route: {request}"
        );
    }

    for needle in [hex.as_str(), local_part.as_str(), "203.0.113.7"] {
        let leaks: Vec<&str> = logs.lines().filter(|l| l.contains(needle)).collect();
        assert!(leaks.is_empty(), "{needle:?} was logged: {leaks:#?}");
    }
}
