//! Faults under a stream of corrections from three replicas, two in process and one the
//! real binary: PostgreSQL restarted (immediate stop, so sessions die mid-transaction) and
//! the binary replica killed with SIGKILL. Every label that got a 200 is in the database
//! afterwards, no comment has two rows, the only refusals are `503
//! label_store_unavailable`, and every surviving replica (and one started afterwards) has
//! learnt each label exactly once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, status_and_json, BinaryService, TestApp};
use crate::postgres_server::{execute, PostgresServer};

async fn replica(url: &str) -> TestApp {
    let url = url.to_owned();
    spawn_app_with(move |s| s.database_url = Some(url)).await
}

/// What the writers saw.
#[derive(Default)]
struct Outcomes {
    /// Label ids answered with 200.
    acknowledged: Vec<String>,
    /// 503 `label_store_unavailable` answers.
    unavailable: usize,
    /// Anything else, described: must stay empty.
    unexpected: Vec<String>,
    /// Requests that got no answer, by replica address (only the killed one may have any).
    unanswered: Vec<String>,
}

/// Sends spam labels for unique comments to `address` until `stop`.
async fn writer(
    address: String,
    tag: String,
    outcomes: Arc<Mutex<Outcomes>>,
    stop: Arc<AtomicBool>,
) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let comment = json!({"content": format!("Cheap followers for your channel, offer {tag}-{n} at growth.example"),
                             "author": format!("seller {tag}")});
        let sent = client
            .post(format!("{address}/v1/feedback"))
            .json(&json!({"label": "spam", "comment": comment}))
            .send()
            .await;
        let answer = match sent {
            Ok(response) => status_and_json(response).await,
            Err(_) => {
                outcomes.lock().unwrap().unanswered.push(address.clone());
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let refused = answer.0 == 503;
        {
            let mut seen = outcomes.lock().unwrap();
            match answer {
                (200, body) => seen
                    .acknowledged
                    .push(body["label_id"].as_str().unwrap().to_owned()),
                (503, body) if body["error"] == "label_store_unavailable" => seen.unavailable += 1,
                (status, body) => seen.unexpected.push(format!("{status} {body}")),
            }
        }
        // As a client would: a pause after a refusal, not a spin while the database is down.
        if refused {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn readiness(address: &str) -> Value {
    let response = reqwest::get(format!("{address}/readyz")).await.unwrap();
    status_and_json(response).await.1
}

/// Waits until `count` labels are acknowledged, at most `limit`.
async fn until_acknowledged(outcomes: &Mutex<Outcomes>, count: usize, limit: Duration) {
    let start = Instant::now();
    while outcomes.lock().unwrap().acknowledged.len() < count {
        assert!(
            start.elapsed() < limit,
            "only {} labels acknowledged, waiting for {count}",
            outcomes.lock().unwrap().acknowledged.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_acknowledged_label_is_lost_to_a_postgres_restart_or_a_killed_replica() {
    let server = Arc::new(PostgresServer::start());
    let url = server.url();
    let (a, b) = (replica(&url).await, replica(&url).await);
    let mut killed = BinaryService::start_fresh(&[("COMMENTGUARD_DATABASE_URL", &url)]).await;
    let base = readiness(&a.address).await["model_documents"]["spam"]
        .as_u64()
        .unwrap();

    let outcomes = Arc::new(Mutex::new(Outcomes::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for (i, address) in [&a.address, &b.address, &killed.address]
        .into_iter()
        .cycle()
        .take(6)
        .enumerate()
    {
        writers.push(tokio::spawn(writer(
            address.clone(),
            format!("w{i}"),
            outcomes.clone(),
            stop.clone(),
        )));
    }
    let limit = Duration::from_secs(60);
    until_acknowledged(&outcomes, 40, limit).await;
    killed.sigkill();
    let after_kill = outcomes.lock().unwrap().acknowledged.len();
    until_acknowledged(&outcomes, after_kill + 40, limit).await;
    // An immediate stop: no checkpoint, sessions cut mid-transaction; the restart recovers
    // from the write-ahead log.
    let restarting = server.clone();
    tokio::task::spawn_blocking(move || {
        restarting.stop_immediately();
        std::thread::sleep(Duration::from_millis(300));
        restarting.start_again();
    })
    .await
    .unwrap();
    let after_restart = outcomes.lock().unwrap().acknowledged.len();
    until_acknowledged(&outcomes, after_restart + 40, limit).await;
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }

    let seen = std::mem::take(&mut *outcomes.lock().unwrap());
    assert!(seen.unexpected.is_empty(), "{:?}", seen.unexpected);
    assert!(
        seen.unanswered
            .iter()
            .all(|address| address == &killed.address),
        "a surviving replica left requests unanswered: {:?}",
        seen.unanswered
    );
    assert!(seen.unavailable > 0, "the restart was never felt: no 503");
    let rows = execute(&url, "SELECT label_id, fingerprint, seq FROM cg_labels").await;
    let stored: std::collections::HashSet<String> = rows.iter().map(|r| r.get(0)).collect();
    let missing: Vec<&String> = seen
        .acknowledged
        .iter()
        .filter(|id| !stored.contains(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "acknowledged but not stored: {missing:?}"
    );
    let fingerprints: std::collections::HashSet<String> = rows.iter().map(|r| r.get(1)).collect();
    assert_eq!(fingerprints.len(), rows.len(), "a comment stored twice");
    let last: i64 = rows.iter().map(|r| r.get::<_, i64>(2)).max().unwrap();

    // Each surviving replica, and one started now, learns every stored label exactly once.
    let late = replica(&url).await;
    for (name, address) in [
        ("A", &a.address),
        ("B", &b.address),
        ("late", &late.address),
    ] {
        let start = Instant::now();
        let want = json!({"spam": base + rows.len() as u64});
        loop {
            let ready = readiness(address).await;
            if ready["labels_applied_through"] == last
                && ready["model_documents"]["spam"] == want["spam"]
            {
                assert_eq!(ready["labels"], "ok", "{name}: {ready}");
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "replica {name} has not learnt the {} labels once each through {last}: {ready}",
                rows.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
