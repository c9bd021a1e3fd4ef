//! Graceful shutdown of the real binary: SIGTERM lets requests in flight finish, refuses new
//! connections, and exits 0 within the shutdown timeout.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The shutdown timeout the test configures; the process must be gone well within it.
const SHUTDOWN_TIMEOUT_SECS: u64 = 8;

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

/// Sends the head of a score request and the first half of its body, leaving the handler
/// waiting for the rest; returns the connection and the rest of the body.
fn start_slow_request(port: u16, n: usize) -> (TcpStream, Vec<u8>) {
    let body = format!(r#"{{"content": "in-flight comment number {n}, a perfectly normal one"}}"#);
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let head = format!(
        "POST /v1/comments/score HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let (first, rest) = body.as_bytes().split_at(body.len() / 2);
    stream.write_all(head.as_bytes()).expect("write head");
    stream.write_all(first).expect("write half");
    (stream, rest.to_vec())
}

fn get(port: u16, path: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer)
}

#[test]
fn sigterm_finishes_requests_in_flight_and_exits_zero() {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let log_path = data_dir.path().join("stderr.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_commentguard"))
        .arg("serve")
        .env_clear()
        .env("COMMENTGUARD_DATA_DIR", data_dir.path())
        .env("COMMENTGUARD_BIND", format!("127.0.0.1:{port}"))
        .env("COMMENTGUARD_WORKERS", "2")
        .env(
            "COMMENTGUARD_SHUTDOWN_TIMEOUT_SECS",
            SHUTDOWN_TIMEOUT_SECS.to_string(),
        )
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start the binary");

    let deadline = Instant::now() + Duration::from_secs(30);
    while !get(port, "/readyz").is_ok_and(|a| a.starts_with("HTTP/1.1 200")) {
        assert!(Instant::now() < deadline, "the server did not become ready");
        std::thread::sleep(Duration::from_millis(50));
    }

    // Three requests in flight: their handlers are reading bodies that are not all there.
    let in_flight: Vec<_> = (0..3).map(|n| start_slow_request(port, n)).collect();
    std::thread::sleep(Duration::from_millis(300));
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
    let signalled = Instant::now();
    std::thread::sleep(Duration::from_millis(500));

    // No new connections once stopping.
    assert!(
        get(port, "/healthz").is_err(),
        "a new connection was served after SIGTERM"
    );
    assert!(
        child.try_wait().expect("try_wait").is_none(),
        "exited with requests still in flight"
    );

    // The requests in flight complete normally.
    for (mut stream, rest) in in_flight {
        stream.write_all(&rest).expect("write the rest");
        let _ = stream.shutdown(Shutdown::Write);
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("read the answer");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.contains("\"verdict\""), "{answer}");
    }

    let exit = loop {
        if let Some(exit) = child.try_wait().expect("try_wait") {
            break exit;
        }
        if signalled.elapsed() > Duration::from_secs(SHUTDOWN_TIMEOUT_SECS + 5) {
            let _ = child.kill();
            panic!("still running {SHUTDOWN_TIMEOUT_SECS} s + 5 s after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let logs = std::fs::read_to_string(&log_path).unwrap_or_default();
    assert_eq!(exit.code(), Some(0), "exit {exit:?}; logs:\n{logs}");
    assert!(
        signalled.elapsed() < Duration::from_secs(SHUTDOWN_TIMEOUT_SECS),
        "took {:?}",
        signalled.elapsed()
    );
    assert!(logs.contains("\"stopped\""), "no final log line:\n{logs}");
}
