//! Retraining benchmark: wall time and peak memory of one retraining job (corpus + N
//! synthetic moderator labels, the gate's two trainings, the final training, registering
//! and activating) for each N in COMMENTGUARD_BENCH_LABELS (default 10000,100000).
//!
//! Labels are synthetic variations of corpus comments written straight into a label log,
//! so the setup does not time fsyncs. Each size runs in a child process of this binary, so
//! the peak resident memory (VmHWM) belongs to that size alone. Run: scripts/bench-retrain.sh.

use std::io::Write;
use std::sync::Mutex;
use std::time::Instant;

use commentguard::cache::{Cache, LocalCache};
use commentguard::corpus::shipped_corpus;
use commentguard::domain::Comment;
use commentguard::labels::{Fingerprint, LabelBook, LabelRecord, LABELS_FILE};
use commentguard::moderation::Policy;
use commentguard::registry::Registry;
use commentguard::retrain::{run_job, GateTolerance, Jobs, RetrainContext, RetrainRequest};
use commentguard::scoring::Scorer;

fn peak_rss_mb() -> f64 {
    status_mb("VmHWM:")
}

/// Resident memory now.
fn rss_mb() -> f64 {
    status_mb("VmRSS:")
}

fn status_mb(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// CPU seconds this process has used (all threads, user and system), from /proc: unlike
/// wall time it hardly moves when other processes share the cores.
fn cpu_secs() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Fields after the parenthesised command name; utime and stime are 14th and 15th.
            let rest = s.rsplit_once(')')?.1;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let ticks: f64 =
                fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
            Some(ticks / 100.0)
        })
        .unwrap_or(f64::NAN)
}

fn run_one(n: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let corpus = shipped_corpus();
    let mut log = std::io::BufWriter::new(
        std::fs::File::create(dir.path().join(LABELS_FILE)).expect("label log"),
    );
    for i in 0..n {
        let row = &corpus[i % corpus.len()];
        let comment = Comment {
            content: format!("{} (variant {i})", row.text),
            author: row.author.clone(),
            ..Default::default()
        };
        let record = LabelRecord {
            seq: i as u64 + 1,
            label_id: format!("{i:032x}"),
            fingerprint: Fingerprint::of(&comment).to_hex(),
            label: row.label,
            previous: None,
            comment,
            verdict_id: None,
            moderator: None,
            note: None,
            key_id: None,
            origin: None,
            created_at: time::OffsetDateTime::UNIX_EPOCH,
        };
        serde_json::to_writer(&mut log, &record).expect("write");
        log.write_all(b"\n").expect("write");
    }
    drop(log);
    let rss_before = peak_rss_mb();
    let scorer = Scorer::load(None, Policy::default()).expect("shipped model");
    let started = Instant::now();
    let (book, _) = LabelBook::open(dir.path(), scorer, 2.0).expect("open labels");
    let opened = started.elapsed().as_secs_f64();
    // What the service holds for its labels (pins, spam memory) before any job runs.
    let rss_open = rss_mb();
    let registry = Registry::in_dir(dir.path());
    let jobs = Jobs::default();
    let activation = Mutex::new(());
    let cache = Cache::Local(LocalCache::new(
        std::time::Duration::from_secs(60),
        commentguard::cache::MemoryBudget::default(),
    ));
    let ctx = RetrainContext {
        registry: &registry,
        labels: &book,
        tolerance: GateTolerance::default(),
        keep_versions: 10,
        activation: &activation,
        cache: &cache,
    };
    let request = RetrainRequest {
        force: true,
        holdout: 0.2,
        triggered_by: "bench".into(),
    };
    let job_id = jobs.try_start(&request, "bench").expect("no job running");
    let started = Instant::now();
    let cpu_before = cpu_secs();
    run_job(&ctx, &jobs, &job_id, &request);
    let secs = started.elapsed().as_secs_f64();
    let cpu = cpu_secs() - cpu_before;
    let job = jobs.get(&job_id).expect("job");
    println!(
        "labels={n} corpus={} retrain_secs={secs:.2} cpu_secs={cpu:.2} replay_at_start_secs={opened:.2} peak_rss_mb={:.0} (before the labels: {rss_before:.0}, serving with them: {rss_open:.0}) state={:?}",
        job.corpus_docs,
        peak_rss_mb(),
        job.state
    );
    let stages: Vec<String> = job
        .timings
        .iter()
        .map(|t| format!("{}={:.3}", t.stage, t.secs))
        .collect();
    println!("  stages (s): {}", stages.join(", "));
}

fn main() {
    // A child run: `retrain --one N`.
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--one") {
        let n = args
            .get(i + 1)
            .and_then(|n| n.parse().ok())
            .expect("--one N");
        run_one(n);
        return;
    }
    if args.iter().any(|a| a == "--list" || a == "--test") {
        // `cargo test --benches` and `cargo bench -- --list` probe bench binaries.
        return;
    }
    let sizes =
        std::env::var("COMMENTGUARD_BENCH_LABELS").unwrap_or_else(|_| "10000,100000".into());
    let me = std::env::current_exe().expect("own path");
    for n in sizes
        .split(',')
        .filter_map(|n| n.trim().parse::<usize>().ok())
    {
        let status = std::process::Command::new(&me)
            .args(["--one", &n.to_string()])
            .status()
            .expect("child run");
        assert!(status.success(), "the run with {n} labels failed");
    }
}
