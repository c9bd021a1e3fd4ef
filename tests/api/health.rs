//! `/healthz`, `/readyz`, and the JSON fallbacks for unknown paths and methods.

use reqwest::Method;

use crate::helpers::{assert_error, spawn_app, status_and_json};

#[tokio::test]
async fn healthz_says_ok() {
    let app = spawn_app().await;
    let (status, body) = status_and_json(app.request(Method::GET, "/healthz").await).await;
    assert_eq!(status, 200);
    assert_eq!(body, serde_json::json!({ "status": "ok" }));
}

#[tokio::test]
async fn readyz_reports_the_model_version() {
    let app = spawn_app().await;
    let (status, body) = status_and_json(app.request(Method::GET, "/readyz").await).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ready");
    let version = body["model_version"]
        .as_str()
        .expect("model_version is a string");
    assert!(!version.is_empty());
}

#[tokio::test]
async fn unknown_paths_and_methods_get_json_errors() {
    let app = spawn_app().await;
    // (method, path, status, code, why)
    let cases = [
        (Method::GET, "/nope", 404, "not_found", "no such route"),
        (
            Method::GET,
            "/v1/comments/score/extra",
            404,
            "not_found",
            "below a real route",
        ),
        (
            Method::POST,
            "/healthz/",
            404,
            "not_found",
            "trailing slash is another path",
        ),
        (
            Method::GET,
            "/v1/comments/score",
            405,
            "method_not_allowed",
            "score is POST only",
        ),
        (
            Method::DELETE,
            "/v1/comments/score",
            405,
            "method_not_allowed",
            "score is POST only",
        ),
        (
            Method::POST,
            "/healthz",
            405,
            "method_not_allowed",
            "healthz is GET only",
        ),
        (
            Method::PUT,
            "/readyz",
            405,
            "method_not_allowed",
            "readyz is GET only",
        ),
    ];
    for (method, path, status, code, why) in cases {
        let case = format!("{method} {path} ({why})");
        let response = app.request(method, path).await;
        if status == 405 {
            assert!(
                response.headers().contains_key("allow"),
                "{case}: no Allow header"
            );
        }
        assert_error(response, status, code, &case).await;
    }
}
