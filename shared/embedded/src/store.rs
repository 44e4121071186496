//! [`SqliteStore`]: opening, the writer thread and the read pool.

use crate::checkpoint::{self, Signals};
use crate::connection_cache::ConnectionCache;
use crate::connections;
use crate::error::{Result, StoreError};
use crate::schema;
use crate::writer::{self, Command, Counters, Pending};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, TryLockError, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::oneshot;

/// How durable a write is when the store acknowledges it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    /// The WAL holding the commit is fsynced before it is acknowledged: durable across power loss.
    /// (On a file the syncer thread does the fsync; SQLite itself runs `NORMAL`.)
    #[default]
    Full,
    /// Commits survive a process crash but the newest ones may be lost on power loss (WAL is
    /// fsynced only at checkpoints). Faster on slow disks.
    Normal,
}

impl Synchronous {
    fn as_sql(self) -> &'static str {
        match self {
            Self::Full => "FULL",
            Self::Normal => "NORMAL",
        }
    }
}

/// Tuning of a [`SqliteStore`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// Durability of each commit.
    pub synchronous: Synchronous,
    /// Most jobs the writer runs in one transaction (one commit, one fsync).
    pub max_batch: usize,
    /// Read-only connections serving reads of a file database concurrently with the writer.
    pub read_connections: usize,
    /// How long a connection waits for a lock held by another process before failing.
    pub busy_timeout: Duration,
    /// Page cache of the write connection, in KiB (read connections keep SQLite's default 2 MB;
    /// the OS page cache serves them too).
    pub cache_kib: u32,
    /// How often a background thread copies committed pages from the WAL into the database file
    /// (a `PASSIVE` checkpoint, which never holds the writer up). `Duration::ZERO` turns the
    /// thread off and leaves checkpoints to SQLite, inside the commit that crosses
    /// [`StoreOptions::wal_limit_pages`], which stalls that commit.
    pub checkpoint_interval: Duration,
    /// WAL size, in pages, past which the WAL is restarted from the top.
    ///
    /// SQLite's default of 1,000 copies the same hot index pages again every few batches;
    /// 10,000 (about 40 MB of WAL) lets one checkpoint copy each page once for many batches.
    pub wal_limit_pages: u32,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            synchronous: Synchronous::Full,
            max_batch: 1024,
            read_connections: 4,
            busy_timeout: Duration::from_secs(5),
            cache_kib: 128 * 1024,
            checkpoint_interval: Duration::from_millis(50),
            wal_limit_pages: 10_000,
        }
    }
}

/// Counters of the writer thread's work since the store was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriterStats {
    /// Transactions committed (or attempted).
    pub batches: u64,
    /// Jobs run in them.
    pub jobs: u64,
    /// Time the writer spent running jobs, excluding commits.
    pub work: Duration,
    /// Time the writer spent committing: writing the WAL, fsync, automatic checkpoints.
    pub commit: Duration,
    /// Fsyncs of the WAL that released acknowledgements (`synchronous = FULL` on a file).
    pub wal_syncs: u64,
    /// WAL restarts the writer ran after background checkpoints.
    pub wal_restarts: u64,
    /// Time they took.
    pub wal_restart: Duration,
}

impl WriterStats {
    /// Average jobs per transaction.
    pub fn mean_batch(&self) -> f64 {
        if self.batches == 0 {
            0.0
        } else {
            self.jobs as f64 / self.batches as f64
        }
    }
}

/// The embedded store: Cirrus's connection, message, conversation, account, presence subscription,
/// profile and relation ports over one SQLite database.
///
/// Writes (and, for an in-memory database, reads too) run on one writer thread with group commit;
/// reads of a file database run inline on a small pool of read-only connections (WAL lets them
/// read while the writer writes). Cloning is cheap and shares the database; the writer finishes
/// its queue and closes when the last clone is dropped.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    commands: mpsc::Sender<Command>,
    connections: ConnectionCache,
    readers: Option<ReadPool>,
    writer: Option<JoinHandle<()>>,
    checkpointer: Option<Background>,
    counters: Arc<Counters>,
    path: Option<PathBuf>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if needed, with its parent directories) the database file at `path` and
    /// brings its schema up to date.
    pub fn open(path: impl AsRef<Path>, options: StoreOptions) -> Result<Self> {
        let path = path.as_ref();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        let mut writer = Connection::open(path)?;
        configure_writer(&writer, &options)?;
        let mode: String = writer.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(
                mode,
                "the database could not switch to WAL; reads will wait for writes"
            );
        }
        // FULL durability comes from the syncer thread (see `syncer`): the writer itself only
        // writes its WAL frames, and acks wait for the syncer's fsync.
        let wal = (options.synchronous == Synchronous::Full).then(|| wal_path(path));
        writer.pragma_update(None, "synchronous", Synchronous::Normal.as_sql())?;
        writer.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
        let background = !options.checkpoint_interval.is_zero();
        let auto_pages = if background { 0 } else { options.wal_limit_pages };
        writer.pragma_update(None, "wal_autocheckpoint", auto_pages)?;
        schema::migrate(&mut writer)?;

        let flags =
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        let readers = (0..options.read_connections.max(1))
            .map(|_| {
                let conn = Connection::open_with_flags(path, flags)?;
                configure(&conn, &options)?;
                Ok(Mutex::new(conn))
            })
            .collect::<Result<Vec<_>>>()?;
        let checkpointer = if background {
            let conn = Connection::open(path)?;
            configure(&conn, &options)?;
            conn.pragma_update(None, "synchronous", options.synchronous.as_sql())?;
            Some(conn)
        } else {
            None
        };
        tracing::debug!(path = %path.display(), "sqlite store opened");
        let readers = ReadPool {
            connections: readers,
            next: AtomicUsize::new(0),
        };
        let cache = ConnectionCache::load(connections::load_all(&writer)?);
        Ok(Self::start(
            writer,
            cache,
            Some(readers),
            checkpointer,
            &options,
            Some(path.to_owned()),
            wal,
        ))
    }

    /// A private in-memory database (for tests): every job, reads included, runs on the writer
    /// thread, since an in-memory database lives in one connection.
    pub fn open_in_memory() -> Result<Self> {
        Self::open_in_memory_with(StoreOptions::default())
    }

    /// [`SqliteStore::open_in_memory`] with explicit options (`synchronous` and `read_connections`
    /// do not apply).
    pub fn open_in_memory_with(options: StoreOptions) -> Result<Self> {
        let mut writer = Connection::open_in_memory()?;
        configure_writer(&writer, &options)?;
        schema::migrate(&mut writer)?;
        Ok(Self::start(
            writer,
            ConnectionCache::default(),
            None,
            None,
            &options,
            None,
            None,
        ))
    }

    fn start(
        writer: Connection,
        connections: ConnectionCache,
        readers: Option<ReadPool>,
        checkpointer: Option<Connection>,
        options: &StoreOptions,
        path: Option<PathBuf>,
        wal: Option<PathBuf>,
    ) -> Self {
        let counters = Arc::new(Counters::default());
        let signals = checkpointer.as_ref().map(|_| Arc::new(Signals::default()));
        let checkpointer = checkpointer.and_then(|conn| {
            let (stop, stopped) = mpsc::channel();
            let (interval, limit) = (options.checkpoint_interval, options.wal_limit_pages);
            let signals = signals.clone().unwrap_or_default();
            let spawned = std::thread::Builder::new()
                .name("cirrus-sqlite-checkpoint".to_owned())
                .spawn(move || checkpoint::run(conn, stopped, interval, limit, &signals));
            match spawned {
                Ok(handle) => Some(Background { stop, handle }),
                Err(err) => {
                    // The WAL then only restarts when the store closes; say so once.
                    tracing::error!(error = %err, "cannot spawn the sqlite checkpoint thread");
                    None
                }
            }
        });

        let (commands, queue) = mpsc::channel();
        let max_batch = options.max_batch;
        let thread_counters = Arc::clone(&counters);
        let spawned = std::thread::Builder::new()
            .name("cirrus-sqlite-writer".to_owned())
            .spawn(move || {
                writer::run(
                    writer,
                    queue,
                    max_batch,
                    &thread_counters,
                    signals.as_deref(),
                    wal,
                )
            });
        let writer = match spawned {
            Ok(handle) => Some(handle),
            Err(err) => {
                // Without a writer every call fails with `Closed`; say why once.
                tracing::error!(error = %err, "cannot spawn the sqlite writer thread");
                None
            }
        };
        Self {
            inner: Arc::new(Inner {
                commands,
                connections,
                readers,
                writer,
                checkpointer,
                counters,
                path,
            }),
        }
    }

    /// The in-memory mirror of the connections table.
    pub(crate) fn connection_cache(&self) -> &ConnectionCache {
        &self.inner.connections
    }

    /// The database file, or `None` for an in-memory database.
    pub fn path(&self) -> Option<&Path> {
        self.inner.path.as_deref()
    }

    /// What the writer thread has done so far.
    pub fn stats(&self) -> WriterStats {
        WriterStats {
            batches: self.inner.counters.batches.load(Ordering::Relaxed),
            jobs: self.inner.counters.jobs.load(Ordering::Relaxed),
            work: Duration::from_micros(self.inner.counters.work_us.load(Ordering::Relaxed)),
            commit: Duration::from_micros(self.inner.counters.commit_us.load(Ordering::Relaxed)),
            wal_syncs: self.inner.counters.wal_syncs.load(Ordering::Relaxed),
            wal_restarts: self.inner.counters.wal_restarts.load(Ordering::Relaxed),
            wal_restart: Duration::from_micros(self.inner.counters.wal_restart_us.load(Ordering::Relaxed)),
        }
    }

    /// Finishes every job queued so far, then closes the write connection. Later writes (and, in
    /// memory, reads) fail with [`StoreError::Closed`]. Closing twice is harmless.
    pub async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if self.inner.commands.send(Command::Close(done)).is_ok() {
            let _ = closed.await;
        }
    }

    /// Runs `work` on the writer thread inside the next batch; resolves once the batch committed.
    pub(crate) async fn write<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnMut(&Connection) -> Result<T> + Send + 'static,
    {
        self.submit(work)?.await.map_err(|_| StoreError::Closed)?
    }

    /// Queues `work` for the writer thread; the receiver answers once its batch has committed.
    pub(crate) fn submit<T, F>(&self, work: F) -> Result<oneshot::Receiver<Result<T>>>
    where
        T: Send + 'static,
        F: FnMut(&Connection) -> Result<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        self.inner
            .commands
            .send(Command::Job(Box::new(Pending::new(work, reply))))
            .map_err(|_| StoreError::Closed)?;
        Ok(answer)
    }

    /// Runs a read: inline on a pooled read-only connection for a file database, on the writer
    /// thread for an in-memory one.
    pub(crate) async fn read<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnMut(&Connection) -> Result<T> + Send + 'static,
    {
        match &self.inner.readers {
            Some(pool) => pool.with(work),
            None => self.write(work).await,
        }
    }
}

/// The checkpoint thread and the way to stop it.
struct Background {
    stop: mpsc::Sender<()>,
    handle: JoinHandle<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Close the readers and the checkpointer first, so the writer's close, the last one, can
        // checkpoint and remove the WAL.
        self.readers = None;
        if let Some(Background { stop, handle }) = self.checkpointer.take() {
            drop(stop);
            if handle.join().is_err() {
                tracing::error!("the sqlite checkpoint thread panicked");
            }
        }
        // Hang up: the writer drains what is queued, then its `recv` fails and it exits.
        let (hung_up, _) = mpsc::channel();
        drop(std::mem::replace(&mut self.commands, hung_up));
        if let Some(handle) = self.writer.take()
            && handle.thread().id() != std::thread::current().id()
            && handle.join().is_err()
        {
            tracing::error!("the sqlite writer thread panicked");
        }
    }
}

/// Read-only connections, each behind a mutex held only for one synchronous read.
struct ReadPool {
    connections: Vec<Mutex<Connection>>,
    next: AtomicUsize,
}

impl ReadPool {
    fn with<T>(&self, work: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let count = self.connections.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        for offset in 0..count {
            match self.connections[(start + offset) % count].try_lock() {
                Ok(conn) => return work(&conn),
                Err(TryLockError::Poisoned(poisoned)) => return work(&poisoned.into_inner()),
                Err(TryLockError::WouldBlock) => {}
            }
        }
        let conn = self.connections[start % count]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        work(&conn)
    }
}

/// The write-ahead log beside a database file.
fn wal_path(path: &Path) -> PathBuf {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    PathBuf::from(wal)
}

/// Settings every connection gets.
fn configure(conn: &Connection, options: &StoreOptions) -> Result<()> {
    conn.busy_timeout(options.busy_timeout)?;
    conn.pragma_update(None, "foreign_keys", false)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// Settings of the write connection (file or memory).
fn configure_writer(conn: &Connection, options: &StoreOptions) -> Result<()> {
    configure(conn, options)?;
    conn.pragma_update(None, "cache_size", -i64::from(options.cache_kib))?;
    Ok(())
}
