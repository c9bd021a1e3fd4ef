//! Retraining and import jobs in PostgreSQL, behind [`SharedJobs`]: each job's record as
//! JSON, written by the replica that runs it, readable by every replica; and the claim that
//! lets one replica at a time retrain.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use tokio_postgres::NoTls;

use super::Database;
use crate::retrain::{ClaimHolder, RetrainClaim, SharedJobs};

/// First key of the session advisory lock a replica holds while it retrains; the second is
/// a hash of the schema, since advisory locks are per database and deployments that share
/// one database in schemas of their own must not wait on each other.
const RETRAIN_LOCK: i32 = 0x636f_6d03;

/// The jobs of one database.
#[derive(Debug, Clone)]
pub struct PgJobs {
    database: Arc<Database>,
}

impl PgJobs {
    /// The jobs of `database` (already migrated by [`Database::open`]).
    pub fn new(database: Arc<Database>) -> PgJobs {
        PgJobs { database }
    }
}

impl SharedJobs for PgJobs {
    fn put(&self, job_id: &str, record: &serde_json::Value) -> io::Result<()> {
        let job_id = job_id.to_owned();
        let record = record.to_string();
        self.database.run(move |pool| async move {
            let client = pool.get().await?;
            client
                .execute(
                    "INSERT INTO cg_jobs (job_id, record) VALUES ($1, $2)
                     ON CONFLICT (job_id) DO UPDATE SET record = excluded.record,
                         updated_at = now()",
                    &[&job_id, &record],
                )
                .await?;
            Ok(())
        })
    }

    fn get(&self, job_id: &str) -> io::Result<Option<(serde_json::Value, Duration)>> {
        let job_id = job_id.to_owned();
        self.database.run(move |pool| async move {
            let client = pool.get().await?;
            // The age by the database's clock, the one that stamped `updated_at`.
            let row = client
                .query_opt(
                    "SELECT record, EXTRACT(EPOCH FROM now() - updated_at)::float8
                     FROM cg_jobs WHERE job_id = $1",
                    &[&job_id],
                )
                .await?;
            Ok(match row {
                Some(row) => Some((
                    serde_json::from_str(row.get::<_, &str>(0))?,
                    Duration::from_secs_f64(row.get::<_, f64>(1).max(0.0)),
                )),
                None => None,
            })
        })
    }

    /// The lock is held by a connection of its own, outside the pool: the death of the
    /// replica closes it (the server then frees the lock), so a killed replica never blocks
    /// retraining.
    fn claim_retrain(&self) -> io::Result<Option<RetrainClaim>> {
        let config = self.database.config.clone();
        let client = self.database.run(move |_| async move {
            let (client, connection) = config.connect(NoTls).await?;
            tokio::spawn(connection);
            let row = client
                .query_one(
                    "SELECT pg_try_advisory_lock($1, hashtext(current_schema()))",
                    &[&RETRAIN_LOCK],
                )
                .await?;
            Ok(row.get::<_, bool>(0).then_some(Arc::new(client)))
        })?;
        Ok(client.map(|client| {
            RetrainClaim::new(HeldLock {
                client: Some(client),
                database: self.database.clone(),
            })
        }))
    }

    fn touch(&self, job_ids: &[String]) -> io::Result<()> {
        let job_ids = job_ids.to_vec();
        self.database.run(move |pool| async move {
            let client = pool.get().await?;
            client
                .execute(
                    "UPDATE cg_jobs SET updated_at = now() WHERE job_id = ANY($1)",
                    &[&job_ids],
                )
                .await?;
            Ok(())
        })
    }
}

/// The retraining lock and the connection holding it.
struct HeldLock {
    client: Option<Arc<tokio_postgres::Client>>,
    database: Arc<Database>,
}

impl ClaimHolder for HeldLock {
    /// Asks the server on the holding connection itself: a restart closes that connection
    /// and frees the lock, and the question then fails.
    fn is_held(&self) -> bool {
        let Some(client) = self.client.clone() else {
            return false;
        };
        if client.is_closed() {
            return false;
        }
        self.database
            .run(move |_| async move {
                let row = client
                    .query_one(
                        "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'
                             AND pid = pg_backend_pid() AND granted AND objsubid = 2
                             AND classid::int4 = $1
                             AND objid::int4 = hashtext(current_schema()))",
                        &[&RETRAIN_LOCK],
                    )
                    .await?;
                Ok(row.get::<_, bool>(0))
            })
            .unwrap_or(false)
    }
}

impl Drop for HeldLock {
    /// Unlocks before closing: a closed connection frees the lock only once its server
    /// process has gone, and a retrain asked for the moment a job ends must find it free.
    /// (Dropped off the async runtime: when a job finishes.)
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            let _ = self.database.run(move |_| async move {
                client
                    .execute(
                        "SELECT pg_advisory_unlock($1, hashtext(current_schema()))",
                        &[&RETRAIN_LOCK],
                    )
                    .await?;
                Ok(())
            });
        }
    }
}
