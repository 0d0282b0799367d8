//! The steps `Daemon::start_with` takes before it wires the parts together: bind every
//! listener, read or make the credentials, size the connection cap, open the store, and
//! at the end tell systemd.

use super::{bind, StartError, FD_RESERVE};
use crate::config::{Account, Config};
use crate::datadir::DataDir;
use crate::engine::Engine;
use crate::gate;
use crate::metrics::Counters;
use crate::notify::Notifier;
use crate::{shutdown, store};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tracing::warn;

/// A database that cannot be opened: a damaged one is a configuration matter (exit 2,
/// so that systemd does not restart into the same fault), with the path and the way out.
fn database_error(path: &std::path::Path, e: &store::StoreError) -> StartError {
    let damaged = matches!(
        e,
        store::StoreError::Sql(sql)
            if matches!(sql.sqlite_error_code(), Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase))
    );
    if damaged {
        return StartError::Config(format!(
            "database {}: {e}: the file is damaged. Restore a backup with `merossd restore FILE`, or move the file away to start with an empty database",
            path.display()
        ));
    }
    StartError::Other(format!("database {}: {e}", path.display()))
}

/// Every listener, bound.
pub(super) struct Bound {
    pub tls: Vec<TcpListener>,
    pub local: Option<TcpListener>,
    pub plain_devices: Vec<TcpListener>,
    pub api: TcpListener,
    pub cloud: Option<TcpListener>,
}

impl Bound {
    pub(super) async fn all(config: &Config) -> Result<Bound, StartError> {
        let mut tls = Vec::new();
        for addr in &config.mqtt.tls_listen {
            tls.push(bind("mqtt.tls_listen", *addr).await?);
        }
        let local = match config.mqtt.local_listen {
            Some(addr) => Some(bind("mqtt.local_listen", addr).await?),
            None => None,
        };
        let mut plain_devices = Vec::new();
        for addr in &config.mqtt.plain_device_listen {
            plain_devices.push(bind("mqtt.plain_device_listen", *addr).await?);
        }
        let api = bind("api.listen", config.api.listen).await?;
        let cloud = match config.cloud.listen {
            Some(addr) => Some(bind("cloud.listen", addr).await?),
            None => None,
        };
        Ok(Bound {
            tls,
            local,
            plain_devices,
            api,
            cloud,
        })
    }
}

/// The accounts plugs log in with, the API's token and the TLS configurations: read, or
/// made on first start.
pub(super) fn credentials(
    config: &Config,
    data: &DataDir,
) -> Result<(Vec<Account>, String, gate::tls::TlsConfigs), StartError> {
    let unwritable = |e: std::io::Error| {
        StartError::Config(format!(
            "`data_dir`: cannot write in {}: {e}",
            config.data_dir.display()
        ))
    };
    let accounts = crate::datadir::accounts(config, data).map_err(unwritable)?;
    let api_token = if config.api.token.is_empty() {
        data.api_token().map_err(unwritable)?
    } else {
        config.api.token.clone()
    };
    let tls_options = gate::tls::TlsOptions {
        max_record: config.mqtt.max_tls_record(),
        legacy: config.mqtt.legacy_tls,
    };
    let tls = gate::tls::server_configs(
        config
            .tls
            .as_ref()
            .map(|t| (t.cert.as_path(), t.key.as_path())),
        data,
        tls_options,
    )
    .map_err(|e| StartError::Config(format!("`tls`: {e}")))?;
    if config.mqtt.legacy_tls {
        warn!("[mqtt] legacy_tls is on: plugs may connect with TLS 1.0 and 1.1");
    }
    Ok((accounts, api_token, tls))
}

/// The connection cap: a relayed connection holds three descriptors (client, router side,
/// router's own), so the cap stays where accept() cannot run out of them.
pub(super) fn connection_cap(config: &Config) -> usize {
    let mut max_connections = config.mqtt.max_connections;
    if let Some(limit) = crate::process::raise_open_files_limit() {
        let fits = limit.saturating_sub(FD_RESERVE) / 3;
        if max_connections > fits {
            warn!(
                max_connections, open_files_limit = limit, using = fits.max(1),
                "mqtt.max_connections is more than the open-file limit allows; raise the limit (LimitNOFILE=) to use it"
            );
            max_connections = fits.max(1);
        }
    }
    max_connections
}

/// The store, and the devices it remembers (with a warning if far fewer than last time).
pub(super) fn open_store(
    config: &Config,
    data: &DataDir,
    counters: Arc<Counters>,
) -> Result<(store::Store, Vec<crate::model::Device>), StartError> {
    let db = data.file(crate::datadir::DB_FILE);
    let store = store::Store::open(data, store::StoreOptions::from_config(config), counters)
        .map_err(|e| database_error(&db, &e))?;
    let known = store.load_devices().map_err(|e| database_error(&db, &e))?;
    store.health().warn(store::continuity::check_count(
        &config.data_dir,
        known.len(),
    ));
    Ok((store, known))
}

/// The known devices no account can log in any more (their account was taken out of
/// the configuration), by uuid, with their user ids.
fn orphans<'a>(known: &'a [crate::model::Device], accounts: &[Account]) -> Vec<(&'a str, &'a str)> {
    known
        .iter()
        .filter_map(|d| Some((d.uuid.as_str(), d.user_id.as_deref()?)))
        .filter(|(_, user)| accounts.iter().all(|a| a.user_id != *user))
        .collect()
}

/// Says, at warn, how many known devices will be refused at login until their account
/// is back.
pub(super) fn warn_orphans(known: &[crate::model::Device], accounts: &[Account]) {
    let lost = orphans(known, accounts);
    if lost.is_empty() {
        return;
    }
    let mut users: Vec<&str> = lost.iter().map(|(_, user)| *user).collect();
    users.sort_unstable();
    users.dedup();
    warn!(
        devices = lost.len(),
        user_ids = %users.join(","),
        "known devices belong to no account in use: they will be refused at login until their account is back in [[accounts]] (or account.json)"
    );
}

/// Every listener is bound and the store is open: systemd hears "ready", then the
/// watchdog's pings while the engine and the store live.
pub(super) fn tell_systemd(
    notifier: &Notifier,
    engine: &Engine,
    store: &store::Store,
    shutdown: &shutdown::Shutdown,
    tasks: &mut JoinSet<()>,
) {
    if !notifier.is_on() {
        return;
    }
    let status = crate::notify::status(engine);
    notifier.send(&[
        sd_notify::NotifyState::Ready,
        sd_notify::NotifyState::Status(&status),
    ]);
    tasks.spawn(crate::notify::run(
        notifier.clone(),
        engine.clone(),
        store.clone(),
        shutdown.clone(),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_of_an_account_no_longer_configured_are_found() {
        let device = |uuid: &str, user: &str| {
            let mut d = crate::model::Device::new(uuid, 1);
            d.user_id = Some(user.to_owned());
            d
        };
        let known = [
            device("a", "1"),
            device("b", "2"),
            crate::model::Device::new("c", 1),
        ];
        let accounts = [Account {
            user_id: "1".into(),
            key: "k".into(),
            ..Account::default()
        }];
        assert_eq!(orphans(&known, &accounts), [("b", "2")]);
    }
}
