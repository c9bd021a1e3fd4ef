//! The label log in PostgreSQL, behind [`SharedLabelLog`].

use std::collections::HashMap;
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

/// The label in force for a comment while a batch is decided: stored, or new in the batch.
struct Head {
    label: Option<Label>,
    label_id: String,
    at: At,
}

/// Where a label is: stored at a position, or the batch's `n`th new record.
#[derive(Clone, Copy)]
enum At {
    Stored(u64),
    Batch(usize),
}

/// One answer of [`append`] before the new records have their positions.
enum Pending {
    /// A repeat of the label at `at`, whose id is `label_id`.
    Repeat { label_id: String, at: At },
    /// A new record, the next of the batch's new ones.
    New,
}

/// Commits `records` in one transaction, in order, each unless its comment already has its
/// label, or (with `skip_known_id`, for copies) a label with its id is already stored; the
/// relabel is decided here. Four statements whatever the batch's size (under the lock, so
/// every round trip counts for every replica): the lock, one read of the comments' labels
/// in force, one insert of the new records with their heads, and one notification.
async fn append(
    pool: Pool,
    records: Vec<LabelRecord>,
    skip_known_id: bool,
) -> Result<Vec<Appended>, DbError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])
        .await?;
    let fingerprints: Vec<&str> = records.iter().map(|r| r.fingerprint.as_str()).collect();
    let ids: Vec<&str> = records.iter().map(|r| r.label_id.as_str()).collect();
    let known = tx
        .prepare_cached(
            "SELECT fingerprint, label, label_id, seq, true FROM cg_label_heads
             WHERE fingerprint = ANY($1)
             UNION ALL
             SELECT fingerprint, label, label_id, seq, false FROM cg_labels
             WHERE $3 AND label_id = ANY($2)",
        )
        .await?;
    let mut heads: HashMap<String, Head> = HashMap::new();
    let mut stored_ids: HashMap<String, At> = HashMap::new();
    for row in tx
        .query(&known, &[&fingerprints, &ids, &skip_known_id])
        .await?
    {
        let (label_id, at) = (
            row.get::<_, String>(2),
            At::Stored(row.get::<_, i64>(3) as u64),
        );
        if row.get::<_, bool>(4) {
            let label = parse_label(row.get(1));
            heads.insert(
                row.get(0),
                Head {
                    label,
                    label_id,
                    at,
                },
            );
        } else {
            stored_ids.insert(label_id, at);
        }
    }
    // Decided in order, as one insert after the other would.
    let mut new: Vec<LabelRecord> = Vec::new();
    let mut pending = Vec::with_capacity(records.len());
    for mut record in records {
        if let Some(&at) = stored_ids.get(&record.label_id) {
            let label_id = record.label_id;
            pending.push(Pending::Repeat { label_id, at });
            continue;
        }
        let head = heads.get(&record.fingerprint);
        if let Some(head) = head.filter(|h| h.label == Some(record.label)) {
            let (label_id, at) = (head.label_id.clone(), head.at);
            pending.push(Pending::Repeat { label_id, at });
            continue;
        }
        record.previous = head.and_then(|h| h.label);
        let at = At::Batch(new.len());
        heads.insert(
            record.fingerprint.clone(),
            Head {
                label: Some(record.label),
                label_id: record.label_id.clone(),
                at,
            },
        );
        if skip_known_id {
            stored_ids.insert(record.label_id.clone(), at);
        }
        pending.push(Pending::New);
        new.push(record);
    }
    if !new.is_empty() {
        insert(&tx, &mut new).await?;
        let last = new[new.len() - 1].seq.to_string();
        tx.execute("SELECT pg_notify($1, $2)", &[&LABELS_CHANNEL, &last])
            .await?;
    }
    tx.commit().await?;
    // Acknowledged only from here: the labels are committed.
    let seq_at = |at: At| match at {
        At::Stored(seq) => seq,
        At::Batch(n) => new[n].seq,
    };
    let mut answers: Vec<Appended> = pending
        .iter()
        .map(|p| match p {
            Pending::Repeat { label_id, at } => Appended::Duplicate {
                label_id: label_id.clone(),
                seq: seq_at(*at),
            },
            // Filled in below, without a copy of the record.
            Pending::New => Appended::Duplicate {
                label_id: String::new(),
                seq: 0,
            },
        })
        .collect();
    let mut records = new.into_iter();
    for (answer, p) in answers.iter_mut().zip(&pending) {
        if let Pending::New = p {
            if let Some(record) = records.next() {
                *answer = Appended::New(Box::new(record));
            }
        }
    }
    Ok(answers)
}

/// Inserts `new` (in order: their positions follow it) with their heads, one statement,
/// and gives each record its position.
async fn insert(
    tx: &deadpool_postgres::Transaction<'_>,
    new: &mut [LabelRecord],
) -> Result<(), DbError> {
    let mut columns: [Vec<String>; 4] = Default::default();
    let mut previous: Vec<Option<&str>> = Vec::with_capacity(new.len());
    for record in new.iter() {
        let site = record
            .comment
            .site
            .as_deref()
            .and_then(normalize_site)
            .unwrap_or_default();
        columns[0].push(record.label_id.clone());
        columns[1].push(record.fingerprint.clone());
        columns[2].push(site);
        columns[3].push(serde_json::to_string(record)?);
        previous.push(record.previous.map(label_text));
    }
    let labels: Vec<&str> = new.iter().map(|r| label_text(r.label)).collect();
    // Positions are drawn as the sorted rows reach the insert: in batch order. Of several
    // labels for one comment in the batch, the last is the head.
    let statement = tx
        .prepare_cached(
            "WITH written AS (
                 INSERT INTO cg_labels (label_id, fingerprint, site, label, previous, record)
                 SELECT label_id, fingerprint, site, label, previous, record
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                             $6::text[])
                      WITH ORDINALITY AS batch (label_id, fingerprint, site, label, previous,
                                                record, n)
                 ORDER BY n
                 RETURNING seq, label_id, fingerprint, site, label),
             heads AS (
                 INSERT INTO cg_label_heads (fingerprint, site, seq, label, label_id)
                 SELECT DISTINCT ON (fingerprint) fingerprint, site, seq, label, label_id
                 FROM written ORDER BY fingerprint, seq DESC
                 ON CONFLICT (fingerprint) DO UPDATE SET site = excluded.site,
                     seq = excluded.seq, label = excluded.label, label_id = excluded.label_id)
             SELECT label_id, seq FROM written",
        )
        .await?;
    let rows = tx
        .query(
            &statement,
            &[
                &columns[0],
                &columns[1],
                &columns[2],
                &labels,
                &previous,
                &columns[3],
            ],
        )
        .await?;
    let seqs: HashMap<&str, i64> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let mut before = 0;
    for record in new.iter_mut() {
        let seq = seqs
            .get(record.label_id.as_str())
            .copied()
            .unwrap_or_default() as u64;
        // Replicas apply labels in position order: the batch's order must be that order.
        if seq <= before {
            return Err(DbError::Order);
        }
        (record.seq, before) = (seq, seq);
    }
    Ok(())
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
