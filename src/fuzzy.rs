//! Fuzzy fingerprints of known spam as rule hits: a comment whose text is a near-duplicate
//! (estimated Jaccard similarity of word bigrams ≥ [`MATCH_THRESHOLD`]) of spam a moderator
//! labelled, or of spam in the shipped corpus, gets a weight towards spam with a reason
//! naming the similarity. The fingerprints of labelled spam are shared through the cache
//! (Redis when configured); the shipped corpus's are computed once per process from the
//! corpus compiled into the binary. Pure apart from that one-time computation.

use std::sync::OnceLock;

use serde::Serialize;

use crate::cache::FuzzyFindings;
use crate::corpus::{shipped_corpus, LabelledComment};
use crate::domain::Label;
use crate::rules::{RuleEffect, RuleHit};
use crate::signals::SignalPolicy;
use crate::text::fuzzy::{FuzzyIndex, Signature, MATCH_THRESHOLD};
use crate::text::strip_html;

/// Log-odds a near-duplicate of labelled spam adds: a moderator confirmed the template.
pub const LABELLED_SPAM_WEIGHT: f64 = 3.0;
/// Log-odds a near-duplicate of shipped corpus spam adds: other sites' spam, years old.
pub const SHIPPED_SPAM_WEIGHT: f64 = 2.0;

/// The fuzzy signature of a comment body (already canonicalised): markup stripped, then
/// [`Signature::of`].
pub fn signature_of(canonical: &str) -> Option<Signature> {
    if canonical.contains('<') || canonical.contains('&') {
        Signature::of(&strip_html(canonical).0)
    } else {
        Signature::of(canonical)
    }
}

/// An index of the spam rows of `rows`.
pub fn spam_index(rows: &[LabelledComment]) -> FuzzyIndex {
    let spam: Vec<Signature> = rows
        .iter()
        .filter(|r| r.label == Label::Spam)
        .filter_map(|r| signature_of(&crate::text::canonicalize(&r.text)))
        .collect();
    let mut index = FuzzyIndex::new(spam.len(), 0);
    for signature in spam {
        index.insert(signature.id(), signature, 0, 0);
    }
    index
}

/// The shipped corpus's spam (YouTube, SMS and blog), indexed on first use; the start-up
/// calls it so that no request waits for it.
pub fn shipped_index() -> &'static FuzzyIndex {
    static SHIPPED: OnceLock<FuzzyIndex> = OnceLock::new();
    SHIPPED.get_or_init(|| spam_index(&shipped_corpus()))
}

/// The known-spam hit for a comment with `signature`: labelled spam (from `shared`, the
/// cache's findings) first, else the shipped corpus.
pub fn known_spam_hit(signature: &Signature, shared: Option<&FuzzyFindings>) -> Option<RuleHit> {
    let labelled = shared.map_or(0.0, |f| f.known_similarity);
    if labelled >= MATCH_THRESHOLD {
        return Some(RuleHit {
            id: "fuzzy.labelled_spam".into(),
            reason: format!(
                "Near-duplicate of a comment moderators labelled spam (estimated similarity {labelled:.2})"
            ),
            effect: RuleEffect::Weight(LABELLED_SPAM_WEIGHT),
        });
    }
    let shipped = shipped_index().neighbours(signature, 0).nearest?.similarity;
    (shipped >= MATCH_THRESHOLD).then(|| RuleHit {
        id: "fuzzy.known_spam".into(),
        reason: format!(
            "Near-duplicate of known spam in the shipped corpus (estimated similarity {shipped:.2})"
        ),
        effect: RuleEffect::Weight(SHIPPED_SPAM_WEIGHT),
    })
}

/// Every fuzzy hit of one comment: known spam, and the cross-site signals counted over
/// near-duplicates where they go past what the exact counters (`exact_hits`) already
/// found.
pub fn fuzzy_hits(
    policy: &SignalPolicy,
    signature: &Signature,
    shared: Option<&FuzzyFindings>,
    exact_hits: &[RuleHit],
) -> Vec<RuleHit> {
    let mut hits: Vec<RuleHit> = known_spam_hit(signature, shared).into_iter().collect();
    if let Some(found) = shared {
        hits.extend(
            crate::signals::near_duplicate_hits(policy, found.near_repeats, found.near_sites)
                .into_iter()
                .filter(|hit| !exact_hits.iter().any(|e| e.id == hit.id)),
        );
    }
    hits
}

/// How the fingerprints do on labelled sets (`commentguard fuzzy-eval`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FuzzyEvaluation {
    /// Spam comments of the spam set.
    pub spam: usize,
    /// Of them, long enough to fingerprint.
    pub spam_fingerprinted: usize,
    /// Of them, with a near-duplicate among the *other* spam comments of the set.
    pub spam_with_near_duplicate: usize,
    /// `spam_with_near_duplicate / spam`.
    pub spam_share: f64,
    /// Ham comments of the ham sets.
    pub ham: usize,
    /// Of them, long enough to fingerprint.
    pub ham_fingerprinted: usize,
    /// Of them, matching a spam fingerprint of the reference spam.
    pub ham_matching_spam: usize,
    /// `ham_matching_spam / ham`: the signal's false-positive rate.
    pub ham_false_positive_rate: f64,
    /// The threshold used.
    pub threshold: f64,
}

/// Measures the spam set against itself (each comment against the others) and the ham
/// sets against `reference` (an index of spam, e.g. [`shipped_index`]).
pub fn evaluate(
    spam: &[LabelledComment],
    ham: &[LabelledComment],
    reference: &FuzzyIndex,
) -> FuzzyEvaluation {
    let share = |n: usize, of: usize| if of == 0 { 0.0 } else { n as f64 / of as f64 };
    let spam_rows: Vec<&LabelledComment> = spam.iter().filter(|r| r.label == Label::Spam).collect();
    let signatures: Vec<Option<Signature>> = spam_rows
        .iter()
        .map(|r| signature_of(&crate::text::canonicalize(&r.text)))
        .collect();
    let mut own = FuzzyIndex::new(signatures.len().max(1), 0);
    for (i, s) in signatures.iter().enumerate() {
        if let Some(s) = s {
            own.insert(i as u64, s.clone(), i as u64, 0);
        }
    }
    let mut report = FuzzyEvaluation {
        spam: spam_rows.len(),
        ham: ham.iter().filter(|r| r.label == Label::Ham).count(),
        threshold: MATCH_THRESHOLD,
        ..Default::default()
    };
    for (i, s) in signatures.iter().enumerate() {
        let Some(s) = s else { continue };
        report.spam_fingerprinted += 1;
        // The entry tagged with its own index is itself: a match with any other tag counts.
        let found = own.neighbours(s, 0);
        if found.tags.iter().any(|&t| t != i as u64) {
            report.spam_with_near_duplicate += 1;
        }
    }
    for row in ham.iter().filter(|r| r.label == Label::Ham) {
        let Some(s) = signature_of(&crate::text::canonicalize(&row.text)) else {
            continue;
        };
        report.ham_fingerprinted += 1;
        if reference.neighbours(&s, 0).matches > 0 {
            report.ham_matching_spam += 1;
        }
    }
    report.spam_share = share(report.spam_with_near_duplicate, report.spam);
    report.ham_false_positive_rate = share(report.ham_matching_spam, report.ham);
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::row;

    #[test]
    fn shipped_spam_templates_are_known_and_ordinary_comments_are_not() {
        // (name, text, hit id or none, why)
        let cases = [
            (
                "shipped_template_spun",
                "I have been browsing online more than three hours today, yet I never found \
                 any interesting article like yours. It is lovely value enough for me. In my \
                 opinion, if all site owners and bloggers made good content as you did, the \
                 internet will be much more useful than ever before.",
                Some("fuzzy.known_spam"),
                "a spin of a template that is in the shipped blog spam",
            ),
            (
                "ordinary_comment",
                "I followed the steps but the build fails on Windows with a path error; \
                 should the config file live next to the Gemfile or in the _data folder?",
                None,
                "a reader's question matches no spam",
            ),
            (
                "short",
                "Great post!",
                None,
                "too short to fingerprint at all",
            ),
        ];
        for (name, text, want, why) in cases {
            let got = signature_of(text)
                .and_then(|s| known_spam_hit(&s, None))
                .map(|h| h.id);
            assert_eq!(got.as_deref(), want, "{name}: {why}");
        }
    }

    #[test]
    fn the_shipped_index_holds_every_fingerprintable_spam_row() {
        let spam: std::collections::HashSet<u64> = shipped_corpus()
            .iter()
            .filter(|r| r.label == Label::Spam)
            .filter_map(|r| signature_of(&crate::text::canonicalize(&r.text)))
            .map(|s| s.id())
            .collect();
        assert!(spam.len() > 3000, "{}", spam.len());
        assert_eq!(
            shipped_index().len(),
            spam.len(),
            "one entry per distinct fingerprint"
        );
    }

    #[test]
    fn labelled_spam_comes_first_and_markup_is_stripped() {
        let signature = signature_of(
            "<p>Buy the <b>cheapest</b> replica watches online today, free shipping to every \
             country &amp; fast delivery</p>",
        )
        .unwrap();
        let same = signature_of(
            "Buy the cheapest replica watches online today, free shipping to every country & \
             fast delivery",
        )
        .unwrap();
        assert_eq!(signature, same, "tags and entities are not words");
        let shared = FuzzyFindings {
            known_similarity: 0.8,
            near_repeats: 1,
            near_sites: 1,
        };
        let hit = known_spam_hit(&signature, Some(&shared)).unwrap();
        assert_eq!(hit.id, "fuzzy.labelled_spam");
        assert!(hit.reason.contains("0.80"), "{}", hit.reason);
    }

    #[test]
    fn the_evaluation_counts_near_duplicates_among_the_others_only() {
        let template = "I like the valuable info you provide in your articles. I will bookmark \
            your blog and check again here regularly.";
        let spun = "I like the valuable information you provide in your articles. I will \
            bookmark your weblog and check again here regularly.";
        let spam = [
            row(template, Label::Spam),
            row(spun, Label::Spam),
            row("A one-off advert for discount garden furniture delivered free across the whole county", Label::Spam),
            row("short spam", Label::Spam),
        ];
        let ham = [
            row(template, Label::Ham),
            row(
                "A genuine question about the third paragraph of this post please",
                Label::Ham,
            ),
        ];
        let report = evaluate(&spam, &ham, &spam_index(&spam));
        assert_eq!(report.spam, 4);
        assert_eq!(report.spam_fingerprinted, 3);
        assert_eq!(report.spam_with_near_duplicate, 2, "{report:?}");
        assert_eq!((report.ham, report.ham_matching_spam), (2, 1));
    }
}
