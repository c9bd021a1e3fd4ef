//! Importing moderation history: `POST /v1/admin/import` and its job, the `import` command
//! (upload and offline), and a service killed in the middle of an import.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{
    spawn_app, spawn_app_with, spawn_keyed_app, status_and_json, TestApp, TEST_SITE,
};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture_path(name)).expect("fixture")
}

fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/import")
        .join(name)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

async fn import(app: &TestApp, key: Option<&str>, query: &str, body: Vec<u8>) -> (u16, Value) {
    let mut request = app
        .client
        .post(format!("{}/v1/admin/import?{query}", app.address))
        .header("content-type", "application/octet-stream")
        .body(body);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    status_and_json(request.send().await.expect("request failed")).await
}

async fn labels(app: &TestApp, key: Option<&str>) -> Vec<Value> {
    let response = app
        .send(Method::GET, "/v1/labels?limit=1000", key, None)
        .await;
    assert_eq!(response.status().as_u16(), 200);
    let text = response.text().await.unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn site_query() -> String {
    format!("site={}", urlencode(TEST_SITE))
}

fn urlencode(s: &str) -> String {
    commentguard::upload::encode_query_value(s)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_import_job_counts_pins_and_adds_nothing_the_second_time() {
    let (app, keys) = spawn_keyed_app().await;
    let dump = fixture("wp_comments.sql");
    // Only an admin imports.
    let (status, body) = import(&app, Some(&keys.moderator), &site_query(), dump.clone()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("forbidden")),
        "{body}"
    );

    let (status, job) = import(&app, Some(&keys.admin), &site_query(), gzip(&dump)).await;
    assert_eq!(status, 202, "{job}");
    assert_eq!(job["kind"], "import");
    assert_eq!(job["state"], "succeeded");
    assert_eq!(job["format"], "wordpress-dump");
    let expected = json!({
        "records_read": 64, "imported_spam": 23, "imported_ham": 35, "duplicates": 0,
        "relabelled": 0, "committed": 58,
        "skipped": {"pending": 2, "trash": 1, "post_trashed": 1, "pingback": 1, "trackback": 1},
    });
    for (field, want) in expected.as_object().unwrap() {
        assert_eq!(&job[field], want, "{field}: {job}");
    }
    assert_eq!(job["bytes_received"], gzip(&dump).len() as u64);
    // Polled like a retrain.
    let job_id = job["job_id"].as_str().unwrap();
    let (status, polled) = status_and_json(
        app.send(
            Method::GET,
            &format!("/v1/admin/jobs/{job_id}"),
            Some(&keys.admin),
            None,
        )
        .await,
    )
    .await;
    assert_eq!((status, &polled), (200, &job));

    // The labels went the feedback route's way: in the log with their origin, pinned.
    let listed = labels(&app, Some(&keys.moderator)).await;
    assert_eq!(listed.len(), 58);
    assert!(listed
        .iter()
        .all(|l| l["origin"] == "import:wordpress-dump"));
    assert!(listed.iter().all(|l| l["site"] == TEST_SITE));
    let spam = listed.iter().find(|l| l["label"] == "spam").unwrap();
    let parsed = first_spam_comment();
    assert_eq!(spam["text"], parsed["content"]);
    let (status, verdict) = status_and_json(
        app.send(
            Method::POST,
            "/v1/comments/score",
            Some(&keys.site),
            Some(&parsed),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{verdict}");
    assert_eq!(verdict["verdict"], "spam", "{verdict}");
    assert_eq!(verdict["reasons"][0]["id"], "moderator.label", "{verdict}");

    // The same comments again (here as WP-CLI's JSON) add nothing.
    let (status, again) = import(
        &app,
        Some(&keys.admin),
        &site_query(),
        fixture("wp-cli.json"),
    )
    .await;
    assert_eq!(status, 202, "{again}");
    assert_eq!(
        (
            &again["imported_spam"],
            &again["imported_ham"],
            &again["duplicates"]
        ),
        (&json!(0), &json!(0), &json!(58)),
        "{again}"
    );
    assert_eq!(labels(&app, Some(&keys.moderator)).await.len(), 58);
}

/// The first spam row of the dump, as a score request (what a site would send again).
fn first_spam_comment() -> Value {
    let line = std::fs::read_to_string(fixture_path("labelled.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|r| r["label"] == "spam")
        .unwrap();
    let mut request = line.clone();
    let fields = request.as_object_mut().unwrap();
    fields.remove("label");
    fields.remove("id");
    fields.retain(|_, v| !v.is_null());
    request
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_imports_are_refused_with_their_position_and_leave_nothing() {
    let app = spawn_app().await;
    let dump = fixture("wp_comments.sql");
    // (query, body, status, code, why)
    let cases: Vec<(String, Vec<u8>, u16, &str, &str)> = vec![
        (
            site_query(),
            dump[..dump.len() / 2].to_vec(),
            422,
            "truncated_import",
            "a dump cut in half",
        ),
        (
            site_query(),
            gzip(&dump)[..3000].to_vec(),
            422,
            "truncated_import",
            "a gzip file cut short",
        ),
        (
            site_query(),
            b"id,author,text\n1,a,b\n".to_vec(),
            422,
            "unknown_format",
            "CSV",
        ),
        (
            String::new(),
            dump.clone(),
            400,
            "site_required",
            "a dump names no site",
        ),
        (
            format!("{}&format=csv", site_query()),
            dump.clone(),
            400,
            "invalid_query",
            "an unknown format",
        ),
        (
            "site=ftp%3A%2F%2Fx".into(),
            dump.clone(),
            400,
            "invalid_query",
            "a site that is not http(s)",
        ),
    ];
    for (query, body, status, code, why) in cases {
        let (got, answer) = import(&app, None, &query, body).await;
        assert_eq!(
            (got, answer["error"].as_str()),
            (status, Some(code)),
            "{why}: {answer}"
        );
        if status == 422 {
            assert!(answer["offset"].is_u64(), "{why}: {answer}");
            assert_eq!(answer["committed"], 0, "{why}: {answer}");
            let job_id = answer["job_id"].as_str().unwrap();
            let (_, job) = status_and_json(
                app.send(Method::GET, &format!("/v1/admin/jobs/{job_id}"), None, None)
                    .await,
            )
            .await;
            assert_eq!(job["state"], "failed", "{why}: {job}");
            assert_eq!(job["error"]["code"], code, "{why}: {job}");
        }
    }
    let truncated = import(&app, None, &site_query(), dump[..dump.len() / 2].to_vec())
        .await
        .1;
    assert!(truncated["line"].as_u64().unwrap() > 40, "{truncated}");
    assert!(labels(&app, None).await.is_empty(), "nothing half-imported");
    // And afterwards the whole file goes in.
    let (status, job) = import(&app, None, &site_query(), dump).await;
    assert_eq!((status, &job["committed"]), (202, &json!(58)), "{job}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_large_upload_streams_through() {
    let app = spawn_app_with(|s| s.workers = 2).await;
    // 300 copies of the dump (9 MB): every copy after the first is duplicates.
    let dump = fixture("wp_comments.sql");
    let mut big = Vec::with_capacity(dump.len() * 300);
    for _ in 0..300 {
        big.extend_from_slice(&dump);
    }
    let (status, job) = import(&app, None, &site_query(), big.clone()).await;
    assert_eq!(status, 202, "{job}");
    assert_eq!(job["records_read"], 64 * 300);
    assert_eq!(
        job["imported_spam"].as_u64().unwrap() + job["imported_ham"].as_u64().unwrap(),
        58
    );
    assert_eq!(job["duplicates"], 58 * 299);
    assert_eq!(job["bytes_received"], big.len() as u64);
}

fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_commentguard")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_command_uploads_to_a_service_or_imports_offline() {
    let (app, keys) = spawn_keyed_app().await;
    let output = Command::new(binary())
        .args([
            "import",
            fixture_path("wxr.xml").to_str().unwrap(),
            "--no-progress",
        ])
        .args(["--url", &app.address, "--key", &keys.admin])
        .env("COMMENTGUARD_DATA_DIR", "/nonexistent-unused")
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: Value = serde_json::from_str(&stdout).expect("a JSON summary");
    assert_eq!(
        (&summary["format"], &summary["imported_ham"]),
        (&json!("wxr"), &json!(35))
    );
    assert_eq!(labels(&app, Some(&keys.moderator)).await.len(), 35);
    // A refusal is an exit code 2 with the position.
    let cut = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(cut.path(), &fixture("wxr.xml")[..20_000]).unwrap();
    let output = Command::new(binary())
        .args(["import", cut.path().to_str().unwrap(), "--no-progress"])
        .args(["--url", &app.address, "--key", &keys.admin])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("truncated_import"));

    // Offline: into a data directory, then a service started on it has the labels.
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(binary())
        .args([
            "import",
            fixture_path("disqus.xml").to_str().unwrap(),
            "--no-progress",
        ])
        .env("COMMENTGUARD_DATA_DIR", dir.path())
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["counts"]["committed"], 58, "{summary}");
    let data_dir = dir.path().to_path_buf();
    let offline = spawn_app_with(|s| s.data_dir = data_dir).await;
    let listed = labels(&offline, None).await;
    assert_eq!(listed.len(), 58);
    assert!(listed.iter().all(|l| l["origin"] == "import:disqus"));
}

/// A `serve` process of the binary on `port` with `data_dir`.
fn serve(port: u16, data_dir: &Path) -> Child {
    Command::new(binary())
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .env("COMMENTGUARD_DATA_DIR", data_dir)
        .env("COMMENTGUARD_LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve starts")
}

async fn wait_ready(client: &reqwest::Client, address: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while client
        .get(format!("{address}/healthz"))
        .send()
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "the service never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_killed_in_the_middle_loses_no_committed_label_and_reimport_duplicates_none() {
    // 60,000 distinct comments as JSON Lines, uploaded slowly enough to be killed halfway.
    let rows: usize = 60_000;
    let mut file = Vec::new();
    for i in 0..rows {
        let label = if i % 3 == 0 { "spam" } else { "ham" };
        writeln!(file, "{{\"content\":\"comment number {i} about knitting\",\"author\":\"reader {i}\",\"label\":\"{label}\",\"site\":\"{TEST_SITE}\"}}").unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let address = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut child = serve(port, dir.path());
    wait_ready(&client, &address).await;

    // Send the body in small pieces with pauses (a plain socket: the client must not buffer),
    // and kill the service once some batches are in.
    let log = dir.path().join("labels.jsonl");
    let body = file.clone();
    let log_path = log.clone();
    let (sent, child) = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(
            stream,
            "POST /v1/admin/import HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .unwrap();
        let mut sent = 0;
        for piece in body.chunks(16 * 1024) {
            if stream.write_all(piece).is_err() {
                break;
            }
            sent += piece.len();
            if newlines(&log_path) >= 5_000 {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        child.kill().expect("kill -9");
        child.wait().unwrap();
        (sent, child)
    })
    .await
    .unwrap();
    drop(child);
    assert!(
        sent < file.len(),
        "the service was killed before the end of the upload"
    );
    let committed = newlines(&log);
    assert!(committed >= 5_000, "{committed}");

    // Restarted: every committed label is there; the whole file again adds the rest once.
    let mut child = serve(port, dir.path());
    wait_ready(&client, &address).await;
    let response = client
        .post(format!("{address}/v1/admin/import"))
        .body(file.clone())
        .send()
        .await
        .unwrap();
    let (status, job) = status_and_json(response).await;
    child.kill().ok();
    child.wait().ok();
    assert_eq!(status, 202, "{job}");
    assert_eq!(job["duplicates"], committed as u64, "{job}");
    assert_eq!(
        job["imported_spam"].as_u64().unwrap() + job["imported_ham"].as_u64().unwrap(),
        (rows - committed) as u64,
        "{job}"
    );
    assert_eq!(newlines(&log), rows, "each comment labelled exactly once");
}

/// Complete lines in a file (0 when it does not exist yet).
fn newlines(path: &Path) -> usize {
    std::fs::read(path)
        .map(|b| b.iter().filter(|&&c| c == b'\n').count())
        .unwrap_or(0)
}
