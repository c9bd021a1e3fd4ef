//! The review history in PostgreSQL, behind [`ReviewStore`]: every replica's held and spam
//! verdicts in one queue. Recording never waits: entries go through a bounded queue to one
//! writer task, which also deletes what the retention and [`MAX_ITEMS`] drop, once a minute.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::Pool;
use time::OffsetDateTime;
use tokio::sync::mpsc;

use super::{Database, DbError};
use crate::review::{HistoryError, ItemsFuture, ReviewItem, ReviewStore, MAX_ITEMS};

/// Entries waiting for the writer; past this, new ones are counted as errors and dropped.
const QUEUE: usize = 10_000;
/// Most entries written in one statement.
const BATCH: usize = 512;
/// How long the writer gathers entries after the first one: the delay before a held
/// verdict shows in the queue.
const GATHER: Duration = Duration::from_millis(100);
/// How often expired and surplus entries are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// The review history of one database.
pub struct PgReview {
    database: Arc<Database>,
    queue: mpsc::Sender<(String, OffsetDateTime, String)>,
    errors: Arc<AtomicU64>,
    retention: Duration,
}

impl PgReview {
    /// The history in `database` (migrated), keeping entries for `retention`.
    pub fn new(database: Arc<Database>, retention: Duration) -> PgReview {
        let (queue, entries) = mpsc::channel(QUEUE);
        let errors = Arc::new(AtomicU64::new(0));
        database.handle.spawn(write(
            database.pool.clone(),
            entries,
            errors.clone(),
            retention,
        ));
        PgReview {
            database,
            queue,
            errors,
            retention,
        }
    }
}

/// The writer: inserts entries as they come, prunes once a minute.
async fn write(
    pool: Pool,
    mut entries: mpsc::Receiver<(String, OffsetDateTime, String)>,
    errors: Arc<AtomicU64>,
    retention: Duration,
) {
    let mut prune = tokio::time::interval(PRUNE_EVERY);
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        tokio::select! {
            // Whatever has queued up goes in one statement: one commit (one WAL flush) per
            // batch, not per verdict, so a busy replica costs the database little.
            received = entries.recv_many(&mut batch, BATCH) => {
                if received == 0 {
                    return;
                }
                // Then what comes within GATHER, so that a steady stream of held verdicts
                // makes a few large statements rather than many of one or two rows.
                let until = tokio::time::Instant::now() + GATHER;
                while batch.len() < BATCH {
                    let room = BATCH - batch.len();
                    match tokio::time::timeout_at(until, entries.recv_many(&mut batch, room)).await {
                        Ok(n) if n > 0 => {}
                        _ => break,
                    }
                }
                let written = insert(&pool, &batch).await;
                if written.is_err() {
                    errors.fetch_add(batch.len() as u64, Ordering::Relaxed);
                }
                batch.clear();
            }
            _ = prune.tick() => {
                if let Err(e) = delete_old(&pool, retention).await {
                    tracing::warn!(error = %e, "cannot prune the review history in PostgreSQL");
                }
            }
        }
    }
}

/// Inserts `entries` in one statement; a verdict already there is left as it is.
async fn insert(pool: &Pool, entries: &[(String, OffsetDateTime, String)]) -> Result<(), DbError> {
    let ids: Vec<&str> = entries.iter().map(|(id, _, _)| id.as_str()).collect();
    let stamps: Vec<f64> = entries
        .iter()
        .map(|(_, at, _)| at.unix_timestamp_nanos() as f64 / 1e9)
        .collect();
    let items: Vec<&str> = entries.iter().map(|(_, _, item)| item.as_str()).collect();
    pool.get()
        .await?
        .execute(
            "INSERT INTO cg_review (verdict_id, scored_at, item)
             SELECT id, to_timestamp(at), item
             FROM UNNEST($1::text[], $2::float8[], $3::text[]) AS e(id, at, item)
             ON CONFLICT (verdict_id) DO NOTHING",
            &[&ids, &stamps, &items],
        )
        .await?;
    Ok(())
}

async fn delete_old(pool: &Pool, retention: Duration) -> Result<(), DbError> {
    let client = pool.get().await?;
    let seconds = retention.as_secs_f64();
    let keep = MAX_ITEMS as i64;
    client
        .execute(
            "DELETE FROM cg_review WHERE scored_at < now() - make_interval(secs => $1)",
            &[&seconds],
        )
        .await?;
    client
        .execute(
            "DELETE FROM cg_review WHERE verdict_id IN
                 (SELECT verdict_id FROM cg_review ORDER BY scored_at DESC OFFSET $1)",
            &[&keep],
        )
        .await?;
    Ok(())
}

impl ReviewStore for PgReview {
    fn record(&self, item: ReviewItem, now: OffsetDateTime) -> Result<(), HistoryError> {
        if item.expired(now, self.retention) {
            return Ok(());
        }
        let json = serde_json::to_string(&item)?;
        self.queue
            .try_send((item.verdict_id, item.scored_at, json))
            .map_err(|_| {
                self.errors.fetch_add(1, Ordering::Relaxed);
                HistoryError::Io(std::io::Error::other(
                    "the PostgreSQL review writer is behind",
                ))
            })
    }

    fn items(&self, now: OffsetDateTime) -> ItemsFuture<'_> {
        let pool = self.database.pool.clone();
        let since = (now.unix_timestamp_nanos() as f64 / 1e9) - self.retention.as_secs_f64();
        let read = self.database.handle.spawn(async move {
            let client = pool.get().await?;
            let rows = client
                .query(
                    "SELECT item FROM cg_review WHERE scored_at > to_timestamp($1)
                     ORDER BY scored_at DESC LIMIT $2",
                    &[&since, &(MAX_ITEMS as i64)],
                )
                .await?;
            let items: Result<Vec<ReviewItem>, DbError> = rows
                .iter()
                .map(|row| Ok(serde_json::from_str(row.get::<_, &str>(0))?))
                .collect();
            items
        });
        Box::pin(async move {
            let outcome = tokio::time::timeout(super::CALL_TIMEOUT, read).await;
            match outcome {
                Ok(Ok(Ok(items))) => Ok(items),
                Ok(Ok(Err(e))) => Err(HistoryError::Io(std::io::Error::other(format!(
                    "PostgreSQL: {e}"
                )))),
                _ => Err(HistoryError::Io(std::io::Error::other(
                    "PostgreSQL did not answer in time",
                ))),
            }
        })
    }

    fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    fn retention(&self) -> Duration {
        self.retention
    }

    fn kind(&self) -> &'static str {
        "postgres"
    }
}
