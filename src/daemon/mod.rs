//! Wires the parts together and owns their lifetime: data directory, certificate, router,
//! engine, gate listeners; one shutdown for all, the store flushed last.

mod parts;

use parts::{connection_cap, credentials, open_store, tell_systemd, Bound};

use crate::config::{Account, Config};
use crate::datadir::DataDir;
use crate::engine::Engine;
use crate::gate::acl::Acl;
use crate::gate::{self, Gate, GateOptions, Listener};
use crate::metrics::Counters;
use crate::notify::Notifier;
use crate::registry::Registry;
use crate::shutdown::{self, Trigger};
use crate::{broker, store};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tracing::{error, info};

/// Gate events the engine may have waiting.
const GATE_EVENTS: usize = 4096;
/// Descriptors kept for the database, listeners, the API and logs.
const FD_RESERVE: usize = 64;

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Bad configuration or an address that cannot be bound: exit code 2.
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Other(String),
}

impl StartError {
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
    /// Where the admin API listens.
    pub api_addr: SocketAddr,
    /// Where the Meross cloud API listens, if enabled.
    pub cloud_addr: Option<SocketAddr>,
    pub engine: Engine,
    /// The accounts plugs may log in with (the configured ones, or the generated one).
    pub accounts: Vec<Account>,
    pub api_token: String,
    pub counters: Arc<Counters>,
    /// Opens an in-process link to the router (tests use it to drop the engine's).
    pub router_links: broker::LinkOpener,
    trigger: Trigger,
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
    listen().map_err(|e| StartError::Config(format!("`{key}`: cannot listen on {addr}: {e}")))
}

impl Daemon {
    /// Starts every part; returns once all listeners are bound.
    pub async fn start(config: Config) -> Result<Daemon, StartError> {
        Daemon::start_with(config, Notifier::default()).await
    }

    /// The same, telling `notifier` (systemd) when it is ready and that it lives.
    pub async fn start_with(config: Config, notifier: Notifier) -> Result<Daemon, StartError> {
        let other =
            |what: &str, e: &dyn std::fmt::Display| StartError::Other(format!("{what}: {e}"));
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
        let Bound {
            tls: tls_listeners,
            local: local_listener,
            api: api_listener,
            cloud: cloud_listener,
        } = Bound::all(&config).await?;
        let (accounts, api_token, tls) = credentials(&config, &data)?;
        let max_connections = connection_cap(&config);
        let counters = Arc::new(Counters::default());
        let (store, known) = open_store(&config, &data, counters.clone())?;

        let router = broker::start(counters.clone()).map_err(|e| other("router", &e))?;
        let registry =
            Arc::new(Registry::new(known.iter().filter_map(|d| {
                Some((d.uuid.clone(), d.user_id.clone()?, d.mac.clone()?))
            })));
        let (trigger, shutdown) = shutdown::channel();
        let mut tasks = JoinSet::new();
        tasks.spawn(router.supervisor.run(shutdown.clone()));

        let (gate_tx, gate_rx) = mpsc::channel(GATE_EVENTS);
        let hub = crate::hub::DeviceHub::start(
            router.devices,
            gate_tx.clone(),
            counters.clone(),
            router.budget.clone(),
        );
        let engine = Engine::new(
            crate::engine::Outlets {
                // The engine's link only publishes (app pushes); it subscribes to nothing.
                router: router.engine.outbox.clone(),
                devices: hub.clone(),
            },
            accounts.clone(),
            counters.clone(),
            known,
            store.sink(),
            config.time.timezone.clone(),
            registry.clone(),
        );
        tasks.spawn(engine.clone().run(gate_rx, shutdown.clone()));
        tasks.spawn(crate::engine::run_poller(
            engine.clone(),
            config.energy.poll_interval(),
            shutdown.clone(),
        ));

        let guard = Arc::new(gate::guard::LoginGuard::default());
        let gate_tls = Arc::new(tls);
        let gate = Arc::new(Gate::new(GateOptions {
            accounts: accounts.clone(),
            tls: gate_tls.clone(),
            upstream: router.upstream.clone(),
            retained: router.retained.clone(),
            budget: router.budget.clone(),
            guard: guard.clone(),
            handshake_timeout: config.mqtt.handshake_timeout(),
            max_connections,
            events: gate_tx,
            counters: counters.clone(),
            acl: Acl {
                discovery_prefix: config.homeassistant.discovery_prefix.clone(),
                base_topic: config.homeassistant.base_topic.clone(),
            },
            registry,
            hub,
        }));
        let mut tls_addrs = Vec::new();
        for listener in tls_listeners {
            tls_addrs.push(listener.local_addr().map_err(|e| other("listener", &e))?);
            tasks.spawn(gate::serve(
                gate.clone(),
                listener,
                Listener::Tls,
                shutdown.clone(),
            ));
        }
        let mut local_addr = None;
        if let Some(listener) = local_listener {
            let addr = listener.local_addr().map_err(|e| other("listener", &e))?;
            let open = addr.ip().is_loopback() && !config.mqtt.local_login;
            local_addr = Some(addr);
            tasks.spawn(gate::serve(
                gate.clone(),
                listener,
                Listener::Plain { open },
                shutdown.clone(),
            ));
        }
        let api_addr = api_listener
            .local_addr()
            .map_err(|e| other("listener", &e))?;
        let mut bridge_stop = None;
        if config.homeassistant.enabled {
            let topics = crate::homeassistant::discovery::Topics {
                prefix: config.homeassistant.discovery_prefix.clone(),
                base: config.homeassistant.base_topic.clone(),
            };
            let bridge = crate::homeassistant::Bridge::new(
                engine.clone(),
                store.clone(),
                router.homeassistant.outbox.clone(),
                topics,
                Some(config.homeassistant.configuration_url.clone()).filter(|u| !u.is_empty()),
            );
            // Stopped first, on its own signal, so that it can still say "offline".
            let (trigger, stop) = shutdown::channel();
            bridge_stop = Some((
                trigger,
                tokio::spawn(bridge.run(router.homeassistant, stop)),
            ));
        }
        let mut cloud_addr = None;
        if let Some(listener) = cloud_listener {
            cloud_addr = Some(listener.local_addr().map_err(|e| other("listener", &e))?);
            engine.enable_push_bridge();
            let state =
                crate::cloud::CloudState::new(engine.clone(), accounts.clone(), guard.clone());
            // Over TLS with the plugs' certificate when asked (`[cloud] tls`).
            let tls = config
                .cloud
                .tls
                .then(|| tokio_rustls::TlsAcceptor::from(gate_tls.rustls.clone()));
            tasks.spawn(crate::api::serve_router(
                listener,
                crate::cloud::router(state),
                config.api.max_connections,
                counters.clone(),
                tls,
                shutdown.clone(),
            ));
        }
        tasks.spawn(crate::api::serve(
            api_listener,
            crate::api::AppState::new(
                engine.clone(),
                store.clone(),
                api_token.clone(),
                std::time::Duration::from_secs(config.api.request_timeout_s),
                config.api.metrics_public,
                router.health.clone(),
            ),
            config.api.max_connections,
            shutdown.clone(),
        ));

        let tls_text: Vec<String> = tls_addrs.iter().map(ToString::to_string).collect();
        let local_text = local_addr.map_or("off".to_owned(), |a| a.to_string());
        info!(
            tls = %tls_text.join(","), local = %local_text, api = %api_addr,
            data_dir = %config.data_dir.display(), "merossd listening"
        );
        tell_systemd(&notifier, &engine, &store, &shutdown, &mut tasks);
        Ok(Daemon {
            tls_addrs,
            local_addr,
            api_addr,
            cloud_addr,
            engine,
            accounts,
            api_token,
            counters,
            router_links: router.opener,
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

    /// Stops every task, then flushes the store.
    pub async fn stop(mut self) {
        self.notifier.send(&[sd_notify::NotifyState::Stopping]);
        if let Some((trigger, bridge)) = self.bridge_stop.take() {
            trigger.trigger();
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), bridge).await;
            // Give the router a moment to pass "offline" on before connections close.
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        self.trigger.trigger();
        let drain = async { while self.tasks.join_next().await.is_some() {} };
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), drain).await;
        self.store.close().await;
        store::continuity::record_count(&self.data_dir, self.engine.devices().len());
        info!("merossd stopped");
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
    daemon.stop().await;
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
