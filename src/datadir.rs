//! The data directory: the generated account (and so which accounts plugs may use), API
//! token, certificate and key, and the database. Everything secret is written readable
//! by its owner only.

use crate::config::{Account, Config};
use rand::Rng;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The account generated on first start (JSON), used when the config lists none.
pub const ACCOUNT_FILE: &str = "account.json";
/// The admin API token generated on first start, used when `api.token` is empty.
pub const TOKEN_FILE: &str = "api-token";
/// The generated TLS certificate (PEM), used when the config has no `[tls]`.
pub const CERT_FILE: &str = "cert.pem";
/// The private key (PEM) of the generated certificate.
pub const KEY_FILE: &str = "key.pem";
/// The SQLite database the store keeps everything in.
pub const DB_FILE: &str = "merossd.db";
/// Locked by the running daemon; holds its pid.
const LOCK_FILE: &str = "merossd.lock";

/// The accounts plugs may log in with: the generated one (`account.json`, made on first
/// start when none is configured) and every configured `[[accounts]]`, added to it rather
/// than replacing it, so that plugs already paired to the generated account stay reachable.
/// The generated account goes only when its file is removed on purpose. A configured
/// account with the generated one's user id takes its place (it may add an e-mail and a
/// password).
pub fn accounts(config: &Config, data: &DataDir) -> std::io::Result<Vec<Account>> {
    let generated = if config.accounts.is_empty() {
        Some(data.account()?)
    } else {
        data.read_account()?
    };
    Ok(merge(generated, &config.accounts))
}

/// The generated account (if any) first, then the configured ones; one per user id.
fn merge(generated: Option<Account>, configured: &[Account]) -> Vec<Account> {
    let mut all: Vec<Account> = generated
        .into_iter()
        .filter(|g| configured.iter().all(|c| c.user_id != g.user_id))
        .collect();
    all.extend(configured.iter().cloned());
    all
}

/// The accounts, for the tools that only read (`account`, `sim`): never makes one.
pub fn existing_accounts(config: &Config) -> std::io::Result<Vec<Account>> {
    let generated = DataDir::existing(&config.data_dir).read_account()?;
    if generated.is_none() && config.accounts.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!(
                "no account in {} yet: start the daemon once (`merossd serve` makes one), or pass the --config/--data-dir the daemon runs with",
                config.data_dir.display()
            ),
        ));
    }
    Ok(merge(generated, &config.accounts))
}

/// The running daemon's hold on its data directory; released when dropped (or when the
/// process ends, however it ends: the lock is the kernel's).
#[derive(Debug)]
pub struct DirLock {
    _file: fs::File,
}

/// Why the data directory cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another merossd (a daemon, or a restore) holds the lock.
    #[error("`data_dir`: {path} is in use by another merossd (pid {pid}); stop it first, or give this one another data_dir")]
    Held {
        /// The data directory.
        path: String,
        /// What the lock file says: the holder's pid (empty if it could not be read).
        pid: String,
    },
    /// The lock file could not be opened, locked or written.
    #[error("`data_dir`: cannot lock {path}: {source}")]
    Io {
        /// The lock file (`merossd.lock` in the data directory).
        path: String,
        /// The error the operating system gave.
        source: io::Error,
    },
}

/// An open data directory.
#[derive(Debug, Clone)]
pub struct DataDir {
    path: PathBuf,
}

impl DataDir {
    /// Opens `path`, creating it (mode 0700) if it does not exist.
    pub fn create(path: &Path) -> io::Result<DataDir> {
        if !path.exists() {
            fs::create_dir_all(path)?;
            fs::set_permissions(path, fs::Permissions::from_mode(0o700))?;
        }
        Ok(DataDir {
            path: path.to_owned(),
        })
    }

    /// Takes the directory for this process, or says which process has it.
    pub fn lock(&self) -> Result<DirLock, LockError> {
        let path = self.file(LOCK_FILE);
        let io_error = |source| LockError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(io_error)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                let pid = fs::read_to_string(&path).unwrap_or_default();
                return Err(LockError::Held {
                    path: self.path.display().to_string(),
                    pid: pid.trim().to_owned(),
                });
            }
            Err(fs::TryLockError::Error(e)) => return Err(io_error(e)),
        }
        file.set_len(0).map_err(io_error)?;
        write!(file, "{}", std::process::id()).map_err(io_error)?;
        Ok(DirLock { _file: file })
    }

    /// Opens `path` without creating anything (for the command-line clients).
    pub fn existing(path: &Path) -> DataDir {
        DataDir {
            path: path.to_owned(),
        }
    }

    /// The directory's path, as it was given.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path of `name` inside the directory (which need not exist yet).
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// The account generated on first start, if there is one. A file that exists but
    /// cannot be read is an error, never a reason to make a new key (plugs paired with the
    /// old one would be locked out).
    pub fn read_account(&self) -> io::Result<Option<Account>> {
        let path = self.file(ACCOUNT_FILE);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("cannot read {}: {e}", path.display()),
                ))
            }
        };
        serde_json::from_str(&text).map(Some).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{} is damaged ({e}); restore it, or remove it to generate a new account (plugs must then be paired again)",
                    path.display()
                ),
            )
        })
    }

    /// The account generated on first start: a numeric user id and a random 32-hex key.
    pub fn account(&self) -> io::Result<Account> {
        let path = self.file(ACCOUNT_FILE);
        if let Some(account) = self.read_account()? {
            return Ok(account);
        }
        let mut rng = rand::thread_rng();
        let account = Account {
            user_id: rng.gen_range(100_000u32..10_000_000).to_string(),
            key: hex::encode(rng.gen::<[u8; 16]>()),
            ..Default::default()
        };
        let text = serde_json::to_string_pretty(&account).map_err(io::Error::other)?;
        write_secret(&path, text.as_bytes())?;
        tracing::info!(user_id = %account.user_id, path = %path.display(), "generated an account");
        Ok(account)
    }

    /// The admin API token generated on first start (read-only use: `None` if absent).
    pub fn read_api_token(&self) -> Option<String> {
        fs::read_to_string(self.file(TOKEN_FILE))
            .ok()
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
    }

    /// The admin API token, generated on first start.
    pub fn api_token(&self) -> io::Result<String> {
        if let Some(token) = self.read_api_token() {
            return Ok(token);
        }
        let token = hex::encode(rand::thread_rng().gen::<[u8; 24]>());
        write_secret(&self.file(TOKEN_FILE), token.as_bytes())?;
        tracing::info!("generated an admin API token (`merossd account` shows it)");
        Ok(token)
    }
}

/// Writes `bytes` to a new file readable by its owner only.
pub fn write_secret(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    fs::rename(&tmp, path)
}

/// A new file readable and writable by its owner only (truncated if it exists).
pub fn create_secret(path: &Path) -> io::Result<fs::File> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}

/// Makes a file readable by its owner only.
pub fn make_private(path: &Path) -> io::Result<()> {
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))
}

/// A new directory only its owner may enter.
pub fn create_private_dir(path: &Path) -> io::Result<()> {
    fs::create_dir_all(path)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o700))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_damaged_account_file_is_an_error_not_a_new_key() {
        let dir = std::env::temp_dir().join(format!("merossd-dd-{}", rand::random::<u64>()));
        let dd = DataDir::create(&dir).unwrap();
        fs::write(dir.join(ACCOUNT_FILE), [0xff, 0xfe, b'{']).unwrap();
        assert!(dd.account().is_err());
        assert_eq!(
            fs::read(dir.join(ACCOUNT_FILE)).unwrap(),
            vec![0xff, 0xfe, b'{']
        );
        fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn account_is_generated_once_and_kept() {
        let dir = std::env::temp_dir().join(format!("merossd-dd-{}", rand::random::<u64>()));
        let dd = DataDir::create(&dir).unwrap();
        let a = dd.account().unwrap();
        assert!(a.user_id.chars().all(|c| c.is_ascii_digit()));
        assert_eq!(a.key.len(), 32);
        assert_eq!(dd.account().unwrap(), a);
        let mode = fs::metadata(dir.join(ACCOUNT_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        fs::remove_dir_all(dir).ok();
    }
}
