//! Property tests: arbitrary bytes, JSON and forms sent to the input routes through the real
//! server never get a 5xx, and always get a stable error code (JSON routes) or an Akismet
//! answer literal (Akismet routes).

use commentguard::ratelimit::RateLimitSettings;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Map, Value};

use crate::helpers::{spawn_app_with, TestApp};

/// Cases per property: enough to cover the shapes, small enough for CI.
const CASES: u32 = 96;

/// Every error code the JSON routes may answer with.
const CODES: &[&str] = &[
    "not_found",
    "unknown_comment",
    "method_not_allowed",
    "unsupported_media_type",
    "payload_too_large",
    "invalid_body",
    "invalid_utf8",
    "malformed_json",
    "invalid_field",
    "missing_content",
    "empty_content",
    "content_too_large",
    "field_too_long",
    "missing_key",
    "invalid_key",
    "forbidden",
    "unknown_verdict",
    "invalid_query",
    "label_store_unavailable",
    "rate_limited",
];

/// Field names the routes know, so that generated objects hit real fields, not only
/// unknown (ignored) ones.
const FIELDS: &[&str] = &[
    "content",
    "author",
    "author_email",
    "author_url",
    "user_ip",
    "user_agent",
    "referrer",
    "permalink",
    "comment_type",
    "site",
    "lang",
    "id",
    "honeypot",
    "form_rendered_at",
    "label",
    "verdict_id",
    "comment",
    "moderator",
    "note",
];

/// Akismet form fields.
const FORM_FIELDS: &[&str] = &[
    "api_key",
    "key",
    "blog",
    "user_ip",
    "user_agent",
    "referrer",
    "permalink",
    "comment_type",
    "comment_author",
    "comment_author_email",
    "comment_author_url",
    "comment_content",
    "comment_date_gmt",
    "blog_lang",
    "blog_charset",
    "is_test",
    "user_role",
    "honeypot_field_name",
];

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: CASES,
        // Failures are printed with their shrunk input; no files in the source tree.
        failure_persistence: None,
        ..Config::default()
    })
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,40}".prop_map(Value::String),
        Just(Value::String("2024-01-01T00:00:00Z".into())),
        Just(Value::String("spam".into())),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((field_name(), inner), 0..6)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(FIELDS).prop_map(str::to_owned),
        1 => "[a-z_]{0,12}",
    ]
}

fn content_type() -> impl Strategy<Value = Option<&'static str>> {
    prop::sample::select(vec![
        Some("application/json"),
        Some("application/json; charset=latin1"),
        Some("application/x-www-form-urlencoded"),
        Some("text/plain"),
        None,
    ])
}

async fn post(
    app: &TestApp,
    path: &str,
    body: Vec<u8>,
    content_type: Option<&str>,
) -> (u16, String) {
    let mut request = app.client.post(format!("{}{path}", app.address)).body(body);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    (status, response.text().await.expect("a body"))
}

fn check_json_answer(path: &str, status: u16, body: &str) -> Result<(), TestCaseError> {
    prop_assert!(status < 500, "{path}: {status} {body}");
    if status >= 400 {
        let json: Value = serde_json::from_str(body).map_err(|e| {
            TestCaseError::fail(format!("{path}: {status} body not JSON ({e}): {body}"))
        })?;
        let code = json["error"].as_str().unwrap_or_default();
        prop_assert!(CODES.contains(&code), "{path}: unknown code in {body}");
    }
    Ok(())
}

fn check_akismet_answer(status: u16, body: &str) -> Result<(), TestCaseError> {
    use commentguard::akismet::{HAM, INVALID, SPAM, THANKS, VALID};
    prop_assert!(status < 500, "comment-check: {status} {body}");
    prop_assert!(
        [SPAM, HAM, INVALID, VALID, THANKS].contains(&body),
        "comment-check: not an Akismet literal: {status} {body}"
    );
    Ok(())
}

/// A runtime and an app with rate limits off (the properties send hundreds of requests).
fn app() -> (tokio::runtime::Runtime, TestApp) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let app = runtime.block_on(spawn_app_with(|s| {
        s.rate_limits = RateLimitSettings {
            ip: None,
            site: None,
            moderator: None,
            admin: None,
        };
        // Keeps the oversize path cheap to reach.
        s.max_body_bytes = 4096;
    }));
    (runtime, app)
}

#[test]
fn arbitrary_bytes_never_get_a_5xx() {
    let (runtime, app) = app();
    let strategy = (prop::collection::vec(any::<u8>(), 0..600), content_type());
    runner()
        .run(&strategy, |(bytes, content_type)| {
            runtime.block_on(async {
                for path in ["/v1/comments/score", "/v1/feedback"] {
                    let (status, body) = post(&app, path, bytes.clone(), content_type).await;
                    check_json_answer(path, status, &body)?;
                }
                let (status, body) =
                    post(&app, "/1.1/comment-check", bytes.clone(), content_type).await;
                check_akismet_answer(status, &body)
            })
        })
        .unwrap();
}

#[test]
fn arbitrary_json_never_gets_a_5xx() {
    let (runtime, app) = app();
    runner()
        .run(&json_value(), |value| {
            runtime.block_on(async {
                let bytes = serde_json::to_vec(&value).expect("serialisable");
                for path in ["/v1/comments/score", "/v1/feedback"] {
                    let (status, body) =
                        post(&app, path, bytes.clone(), Some("application/json")).await;
                    check_json_answer(path, status, &body)?;
                }
                Ok(())
            })
        })
        .unwrap();
}

#[test]
fn arbitrary_forms_never_get_a_5xx() {
    let (runtime, app) = app();
    let pair = (
        prop_oneof![4 => prop::sample::select(FORM_FIELDS).prop_map(str::to_owned), 1 => ".{0,8}"],
        prop_oneof![
            ".{0,60}",
            Just("viagra-test-123".to_owned()),
            Just("https://blog.example".to_owned())
        ],
    );
    runner()
        .run(&prop::collection::vec(pair, 0..10), |pairs| {
            runtime.block_on(async {
                let form: String = pairs
                    .iter()
                    .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
                    .collect::<Vec<_>>()
                    .join("&");
                let (status, body) = post(
                    &app,
                    "/1.1/comment-check",
                    form.into_bytes(),
                    Some("application/x-www-form-urlencoded"),
                )
                .await;
                check_akismet_answer(status, &body)
            })
        })
        .unwrap();
}

/// Percent-encodes everything but unreserved characters.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
