//! API keys and roles: the key file in the data directory, and checking a presented key.
//!
//! A key is 12 characters of `[a-z0-9]` (the WordPress Akismet plugin refuses any other
//! length before it calls out). Only its SHA-256 is stored: a copy of the data directory
//! does not hand out working keys. Keys are random (about 62 bits), so an unsalted hash is
//! not open to dictionary attacks.
//!
//! The file is JSON (one array of [`KeyRecord`]s), rewritten atomically on every change by
//! the `keys` commands. The running service re-reads it when it changes, checked at most
//! once per [`RELOAD_INTERVAL`], so a key created or revoked while it runs takes effect
//! within that interval without a restart.
//!
//! With a database, keys live there instead ([`SharedKeys`]): every replica keeps the table
//! it last loaded in memory and a background task refreshes it, so checking a key never
//! waits on the database and keys keep working while it is down.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

/// Name of the key file inside the data directory.
pub const KEYS_FILE: &str = "keys.json";
/// Length of every key.
pub const KEY_LEN: usize = 12;
/// How often the running service checks the key file for changes.
pub const RELOAD_INTERVAL: Duration = Duration::from_secs(1);

/// What a key may do; each role includes the ones below it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Score comments (and make Akismet calls) for its own site.
    Site,
    /// Site rights plus corrections and reading labels.
    Moderator,
    /// Everything, including retraining, models and keys.
    Admin,
}

impl Role {
    /// The role's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Site => "site",
            Role::Moderator => "moderator",
            Role::Admin => "admin",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One key as stored: never the key itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// Public identifier, safe to log and to pass to `keys revoke`.
    pub id: String,
    /// Lowercase hex SHA-256 of the key.
    pub sha256: String,
    /// What the key may do.
    pub role: Role,
    /// The site a site key is limited to (its blog URL), if any.
    pub site: Option<String>,
    /// When the key was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When the key was revoked; a revoked key is refused.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub revoked_at: Option<OffsetDateTime>,
}

/// Who made a request: the key's id, role and site.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    /// The key's public id; `None` in open local mode (no keys exist).
    pub key_id: Option<String>,
    /// What the caller may do.
    pub role: Role,
    /// The site a site key is limited to.
    pub site: Option<String>,
}

impl Principal {
    /// The caller in open local mode: no key, every right.
    pub fn open() -> Self {
        Principal {
            key_id: None,
            role: Role::Admin,
            site: None,
        }
    }
}

/// Why a key file operation failed.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key file could not be read or written.
    #[error("key file {}: {cause}", path.display())]
    Io {
        /// The key file.
        path: PathBuf,
        /// The IO error.
        cause: std::io::Error,
    },
    /// The key file is not a valid key list.
    #[error("key file {} is corrupt: {cause}", path.display())]
    Corrupt {
        /// The key file.
        path: PathBuf,
        /// The parser's error.
        cause: serde_json::Error,
    },
    /// `keys revoke` named no key.
    #[error("no key has id {0:?}")]
    UnknownId(String),
    /// A site key needs a site, other roles must not have one.
    #[error("{0}")]
    InvalidSite(String),
    /// The shared key store (the database) failed.
    #[error("key store: {0}")]
    Store(std::io::Error),
}

/// Keys kept in a store every replica shares (PostgreSQL), instead of the data directory.
pub trait SharedKeys: Send + Sync + std::fmt::Debug {
    /// Every key ever created, revoked ones included.
    fn read(&self) -> std::io::Result<Vec<KeyRecord>>;
    /// Stores a new key; `false` (and nothing written) if its id or hash is taken.
    fn insert(&self, record: &KeyRecord) -> std::io::Result<bool>;
    /// Revokes key `id` (an earlier revocation's time is kept); `None` if no key has it.
    fn revoke(&self, id: &str) -> std::io::Result<Option<KeyRecord>>;
    /// Calls `on_change` from a background task with every key, soon after each change
    /// (and once at the start); stops when it answers false.
    fn watch(&self, on_change: Box<dyn Fn(Vec<KeyRecord>) -> bool + Send + Sync>);
}

/// Where the `keys` commands read and write: the key file, or the shared store.
#[derive(Debug, Clone)]
pub enum KeyStore {
    /// `keys.json` in a data directory.
    File(KeyFile),
    /// The database every replica shares.
    Shared(Arc<dyn SharedKeys>),
}

impl KeyStore {
    /// Every key ever created, revoked ones included.
    pub fn read(&self) -> Result<Vec<KeyRecord>, KeyError> {
        match self {
            KeyStore::File(file) => file.read(),
            KeyStore::Shared(store) => store.read().map_err(KeyError::Store),
        }
    }

    /// Creates a key; returns its record and the key itself (shown once, never stored).
    pub fn create(&self, role: Role, site: Option<&str>) -> Result<(KeyRecord, String), KeyError> {
        let store = match self {
            KeyStore::File(file) => return file.create(role, site),
            KeyStore::Shared(store) => store,
        };
        let site = validated_site(role, site)?;
        loop {
            let key = new_key();
            let record = KeyRecord {
                id: new_key_id(&[]),
                sha256: hash_key(&key),
                role,
                site: site.clone(),
                created_at: OffsetDateTime::now_utc(),
                revoked_at: None,
            };
            // Refused only when the random id (or key) is taken: draw again.
            if store.insert(&record).map_err(KeyError::Store)? {
                return Ok((record, key));
            }
        }
    }

    /// Revokes the key with public id `id`; revoking twice is not an error.
    pub fn revoke(&self, id: &str) -> Result<KeyRecord, KeyError> {
        match self {
            KeyStore::File(file) => file.revoke(id),
            KeyStore::Shared(store) => store
                .revoke(id)
                .map_err(KeyError::Store)?
                .ok_or_else(|| KeyError::UnknownId(id.to_owned())),
        }
    }
}

/// The site a key of `role` is limited to, checked and normalised.
fn validated_site(role: Role, site: Option<&str>) -> Result<Option<String>, KeyError> {
    match (role, site.map(str::trim).filter(|s| !s.is_empty())) {
        (Role::Site, None) => Err(KeyError::InvalidSite(
            "a site key needs --site (the blog URL it scores for)".into(),
        )),
        (Role::Site, Some(site)) => Ok(Some(normalize_site(site).ok_or_else(|| {
            KeyError::InvalidSite(format!("--site must be an http(s) URL, got {site:?}"))
        })?)),
        (_, Some(_)) => Err(KeyError::InvalidSite(
            "only site keys are limited to a site; drop --site".into(),
        )),
        (_, None) => Ok(None),
    }
}

/// What checking a presented key found.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyCheck {
    /// No key exists at all: open local mode, everything is allowed.
    Open,
    /// The key is known and not revoked.
    Valid(Principal),
    /// The key is unknown or revoked.
    Invalid,
}

/// The set of keys in force, by hash.
#[derive(Debug, Default)]
struct KeySet {
    by_hash: HashMap<String, Principal>,
    /// Whether keys are required: once any key was ever created (even if all are revoked
    /// since, or the file went missing), open mode never comes back.
    closed: bool,
}

impl KeySet {
    fn from_records(records: &[KeyRecord], was_closed: bool) -> Self {
        let by_hash = records
            .iter()
            .filter(|r| r.revoked_at.is_none())
            .map(|r| {
                (
                    r.sha256.clone(),
                    Principal {
                        key_id: Some(r.id.clone()),
                        role: r.role,
                        site: r.site.clone(),
                    },
                )
            })
            .collect();
        KeySet {
            by_hash,
            closed: was_closed || !records.is_empty(),
        }
    }
}

/// The key file of a data directory: read, create, list, revoke.
#[derive(Debug, Clone)]
pub struct KeyFile {
    path: PathBuf,
}

impl KeyFile {
    /// The key file in `data_dir` (which need not exist yet).
    pub fn in_dir(data_dir: &Path) -> Self {
        KeyFile {
            path: data_dir.join(KEYS_FILE),
        }
    }

    /// Every key ever created, revoked ones included; empty when the file does not exist.
    pub fn read(&self) -> Result<Vec<KeyRecord>, KeyError> {
        let bytes = match fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(cause) => return Err(self.io(cause)),
        };
        serde_json::from_slice(&bytes).map_err(|cause| KeyError::Corrupt {
            path: self.path.clone(),
            cause,
        })
    }

    /// Creates a key; returns its record and the key itself (shown once, never stored).
    pub fn create(&self, role: Role, site: Option<&str>) -> Result<(KeyRecord, String), KeyError> {
        let site = validated_site(role, site)?;
        let _lock = self.lock()?;
        let mut records = self.read()?;
        let key = new_key();
        let record = KeyRecord {
            id: new_key_id(&records),
            sha256: hash_key(&key),
            role,
            site,
            created_at: OffsetDateTime::now_utc(),
            revoked_at: None,
        };
        records.push(record.clone());
        self.write(&records)?;
        Ok((record, key))
    }

    /// Revokes the key with public id `id`; revoking twice is not an error.
    pub fn revoke(&self, id: &str) -> Result<KeyRecord, KeyError> {
        let _lock = self.lock()?;
        let mut records = self.read()?;
        let record = records
            .iter_mut()
            .find(|r| r.id == id)
            .ok_or_else(|| KeyError::UnknownId(id.to_owned()))?;
        record
            .revoked_at
            .get_or_insert_with(OffsetDateTime::now_utc);
        let revoked = record.clone();
        self.write(&records)?;
        Ok(revoked)
    }

    /// Holds an exclusive lock on `keys.json.lock` until dropped. Every change reads the
    /// whole list and writes it back, so two `keys` commands at once would otherwise each
    /// write their own key and the later rename would lose the other's. The offline
    /// `import` command holds it too, so that two commands never write the data directory
    /// at once.
    pub fn lock(&self) -> Result<File, KeyError> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(|e| self.io(e))?;
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.path.with_extension("json.lock"))
            .map_err(|e| self.io(e))?;
        file.lock().map_err(|e| self.io(e))?;
        Ok(file)
    }

    /// Writes the whole list atomically: a temporary file, fsync, rename, fsync the directory.
    fn write(&self, records: &[KeyRecord]) -> Result<(), KeyError> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(|e| self.io(e))?;
        let json = serde_json::to_vec_pretty(records).map_err(|cause| KeyError::Corrupt {
            path: self.path.clone(),
            cause,
        })?;
        // A unique name: two `keys` commands at once must not write the same temporary file.
        let tmp = self
            .path
            .with_extension(format!("json.{:016x}.tmp", rand::random::<u64>()));
        let result = (|| {
            let mut file = File::create(&tmp)?;
            file.write_all(&json)?;
            file.sync_all()?;
            fs::rename(&tmp, &self.path)?;
            File::open(dir)?.sync_all()
        })();
        result.map_err(|e| self.io(e))
    }

    fn io(&self, cause: std::io::Error) -> KeyError {
        KeyError::Io {
            path: self.path.clone(),
            cause,
        }
    }

    /// Modification time and length, to notice changes cheaply.
    fn stamp(&self) -> Option<(SystemTime, u64)> {
        let meta = fs::metadata(&self.path).ok()?;
        Some((meta.modified().ok()?, meta.len()))
    }
}

/// The keys the running service checks requests against: re-read when the key file
/// changes, or refreshed in the background from the shared store.
#[derive(Debug)]
pub struct Keyring {
    /// The key file to re-read; `None` when a background task refreshes `keys`.
    file: Option<FileWatch>,
    keys: Arc<ArcSwap<KeySet>>,
    store: KeyStore,
}

/// The key file the keyring re-reads, and when it last looked.
#[derive(Debug)]
struct FileWatch {
    file: KeyFile,
    stamp: Mutex<Option<(SystemTime, u64)>>,
    /// Milliseconds since `epoch` of the last check of the file.
    last_check_ms: AtomicU64,
    epoch: Instant,
}

impl Keyring {
    /// Loads the key file of `data_dir`; fails if it exists but cannot be read.
    pub fn load(data_dir: &Path) -> Result<Keyring, KeyError> {
        let file = KeyFile::in_dir(data_dir);
        let stamp = file.stamp();
        let records = file.read()?;
        Ok(Keyring {
            keys: Arc::new(ArcSwap::from_pointee(KeySet::from_records(&records, false))),
            store: KeyStore::File(file.clone()),
            file: Some(FileWatch {
                file,
                stamp: Mutex::new(stamp),
                last_check_ms: AtomicU64::new(0),
                epoch: Instant::now(),
            }),
        })
    }

    /// Loads the keys of the shared store and keeps them fresh from it in the background
    /// (until the keyring is dropped); fails if the store cannot be read now.
    pub fn load_shared(store: Arc<dyn SharedKeys>) -> Result<Keyring, KeyError> {
        let records = store.read().map_err(KeyError::Store)?;
        let shared = KeyStore::Shared(store.clone());
        let keys = Arc::new(ArcSwap::from_pointee(KeySet::from_records(&records, false)));
        let follower = Arc::downgrade(&keys);
        store.watch(Box::new(move |records| {
            let Some(keys) = follower.upgrade() else {
                return false;
            };
            let set = KeySet::from_records(&records, keys.load().closed);
            tracing::info!(keys = set.by_hash.len(), "keys reloaded from the database");
            keys.store(Arc::new(set));
            true
        }));
        Ok(Keyring {
            file: None,
            keys,
            store: shared,
        })
    }

    /// Where the keys are kept, to list them.
    pub fn store(&self) -> &KeyStore {
        &self.store
    }

    /// Whether no key was ever created (open local mode).
    pub fn is_open(&self) -> bool {
        self.refresh();
        !self.keys.load().closed
    }

    /// Checks a presented key (`None` when the request carried none).
    pub fn check(&self, presented: Option<&str>) -> KeyCheck {
        self.refresh();
        let keys = self.keys.load();
        if !keys.closed {
            return KeyCheck::Open;
        }
        match presented.and_then(|k| keys.by_hash.get(&hash_key(k))) {
            Some(principal) => KeyCheck::Valid(principal.clone()),
            None => KeyCheck::Invalid,
        }
    }

    /// Re-reads the key file if it changed, at most once per [`RELOAD_INTERVAL`]. A file
    /// that became unreadable or corrupt keeps the last good keys (and says so in the log).
    fn refresh(&self) {
        let Some(watch) = &self.file else {
            return;
        };
        let now_ms = watch.epoch.elapsed().as_millis() as u64;
        let last = watch.last_check_ms.load(Ordering::Relaxed);
        if now_ms.saturating_sub(last) < RELOAD_INTERVAL.as_millis() as u64 && last != 0 {
            return;
        }
        // One thread checks; the others go on with the keys they have.
        if watch
            .last_check_ms
            .compare_exchange(last, now_ms.max(1), Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            return;
        }
        let stamp = watch.file.stamp();
        let Ok(mut seen) = watch.stamp.lock() else {
            return;
        };
        if *seen == stamp {
            return;
        }
        match watch.file.read() {
            Ok(records) => {
                let set = KeySet::from_records(&records, self.keys.load().closed);
                tracing::info!(keys = set.by_hash.len(), "key file reloaded");
                self.keys.store(Arc::new(set));
                *seen = stamp;
            }
            Err(e) => tracing::error!(error = %e, "key file unreadable; keeping the last keys"),
        }
    }
}

/// Lowercase hex SHA-256 of a key.
pub fn hash_key(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in digest {
        hex.push_str(&format!("{byte:02x}"));
    }
    hex
}

/// Whether `key` has the shape of a key (12 of `[a-z0-9]`).
pub fn is_key_shaped(key: &str) -> bool {
    key.len() == KEY_LEN
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// A fresh random key.
fn new_key() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..KEY_LEN)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// A fresh public id, unique in `records`: `k` and 8 hex digits (unrelated to the key).
fn new_key_id(records: &[KeyRecord]) -> String {
    loop {
        let id = format!("k{:08x}", rand::random::<u32>());
        if records.iter().all(|r| r.id != id) {
            return id;
        }
    }
}

/// The canonical spelling of a site URL, for comparing a key's site with a request's:
/// lowercase scheme and host, default port dropped, no trailing slash. `None` if it is not
/// an http(s) URL.
pub fn normalize_site(url: &str) -> Option<String> {
    let url = url.trim();
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let (authority, path) = match rest.find(['/', '?', '#']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    // Credentials never belong to a site's identity.
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let mut host = host_port.to_ascii_lowercase();
    let default_port = if scheme == "https" { ":443" } else { ":80" };
    if let Some(stripped) = host.strip_suffix(default_port) {
        host = stripped.to_owned();
    }
    let host = host.trim_end_matches('.');
    if host.is_empty() {
        return None;
    }
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let path = path.trim_end_matches('/');
    Some(format!("{scheme}://{host}{path}"))
}

/// A 64-bit hash of a site as [`normalize_site`] spells it (or, for what is not an http(s)
/// URL, of its trimmed, ASCII-lower-cased text), computed without allocating: scoring
/// hashes every comment's site to find its per-site layer. Equal to
/// `xxh3_64(normalize_site(url))` for every URL `normalize_site` accepts.
pub fn site_hash(url: &str) -> u64 {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    match canonical_parts(url) {
        Some((https, host, path)) => {
            hasher.update(if https { b"https://" } else { b"http://" });
            update_lowercase(&mut hasher, host);
            hasher.update(path.as_bytes());
        }
        None => update_lowercase(&mut hasher, url.trim()),
    }
    hasher.digest()
}

/// [`normalize_site`]'s pieces before lower-casing the host: (https, host, path).
fn canonical_parts(url: &str) -> Option<(bool, &str, &str)> {
    let (scheme, rest) = url.trim().split_once("://")?;
    let https = scheme.eq_ignore_ascii_case("https");
    if !https && !scheme.eq_ignore_ascii_case("http") {
        return None;
    }
    let (authority, path) = match rest.find(['/', '?', '#']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let default_port = if https { ":443" } else { ":80" };
    let host = host.strip_suffix(default_port).unwrap_or(host);
    let host = host.trim_end_matches('.');
    if host.is_empty() {
        return None;
    }
    let path = path.split(['?', '#']).next().unwrap_or_default();
    Some((https, host, path.trim_end_matches('/')))
}

/// Feeds `text` ASCII-lower-cased to `hasher`, through a buffer on the stack.
fn update_lowercase(hasher: &mut xxhash_rust::xxh3::Xxh3, text: &str) {
    let mut buf = [0u8; 64];
    for chunk in text.as_bytes().chunks(buf.len()) {
        let out = &mut buf[..chunk.len()];
        out.copy_from_slice(chunk);
        out.make_ascii_lowercase();
        hasher.update(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_12_lowercase_alphanumerics_and_fresh() {
        let a = new_key();
        assert!(is_key_shaped(&a), "{a}");
        assert_ne!(a, new_key());
    }

    #[test]
    fn site_urls_normalise() {
        // (input, canonical, why)
        let cases = [
            (
                "https://Blog.Example.com/",
                Some("https://blog.example.com"),
                "case and slash",
            ),
            (
                "https://blog.example.com:443",
                Some("https://blog.example.com"),
                "default port",
            ),
            (
                "http://blog.example.com:8080/",
                Some("http://blog.example.com:8080"),
                "other port kept",
            ),
            (
                "HTTPS://example.com/Blog/",
                Some("https://example.com/Blog"),
                "path case kept",
            ),
            (
                "https://example.com/?p=1",
                Some("https://example.com"),
                "query dropped",
            ),
            (
                "https://user:pw@example.com",
                Some("https://example.com"),
                "credentials dropped",
            ),
            ("ftp://example.com", None, "not http"),
            ("example.com", None, "no scheme"),
            ("https://", None, "no host"),
        ];
        for (input, want, why) in cases {
            assert_eq!(normalize_site(input).as_deref(), want, "{why}");
            let spelled = want.map_or_else(|| input.trim().to_ascii_lowercase(), str::to_owned);
            assert_eq!(
                site_hash(input),
                xxhash_rust::xxh3::xxh3_64(spelled.as_bytes()),
                "site_hash of {input}: {why}"
            );
        }
        let long = format!("https://{}.Example.com:443/", "Ab".repeat(100));
        assert_eq!(
            site_hash(&long),
            xxhash_rust::xxh3::xxh3_64(normalize_site(&long).unwrap().as_bytes()),
            "a host longer than the lower-casing buffer"
        );
    }

    #[test]
    fn keys_created_at_once_are_all_kept() {
        // Separate KeyFile values, as separate `keys create` processes would have.
        let dir = tempfile::tempdir().unwrap();
        let created: Vec<String> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(|| {
                        KeyFile::in_dir(dir.path())
                            .create(Role::Moderator, None)
                            .unwrap()
                            .0
                            .id
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let kept: Vec<String> = KeyFile::in_dir(dir.path())
            .read()
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        for id in &created {
            assert!(kept.contains(id), "key {id} was lost: {kept:?}");
        }
        assert_eq!(kept.len(), 8);
    }

    #[test]
    fn create_check_revoke() {
        let dir = tempfile::tempdir().unwrap();
        let ring = Keyring::load(dir.path()).unwrap();
        assert_eq!(ring.check(None), KeyCheck::Open, "no keys: open mode");

        let file = KeyFile::in_dir(dir.path());
        let (admin, admin_key) = file.create(Role::Admin, None).unwrap();
        let (site, site_key) = file
            .create(Role::Site, Some("https://Blog.example.com/"))
            .unwrap();
        assert_eq!(site.site.as_deref(), Some("https://blog.example.com"));
        let stored = fs::read_to_string(dir.path().join(KEYS_FILE)).unwrap();
        assert!(!stored.contains(&admin_key), "keys are stored hashed");

        let ring = Keyring::load(dir.path()).unwrap();
        let KeyCheck::Valid(p) = ring.check(Some(&admin_key)) else {
            panic!("admin key refused")
        };
        assert_eq!(
            (p.role, p.key_id.as_deref()),
            (Role::Admin, Some(admin.id.as_str()))
        );
        assert_eq!(ring.check(None), KeyCheck::Invalid);
        assert_eq!(ring.check(Some("aaaaaaaaaaaa")), KeyCheck::Invalid);

        file.revoke(&site.id).unwrap();
        let ring = Keyring::load(dir.path()).unwrap();
        assert_eq!(ring.check(Some(&site_key)), KeyCheck::Invalid, "revoked");
        file.revoke(&admin.id).unwrap();
        let ring = Keyring::load(dir.path()).unwrap();
        assert_eq!(
            ring.check(None),
            KeyCheck::Invalid,
            "every key revoked: closed, not open"
        );
        assert!(!ring.is_open());
        assert_eq!(ring.check(Some(&admin_key)), KeyCheck::Invalid);
        assert!(matches!(
            file.revoke("k00000000"),
            Err(KeyError::UnknownId(_))
        ));
    }

    #[test]
    fn site_keys_need_a_site_and_others_must_not_have_one() {
        let dir = tempfile::tempdir().unwrap();
        let file = KeyFile::in_dir(dir.path());
        assert!(file.create(Role::Site, None).is_err());
        assert!(file.create(Role::Site, Some("not a url")).is_err());
        assert!(file
            .create(Role::Admin, Some("https://example.com"))
            .is_err());
        assert!(
            file.read().unwrap().is_empty(),
            "nothing written on refusal"
        );
    }

    #[test]
    fn a_corrupt_key_file_is_an_error_not_open_mode() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(KEYS_FILE), b"{not json").unwrap();
        assert!(matches!(
            Keyring::load(dir.path()),
            Err(KeyError::Corrupt { .. })
        ));
    }
}
