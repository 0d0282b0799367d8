//! The store: SQLite (WAL) in the data directory. One writer thread takes the engine's
//! changes from a bounded queue and writes them in batches, one transaction each, so the
//! engine's message path never waits on the disk. Readers use their own connection.

pub mod energy;
mod schema;

use crate::config::Config;
use crate::datadir::{DataDir, DB_FILE};
use crate::engine::device::{Change, Channel, Device, Event, EventKind};
use crate::metrics::{inc_logged, Counters};
use crate::protocol::now_secs;
use crate::protocol::payloads::{Firmware, Hardware};
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tracing::{error, warn};

/// How long things are kept, and the queue's size.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub queue_capacity: usize,
    pub events: Duration,
    pub raw_samples: Duration,
    pub hourly: Duration,
    /// Two samples further apart than this add no energy between them.
    pub max_sample_gap: Duration,
}

impl StoreOptions {
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

/// Most changes written in one transaction.
const MAX_BATCH: usize = 512;
/// How often the events table is pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

enum Op {
    Change(Change),
    Flush(oneshot::Sender<()>),
}

/// Where the engine puts changes. Never waits: a full queue is counted and logged.
#[derive(Clone)]
pub struct Sink {
    tx: mpsc::Sender<Op>,
    counters: Arc<Counters>,
}

impl Sink {
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

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    Sql(#[from] rusqlite::Error),
    #[error("the store's writer has stopped")]
    Closed,
}

/// A handle to the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    sink: Sink,
    reader: Arc<Mutex<Connection>>,
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

    pub fn open_path(
        path: &Path,
        options: StoreOptions,
        counters: Arc<Counters>,
    ) -> Result<Store, StoreError> {
        let mut writer = open_connection(path)?;
        schema::migrate(&mut writer)?;
        // Nothing is online until it connects to this process.
        writer.execute("UPDATE devices SET online = 0", [])?;
        let reader = open_connection(path)?;
        let (tx, rx) = mpsc::channel(options.queue_capacity.max(16));
        let thread_counters = counters.clone();
        std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || write_loop(writer, rx, options, thread_counters))
            .map_err(|e| StoreError::Sql(rusqlite::Error::ToSqlConversionFailure(Box::new(e))))?;
        Ok(Store {
            sink: Sink { tx, counters },
            reader: Arc::new(Mutex::new(reader)),
        })
    }

    pub fn sink(&self) -> Sink {
        self.sink.clone()
    }

    /// False once the writer thread has stopped (nothing more would be saved).
    pub fn is_alive(&self) -> bool {
        !self.sink.tx.is_closed()
    }

    /// Waits until everything queued before this call is committed.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let (tx, rx) = oneshot::channel();
        self.sink
            .tx
            .send(Op::Flush(tx))
            .await
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)
    }

    /// Flushes; the writer stops when the last handle is dropped.
    pub async fn close(&self) {
        if let Err(e) = self.flush().await {
            warn!(error = %e, "store was already closed");
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

    pub async fn raw_history(
        &self,
        uuid: String,
        from: u64,
        to: u64,
    ) -> Result<Vec<energy::RawPoint>, StoreError> {
        self.read(move |c| energy::raw_history(c, &uuid, from, to))
            .await
    }

    pub async fn hourly_history(
        &self,
        uuid: String,
        from: u64,
        to: u64,
    ) -> Result<Vec<energy::HourPoint>, StoreError> {
        self.read(move |c| energy::hourly_history(c, &uuid, from, to))
            .await
    }

    pub async fn consumption(
        &self,
        uuid: String,
        since: String,
    ) -> Result<Vec<(String, f64)>, StoreError> {
        self.read(move |c| energy::consumption(c, &uuid, &since))
            .await
    }

    pub async fn energy_totals(&self) -> Result<HashMap<String, f64>, StoreError> {
        self.read(energy::energy_totals).await
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

fn write_loop(
    mut conn: Connection,
    mut rx: mpsc::Receiver<Op>,
    options: StoreOptions,
    counters: Arc<Counters>,
) {
    let mut last_prune = std::time::Instant::now() - PRUNE_EVERY;
    let mut last_seen = energy::LastSeen::new();
    while let Some(first) = rx.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        counters
            .store_queue_depth
            .store(rx.len() as u64, Ordering::Relaxed);
        let mut flushes = Vec::new();
        let mut changes = Vec::new();
        for op in batch {
            match op {
                Op::Change(c) => changes.push(c),
                Op::Flush(done) => flushes.push(done),
            }
        }
        if let Err(e) = write_batch(&mut conn, changes, &mut last_seen, &options) {
            error!(error = %e, "store write failed; this batch is lost");
        }
        for done in flushes {
            let _ = done.send(());
        }
        if last_prune.elapsed() >= PRUNE_EVERY {
            last_prune = std::time::Instant::now();
            let now = now_secs();
            let cutoff = now.saturating_sub(options.events.as_secs());
            match conn.execute("DELETE FROM events WHERE at < ?1", [cutoff]) {
                Ok(n) if n > 0 => tracing::info!(removed = n, "pruned old events"),
                Ok(_) => {}
                Err(e) => warn!(error = %e, "pruning events failed"),
            }
            match energy::prune(
                &conn,
                now,
                options.raw_samples.as_secs(),
                options.hourly.as_secs(),
            ) {
                Ok((raw, hours)) if raw + hours > 0 => {
                    tracing::info!(raw, hours, "pruned old energy history")
                }
                Ok(_) => {}
                Err(e) => warn!(error = %e, "pruning energy history failed"),
            }
        }
    }
}

/// Writes one batch in one transaction. Device records are coalesced: only the newest
/// record of each uuid in the batch is written.
fn write_batch(
    conn: &mut Connection,
    changes: Vec<Change>,
    last_seen: &mut energy::LastSeen,
    options: &StoreOptions,
) -> rusqlite::Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    let mut order: Vec<String> = Vec::new();
    let mut latest: HashMap<String, Option<Box<Device>>> = HashMap::new();
    let mut events = Vec::new();
    let mut samples = Vec::new();
    let mut consumption = Vec::new();
    for change in changes {
        match change {
            Change::Device(d) => {
                if !latest.contains_key(&d.uuid) {
                    order.push(d.uuid.clone());
                }
                latest.insert(d.uuid.clone(), Some(d));
            }
            Change::Forget(uuid) => {
                if !latest.contains_key(&uuid) {
                    order.push(uuid.clone());
                }
                latest.insert(uuid, None);
            }
            Change::Event(e) => events.push(e),
            Change::Sample(s) => samples.push(s),
            Change::Consumption(uuid, days) => consumption.push((uuid, days)),
        }
    }
    // Each change in a savepoint of its own: one that cannot be written (a value out of
    // SQLite's range, say) is logged and skipped, and the rest of the batch still lands.
    let mut tx = conn.transaction()?;
    for uuid in order {
        match latest.remove(&uuid).flatten() {
            Some(device) => isolated(&mut tx, "device", |c| upsert_device(c, &device))?,
            None => isolated(&mut tx, "forget", |c| {
                c.execute("DELETE FROM devices WHERE uuid = ?1", [&uuid])?;
                energy::forget(c, &uuid)
            })?,
        }
    }
    for e in events {
        isolated(&mut tx, "event", |c| {
            c.prepare_cached("INSERT INTO events (at, uuid, kind, detail) VALUES (?1, ?2, ?3, ?4)")?
                .execute(params![e.at, e.uuid, e.kind.as_str(), e.detail])
                .map(drop)
        })?;
    }
    let gap = options.max_sample_gap.as_secs();
    for s in &samples {
        isolated(&mut tx, "sample", |c| {
            energy::insert_sample(c, s, last_seen, gap)
        })?;
    }
    for (uuid, days) in &consumption {
        isolated(&mut tx, "consumption", |c| {
            energy::upsert_consumption(c, uuid, days)
        })?;
    }
    tx.commit()
}

/// Runs `write` in a savepoint; on failure rolls just it back and logs.
fn isolated(
    tx: &mut rusqlite::Transaction,
    what: &str,
    write: impl FnOnce(&Connection) -> rusqlite::Result<()>,
) -> rusqlite::Result<()> {
    let savepoint = tx.savepoint()?;
    match write(&savepoint) {
        Ok(()) => savepoint.commit(),
        Err(e) => {
            // Dropping the savepoint rolls it back.
            error!(error = %e, what, "store could not write a change; it was skipped");
            Ok(())
        }
    }
}

fn json_text(v: &Option<serde_json::Value>) -> Option<String> {
    v.as_ref().map(|v| v.to_string())
}

fn upsert_device(tx: &Connection, d: &Device) -> rusqlite::Result<()> {
    let hw = d.hardware.clone().unwrap_or_default();
    let fw = d.firmware.clone().unwrap_or_default();
    let some = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    tx.prepare_cached(
        "INSERT INTO devices (uuid, name, mac, user_id, hw_type, hw_sub_type, hw_version, hw_chip,
            fw_version, fw_compile_time, inner_ip, first_seen, last_seen, online, bound_at,
            ability, system_all, last_report, timezone)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)
         ON CONFLICT (uuid) DO UPDATE SET name = ?2, mac = ?3, user_id = ?4, hw_type = ?5,
            hw_sub_type = ?6, hw_version = ?7, hw_chip = ?8, fw_version = ?9,
            fw_compile_time = ?10, inner_ip = ?11, first_seen = ?12, last_seen = ?13,
            online = ?14, bound_at = ?15, ability = ?16, system_all = ?17, last_report = ?18,
            timezone = ?19",
    )?
    .execute(params![
        d.uuid,
        d.name,
        d.mac,
        d.user_id,
        some(&hw.kind),
        some(&hw.sub_type),
        some(&hw.version),
        some(&hw.chip_type),
        some(&fw.version),
        some(&fw.compile_time),
        some(&fw.inner_ip),
        d.first_seen,
        d.last_seen,
        d.online,
        d.bound_at,
        json_text(&d.ability),
        json_text(&d.all),
        json_text(&d.last_report),
        d.timezone,
    ])?;
    tx.execute("DELETE FROM channels WHERE uuid = ?1", [&d.uuid])?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO channels (uuid, channel, is_on, changed_at) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (channel, state) in &d.channels {
        insert.execute(params![d.uuid, channel, state.on, state.changed_at])?;
    }
    Ok(())
}

fn load_devices(conn: &Connection) -> Result<Vec<Device>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT uuid, name, mac, user_id, hw_type, hw_sub_type, hw_version, hw_chip, fw_version,
                fw_compile_time, inner_ip, first_seen, last_seen, online, bound_at, ability,
                system_all, last_report, timezone
         FROM devices ORDER BY uuid",
    )?;
    let parse = |t: Option<String>| t.and_then(|t| serde_json::from_str(&t).ok());
    let mut devices: Vec<Device> = stmt
        .query_map([], |r| {
            let text = |i: usize| -> rusqlite::Result<String> {
                Ok(r.get::<_, Option<String>>(i)?.unwrap_or_default())
            };
            let mac: Option<String> = r.get(2)?;
            Ok(Device {
                uuid: r.get(0)?,
                name: r.get(1)?,
                user_id: r.get(3)?,
                hardware: Some(Hardware {
                    kind: text(4)?,
                    sub_type: text(5)?,
                    version: text(6)?,
                    chip_type: text(7)?,
                    uuid: r.get(0)?,
                    mac_address: mac.clone().unwrap_or_default(),
                }),
                firmware: Some(Firmware {
                    version: text(8)?,
                    compile_time: text(9)?,
                    inner_ip: text(10)?,
                    wifi_mac: mac.clone().unwrap_or_default(),
                }),
                mac,
                first_seen: r.get(11)?,
                last_seen: r.get(12)?,
                online: r.get(13)?,
                bound_at: r.get(14)?,
                ability: parse(r.get(15)?),
                all: parse(r.get(16)?),
                last_report: parse(r.get(17)?),
                timezone: r.get(18)?,
                ..Default::default()
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut stmt =
        conn.prepare("SELECT channel, is_on, changed_at FROM channels WHERE uuid = ?1")?;
    for device in &mut devices {
        let channels = stmt
            .query_map([&device.uuid], |r| {
                Ok((
                    r.get::<_, u32>(0)?,
                    Channel {
                        on: r.get(1)?,
                        changed_at: r.get(2)?,
                    },
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
        device.channels = channels;
    }
    Ok(devices)
}

fn read_events(
    conn: &Connection,
    uuid: Option<&str>,
    limit: usize,
) -> Result<Vec<Event>, StoreError> {
    let limit = limit.min(10_000) as i64;
    let row = |r: &rusqlite::Row| -> rusqlite::Result<Event> {
        let kind: String = r.get(2)?;
        Ok(Event {
            at: r.get(0)?,
            uuid: r.get(1)?,
            kind: serde_json::from_value(serde_json::Value::String(kind))
                .unwrap_or(EventKind::StateChanged),
            detail: r.get(3)?,
        })
    };
    let events = match uuid {
        Some(uuid) => conn
            .prepare_cached("SELECT at, uuid, kind, detail FROM events WHERE uuid = ?1 ORDER BY id DESC LIMIT ?2")?
            .query_map(params![uuid, limit], row)?
            .collect::<rusqlite::Result<_>>()?,
        None => conn
            .prepare_cached("SELECT at, uuid, kind, detail FROM events ORDER BY id DESC LIMIT ?1")?
            .query_map(params![limit], row)?
            .collect::<rusqlite::Result<_>>()?,
    };
    Ok(events)
}

/// Opens a database file read-only and says whether it is sound (for tests and tools).
pub fn integrity_check(path: &Path) -> rusqlite::Result<String> {
    let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .optional()
        .map(|v| v.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_db() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("merossd-store-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("t.db")
    }

    #[tokio::test]
    async fn devices_and_channels_come_back_after_reopening() {
        let path = temp_db();
        let counters = Arc::new(Counters::default());
        let store = Store::open_path(&path, StoreOptions::default(), counters.clone()).unwrap();
        let mut d = Device::new("u1", 10);
        d.name = Some("fridge".into());
        d.online = true;
        d.hardware = Some(Hardware {
            kind: "mss310".into(),
            ..Default::default()
        });
        d.channels.insert(
            0,
            Channel {
                on: true,
                changed_at: 11,
            },
        );
        store.sink().emit(Change::Device(Box::new(d.clone())));
        store.sink().emit(Change::Event(Event {
            at: now_secs(),
            uuid: Some("u1".into()),
            kind: EventKind::Bound,
            detail: "x".into(),
        }));
        store.flush().await.unwrap();
        drop(store);

        let again = Store::open_path(&path, StoreOptions::default(), counters).unwrap();
        let devices = again.load_devices().unwrap();
        assert_eq!(devices.len(), 1);
        assert_eq!(devices[0].name.as_deref(), Some("fridge"));
        assert_eq!(devices[0].kind(), Some("mss310"));
        assert!(!devices[0].online, "nothing is online after a restart");
        assert_eq!(
            devices[0].channels[&0],
            Channel {
                on: true,
                changed_at: 11
            }
        );
        let events = again.events(Some("u1".into()), 10).await.unwrap();
        assert_eq!(events[0].kind, EventKind::Bound);
        assert_eq!(integrity_check(&path).unwrap(), "ok");
        drop(again);
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[tokio::test]
    async fn a_change_that_cannot_be_written_does_not_take_its_batch_with_it() {
        let path = temp_db();
        let store = Store::open_path(
            &path,
            StoreOptions::default(),
            Arc::new(Counters::default()),
        )
        .unwrap();
        let mut bad = Device::new("bad", 1);
        // Beyond SQLite's INTEGER range.
        bad.channels.insert(
            0,
            Channel {
                on: true,
                changed_at: u64::MAX,
            },
        );
        store.sink().emit(Change::Device(Box::new(bad)));
        store
            .sink()
            .emit(Change::Device(Box::new(Device::new("good", 1))));
        store.sink().emit(Change::Event(Event {
            at: now_secs(),
            uuid: Some("good".into()),
            kind: EventKind::Bound,
            detail: String::new(),
        }));
        store.flush().await.unwrap();
        let uuids: Vec<String> = store
            .load_devices()
            .unwrap()
            .into_iter()
            .map(|d| d.uuid)
            .collect();
        assert_eq!(uuids, vec!["good".to_owned()]);
        assert_eq!(store.events(Some("good".into()), 5).await.unwrap().len(), 1);
        drop(store);
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[test]
    fn a_database_from_a_newer_merossd_is_refused() {
        let path = temp_db();
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 999).unwrap();
        drop(conn);
        let err = Store::open_path(
            &path,
            StoreOptions::default(),
            Arc::new(Counters::default()),
        )
        .err()
        .unwrap();
        assert!(err.to_string().contains("newer"), "{err}");
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[tokio::test]
    async fn forget_removes_device_and_channels() {
        let path = temp_db();
        let store = Store::open_path(
            &path,
            StoreOptions::default(),
            Arc::new(Counters::default()),
        )
        .unwrap();
        let mut d = Device::new("u2", 1);
        d.channels.insert(
            0,
            Channel {
                on: false,
                changed_at: 1,
            },
        );
        store.sink().emit(Change::Device(Box::new(d)));
        store.sink().emit(Change::Forget("u2".into()));
        store.flush().await.unwrap();
        assert!(store.load_devices().unwrap().is_empty());
        drop(store);
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }
}
