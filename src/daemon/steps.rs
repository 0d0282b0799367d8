//! The parts `Daemon::start_with` starts once the ground is ready, one step each, in
//! order: the core (router, hub, engine, poller), the gate on every MQTT listener, the
//! Home Assistant bridge, the cloud API and the admin API. Every task is started in the
//! one `JoinSet` with a drain token (see `shutdown`).

use super::StartError;
use crate::broker::{self, Link};
use crate::config::{Account, Config};
use crate::engine::Engine;
use crate::gate::acl::Acl;
use crate::gate::{self, Gate, GateOptions, Listener};
use crate::hub::{DeviceHub, GateEvent};
use crate::metrics::Counters;
use crate::model::Device;
use crate::registry::Registry;
use crate::shutdown::{self, Shutdown, Spawner, Trigger};
use crate::store::Store;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tracing::warn;

/// Gate events the engine may have waiting.
const GATE_EVENTS: usize = 4096;

/// What every step needs: the configuration, the counters, and where tasks start.
pub(super) struct Start<'a> {
    pub config: &'a Config,
    pub counters: Arc<Counters>,
    pub shutdown: Shutdown,
    pub spawner: Spawner,
    pub tasks: JoinSet<()>,
}

/// The router, the hub and the engine, running; what the later steps take from them.
pub(super) struct Core {
    pub engine: Engine,
    hub: Arc<DeviceHub>,
    registry: Arc<Registry>,
    /// The engine's queue, for the gate.
    events: mpsc::Sender<GateEvent>,
    router: RouterParts,
}

/// The router's handles the gate, the bridge and the API take.
struct RouterParts {
    upstream: Arc<broker::CurrentUpstream>,
    retained: Arc<broker::Retained>,
    budget: Arc<broker::RouterBudget>,
    health: broker::Health,
    opener: broker::LinkOpener,
    homeassistant: Option<Link>,
}

/// Where the gate listens.
pub(super) struct GateAddrs {
    pub tls: Vec<SocketAddr>,
    pub local: Option<SocketAddr>,
    pub plain_devices: Vec<SocketAddr>,
    /// The plugs' TLS configuration (the cloud API may serve with it too).
    pub tls_config: Arc<gate::tls::TlsConfigs>,
    /// Failed logins, shared with the cloud API's sign-in.
    pub guard: Arc<gate::guard::LoginGuard>,
}

fn listener_error(e: &std::io::Error) -> StartError {
    StartError::Other(format!("listener: {e}"))
}

impl Start<'_> {
    /// Starts the router (watched by its supervisor), the hub, the engine and its poller.
    pub(super) fn core(
        &mut self,
        accounts: &[Account],
        store: &Store,
        known: Vec<Device>,
        moko: crate::registry::moko::MokoPlugs,
    ) -> Result<Core, StartError> {
        let router = broker::start(self.counters.clone())
            .map_err(|e| StartError::Other(format!("router: {e}")))?;
        let owners = known
            .iter()
            .filter_map(|d| Some((d.uuid.clone(), d.user_id.clone()?, d.mac.clone()?)));
        let registry = Arc::new(Registry::new(owners).with_moko(moko));
        for d in &known {
            registry.set_name(&d.uuid, &d.display_name());
        }
        self.tasks
            .spawn(router.supervisor.run(self.shutdown.clone()));
        let (events, engine_rx) = mpsc::channel(GATE_EVENTS);
        let hub = DeviceHub::start(
            router.devices,
            events.clone(),
            self.counters.clone(),
            router.budget.clone(),
            self.spawner.clone(),
        );
        let outlets = crate::engine::Outlets {
            // The engine's link only publishes (app pushes); it subscribes to nothing.
            router: router.engine.outbox.clone(),
            devices: hub.clone(),
            tasks: self.spawner.clone(),
        };
        let engine = Engine::new(
            outlets,
            accounts.to_vec(),
            self.counters.clone(),
            known,
            store.sink(),
            self.config.time.timezone.clone(),
            registry.clone(),
        );
        self.tasks
            .spawn(engine.clone().run(engine_rx, self.shutdown.clone()));
        let poll = self.config.energy.poll_interval();
        let poller = crate::engine::run_poller(engine.clone(), poll, self.shutdown.clone());
        self.tasks.spawn(poller);
        let router = RouterParts {
            upstream: router.upstream,
            retained: router.retained,
            budget: router.budget,
            health: router.health,
            opener: router.opener,
            homeassistant: Some(router.homeassistant),
        };
        Ok(Core {
            engine,
            hub,
            registry,
            events,
            router,
        })
    }

    /// Starts the gate on every TLS listener and on the local one.
    pub(super) fn gate(
        &mut self,
        core: &Core,
        accounts: &[Account],
        tls: gate::tls::TlsConfigs,
        listeners: (Vec<TcpListener>, Option<TcpListener>, Vec<TcpListener>),
    ) -> Result<GateAddrs, StartError> {
        let config = self.config;
        let guard = Arc::new(gate::guard::LoginGuard::default());
        let tls_config = Arc::new(tls);
        let gate = Arc::new(Gate::new(GateOptions {
            accounts: accounts.to_vec(),
            tls: tls_config.clone(),
            upstream: core.router.upstream.clone(),
            retained: core.router.retained.clone(),
            budget: core.router.budget.clone(),
            guard: guard.clone(),
            handshake_timeout: config.mqtt.handshake_timeout(),
            max_connections: super::parts::connection_cap(config),
            events: core.events.clone(),
            counters: self.counters.clone(),
            acl: Acl {
                discovery_prefix: config.homeassistant.discovery_prefix.clone(),
                base_topic: config.homeassistant.base_topic.clone(),
            },
            registry: core.registry.clone(),
            hub: core.hub.clone(),
        }));
        let (tls_listeners, local_listener, plain_listeners) = listeners;
        let mut tls_addrs = Vec::new();
        for listener in tls_listeners {
            tls_addrs.push(listener.local_addr().map_err(|e| listener_error(&e))?);
            let serve = gate::serve(gate.clone(), listener, Listener::Tls, self.shutdown.clone());
            self.tasks.spawn(serve);
        }
        let mut local = None;
        if let Some(listener) = local_listener {
            let addr = listener.local_addr().map_err(|e| listener_error(&e))?;
            let open = addr.ip().is_loopback() && !config.mqtt.local_login;
            local = Some(addr);
            let kind = Listener::Plain { open };
            self.tasks.spawn(gate::serve(
                gate.clone(),
                listener,
                kind,
                self.shutdown.clone(),
            ));
        }
        let mut plain_devices = Vec::new();
        for listener in plain_listeners {
            let addr = listener.local_addr().map_err(|e| listener_error(&e))?;
            warn!(%addr, "plain MQTT listener for MOKO plugs (mqtt.plain_device_listen): their logins and messages cross the network unencrypted; pair them with TLS where they can");
            plain_devices.push(addr);
            let kind = Listener::PlainDevices;
            self.tasks.spawn(gate::serve(
                gate.clone(),
                listener,
                kind,
                self.shutdown.clone(),
            ));
        }
        Ok(GateAddrs {
            tls: tls_addrs,
            local,
            plain_devices,
            tls_config,
            guard,
        })
    }

    /// Starts the Home Assistant bridge, if enabled. It stops first, on a signal of its
    /// own, so that it can still say "offline": the trigger and its task.
    pub(super) fn homeassistant(
        &mut self,
        core: &mut Core,
        store: &Store,
    ) -> Option<(Trigger, tokio::task::JoinHandle<()>)> {
        let config = &self.config.homeassistant;
        let link = core.router.homeassistant.take()?;
        let topics = crate::homeassistant::discovery::Topics {
            prefix: config.discovery_prefix.clone(),
            base: config.base_topic.clone(),
        };
        if !config.enabled {
            // Off: what was published before is taken back, so that Home Assistant
            // drops the entities rather than keep them unavailable.
            let withdraw = crate::homeassistant::withdraw::run(
                core.engine.clone(),
                link,
                topics,
                self.shutdown.clone(),
            );
            // Not a part the daemon stops without: it may end on its own.
            self.spawner.spawn(withdraw);
            return None;
        }
        let url = Some(config.configuration_url.clone()).filter(|u| !u.is_empty());
        let bridge = crate::homeassistant::Bridge::new(
            core.engine.clone(),
            store.clone(),
            link.outbox.clone(),
            topics,
            url,
        );
        let (trigger, stop) = shutdown::channel();
        Some((trigger, tokio::spawn(bridge.run(link, stop))))
    }

    /// Starts the Meross cloud API on its listener, if enabled.
    pub(super) fn cloud(
        &mut self,
        core: &Core,
        accounts: &[Account],
        gate: &GateAddrs,
        listener: Option<TcpListener>,
    ) -> Result<Option<SocketAddr>, StartError> {
        let Some(listener) = listener else {
            return Ok(None);
        };
        let addr = listener.local_addr().map_err(|e| listener_error(&e))?;
        core.engine.enable_push_bridge();
        let state = crate::cloud::CloudState::new(
            core.engine.clone(),
            accounts.to_vec(),
            gate.guard.clone(),
        );
        // Over TLS with the plugs' certificate when asked (`[cloud] tls`).
        let tls = self
            .config
            .cloud
            .tls
            .then(|| tokio_rustls::TlsAcceptor::from(gate.tls_config.rustls.clone()));
        self.tasks.spawn(crate::api::serve_router(
            listener,
            crate::cloud::router(state),
            self.config.api.max_connections,
            self.counters.clone(),
            tls,
            self.shutdown.clone(),
        ));
        Ok(Some(addr))
    }

    /// Announces merossd on the LAN (`[mdns]`): the TLS port and, when on, the cloud API.
    pub(super) fn mdns(&mut self, tls: Option<u16>, cloud: Option<u16>) {
        let config = &self.config.mdns;
        let Some(tls) = tls.filter(|_| config.enabled) else {
            return;
        };
        let addresses: Vec<std::net::Ipv4Addr> = if config.interfaces.is_empty() {
            crate::host::addresses()
                .into_iter()
                .filter_map(|ip| match ip {
                    std::net::IpAddr::V4(v4) => Some(v4),
                    std::net::IpAddr::V6(_) => None,
                })
                .collect()
        } else {
            config.interfaces.clone()
        };
        let host: String = gethostname::gethostname()
            .to_string_lossy()
            .split('.')
            .next()
            .unwrap_or("merossd")
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        let host = if host.is_empty() {
            "merossd".to_owned()
        } else {
            host
        };
        let mut services = vec![crate::mdns::Service {
            kind: "_meross-mqtt._tcp",
            port: tls,
        }];
        if let Some(port) = cloud {
            services.push(crate::mdns::Service {
                kind: "_meross-api._tcp",
                port,
            });
        }
        let announce = crate::mdns::Announce {
            instance: format!("merossd on {host}"),
            host,
            addresses,
            services,
        };
        let shutdown = self.shutdown.clone();
        self.tasks.spawn(async move {
            if let Err(error) = crate::mdns::run(announce, shutdown).await {
                warn!(%error, "cannot announce merossd by mDNS ([mdns] enabled = false turns this off)");
            }
        });
    }

    /// Starts the admin API on its listener.
    pub(super) fn api(
        &mut self,
        core: &Core,
        store: &Store,
        api_token: &str,
        (accounts, gate): (&[Account], &GateAddrs),
        listener: TcpListener,
    ) -> Result<SocketAddr, StartError> {
        let addr = listener.local_addr().map_err(|e| listener_error(&e))?;
        let api = &self.config.api;
        let mut state = crate::api::AppState::new(
            core.engine.clone(),
            store.clone(),
            api_token.to_owned(),
            std::time::Duration::from_secs(api.request_timeout_s),
            api.metrics_public,
            core.router.health.clone(),
            gate.guard.clone(),
        );
        state.firmware_port = api.firmware_port;
        state.pairing = Arc::new(pairing(accounts, &self.config.mqtt, gate));
        let serve = crate::api::serve(listener, state, api.max_connections, self.shutdown.clone());
        self.tasks.spawn(serve);
        Ok(addr)
    }
}

/// What the web page's "Add a device" shows: the address `merossd pair` would give a plug
/// that pairs from its access point, the TLS port and the accounts.
fn pairing(
    accounts: &[Account],
    mqtt: &crate::config::MqttConfig,
    gate: &GateAddrs,
) -> crate::api::Pairing {
    let chosen = crate::host::lan::choose(
        &crate::host::addresses(),
        "http://10.10.10.1",
        &mqtt.tls_listen,
    );
    let (host, host_problem) = match chosen {
        Ok(ip) => (Some(ip.to_string()), None),
        Err(why) => (None, Some(why)),
    };
    crate::api::Pairing {
        host,
        host_problem,
        port: gate.tls.first().map(SocketAddr::port),
        accounts: accounts
            .iter()
            .map(|a| crate::api::PairingAccount {
                user_id: a.user_id.clone(),
                key: a.key.clone(),
            })
            .collect(),
    }
}

impl Core {
    /// Opens in-process links to the router (tests use it to drop the engine's).
    pub(super) fn router_links(&self) -> broker::LinkOpener {
        self.router.opener.clone()
    }
}
