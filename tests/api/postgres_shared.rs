//! Keys, models and jobs in PostgreSQL: a key created or revoked through one replica's
//! store takes effect on the others within a second; a promotion on one replica serves on
//! the others (and on one started later with an empty data directory); a retrain on one
//! replica trains over labels sent to another and can be followed from any, and only one
//! replica retrains at a time; and `migrate-store` copies keys and models once however
//! often it runs.

use std::path::Path;
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{
    assert_error, spawn_app_with, status_and_json, within, BinaryService, TestApp,
};
use crate::postgres_server::{execute, fresh_schema, PostgresServer};
use crate::retrain::{start_retrain, wait_for_job};

async fn replica(url: &str) -> TestApp {
    let url = url.to_owned();
    spawn_app_with(move |s| s.database_url = Some(url)).await
}

/// Runs `commentguard` with `args` against the database at `url` and the data directory
/// `data_dir`; asserts success and answers stdout.
fn cli(url: &str, data_dir: &Path, args: &[&str]) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_commentguard"))
        .args(args)
        .env("COMMENTGUARD_DATA_DIR", data_dir)
        .env("COMMENTGUARD_DATABASE_URL", url)
        .output()
        .expect("run commentguard");
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Creates a key through the CLI; answers (its id, the key).
fn create_key(url: &str, data_dir: &Path, role: &str) -> (String, String) {
    let out = cli(url, data_dir, &["keys", "create", "--role", role]);
    let mut lines = out.lines();
    let first = lines.next().unwrap();
    let id = first.split_whitespace().nth(3).unwrap().to_owned();
    assert!(first.ends_with("in PostgreSQL"), "{first}");
    (id, lines.last().unwrap().to_owned())
}

/// The status `GET /v1/admin/models` answers with `key`.
async fn status_with(app: &TestApp, path: &str, key: Option<&str>) -> u16 {
    app.send(Method::GET, path, key, None)
        .await
        .status()
        .as_u16()
}

async fn get(app: &TestApp, path: &str, key: Option<&str>) -> Value {
    let (status, body) = status_and_json(app.send(Method::GET, path, key, None).await).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
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

/// The versions listed, newest first, without the per-site counts of the active one.
fn versions(models: &Value) -> Vec<(String, bool)> {
    models
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["version"].as_str().unwrap().to_owned(),
                m["active"] == true,
            )
        })
        .collect()
}

/// The model version `app` scores a fresh comment with.
async fn serving(app: &TestApp) -> String {
    let verdict = app
        .score(&json!({"content": format!("A fresh comment {}", rand::random::<u64>())}))
        .await;
    verdict["model_version"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_created_or_revoked_through_one_replica_counts_on_another_within_a_second() {
    let url = fresh_schema("cg_keys").await;
    let (a, b) = (replica(&url).await, replica(&url).await);
    // No key yet: open local mode on both.
    assert_eq!(status_with(&b, "/v1/admin/keys", None).await, 200);

    let (admin_id, admin) = create_key(&url, &a.settings.data_dir, "admin");
    let took = within(Duration::from_secs(1), || async {
        status_with(&b, "/v1/admin/keys", Some(&admin)).await == 200
            && status_with(&b, "/v1/admin/keys", None).await == 401
    })
    .await;
    println!("the first key counted on replica B after {took:?}");
    assert!(
        took.is_some(),
        "B left open mode and took the new key within 1 s"
    );

    let (moderator_id, moderator) = create_key(&url, &a.settings.data_dir, "moderator");
    let took = within(Duration::from_secs(1), || async {
        status_with(&b, "/v1/labels", Some(&moderator)).await == 200
    })
    .await;
    println!("a new key worked on replica B after {took:?}");
    assert!(took.is_some(), "the new key works on B within 1 s");

    let out = cli(
        &url,
        &a.settings.data_dir,
        &["keys", "revoke", &moderator_id],
    );
    assert!(out.starts_with("revoked moderator key"), "{out}");
    let took = within(Duration::from_secs(1), || async {
        status_with(&b, "/v1/labels", Some(&moderator)).await == 401
    })
    .await;
    println!("a revoked key stopped working on replica B after {took:?}");
    assert!(took.is_some(), "the revoked key is refused on B within 1 s");
    // A polls on its own clock: within the same second.
    let on_a = within(Duration::from_secs(1), || async {
        status_with(&a, "/v1/labels", Some(&moderator)).await == 401
    })
    .await;
    assert!(on_a.is_some(), "the revoked key is refused on A within 1 s");

    // Listed the same through either replica and the CLI; only hashes are stored.
    let listed = get(&b, "/v1/admin/keys", Some(&admin)).await;
    let ids: Vec<(&str, bool)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["id"].as_str().unwrap(), k["revoked"] == true))
        .collect();
    assert_eq!(
        ids,
        vec![(admin_id.as_str(), false), (moderator_id.as_str(), true)]
    );
    assert_eq!(listed, get(&a, "/v1/admin/keys", Some(&admin)).await);
    let cli_list = cli(&url, &b.settings.data_dir, &["keys", "list"]);
    assert!(
        cli_list.contains(&format!("{moderator_id}\tmoderator\t-")) && cli_list.contains("revoked"),
        "{cli_list}"
    );
    let stored: String =
        execute(&url, "SELECT string_agg(cg_keys::text, ' ') FROM cg_keys").await[0].get(0);
    assert!(
        !stored.contains(&admin) && !stored.contains(&moderator),
        "keys are stored hashed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_keep_working_while_the_database_is_down() {
    let server = PostgresServer::start();
    let app = replica(&server.url()).await;
    let (_, admin) = create_key(&server.url(), &app.settings.data_dir, "admin");
    // Open mode until the key is loaded: a request without one is refused only then.
    let counted = within(Duration::from_secs(1), || async {
        status_with(&app, "/v1/admin/models", None).await == 401
            && status_with(&app, "/v1/admin/models", Some(&admin)).await == 200
    })
    .await;
    assert!(counted.is_some(), "the key is in force within 1 s");

    server.stop();
    let comment = json!({"content": "Thanks, the recipe worked for me too"});
    for _ in 0..5 {
        // Scoring and the key check use what is in memory.
        let response = app
            .send(
                Method::POST,
                "/v1/comments/score",
                Some(&admin),
                Some(&comment),
            )
            .await;
        assert_eq!(response.status(), 200);
        let refused = app
            .send(
                Method::POST,
                "/v1/comments/score",
                Some("aaaaaaaaaaaa"),
                Some(&comment),
            )
            .await;
        assert_eq!(refused.status(), 401, "an unknown key is still refused");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // What must be read from the database says so.
    let models = app
        .send(Method::GET, "/v1/admin/models", Some(&admin), None)
        .await;
    assert_error(models, 503, "store_unavailable", "registry while down").await;
    let retrain = app
        .send(
            Method::POST,
            "/v1/admin/retrain",
            Some(&admin),
            Some(&json!({})),
        )
        .await;
    assert_error(retrain, 503, "store_unavailable", "retrain while down").await;
    server.start_again();
    let back = within(Duration::from_secs(5), || async {
        status_with(&app, "/v1/admin/models", Some(&admin)).await == 200
    })
    .await;
    assert!(
        back.is_some(),
        "the registry answers once the database is back"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retrain_on_one_replica_learns_every_label_and_serves_on_every_replica() {
    let url = fresh_schema("cg_models").await;
    let (a, b) = (replica(&url).await, replica(&url).await);
    let shipped = active_version(&get(&a, "/v1/admin/models", None).await);
    assert_eq!(
        versions(&get(&b, "/v1/admin/models", None).await),
        vec![(shipped.clone(), true)],
        "the shipped model registered once for both"
    );

    // Labels through A; the retrain through B.
    let mut last_seq = 0;
    for i in 0..6 {
        let label = if i % 2 == 0 { "spam" } else { "ham" };
        let comment = json!({"content": format!("Shared label number {i} about the harbour walk"),
                             "author": format!("writer{i}")});
        let (status, body) = a
            .feedback(&json!({"label": label, "comment": comment}))
            .await;
        assert_eq!(status, 200, "{body}");
        last_seq = body["seq"].as_u64().unwrap();
    }
    let seen = within(Duration::from_secs(2), || async {
        status_and_json(b.request(Method::GET, "/readyz").await)
            .await
            .1["labels_in_force"]
            == 6
    })
    .await;
    assert!(seen.is_some(), "B holds A's labels");
    let job_id = start_retrain(&b, json!({"force": true})).await;
    // Followed through A, which does not run it.
    let job = wait_for_job(&a, &job_id).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(
        job["label_docs"], 6,
        "trained over the labels sent to A: {job}"
    );
    let promoted = job["model_version"].as_str().unwrap().to_owned();
    let on_b = get(&b, &format!("/v1/admin/jobs/{job_id}"), None).await;
    assert_eq!(on_b, job, "the same record on the replica that ran it");

    let models = get(&a, "/v1/admin/models", None).await;
    assert_eq!(
        versions(&models),
        vec![(promoted.clone(), true), (shipped.clone(), false)]
    );
    assert_eq!(
        versions(&get(&b, "/v1/admin/models", None).await),
        versions(&models),
        "listed the same on both"
    );
    let entry = &models[0];
    assert_eq!(entry["label_docs"], 6, "{entry}");
    let max_seq: i64 = execute(&url, "SELECT max(seq) FROM cg_labels").await[0].get(0);
    assert_eq!(entry["labels_through"], max_seq, "{entry}");
    assert_eq!(entry["labels_through"], last_seq, "{entry}");

    let took = within(Duration::from_secs(2), || async {
        serving(&a).await == promoted
    })
    .await;
    println!("replica A served the version B promoted after {took:?}");
    assert!(took.is_some(), "A serves B's promotion");

    // A replica started now, with an empty data directory, loads it from the database.
    let c = replica(&url).await;
    assert!(
        std::fs::read_dir(c.settings.data_dir.join("models"))
            .map(|d| d.count())
            .unwrap_or(0)
            >= 1
    );
    assert_eq!(serving(&c).await, promoted);

    // A rollback through A reaches B and C.
    let path = format!("/v1/admin/models/{shipped}/activate");
    let (status, body) = status_and_json(a.send(Method::POST, &path, None, None).await).await;
    assert_eq!(status, 200, "{body}");
    for (name, replica) in [("B", &b), ("C", &c)] {
        let took = within(Duration::from_secs(2), || async {
            serving(replica).await == shipped
        })
        .await;
        println!("replica {name} followed the rollback after {took:?}");
        assert!(took.is_some(), "{name} follows the rollback");
        assert_eq!(
            active_version(&get(replica, "/v1/admin/models", None).await),
            shipped
        );
    }
    let unknown = a
        .send(Method::GET, "/v1/admin/jobs/job-0000", None, None)
        .await;
    assert_error(unknown, 404, "unknown_job", "no such job anywhere").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_store_copies_keys_and_models_once_however_often_it_runs() {
    use commentguard::keys::{KeyFile, Role};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let file_app = spawn_app_with(move |s| s.data_dir = path).await;
    let job_id = start_retrain(&file_app, json!({"force": true})).await;
    let job = wait_for_job(&file_app, &job_id).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let promoted = job["model_version"].as_str().unwrap().to_owned();
    let file_models = versions(&get(&file_app, "/v1/admin/models", None).await);
    assert_eq!(file_models.len(), 2);
    drop(file_app);
    let keys = KeyFile::in_dir(dir.path());
    let (_, admin) = keys.create(Role::Admin, None).unwrap();
    let (revoked, revoked_key) = keys.create(Role::Moderator, None).unwrap();

    let url = fresh_schema("cg_migrate_all").await;
    let run = || {
        let out = cli(&url, dir.path(), &["migrate-store", "--to", "postgres"]);
        serde_json::from_str::<Value>(&out).expect("a JSON report")
    };
    let first = run();
    assert_eq!(
        first["keys"],
        json!({"read": 2, "copied": 2, "skipped": 0, "revoked": 0})
    );
    assert_eq!(
        first["models"],
        json!({"read": 2, "copied": 2, "skipped": 0, "activated": promoted})
    );
    // Revoked in the file after the first copy: the re-run carries that over, adds nothing.
    keys.revoke(&revoked.id).unwrap();
    let second = run();
    assert_eq!(
        second["keys"],
        json!({"read": 2, "copied": 0, "skipped": 2, "revoked": 1})
    );
    assert_eq!(
        second["models"],
        json!({"read": 2, "copied": 0, "skipped": 2, "activated": null})
    );
    let third = run();
    assert_eq!(third["keys"]["revoked"], 0, "{third}");
    assert_eq!(
        execute(&url, "SELECT version FROM cg_models").await.len(),
        2
    );

    // A replica on the database, with a data directory of its own, has both.
    let on_postgres = replica(&url).await;
    assert_eq!(
        versions(&get(&on_postgres, "/v1/admin/models", Some(&admin)).await),
        file_models
    );
    let response = on_postgres
        .send(
            Method::POST,
            "/v1/comments/score",
            Some(&admin),
            Some(&json!({"content": "Hello there"})),
        )
        .await;
    let (status, verdict) = status_and_json(response).await;
    assert_eq!(status, 200);
    assert_eq!(verdict["model_version"], promoted.as_str());
    assert_eq!(
        status_with(&on_postgres, "/v1/labels", Some(&revoked_key)).await,
        401
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_import_job_is_answered_by_every_replica() {
    let url = fresh_schema("cg_import_jobs").await;
    let (a, b) = (replica(&url).await, replica(&url).await);
    let body = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/import/labelled.jsonl"
    ))
    .unwrap();
    let response = a
        .client
        .post(format!("{}/v1/admin/import?format=jsonl", a.address))
        .header("content-type", "application/octet-stream")
        .body(body)
        .send()
        .await
        .unwrap();
    let (status, job) = status_and_json(response).await;
    assert_eq!(status, 202, "{job}");
    assert_eq!(job["state"], "succeeded", "{job}");
    let path = format!("/v1/admin/jobs/{}", job["job_id"].as_str().unwrap());
    // The final record, as the replica that ran it wrote it before answering.
    assert_eq!(get(&b, &path, None).await, job);
    assert_eq!(get(&a, &path, None).await, job);
}

#[tokio::test]
async fn a_job_whose_replica_died_is_reported_failed_by_the_others() {
    let url = fresh_schema("cg_dead_jobs").await;
    let a = replica(&url).await;
    // Records as a replica writes them, one killed a minute ago mid-job, one alive.
    execute(
        &url,
        r#"INSERT INTO cg_jobs (job_id, record, updated_at) VALUES
           ('job-dead', '{"job_id":"job-dead","state":"running","stage":"training"}', now() - interval '1 minute'),
           ('import-dead', '{"job_id":"import-dead","kind":"import","state":"running"}', now() - interval '1 minute'),
           ('job-alive', '{"job_id":"job-alive","state":"running","stage":"training"}', now() - interval '5 seconds'),
           ('job-done', '{"job_id":"job-done","state":"succeeded"}', now() - interval '1 day')"#,
    )
    .await;
    let dead = get(&a, "/v1/admin/jobs/job-dead", None).await;
    assert_eq!(
        (&dead["state"], &dead["abandoned"]),
        (&json!("failed"), &json!(true)),
        "{dead}"
    );
    assert!(
        dead["error"].as_str().unwrap().starts_with("abandoned"),
        "{dead}"
    );
    let import = get(&a, "/v1/admin/jobs/import-dead", None).await;
    assert_eq!(import["state"], "failed", "{import}");
    assert_eq!(import["error"]["code"], "job_abandoned", "{import}");
    assert_eq!(
        get(&a, "/v1/admin/jobs/job-alive", None).await["state"],
        "running"
    );
    assert_eq!(
        get(&a, "/v1/admin/jobs/job-done", None).await["state"],
        "succeeded"
    );
}

#[tokio::test]
async fn a_replica_keeps_its_running_job_alive() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let url = fresh_schema("cg_job_heartbeat").await;
    let a = replica(&url).await;
    // An import whose upload pauses (under the 10 s stall limit): the job runs, and nothing
    // but the heartbeat writes its record meanwhile.
    let mut upload = tokio::net::TcpStream::connect(("127.0.0.1", a.port))
        .await
        .unwrap();
    let line = "{\"text\": \"Thanks, the second step fixed it.\", \"label\": \"ham\"}\n";
    let head = "POST /v1/admin/import?format=jsonl&site=https://a.example HTTP/1.1\r\nHost: a\r\n\
                Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
    let chunk = format!("{head}{:x}\r\n{line}\r\n", line.len());
    upload.write_all(chunk.as_bytes()).await.unwrap();
    within(Duration::from_secs(3), || async {
        !execute(&url, "SELECT 1 FROM cg_jobs").await.is_empty()
    })
    .await
    .expect("the import job is shared at its start");
    // Let any progress write pass, then backdate the record as if its replica had died.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    execute(
        &url,
        "UPDATE cg_jobs SET updated_at = now() - interval '1 minute'",
    )
    .await;
    let touched = within(Duration::from_secs(7), || async {
        let age: f64 = execute(
            &url,
            "SELECT EXTRACT(EPOCH FROM now() - updated_at)::float8 FROM cg_jobs",
        )
        .await[0]
            .get(0);
        age < 10.0
    })
    .await;
    assert!(
        touched.is_some(),
        "the running job is touched within a heartbeat"
    );
    upload.write_all(b"0\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&answer).contains("\"state\"") {
        let n = upload.read(&mut buf).await.unwrap();
        assert!(n > 0, "answered: {}", String::from_utf8_lossy(&answer));
        answer.extend_from_slice(&buf[..n]);
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 202"), "{answer}");
    assert!(answer.contains("\"state\":\"succeeded\""), "{answer}");
}

/// `POST /v1/admin/retrain` on `app` with `body`.
async fn post_retrain(app: &TestApp, body: Value) -> reqwest::Response {
    app.send(Method::POST, "/v1/admin/retrain", None, Some(&body))
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn one_replica_retrains_at_a_time_and_a_killed_one_leaves_its_turn() {
    let url = fresh_schema("cg_retrain_turn").await;
    let (a, b) = (replica(&url).await, replica(&url).await);
    let job_id = start_retrain(&b, json!({"force": true})).await;
    let refused = post_retrain(&a, json!({"force": true})).await;
    assert_error(refused, 409, "retrain_in_progress", "while B retrains").await;
    let job = wait_for_job(&a, &job_id).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    // B's turn ended with its job.
    let next = start_retrain(&a, json!({"force": true})).await;
    assert_eq!(wait_for_job(&b, &next).await["state"], "succeeded");

    // A replica killed mid-job cannot say it stopped: the database frees its turn when
    // the connection drops.
    let mut doomed = BinaryService::start_fresh(&[("COMMENTGUARD_DATABASE_URL", &url)]).await;
    let started = reqwest::Client::new()
        .post(format!("{}/v1/admin/retrain", doomed.address))
        .json(&json!({"force": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 202);
    let refused = post_retrain(&a, json!({"force": true})).await;
    assert_error(
        refused,
        409,
        "retrain_in_progress",
        "while the binary retrains",
    )
    .await;
    doomed.sigkill();
    let took = within(Duration::from_secs(5), || async {
        post_retrain(&a, json!({"force": true})).await.status() == 202
    })
    .await;
    println!("A could retrain {took:?} after the SIGKILL");
    assert!(took.is_some(), "the killed replica's turn is freed");
}

/// Ends the database session holding the retraining lock of the schema at `url`, as a
/// database restart would end it.
async fn end_the_claim_session(url: &str) {
    let ended = execute(
        url,
        // With a timeout: the call then returns once the session has ended and its lock
        // is free, not as soon as it was asked to end.
        "SELECT pg_terminate_backend(pid, 5000) FROM pg_locks WHERE locktype = 'advisory'
             AND objsubid = 2 AND classid::int4 = 1668246787
             AND objid::int4 = hashtext(current_schema())",
    )
    .await;
    assert_eq!(ended.len(), 1, "one session holds the retraining lock");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_that_lost_its_claim_never_promotes_over_another() {
    let url = fresh_schema("cg_retrain_lost").await;
    let (a, b) = (replica(&url).await, replica(&url).await);
    let before = serving(&a).await;

    // B's claim is lost mid-job and A takes it: B's model must not be promoted.
    let lost = start_retrain(&b, json!({"force": true})).await;
    end_the_claim_session(&url).await;
    let taken = start_retrain(&a, json!({"force": true})).await;
    let job = wait_for_job(&a, &lost).await;
    assert_eq!(job["state"], "failed", "{job}");
    assert!(
        job["error"]
            .as_str()
            .unwrap()
            .contains("another replica holds it"),
        "{job}"
    );
    let job = wait_for_job(&b, &taken).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let promoted = job["model_version"].as_str().unwrap().to_owned();
    assert_ne!(promoted, before);
    assert_eq!(serving(&a).await, promoted, "only A's model was promoted");

    // Lost with nobody else retraining: B claims it again and promotes, and gives it up
    // when the job ends. (B first follows A's promotion: a job trained from an older
    // model than the active one is refused once its claim was lost.)
    let followed = within(Duration::from_secs(3), || async {
        serving(&b).await == promoted
    })
    .await;
    assert!(followed.is_some(), "B follows A's promotion");
    let again = start_retrain(&b, json!({"force": true})).await;
    end_the_claim_session(&url).await;
    let job = wait_for_job(&a, &again).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let next = start_retrain(&a, json!({"force": true})).await;
    assert_eq!(wait_for_job(&b, &next).await["state"], "succeeded");
}

#[tokio::test(flavor = "multi_thread")]
async fn versions_pruned_through_one_replica_leave_the_others_local_copies() {
    let url = fresh_schema("cg_stale_copies").await;
    let a = replica(&url).await;
    let pruning_url = url.clone();
    let b = spawn_app_with(move |s| {
        s.database_url = Some(pruning_url);
        s.keep_versions = 1;
    })
    .await;
    let shipped = serving(&a).await;
    let copies = a.settings.data_dir.join("models");
    assert!(copies.join(&shipped).exists());
    // A version only ever in A's directory (never migrated): not A's to delete.
    let local_only = copies.join("nb-000000local");
    std::fs::create_dir_all(&local_only).unwrap();
    let mut entry: Value =
        serde_json::from_slice(&std::fs::read(copies.join(&shipped).join("entry.json")).unwrap())
            .unwrap();
    entry["version"] = json!("nb-000000local");
    std::fs::write(local_only.join("entry.json"), entry.to_string()).unwrap();

    // Two promotions on B, each pruning all but the newest from the database; A follows
    // both, and by the second one the shipped version has long been pruned.
    for round in 1..=2 {
        let job_id = start_retrain(&b, json!({"force": true})).await;
        let job = wait_for_job(&b, &job_id).await;
        assert_eq!(job["state"], "succeeded", "round {round}: {job}");
        let promoted = job["model_version"].as_str().unwrap().to_owned();
        let followed = within(Duration::from_secs(3), || async {
            serving(&a).await == promoted
        })
        .await;
        assert!(followed.is_some(), "round {round}: A follows {promoted}");
    }
    let dropped = within(Duration::from_secs(2), || async {
        !copies.join(&shipped).exists()
    })
    .await;
    assert!(
        dropped.is_some(),
        "A's copy of the pruned shipped version is gone"
    );
    assert!(local_only.exists(), "the local-only version is kept");
    assert!(
        copies.join(serving(&a).await).join("entry.json").exists(),
        "the version served is kept"
    );
}
