//! `commentguard replay`: does the service learn from its moderators? Streams a labelled
//! split through scoring and, like a moderator working the queues, labels every comment
//! whose verdict was wrong (spam approved, ham sent to spam) and every held comment, through
//! the same [`LabelBook::record`] the feedback route uses. Reports the error rate per window
//! of comments next to the same split scored by the same model with nobody correcting it.

use std::path::Path;

use serde::Serialize;
use time::OffsetDateTime;

use crate::corpus::LabelledComment;
use crate::domain::{Label, Verdict};
use crate::labels::{Correction, Fingerprint, LabelBook};
use crate::scoring::Scorer;

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
}

/// Whether `verdict` is wrong for a comment whose truth is `label`: spam let through, or
/// ham put in spam. A hold is not wrong (a human sees it), only work.
pub fn is_error(verdict: Verdict, label: Label) -> bool {
    match label {
        Label::Spam => verdict == Verdict::Approve,
        Label::Ham => verdict.is_spam(),
    }
}

/// Replays `test` against `scorer`, labelling into a fresh label log in `data_dir` with
/// `weight`; `every` comments make a window, handed to `on_window` as it closes.
pub fn replay(
    scorer: Scorer,
    test: &[LabelledComment],
    data_dir: &Path,
    weight: f32,
    every: usize,
    mut on_window: impl FnMut(&Window),
) -> std::io::Result<ReplaySummary> {
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
        let verdict = book
            .assess(&live, &comment, pin.as_ref(), now, Vec::new())
            .verdict;
        let wrong = is_error(verdict, row.label);
        let frozen_wrong = is_error(frozen_verdict, row.label);
        error_at.push(wrong);
        frozen_error_at.push(frozen_wrong);
        window.errors += usize::from(wrong);
        window.errors_frozen += usize::from(frozen_wrong);
        window.held += usize::from(verdict == Verdict::Hold);
        window.held_frozen += usize::from(frozen_verdict == Verdict::Hold);
        if wrong || verdict == Verdict::Hold {
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
