//! The model registry in PostgreSQL, behind [`SharedModels`]: each version's entry (JSON),
//! manifest and artifact (`bytea`, a few MB), and the active pointer as one row.

use std::io;
use std::sync::Arc;

use super::{Database, DbError};
use crate::registry::{RegistryEntry, SharedModels, StoredModel};

/// The registry of one database.
#[derive(Debug, Clone)]
pub struct PgModels {
    database: Arc<Database>,
}

impl PgModels {
    /// The registry of `database` (already migrated by [`Database::open`]).
    pub fn new(database: Arc<Database>) -> PgModels {
        PgModels { database }
    }
}

fn entry_of(json: &str) -> Result<RegistryEntry, DbError> {
    Ok(serde_json::from_str(json)?)
}

impl SharedModels for PgModels {
    fn entries(&self) -> io::Result<Vec<RegistryEntry>> {
        self.database.run(|pool| async move {
            let client = pool.get().await?;
            let rows = client.query("SELECT entry FROM cg_models", &[]).await?;
            rows.iter().map(|row| entry_of(row.get(0))).collect()
        })
    }

    fn contains(&self, version: &str) -> io::Result<bool> {
        let version = version.to_owned();
        self.database.run(move |pool| async move {
            let client = pool.get().await?;
            let row = client
                .query_opt("SELECT 1 FROM cg_models WHERE version = $1", &[&version])
                .await?;
            Ok(row.is_some())
        })
    }

    fn put(&self, model: &StoredModel) -> io::Result<bool> {
        let model = model.clone();
        self.database.run(move |pool| async move {
            let entry = serde_json::to_string(&model.entry)?;
            let client = pool.get().await?;
            let written = client
                .execute(
                    "INSERT INTO cg_models (version, created_at, entry, manifest, artifact)
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (version) DO NOTHING",
                    &[
                        &model.entry.version,
                        &model.entry.created_at,
                        &entry,
                        &model.manifest,
                        &model.artifact,
                    ],
                )
                .await?;
            Ok(written == 1)
        })
    }

    fn fetch(&self, version: &str) -> io::Result<Option<StoredModel>> {
        let version = version.to_owned();
        self.database.run(move |pool| async move {
            let client = pool.get().await?;
            let row = client
                .query_opt(
                    "SELECT entry, manifest, artifact FROM cg_models WHERE version = $1",
                    &[&version],
                )
                .await?;
            row.map(|row| {
                Ok(StoredModel {
                    entry: entry_of(row.get(0))?,
                    manifest: row.get(1),
                    artifact: row.get(2),
                })
            })
            .transpose()
        })
    }

    fn active(&self) -> io::Result<Option<String>> {
        self.database.run(|pool| async move {
            let client = pool.get().await?;
            let row = client
                .query_opt("SELECT version FROM cg_model_active", &[])
                .await?;
            Ok(row.map(|row| row.get(0)))
        })
    }

    fn set_active(&self, version: &str) -> io::Result<bool> {
        let version = version.to_owned();
        self.database.run(move |pool| async move {
            let client = pool.get().await?;
            let written = client
                .execute(
                    "INSERT INTO cg_model_active (one, version)
                     SELECT true, version FROM cg_models WHERE version = $1
                     ON CONFLICT (one) DO UPDATE SET version = excluded.version,
                         activated_at = now()",
                    &[&version],
                )
                .await?;
            Ok(written == 1)
        })
    }

    fn delete(&self, version: &str) -> io::Result<bool> {
        let version = version.to_owned();
        self.database.run(move |pool| async move {
            let client = pool.get().await?;
            // The pointer's foreign key refuses to delete the active version; checked here
            // so that it is an answer, not an error.
            let deleted = client
                .execute(
                    "DELETE FROM cg_models WHERE version = $1
                     AND version NOT IN (SELECT version FROM cg_model_active)",
                    &[&version],
                )
                .await?;
            Ok(deleted == 1)
        })
    }
}

/// What [`copy_file_models`] did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ModelCopyReport {
    /// Versions found in the file registry.
    pub read: u64,
    /// Versions written to PostgreSQL.
    pub copied: u64,
    /// Versions already there (an earlier run).
    pub skipped: u64,
    /// The version made active in PostgreSQL, when it had none.
    pub activated: Option<String>,
}

/// Copies every version of the file registry at `root` into `store`, and its active
/// pointer if the store has none yet; re-runs copy only what is new. Blocks.
pub fn copy_file_models(
    root: &std::path::Path,
    store: &PgModels,
) -> Result<ModelCopyReport, crate::registry::RegistryError> {
    use crate::classifier::{MANIFEST_FILE, MODEL_FILE};
    use crate::registry::{Registry, RegistryError};
    let files = Registry::at(root.to_path_buf());
    let mut report = ModelCopyReport::default();
    for listed in files.list()? {
        report.read += 1;
        let entry = listed.entry;
        let dir = files.version_dir(&entry.version);
        let read = |name: &str| {
            std::fs::read(dir.join(name)).map_err(|source| RegistryError::Io {
                path: dir.join(name),
                source,
            })
        };
        // Only versions that load: a corrupt one would never be served anyway.
        if let Err(e) = files.load(&entry.version) {
            tracing::error!(error = %e, "model version not copied");
            continue;
        }
        let model = StoredModel {
            manifest: read(MANIFEST_FILE)?,
            artifact: read(MODEL_FILE)?,
            entry,
        };
        if store.put(&model).map_err(RegistryError::Store)? {
            report.copied += 1;
        } else {
            report.skipped += 1;
        }
    }
    if store.active().map_err(RegistryError::Store)?.is_none() {
        if let Some(active) = files.active()? {
            if store.set_active(&active).map_err(RegistryError::Store)? {
                report.activated = Some(active);
            }
        }
    }
    Ok(report)
}
