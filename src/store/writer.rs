//! The writer thread: takes the engine's changes off the queue in batches, writes each
//! batch in one transaction, answers flushes, prunes old rows now and then.

use super::devices::{keep_answer, upsert_device};
use super::energy;
use super::StoreOptions;
use crate::engine::device::{AnswerKind, Change, Device};
use crate::metrics::Counters;
use crate::protocol::now_secs;
use rusqlite::{params, Connection};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tracing::{error, warn};

/// The most changes written in one transaction.
const MAX_BATCH: usize = 512;
/// How often the events table is pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

pub(super) enum Op {
    Change(Change),
    Flush(oneshot::Sender<()>),
    /// Holds the writer for a while (tests of what notices a stuck writer).
    Stall(Duration),
}

pub(super) fn write_loop(
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
                Op::Stall(how_long) => std::thread::sleep(how_long),
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
    // Per uuid: whether it was forgotten in this batch, and its newest record after that.
    let mut latest: HashMap<String, (bool, Option<Box<Device>>)> = HashMap::new();
    let mut events = Vec::new();
    let mut samples = Vec::new();
    let mut consumption = Vec::new();
    let mut answers: Vec<(String, AnswerKind, String)> = Vec::new();
    for change in changes {
        match change {
            Change::Device(d) => {
                if !latest.contains_key(&d.uuid) {
                    order.push(d.uuid.clone());
                }
                let uuid = d.uuid.clone();
                latest.entry(uuid).or_default().1 = Some(d);
            }
            Change::Forget(uuid) => {
                if !latest.contains_key(&uuid) {
                    order.push(uuid.clone());
                }
                // What it said before it was forgotten goes with it.
                answers.retain(|(u, _, _)| *u != uuid);
                latest.insert(uuid, (true, None));
            }
            Change::Event(e) => events.push(e),
            Change::Sample(s) => samples.push(s),
            Change::Consumption(uuid, days) => consumption.push((uuid, days)),
            Change::Answer { uuid, kind, json } => answers.push((uuid, kind, json)),
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
                energy::forget(c, &uuid)
            })?;
        }
        if let Some(device) = device {
            isolated(&mut tx, "device", |c| upsert_device(c, &device))?;
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
