//! Retraining: jobs, the evaluation gate, the registry, rollback, and a corrupt artifact.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app, spawn_app_with, status_and_json, TestApp};

async fn get(app: &TestApp, path: &str) -> Value {
    let (status, body) = status_and_json(app.send(Method::GET, path, None, None).await).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

/// Starts a retraining job on `app` with `body`; answers its id.
pub async fn start_retrain(app: &TestApp, body: Value) -> String {
    let response = app
        .send(Method::POST, "/v1/admin/retrain", None, Some(&body))
        .await;
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, 202, "{body}");
    body["job_id"].as_str().unwrap().to_owned()
}

/// Polls the job on `app` (which need not be the replica running it) until it ends.
pub async fn wait_for_job(app: &TestApp, job_id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let job = get(app, &format!("/v1/admin/jobs/{job_id}")).await;
        if !matches!(job["state"].as_str(), Some("queued" | "running")) {
            return job;
        }
        assert!(Instant::now() < deadline, "job never finished: {job}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn active_version(models: &Value) -> String {
    let active: Vec<&Value> = models
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["active"] == true)
        .collect();
    assert_eq!(active.len(), 1, "exactly one active: {models}");
    active[0]["version"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn retrain_promotes_and_rollback_restores_while_scores_never_fail() {
    let app = spawn_app().await;
    let models = get(&app, "/v1/admin/models").await;
    assert_eq!(
        models.as_array().unwrap().len(),
        1,
        "the shipped model is listed: {models}"
    );
    assert_eq!(models[0]["triggered_by"], "shipped");
    let shipped = active_version(&models);

    for (text, label) in [
        (
            "Visit my store for discount sunglasses at shades.example",
            "spam",
        ),
        ("Thank you, this helped me fix my bike's brakes", "ham"),
    ] {
        let (status, _) = app
            .feedback(&json!({"label": label, "comment": {"content": text}}))
            .await;
        assert_eq!(status, 200);
    }

    // A stream of score requests runs across the whole retraining.
    let client = app.client.clone();
    let url = format!("{}/v1/comments/score", app.address);
    let load = tokio::spawn(async move {
        let mut versions = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(600);
        for i in 0.. {
            let body = json!({"content": format!("Comment {i} about the garden and the weather")});
            let response = client.post(&url).json(&body).send().await.unwrap();
            assert_eq!(response.status().as_u16(), 200);
            let body: Value = response.json().await.unwrap();
            versions.push(body["model_version"].as_str().unwrap().to_owned());
            if versions.len() > 20
                && (versions.last() != versions.first() || Instant::now() > deadline)
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        versions
    });

    let job_id = start_retrain(&app, json!({})).await;
    let second = app
        .send(Method::POST, "/v1/admin/retrain", None, None)
        .await;
    assert_error(
        second,
        409,
        "retrain_in_progress",
        "a second job while one runs",
    )
    .await;
    let job = wait_for_job(&app, &job_id).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    // Held spam does not count as caught, and the first day holds the corpus's blog praise
    // whose author URL the source lost: a sound model scores about 0.90 here.
    assert!(job["candidate"]["f1"].as_f64().unwrap() > 0.85, "{job}");
    assert!(job["current"]["f1"].is_number(), "{job}");
    assert_eq!(job["label_docs"], 2);
    // Every stage that ran has its time, and together they are the job's duration.
    let timings = job["timings"].as_array().expect("timings");
    let stages: Vec<&str> = timings
        .iter()
        .map(|t| t["stage"].as_str().unwrap())
        .collect();
    assert_eq!(stages.first(), Some(&"starting"), "{job}");
    assert_eq!(stages.last(), Some(&"activating"), "{job}");
    let total: f64 = timings.iter().map(|t| t["secs"].as_f64().unwrap()).sum();
    let duration = job["duration_secs"].as_f64().unwrap();
    assert!(
        (total - duration).abs() < 1e-6,
        "{total} vs {duration}: {job}"
    );
    let promoted = job["model_version"].as_str().unwrap().to_owned();
    assert_ne!(promoted, shipped);

    let versions = load.await.unwrap();
    for v in &versions {
        assert!(v == &shipped || v == &promoted, "unknown version {v}");
    }
    assert_eq!(
        versions.last().unwrap(),
        &promoted,
        "scores moved to the new model"
    );

    let models = get(&app, "/v1/admin/models").await;
    assert_eq!(models.as_array().unwrap().len(), 2);
    assert_eq!(active_version(&models), promoted);
    let entry = models
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["version"] == promoted.as_str())
        .unwrap();
    assert_eq!(entry["parent"], shipped.as_str());
    assert_eq!(entry["labels_through"], 2);

    // The label learned before promotion is in the new model and is still pinned.
    let pinned = app
        .score(&json!({"content": "Visit my store for discount sunglasses at shades.example"}))
        .await;
    assert_eq!(pinned["verdict"], "spam");

    // Roll back to the shipped model.
    let path = format!("/v1/admin/models/{shipped}/activate");
    let (status, _) = status_and_json(app.send(Method::POST, &path, None, None).await).await;
    assert_eq!(status, 200);
    assert_eq!(
        active_version(&get(&app, "/v1/admin/models").await),
        shipped
    );
    let after = app
        .score(&json!({"content": "A brand new comment after the rollback"}))
        .await;
    assert_eq!(after["model_version"], shipped.as_str());
    let missing = app
        .send(
            Method::POST,
            "/v1/admin/models/nb-000000000000/activate",
            None,
            None,
        )
        .await;
    assert_error(missing, 404, "unknown_version", "no such version").await;
    let sneaky = app
        .send(
            Method::POST,
            "/v1/admin/models/..%2F..%2Fkeys.json/activate",
            None,
            None,
        )
        .await;
    assert!(sneaky.status().is_client_error());
}

#[tokio::test(flavor = "multi_thread")]
async fn contradictory_labels_are_rejected_by_the_gate_unless_forced() {
    let app = spawn_app().await;
    // Obvious spam from the shipped corpus, labelled ham: poison.
    let spam: Vec<String> = commentguard::corpus::shipped_corpus()
        .into_iter()
        .filter(|r| r.label == commentguard::domain::Label::Spam)
        .map(|r| r.text)
        .take(400)
        .collect();
    for text in &spam {
        let (status, body) = app
            .feedback(&json!({"label": "ham", "comment": {"content": text}}))
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let before = active_version(&get(&app, "/v1/admin/models").await);
    let job = wait_for_job(&app, &start_retrain(&app, json!({})).await).await;
    assert_eq!(job["state"], "rejected", "{job}");
    let (candidate, current) = (&job["candidate"], &job["current"]);
    assert!(
        candidate["f1"].as_f64().unwrap() < current["f1"].as_f64().unwrap(),
        "both figures are reported and the candidate is worse: {job}"
    );
    assert!(job["gate"].as_str().unwrap().contains("too"), "{job}");
    assert_eq!(active_version(&get(&app, "/v1/admin/models").await), before);

    let forced = wait_for_job(&app, &start_retrain(&app, json!({"force": true})).await).await;
    assert_eq!(forced["state"], "succeeded", "{forced}");
    assert!(
        forced["gate"].as_str().unwrap().contains("forced"),
        "{forced}"
    );
    let models = get(&app, "/v1/admin/models").await;
    let promoted = models
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["active"] == true)
        .unwrap();
    assert_eq!(promoted["forced"], true, "{models}");
}

#[tokio::test]
async fn a_corrupt_active_artifact_is_refused_at_start_and_the_previous_version_serves() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_path_buf();
    let app = spawn_app_with(|s| s.data_dir = dir.clone()).await;
    let shipped = active_version(&get(&app, "/v1/admin/models").await);
    // Register a second version by hand: the shipped model retrained with other bits.
    let job = wait_for_job(&app, &start_retrain(&app, json!({"force": true})).await).await;
    let promoted = job["model_version"].as_str().unwrap().to_owned();
    drop(app);

    let artifact = dir.join("models").join(&promoted).join("model.postcard");
    let mut bytes = std::fs::read(&artifact).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&artifact, bytes).unwrap();

    let app = spawn_app_with(|s| s.data_dir = dir.clone()).await;
    let models = get(&app, "/v1/admin/models").await;
    assert_eq!(active_version(&models), shipped, "{models}");
    let verdict = app
        .score(&json!({"content": "Hello there, nice post"}))
        .await;
    assert_eq!(verdict["model_version"], shipped.as_str());
    let path = format!("/v1/admin/models/{promoted}/activate");
    let response = app.send(Method::POST, &path, None, None).await;
    assert_error(
        response,
        422,
        "model_corrupt",
        "a corrupt version cannot be activated",
    )
    .await;
}

/// Scores fresh comments on `app` until its model version is `version`; panics after `limit`.
async fn wait_for_version(app: &TestApp, version: &str, limit: Duration) -> Duration {
    let started = Instant::now();
    for i in 0.. {
        let verdict = app
            .score(&json!({"content": format!("Fresh comment {i} {}", rand::random::<u64>())}))
            .await;
        if verdict["model_version"] == version {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < limit,
            "still on {} after {limit:?}",
            verdict["model_version"]
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    unreachable!()
}

#[tokio::test(flavor = "multi_thread")]
async fn replicas_on_one_redis_follow_promotions_and_rollbacks() {
    let redis = crate::redis_server::RedisServer::start();
    let registry = tempfile::tempdir().unwrap();
    let spawn = || {
        let url = redis.url();
        let registry = registry.path().to_path_buf();
        spawn_app_with(move |s| {
            s.redis_url = Some(url);
            s.registry_dir = Some(registry);
        })
    };
    let (a, b) = (spawn().await, spawn().await);
    let shipped = active_version(&get(&a, "/v1/admin/models").await);

    let job = wait_for_job(&a, &start_retrain(&a, json!({"force": true})).await).await;
    let promoted = job["model_version"].as_str().unwrap().to_owned();
    let took = wait_for_version(&b, &promoted, Duration::from_secs(2)).await;
    println!("replica b followed the promotion in {took:?}");

    let path = format!("/v1/admin/models/{shipped}/activate");
    let (status, _) = status_and_json(b.send(Method::POST, &path, None, None).await).await;
    assert_eq!(status, 200);
    let took = wait_for_version(&a, &shipped, Duration::from_secs(2)).await;
    println!("replica a followed the rollback in {took:?}");
    assert_eq!(active_version(&get(&a, "/v1/admin/models").await), shipped);
}

#[tokio::test]
async fn retrain_bodies_go_through_the_json_body_reader() {
    let app = spawn_app().await;
    let post = |content_type: Option<&'static str>, body: Vec<u8>| {
        let mut request = app.client.post(format!("{}/v1/admin/retrain", app.address));
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        request.body(body).send()
    };
    // (content type, body, status, code, why); every case is refused before a job starts.
    type Case = (
        Option<&'static str>,
        Vec<u8>,
        u16,
        &'static str,
        &'static str,
    );
    let cases: Vec<Case> = vec![
        (
            Some("application/json"),
            vec![b' '; 300 * 1024],
            413,
            "payload_too_large",
            "over the retrain limit: JSON, not actix's plain text",
        ),
        (
            Some("text/plain"),
            b"{}".to_vec(),
            415,
            "unsupported_media_type",
            "a body must be JSON",
        ),
        (
            None,
            b"{\"force\":true}".to_vec(),
            415,
            "unsupported_media_type",
            "a body without a type is not taken for JSON",
        ),
        (
            Some("application/json"),
            b"{\"holdout\":\"half\"}".to_vec(),
            400,
            "invalid_field",
            "a field of the wrong type, named",
        ),
        (
            Some("application/json"),
            b"{\"force\":\xff}".to_vec(),
            400,
            "invalid_utf8",
            "not UTF-8",
        ),
    ];
    for (content_type, body, status, code, why) in cases {
        let response = post(content_type, body).await.expect("request failed");
        let message = assert_error(response, status, code, why).await;
        if code == "invalid_field" {
            assert!(message.contains("`holdout`"), "{why}: {message}");
            assert!(
                !message.contains("half"),
                "{why}: echoes the value: {message}"
            );
        }
    }
    let jobs = get(&app, "/v1/admin/models").await;
    assert_eq!(jobs.as_array().map(Vec::len), Some(1), "no job ran: {jobs}");
}
