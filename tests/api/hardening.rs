//! Slow clients: a body that stalls or drips past the body deadline is answered 408 and its
//! connection closed; a client IP over its open-connection cap is refused at accept and
//! counted in `/metrics`. Raw sockets, since an HTTP client would not misbehave on purpose.

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{spawn_app_with, TestApp};

/// The body deadline of these tests: short, so they are quick.
const DEADLINE: Duration = Duration::from_millis(400);

/// Longest a test waits for an answer; a server without the deadline never answers.
const PATIENCE: Duration = Duration::from_secs(5);

async fn app_with_deadline() -> TestApp {
    spawn_app_with(|s| s.body_timeout = DEADLINE).await
}

/// What came back on a connection: the bytes read until the server closed it, or `None`
/// if it had not closed it within [`PATIENCE`]; and how long that took.
async fn read_until_closed(stream: &mut TcpStream) -> (Option<String>, Duration) {
    let start = Instant::now();
    let mut received = Vec::new();
    let read = tokio::time::timeout(PATIENCE, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    let text = read
        .ok()
        .map(|()| String::from_utf8_lossy(&received).into_owned());
    (text, start.elapsed())
}

/// A request head announcing `length` bytes of `content_type` body on `path`.
fn head(path: &str, content_type: &str, length: usize) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {content_type}\r\n\
         Content-Length: {length}\r\n\r\n"
    )
}

/// Sends `sent` and then nothing more, and returns what came back.
async fn stall(app: &TestApp, sent: &str) -> (Option<String>, Duration) {
    let mut stream = TcpStream::connect(("127.0.0.1", app.port)).await.unwrap();
    stream.write_all(sent.as_bytes()).await.unwrap();
    read_until_closed(&mut stream).await
}

/// The answer arrived after the deadline, not long after, and the connection was closed.
fn assert_timed_out(answer: (Option<String>, Duration), case: &str) -> String {
    let (text, elapsed) = answer;
    let text = text.unwrap_or_else(|| panic!("{case}: connection still open after {PATIENCE:?}"));
    assert!(
        text.starts_with("HTTP/1.1 408"),
        "{case}: expected a 408, got {text:?}"
    );
    assert!(
        elapsed >= DEADLINE - Duration::from_millis(50)
            && elapsed < DEADLINE + Duration::from_secs(2),
        "{case}: answered after {elapsed:?}, the deadline is {DEADLINE:?}"
    );
    assert!(
        text.to_ascii_lowercase().contains("connection: close"),
        "{case}: {text:?}"
    );
    text
}

#[tokio::test]
async fn a_stalled_json_body_gets_408_request_timeout_and_a_closed_connection() {
    let app = app_with_deadline().await;
    let partial = r#"{"content": "half a comm"#;
    let sent = format!(
        "{}{partial}",
        head("/v1/comments/score", "application/json", 200)
    );
    let text = assert_timed_out(stall(&app, &sent).await, "stalled JSON body");
    assert!(text.contains(r#""error":"request_timeout""#), "{text}");

    // A body that arrives in time is still served on a fresh connection.
    let response = app
        .post_score(&serde_json::json!({"content": "Thanks, this helped."}))
        .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_stalled_akismet_body_gets_the_akismet_literal_with_408_before_any_key_check() {
    let app = app_with_deadline().await;
    // No key at all: comment-check reads the body before it can check one.
    let sent = format!(
        "{}blog=https%3A%2F%2Fexample.org&comment_con",
        head(
            "/1.1/comment-check",
            "application/x-www-form-urlencoded",
            500
        )
    );
    let text = assert_timed_out(stall(&app, &sent).await, "stalled Akismet form");
    assert!(text.ends_with("\r\n\r\ninvalid"), "{text}");
    assert!(
        text.to_ascii_lowercase()
            .contains("x-akismet-debug-help: the request body did not arrive within 0.4 s"),
        "{text}"
    );
}

#[tokio::test]
async fn a_drip_fed_body_times_out_like_a_stalled_one() {
    let app = app_with_deadline().await;
    // (path, content type, why)
    let cases = [
        ("/v1/comments/score", "application/json", "JSON route"),
        (
            "/1.1/comment-check",
            "application/x-www-form-urlencoded",
            "Akismet route",
        ),
    ];
    for (path, content_type, why) in cases {
        let (text, elapsed) = drip(&app, "POST", path, content_type).await;
        let text =
            text.unwrap_or_else(|| panic!("{why}: connection still open after {PATIENCE:?}"));
        assert_timed_out((Some(text), elapsed), why);
    }
}

#[tokio::test]
async fn an_endless_body_a_route_ignores_does_not_hold_the_connection() {
    let app = app_with_deadline().await;
    let (text, elapsed) = drip(&app, "GET", "/healthz", "text/plain").await;
    let text = text.unwrap_or_else(|| panic!("connection still open after {PATIENCE:?}"));
    assert!(text.starts_with("HTTP/1.1 200"), "{text:?}");
    // Answered at once; closed rather than drained, within actix's 1 s linger.
    assert!(elapsed < Duration::from_secs(2), "closed after {elapsed:?}");
}

/// Sends a chunked body a byte every 50 ms, never the last chunk (each read makes progress,
/// so only a deadline on the whole body stops it); what came back until the server closed.
async fn drip(
    app: &TestApp,
    method: &str,
    path: &str,
    content_type: &str,
) -> (Option<String>, Duration) {
    let stream = TcpStream::connect(("127.0.0.1", app.port)).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {content_type}\r\n\
         Transfer-Encoding: chunked\r\n\r\n"
    );
    writer.write_all(request.as_bytes()).await.unwrap();
    let dripping = tokio::spawn(async move {
        for _ in 0..100 {
            if writer.write_all(b"1\r\na\r\n").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let start = Instant::now();
    let mut received = Vec::new();
    let read = tokio::time::timeout(PATIENCE, reader.read_to_end(&mut received)).await;
    let elapsed = start.elapsed();
    dripping.abort();
    let text = read
        .ok()
        .map(|_| String::from_utf8_lossy(&received).into_owned());
    (text, elapsed)
}

/// Opens a connection and sends a `GET path`; the answer, read until the server closes
/// (`Connection: close` asks it to).
async fn get(app: &TestApp, path: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", app.port)).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    // A refused connection may be shut down before the request is written.
    let _ = stream.write_all(request.as_bytes()).await;
    read_until_closed(&mut stream)
        .await
        .0
        .expect("the connection was not closed")
}

#[tokio::test]
async fn connections_over_the_per_ip_cap_are_refused_and_counted() {
    let app = spawn_app_with(|s| s.max_connections_per_ip = NonZeroU32::new(3)).await;
    let idle_a = TcpStream::connect(("127.0.0.1", app.port)).await.unwrap();
    let _idle_b = TcpStream::connect(("127.0.0.1", app.port)).await.unwrap();
    // Let the server take both before the next ones.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let third = get(&app, "/healthz").await;
    assert!(
        third.starts_with("HTTP/1.1 200"),
        "third, at the cap: {third:?}"
    );

    // The third has closed; hold it open this time, then the fourth is over the cap.
    let _idle_c = TcpStream::connect(("127.0.0.1", app.port)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let fourth = get(&app, "/healthz").await;
    assert!(
        fourth.starts_with("HTTP/1.1 429") && fourth.contains(r#""error":"too_many_connections""#),
        "fourth, over the cap: {fourth:?}"
    );

    // A connection closed frees its place.
    drop(idle_a);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let metrics = get(&app, "/metrics").await;
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics:?}");
    assert!(
        metrics
            .lines()
            .any(|l| l == "commentguard_connections_refused_total 1"),
        "{metrics}"
    );
    // Two idle ones and the one asking.
    assert!(
        metrics
            .lines()
            .any(|l| l == "commentguard_open_connections 3"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_trusted_proxy_is_not_capped() {
    let app = spawn_app_with(|s| {
        s.max_connections_per_ip = NonZeroU32::new(1);
        s.trusted_proxies = commentguard::ratelimit::TrustedProxies::parse("127.0.0.1").unwrap();
    })
    .await;
    let _idle = TcpStream::connect(("127.0.0.1", app.port)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let answer = get(&app, "/healthz").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
}

#[tokio::test]
async fn a_body_read_to_its_end_keeps_the_connection_for_the_next_request() {
    let app = app_with_deadline().await;
    let mut stream = TcpStream::connect(("127.0.0.1", app.port)).await.unwrap();
    let body = r#"{"content": "Thanks, this helped."}"#;
    // (framing, body as sent, why)
    let cases = [
        (
            format!("Content-Length: {}", body.len()),
            body.to_owned(),
            "sized",
        ),
        (
            "Transfer-Encoding: chunked".to_owned(),
            format!("{:x}\r\n{body}\r\n0\r\n\r\n", body.len()),
            "chunked",
        ),
    ];
    for (framing, sent, why) in cases {
        let request = format!(
            "POST /v1/comments/score HTTP/1.1\r\nHost: localhost\r\n\
             Content-Type: application/json\r\n{framing}\r\n\r\n{sent}"
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut buf = vec![0u8; 65536];
        let n = tokio::time::timeout(PATIENCE, stream.read(&mut buf))
            .await
            .expect("an answer")
            .unwrap();
        let text = String::from_utf8_lossy(&buf[..n]).to_ascii_lowercase();
        assert!(text.starts_with("http/1.1 200"), "{why}: {text:?}");
        assert!(!text.contains("connection: close"), "{why}: {text:?}");
    }
}
