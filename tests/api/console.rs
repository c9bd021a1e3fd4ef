//! The moderator console end to end, in a real headless Chromium (Debian's `chromium`, driven
//! by playwright-core; see tests/console/console_e2e.mjs): sign in, see a held comment this
//! test scored, press "Spam", then find the label in `GET /v1/labels`. Screenshots are left
//! in `target/console-artifacts/`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::spawn_keyed_app;
use crate::review::held_comment;

/// The browser the test drives.
const CHROMIUM: &str = "/usr/bin/chromium";

/// Longest the browser run may take. Each step has its own timeout in console_e2e.mjs; this
/// catches a hang outside them (a browser that never starts or never closes), so the test
/// fails with the output so far instead of hanging CI.
const BROWSER_DEADLINE: Duration = Duration::from_secs(600);

/// Runs `command` to completion, or kills it after `deadline` and fails with what it printed.
fn run_with_deadline(mut command: Command, deadline: Duration) -> Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot run node");
    // Drained while it runs, so that a full pipe cannot stall it.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("cannot wait for node") {
            break status;
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "console_e2e.mjs did not finish within {deadline:?} and was killed:\n{}\n{}",
                String::from_utf8_lossy(&stdout.join().unwrap_or_default()),
                String::from_utf8_lossy(&stderr.join().unwrap_or_default())
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

/// Installs playwright-core once per target directory (setup.sh is idempotent).
fn playwright_dir() -> PathBuf {
    crate::helpers::installed_by("console/setup.sh", "console-e2e", "node and npm").join("node")
}

/// Where the screenshots go: kept after the test, for people and CI to look at.
fn artifacts_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir")
        .join("console-artifacts");
    std::fs::create_dir_all(&dir).expect("create the artifacts dir");
    dir
}

fn assert_png(path: &Path) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 1000,
        "{} is not a PNG screenshot",
        path.display()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_moderator_marks_a_held_comment_as_spam_in_the_browser() {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: the console's browser test needs Debian's `chromium` package \
         (apt-get install chromium; scripts/test.sh installs it)"
    );
    let node_dir = tokio::task::spawn_blocking(playwright_dir).await.unwrap();
    let (app, keys) = spawn_keyed_app().await;
    let score = |comment: Value| {
        let app = &app;
        let key = keys.site.clone();
        async move {
            let response = app
                .send(
                    Method::POST,
                    "/v1/comments/score",
                    Some(&key),
                    Some(&comment),
                )
                .await;
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["verdict"], "hold", "{body}");
            body["verdict_id"].as_str().unwrap().to_owned()
        }
    };
    // Older: a held comment carrying markup that must show as text, and a handler that must
    // not run. Newer: the one the moderator marks as spam.
    let mut markup = held_comment("browser-xss");
    markup["content"] = json!(format!(
        "{} <img src=x onerror=\"window.cgInjected=1\"> <b>bold</b>",
        markup["content"].as_str().unwrap()
    ));
    let xss_verdict = score(markup).await;
    let target_comment = held_comment("browser");
    let verdict = score(target_comment.clone()).await;

    let artifacts = artifacts_dir();
    for name in [
        "console-queue.png",
        "console-queue-desktop.png",
        "console-model.png",
    ] {
        let _ = std::fs::remove_file(artifacts.join(name));
    }
    let mut node = Command::new("node");
    node.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/console/console_e2e.mjs"
    ))
    .env("CG_BASE_URL", &app.address)
    .env("CG_KEY", &keys.moderator)
    .env("CG_VERDICT_ID", &verdict)
    .env("CG_XSS_VERDICT_ID", &xss_verdict)
    .env("CG_ARTIFACTS", &artifacts)
    .env("CG_CONSOLE_NODE_DIR", &node_dir)
    .env("CG_CHROMIUM", CHROMIUM);
    let output = tokio::task::spawn_blocking(move || run_with_deadline(node, BROWSER_DEADLINE))
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "console_e2e.mjs failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: Value = serde_json::from_str(stdout.lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("console_e2e.mjs printed no summary ({e}): {stdout}"));
    assert_eq!(summary["failed"], 0, "{summary}");
    assert!(summary["passed"].as_u64().unwrap() >= 10, "{summary}");

    // The click went through the feedback API into the label store.
    let labels = app
        .send(Method::GET, "/v1/labels", Some(&keys.moderator), None)
        .await
        .text()
        .await
        .unwrap();
    let labels: Vec<Value> = labels
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let find = |id: &str| {
        labels
            .iter()
            .find(|l| l["verdict_id"] == id)
            .unwrap_or_else(|| panic!("no label for verdict {id}: {labels:?}"))
    };
    assert_eq!(find(&verdict)["label"], "spam");
    assert_eq!(find(&verdict)["text"], target_comment["content"]);
    assert_eq!(find(&xss_verdict)["label"], "ham", "the keyboard shortcut");

    for name in [
        "console-queue.png",
        "console-queue-desktop.png",
        "console-model.png",
    ] {
        assert_png(&artifacts.join(name));
    }
}
