//! Measuring the pipeline: the `eval` command's report and cross-validated threshold tuning.
//!
//! Metrics come from linfa's confusion matrix; a comment counts as predicted spam when its
//! verdict is spam or discard, and held comments are reported as a share (they are not
//! published, but a human still has to look at them). Besides the metrics, `eval` reports
//! what each true class got (verdict shares per label) and keeps every comment's outcome,
//! from which `eval --report` draws its page.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use linfa::prelude::ToConfusionMatrix;
use ndarray::Array1;
use serde::Serialize;
use time::OffsetDateTime;

use crate::classifier::{extract_files, ExtractedDoc, Trainer};
use crate::corpus::{load_jsonl, CorpusError, LabelledComment};
use crate::domain::{Comment, Label, Verdict};
use crate::moderation::Policy;
use crate::rules::RuleSet;
use crate::scoring::{shipped_rules, DecisionInputs, Scorer};

/// Metrics of one evaluation run (spam is the positive class).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct EvalReport {
    /// Share of comments classified correctly.
    pub accuracy: f64,
    /// Of comments called spam, the share that were spam.
    pub precision: f64,
    /// Of spam comments, the share called spam.
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
    /// Matthews correlation coefficient.
    pub mcc: f64,
    /// False-positive rate: share of ham called spam.
    pub fpr: f64,
    /// Share of comments held for a moderator.
    pub held: f64,
    /// Spam called spam.
    pub tp: u64,
    /// Ham not called spam.
    pub tn: u64,
    /// Ham called spam.
    pub fp: u64,
    /// Spam not called spam.
    #[serde(rename = "fn")]
    pub fn_: u64,
}

impl EvalReport {
    /// Computes the report from (predicted spam, actually spam, held) triples.
    pub fn from_outcomes(outcomes: &[(bool, bool, bool)]) -> Self {
        let count =
            |p: bool, t: bool| outcomes.iter().filter(|o| o.0 == p && o.1 == t).count() as u64;
        let (tp, fp, fn_, tn) = (
            count(true, true),
            count(true, false),
            count(false, true),
            count(false, false),
        );
        let n = outcomes.len().max(1) as f64;
        let held = outcomes.iter().filter(|o| o.2).count() as f64 / n;
        let fpr = if fp + tn == 0 {
            0.0
        } else {
            fp as f64 / (fp + tn) as f64
        };
        let round = |v: f64| {
            if v.is_finite() {
                (v * 1e4).round() / 1e4
            } else {
                0.0
            }
        };
        let predicted = Array1::from_iter(outcomes.iter().map(|o| o.0));
        let truth = Array1::from_iter(outcomes.iter().map(|o| o.1));
        // linfa lays its matrix out so that `precision()` is computed down the first argument's
        // axis: passing the ground truth as `self` makes precision and recall mean what they
        // say (the unit test below pins this with asymmetric counts). It also needs both
        // classes present somewhere to build a 2×2 matrix.
        let (accuracy, precision, recall, f1, mcc) = match truth.confusion_matrix(&predicted) {
            Ok(cm) if tp + fp > 0 && tp + fn_ > 0 && fp + tn > 0 => (
                cm.accuracy() as f64,
                cm.precision() as f64,
                cm.recall() as f64,
                cm.f1_score() as f64,
                cm.mcc() as f64,
            ),
            // One class only (a spam-only or ham-only source): linfa cannot build its
            // matrix, but precision and recall are still defined where their denominators
            // are not zero, and a spam-only file's recall is the figure that matters.
            _ => {
                let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
                let (precision, recall) = (ratio(tp, tp + fp), ratio(tp, tp + fn_));
                let f1 = if precision + recall > 0.0 {
                    2.0 * precision * recall / (precision + recall)
                } else {
                    0.0
                };
                ((tp + tn) as f64 / n, precision, recall, f1, 0.0)
            }
        };
        EvalReport {
            accuracy: round(accuracy),
            precision: round(precision),
            recall: round(recall),
            f1: round(f1),
            mcc: round(mcc),
            fpr: round(fpr),
            held: round(held),
            tp,
            tn,
            fp,
            fn_,
        }
    }
}

/// Scores every test comment with `scorer`.
pub fn evaluate(scorer: &Scorer, test: &[LabelledComment]) -> EvalReport {
    let now = OffsetDateTime::now_utc();
    let outcomes: Vec<(bool, bool, bool)> = test
        .iter()
        .map(|row| {
            let verdict = scorer.score_comment(&row.to_comment(), now).verdict;
            (
                verdict.is_spam(),
                row.label == Label::Spam,
                verdict == Verdict::Hold,
            )
        })
        .collect();
    EvalReport::from_outcomes(&outcomes)
}

/// Trains `trainer`'s pipeline (the shipped one, or other feature settings to try) on `train`
/// only and evaluates it on `test`.
pub fn evaluate_with(
    trainer: &Trainer,
    train: &Path,
    test: &Path,
    policy: &Policy,
) -> anyhow::Result<EvalReport> {
    Ok(evaluate_trained(trainer, train, test, policy)?.report)
}

/// Share of one true class's comments given each verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct VerdictShares {
    /// Comments of this class in the test file.
    pub count: u64,
    /// Share published.
    pub approve: f64,
    /// Share held for a moderator.
    pub hold: f64,
    /// Share put in the spam queue.
    pub spam: f64,
    /// Share dropped unseen.
    pub discard: f64,
}

impl VerdictShares {
    /// Shares of `verdicts` (all of one true class), rounded like the other metrics.
    pub fn of(verdicts: impl Iterator<Item = Verdict>) -> Self {
        let mut n = [0u64; 4];
        for v in verdicts {
            n[v as usize] += 1;
        }
        let count: u64 = n.iter().sum();
        let share = |k: u64| {
            if count == 0 {
                0.0
            } else {
                (k as f64 / count as f64 * 1e4).round() / 1e4
            }
        };
        VerdictShares {
            count,
            approve: share(n[Verdict::Approve as usize]),
            hold: share(n[Verdict::Hold as usize]),
            spam: share(n[Verdict::Spam as usize]),
            discard: share(n[Verdict::Discard as usize]),
        }
    }
}

/// How many comments giving one reason got each verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ReasonVerdicts {
    /// Published.
    pub approve: u64,
    /// Held for a moderator.
    pub hold: u64,
    /// Put in the spam queue.
    pub spam: u64,
    /// Dropped unseen.
    pub discard: u64,
}

impl ReasonVerdicts {
    fn count(&mut self, verdict: Verdict) {
        let n = match verdict {
            Verdict::Approve => &mut self.approve,
            Verdict::Hold => &mut self.hold,
            Verdict::Spam => &mut self.spam,
            Verdict::Discard => &mut self.discard,
        };
        *n += 1;
    }
}

/// Per true label, every reason id the verdicts gave (rules, first-day corrections,
/// `classifier`) and the verdicts of the comments that gave it: what held or lost an
/// operator's genuine comments, and what caught or missed the spam.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReasonsByLabel {
    /// Reasons given to the spam comments.
    pub spam: BTreeMap<String, ReasonVerdicts>,
    /// Reasons given to the genuine comments.
    pub ham: BTreeMap<String, ReasonVerdicts>,
}

/// Verdict shares per true label.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct VerdictsByLabel {
    /// What the spam comments got (`approve` is spam published).
    pub spam: VerdictShares,
    /// What the genuine comments got (`spam` + `discard` is readers lost).
    pub ham: VerdictShares,
}

/// What the whole pipeline said of one labelled test comment, with what it takes to decide
/// again under other thresholds.
#[derive(Debug, Clone)]
pub struct Scored {
    /// Ground truth.
    pub spam: bool,
    /// The verdict `Scorer::score_comment` gave.
    pub verdict: Verdict,
    /// The spam probability the thresholds were compared with (rule weights applied).
    pub probability: f64,
    /// What the policy decided from: rule hits, the classifier's probability and the
    /// first-day context.
    pub inputs: DecisionInputs,
    /// The ids of the reasons the verdict gave, in its order.
    pub reasons: Vec<String>,
}

/// One `eval` run: the metrics, the verdicts per label, and every comment's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    /// The metrics (the line `eval` has always printed).
    #[serde(flatten)]
    pub report: EvalReport,
    /// Verdict shares per true label.
    pub verdicts: VerdictsByLabel,
    /// The reasons given per true label, with their comments' verdicts.
    pub reasons: ReasonsByLabel,
    /// The thresholds the verdicts were given under.
    #[serde(skip)]
    pub policy: Policy,
    /// Every test comment's outcome, in file order.
    #[serde(skip)]
    pub scored: Vec<Scored>,
}

/// Scores every `(comment, label)` through `scorer.score_comment` (rules, classifier and
/// policy, as the service does) and keeps, besides the verdict, what the policy decided from
/// ([`DecisionInputs`]), so the report can move the thresholds without scoring again.
pub fn evaluate_comments(scorer: &Scorer, test: &[(Comment, Label)]) -> Evaluation {
    let now = OffsetDateTime::now_utc();
    let scored: Vec<Scored> = test
        .iter()
        .map(|(comment, label)| {
            let (assessment, inputs) = scorer.score_comment_keeping_inputs(comment, now);
            Scored {
                spam: *label == Label::Spam,
                verdict: assessment.verdict,
                probability: assessment.spam_probability,
                inputs,
                reasons: assessment.reasons.into_iter().map(|r| r.id).collect(),
            }
        })
        .collect();
    evaluation_of(scored, *scorer.policy())
}

/// The metrics and verdict shares of already scored comments.
pub fn evaluation_of(scored: Vec<Scored>, policy: Policy) -> Evaluation {
    let outcomes: Vec<(bool, bool, bool)> = scored
        .iter()
        .map(|s| (s.verdict.is_spam(), s.spam, s.verdict == Verdict::Hold))
        .collect();
    let of = |spam: bool| {
        VerdictShares::of(
            scored
                .iter()
                .filter(move |s| s.spam == spam)
                .map(|s| s.verdict),
        )
    };
    let mut reasons = ReasonsByLabel::default();
    for s in &scored {
        let by_id = if s.spam {
            &mut reasons.spam
        } else {
            &mut reasons.ham
        };
        for id in &s.reasons {
            by_id.entry(id.clone()).or_default().count(s.verdict);
        }
    }
    Evaluation {
        report: EvalReport::from_outcomes(&outcomes),
        verdicts: VerdictsByLabel {
            spam: of(true),
            ham: of(false),
        },
        reasons,
        policy,
        scored,
    }
}

/// Trains `trainer`'s pipeline on `train` only and scores `test` (rows read as
/// [`load_labelled_requests`] reads them), as [`evaluate_with`] does, keeping every outcome.
pub fn evaluate_trained(
    trainer: &Trainer,
    train: &Path,
    test: &Path,
    policy: &Policy,
) -> anyhow::Result<Evaluation> {
    let (docs, _) = extract_files(trainer, &[train.to_path_buf()], false)?;
    let scorer = Scorer::new(trainer.fit(&docs), "eval", shipped_rules()?, *policy);
    // Test rows as `--model` reads them: any score request field (an author URL, a site)
    // reaches the policy.
    Ok(evaluate_comments(&scorer, &load_labelled_requests(test)?))
}

/// Reads a labelled JSON Lines file whose rows are score requests plus a `label`: the shared
/// eval format (`text` is taken as `content`; `id`, when not a string, is dropped) or an
/// operator's export with any score request fields (`author_url`, `site`, …). Each row is
/// validated as the score route validates a request, and a bad one is refused by line.
pub fn load_labelled_requests(path: &Path) -> Result<Vec<(Comment, Label)>, CorpusError> {
    let text = std::fs::read_to_string(path).map_err(|source| CorpusError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let bad = |line: usize, message: String| CorpusError::Parse {
        path: path.display().to_string(),
        line,
        message,
    };
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        rows.push(decode_labelled_row(line).map_err(|message| bad(i + 1, message))?);
    }
    Ok(rows)
}

/// One row of a labelled JSON Lines file (see [`load_labelled_requests`]), validated as
/// the score route validates a request; the error says what is wrong without quoting it.
pub fn decode_labelled_row(line: &str) -> Result<(Comment, Label), String> {
    let mut value: serde_json::Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
    let Some(fields) = value.as_object_mut() else {
        return Err("a row must be a JSON object".into());
    };
    let label: Label = fields
        .remove("label")
        .ok_or_else(|| "field `label` is required".to_owned())
        .and_then(|l| {
            serde_json::from_value(l)
                .map_err(|_| "field `label` must be \"spam\" or \"ham\"".to_owned())
        })?;
    if !fields.contains_key("content") {
        if let Some(text) = fields.remove("text") {
            fields.insert("content".into(), text);
        }
    } else {
        fields.remove("text");
    }
    if fields.get("id").is_some_and(|id| !id.is_string()) {
        fields.remove("id");
    }
    let comment = crate::service::decode::comment_from_value(&value, "row")
        .map_err(|e| format!("{}: {e}", e.code()))?;
    Ok((comment, label))
}

/// What the full pipeline said of one held-out comment during cross-validation.
#[derive(Debug, Clone)]
pub struct HeldOutScore {
    /// What the policy decides from: rule hits, the classifier's probability and the
    /// first-day context.
    pub inputs: DecisionInputs,
    /// Ground truth.
    pub spam: bool,
}

/// Nested cross-validation on training data: each fold is scored by a pipeline trained (and
/// calibrated) on the other folds only, so thresholds can be chosen without a test set.
pub fn cross_validate(
    trainer: &Trainer,
    train: &[PathBuf],
    folds: usize,
    rules: &RuleSet,
) -> anyhow::Result<Vec<HeldOutScore>> {
    let rows: Vec<LabelledComment> = train
        .iter()
        .map(|p| load_jsonl(p))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
        .collect();
    let docs: Vec<ExtractedDoc> = rows.iter().map(|r| trainer.extract(r)).collect();
    let now = OffsetDateTime::now_utc();
    let mut out = Vec::with_capacity(rows.len());
    for fold in 0..folds.max(2) {
        let train_docs: Vec<ExtractedDoc> = docs
            .iter()
            .enumerate()
            .filter(|(i, _)| i % folds != fold)
            .map(|(_, d)| d.clone())
            .collect();
        // The whole pipeline, as the service scores: rules, classifier and the first-day
        // context, so that every threshold is judged with the corrections it will meet.
        let scorer = Scorer::new(
            trainer.fit(&train_docs),
            "cv",
            rules.clone(),
            Policy::default(),
        );
        for row in rows
            .iter()
            .enumerate()
            .filter(|(i, _)| i % folds == fold)
            .map(|r| r.1)
        {
            let (_, inputs) = scorer.score_comment_keeping_inputs(&row.to_comment(), now);
            out.push(HeldOutScore {
                inputs,
                spam: row.label == Label::Spam,
            });
        }
    }
    Ok(out)
}

/// One candidate spam threshold and how the pipeline did with it on each training file.
#[derive(Debug, Clone, Serialize)]
pub struct ThresholdRow {
    /// Spam threshold tried (the hold threshold is fixed at the policy's).
    pub spam_threshold: f64,
    /// Cross-validated report per file, in the order given.
    pub reports: Vec<EvalReport>,
}

/// What `commentguard tune` found.
#[derive(Debug, Clone, Serialize)]
pub struct TuneReport {
    /// Training files, in order.
    pub files: Vec<String>,
    /// The largest false-positive rate allowed on any file.
    pub max_fpr: f64,
    /// The recommended spam threshold: among thresholds whose cross-validated FPR stays within
    /// `max_fpr` on every file, the highest whose mean F1 is within `F1_TOLERANCE` of the best
    /// (`None` if none qualifies).
    pub recommended: Option<f64>,
    /// Every threshold tried.
    pub rows: Vec<ThresholdRow>,
}

/// How far below the best mean F1 a more conservative threshold may be and still be chosen.
/// F1 is flat near its optimum, and the lowest threshold on that plateau is the one most
/// likely to throw away a real reader's comment on data the folds did not show.
pub const F1_TOLERANCE: f64 = 0.005;

/// Chooses the spam threshold honestly: nested cross-validation on training files only (no
/// test split is read); among thresholds whose false-positive rate stays within `max_fpr`
/// on every file, the highest whose mean F1 is within [`F1_TOLERANCE`] of the best.
pub fn tune(
    trainer: &Trainer,
    train: &[PathBuf],
    folds: usize,
    max_fpr: f64,
    base: &Policy,
) -> anyhow::Result<TuneReport> {
    let rules = shipped_rules()?;
    let scores: Vec<Vec<HeldOutScore>> = train
        .iter()
        .map(|p| cross_validate(trainer, std::slice::from_ref(p), folds, &rules))
        .collect::<Result<_, _>>()?;
    let mut rows = Vec::new();
    let mut eligible: Vec<(f64, f64)> = Vec::new();
    for step in 0..=60 {
        let spam_threshold = ((0.4 + step as f64 * 0.01) * 1000.0).round() / 1000.0;
        let policy = Policy {
            hold_threshold: base.hold_threshold.min(spam_threshold),
            spam_threshold,
            discard_threshold: base.discard_threshold.max(spam_threshold),
        };
        let reports: Vec<EvalReport> = scores.iter().map(|s| report_for(&policy, s)).collect();
        if reports.iter().all(|r| r.fpr <= max_fpr) {
            let mean_f1 = reports.iter().map(|r| r.f1).sum::<f64>() / reports.len().max(1) as f64;
            eligible.push((mean_f1, spam_threshold));
        }
        rows.push(ThresholdRow {
            spam_threshold,
            reports,
        });
    }
    let best = eligible
        .iter()
        .map(|e| e.0)
        .fold(f64::NEG_INFINITY, f64::max);
    let recommended = eligible
        .iter()
        .filter(|e| e.0 >= best - F1_TOLERANCE)
        .map(|e| e.1)
        .reduce(f64::max);
    Ok(TuneReport {
        files: train.iter().map(|p| p.display().to_string()).collect(),
        max_fpr,
        recommended,
        rows,
    })
}

/// Metrics of held-out scores under a policy.
pub fn report_for(policy: &Policy, scores: &[HeldOutScore]) -> EvalReport {
    let outcomes: Vec<(bool, bool, bool)> = scores
        .iter()
        .map(|s| {
            let v = s.inputs.decide(policy).verdict;
            (v.is_spam(), s.spam, v == Verdict::Hold)
        })
        .collect();
    EvalReport::from_outcomes(&outcomes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precision_and_recall_are_not_swapped() {
        // 8 TP, 2 FP, 4 FN, 6 TN: precision 0.8, recall 2/3.
        let mut o = vec![(true, true, false); 8];
        o.extend(vec![(true, false, false); 2]);
        o.extend(vec![(false, true, false); 4]);
        o.extend(vec![(false, false, false); 6]);
        let r = EvalReport::from_outcomes(&o);
        assert!((r.precision - 0.8).abs() < 1e-4, "{r:?}");
        assert!((r.recall - 2.0 / 3.0).abs() < 1e-4, "{r:?}");
    }

    #[test]
    fn report_matches_hand_counts() {
        // 3 TP, 1 FP, 1 FN, 5 TN, 2 held.
        let mut o = vec![(true, true, false); 3];
        o.push((true, false, false));
        o.push((false, true, true));
        o.extend(vec![(false, false, false); 4]);
        o.push((false, false, true));
        let r = EvalReport::from_outcomes(&o);
        assert_eq!((r.tp, r.fp, r.fn_, r.tn), (3, 1, 1, 5));
        assert!((r.precision - 0.75).abs() < 1e-4);
        assert!((r.recall - 0.75).abs() < 1e-4);
        assert!((r.f1 - 0.75).abs() < 1e-4);
        assert!((r.fpr - 1.0 / 6.0).abs() < 1e-4);
        assert!((r.held - 0.2).abs() < 1e-4);
        let mcc = (3.0 * 5.0 - 1.0 * 1.0) / ((4.0f64 * 4.0 * 6.0 * 6.0).sqrt());
        assert!((r.mcc - mcc).abs() < 1e-3, "{} vs {mcc}", r.mcc);
    }

    #[test]
    fn a_one_class_file_still_has_its_recall_or_fpr() {
        // Spam only: 38 caught of 100, 3 held (blog-umd's shape).
        let mut o = vec![(true, true, false); 38];
        o.extend(vec![(false, true, true); 3]);
        o.extend(vec![(false, true, false); 59]);
        let r = EvalReport::from_outcomes(&o);
        assert_eq!(
            (r.recall, r.precision, r.fpr, r.mcc),
            (0.38, 1.0, 0.0, 0.0),
            "{r:?}"
        );
        assert!((r.f1 - 2.0 * 0.38 / 1.38).abs() < 1e-4, "{r:?}");
        // Ham only: 5 lost of 50; nothing is spam, so recall and precision are 0.
        let mut o = vec![(true, false, false); 5];
        o.extend(vec![(false, false, false); 45]);
        let r = EvalReport::from_outcomes(&o);
        assert_eq!(
            (r.fpr, r.recall, r.precision, r.f1),
            (0.1, 0.0, 0.0, 0.0),
            "{r:?}"
        );
    }

    fn temp_file(name: &str, text: &str) -> PathBuf {
        let path = std::env::temp_dir().join(format!(
            "commentguard-eval-{name}-{:016x}.jsonl",
            rand::random::<u64>()
        ));
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn labelled_requests_take_the_eval_format_and_request_fields() {
        let path = temp_file(
            "ok",
            concat!(
                r#"{"id":"a1","author":"Ann","text":"Thanks, this helped.","label":"ham"}"#,
                "\n\n",
                r#"{"id":7,"content":"Buy now","author_url":"http://shop.example","site":"https://blog.example","label":"spam"}"#,
                "\n",
            ),
        );
        let rows = load_labelled_requests(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].0.content, "Thanks, this helped.");
        assert_eq!(rows[0].0.id.as_deref(), Some("a1"));
        assert_eq!(rows[0].1, Label::Ham);
        assert_eq!(rows[1].0.author_url.as_deref(), Some("http://shop.example"));
        assert_eq!(rows[1].0.site.as_deref(), Some("https://blog.example"));
        assert_eq!(rows[1].0.id, None, "a numeric id is dropped, not refused");
        assert_eq!(rows[1].1, Label::Spam);
    }

    #[test]
    fn bad_labelled_requests_are_refused_by_line() {
        let cases = [
            (r#"{"text":"hi"}"#, "label` is required", "no label"),
            (
                r#"{"text":"hi","label":"maybe"}"#,
                "label` must be",
                "an unknown label",
            ),
            (
                r#"{"text":"   ","label":"ham"}"#,
                "empty_content",
                "nothing to score",
            ),
            (r#"{"label":"ham"}"#, "missing_content", "no text at all"),
            (r#"["hi","ham"]"#, "JSON object", "not an object"),
            (r#"{"text":"hi","#, "EOF while parsing", "malformed JSON"),
        ];
        for (line, want, why) in cases {
            let path = temp_file(
                "bad",
                &format!("{{\"text\":\"ok\",\"label\":\"ham\"}}\n{line}\n"),
            );
            let err = load_labelled_requests(&path).unwrap_err().to_string();
            std::fs::remove_file(&path).unwrap();
            assert!(err.contains(":2:"), "{why}: {err}");
            assert!(err.contains(want), "{why}: {err}");
        }
    }

    #[test]
    fn kept_outcomes_decide_again_as_the_pipeline_did() {
        let scorer = Scorer::load(None, Policy::default()).unwrap();
        let rows: Vec<(Comment, Label)> = crate::corpus::shipped_corpus()
            .iter()
            .step_by(97)
            .map(|r| (r.to_comment(), r.label))
            .collect();
        let e = evaluate_comments(&scorer, &rows);
        assert_eq!(e.scored.len(), rows.len());
        for s in &e.scored {
            assert_eq!(s.inputs.decide(&e.policy).verdict, s.verdict);
        }
        let v = e.verdicts;
        assert_eq!(v.spam.count + v.ham.count, rows.len() as u64);
        for shares in [v.spam, v.ham] {
            let sum = shares.approve + shares.hold + shares.spam + shares.discard;
            assert!((sum - 1.0).abs() < 1e-3, "{shares:?}");
        }
        assert!(
            (e.report.held
                - (v.spam.hold * v.spam.count as f64 + v.ham.hold * v.ham.count as f64)
                    / rows.len() as f64)
                .abs()
                < 1e-3
        );
    }
}
