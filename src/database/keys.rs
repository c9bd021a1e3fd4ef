//! API keys in PostgreSQL, behind [`SharedKeys`]: hashes only, and a generation counter
//! that every change bumps in its own transaction, so that replicas poll one row and
//! re-read the keys only when it moved.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::Pool;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::{Database, DbError};
use crate::keys::{KeyRecord, Role, SharedKeys};

/// How often each replica looks for key changes: a new or revoked key takes effect
/// everywhere within this (plus one read).
const KEYS_POLL: Duration = Duration::from_millis(250);

/// Bumps the generation; run in the transaction of the change it announces.
const BUMP: &str =
    "UPDATE cg_meta SET value = (value::bigint + 1)::text WHERE key = 'keys_generation'";

/// The columns [`record_of`] reads, timestamps as RFC 3339 text.
const COLUMNS: &str = "id, sha256, role, site, to_json(created_at) #>> '{}', \
                       to_json(revoked_at) #>> '{}'";

/// The keys of one database.
#[derive(Debug, Clone)]
pub struct PgKeys {
    database: Arc<Database>,
}

impl PgKeys {
    /// The keys of `database` (already migrated by [`Database::open`]).
    pub fn new(database: Arc<Database>) -> PgKeys {
        PgKeys { database }
    }
}

fn role_of(text: &str) -> Option<Role> {
    match text {
        "site" => Some(Role::Site),
        "moderator" => Some(Role::Moderator),
        "admin" => Some(Role::Admin),
        _ => None,
    }
}

fn stored_error(message: String) -> DbError {
    DbError::Record(<serde_json::Error as serde::de::Error>::custom(message))
}

fn time_of(text: Option<&str>) -> Result<Option<OffsetDateTime>, DbError> {
    text.map(|t| {
        OffsetDateTime::parse(t, &Rfc3339).map_err(|e| stored_error(format!("key time {t}: {e}")))
    })
    .transpose()
}

fn record_of(row: &tokio_postgres::Row) -> Result<KeyRecord, DbError> {
    let role: &str = row.get(2);
    Ok(KeyRecord {
        id: row.get(0),
        sha256: row.get(1),
        role: role_of(role).ok_or_else(|| stored_error(format!("key role {role:?}")))?,
        site: row.get(3),
        created_at: time_of(row.get(4))?
            .ok_or_else(|| stored_error("key without a creation time".into()))?,
        revoked_at: time_of(row.get(5))?,
    })
}

fn rfc3339(at: OffsetDateTime) -> Result<String, DbError> {
    at.format(&Rfc3339)
        .map_err(|e| stored_error(format!("key time: {e}")))
}

async fn read_all(pool: &Pool) -> Result<Vec<KeyRecord>, DbError> {
    let client = pool.get().await?;
    client
        .query(
            &format!("SELECT {COLUMNS} FROM cg_keys ORDER BY created_at, id"),
            &[],
        )
        .await?
        .iter()
        .map(record_of)
        .collect()
}

async fn generation(pool: &Pool) -> Result<String, DbError> {
    let client = pool.get().await?;
    let row = client
        .query_one(
            "SELECT value FROM cg_meta WHERE key = 'keys_generation'",
            &[],
        )
        .await?;
    Ok(row.get(0))
}

impl SharedKeys for PgKeys {
    fn read(&self) -> io::Result<Vec<KeyRecord>> {
        self.database
            .run(|pool| async move { read_all(&pool).await })
    }

    fn insert(&self, record: &KeyRecord) -> io::Result<bool> {
        let record = record.clone();
        self.database.run(move |pool| async move {
            let created_at = rfc3339(record.created_at)?;
            let revoked_at = record.revoked_at.map(rfc3339).transpose()?;
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            let inserted = tx
                .execute(
                    "INSERT INTO cg_keys (id, sha256, role, site, created_at, revoked_at)
                     VALUES ($1, $2, $3, $4, ($5::text)::timestamptz, ($6::text)::timestamptz)
                     ON CONFLICT DO NOTHING",
                    &[
                        &record.id,
                        &record.sha256,
                        &record.role.as_str(),
                        &record.site,
                        &created_at,
                        &revoked_at,
                    ],
                )
                .await?;
            if inserted == 1 {
                tx.execute(BUMP, &[]).await?;
            }
            tx.commit().await?;
            Ok(inserted == 1)
        })
    }

    fn revoke(&self, id: &str) -> io::Result<Option<KeyRecord>> {
        let id = id.to_owned();
        self.database.run(move |pool| async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            let row = tx
                .query_opt(
                    &format!(
                        "UPDATE cg_keys SET revoked_at = coalesce(revoked_at, now())
                         WHERE id = $1 RETURNING {COLUMNS}"
                    ),
                    &[&id],
                )
                .await?;
            let Some(row) = row else {
                return Ok(None);
            };
            tx.execute(BUMP, &[]).await?;
            tx.commit().await?;
            record_of(&row).map(Some)
        })
    }

    fn watch(&self, on_change: Box<dyn Fn(Vec<KeyRecord>) -> bool + Send + Sync>) {
        let pool = self.database.pool.clone();
        self.database.handle.spawn(async move {
            let mut seen: Option<String> = None;
            let mut failing = false;
            loop {
                tokio::time::sleep(KEYS_POLL).await;
                // The generation first, then the keys: a change between the two is read
                // now and read again at the next poll, never missed.
                let changed = match generation(&pool).await {
                    Ok(now) if seen.as_ref() == Some(&now) => Ok(None),
                    Ok(now) => read_all(&pool).await.map(|keys| Some((now, keys))),
                    Err(e) => Err(e),
                };
                match changed {
                    Ok(found) => {
                        if failing {
                            tracing::info!("reading API keys from PostgreSQL again");
                            failing = false;
                        }
                        if let Some((now, keys)) = found {
                            if !on_change(keys) {
                                return;
                            }
                            seen = Some(now);
                        }
                    }
                    Err(e) if !failing => {
                        tracing::warn!(error = %e, "cannot read API keys from PostgreSQL; the last ones loaded stay in force");
                        failing = true;
                    }
                    Err(_) => {}
                }
            }
        });
    }
}

/// What [`copy_file_keys`] did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct KeyCopyReport {
    /// Keys read from the key file.
    pub read: u64,
    /// Keys written to PostgreSQL.
    pub copied: u64,
    /// Keys already there (an earlier run).
    pub skipped: u64,
    /// Keys already there, revoked in the file since: revoked in PostgreSQL too.
    pub revoked: u64,
}

/// Copies every key of the key file in `data_dir` into `store`, keeping ids, hashes and
/// times; re-runs copy only what is new (and carry over later revocations). Blocks.
pub fn copy_file_keys(
    data_dir: &std::path::Path,
    store: &PgKeys,
) -> Result<KeyCopyReport, crate::keys::KeyError> {
    let records = crate::keys::KeyFile::in_dir(data_dir).read()?;
    let store_error = crate::keys::KeyError::Store;
    let stored = store.read().map_err(store_error)?;
    let mut report = KeyCopyReport::default();
    for record in records {
        report.read += 1;
        if store.insert(&record).map_err(store_error)? {
            report.copied += 1;
            continue;
        }
        report.skipped += 1;
        let open_there = stored
            .iter()
            .any(|s| s.id == record.id && s.revoked_at.is_none());
        if record.revoked_at.is_some() && open_there {
            store.revoke(&record.id).map_err(store_error)?;
            report.revoked += 1;
        }
    }
    Ok(report)
}
