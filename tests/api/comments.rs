//! The verdict cache as the platform sees it: rechecks, `GET /v1/comments/{id}`, expiry.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::helpers::{assert_error, spawn_app, spawn_app_with, status_and_json};

#[tokio::test]
async fn a_recheck_is_served_from_the_cache_with_the_same_verdict_id() {
    let app = spawn_app().await;
    let comment =
        json!({"content": "Lovely recipe, I added a pinch of smoked paprika.", "author": "Ann"});
    let (status, first) = status_and_json(app.post_score(&comment).await).await;
    assert_eq!(status, 200);
    assert_eq!(first["cached"], false);
    let (status, second) = status_and_json(app.post_score(&comment).await).await;
    assert_eq!(status, 200);
    assert_eq!(
        second["cached"], true,
        "the second identical request is a hit"
    );
    assert_eq!(second["verdict_id"], first["verdict_id"]);
    assert_eq!(second["verdict"], first["verdict"]);

    // Invisible characters do not make a different comment.
    let sneaky = json!({"content": "Lovely re\u{200B}cipe, I added a pinch of smoked paprika.", "author": "Ann"});
    let (_, third) = status_and_json(app.post_score(&sneaky).await).await;
    assert_eq!(third["cached"], true);

    // Any field that can change a verdict makes a different key.
    let other_author =
        json!({"content": "Lovely recipe, I added a pinch of smoked paprika.", "author": "Bob"});
    let (_, fourth) = status_and_json(app.post_score(&other_author).await).await;
    assert_eq!(fourth["cached"], false);
}

#[tokio::test]
async fn the_last_verdict_is_found_by_platform_id_and_by_verdict_id() {
    let app = spawn_app().await;
    let (status, scored) = status_and_json(
        app.post_score(&json!({"content": "First!", "id": "post-42/c-7"}))
            .await,
    )
    .await;
    assert_eq!(status, 200);
    let verdict_id = scored["verdict_id"].as_str().unwrap().to_string();
    for id in ["post-42%2Fc-7", verdict_id.as_str()] {
        let (status, got) = status_and_json(
            app.request(Method::GET, &format!("/v1/comments/{id}"))
                .await,
        )
        .await;
        assert_eq!(status, 200, "lookup by {id}");
        assert_eq!(got["verdict_id"], scored["verdict_id"]);
        assert_eq!(got["verdict"], scored["verdict"]);
        assert_eq!(got["cached"], true);
    }
    let response = app.request(Method::GET, "/v1/comments/never-seen").await;
    assert_error(response, 404, "unknown_comment", "an id never scored").await;
    let response = app.request(Method::DELETE, "/v1/comments/never-seen").await;
    assert_error(
        response,
        405,
        "method_not_allowed",
        "the resource is read-only",
    )
    .await;
}

#[tokio::test]
async fn cached_verdicts_expire_after_the_ttl() {
    let app = spawn_app_with(|s| s.cache_ttl = Duration::from_millis(300)).await;
    let comment = json!({"content": "Does this work with gluten-free flour?", "id": "c-1"});
    let (_, first) = status_and_json(app.post_score(&comment).await).await;
    let (_, second) = status_and_json(app.post_score(&comment).await).await;
    assert_eq!(second["cached"], true);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, third) = status_and_json(app.post_score(&comment).await).await;
    assert_eq!(third["cached"], false, "expired: scored again");
    assert_ne!(third["verdict_id"], first["verdict_id"]);
}

#[tokio::test]
async fn readyz_reports_the_cache() {
    let app = spawn_app().await;
    let (status, body) = status_and_json(app.request(Method::GET, "/readyz").await).await;
    assert_eq!(status, 200);
    assert_eq!(body["cache"], "ok");
}
