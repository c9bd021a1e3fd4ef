//! The memory budget of the in-process stores, and how entries are weighed against it.
//!
//! One setting (`memory_budget_mb`) is split between every in-process store that grows with
//! traffic, so that no request pattern (a flood of distinct 60 KB comments, a million ids)
//! can grow the process past it:
//!
//! | store | share | why |
//! |---|---|---|
//! | `verdicts` | 45 % | the comment and its verdict, once per distinct comment: the bulk |
//! | `ids` | 10 % | platform and verdict ids, each pointing at a verdict's key (~500 B each) |
//! | `counters` | 15 % | the repeat, cross-site and flood counters (~500 B each) |
//! | `review` | 25 % | held and spam verdicts for the console (the file store's memory) |
//! | `fuzzy` | 5 % | fuzzy fingerprints of labelled spam and of recent comments (~730 B each, half each) |
//!
//! Entries are weighed as the allocator and the cache will hold them (see [`heap`] and
//! [`CACHE_ENTRY_OVERHEAD`]), not by their text alone: for ordinary comments of a few
//! hundred bytes the bookkeeping is most of the cost.
//!
//! With Redis, verdicts, ids, counters, fuzzy fingerprints and the review history live there and the process
//! keeps none of them.
//!
//! Outside the split: the spam memory (keys of labelled spam, bounded at a fixed 4 MiB,
//! built by the label book as it replays the log) and the rate limiter's buckets (one per
//! key and client IP, pruned every few seconds).

use crate::domain::{Assessment, Comment};

use super::CachedVerdict;

/// Default total budget of the in-process stores, in MiB.
pub const DEFAULT_MEMORY_BUDGET_MB: u64 = 64;

/// Bytes a cache keeps per entry for itself (measured on moka 0.12: the hash table bucket,
/// the value entry and its shared info, the access and write order nodes, the key's `Arc`).
pub const CACHE_ENTRY_OVERHEAD: usize = 384;

/// Bytes the allocator takes for a heap block of `len` bytes: a header, rounded up to 16,
/// at least 32 (glibc malloc); nothing for an empty string or vector.
pub fn heap(len: usize) -> usize {
    if len == 0 {
        0
    } else {
        ((len + 8 + 15) & !15).max(32)
    }
}

/// The review history's entries take about this many times their JSON size in memory (each
/// string a heap block of its own, each token a struct): the file store, which counts JSON
/// bytes, is given its share divided by this.
pub const REVIEW_MEMORY_PER_JSON_BYTE: f64 = 1.5;

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
    /// Fuzzy fingerprints: labelled spam and recent comments (see [`super::fuzzy`]).
    pub fuzzy: u64,
}

impl MemoryBudget {
    /// `total_mb` MiB split between the stores as the module documentation says.
    pub fn split(total_mb: u64) -> Self {
        let total = total_mb.max(1).saturating_mul(1024 * 1024);
        let share = |percent: u64| total.saturating_mul(percent) / 100;
        MemoryBudget {
            verdicts: share(45),
            ids: share(10),
            counters: share(15),
            review: share(25),
            fuzzy: share(5),
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

/// Approximate bytes of `verdict` in memory: each heap block (rounded as the allocator
/// does) and the `Arc` it is kept in. Cheap (no serialisation).
pub fn verdict_bytes(verdict: &CachedVerdict) -> usize {
    heap(std::mem::size_of::<CachedVerdict>() + 16)
        + heap(verdict.verdict_id.len())
        + assessment_bytes(&verdict.assessment)
        + verdict.comment.as_ref().map_or(0, comment_bytes)
}

fn assessment_bytes(a: &Assessment) -> usize {
    heap(a.model_version.len())
        + heap(a.reasons.len() * std::mem::size_of::<crate::domain::Reason>())
        + a.reasons
            .iter()
            .map(|r| heap(r.id.len()) + heap(r.detail.len()))
            .sum::<usize>()
        + heap(a.tokens.len() * std::mem::size_of::<crate::domain::TokenWeight>())
        + a.tokens.iter().map(|t| heap(t.token.len())).sum::<usize>()
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
    heap(c.content.len())
        + optional
            .iter()
            .map(|f| f.as_ref().map_or(0, |s| heap(s.len())))
            .sum::<usize>()
}

/// Weight of an entry for a cache: `bytes`, saturating at `u32::MAX`.
pub fn weight(bytes: usize) -> u32 {
    u32::try_from(bytes).unwrap_or(u32::MAX)
}

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
            let sum = b.verdicts + b.ids + b.counters + b.review + b.fuzzy;
            let total = mb.max(1) * 1024 * 1024;
            assert!(
                sum <= total && sum + 100 >= total,
                "{name}: {sum} of {total}"
            );
            assert!(
                b.ids > 0 && b.counters > 0 && b.fuzzy > 0,
                "{name}: every store gets some"
            );
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
        for (len, want) in [(0, 0), (1, 32), (24, 32), (25, 48), (100, 112)] {
            assert_eq!(heap(len), want, "a block of {len} bytes");
        }
    }
}
