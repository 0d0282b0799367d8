//! Wires the parts together and owns their lifetime: data directory, certificate, router,
//! engine, gate listeners; one shutdown for all, the store flushed last.

mod parts;
mod steps;

use parts::{credentials, open_store, tell_systemd, Bound};
use steps::Start;

use crate::config::{Account, Config};
use crate::datadir::DataDir;
use crate::engine::Engine;
use crate::metrics::Counters;
use crate::notify::Notifier;
use crate::shutdown::{self, Trigger};
use crate::{broker, store};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tracing::{error, info, warn};

/// How long `stop` waits for every task to end before it closes the store.
pub const DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// Descriptors kept for the database, listeners, the API and logs.
const FD_RESERVE: usize = 64;

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Bad configuration or an address that cannot be bound: exit code 2.
    #[error("{0}")]
    Config(String),
    /// Anything else (the database, the router, a part that failed while running): exit
    /// code 1.
    #[error("{0}")]
    Other(String),
}

impl StartError {
    /// The process's exit code: 2 for [`StartError::Config`], 1 for [`StartError::Other`].
    pub fn exit_code(&self) -> i32 {
        match self {
            StartError::Config(_) => 2,
            StartError::Other(_) => 1,
        }
    }
}

/// A running daemon.
pub struct Daemon {
    /// Where the TLS listeners are bound (in `mqtt.tls_listen` order).
    pub tls_addrs: Vec<SocketAddr>,
    /// Where the plain local listener is bound, if enabled.
    pub local_addr: Option<SocketAddr>,
    /// Where the plain listeners for MOKO plugs are bound (`mqtt.plain_device_listen`).
    pub plain_device_addrs: Vec<SocketAddr>,
    /// Where the admin API listens.
    pub api_addr: SocketAddr,
    /// Where the Meross cloud API listens, if enabled.
    pub cloud_addr: Option<SocketAddr>,
    /// The engine: every device as last heard, and the way to send it commands.
    pub engine: Engine,
    /// The accounts plugs may log in with (the configured ones, or the generated one).
    pub accounts: Vec<Account>,
    /// The admin API's bearer token: `api.token`, or the one generated into the data directory.
    pub api_token: String,
    /// The metrics counters every part counts into (what `/metrics` shows).
    pub counters: Arc<Counters>,
    /// Opens an in-process link to the router (tests use it to drop the engine's).
    pub router_links: broker::LinkOpener,
    trigger: Trigger,
    /// The long-lived parts: one ending on its own stops the daemon (see `run`).
    tasks: JoinSet<()>,
    bridge_stop: Option<(Trigger, tokio::task::JoinHandle<()>)>,
    store: store::Store,
    /// Where the data directory is (the last run's device count is kept there).
    data_dir: std::path::PathBuf,
    /// Held for as long as the daemon runs: the data directory is this daemon's.
    _lock: crate::datadir::DirLock,
    notifier: Notifier,
}

/// Connections the kernel holds for a listener before it accepts them. After a restart or
/// a power cut every plug dials at once; with the usual 128, the rest of a storm's SYNs are
/// dropped and each of those plugs waits out the TCP retransmission timeout (one second,
/// then two, four, ...). The kernel caps it at `net.core.somaxconn` (4096 by default).
const LISTEN_BACKLOG: u32 = 4096;

async fn bind(key: &str, addr: SocketAddr) -> Result<TcpListener, StartError> {
    let listen = || {
        let socket = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        socket.listen(LISTEN_BACKLOG)
    };
    listen().map_err(|e| {
        StartError::Config(format!(
            "`{key}`: cannot listen on {addr}: {e}{}",
            hint(key, addr, &e)
        ))
    })
}

/// What a port already in use most likely is, and the way out.
fn hint(key: &str, addr: SocketAddr, e: &std::io::Error) -> String {
    if e.kind() != std::io::ErrorKind::AddrInUse {
        return String::new();
    }
    let likely = match addr.port() {
        1883 => "another MQTT broker (mosquitto, or Home Assistant's Mosquitto add-on) is likely on this port",
        8883 => "another MQTT broker with TLS is likely on this port",
        _ => "another program (or another merossd) holds this port",
    };
    format!(". {likely}: stop it, or give `{key}` another port in the configuration (see the README's \"Next to another MQTT broker\")")
}

impl Daemon {
    /// Starts every part; returns once all listeners are bound.
    pub async fn start(config: Config) -> Result<Daemon, StartError> {
        Daemon::start_with(config, Notifier::default()).await
    }

    /// The same, telling `notifier` (systemd) when it is ready and that it lives.
    pub async fn start_with(config: Config, notifier: Notifier) -> Result<Daemon, StartError> {
        let data = DataDir::create(&config.data_dir).map_err(|e| {
            StartError::Config(format!(
                "`data_dir`: cannot create {}: {e}",
                config.data_dir.display()
            ))
        })?;
        // One daemon per data directory: a second would mark the first one's devices
        // offline in the shared database.
        let lock = data.lock().map_err(|e| StartError::Config(e.to_string()))?;
        // Bind before anything is generated, so that a taken port changes nothing.
        let bound = Bound::all(&config).await?;
        let (accounts, api_token, tls) = credentials(&config, &data)?;
        let counters = Arc::new(Counters::default());
        let (store, known) = open_store(&config, &data, counters.clone())?;
        let moko = crate::registry::moko::MokoPlugs::load(data.file(crate::registry::moko::FILE))
            .map_err(|e| StartError::Config(e.to_string()))?;
        parts::warn_orphans(&known, &accounts);

        let (trigger, shutdown) = shutdown::channel();
        let mut start = Start {
            config: &config,
            counters: counters.clone(),
            spawner: trigger.spawner(),
            shutdown,
            tasks: JoinSet::new(),
        };
        let mut core = start.core(&accounts, &store, known, moko)?;
        let listeners = (bound.tls, bound.local, bound.plain_devices);
        let gate = start.gate(&core, &accounts, tls, listeners)?;
        let bridge_stop = start.homeassistant(&mut core, &store);
        let cloud_addr = start.cloud(&core, &accounts, &gate, bound.cloud)?;
        let api_addr = start.api(&core, &store, &api_token, (&accounts, &gate), bound.api)?;
        start.mdns(
            gate.tls.first().map(SocketAddr::port),
            cloud_addr.map(|a| a.port()),
        );

        let tls_text: Vec<String> = gate.tls.iter().map(ToString::to_string).collect();
        let local_text = gate.local.map_or("off".to_owned(), |a| a.to_string());
        info!(
            tls = %tls_text.join(","), local = %local_text, api = %api_addr,
            data_dir = %config.data_dir.display(), "merossd listening"
        );
        let Start {
            shutdown,
            mut tasks,
            ..
        } = start;
        tell_systemd(&notifier, &core.engine, &store, &shutdown, &mut tasks);
        Ok(Daemon {
            tls_addrs: gate.tls,
            local_addr: gate.local,
            plain_device_addrs: gate.plain_devices,
            api_addr,
            cloud_addr,
            router_links: core.router_links(),
            engine: core.engine,
            accounts,
            api_token,
            counters,
            trigger,
            tasks,
            bridge_stop,
            store,
            data_dir: config.data_dir.clone(),
            notifier,
            _lock: lock,
        })
    }

    /// The store (tests reach into it).
    pub fn store(&self) -> &store::Store {
        &self.store
    }

    /// Stops every task, then flushes the store. Returns whether every task had ended
    /// within [`DRAIN_TIMEOUT`].
    pub async fn stop(mut self) -> bool {
        self.notifier.send(&[sd_notify::NotifyState::Stopping]);
        if let Some((trigger, bridge)) = self.bridge_stop.take() {
            trigger.trigger();
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), bridge).await;
            // Give the router a moment to pass "offline" on before connections close.
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        // Every task holds a drain token (see `shutdown`): the store is closed once they
        // all ended, or after DRAIN_TIMEOUT.
        let drained = self.trigger.drain(DRAIN_TIMEOUT).await;
        if !drained {
            warn!(
                timeout_s = DRAIN_TIMEOUT.as_secs(),
                "some tasks had not ended at shutdown; stopping anyway"
            );
        }
        self.tasks.abort_all();
        self.store.close().await;
        store::continuity::record_count(&self.data_dir, self.engine.devices().len());
        info!("merossd stopped");
        drained
    }
}

/// Runs the daemon until SIGINT or SIGTERM, or until one of its parts stops on its own:
/// then it exits with an error, so that the service manager restarts it rather than
/// leaving a process that answers nothing.
pub async fn run(config: Config, notifier: Notifier) -> Result<(), StartError> {
    let mut daemon = Daemon::start_with(config, notifier).await?;
    let failure = tokio::select! {
        _ = crate::process::wait_for_signal() => None,
        part = daemon.tasks.join_next() => Some(match part {
            Some(Err(e)) if e.is_panic() => "a part of merossd panicked".to_owned(),
            _ => "a part of merossd stopped on its own".to_owned(),
        }),
        _ = store_stopped(&daemon.store) => Some("the database writer stopped".to_owned()),
    };
    match &failure {
        None => info!("stopping"),
        Some(why) => error!(why = %why, "stopping: the log above says why"),
    }
    let _drained = daemon.stop().await;
    match failure {
        None => Ok(()),
        Some(why) => Err(StartError::Other(format!(
            "{why}; exiting so that it can be restarted"
        ))),
    }
}

async fn store_stopped(store: &store::Store) {
    let mut check = tokio::time::interval(std::time::Duration::from_secs(5));
    loop {
        check.tick().await;
        if !store.is_alive() {
            return;
        }
    }
}
