//! Embedded schema migrations, applied at start under an advisory lock so that replicas
//! starting together apply each once; a schema newer than this build is refused.

use tokio_postgres::Client;

/// The migrations this build knows, in order: (version, SQL).
pub const MIGRATIONS: &[(i32, &str)] = &[
    (1, include_str!("migrations/0001_labels.sql")),
    (2, include_str!("migrations/0002_review.sql")),
    (3, include_str!("migrations/0003_keys_models_jobs.sql")),
    (4, include_str!("migrations/0004_drop_redundant_index.sql")),
];

/// Key of the session advisory lock held while migrating.
const MIGRATION_LOCK: i64 = 0x636f_6d6d_656e_7401;

/// Why the schema could not be brought up to date.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// The database answered with an error.
    #[error("{0}")]
    Database(#[from] tokio_postgres::Error),
    /// Another (newer) build migrated this database further than this one knows.
    #[error(
        "the database schema is at version {found}, newer than this build knows ({known}): \
         run a commentguard at least as new as the replicas that migrated it"
    )]
    TooNew {
        /// Version found in the database.
        found: i32,
        /// Latest version this build knows.
        known: i32,
    },
}

/// The latest schema version this build knows.
pub fn known_version() -> i32 {
    MIGRATIONS.last().map_or(0, |m| m.0)
}

/// Applies the migrations the database lacks; answers the version it is at.
pub async fn migrate(client: &mut Client) -> Result<i32, MigrateError> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    let result = apply_missing(client).await;
    // Closing the session would release it too; unlock so a pooled session is clean.
    client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await?;
    result
}

async fn apply_missing(client: &mut Client) -> Result<i32, MigrateError> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS cg_schema_version (
                 version integer PRIMARY KEY,
                 applied_at timestamptz NOT NULL DEFAULT now())",
        )
        .await?;
    let found: i32 = client
        .query_one(
            "SELECT coalesce(max(version), 0) FROM cg_schema_version",
            &[],
        )
        .await?
        .get(0);
    let known = known_version();
    if found > known {
        return Err(MigrateError::TooNew { found, known });
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > found) {
        let tx = client.transaction().await?;
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO cg_schema_version (version) VALUES ($1)",
            &[version],
        )
        .await?;
        tx.commit().await?;
        tracing::info!(version, "database schema migrated");
    }
    Ok(found.max(known))
}
