//! Operations: `/metrics`, request ids, rate limits.

use std::num::NonZeroU32;
use std::time::Duration;

use commentguard::ratelimit::{Limit, RateLimitSettings, TrustedProxies};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{
    assert_error, captured_logs, create_keys, spawn_app, spawn_app_with, status_and_json,
};

fn limit(per_second: u32, burst: u32) -> Option<Limit> {
    Some(Limit {
        per_second: NonZeroU32::new(per_second).unwrap(),
        burst: NonZeroU32::new(burst).unwrap(),
    })
}

async fn metrics_text(app: &crate::helpers::TestApp) -> String {
    let response = app.request(Method::GET, "/metrics").await;
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    response.text().await.unwrap()
}

/// Checks that `passed` requests before the first refusal match a bucket of `burst` that
/// refills at 1/s since `start`.
fn assert_within_quota(passed: u32, burst: u32, start: std::time::Instant) {
    let refilled = start.elapsed().as_secs() as u32 + 1;
    assert!(
        (burst..=burst + refilled).contains(&passed),
        "{passed} passed; burst {burst}, {:?} elapsed",
        start.elapsed()
    );
}

/// The value of the series line starting with `series` (name and labels), if present.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn metrics_count_requests_verdicts_cache_and_labels() {
    let app = spawn_app().await;
    let comment = json!({"content": "Buy cheap pills now http://pills.example http://pills.example/2 http://x.example"});
    let first = app.score(&comment).await;
    let again = app.score(&comment).await;
    assert_eq!(again["cached"], true);
    let (status, _) = app
        .feedback(&json!({"label": "spam", "verdict_id": first["verdict_id"]}))
        .await;
    assert_eq!(status, 200);
    assert_error(
        app.request(Method::GET, "/nope").await,
        404,
        "not_found",
        "404",
    )
    .await;

    let text = metrics_text(&app).await;
    let verdict = first["verdict"].as_str().unwrap();
    for (series, expected) in [
        (
            r#"commentguard_http_requests_total{route="/v1/comments/score",status="200"}"#,
            2.0,
        ),
        (
            r#"commentguard_http_requests_total{route="/v1/feedback",status="200"}"#,
            1.0,
        ),
        (
            r#"commentguard_http_requests_total{route="<unmatched>",status="404"}"#,
            1.0,
        ),
        (
            &format!(r#"commentguard_verdicts_total{{verdict="{verdict}",cached="false"}}"#),
            1.0,
        ),
        (
            &format!(r#"commentguard_verdicts_total{{verdict="{verdict}",cached="true"}}"#),
            1.0,
        ),
        (r#"commentguard_cache_requests_total{outcome="hit"}"#, 1.0),
        (r#"commentguard_cache_requests_total{outcome="miss"}"#, 1.0),
        ("commentguard_cache_errors_total", 0.0),
        (r#"commentguard_labels_recorded_total{label="spam"}"#, 1.0),
        ("commentguard_score_duration_seconds_count", 2.0),
        (r#"commentguard_retrain_jobs_total{outcome="success"}"#, 0.0),
    ] {
        assert_eq!(value(&text, series), Some(expected), "{series} in\n{text}");
    }
    let (_, ready) = status_and_json(app.request(Method::GET, "/readyz").await).await;
    let model = format!(
        r#"commentguard_model_info{{version="{}"}}"#,
        ready["model_version"].as_str().unwrap()
    );
    assert_eq!(value(&text, &model), Some(1.0), "{text}");
    assert!(
        text.contains("commentguard_rule_hits_total{rule="),
        "a spammy comment fires a rule:\n{text}"
    );
    assert!(
        text.contains("# TYPE commentguard_retrain_duration_seconds histogram"),
        "{text}"
    );
}

#[tokio::test]
async fn every_response_has_a_request_id_that_the_logs_carry() {
    let app = spawn_app().await;
    let response = app
        .post_score(&json!({"content": "hello there, nice post"}))
        .await;
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(id.len(), 32, "{id}");
    let body: Value = response.json().await.unwrap();
    let verdict_id = body["verdict_id"].as_str().unwrap();

    // A handler's line (the verdict) and the request line both carry it.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let lines = loop {
        let lines: Vec<Value> = captured_logs()
            .lines()
            .filter(|l| l.contains(&id))
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        if lines.len() >= 2 || std::time::Instant::now() > deadline {
            break lines;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let in_span = |line: &Value| {
        line["spans"]
            .as_array()
            .is_some_and(|spans| spans.iter().any(|s| s["request_id"] == id.as_str()))
    };
    let scored = lines
        .iter()
        .find(|l| l["message"] == "comment scored")
        .unwrap_or_else(|| panic!("no handler line with the id: {lines:#?}"));
    assert_eq!(scored["verdict_id"], verdict_id);
    assert!(in_span(scored), "{scored}");
    let request = lines
        .iter()
        .find(|l| l["message"] == "request")
        .unwrap_or_else(|| panic!("no request line with the id: {lines:#?}"));
    assert!(in_span(request), "{request}");

    // Errors have one too, and a proxy's plain id is kept; anything else is replaced.
    let response = app
        .client
        .get(format!("{}/nope", app.address))
        .header("x-request-id", "edge-7f3a.1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "edge-7f3a.1");
    let response = app
        .client
        .get(format!("{}/healthz", app.address))
        .header("x-request-id", "jane@example.org")
        .send()
        .await
        .unwrap();
    let id = response.headers()["x-request-id"].to_str().unwrap();
    assert_eq!(id.len(), 32, "{id}");
}

/// Sends `GET /v1/labels` with each `X-Forwarded-For` of `headers` in turn, round after
/// round, until one is refused (or 20 passed); returns how many passed.
async fn pass_until_refused(app: &crate::helpers::TestApp, headers: &[&str]) -> u32 {
    let mut passed = 0;
    for forwarded_for in headers.iter().cycle() {
        let status = app
            .client
            .get(format!("{}/v1/labels", app.address))
            .header("x-forwarded-for", *forwarded_for)
            .send()
            .await
            .expect("request failed")
            .status()
            .as_u16();
        if status == 429 || passed == 20 {
            break;
        }
        assert_eq!(status, 200, "{forwarded_for}");
        passed += 1;
    }
    passed
}

#[tokio::test]
async fn forwarded_for_names_the_client_only_behind_a_trusted_proxy() {
    let limited = |s: &mut commentguard::settings::Settings| {
        s.rate_limits = RateLimitSettings {
            ip: limit(1, 3),
            ..RateLimitSettings::default()
        }
    };
    // The test client connects from 127.0.0.1. Trusted, its header names two clients,
    // each with its own burst of 3.
    let behind_proxy = spawn_app_with(|s| {
        limited(s);
        s.trusted_proxies = TrustedProxies::parse("127.0.0.1").unwrap();
    })
    .await;
    let start = std::time::Instant::now();
    let passed = pass_until_refused(&behind_proxy, &["192.0.2.1", "192.0.2.2"]).await;
    // Each bucket may earn a token per elapsed second; the round stops at the first refusal.
    let refilled = 2 * (start.elapsed().as_secs() as u32 + 1);
    assert!((6..=6 + refilled).contains(&passed), "{passed} passed");
    // Addresses left of the proxy's own entry are the client's to write: they change
    // nothing, so the spoofer stays in 192.0.2.3's one bucket.
    let start = std::time::Instant::now();
    let spoofed = ["198.51.100.1, 192.0.2.3", "198.51.100.2, 192.0.2.3"];
    let passed = pass_until_refused(&behind_proxy, &spoofed).await;
    assert_within_quota(passed, 3, start);

    // Not trusted (the default), the same headers are ignored: one bucket for the peer.
    let direct = spawn_app_with(limited).await;
    let start = std::time::Instant::now();
    let passed = pass_until_refused(&direct, &["192.0.2.1", "192.0.2.2"]).await;
    assert_within_quota(passed, 3, start);
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after_and_spares_the_probes() {
    let app = spawn_app_with(|s| {
        s.rate_limits = RateLimitSettings {
            ip: limit(1, 3),
            ..RateLimitSettings::default()
        }
    })
    .await;
    let comment = json!({"content": "a comment"});
    // Burst 3 at 1/s: three pass, then a refusal; a slow machine may earn a token more
    // on the way, never more than one per elapsed second.
    let start = std::time::Instant::now();
    let mut passed = 0;
    let response = loop {
        let response = app.post_score(&comment).await;
        if response.status().as_u16() != 200 || passed == 10 {
            break response;
        }
        passed += 1;
    };
    assert_within_quota(passed, 3, start);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    assert!(response.headers().contains_key("x-request-id"));
    let message = assert_error(response, 429, "rate_limited", "over the burst").await;
    assert!(message.contains("retry after"), "{message}");
    // Every route shares the IP's bucket, except the probes and the scrape.
    assert_error(
        app.request(Method::GET, "/v1/labels").await,
        429,
        "rate_limited",
        "labels",
    )
    .await;
    for path in [
        "/healthz", "/readyz", "/metrics", "/healthz", "/readyz", "/metrics",
    ] {
        assert_eq!(
            app.request(Method::GET, path).await.status().as_u16(),
            200,
            "{path}"
        );
    }
    let text = metrics_text(&app).await;
    assert_eq!(
        value(&text, r#"commentguard_rate_limited_total{scope="ip"}"#),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            r#"commentguard_http_requests_total{route="/v1/comments/score",status="429"}"#
        ),
        Some(1.0)
    );
    // The bucket refills at the sustained rate.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(app.post_score(&comment).await.status().as_u16(), 200);
}

#[tokio::test]
async fn rate_limits_are_per_key_with_role_quotas() {
    let keys = create_keys();
    let dir = keys.dir.path().to_path_buf();
    let app = spawn_app_with(|s| {
        s.data_dir = dir;
        s.rate_limits = RateLimitSettings {
            ip: limit(1, 1),
            site: limit(1, 2),
            moderator: None,
            admin: limit(1, 4),
        };
    })
    .await;
    let score = |key: Option<&'static str>| {
        let app = &app;
        async move {
            let mut request = app
                .client
                .post(format!("{}/v1/comments/score", app.address))
                .json(&json!({"content": "hi"}));
            if let Some(key) = key {
                request = request.bearer_auth(key);
            }
            request.send().await.unwrap().status().as_u16()
        }
    };
    let site: &'static str = Box::leak(keys.site.clone().into_boxed_str());
    let moderator: &'static str = Box::leak(keys.moderator.clone().into_boxed_str());
    let admin: &'static str = Box::leak(keys.admin.clone().into_boxed_str());
    // Sends with `key` until the first refusal; returns how many passed.
    let until_refused = |key: &'static str| async move {
        let start = std::time::Instant::now();
        let mut passed = 0;
        while passed < 20 && score(Some(key)).await == 200 {
            passed += 1;
        }
        (passed, start)
    };
    let (passed, start) = until_refused(site).await;
    assert_within_quota(passed, 2, start);
    let (passed, start) = until_refused(admin).await;
    assert_within_quota(passed, 4, start);
    for _ in 0..10 {
        assert_eq!(score(Some(moderator)).await, 200, "moderators unlimited");
    }
    // Without a valid key the IP's bucket counts (burst 1), before authentication.
    let statuses = [
        score(None).await,
        score(Some("not-a-key")).await,
        score(Some("not-a-key")).await,
    ];
    assert_eq!(statuses[0], 401, "{statuses:?}");
    assert!(statuses[1..].contains(&429), "{statuses:?}");
    let text = metrics_text(&app).await;
    assert_eq!(
        value(&text, r#"commentguard_rate_limited_total{scope="key"}"#),
        Some(2.0),
        "{text}"
    );
}

#[tokio::test]
async fn rate_limit_off_never_refuses() {
    let app = spawn_app_with(|s| {
        s.rate_limits = RateLimitSettings {
            ip: None,
            site: None,
            moderator: None,
            admin: None,
        }
    })
    .await;
    for _ in 0..50 {
        let response = app.request(Method::GET, "/v1/comments/unknown").await;
        assert_error(response, 404, "unknown_comment", "not limited").await;
    }
}
