//! The label log in PostgreSQL, behind [`SharedLabelLog`].

use std::io;
use std::sync::Arc;

use deadpool_postgres::Pool;

use super::{Database, DbError, LABELS_CHANNEL};
use crate::domain::Label;
use crate::keys::normalize_site;
use crate::labels::{
    Appended, Correction, Fingerprint, LabelBook, LabelLog, LabelRecord, SharedLabelLog,
};

/// Key of the transaction-scoped advisory lock every label writer takes before drawing a
/// position, so that positions commit in order (see the module docs of `database`).
const WRITE_LOCK: i64 = 0x636f_6d6d_656e_7402;

/// The label log of one database.
#[derive(Debug)]
pub struct PgLabels {
    database: Arc<Database>,
    id: String,
}

impl PgLabels {
    /// The label log of `database` (already migrated by [`Database::open`]).
    pub fn new(database: Arc<Database>) -> io::Result<PgLabels> {
        let id = database.run(|pool| async move {
            let client = pool.get().await?;
            let row = client
                .query_one("SELECT value FROM cg_meta WHERE key = 'labels_log'", &[])
                .await?;
            Ok(row.get::<_, String>(0))
        })?;
        Ok(PgLabels { database, id })
    }

    /// Copies `record` (from the file store) unless a label with its id is already here, so
    /// a copy can be re-run; its position is given anew. Answers whether it was written.
    pub fn copy_in(&self, record: LabelRecord) -> io::Result<bool> {
        let appended = self
            .database
            .run(move |pool| append(pool, vec![record], true))?;
        Ok(matches!(appended.first(), Some(Appended::New(_))))
    }

    /// Starts applying labels that other replicas commit to `book` (whose store this is);
    /// stops once the book is gone.
    pub fn follow(&self, book: &Arc<LabelBook>) {
        let book = Arc::downgrade(book);
        self.database.follow_labels(Arc::new(move || {
            let Some(book) = book.upgrade() else {
                return false;
            };
            match book.catch_up() {
                Ok(0) => {}
                Ok(n) => tracing::debug!(labels = n, "applied labels from other replicas"),
                Err(e) => tracing::warn!(error = %e, "cannot read new labels from PostgreSQL"),
            }
            true
        }));
    }
}

/// What [`copy_file_labels`] did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct CopyReport {
    /// Labels read from the file store.
    pub read: u64,
    /// Labels written to PostgreSQL.
    pub copied: u64,
    /// Labels already there (an earlier run) or repeating the label in force.
    pub skipped: u64,
}

/// Copies every label of the file store in `data_dir` into `store`, in log order; re-runs
/// copy only what is new. Blocks.
pub fn copy_file_labels(data_dir: &std::path::Path, store: &PgLabels) -> io::Result<CopyReport> {
    let (log, _) = LabelLog::open(data_dir, |_| {})?;
    let mut report = CopyReport::default();
    let mut seq = 1;
    loop {
        let page = log.read_from(seq, 1024, |_| true)?;
        let Some(last) = page.last() else { break };
        seq = last.seq + 1;
        for record in page {
            report.read += 1;
            if store.copy_in(record)? {
                report.copied += 1;
            } else {
                report.skipped += 1;
            }
        }
    }
    Ok(report)
}

fn label_text(label: Label) -> &'static str {
    match label {
        Label::Spam => "spam",
        Label::Ham => "ham",
    }
}

fn parse_label(text: &str) -> Option<Label> {
    match text {
        "spam" => Some(Label::Spam),
        "ham" => Some(Label::Ham),
        _ => None,
    }
}

/// A row of (`seq`, `record`) as the record it stores.
fn record_of(row: &tokio_postgres::Row) -> Result<LabelRecord, DbError> {
    let mut record: LabelRecord = serde_json::from_str(row.get::<_, &str>(1))?;
    record.seq = row.get::<_, i64>(0) as u64;
    Ok(record)
}

/// Commits `records` in one transaction, in order, each unless its comment already has its
/// label, or (with `skip_known_id`, for copies) a label with its id is already stored; the
/// relabel is decided here. One notification for the lot.
async fn append(
    pool: Pool,
    records: Vec<LabelRecord>,
    skip_known_id: bool,
) -> Result<Vec<Appended>, DbError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])
        .await?;
    let mut answers = Vec::with_capacity(records.len());
    for record in records {
        answers.push(append_one(&tx, record, skip_known_id).await?);
    }
    if let Some(last) = answers.iter().rev().find_map(|a| match a {
        Appended::New(record) => Some(record.seq),
        Appended::Duplicate { .. } => None,
    }) {
        tx.execute(
            "SELECT pg_notify($1, $2)",
            &[&LABELS_CHANNEL, &last.to_string()],
        )
        .await?;
    }
    tx.commit().await?;
    // Acknowledged only from here: the labels are committed.
    Ok(answers)
}

/// One record of [`append`], inside its transaction.
async fn append_one(
    tx: &deadpool_postgres::Transaction<'_>,
    mut record: LabelRecord,
    skip_known_id: bool,
) -> Result<Appended, DbError> {
    let site = record
        .comment
        .site
        .as_deref()
        .and_then(normalize_site)
        .unwrap_or_default();
    if skip_known_id {
        let known = tx
            .query_opt(
                "SELECT seq FROM cg_labels WHERE label_id = $1",
                &[&record.label_id],
            )
            .await?;
        if let Some(row) = known {
            return Ok(Appended::Duplicate {
                label_id: record.label_id,
                seq: row.get::<_, i64>(0) as u64,
            });
        }
    }
    let head = tx
        .query_opt(
            "SELECT label, label_id, seq FROM cg_label_heads WHERE fingerprint = $1",
            &[&record.fingerprint],
        )
        .await?;
    let previous = head.as_ref().and_then(|row| parse_label(row.get(0)));
    if let Some(row) = head.filter(|_| previous == Some(record.label)) {
        return Ok(Appended::Duplicate {
            label_id: row.get(1),
            seq: row.get::<_, i64>(2) as u64,
        });
    }
    record.previous = previous;
    let json = serde_json::to_string(&record)?;
    let insert = tx
        .prepare_cached(
            "WITH written AS (
                 INSERT INTO cg_labels (label_id, fingerprint, site, label, previous, record)
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING seq)
             INSERT INTO cg_label_heads (fingerprint, site, seq, label, label_id)
             SELECT $2, $3, seq, $4, $1 FROM written
             ON CONFLICT (fingerprint) DO UPDATE SET site = excluded.site,
                 seq = excluded.seq, label = excluded.label, label_id = excluded.label_id
             RETURNING seq",
        )
        .await?;
    let row = tx
        .query_one(
            &insert,
            &[
                &record.label_id,
                &record.fingerprint,
                &site,
                &label_text(record.label),
                &previous.map(label_text),
                &json,
            ],
        )
        .await?;
    record.seq = row.get::<_, i64>(0) as u64;
    Ok(Appended::New(Box::new(record)))
}

async fn read(
    pool: Pool,
    sql: &'static str,
    seq: u64,
    limit: usize,
) -> Result<Vec<LabelRecord>, DbError> {
    let client = pool.get().await?;
    let statement = client.prepare_cached(sql).await?;
    let from = i64::try_from(seq).unwrap_or(i64::MAX);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    client
        .query(&statement, &[&from, &limit])
        .await?
        .iter()
        .map(record_of)
        .collect()
}

impl SharedLabelLog for PgLabels {
    fn id(&self) -> &str {
        &self.id
    }

    fn append(&self, corrections: Vec<(Fingerprint, Correction)>) -> io::Result<Vec<Appended>> {
        let records = corrections
            .into_iter()
            .map(|(fingerprint, c)| LabelRecord::of_correction(0, fingerprint.to_hex(), None, c))
            .collect();
        self.database.run(move |pool| append(pool, records, false))
    }

    fn read_from(&self, seq: u64, limit: usize) -> io::Result<Vec<LabelRecord>> {
        self.database.run(move |pool| {
            read(
                pool,
                "SELECT seq, record FROM cg_labels WHERE seq >= $1 ORDER BY seq LIMIT $2",
                seq,
                limit,
            )
        })
    }

    fn read_current_from(&self, seq: u64, limit: usize) -> io::Result<Vec<LabelRecord>> {
        self.database.run(move |pool| {
            read(
                pool,
                "SELECT l.seq, l.record FROM cg_label_heads h JOIN cg_labels l ON l.seq = h.seq
                 WHERE h.seq >= $1 ORDER BY h.seq LIMIT $2",
                seq,
                limit,
            )
        })
    }

    fn healthy(&self) -> bool {
        self.database.healthy()
    }
}
