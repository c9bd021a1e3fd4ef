//! Where a replica's time on labels goes, stage by stage, since it started: totals kept with
//! a few atomic additions per batch, read by `/metrics` (see `scripts/replicas-bench.sh`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::scoring::UpdateCost;

/// A stage of a label's way through a replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Making a batch durable: the file's append and fsync, or PostgreSQL's transaction.
    Commit,
    /// Reading labels other replicas committed from the shared store.
    Read,
    /// Applying labels this replica committed: pins, spam memory and the live model.
    ApplyOwn,
    /// Applying labels other replicas committed, as [`Stage::ApplyOwn`].
    ApplyFollowed,
    /// Within the two above: bringing the spare scorer up to date before a change.
    PrepareSpare,
    /// Within the two above: copying the whole scorer, when no spare was free.
    PrepareCopy,
}

impl Stage {
    /// Every stage, in the order [`StageClock::totals`] lists them.
    pub const ALL: [Stage; 6] = [
        Stage::Commit,
        Stage::Read,
        Stage::ApplyOwn,
        Stage::ApplyFollowed,
        Stage::PrepareSpare,
        Stage::PrepareCopy,
    ];

    /// The stage's name in `/metrics`.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Commit => "commit",
            Stage::Read => "read",
            Stage::ApplyOwn => "apply_own",
            Stage::ApplyFollowed => "apply_followed",
            Stage::PrepareSpare => "prepare_spare",
            Stage::PrepareCopy => "prepare_copy",
        }
    }
}

/// One stage's totals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StageTotal {
    /// The stage's name (see [`Stage::name`]).
    pub stage: &'static str,
    /// Wall-clock time spent in it, in microseconds.
    pub micros: u64,
    /// Times it ran (a batch of labels each).
    pub batches: u64,
    /// Labels it handled.
    pub labels: u64,
}

#[derive(Debug, Default)]
struct Tally {
    micros: AtomicU64,
    batches: AtomicU64,
    labels: AtomicU64,
}

/// The running totals of every [`Stage`].
#[derive(Debug, Default)]
pub struct StageClock {
    tallies: [Tally; Stage::ALL.len()],
}

impl StageClock {
    /// Adds one batch of `labels` that spent `took` in `stage`.
    pub fn add(&self, stage: Stage, took: Duration, labels: usize) {
        let tally = &self.tallies[stage as usize];
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        tally.micros.fetch_add(micros, Ordering::Relaxed);
        tally.batches.fetch_add(1, Ordering::Relaxed);
        tally.labels.fetch_add(labels as u64, Ordering::Relaxed);
    }

    /// Adds the preparing part of a model update of `labels` labels.
    pub fn add_update(&self, cost: UpdateCost, labels: usize) {
        let stage = if cost.copied {
            Stage::PrepareCopy
        } else {
            Stage::PrepareSpare
        };
        self.add(stage, cost.prepare, labels);
    }

    /// Every stage's totals, in [`Stage::ALL`] order.
    pub fn totals(&self) -> Vec<StageTotal> {
        Stage::ALL
            .iter()
            .zip(&self.tallies)
            .map(|(stage, tally)| StageTotal {
                stage: stage.name(),
                micros: tally.micros.load(Ordering::Relaxed),
                batches: tally.batches.load(Ordering::Relaxed),
                labels: tally.labels.load(Ordering::Relaxed),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_add_up_per_stage_and_a_copy_is_told_from_a_spare() {
        let clock = StageClock::default();
        clock.add(Stage::Commit, Duration::from_micros(300), 4);
        clock.add(Stage::Commit, Duration::from_micros(200), 1);
        let cost = |copied| UpdateCost {
            copied,
            prepare: Duration::from_micros(70),
            change: Duration::ZERO,
        };
        clock.add_update(cost(true), 3);
        clock.add_update(cost(false), 2);
        clock.add_update(cost(false), 2);
        let totals = clock.totals();
        let of = |name: &str| *totals.iter().find(|t| t.stage == name).unwrap();
        let commit = of("commit");
        assert_eq!((commit.micros, commit.batches, commit.labels), (500, 2, 5));
        let copy = of("prepare_copy");
        assert_eq!((copy.micros, copy.batches, copy.labels), (70, 1, 3));
        let spare = of("prepare_spare");
        assert_eq!((spare.micros, spare.batches, spare.labels), (140, 2, 4));
        assert_eq!(
            of("read"),
            StageTotal {
                stage: "read",
                ..Default::default()
            }
        );
        assert_eq!(totals.len(), Stage::ALL.len());
    }
}
