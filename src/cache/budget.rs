//! The memory budget of the in-process stores, and how entries are weighed against it.
//!
//! One setting (`memory_budget_mb`) is split between every in-process store that grows with
//! traffic, so that no request pattern (a flood of distinct 60 KB comments, a million ids)
//! can grow the process past it:
//!
//! | store | share | why |
//! |---|---|---|
//! | `verdicts` | 50 % | the comment and its verdict, once per distinct comment: the bulk |
//! | `ids` | 10 % | platform and verdict ids, each pointing at a verdict's key (~120 B each) |
//! | `counters` | 15 % | the repeat, cross-site and flood counters (~150 B each) |
//! | `review` | 25 % | held and spam verdicts for the console (the file store's memory) |
//!
//! With Redis, verdicts, ids, counters and the review history live there and the process
//! keeps none of them.
//!
//! Outside the split: the spam memory (keys of labelled spam, bounded at a fixed 4 MiB,
//! built by the label book as it replays the log) and the rate limiter's buckets (one per
//! key and client IP, pruned every few seconds).

use crate::domain::{Assessment, Comment};

use super::CachedVerdict;

/// Default total budget of the in-process stores, in MiB.
pub const DEFAULT_MEMORY_BUDGET_MB: u64 = 64;

/// Fixed cost of an entry beyond its strings: the map slot, the entry's bookkeeping in the
/// cache (deques, timers, frequency sketch), the `Arc`s. Measured at roughly this much.
const ENTRY_OVERHEAD: usize = 160;

/// Bytes each in-process store may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryBudget {
    /// Verdicts with their comments, by content key.
    pub verdicts: u64,
    /// Platform comment ids and verdict ids.
    pub ids: u64,
    /// Repeat, cross-site and flood counters.
    pub counters: u64,
    /// The review history's entries in memory (the file store).
    pub review: u64,
}

impl MemoryBudget {
    /// `total_mb` MiB split between the stores as the module documentation says.
    pub fn split(total_mb: u64) -> Self {
        let total = total_mb.max(1).saturating_mul(1024 * 1024);
        let share = |percent: u64| total.saturating_mul(percent) / 100;
        MemoryBudget {
            verdicts: share(50),
            ids: share(10),
            counters: share(15),
            review: share(25),
        }
    }
}

impl Default for MemoryBudget {
    fn default() -> Self {
        Self::split(DEFAULT_MEMORY_BUDGET_MB)
    }
}

/// One store's budget and use, as `/metrics` reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreMemory {
    /// The store's name (the `store` label).
    pub store: &'static str,
    /// Its budget in bytes.
    pub budget: u64,
    /// Its approximate use in bytes.
    pub used: u64,
}

/// Approximate bytes of `verdict` in memory: its strings plus a fixed overhead per string
/// and per entry. Cheap (no serialisation), and over rather than under.
pub fn verdict_bytes(verdict: &CachedVerdict) -> usize {
    ENTRY_OVERHEAD
        + verdict.verdict_id.len()
        + assessment_bytes(&verdict.assessment)
        + verdict.comment.as_ref().map_or(0, comment_bytes)
}

fn assessment_bytes(a: &Assessment) -> usize {
    std::mem::size_of::<Assessment>()
        + a.model_version.len()
        + a.reasons
            .iter()
            .map(|r| r.id.len() + r.detail.len() + 48)
            .sum::<usize>()
        + a.tokens.iter().map(|t| t.token.len() + 32).sum::<usize>()
}

fn comment_bytes(c: &Comment) -> usize {
    let optional = [
        &c.author,
        &c.author_email,
        &c.author_url,
        &c.user_ip,
        &c.user_agent,
        &c.referrer,
        &c.permalink,
        &c.comment_type,
        &c.site,
        &c.lang,
        &c.id,
        &c.honeypot,
    ];
    std::mem::size_of::<Comment>()
        + c.content.len()
        + optional
            .iter()
            .map(|f| f.as_ref().map_or(0, String::len))
            .sum::<usize>()
}

/// Weight of an entry for a cache: `bytes`, saturating at `u32::MAX`.
pub fn weight(bytes: usize) -> u32 {
    u32::try_from(bytes).unwrap_or(u32::MAX)
}

/// Fixed overhead of a small entry (an id, a counter).
pub const SMALL_ENTRY_OVERHEAD: usize = ENTRY_OVERHEAD;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_split_adds_up_to_the_total_and_never_to_zero() {
        for (name, mb) in [
            ("default", 64),
            ("small", 1),
            ("zero is one", 0),
            ("big", 4096),
        ] {
            let b = MemoryBudget::split(mb);
            let sum = b.verdicts + b.ids + b.counters + b.review;
            let total = mb.max(1) * 1024 * 1024;
            assert!(
                sum <= total && sum + 100 >= total,
                "{name}: {sum} of {total}"
            );
            assert!(b.ids > 0 && b.counters > 0, "{name}: every store gets some");
        }
    }

    #[test]
    fn a_verdict_weighs_at_least_its_comment() {
        let verdict = CachedVerdict {
            assessment: Assessment {
                verdict: crate::domain::Verdict::Approve,
                spam_probability: 0.1,
                reasons: vec![],
                tokens: vec![],
                model_version: "m".into(),
            },
            verdict_id: "v".repeat(32),
            comment: Some(Comment {
                content: "x".repeat(60_000),
                ..Default::default()
            }),
        };
        let bytes = verdict_bytes(&verdict);
        assert!((60_000..61_000).contains(&bytes), "{bytes}");
    }
}
