//! The `eval --report DIR` page: one self-contained HTML file (inline CSS and SVG, no script,
//! nothing fetched) an operator can open from disk, and the same numbers as JSON beside it.
//!
//! Everything on the page is computed here from an [`Evaluation`]: the confusion matrix,
//! the precision-recall curve over the spam probability, and the verdict shares as the hold
//! and spam thresholds move, re-deciding every comment as the service would (its rule hits,
//! classifier probability and first-day context: `DecisionInputs::decide`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::domain::Verdict;
use crate::evaluation::{Evaluation, Scored, VerdictShares};
use crate::moderation::Policy;

/// File name of the page inside the report directory.
pub const HTML_FILE: &str = "report.html";
/// File name of the page's numbers inside the report directory.
pub const JSON_FILE: &str = "report.json";
/// Thresholds the sweeps try: 0, 0.02, …, 1.
const SWEEP_STEPS: usize = 50;

/// One point of the precision-recall curve: comments at or above `threshold` called spam.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PrPoint {
    /// Spam probability threshold (one of the probabilities seen).
    pub threshold: f64,
    /// Of the comments at or above it, the share that were spam.
    pub precision: f64,
    /// Of the spam comments, the share at or above it.
    pub recall: f64,
}

/// Verdict shares per label under one moved threshold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SweepPoint {
    /// The threshold moved (hold or spam).
    pub threshold: f64,
    /// What the spam comments got.
    pub spam: VerdictShares,
    /// What the genuine comments got.
    pub ham: VerdictShares,
}

/// Everything the page shows.
#[derive(Debug, Clone, Serialize)]
pub struct ReportData {
    /// What was evaluated (model and test file), as given by the caller.
    pub title: String,
    /// The metrics and verdict shares.
    pub evaluation: Evaluation,
    /// Counts per true label (rows: spam, ham) and verdict (approve, hold, spam, discard).
    pub matrix: [[u64; 4]; 2],
    /// The thresholds in force.
    pub hold_threshold: f64,
    /// The spam threshold in force.
    pub spam_threshold: f64,
    /// Precision-recall curve, thresholds descending (recall never falls along it).
    pub pr_curve: Vec<PrPoint>,
    /// Verdict shares as the hold threshold moves (spam threshold as in force).
    pub hold_sweep: Vec<SweepPoint>,
    /// Verdict shares as the spam threshold moves (hold threshold as in force, lowered
    /// with it).
    pub spam_sweep: Vec<SweepPoint>,
}

impl ReportData {
    /// Computes the page's numbers from an evaluation.
    pub fn new(title: impl Into<String>, evaluation: Evaluation) -> Self {
        let policy = evaluation.policy;
        let scored = &evaluation.scored;
        let mut matrix = [[0u64; 4]; 2];
        for s in scored {
            matrix[usize::from(!s.spam)][s.verdict as usize] += 1;
        }
        let steps = (0..=SWEEP_STEPS).map(|i| i as f64 / SWEEP_STEPS as f64);
        let hold_sweep = steps
            .clone()
            .map(|t| {
                let moved = Policy {
                    hold_threshold: t.min(policy.spam_threshold),
                    ..policy
                };
                sweep_point(t, &moved, scored)
            })
            .collect();
        let spam_sweep = steps
            .map(|t| {
                let moved = Policy {
                    hold_threshold: policy.hold_threshold.min(t),
                    spam_threshold: t,
                    discard_threshold: policy.discard_threshold.max(t),
                };
                sweep_point(t, &moved, scored)
            })
            .collect();
        ReportData {
            title: title.into(),
            matrix,
            hold_threshold: policy.hold_threshold,
            spam_threshold: policy.spam_threshold,
            pr_curve: pr_curve(scored),
            hold_sweep,
            spam_sweep,
            evaluation,
        }
    }
}

/// The verdict shares per label with every comment decided again under `policy`.
fn sweep_point(threshold: f64, policy: &Policy, scored: &[Scored]) -> SweepPoint {
    let verdicts: Vec<(bool, Verdict)> = scored
        .iter()
        .map(|s| (s.spam, s.inputs.decide(policy).verdict))
        .collect();
    let of =
        |spam: bool| VerdictShares::of(verdicts.iter().filter(move |v| v.0 == spam).map(|v| v.1));
    SweepPoint {
        threshold,
        spam: of(true),
        ham: of(false),
    }
}

/// The precision-recall curve over the spam probability: one point per distinct probability,
/// highest first. Empty unless both classes are present (recall or precision would be
/// undefined throughout).
pub fn pr_curve(scored: &[Scored]) -> Vec<PrPoint> {
    let positives = scored.iter().filter(|s| s.spam).count();
    if positives == 0 || positives == scored.len() {
        return Vec::new();
    }
    let mut by_p: Vec<(f64, bool)> = scored.iter().map(|s| (s.probability, s.spam)).collect();
    by_p.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut out = Vec::new();
    let (mut tp, mut called) = (0usize, 0usize);
    for (i, &(p, spam)) in by_p.iter().enumerate() {
        tp += usize::from(spam);
        called += 1;
        // A threshold takes every comment at or above it, so a point closes a run of ties.
        if by_p.get(i + 1).is_some_and(|next| next.0 == p) {
            continue;
        }
        out.push(PrPoint {
            threshold: p,
            precision: tp as f64 / called as f64,
            recall: tp as f64 / positives as f64,
        });
    }
    out
}

/// Writes `report.html` and `report.json` into `dir` (created if missing); returns the
/// page's path.
pub fn write(dir: &Path, data: &ReportData) -> anyhow::Result<PathBuf> {
    use anyhow::Context;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let page = dir.join(HTML_FILE);
    std::fs::write(&page, render(data))
        .with_context(|| format!("cannot write {}", page.display()))?;
    let json = serde_json::to_string_pretty(data).context("cannot serialise the report")?;
    let path = dir.join(JSON_FILE);
    std::fs::write(&path, json).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(page)
}

/// Text made safe for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:60rem;\
padding:0 1rem;color:#1d2330}h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}\
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #c8ccd4;padding:.25rem .6rem;\
text-align:right}th{background:#f1f3f6}td.bad{background:#fde2e1}td.good{background:#e2f5e6}\
svg{background:#fff;border:1px solid #d8dbe2;max-width:100%;height:auto}\
.axis{stroke:#555}.grid{stroke:#eee}.mark{stroke:#b00;stroke-dasharray:4 3}\
text{font:12px system-ui,sans-serif;fill:#333}.note{color:#555}";

/// The whole page.
pub fn render(data: &ReportData) -> String {
    let e = &data.evaluation;
    let r = &e.report;
    let mut html = String::with_capacity(64 * 1024);
    let _ = write!(
        html,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
<title>commentguard eval: {title}</title><style>{STYLE}</style></head><body>\
<h1>commentguard eval: {title}</h1>\
<p class=\"note\">{n} comments ({spam} spam, {ham} genuine). Thresholds in force: hold ≥ {h}, \
spam ≥ {s}, discard ≥ {d}.</p>",
        title = escape(&data.title),
        n = e.scored.len(),
        spam = e.verdicts.spam.count,
        ham = e.verdicts.ham.count,
        h = data.hold_threshold,
        s = data.spam_threshold,
        d = e.policy.discard_threshold,
    );
    let _ = write!(
        html,
        "<h2>Metrics</h2><table id=\"metrics\"><tr><th>precision</th><th>recall</th><th>F1</th>\
<th>FPR</th><th>MCC</th><th>accuracy</th><th>held</th></tr><tr><td>{:.4}</td><td>{:.4}</td>\
<td>{:.4}</td><td>{:.4}</td><td>{:.4}</td><td>{:.4}</td><td>{:.4}</td></tr></table>\
<p class=\"note\">Spam is the positive class; spam and discard verdicts count as called spam, \
hold as not.</p>",
        r.precision, r.recall, r.f1, r.fpr, r.mcc, r.accuracy, r.held
    );
    confusion_matrix(&mut html, data);
    reasons_table(&mut html, data);
    html.push_str("<h2>Precision and recall over the spam probability</h2>");
    pr_chart(&mut html, data);
    html.push_str("<h2>Verdicts as the hold threshold moves</h2>");
    sweep_chart(
        &mut html,
        "hold-sweep",
        &data.hold_sweep,
        data.hold_threshold,
    );
    html.push_str("<h2>Verdicts as the spam threshold moves</h2>");
    sweep_chart(
        &mut html,
        "spam-sweep",
        &data.spam_sweep,
        data.spam_threshold,
    );
    html.push_str(
        "<p class=\"note\">Lines: spam published (approved), spam held, genuine held, genuine \
lost (spam or discard). The dashed line marks the threshold in force.</p></body></html>\n",
    );
    html
}

/// The counts per true label and verdict, with the shares beside them.
fn confusion_matrix(html: &mut String, data: &ReportData) {
    html.push_str(
        "<h2>Confusion matrix</h2><table id=\"confusion\"><tr><th>true label</th>\
<th>approve</th><th>hold</th><th>spam</th><th>discard</th><th>total</th></tr>",
    );
    for (row, name) in [(0usize, "spam"), (1, "genuine")] {
        let counts = data.matrix[row];
        let total: u64 = counts.iter().sum();
        let _ = write!(html, "<tr><th>{name}</th>");
        for (col, &count) in counts.iter().enumerate() {
            // Spam published and genuine comments lost are the errors that cost.
            let class = match (row, col) {
                (0, 0) | (1, 2) | (1, 3) if count > 0 => " class=\"bad\"",
                (0, 2) | (0, 3) | (1, 0) => " class=\"good\"",
                _ => "",
            };
            let share = if total == 0 {
                0.0
            } else {
                100.0 * count as f64 / total as f64
            };
            let _ = write!(html, "<td{class}>{count} ({share:.1}%)</td>");
        }
        let _ = write!(html, "<td>{total}</td></tr>");
    }
    html.push_str("</table>");
}

/// Every reason the verdicts gave, per true label, with the verdicts of the comments that
/// gave it: which rule or first-day correction holds or loses the genuine comments.
fn reasons_table(html: &mut String, data: &ReportData) {
    html.push_str(
        "<h2>Reasons given</h2><table id=\"reasons\"><tr><th>true label</th><th>reason</th>\
<th>approve</th><th>hold</th><th>spam</th><th>discard</th></tr>",
    );
    let reasons = &data.evaluation.reasons;
    for (name, by_id) in [("spam", &reasons.spam), ("genuine", &reasons.ham)] {
        for (id, v) in by_id {
            let _ = write!(
                html,
                "<tr><th>{name}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(id),
                v.approve,
                v.hold,
                v.spam,
                v.discard
            );
        }
    }
    html.push_str(
        "</table><p class=\"note\">A comment gives every reason that applied: a held genuine \
comment counts under each rule that fired on it and under <code>classifier</code>.</p>",
    );
}

/// Chart geometry: width, height and the plot's margins (left, right, top, bottom).
const W: f64 = 760.0;
const H: f64 = 360.0;
/// The right margin holds the legend.
const M: (f64, f64, f64, f64) = (56.0, 140.0, 16.0, 44.0);

/// Plot coordinates of `(x, y)` in 0..1.
fn at(x: f64, y: f64) -> (f64, f64) {
    (
        M.0 + x.clamp(0.0, 1.0) * (W - M.0 - M.1),
        H - M.3 - y.clamp(0.0, 1.0) * (H - M.2 - M.3),
    )
}

/// Opens an SVG chart with its axes, grid and labels.
fn open_chart(html: &mut String, id: &str, label: &str, x_label: &str, y_label: &str) {
    let _ = write!(
        html,
        "<svg id=\"{id}\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {H}\" \
width=\"{W}\" height=\"{H}\" role=\"img\" aria-label=\"{}\">",
        escape(label)
    );
    for i in 0..=10 {
        let v = i as f64 / 10.0;
        let (x0, y) = at(0.0, v);
        let (x1, _) = at(1.0, v);
        let (x, y0) = at(v, 0.0);
        let (_, y1) = at(v, 1.0);
        let _ = write!(
            html,
            "<line class=\"grid\" x1=\"{x0}\" y1=\"{y}\" x2=\"{x1}\" y2=\"{y}\"/>\
<line class=\"grid\" x1=\"{x}\" y1=\"{y0}\" x2=\"{x}\" y2=\"{y1}\"/>"
        );
        if i % 2 == 0 {
            let _ = write!(
                html,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{v:.1}</text>\
<text x=\"{x}\" y=\"{}\" text-anchor=\"middle\">{v:.1}</text>",
                x0 - 6.0,
                y + 4.0,
                y0 + 16.0
            );
        }
    }
    let (x0, y0) = at(0.0, 0.0);
    let (x1, y1) = at(1.0, 1.0);
    let _ = write!(
        html,
        "<line class=\"axis\" x1=\"{x0}\" y1=\"{y0}\" x2=\"{x1}\" y2=\"{y0}\"/>\
<line class=\"axis\" x1=\"{x0}\" y1=\"{y0}\" x2=\"{x0}\" y2=\"{y1}\"/>\
<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\
<text x=\"14\" y=\"{}\" text-anchor=\"middle\" transform=\"rotate(-90 14 {})\">{}</text>",
        (x0 + x1) / 2.0,
        H - 8.0,
        escape(x_label),
        (y0 + y1) / 2.0,
        (y0 + y1) / 2.0,
        escape(y_label)
    );
}

/// A polyline through `points` (in 0..1 each way).
fn polyline(
    html: &mut String,
    class: &str,
    colour: &str,
    points: impl Iterator<Item = (f64, f64)>,
) {
    let _ = write!(
        html,
        "<polyline class=\"{class}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\""
    );
    for (i, (x, y)) in points.enumerate() {
        let (px, py) = at(x, y);
        let _ = write!(html, "{}{px:.1},{py:.1}", if i == 0 { "" } else { " " });
    }
    html.push_str("\"/>");
}

/// Recall across, precision up; the point at the spam threshold in force is marked.
fn pr_chart(html: &mut String, data: &ReportData) {
    if data.pr_curve.is_empty() {
        html.push_str(
            "<p id=\"pr-curve-missing\" class=\"note\">No curve: the test file has only one \
class, so precision or recall is undefined at every threshold.</p>",
        );
        return;
    }
    open_chart(
        html,
        "pr-curve",
        "precision-recall curve",
        "recall",
        "precision",
    );
    polyline(
        html,
        "curve",
        "#2458c6",
        data.pr_curve.iter().map(|p| (p.recall, p.precision)),
    );
    // The lowest threshold still at or above the one in force is where the policy sits.
    let marks = [
        (data.spam_threshold, "#b00", "spam threshold"),
        (data.hold_threshold, "#c77800", "hold threshold"),
    ];
    for (line, (threshold, colour, name)) in marks.into_iter().enumerate() {
        if let Some(p) = data
            .pr_curve
            .iter()
            .rev()
            .find(|p| p.threshold >= threshold)
        {
            let (x, y) = at(p.recall, p.precision);
            // One line per label, so two marks close together (a good model puts both near
            // the top right corner) stay readable; near the right edge the label ends at
            // its point instead of running off the plot.
            let (label_x, anchor) = if x > W - M.1 - 120.0 {
                (x - 8.0, "end")
            } else {
                (x + 8.0, "start")
            };
            let _ = write!(
                html,
                "<circle class=\"today\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"5\" fill=\"{colour}\">\
<title>{name} {threshold}: precision {:.3}, recall {:.3}</title></circle>\
<text x=\"{label_x:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{name} {threshold}</text>",
                p.precision,
                p.recall,
                y + 18.0 + 16.0 * line as f64
            );
        }
    }
    html.push_str("</svg>");
}

/// Four verdict shares across the threshold, with the threshold in force marked.
fn sweep_chart(html: &mut String, id: &str, sweep: &[SweepPoint], today: f64) {
    open_chart(
        html,
        id,
        "verdict shares by threshold",
        "threshold",
        "share",
    );
    type Series = (&'static str, &'static str, fn(&SweepPoint) -> f64);
    let series: [Series; 4] = [
        ("spam published", "#b00", |p| p.spam.approve),
        ("spam held", "#c77800", |p| p.spam.hold),
        ("genuine held", "#2458c6", |p| p.ham.hold),
        ("genuine lost", "#6a1b9a", |p| p.ham.spam + p.ham.discard),
    ];
    for (i, (name, colour, value)) in series.iter().enumerate() {
        polyline(
            html,
            "series",
            colour,
            sweep.iter().map(|p| (p.threshold, value(p))),
        );
        let _ = write!(
            html,
            "<text x=\"{}\" y=\"{}\" fill=\"{colour}\" style=\"fill:{colour}\">{name}</text>",
            W - M.1 + 10.0,
            M.2 + 14.0 + 16.0 * i as f64
        );
    }
    let (x, y0) = at(today, 0.0);
    let (_, y1) = at(today, 1.0);
    let _ = write!(
        html,
        "<line class=\"mark\" x1=\"{x:.1}\" y1=\"{y0}\" x2=\"{x:.1}\" y2=\"{y1}\"/>\
<text x=\"{:.1}\" y=\"{}\">in force {today}</text></svg>",
        x + 4.0,
        y1 + 12.0
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluation::evaluation_of;
    use crate::moderation::Context;
    use crate::scoring::DecisionInputs;

    fn scored(spam: bool, probability: f64) -> Scored {
        let inputs = DecisionInputs {
            hits: Vec::new(),
            probability: Some(probability),
            without_author_name: Some(probability),
            context: Context {
                known_features: u32::MAX,
                ..Context::default()
            },
        };
        let decision = inputs.decide(&Policy::default());
        Scored {
            spam,
            verdict: decision.verdict,
            probability,
            inputs,
            reasons: decision.reasons.into_iter().map(|r| r.id).collect(),
        }
    }

    /// Four spam and four genuine comments at hand-picked probabilities.
    fn sample() -> Vec<Scored> {
        vec![
            scored(true, 0.995),
            scored(true, 0.9),
            scored(false, 0.9),
            scored(true, 0.5),
            scored(false, 0.4),
            scored(true, 0.1),
            scored(false, 0.1),
            scored(false, 0.01),
        ]
    }

    #[test]
    fn confusion_counts_match_the_verdicts() {
        let data = ReportData::new("t", evaluation_of(sample(), Policy::default()));
        // Thresholds 0.35 / 0.75 / 0.99 (discard needs a rule, so 0.995 is spam).
        // spam: 0.995 spam, 0.9 spam, 0.5 hold, 0.1 approve; genuine: 0.9 spam, 0.4 hold,
        // 0.1 and 0.01 approve.
        assert_eq!(data.matrix, [[1, 1, 2, 0], [2, 1, 1, 0]]);
        let r = &data.evaluation.report;
        assert_eq!((r.tp, r.fn_, r.fp, r.tn), (2, 2, 1, 3));
    }

    #[test]
    fn the_curve_has_one_point_per_distinct_probability_and_is_monotone() {
        let curve = pr_curve(&sample());
        // Distinct probabilities: 0.995, 0.9, 0.5, 0.4, 0.1, 0.01.
        assert_eq!(curve.len(), 6);
        for pair in curve.windows(2) {
            assert!(pair[0].threshold > pair[1].threshold, "{pair:?}");
            assert!(pair[0].recall <= pair[1].recall, "{pair:?}");
        }
        // At 0.9 (ties taken together): 2 spam of 3 called, 2 of 4 spam found.
        assert_eq!(curve[1].threshold, 0.9);
        assert!((curve[1].precision - 2.0 / 3.0).abs() < 1e-12);
        assert!((curve[1].recall - 0.5).abs() < 1e-12);
        let last = curve.last().unwrap();
        assert_eq!((last.precision, last.recall), (0.5, 1.0));
    }

    #[test]
    fn one_class_gives_no_curve() {
        let only_spam: Vec<Scored> = sample().into_iter().filter(|s| s.spam).collect();
        assert!(pr_curve(&only_spam).is_empty());
        let page = render(&ReportData::new(
            "t",
            evaluation_of(only_spam, Policy::default()),
        ));
        assert!(page.contains("pr-curve-missing"));
    }

    #[test]
    fn the_sweep_at_the_thresholds_in_force_gives_the_verdicts_given() {
        let data = ReportData::new("t", evaluation_of(sample(), Policy::default()));
        let at_hold = data
            .hold_sweep
            .iter()
            .find(|p| (p.threshold - 0.34).abs() < 1e-9)
            .unwrap();
        // Hold at 0.34 instead of 0.35 changes nothing in this sample.
        assert_eq!(at_hold.spam, data.evaluation.verdicts.spam);
        assert_eq!(at_hold.ham, data.evaluation.verdicts.ham);
        // Raising the spam threshold never publishes less spam.
        for pair in data.spam_sweep.windows(2) {
            assert!(pair[0].spam.approve <= pair[1].spam.approve, "{pair:?}");
        }
    }

    #[test]
    fn the_reasons_table_counts_each_reason_by_label_and_verdict() {
        let mut scored = sample();
        scored[0].reasons.push("content.too_many_links".into());
        scored[0].verdict = Verdict::Hold;
        let data = ReportData::new("t", evaluation_of(scored, Policy::default()));
        let page = render(&data);
        let table = &page[page.find("<table id=\"reasons\">").expect("reasons table")..];
        let table = &table[..table.find("</table>").unwrap()];
        assert!(
            table.contains(
                "<tr><th>spam</th><td>content.too_many_links</td><td>0</td><td>1</td><td>0</td><td>0</td></tr>"
            ),
            "{table}"
        );
        // Every comment the model judged gives `classifier`: its row per label is the matrix's.
        for (row, name) in [(0, "spam"), (1, "genuine")] {
            let m = data.matrix[row];
            let want = format!(
                "<tr><th>{name}</th><td>classifier</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                m[0], m[1], m[2], m[3]
            );
            assert!(table.contains(&want), "{want} in {table}");
        }
    }

    #[test]
    fn inserted_text_is_escaped() {
        let data = ReportData::new(
            "<script>alert(1)</script> & \"q\"",
            evaluation_of(sample(), Policy::default()),
        );
        let page = render(&data);
        assert!(!page.contains("<script>"));
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;q&quot;"));
        assert_eq!(page.matches("<svg").count(), 3);
    }
}
