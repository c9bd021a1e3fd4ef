//! PostgreSQL: the label store that replicas share (`COMMENTGUARD_DATABASE_URL`), and with
//! it the API keys, the model registry, the review history and the jobs. The only module
//! that imports `tokio_postgres`.
//!
//! The store runs on its own small runtime, so that its connections and its follower live
//! as long as the store whatever runtime (actix's workers, a test's) calls it; callers
//! block on an answer with a deadline (see [`Database::run`]), always off the async runtime.
//!
//! Labels get their position from a `bigserial`, and writers take one transaction-scoped
//! advisory lock before they draw it: positions commit in order, so a reader that has seen
//! position `n` has seen everything before it, and "every label after the last one I
//! applied" is one range read. Each commit notifies `cg_labels`; each replica listens, and
//! after every (re)connect reads what it missed.

mod jobs;
mod keys;
mod labels;
mod migrate;
mod models;
mod review;

pub use jobs::PgJobs;
pub use keys::{copy_file_keys, KeyCopyReport, PgKeys};
pub use labels::{copy_file_labels, CopyReport, PgLabels};
pub use migrate::{known_version, MigrateError, MIGRATIONS};
pub use models::{copy_file_models, ModelCopyReport, PgModels};
pub use review::PgReview;

use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use futures_util::StreamExt;
use tokio_postgres::{AsyncMessage, NoTls};

/// The channel label commits are announced on.
const LABELS_CHANNEL: &str = "cg_labels";
/// Longest a store call may take before the caller gets an error (and a 503).
const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest a new connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Pause between attempts to reconnect the follower.
const RECONNECT_PAUSE: Duration = Duration::from_millis(500);
/// The follower also reads at this interval with no notification: a missed one costs at
/// most this much delay.
const FALLBACK_POLL: Duration = Duration::from_secs(2);
/// How long the follower gathers notifications before it reads (see [`follow`]).
const COALESCE: Duration = Duration::from_millis(50);
/// Pooled connections per replica.
const POOL_SIZE: usize = 16;

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The database answered with an error or the connection broke.
    #[error("{0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// No pooled connection could be had.
    #[error("{0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    /// A stored record could not be encoded or decoded.
    #[error("stored record: {0}")]
    Record(#[from] serde_json::Error),
    /// The positions a batch was given do not follow its order (the batch is not committed).
    #[error("a batch of labels was given positions out of order")]
    Order,
}

/// A connection pool on its own runtime, and whether the database answers.
pub struct Database {
    runtime: Option<tokio::runtime::Runtime>,
    handle: tokio::runtime::Handle,
    pool: Pool,
    config: tokio_postgres::Config,
    healthy: Arc<AtomicBool>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the URL: it may hold a password.
        f.debug_struct("Database")
            .field("healthy", &self.healthy.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which panics inside another runtime; this does not.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Database {
    /// Connects to `url` and brings the schema up to date (refusing a newer one). Blocks;
    /// callable from inside or outside an async runtime.
    pub fn open(url: &str) -> anyhow::Result<Arc<Database>> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .context("COMMENTGUARD_DATABASE_URL is not a valid PostgreSQL URL")?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        config.application_name("commentguard");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("postgres")
            .enable_all()
            .build()
            .context("cannot start the PostgreSQL runtime")?;
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(CALL_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .context("cannot build the PostgreSQL pool")?;
        let database = Arc::new(Database {
            handle: runtime.handle().clone(),
            runtime: Some(runtime),
            pool,
            config,
            healthy: Arc::new(AtomicBool::new(false)),
        });
        let pool = database.pool.clone();
        let migrated = database.call(async move {
            let mut client = pool.get().await.map_err(anyhow::Error::from)?;
            let client: &mut tokio_postgres::Client = &mut client;
            migrate::migrate(client).await.map_err(anyhow::Error::from)
        });
        let version = migrated
            .map_err(|e| anyhow::anyhow!("{e}"))
            .context("cannot set up the PostgreSQL label store")?;
        tracing::info!(schema_version = version, "PostgreSQL label store ready");
        Ok(database)
    }

    /// Whether the last call and the follower's connection succeeded.
    pub fn healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// Runs `work` on the store's runtime and waits for it at most [`CALL_TIMEOUT`]; marks
    /// the store healthy or not by the outcome. Must not be called from the store's runtime.
    fn run<T, F>(&self, work: impl FnOnce(Pool) -> F) -> io::Result<T>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, DbError>> + Send + 'static,
    {
        let result = self.call(work(self.pool.clone()));
        self.healthy.store(result.is_ok(), Ordering::Relaxed);
        result.map_err(|e| io::Error::other(format!("PostgreSQL: {e}")))
    }

    fn call<T, E>(
        &self,
        work: impl Future<Output = Result<T, E>> + Send + 'static,
    ) -> Result<T, String>
    where
        T: Send + 'static,
        E: std::fmt::Display + Send + 'static,
    {
        let (sender, answer) = std::sync::mpsc::sync_channel(1);
        self.handle.spawn(async move {
            let outcome = match tokio::time::timeout(CALL_TIMEOUT, work).await {
                Ok(result) => result.map_err(|e| e.to_string()),
                Err(_) => Err("did not answer in time".to_owned()),
            };
            let _ = sender.send(outcome);
        });
        answer
            .recv_timeout(CALL_TIMEOUT + Duration::from_millis(500))
            .unwrap_or_else(|_| Err("did not answer in time".to_owned()))
    }

    /// Listens for label commits and calls `on_labels` (off the runtime) after each burst
    /// of them, after every (re)connect and every [`FALLBACK_POLL`]; stops when it answers
    /// false. While the listening connection is down the store reports unhealthy.
    pub fn follow_labels(&self, on_labels: Arc<dyn Fn() -> bool + Send + Sync>) {
        let config = self.config.clone();
        let healthy = self.healthy.clone();
        self.handle.spawn(follow(config, healthy, on_labels));
    }
}

/// The follower's loop; see [`Database::follow_labels`].
async fn follow(
    config: tokio_postgres::Config,
    healthy: Arc<AtomicBool>,
    on_labels: Arc<dyn Fn() -> bool + Send + Sync>,
) {
    let mut warned = false;
    loop {
        match listen(&config).await {
            Ok((client, mut notified)) => {
                healthy.store(true, Ordering::Relaxed);
                if warned {
                    tracing::info!("PostgreSQL is back: following labels again");
                    warned = false;
                }
                loop {
                    if !run_blocking(&on_labels).await {
                        return;
                    }
                    match tokio::time::timeout(FALLBACK_POLL, notified.recv()).await {
                        Ok(None) => break,
                        Ok(Some(())) => {
                            // Under a stream of commits, one read and one model update
                            // per COALESCE instead of one per commit.
                            tokio::time::sleep(COALESCE).await;
                            while notified.try_recv().is_ok() {}
                        }
                        Err(_) => {}
                    }
                }
                drop(client);
            }
            Err(e) if !warned => {
                tracing::warn!(error = %e, "cannot follow labels in PostgreSQL; retrying");
                warned = true;
            }
            Err(_) => {}
        }
        healthy.store(false, Ordering::Relaxed);
        if !warned {
            tracing::warn!("lost the PostgreSQL connection that follows labels; reconnecting");
            warned = true;
        }
        tokio::time::sleep(RECONNECT_PAUSE).await;
    }
}

async fn run_blocking(on_labels: &Arc<dyn Fn() -> bool + Send + Sync>) -> bool {
    let call = on_labels.clone();
    tokio::task::spawn_blocking(move || call())
        .await
        .unwrap_or(true)
}

/// A connection listening on [`LABELS_CHANNEL`], and a receiver of one `()` per
/// notification that ends when the connection does.
async fn listen(
    config: &tokio_postgres::Config,
) -> Result<
    (
        tokio_postgres::Client,
        tokio::sync::mpsc::UnboundedReceiver<()>,
    ),
    tokio_postgres::Error,
> {
    let (client, mut connection) = config.connect(NoTls).await?;
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(_)) => {
                    if sender.send(()).is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    });
    client
        .batch_execute(&format!("LISTEN {LABELS_CHANNEL}"))
        .await?;
    Ok((client, receiver))
}
