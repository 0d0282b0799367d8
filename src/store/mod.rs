//! The store: SQLite (WAL) in the data directory. One writer thread takes the engine's
//! changes from a bounded queue and writes them in batches, one transaction each, so the
//! engine's message path never waits on the disk. Readers use their own connection.

pub mod continuity;
mod devices;
pub mod energy;
mod health;
mod schema;
mod writer;

pub use devices::Answers;
use devices::{load_devices, read_events};
pub use health::StoreHealth;
use writer::{write_loop, Op};

use crate::config::Config;
use crate::datadir::{DataDir, DB_FILE};
use crate::metrics::{inc_logged, Counters};
use crate::model::{Change, Device, Event};
use rusqlite::{Connection, OptionalExtension};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tracing::warn;

/// How long things are kept, and the queue's size.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Changes the writer's queue holds (`store.queue_capacity`, default 10 000; at least 16).
    pub queue_capacity: usize,
    /// How long events are kept (`store.event_retention_days`, default 30 days).
    pub events: Duration,
    /// How long raw samples are kept (`energy.raw_retention_days`, default 7 days).
    pub raw_samples: Duration,
    /// How long hourly aggregates are kept (`energy.hourly_retention_days`, default 365 days).
    pub hourly: Duration,
    /// Two samples further apart than this add no energy between them.
    pub max_sample_gap: Duration,
}

impl StoreOptions {
    /// From the `[store]` and `[energy]` tables; the sample gap is three poll intervals,
    /// at least five minutes.
    pub fn from_config(config: &Config) -> StoreOptions {
        let days = |d: u64| Duration::from_secs(d.saturating_mul(86_400));
        StoreOptions {
            queue_capacity: config.store.queue_capacity,
            events: days(config.store.event_retention_days),
            raw_samples: days(config.energy.raw_retention_days),
            hourly: days(config.energy.hourly_retention_days),
            max_sample_gap: (config.energy.poll_interval() * 3).max(Duration::from_secs(300)),
        }
    }
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions::from_config(&Config::default())
    }
}

/// Where the engine puts changes. Never waits: a full queue is counted and logged.
#[derive(Clone)]
pub struct Sink {
    tx: mpsc::Sender<Op>,
    counters: Arc<Counters>,
}

impl Sink {
    /// Queues a change for the writer. A full queue drops it (counted in
    /// `store_queue_full`, logged sparingly); a stopped writer drops it silently.
    pub fn emit(&self, change: Change) {
        match self.tx.try_send(Op::Change(change)) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                if let Some(total) = inc_logged(&self.counters.store_queue_full) {
                    warn!(total, "store queue full; a change was dropped");
                }
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }
}

/// Why the store could not open, read or write.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed (opening, migrating, reading); also a writer thread that could not
    /// be started.
    #[error("{0}")]
    Sql(#[from] rusqlite::Error),
    /// The writer thread has stopped, or a read's blocking task did not finish.
    #[error("the store's writer has stopped")]
    Closed,
    /// What was queued is kept, but could not be written yet.
    #[error("the store cannot write: {0}")]
    Unwritable(String),
}

/// A handle to the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    sink: Sink,
    reader: Arc<Mutex<Connection>>,
    health: Arc<StoreHealth>,
}

fn open_connection(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // FULL: a committed batch survives a power cut, not only a crash of the process.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

impl Store {
    /// Opens (creating and migrating) `merossd.db` and starts the writer thread.
    pub fn open(
        data: &DataDir,
        options: StoreOptions,
        counters: Arc<Counters>,
    ) -> Result<Store, StoreError> {
        Store::open_path(&data.file(DB_FILE), options, counters)
    }

    /// Like [`Store::open`], for a database file anywhere (tests use a scratch file).
    pub fn open_path(
        path: &Path,
        options: StoreOptions,
        counters: Arc<Counters>,
    ) -> Result<Store, StoreError> {
        let missing = continuity::check_files(path);
        let mut writer = open_connection(path)?;
        schema::migrate(&mut writer)?;
        // Nothing is online until it connects to this process.
        writer.execute("UPDATE devices SET online = 0", [])?;
        let reader = open_connection(path)?;
        let (tx, rx) = mpsc::channel(options.queue_capacity.max(16));
        let health = Arc::new(StoreHealth::default());
        health.warn(missing);
        let shared = writer::Shared {
            counters: counters.clone(),
            health: health.clone(),
        };
        std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || write_loop(writer, rx, options, shared))
            .map_err(|e| StoreError::Sql(rusqlite::Error::ToSqlConversionFailure(Box::new(e))))?;
        Ok(Store {
            sink: Sink { tx, counters },
            reader: Arc::new(Mutex::new(reader)),
            health,
        })
    }

    /// Why the store cannot write now (the disk is full, say), or `None` while it can.
    pub fn problem(&self) -> Option<String> {
        self.health.problem()
    }

    /// Its health: what start-up found amiss, too.
    pub fn health(&self) -> &StoreHealth {
        &self.health
    }

    /// Lets the database grow to at most `pages` pages (`None`: no limit), as a full disk
    /// would stop it: for tests of what a full disk does.
    #[doc(hidden)]
    pub async fn limit_pages(&self, pages: Option<u64>) {
        let _ = self.sink.tx.send(Op::MaxPages(pages)).await;
    }

    /// Where the engine puts its changes; a clone of the store's own.
    pub fn sink(&self) -> Sink {
        self.sink.clone()
    }

    /// False once the writer thread has stopped (nothing more would be saved).
    pub fn is_alive(&self) -> bool {
        !self.sink.tx.is_closed()
    }

    /// Waits until everything queued before this call is committed; `Unwritable` if it
    /// could not be (it is kept, and written once the store can write again).
    pub async fn flush(&self) -> Result<(), StoreError> {
        let (tx, rx) = oneshot::channel();
        self.sink
            .tx
            .send(Op::Flush(tx))
            .await
            .map_err(|_| StoreError::Closed)?;
        rx.await
            .map_err(|_| StoreError::Closed)?
            .map_err(StoreError::Unwritable)
    }

    /// Holds the writer thread for `how_long`, as a wedged disk would: for tests of the
    /// watchdog. Nothing is lost; the queue waits.
    #[doc(hidden)]
    pub async fn stall_writer(&self, how_long: Duration) {
        let _ = self.sink.tx.send(Op::Stall(how_long)).await;
    }

    /// Flushes, checkpoints the WAL into the main file and closes the database's
    /// connections: once it returns, nothing touches the database's files.
    pub async fn close(&self) {
        if let Err(e) = self.flush().await {
            warn!(error = %e, "store was already closed");
            return;
        }
        let (tx, rx) = oneshot::channel();
        if self.sink.tx.send(Op::Checkpoint(tx)).await.is_ok() {
            let _ = rx.await;
        }
        // The reader's connection closes now too, whoever still holds a handle (a read
        // finishing late would otherwise close the file, and remove its WAL, later).
        if let Ok(empty) = Connection::open_in_memory() {
            let old = std::mem::replace(
                &mut *self.reader.lock().unwrap_or_else(|e| e.into_inner()),
                empty,
            );
            drop(old);
        }
    }

    /// Every remembered device.
    pub fn load_devices(&self) -> Result<Vec<Device>, StoreError> {
        let conn = self.reader.lock().unwrap_or_else(|e| e.into_inner());
        load_devices(&conn)
    }

    /// Runs a read on the reader connection off the async runtime.
    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let reader = self.reader.clone();
        tokio::task::spawn_blocking(move || {
            let conn = reader.lock().unwrap_or_else(|e| e.into_inner());
            f(&conn).map_err(StoreError::from)
        })
        .await
        .map_err(|_| StoreError::Closed)?
    }

    /// The database's size in bytes (its pages; the write-ahead log not counted).
    pub async fn size_bytes(&self) -> Result<u64, StoreError> {
        self.read(|c| {
            let pages: u64 = c.query_row("PRAGMA page_count", [], |r| r.get(0))?;
            let size: u64 = c.query_row("PRAGMA page_size", [], |r| r.get(0))?;
            Ok(pages * size)
        })
        .await
    }

    /// A device's raw samples between `from` and `to` (epoch seconds, both included),
    /// see [`energy::raw_history`].
    pub async fn raw_history(
        &self,
        uuid: String,
        from: u64,
        to: u64,
    ) -> Result<Vec<energy::RawPoint>, StoreError> {
        self.read(move |c| energy::raw_history(c, &uuid, from, to))
            .await
    }

    /// A device's hourly aggregates between `from` and `to` (epoch seconds), see
    /// [`energy::hourly_history`].
    pub async fn hourly_history(
        &self,
        uuid: String,
        from: u64,
        to: u64,
    ) -> Result<Vec<energy::HourPoint>, StoreError> {
        self.read(move |c| energy::hourly_history(c, &uuid, from, to))
            .await
    }

    /// The Wh a device counted per day (its ConsumptionX dates), from `since` (YYYY-MM-DD)
    /// on, oldest first.
    pub async fn consumption(
        &self,
        uuid: String,
        since: String,
    ) -> Result<Vec<(String, f64)>, StoreError> {
        self.read(move |c| energy::consumption(c, &uuid, &since))
            .await
    }

    /// Each device's uuid with the Wh it counted over every day kept (the `consumption`
    /// table).
    pub async fn energy_totals(&self) -> Result<HashMap<String, f64>, StoreError> {
        self.read(energy::energy_totals).await
    }

    /// A device's answers as it sent them (empty for an unknown uuid). Reads what was
    /// written: call [`Store::flush`] first to see the latest.
    pub async fn answers(&self, uuid: String) -> Result<Answers, StoreError> {
        self.read(move |c| devices::answers(c, &uuid)).await
    }

    /// The newest events, of one device or of all, newest first.
    pub async fn events(
        &self,
        uuid: Option<String>,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError> {
        let reader = self.reader.clone();
        tokio::task::spawn_blocking(move || {
            let conn = reader.lock().unwrap_or_else(|e| e.into_inner());
            read_events(&conn, uuid.as_deref(), limit)
        })
        .await
        .map_err(|_| StoreError::Closed)?
    }
}

/// Opens a database file read-only and says whether it is sound (for tests and tools).
pub fn integrity_check(path: &Path) -> rusqlite::Result<String> {
    let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .optional()
        .map(|v| v.unwrap_or_default())
}

#[cfg(test)]
mod tests;
