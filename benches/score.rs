//! In-process scoring speed: normalise, tokenize, rules, naive Bayes, verdict, evidence.
//!
//! Scores every comment of the youtube-all test split (`scripts/bench.sh` writes it with the
//! shared `make_splits.py`; set `COMMENTGUARD_BENCH_INPUT` to use another JSON Lines file).
//! Criterion's median time per iteration divided by the number of comments is the median
//! cost per comment; the throughput line shows it directly. The `stage_*` benches time
//! normalisation, the rule filters, the classifier (features, naive Bayes, evidence) and the
//! verdict policy alone over the same comments: where the time goes on the machine at hand.
//! The `rules_one_comment` benches, last, time the rule filters on single comments that fill
//! the fields the split leaves empty.

use std::hint::black_box;
use std::path::PathBuf;

use commentguard::classifier::author_fields;
use commentguard::corpus::load_jsonl;
use commentguard::domain::Comment;
use commentguard::fuzzy;
use commentguard::moderation::{decide, Policy};
use commentguard::rules::RuleInput;
use commentguard::scoring::{Scorer, EVIDENCE_TOKENS};
use commentguard::text::{canonicalize, normalize_content};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use time::{Duration, OffsetDateTime};

fn input() -> PathBuf {
    std::env::var_os("COMMENTGUARD_BENCH_INPUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/splits/youtube-all-test.jsonl"))
}

/// The site `COMMENTGUARD_BENCH_SITE_LABELS` labels at.
const BENCH_SITE: &str = "https://bench.example";

/// `COMMENTGUARD_BENCH_SITE_LABELS=N` teaches the scorer N labels of [`BENCH_SITE`] (the
/// youtube-all and blog training splits, cycled) and scores every comment as that site's;
/// `COMMENTGUARD_BENCH_SITE=URL` scores them as another site's instead (one without a
/// layer, while the bench site has one). Unset, comments keep their own (absent) site.
fn with_site_labels(scorer: &mut Scorer, mut comments: Vec<Comment>) -> Vec<Comment> {
    let Some(n) = std::env::var_os("COMMENTGUARD_BENCH_SITE_LABELS") else {
        return comments;
    };
    let n: usize = n
        .to_str()
        .and_then(|n| n.parse().ok())
        .expect("COMMENTGUARD_BENCH_SITE_LABELS is a number");
    let mut rows = Vec::new();
    for split in ["youtube-all-train.jsonl", "blog-train.jsonl"] {
        rows.extend(load_jsonl(&PathBuf::from("target/splits").join(split)).expect("split loads"));
    }
    let labelled: Vec<(Comment, commentguard::domain::Label)> = rows
        .iter()
        .cycle()
        .take(n)
        .map(|row| {
            let mut comment = row.to_comment();
            comment.site = Some(BENCH_SITE.into());
            (comment, row.label)
        })
        .collect();
    let items: Vec<_> = labelled.iter().map(|(c, l)| (c, *l, 1.0)).collect();
    scorer.learn_many(&items);
    let site = std::env::var("COMMENTGUARD_BENCH_SITE").unwrap_or_else(|_| BENCH_SITE.into());
    for comment in &mut comments {
        comment.site = Some(site.clone());
    }
    comments
}

fn bench_score(c: &mut Criterion) {
    let path = input();
    let comments: Vec<Comment> = load_jsonl(&path)
        .unwrap_or_else(|e| panic!("{e}: run scripts/bench.sh, which writes the split first"))
        .iter()
        .map(|row| row.to_comment())
        .collect();
    // COMMENTGUARD_BENCH_MODELS points at another models directory (e.g. a model trained with
    // other parameters); unset benchmarks the shipped model.
    let models = std::env::var_os("COMMENTGUARD_BENCH_MODELS").map(PathBuf::from);
    let mut scorer = Scorer::load(models.as_deref(), Policy::default()).expect("model loads");
    let comments = with_site_labels(&mut scorer, comments);
    let now = OffsetDateTime::now_utc();
    // COMMENTGUARD_BENCH_DUMP=FILE writes what scoring computes for every comment instead of
    // timing it: diff the files of two builds to check a speed change kept the output.
    if let Some(out) = std::env::var_os("COMMENTGUARD_BENCH_DUMP") {
        std::fs::write(&out, dump(&scorer, &comments, now)).expect("dump file is writable");
        return;
    }

    // COMMENTGUARD_BENCH_PASSES=N scores every comment N times untimed and stops: a fixed
    // amount of work, so instruction counts (`valgrind --tool=callgrind`) of two builds
    // compare exactly, one-time costs such as the regex DFAs' state building included.
    if let Some(passes) = std::env::var_os("COMMENTGUARD_BENCH_PASSES") {
        let passes: usize = passes
            .to_str()
            .and_then(|p| p.parse().ok())
            .expect("COMMENTGUARD_BENCH_PASSES is a number");
        for _ in 0..passes {
            for comment in &comments {
                black_box(scorer.score_comment(black_box(comment), now));
            }
        }
        return;
    }

    let mut group = c.benchmark_group("score");
    group.throughput(Throughput::Elements(comments.len() as u64));
    group.bench_function(
        format!("youtube_all_test_{}_comments", comments.len()),
        |b| {
            b.iter(|| {
                for comment in &comments {
                    black_box(scorer.score_comment(black_box(comment), now));
                }
            })
        },
    );
    // Each stage alone over the same comments, its inputs made beforehand, so the full
    // pipeline's time splits into its parts on the machine at hand (they add up to about
    // the whole; the rest is assembling the response).
    let texts: Vec<_> = comments
        .iter()
        .map(|c| normalize_content(&c.content))
        .collect();
    let model = scorer.model();
    let rules = scorer.rules();
    let verdict_inputs: Vec<_> = comments
        .iter()
        .zip(&texts)
        .map(|(comment, text)| {
            let hits = rules.evaluate(&RuleInput { comment, text, now });
            let (prediction, _) = model.assess_text(text, author_fields(comment), EVIDENCE_TOKENS);
            (hits, prediction.probability)
        })
        .collect();
    group.bench_function("stage_normalise", |b| {
        b.iter(|| {
            for comment in &comments {
                black_box(normalize_content(black_box(&comment.content)));
            }
        })
    });
    group.bench_function("stage_rules", |b| {
        b.iter(|| {
            for (comment, text) in comments.iter().zip(&texts) {
                black_box(rules.evaluate(black_box(&RuleInput { comment, text, now })));
            }
        })
    });
    group.bench_function("stage_classifier", |b| {
        b.iter(|| {
            for (comment, text) in comments.iter().zip(&texts) {
                black_box(model.assess_text(
                    black_box(text),
                    author_fields(comment),
                    EVIDENCE_TOKENS,
                ));
            }
        })
    });
    group.bench_function("stage_verdict", |b| {
        b.iter(|| {
            for (hits, probability) in &verdict_inputs {
                black_box(decide(scorer.policy(), black_box(hits), *probability));
            }
        })
    });
    // The fuzzy fingerprint the service adds to a fresh score: the signature of the
    // canonical body, and its look-up among the shipped corpus's spam.
    let canonical: Vec<String> = comments.iter().map(|c| canonicalize(&c.content)).collect();
    let shipped = fuzzy::shipped_index();
    group.bench_function("stage_fuzzy", |b| {
        b.iter(|| {
            for text in &canonical {
                if let Some(s) = fuzzy::signature_of(black_box(text)) {
                    black_box(shipped.neighbours(&s, 0));
                }
            }
        })
    });
    group.finish();

    // The split's comments carry a body and an author only, so the rules on the other
    // fields (e-mail, IP, user agent, form time) never run above: one long comment with
    // every field, and one with non-ASCII text, time them per evaluation.
    let mut group = c.benchmark_group("rules_one_comment");
    group.throughput(Throughput::Elements(1));
    for (name, comment) in rule_comments(now) {
        let text = normalize_content(&comment.content);
        let input = RuleInput {
            comment: &comment,
            text: &text,
            now,
        };
        group.bench_function(name, |b| {
            b.iter(|| black_box(rules.evaluate(black_box(&input))))
        });
        let body = canonicalize(&comment.content);
        group.bench_function(format!("fuzzy_{name}"), |b| {
            b.iter(|| fuzzy::signature_of(black_box(&body)).map(|s| shipped.neighbours(&s, 0)))
        });
    }
    group.finish();
}

/// Ham-like comments of a blog's length with the fields a comment form sends, for the
/// `rules_one_comment` benches.
fn rule_comments(now: OffsetDateTime) -> [(&'static str, Comment); 2] {
    [
        (
            "en_every_field",
            Comment {
                content: "I took the same night train from Vienna to Venice last October and had \
                          almost the opposite experience, so maybe this helps balance things out \
                          for other readers. Thanks!"
                    .into(),
                author: Some("Tom Brennan".into()),
                author_email: Some("tbrennan@example.net".into()),
                user_ip: Some("203.0.113.57".into()),
                user_agent: Some(
                    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like \
                     Gecko) Chrome/124.0.0.0 Safari/537.36"
                        .into(),
                ),
                form_rendered_at: Some(now - Duration::seconds(610)),
                ..Default::default()
            },
        ),
        (
            "de_author_form_time",
            Comment {
                content: "Danke für das Rezept! Ich habe den Zwetschgenkuchen gestern gebacken, \
                          allerdings mit Dinkelmehl statt Weizenmehl, und er ist trotzdem \
                          wunderbar saftig geworden. Süß!"
                    .into(),
                author: Some("Jürgen Weiß".into()),
                form_rendered_at: Some(now - Duration::seconds(150)),
                ..Default::default()
            },
        ),
    ]
}

/// Per comment: the normalised text, every feature (bucket, namespace, token), the
/// prediction with full precision and the evidence tokens, and the assessment.
fn dump(scorer: &Scorer, comments: &[Comment], now: OffsetDateTime) -> String {
    use std::fmt::Write;
    let model = scorer.model();
    let mut out = String::new();
    for comment in comments {
        let text = normalize_content(&comment.content);
        let features = model.features(&text, author_fields(comment));
        let tokens: Vec<String> = (0..features.len()).map(|i| features.token(i)).collect();
        let (prediction, evidence) = model.assess(features.view(), 5);
        let assessment = scorer.score_comment(comment, now);
        writeln!(
            out,
            "{text:?}\n{:?}\n{:?}\n{tokens:?}\n{prediction:?} {evidence:?}\n{assessment:?}",
            features.buckets(),
            features.kinds()
        )
        .expect("writing to a String cannot fail");
    }
    out
}

criterion_group!(benches, bench_score);
criterion_main!(benches);
