//! Moderator corrections: durable labels, pins, repeats and relabels, export, the spam
//! memory, learning at once, and surviving SIGKILL.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app, status_and_json, BinaryService};

fn reason_ids(verdict: &Value) -> Vec<String> {
    verdict["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_correction_pins_the_comment_counts_once_and_a_relabel_reverses_it() {
    let app = spawn_app().await;
    let comment =
        json!({"content": "Great tips on sourdough, my loaf finally rose!", "author": "Bea"});
    let first = app.score(&comment).await;
    let verdict_id = first["verdict_id"].as_str().unwrap();

    let (status, spam) = app
        .feedback(&json!({"label": "spam", "verdict_id": verdict_id, "moderator": "mo"}))
        .await;
    assert_eq!(status, 200, "{spam}");
    assert_eq!(
        (spam["duplicate"].as_bool(), spam["label"].as_str()),
        (Some(false), Some("spam"))
    );

    let pinned = app.score(&comment).await;
    assert_eq!(pinned["verdict"], "spam", "{pinned}");
    assert_eq!(reason_ids(&pinned)[0], "moderator.label");
    assert_eq!(pinned["cached"], false, "a pin beats the cached verdict");

    // The same label again, sent with the comment itself this time: counted once.
    let (_, again) = app
        .feedback(&json!({"label": "spam", "comment": comment}))
        .await;
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["label_id"], spam["label_id"]);

    let (_, ham) = app
        .feedback(&json!({"label": "ham", "comment": comment}))
        .await;
    assert_eq!(
        (ham["duplicate"].as_bool(), ham["previous"].as_str()),
        (Some(false), Some("spam"))
    );
    assert_eq!(app.score(&comment).await["verdict"], "approve");

    let labels = app.send(Method::GET, "/v1/labels", None, None).await;
    assert_eq!(
        labels.headers()["content-type"].to_str().unwrap(),
        "application/x-ndjson"
    );
    let text = labels.text().await.unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "one comment, its latest label: {text}");
    assert_eq!(lines[0]["label"], "ham");
    assert_eq!(lines[0]["text"], comment["content"]);
    assert_eq!(lines[0]["author"], "Bea");
    assert_eq!(lines[0]["label_id"], ham["label_id"]);
}

#[tokio::test]
async fn bad_corrections_get_codes() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({"label": "spam", "verdict_id": "00000000000000000000000000000000"}),
            404,
            "unknown_verdict",
            "expired or never given",
        ),
        (
            json!({"label": "spam"}),
            400,
            "invalid_field",
            "nothing to label",
        ),
        (
            json!({"label": "junk", "comment": {"content": "x"}}),
            400,
            "invalid_field",
            "not a label",
        ),
        (
            json!({"label": "ham", "comment": {"content": ""}}),
            400,
            "empty_content",
            "empty comment",
        ),
    ];
    for (body, status, code, why) in cases {
        let response = app
            .send(Method::POST, "/v1/feedback", None, Some(&body))
            .await;
        assert_error(response, status, code, why).await;
    }
    let response = app
        .send(Method::GET, "/v1/labels?limit=0", None, None)
        .await;
    assert_error(response, 400, "invalid_query", "limit 0").await;
}

#[tokio::test]
async fn spam_memory_catches_the_next_comment_from_a_confirmed_spammer_until_ham_clears_it() {
    let app = spawn_app().await;
    let spam = json!({
        "content": "Earn money from home, ask me how",
        "author_email": "earner@spam.example",
        "user_ip": "203.0.113.9",
    });
    let (status, _) = app
        .feedback(&json!({"label": "spam", "comment": spam}))
        .await;
    assert_eq!(status, 200);
    let next = json!({
        "content": "What a thoughtful article about birdwatching.",
        "author_email": "Earner@spam.example",
        "user_ip": "198.51.100.20",
    });
    let verdict = app.score(&next).await;
    assert!(
        reason_ids(&verdict).contains(&"memory.author_email".to_owned()),
        "{verdict}"
    );
    assert_eq!(verdict["verdict"], "spam");

    let (status, _) = app
        .feedback(&json!({"label": "ham", "comment": {
            "content": "Sorry, my account was hacked last week.",
            "author_email": "earner@spam.example"}}))
        .await;
    assert_eq!(status, 200);
    let again = json!({
        "content": "What a thoughtful article about birdwatching, again.",
        "author_email": "earner@spam.example",
    });
    let verdict = app.score(&again).await;
    assert!(
        !reason_ids(&verdict)
            .iter()
            .any(|r| r.starts_with("memory.")),
        "{verdict}"
    );
}

#[tokio::test]
async fn labels_move_similar_comments_at_once() {
    let app = spawn_app().await;
    let probe = json!({"content": "Our knitting circle meets on Tuesdays, wool and tea provided"});
    let before = app.score(&probe).await["spam_probability"]
        .as_f64()
        .unwrap();
    for variant in [
        "Knitting circle Tuesdays, bring wool, tea provided",
        "Join our knitting circle, wool and tea every Tuesday",
        "Tuesday knitting circle: wool, tea and friends",
    ] {
        let (status, _) = app
            .feedback(&json!({"label": "spam", "comment": {"content": variant}}))
            .await;
        assert_eq!(status, 200);
    }
    // A different comment, so neither a pin nor the cache answers: only the model moved.
    let similar = json!({"content": "Our knitting circle meets on Tuesdays, wool and tea for all"});
    let after = app.score(&similar).await["spam_probability"]
        .as_f64()
        .unwrap();
    assert!(after > before + 0.05, "probability {before} -> {after}");
}

#[tokio::test]
async fn corrections_racing_scores_never_fail() {
    let app = spawn_app().await;
    let mut tasks = Vec::new();
    for i in 0..200 {
        let client = app.client.clone();
        let base = app.address.clone();
        tasks.push(tokio::spawn(async move {
            let comment = json!({"content": format!("Comment number {} about gardening", i % 40)});
            let (path, body) = if i % 4 == 0 {
                let label = if i % 8 == 0 { "spam" } else { "ham" };
                ("/v1/feedback", json!({"label": label, "comment": comment}))
            } else {
                ("/v1/comments/score", comment)
            };
            let response = client
                .post(format!("{base}{path}"))
                .json(&body)
                .send()
                .await
                .unwrap();
            response.status().as_u16()
        }));
    }
    for task in tasks {
        let status = task.await.unwrap();
        assert_eq!(status, 200);
    }
}

async fn post(client: &reqwest::Client, url: String, body: &Value) -> Value {
    let response = client.post(url).json(body).send().await.unwrap();
    let (status, json) = status_and_json(response).await;
    assert_eq!(status, 200, "{json}");
    json
}

#[tokio::test]
async fn every_acknowledged_label_and_its_effect_survive_sigkill() {
    let data = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let probe = json!({"content": "Fresh crochet patterns for cosy winter blankets"});

    let mut service = BinaryService::start(data.path(), &[("COMMENTGUARD_WORKERS", "2")]).await;
    let mut sent = Vec::new();
    let mut tasks = Vec::new();
    for i in 0..30 {
        let client = client.clone();
        let url = format!("{}/v1/feedback", service.address);
        let comment =
            json!({"content": format!("Crochet blanket pattern number {i}, cosy and warm")});
        let label = if i % 3 == 0 { "ham" } else { "spam" };
        sent.push((comment.clone(), label));
        tasks.push(tokio::spawn(async move {
            post(&client, url, &json!({"label": label, "comment": comment})).await
        }));
    }
    let mut acknowledged = Vec::new();
    for task in tasks {
        acknowledged.push(task.await.unwrap()["label_id"].as_str().unwrap().to_owned());
    }
    let learned = post(
        &client,
        format!("{}/v1/comments/score", service.address),
        &probe,
    )
    .await;
    // Straight after the last 200: no clean shutdown, no flush.
    service.sigkill();

    let service = BinaryService::start(data.path(), &[("COMMENTGUARD_WORKERS", "2")]).await;
    let text = client
        .get(format!("{}/v1/labels", service.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let exported: Vec<String> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["label_id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    for id in &acknowledged {
        assert!(exported.contains(id), "label {id} lost in the crash");
    }
    for (comment, label) in &sent {
        let verdict = post(
            &client,
            format!("{}/v1/comments/score", service.address),
            comment,
        )
        .await;
        let want = if *label == "spam" { "spam" } else { "approve" };
        assert_eq!(verdict["verdict"], want, "pin lost for {comment}");
    }
    let after = post(
        &client,
        format!("{}/v1/comments/score", service.address),
        &probe,
    )
    .await;
    assert_eq!(
        after["spam_probability"], learned["spam_probability"],
        "the learned model is rebuilt exactly"
    );
}
