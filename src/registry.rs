//! The model registry: every promoted model as an immutable directory under
//! `DATA_DIR/models/<version>/` (the artifact, its manifest and a registry entry), and the
//! `ACTIVE` file naming the version in service.
//!
//! Everything is written atomically (temporary file, fsync, rename, fsync of the directory),
//! so a crash leaves either the old state or the new one. The shipped model is registered
//! at the first start, so it can be listed and rolled back to like any other. A version
//! whose files fail to load (corrupt, truncated, hash mismatch) is never activated: at
//! start the newest version that does load serves instead, with an error in the log.
//!
//! With a database ([`SharedModels`]), the database is the registry every replica shares:
//! entries, manifests, artifacts and the active pointer live there, and the version
//! directories become a local cache of the artifacts, filled on first load.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::classifier::{
    ArtifactError, Manifest, ModelArtifact, NbModel, MANIFEST_FILE, MODEL_FILE,
};
use crate::evaluation::EvalReport;

/// Directory of the registry inside the data directory.
pub const REGISTRY_DIR: &str = "models";
/// File naming the active version.
pub const ACTIVE_FILE: &str = "ACTIVE";
/// File of a version's registry entry.
pub const ENTRY_FILE: &str = "entry.json";
/// Empty file in a version's directory once the version is known to be in the shared store:
/// only such copies are dropped when the store no longer holds them, never a version that
/// was only ever local (a data directory switched to the database without `migrate-store`).
pub const IN_STORE_FILE: &str = "in-store";

/// What the registry knows of a version besides its manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegistryEntry {
    /// The version id (the manifest's).
    pub version: String,
    /// The version active when this one was trained.
    pub parent: Option<String>,
    /// When it was registered (RFC 3339).
    pub created_at: String,
    /// Corpus comments it was trained on.
    pub corpus_docs: u64,
    /// Moderator labels it was trained on.
    pub label_docs: u64,
    /// It includes every label up to this log position; later ones are learned online.
    pub labels_through: u64,
    /// Id of the label log `labels_through` counts in; a replica with another log learns
    /// all of its own labels onto this model.
    #[serde(default)]
    pub labels_log: Option<String>,
    /// Figures on the retraining holdout, when it came from a retraining job.
    pub holdout: Option<EvalReport>,
    /// Who triggered it: a key id, `shipped`, or `open-mode`.
    pub triggered_by: String,
    /// Whether it was promoted past a failed evaluation gate.
    pub forced: bool,
}

/// A registered version, as listed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ListedVersion {
    /// Registry entry.
    #[serde(flatten)]
    pub entry: RegistryEntry,
    /// Whether it is the version in service.
    pub active: bool,
}

/// Why a registry operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// No such version is registered.
    #[error("no model version {0:?} is registered")]
    UnknownVersion(String),
    /// The version's files do not load.
    #[error("model version {version} does not load: {source}")]
    Corrupt {
        /// The version.
        version: String,
        /// Why.
        source: ArtifactError,
    },
    /// A registry entry is not valid JSON.
    #[error("{path}: {message}")]
    Entry {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// The shared registry (the database) failed.
    #[error("model registry store: {0}")]
    Store(std::io::Error),
}

/// A model version as the shared store keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredModel {
    /// Its registry entry.
    pub entry: RegistryEntry,
    /// The manifest file's bytes.
    pub manifest: Vec<u8>,
    /// The artifact file's bytes.
    pub artifact: Vec<u8>,
}

/// The registry kept in a store every replica shares (PostgreSQL).
pub trait SharedModels: Send + Sync + std::fmt::Debug {
    /// Every registered version's entry.
    fn entries(&self) -> std::io::Result<Vec<RegistryEntry>>;
    /// Whether a version of this name is stored.
    fn contains(&self, version: &str) -> std::io::Result<bool>;
    /// Stores a version unless one of its name is stored; answers whether it was written.
    fn put(&self, model: &StoredModel) -> std::io::Result<bool>;
    /// A version's entry, manifest and artifact; `None` if it is not registered.
    fn fetch(&self, version: &str) -> std::io::Result<Option<StoredModel>>;
    /// The active version, if one was ever activated.
    fn active(&self) -> std::io::Result<Option<String>>;
    /// Makes a registered version active; `false` if it is not registered.
    fn set_active(&self, version: &str) -> std::io::Result<bool>;
    /// Deletes a version unless it is the active one; answers whether it was deleted.
    fn delete(&self, version: &str) -> std::io::Result<bool>;
}

/// The registry in a data directory, or in the shared store with the data directory as
/// its artifact cache.
#[derive(Debug, Clone)]
pub struct Registry {
    root: PathBuf,
    shared: Option<Arc<dyn SharedModels>>,
}

impl Registry {
    /// The registry of `data_dir` (created on first write).
    pub fn in_dir(data_dir: &Path) -> Self {
        Self::at(data_dir.join(REGISTRY_DIR))
    }

    /// A registry at `root` (several replicas may share one).
    pub fn at(root: PathBuf) -> Self {
        Registry { root, shared: None }
    }

    /// The registry in `shared`, caching artifacts under `root`.
    pub fn shared(root: PathBuf, shared: Arc<dyn SharedModels>) -> Self {
        Registry {
            root,
            shared: Some(shared),
        }
    }

    /// Whether the registry is the shared store (so other replicas write it too).
    pub fn is_shared(&self) -> bool {
        self.shared.is_some()
    }

    /// Directory of one version. Version ids come from requests and from other replicas
    /// through Redis, so anything but `[A-Za-z0-9_-]` (a `..`, a `/`, an absolute path)
    /// maps to a name that cannot exist instead of leaving the registry.
    pub fn version_dir(&self, version: &str) -> PathBuf {
        if is_version_id(version) {
            self.root.join(version)
        } else {
            self.root.join(".invalid-version")
        }
    }

    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RegistryError + '_ {
        move |source| RegistryError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// Registers a model already written to `staged` (a directory holding the artifact and
    /// manifest) under its version, with `entry`. Registering a version twice keeps the first.
    pub fn register(&self, staged: &Path, entry: &RegistryEntry) -> Result<(), RegistryError> {
        self.register_locally(staged, entry)?;
        match &self.shared {
            Some(shared) => self.upload(shared.as_ref(), entry),
            None => Ok(()),
        }
    }

    /// Puts a version registered in the local directory into the shared store, unless a
    /// version of its name is there (the first registration wins, as in a directory).
    fn upload(
        &self,
        shared: &dyn SharedModels,
        entry: &RegistryEntry,
    ) -> Result<(), RegistryError> {
        // Every start registers the configured model: a few MB not sent again each time.
        let dir = self.version_dir(&entry.version);
        if !shared
            .contains(&entry.version)
            .map_err(RegistryError::Store)?
        {
            let read = |name: &str| fs::read(dir.join(name)).map_err(Self::io(&dir));
            let model = StoredModel {
                entry: entry.clone(),
                manifest: read(MANIFEST_FILE)?,
                artifact: read(MODEL_FILE)?,
            };
            shared.put(&model).map_err(RegistryError::Store)?;
        }
        Self::mark_in_store(&dir)
    }

    /// Marks the copy in `dir` as one of a version in the shared store ([`IN_STORE_FILE`]).
    fn mark_in_store(dir: &Path) -> Result<(), RegistryError> {
        let marker = dir.join(IN_STORE_FILE);
        fs::write(&marker, b"").map_err(Self::io(&marker))
    }

    /// With the shared store: deletes the local copies of versions it no longer holds
    /// (pruned or deleted through another replica, which cannot reach this directory),
    /// except `serving` and the active version, and except copies never marked as in the
    /// store ([`IN_STORE_FILE`]); answers the versions deleted. Without one: nothing.
    pub fn drop_stale_copies(&self, serving: &str) -> Result<Vec<String>, RegistryError> {
        let Some(shared) = &self.shared else {
            return Ok(Vec::new());
        };
        let held: std::collections::HashSet<String> = shared
            .entries()
            .map_err(RegistryError::Store)?
            .into_iter()
            .map(|e| e.version)
            .collect();
        let active = shared.active().map_err(RegistryError::Store)?;
        let mut dropped = Vec::new();
        for version in self.local_versions()? {
            let dir = self.version_dir(&version);
            if held.contains(&version)
                || version == serving
                || active.as_deref() == Some(version.as_str())
                || !dir.join(IN_STORE_FILE).exists()
            {
                continue;
            }
            match fs::remove_dir_all(&dir) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(Self::io(&dir)(e))
                }
                _ => dropped.push(version),
            }
        }
        Ok(dropped)
    }

    /// [`Registry::register`] in the local directory only.
    fn register_locally(&self, staged: &Path, entry: &RegistryEntry) -> Result<(), RegistryError> {
        let dir = self.version_dir(&entry.version);
        if dir.join(ENTRY_FILE).exists() {
            return Ok(());
        }
        fs::create_dir_all(&self.root).map_err(Self::io(&self.root))?;
        let json = serde_json::to_vec_pretty(entry).map_err(|e| RegistryError::Entry {
            path: dir.join(ENTRY_FILE),
            message: e.to_string(),
        })?;
        write_atomically(&staged.join(ENTRY_FILE), &json)?;
        // A directory without an entry is a leftover of a crash mid-registration: replaced.
        if dir.exists() && !dir.join(ENTRY_FILE).exists() {
            fs::remove_dir_all(&dir).map_err(Self::io(&dir))?;
        }
        if let Err(e) = fs::rename(staged, &dir) {
            // Another replica sharing the registry registered the same version first.
            let _ = fs::remove_dir_all(staged);
            if dir.join(ENTRY_FILE).exists() {
                return Ok(());
            }
            return Err(Self::io(&dir)(e));
        }
        sync_dir(&self.root)
    }

    /// Registers the bytes of a model artifact and manifest (the shipped one at first start).
    pub fn register_bytes(
        &self,
        model: &[u8],
        manifest: &[u8],
        entry: &RegistryEntry,
    ) -> Result<(), RegistryError> {
        self.cache_bytes(model, manifest, entry)?;
        match &self.shared {
            Some(shared) => self.upload(shared.as_ref(), entry),
            None => Ok(()),
        }
    }

    /// Registers the bytes of a version in the local directory only.
    fn cache_bytes(
        &self,
        model: &[u8],
        manifest: &[u8],
        entry: &RegistryEntry,
    ) -> Result<(), RegistryError> {
        if self.version_dir(&entry.version).join(ENTRY_FILE).exists() {
            return Ok(());
        }
        let staged = self.staging_dir()?;
        write_atomically(&staged.join(MODEL_FILE), model)?;
        write_atomically(&staged.join(MANIFEST_FILE), manifest)?;
        self.register_locally(&staged, entry)
    }

    /// A fresh empty directory inside the registry to write a model into before registering.
    pub fn staging_dir(&self) -> Result<PathBuf, RegistryError> {
        let dir = self
            .root
            .join(format!(".staging-{:016x}", rand::random::<u64>()));
        fs::create_dir_all(&dir).map_err(Self::io(&dir))?;
        Ok(dir)
    }

    /// The active version, if one was ever activated.
    pub fn active(&self) -> Result<Option<String>, RegistryError> {
        if let Some(shared) = &self.shared {
            return shared.active().map_err(RegistryError::Store);
        }
        let path = self.root.join(ACTIVE_FILE);
        match fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text.trim().to_owned()).filter(|v| !v.is_empty())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Self::io(&path)(e)),
        }
    }

    /// Makes `version` the active one (it must be registered).
    pub fn set_active(&self, version: &str) -> Result<(), RegistryError> {
        if let Some(shared) = &self.shared {
            let known = is_version_id(version)
                && shared.set_active(version).map_err(RegistryError::Store)?;
            return match known {
                true => Ok(()),
                false => Err(RegistryError::UnknownVersion(version.to_owned())),
            };
        }
        if !is_version_id(version) || !self.version_dir(version).join(ENTRY_FILE).exists() {
            return Err(RegistryError::UnknownVersion(version.to_owned()));
        }
        write_atomically(&self.root.join(ACTIVE_FILE), version.as_bytes())
    }

    /// Loads a version's model, manifest and entry.
    pub fn load(&self, version: &str) -> Result<(NbModel, Manifest, RegistryEntry), RegistryError> {
        self.fetch_into_cache(version)?;
        let dir = self.version_dir(version);
        let entry = self.entry(version)?;
        let (model, manifest) =
            ModelArtifact::read_dir(&dir).map_err(|source| RegistryError::Corrupt {
                version: version.to_owned(),
                source,
            })?;
        if manifest.version != version {
            return Err(RegistryError::Corrupt {
                version: version.to_owned(),
                source: ArtifactError::Manifest(format!(
                    "the manifest says version {}",
                    manifest.version
                )),
            });
        }
        Ok((model, manifest, entry))
    }

    /// With the shared store, copies a version not yet cached here into the local
    /// directory (where it is loaded and checked like any other).
    fn fetch_into_cache(&self, version: &str) -> Result<(), RegistryError> {
        let Some(shared) = &self.shared else {
            return Ok(());
        };
        if !is_version_id(version) {
            return Err(RegistryError::UnknownVersion(version.to_owned()));
        }
        if self.version_dir(version).join(ENTRY_FILE).exists() {
            return Ok(());
        }
        let stored = shared
            .fetch(version)
            .map_err(RegistryError::Store)?
            .ok_or_else(|| RegistryError::UnknownVersion(version.to_owned()))?;
        if stored.entry.version != version {
            return Err(RegistryError::UnknownVersion(version.to_owned()));
        }
        self.cache_bytes(&stored.artifact, &stored.manifest, &stored.entry)?;
        Self::mark_in_store(&self.version_dir(version))
    }

    fn entry(&self, version: &str) -> Result<RegistryEntry, RegistryError> {
        if !is_version_id(version) {
            return Err(RegistryError::UnknownVersion(version.to_owned()));
        }
        let path = self.version_dir(version).join(ENTRY_FILE);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(RegistryError::UnknownVersion(version.to_owned()))
            }
            Err(e) => return Err(Self::io(&path)(e)),
        };
        serde_json::from_slice(&bytes).map_err(|e| RegistryError::Entry {
            path,
            message: e.to_string(),
        })
    }

    /// Every registered version, newest first.
    pub fn list(&self) -> Result<Vec<ListedVersion>, RegistryError> {
        let active = self.active()?;
        let entries = match &self.shared {
            Some(shared) => shared.entries().map_err(RegistryError::Store)?,
            None => self.local_entries()?,
        };
        Ok(newest_first(entries)
            .into_iter()
            .map(|entry| ListedVersion {
                active: active.as_deref() == Some(entry.version.as_str()),
                entry,
            })
            .collect())
    }

    /// The entries of the versions in the local directory.
    fn local_entries(&self) -> Result<Vec<RegistryEntry>, RegistryError> {
        let mut entries = Vec::new();
        for name in self.local_versions()? {
            match self.entry(&name) {
                Ok(entry) => entries.push(entry),
                Err(e) => tracing::error!(error = %e, "unreadable registry entry skipped"),
            }
        }
        Ok(entries)
    }

    /// The names of the version directories in the local directory (those with an entry).
    fn local_versions(&self) -> Result<Vec<String>, RegistryError> {
        let dir = match fs::read_dir(&self.root) {
            Ok(dir) => dir,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Self::io(&self.root)(e)),
        };
        Ok(dir
            .flatten()
            .map(|item| item.file_name().to_string_lossy().into_owned())
            .filter(|name| !name.starts_with('.') && self.root.join(name).join(ENTRY_FILE).exists())
            .collect())
    }

    /// Deletes the oldest versions beyond `keep`, never the active one; returns those removed.
    pub fn prune(&self, keep: usize) -> Result<Vec<String>, RegistryError> {
        let listed = self.list()?;
        let mut removed = Vec::new();
        let mut kept = 0;
        for version in listed {
            if version.active || kept < keep {
                kept += 1;
                continue;
            }
            if let Some(shared) = &self.shared {
                // Another replica may have made it active since it was listed.
                if !shared
                    .delete(&version.entry.version)
                    .map_err(RegistryError::Store)?
                {
                    continue;
                }
            }
            let dir = self.version_dir(&version.entry.version);
            match fs::remove_dir_all(&dir) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound || self.shared.is_none() => {
                    return Err(Self::io(&dir)(e))
                }
                _ => {}
            }
            removed.push(version.entry.version);
        }
        if !removed.is_empty() {
            sync_dir(&self.root)?;
        }
        Ok(removed)
    }

    /// The version to serve at start: the active one if it loads, else the newest that
    /// does (then made active, with an error logged); `None` if nothing is registered.
    pub fn load_active(&self) -> Result<Option<(NbModel, Manifest, RegistryEntry)>, RegistryError> {
        let active = self.active()?;
        if let Some(version) = &active {
            match self.load(version) {
                Ok(loaded) => return Ok(Some(loaded)),
                Err(e) => tracing::error!(
                    version = %version,
                    error = %e,
                    "the active model version does not load; falling back to the newest good one"
                ),
            }
        }
        for listed in self.list()? {
            if Some(&listed.entry.version) == active.as_ref() {
                continue;
            }
            match self.load(&listed.entry.version) {
                Ok(loaded) => {
                    self.set_active(&listed.entry.version)?;
                    tracing::warn!(version = %listed.entry.version, "model version activated at start");
                    return Ok(Some(loaded));
                }
                Err(e) => tracing::error!(error = %e, "model version skipped"),
            }
        }
        Ok(None)
    }
}

/// Entries sorted newest first (ties by version, descending).
fn newest_first(mut entries: Vec<RegistryEntry>) -> Vec<RegistryEntry> {
    entries.sort_by(|a, b| {
        b.created_at
            .cmp(&a.created_at)
            .then(b.version.cmp(&a.version))
    });
    entries
}

/// Whether `version` can be a version id: 1-64 characters of `[A-Za-z0-9_-]`.
pub fn is_version_id(version: &str) -> bool {
    !version.is_empty()
        && version.len() <= 64
        && version
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), RegistryError> {
    // A unique name: replicas sharing the registry may write the same file at once.
    let tmp = path.with_extension(format!("{:016x}.tmp", rand::random::<u64>()));
    let result = (|| {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    result.map_err(Registry::io(path))?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

fn sync_dir(dir: &Path) -> Result<(), RegistryError> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(Registry::io(dir))
}
