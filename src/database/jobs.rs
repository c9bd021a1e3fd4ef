//! Retraining and import jobs in PostgreSQL, behind [`SharedJobs`]: each job's record as
//! JSON, written by the replica that runs it, readable by every replica.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use super::Database;
use crate::retrain::SharedJobs;

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
