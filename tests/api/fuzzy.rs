//! Fuzzy fingerprints through the API: a template a moderator labels spam is recognised
//! when a spun variant of it arrives at another site (and, with Redis, another replica), and
//! spun variants of one text count together for the cross-site signal.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, TestApp};
use crate::redis_server::RedisServer;

/// A template no shipped corpus holds, and spun variants of it (a word or two changed).
const TEMPLATE: &str = "Our team restores vintage mechanical keyboards with new springs, \
    custom keycaps and lubricated switches, and we ship every restored board worldwide \
    within three business days with a full warranty.";
const VARIANTS: [&str; 4] = [
    "Our crew restores vintage mechanical keyboards with fresh springs, custom keycaps and \
     lubricated switches, and we ship every restored board worldwide within three business \
     days with a full warranty.",
    "Our team restores classic mechanical keyboards with new springs, custom keycaps and \
     lubricated switches, and we send every restored board worldwide within three business \
     days with a full warranty.",
    "Our team repairs vintage mechanical keyboards with new springs, custom keycaps and \
     lubricated switches, and we ship every restored board globally within three business \
     days with a full warranty.",
    "Our team restores vintage mechanical keyboards with new springs, bespoke keycaps and \
     lubricated switches, and we ship each restored board worldwide within three business \
     days with a full guarantee.",
];

fn reason_ids(body: &Value) -> Vec<String> {
    body["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

/// Scores `comment` on `app` until a reason `id` appears or `limit` passes (a label's
/// fingerprint reaches Redis after the label's answer); returns the last body. Each try has
/// another author, so that no try is answered from the cache by an earlier one.
async fn until_reason(app: &TestApp, comment: &Value, id: &str, limit: Duration) -> Value {
    let start = Instant::now();
    for attempt in 0.. {
        let mut comment = comment.clone();
        comment["author"] = json!(format!("reader {attempt}"));
        let body = app.score(&comment).await;
        if reason_ids(&body).iter().any(|r| r == id) || start.elapsed() > limit {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    unreachable!("the loop returns")
}

/// A moderator labels the template spam on `labeller`; a spun variant at another site then
/// gets `fuzzy.labelled_spam` on `scorer`, until a ham relabel forgets it.
pub async fn labelled_template_is_recognised_spun(labeller: &TestApp, scorer: &TestApp) {
    let variant = json!({"content": VARIANTS[0], "site": "https://b.example", "author": "Kim"});
    let before = scorer.score(&variant).await;
    assert!(
        !reason_ids(&before).iter().any(|r| r.starts_with("fuzzy.")),
        "nothing known yet: {before}"
    );
    let (status, body) = labeller
        .feedback(&json!({"label": "spam", "comment": {"content": TEMPLATE, "site": "https://a.example"}}))
        .await;
    assert_eq!(status, 200, "{body}");
    // Another author, so it is no recheck of the comment scored above.
    let variant = json!({"content": VARIANTS[0], "site": "https://b.example", "author": "Lee"});
    let after = until_reason(
        scorer,
        &variant,
        "fuzzy.labelled_spam",
        Duration::from_secs(3),
    )
    .await;
    let reason = after["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "fuzzy.labelled_spam")
        .unwrap_or_else(|| panic!("the spun variant is recognised: {after}"));
    let detail = reason["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("similarity"), "a readable reason: {reason}");
    assert!(
        after["spam_probability"].as_f64() > before["spam_probability"].as_f64(),
        "the hit weighs towards spam: {before} → {after}"
    );
    // A ham relabel forgets the fingerprint again.
    let (status, _) = labeller
        .feedback(
            &json!({"label": "ham", "comment": {"content": TEMPLATE, "site": "https://a.example"}}),
        )
        .await;
    assert_eq!(status, 200);
    let start = Instant::now();
    for attempt in 0.. {
        let variant = json!({"content": VARIANTS[0], "site": "https://b.example", "author": format!("after ham {attempt}")});
        let body = scorer.score(&variant).await;
        if !reason_ids(&body).iter().any(|r| r == "fuzzy.labelled_spam") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "forgotten on ham: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Four spun variants on four sites: the cross-site rule fires over near-duplicates.
pub async fn spun_variants_count_across_sites(app: &TestApp) {
    let mut last = Value::Null;
    for (i, text) in VARIANTS.iter().enumerate() {
        last = app
            .score(&json!({"content": text, "site": format!("https://s{i}.example")}))
            .await;
        if i < 3 {
            assert!(
                !reason_ids(&last).contains(&"network.many_sites".to_string()),
                "variant {i}: {last}"
            );
        }
    }
    let reason = last["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "network.many_sites")
        .unwrap_or_else(|| panic!("near-duplicates on four sites: {last}"));
    assert!(
        reason["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("near-identical"),
        "{reason}"
    );
}

/// Whether `app` recognises `comment` as a spun variant of labelled spam within `limit`,
/// and its last answer.
async fn labelled_spam_within(app: &TestApp, comment: &Value, limit: Duration) -> (bool, Value) {
    let body = until_reason(app, comment, "fuzzy.labelled_spam", limit).await;
    let found = reason_ids(&body).iter().any(|r| r == "fuzzy.labelled_spam");
    (found, body)
}

async fn app_on(redis: &RedisServer) -> TestApp {
    let url = redis.url();
    spawn_app_with(move |s| {
        s.redis_url = Some(url);
        // Sharing across replicas is under test, not a slow Redis (see redis_cache::app_on).
        s.redis_timeout = Duration::from_millis(500);
    })
    .await
}

#[tokio::test]
async fn a_labelled_template_is_recognised_spun_on_another_replica_and_site() {
    let redis = RedisServer::start();
    let (first, second) = (app_on(&redis).await, app_on(&redis).await);
    labelled_template_is_recognised_spun(&first, &second).await;
}

#[tokio::test]
async fn a_labelled_template_is_recognised_spun_in_process() {
    let app = spawn_app().await;
    labelled_template_is_recognised_spun(&app, &app).await;
}

#[tokio::test]
async fn spun_variants_count_across_sites_with_redis() {
    let redis = RedisServer::start();
    let app = app_on(&redis).await;
    spun_variants_count_across_sites(&app).await;
}

#[tokio::test]
async fn spun_variants_count_across_sites_in_process() {
    spun_variants_count_across_sites(&spawn_app().await).await;
}

#[tokio::test]
async fn labelled_spam_is_shared_again_after_redis_loses_it() {
    let mut redis = RedisServer::start();
    let first = app_on(&redis).await;
    let (status, body) = first
        .feedback(&json!({"label": "spam", "comment": {"content": TEMPLATE, "site": "https://a.example"}}))
        .await;
    assert_eq!(status, 200, "{body}");
    let variant = json!({"content": VARIANTS[1], "site": "https://b.example"});
    let (known, body) = labelled_spam_within(&first, &variant, Duration::from_secs(3)).await;
    assert!(known, "{body}");

    // Redis keeps nothing on disk: a restart loses the fingerprint, and the running
    // replica notices (its marker key is gone with it) and sends the label log's again.
    redis.restart();
    let started = Instant::now();
    let (back, body) = labelled_spam_within(&first, &variant, Duration::from_secs(10)).await;
    println!(
        "recognised again {:?} after the Redis restart",
        started.elapsed()
    );
    assert!(back, "shared again without a replica restart: {body}");

    // A replica that starts over a label log whose spam Redis never got (a fresh Redis here)
    // sends it at start.
    let fresh = RedisServer::start();
    let copy = tempfile::tempdir().unwrap();
    std::fs::copy(
        first.settings.data_dir.join("labels.jsonl"),
        copy.path().join("labels.jsonl"),
    )
    .expect("the label log is labels.jsonl");
    let url = fresh.url();
    let dir = copy.path().to_path_buf();
    let second = spawn_app_with(move |s| {
        s.redis_url = Some(url);
        s.redis_timeout = Duration::from_millis(500);
        s.data_dir = dir;
    })
    .await;
    let (shared, body) = labelled_spam_within(&second, &variant, Duration::from_secs(3)).await;
    assert!(shared, "shared at the replica's start: {body}");
}

#[tokio::test]
async fn a_wave_of_one_text_stops_growing_the_redis_store_once_a_look_up_is_full() {
    let redis = RedisServer::start();
    let app = app_on(&redis).await;
    let mut last = Value::Null;
    for i in 0..45 {
        // A number makes each one a fresh score, not a cached verdict.
        let comment = json!({
            "content": format!("{TEMPLATE} ({i})"),
            "site": format!("https://w{i}.example"),
        });
        last = app.score(&comment).await;
    }
    let recorded: usize = redis.command(&["ZCARD", "{cg:fz}:ridx"])[1..]
        .parse()
        .unwrap();
    assert_eq!(
        recorded, 32,
        "recorded until the newest 32 near-duplicates fill a look-up, then not"
    );
    let reasons = reason_ids(&last);
    assert!(
        reasons.contains(&"network.many_sites".to_string()),
        "the wave is still seen for what it is: {last}"
    );
}
