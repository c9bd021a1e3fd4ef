//! The review history behind the moderator console: what gets in, the queue's order,
//! filters and pages, corrections, retention (file store and real Redis), a Redis outage,
//! the summary, and the console's page and assets.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{
    assert_error, spawn_app, spawn_app_with, spawn_keyed_app, status_and_json, TestApp,
};
use crate::redis_server::RedisServer;

/// A comment the shipped model holds for a moderator (`tag` makes it unique).
pub fn held_comment(tag: &str) -> Value {
    json!({
        // A moderation keyword ("tramadol") holds it; the classifier is unsure (p 0.3-0.55).
        "content": format!(
            "Great article on recovery after surgery, my doctor prescribed tramadol too. \
             Casey ({tag})"
        ),
        "author": "Casey",
        "author_email": format!("casey.{tag}@example.org"),
        "author_url": "https://casey.example.net/blog",
        "site": "https://blog.example.com",
    })
}

/// A comment the shipped model calls spam.
fn spam_comment(tag: &str) -> Value {
    json!({
        // Spam, not blatant enough to discard (p about 0.97 with the blog corpus).
        "content": format!("Buy cheap viagra online now, best price pills, click here \
                            http://cheap-pills.example/buy {tag}"),
        "author": "Pill Shop",
        "site": "https://other.example",
    })
}

/// `GET /v1/review/queue?QUERY` in open mode.
async fn queue(app: &TestApp, query: &str) -> (u16, Value) {
    status_and_json(
        app.request(Method::GET, &format!("/v1/review/queue?{query}"))
            .await,
    )
    .await
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["verdict_id"].as_str().unwrap().to_owned())
        .collect()
}

/// How long a test waits for a write the history does after answering (generous: CI runs
/// on two loaded cores).
const SETTLE: Duration = Duration::from_secs(30);

/// Polls `done` every 20 ms until it holds; panics with `what` after [`SETTLE`].
async fn eventually<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + SETTLE;
    while !done().await {
        assert!(Instant::now() < deadline, "{what}: not after {SETTLE:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Scores `comment` and checks the verdict is `verdict`; returns the verdict id.
async fn scored(app: &TestApp, comment: &Value, verdict: &str) -> String {
    let body = app.score(comment).await;
    assert_eq!(body["verdict"], verdict, "{comment} scored {body}");
    body["verdict_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn held_and_spam_verdicts_wait_in_the_queue_until_corrected() {
    let app = spawn_app().await;
    let approved = scored(
        &app,
        &json!({"content": "Thanks, the bread recipe worked on the first try."}),
        "approve",
    )
    .await;
    let held = scored(&app, &held_comment("q1"), "hold").await;
    let spam = scored(&app, &spam_comment("q1"), "spam").await;

    let (status, page) = queue(&app, "").await;
    assert_eq!(status, 200, "{page}");
    // Held first, though the spam is newer.
    assert_eq!(ids(&page), [held.as_str(), spam.as_str()]);
    assert!(!ids(&page).contains(&approved));
    let row = &page["items"][0];
    assert_eq!(row["verdict"], "hold");
    assert_eq!(row["label"], Value::Null);
    assert_eq!(row["comment"]["author"], "Casey");
    assert!(
        row["reasons"].as_array().is_some_and(|r| !r.is_empty()),
        "{row}"
    );
    assert!(
        row["tokens"].as_array().is_some_and(|t| !t.is_empty()),
        "{row}"
    );
    assert_eq!(row["link_domains"], json!(["casey.example.net"]));
    assert!(row["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["id"] == "keys.moderation"));
    assert_eq!(
        page["sites"],
        json!(["https://blog.example.com", "https://other.example"])
    );
    assert_eq!(page["retention_days"], 14.0);
    // Personal data: never kept in a browser's cache, beyond the retention's reach.
    let response = app.request(Method::GET, "/v1/review/queue").await;
    assert_eq!(
        response
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );

    // Filters.
    assert_eq!(ids(&queue(&app, "verdict=spam").await.1), [spam.as_str()]);
    assert_eq!(
        ids(&queue(&app, "site=https%3A%2F%2FBLOG.example.com%2F")
            .await
            .1),
        [held.as_str()]
    );
    // Pages.
    let (_, first) = queue(&app, "limit=1").await;
    assert_eq!(ids(&first), [held.as_str()]);
    let cursor = first["next_cursor"].as_str().expect("a next page");
    let (_, second) = queue(&app, &format!("limit=1&cursor={cursor}")).await;
    assert_eq!(ids(&second), [spam.as_str()]);
    assert_eq!(second["next_cursor"], Value::Null);

    // A correction through the feedback API takes the row out of the waiting queue and
    // shows its label among the corrected ones.
    let row_comment = page["items"][0]["comment"].clone();
    let (status, body) = app
        .feedback(&json!({"label": "spam", "verdict_id": held, "comment": row_comment}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ids(&queue(&app, "").await.1), [spam.as_str()]);
    let (_, labelled) = queue(&app, "status=labelled").await;
    assert_eq!(ids(&labelled), [held.as_str()]);
    assert_eq!(labelled["items"][0]["label"], "spam");
    assert_eq!(ids(&queue(&app, "status=all").await.1).len(), 2);
    // A recheck is served from the cache and not recorded twice.
    assert_eq!(app.score(&spam_comment("q1")).await["cached"], true);
    assert_eq!(ids(&queue(&app, "status=all").await.1).len(), 2);
}

#[tokio::test]
async fn akismet_checks_are_recorded_but_test_calls_are_not() {
    let (app, keys) = spawn_keyed_app().await;
    let form = |extra: &str| {
        format!(
            "api_key={}&blog=https%3A%2F%2Fblog.example.com&user_ip=192.0.2.7&comment_author=Best+Pills\
             &comment_content=Buy+cheap+viagra+online+now+best+price+pills+click+here+\
             http%3A%2F%2Fcheap-pills.example%2Fbuy{extra}",
            keys.site
        )
    };
    for body in [form("&is_test=1"), form("+real")] {
        let response = app
            .client
            .post(format!("{}/1.1/comment-check", app.address))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(response.text().await.unwrap(), "true");
    }
    let (_, page) = status_and_json(
        app.send(Method::GET, "/v1/review/queue", Some(&keys.moderator), None)
            .await,
    )
    .await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{page}");
    assert!(items[0]["comment"]["content"]
        .as_str()
        .unwrap()
        .ends_with("real"));
}

#[tokio::test]
async fn bad_queue_queries_are_400_invalid_query() {
    let app = spawn_app().await;
    for query in [
        "verdict=approve",
        "status=maybe",
        "limit=0",
        "limit=9999",
        "cursor=not-a-cursor",
        "cursor=0.1.%3Cscript%3E",
    ] {
        let response = app
            .request(Method::GET, &format!("/v1/review/queue?{query}"))
            .await;
        let message = assert_error(response, 400, "invalid_query", query).await;
        assert!(!message.contains("script"), "{query}: {message}");
    }
}

#[tokio::test]
async fn file_history_entries_expire_after_the_retention() {
    let app = spawn_app_with(|s| s.review_retention = Duration::from_secs(1)).await;
    let held = scored(&app, &held_comment("exp"), "hold").await;
    assert_eq!(ids(&queue(&app, "").await.1), [held]);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(ids(&queue(&app, "status=all").await.1).is_empty());
    // The next write rewrites the file without it (after the answer, on the history's
    // writer thread): nothing expired stays on disk.
    scored(&app, &held_comment("exp2"), "hold").await;
    let path = app.settings.data_dir.join("review-history.jsonl");
    eventually("the file rewritten without the expired entry", || {
        let file = std::fs::read_to_string(&path).unwrap_or_default();
        async move { !file.contains("casey.exp@") && file.contains("casey.exp2@") }
    })
    .await;
}

#[tokio::test]
async fn redis_history_is_shared_by_replicas_and_expires() {
    let redis = RedisServer::start();
    let on_redis = |retention: Duration| {
        let url = redis.url();
        spawn_app_with(move |s| {
            s.redis_url = Some(url);
            s.review_retention = retention;
        })
    };
    // Long enough that a loaded CI machine sees the entry before it expires.
    let first = on_redis(Duration::from_secs(5)).await;
    let second = on_redis(Duration::from_secs(5)).await;
    let held = scored(&first, &held_comment("redis"), "hold").await;
    // The entry was scored before the answer: it expires before this plus the retention.
    let answered = Instant::now();
    // The other replica reads it from Redis (written after the answer).
    eventually("the entry in the other replica's queue", || async {
        let (status, page) = queue(&second, "").await;
        assert_eq!(status, 200, "{page}");
        ids(&page) == [held.as_str()]
    })
    .await;
    let key = format!("{{cg:rv}}:i:{held}");
    assert_eq!(redis.command(&["EXISTS", &key]), ":1");
    let ttl: i64 = redis.command(&["PTTL", &key])[1..].parse().unwrap();
    assert!((1..=5000).contains(&ttl), "ttl {ttl}");
    assert!(!std::fs::exists(second.settings.data_dir.join("review-history.jsonl")).unwrap());
    // After the retention: gone from the queue, and from Redis.
    tokio::time::sleep_until((answered + Duration::from_millis(5100)).into()).await;
    assert!(ids(&queue(&second, "status=all").await.1).is_empty());
    assert_eq!(redis.command(&["EXISTS", &key]), ":0");
    assert_eq!(redis.command(&["ZCARD", "{cg:rv}:idx"]), ":0");
}

#[tokio::test]
async fn redis_history_beyond_its_cap_deletes_the_oldest_entries_not_just_their_index() {
    let redis = RedisServer::start();
    // A full history: 20,000 entries from the last minute, oldest first.
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let fake: Vec<String> = (0..20_000).map(|n| format!("f{n:05}")).collect();
    let mut zadd = vec!["ZADD".to_owned(), "{cg:rv}:idx".to_owned()];
    let mut mset = vec!["MSET".to_owned()];
    for (n, id) in fake.iter().enumerate() {
        zadd.push((now_ms - 60_000 + n as u128).to_string());
        zadd.push(id.clone());
        mset.push(format!("{{cg:rv}}:i:{id}"));
        mset.push("{}".to_owned());
    }
    fn args(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }
    assert_eq!(redis.command(&args(&zadd)), ":20000");
    assert_eq!(redis.command(&args(&mset)), "+OK");
    let url = redis.url();
    let app = spawn_app_with(move |s| s.redis_url = Some(url)).await;
    let held = scored(&app, &held_comment("cap"), "hold").await;
    eventually("the oldest entry deleted", || async {
        redis.command(&["EXISTS", "{cg:rv}:i:f00000"]) == ":0"
    })
    .await;
    assert_eq!(redis.command(&["ZCARD", "{cg:rv}:idx"]), ":20000");
    assert_eq!(redis.command(&["EXISTS", "{cg:rv}:i:f00001"]), ":1");
    assert_eq!(
        redis.command(&["EXISTS", &format!("{{cg:rv}}:i:{held}")]),
        ":1"
    );
}

#[tokio::test]
async fn scoring_goes_on_when_redis_is_down_and_the_failures_are_counted() {
    let mut redis = RedisServer::start();
    let url = redis.url();
    let app = spawn_app_with(move |s| s.redis_url = Some(url)).await;
    redis.kill();
    let start = Instant::now();
    scored(&app, &held_comment("down"), "hold").await;
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    // The write fails after the answer (or at once once the breaker is open): counted.
    eventually("the failed write counted", || async {
        let metrics = app
            .request(Method::GET, "/metrics")
            .await
            .text()
            .await
            .unwrap();
        let errors: u64 = metrics
            .lines()
            .find_map(|l| l.strip_prefix("commentguard_review_history_errors_total "))
            .expect("the error counter")
            .parse()
            .unwrap();
        errors >= 1
    })
    .await;
    let response = app.request(Method::GET, "/v1/review/queue").await;
    assert_error(
        response,
        503,
        "review_history_unavailable",
        "queue with Redis down",
    )
    .await;
}

#[tokio::test]
async fn the_summary_shows_the_model_labels_and_verdicts_per_day() {
    let app = spawn_app().await;
    scored(&app, &held_comment("sum"), "hold").await;
    scored(&app, &spam_comment("sum"), "spam").await;
    let (status, summary) =
        status_and_json(app.request(Method::GET, "/v1/review/summary").await).await;
    assert_eq!(status, 200, "{summary}");
    assert_eq!(summary["role"], "admin", "open local mode");
    assert!(summary["model_version"]
        .as_str()
        .unwrap()
        .starts_with("nb-"));
    assert_eq!(summary["triggered_by"], "shipped");
    assert_eq!(summary["review_store"], "file");
    let days = summary["verdicts_per_day"].as_array().unwrap();
    assert_eq!(days.len(), 14);
    let today = &days[13];
    assert_eq!(
        (today["hold"].as_u64(), today["spam"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(summary["labels_since_trained"], 0);
    let (status, _) = app
        .feedback(&json!({"label": "ham", "comment": {"content": "A fine comment."}}))
        .await;
    assert_eq!(status, 200);
    let (_, summary) = status_and_json(app.request(Method::GET, "/v1/review/summary").await).await;
    assert_eq!(summary["labels_since_trained"], 1);
    assert_eq!(summary["labels_total"], 1);
}

#[tokio::test]
async fn the_console_is_served_from_the_binary_with_a_strict_csp() {
    let app = spawn_app().await;
    for (path, media) in [
        ("/console", "text/html"),
        ("/console/app.js", "text/javascript"),
        ("/console/app.css", "text/css"),
    ] {
        let response = app.request(Method::GET, path).await;
        assert_eq!(response.status().as_u16(), 200, "{path}");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        assert!(header("content-type").starts_with(media), "{path}");
        let csp = header("content-security-policy");
        assert!(
            csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
            "{path}: {csp}"
        );
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(header("x-content-type-options"), "nosniff");
        assert!(!response.text().await.unwrap().is_empty());
    }
    let response = app.request(Method::POST, "/console").await;
    assert_error(response, 405, "method_not_allowed", "POST /console").await;
}
