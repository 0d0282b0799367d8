//! The writer thread: takes the engine's changes off the queue in batches, writes each
//! batch in one transaction, answers flushes, prunes old rows now and then.

use super::devices::{keep_answer, upsert_device};
use super::energy;
use super::health::StoreHealth;
use super::StoreOptions;
use crate::metrics::{inc_logged, Counters};
use crate::model::{AnswerKind, Change, Device};
use crate::protocol::now_secs;
use rusqlite::{params, Connection};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tracing::{error, info, warn};

/// The most changes written in one transaction.
const MAX_BATCH: usize = 512;
/// How often the events table is pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

pub(super) enum Op {
    Change(Change),
    /// Answered once everything before it was written (or could not be: the reason).
    Flush(oneshot::Sender<Result<(), String>>),
    /// Holds the writer for a while (tests of what notices a stuck writer).
    Stall(Duration),
    /// Caps the database's size in pages, as a full disk would (tests); `None` lifts it.
    MaxPages(Option<u64>),
    /// Moves everything in the WAL into the main file and empties the WAL (a clean stop:
    /// the main file alone then holds all, and a damaged or lost WAL loses nothing), then
    /// closes the writer's connection and ends the writer.
    Checkpoint(oneshot::Sender<()>),
}

/// What the writer shares with the rest of the daemon.
pub(super) struct Shared {
    pub counters: Arc<Counters>,
    pub health: Arc<StoreHealth>,
}

/// How often changes that could not be written are tried again.
const RETRY_EVERY: Duration = Duration::from_secs(1);
/// Changes kept for a store that cannot write; past this the oldest go (counted).
const MAX_KEPT: usize = 100_000;
/// The newest stored data this far behind the wall clock at start means the clock jumped
/// (or the daemon was off that long): old data is not pruned until [`PRUNE_GRACE`] of
/// running has passed, with a warning.
const CLOCK_JUMP: u64 = 2 * 86_400;
const PRUNE_GRACE: Duration = Duration::from_secs(7 * 86_400);
/// SQLite's own largest page count: no limit.
const NO_PAGE_LIMIT: u64 = 4_294_967_294;

/// The next ops: waits for one while nothing is kept; with changes kept, waits at most
/// [`RETRY_EVERY`]. `None` once the queue is closed and empty.
fn next_batch(rx: &mut mpsc::Receiver<Op>, waiting: bool) -> Option<Vec<Op>> {
    let first = if waiting {
        match rx.try_recv() {
            Ok(op) => Some(op),
            Err(mpsc::error::TryRecvError::Empty) => {
                std::thread::sleep(RETRY_EVERY);
                None
            }
            Err(mpsc::error::TryRecvError::Disconnected) => return None,
        }
    } else {
        Some(rx.blocking_recv()?)
    };
    let mut batch: Vec<Op> = first.into_iter().collect();
    while batch.len() < MAX_BATCH {
        match rx.try_recv() {
            Ok(op) => batch.push(op),
            Err(_) => break,
        }
    }
    Some(batch)
}

pub(super) fn write_loop(
    mut conn: Connection,
    mut rx: mpsc::Receiver<Op>,
    options: StoreOptions,
    shared: Shared,
) {
    let started = std::time::Instant::now();
    let mut last_prune = started - PRUNE_EVERY;
    let mut last_seen = energy::LastSeen::new();
    let hold_pruning = clock_jumped(&conn, &shared);
    // Changes that could not be written yet, oldest first, and when that was found.
    let mut kept: Vec<Change> = Vec::new();
    let mut last_failure: Option<std::time::Instant> = None;
    while let Some(batch) = next_batch(&mut rx, !kept.is_empty()) {
        shared
            .counters
            .store_queue_depth
            .store(rx.len() as u64, Ordering::Relaxed);
        let mut flushes = Vec::new();
        let mut changes = std::mem::take(&mut kept);
        for op in batch {
            match op {
                Op::Change(c) => changes.push(c),
                Op::Flush(done) => flushes.push(done),
                Op::Stall(how_long) => std::thread::sleep(how_long),
                Op::Checkpoint(done) => {
                    // The last op of a store: what came with it is written, the WAL moved
                    // into the main file, and the connection closed before the answer, so
                    // that no file of the database is touched once `close` returned.
                    if !changes.is_empty() {
                        let _ = write_batch(&mut conn, &changes, &mut last_seen, &options);
                    }
                    checkpoint(&conn, "TRUNCATE");
                    drop(conn);
                    let _ = done.send(());
                    return;
                }
                Op::MaxPages(pages) => {
                    let pages = pages.unwrap_or(NO_PAGE_LIMIT);
                    if let Err(e) = conn.pragma_update(None, "max_page_count", pages) {
                        warn!(error = %e, "cannot set max_page_count");
                    }
                }
            }
        }
        // While the store cannot write, a try every RETRY_EVERY at most, however many
        // changes arrive meanwhile (they are kept, compacted).
        if last_failure.is_some_and(|at: std::time::Instant| at.elapsed() < RETRY_EVERY) {
            kept = compact(changes, &shared.counters);
            let answer = shared.health.problem().map_or(Ok(()), Err);
            for done in flushes {
                let _ = done.send(answer.clone());
            }
            continue;
        }
        // The energy fold's memory goes back with a batch that is rolled back.
        let seen_before = changes
            .iter()
            .any(|c| matches!(c, Change::Sample(_)))
            .then(|| last_seen.clone());
        match write_batch(&mut conn, &changes, &mut last_seen, &options) {
            Ok(()) => {
                last_failure = None;
                if shared.health.problem().is_some() {
                    info!("the store writes again; every change kept meanwhile is written");
                }
                shared.health.recover();
            }
            Err(e) => {
                if let Some(seen) = seen_before {
                    last_seen = seen;
                }
                last_failure = Some(std::time::Instant::now());
                kept = compact(changes, &shared.counters);
                if let Some(total) = inc_logged(&shared.counters.store_write_failures) {
                    error!(error = %e, kept = kept.len(), total, "store write failed; the changes are kept and tried again every second");
                }
                shared.health.fail(e.to_string());
            }
        }
        let answer = shared.health.problem().map_or(Ok(()), Err);
        for done in flushes {
            let _ = done.send(answer.clone());
        }
        if last_prune.elapsed() >= PRUNE_EVERY {
            last_prune = std::time::Instant::now();
            if !hold_pruning || started.elapsed() >= PRUNE_GRACE {
                prune(&conn, &options);
            }
            checkpoint(&conn, "PASSIVE");
        }
    }
    if !kept.is_empty() {
        error!(
            lost = kept.len(),
            "the store stops with changes it could not write"
        );
    }
}

/// Keeps what still matters of changes that could not be written: a device's newest
/// record (the older ones add nothing), at most [`MAX_KEPT`] changes.
fn compact(changes: Vec<Change>, counters: &Counters) -> Vec<Change> {
    let mut newest: HashMap<String, usize> = HashMap::new();
    for (i, c) in changes.iter().enumerate() {
        if let Change::Device(d) = c {
            newest.insert(d.uuid.clone(), i);
        }
    }
    let mut kept: Vec<Change> = changes
        .into_iter()
        .enumerate()
        .filter(|(i, c)| !matches!(c, Change::Device(d) if newest.get(&d.uuid) != Some(i)))
        .map(|(_, c)| c)
        .collect();
    if kept.len() > MAX_KEPT {
        let over = kept.len() - MAX_KEPT;
        kept.drain(..over);
        counters
            .store_queue_full
            .fetch_add(over as u64, Ordering::Relaxed);
    }
    kept
}

/// Whether the newest stored event is far behind the wall clock: then a clock set wrong
/// (two years ahead, say) would make pruning delete real history, so it is held, and
/// said.
fn clock_jumped(conn: &Connection, shared: &Shared) -> bool {
    let newest: Option<u64> = conn
        .query_row("SELECT MAX(at) FROM events", [], |r| r.get(0))
        .ok()
        .flatten();
    let now = now_secs();
    let Some(newest) = newest.filter(|t| now > t + CLOCK_JUMP) else {
        return false;
    };
    let days = (now - newest) / 86_400;
    let text = format!(
        "the clock is {days} days past the newest stored event: old history is kept, not pruned, for the next 7 days of running (check the clock if that is wrong)"
    );
    warn!("{text}");
    shared.health.warn(Some(text));
    true
}

/// Checkpoints the WAL (`PASSIVE`: what it can without waiting; `TRUNCATE`: all of it,
/// and the WAL emptied).
fn checkpoint(conn: &Connection, mode: &str) {
    let sql = format!("PRAGMA wal_checkpoint({mode})");
    if let Err(e) = conn.query_row(&sql, [], |_| Ok(())) {
        warn!(error = %e, mode, "WAL checkpoint failed");
    }
}

/// Removes events and energy history older than what is kept.
fn prune(conn: &Connection, options: &StoreOptions) {
    let now = now_secs();
    let cutoff = now.saturating_sub(options.events.as_secs());
    match conn.execute("DELETE FROM events WHERE at < ?1", [cutoff]) {
        Ok(n) if n > 0 => info!(removed = n, "pruned old events"),
        Ok(_) => {}
        Err(e) => warn!(error = %e, "pruning events failed"),
    }
    match energy::prune(
        conn,
        now,
        options.raw_samples.as_secs(),
        options.hourly.as_secs(),
    ) {
        Ok((raw, hours)) if raw + hours > 0 => info!(raw, hours, "pruned old energy history"),
        Ok(_) => {}
        Err(e) => warn!(error = %e, "pruning energy history failed"),
    }
}

/// Writes one batch in one transaction. Device records are coalesced: only the newest
/// record of each uuid in the batch is written.
fn write_batch(
    conn: &mut Connection,
    changes: &[Change],
    last_seen: &mut energy::LastSeen,
    options: &StoreOptions,
) -> rusqlite::Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    let mut order: Vec<&str> = Vec::new();
    // Per uuid: whether it was forgotten in this batch, and its newest record after that.
    let mut latest: HashMap<&str, (bool, Option<&Device>)> = HashMap::new();
    let mut events = Vec::new();
    let mut samples = Vec::new();
    let mut consumption = Vec::new();
    let mut answers: Vec<(&str, AnswerKind, &str)> = Vec::new();
    for change in changes {
        match change {
            Change::Device(d) => {
                if !latest.contains_key(d.uuid.as_str()) {
                    order.push(&d.uuid);
                }
                latest.entry(&d.uuid).or_default().1 = Some(d);
            }
            Change::Forget(uuid) => {
                if !latest.contains_key(uuid.as_str()) {
                    order.push(uuid);
                }
                // What it said before it was forgotten goes with it.
                answers.retain(|(u, _, _)| u != uuid);
                latest.insert(uuid, (true, None));
            }
            Change::Event(e) => events.push(e),
            Change::Sample(s) => samples.push(s),
            Change::Consumption(uuid, days) => consumption.push((uuid, days)),
            Change::Answer { uuid, kind, json } => answers.push((uuid, *kind, json)),
        }
    }
    // Each change in a savepoint of its own: one that cannot be written (a value out of
    // SQLite's range, say) is logged and skipped, and the rest of the batch still lands.
    let mut tx = conn.transaction()?;
    for uuid in order {
        let Some((forgotten, device)) = latest.remove(&uuid) else {
            continue;
        };
        // A device forgotten and back within one batch starts from an empty row.
        if forgotten {
            isolated(&mut tx, "forget", |c| {
                c.execute("DELETE FROM devices WHERE uuid = ?1", [&uuid])?;
                energy::forget(c, uuid)
            })?;
        }
        if let Some(device) = device {
            isolated(&mut tx, "device", |c| upsert_device(c, device))?;
        }
    }
    // After the records: an answer updates its device's row.
    for (uuid, kind, json) in &answers {
        isolated(&mut tx, "answer", |c| keep_answer(c, uuid, *kind, json))?;
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

/// Runs `write` in a savepoint; on failure rolls just it back and logs. A failure of the
/// storage itself (a full disk, an I/O error) is not the change's fault: it fails the
/// whole batch, which is then kept and tried again.
fn isolated(
    tx: &mut rusqlite::Transaction,
    what: &str,
    write: impl FnOnce(&Connection) -> rusqlite::Result<()>,
) -> rusqlite::Result<()> {
    let savepoint = tx.savepoint()?;
    match write(&savepoint) {
        Ok(()) => savepoint.commit(),
        Err(e) if storage_failure(&e) => Err(e),
        Err(e) => {
            // Dropping the savepoint rolls it back.
            error!(error = %e, what, "store could not write a change; it was skipped");
            Ok(())
        }
    }
}

/// Whether an error says the storage cannot take writes, rather than that one change is
/// wrong.
fn storage_failure(e: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode::*;
    matches!(
        e.sqlite_error_code(),
        Some(DiskFull | SystemIoFailure | ReadOnly | CannotOpen | DatabaseBusy | DatabaseLocked)
    )
}
