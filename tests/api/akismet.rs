//! The Akismet protocol, driven by the real clients platforms use (PyPI `akismet` 25.10.1,
//! npm `akismet-api` 6.0.0; see tests/clients/README.md) and by hand for the edge cases.

use std::path::PathBuf;
use std::process::Command;

use reqwest::Method;

use crate::helpers::{spawn_keyed_app, TestKeys, TEST_SITE};

/// Installs the clients once per target directory (setup.sh is idempotent).
fn clients_dir() -> PathBuf {
    crate::helpers::installed_by(
        "clients/setup.sh",
        "akismet-clients",
        "python3 with venv, node and npm",
    )
}

fn client_env(command: &mut Command, port: u16, keys: &TestKeys) {
    command
        .env("CG_BASE_URL", format!("http://127.0.0.1:{port}"))
        .env("CG_HOST_PORT", format!("localhost:{port}"))
        .env("CG_KEY", &keys.site)
        .env("CG_BLOG", TEST_SITE)
        .env("CG_BAD_KEY", "zzzzzzzzzzzz");
}

fn run_client(mut command: Command, name: &str) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {name}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{name} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("{name} printed no summary ({e}): {stdout}"));
    assert_eq!(summary["failed"], 0, "{summary}");
    assert!(summary["passed"].as_u64().unwrap() >= 11, "{summary}");
}

#[tokio::test(flavor = "multi_thread")]
async fn real_akismet_clients_work_unchanged() {
    let dir = tokio::task::spawn_blocking(clients_dir).await.unwrap();
    let (app, keys) = spawn_keyed_app().await;
    let scripts = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients");

    let mut python = Command::new(dir.join("venv/bin/python"));
    python.arg(format!("{scripts}/akismet_py.py"));
    client_env(&mut python, app.port, &keys);
    let mut node = Command::new("node");
    node.arg(format!("{scripts}/akismet_node.mjs"))
        .env("CG_CLIENTS_DIR", &dir);
    client_env(&mut node, app.port, &keys);
    for (command, name) in [(python, "akismet.py"), (node, "akismet-api")] {
        tokio::task::spawn_blocking(move || run_client(command, name))
            .await
            .unwrap();
    }

    // What the clients did is in the site's monthly counts (is_test calls are not).
    let sites = app
        .client
        .get(format!(
            "{}/1.2/key-sites?api_key={}&format=csv",
            app.address, keys.site
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let row = sites
        .lines()
        .find(|l| l.starts_with(&format!("\"{TEST_SITE}\"")))
        .unwrap_or_else(|| panic!("no row for the site: {sites}"));
    let counts: Vec<u64> = row.split(',').skip(1).map(|n| n.parse().unwrap()).collect();
    // [api_calls, spam, ham, missed_spam, false_positives]: each client sent one
    // submit-spam and one submit-ham without is_test.
    assert_eq!((counts[3], counts[4]), (2, 2), "{sites}");
}

async fn form(
    app: &crate::helpers::TestApp,
    path: &str,
    body: &str,
) -> (u16, String, Option<String>) {
    let response = app
        .client
        .request(Method::POST, format!("{}{path}", app.address))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let help = response
        .headers()
        .get("x-akismet-debug-help")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, response.text().await.unwrap(), help)
}

#[tokio::test]
async fn protocol_edge_cases() {
    let (app, keys) = spawn_keyed_app().await;
    let k = &keys.site;
    let blog = "https%3A%2F%2FBLOG.example.com%2F";
    // (path, body, answer, has debug help, why)
    let cases = [
        ("/1.1/verify-key", format!("key={k}&blog={blog}"), "valid", false, "blog spelled differently"),
        ("/1.1/verify-key", format!("key={k}&blog=https%3A%2F%2Fother.example"), "invalid", true, "another site's blog"),
        ("/1.1/verify-key", "key=zzzzzzzzzzzz".to_owned(), "invalid", true, "unknown key"),
        ("/1.1/verify-key", format!("key={}", keys.revoked), "invalid", true, "revoked key"),
        ("/1.1/comment-check", format!("api_key={k}&user_ip=1.2.3.4&comment_content=hi"), "invalid", true, "no blog"),
        ("/1.1/comment-check", format!("api_key={k}&blog={blog}&comment_content=hi"), "invalid", true, "no user_ip"),
        ("/1.1/comment-check", format!("api_key={k}&blog={blog}&user_ip=1.2.3.4&comment_author=viagra-test-123&user_role=administrator"), "true", false, "spam trigger"),
        ("/1.1/comment-check", format!("api_key={k}&blog={blog}&user_ip=1.2.3.4&comment_author_email=akismet-guaranteed-spam%40example.com&user_role=administrator"), "true", false, "the e-mail trigger beats the administrator"),
        ("/1.1/comment-check", format!("api_key={k}&blog={blog}&user_ip=1.2.3.4&comment_content=Buy+now&user_role=administrator"), "false", false, "administrator is never spam"),
        ("/1.1/comment-check", format!("api_key={k}&blog={blog}&user_ip=1.2.3.4&comment_type=pingback&HTTP_ACCEPT=x&POST_foo=bar"), "false", false, "no content, unknown fields ignored"),
        ("/1.1/comment-check", format!("api_key={k}&blog={blog}&user_ip=198.51.100.7&comment_type=comment&comment_author=Ann&comment_content=Thank+you%2C+the+second+step+fixed+my+build."), "false", false, "plain ham from an ordinary reader, no role, no link"),
        ("/1.1/submit-ham", format!("api_key={k}&blog={blog}&user_ip=1.2.3.4&comment_content=Nice+post&is_test=1"), "Thanks for making the web a better place.", false, "is_test submit"),
    ];
    for (path, body, answer, help, why) in cases {
        let (status, text, debug) = form(&app, path, &body).await;
        assert_eq!((status, text.as_str()), (200, answer), "{why}");
        assert_eq!(debug.is_some(), help, "{why}: {debug:?}");
    }
    // An is_test correction is never recorded.
    let labels = app
        .send(Method::GET, "/v1/labels", Some(&keys.moderator), None)
        .await
        .text()
        .await
        .unwrap();
    assert!(labels.is_empty(), "{labels}");

    // The key may come in the Host header; every answer carries our guid and verdict.
    let response = app
        .client
        .post(format!("{}/1.1/comment-check", app.address))
        .header("host", format!("{k}.localhost:{}", app.port))
        .header("content-type", "application/x-www-form-urlencoded; charset=ISO-8859-1")
        .body(format!("blog={blog}&user_ip=1.2.3.4&comment_content=Thanks+for+the+caf%E9+recipe%2C+my+family+loved+it+and+we+will+make+it+again"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let guid = response.headers()["x-akismet-guid"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(guid.len(), 32);
    assert!(response.headers().contains_key("x-commentguard-verdict"));
    assert_eq!(response.text().await.unwrap(), "false");

    // submit-spam by guid corrects exactly that verdict.
    let (_, thanks, _) = form(
        &app,
        "/1.1/submit-spam",
        &format!("api_key={k}&blog={blog}&user_ip=1.2.3.4&guid={guid}"),
    )
    .await;
    assert_eq!(thanks, "Thanks for making the web a better place.");
    let (_, again, _) = form(
        &app,
        "/1.1/comment-check",
        &format!("api_key={k}&blog={blog}&user_ip=1.2.3.4&comment_content=Thanks+for+the+caf%C3%A9+recipe%2C+my+family+loved+it+and+we+will+make+it+again"),
    )
    .await;
    assert_eq!(
        again, "true",
        "the guid's comment (sent as Latin-1 before) is pinned"
    );
}

/// Five comment-checks of different comments from `ip`, then a scored comment from the same
/// IP; answers the scored verdict.
async fn five_checks_then_a_score(
    app: &crate::helpers::TestApp,
    key: &str,
    ip: &str,
    test: bool,
) -> serde_json::Value {
    let blog = "https%3A%2F%2Fblog.example.com%2F";
    let flag = if test { "&is_test=1" } else { "" };
    for i in 0..5 {
        let body = format!(
            "api_key={key}&blog={blog}&user_ip={ip}{flag}&comment_content=Comment+number+{i}+about+bread"
        );
        let (status, answer, _) = form(app, "/1.1/comment-check", &body).await;
        assert_eq!(status, 200, "check {i}");
        // Test checks never flood; real ones are a flood (held, so `true`) from the fourth.
        if test {
            assert_eq!(answer, "false", "test check {i}");
        }
    }
    let (status, verdict) = crate::helpers::status_and_json(
        app.send(
            Method::POST,
            "/v1/comments/score",
            Some(key),
            Some(&serde_json::json!({
                "content": format!("A real question from {ip} about proofing times for rye bread."),
                "user_ip": ip,
                "site": TEST_SITE,
            })),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{verdict}");
    verdict
}

#[tokio::test]
async fn test_calls_leave_no_trace_in_the_signals() {
    // Five checks of different comments from one IP are a flood (four within the window)
    // when they count; Akismet promises test calls change nothing.
    let (app, keys) = spawn_keyed_app().await;
    let after_tests = five_checks_then_a_score(&app, &keys.site, "203.0.113.77", true).await;
    assert!(
        !after_tests["reasons"].to_string().contains("flood.ip"),
        "{after_tests}"
    );
    // The same without is_test do count: the check above can fail.
    let after_real = five_checks_then_a_score(&app, &keys.site, "203.0.113.78", false).await;
    assert!(
        after_real["reasons"].to_string().contains("flood.ip"),
        "{after_real}"
    );
}
