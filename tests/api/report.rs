//! `commentguard eval --model shipped --test FILE --report DIR`, run as the real binary on a
//! small hand-written fixture (tests/report/sample.jsonl), then the page opened from disk in
//! headless Chromium (tests/report/report_page.mjs): it renders, its curve has as many
//! points as report.json's, the matrix matches, no script errors, nothing fetched. The
//! screenshot is left in `target/report-artifacts/`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

/// The browser the test drives.
const CHROMIUM: &str = "/usr/bin/chromium";
/// Longest the browser run may take; a hang fails the test instead of stalling CI.
const BROWSER_DEADLINE: Duration = Duration::from_secs(600);
/// The labelled fixture: 12 spam, 12 genuine, some with an author URL.
const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/report/sample.jsonl");

/// Runs `command` to completion, or fails the test after `deadline` (the child is left to
/// the OS: killing it needs its id, which `wait_with_output` has taken).
fn run_with_deadline(mut command: Command, deadline: Duration) -> Output {
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot run node");
    let id = child.id();
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    match finished.recv_timeout(deadline) {
        Ok(output) => output.expect("cannot wait for node"),
        Err(_) => {
            let _ = Command::new("kill").arg(id.to_string()).status();
            panic!("report_page.mjs did not finish within {deadline:?} and was killed");
        }
    }
}

/// A fresh directory under the cargo target dir.
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("{name}-{:016x}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).expect("create a scratch dir");
    dir
}

/// `commentguard eval ARGS` with no configuration from the environment.
fn eval(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_commentguard"))
        .arg("eval")
        .args(args)
        .env_remove("COMMENTGUARD_CONFIG")
        .env_remove("COMMENTGUARD_MODELS_DIR")
        .output()
        .expect("run commentguard eval")
}

fn json_file(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_eval_report_renders_in_a_browser_with_the_curve_it_computed() {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: the report's browser test needs Debian's `chromium` package"
    );
    let dir = scratch("eval-report");
    let out = eval(&[
        "--model",
        "shipped",
        "--test",
        SAMPLE,
        "--report",
        dir.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "eval failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The line on stdout: metrics plus verdict shares per label.
    let line: Value = serde_json::from_slice(&out.stdout).expect("eval prints one JSON line");
    assert_eq!(line["verdicts"]["spam"]["count"], 12, "{line}");
    assert_eq!(line["verdicts"]["ham"]["count"], 12, "{line}");
    for key in ["f1", "fpr", "mcc", "precision", "recall", "held"] {
        assert!(line[key].is_number(), "{key} missing: {line}");
    }
    // Every comment the model judged gives the reason `classifier`: its verdict counts are the
    // verdict shares; a rule's counts never exceed its label's comments.
    for label in ["spam", "ham"] {
        let reasons = line["reasons"][label]
            .as_object()
            .expect("reasons per label");
        for (verdict, n) in line["reasons"][label]["classifier"]
            .as_object()
            .expect("the classifier's reason")
        {
            let share = line["verdicts"][label][verdict].as_f64().unwrap();
            assert_eq!(
                n.as_u64(),
                Some((share * 12.0).round() as u64),
                "{label} {verdict}"
            );
        }
        for (id, counts) in reasons {
            let total: u64 = counts
                .as_object()
                .unwrap()
                .values()
                .map(|n| n.as_u64().unwrap())
                .sum();
            assert!((1..=12).contains(&total), "{label} {id}: {counts}");
        }
    }

    let data = json_file(&dir.join("report.json"));
    let curve = data["pr_curve"].as_array().expect("pr_curve");
    assert!(
        curve.len() > 1 && curve.len() <= 24,
        "{} points",
        curve.len()
    );
    let thresholds: Vec<f64> = curve
        .iter()
        .map(|p| p["threshold"].as_f64().unwrap())
        .collect();
    assert!(thresholds.windows(2).all(|w| w[0] > w[1]), "{thresholds:?}");
    assert_eq!(curve.last().unwrap()["recall"], 1.0);
    // The matrix agrees with the verdict shares printed on stdout.
    let matrix: Vec<Vec<u64>> = serde_json::from_value(data["matrix"].clone()).unwrap();
    for (row, label) in [(0, "spam"), (1, "ham")] {
        for (col, verdict) in ["approve", "hold", "spam", "discard"].iter().enumerate() {
            let share = line["verdicts"][label][verdict].as_f64().unwrap();
            assert_eq!(
                matrix[row][col],
                (share * 12.0).round() as u64,
                "{label} {verdict}"
            );
        }
    }
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(!html.contains("<script") && !html.contains("http-equiv=\"refresh\""));

    let node_dir = crate::helpers::installed_by("console/setup.sh", "console-e2e", "node and npm")
        .join("node");
    // The screenshot is kept for people and CI to look at, beside the console's.
    let artifacts = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir")
        .join("report-artifacts");
    std::fs::create_dir_all(&artifacts).expect("create the artifacts dir");
    let _ = std::fs::remove_file(artifacts.join("eval-report.png"));
    let mut node = Command::new("node");
    node.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/report/report_page.mjs"
    ))
    .env("CG_REPORT_HTML", dir.join("report.html"))
    .env("CG_ARTIFACTS", &artifacts)
    .env("CG_CONSOLE_NODE_DIR", &node_dir)
    .env("CG_CHROMIUM", CHROMIUM);
    let output = run_with_deadline(node, BROWSER_DEADLINE);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "report_page.mjs failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: Value = serde_json::from_str(stdout.lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("report_page.mjs printed no summary ({e}): {stdout}"));
    assert_eq!(summary["failed"], 0, "{summary}");
    assert_eq!(
        summary["pr_points"].as_u64(),
        Some(curve.len() as u64),
        "{summary}"
    );
    let sweep = data["hold_sweep"].as_array().unwrap().len() as u64;
    assert_eq!(
        summary["sweep_points"],
        serde_json::json!(vec![sweep; 8]),
        "{summary}"
    );
    assert_eq!(summary["matrix"], data["matrix"], "{summary}");
    let png = std::fs::read(artifacts.join("eval-report.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 1000);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn eval_refuses_bad_usage_and_bad_rows_with_exit_2() {
    let dir = scratch("eval-usage");
    let bad = dir.join("bad.jsonl");
    std::fs::write(
        &bad,
        "{\"text\":\"ok\",\"label\":\"ham\"}\n{\"text\":\"x\",\"label\":\"maybe\"}\n",
    )
    .unwrap();
    let missing = dir.join("nothing-here");
    let cases: [(&[&str], &str, &str); 6] = [
        (
            &["--model", "shipped", "--train", SAMPLE, "--test", SAMPLE],
            "cannot be used with",
            "--model with --train",
        ),
        (
            &["--test", SAMPLE],
            "--train",
            "neither --model nor --train",
        ),
        (
            &["--model", "shipped", "--test", bad.to_str().unwrap()],
            ":2:",
            "a row with an unknown label",
        ),
        (
            &["--model", missing.to_str().unwrap(), "--test", SAMPLE],
            "cannot load the model",
            "no model there",
        ),
        (
            &["--model", "shipped", "--alpha", "0.3", "--test", SAMPLE],
            "apply to training",
            "a training setting with a model as it is",
        ),
        (
            &["--train", SAMPLE, "--alpha", "0", "--test", SAMPLE],
            "alpha must be a positive number",
            "smoothing of zero would divide by nothing",
        ),
    ];
    for (args, want, why) in cases {
        let out = eval(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{why}: {stderr}");
        assert!(stderr.contains(want), "{why}: {stderr}");
        assert!(out.stdout.is_empty(), "{why}: printed a report");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Stands in for `../shared/eval/make_splits.py`: writes small splits of three sources from
/// the shipped corpus (cut to 60 rows each, both classes), with the ids the script looks the
/// sources up by.
const FAKE_MAKE_SPLITS: &str = r#"
import glob, json, os, sys
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rows = {}
for path in sorted(glob.glob("fixtures/corpus/*.jsonl")):
    for line in open(path, encoding="utf-8"):
        row = json.loads(line)
        rows.setdefault((row["source"], row["label"]), []).append(row)
pick = {s: rows[(s, "spam")][:30] + rows[(s, "ham")][:30]
        for s in ("youtube-psy", "youtube-shakira", "sms")}
# A one-class blog, as the real splits have: the script's third table reads it again.
pick["blog-umd"] = rows[("blog-umd", "spam")][:30]
def write(name, chosen):
    with open(f"{out}/{name}.jsonl", "w", encoding="utf-8") as f:
        for r in chosen:
            f.write(json.dumps({k: r.get(k) or "" for k in ("id", "author", "text", "label")}) + "\n")
for s in pick:
    write(f"xsource-{s}-test", pick[s])
    write(f"xsource-{s}-train", [r for t in pick if t != s for r in pick[t]])
for name, s in (("youtube-all", "youtube-psy"), ("sms", "sms"), ("blog", "youtube-shakira")):
    write(f"{name}-train", pick[s][::2])
    write(f"{name}-test", pick[s][1::2])
"#;

#[test]
fn the_cross_source_script_prints_a_row_per_source_and_per_test_split() {
    let shared = scratch("xsource-shared");
    let splits = shared.join("splits");
    std::fs::create_dir_all(shared.join("eval")).unwrap();
    std::fs::write(shared.join("eval/make_splits.py"), FAKE_MAKE_SPLITS).unwrap();
    let davidson = shared.join("datasets/davidson-hate-offensive");
    std::fs::create_dir_all(&davidson).unwrap();
    // The real file's columns; class 2 is "neither", the only class the script reads.
    std::fs::write(
        davidson.join("labeled_data.csv"),
        ",count,hate_speech,offensive_language,neither,class,tweet\n\
         0,3,0,0,3,2,what a game last night\n\
         1,3,0,3,0,1,not read by the script\n\
         2,3,0,0,3,2,\"coffee first, then the long drive home\"\n",
    )
    .unwrap();
    let out = Command::new("bash")
        .arg("scripts/xsource.sh")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("COMMENTGUARD_SHARED", &shared)
        .env("COMMENTGUARD_SPLITS", &splits)
        .env("COMMENTGUARD_BIN", env!("CARGO_BIN_EXE_commentguard"))
        .env_remove("COMMENTGUARD_CONFIG")
        .env_remove("COMMENTGUARD_MODELS_DIR")
        .output()
        .expect("run scripts/xsource.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let row = |source: &str| -> Vec<String> {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&format!("| {source} |")))
            .unwrap_or_else(|| panic!("no row for {source} in\n{stdout}"));
        line.trim_matches('|')
            .split('|')
            .map(|c| c.trim().to_owned())
            .collect()
    };
    // (source, spam / genuine, why)
    let cases = [
        (
            "youtube-psy",
            "30 / 30",
            "every comment of a source is tested",
        ),
        (
            "youtube-shakira",
            "30 / 30",
            "one row per cross-source split",
        ),
        ("sms", "30 / 30", "the sms split, first table"),
        ("blog-umd", "30 / 0", "a one-class blog, first table"),
        (
            "blog-umd + author URL",
            "30 / 0",
            "the third table: each blog again, every comment with an author URL",
        ),
        (
            "youtube-all",
            "15 / 15",
            "the shipped recipe's test split: odd rows",
        ),
        ("blog", "15 / 15", "every test split of the second table"),
        (
            "davidson-neither",
            "0 / 2",
            "only the tweets of class 2, all genuine",
        ),
    ];
    for (source, counts, why) in cases {
        let cells = row(source);
        assert_eq!(cells.len(), 8, "{source} ({why}): {cells:?}");
        assert_eq!(cells[1], counts, "{source} ({why})");
        let both_classes = !counts.starts_with("0 /") && !counts.ends_with("/ 0");
        assert_eq!(
            cells[2].parse::<f64>().is_ok(),
            both_classes,
            "{source} ({why}): F1 is defined exactly when both classes are there"
        );
        for cell in &cells[2..] {
            assert!(
                cell == "—" || cell.parse::<f64>().is_ok_and(|v| (0.0..=1.0).contains(&v)),
                "{source} ({why}): {cell:?} is neither a share nor undefined"
            );
        }
    }
    // With a website on every comment, the first-day shop hold takes the blog spam that
    // comes under a shop's name ("cheap airline flights"): less of it is published.
    let published = |source: &str| row(source)[6].parse::<f64>().expect("spam published");
    assert!(
        published("blog-umd + author URL") < published("blog-umd"),
        "{stdout}"
    );
    let genuine_only = row("davidson-neither");
    assert_eq!(
        (genuine_only[2].as_str(), genuine_only[3].as_str()),
        ("—", "—"),
        "no spam: F1 and recall are undefined"
    );
    let _ = std::fs::remove_dir_all(&shared);
}
