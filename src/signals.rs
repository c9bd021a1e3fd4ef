//! Cross-site signals: what Akismet learns from its network and WordPress's flood check.
//!
//! The cache counts, per window, how often a content fingerprint was submitted, from how many
//! sites, and how many comments one IP sent in the last 15 seconds; this module turns the
//! counts into rule hits. Pure: the counting lives in [`crate::cache`].

use serde::{Deserialize, Serialize};

use crate::domain::Comment;
use crate::rules::{RuleEffect, RuleHit};
use crate::text::canonicalize;

/// Window of the IP flood check, as in WordPress.
pub const FLOOD_WINDOW_SECS: u64 = 15;

/// What to count for one comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalKeys {
    /// xxh3-128 of the canonical content alone (32 hex digits).
    pub content: String,
    /// The site it was posted to, lower-cased, if given.
    pub site: Option<String>,
    /// The commenter's IP, if given.
    pub ip: Option<String>,
}

impl SignalKeys {
    /// The keys of a comment.
    pub fn of(comment: &Comment) -> Self {
        Self::with_canonical_content(comment, &canonicalize(&comment.content))
    }

    /// [`SignalKeys::of`] when the caller already has `canonicalize(&comment.content)`.
    pub fn with_canonical_content(comment: &Comment, content: &str) -> Self {
        let content = format!(
            "{:032x}",
            xxhash_rust::xxh3::xxh3_128(content.to_lowercase().as_bytes())
        );
        let clean = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_lowercase)
        };
        SignalKeys {
            content,
            site: clean(&comment.site),
            ip: clean(&comment.user_ip),
        }
    }
}

/// Counts after this comment was counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SignalCounts {
    /// Submissions of this content within the window.
    pub repeats: u64,
    /// Distinct sites this content was submitted to within the window.
    pub sites: u64,
    /// Comments from this IP within the last [`FLOOD_WINDOW_SECS`].
    pub ip_recent: u64,
}

/// Thresholds of the signals (configurable).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SignalPolicy {
    /// More distinct sites than this within the window: spam (a campaign).
    pub max_sites: u64,
    /// More submissions than this within the window: a spam-ward weight.
    pub max_repeats: u64,
    /// More comments than this from one IP within 15 s: hold (a flood).
    pub max_ip_per_15s: u64,
    /// Window of the content counters, in seconds.
    pub window_secs: u64,
}

impl Default for SignalPolicy {
    fn default() -> Self {
        SignalPolicy {
            max_sites: 3,
            max_repeats: 5,
            max_ip_per_15s: 3,
            window_secs: 3600,
        }
    }
}

/// Log-odds a repeated content adds: repetition alone is suspicious, not proof.
const REPEAT_WEIGHT: f64 = 2.0;

/// The rule hits the counts call for.
pub fn signal_hits(policy: &SignalPolicy, counts: &SignalCounts) -> Vec<RuleHit> {
    let mut hits = Vec::new();
    if counts.sites > policy.max_sites {
        hits.push(RuleHit {
            id: "network.many_sites".into(),
            reason: format!(
                "Same text submitted to {} sites within {} s",
                counts.sites, policy.window_secs
            ),
            effect: RuleEffect::Spam,
        });
    }
    if counts.repeats > policy.max_repeats {
        hits.push(RuleHit {
            id: "network.repeated_content".into(),
            reason: format!(
                "Same text submitted {} times within {} s",
                counts.repeats, policy.window_secs
            ),
            effect: RuleEffect::Weight(REPEAT_WEIGHT),
        });
    }
    if counts.ip_recent > policy.max_ip_per_15s {
        hits.push(RuleHit {
            id: "flood.ip".into(),
            reason: format!(
                "{} comments from one IP within {FLOOD_WINDOW_SECS} s",
                counts.ip_recent
            ),
            effect: RuleEffect::Hold,
        });
    }
    hits
}

/// The cross-site hits counted over near-duplicates (see [`crate::fuzzy`]): `repeats`
/// near-duplicates of a text (itself included) from `sites` distinct sites in the window.
/// The same rule ids as the exact counts, so the policy weighs them alike.
pub fn near_duplicate_hits(policy: &SignalPolicy, repeats: u64, sites: u64) -> Vec<RuleHit> {
    let mut hits = Vec::new();
    if sites > policy.max_sites {
        hits.push(RuleHit {
            id: "network.many_sites".into(),
            reason: format!(
                "Same or near-identical text submitted to {sites} sites within {} s",
                policy.window_secs
            ),
            effect: RuleEffect::Spam,
        });
    }
    if repeats > policy.max_repeats {
        hits.push(RuleHit {
            id: "network.repeated_content".into(),
            reason: format!(
                "Same or near-identical text submitted {repeats} times within {} s",
                policy.window_secs
            ),
            effect: RuleEffect::Weight(REPEAT_WEIGHT),
        });
    }
    hits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_exclusive_and_each_signal_has_its_rule() {
        let policy = SignalPolicy::default();
        // (name, counts, expected rule ids, why)
        let cases: [(&str, SignalCounts, &[&str], &str); 4] = [
            (
                "quiet",
                SignalCounts {
                    repeats: 1,
                    sites: 1,
                    ip_recent: 1,
                },
                &[],
                "a first comment trips nothing",
            ),
            (
                "at_limits",
                SignalCounts {
                    repeats: 5,
                    sites: 3,
                    ip_recent: 3,
                },
                &[],
                "the limits themselves are allowed",
            ),
            (
                "campaign",
                SignalCounts {
                    repeats: 9,
                    sites: 4,
                    ip_recent: 1,
                },
                &["network.many_sites", "network.repeated_content"],
                "one text on many sites",
            ),
            (
                "flood",
                SignalCounts {
                    repeats: 1,
                    sites: 1,
                    ip_recent: 4,
                },
                &["flood.ip"],
                "one IP posting fast",
            ),
        ];
        for (name, counts, want, why) in cases {
            let got: Vec<String> = signal_hits(&policy, &counts)
                .into_iter()
                .map(|h| h.id)
                .collect();
            assert_eq!(got, want, "{name}: {why}");
        }
    }

    #[test]
    fn near_duplicates_trip_the_same_rules_past_the_same_limits() {
        let policy = SignalPolicy::default();
        // (name, repeats, sites, expected rule ids, why)
        let cases: [(&str, u64, u64, &[&str], &str); 3] = [
            ("at_limits", 5, 3, &[], "the limits themselves are allowed"),
            (
                "spun_campaign",
                6,
                4,
                &["network.many_sites", "network.repeated_content"],
                "variants on many sites",
            ),
            (
                "one_site_wave",
                9,
                1,
                &["network.repeated_content"],
                "variants on one site",
            ),
        ];
        for (name, repeats, sites, want, why) in cases {
            let got: Vec<String> = near_duplicate_hits(&policy, repeats, sites)
                .into_iter()
                .map(|h| h.id)
                .collect();
            assert_eq!(got, want, "{name}: {why}");
        }
    }

    #[test]
    fn keys_ignore_case_width_and_invisible_characters_of_the_content() {
        let a = SignalKeys::of(&Comment {
            content: "Buy NOW".into(),
            site: Some(" Blog.Example ".into()),
            ..Default::default()
        });
        let b = SignalKeys::of(&Comment {
            content: "ｂｕｙ\u{200B} now".into(),
            ..Default::default()
        });
        assert_eq!(a.content, b.content);
        assert_eq!(a.site.as_deref(), Some("blog.example"));
    }
}
