//! Spawning the application for a test, and an HTTP client pointed at it.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use commentguard::settings::{LogFormat, Settings};
use commentguard::startup::Application;
use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, Response};
use serde_json::Value;
use tempfile::TempDir;
use tracing_subscriber::fmt::writer::{BoxMakeWriter, MakeWriterExt};
use tracing_subscriber::EnvFilter;

/// A running application and a client for it; the server lives as long as the test runtime.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    /// The port the application listens on, on 127.0.0.1.
    pub port: u16,
    /// Client for requests to `address`.
    pub client: reqwest::Client,
    /// The settings the application was built with.
    pub settings: Settings,
    /// Keeps the data directory alive until the test ends.
    _data_dir: TempDir,
}

/// Spawns the application with test settings: a free port, a fresh data directory, the
/// embedded model, one worker.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Like [`spawn_app`], letting the test adjust the settings first.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    capture_logs();
    let data_dir = tempfile::tempdir().expect("cannot create a temporary data dir");
    let mut settings = Settings {
        bind: "127.0.0.1:0".parse().unwrap(),
        models_dir: None,
        data_dir: data_dir.path().to_path_buf(),
        workers: 1,
        ..Settings::default()
    };
    adjust(&mut settings);
    let application = Application::build(settings.clone()).expect("cannot build the application");
    let port = application.port();
    let address = format!("http://127.0.0.1:{port}");
    // The server future is Send, so it can run on the test's own runtime; it stops when
    // the test's runtime shuts down.
    tokio::spawn(application.run_until_stopped());
    TestApp {
        address,
        port,
        client: reqwest::Client::new(),
        settings,
        _data_dir: data_dir,
    }
}

impl TestApp {
    /// `POST /v1/comments/score` with `body` as JSON.
    pub async fn post_score(&self, body: &Value) -> Response {
        self.post_raw(serde_json::to_vec(body).unwrap(), Some("application/json"))
            .await
    }

    /// `POST /v1/comments/score` with raw bytes and an optional Content-Type.
    pub async fn post_raw(
        &self,
        body: impl Into<reqwest::Body>,
        content_type: Option<&str>,
    ) -> Response {
        let mut request = self
            .client
            .post(format!("{}/v1/comments/score", self.address))
            .body(body);
        if let Some(content_type) = content_type {
            request = request.header(CONTENT_TYPE, content_type);
        }
        request.send().await.expect("request failed")
    }

    /// A request with no body.
    pub async fn request(&self, method: Method, path: &str) -> Response {
        self.client
            .request(method, format!("{}{}", self.address, path))
            .send()
            .await
            .expect("request failed")
    }
}

/// Keys created for a test before its application starts.
pub struct TestKeys {
    /// An admin key.
    pub admin: String,
    /// A moderator key.
    pub moderator: String,
    /// A site key for [`TEST_SITE`].
    pub site: String,
    /// A site key that was revoked.
    pub revoked: String,
    /// The data directory holding them (the application's); lives until the test ends.
    pub dir: TempDir,
}

/// The site the test site key is for.
pub const TEST_SITE: &str = "https://blog.example.com";

/// Creates one key of each role (and a revoked one) in a fresh data directory.
pub fn create_keys() -> TestKeys {
    use commentguard::keys::{KeyFile, Role};
    let dir = tempfile::tempdir().expect("temp dir");
    let file = KeyFile::in_dir(dir.path());
    let create = |role, site: Option<&str>| file.create(role, site).expect("create key");
    let (_, admin) = create(Role::Admin, None);
    let (_, moderator) = create(Role::Moderator, None);
    let (_, site) = create(Role::Site, Some(TEST_SITE));
    let (revoked_record, revoked) = create(Role::Site, Some(TEST_SITE));
    file.revoke(&revoked_record.id).expect("revoke");
    TestKeys {
        admin,
        moderator,
        site,
        revoked,
        dir,
    }
}

/// Spawns the application with keys of every role already created.
pub async fn spawn_keyed_app() -> (TestApp, TestKeys) {
    let keys = create_keys();
    let dir = keys.dir.path().to_path_buf();
    let app = spawn_app_with(|s| s.data_dir = dir).await;
    (app, keys)
}

impl TestApp {
    /// A request with an optional bearer key and an optional JSON body.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<&Value>,
    ) -> Response {
        let mut request = self
            .client
            .request(method, format!("{}{}", self.address, path));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.expect("request failed")
    }

    /// `POST /v1/feedback` in open mode; returns status and body.
    pub async fn feedback(&self, body: &Value) -> (u16, Value) {
        status_and_json(
            self.send(Method::POST, "/v1/feedback", None, Some(body))
                .await,
        )
        .await
    }

    /// `POST /v1/comments/score` in open mode, asserting 200; returns the body.
    pub async fn score(&self, body: &Value) -> Value {
        let (status, json) = status_and_json(self.post_score(body).await).await;
        assert_eq!(status, 200, "{json}");
        json
    }
}

/// Status and JSON body of a response, asserting the body is JSON.
pub async fn status_and_json(response: Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.expect("cannot read the body");
    let json =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("body is not JSON ({e}): {text}"));
    (status, json)
}

/// Checks that a response is a well-formed error with this status and code; returns the
/// message. Panics with `case` in the message otherwise.
pub async fn assert_error(response: Response, status: u16, code: &str, case: &str) -> String {
    let (actual, body) = status_and_json(response).await;
    assert_eq!(actual, status, "{case}: status; body {body}");
    assert_eq!(body["error"], code, "{case}: code; body {body}");
    let message = body["message"]
        .as_str()
        .unwrap_or_else(|| panic!("{case}: no message: {body}"));
    assert!(!message.is_empty(), "{case}: empty message");
    message.to_owned()
}

/// Every log line of every application the tests spawned, in the production (JSON) format.
static LOGS: OnceLock<LogBuffer> = OnceLock::new();

/// An in-memory log sink shared by all tests.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        // A test that panicked while holding the lock must not hide the logs of the others.
        let mut buffer = self.0.lock().unwrap_or_else(|e| e.into_inner());
        buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs, once per test process, a global subscriber that records every event at every
/// level into [`LOGS`], with the production JSON layout; set TEST_LOG=1 to see them on
/// stderr as well.
///
/// Global, not per test: the server's workers run on threads of their own, which a
/// thread-local `with_default` would not reach. So [`captured_logs`] holds the lines of
/// tests running in parallel too; look for something unique to your test.
///
/// Only the subscriber: `telemetry::init` would also install the panic hook, which hides
/// panic messages, and test failures need theirs.
fn capture_logs() {
    LOGS.get_or_init(|| {
        let buffer = LogBuffer::default();
        let sink = buffer.clone();
        let capture = move || sink.clone();
        let writer = if std::env::var_os("TEST_LOG").is_some() {
            BoxMakeWriter::new(capture.and(std::io::stderr))
        } else {
            BoxMakeWriter::new(capture)
        };
        let subscriber = commentguard::telemetry::subscriber(
            LogFormat::Json,
            EnvFilter::new("trace"),
            false,
            writer,
        );
        tracing::subscriber::set_global_default(subscriber)
            .expect("another global log subscriber is installed");
        buffer
    });
}

/// Everything logged so far by the applications of all tests (see [`capture_logs`]).
pub fn captured_logs() -> String {
    let logs = LOGS.get().expect("no application was spawned yet");
    let buffer = logs.0.lock().unwrap_or_else(|e| e.into_inner());
    String::from_utf8_lossy(&buffer).into_owned()
}

/// Runs an idempotent install script of the suite (`tests/<script>`, given a directory
/// under the target dir named `dir_name`) once per target directory and answers that
/// directory; `needs` says what the script needs, for the failure message.
pub fn installed_by(script: &str, dir_name: &str, needs: &str) -> std::path::PathBuf {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(dir_name);
    let path = format!("{}/tests/{script}", env!("CARGO_MANIFEST_DIR"));
    let output = std::process::Command::new("bash")
        .arg(&path)
        .arg(&dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run tests/{script} (needs bash): {e}"));
    assert!(
        output.status.success(),
        "tests/{script} failed (it needs {needs}; scripts/test.sh installs them):\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    dir
}

/// Polls `check` every 20 ms until it holds or `limit` passes; answers the time it took.
pub async fn within<F: std::future::Future<Output = bool>>(
    limit: Duration,
    mut check: impl FnMut() -> F,
) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if check().await {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

/// The test build of `commentguard serve` as a child process on a free port, for tests that
/// kill it; killed on drop.
pub struct BinaryService {
    child: std::process::Child,
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    _owned_dir: Option<TempDir>,
}

impl BinaryService {
    /// Starts it over `data_dir` with nothing from the test's environment but `env`, and
    /// waits until it is ready.
    pub async fn start(data_dir: &std::path::Path, env: &[(&str, &str)]) -> BinaryService {
        Self::start_with(data_dir, env, None).await
    }

    /// [`BinaryService::start`] over a fresh data directory of its own.
    pub async fn start_fresh(env: &[(&str, &str)]) -> BinaryService {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().to_path_buf();
        Self::start_with(&path, env, Some(dir)).await
    }

    async fn start_with(
        data_dir: &std::path::Path,
        env: &[(&str, &str)],
        owned_dir: Option<TempDir>,
    ) -> BinaryService {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_commentguard"))
            .arg("serve")
            .env_clear()
            .env("COMMENTGUARD_DATA_DIR", data_dir)
            .env("COMMENTGUARD_BIND", format!("127.0.0.1:{port}"))
            .env("COMMENTGUARD_WORKERS", "1")
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start the binary");
        let service = BinaryService {
            child,
            address: format!("http://127.0.0.1:{port}"),
            _owned_dir: owned_dir,
        };
        let client = reqwest::Client::new();
        let ready = within(Duration::from_secs(30), || async {
            let answer = client
                .get(format!("{}/readyz", service.address))
                .send()
                .await;
            answer.is_ok_and(|r| r.status() == 200)
        })
        .await;
        assert!(ready.is_some(), "the binary did not start");
        service
    }

    /// Kills it the way a crash would (SIGKILL): no shutdown, nothing flushed or closed.
    pub fn sigkill(&mut self) {
        self.child.kill().expect("kill the binary");
        let _ = self.child.wait();
    }
}

impl Drop for BinaryService {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
