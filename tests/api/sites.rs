//! Per-site learning: a site's own labels count for that site far more than for others,
//! and survive a retrained model being put in service.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, status_and_json, TestApp};

const SITE_A: &str = "https://a.example";
const SITE_B: &str = "https://b.example";
/// Verdicts that call a comment spam (`discard`: spam beyond doubt).
const SPAM_SIDE: [&str; 2] = ["spam", "discard"];

/// One variant of a friendly-looking template (distinct comments, so none is a repeat).
fn variant(site: &str, n: usize) -> Value {
    json!({
        "content": format!(
            "Lovely photos of the lake, we walked there last summer with the kids. Day {n}."
        ),
        "site": site,
    })
}

async fn get(app: &TestApp, path: &str) -> Value {
    let (status, body) = status_and_json(app.send(Method::GET, path, None, None).await).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

/// The `sites` of the active model in `GET /v1/admin/models`.
async fn site_labels(app: &TestApp) -> Value {
    let models = get(app, "/v1/admin/models").await;
    let active: Vec<&Value> = models
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["active"] == true)
        .collect();
    assert_eq!(active.len(), 1, "{models}");
    active[0]["sites"].clone()
}

/// Scores a fresh variant at A and at B: (A's verdict, A's probability, B's probability).
/// Both are near-duplicates of labelled spam (`fuzzy.labelled_spam`, a network signal that
/// fires at every site alike), so the probabilities differ by the classifier alone.
async fn recheck(app: &TestApp, n: usize) -> (String, f64, f64) {
    let a = app.score(&variant(SITE_A, n)).await;
    let b = app.score(&variant(SITE_B, n)).await;
    (
        a["verdict"].as_str().unwrap().to_owned(),
        a["spam_probability"].as_f64().unwrap(),
        b["spam_probability"].as_f64().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn twenty_spam_labels_at_a_site_make_its_template_spam_there_more_than_elsewhere() {
    let app = spawn_app().await;
    let before = app.score(&variant(SITE_B, 100)).await;
    assert_ne!(
        before["verdict"], "spam",
        "the template starts as not spam: {before}"
    );
    let p0 = before["spam_probability"].as_f64().unwrap();
    assert_eq!(site_labels(&app).await, json!([]), "no site has labels yet");

    for n in 0..20 {
        let (status, body) = app
            .feedback(&json!({"label": "spam", "comment": variant(SITE_A, n)}))
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["duplicate"], false, "{body}");
    }
    let (verdict, at_a, at_b) = recheck(&app, 101).await;
    assert!(
        SPAM_SIDE.contains(&verdict.as_str()),
        "A's recheck: {verdict}, p={at_a}"
    );
    assert!(
        p0 < at_b && at_b < at_a,
        "B moved from {p0} to {at_b}, A to {at_a}"
    );
    let twenty = json!([{"site": SITE_A, "spam": 20, "ham": 0}]);
    assert_eq!(site_labels(&app).await, twenty);

    // A retrained model takes the labels into its shared counts; the site's layer is
    // rebuilt over it, once (not counted twice, not lost).
    let (status, job) = status_and_json(
        app.send(
            Method::POST,
            "/v1/admin/retrain",
            None,
            Some(&json!({"force": true})),
        )
        .await,
    )
    .await;
    assert_eq!(status, 202, "{job}");
    let path = format!("/v1/admin/jobs/{}", job["job_id"].as_str().unwrap());
    let deadline = Instant::now() + Duration::from_secs(300);
    let job = loop {
        let job = get(&app, &path).await;
        if !matches!(job["state"].as_str(), Some("queued" | "running")) {
            break job;
        }
        assert!(Instant::now() < deadline, "job never finished: {job}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(site_labels(&app).await, twenty, "after the swap");
    // The shared counts now know the whole template as spam, which saturates the
    // probability at both sites (1.0 to four places); half of it shows A's layer.
    let half = |site| json!({"content": "Lovely photos of the lake. Day 102.", "site": site});
    let (a, b) = (
        app.score(&half(SITE_A)).await,
        app.score(&half(SITE_B)).await,
    );
    let (at_a, at_b) = (
        a["spam_probability"].as_f64().unwrap(),
        b["spam_probability"].as_f64().unwrap(),
    );
    assert!(
        SPAM_SIDE.contains(&a["verdict"].as_str().unwrap()),
        "A's recheck after the retrain: {a}"
    );
    assert!(at_b < at_a, "after the retrain B {at_b}, A {at_a}");
}
