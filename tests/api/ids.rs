//! Comment ids are per site: every blog numbers its comments from 1, so two sites' comment
//! 42 must each find their own verdict, in process and through Redis.

use std::time::{Duration, Instant};

use commentguard::keys::{KeyFile, Role};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{
    assert_error, create_keys, spawn_app_with, status_and_json, TestApp, TestKeys,
};
use crate::redis_server::RedisServer;

/// The second site, spelt as its key was created (the first is `TEST_SITE`,
/// `https://blog.example.com`, spelt differently in the paths below).
const OTHER_SITE: &str = "https://other.example";

/// An application (in process, or on `redis`) with the usual keys and a site key for
/// [`OTHER_SITE`].
async fn app(redis: Option<&RedisServer>) -> (TestApp, TestKeys, String) {
    let keys = create_keys();
    let (_, other) = KeyFile::in_dir(keys.dir.path())
        .create(Role::Site, Some(OTHER_SITE))
        .expect("create key");
    let dir = keys.dir.path().to_path_buf();
    let url = redis.map(RedisServer::url);
    let app = spawn_app_with(move |s| {
        s.data_dir = dir;
        s.redis_url = url;
    })
    .await;
    (app, keys, other)
}

/// `GET path` with `key`, retried until it answers 200 or a second passes: Redis writes are
/// not awaited by the request that makes them. Returns the last status and body.
async fn get(app: &TestApp, path: &str, key: &str) -> (u16, Value) {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let (status, body) =
            status_and_json(app.send(Method::GET, path, Some(key), None).await).await;
        if status == 200 || Instant::now() > deadline {
            return (status, body);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Scores `content` as comment 42 with `key` (whose site it takes); returns the verdict id.
async fn score_42(app: &TestApp, key: &str, content: &str, site: Option<&str>) -> String {
    let mut body = json!({"content": content, "id": "42"});
    if let Some(site) = site {
        body["site"] = json!(site);
    }
    let (status, scored) = status_and_json(
        app.send(Method::POST, "/v1/comments/score", Some(key), Some(&body))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{scored}");
    scored["verdict_id"].as_str().unwrap().to_owned()
}

async fn two_sites_each_find_their_own_comment_42(redis: Option<&RedisServer>) {
    let (app, keys, other) = app(redis).await;
    let first = score_42(&app, &keys.site, "Lovely photos of the harbour.", None).await;
    let second = score_42(&app, &other, "Which lens did you use?", None).await;
    // And comment 42 of a comment sent without a site, by a moderator.
    let no_site = score_42(&app, &keys.moderator, "Thanks, very useful.", None).await;

    let cases: [(&str, &str, &str, Option<&str>); 9] = [
        (
            "site key, own comment",
            "/v1/comments/42",
            &keys.site,
            Some(&first),
        ),
        (
            "other site key, own comment",
            "/v1/comments/42",
            &other,
            Some(&second),
        ),
        (
            "site key names its own site",
            "/v1/comments/42?site=https%3A%2F%2FBLOG.example.com%2F",
            &keys.site,
            Some(&first),
        ),
        (
            "moderator names the first site",
            "/v1/comments/42?site=https%3A%2F%2Fblog.example.com",
            &keys.moderator,
            Some(&first),
        ),
        (
            "admin names the other site",
            "/v1/comments/42?site=https://other.example/",
            &keys.admin,
            Some(&second),
        ),
        (
            "moderator without a site: the no-site scope",
            "/v1/comments/42",
            &keys.moderator,
            Some(&no_site),
        ),
        (
            "moderator, a site with no comment 42",
            "/v1/comments/42?site=https://third.example",
            &keys.moderator,
            None,
        ),
        (
            "a site key cannot read the other's verdict id",
            &format!("/v1/comments/{first}"),
            &other,
            None,
        ),
        (
            "a moderator reads any verdict id",
            &format!("/v1/comments/{second}"),
            &keys.moderator,
            Some(&second),
        ),
    ];
    for (name, path, key, want) in cases {
        let (status, body) = get(&app, path, key).await;
        match want {
            Some(verdict_id) => {
                assert_eq!(status, 200, "{name}: {body}");
                assert_eq!(body["verdict_id"], *verdict_id, "{name}");
            }
            None => {
                assert_eq!(status, 404, "{name}: {body}");
                assert_eq!(body["error"], "unknown_comment", "{name}");
            }
        }
    }
    let path = format!("/v1/comments/42?site={OTHER_SITE}");
    assert_error(
        app.send(Method::GET, &path, Some(&keys.site), None).await,
        403,
        "forbidden",
        "a site key naming another site",
    )
    .await;
    assert_error(
        app.send(
            Method::GET,
            "/v1/comments/42?stie=x",
            Some(&keys.moderator),
            None,
        )
        .await,
        400,
        "invalid_query",
        "a misspelt parameter",
    )
    .await;
    // Feedback by verdict id still finds the comment (the verdict id index is global).
    let (status, body) = status_and_json(
        app.send(
            Method::POST,
            "/v1/feedback",
            Some(&keys.moderator),
            Some(&json!({"label": "spam", "verdict_id": second})),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "feedback by verdict id: {body}");
}

#[tokio::test]
async fn two_sites_each_find_their_own_comment_42_in_process() {
    two_sites_each_find_their_own_comment_42(None).await;
}

#[tokio::test]
async fn two_sites_each_find_their_own_comment_42_through_redis() {
    let redis = RedisServer::start();
    two_sites_each_find_their_own_comment_42(Some(&redis)).await;
}

#[tokio::test]
async fn redis_entries_of_the_old_id_shape_are_ignored_not_misread() {
    let redis = RedisServer::start();
    let (app, keys, _) = app(Some(&redis)).await;
    let old = |verdict_id: &str, id: &str| {
        json!({
            "assessment": {"verdict": "spam", "spam_probability": 0.99, "reasons": [],
                           "tokens": [], "model_version": "old"},
            "verdict_id": verdict_id,
            "comment": {"content": "old", "id": id},
        })
        .to_string()
    };
    // The previous version stored a platform id and a verdict id under the same shape.
    let old_verdict = "0123456789abcdef0123456789abcdef";
    for (key, value) in [
        ("cg:id:77", old(old_verdict, "77")),
        (
            &format!("cg:id:{old_verdict}") as &str,
            old(old_verdict, "77"),
        ),
    ] {
        assert_eq!(redis.command(&["SET", key, &value]), "+OK");
    }
    let (status, _) = get(&app, "/v1/comments/77", &keys.moderator).await;
    assert_eq!(
        status, 404,
        "an old platform-id entry is not read as this comment"
    );
    let (status, body) = get(
        &app,
        &format!("/v1/comments/{old_verdict}"),
        &keys.moderator,
    )
    .await;
    assert_eq!(
        status, 200,
        "an old verdict-id entry still answers its verdict: {body}"
    );
    assert_eq!(body["verdict_id"], old_verdict);
}

#[tokio::test]
async fn the_memory_budget_and_its_use_are_in_the_metrics() {
    let app = spawn_app_with(|s| s.memory_budget_mb = 8).await;
    let used = |text: &str, store: &str| -> f64 {
        let prefix = format!("commentguard_memory_used_bytes{{store=\"{store}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no {store} use in\n{text}"))
            .parse()
            .unwrap()
    };
    let metrics = || async {
        app.request(Method::GET, "/metrics")
            .await
            .text()
            .await
            .unwrap()
    };
    let before = metrics().await;
    for store in ["verdicts", "ids", "counters", "review", "fuzzy"] {
        used(&before, store);
    }
    assert!(
        before.contains(r#"commentguard_memory_budget_bytes{store="verdicts"} 3774873"#),
        "45% of 8 MiB for verdicts:\n{before}"
    );
    // Twenty distinct 60 KB comments: over 1 MB offered, within the 3.6 MiB verdict share.
    for i in 0..20 {
        let content = format!("{i} {}", "lorem ipsum dolor sit amet ".repeat(2_200));
        app.score(&json!({"content": content, "id": format!("big-{i}")}))
            .await;
    }
    let after = metrics().await;
    let verdicts = used(&after, "verdicts");
    assert!(
        (1_100_000.0..4_194_304.0).contains(&verdicts),
        "twenty 60 KB verdicts weigh {verdicts}"
    );
    assert!(used(&after, "ids") > used(&before, "ids"));
}
