//! The cache, the signals, the fuzzy store and the review history on a real 3-node Redis
//! Cluster that the test starts: every multi-key script and pipeline must stay within one
//! hash slot there, or Redis answers CROSSSLOT (which the cache would swallow as a miss, so
//! the test also checks that no call failed).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, status_and_json, TestApp};

/// Three primaries, no replicas, killed on drop.
struct RedisCluster {
    children: Vec<Child>,
    ports: Vec<u16>,
    _dir: tempfile::TempDir,
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A port free for the node and for its cluster bus (the port + 10,000).
fn free_node_port(taken: &[u16]) -> u16 {
    for _ in 0..1000 {
        let port = 20_000 + rand::random::<u16>() % 20_000;
        if taken.contains(&port) {
            continue;
        }
        let free = |p: u16| TcpListener::bind(("127.0.0.1", p)).is_ok();
        if free(port) && free(port + 10_000) {
            return port;
        }
    }
    panic!("no free port pair for a cluster node");
}

fn tool(name: &str, package: &str) {
    let found = Command::new(name)
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "{name} is missing: the Redis Cluster test needs Debian's `{package}` package \
         (scripts/test.sh installs it)"
    );
}

fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl RedisCluster {
    fn start() -> Self {
        tool("redis-server", "redis-server");
        tool("redis-cli", "redis-tools");
        let dir = tempfile::tempdir().expect("temp dir");
        let mut ports = Vec::new();
        for _ in 0..3 {
            ports.push(free_node_port(&ports));
        }
        let children = ports
            .iter()
            .map(|port| {
                Command::new("redis-server")
                    .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                    .args(["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"])
                    .args(["--cluster-config-file", &format!("nodes-{port}.conf")])
                    .args(["--save", "", "--appendonly", "no"])
                    .arg("--dir")
                    .arg(dir.path())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("redis-server starts")
            })
            .collect();
        let cluster = RedisCluster {
            children,
            ports,
            _dir: dir,
        };
        cluster.until(|port| cli(port, &["PING"]).contains("PONG"), "answer PING");
        let nodes: Vec<String> = cluster
            .ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&nodes)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .expect("redis-cli --cluster create runs");
        assert!(
            created.status.success(),
            "cluster create failed: {}",
            String::from_utf8_lossy(&created.stdout)
        );
        cluster.until(
            |port| cli(port, &["CLUSTER", "INFO"]).contains("cluster_state:ok"),
            "report cluster_state:ok",
        );
        cluster
    }

    fn until(&self, ready: impl Fn(u16) -> bool, what: &str) {
        let start = Instant::now();
        while !self.ports.iter().all(|&p| ready(p)) {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the nodes did not {what}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The seed node list, as `COMMENTGUARD_REDIS_URL` takes it.
    fn url(&self) -> String {
        self.ports
            .iter()
            .map(|p| format!("redis://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Keys stored on each node: the data must be spread, not all on one.
    fn keys_per_node(&self) -> Vec<u64> {
        self.ports
            .iter()
            .map(|&p| cli(p, &["DBSIZE"]).trim().parse().unwrap_or(0))
            .collect()
    }
}

async fn app_on(cluster: &RedisCluster, prefix: &str) -> TestApp {
    let (url, prefix) = (cluster.url(), prefix.to_owned());
    spawn_app_with(move |s| {
        s.redis_url = Some(url);
        s.redis_cluster = true;
        s.cache_prefix = prefix;
        // The error count below is to catch CROSSSLOT answers, not a slow call on a loaded
        // CI machine (the 25 ms default counts a timeout as an error too).
        s.redis_timeout = Duration::from_secs(2);
    })
    .await
}

fn reason_ids(body: &Value) -> Vec<String> {
    body["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

async fn cache_errors(app: &TestApp) -> String {
    let text = app
        .request(Method::GET, "/metrics")
        .await
        .text()
        .await
        .unwrap();
    text.lines()
        .find(|l| l.starts_with("commentguard_cache_errors_total"))
        .unwrap_or("commentguard_cache_errors_total 0")
        .to_owned()
}

#[tokio::test]
async fn cache_signals_fuzzy_store_and_review_work_on_a_redis_cluster() {
    let cluster = RedisCluster::start();
    let (first, second) = (app_on(&cluster, "cg").await, app_on(&cluster, "cg").await);

    // Verdict cache and ids: the other replica answers from the cluster.
    crate::redis_cache::verdicts_are_shared(&first, &second, "c-cluster-1").await;

    // Cross-site, repeat and flood counters.
    crate::redis_cache::signals_fire(&first).await;

    // Fuzzy store: labelled spam shared across replicas; near-duplicates across sites (under
    // a prefix of their own, so the texts above do not count).
    crate::fuzzy::labelled_template_is_recognised_spun(&first, &second).await;
    let third = app_on(&cluster, "cg3").await;
    crate::fuzzy::spun_variants_count_across_sites(&third).await;

    // Review history: the spam verdicts above are in the queue on the other replica.
    let start = Instant::now();
    loop {
        let (status, page) =
            status_and_json(second.request(Method::GET, "/v1/review/queue").await).await;
        assert_eq!(status, 200, "{page}");
        if !page["items"].as_array().unwrap().is_empty() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "review history empty: {page}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Pins and the spam memory (kept by each replica's label book) work alongside.
    let spam = json!({"content": "Earn money from home, ask me how", "author_email": "earner@spam.example"});
    let (status, _) = first
        .feedback(&json!({"label": "spam", "comment": spam}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(reason_ids(&first.score(&spam).await)[0], "moderator.label");
    let next = first
        .score(&json!({"content": "A thoughtful article about birdwatching.", "author_email": "earner@spam.example"}))
        .await;
    assert!(
        reason_ids(&next).contains(&"memory.author_email".to_owned()),
        "{next}"
    );

    for app in [&first, &second, &third] {
        let (_, ready) = status_and_json(app.request(Method::GET, "/readyz").await).await;
        assert_eq!(ready["cache"], "ok", "{ready}");
        assert_eq!(
            cache_errors(app).await,
            "commentguard_cache_errors_total 0",
            "no call failed (a CROSSSLOT error would count here)"
        );
    }
    let spread = cluster.keys_per_node();
    assert!(
        spread.iter().filter(|&&n| n > 0).count() >= 2,
        "keys spread over the nodes: {spread:?}"
    );
}
