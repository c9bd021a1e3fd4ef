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
use crate::domain::{Label, Verdict};
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

/// Replays `test` against `scorer`, labelling into a fresh label log in `data_dir` as
/// `moderator` does; `every` comments make a window, handed to `on_window` as it closes.
/// Spam labels feed a fuzzy fingerprint store as the feedback route does, so near-duplicates
/// of labelled spam get the `fuzzy.labelled_spam` hit (the shipped corpus's fingerprints are
/// left out: the corpus may hold the test comments).
pub fn replay(
    scorer: Scorer,
    test: &[LabelledComment],
    data_dir: &Path,
    moderator: Moderator,
    every: usize,
    mut on_window: impl FnMut(&Window),
) -> std::io::Result<ReplaySummary> {
    let weight = moderator.weight;
    let mut fingerprints = FuzzyIndex::new(test.len().max(1), 0);
    let every = every.max(1);
    let frozen = scorer.clone();
    let (book, _) = LabelBook::open(data_dir, scorer, weight)?;
    let now = OffsetDateTime::now_utc();
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
        let comment = row.to_comment();
        let frozen_verdict = frozen.score_comment(&comment, now).verdict;
        let pin = book.pinned(Fingerprint::of(&comment));
        let live = book.live().current();
        let signature = signature_of(&canonicalize(&comment.content));
        let fuzzy_hit = signature.as_ref().is_some_and(|s| {
            fingerprints
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
        window.fuzzy_hits += usize::from(fuzzy_hit);
        match row.label {
            Label::Spam => summary.fuzzy_spam_hits += usize::from(fuzzy_hit),
            Label::Ham => summary.fuzzy_ham_hits += usize::from(fuzzy_hit),
        }
        let verdict = book
            .assess(&live, &comment, pin.as_ref(), now, signals)
            .verdict;
        let wrong = is_error(verdict, row.label);
        let frozen_wrong = is_error(frozen_verdict, row.label);
        error_at.push(wrong);
        frozen_error_at.push(frozen_wrong);
        window.errors += usize::from(wrong);
        window.errors_frozen += usize::from(frozen_wrong);
        window.held += usize::from(verdict == Verdict::Hold);
        window.held_frozen += usize::from(frozen_verdict == Verdict::Hold);
        if wrong || verdict == Verdict::Hold || moderator.label_all {
            if let Some(s) = signature.filter(|_| row.label == Label::Spam) {
                fingerprints.insert(s.id(), s, 0, 0);
            }
            book.record(Correction {
                comment,
                label: row.label,
                verdict_id: None,
                moderator: Some("replay".into()),
                note: None,
                key_id: None,
                origin: None,
            })?;
            window.labels_sent += 1;
        }
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
