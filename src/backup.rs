//! `merossd backup` and `merossd restore`: one archive (tar) holding a consistent copy of
//! the database, taken while the daemon runs (`VACUUM INTO`), and the account, API token,
//! certificate and key, so that a restored daemon knows every device and its plugs
//! reconnect with the same key. A restore never touches the data directory of a running
//! daemon.

use crate::datadir::{self, DataDir, LockError};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Files of the data directory that go into a backup besides the database.
const SECRETS: [&str; 4] = [
    datadir::ACCOUNT_FILE,
    datadir::TOKEN_FILE,
    datadir::CERT_FILE,
    datadir::KEY_FILE,
];

/// Why a backup or restore failed.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// A restore could not lock the data directory: another merossd holds it, or the lock
    /// file failed.
    #[error("{0}")]
    Locked(#[from] LockError),
    /// Reading or writing a file, the archive or the scratch directory failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being read or written: a path, "archive", or a file taken from it.
        what: String,
        /// The error the operating system gave.
        source: io::Error,
    },
    /// SQLite failed: copying the database (`VACUUM INTO`) or checking a restored one.
    #[error("the database: {0}")]
    Sql(#[from] rusqlite::Error),
    /// No `merossd.db` where one is needed: in the data directory for a backup, in the
    /// archive for a restore. Holds that path.
    #[error("{0} holds no database: is it a merossd backup?")]
    NotABackup(String),
    /// The archive's database failed SQLite's `PRAGMA integrity_check`; nothing was restored.
    #[error("the database in {file} is damaged: {detail}")]
    Damaged {
        /// The archive's path.
        file: String,
        /// What the integrity check said instead of "ok".
        detail: String,
    },
    /// The data directory has no database: nothing to back up. Holds its path.
    #[error("{0} holds no database: is it the data directory the daemon runs with?")]
    NoDatabase(String),
    /// The archive's directory does not exist: nothing is created on a typo.
    #[error("{0} does not exist: make it first, or name another place for the archive")]
    NoDirectory(String),
    /// The archive exists already: it is not overwritten without `--force`.
    #[error("{0} exists already: name another file, or pass --force to overwrite it")]
    Exists(String),
}

/// The configuration's name in an archive; a restore leaves it in the archive (it belongs
/// where the daemon reads it, outside the data directory): `tar -xf ARCHIVE merossd.toml`.
pub const CONFIG_IN_ARCHIVE: &str = "merossd.toml";

/// How a backup is to be written.
#[derive(Debug, Clone, Default)]
pub struct BackupOptions {
    /// The configuration file to put in the archive too (as `merossd.toml`), if any.
    pub config: Option<PathBuf>,
    /// Overwrite an existing archive.
    pub force: bool,
}

/// A backup's archive may be written: its directory exists, and it does not (unless
/// forced).
fn writable(archive: &Path, force: bool) -> Result<(), BackupError> {
    let parent = archive
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !parent.is_dir() {
        return Err(BackupError::NoDirectory(parent.display().to_string()));
    }
    if archive.exists() && !force {
        return Err(BackupError::Exists(archive.display().to_string()));
    }
    Ok(())
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> BackupError {
    let what = what.into();
    move |source| BackupError::Io { what, source }
}

/// What a backup or restore did.
#[derive(Debug)]
pub struct Report {
    /// Names of the files archived or restored, `merossd.db` first in a backup.
    pub files: Vec<String>,
    /// Size of the archive in bytes (0 if it cannot be read afterwards).
    pub bytes: u64,
    /// Wall-clock time the whole backup or restore took, in seconds.
    pub seconds: f64,
}

/// Writes `archive` from the data directory at `data` (the daemon may be running), with
/// the configuration file when `options` names one.
pub fn backup(data: &Path, archive: &Path, options: &BackupOptions) -> Result<Report, BackupError> {
    let started = Instant::now();
    let dir = DataDir::existing(data);
    let db = dir.file(datadir::DB_FILE);
    if !db.exists() {
        return Err(BackupError::NoDatabase(data.display().to_string()));
    }
    writable(archive, options.force)?;
    let scratch = scratch_dir(archive)?;
    let copy = scratch.join(datadir::DB_FILE);
    {
        // A read transaction of its own: a consistent copy while the writer goes on.
        let conn =
            rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.execute("VACUUM INTO ?1", [copy.to_string_lossy()])?;
    }
    let mut files = vec![datadir::DB_FILE.to_owned()];
    let partial = archive.with_extension("partial");
    let result = (|| {
        let out =
            datadir::create_secret(&partial).map_err(io_err(partial.display().to_string()))?;
        let mut tar = tar::Builder::new(out);
        tar.append_path_with_name(&copy, datadir::DB_FILE)
            .map_err(io_err("archive"))?;
        for name in SECRETS {
            let path = dir.file(name);
            if path.exists() {
                tar.append_path_with_name(&path, name)
                    .map_err(io_err(path.display().to_string()))?;
                files.push(name.to_owned());
            }
        }
        if let Some(config) = options.config.as_ref().filter(|c| c.is_file()) {
            tar.append_path_with_name(config, CONFIG_IN_ARCHIVE)
                .map_err(io_err(config.display().to_string()))?;
            files.push(CONFIG_IN_ARCHIVE.to_owned());
        }
        tar.into_inner()
            .and_then(|f| f.sync_all())
            .map_err(io_err("archive"))
    })();
    let _ = fs::remove_dir_all(&scratch);
    result?;
    fs::rename(&partial, archive).map_err(io_err(archive.display().to_string()))?;
    let bytes = fs::metadata(archive).map(|m| m.len()).unwrap_or(0);
    Ok(Report {
        files,
        bytes,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Restores `archive` into the data directory at `data`, which no daemon may be using.
pub fn restore(data: &Path, archive: &Path) -> Result<Report, BackupError> {
    let started = Instant::now();
    let dir = DataDir::create(data).map_err(io_err(data.display().to_string()))?;
    // Held until the restore is done: a daemon starting meanwhile waits its turn.
    let _lock = dir.lock()?;
    let scratch = scratch_dir(&dir.file("restore"))?;
    let result = (|| {
        let file = fs::File::open(archive).map_err(io_err(archive.display().to_string()))?;
        let mut tar = tar::Archive::new(file);
        let mut files = Vec::new();
        for entry in tar.entries().map_err(io_err("archive"))? {
            let mut entry = entry.map_err(io_err("archive"))?;
            let name = entry
                .path()
                .map_err(io_err("archive"))?
                .to_string_lossy()
                .into_owned();
            // Only the files a backup holds, by plain name: nothing lands elsewhere.
            if name != datadir::DB_FILE && !SECRETS.contains(&name.as_str()) {
                continue;
            }
            entry
                .unpack(scratch.join(&name))
                .map_err(io_err(format!("{name} from the archive")))?;
            files.push(name);
        }
        if !files.iter().any(|f| f == datadir::DB_FILE) {
            return Err(BackupError::NotABackup(archive.display().to_string()));
        }
        let check = crate::store::integrity_check(&scratch.join(datadir::DB_FILE))?;
        if check != "ok" {
            return Err(BackupError::Damaged {
                file: archive.display().to_string(),
                detail: check,
            });
        }
        // The old database's journal must not be applied to the restored one.
        for stale in ["merossd.db-wal", "merossd.db-shm"] {
            let _ = fs::remove_file(dir.file(stale));
        }
        for name in &files {
            let target = dir.file(name);
            // What it replaces is kept beside it, as `<name>.bak`.
            if target.exists() {
                let kept = dir.file(&format!("{name}.bak"));
                fs::rename(&target, &kept).map_err(io_err(kept.display().to_string()))?;
            }
            fs::rename(scratch.join(name), &target)
                .map_err(io_err(target.display().to_string()))?;
            datadir::make_private(&target).map_err(io_err(target.display().to_string()))?;
        }
        Ok(files)
    })();
    let _ = fs::remove_dir_all(&scratch);
    let files = result?;
    let bytes = fs::metadata(archive).map(|m| m.len()).unwrap_or(0);
    Ok(Report {
        files,
        bytes,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// An empty private directory beside `near`.
fn scratch_dir(near: &Path) -> Result<PathBuf, BackupError> {
    let parent = near
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let dir = parent.join(format!(
        ".merossd-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    datadir::create_private_dir(&dir).map_err(io_err(dir.display().to_string()))?;
    Ok(dir)
}
