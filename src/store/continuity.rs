//! Signs that the data of the last run did not come back: a database file that is gone
//! while its write-ahead log remains (the WAL alone cannot be read: everything in it is
//! lost), or far fewer devices than the last run knew. Either is said loudly at start and
//! kept for `/health`, rather than starting empty without a word.

use std::path::{Path, PathBuf};
use tracing::error;

/// Where the last run wrote how many devices it knew.
pub const COUNT_FILE: &str = "last-run-devices";

fn wal_of(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

/// Before the database is opened: is the main file missing while its WAL is there?
pub fn check_files(db: &Path) -> Option<String> {
    let wal = wal_of(db);
    if db.exists() || !wal.exists() {
        return None;
    }
    let text = format!(
        "the database {} is missing but its write-ahead log {} is there: the data of the last run is lost; restore a backup (merossd restore) or remove the log to start afresh",
        db.display(),
        wal.display()
    );
    error!("{text}");
    Some(text)
}

/// After the devices were loaded: far fewer than the last run knew? Records `known` for
/// the next run either way.
pub fn check_count(data_dir: &Path, known: usize) -> Option<String> {
    let file = data_dir.join(COUNT_FILE);
    let last: Option<usize> = std::fs::read_to_string(&file)
        .ok()
        .and_then(|t| t.trim().parse().ok());
    record_count(data_dir, known.max(last.unwrap_or(0) / 2));
    let last = last?;
    if last < 4 || known * 2 > last {
        return None;
    }
    let text = format!(
        "the database knows {known} devices but the last run knew {last}: was it replaced or restored from an old backup?"
    );
    error!("{text}");
    Some(text)
}

/// Writes how many devices this run knows (at a clean stop, say).
pub fn record_count(data_dir: &Path, devices: usize) {
    let _ = std::fs::write(data_dir.join(COUNT_FILE), format!("{devices}\n"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_database_beside_its_log_and_a_shrunk_fleet_are_named() {
        let dir = std::env::temp_dir().join(format!("continuity-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("merossd.db");
        assert!(check_files(&db).is_none());
        std::fs::write(wal_of(&db), b"x").unwrap();
        assert!(check_files(&db).unwrap().contains("missing"));
        assert!(check_count(&dir, 10).is_none());
        assert!(check_count(&dir, 9).is_none());
        record_count(&dir, 10);
        assert!(check_count(&dir, 2).unwrap().contains("last run knew 10"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
