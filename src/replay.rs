//! `commentguard replay`: does the service learn from its moderators? Streams a labelled
//! split through scoring and, like a moderator working the queues, labels every comment
//! whose verdict was wrong (spam approved, ham sent to spam) and every held comment, through
//! the same [`LabelBook::record`] the feedback route uses. Reports the error rate per window
//! of comments next to the same split scored by the same model with nobody correcting it.

use std::path::Path;

use serde::Serialize;
use time::OffsetDateTime;

use crate::cache::FuzzyFindings;
use crate::corpus::LabelledComment;
use crate::domain::{Comment, Label, Verdict};
use crate::evaluation::EvalReport;
use crate::fuzzy::{known_spam_hit, signature_of};
use crate::labels::{Correction, Fingerprint, LabelBook};
use crate::scoring::Scorer;
use crate::text::canonicalize;
use crate::text::fuzzy::{FuzzyIndex, MATCH_THRESHOLD};

/// Errors and holds in one window of the stream.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Window {
    /// Index of the window's first comment (from 1).
    pub first: usize,
    /// Index of its last comment.
    pub last: usize,
    /// Wrong verdicts with moderators correcting as they go.
    pub errors: usize,
    /// Wrong verdicts with nobody correcting (the same model, frozen).
    pub errors_frozen: usize,
    /// Held verdicts with corrections.
    pub held: usize,
    /// Held verdicts frozen.
    pub held_frozen: usize,
    /// Labels the moderator sent in this window.
    pub labels_sent: usize,
    /// Comments near-duplicating spam labelled earlier in the stream (`fuzzy.labelled_spam`).
    pub fuzzy_hits: usize,
}

/// The whole run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReplaySummary {
    /// Comments replayed.
    pub comments: usize,
    /// Per window.
    pub windows: Vec<Window>,
    /// Wrong verdicts with corrections.
    pub errors: usize,
    /// Wrong verdicts frozen.
    pub errors_frozen: usize,
    /// Errors per 100 comments in the first half of the stream, with corrections.
    pub first_half_rate: f64,
    /// Errors per 100 comments in the second half, with corrections.
    pub second_half_rate: f64,
    /// Errors per 100 comments in the second half, frozen.
    pub second_half_rate_frozen: f64,
    /// Spam comments near-duplicating spam labelled earlier in the stream.
    pub fuzzy_spam_hits: usize,
    /// Ham comments near-duplicating spam labelled earlier (the signal's false positives).
    pub fuzzy_ham_hits: usize,
    /// Errors per window of each site's own comments (when sites were given).
    pub by_site: Vec<SiteWindow>,
}

/// Whether `verdict` is wrong for a comment whose truth is `label`: spam let through, or
/// ham put in spam. A hold is not wrong (a human sees it), only work.
pub fn is_error(verdict: Verdict, label: Label) -> bool {
    match label {
        Label::Spam => verdict == Verdict::Approve,
        Label::Ham => verdict.is_spam(),
    }
}

/// How the replayed moderator works.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Moderator {
    /// How many corpus examples one label counts as.
    pub weight: f32,
    /// Label every comment once scored (a moderator confirming every verdict), not only the
    /// wrong and held ones.
    pub label_all: bool,
}

/// One site's errors over a window of its own comments (`--by-site`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SiteWindow {
    /// The site.
    pub site: String,
    /// Index of the window's first comment among the site's comments (from 1).
    pub first: usize,
    /// Index of its last comment among the site's comments.
    pub last: usize,
    /// Wrong verdicts with corrections.
    pub errors: usize,
    /// Wrong verdicts frozen.
    pub errors_frozen: usize,
}

/// Splits per-comment error flags into windows of `every` comments of each site, sites in
/// order of first appearance; `sites[i]` is comment `i`'s site.
pub fn site_windows(
    sites: &[String],
    errors: &[bool],
    errors_frozen: &[bool],
    every: usize,
) -> Vec<SiteWindow> {
    let every = every.max(1);
    let mut order: Vec<&str> = Vec::new();
    for site in sites {
        if !order.contains(&site.as_str()) {
            order.push(site);
        }
    }
    let mut out = Vec::new();
    for site in order {
        let flags: Vec<(bool, bool)> = sites
            .iter()
            .zip(errors.iter().zip(errors_frozen))
            .filter(|(s, _)| s.as_str() == site)
            .map(|(_, (&e, &f))| (e, f))
            .collect();
        for (n, chunk) in flags.chunks(every).enumerate() {
            out.push(SiteWindow {
                site: site.to_owned(),
                first: n * every + 1,
                last: n * every + chunk.len(),
                errors: chunk.iter().filter(|c| c.0).count(),
                errors_frozen: chunk.iter().filter(|c| c.1).count(),
            });
        }
    }
    out
}

/// Which comments are a site's imported history: the first `share` (0 to 1, rounded down)
/// of each site's comments, in stream order; `sites[i]` is comment `i`'s site.
pub fn history_flags(sites: &[String], share: f64) -> Vec<bool> {
    let share = share.clamp(0.0, 1.0);
    let mut totals: std::collections::HashMap<&str, usize> = Default::default();
    for site in sites {
        *totals.entry(site).or_default() += 1;
    }
    let mut seen: std::collections::HashMap<&str, usize> = Default::default();
    sites
        .iter()
        .map(|site| {
            let quota = (share * totals[site.as_str()] as f64).floor() as usize;
            let n = seen.entry(site).or_default();
            *n += 1;
            *n <= quota
        })
        .collect()
}

/// The moderator's side of a replay: a label book over the scorer, and the fingerprints of
/// spam labelled so far.
struct Desk {
    book: LabelBook,
    fingerprints: FuzzyIndex,
    moderator: Moderator,
    now: OffsetDateTime,
}

/// What scoring one comment at the desk gave.
struct Step {
    verdict: Verdict,
    /// The verdict's spam probability (rule weights included).
    probability: f64,
    /// The verdict's reason ids, strongest first.
    reasons: Vec<String>,
    fuzzy_hit: bool,
    labelled: bool,
}

impl Desk {
    fn open(
        scorer: Scorer,
        data_dir: &Path,
        moderator: Moderator,
        capacity: usize,
    ) -> std::io::Result<Desk> {
        let (book, _) = LabelBook::open(data_dir, scorer, moderator.weight)?;
        Ok(Desk {
            book,
            fingerprints: FuzzyIndex::new(capacity.max(1), 0),
            moderator,
            now: OffsetDateTime::now_utc(),
        })
    }

    /// Records `label` for `comment` as `origin` (the moderator's, or an import), feeding
    /// spam to the fingerprints as the feedback route does.
    fn label(
        &mut self,
        comment: Comment,
        label: Label,
        origin: Option<&str>,
    ) -> std::io::Result<()> {
        if label == Label::Spam {
            if let Some(s) = signature_of(&canonicalize(&comment.content)) {
                self.fingerprints.insert(s.id(), s, 0, 0);
            }
        }
        self.book.record(Correction {
            comment,
            label,
            verdict_id: None,
            moderator: origin.is_none().then(|| "replay".into()),
            note: None,
            key_id: None,
            origin: origin.map(str::to_owned),
        })?;
        Ok(())
    }

    /// Scores `comment`, then labels it if the moderator would (wrong, held, or all).
    fn step(&mut self, comment: Comment, label: Label) -> std::io::Result<Step> {
        let pin = self.book.pinned(Fingerprint::of(&comment));
        let live = self.book.live().current();
        let signature = signature_of(&canonicalize(&comment.content));
        let fuzzy_hit = signature.as_ref().is_some_and(|s| {
            self.fingerprints
                .neighbours(s, 0)
                .nearest
                .is_some_and(|n| n.similarity >= MATCH_THRESHOLD)
        });
        let signals = match (&signature, fuzzy_hit) {
            (Some(s), true) => known_spam_hit(
                s,
                Some(&FuzzyFindings {
                    known_similarity: 1.0,
                    ..Default::default()
                }),
            )
            .into_iter()
            .collect(),
            _ => Vec::new(),
        };
        let assessment = self
            .book
            .assess(&live, &comment, pin.as_ref(), self.now, signals);
        let verdict = assessment.verdict;
        let labelled =
            is_error(verdict, label) || verdict == Verdict::Hold || self.moderator.label_all;
        if labelled {
            self.label(comment, label, None)?;
        }
        Ok(Step {
            verdict,
            probability: assessment.spam_probability,
            reasons: assessment.reasons.into_iter().map(|r| r.id).collect(),
            fuzzy_hit,
            labelled,
        })
    }
}

/// The comment of row `i`, posted to `sites[i]` when there is one.
fn sited_comment(row: &LabelledComment, sites: &[String], i: usize) -> Comment {
    let mut comment = row.to_comment();
    comment.site = sites.get(i).cloned();
    comment
}

/// Replays `test` against `scorer`, labelling into a fresh label log in `data_dir` as
/// `moderator` does; `every` comments make a window, handed to `on_window` as it closes.
/// `sites[i]` (when given) is the site comment `i` is posted to, so labels build that
/// site's layer, and errors are also counted per window of each site's comments.
/// Spam labels feed a fuzzy fingerprint store as the feedback route does, so near-duplicates
/// of labelled spam get the `fuzzy.labelled_spam` hit (the shipped corpus's fingerprints are
/// left out: the corpus may hold the test comments).
pub fn replay(
    scorer: Scorer,
    test: &[LabelledComment],
    sites: &[String],
    data_dir: &Path,
    moderator: Moderator,
    every: usize,
    mut on_window: impl FnMut(&Window),
) -> std::io::Result<ReplaySummary> {
    let every = every.max(1);
    let frozen = scorer.clone();
    let mut desk = Desk::open(scorer, data_dir, moderator, test.len())?;
    let mut summary = ReplaySummary {
        comments: test.len(),
        ..Default::default()
    };
    let mut window = Window {
        first: 1,
        ..Default::default()
    };
    let mut error_at = Vec::with_capacity(test.len());
    let mut frozen_error_at = Vec::with_capacity(test.len());
    for (i, row) in test.iter().enumerate() {
        let comment = sited_comment(row, sites, i);
        let frozen_verdict = frozen.score_comment(&comment, desk.now).verdict;
        let step = desk.step(comment, row.label)?;
        window.fuzzy_hits += usize::from(step.fuzzy_hit);
        match row.label {
            Label::Spam => summary.fuzzy_spam_hits += usize::from(step.fuzzy_hit),
            Label::Ham => summary.fuzzy_ham_hits += usize::from(step.fuzzy_hit),
        }
        let wrong = is_error(step.verdict, row.label);
        let frozen_wrong = is_error(frozen_verdict, row.label);
        error_at.push(wrong);
        frozen_error_at.push(frozen_wrong);
        window.errors += usize::from(wrong);
        window.errors_frozen += usize::from(frozen_wrong);
        window.held += usize::from(step.verdict == Verdict::Hold);
        window.held_frozen += usize::from(frozen_verdict == Verdict::Hold);
        window.labels_sent += usize::from(step.labelled);
        if (i + 1) % every == 0 || i + 1 == test.len() {
            window.last = i + 1;
            on_window(&window);
            summary.windows.push(window);
            window = Window {
                first: i + 2,
                ..Default::default()
            };
        }
    }
    summary.errors = error_at.iter().filter(|&&e| e).count();
    summary.errors_frozen = frozen_error_at.iter().filter(|&&e| e).count();
    if sites.len() == test.len() {
        summary.by_site = site_windows(sites, &error_at, &frozen_error_at, every);
    }
    let half = test.len() / 2;
    let rate = |flags: &[bool]| {
        if flags.is_empty() {
            0.0
        } else {
            100.0 * flags.iter().filter(|&&e| e).count() as f64 / flags.len() as f64
        }
    };
    summary.first_half_rate = rate(&error_at[..half]);
    summary.second_half_rate = rate(&error_at[half..]);
    summary.second_half_rate_frozen = rate(&frozen_error_at[half..]);
    Ok(summary)
}

/// One site's figures on the comments after its history (`--import-share`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SiteImport {
    /// The site.
    pub site: String,
    /// Comments imported as history.
    pub history: usize,
    /// Comments streamed after it (those the figures are about).
    pub rest: usize,
    /// The rest replayed with corrections, without the import.
    pub without: EvalReport,
    /// The rest replayed with corrections, after importing the history.
    pub with: EvalReport,
    /// The comments of the rest that either run got wrong or held, in stream order.
    pub misses: Vec<Miss>,
}

/// One comment of a site's rest that a run of [`replay_import`] got wrong or held.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Miss {
    /// Its position among the site's rest (from 1).
    pub position: usize,
    /// The truth.
    pub label: Label,
    /// Verdict, spam probability and reason ids without the import.
    pub without: (Verdict, f64, Vec<String>),
    /// The same after the import.
    pub with: (Verdict, f64, Vec<String>),
}

/// Per site, imports the first `share` of its comments as labels (the import's path
/// through the label book, so they reach the shared model and the site's layer), then
/// replays the rest of the stream as [`replay`] does; the same rest is also replayed over
/// the model without the import. Each run gets its own label log under `data_dir`.
pub fn replay_import(
    scorer: Scorer,
    test: &[LabelledComment],
    sites: &[String],
    data_dir: &Path,
    moderator: Moderator,
    share: f64,
) -> std::io::Result<Vec<SiteImport>> {
    let history = history_flags(sites, share);
    let mut arms = Vec::with_capacity(2);
    let mut arm_steps: Vec<Vec<(usize, Step)>> = Vec::with_capacity(2);
    for (arm, import) in [("without", false), ("with", true)] {
        let dir = data_dir.join(arm);
        std::fs::create_dir_all(&dir)?;
        let mut desk = Desk::open(scorer.clone(), &dir, moderator, test.len())?;
        if import {
            for (i, row) in test.iter().enumerate().filter(|(i, _)| history[*i]) {
                desk.label(
                    sited_comment(row, sites, i),
                    row.label,
                    Some("import:replay"),
                )?;
            }
        }
        let mut outcomes: Vec<(&str, (bool, bool, bool))> = Vec::new();
        let mut steps = Vec::new();
        for (i, row) in test.iter().enumerate().filter(|(i, _)| !history[*i]) {
            let step = desk.step(sited_comment(row, sites, i), row.label)?;
            outcomes.push((
                sites[i].as_str(),
                (
                    step.verdict.is_spam(),
                    row.label == Label::Spam,
                    step.verdict == Verdict::Hold,
                ),
            ));
            steps.push((i, step));
        }
        arms.push(outcomes);
        arm_steps.push(steps);
    }
    let missed = |s: &Step, label: Label| is_error(s.verdict, label) || s.verdict == Verdict::Hold;
    let mut misses: Vec<(&str, Miss)> = Vec::new();
    let mut positions: std::collections::HashMap<&str, usize> = Default::default();
    for ((i, without), (_, with)) in arm_steps[0].iter().zip(&arm_steps[1]) {
        let site = sites[*i].as_str();
        let position = positions.entry(site).or_default();
        *position += 1;
        let label = test[*i].label;
        if missed(without, label) || missed(with, label) {
            let of = |s: &Step| (s.verdict, s.probability, s.reasons.clone());
            misses.push((
                site,
                Miss {
                    position: *position,
                    label,
                    without: of(without),
                    with: of(with),
                },
            ));
        }
    }
    let mut order: Vec<&str> = Vec::new();
    for site in sites {
        if !order.contains(&site.as_str()) {
            order.push(site);
        }
    }
    let of_site = |outcomes: &[(&str, (bool, bool, bool))], site: &str| {
        let mine: Vec<_> = outcomes
            .iter()
            .filter(|o| o.0 == site)
            .map(|o| o.1)
            .collect();
        EvalReport::from_outcomes(&mine)
    };
    Ok(order
        .into_iter()
        .map(|site| SiteImport {
            site: site.to_owned(),
            history: sites
                .iter()
                .zip(&history)
                .filter(|(s, &h)| s.as_str() == site && h)
                .count(),
            rest: arms[0].iter().filter(|o| o.0 == site).count(),
            without: of_site(&arms[0], site),
            with: of_site(&arms[1], site),
            misses: misses
                .iter()
                .filter(|m| m.0 == site)
                .map(|m| m.1.clone())
                .collect(),
        })
        .collect())
}

/// The site of each non-blank line of a labelled JSON Lines file: its `site` field, or
/// `fallback` when it has none.
pub fn row_sites(path: &Path, fallback: &str) -> std::io::Result<Vec<String>> {
    #[derive(serde::Deserialize)]
    struct SiteField {
        #[serde(default)]
        site: Option<String>,
    }
    let text = std::fs::read_to_string(path)?;
    Ok(text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str::<SiteField>(l)
                .ok()
                .and_then(|f| f.site)
                .filter(|s| !s.trim().is_empty())
                .unwrap_or_else(|| fallback.to_owned())
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::row;

    #[test]
    fn errors_are_leaks_and_false_positives_not_holds() {
        // (verdict, truth, wrong?, why)
        let cases = [
            (Verdict::Approve, Label::Spam, true, "spam let through"),
            (Verdict::Spam, Label::Ham, true, "false positive"),
            (
                Verdict::Discard,
                Label::Ham,
                true,
                "false positive, dropped",
            ),
            (Verdict::Hold, Label::Ham, false, "a human sees it"),
            (Verdict::Hold, Label::Spam, false, "a human sees it"),
            (Verdict::Spam, Label::Spam, false, "right"),
            (Verdict::Approve, Label::Ham, false, "right"),
        ];
        for (verdict, label, wrong, why) in cases {
            assert_eq!(is_error(verdict, label), wrong, "{why}");
        }
    }

    fn sites(names: &str) -> Vec<String> {
        names.chars().map(|c| c.to_string()).collect()
    }

    #[test]
    fn history_is_the_first_share_of_each_site() {
        // (sites in stream order, share, history flags, why)
        let cases = [
            ("aaaa", 0.5, "HH..", "half of one site"),
            (
                "abab",
                0.5,
                "HH..",
                "each site's own first half, interleaved",
            ),
            ("aaab", 0.5, "H...", "rounded down per site: 1 of 3, 0 of 1"),
            ("aabbb", 0.0, ".....", "no share, no history"),
            ("aabbb", 1.0, "HHHHH", "the whole stream imported"),
            ("", 0.5, "", "no comments"),
        ];
        for (names, share, want, why) in cases {
            let got: String = history_flags(&sites(names), share)
                .into_iter()
                .map(|h| if h { 'H' } else { '.' })
                .collect();
            assert_eq!(got, want, "{why}");
        }
    }

    #[test]
    fn errors_are_counted_per_window_of_each_site() {
        // (sites, errors, frozen errors, every, windows (site, first, last, errors, frozen), why)
        type Expected = &'static [(&'static str, usize, usize, usize, usize)];
        let cases: [(&str, &str, &str, usize, Expected, &str); 4] = [
            (
                "aaa",
                "x.x",
                "xxx",
                2,
                &[("a", 1, 2, 1, 2), ("a", 3, 3, 1, 1)],
                "one site, a short last window",
            ),
            (
                "abab",
                "x..x",
                "....",
                2,
                &[("a", 1, 2, 1, 0), ("b", 1, 2, 1, 0)],
                "windows count the site's own comments",
            ),
            (
                "baa",
                "x..",
                "..x",
                5,
                &[("b", 1, 1, 1, 0), ("a", 1, 2, 0, 1)],
                "sites in order of first appearance",
            ),
            ("", "", "", 3, &[], "no comments, no windows"),
        ];
        let flags = |s: &str| s.chars().map(|c| c == 'x').collect::<Vec<_>>();
        for (names, errors, frozen, every, want, why) in cases {
            let got = site_windows(&sites(names), &flags(errors), &flags(frozen), every);
            let got: Vec<_> = got
                .iter()
                .map(|w| (w.site.as_str(), w.first, w.last, w.errors, w.errors_frozen))
                .collect();
            assert_eq!(got, want, "{why}");
        }
    }

    #[test]
    fn imported_history_reaches_the_sites_stream_and_only_with_the_import() {
        // Site a's spam reads like ham to the shipped model; its imported history teaches
        // the site's layer, site b (ham only) is reported apart.
        let scorer =
            Scorer::load(None, crate::moderation::Policy::default()).expect("shipped model");
        let spam = "What a lovely melody, my grandmother sings it every single morning";
        let mut test = Vec::new();
        let mut names = Vec::new();
        for i in 0..12 {
            test.push(row(&format!("{spam} {i}"), Label::Spam));
            names.push("a".to_string());
        }
        for i in 0..4 {
            test.push(row(
                &format!("I loved the chorus of this song, part {i}"),
                Label::Ham,
            ));
            names.push("b".to_string());
        }
        let dir = tempfile::tempdir().unwrap();
        let moderator = Moderator {
            weight: 5.0,
            label_all: false,
        };
        let report = replay_import(scorer, &test, &names, dir.path(), moderator, 0.5).unwrap();
        let a = &report[0];
        assert_eq!((a.site.as_str(), a.history, a.rest), ("a", 6, 6));
        assert_eq!(
            a.without.tp + a.without.fn_,
            6,
            "the rest, not the history, is scored"
        );
        assert!(
            a.with.tp > a.without.tp,
            "the history is learnt: {report:?}"
        );
        let b = &report[1];
        assert_eq!((b.site.as_str(), b.history, b.rest), ("b", 2, 2));
        assert_eq!(b.with.fp + b.with.tn, 2);
    }
}
