//! PostgreSQL for the label-store tests: a fresh schema in the machine's server
//! (127.0.0.1:5432, database `test`), or a private server per test (initdb + pg_ctl in a
//! temporary directory, on a free port) that the test can stop and start.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The machine's PostgreSQL, as the CI machine runs it (trust auth).
const MACHINE_SERVER: &str = "host=127.0.0.1 port=5432 user=postgres dbname=test";

/// A URL for a schema of its own in the machine's PostgreSQL: the schema is created now
/// (named `prefix` plus random digits) and the URL puts it first on the search path.
pub async fn fresh_schema(prefix: &str) -> String {
    let schema = format!("{prefix}_{:016x}", rand::random::<u64>());
    let (client, connection) = tokio_postgres::connect(MACHINE_SERVER, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "the PostgreSQL tests need the server at 127.0.0.1:5432 (user postgres, \
                 trust auth, database test), as the CI machine runs it: {e}"
            )
        });
    tokio::spawn(connection);
    client
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .await
        .expect("create the test schema");
    schema_url(5432, &schema)
}

/// `postgres://` URL of database `test` on `port` with `schema` first on the search path.
pub fn schema_url(port: u16, schema: &str) -> String {
    format!("postgres://postgres@127.0.0.1:{port}/test?options=-c%20search_path%3D{schema}")
}

/// Runs `sql` against the database at `url`.
pub async fn execute(url: &str, sql: &str) -> Vec<tokio_postgres::Row> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect to the test database");
    tokio::spawn(connection);
    client.query(sql, &[]).await.expect(sql)
}

/// A PostgreSQL server owned by one test; stopped on drop.
pub struct PostgresServer {
    /// The port it listens on (kept across restarts).
    pub port: u16,
    data: PathBuf,
    bin: PathBuf,
    _dir: tempfile::TempDir,
}

impl PostgresServer {
    /// initdb's a fresh cluster with a database `test` and starts it on a free port.
    pub fn start() -> Self {
        let bin = postgres_bin();
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        // PostgreSQL refuses to run as root: as root, run it as the `postgres` user.
        if is_root() {
            run(Command::new("chown")
                .args(["postgres:postgres"])
                .arg(dir.path()));
        }
        let server = PostgresServer {
            port,
            data,
            bin,
            _dir: dir,
        };
        server.as_owner(
            &server.bin.join("initdb"),
            &[
                "-D",
                server.data.to_str().unwrap(),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
            ],
        );
        server.start_again();
        server.as_owner(
            &server.bin.join("createdb"),
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &server.port.to_string(),
                "-U",
                "postgres",
                "test",
            ],
        );
        server
    }

    /// URL of its database `test`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/test", self.port)
    }

    /// Stops the server (fast shutdown: sessions are cut) and waits for it to go.
    pub fn stop(&self) {
        self.pg_ctl(&["stop", "-m", "fast", "-w"]);
    }

    /// Stops the server at once, as a crash would (no checkpoint; the next start recovers
    /// from the write-ahead log), and waits for it to go.
    pub fn stop_immediately(&self) {
        self.pg_ctl(&["stop", "-m", "immediate", "-w"]);
    }

    /// Starts it again on the same port and waits until it accepts connections.
    pub fn start_again(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off",
            self.port,
            self.data.display()
        );
        let log = self.data.join("server.log");
        self.pg_ctl(&["start", "-w", "-o", &options, "-l", log.to_str().unwrap()]);
    }

    fn pg_ctl(&self, args: &[&str]) {
        let mut all = vec!["-D", self.data.to_str().unwrap()];
        all.extend_from_slice(args);
        self.as_owner(&self.bin.join("pg_ctl"), &all);
    }

    fn as_owner(&self, program: &Path, args: &[&str]) -> Output {
        let mut command = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        };
        run(command.args(args))
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        let data = self.data.to_str().unwrap_or_default();
        let all = ["-D", data, "stop", "-m", "immediate", "-w"];
        let program = self.bin.join("pg_ctl");
        let mut command = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        let _ = command
            .args(all)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// The directory holding initdb and pg_ctl (Debian puts them off PATH).
fn postgres_bin() -> PathBuf {
    let found = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|bin| bin.join("initdb").is_file())
        .max();
    found.unwrap_or_else(|| {
        panic!(
            "the PostgreSQL fault tests start their own server and need initdb and pg_ctl \
             (/usr/lib/postgresql/*/bin): install the Debian package `postgresql` \
             (scripts/test.sh does)"
        )
    })
}

fn run(command: &mut Command) -> Output {
    let output = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}
