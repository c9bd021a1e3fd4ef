//! Labels in PostgreSQL (`COMMENTGUARD_DATABASE_URL`): shared by replicas, learned by each
//! within a second, caught up by a replica that starts later, counted once however many
//! replicas write at once; a newer schema refused; an outage costing corrections (503), not
//! scoring.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app_with, status_and_json, within, TestApp};
use crate::postgres_server::{execute, fresh_schema, PostgresServer};

async fn replica(url: &str) -> TestApp {
    let url = url.to_owned();
    spawn_app_with(move |s| s.database_url = Some(url)).await
}

/// The labels `GET /v1/labels` lists (one line per labelled comment).
async fn listed(app: &TestApp) -> Vec<Value> {
    let response = app.send(Method::GET, "/v1/labels", None, None).await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

async fn ready(app: &TestApp) -> Value {
    status_and_json(app.request(Method::GET, "/readyz").await)
        .await
        .1
}

#[tokio::test]
async fn a_label_on_one_replica_reaches_the_others_and_a_late_replica_catches_up() {
    let url = fresh_schema("cg_replicas").await;
    let (a, b) = (replica(&url).await, replica(&url).await);
    let comment = json!({"content": "Lovely photos of the harbour at dawn, thanks for sharing",
                         "author": "Pat", "site": "https://blog.example.com"});
    assert_eq!(b.score(&comment).await["verdict"], "approve");

    let (status, recorded) = a
        .feedback(&json!({"label": "spam", "comment": comment}))
        .await;
    assert_eq!(
        (status, &recorded["duplicate"]),
        (200, &json!(false)),
        "{recorded}"
    );
    // B learns it without being told: within a second its verdict is the moderator's.
    let took = within(Duration::from_secs(1), || async {
        b.score(&comment).await["verdict"] == "spam"
    })
    .await;
    assert!(
        took.is_some(),
        "replica B did not learn the label within 1 s"
    );
    let on_b = listed(&b).await;
    assert_eq!(on_b.len(), 1, "{on_b:?}");
    assert_eq!(on_b[0]["label_id"], recorded["label_id"]);

    // The same label through B is a repeat, whichever replica took the first.
    let (_, again) = b
        .feedback(&json!({"label": "spam", "comment": comment}))
        .await;
    assert_eq!(again["duplicate"], true, "{again}");
    assert_eq!(again["label_id"], recorded["label_id"]);
    // A relabel through B reverses it everywhere.
    let (_, ham) = b
        .feedback(&json!({"label": "ham", "comment": comment}))
        .await;
    assert_eq!(ham["previous"], "spam", "{ham}");
    let back = within(Duration::from_secs(1), || async {
        a.score(&comment).await["verdict"] == "approve"
    })
    .await;
    assert!(
        back.is_some(),
        "replica A did not learn the relabel within 1 s"
    );

    // A replica started now reads the labels in force at start.
    let c = replica(&url).await;
    let on_c = listed(&c).await;
    assert_eq!(on_c.len(), 1, "{on_c:?}");
    assert_eq!(on_c[0]["label"], "ham");
    assert_eq!(c.score(&comment).await["verdict"], "approve");
    let rows = execute(&url, "SELECT seq FROM cg_labels ORDER BY seq").await;
    assert_eq!(
        rows.len(),
        2,
        "one spam label and one relabel, the repeat not written"
    );
    assert_eq!(ready(&c).await["labels"], "ok");
}

#[tokio::test]
async fn replicas_writing_at_once_each_apply_every_label_once() {
    let url = fresh_schema("cg_concurrent").await;
    let (a, b) = (replica(&url).await, replica(&url).await);
    let comment = |i: usize| {
        json!({"content": format!("Cheap watches number {i} at replica-store.example, buy now"),
               "author": format!("seller{i}")})
    };
    // 40 labels, half through each replica, 8 at a time.
    let mut sends = Vec::new();
    for i in 0..40 {
        let app = if i % 2 == 0 { &a } else { &b };
        sends.push(async move {
            let (status, body) = app
                .feedback(&json!({"label": "spam", "comment": comment(i)}))
                .await;
            assert_eq!(status, 200, "{body}");
            // Every fourth relabelled as ham, and every fourth sent as spam again.
            let again = match i % 4 {
                0 => Some("ham"),
                1 => Some("spam"),
                _ => None,
            };
            if let Some(label) = again {
                let (status, body) = app
                    .feedback(&json!({"label": label, "comment": comment(i)}))
                    .await;
                assert_eq!(status, 200, "{body}");
            }
        });
    }
    let mut sends = sends.into_iter();
    loop {
        let batch: Vec<_> = sends.by_ref().take(8).collect();
        if batch.is_empty() {
            break;
        }
        futures_join(batch).await;
    }
    let probe = json!({"content": "Cheap watches at a store, buy now", "author": "probe"});
    // Same labels applied once each on both (and on a replica that learned them at start):
    // the same probability for a comment nobody labelled.
    let converged = within(Duration::from_secs(2), || async {
        ready(&a).await["labels_in_force"] == 40 && ready(&b).await["labels_in_force"] == 40
    })
    .await;
    assert!(converged.is_some(), "both replicas hold the 40 labels");
    let c = replica(&url).await;
    let p = |v: Value| v["spam_probability"].as_f64().unwrap();
    let (pa, pb, pc) = (
        p(a.score(&probe).await),
        p(b.score(&probe).await),
        p(c.score(&probe).await),
    );
    assert!(
        (pa - pb).abs() < 1e-9 && (pa - pc).abs() < 1e-9,
        "{pa} {pb} {pc}"
    );
    let seqs: Vec<i64> = execute(&url, "SELECT seq FROM cg_labels ORDER BY seq")
        .await
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        seqs.len(),
        50,
        "40 labels and 10 relabels to ham; the 10 repeats not written"
    );
}

/// Runs the futures concurrently on this task.
async fn futures_join<F: std::future::Future<Output = ()>>(futures: Vec<F>) {
    let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
    std::future::poll_fn(|cx| {
        pinned.retain_mut(|f| f.as_mut().poll(cx).is_pending());
        if pinned.is_empty() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await
}

#[tokio::test]
async fn a_schema_newer_than_this_build_is_refused_at_start() {
    let url = fresh_schema("cg_newer").await;
    drop(replica(&url).await);
    execute(
        &url,
        "INSERT INTO cg_schema_version (version) VALUES (9999)",
    )
    .await;
    let mut settings = commentguard::settings::Settings {
        bind: "127.0.0.1:0".parse().unwrap(),
        database_url: Some(url),
        ..Default::default()
    };
    let dir = tempfile::tempdir().unwrap();
    settings.data_dir = dir.path().to_path_buf();
    let error = commentguard::startup::Application::build(settings)
        .err()
        .expect("a replica must not start on a newer schema");
    let message = format!("{error:#}");
    assert!(
        message.contains("schema is at version 9999, newer than this build knows"),
        "{message}"
    );
}

#[tokio::test]
async fn postgres_down_scoring_goes_on_corrections_get_503_and_all_resumes() {
    let server = PostgresServer::start();
    let app = replica(&server.url()).await;
    let other = replica(&server.url()).await;
    let first = json!({"content": "Get followers fast at growth-hack.example", "author": "gh"});
    let (status, _) = app
        .feedback(&json!({"label": "spam", "comment": first}))
        .await;
    assert_eq!(status, 200);

    server.stop();
    let degraded = within(Duration::from_secs(3), || async {
        ready(&app).await["labels"] == "degraded"
    })
    .await;
    assert!(degraded.is_some(), "/readyz says the labels are degraded");
    // Scoring never waits on the database: pins and the model are in memory.
    assert_eq!(app.score(&first).await["verdict"], "spam");
    let second = json!({"content": "Thanks, the recipe worked for me too", "author": "Kim"});
    assert_eq!(app.score(&second).await["verdict"], "approve");
    let refused = app
        .send(
            Method::POST,
            "/v1/feedback",
            None,
            Some(&json!({"label": "spam", "comment": second})),
        )
        .await;
    assert_error(refused, 503, "label_store_unavailable", "database down").await;

    server.start_again();
    let back = within(Duration::from_secs(5), || async {
        ready(&app).await["labels"] == "ok"
    })
    .await;
    assert!(
        back.is_some(),
        "/readyz is ok again once the database is back"
    );
    let (status, body) = app
        .feedback(&json!({"label": "spam", "comment": second}))
        .await;
    assert_eq!(status, 200, "{body}");
    // The other replica, whose follower lost its connection too, catches up after it.
    let caught_up = within(Duration::from_secs(3), || async {
        other.score(&second).await["verdict"] == "spam"
    })
    .await;
    assert!(
        caught_up.is_some(),
        "the other replica learned the label after the outage"
    );
    for replica in [&app, &other] {
        assert_eq!(
            ready(replica).await["labels_in_force"],
            2,
            "each label applied once"
        );
    }
    assert_eq!(
        execute(&server.url(), "SELECT seq FROM cg_labels")
            .await
            .len(),
        2
    );
}

#[tokio::test]
async fn migrate_store_copies_the_file_labels_once_however_often_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let file_app = spawn_app_with(move |s| s.data_dir = path).await;
    let comments: Vec<Value> = (0..3)
        .map(|i| json!({"content": format!("Visit pills-shop-{i}.example for deals"), "author": "rx"}))
        .collect();
    for comment in &comments {
        let (status, _) = file_app
            .feedback(&json!({"label": "spam", "comment": comment}))
            .await;
        assert_eq!(status, 200);
    }
    let (_, relabel) = file_app
        .feedback(&json!({"label": "ham", "comment": comments[0]}))
        .await;
    assert_eq!(relabel["previous"], "spam");

    let url = fresh_schema("cg_migrate").await;
    let run = || {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_commentguard"))
            .args(["migrate-store", "--to", "postgres"])
            .env("COMMENTGUARD_DATA_DIR", dir.path())
            .env("COMMENTGUARD_DATABASE_URL", &url)
            .output()
            .expect("run commentguard migrate-store");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice::<Value>(&output.stdout).expect("a JSON report")
    };
    assert_eq!(
        run()["labels"],
        json!({"read": 4, "copied": 4, "skipped": 0})
    );
    assert_eq!(
        run()["labels"],
        json!({"read": 4, "copied": 0, "skipped": 4}),
        "a re-run copies nothing"
    );

    let on_postgres = replica(&url).await;
    let labels = listed(&on_postgres).await;
    assert_eq!(labels.len(), 3, "{labels:?}");
    assert_eq!(on_postgres.score(&comments[0]).await["verdict"], "approve");
    assert_eq!(on_postgres.score(&comments[1]).await["verdict"], "spam");
}

#[tokio::test]
async fn the_review_history_in_postgres_is_one_queue_for_every_replica() {
    let url = fresh_schema("cg_review").await;
    let (a, b) = (replica(&url).await, replica(&url).await);
    let held = crate::review::held_comment("pg-queue");
    let scored = a.score(&held).await;
    assert_eq!(scored["verdict"], "hold", "{scored}");
    let id = scored["verdict_id"].as_str().unwrap().to_owned();
    // Written after the answer: B's queue shows it once the writer has.
    let shown = within(Duration::from_secs(3), || async {
        let (status, page) =
            status_and_json(b.request(Method::GET, "/v1/review/queue?status=all").await).await;
        assert_eq!(status, 200, "{page}");
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["verdict_id"] == id.as_str())
    })
    .await;
    assert!(
        shown.is_some(),
        "replica B's queue lists the verdict A gave"
    );
    let (_, summary) = status_and_json(b.request(Method::GET, "/v1/review/summary").await).await;
    assert_eq!(summary["review_store"], "postgres", "{summary}");

    // Many at once are written in batches: every one of them lands, none twice.
    let many: Vec<Value> = (0..40)
        .map(|i| crate::review::held_comment(&format!("pg-batch-{i}")))
        .collect();
    let ids: Vec<String> = futures_util::future::join_all(many.iter().map(|c| a.score(c)))
        .await
        .iter()
        .map(|s| s["verdict_id"].as_str().unwrap().to_owned())
        .collect();
    let rows = within(Duration::from_secs(5), || async {
        let sql = "SELECT count(*) FROM cg_review WHERE item LIKE '%pg-batch-%'";
        execute(&url, sql).await[0].get::<_, i64>(0) == 40
    })
    .await;
    assert!(rows.is_some(), "all 40 held verdicts are in cg_review");
    let listed: Vec<String> = execute(&url, "SELECT verdict_id FROM cg_review")
        .await
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        ids.iter().all(|id| listed.contains(id)),
        "by their verdict ids"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_import_on_one_replica_is_seen_by_every_replica_and_a_second_adds_nothing() {
    let url = fresh_schema("cg_import").await;
    let (a, b) = (replica(&url).await, replica(&url).await);
    let body = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/import/labelled.jsonl"
    ))
    .unwrap();
    let import = |app: &TestApp| {
        app.client
            .post(format!(
                "{}/v1/admin/import?format=jsonl&site=https%3A%2F%2Fblog.example.com",
                app.address
            ))
            .header("content-type", "application/octet-stream")
            .body(body.clone())
            .send()
    };
    let (status, job) = status_and_json(import(&a).await.unwrap()).await;
    assert_eq!(status, 202, "{job}");
    let counts = &job;
    let imported =
        counts["imported_spam"].as_u64().unwrap() + counts["imported_ham"].as_u64().unwrap();
    assert!(imported > 10, "{job}");

    // The batch went into the shared log: within a second B lists every label, with its
    // origin.
    within(Duration::from_secs(1), || async {
        listed(&b).await.len() as u64 == imported
    })
    .await;
    let on_b = listed(&b).await;
    assert_eq!(on_b.len() as u64, imported, "{on_b:?}");
    assert!(
        on_b.iter().all(|l| l["origin"] == "import:jsonl"),
        "{on_b:?}"
    );

    // The same file through B adds nothing: the store decides repeats for every replica.
    let (status, again) = status_and_json(import(&b).await.unwrap()).await;
    assert_eq!(status, 202, "{again}");
    let counts = &again;
    assert_eq!(
        (
            &counts["imported_spam"],
            &counts["imported_ham"],
            counts["duplicates"].as_u64()
        ),
        (&json!(0), &json!(0), Some(imported)),
        "{again}"
    );
    assert_eq!(listed(&a).await.len() as u64, imported);
}

#[tokio::test]
async fn one_batch_with_repeats_and_a_relabel_is_decided_in_order_and_stored_in_order() {
    use commentguard::database::{Database, PgLabels};
    use commentguard::domain::{Comment, Label};
    use commentguard::labels::{Appended, Correction, Fingerprint, SharedLabelLog};

    let url = fresh_schema("cg_batch").await;
    let correction = |text: &str, label| Correction {
        comment: Comment {
            content: text.into(),
            ..Default::default()
        },
        label,
        verdict_id: None,
        moderator: None,
        note: None,
        key_id: None,
        origin: None,
    };
    let (a, b) = ("Buy followers at followers.example", "Lovely lake photos");
    let batch: Vec<(Fingerprint, Correction)> = [
        (a, Label::Spam),
        (a, Label::Spam),
        (b, Label::Ham),
        (a, Label::Ham),
        (b, Label::Ham),
    ]
    .into_iter()
    .map(|(text, label)| {
        let c = correction(text, label);
        (Fingerprint::of(&c.comment), c)
    })
    .collect();
    let store_url = url.clone();
    let answers = tokio::task::spawn_blocking(move || {
        let store = PgLabels::new(Database::open(&store_url).unwrap()).unwrap();
        store.append(batch).unwrap()
    })
    .await
    .unwrap();
    let new = |i: usize| match &answers[i] {
        Appended::New(record) => (record.seq, record.label, record.previous),
        other => panic!("answer {i} should be new: {other:?}"),
    };
    let repeat = |i: usize| match &answers[i] {
        Appended::Duplicate { seq, .. } => *seq,
        other => panic!("answer {i} should be a repeat: {other:?}"),
    };
    let (first, _, _) = new(0);
    assert_eq!(
        repeat(1),
        first,
        "a repeat within the batch names the first"
    );
    let (ham, _, _) = new(2);
    let (relabel, label, previous) = new(3);
    assert_eq!((label, previous), (Label::Ham, Some(Label::Spam)));
    assert_eq!(repeat(4), ham);
    assert!(first < ham && ham < relabel, "positions follow the batch");
    let rows = execute(
        &url,
        "SELECT l.seq, l.label, h.seq IS NOT NULL FROM cg_labels l
         LEFT JOIN cg_label_heads h ON h.seq = l.seq ORDER BY l.seq",
    )
    .await;
    let rows: Vec<(i64, String, bool)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        rows,
        [
            (first as i64, "spam".to_owned(), false),
            (ham as i64, "ham".to_owned(), true),
            (relabel as i64, "ham".to_owned(), true),
        ],
        "three rows; the relabel is its comment's head"
    );
}
